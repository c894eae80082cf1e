"""Every formula the parser accepts works end to end: a bank of custom activations and losses.

For each entry, on a 2-2-1 network and a few random points away from its kinks:
the derived gradient against ``sympy.diff`` of the fully expanded loss (30 digits), the
derivation's numbers, the checker's verdict on the library's own gradient, gradcheck,
the compiled NumPy gradient against central differences of the compiled loss, the JAX
backend against NumPy, and three training steps. One more test reads every printed and
compiled form of the bank for what must never show up (re, im, Derivative, DiracDelta,
Subs, functools).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp
from oracle import expanded_loss, value

import symbackprop as sbp
from symbackprop.checking.evaluate import evaluate
from symbackprop.notation import to_str

#: Custom activations, as a user types them (one line each: adding one is one line).
ACTIVATIONS = [
    "z/(1 + abs(z))",
    "max(0, z)",
    "max(z, 0.2*z)",
    "min(max(z, -1), 1)",
    "max(-1, min(1, z))",
    "z*heaviside(z)",
    "z**2*heaviside(z, 1)",
    "abs(z)",
    "z*abs(z)",
    "sign(z)*z**2",
    "sign(z)*log(1 + abs(z))",
    "sqrt(1 + z**2) - 1",
    "log(1 + exp(z))",
    "z*sigmoid(z)",
    "exp(-z**2)",
    "min(z, 0)",
    "max(z, 0, 0.5*z - 1)",
    "min(z, 1, 2 + z/2)",
    "relu(z) + 0.1*z",
    "leaky_relu(z)",
    "tanh(z)*abs(z)",
    "atan(z) + max(0, z)",
    "z*tanh(softplus(z))",
    "exp(min(z, 0)) - 1 + max(z, 0)",
    "sigmoid_prime(z)",
    "sin(z) + cos(z)*abs(z)",
    "sqrt(z**2 + 1)*sigmoid(z)",
]

_a, _y = sp.Symbol("a2_1"), sp.Symbol("y1")  # plain symbols: matched by name
_d = _a - _y
#: Custom losses in a2_1 and y1 (strings, and SymPy expressions in plain symbols).
LOSSES = [
    "abs(a2_1 - y1)",
    "max(0, 1 - y1*a2_1)",
    sp.log(sp.cosh(_d)),
    "0.5*min(abs(a2_1 - y1), 1)**2 + max(abs(a2_1 - y1) - 1, 0)",
    "max(a2_1 - y1, 0)**2",
    "sqrt(1 + (a2_1 - y1)**2) - 1",
    "abs(a2_1 - y1)**3",
    "max(0.25*(a2_1 - y1), -0.75*(a2_1 - y1))",
    "(a2_1 - y1)**2*heaviside(a2_1 - y1) + abs(a2_1 - y1)",
    "log(1 + exp(-y1*a2_1))",
    "min(abs(a2_1 - y1), 2)",
    sp.sign(_d) * _d,
]

FORBIDDEN = re.compile(r"\bre\(|\bim\(|Derivative|DiracDelta|Subs|functools")
#: The same as SymPy nodes (the pretty printer shows a DiracDelta as δ(·), an im as ℑ).
FORBIDDEN_NODES = (sp.re, sp.im, sp.Derivative, sp.DiracDelta, sp.Subs)


def _net(case: tuple[str, object]) -> sbp.Network:
    kind, formula = case
    if kind == "activation":
        return sbp.mlp([2, 2, 1], activation=formula, loss="quadratic")
    return sbp.mlp([2, 2, 1], activation=["tanh", "identity"], loss=formula)


CASES = [("activation", f) for f in ACTIVATIONS] + [("loss", f) for f in LOSSES]
IDS = [f"act:{f}" for f in ACTIVATIONS] + [f"loss:{f}" for f in LOSSES]


def _kink_args(expr: sp.Expr) -> list[sp.Expr]:
    """Where ``expr`` has a kink or jump: the arguments of abs/sign/steps, the gaps of max/min."""
    out = []
    for e in sp.preorder_traversal(expr):
        if isinstance(e, (sp.Abs, sp.sign, sp.Heaviside)):
            out.append(e.args[0])
        elif isinstance(e, (sp.Max, sp.Min)):
            out += [u - v for i, u in enumerate(e.args) for v in e.args[i + 1 :]]
    return out


def _points(net: sbp.Network, n: int, seed: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """One parameter set and up to ``n`` samples, every kink of the loss at least 0.05 away."""
    rng = np.random.default_rng(seed)
    params = {p: float(rng.normal(0.0, 0.9)) for p in net.params}
    m = 8 * n
    X = rng.normal(0.0, 1.2, size=(m, len(net.inputs)))
    Y = rng.uniform(0.1, 0.9, size=(m, len(net.targets)))
    values = {p: np.full(m, v) for p, v in params.items()}
    values.update({s: X[:, k] for k, s in enumerate(net.inputs)})
    values.update({s: Y[:, k] for k, s in enumerate(net.targets)})
    keep = np.ones(m, dtype=bool)
    for u in _kink_args(expanded_loss(net)):
        keep &= np.abs(evaluate(u, values)) > 0.05
    return params, X[keep][:n], Y[keep][:n]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    net = _net(request.param)
    params, X, Y = _points(net, 4, seed=len(IDS[CASES.index(request.param)]))
    assert len(X) >= 3, "too few samples away from the kinks"
    net.typed = request.param[1]  # the formula as the user gave it
    return net, params, X, Y


def test_gradient_is_the_derivative_of_the_expanded_loss(case):
    net, params, X, Y = case
    J = expanded_loss(net)
    for x, y in zip(X[:2], Y[:2]):
        point = {**params, **dict(zip(net.inputs, x)), **dict(zip(net.targets, y))}
        for p in net.params:
            mine = value(net.grad(p, expand=True), point)
            truth = value(sp.diff(J, p), point)
            assert mine == pytest.approx(truth, rel=1e-9, abs=1e-12), p


def test_derivation_at_a_point_gives_finite_numbers(case):
    net, params, X, Y = case
    for p in (net.w(1, 1, 1), net.b(2, 1)):
        d = net.derivation(sp.Symbol(p.name)).at({q.name: v for q, v in params.items()}, x=X[0], y=Y[0])
        assert all(np.isfinite(v) for v in d.values.values())
        compact = d.value(net.grad(p))
        assert np.isfinite(compact)
        point = {**params, **dict(zip(net.inputs, X[0])), **dict(zip(net.targets, Y[0]))}
        assert compact == pytest.approx(value(sp.diff(expanded_loss(net), p), point), rel=1e-9, abs=1e-12)
        assert "nan" not in d.text()


def test_the_checker_accepts_the_library_gradient(case):
    net, *_ = case
    for p in (net.w(1, 2, 1), net.w(2, 1, 2)):
        # Typed formulas go back through the parser; a SymPy loss may use functions it lacks.
        formula = net.grad(p) if isinstance(net.typed, sp.Expr) else to_str(net.grad(p))
        r = sbp.check(net, p.name, formula, points=32, symbolic=False)
        assert r.ok, str(r)


def test_gradcheck_and_compiled_gradient_against_central_differences(case):
    net, params, X, Y = case
    assert sbp.gradcheck(net, params, X, Y).ok
    model = net.compile()
    grad = model.gradient(params, X, Y)
    h = 1e-6
    for p in net.params:
        up, down = dict(params), dict(params)
        up[p] += h
        down[p] -= h
        fd = (model.loss(up, X, Y) - model.loss(down, X, Y)) / (2 * h)
        assert grad[p] == pytest.approx(fd, rel=1e-5, abs=1e-7), p


def test_jax_backend_agrees_with_numpy(case):
    pytest.importorskip("jax")
    net, params, X, Y = case
    g_np = net.compile().gradient(params, X, Y)
    model = net.compile(backend="jax")
    g_jax = model.gradient(params, X, Y)
    for p in net.params:
        assert g_jax[p] == pytest.approx(g_np[p], rel=1e-9, abs=1e-12)
    assert model.loss(params, X, Y) == pytest.approx(net.compile().loss(params, X, Y), rel=1e-12)


def test_three_training_steps_give_a_finite_loss(case):
    net, params, X, Y = case
    trained, history = sbp.train(net, X, Y, epochs=3, lr=0.01, batch_size=len(X), seed=0, params=params)
    assert len(history.loss) == 3 and np.all(np.isfinite(history.loss))
    assert all(np.isfinite(v) for v in trained.values())


@pytest.mark.parametrize("formula", ACTIVATIONS + LOSSES, ids=IDS)
def test_no_printed_or_compiled_form_leaks_sympy_internals(formula):
    net = _net(("activation", formula) if formula in ACTIVATIONS else ("loss", formula))
    forms, exprs = [], []
    for p in (net.w(1, 1, 1), net.b(2, 1)):
        d = net.derivation(p)
        forms += [d.text(), d.latex(), d.markdown(), str(net.grad(p)), to_str(net.grad(p, expand=True))]
        exprs += [line.expr for section in d.sections() for line in section.lines]
        exprs += [net.grad(p), net.grad(p, expand=True)]
    eq = net.equations()
    exprs += [line.expr for section in eq.sections() for line in section.lines]
    exprs += list(net.deltas.values())
    for e in exprs:
        assert e is None or not e.has(*FORBIDDEN_NODES), e
    forms += [eq.text(), eq.latex(), eq.markdown(), net.compile().source()]
    forms += [str(e) for e in net.deltas.values()]
    try:
        import jax  # noqa: F401
    except ImportError:
        pass
    else:
        forms.append(net.compile(backend="jax").source())
    for text in forms:
        found = FORBIDDEN.search(text)
        assert found is None, f"{found.group()!r} in:\n{text}"


def test_the_bank_is_big_enough():
    assert len(ACTIVATIONS) >= 25 and len(LOSSES) >= 10
