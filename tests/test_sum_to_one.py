"""Softmax + cross-entropy: δ = a − y, stated with the assumption it rests on (Σ_j y_j = 1)."""

from __future__ import annotations

import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.activations import softmax_layer
from symbackprop.derive import SUM_TO_ONE, sum_to_one


def test_a_minus_y_holds_exactly_when_the_targets_sum_to_one():
    """Oracle: sympy.diff of −Σ y log softmax(z), with and without y_n = 1 − Σ others."""
    z, y = sp.symbols("z1:4"), sp.symbols("y1:4")
    J = -sum(yj * sp.log(aj) for yj, aj in zip(y, softmax_layer(list(z))))
    a = softmax_layer(list(z))
    for j in range(3):
        gap = sp.diff(J, z[j]) - (a[j] - y[j])
        assert sp.simplify(gap) != 0  # not for arbitrary targets
        assert sp.simplify(gap.xreplace({y[2]: 1 - y[0] - y[1]})) == 0


def test_the_derivation_prints_a_minus_y_and_says_what_it_assumes():
    net = sbp.mlp([2, 2, 3], ["tanh", "softmax"], "cross_entropy")
    assert net.backprop.assumed == {net.delta(2, j): net.a(2, j) - net.y(j) for j in (1, 2, 3)}
    text = net.derivation(net.b(2, 1)).text()
    assert "δ⁽²⁾₁ = a⁽²⁾₁ - y₁" in text and "targets sum to one" in text
    # The general form is still there, and still the truth.
    assert net.grad(net.b(2, 1)) == net.backprop.delta[net.delta(2, 1)] != net.a(2, 1) - net.y(1)


@pytest.mark.parametrize(
    "activation, loss", [("softmax", "quadratic"), ("sigmoid", "binary_cross_entropy"), ("sigmoid", "mse")]
)
def test_no_assumption_where_none_is_needed(activation, loss):
    net = sbp.mlp([2, 2], activation, loss)
    assert net.backprop.assumed == {} and sum_to_one(net) is None
    assert "sum to one" not in net.derivation(net.b(1, 1)).text()


def test_check_proves_a_minus_y_under_the_assumption_and_says_so():
    net = sbp.mlp([2, 2, 2], ["sigmoid", "softmax"], "cross_entropy")
    right = sbp.check(net, "b2_1", "a2_1 - y1")
    assert right.ok and right.outcomes["symbolic"] == f"proved equal, {SUM_TO_ONE}"
    assert sbp.check(net, "w2_1_2", "(a2_1 - y1)*a1_2").outcomes["symbolic"].startswith("proved equal")
    wrong = sbp.check(net, "b2_1", "a2_1 - y2")
    assert not wrong.ok and wrong.counterexample is not None
