"""Compiled computations (symbackprop.compiler.computation) against independent oracles.

Oracles: ``sympy.diff`` of the fully substituted loss (each definition written into the
next, here, not by the library), evaluated at 30 digits with mpmath; central differences
of the compiled loss; and the other level of the design, the symbolic reverse pass of the
computation (``g.grad``), evaluated at 30 digits; and random computations (hypothesis).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.errors import DataError, HessianTooLargeError, SpecError, TrainingDivergedError

SKIP = """
    h = tanh(w1*x + b1)
    o = sigmoid(w2*h + w3*x + b2)      # a skip connection: x reaches o twice
    J = (o - y)**2 / 2
"""

CASES = {
    "skip": (SKIP, "w1 b1 w2 w3 b2", "x", "y"),
    # One weight used twice (weight sharing) and a residual a + f(a).
    "shared": ("""
        h1 = tanh(w*x1 + b)
        h2 = tanh(w*x2 + b)
        r = h1 + sigmoid(v*h1)
        o = v*(r + h2)
        J = (o - y)**2
    """, "w b v", "x1 x2", "y"),
    # Binary cross-entropy written on the probability: compiled from the logits.
    "bce": ("""
        z = w1*x1 + w2*x2 + b
        p = sigmoid(z)
        J = -(y*log(p) + (1 - y)*log(1 - p))
    """, "w1 w2 b", "x1 x2", "y"),
    # Functions of all kinds, a node constant over the rows (c), a parameter in the loss line.
    "mixed": ("""
        c = exp(a)
        u = c*x + softplus(b*x)
        q = arctan(u) + sin(u)*cos(a) + sqrt(1 + u**2)
        J = (q - y)**2 + log(1 + c) + a**2/10
    """, "a b", "x", "y"),
    # No targets: a negative log-likelihood of the inputs alone.
    "density": ("""
        s = softplus(k) + 1/10
        J = (x - m)**2 / (2*s**2) + log(s)
    """, "m k", "x", ""),
}


def build(name: str) -> sbp.Computation:
    source, params, inputs, targets = CASES[name]
    return sbp.computation(source, params=params, inputs=inputs, targets=targets)


def substituted(g) -> sp.Expr:
    """The loss in parameters, inputs and targets: each definition written into the next."""
    done: dict[sp.Symbol, sp.Expr] = {}
    for s, e in g.definitions:
        done[s] = e.xreplace(done)
    return done[g.loss]


def data(g, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 1.0, (n, len(g.inputs)))
    Y = rng.uniform(0.1, 0.9, (n, len(g.targets)))
    return X, Y


def point(g, seed: int) -> dict[sp.Symbol, float]:
    rng = np.random.default_rng(seed)
    return {p: float(rng.normal(0.0, 0.8)) for p in g.params}


def mean_at_30_digits(expr: sp.Expr, g, params, X, Y) -> float:
    """The mean over the rows of ``expr``, each row evaluated at 30 digits (mpmath)."""
    total = sp.Float(0, 30)
    base = {p: sp.Float(v, 30) for p, v in params.items()}
    for row, target in zip(X, Y):
        values = dict(base)
        values.update({s: sp.Float(float(v), 30) for s, v in zip(g.inputs, row)})
        values.update({s: sp.Float(float(v), 30) for s, v in zip(g.targets, target)})
        total += expr.xreplace(values).evalf(30)
    return float(total / len(X))


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_and_gradient_match_sympy_diff_at_30_digits(name):
    g = build(name)
    X, Y = data(g, 5, seed=1)
    params = point(g, seed=2)
    model = g.compile()
    J = substituted(g)
    assert math.isclose(model.loss(params, X, Y), mean_at_30_digits(J, g, params, X, Y), rel_tol=1e-12, abs_tol=1e-14)
    grad = model.gradient(params, X, Y)
    assert list(grad) == list(g.params)
    for p in g.params:
        want = mean_at_30_digits(sp.diff(J, p), g, params, X, Y)
        assert math.isclose(grad[p], want, rel_tol=1e-11, abs_tol=1e-13), (p, grad[p], want)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_the_symbolic_reverse_pass(name):
    """The other level: the computation's own reverse pass (g.grad), expanded, at 30 digits."""
    g = build(name)
    X, Y = data(g, 4, seed=3)
    params = point(g, seed=4)
    grad = g.compile().gradient(params, X, Y)
    for p in g.params:
        want = mean_at_30_digits(g.grad(p, expand=True), g, params, X, Y)
        assert math.isclose(grad[p], want, rel_tol=1e-11, abs_tol=1e-13), (p, grad[p], want)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_central_differences_of_the_compiled_loss(name):
    g = build(name)
    X, Y = data(g, 20, seed=5)
    params = point(g, seed=6)
    model = g.compile()
    grad = model.gradient(params, X, Y)
    h = 1e-6
    for p in g.params:
        up, down = dict(params), dict(params)
        up[p] += h
        down[p] -= h
        fd = (model.loss(up, X, Y) - model.loss(down, X, Y)) / (2 * h)
        assert math.isclose(grad[p], fd, rel_tol=1e-6, abs_tol=1e-8), (p, grad[p], fd)


def test_gradcheck_accepts_a_computation():
    g = build("skip")
    X, Y = data(g, 10, seed=7)
    result = sbp.gradcheck(g, g.init_params(seed=0), X, Y)
    assert result.ok and set(result.analytic) == set(g.params)


def test_cross_entropy_is_computed_from_the_logits():
    """Far out on the logit the loss is the exact log σ, not log(0) = inf, and so is its slope."""
    g = build("bce")
    model = g.compile()
    assert "log_sigmoid" in model.source()
    params = {"w1": 1.0, "w2": 0.0, "b": 0.0}
    X = np.array([[800.0, 0.0], [-800.0, 0.0]])
    Y = np.array([[0.0], [1.0]])
    assert model.loss(params, X, Y) == pytest.approx(800.0, rel=1e-15)  # −log σ(−800) = 800
    grad = model.gradient(params, X, Y)
    assert grad[g.symbol("w1")] == pytest.approx(800.0, rel=1e-15)  # mean of σ(z)·x − y·x
    assert grad[g.symbol("b")] == pytest.approx(0.0, abs=1e-300)


def test_weight_sharing_sums_over_uses():
    """d/dw of a parameter used twice is the sum of the two uses' contributions."""
    g = sbp.computation("J = (w*x1 + w*x2 - y)**2", params="w", inputs="x1 x2", targets="y")
    two = sbp.computation("J = (u*x1 + v*x2 - y)**2", params="u v", inputs="x1 x2", targets="y")
    X, Y = data(g, 6, seed=8)
    grad = g.compile().gradient({"w": 0.3}, X, Y)
    parts = two.compile().gradient({"u": 0.3, "v": 0.3}, X, Y)
    assert grad[g.symbol("w")] == pytest.approx(sum(parts.values()), rel=1e-13)


def test_predict_gives_every_output_as_a_column():
    g = sbp.computation("a = w*x\nb = a**2\nJ = (a - y)**2 + (b - y)**2", params="w", inputs="x", targets="y")
    out = g.compile().predict({"w": 2.0}, np.array([[1.0], [3.0]]))
    assert g.outputs == (g.symbol("a"), g.symbol("b"))
    np.testing.assert_array_equal(out, [[2.0, 4.0], [6.0, 36.0]])


def test_a_computation_without_outputs_predicts_no_columns():
    g = sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    assert g.outputs == ()
    assert g.compile().predict({"w": 1.0}, [[1.0], [2.0]]).shape == (2, 0)


def test_outputs_constant_over_the_rows_are_broadcast():
    g = sbp.computation("c = w**2\nJ = (c - y)**2", params="w", inputs="", targets="y")
    out = g.compile().predict({"w": 3.0}, np.zeros((3, 0)))
    np.testing.assert_array_equal(out, [[9.0], [9.0], [9.0]])


def test_names_that_clash_with_the_generated_code_are_renamed():
    g = sbp.computation("""
        n = theta*X
        loss = sigmoid(n) + numpy
        G = (loss - s)**2
    """, params="theta numpy", inputs="X", targets="s")
    X, Y = data(g, 4, seed=9)
    params = point(g, seed=10)
    grad = g.compile().gradient(params, X, Y)
    J = substituted(g)
    for p in g.params:
        assert math.isclose(grad[p], mean_at_30_digits(sp.diff(J, p), g, params, X, Y), rel_tol=1e-11)


@pytest.mark.parametrize("formula, want", [
    ("relu(w*x) + abs(w - 1)", -1.0),      # relu'(0) = 0 (the registered activation), sign(−1)
    ("max(0, w*x) + abs(w - 1)", 0.0),     # max's tie gives ½ to each side: ½·2 − 1
    ("leaky_relu(w*x)", 0.02),             # leaky relu's slope 0.01 at 0, times x = 2
])
def test_kinks_follow_the_convention_of_the_symbolic_side(formula, want):
    """At a kink the compiled gradient is what the computation's reverse pass says (docs/notation.md)."""
    g = sbp.computation(f"J = {formula}", params="w", inputs="x")
    grad = g.compile().gradient({"w": 0.0}, np.array([[2.0]]))
    symbolic = float(g.grad("w", expand=True).subs({g.symbol("w"): 0, g.symbol("x"): 2}))
    assert grad[g.symbol("w")] == pytest.approx(symbolic, abs=1e-15)
    assert symbolic == pytest.approx(want, abs=1e-15)


@pytest.mark.parametrize("sizes, activation, loss", [
    ([2, 3, 2], "sigmoid", "binary_cross_entropy"),
    ([2, 3, 3], ["tanh", "softmax"], "cross_entropy"),
    ([2, 4, 1], "relu", "quadratic"),
    ([3, 2, 2], ["softplus", "leaky_relu"], "mse"),
])
def test_an_mlp_as_a_computation_compiles_to_the_layer_level_results(sizes, activation, loss):
    """The two compilers (layer-level matrices, scalar computation) agree on every MLP."""
    net = sbp.mlp(sizes, activation, loss)
    rng = np.random.default_rng(14)
    X = rng.normal(0.0, 1.0, (6, sizes[0]))
    Y = rng.uniform(0.1, 0.9, (6, sizes[-1]))
    params = net.init_params(seed=1)
    mine, theirs = net.as_computation().compile(), net.compile()
    np.testing.assert_allclose(mine.predict(params, X), theirs.predict(params, X), rtol=1e-13, atol=1e-15)
    assert mine.loss(params, X, Y) == pytest.approx(theirs.loss(params, X, Y), rel=1e-13)
    a, b = mine.gradient(params, X, Y), theirs.gradient(params, X, Y)
    for p in net.params:
        assert a[p] == pytest.approx(b[p], rel=1e-11, abs=1e-14), p


def test_softmax_written_out_is_computed_through_logsumexp():
    """exp(z1)/(exp(z1) + exp(z2)) at z = ±400 neither overflows nor takes log(0)."""
    g = sbp.computation("""
        a1 = exp(z1)/(exp(z1) + exp(z2))
        a2 = exp(z2)/(exp(z1) + exp(z2))
        J = -(y1*log(a1) + y2*log(a2))
    """, params="z1 z2", inputs="", targets="y1 y2")
    model = g.compile()
    assert "logsumexp(" in model.source()
    params, Y = {"z1": 400.0, "z2": -400.0}, np.array([[0.0, 1.0]])
    assert model.loss(params, np.zeros((1, 0)), Y) == 800.0
    grad = model.gradient(params, np.zeros((1, 0)), Y)
    assert (grad[g.symbol("z1")], grad[g.symbol("z2")]) == (1.0, -1.0)  # softmax − y
    np.testing.assert_array_equal(model.predict(params, np.zeros((1, 0))), [[1.0, 0.0]])


# ------------------------------------------------------------------ data by name
def test_columns_are_matched_by_name(tmp_path):
    g = build("shared")
    X, Y = data(g, 8, seed=11)
    params = point(g, seed=12)
    model = g.compile()
    want = model.loss(params, X, Y)
    assert model.loss(params, {"x2": X[:, 1], "y": Y[:, 0], "x1": X[:, 0]}) == want
    assert model.loss(params, {g.symbol("x1"): X[:, 0], "x2": X[:, 1]}, Y) == want
    path = tmp_path / "data.csv"
    rows = "\n".join(f"{float(y)!r},{float(b)!r},{float(a)!r}" for (a, b), (y,) in zip(X, Y))
    path.write_text("y,x2,x1\n" + rows + "\n")
    assert model.loss(params, sbp.datasets.load_csv(path, target="y")) == want
    structured = np.zeros(8, dtype=[("x1", float), ("x2", float), ("y", float)])
    structured["x1"], structured["x2"], structured["y"] = X[:, 0], X[:, 1], Y[:, 0]
    assert model.loss(params, structured) == want


def test_bad_data_gets_one_line_errors_naming_the_columns():
    model = build("shared").compile()
    params = {"w": 0.1, "b": 0.2, "v": 0.3}
    cases = [
        ({"x1": [1.0], "y": [0.5]}, None, "no column for x2 (its columns: x1, y;"),
        ({"x1": [1.0], "x2": [1.0], "y": [0.5], "x3": [1.0]}, None, "column(s) x3 that are not an input or target"),
        ({"x1": [1.0], "x2": [1.0]}, None, "no column for y (its columns: x1, x2;"),
        ({"x1": [1.0], "x2": [1.0], "t": [1.0]}, None, "no column for y and column(s) t that are not"),
        (np.zeros((1, 2)), None, "No targets: give Y"),
        ({"x1": [1.0, 2.0], "x2": [1.0], "y": [0.5]}, None, "different numbers of rows"),
        (np.zeros((2, 3)), np.zeros((2, 1)), "X must have shape (n_rows, 2)"),
        (np.zeros((2, 2)), np.zeros((3, 1)), "X has 2 rows but Y has 3"),
        ({"x1": [1.0], "x2": [math.nan], "y": [0.5]}, None, "Column 'x2', row 0"),
        ({"x1": ["a"], "x2": [1.0], "y": [0.5]}, None, "Column 'x1' must hold numbers"),
    ]
    for X, Y, message in cases:
        with pytest.raises(DataError) as info:
            model.loss(params, X, Y)
        assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_parameters_get_errors_naming_them():
    model = build("shared").compile()
    X, Y = np.zeros((1, 2)), np.zeros((1, 1))
    with pytest.raises(SpecError, match="No value for the parameter v"):
        model.loss({"w": 0.1, "b": 0.2}, X, Y)
    with pytest.raises(SpecError, match="Unknown parameter.s. q"):
        model.loss({"w": 0.1, "b": 0.2, "v": 0.0, "q": 1.0}, X, Y)
    with pytest.raises(SpecError, match="3 numbers in the order w, b, v"):
        model.loss([0.1, 0.2], X, Y)


# ------------------------------------------------------------------ training
def toy():
    g = sbp.computation(SKIP, params="w1 b1 w2 w3 b2", inputs="x", targets="y")
    rng = np.random.default_rng(13)
    X = rng.uniform(-2.0, 2.0, (64, 1))
    Y = (X > 0.3).astype(float)
    return g, X, Y


def test_training_decreases_the_loss_and_reproduces_bit_identically():
    g, X, Y = toy()
    params, history = sbp.train(g, X, Y, epochs=200, lr=0.1, seed=3, progress=False, accuracy=True)
    assert history.epochs == 200 and len(history.accuracy) == 200  # sigmoid output, 0/1 targets
    model = g.compile()
    assert model.loss(params, X, Y) < 0.5 * model.loss(g.init_params(3), X, Y)
    again, history2 = sbp.train(g, X, Y, epochs=200, lr=0.1, seed=3, progress=False)
    assert again == params and history2.loss == history.loss
    moved, _ = sbp.train(g, X, Y, epochs=20, lr=0.1, seed=3, momentum=0.9, progress=False)
    assert model.loss(moved, X, Y) < model.loss(g.init_params(3), X, Y)


def test_training_takes_named_data_without_y():
    g, X, Y = toy()
    by_order, _ = sbp.train(g, X, Y, epochs=3, seed=0, progress=False)
    by_name, _ = sbp.train(g, {"y": Y[:, 0], "x": X[:, 0]}, epochs=3, seed=0, progress=False)
    assert by_order == by_name


def test_divergence_keeps_the_last_good_parameters():
    g = sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    X, Y = np.array([[3.0]]), np.array([[1.0]])
    with pytest.raises(TrainingDivergedError) as info:  # w grows 179-fold a step: overflow
        sbp.train(g, X, Y, epochs=500, lr=10.0, params={"w": 1.0}, progress=False)
    good = info.value.params
    assert math.isfinite(good[g.symbol("w")]) and abs(good[g.symbol("w")]) > 1e100
    # The parameters of the last finite step: their loss is the last epoch's.
    assert g.compile().loss(good, X, Y) == pytest.approx(info.value.history.loss[-1], rel=1e-12)


def test_source_shows_the_forward_and_reverse_lines():
    src = build("skip").compile().source()
    for line in ("h = numpy.tanh(", "o = sigmoid(", "g_h = ", "d_w1 = ", "theta -= s * G"):
        assert line in src


# ------------------------------------------------------------------ model files
def test_save_and_load_round_trip_bit_identically(tmp_path):
    g, X, Y = toy()
    params, history = sbp.train(g, X, Y, epochs=5, seed=0, progress=False)
    path = tmp_path / "model.npz"
    sbp.save(path, g, params, history, meta={"features": ["x"], "note": "toy"})
    saved = sbp.load(path)
    g2, params2 = saved
    assert g2.source() == g.source() and g2.params == g.params and g2.outputs == g.outputs
    assert list(params2) == list(g.params)
    assert all(params2[p] == params[p] for p in g.params)  # bit-identical
    assert saved.history.loss == history.loss and saved.meta["note"] == "toy"
    np.testing.assert_array_equal(g2.compile().predict(params2, X), g.compile().predict(params, X))


def _tampered(tmp_path, spec_change=None, theta=None):
    import json

    g = sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    path = tmp_path / "model.npz"
    sbp.save(path, g, {"w": 1.5})
    with np.load(path, allow_pickle=False) as npz:
        spec = json.loads(str(npz["spec"][()]))
        arrays = {k: npz[k] for k in npz.files if k != "spec"}
    if spec_change:
        spec.update(spec_change)
    if theta is not None:
        arrays["theta"] = theta
    np.savez(path, spec=np.array(json.dumps(spec)), **arrays)
    return path


@pytest.mark.parametrize("change, theta, message", [
    ({"source": "J = __import__('os').system('true')"}, None, "cannot be read"),
    ({"source": "J = (w*x - y)**2\nK = q"}, None, "cannot be read"),
    ({"params": "w"}, None, "'params' must be a list of names"),
    (None, np.array([1.0, 2.0]), "array 'theta' is float64 of shape (2,)"),
    (None, np.array([np.nan]), "parameter w is nan"),
])
def test_a_damaged_computation_file_gets_a_clear_error(tmp_path, change, theta, message):
    path = _tampered(tmp_path, change, theta)
    with pytest.raises(sbp.ModelFileError) as info:
        sbp.load(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_saving_refuses_non_finite_parameters(tmp_path):
    g = sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    with pytest.raises(SpecError, match="parameter w is inf"):
        sbp.save(tmp_path / "m.npz", g, {"w": math.inf})


# ------------------------------------------------------------------ second order
@pytest.mark.parametrize("name", sorted(CASES))
def test_hessian_matches_sympy_hessian_at_30_digits(name):
    g = build(name)
    X, Y = data(g, 4, seed=31)
    params = point(g, seed=32)
    H = g.compile().hessian(params, X, Y)
    J = substituted(g)
    k = len(g.params)
    assert H.shape == (k, k)
    for i, p in enumerate(g.params):
        for j, q in enumerate(g.params):
            want = mean_at_30_digits(sp.diff(J, p, q), g, params, X, Y)
            assert math.isclose(H[i, j], want, rel_tol=1e-10, abs_tol=1e-12), (p, q, H[i, j], want)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hvp_is_the_hessian_times_v_and_the_difference_of_gradients(name):
    g = build(name)
    X, Y = data(g, 12, seed=33)
    params = point(g, seed=34)
    model = g.compile()
    rng = np.random.default_rng(35)
    v = rng.normal(size=len(g.params))
    hv = model.hvp(params, dict(zip(g.params, v)), X, Y)
    assert list(hv) == list(g.params)
    np.testing.assert_allclose(list(hv.values()), model.hessian(params, X, Y) @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(model.hvp(params, v, X, Y), list(hv.values()))
    # Central differences of the compiled gradient along v.
    h = 1e-5
    up = {p: params[p] + h * vi for p, vi in zip(g.params, v)}
    down = {p: params[p] - h * vi for p, vi in zip(g.params, v)}
    gu, gd = model.gradient(up, X, Y), model.gradient(down, X, Y)
    for p in g.params:
        assert hv[p] == pytest.approx((gu[p] - gd[p]) / (2 * h), rel=1e-5, abs=1e-7), p


def test_input_jacobian_matches_sympy_diff_of_the_outputs():
    g = build("shared")
    X, _ = data(g, 3, seed=36)
    params = point(g, seed=37)
    jac = g.compile().input_jacobian(params, X)
    assert jac.shape == (3, len(g.outputs), len(g.inputs))
    done = {}
    for s, e in g.definitions:
        done[s] = e.xreplace(done)
    for r, row in enumerate(X):
        at = {p: sp.Float(v, 30) for p, v in params.items()}
        at.update({x: sp.Float(float(v), 30) for x, v in zip(g.inputs, row)})
        for i, o in enumerate(g.outputs):
            for j, x in enumerate(g.inputs):
                want = float(sp.diff(done[o], x).xreplace(at).evalf(30))
                assert math.isclose(jac[r, i, j], want, rel_tol=1e-12, abs_tol=1e-14)


def test_a_dense_hessian_past_max_params_is_refused_before_any_work():
    g = build("skip")
    with pytest.raises(HessianTooLargeError, match=r"would be 5 x 5 .*max_params=4"):
        g.compile().hessian(point(g, 0), *data(g, 2, 0), max_params=4)
    with pytest.raises(SpecError, match="direction v must be finite"):
        g.compile().hvp(point(g, 0), [math.nan] * 5, *data(g, 2, 0))


def test_second_order_code_is_shown_once_used():
    model = build("skip").compile()
    assert "def hvp" not in model.source()
    model.hessian(point(build("skip"), 0), *data(build("skip"), 2, 0))
    assert "def hvp(P, V, X, Y):" in model.source() and "def input_jacobian(P, X):" in model.source()


# ------------------------------------------------------------------ random computations
LEAVES = sp.symbols("a b c x", real=True)
FUNCS = {"sin": sp.sin, "tanh": sp.tanh, "sigmoid": lambda t: 1 / (1 + sp.exp(-t)),
         "softplus": lambda t: sp.log(1 + sp.exp(t)), "": lambda t: t}
OPS = {"+": lambda p, q: p + q, "*": lambda p, q: p * q, "-": lambda p, q: p - q}


@st.composite
def random_computations(draw):
    """Lines u_i = f(u_j op u_k) over the leaves a, b, c (parameters) and x (an input), the
    loss J a sum of squares; and the same loss composed here directly, as the oracle."""
    names = ["a", "b", "c", "x"]
    exprs = dict(zip(names, LEAVES))
    lines = []
    for i in range(1, draw(st.integers(2, 6)) + 1):
        pool = names + [f"u{k}" for k in range(1, i)]
        op, fn = draw(st.sampled_from(sorted(OPS))), draw(st.sampled_from(sorted(FUNCS)))
        left = draw(st.sampled_from(pool))
        right = draw(st.sampled_from([q for q in pool if q != left] if op == "-" else pool))
        lines.append(f"u{i} = {fn}({left} {op} {right})")
        exprs[f"u{i}"] = FUNCS[fn](OPS[op](exprs[left], exprs[right]))
    last = [f"u{k}" for k in range(1, len(lines) + 1)]
    lines.append("J = " + " + ".join(f"{u}**2/2" for u in last))
    oracle = sp.Add(*[exprs[u] ** 2 / 2 for u in last])
    return "\n".join(lines), oracle


@settings(max_examples=20, deadline=None)
@given(random_computations(), st.lists(st.integers(-9, 9), min_size=3, max_size=3))
def test_random_computations_match_sympy_diff(case, values):
    source, oracle = case
    used = [s for s in LEAVES if s in oracle.free_symbols]
    params = [s.name for s in used if s.name != "x"]
    if not params:
        return
    g = sbp.computation(source, params=params, inputs="x" if LEAVES[3] in used else "")
    point = {p: v / 10 for p, v in zip(g.params, values)}
    X = np.array([[0.3], [-1.1], [0.7]])[:, : len(g.inputs)]
    model = g.compile()
    grad, H = model.gradient(point, X), model.hessian(point, X)
    for i, p in enumerate(g.params):
        want = mean_at_30_digits(sp.diff(oracle, p), g, point, X, np.zeros((3, 0)))
        assert math.isclose(grad[p], want, rel_tol=1e-10, abs_tol=1e-12), (source, p)
        for j, q in enumerate(g.params):
            want = mean_at_30_digits(sp.diff(oracle, p, q), g, point, X, np.zeros((3, 0)))
            assert math.isclose(H[i, j], want, rel_tol=1e-9, abs_tol=1e-11), (source, p, q)


def test_a_long_chain_compiles_and_its_gradient_is_right():
    """200 lines of one shape: each partial is differentiated once per shape, the code has
    one line per definition (the set-up stays linear in the lines)."""
    lines = ["u1 = tanh(w*x)"] + [f"u{i} = tanh(w*u{i - 1} + b)" for i in range(2, 201)] + ["J = (u200 - y)**2"]
    g = sbp.computation("\n".join(lines), params="w b", inputs="x", targets="y")
    model = g.compile()
    X, Y = np.array([[1.0], [-0.5]]), np.array([[0.0], [0.3]])
    params = {g.symbol("w"): 0.5, g.symbol("b"): 0.1}
    grad = model.gradient(params, X, Y)
    for p in g.params:
        up, down = dict(params), dict(params)
        up[p], down[p] = params[p] + 1e-6, params[p] - 1e-6
        fd = (model.loss(up, X, Y) - model.loss(down, X, Y)) / 2e-6
        assert grad[p] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    lag = model.source().split("def loss_and_grad")[1].split("def step")[0]
    assert lag.count("numpy.tanh(") == 200


def test_auto_compiles_a_computation_to_numpy_and_numba_is_refused_in_one_line():
    g = sbp.computation("h = tanh(w*x)\nJ = (h - y)**2/2", params="w", inputs="x", targets="y")
    X, Y = np.array([[0.5], [1.5]]), np.array([[0.2], [0.9]])
    auto, numpy_model = g.compile("auto"), g.compile("numpy")
    assert auto.backend.name == "numpy"
    assert auto.loss({"w": 0.3}, X, Y) == numpy_model.loss({"w": 0.3}, X, Y)
    for call in (lambda: g.compile("numba"),
                 lambda: sbp.train(g, X, Y, epochs=1, lr=0.1, backend="numba")):
        with pytest.raises(SpecError, match="numba backend compiles layered networks") as err:
            call()
        assert "\n" not in str(err.value) and "'numpy'" in str(err.value)
