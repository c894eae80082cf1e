"""The ``symbackprop hessian`` command: symbolic ∂²J/∂p∂q and a model's dense Hessian.

Oracles, independent of the code under test: ``sympy.diff`` twice of the fully expanded
loss (tests/oracle.py for networks; the computation's loss written out by hand here),
evaluated at 30 digits; central differences of the compiled gradient for the dense Hessian
(and of the compiled outputs for the input Jacobian); ``numpy.linalg.eigvalsh`` of that
finite-difference Hessian for the eigenvalues. Everything runs in-process through ``main``.
"""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracle import expanded_loss
from test_second_order import _convention

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.cli.hessian import curvature
from symbackprop.computation_file import load_computation

SEED = 20261126

NETS = [  # sizes, activations, loss, and the (p, q) pairs asked for
    ([2, 2, 1], "sigmoid", "quadratic", [("w1_1_1", "w2_1_1"), ("b1_2", "b1_2"), ("w2_1_2", "w1_2_1")]),
    ([2, 2, 2], "tanh,softmax", "cross_entropy", [("w1_1_2", "b2_2"), ("w2_2_1", "w2_2_1")]),
    ([1, 2, 1, 1], "arctan,softplus,sigmoid", "binary_cross_entropy", [("w1_2_1", "w3_1_1"), ("b1_1", "w2_1_2")]),
]

SOURCE = """\
params: w1 b1 w2 w3 b2
inputs: x
targets: y
h = tanh(w1*x + b1)
o = sigmoid(w2*h + w3*x + b2)      # a skip connection: x reaches o twice
J = (o - y)**2 / 2
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def net_flags(sizes, act, loss) -> list[str]:
    return ["--layers", ",".join(map(str, sizes)), "--activation", act, "--loss", loss]


def oracle(J: sp.Expr, p: sp.Symbol, q: sp.Symbol, point: dict) -> float:
    """sympy.diff(sympy.diff(J, p), q) at ``point``, at 30 digits."""
    d2 = _convention(sp.diff(sp.diff(J, p), q))
    symbols = sorted(point, key=str)
    f = sp.lambdify(symbols, d2, modules="mpmath")
    with mpmath.workdps(30):
        return float(f(*[mpmath.mpf(point[s]) for s in symbols]))


# --- symbolic: a network ---------------------------------------------------------------------


@pytest.mark.parametrize(("sizes", "act", "loss", "pairs"), NETS, ids=lambda v: str(v)[:30])
def test_network_entry_at_a_point_is_sympy_diff_of_the_expanded_loss(capsys, tmp_path, sizes, act, loss, pairs):
    acts = act.split(",")
    net = sbp.mlp(sizes, activation=acts[0] if len(acts) == 1 else acts, loss=loss)
    rng = np.random.default_rng(SEED)
    params = {p.name: float(rng.normal(0.0, 0.8)) for p in net.params}
    x = rng.normal(size=net.sizes[0]).round(3)
    y = rng.uniform(0.1, 0.9, size=net.sizes[-1]).round(3)
    if loss == "cross_entropy":
        y = y / y.sum()  # a distribution, as cross-entropy's targets
    values = tmp_path / "params.json"
    values.write_text(json.dumps(params))
    J = expanded_loss(net)
    point = {s: v for s, v in zip([*net.params, *net.inputs, *net.targets],
                                  [*params.values(), *x.tolist(), *y.tolist()])}
    for p, q in pairs:
        flags = [*net_flags(sizes, act, loss), "--wrt", p, "--and", q, "--at", str(values),
                 "--x", ",".join(map(repr, x.tolist())), "--y", ",".join(map(repr, y.tolist()))]
        want = oracle(J, net.parameter(p), net.parameter(q), point)
        code, out, err = run(capsys, "hessian", *flags, "--format", "json")
        assert (code, err) == (0, "")
        data = json.loads(out)
        assert (data["p"], data["q"]) == (p, q)
        assert data["value"] == pytest.approx(want, rel=1e-9, abs=1e-12)
        code, out, _ = run(capsys, "hessian", *flags)  # the text form prints it to 6 digits
        assert code == 0
        printed = float(out.split("≈")[1].split()[0])
        assert printed == pytest.approx(want, rel=1e-5, abs=1e-9)
        code, out, _ = run(capsys, "hessian", *flags, "--steps")  # every step, the same result
        assert code == 0
        result = [line for line in out.splitlines() if line.lstrip().startswith("∂²J/∂") and "≈" in line][-1]
        assert float(result.split("≈")[1]) == pytest.approx(want, rel=1e-5, abs=1e-9)


def test_network_inputs_and_targets_may_be_in_the_values_file(capsys, tmp_path):
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    params = {p.name: 0.1 * i - 0.3 for i, p in enumerate(net.params)}
    (tmp_path / "all.json").write_text(json.dumps({**params, "x1": 0.5, "x2": -1.0, "y1": 0.25}))
    (tmp_path / "params.json").write_text(json.dumps(params))
    base = ["hessian", "--layers", "2,2,1", "--wrt", "w1_2_1", "--and", "b2_1", "--format", "json", "--at"]
    _, a, _ = run(capsys, *base, str(tmp_path / "all.json"))
    _, b, _ = run(capsys, *base, str(tmp_path / "params.json"), "--x", "0.5,-1", "--y", "0.25")
    point = {net.parameter(k): v for k, v in params.items()} | dict(zip([*net.inputs, *net.targets], [0.5, -1.0, 0.25]))
    want = oracle(expanded_loss(net), net.parameter("w1_2_1"), net.parameter("b2_1"), point)
    assert json.loads(a)["value"] == json.loads(b)["value"] == pytest.approx(want, rel=1e-9)


def test_compact_expand_and_steps_are_the_library_forms(capsys):
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    flags = ["hessian", "--layers", "2,2,1", "--activation", "sigmoid", "--wrt", "w1_1_1", "--and", "w2_1_1"]
    code, out, _ = run(capsys, *flags)
    assert code == 0
    assert out.startswith("∂²J/∂w⁽¹⁾₁₁∂w⁽²⁾₁₁ = δ̇⁽¹⁾₁⋅x₁\n")
    assert "--steps prints their recursions" in out
    _, out, _ = run(capsys, *flags, "--format", "json")
    assert sp.sympify(json.loads(out)["compact"]) == sp.sympify(str(net.hessian("w1_1_1", "w2_1_1")))
    _, out, _ = run(capsys, *flags, "--expand", "--format", "json")
    got = sp.sympify(json.loads(out)["expanded"], locals={s.name: s for s in (*net.params, *net.inputs, *net.targets)})
    J = expanded_loss(net)
    want = sp.diff(J, net.parameter("w1_1_1"), net.parameter("w2_1_1"))
    rng = np.random.default_rng(SEED)
    symbols = [*net.params, *net.inputs, *net.targets]
    for _ in range(3):  # equal as functions (their forms differ)
        point = dict(zip(symbols, rng.normal(size=len(symbols))))
        assert float(got.xreplace(point)) == pytest.approx(float(want.xreplace(point)), rel=1e-10)
    code, out, _ = run(capsys, *flags, "--steps")
    assert code == 0
    assert out == net.hessian_derivation("w1_1_1", "w2_1_1").text().replace(
        "net.hessian(p, q, expand=True) builds it", "--expand prints it") + "\n"
    assert "--expand prints it" in out
    for fmt, mark in (("latex", r"\dot{\delta}^{(1)}_{1}"), ("markdown", "### $")):
        code, out, _ = run(capsys, *flags, "--steps", "--format", fmt)
        assert code == 0 and mark in out
    _, out, _ = run(capsys, *flags, "--format", "latex")
    assert out.strip() == r"\frac{\partial^2 J}{\partial w^{(1)}_{1 1}\, \partial w^{(2)}_{1 1}} = \dot{\delta}^{(1)}_{1} x_{1}"


# --- symbolic: a computation file ----------------------------------------------------------


def hand_loss() -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """The loss of SOURCE written out by hand in SymPy (not by the library)."""
    s = {n: sp.Symbol(n, real=True) for n in "w1 b1 w2 w3 b2 x y".split()}
    h = sp.tanh(s["w1"] * s["x"] + s["b1"])
    o = 1 / (1 + sp.exp(-(s["w2"] * h + s["w3"] * s["x"] + s["b2"])))
    return (o - s["y"]) ** 2 / 2, s


@pytest.mark.parametrize(("p", "q"), [("w1", "w2"), ("w3", "w3"), ("b1", "x"), ("w2", "y")])
def test_file_entry_at_a_point_is_sympy_diff_of_the_written_out_loss(capsys, tmp_path, p, q):
    (tmp_path / "model.txt").write_text(SOURCE)
    values = {"w1": 0.5, "b1": 0.1, "w2": -0.3, "w3": 0.8, "b2": -0.2, "x": 1.5, "y": 0.25}
    (tmp_path / "values.json").write_text(json.dumps(values))
    J, s = hand_loss()
    want = oracle(J, s[p], s[q], {s[k]: v for k, v in values.items()})
    flags = ["hessian", "--file", str(tmp_path / "model.txt"), "--wrt", p, "--and", q]
    for at in (str(tmp_path / "values.json"), ",".join(f"{k}={v}" for k, v in values.items())):
        code, out, err = run(capsys, *flags, "--at", at, "--format", "json")
        assert (code, err) == (0, "")
        assert json.loads(out)["value"] == pytest.approx(want, rel=1e-9, abs=1e-12)
    code, out, _ = run(capsys, *flags, "--at", str(tmp_path / "values.json"), "--steps")
    assert code == 0 and "Second-order adjoint" in out
    last = [line for line in out.splitlines() if "≈" in line and line.lstrip().startswith("∂²J")][-1]
    assert float(last.split("≈")[1]) == pytest.approx(want, rel=1e-5, abs=1e-9)
    code, out, _ = run(capsys, *flags, "--expand", "--format", "json")
    assert code == 0
    got = sp.sympify(json.loads(out)["expanded"], locals=s)
    assert float(got.xreplace({s[k]: v for k, v in values.items()})) == pytest.approx(want, rel=1e-10, abs=1e-12)


# --- numeric ---------------------------------------------------------------------------------


def fd_hessian(model, params: dict, X, Y, h: float = 1e-5) -> np.ndarray:
    """Central differences of the compiled gradient, column by column."""
    keys = list(params)
    H = np.empty((len(keys), len(keys)))
    for i, k in enumerate(keys):
        up, down = dict(params), dict(params)
        up[k] += h
        down[k] -= h
        H[:, i] = (np.array(list(model.gradient(up, X, Y).values()))
                   - np.array(list(model.gradient(down, X, Y).values()))) / (2 * h)
    return H


def test_dense_hessian_of_a_saved_model_is_central_differences_of_its_gradient(capsys, tmp_path):
    path = str(tmp_path / "xor.npz")
    code, _, _ = run(capsys, "train", "--layers", "2,3,1", "--activation", "tanh,sigmoid", "--loss",
                     "binary_cross_entropy", "--data", "xor", "--epochs", "300", "--lr", "0.5",
                     "--batch-size", "4", "--seed", "1", "--save", path, "--no-progress")
    assert code == 0
    net, params = sbp.load(path)
    X, Y = sbp.datasets.xor()
    model = net.compile()
    want = fd_hessian(model, dict(params), X, Y)
    code, out, err = run(capsys, "hessian", "--model", path, "--data", "xor", "--eigenvalues", "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["params"] == [p.name for p in net.params]
    H = np.array(data["hessian"])
    np.testing.assert_allclose(H, want, rtol=1e-5, atol=1e-8)
    lam = np.linalg.eigvalsh((want + want.T) / 2)
    np.testing.assert_allclose(data["eigenvalues"], lam, rtol=1e-5, atol=1e-7)
    assert data["loss"] == pytest.approx(model.loss(params, X, Y), rel=1e-12)
    # the text form: the same matrix to the printed digits, and the one-line summary
    code, out, _ = run(capsys, "hessian", "--model", path, "--data", "xor", "--eigenvalues", "--precision", "8")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"Hessian of the mean loss of the {net.describe()} over 4 rows of xor")
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[3:3 + len(net.params)]}
    np.testing.assert_allclose([rows[p.name] for p in net.params], H, rtol=1e-7, atol=1e-15)
    printed = [float(v) for v in lines[-2].split(":", 1)[1].split(",")]
    np.testing.assert_allclose(printed, data["eigenvalues"], rtol=1e-7, atol=1e-15)
    assert lines[-1] == curvature(np.array(data["eigenvalues"]))


def test_initial_parameters_of_a_computation_file_and_a_csv(capsys, tmp_path):
    (tmp_path / "model.txt").write_text(SOURCE)
    rng = np.random.default_rng(SEED)
    X, Y = rng.normal(size=(12, 1)), rng.uniform(size=(12, 1))
    (tmp_path / "data.csv").write_text("y,x\n" + "".join(f"{b:.17g},{a:.17g}\n" for a, b in zip(X[:, 0], Y[:, 0])))
    g = load_computation(str(tmp_path / "model.txt"))
    params = g.init_params(3)
    want = fd_hessian(g.compile(), {p.name: v for p, v in params.items()}, X, Y)
    code, out, err = run(capsys, "hessian", "--file", str(tmp_path / "model.txt"), "--seed", "3",
                         "--data", str(tmp_path / "data.csv"), "--format", "json")
    assert (code, err) == (0, "")
    np.testing.assert_allclose(np.array(json.loads(out)["hessian"]), want, rtol=1e-5, atol=1e-8)
    # a saved computation model: its own parameters, the data matched by column name
    path = str(tmp_path / "g.npz")
    code, _, _ = run(capsys, "train", "--file", str(tmp_path / "model.txt"), "--data", str(tmp_path / "data.csv"),
                     "--epochs", "20", "--lr", "0.5", "--batch-size", "4", "--save", path, "--no-progress")
    assert code == 0
    saved, trained = sbp.load(path)
    want = fd_hessian(saved.compile(), {p.name: v for p, v in dict(trained).items()}, X, Y)
    code, out, err = run(capsys, "hessian", "--model", path, "--data", str(tmp_path / "data.csv"), "--format", "json")
    assert (code, err) == (0, "")
    np.testing.assert_allclose(np.array(json.loads(out)["hessian"]), want, rtol=1e-5, atol=1e-8)


def test_input_jacobian_is_central_differences_of_the_outputs(capsys):
    net = sbp.mlp([2, 3, 2], activation=["tanh", "softmax"], loss="cross_entropy")
    params = net.init_params(5)
    X, _ = sbp.datasets.xor()
    model, h = net.compile(), 1e-6
    J = np.stack([(model.predict(params, X + h * e) - model.predict(params, X - h * e)) / (2 * h)
                  for e in np.eye(2)], axis=-1)  # (rows, outputs, inputs)
    code, out, err = run(capsys, "hessian", "--layers", "2,3,2", "--activation", "tanh,softmax", "--loss",
                         "cross_entropy", "--seed", "5", "--data", "xor", "--jacobian", "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["outputs"], data["inputs"]) == (["a2_1", "a2_2"], ["x1", "x2"])
    np.testing.assert_allclose(data["mean_abs"], np.abs(J).mean(axis=0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(data["mean"], J.mean(axis=0), rtol=1e-6, atol=1e-9)


def test_curvature_summary_counts_signs():
    assert curvature([-2.0, -1.0, 3.0]).startswith("curvature: 2 negative, 1 positive eigenvalue(s): a saddle")
    assert "condition number 4" in curvature([0.5, 2.0])
    assert "1 zero eigenvalue(s)" in curvature([1e-17, 1.0, 2.0])
    assert "all 2 eigenvalues are zero" in curvature([0.0, 0.0])


# --- errors: one line, exit code 2 -----------------------------------------------------------


@pytest.mark.parametrize(("argv", "words"), [
    (["--layers", "2,2,1", "--wrt", "w1_1_3", "--and", "b1_1"], ["--wrt w1_1_3", "Did you mean 'w1_1_2'?"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1", "--and", "w2_1_3"], ["--and w2_1_3", "Did you mean 'w2_1_2'?"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1"], ["needs two parameters", "--wrt w1_1_1 is one", "--and"]),
    (["--layers", "2,2,1", "--and", "w1_1_1"], ["needs two parameters", "--wrt"]),
    (["--layers", "2,2,1", "--file", "model.txt", "--wrt", "w1_1_1", "--and", "b1_1"], ["not both"]),
    (["--wrt", "w1_1_1", "--and", "b1_1"], ["needs --layers", "--file"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1", "--and", "b1_1", "--x", "1,2"], ["--x and --y", "--at"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1", "--and", "b1_1", "--eigenvalues"], ["--eigenvalues is for the numeric mode"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1", "--and", "b1_1", "--steps", "--expand"], ["Choose one"]),
    (["--layers", "2,2,1", "--seed", "0", "--data", "xor", "--wrt", "w1_1_1"], ["--wrt is for the symbolic mode"]),
    (["--layers", "2,2,1", "--data", "xor"], ["--model", "--seed N"]),
    (["--layers", "2,2,1", "--seed", "0", "--data", "xor", "--format", "latex"], ["text or json"]),
    (["--layers", "2,40,40,1", "--seed", "0", "--data", "xor"],
     ["1,801 parameters", "1,801 x 1,801", "at most 1,000", "--max-params 1801"]),
    (["--layers", "2,2,1", "--seed", "0", "--data", "mons"], ["Did you mean 'moons'?"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1", "--and", "b1_1", "--max-graph-edges", "3"],
     ["20 edges", "--max-graph-edges 20", "--data with --model"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1", "--and", "b1_1", "--at", "/dev/zero", "--x", "1,2", "--y", "1"],
     ["/dev/zero", "not a regular file"]),
    (["--layers", "2,2,1", "--wrt", "w1_1_1", "--and", "b1_1", "--at", "/no/such.json", "--x", "1,2", "--y", "1"],
     ["/no/such.json"]),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, words):
    argv = [*argv, "--max-params", "1000"] if "2,40,40,1" in argv else argv
    code, out, err = run(capsys, "hessian", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("symbackprop hessian: error: ")
    for w in words:
        assert w in err


def test_file_errors_name_the_flag_and_the_leaves(capsys, tmp_path):
    (tmp_path / "model.txt").write_text(SOURCE)
    base = ["hessian", "--file", str(tmp_path / "model.txt")]
    code, _, err = run(capsys, *base, "--wrt", "w1", "--and", "w33")
    assert code == 2 and "--and w33: Unknown parameter, input or target" in err and "Did you mean 'w3'?" in err
    code, _, err = run(capsys, *base, "--wrt", "o", "--and", "w1")
    assert code == 2 and "'o' is a defined node" in err
    code, _, err = run(capsys, *base, "--wrt", "w1", "--and", "w2", "--at", "w1=0.5")
    assert code == 2 and "No value for" in err and err.count("\n") == 1


def test_too_large_expansion_is_refused_in_flags(capsys):
    code, out, err = run(capsys, "hessian", "--layers", "3,4,4,4,2", "--activation", "sigmoid", "--wrt",
                         "w1_1_1", "--and", "w1_2_3", "--expand")
    assert code == 2 and out == ""
    assert "operations (limit 100,000)" in err and "Leave out --expand" in err and err.count("\n") == 1
