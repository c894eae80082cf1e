"""One convention at kinks, PyTorch's, wherever a derivative is produced (docs/notation.md).

The expected values are PyTorch's autograd definitions (tools/autograd/derivatives.yaml):
relu and threshold pass the gradient only where z > 0; leaky_relu uses the slope where
z ≤ 0; abs' = sgn, 0 at 0; maximum/minimum give grad/2 to each argument at a tie; a step
(heaviside, sign) has derivative 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.activations import Z, get_activation
from symbackprop.checking.evaluate import evaluate

# activation, the point z0 of its kink, f'(z0) as torch defines it
KINKS = [
    ("relu", 0.0, 0.0),
    ("leaky_relu", 0.0, 0.01),
    ("abs(z)", 0.0, 0.0),
    ("max(0, z)", 0.0, 0.5),
    ("max(z, 0.2*z)", 0.0, 0.6),
    ("min(z, 0)", 0.0, 0.5),
    ("min(max(z, -1), 1)", 1.0, 0.5),
    ("z*heaviside(z)", 0.0, 0.0),
    ("heaviside(z)", 0.0, 0.0),
    ("sign(z)*z**2", 0.0, 0.0),
    ("z + sign(z)", 0.0, 1.0),
]


@pytest.mark.parametrize(("activation", "z0", "slope"), KINKS, ids=[k[0] for k in KINKS])
def test_derivative_at_the_kink_everywhere(activation, z0, slope):
    # J = a1_1 and z1_1 = w x + b with x = 0, b = z0: dJ/db is f'(z0).
    net = sbp.mlp([1, 1], activation=activation, loss="a1_1")
    params = {"w1_1_1": 0.7, "b1_1": z0}
    X, Y = np.zeros((1, 1)), np.zeros((1, 1))
    b = net.b(1, 1)
    assert net.compile().gradient(params, X, Y)[b] == slope
    expanded = net.grad(b, expand=True).xreplace({net.w(1, 1, 1): 0.7, b: z0, net.x(1): 0, net.y(1): 0})
    assert float(expanded) == pytest.approx(slope, abs=1e-15)
    d = net.derivation("b1_1").at(params, x=[0.0], y=[0.0])
    assert d.value(d.compact) == pytest.approx(slope, abs=1e-15)
    fprime = get_activation(activation).derivative()
    assert float(evaluate(fprime, {Z: np.array([z0])})[0]) == slope
    assert not fprime.has(sp.DiracDelta)


@pytest.mark.parametrize(("activation", "z0", "slope"), KINKS, ids=[k[0] for k in KINKS])
def test_jax_backend_keeps_the_convention(activation, z0, slope):
    pytest.importorskip("jax")
    net = sbp.mlp([1, 1], activation=activation, loss="a1_1")
    g = net.compile(backend="jax").gradient({"w1_1_1": 0.7, "b1_1": z0}, np.zeros((1, 1)), np.zeros((1, 1)))
    assert g[net.b(1, 1)] == slope


@pytest.mark.parametrize(
    ("f", "fprime"),
    [
        ("abs(z)", "z/abs(z)"),
        ("abs(z)", "sign(z)"),
        ("z*heaviside(z)", "heaviside(z)"),
        ("max(0, z)", "heaviside(z)"),
        ("min(max(z, -1), 1)", "heaviside(z + 1)*heaviside(1 - z)"),
        ("sign(z)*z**2", "2*abs(z)"),
        ("z/(1 + abs(z))", "1/(1 + abs(z))**2"),
    ],
)
def test_check_derivative_with_kinks(f, fprime):
    r = sbp.check_derivative(f, fprime)
    assert r.ok, str(r)
    assert not r.truth.has(sp.DiracDelta, sp.re, sp.im, sp.Derivative)


def test_check_derivative_still_catches_a_wrong_kinked_derivative():
    r = sbp.check_derivative("abs(z)", "1")
    assert not r.ok and r.counterexample.point["z"] < 0


def test_max_of_many_arguments_compiles_without_functools():
    net = sbp.mlp([1, 1], activation="max(z, -1, z/2, -z - 3)", loss="a1_1")
    source = net.compile().source()
    assert "functools" not in source and source.count("numpy.maximum(") >= 3
    model = net.compile()
    for z0, slope in ((1.0, 1.0), (-1.5, 0.5), (-2.5, -1.0)):
        assert model.gradient({"w1_1_1": 0.0, "b1_1": z0}, np.ones((1, 1)), np.zeros((1, 1)))[net.b(1, 1)] == slope


def test_steps_add_as_numbers_not_as_booleans():
    # NumPy adds two boolean arrays as a logical or: a step must compile to a float.
    net = sbp.mlp([1, 1], activation="heaviside(z) + heaviside(z - 1)", loss="a1_1")
    out = net.compile().predict({"w1_1_1": 1.0, "b1_1": 0.0}, np.array([[2.0], [0.5], [-1.0]]))
    assert out.ravel().tolist() == [2.0, 1.0, 0.0]


def test_the_value_of_a_step_at_its_jump_does_not_block_a_proof():
    # max' is H½ (a tie gives ½); a student types heaviside (H(0) = 0): equal almost everywhere.
    r = sbp.check_derivative("max(0, z)", "heaviside(z)")
    assert r.ok and r.outcomes["symbolic"] == "proved equal"
    net = sbp.mlp([2, 2, 1], activation="max(0, z)")
    r = sbp.check(net, "w2_1_1", "(a2_1 - y1)*heaviside(z2_1)*a1_1")
    assert r.ok and r.outcomes["symbolic"] == "proved equal"
    r = sbp.check(net, "w2_1_1", "(a2_1 - y1)*heaviside(-z2_1)*a1_1")
    assert not r.ok
