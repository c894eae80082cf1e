"""Second order, symbolic: net.hessian(p, q), its derivation, and net.jacobian().

Oracles: ``sympy.hessian`` / ``sympy.diff`` of the fully expanded loss and outputs
(tests/oracle.py), evaluated at 30 digits; and the other level of the design, the compiled
``model.hessian`` / ``model.input_jacobian`` (themselves checked in test_second_order.py).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracle import expanded_loss
from test_second_order import SEED, _convention, _hp, _outputs, sympy_hessian

import symbackprop as sbp
from symbackprop.errors import ExpressionTooLargeError

NETS = [
    ([2, 2, 1], "sigmoid", "quadratic"),
    ([2, 2, 1], ["relu", "tanh"], "mse"),
    ([2, 2, 2], ["tanh", "softmax"], "cross_entropy"),
    ([2, 2, 2], ["softplus", "sigmoid"], "binary_cross_entropy"),
    ([1, 2, 1, 1], ["arctan", "leaky_relu", "identity"], "quadratic"),
]


def sample(net, rng):
    params = {p: float(rng.normal(0.0, 0.8)) for p in net.params}
    return params, rng.normal(size=net.sizes[0]), rng.uniform(0.1, 0.9, size=net.sizes[-1])


@pytest.mark.parametrize("case", NETS, ids=str)
def test_compact_hessian_against_sympy_and_the_compiled_level(case):
    net = sbp.mlp(*case)
    params, x, y = sample(net, np.random.default_rng(SEED))
    H = np.array([[net.hessian_derivation(p, q).at(params, x, y).value(net.hessian(p, q))
                   for q in net.params] for p in net.params])
    np.testing.assert_allclose(H, sympy_hessian(net, params, [x], [y]), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(H, net.compile().hessian(params, x[None], y[None]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-14)  # ∂²J/∂p∂q = ∂²J/∂q∂p, two recursions


@pytest.mark.parametrize("case", NETS[:3], ids=str)
def test_expanded_hessian_is_sympy_diff_of_the_expanded_loss(case):
    net = sbp.mlp(*case)
    J = expanded_loss(net)
    rng = np.random.default_rng(SEED)
    symbols = [*net.params, *net.inputs, *net.targets]
    for p, q in [(net.params[0], net.params[-1]), (net.params[1], net.params[1]), (net.params[-2], net.params[2])]:
        got = net.hessian(p, q, expand=True)
        assert got.free_symbols <= set(symbols)
        want = _convention(sp.diff(J, p, q))
        f = sp.lambdify(symbols, [got, want], modules="mpmath")
        with mpmath.workdps(30):
            for _ in range(2):
                params, x, y = sample(net, rng)
                g, w = f(*[mpmath.mpf(float(v)) for v in [*params.values(), *x, *y]])
                assert float(g) == pytest.approx(float(w), rel=1e-20, abs=1e-25)


def test_derivation_steps_names_and_printers():
    net = sbp.mlp([2, 2, 1], "sigmoid", "quadratic")
    h = net.hessian_derivation("w1_1_2", "w2_1_1")
    # q = w⁽²⁾₁₁ reaches only z⁽²⁾₁ and a⁽²⁾₁: its tangent starts at layer 2
    assert list(h.tangent) == [sp.Symbol("zdot2_1", real=True), sp.Symbol("adot2_1", real=True)]
    assert h.tangent[sp.Symbol("zdot2_1", real=True)] == net.a(1, 1)
    # the δ̇ line of layer 1 holds the δ of layer 2 (q is the weight the δ recursion multiplies)
    dd1 = h.adjoint[sp.Symbol("deltadot1_1", real=True)]
    assert net.delta(2, 1) in dd1.free_symbols
    assert h.compact == sp.Symbol("deltadot1_1", real=True) * net.x(2)
    text = h.text()
    assert text.splitlines()[0] == "∂²J/∂w⁽¹⁾₁₂∂w⁽²⁾₁₁ in the 2-2-1 network (sigmoid, sigmoid; loss quadratic)"
    assert "ż⁽²⁾₁ = a⁽¹⁾₁" in text and "δ̇⁽¹⁾₁ =" in text
    assert r"\dot{\delta}^{(1)}_{1}" in h.latex() and r"\dot{z}^{(2)}_{1}" in h.latex()
    assert h.markdown().startswith("### $")
    params, x, y = sample(net, np.random.default_rng(SEED))
    at = h.at(params, x, y)
    lines = [line for sec in at.document().sections for line in sec.lines if line.expr is not None]
    assert lines and all(line.value is not None and np.isfinite(line.value) for line in lines)
    with pytest.raises(sbp.SpecError, match=r"call \.at\(params, x, y\) first"):
        h.value(h.compact)
    assert at.to_dict()["compact"] == "deltadot1_1*x2"


def test_expand_has_the_first_order_size_guard():
    net = sbp.mlp([2, 4, 4, 4, 1], "tanh")
    with pytest.raises(ExpressionTooLargeError, match=r"limit 100\); .* pass max_size=None") as info:
        net.hessian("w1_1_1", "w1_2_2", expand=True, max_size=100)
    assert "\n" not in str(info.value)
    with pytest.raises(ExpressionTooLargeError, match=r"limit 100,000\)"):  # the default, as for grad
        net.hessian("w1_1_1", "w1_2_2", expand=True)
    with pytest.raises(sbp.UnknownNameError, match="Unknown parameter 'w9_1_1'"):
        net.hessian("w9_1_1", "b1_1")


@pytest.mark.parametrize("case", [
    ([2, 2, 1], "sigmoid"),
    ([2, 2, 2], ["tanh", "softmax"]),
    ([3, 2, 2, 2], ["relu", "softplus", "arctan"]),
], ids=str)
def test_jacobian_against_sympy_and_the_compiled_level(case):
    net = sbp.mlp(*case)
    rng = np.random.default_rng(SEED)
    params, x, _ = sample(net, rng)
    compact, expanded = net.jacobian(), net.jacobian(expand=True)
    assert compact.shape == expanded.shape == (net.sizes[-1], net.sizes[0])
    assert all(e.free_symbols <= {*net.params, *net.inputs} for e in expanded)
    at = _hp(params) | _hp(dict(zip(net.inputs, x)))
    want = np.array([[float(_convention(sp.diff(o, xk)).xreplace(at).evalf(30)) for xk in net.inputs]
                     for o in _outputs(net)])
    got = np.array(expanded.xreplace(at).evalf(30).tolist(), dtype=float)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # the compact form, at the forward pass's values of a and z
    values = net.hessian_derivation(net.params[0], net.params[0]).at(params, x, [0.5] * net.sizes[-1]).values
    named = np.array([[float(e.xreplace(values)) for e in row] for row in compact.tolist()])
    np.testing.assert_allclose(named, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net.compile().input_jacobian(params, x[None])[0], want, rtol=1e-10, atol=1e-12)


def test_symbolic_hessian_at_a_relu_kink_matches_the_compiled_convention():
    """z⁽¹⁾₁ = 0 exactly: relu'(0) = 0 and relu'' = 0 at both levels."""
    net = sbp.mlp([1, 2, 1], ["relu", "sigmoid"], "quadratic")
    params = dict(zip(net.params, [0.5, -1.0, -0.5, 0.25, 0.7, -1.2, 0.1]))
    x, y = [1.0], [0.3]  # z⁽¹⁾₁ = 0.5·1 − 0.5 = 0
    H = np.array([[net.hessian_derivation(p, q).at(params, x, y).value(net.hessian(p, q))
                   for q in net.params] for p in net.params])
    np.testing.assert_allclose(H, net.compile().hessian(params, [x], [y]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H, sympy_hessian(net, params, [x], [y]), rtol=1e-9, atol=1e-12)
    assert not H[0].any()  # the unit at its kink is off: nothing flows through w⁽¹⁾₁₁
