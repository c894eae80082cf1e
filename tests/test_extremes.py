"""Loss and gradient at extreme logits, against exact values in high precision.

Every activation × loss pair is compiled from the logits in stable forms, without
clipping (symbackprop/stable.py). Here each pair runs at logits ±1000 (sigmoid and tanh
also at ±1e4, softplus at ±800, tanh at ±20, ±40 with targets ±1, where tanh rounds to ±1
but tanh(z) − y does not vanish), and hidden layers at saturating inputs. The oracle
shares nothing with the compiled code: the loss of the same network is composed from
the registry's textbook definitions (σ = 1/(1 + e^(−z)), softplus = log(1 + e^z),
softmax = e^z/Σe^z), differentiated with ``sympy.diff`` and evaluated with mpmath at a
working precision that resolves e^(−2|z|) (2|z| digits + 50). Every number must be
finite, warning-free (pytest turns warnings into errors) and within 1e-12 relative of
the exact value rounded to float64 (values below float64's normal range, ~2e-308, are
compared absolutely: float64 cannot hold them to 1e-12), and ``sbp.gradcheck`` must pass
there: the compiled gradient is the gradient of the compiled loss.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracle import expanded_loss

import symbackprop as sbp

REL = 1e-12
TINY = 1e-300  # below this, float64 has no relative precision left to compare

BOUNDED = ["identity", "sigmoid", "tanh", "arctan", "relu", "leaky_relu", "softplus", "softmax"]
HAND_CE = "-y1*log(a1_1) - y2*log(a1_2)"
HAND_BCE = "-y1*log(a1_1) - (1 - y1)*log(1 - a1_1) - y2*log(a1_2) - (1 - y2)*log(1 - a1_2)"

# (output activation, loss, logit L): the two outputs get logits (L, −L).
OUTPUT_CASES = [
    *[(act, loss, 1000.0) for act in BOUNDED for loss in ("quadratic", "mse")],
    *[(act, loss, 1000.0) for act in ("sigmoid", "softmax")
      for loss in ("binary_cross_entropy", "cross_entropy", HAND_CE, HAND_BCE)],
    ("softplus", "cross_entropy", 1000.0),  # log softplus(−1000) = −1000, not log 0
    ("sigmoid", "(a1_1 - y1)**2*a1_2", 1000.0),  # a loss coupling the outputs
    *[(act, loss, 1e4) for act in ("sigmoid", "tanh") for loss in ("quadratic", "mse")],
    *[("sigmoid", loss, 1e4) for loss in ("binary_cross_entropy", "cross_entropy")],
    *[("softplus", loss, 800.0) for loss in ("quadratic", "cross_entropy")],
    ("log(1 + exp(z))", "quadratic", 800.0),  # a user-written softplus
    ("z*sigmoid(z)", "quadratic", 1000.0),  # swish, as in the register_activation example
    ("exp(z)/(1 + exp(z))", "binary_cross_entropy", 1000.0),  # a user-written sigmoid
    # Moderate logits, where 1 − σ(z) or 1 − softmax rounds to 0 but the exact value does not.
    *[(act, loss, 40.0) for act in ("sigmoid", "softmax")
      for loss in ("quadratic", "binary_cross_entropy", "cross_entropy")],
]
TARGETS = {"soft": [[0.3, 0.7]], "one-hot": [[1.0, 0.0]]}

# (hidden activation, its input): a 1-1-1 network, identity output, quadratic loss.
HIDDEN_CASES = [
    *[(act, z) for act in ("sigmoid", "tanh") for z in (-1e4, -30.0, 30.0, 1e4)],
    *[("softplus", z) for z in (-800.0, -40.0, -20.0, 40.0, 800.0)],
    *[("z*sigmoid(z)", z) for z in (-1000.0, -40.0, 1000.0)],
    *[("log(1 + exp(z))", z) for z in (-800.0, -30.0, 800.0)],
]


def exact(net, point, logit):
    """Loss and gradient of ``net`` at ``point`` (Symbol -> float), in mpmath, as floats."""
    J = expanded_loss(net)
    symbols = sorted(point, key=lambda s: s.name)
    f = sp.lambdify(symbols, [J, *(sp.diff(J, p) for p in net.params)], modules="mpmath")
    with mpmath.workdps(50 + int(2 * abs(logit))):
        values = f(*(mpmath.mpf(point[s]) for s in symbols))
    loss, *grads = (float(v) for v in values)
    return loss, dict(zip(net.params, grads))


def assert_exact(got, want, what):
    assert math.isfinite(got), f"{what}: {got}"
    assert abs(got - want) <= REL * abs(want) + TINY, f"{what}: got {got!r}, exact {want!r}"


def check_network(net, params, X, Y, logit):
    model = net.compile()
    loss, grad = model.loss(params, X, Y), model.gradient(params, X, Y)
    point = {**params, **dict(zip(net.inputs, X[0])), **dict(zip(net.targets, Y[0]))}
    want_loss, want_grad = exact(net, point, logit)
    assert_exact(loss, want_loss, "loss")
    for p in net.params:
        assert_exact(grad[p], want_grad[p], f"dJ/d{p}")
    result = sbp.gradcheck(net, params, X, Y)
    assert result.ok, str(result)
    return model


def output_case(activation, loss, logit):
    net = sbp.mlp([1, 2], activation, loss)
    params = {net.w(1, 1, 1): logit, net.w(1, 2, 1): -logit, net.b(1, 1): 0.0, net.b(1, 2): 0.0}
    return net, params


GRID = [(*case, t) for case in OUTPUT_CASES for t in TARGETS]


@pytest.mark.parametrize("activation, loss, logit, targets", GRID)
def test_output_pair_is_exact_at_extreme_logits(activation, loss, logit, targets):
    net, params = output_case(activation, loss, logit)
    check_network(net, params, np.array([[1.0]]), np.array(TARGETS[targets]), logit)


@pytest.mark.parametrize("activation, z", HIDDEN_CASES)
def test_hidden_derivative_is_exact_at_saturating_inputs(activation, z):
    """f' in z forms: σ' = σ(z)σ(−z), tanh' = sech², softplus' = σ(z) keep their relative
    precision where the textbook a-forms (a(1 − a), 1 − a², 1 − e^(−a)) round to 0."""
    net = sbp.mlp([1, 1, 1], [activation, "identity"], "quadratic")
    params = {net.w(1, 1, 1): z, net.b(1, 1): 0.0, net.w(2, 1, 1): 0.5, net.b(2, 1): 0.1}
    check_network(net, params, np.array([[1.0]]), np.array([[0.3]]), z)


@pytest.mark.parametrize(
    "activation, loss, logit",
    [("sigmoid", "binary_cross_entropy", 1e4), ("softmax", "cross_entropy", 1000.0),
     ("softmax", "binary_cross_entropy", 1000.0), ("softplus", "cross_entropy", 800.0),
     ("z*sigmoid(z)", "quadratic", 1000.0), ("log(1 + exp(z))", "quadratic", 800.0)],
)
def test_jax_backend_is_exact_at_extreme_logits(activation, loss, logit):
    pytest.importorskip("jax")
    net, params = output_case(activation, loss, logit)
    X, Y = np.array([[1.0]]), np.array(TARGETS["soft"])
    model = net.compile(backend="jax")
    point = {**params, net.x(1): 1.0, net.y(1): 0.3, net.y(2): 0.7}
    want_loss, want_grad = exact(net, point, logit)
    assert_exact(model.loss(params, X, Y), want_loss, "loss")
    grad = model.gradient(params, X, Y)
    for p in net.params:
        assert_exact(grad[p], want_grad[p], f"dJ/d{p}")


def test_a_user_written_softplus_is_finite_at_800_and_swish_has_no_nan_gradient():
    """Issue 10, item 7: custom formulas get the registry's stable forms."""
    soft = sbp.mlp([1, 1], "log(1 + exp(z))", "quadratic").compile()
    assert soft.predict({"w1_1_1": 800.0, "b1_1": 0.0}, [[1.0]])[0, 0] == 800.0
    swish = sbp.mlp([1, 1, 1], ["z*sigmoid(z)", "identity"], "quadratic")
    grad = swish.compile().gradient({"w1_1_1": -1000.0, "b1_1": 0.0, "w2_1_1": 1.0, "b2_1": 0.0},
                                    [[1.0]], [[0.3]])
    assert all(math.isfinite(v) for v in grad.values())


# ------------------------------------------------------------- tanh outputs near ±1
# tanh(20) rounds to 1.0: a − y at y = 1 was 0 (J and every gradient 0) where it is
# −2/(e^40 + 1), and log tanh(20) was 0 where it is −2e^(−40) + …. The output forms take
# a − y from 1 ∓ tanh z = 2σ(∓2z) (``tanh_minus_y``) and log tanh from log1p (``log_tanh``).
TANH_RESIDUAL_LOSSES = ["quadratic", "mse", "(a1_1 - y1)**2*a1_2", "(y1 - a1_1)**2 + 3*(y2 - a1_2)**2"]
TANH_TARGETS = [(1.0, -1.0), (-1.0, 1.0), (0.3, -0.3), (0.0, 0.0)]


def tanh_case(loss, logit, targets):
    """A 1-2 tanh network with logits (L, −L): x = 2, w = ±L/2 (exact), so ∂J/∂w = 2 ∂J/∂b."""
    net = sbp.mlp([1, 2], "tanh", loss)
    params = {net.w(1, 1, 1): logit / 2, net.w(1, 2, 1): -logit / 2, net.b(1, 1): 0.0, net.b(1, 2): 0.0}
    return net, params, np.array([[2.0]]), np.array([targets])


@pytest.mark.parametrize("targets", TANH_TARGETS)
@pytest.mark.parametrize("logit", [20.0, 40.0, 800.0])
@pytest.mark.parametrize("loss", TANH_RESIDUAL_LOSSES)
def test_tanh_output_residual_is_exact_near_plus_minus_one(loss, logit, targets):
    net, params, X, Y = tanh_case(loss, logit, targets)
    model = check_network(net, params, X, Y, logit)
    if targets == (1.0, -1.0) and logit < 100:  # the case that was 0: now the exact nonzero value
        assert model.loss(params, X, Y) != 0 and model.gradient(params, X, Y)[net.b(1, 1)] != 0


@pytest.mark.parametrize("y", [1.0, 0.3])
@pytest.mark.parametrize("logit", [20.0, 40.0, 800.0])
@pytest.mark.parametrize("loss", ["binary_cross_entropy", "cross_entropy"])
def test_log_of_a_tanh_output_is_exact_where_tanh_rounds_to_one(loss, logit, y):
    """−y log tanh(z) at z = 20 is 2y e^(−40)(1 + …), not 0 (z > 0: inside the loss's domain)."""
    net = sbp.mlp([1, 1], "tanh", loss)
    params = {net.w(1, 1, 1): logit / 2, net.b(1, 1): 0.0}
    check_network(net, params, np.array([[2.0]]), np.array([[y]]), logit)


def _exact_residual(z, y):
    with mpmath.workdps(50 + int(2 * abs(z))):
        return mpmath.tanh(mpmath.mpf(z)) - mpmath.mpf(y)


def test_tanh_minus_y_is_exact_at_the_ends_and_never_worse_than_the_plain_difference():
    """At y = ±1 the residual is exact to 1e-12 for every z up to 40 (the plain tanh(z) − y
    loses everything once tanh rounds to ±1); elsewhere its error exceeds the plain
    difference's by less than one unit in the last place of 1 (the two differ only where
    |a| > 0.9, by the rounding of 1 − y and of the complement)."""
    from symbackprop.compiler.stable import numpy_helpers

    residual = numpy_helpers()["tanh_minus_y"]
    z = np.linspace(-40.0, 40.0, 1601)
    a = np.tanh(z)
    for y in (1.0, -1.0):
        got = residual(a, z, y)
        for zi, g in zip(z, got):
            want = float(_exact_residual(zi, y))
            assert abs(g - want) <= REL * abs(want), f"z = {zi}, y = {y}: got {g!r}, exact {want!r}"
    z = np.linspace(-6.0, 6.0, 2401)
    a = np.tanh(z)
    for y in (-1.5, -0.9, -0.3, 0.0, 0.3, 0.7, 0.95, 0.999):
        got, plain = residual(a, z, y), a - y
        for zi, g, p in zip(z, got, plain):
            want = _exact_residual(zi, y)
            assert abs(g - want) <= abs(p - want) + 2.0**-52, f"z = {zi}, y = {y}: {g!r}, plain {p!r}"


@pytest.mark.parametrize("loss, targets", [("quadratic", [1.0, -1.0]), ("binary_cross_entropy", [1.0, 1.0])])
def test_walkthrough_of_a_tanh_output_is_exact_near_plus_minus_one(loss, targets):
    net = sbp.mlp([1, 2], "tanh", loss)
    params = {net.w(1, 1, 1): 10.0, net.w(1, 2, 1): -10.0 if loss == "quadratic" else 20.0,
              net.b(1, 1): 0.0, net.b(1, 2): 0.0}
    w = sbp.walkthrough(net, params, x=[2.0], y=targets, lr=0.1)
    point = {**params, net.x(1): 2.0, net.y(1): targets[0], net.y(2): targets[1]}
    want_loss, want_grad = exact(net, point, 40.0)
    assert_exact(w.loss, want_loss, "loss")
    for p in net.params:
        assert_exact(w.gradient[p], want_grad[p], f"dJ/d{p}")


@pytest.mark.parametrize("backend", ["jax", "numba"])
@pytest.mark.parametrize("loss, targets", [("quadratic", [1.0, -1.0]), ("binary_cross_entropy", [1.0, 1.0])])
def test_other_backends_are_exact_at_a_saturated_tanh_output(backend, loss, targets):
    if backend == "jax":
        pytest.importorskip("jax")
    else:
        from symbackprop.compiler import numba_backend

        if not numba_backend.available():
            pytest.skip('numba and SciPy are not installed (pip install "symbackprop[fast]")')
    net = sbp.mlp([1, 2], "tanh", loss)
    params = {net.w(1, 1, 1): 10.0, net.w(1, 2, 1): -10.0 if loss == "quadratic" else 20.0,
              net.b(1, 1): 0.0, net.b(1, 2): 0.0}
    X, Y = np.array([[2.0]]), np.array([targets])
    model = net.compile(backend=backend)
    point = {**params, net.x(1): 2.0, net.y(1): targets[0], net.y(2): targets[1]}
    want_loss, want_grad = exact(net, point, 40.0)
    assert_exact(model.loss(params, X, Y), want_loss, "loss")
    grad = model.gradient(params, X, Y)
    for p in net.params:
        assert_exact(grad[p], want_grad[p], f"dJ/d{p}")
