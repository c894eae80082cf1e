"""The scalar computation graph: one NetworkX node per scalar quantity.

Nodes are keyed by symbol name (``"x1"``, ``"w1_2_1"``, ``"b1_2"``, ``"z1_2"``, ``"a1_2"``,
``"y1"``, ``"J"``) and carry the attributes

- ``kind``: ``"x"``, ``"weight"``, ``"bias"``, ``"z"``, ``"a"``, ``"y"`` or ``"loss"``;
- ``layer``: the layer l (0 for inputs, None for targets and J);
- ``index``: the indices, ``(j, k)`` for a weight, ``(j,)`` otherwise;
- ``symbol``: the SymPy Symbol;
- ``expr``: the node's definition in its predecessors' symbols (None for leaves).

An edge u → v means v's definition uses u. Its ``term`` attribute is the part of v's
definition that holds u (the summand w·a of a weighted sum, say), so the local partial
∂v/∂u can be taken on that term alone; :mod:`symbackprop.derive` adds ``partial``.
"""

from __future__ import annotations

import networkx as nx
import sympy as sp

from .spec import Spec

__all__ = ["build_graph"]


def _add(graph: nx.DiGraph, symbol: sp.Symbol, kind: str, layer, index, expr=None) -> None:
    graph.add_node(symbol.name, kind=kind, layer=layer, index=index, symbol=symbol, expr=expr)


def _connect(graph: nx.DiGraph, target: sp.Symbol, terms: dict[sp.Symbol, list[sp.Expr]]) -> None:
    for source, parts in terms.items():
        graph.add_edge(source.name, target.name, term=sp.Add(*parts))


def _terms_of(expr: sp.Expr) -> dict[sp.Symbol, list[sp.Expr]]:
    """Map each free symbol of ``expr`` to the summands of ``expr`` that hold it."""
    parts = expr.args if isinstance(expr, sp.Add) else (expr,)
    terms: dict[sp.Symbol, list[sp.Expr]] = {}
    for part in parts:
        for s in part.free_symbols:
            terms.setdefault(s, []).append(part)
    return terms


def build_graph(spec: Spec) -> nx.DiGraph:
    """Build the scalar computation graph of a network.

    Parameters
    ----------
    spec : Spec
        The network (a :class:`~symbackprop.Network` is one).

    Returns
    -------
    networkx.DiGraph
        One node per x, w, b, z, a, y and J; see the module docstring for the attributes.

    Examples
    --------
    >>> g = build_graph(Spec([2, 2, 1]))
    >>> g.nodes["z1_1"]["expr"]
    b1_1 + w1_1_1*x1 + w1_1_2*x2
    >>> sorted(g.predecessors("J"))
    ['a2_1', 'y1']
    >>> import networkx as nx
    >>> len(list(nx.all_simple_paths(g, "w1_1_1", "J")))
    1
    """
    g = nx.DiGraph(name=spec.describe())
    prev = list(spec.inputs)
    for k, x in enumerate(prev, start=1):
        _add(g, x, "x", 0, (k,))
    for layer, act in enumerate(spec.activations, start=1):
        n = spec.sizes[layer]
        zs = [spec.z(layer, j) for j in range(1, n + 1)]
        for j, z in enumerate(zs, start=1):
            weights = [spec.w(layer, j, k) for k in range(1, len(prev) + 1)]
            bias = spec.b(layer, j)
            for k, w in enumerate(weights, start=1):
                _add(g, w, "weight", layer, (j, k))
            _add(g, bias, "bias", layer, (j,))
            products = [w * a for w, a in zip(weights, prev)]
            _add(g, z, "z", layer, (j,), sp.Add(*products, bias))
            # The weighted sum's summands are known: no need to search the expression.
            terms = {bias: [bias]}
            for w, a, term in zip(weights, prev, products):
                terms[w] = [term]
                terms[a] = [term]
            _connect(g, z, terms)
        acts = [spec.a(layer, j) for j in range(1, n + 1)]
        exprs = act.layer(zs)
        for j, (a, expr) in enumerate(zip(acts, exprs), start=1):
            _add(g, a, "a", layer, (j,), expr)
            _connect(g, a, {z: [expr] for z in zs} if not act.elementwise else {zs[j - 1]: [expr]})
        prev = acts
    for j, y in enumerate(spec.targets, start=1):
        _add(g, y, "y", None, (j,))
    loss = spec.loss(spec.outputs, spec.targets)
    _add(g, spec.J, "loss", None, (), loss)
    _connect(g, spec.J, _terms_of(loss))
    return g
