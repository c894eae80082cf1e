"""The one numeric evaluator (symbackprop.numeric) against independent oracles.

Values are compared with SymPy's own arbitrary-precision evaluation (``evalf`` at 30
digits) at random points; values at kinks with the compiled model and with PyTorch's
definitions (docs/notation.md); the evaluators built on it (the checker's program,
derivation.sample_values, gradcheck's fallback) with the compiled model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop import numeric
from symbackprop.activations import ACTIVATIONS, Z
from symbackprop.checking.gradcheck import _Evaluated
from symbackprop.derivation import sample_values
from symbackprop.errors import SymbackpropError
from symbackprop.losses import LOSSES
from symbackprop.params import to_arrays, to_mapping
from symbackprop.parse import FUNCTIONS, parse_formula

SEED = 20261126


def _oracle(expr: sp.Expr, point: dict[sp.Symbol, float]) -> float:
    """``expr`` at ``point`` by SymPy's evalf at 30 digits (nan where it is not real)."""
    v = expr.xreplace({s: sp.Float(x, 30) for s, x in point.items()}).evalf(30)
    return float(v) if v.is_real else float("nan")


def _points(symbols, n, low, high, seed=SEED):
    rng = np.random.default_rng(seed)
    return {s: rng.uniform(low, high, n) for s in symbols}


def _assert_matches_evalf(expr, values):
    got = numeric.evaluate(expr, values)
    symbols = sorted(expr.free_symbols, key=str)
    n = len(next(iter(values.values())))
    want = np.array([_oracle(expr, {s: values[s][i] for s in symbols}) for i in range(n)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_and_its_derivatives_match_evalf(name):
    act = ACTIVATIONS[name]
    values = _points([Z], 12, -4.0, 4.0)  # away from 0 only by chance: kinks tested below
    values[Z] = values[Z][np.abs(values[Z]) > 1e-3]
    for expr in (act.expr, act.derivative()):
        _assert_matches_evalf(expr, values)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_matches_evalf(name):
    a, y = sp.symbols("a1:4"), sp.symbols("y1:4")
    values = _points(a, 10, 0.05, 0.95)
    values.update(_points(y, 10, 0.05, 0.95, seed=SEED + 1))
    loss = LOSSES[name](a, y)
    _assert_matches_evalf(loss, values)
    _assert_matches_evalf(sp.diff(loss, a[0]), values)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_parser_function_matches_evalf(name):
    fn = FUNCTIONS[name]
    u, v = sp.symbols("u v", real=True)
    positive = name in ("log", "ln", "sqrt")
    values = _points([u, v], 12, 0.1 if positive else -3.0, 3.0)
    arity = fn.arity if isinstance(fn.arity, tuple) else (fn.arity or 2,)
    for k in arity:
        if name.lower() == "heaviside" and k == 2:
            expr = fn.build(2 * u - 1, sp.Rational(3, 10))
        elif name.lower() in ("max", "min"):
            expr = fn.build(u, v, u * v - 1)  # any number of arguments
        else:
            expr = fn.build(*[2 * u - 1, v][:k]) if k == 2 else fn.build(u)
        _assert_matches_evalf(expr, values)


def test_formulas_read_by_the_parser_match_evalf():
    u = sp.Symbol("u", real=True)
    text = "sigmoid(u)*log(1 + exp(u)) - max(0, u)**2/(1 + abs(u)) + atan(u)*sign(u)"
    expr = parse_formula(text, {"u": u})
    _assert_matches_evalf(expr, _points([u], 16, -5.0, 5.0))


# activation, the point of its kink, f(z0) and f'(z0) as PyTorch defines them
KINKS = [
    ("relu", 0.0, 0.0, 0.0),
    ("leaky_relu", 0.0, 0.0, 0.01),
    ("abs(z)", 0.0, 0.0, 0.0),
    ("max(0, z)", 0.0, 0.0, 0.5),
    ("min(z, 0)", 0.0, 0.0, 0.5),
    ("min(max(z, -1), 1)", 1.0, 1.0, 0.5),
    ("heaviside(z)", 0.0, 0.0, 0.0),
    ("heaviside(z, 1)", 0.0, 1.0, 0.0),
    ("heaviside(z, 0.25)", 0.0, 0.25, 0.0),
    ("sign(z)*z**2", 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize(("activation", "z0", "value", "slope"), KINKS, ids=[k[0] for k in KINKS])
def test_values_at_kinks_are_the_compiled_models(activation, z0, value, slope):
    act = sbp.activations.get_activation(activation)
    at = {Z: np.array([z0])}
    f, fprime = numeric.evaluate(act.expr, at)[0], numeric.evaluate(act.derivative(), at)[0]
    assert (f, fprime) == (value, slope)
    # The compiled model: z1_1 = 0.7·x + b with x = 0, b = z0; J = a1_1, so dJ/db = f'(z0).
    net = sbp.mlp([1, 1], activation=activation, loss="a1_1")
    model = net.compile()
    params = {"w1_1_1": 0.7, "b1_1": z0}
    X = np.zeros((1, 1))
    assert float(model.predict(params, X)[0, 0]) == f
    assert model.gradient(params, X, X)[net.b(1, 1)] == fprime
    # The derivation's worked example agrees too.
    v = sample_values(net.backprop, params, x=[0.0], y=[0.0])
    assert (v[net.a(1, 1)], v[net.delta(1, 1)]) == (value, slope)


def test_sympy_heaviside_without_a_value_at_zero_is_a_half():
    # What sympy.diff makes of max/min: a tie gives ½ to each argument (torch.maximum).
    assert numeric.evaluate(sp.Heaviside(Z), {Z: np.array([0.0])})[0] == 0.5
    assert numeric.evaluate(sp.diff(Z * sp.Heaviside(Z, 0), Z), {Z: np.array([0.0])})[0] == 0.0


def test_undefined_values_are_nan_or_inf_without_warnings():
    x = sp.Symbol("x")
    at = {x: np.array([-1.0, 0.0, 800.0])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log = numeric.evaluate(sp.log(x), at)
        inv = numeric.evaluate(1 / x, at)
        big = numeric.evaluate(sp.exp(x) * x**-2 - sp.exp(x), at)
        one = numeric.evaluate(1 / x, {x: 0.0})  # a scalar, not an array: still no error
    assert np.isnan(log[0]) and log[1] == -np.inf
    assert inv[1] == np.inf
    assert np.isnan(big[2])  # inf - inf
    assert one == np.inf


def test_compiled_functions_are_cached_by_shape():
    a1, a2 = sp.symbols("a1_1 a1_2")
    values = {a1: np.array([0.25, 0.5]), a2: np.array([0.75, 0.1])}
    numeric.evaluate(a1 * (1 - a1), values)
    before = numeric.lambdified.cache_info()
    again = numeric.evaluate(a1 * (1 - a1), values)
    other = numeric.evaluate(a2 * (1 - a2), values)  # the same formula of another symbol
    after = numeric.lambdified.cache_info()
    assert after.hits == before.hits + 2 and after.misses == before.misses
    np.testing.assert_allclose(again, values[a1] * (1 - values[a1]), rtol=1e-15)
    np.testing.assert_allclose(other, values[a2] * (1 - values[a2]), rtol=1e-15)


def test_a_missing_symbol_and_a_too_large_expression_are_refused(monkeypatch):
    x, y = sp.symbols("x y")
    with pytest.raises(SymbackpropError, match="No value for the symbol 'y'"):
        numeric.evaluate(x + y, {x: np.ones(2)})
    monkeypatch.setattr(numeric, "MAX_NODES", 10)
    big = sum(sp.sin(k * x) for k in range(1, 6))
    with pytest.raises(SymbackpropError, match="more than the limit of 10 .*MAX_NODES"):
        numeric.evaluate(big, {x: np.ones(2)})


def test_a_program_larger_than_the_limit_runs_in_pieces(monkeypatch):
    net = sbp.mlp([2, 3, 2], activation=["tanh", "softmax"], loss="cross_entropy")
    leaves = {s: np.random.default_rng(SEED).uniform(-1, 1, 5) for s in net.inputs + net.targets + net.params}
    whole = sbp.checking.evaluate.forward_values(net, leaves)
    monkeypatch.setattr(numeric, "MAX_NODES", 40)
    pieces = sbp.checking.evaluate.forward_values(net, leaves)
    for s, v in whole.items():
        np.testing.assert_array_equal(pieces[s], v)


@pytest.mark.parametrize(("activation", "loss"), [("sigmoid", "binary_cross_entropy"), ("tanh", "quadratic"),
                                                  ("softplus", "mse")])
def test_the_evaluated_fallback_of_gradcheck_matches_the_compiled_model(activation, loss):
    net = sbp.mlp([2, 3, 1], activation=activation, loss=loss)
    rng = np.random.default_rng(SEED)
    X, Y = rng.normal(size=(6, 2)), rng.uniform(0.1, 0.9, size=(6, 1))
    point = to_mapping(net, to_arrays(net, net.init_params(seed=1)))
    model, evaluated = net.compile(), _Evaluated(net)
    assert evaluated.loss(point, X, Y) == pytest.approx(model.loss(point, X, Y), rel=1e-12)
    g, h = evaluated.gradient(point, X, Y), model.gradient(point, X, Y)
    for p in net.params:
        assert g[p] == pytest.approx(h[p], rel=1e-9, abs=1e-15)
    assert sbp.gradcheck(net, point, X, Y, model=evaluated).ok


def test_deep_nesting_is_refused_in_one_sentence():
    import sys

    x = sp.Symbol("x")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # SymPy itself needs it to build this tree
    try:
        e = x
        for _ in range(400):
            e = sp.sin(e) + x
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(SymbackpropError, match="nested too deeply"):
        numeric.evaluate(e, {x: np.ones(1)})


def test_a_function_without_a_numpy_form_is_refused_not_printed_by_name():
    # A SymPy function's name can be any string: it must never become code.
    x = sp.Symbol("x")
    sneaky = sp.Function("__import__('os').getcwd")(x)
    with pytest.raises(SymbackpropError, match=r"no form for \(__import__\('os'\).getcwd\)"):
        numeric.evaluate(sneaky + 1, {x: np.ones(2)})
    # Every symbol is renamed in the code: its own name is never printed either.
    odd = sp.Symbol("numpy); import os; (x")
    np.testing.assert_array_equal(numeric.evaluate(2 * odd, {odd: np.array([1.5])}), [3.0])
    with pytest.raises(SymbackpropError, match=r"no form for \(erf\)"):
        numeric.evaluate(sp.erf(x), {x: np.ones(2)})  # Python's math.erf takes no arrays
