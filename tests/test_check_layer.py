"""Matrix-form answers: check_layer, its named slips, its safe parser, and check-layer on the CLI.

The truth check_layer compares with is checked here against two independent oracles
(a hand-written NumPy backprop, and central differences of the compiled batch loss).
The slip bank: each matrix slip is the true formula with one deliberate change; together
with the scalar bank of test_diagnose.py (≥ 40 slips), every slip is judged wrong and at
least 90 % get the intended diagnosis.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_diagnose import SCALAR_SLIPS, judge

import symbackprop as sbp
from symbackprop.checking.layer import _draws, true_formula
from symbackprop.cli import main

N232 = sbp.mlp([2, 3, 2], activation="sigmoid", loss="quadratic")
T222 = sbp.mlp([2, 2, 2], activation="tanh", loss="quadratic")
R231 = sbp.mlp([2, 3, 1], activation=["relu", "identity"], loss="quadratic")
B231 = sbp.mlp([2, 3, 1], activation="sigmoid", loss="binary_cross_entropy")
S232 = sbp.mlp([2, 3, 2], activation=["tanh", "softmax"], loss="cross_entropy")
NETS = {"232 sigmoid quadratic": N232, "222 tanh quadratic": T222, "231 relu-identity quadratic": R231,
        "231 sigmoid bce": B231, "232 tanh-softmax ce": S232}


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


# ----------------------------------------------------------------- the oracle
def test_truth_equals_hand_written_numpy_backprop():
    for env, truth in _draws(N232, "dW", 1, 1, 3, seed=5):
        W1, b1, W2, b2, x, y = (env[k] for k in ("W1", "b1", "W2", "b2", "x", "y"))
        a1 = sigmoid(W1 @ x + b1)
        a2 = sigmoid(W2 @ a1 + b2)
        d2 = (a2 - y) * a2 * (1 - a2)
        d1 = (W2.T @ d2) * a1 * (1 - a1)
        np.testing.assert_allclose(truth, d1 @ x.T, rtol=1e-10)
        np.testing.assert_allclose(env["delta1"], d1, rtol=1e-10)
        np.testing.assert_allclose(env["a2"], a2, rtol=1e-12)


def test_batch_truth_equals_finite_differences_of_the_compiled_loss():
    model = N232.compile()
    (env, truth), = _draws(N232, "dW", 1, 5, 1, seed=2)
    params = {}
    for layer in (1, 2):
        W, b = env[f"W{layer}"], env[f"b{layer}"]
        for j in range(W.shape[0]):
            params[N232.b(layer, j + 1)] = float(b[j, 0])
            for k in range(W.shape[1]):
                params[N232.w(layer, j + 1, k + 1)] = float(W[j, k])
    X, Y = env["x"].T, env["y"].T
    h = 1e-6
    for j, k in ((1, 1), (3, 2)):
        p = N232.w(1, j, k)
        up, down = dict(params), dict(params)
        up[p] += h
        down[p] -= h
        fd = (model.loss(up, X, Y) - model.loss(down, X, Y)) / (2 * h)
        assert truth[j - 1, k - 1] == pytest.approx(fd, rel=1e-5, abs=1e-9)


# --------------------------------------------------------------- right answers
RIGHT = [
    (N232, "dW1", "delta1 @ x.T", None),
    (N232, "dJ/dW1", "delta1 @ a0.T", None),
    (N232, "dW1", "(x @ delta1.T).T", None),
    (N232, "dW1", "((W2.T @ delta2) * a1 * (1 - a1)) @ x.T", None),
    (N232, "dW2", "delta2 @ a1.T", None),
    (N232, "db1", "delta1", None),
    (N232, "delta1", "(W2.T @ delta2) * a1 * (1 - a1)", None),
    (N232, "delta1", "W2.T @ delta2 * a1 - W2.T @ delta2 * a1**2", None),
    (N232, "delta1", "(delta2.T @ W2).T * sigmoid(z1) * (1 - sigmoid(z1))", None),
    (N232, "delta1", "(W2.T @ delta2) * sigmoid_prime(z1)", None),
    (N232, "delta1", "(W2.T @ delta2) * exp(-z1) / (1 + exp(-z1))**2", None),
    (N232, "delta2", "a2*(1 - a2)*(a2 - y)", None),
    (N232, "z2", "W2 @ a1 + b2", None),
    (N232, "a1", "1/(1 + exp(-(W1 @ x + b1)))", None),
    (N232, "dW1", "delta1 @ x.T / m", 4),
    (N232, "dW1", "(1/m) * delta1 @ x.T", 4),
    (N232, "db2", "mean(delta2)", 4),
    (N232, "db2", "sum(delta2) / m", 4),
    (N232, "z1", "W1 @ x + b1", 4),
    (T222, "delta1", "(W2.T @ delta2) * (1 - tanh(z1)**2)", None),
    (R231, "delta1", "(W2.T @ delta2) * heaviside(z1)", None),
    (B231, "delta2", "a2 - y", None),
    (S232, "delta2", "a2 - y", 3),
]


@pytest.mark.parametrize("net, wrt, formula, batch", RIGHT, ids=[f"{w}={f}" for _, w, f, _ in RIGHT])
def test_right_rewritings_accepted(net, wrt, formula, batch):
    r = sbp.check_layer(net, wrt, formula, batch=batch)
    assert r.ok and r.verdict == "right" and r.diagnosis is None, str(r)


ACTS = ["sigmoid", "tanh", "relu", "softplus", "arctan", "leaky_relu", "identity"]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("loss", ["quadratic", "mse", "binary_cross_entropy"])
def test_printed_true_formula_is_accepted(act, loss):
    out = "sigmoid" if loss == "binary_cross_entropy" else act
    net = sbp.mlp([2, 3, 2], activation=[act, out], loss=loss)
    for batch in (None, 3):
        for wrt in ("dW1", "dW2", "db1", "db2", "delta1", "delta2", "z1", "a1", "a2"):
            truth = true_formula(net, wrt, batch)
            assert sbp.check_layer(net, wrt, truth, batch=batch).ok, (wrt, truth, batch)


# -------------------------------------------------------------- the slip bank
MATRIX_SLIPS = [
    # (net, wrt, batch, the true formula, (old, new): the one change, intended kind, note)
    ("232 sigmoid quadratic", "delta1", None, "(W2.T @ delta2) * a1 * (1 - a1)", ("W2.T", "W2"), "missing_transpose", "W2 for W2.T, 2-3-2 (shapes)"),
    ("222 tanh quadratic", "delta1", None, "(W2.T @ delta2) * (1 - a1**2)", ("W2.T", "W2"), "missing_transpose", "W2 for W2.T, square"),
    ("232 sigmoid quadratic", "dW1", None, "delta1 @ x.T", ("x.T", "x"), "missing_transpose", "x for x.T"),
    ("232 sigmoid quadratic", "z2", None, "W2 @ a1 + b2", ("W2", "W2.T"), "extra_transpose", "W2.T in the forward pass"),
    ("232 sigmoid quadratic", "dW1", None, "delta1 @ x.T", ("delta1 @ x.T", "x @ delta1.T"), "transposed_result", "the transpose of dW"),
    ("232 sigmoid quadratic", "delta1", None, "(W2.T @ delta2) * a1 * (1 - a1)", (") * a1", ") @ a1"), "matmul_for_elementwise", "@ for ⊙"),
    ("222 tanh quadratic", "delta1", None, "(W2.T @ delta2) * (1 - a1**2)", (") * (", ") @ ("), "matmul_for_elementwise", "@ for ⊙, square"),
    ("232 sigmoid quadratic", "dW1", None, "delta1 @ x.T", ("@", "*"), "elementwise_for_matmul", "⊙ for the outer product"),
    ("232 sigmoid quadratic", "z1", None, "W1 @ x + b1", ("@", "*"), "elementwise_for_matmul", "⊙ for W x"),
    ("232 sigmoid quadratic", "delta1", None, "(W2.T @ delta2) * a1 * (1 - a1)", (" * a1 * (1 - a1)", ""), "missing_derivative", "σ'(z1) missing"),
    ("231 relu-identity quadratic", "delta1", None, "(W2.T @ delta2) * heaviside(z1)", (" * heaviside(z1)", ""), "missing_derivative", "ReLU'(z1) missing"),
    ("232 sigmoid quadratic", "delta2", None, "(a2 - y) * a2 * (1 - a2)", (" * a2 * (1 - a2)", ""), "missing_derivative", "σ'(z2) missing at the output"),
    ("232 sigmoid quadratic", "dW2", None, "delta2 @ a1.T", ("a1", "x"), "wrong_layer", "x for a1"),
    ("232 sigmoid quadratic", "delta1", None, "(W2.T @ delta2) * a1 * (1 - a1)", ("W2.T", "W1.T"), "wrong_layer", "W1 for W2"),
    ("232 sigmoid quadratic", "db1", None, "delta1", ("delta1", "delta2"), "wrong_layer", "δ2 for δ1"),
    ("232 sigmoid quadratic", "dW1", 4, "delta1 @ x.T / m", (" / m", ""), "missing_batch_average", "no 1/m"),
    ("232 sigmoid quadratic", "db2", 4, "mean(delta2)", ("mean", "sum"), "missing_batch_average", "sum for mean"),
    ("232 sigmoid quadratic", "db2", 4, "mean(delta2)", ("mean(delta2)", "delta2"), "missing_batch_average", "δ not averaged"),
    ("232 sigmoid quadratic", "delta1", None, "(W2.T @ delta2) * a1 * (1 - a1)", ("a1 * (1 - a1)", "z1 * (1 - z1)"), "z_for_a", "z for a in σ'"),
    ("222 tanh quadratic", "delta1", None, "(W2.T @ delta2) * tanh_prime(z1)", ("tanh_prime", "sigmoid_prime"), "wrong_activation", "σ' for tanh'"),
    ("232 sigmoid quadratic", "delta2", None, "(a2 - y) * a2 * (1 - a2)", ("a2 - y", "a2 + y"), "sign_term", "a + y"),
    ("232 sigmoid quadratic", "delta2", None, "(a2 - y) * a2 * (1 - a2)", ("a2 - y", "y - a2"), "sign", "y − a"),
    ("231 sigmoid bce", "delta2", None, "a2 - y", ("a2 - y", "(a2 - y) * sigmoid_prime(z2)"), "extra_factor", "σ' kept with the cross-entropy"),
    ("232 tanh-softmax ce", "delta2", None, "a2 - y", ("a2 - y", "(a2 - y) * a2 * (1 - a2)"), "extra_factor", "softmax: an elementwise f' added"),
]


def matrix_judge(slip):
    net_name, wrt, batch, truth, (old, new), _, note = slip
    assert old in truth, note
    formula = truth.replace(old, new, 1)
    net = NETS[net_name]
    assert sbp.check_layer(net, wrt, truth, batch=batch).ok, f"{note}: the true formula {truth}"
    r = sbp.check_layer(net, wrt, formula, batch=batch)
    return r, formula


@pytest.mark.parametrize("slip", MATRIX_SLIPS, ids=[s[-1] for s in MATRIX_SLIPS])
def test_every_matrix_slip_is_wrong(slip):
    r, formula = matrix_judge(slip)
    assert not r.ok and r.verdict == "wrong", f"{formula} judged right"


def test_diagnosis_rate_over_both_banks():
    assert len(SCALAR_SLIPS) + len(MATRIX_SLIPS) >= 40
    misses = []
    for slip in MATRIX_SLIPS:
        r, formula = matrix_judge(slip)
        kind = r.diagnosis.kind if r.diagnosis else None
        if kind != slip[5]:
            misses.append(f"matrix {slip[-1]}: {formula} -> {kind}, intended {slip[5]}")
    matrix_rate = 1 - len(misses) / len(MATRIX_SLIPS)
    for slip in SCALAR_SLIPS:
        _, kind, formula = judge(slip)
        if kind != slip.kind:
            misses.append(f"scalar {slip.note}: {formula} -> {kind}, intended {slip.kind}")
    rate = 1 - len(misses) / (len(SCALAR_SLIPS) + len(MATRIX_SLIPS))
    assert matrix_rate >= 0.9 and rate >= 0.9, "misses:\n" + "\n".join(misses)


def test_issue_example_names_the_transpose_and_the_shapes():
    r = sbp.check_layer(N232, "delta1", "(W2 @ delta2) * a1 * (1 - a1)")
    assert not r.ok and r.diagnosis.kind == "missing_transpose"
    message = r.diagnosis.message
    assert "W2 needs a transpose" in message and "(W2.T @ delta2) * a1 * (1 - a1)" in message
    assert "(2×3) and (2×1)" in message
    assert r.counterexample is None  # nothing to evaluate: the shapes do not fit
    assert r.truth == "(W2.T @ delta2) * a1 * (1 - a1)" and r.shape == (3, 1)


def test_counterexample_and_json():
    r = sbp.check_layer(N232, "delta1", "W2.T @ delta2")
    cex = r.counterexample
    assert set(cex.values) >= {"W2", "delta2", "a1"}
    # The values shown are consistent: the formula's value is W2ᵀ δ2 at the draw.
    np.testing.assert_allclose(cex.formula_value, cex.values["W2"].T @ cex.values["delta2"])
    np.testing.assert_allclose(cex.true_value, cex.formula_value * cex.values["a1"] * (1 - cex.values["a1"]))
    text = str(r)
    assert text.startswith("WRONG: δ⁽¹⁾ = W2.T @ delta2 is not correct.")
    assert "your formula =" in text and "True: δ⁽¹⁾ = (W2.T @ delta2) * a1 * (1 - a1)" in text
    data = json.loads(json.dumps(r.to_dict()))
    assert data["verdict"] == "wrong" and data["diagnosis"]["kind"] == "missing_derivative"
    assert data["counterexample"]["values"]["W2"] == cex.values["W2"].tolist()


def test_shape_that_fits_nothing_says_the_shapes():
    r = sbp.check_layer(N232, "dW2", "delta2 @ delta1.T @ x")
    assert not r.ok and r.diagnosis is not None
    assert "(2×3) and (2×1)" in r.diagnosis.message or "shape" in r.diagnosis.message


# -------------------------------------------------------------- hostile input
@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('touch {path}')",
        "x.__class__",
        "(lambda: __import__('os').system('touch {path}'))()",
        "x[0]",
        "[open('{path}', 'w') for _ in x]",
        "open('{path}', 'w')",
        "x if y else W1",
        "x ** y",
        "x ** 1000",
        "'x'",
        "W9 @ x",
        "sigmoid(z1, y=1)",
        "",
        "(",
        "x" + " + x" * 400,
        "(" * 5000 + "x" + ")" * 5000,
        "x" * 3000,
        "1e999 * x",
        "1" + "0" * 400 + " * x",  # an integer no float64 holds (was an OverflowError)
        "True * x",
    ],
)
def test_hostile_formula_refused_in_one_line(tmp_path, formula):
    target = tmp_path / "pwned"
    with pytest.raises(sbp.FormulaError) as info:
        sbp.check_layer(N232, "dW1", formula.format(path=target))
    message = str(info.value)
    assert "\n" not in message and len(message) < 2000
    assert not target.exists()


@pytest.mark.parametrize("wrt, batch", [("dW3", None), ("dX1", None), ("dW1", 1), ("dW1", True)])
def test_bad_wrt_or_batch(wrt, batch):
    with pytest.raises(sbp.SpecError):
        sbp.check_layer(N232, wrt, "delta1 @ x.T", batch=batch)


# ------------------------------------------------------------------- the CLI
def test_cli_issue_example(capsys):
    code = main(["check-layer", "--layers", "2,3,2", "--activation", "sigmoid", "--loss", "quadratic",
                 "--wrt", "delta1", "--formula", "(W2 @ delta2) * a1 * (1 - a1)"])
    out, _ = capsys.readouterr()
    assert code == 1 and out.startswith("WRONG")
    assert "W2 needs a transpose" in out and "W2.T @ delta2" in out


def test_cli_right_json_and_bad_input(capsys):
    code = main(["check-layer", "--layers", "2,3,2", "--wrt", "dW1", "--formula", "delta1 @ x.T / m",
                 "--batch", "4", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["ok"] is True
    code = main(["check-layer", "--layers", "2,3,2", "--wrt", "dW1", "--formula", "x.__class__"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "__class__" in err


def test_cli_subprocess_exit_code():
    # The console entry point as a user runs it (the environment, PYTHONPATH included, inherited).
    proc = subprocess.run([sys.executable, "-m", "symbackprop", "check-layer", "--layers", "2,2,1",
                           "--wrt", "db2", "--formula", "delta2"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("RIGHT"), proc.stderr


# ------------------------------------------------------- property over networks

@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 3), min_size=3, max_size=4),
    act=st.sampled_from(["sigmoid", "tanh", "softplus", "arctan", "identity"]),
    loss=st.sampled_from(["quadratic", "mse"]),
    batch=st.sampled_from([None, 3]),
)
def test_property_truth_accepted_and_dropped_transpose_named(sizes, act, loss, batch):
    net = sbp.mlp(sizes, activation=act, loss=loss)
    for layer in range(1, net.n_layers):
        truth = true_formula(net, f"delta{layer}", batch)
        assert sbp.check_layer(net, f"delta{layer}", truth, batch=batch).ok, truth
        if sizes[layer] == sizes[layer + 1] == 1:
            continue  # a 1×1 matrix is its own transpose
        slip = truth.replace(f"W{layer + 1}.T", f"W{layer + 1}", 1)
        r = sbp.check_layer(net, f"delta{layer}", slip, batch=batch)
        assert not r.ok and r.diagnosis is not None and r.diagnosis.kind == "missing_transpose", str(r)
