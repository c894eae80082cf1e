"""The scalar computation graph: one NetworkX node per scalar quantity.

One path builds every graph of the project. :func:`network_definitions` is the one list of
an MLP's definitions (each z, a and J with its summands per symbol and its metadata);
:func:`add_definition` is the one graph builder, which adds a node and the term-carrying
edges into it: :func:`build_graph` feeds it the network's list, :func:`build_cone` the part
of it one parameter reaches, and :class:`~symbackprop.computations.Computation` its own
lines (``net.as_computation()`` reads the same list). The reverse pass over any of them is
:func:`~symbackprop.backprop.reverse_pass`.

Nodes are keyed by symbol name (``"x1"``, ``"w1_2_1"``, ``"b1_2"``, ``"z1_2"``, ``"a1_2"``,
``"y1"``, ``"J"``) and carry the attributes

- ``kind``: ``"x"``, ``"weight"``, ``"bias"``, ``"z"``, ``"a"``, ``"y"`` or ``"loss"``;
- ``layer``: the layer l (0 for inputs, None for targets and J);
- ``index``: the indices, ``(j, k)`` for a weight, ``(j,)`` otherwise;
- ``symbol``: the SymPy Symbol;
- ``expr``: the node's definition in its predecessors' symbols (None for leaves).

An edge u → v means v's definition uses u. Its ``term`` attribute is the part of v's
definition that holds u (the summand w·a of a weighted sum, say), so the local partial
∂v/∂u can be taken on that term alone; ``partial`` holds that local partial, from the
registry for an activation's edge z → a (set here), taken by :mod:`symbackprop.backprop`
for the others.

Size. The graph has Σ_l n_l n_(l−1) weight nodes and about twice as many edges, so a
1000-1000-1000 network has four million edges: minutes and gigabytes to build.
:func:`graph_size` counts them from the layer sizes before anything is built, and
:func:`check_graph_size` refuses past a limit (:data:`DEFAULT_MAX_GRAPH_EDGES`).
One parameter's gradient needs much less: :func:`build_cone` builds only the *cone* of
p, the nodes p reaches on its way to J (its neuron, then every neuron of the later
layers) and the edges among them. Every node of the cone has the same successors as in
the full graph, so the reverse pass over the cone gives the same adjoints and δ.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, NamedTuple

import networkx as nx
import sympy as sp

from .errors import GraphTooLargeError
from .notation import parse_name
from .spec import Spec

__all__ = [
    "Definition",
    "network_definitions",
    "add_definition",
    "terms_of",
    "build_graph",
    "build_cone",
    "definition",
    "graph_size",
    "cone_size",
    "check_graph_size",
    "graph_limit",
    "current_graph_limit",
    "GraphSize",
    "DEFAULT_MAX_GRAPH_EDGES",
    "CURRENT_LIMIT",
]

#: Scalar graphs (or cones) of more edges than this are refused unless the caller accepts
#: the cost. Building and differentiating costs about 0.1 ms per edge (about 10 s here).
DEFAULT_MAX_GRAPH_EDGES = 100_000


_LIMIT: ContextVar[int | None] = ContextVar("symbackprop_graph_limit", default=DEFAULT_MAX_GRAPH_EDGES)


class _CurrentLimit:
    """Default of every ``max_edges`` argument: the limit :func:`graph_limit` set."""

    def __repr__(self) -> str:
        return "current_graph_limit()"


#: Stands for :func:`current_graph_limit` as the default of ``max_edges`` arguments.
CURRENT_LIMIT: object = _CurrentLimit()


def current_graph_limit() -> int | None:
    """The largest scalar graph built without being asked, in edges (None: no limit).

    Examples
    --------
    >>> current_graph_limit() == DEFAULT_MAX_GRAPH_EDGES
    True
    """
    return _LIMIT.get()


@contextmanager
def graph_limit(max_edges: int | None) -> Iterator[None]:
    """Within the block, build scalar graphs (and cones) of up to ``max_edges`` edges.

    Parameters
    ----------
    max_edges : int or None
        The new limit; None accepts any size.

    Examples
    --------
    >>> with graph_limit(None):
    ...     current_graph_limit() is None
    True
    >>> current_graph_limit() == DEFAULT_MAX_GRAPH_EDGES
    True
    """
    if max_edges is not None and (isinstance(max_edges, bool) or not isinstance(max_edges, int) or max_edges < 1):
        from .errors import SpecError

        raise SpecError(f"max_edges must be a positive integer or None; got {max_edges!r}.")
    token = _LIMIT.set(max_edges)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def _resolve(max_edges: int | None | object) -> int | None:
    return _LIMIT.get() if max_edges is CURRENT_LIMIT else max_edges  # type: ignore[return-value]


class GraphSize(NamedTuple):
    """Number of nodes and edges of a scalar graph (or of one parameter's cone)."""

    nodes: int
    edges: int


#: The terms of a leaf: it uses nothing.
_NO_TERMS: Mapping[sp.Symbol, list[sp.Expr] | None] = MappingProxyType({})


class Definition(NamedTuple):
    """One node of a network's scalar graph, as :func:`network_definitions` yields it.

    ``terms`` files the summands of ``expr`` under each symbol they hold (the edges into the
    node, each carrying its summands as ``term``); ``partials`` holds the local partials
    known in textbook form (an activation's a' = a(1 − a), softmax's a_j(δ_jk − a_k)),
    which are taken from the registry rather than differentiated.
    """

    symbol: sp.Symbol
    expr: sp.Expr | None
    terms: Mapping[sp.Symbol, list[sp.Expr] | None]
    kind: str
    layer: int | None
    index: tuple[int, ...]
    partials: Mapping[sp.Symbol, sp.Expr] | None = None


def add_definition(
    graph: nx.DiGraph,
    symbol: sp.Symbol,
    expr: sp.Expr | None = None,
    terms: Mapping[sp.Symbol, Sequence[sp.Expr] | None] = _NO_TERMS,
    partials: Mapping[sp.Symbol, sp.Expr] | None = None,
    **attrs: Any,
) -> None:
    """Add the node ``symbol`` (keyed by its name) and an edge from each symbol it uses.

    The one graph builder of the project: the network's graph (:func:`build_graph`), a
    parameter's cone (:func:`build_cone`) and a computation's graph
    (:class:`~symbackprop.computations.Computation`) are all built by it.

    Parameters
    ----------
    graph : networkx.DiGraph
        The graph; the sources must already be in it.
    symbol : Symbol
        The node; its attributes are ``symbol``, ``expr`` and ``attrs``.
    expr : Expr or None
        Its definition (None for a leaf, or where it is not built, as in a cone).
    terms : mapping
        Each source symbol to the summands of ``expr`` that hold it: the edge gets their
        sum as ``term``, from which the local partial is taken. A source mapped to None gets
        an edge without a term (its partial must be in ``partials``). Sources that are not
        nodes of ``graph`` (a cone's, say) get no edge.
    partials : mapping, optional
        Local partials known in textbook form, by source: stored as the edge's ``partial``.

    Examples
    --------
    >>> import networkx as nx
    >>> w, x, u = sp.symbols("w x u")
    >>> g = nx.DiGraph()
    >>> add_definition(g, w, kind="param"); add_definition(g, x, kind="input")
    >>> add_definition(g, u, w * x + 1, {w: [w * x], x: [w * x]}, kind="node")
    >>> g.edges["w", "u"]
    {'term': w*x}
    """
    graph.add_node(symbol.name, symbol=symbol, expr=expr, **attrs)
    target, nodes = symbol.name, graph.nodes
    for source, parts in terms.items():
        node = nodes.get(source.name)
        if node is None or node["symbol"] != source:
            continue
        data = {} if parts is None else {"term": sp.Add(*parts)}
        if partials is not None:
            partial = partials.get(source)
            if partial is not None:
                data["partial"] = partial
        graph.add_edge(source.name, target, **data)


def terms_of(expr: sp.Expr) -> dict[sp.Symbol, list[sp.Expr]]:
    """Map each free symbol of ``expr`` to the summands of ``expr`` that hold it.

    One pass over the summands: a weighted sum of n terms costs n, not n² (n edges, each
    differentiating only its own terms).

    Examples
    --------
    >>> w, x, b = sp.symbols("w x b")
    >>> sorted(terms_of(w * x + b).items(), key=str)
    [(b, [b]), (w, [w*x]), (x, [w*x])]
    """
    terms: dict[sp.Symbol, list[sp.Expr]] = {}
    for part in sp.Add.make_args(expr):
        for s in part.free_symbols:
            terms.setdefault(s, []).append(part)
    return terms


def _weighted_sum(spec: Spec, layer: int, j: int) -> tuple[list, Definition]:
    """The weights of neuron j of ``layer`` and the definition z^(l)_j = Σ_k w·a + b.

    The one place the weighted sum is written: :func:`network_definitions` and
    :func:`definition` (a cone's definitions, built on demand) both take it from here.
    """
    prev = [spec.a(layer - 1, k) for k in range(1, spec.sizes[layer - 1] + 1)]
    weights = [spec.w(layer, j, k) for k in range(1, len(prev) + 1)]
    products = [w * a for w, a in zip(weights, prev)]
    bias = spec.b(layer, j)
    # The weighted sum's summands are known: no need to search the expression.
    terms: dict[sp.Symbol, list[sp.Expr] | None] = {bias: [bias]}
    for w, a, term in zip(weights, prev, products):
        terms[w] = [term]
        terms[a] = [term]
    z = Definition(spec.z(layer, j), sp.Add(*products, bias), terms, "z", layer, (j,))
    return weights, z


def _activation_partial(act: Any, j: int, k: int, zs: Sequence[sp.Symbol], acts: Sequence[sp.Symbol]) -> sp.Expr:
    """∂a_j/∂z_k of one layer (1-based), in textbook form from the registry."""
    if act.elementwise:
        return act.local_partial(zs[k - 1], acts[j - 1])
    return act.jacobian(j - 1, k - 1, acts)


def _layer_outputs(spec: Spec, layer: int, zs: Sequence[sp.Symbol]) -> Iterator[Definition]:
    """The definitions of a^(l)_j for every j: f(z_j), or softmax over the whole layer."""
    act = spec.activations[layer - 1]
    acts = [spec.a(layer, j) for j in range(1, len(zs) + 1)]
    for j, (a, expr) in enumerate(zip(acts, act.layer(zs)), start=1):
        sources = range(j, j + 1) if act.elementwise else range(1, len(zs) + 1)
        terms = {zs[k - 1]: [expr] for k in sources}
        partials = {zs[k - 1]: _activation_partial(act, j, k, zs, acts) for k in sources}
        yield Definition(a, expr, terms, "a", layer, (j,), partials)


def network_definitions(spec: Spec) -> Iterator[Definition]:
    """Every node of the network's scalar graph, in order, with its definition.

    The one description of an MLP: x, then for each layer each neuron's weights, bias and
    z, then the layer's a, then y and J. :func:`build_graph` adds them to a graph;
    :func:`~symbackprop.computations.from_network` (``net.as_computation()``) makes the
    defined ones (z, a, J) the lines of a computation. Leaves have ``expr`` None.

    Examples
    --------
    >>> [(d.symbol, d.expr) for d in network_definitions(Spec([1, 1], "identity")) if d.expr is not None]
    [(z1_1, b1_1 + w1_1_1*x1), (a1_1, z1_1), (J, (a1_1 - y1)**2/2)]
    >>> [d.kind for d in network_definitions(Spec([1, 1]))]
    ['x', 'weight', 'bias', 'z', 'a', 'y', 'loss']
    """
    for k, x in enumerate(spec.inputs, start=1):
        yield Definition(x, None, _NO_TERMS, "x", 0, (k,))
    for layer in range(1, spec.n_layers + 1):
        zs = []
        for j in range(1, spec.sizes[layer] + 1):
            weights, z = _weighted_sum(spec, layer, j)
            for k, w in enumerate(weights, start=1):
                yield Definition(w, None, _NO_TERMS, "weight", layer, (j, k))
            yield Definition(spec.b(layer, j), None, _NO_TERMS, "bias", layer, (j,))
            yield z
            zs.append(z.symbol)
        yield from _layer_outputs(spec, layer, zs)
    for j, y in enumerate(spec.targets, start=1):
        yield Definition(y, None, _NO_TERMS, "y", None, (j,))
    loss = spec.loss(spec.outputs, spec.targets)
    yield Definition(spec.J, loss, terms_of(loss), "loss", None, ())


def graph_size(spec: Spec) -> GraphSize:
    """Nodes and edges of the network's scalar graph, counted from the layer sizes.

    Exact for the registered losses (each output and target feeds J once); a custom loss
    may use fewer of them.

    Examples
    --------
    >>> graph_size(Spec([2, 2, 1]))
    GraphSize(nodes=19, edges=20)
    >>> graph_size(Spec([1000, 1000, 1000])).edges
    4006000
    """
    s = spec.sizes
    nodes, edges = s[0] + s[-1] + 1, 2 * s[-1]
    for layer, act in enumerate(spec.activations, start=1):
        n, m = s[layer], s[layer - 1]
        nodes += n * m + 3 * n  # weights, biases, z, a
        edges += n * (2 * m + 1) + (n if act.elementwise else n * n)
    return GraphSize(nodes, edges)


def _param_position(spec: Spec, p: sp.Symbol) -> tuple[str, int, tuple[int, ...]]:
    parsed = parse_name(p.name)
    if parsed is None or parsed.head not in ("w", "b"):
        raise ValueError(f"{p} is not a parameter")  # callers resolve names first
    return ("weight" if parsed.head == "w" else "bias"), parsed.layer, parsed.index


def cone_size(spec: Spec, p: sp.Symbol) -> GraphSize:
    """Nodes and edges of :func:`build_cone` for parameter ``p``, counted, not built.

    Examples
    --------
    >>> spec = Spec([1000, 1000, 1000])
    >>> cone_size(spec, spec.w(1, 1, 1))
    GraphSize(nodes=2004, edges=3002)
    """
    _, layer, _ = _param_position(spec, p)
    s, L = spec.sizes, spec.n_layers
    nodes, edges = 3, 1  # p, its z, J; the edge p -> z
    width = 1  # z nodes of the current layer in the cone
    for m in range(layer, L + 1):
        act = spec.activations[m - 1]
        if act.elementwise:
            nodes += width
            edges += width
        else:  # softmax: every a of the layer depends on every z
            nodes += s[m]
            edges += width * s[m]
        if m < L:
            nodes += s[m + 1]
            edges += s[m + 1] * (width if act.elementwise else s[m])
        width = s[m + 1] if m < L else width
    edges += s[L] if (L > layer or not spec.activations[L - 1].elementwise) else 1
    return GraphSize(nodes, edges)


def check_graph_size(size: GraphSize, max_edges: int | None | object, what: str) -> None:
    """Refuse (:class:`~symbackprop.errors.GraphTooLargeError`) a graph past ``max_edges``
    (:data:`CURRENT_LIMIT`: the limit :func:`graph_limit` set).

    Examples
    --------
    >>> check_graph_size(GraphSize(10, 20), 100, "the graph")
    >>> check_graph_size(GraphSize(10, 200), 100, "the graph")
    Traceback (most recent call last):
    ...
    symbackprop.errors.GraphTooLargeError: the graph has 200 edges and 10 nodes ...
    """
    limit = _resolve(max_edges)
    if limit is not None and size.edges > limit:
        raise GraphTooLargeError(what, size.nodes, size.edges, limit)


def definition(spec: Spec, symbol: sp.Symbol, *, totals: dict | None = None) -> sp.Expr | None:
    """The definition of one z, a or J symbol, exactly as :func:`network_definitions` writes it
    (built alone, for a cone's expansions: no layer around it is built).

    ``totals`` caches each softmax layer's outputs (over one shared denominator) between
    calls. None for leaves.

    Examples
    --------
    >>> spec = Spec([2, 2, 1])
    >>> definition(spec, spec.z(2, 1))
    a1_1*w2_1_1 + a1_2*w2_1_2 + b2_1
    >>> definition(spec, spec.a(1, 1))
    1/(1 + exp(-z1_1))
    """
    if symbol.name == "J":
        return spec.loss(spec.outputs, spec.targets)
    parsed = parse_name(symbol.name)
    if parsed is None or parsed.head not in ("z", "a") or not parsed.layer:
        return None
    layer, (j,) = parsed.layer, parsed.index
    if parsed.head == "z":
        return _weighted_sum(spec, layer, j)[1].expr
    act = spec.activations[layer - 1]
    if act.elementwise:
        return act(spec.z(layer, j))
    totals = {} if totals is None else totals
    outputs = totals.get(layer)
    if outputs is None:
        outputs = totals[layer] = act.layer([spec.z(layer, k) for k in range(1, spec.sizes[layer] + 1)])
    return outputs[j - 1]


def build_graph(spec: Spec) -> nx.DiGraph:
    """Build the scalar computation graph of a network: :func:`network_definitions`, each
    added by :func:`add_definition`.

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
    for d in network_definitions(spec):
        add_definition(g, d.symbol, d.expr, d.terms, d.partials, kind=d.kind, layer=d.layer, index=d.index)
    return g


def build_cone(spec: Spec, p: sp.Symbol) -> nx.DiGraph:
    """The sub-graph of the scalar graph that parameter ``p`` reaches: p and its descendants.

    Nodes and edges carry the attributes of :func:`build_graph`, except that z and a nodes
    have ``expr`` None and the edges z → a no ``term`` (only their ``partial``, from the
    registry as in :func:`network_definitions`): a weighted sum over the whole previous
    layer is what the cone avoids building, and a wide layer's activations cost
    milliseconds each (:func:`definition` builds one on demand). The graph attribute ``cone`` is
    ``p``'s name. Cost: :func:`cone_size`, a few thousand edges for a first-layer weight
    of a 1000-1000-1000 network whose full graph has four million.

    Examples
    --------
    >>> spec = Spec([2, 2, 1])
    >>> g = build_cone(spec, spec.w(1, 1, 2))
    >>> list(g.nodes)
    ['w1_1_2', 'z1_1', 'a1_1', 'z2_1', 'a2_1', 'J']
    >>> g.edges["a1_1", "z2_1"]["term"]
    a1_1*w2_1_1
    """
    kind, layer, index = _param_position(spec, p)
    g = nx.DiGraph(name=spec.describe(), cone=p.name)
    L = spec.n_layers
    add_definition(g, p, kind=kind, layer=layer, index=index)
    j = index[0]
    term = p * spec.a(layer - 1, index[1]) if kind == "weight" else p
    add_definition(g, spec.z(layer, j), None, {p: [term]}, kind="z", layer=layer, index=(j,))
    front = [j]  # indices of this layer's z nodes in the cone
    for m in range(layer, L + 1):
        act = spec.activations[m - 1]
        n = spec.sizes[m]
        zs = [spec.z(m, i) for i in range(1, n + 1)]
        acts = [spec.a(m, i) for i in range(1, n + 1)]
        reached = front if act.elementwise else list(range(1, n + 1))
        for i in reached:
            sources = (i,) if act.elementwise else front
            add_definition(g, acts[i - 1], None, dict.fromkeys([zs[k - 1] for k in sources]),
                           {zs[k - 1]: _activation_partial(act, i, k, zs, acts) for k in sources},
                           kind="a", layer=m, index=(i,))
        if m == L:
            break
        for i in range(1, spec.sizes[m + 1] + 1):
            terms = {acts[k - 1]: [spec.w(m + 1, i, k) * acts[k - 1]] for k in reached}
            add_definition(g, spec.z(m + 1, i), None, terms, kind="z", layer=m + 1, index=(i,))
        front = list(range(1, spec.sizes[m + 1] + 1))
    loss = spec.loss(spec.outputs, spec.targets)
    add_definition(g, spec.J, loss, terms_of(loss), kind="loss", layer=None, index=())
    return g
