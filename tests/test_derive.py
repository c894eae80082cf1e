"""The symbolic gradients against independent oracles: sympy.diff and finite differences."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import close, expanded_loss, finite_difference, random_point, value

import symbackprop as sbp
from symbackprop.activations import ACTIVATIONS, A, Z, softmax_layer, softmax_partial

ELEMENTWISE = [name for name, act in ACTIVATIONS.items() if act.elementwise]


def assert_matches_oracles(net: sbp.Network, seed: int = 0, params=None, fd_rtol: float = 1e-5) -> None:
    """Every (or the given) parameter's expanded gradient equals sympy.diff and finite differences."""
    rng = np.random.default_rng(seed)
    J = expanded_loss(net)
    point = random_point(net, rng)
    for p in params or net.params:
        ours = value(net.grad(p, expand=True), point)
        oracle = value(sp.diff(J, p), point)
        assert close(ours, oracle, rtol=1e-9, atol=1e-12), (p, ours, oracle)
        fd = finite_difference(J, p, point)
        assert close(ours, fd, rtol=fd_rtol, atol=1e-7), (p, ours, fd)


@pytest.mark.parametrize("activation", ELEMENTWISE)
def test_every_activation_against_oracles(activation):
    assert_matches_oracles(sbp.mlp([2, 2, 1], activation=activation, loss="quadratic"))


@pytest.mark.parametrize(
    "sizes, activation, loss",
    [
        ([2, 2, 2], "sigmoid", "quadratic"),
        ([2, 2, 2], "tanh", "mse"),
        ([2, 3, 1], ["relu", "sigmoid"], "binary_cross_entropy"),
        ([2, 2, 3], ["tanh", "softmax"], "cross_entropy"),
        ([3, 2, 2], ["arctan", "softmax"], "quadratic"),
        ([2, 2, 1], ["softplus", "sigmoid"], "cross_entropy"),
        ([1, 2, 2, 1], ["tanh", "leaky_relu", "identity"], "quadratic"),
        ([2, 2, 2, 2, 1], ["sigmoid", "tanh", "relu", "sigmoid"], "binary_cross_entropy"),
    ],
)
def test_architectures_against_oracles(sizes, activation, loss):
    assert_matches_oracles(sbp.mlp(sizes, activation=activation, loss=loss))


@pytest.mark.parametrize("loss", sorted(sbp.LOSSES))
def test_every_loss_against_oracles(loss):
    act = ["tanh", "softmax"] if loss == "cross_entropy" else "sigmoid"
    assert_matches_oracles(sbp.mlp([2, 2, 2], activation=act, loss=loss))


def test_symbolic_equality_on_a_small_net():
    net = sbp.mlp([1, 1, 1], activation="tanh", loss="quadratic")
    J = expanded_loss(net)
    for p in net.params:
        assert sp.simplify(net.grad(p, expand=True) - sp.diff(J, p)) == 0


def test_custom_activation_and_loss():
    net = sbp.mlp([2, 2], activation="z**3/3 + sin(z)", loss="(y1 - a1_1)**2 + 3*(y2 - a1_2)**2")
    assert_matches_oracles(net)
    z = sp.Symbol("z")
    net = sbp.mlp([2, 2, 1], activation=[sp.Lambda(z, z * sp.tanh(z)), "sigmoid"], loss="a2_1")
    assert_matches_oracles(net)
    assert net.grad("w2_1_1") == net.a(1, 1) * net.a(2, 1) * (1 - net.a(2, 1))


@settings(max_examples=20, deadline=None)
@given(
    widths=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(ELEMENTWISE), min_size=3, max_size=3),
    loss=st.sampled_from(["quadratic", "mse", "binary_cross_entropy"]),
    softmax=st.booleans(),
    seed=st.integers(0, 2**16),
    pick=st.integers(0, 10_000),
)
def test_random_architectures(widths, acts, loss, softmax, seed, pick):
    activation = acts[: len(widths) - 1]
    if loss == "binary_cross_entropy":
        activation[-1] = "sigmoid"
    if softmax and widths[-1] >= 2:
        activation[-1], loss = "softmax", "cross_entropy"
    net = sbp.mlp(widths, activation=activation, loss=loss)
    p = net.params[pick % len(net.params)]
    assert_matches_oracles(net, seed=seed, params=[p], fd_rtol=1e-4)


@pytest.mark.parametrize("name", [n for n, a in ACTIVATIONS.items() if a.output_derivative is not None])
def test_textbook_output_forms_equal_sympy_diff(name):
    act = ACTIVATIONS[name]
    textbook = act.output_derivative.xreplace({A: act.expr})
    assert sp.simplify(textbook - sp.diff(act.expr, Z)) == 0


def test_softmax_textbook_partials_equal_sympy_diff():
    zs = sp.symbols("z1:4")
    outs = softmax_layer(list(zs))
    for i in range(3):
        for j in range(3):
            textbook = softmax_partial(i, j, outs)
            assert sp.simplify(textbook - sp.diff(outs[i], zs[j])) == 0


def test_relu_derivative_at_zero_is_zero():
    act = ACTIVATIONS["relu"]
    assert act.derivative().subs(Z, 0) == 0
    net = sbp.mlp([1, 1], activation="relu", loss="quadratic")
    # z = w*x + b = 0 exactly: PyTorch's convention gives a zero gradient.
    d = net.derivation("w1_1_1").at({"w1_1_1": 1.0, "b1_1": -2.0}, x=[2.0], y=[1.0])
    assert d.value(d.compact) == 0.0
    leaky = ACTIVATIONS["leaky_relu"].derivative()
    assert leaky.subs(Z, 0) == sp.Rational(1, 100)


def test_compact_forms_are_textbook():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    a21, a11, y1 = net.a(2, 1), net.a(1, 1), net.y(1)
    assert net.grad(net.w(2, 1, 1)) == (a21 - y1) * a21 * (1 - a21) * a11
    assert net.grad("b2_1") == (a21 - y1) * a21 * (1 - a21)
    d21, d22 = net.delta(2, 1), net.delta(2, 2)
    assert net.grad("w1_1_1") == net.x(1) * a11 * (1 - a11) * (net.w(2, 1, 1) * d21 + net.w(2, 2, 1) * d22)
    bce = sbp.mlp([2, 1], activation="sigmoid", loss="binary_cross_entropy")
    assert bce.grad("b1_1") == bce.a(1, 1) - bce.y(1)
    tanh = sbp.mlp([1, 1], activation="tanh", loss="quadratic")
    assert tanh.deltas[tanh.delta(1, 1)] == (1 - tanh.a(1, 1) ** 2) * (tanh.a(1, 1) - tanh.y(1))


def test_expanded_form_only_in_inputs_targets_and_parameters():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    allowed = set(net.params) | set(net.inputs) | set(net.targets)
    for p in net.params:
        assert net.grad(p, expand=True).free_symbols <= allowed


def test_expanded_form_refuses_when_too_large():
    net = sbp.mlp([4, 8, 8, 8, 8, 1], activation="sigmoid")
    with pytest.raises(sbp.ExpressionTooLargeError, match=r"operations \(limit 100,000\)"):
        net.grad("w1_1_1", expand=True)
    # The compact form of every parameter is cheap.
    assert len(net.gradients()) == len(net.params)
    assert net.grad("w5_1_1", expand=True, max_size=None).free_symbols


def test_graph_is_plain_networkx():
    net = sbp.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy")
    g = net.graph
    n_w = 2 * 3 + 3 * 2
    assert g.number_of_nodes() == 2 + n_w + 5 + 5 + 5 + 2 + 1
    assert {d["kind"] for _, d in g.nodes(data=True)} == {"x", "weight", "bias", "z", "a", "y", "loss"}
    node = g.nodes["w1_2_1"]
    assert (node["kind"], node["layer"], node["index"], node["symbol"]) == ("weight", 1, (2, 1), net.w(1, 2, 1))
    assert g.nodes["z1_2"]["expr"] == net.w(1, 2, 1) * net.x(1) + net.w(1, 2, 2) * net.x(2) + net.b(1, 2)
    # softmax: every z of the output layer feeds every a of it.
    assert set(g.successors("z2_1")) == {"a2_1", "a2_2"}
    paths = list(nx.all_simple_paths(g, "w1_1_1", "J"))
    assert len(paths) == 4
    assert nx.is_directed_acyclic_graph(g)
    # Every edge carries its local partial once the gradients are derived.
    _ = net.backprop
    assert all("partial" in d for _, _, d in g.edges(data=True))
