"""Second order, compiled (NumPy): Hessian-vector products, dense Hessians, input Jacobians.

Oracles: ``sympy.hessian`` / ``sympy.diff`` of the fully expanded loss and outputs
(tests/oracle.py composes them from the registry definitions, no graph, no reverse mode),
evaluated at 30 digits; central differences of the compiled gradient and of ``predict``;
and, for ``hvp``, the dense Hessian times v. The JAX backend is in test_second_order_jax.py.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracle import expanded_loss

import symbackprop as sbp
from symbackprop.activations import get_activation, step_at_zero
from symbackprop.compiler.plan import numeric_derivative
from symbackprop.compiler.second_order import DEFAULT_MAX_HESSIAN_PARAMS, second_derivative

ELEMENTWISE = [name for name, act in sbp.ACTIVATIONS.items() if act.elementwise]
SEED = 20261126


def point(net, rng, n=3):
    params = {p: float(rng.normal(0.0, 0.8)) for p in net.params}
    X = rng.normal(0.0, 1.0, size=(n, net.sizes[0]))
    Y = rng.uniform(0.1, 0.9, size=(n, net.sizes[-1]))
    return params, X, Y


def _outputs(net):
    """The network's outputs a^(L) written in x, w, b (composed from the definitions)."""
    prev = list(net.inputs)
    for layer, act in enumerate(net.activations, start=1):
        zs = [sum((net.w(layer, j, k) * a for k, a in enumerate(prev, start=1)), net.b(layer, j))
              for j in range(1, net.sizes[layer] + 1)]
        if act.elementwise:
            prev = [act(z) for z in zs]
        else:
            total = sum(sp.exp(z) for z in zs)
            prev = [sp.exp(z) / total for z in zs]
    return prev


def _hp(values):
    return {s: sp.Float(repr(float(v)), 30) for s, v in values.items()}


def _convention(expr):
    """The kink convention on a sympy.diff result: H(0) = 0 for relu's step, δ = 0."""
    expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    return step_at_zero(expr)


_SYMPY_HESSIANS: dict[str, tuple] = {}


def _sympy_hessian_function(net):
    """sympy.hessian of the expanded loss, lambdified to mpmath (common subexpressions shared,
    or printing it takes seconds). Kept per network definition (its repr): test_hessian.py
    asks again for networks of this module, and each costs seconds."""
    if repr(net) not in _SYMPY_HESSIANS:
        H = _convention(sp.hessian(expanded_loss(net), net.params))
        symbols = [*net.params, *net.inputs, *net.targets]
        _SYMPY_HESSIANS[repr(net)] = H.shape, sp.lambdify(symbols, H, modules="mpmath", cse=True)
    return _SYMPY_HESSIANS[repr(net)]


def sympy_hessian(net, params, X, Y, dps=30):
    """Hessian of the mean batch loss: sympy.hessian of the expanded loss, at ``dps`` digits."""
    shape, f = _sympy_hessian_function(net)
    total = np.zeros(shape)
    with mpmath.workdps(dps):
        for x, y in zip(X, Y):
            values = [mpmath.mpf(float(v)) for v in [*(params[p] for p in net.params), *x, *y]]
            total += np.array(f(*values).tolist(), dtype=float)
    return total / len(X)


def fd_hessian(model, net, params, X, Y, h=1e-6):
    flat = np.array([params[p] for p in net.params])
    cols = []
    for i in range(len(flat)):
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        g_up = model.gradient(dict(zip(net.params, up)), X, Y)
        g_down = model.gradient(dict(zip(net.params, down)), X, Y)
        cols.append((np.array(list(g_up.values())) - np.array(list(g_down.values()))) / (2 * h))
    return np.array(cols).T


SYMPY = (
    [("2-2-1", [2, 2, 1], act, "quadratic") for act in ELEMENTWISE]
    + [("2-2-1", [2, 2, 1], ["z**3/3 + z", "z*sigmoid(z)"], "quadratic")]
    # softmax couples the outputs: each activation's second derivative through it on one
    # hidden unit (2-1-2), and two hidden units once (their cross terms use only σ', the same
    # path for every activation; finite differences cover each activation at 2-3-3 below)
    + [("2-1-2", [2, 1, 2], [act, "softmax"], "cross_entropy") for act in ELEMENTWISE if act != "tanh"]
    + [("2-2-2", [2, 2, 2], ["tanh", "softmax"], "cross_entropy")]
    + [("2-2-2", [2, 2, 2], ["relu", "sigmoid"], "binary_cross_entropy")]
    # a loss that is not a sum over the outputs: R{δ^(L)} column by column
    + [("2-2-2", [2, 2, 2], ["tanh", "sigmoid"], "(a2_1 - y1)**2*(a2_2 + y2)**2")]
)


@pytest.mark.parametrize(("label", "sizes", "act", "loss"), SYMPY, ids=[f"{s[0]}-{s[2]}-{s[3]}" for s in SYMPY])
def test_hessian_against_sympy_and_finite_differences(label, sizes, act, loss):
    net = sbp.mlp(sizes, act, loss)
    rng = np.random.default_rng(SEED)
    params, X, Y = point(net, rng, n=2)
    model = net.compile()
    H = model.hessian(params, X, Y)
    assert H.shape == (len(net.params),) * 2
    np.testing.assert_allclose(H, sympy_hessian(net, params, X, Y), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(H, fd_hessian(model, net, params, X, Y), rtol=1e-5, atol=1e-7)


FD = (
    [([2, 3, 3], [act, "softmax"], loss) for act in ELEMENTWISE
     for loss in ("cross_entropy", "quadratic", "binary_cross_entropy")]
    + [([2, 3, 2], [act, "sigmoid"], "binary_cross_entropy") for act in ELEMENTWISE]
    + [([2, 3, 2], act, "mse") for act in ELEMENTWISE]
    + [([2, 3, 2], ["tanh", "softmax"], "(a2_1 - y1)**2*(a2_2 + y2)**2 + a2_1*y2")]
)


@pytest.mark.parametrize(("sizes", "act", "loss"), FD, ids=[f"{a}-{l}" for _, a, l in FD])
def test_hessian_against_finite_differences_of_the_gradient(sizes, act, loss):
    net = sbp.mlp(sizes, act, loss)
    params, X, Y = point(net, np.random.default_rng(SEED), n=4)
    model = net.compile()
    np.testing.assert_allclose(model.hessian(params, X, Y), fd_hessian(model, net, params, X, Y),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", [
    ([2, 3, 2], "sigmoid", "quadratic"),
    ([3, 4, 3, 3], ["tanh", "relu", "softmax"], "cross_entropy"),
    ([2, 5, 2], ["softplus", "sigmoid"], "binary_cross_entropy"),
    ([4, 3, 2], ["leaky_relu", "identity"], "mse"),
], ids=str)
def test_hvp_is_the_hessian_times_v(case):
    net = sbp.mlp(*case)
    rng = np.random.default_rng(SEED)
    params, X, Y = point(net, rng, n=6)
    model = net.compile()
    H = model.hessian(params, X, Y)
    v = rng.normal(size=len(net.params))
    hv = model.hvp(params, v, X, Y)
    assert isinstance(hv, np.ndarray) and hv.shape == v.shape
    np.testing.assert_allclose(hv, H @ v, rtol=1e-10, atol=1e-12)
    # a mapping in, a mapping out, in net.params order
    by_name = model.hvp(params, {p.name: float(x) for p, x in zip(net.params, v)}, X, Y)
    assert list(by_name) == list(net.params)
    np.testing.assert_allclose(list(by_name.values()), hv, rtol=0, atol=0)
    # arrays as params give the same as the mapping
    P = model.arrays(params)
    np.testing.assert_allclose(model.hvp(list(zip(P[::2], P[1::2])), v, X, Y), hv, rtol=0, atol=0)
    np.testing.assert_allclose(H, fd_hessian(model, net, params, X, Y), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("sizes", "act"), [
    ([2, 2, 1], "sigmoid"),
    ([2, 2, 2], ["tanh", "softmax"]),
    ([3, 2, 2], ["relu", "identity"]),
    ([2, 3, 2], ["arctan", "softplus"]),
    ([2, 2, 2, 2], ["leaky_relu", "tanh", "sigmoid"]),
], ids=str)
def test_input_jacobian_against_sympy_and_finite_differences(sizes, act):
    net = sbp.mlp(sizes, act)
    rng = np.random.default_rng(SEED)
    params, X, _ = point(net, rng, n=3)
    model = net.compile()
    Jac = model.input_jacobian(params, X)
    assert Jac.shape == (3, sizes[-1], sizes[0])
    outs = _outputs(net)
    for r, x in enumerate(X):
        at = _hp(params) | _hp(dict(zip(net.inputs, x)))
        want = [[float(_convention(sp.diff(o, xk)).xreplace(at).evalf(30)) for xk in net.inputs] for o in outs]
        np.testing.assert_allclose(Jac[r], want, rtol=1e-10, atol=1e-12)
    h = 1e-6
    for k in range(sizes[0]):
        e = np.zeros(sizes[0])
        e[k] = h
        fd = (model.predict(params, X + e) - model.predict(params, X - e)) / (2 * h)
        np.testing.assert_allclose(Jac[:, :, k], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_second_derivative_at_kinks_is_zero(name):
    # The project's kink convention: relu' = H(z, 0) is a step, whose derivative is 0.
    assert second_derivative(numeric_derivative(get_activation(name))) == 0


def test_hessian_at_a_relu_kink_follows_the_convention():
    """A hidden relu unit at z = 0 exactly counts as off (relu'(0) = 0, relu'' = 0)."""
    net = sbp.mlp([1, 2, 1], ["relu", "sigmoid"], "quadratic")
    params = {p: v for p, v in zip(net.params, [0.5, -1.0, -0.5, 0.25, 0.7, -1.2, 0.1])}
    X, Y = np.array([[1.0], [-2.0]]), np.array([[0.3], [0.8]])
    z = X[:, 0] * np.array([0.5, -1.0])[:, None] + np.array([-0.5, 0.25])[:, None]
    assert (z == 0).any()  # sample 1 puts unit 1 exactly at its kink
    H = net.compile().hessian(params, X, Y)
    np.testing.assert_allclose(H, sympy_hessian(net, params, X, Y), rtol=1e-9, atol=1e-12)


def test_hessian_is_symmetric_and_its_eigenvalues_are_real():
    net = sbp.mlp([2, 4, 3], ["tanh", "softmax"], "cross_entropy")
    params, X, Y = point(net, np.random.default_rng(SEED), n=8)
    H = net.compile().hessian(params, X, Y)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-14)


def test_generated_code_is_layer_level():
    src = sbp.mlp([2, 3, 1], ["sigmoid", "sigmoid"]).compile().second_order.source
    assert "RZ2 = RA1 @ W2.T + A1 @ VW2.T + Vb2" in src
    assert "RD1 = (A1*C1) * RPD1 + (A1*C1*(-A1 + C1)) * PD1 * RZ1" in src  # σ'' from σ(±z)


def test_bad_direction_and_size_limit_are_one_line_errors():
    net = sbp.mlp([2, 2, 1])
    model, params = net.compile(), net.init_params(0)
    X, Y = [[0.0, 1.0]], [[1.0]]
    with pytest.raises(sbp.SpecError, match=r"flat vector of 9 numbers in net.params order; got shape \(3,\)"):
        model.hvp(params, [1.0, 2.0, 3.0], X, Y)
    with pytest.raises(sbp.SpecError, match="lack 8 of this network's 9"):
        model.hvp(params, {"w1_1_1": 1.0}, X, Y)
    with pytest.raises(sbp.SpecError, match="must be finite"):
        model.hvp(params, [np.nan] + [0.0] * 8, X, Y)
    big = sbp.mlp([64, 40, 1])
    assert len(big.params) > DEFAULT_MAX_HESSIAN_PARAMS
    from symbackprop.errors import HessianTooLargeError

    with pytest.raises(HessianTooLargeError, match=r"at most max_params=2,000 parameters: pass max_params=2641") as info:
        big.compile().hessian(big.init_params(0), np.zeros((1, 64)), [[0.5]])
    assert "\n" not in str(info.value)
    H = model.hessian(params, X, Y, max_params=9)
    assert H.shape == (9, 9)
    with pytest.raises(HessianTooLargeError):
        model.hessian(params, X, Y, max_params=8)


@pytest.mark.parametrize(("sizes", "act", "loss", "values"), [
    ([1, 1], "sigmoid", "binary_cross_entropy", [40.0, 0.0]),
    ([1, 1], "sigmoid", "quadratic", [-38.0, 0.5]),
    ([1, 2], "softmax", "cross_entropy", [20.0, -20.0, 0.5, 0.0]),
    ([1, 2], "softmax", "quadratic", [-21.0, 19.0, 0.0, 0.25]),
    ([1, 2, 2], ["tanh", "softmax"], "cross_entropy", [20.0, -15.0, 0.0, 0.0, 15.0, -15.0, 5.0, 2.0, 0.0, 0.0]),
], ids=str)
def test_saturated_outputs_keep_their_relative_precision(sizes, act, loss, values):
    """Where a = σ(40) rounds to 1, σ'' and the softmax Hessian are ~1e-17: the compiled
    second order keeps all their digits (the textbook a(1 − a) would give 0)."""
    net = sbp.mlp(sizes, act, loss)
    params = dict(zip(net.params, values))
    X, Y = np.array([[1.0], [0.9]]), np.full((2, sizes[-1]), 0.3)
    model = net.compile()
    want = sympy_hessian(net, params, X, Y, dps=80)  # the expanded loss cancels e^40-sized terms
    assert 0 < np.abs(want).max() < 1e-10  # saturated indeed
    np.testing.assert_allclose(model.hessian(params, X, Y), want, rtol=1e-9, atol=0)
    outs = _outputs(net)
    at = {s: sp.Float(v, 80) for s, v in [*params.items(), (net.x(1), 1.0)]}
    jac = np.array([[float(_convention(sp.diff(o, net.x(1))).xreplace(at).evalf(80))] for o in outs])
    np.testing.assert_allclose(model.input_jacobian(params, X[:1])[0], jac, rtol=1e-9, atol=0)
