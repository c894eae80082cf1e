"""The MLP is one producer of computations (issue 12, part 1).

``network_definitions`` is the one list of an MLP's definitions; ``build_graph`` (the
network's graph) and ``net.as_computation()`` (the network as a computation) are both built
from it by the one graph builder ``add_definition``, and both are differentiated by the one
reverse pass ``reverse_pass``. These tests compare the two entry by entry (symbols,
definitions, edges, terms, local partials) and check both gradients against ``sympy.diff``
of the fully expanded loss, composed in the test.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.backprop import Backprop, edge_partial, reverse_pass
from symbackprop.computations import realize
from symbackprop.graph import add_definition, build_cone, build_graph, network_definitions

ARCHITECTURES = [
    ([2, 2, 1], "sigmoid", "quadratic"),
    ([2, 3, 2], ["tanh", "softmax"], "cross_entropy"),
    ([1, 2, 2, 1], ["relu", "log(1 + exp(z))", "identity"], "mse"),
    ([2, 2, 3], ["z**3/3 + z", "softmax"], "quadratic"),
    ([3, 2, 1], ["leaky_relu", "sigmoid"], "binary_cross_entropy"),
]

ELEMENTWISE = ["sigmoid", "tanh", "relu", "identity", "softplus", "arctan", "log(1 + exp(z))", "z**3/3 + z"]


def assert_same_structure(net: sbp.Network) -> None:
    """The network's graph and its computation's graph hold what network_definitions says."""
    defs = list(network_definitions(net))
    comp = net.as_computation()
    g, cg = net.prepare_graph(None), comp.graph  # prepare_graph runs the reverse pass too

    # one list: the graph's nodes in its order, the computation's lines in theirs
    assert list(g.nodes) == [d.symbol.name for d in defs]
    defined = [d for d in defs if d.expr is not None]
    assert [s for s, _ in comp.definitions] == [d.symbol for d in defined]
    assert set(cg.nodes) == set(g.nodes)
    for d in defs:
        node, cnode = g.nodes[d.symbol.name], cg.nodes[d.symbol.name]
        assert (node["symbol"], node["expr"], node["kind"], node["layer"], node["index"]) == (
            d.symbol, d.expr, d.kind, d.layer, d.index)
        assert cnode["symbol"] == d.symbol and cnode["expr"] == d.expr
        # the edges into each node are exactly the symbols its definition holds
        assert {u for u, _ in g.in_edges(d.symbol.name)} == {u.name for u in d.terms}
    for s, expr in comp.definitions:
        assert g.nodes[s.name]["expr"] == expr

    # the same edges, each with the same term and local partial
    assert set(g.edges) == set(cg.edges)
    for u, v in g.edges:
        mine, theirs = g.edges[u, v], cg.edges[u, v]
        assert realize(theirs["term"]) == mine["term"], (u, v)
        assert theirs["partial"] == mine["partial"], (u, v)


@pytest.mark.parametrize("sizes, act, loss", ARCHITECTURES)
def test_network_graph_and_computation_come_from_one_definitions_list(sizes, act, loss):
    assert_same_structure(sbp.mlp(sizes, act, loss))


@settings(max_examples=12, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(ELEMENTWISE), min_size=3, max_size=3),
    output=st.sampled_from(["same", "softmax"]),
)
def test_random_architectures_give_one_structure(sizes, acts, output):
    layers = len(sizes) - 1
    act = acts[:layers]
    loss = "quadratic"
    if output == "softmax" and sizes[-1] > 1:
        act = act[:-1] + ["softmax"]
        loss = "cross_entropy"
    assert_same_structure(sbp.mlp(sizes, act, loss))


def test_the_cone_is_the_full_graphs_nodes_and_edges_with_their_partials():
    net = sbp.mlp([2, 3, 3, 2], ["tanh", "sigmoid", "softmax"], "cross_entropy")
    full = build_graph(net)
    Backprop(net, full)
    for p in (net.w(1, 2, 1), net.b(2, 3), net.w(3, 1, 2)):
        cone = build_cone(net, p)
        bp = Backprop(net, cone)
        assert set(cone.nodes) == {p.name} | nx.descendants(full, p.name)
        assert set(cone.edges) == set(full.subgraph(cone.nodes).edges)
        for u, v in cone.edges:
            assert cone.edges[u, v]["partial"] == full.edges[u, v]["partial"], (u, v)
        assert bp.grad(p) == net.grad(p)


# ------------------------------------------------------------------ gradients against sympy.diff
def resolve(expr: sp.Expr, deltas: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """``expr`` with every δ replaced by its definition, repeatedly, until none is left."""
    for _ in range(len(deltas) + 1):
        if not expr.free_symbols & set(deltas):
            return expr
        expr = expr.xreplace(deltas)
    raise AssertionError("the δ definitions do not terminate")


def forward(net: sbp.Network, point: dict[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
    """Exact values of every z and a at ``point``, composed here (sigmoid or softmax layers)."""
    values = dict(point)
    prev = [point[x] for x in net.inputs]
    for layer, act in enumerate(net.activations, start=1):
        n = net.sizes[layer]
        zs = [point[net.b(layer, j)] + sum(point[net.w(layer, j, k)] * a for k, a in enumerate(prev, start=1))
              for j in range(1, n + 1)]
        if act.name == "softmax":
            total = sum(sp.exp(z) for z in zs)
            prev = [sp.exp(z) / total for z in zs]
        else:
            assert act.name == "sigmoid"
            prev = [1 / (1 + sp.exp(-z)) for z in zs]
        values.update({net.z(layer, j): z for j, z in enumerate(zs, start=1)})
        values.update({net.a(layer, j): a for j, a in enumerate(prev, start=1)})
    return values


def by_hand(net: sbp.Network) -> sp.Expr:
    """J in x, y, w and b: the forward pass and the loss written here, not by the library."""
    prev = list(net.inputs)
    for layer, act in enumerate(net.activations, start=1):
        zs = [net.b(layer, j) + sum(net.w(layer, j, k) * a for k, a in enumerate(prev, start=1))
              for j in range(1, net.sizes[layer] + 1)]
        if act.name == "softmax":
            prev = [sp.exp(z) / sum(sp.exp(t) for t in zs) for z in zs]
        else:
            prev = [1 / (1 + sp.exp(-z)) for z in zs]
    if net.loss.name == "cross_entropy":
        return -sum(y * sp.log(a) for y, a in zip(net.targets, prev))
    return sum((a - y) ** 2 for a, y in zip(prev, net.targets)) / 2


@pytest.mark.parametrize("sizes, act, loss", [
    ([2, 2, 1], "sigmoid", "quadratic"),
    ([2, 3, 2], ["sigmoid", "softmax"], "cross_entropy"),
])
def test_both_gradients_equal_sympy_diff_of_the_expanded_loss(sizes, act, loss):
    net = sbp.mlp(sizes, act, loss)
    comp = net.as_computation()
    J = by_hand(net)
    rng = np.random.default_rng(12)
    for _ in range(2):
        point = {p: sp.Rational(int(rng.integers(-90, 90)), 100) for p in net.params}
        point.update({x: sp.Rational(int(rng.integers(-100, 100)), 50) for x in net.inputs})
        # targets that need not sum to one: the δ must be the general form, not a − y
        point.update({y: sp.Rational(int(rng.integers(5, 95)), 100) for y in net.targets})
        values = forward(net, point)
        for p in net.params:
            oracle = sp.diff(J, p).xreplace(point).evalf(40)
            from_net = resolve(net.grad(p), net.deltas).xreplace(values).evalf(40)
            from_comp = resolve(realize(comp.grad(p)), {d: realize(e) for d, e in comp.deltas.items()})
            from_comp = from_comp.xreplace(values).evalf(40)
            assert abs(from_net - oracle) < sp.Float("1e-30", 40), p
            assert abs(from_comp - oracle) < sp.Float("1e-30", 40), p
            for expanded in (net.grad(p, expand=True), comp.grad(p, expand=True)):
                assert abs(expanded.xreplace(point).evalf(40) - oracle) < sp.Float("1e-30", 40), p


# ------------------------------------------------------------------ the shared pieces
def test_reverse_pass_sums_over_paths_with_the_callers_naming_policy():
    w, x, u, v, J = sp.symbols("w x u v J")
    g = nx.DiGraph()
    add_definition(g, w, kind="param")
    add_definition(g, x, kind="input")
    add_definition(g, u, w * x, {w: [w * x], x: [w * x]}, kind="node")
    add_definition(g, v, sp.sin(u), {u: [sp.sin(u)]}, kind="node")
    add_definition(g, J, u * v, {u: [u * v], v: [u * v]}, kind="loss")  # u reaches J twice
    for a, _, edge in g.edges(data=True):
        edge["partial"] = edge_partial(edge, g.nodes[a]["symbol"], {})
    order = ["J", "v", "u", "w", "x"]
    # adjoints written out: J = u·sin(u), both paths from u (direct, and through v) summed
    adjoints: dict = {}
    reverse_pass(g, order, lambda c: adjoints[c], adjoints=adjoints)
    assert sp.expand(adjoints["w"] - x * (v + u * sp.cos(u))) == 0
    # adjoints named: δ_c for every defined consumer, and on_node records each one
    named, seen = {}, {}
    d = {n: sp.Symbol(f"delta_{n}") for n in ("u", "v")}

    def record(n, adjoint):
        seen[n] = adjoint
        return adjoint

    reverse_pass(g, order, lambda c: d.get(c, named.get(c)), record, named)
    assert named["w"] == d["u"] * x
    assert sp.expand(seen["u"] - (v + d["v"] * sp.cos(u))) == 0
    assert set(seen) == {"v", "u", "w", "x"}  # every node but the loss


def test_add_definition_skips_sources_outside_the_graph_and_keeps_given_partials():
    a, z, y, J = sp.symbols("a z y J")
    g = nx.DiGraph()
    add_definition(g, z, kind="z")
    add_definition(g, a, None, {z: None}, {z: a * (1 - a)}, kind="a")
    add_definition(g, J, (a - y) ** 2, {a: [(a - y) ** 2], y: [(a - y) ** 2]}, kind="loss")
    assert g.edges["z", "a"] == {"partial": a * (1 - a)}  # no term: the partial is given
    assert list(g.predecessors("J")) == ["a"]  # y is not a node of this graph
