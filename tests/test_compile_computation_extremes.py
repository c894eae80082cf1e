"""Compiled computations at saturating inputs: a residual o − y of a sigmoid or tanh node.

σ(40) and tanh(20) round to 1 in float64, so ``(o - y)**2/2`` at y = 1 would compute a loss
and a gradient of 0; their exact values are ~1e-35 and ~1e-70. The compiled computation
takes o − y from o's exact complement (the MLP's ``a_minus_y`` / ``tanh_minus_y``). The
oracle shares nothing with the compiled code: the same loss written with the textbook
σ(u) = 1/(1 + e^(−u)) and tanh(u) = (e^u − e^(−u))/(e^u + e^(−u)), differentiated by
``sympy.diff`` and evaluated by mpmath at a precision that resolves e^(−2|u|) (2|u| + 50
digits); every number within 1e-12 relative of it (below ~1e-300, where float64 has no
relative precision left, absolutely), finite and warning-free (pytest turns warnings into
errors).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp

REL = 1e-12
TINY = 1e-300

w, v, c, x, y = sp.symbols("w v c x y", real=True)


def sigma(u):
    return 1 / (1 + sp.exp(-u))


def tanh(u):
    return (sp.exp(u) - sp.exp(-u)) / (sp.exp(u) + sp.exp(-u))


# (source, the same loss by hand in the textbook forms with o = f(w*x))
LOSSES = {
    "(o - y)**2/2": lambda o: (o - y) ** 2 / 2,
    "(y - o)**2": lambda o: (y - o) ** 2,
}
ACTIVATIONS = {"sigmoid": (sigma, (0.0, 0.5, 1.0)), "tanh": (tanh, (-1.0, 0.0, 1.0))}
LOGITS = (-800.0, -40.0, -20.0, 0.7, 20.0, 40.0, 800.0)
X = 2.0  # u = w*x with w = u/2 (exact): the gradient's factor x is not 1


def exact(J, params, point, logit):
    """J and ∂J/∂p (p in ``params``) at ``point``, in mpmath at 2|logit| + 50 digits."""
    symbols = sorted(point, key=lambda s: s.name)
    f = sp.lambdify(symbols, [J, *(sp.diff(J, p) for p in params)], modules="mpmath")
    with mpmath.workdps(50 + int(2 * abs(logit))):
        values = f(*(mpmath.mpf(point[s]) for s in symbols))
    return [float(val) for val in values]


def assert_exact(got, want, what):
    assert math.isfinite(got), f"{what}: {got}"
    assert abs(got - want) <= REL * abs(want) + TINY, f"{what}: got {got!r}, exact {want!r}"


def check(model, J, params, values, target, logit):
    point = {x: X, y: target, **{sp.Symbol(k, real=True): val for k, val in values.items()}}
    want = exact(J, params, point, logit)
    Xa, Ya = np.array([[X]]), np.array([[target]])
    assert_exact(model.loss(values, Xa, Ya), want[0], "loss")
    grad = model.gradient(values, Xa, Ya)
    for p, g_want in zip(params, want[1:]):
        assert_exact(grad[p], g_want, f"dJ/d{p}")


CASES = [(act, loss, u, t) for act, (_, targets) in ACTIVATIONS.items() for loss in LOSSES
         for u in LOGITS for t in targets]


@pytest.mark.parametrize("act, loss, logit, target", CASES)
def test_residual_loss_is_exact_at_saturation(act, loss, logit, target):
    g = sbp.computation(f"o = {act}(w*x)\nJ = {loss}", params="w", inputs="x", targets="y")
    f = ACTIVATIONS[act][0]
    check(g.compile(), LOSSES[loss](f(w * x)), [w], {"w": logit / X}, target, logit)


@pytest.mark.parametrize("act, logit", [(a, u) for a in ACTIVATIONS for u in (-40.0, 20.0, 40.0, 800.0)])
def test_constant_target_and_a_residual_node_are_exact(act, logit):
    """1 − o (a number in place of the target) and a node e = o − y squared by the loss."""
    f = ACTIVATIONS[act][0]
    g = sbp.computation(f"o = {act}(w*x)\nJ = (1 - o)**2 + y", params="w", inputs="x", targets="y")
    check(g.compile(), (1 - f(w * x)) ** 2 + y, [w], {"w": logit / X}, 0.5, logit)
    g = sbp.computation(f"o = {act}(w*x)\ne = o - y\nJ = e**2/2", params="w", inputs="x", targets="y")
    check(g.compile(), (f(w * x) - y) ** 2 / 2, [w], {"w": logit / X}, 1.0, logit)


SKIP = "h = tanh(w*x)\no = sigmoid(v*h + c*x)\nr = o + h\nJ = (o - y)**2/2 + (r - y)**2/4"


def skip_loss():
    h = tanh(w * x)
    o = sigma(v * h + c * x)
    return (o - y) ** 2 / 2 + (o + h - y) ** 2 / 4


@pytest.mark.parametrize("values, target", [
    ({"w": 0.3, "v": -0.8, "c": 0.45}, 0.2),
    ({"w": 20.0, "v": 10.0, "c": 15.0}, 1.0),  # h = tanh(40), o = σ(40): both round to 1
    ({"w": -20.0, "v": 10.0, "c": -15.0}, 0.0),
])
def test_skip_connection_using_the_output_node_again(values, target):
    """o and h are used by r = o + h as well as by the residuals: the rewrite touches only
    o − y (and leaves r, a sum, as written); the gradient sums over both consumers."""
    g = sbp.computation(SKIP, params="w v c", inputs="x", targets="y")
    model = g.compile()
    o, h, r = sp.symbols("o h r", real=True)
    assert dict(model.plan.forward)[r] == o + h
    logit = max(abs(values["w"] * X), abs(values["v"]) + abs(values["c"] * X))
    check(model, skip_loss(), [w, v, c], values, target, logit)


def test_moderate_inputs_are_unchanged_and_hvp_still_compiles():
    """At moderate inputs the exact residual equals the plain difference to rounding, and
    the R-operator differentiates the lines that hold it (H·v against differences of the
    gradient)."""
    rng = np.random.default_rng(7)
    Xa, Ya = rng.normal(size=(9, 1)), rng.uniform(size=(9, 1))
    for act in ACTIVATIONS:
        g = sbp.computation(f"o = {act}(w*x + c)\nJ = (o - y)**2/2", params="w c", inputs="x", targets="y")
        model = g.compile()
        p = {"w": 0.8, "c": -0.3}
        o = model.predict(p, Xa)
        assert model.loss(p, Xa, Ya) == pytest.approx(np.mean((o - Ya) ** 2 / 2), rel=1e-15, abs=0)
        h, vec = 1e-6, np.array([0.6, -0.2])
        hv = model.hvp(p, vec, Xa, Ya)
        grads = [np.array(list(model.gradient({k: p[k] + s * h * d for k, d in zip(p, vec)}, Xa, Ya).values()))
                 for s in (1, -1)]
        np.testing.assert_allclose(np.asarray(hv), (grads[0] - grads[1]) / (2 * h), rtol=1e-6, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("act, logit, target", [("sigmoid", 40.0, 1.0), ("tanh", 20.0, 1.0), ("tanh", -800.0, -1.0),
                                                ("sigmoid", -800.0, 0.0)])
def test_jax_backend_is_exact_at_saturation(act, logit, target):
    pytest.importorskip("jax")
    g = sbp.computation(f"o = {act}(w*x)\nJ = (o - y)**2/2", params="w", inputs="x", targets="y")
    f = ACTIVATIONS[act][0]
    check(g.compile(backend="jax"), (f(w * x) - y) ** 2 / 2, [w], {"w": logit / X}, target, logit)
