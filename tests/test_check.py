"""The gradient checker: verdicts, diagnoses from real slips, hostile input, gradcheck."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import expanded_loss, finite_difference, random_point

import symbackprop as sbp
from symbackprop import bounded
from symbackprop.checking.evaluate import evaluate, sample_points
from symbackprop.checking.latex import latex_available, parse_latex_formula
from symbackprop.checking.symbolic import prove_equal
from symbackprop.checking.verdict import parse_lines
from symbackprop.notation import to_str


@pytest.fixture(scope="module")
def net221():
    return sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")


@pytest.fixture(scope="module")
def net222():
    return sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")


# ---------------------------------------------------------------- right answers
def test_issue_example(net221):
    assert sbp.check(net221, "w2_1_1", "(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1").ok
    r = sbp.check(net221, "w2_1_1", "(a2_1 - y1)*a1_1")
    assert not r.ok
    assert r.diagnosis.kind == "local_partial" and not r.diagnosis.details["extra"]
    text = str(r)
    assert "σ'(z2_1) = a2_1*(1 - a2_1)" in text
    assert "your formula =" in text and "true value   =" in text
    assert "True: ∂J/∂w⁽²⁾₁₁ = a1_1*a2_1*(1 - a2_1)*(a2_1 - y1)" in text
    # The counterexample's values are the formula's and the oracle's at its point.
    cex = r.counterexample
    point = {sp.Symbol(k, real=True): v for k, v in cex.point.items()}
    oracle = sp.diff(expanded_loss(net221), net221.w(2, 1, 1))
    assert cex.true_value == pytest.approx(float(oracle.xreplace(point)), rel=1e-9)
    a11, a21 = cex.intermediates["a1_1"], cex.intermediates["a2_1"]
    assert cex.formula_value == pytest.approx((a21 - point[net221.y(1)]) * a11, rel=1e-9)


def test_right_with_intermediates_and_fully_expanded(net222):
    p = net222.w(1, 2, 1)
    compact = "x1*a1_2*(1 - a1_2)*(delta2_1*w2_1_2 + delta2_2*w2_2_2)"
    oracle = sp.diff(expanded_loss(net222), p)  # independent: sympy.diff of the expanded J
    for formula in (compact, to_str(oracle), oracle):
        r = sbp.check(net222, p, formula)
        assert r.ok, str(r)
        assert r.tests_run == ("numeric", "symbolic")
        assert r.outcomes["symbolic"] == "proved equal"


def test_numeric_only_and_json(net221):
    r = sbp.check(net221, "b2_1", "delta2_1", symbolic=False)
    assert r.ok and r.tests_run == ("numeric",)
    d = r.to_dict()
    assert d["ok"] and d["truth"] == "a2_1*(1 - a2_1)*(a2_1 - y1)" and d["diagnosis"] is None


def test_relu_kinks_are_avoided():
    net = sbp.mlp([2, 3, 1], activation=["relu", "identity"], loss="quadratic")
    values = sample_points(net, 64, seed=1)
    for layer in (1, 2):
        for j in range(1, net.sizes[layer] + 1):
            assert np.all(np.abs(values[net.z(layer, j)]) > 1e-6)
    r = sbp.check(net, "w1_2_1", "x1*heaviside(z1_2)*w2_1_2*(a2_1 - y1)")
    assert r.ok, str(r)
    r = sbp.check(net, "w1_2_1", "x1*w2_1_2*(a2_1 - y1)")  # forgot ReLU'
    assert not r.ok and r.diagnosis.kind == "local_partial"
    assert "heaviside(z1_2)" in r.diagnosis.message


def test_categorical_cross_entropy_targets_sum_to_one():
    net = sbp.mlp([2, 3], activation="softmax", loss="cross_entropy")
    values = sample_points(net, 16)
    assert np.allclose(sum(values[y] for y in net.targets), 1.0)
    assert sbp.check(net, "b1_2", "a1_2 - y2").ok


# ------------------------------------------------------------- diagnoses: slips
def test_loss_half_dropped(net221):
    r = sbp.check(net221, "w2_1_1", "2*(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1")
    assert not r.ok and r.diagnosis.kind == "constant_factor"
    assert r.diagnosis.details["factor"] == pytest.approx(2.0)
    assert "½" in r.diagnosis.message


def test_sign_convention(net221):
    # Error written as y - a instead of a - y.
    r = sbp.check(net221, "b2_1", "(y1 - a2_1)*a2_1*(1 - a2_1)")
    assert not r.ok and r.diagnosis.kind == "sign"


def test_forgotten_sigma_prime_in_hidden_layer(net221):
    r = sbp.check(net221, "w1_1_2", "x2*delta2_1*w2_1_1")
    assert not r.ok and r.diagnosis.kind == "local_partial"
    assert r.diagnosis.details["factor"] == "a1_1*(1 - a1_1)"
    assert "σ'(z1_1)" in r.diagnosis.message


def test_extra_weight_factor(net221):
    r = sbp.check(net221, "w1_1_1", "x1*a1_1*(1 - a1_1)*delta2_1*w2_1_1**2")
    assert not r.ok and r.diagnosis.kind == "local_partial" and r.diagnosis.details["extra"]
    assert "w2_1_1" in r.diagnosis.message


def test_swapped_indices(net222):
    # w^(2)_12 written for w^(2)_21.
    r = sbp.check(net222, "w2_2_1", "(a2_1 - y1)*a2_1*(1 - a2_1)*a1_2")
    assert not r.ok and r.diagnosis.kind == "wrong_index"
    assert r.diagnosis.details["other"] == "w2_1_2"
    assert "swapped" in r.diagnosis.message


def test_only_one_path_through_two_outputs(net222):
    r = sbp.check(net222, "w1_1_1", "x1*a1_1*(1 - a1_1)*w2_1_1*(a2_1 - y1)*a2_1*(1 - a2_1)")
    assert not r.ok and r.diagnosis.kind == "missing_paths"
    assert r.diagnosis.details["missing"] == [["w1_1_1", "z1_1", "a1_1", "z2_2", "a2_2", "J"]]
    assert "z⁽²⁾₂" in r.diagnosis.message


def test_undiagnosed_wrong_formula(net221):
    r = sbp.check(net221, "w2_1_1", "a1_1 + y1")
    assert not r.ok and r.diagnosis is None
    assert "none of the usual slips" in str(r)


# ---------------------------------------------------------------- hostile input
@pytest.mark.parametrize(
    "formula",
    [
        "__import__('os').system('touch {path}')",
        "a1_1.__class__",
        "(lambda: __import__('os').system('touch {path}'))()",
        "x1[0]",
        "[open('{path}', 'w') for _ in x1]",
        "open('{path}', 'w')",
        "x1 if y1 else b1_1",
        "a1_1 ^ 2",
        "",
        "(",
        "a9_9",
    ],
)
def test_hostile_formula_refused_without_side_effect(net221, tmp_path, formula):
    target = tmp_path / "pwned"
    with pytest.raises(sbp.FormulaError) as info:
        sbp.check(net221, "w2_1_1", formula.format(path=target))
    message = str(info.value)
    assert "\n" not in message and ("Allowed" in message or "empty" in message)
    assert not target.exists()


def test_unknown_parameter(net221):
    with pytest.raises(sbp.UnknownNameError, match="w2_1_1"):
        sbp.check(net221, "w2_1_3", "a1_1")


# --------------------------------------------------------- property over nets
ACTS = ["sigmoid", "tanh", "identity", "softplus", "arctan"]


@settings(max_examples=12, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 2), min_size=2, max_size=3),
    act=st.sampled_from(ACTS),
    loss=st.sampled_from(["quadratic", "mse"]),
    data=st.data(),
)
def test_property_printed_truth_is_right_and_slips_are_caught(sizes, act, loss, data):
    net = sbp.mlp(sizes, activation=act, loss=loss)
    p = data.draw(st.sampled_from(net.params))
    truth = to_str(net.grad(p))
    assert sbp.check(net, p, truth, symbolic=False).ok
    factor, kind = data.draw(st.sampled_from([("2", "constant_factor"), ("-1", "sign")]))
    r = sbp.check(net, p, f"{factor}*({truth})", symbolic=False)
    assert not r.ok and r.diagnosis is not None and r.diagnosis.kind == kind


# ------------------------------------------------------------ check_derivative
def test_reflected_sigmoid():
    r = sbp.check_derivative("1/(1+exp(z))", "sigmoid(z)*(1-sigmoid(z))", wrt="z")
    assert not r.ok
    assert r.diagnosis.kind == "reflected_function"
    assert "σ(−z), whose derivative" in r.diagnosis.message or "its derivative is −σ(−z)(1−σ(−z))" in r.diagnosis.message
    assert [d.kind for d in r.diagnoses] == ["reflected_function", "sign"]
    z = sp.Symbol("z", real=True)
    assert sp.simplify(r.truth - sp.diff(1 / (1 + sp.exp(z)), z)) == 0


def test_check_derivative_right_and_generic():
    assert sbp.check_derivative("tanh(z)", "1 - tanh(z)**2").ok
    assert sbp.check_derivative("log(1 + exp(z))", "sigmoid(z)").ok
    assert sbp.check_derivative("-(y*log(a) + (1-y)*log(1-a))", "(a - y)/(a*(1 - a))", wrt="a").ok
    r = sbp.check_derivative("(a - y)**2/2", "2*(a - y)", wrt="a")
    assert r.diagnosis.kind == "constant_factor" and r.diagnosis.details["factor"] == pytest.approx(2)
    with pytest.raises(sbp.FormulaError, match="symbols="):
        sbp.check_derivative("q*z", "q")


# -------------------------------------------------------------------- the file
def test_check_file(net222, tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text(
        "# my derivation\n"
        "w2_1_1: (a2_1 - y1)*a2_1*(1 - a2_1)*a1_1\n"
        "dJ/dw2_2_1: (a2_1 - y1)*a2_1*(1 - a2_1)*a1_2   # oops\n"
        "\n"
        "b1_1: __import__('os')\n",
        encoding="utf-8",
    )
    lines = sbp.check_file(net222, f)
    assert [(x.lineno, x.name, x.ok) for x in lines] == [
        (2, "w2_1_1", True), (3, "w2_2_1", False), (5, "b1_1", False)
    ]
    assert lines[1].result.diagnosis.kind == "wrong_index"
    assert lines[2].error is not None and "__import__" in lines[2].error
    with pytest.raises(sbp.FormulaError, match="name: formula"):
        parse_lines("w2_1_1 = a1_1")
    with pytest.raises(sbp.SymbackpropError, match="Cannot read formula file"):
        sbp.check_file(net222, tmp_path / "missing.txt")


# --------------------------------------------------------------- the internals
def test_evaluate_matches_sympy():
    x, y = sp.symbols("x y")
    expr = sp.exp(-x) * sp.Max(x, y) + sp.log(1 + y**2) / (1 + x**2) + sp.Heaviside(x, 0) * sp.atan(y)
    rng = np.random.default_rng(0)
    xs, ys = rng.uniform(-2, 2, 10), rng.uniform(-2, 2, 10)
    got = evaluate(expr, {x: xs, y: ys})
    want = [float(expr.subs({x: a, y: b})) for a, b in zip(xs, ys)]
    assert np.allclose(got, want, rtol=1e-12)


def test_symbolic_outcomes():
    x = sp.Symbol("x")
    assert prove_equal([sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1]) == "equal"
    assert prove_equal([x + 1]) == "unproved"
    assert prove_equal([sp.expand((x + 1) ** 60) - (x + 1) ** 60 + x], max_size=10) == "too large"
    heavy = sp.expand((x + 1) ** 300) - (x + 1) ** 300 + sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1
    assert prove_equal([heavy], timeout=1e-3) == "timeout"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced on Linux")
def test_symbolic_memory_bound():
    x = sp.Symbol("x")
    heavy = sp.expand((x + 1) ** 300) - (x + 1) ** 300 + sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1
    assert prove_equal([heavy], memory=2**20) == "out of memory"
    assert prove_equal([sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1]) == "equal"  # a fresh child


@pytest.mark.skipif(not latex_available(), reason="SymPy's LaTeX parser needs antlr4 4.11")
def test_latex_parse_is_time_bounded(net221):
    # A sum within the text limits takes SymPy's parser about 10 ms a term (0.3 s or more
    # here), far beyond a time bound of 10 ms. (Huge values such as 9^{9^{9}} are refused
    # before that by the limits on what a formula computes: tests/test_bounds.py.)
    text = " + ".join([r"x_{1} x_{2}"] * 30)
    parse_latex_formula(r"x_1", net221)  # the child is warm: only the parse itself is timed
    with pytest.raises(sbp.FormulaError, match=r"longer than the time bound of 0.01 s"):
        parse_latex_formula(text, net221, timeout=0.01)
    assert bounded.child_pid() is None  # the parse's child was killed
    e = parse_latex_formula(r"\delta^{(2)}_1 a^{(1)}_1", net221, timeout=0.5)
    assert e == net221.symbol("delta2_1") * net221.symbol("a1_1")


@pytest.mark.skipif(not latex_available(), reason="SymPy's LaTeX parser needs antlr4 4.11")
def test_latex_input(net221, tmp_path):
    e = parse_latex_formula(r"\delta^{(2)}_1 w^{(2)}_{11} \sigma'(z^{(1)}_1) x_1", net221)
    assert sbp.check(net221, "w1_1_1", e).ok
    e = parse_latex_formula(r"\sigma(z^{(2)}_1)(1-\sigma(z^{(2)}_1))a^{(1)}_1", net221)
    assert not sbp.check(net221, "w2_1_1", e).ok
    for bad in [r"\int x_1 dx", r"\sum_{i=1}^{3} x_1", r"q_1", r"x_1!"]:
        with pytest.raises(sbp.FormulaError, match="not allowed|Cannot read"):
            parse_latex_formula(bad, net221)


# ------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("act,loss", [("tanh", "quadratic"), ("sigmoid", "binary_cross_entropy")])
def test_gradcheck_passes_and_agrees_with_oracle(act, loss):
    net = sbp.mlp([2, 2, 1], activation=act, loss=loss)
    params = net.init_params(seed=3)
    X = np.array([[0.3, -0.7], [1.1, 0.4], [-0.5, 0.9]])
    Y = np.array([[0.2], [0.8], [0.6]])
    r = sbp.gradcheck(net, params, X, Y)
    assert r.ok and r.max_rel_error < 1e-5, str(r)
    # The central differences against the oracle's (mean over the batch of sympy J).
    J = expanded_loss(net)
    for p in net.params:
        fd = np.mean([
            finite_difference(J, p, {**params, **dict(zip(net.inputs, x)), **dict(zip(net.targets, y))})
            for x, y in zip(X, Y)
        ])
        assert r.numeric[p] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_gradcheck_names_the_worst_parameter():
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    inner = net.compile()

    class Broken:
        def loss(self, params, X, Y):
            return inner.loss(params, X, Y)

        def gradient(self, params, X, Y):
            g = dict(inner.gradient(params, X, Y))
            g[net.w(1, 2, 1)] *= 1.5
            return g

    rng = np.random.default_rng(0)
    point = random_point(net, rng)
    params = {p: point[p] for p in net.params}
    X, Y = rng.normal(size=(4, 2)), rng.uniform(0.1, 0.9, (4, 1))
    r = sbp.gradcheck(net, params, X, Y, model=Broken())
    assert not r.ok and r.worst == net.w(1, 2, 1) and r.failed == (net.w(1, 2, 1),)
    assert r.max_rel_error == pytest.approx(1 / 3, rel=1e-3)
    assert "w1_2_1" in str(r)


def test_no_stray_files(tmp_path):
    # The symbolic test runs in a child process; it must leave nothing behind.
    before = set(os.listdir(tmp_path))
    sbp.check(sbp.mlp([1, 1]), "b1_1", "a1_1*(1 - a1_1)*(a1_1 - y1)")
    assert set(os.listdir(tmp_path)) == before
