"""Symbolic reverse mode over the scalar graph: the chain rule, written in named symbols.

How it works
------------
Seed ∂J/∂J = 1, then visit the nodes in reverse topological order. Each node's adjoint
is the sum over its consumers c of (c's adjoint × the local partial ∂c/∂node). That loop is
:func:`reverse_pass`, the one reverse pass of the project: :class:`Backprop` runs it over an
MLP's graph and :class:`~symbackprop.computations.Computation` over any computation's, each
passing its naming policy (the MLP names δ^(l)_j at z nodes only; a computation names δ_v at
every defined node). Two choices keep every formula small:

- the adjoint of a weighted input z^(l)_j is referred to by its name δ^(l)_j, never
  by its value, so ∂J/∂w^(l)_jk = δ^(l)_j a^(l−1)_k whatever the depth;
- a local partial is taken by ``sympy.diff`` on the one summand of the consumer's
  definition that holds the variable (``term`` on the graph edge), not on the whole
  weighted sum, and only once per distinct shape of summand (all w·a terms share
  one; :func:`edge_partial`, :func:`diff_shape`); activations use their textbook form
  (σ' = a(1 − a)) from the registry, put on the edge by
  :func:`~symbackprop.graph.network_definitions`.

The cost is a renaming per edge and one small ``diff`` per shape: linear in the
number of edges. The expanded
forms (in x, y, w, b only) substitute the forward definitions and the δ recursion; they
share subexpressions while being built, but their printed size grows exponentially with
depth, so :meth:`Backprop.expanded` measures it first and refuses past a limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import networkx as nx
import sympy as sp

from .activations import at_kinks
from .errors import ExpressionTooLargeError
from .graph import definition
from .notation import parse_name, real_symbol
from .spec import Spec

__all__ = ["Backprop", "reverse_pass", "edge_partial", "tree_size", "check_expanded_size", "DEFAULT_MAX_SIZE", "SUM_TO_ONE",
           "sum_to_one"]

# Placeholder symbols for differentiating a term's shape once (see diff_shape).
_U = real_symbol("_u")
_PLACEHOLDERS: list[sp.Symbol] = []

#: Output δ larger than this many tree nodes are not tidied (see ``Backprop._tidy``).
TIDY_MAX_SIZE = 60

#: Expanded expressions larger than this many tree nodes are refused unless asked for.
DEFAULT_MAX_SIZE = 100_000


def check_expanded_size(n: int, max_size: int, what: str, derivatives: str = "gradients") -> None:
    """Refuse (:class:`~symbackprop.errors.ExpressionTooLargeError`) an expanded form of
    ``n`` tree nodes past ``max_size``: the one size guard of every ``expanded``.

    Examples
    --------
    >>> check_expanded_size(10, 100, "dJ/dw")
    >>> check_expanded_size(1_000, 100, "dJ/dw")
    Traceback (most recent call last):
    ...
    symbackprop.errors.ExpressionTooLargeError: The expanded form of dJ/dw has about 1,000 operations (limit 100); ...
    """
    if n > max_size:
        raise ExpressionTooLargeError(
            f"The expanded form of {what} has about {n:,} operations (limit {max_size:,}); "
            f"expanded {derivatives} grow exponentially with depth. Use the compact form "
            "(expand=False), or pass max_size=None to build it anyway."
        )


def tree_size(expr: sp.Basic) -> int:
    """Number of nodes of ``expr`` as a tree (what printing it costs), counted on its DAG.

    Shared subexpressions are counted once per use, as a printer would print them, but
    visited once, so this is fast even when the answer is astronomically large.

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> tree_size(x * y + 1)
    5
    """
    return _dag_size(expr)


def _dag_size(expr: sp.Basic, defined: Callable[[sp.Basic, Callable[[sp.Basic], int]], int | None] | None = None) -> int:
    """The walk behind :func:`tree_size` and the ``expanded_size`` methods: each node counts
    1 plus its arguments, each distinct subexpression is visited once. ``defined(e, size)``
    gives the size of a symbol that stands for an expression (a z, a or δ: the size of its
    expansion, measured with ``size``), or None for a node to walk as it is."""
    memo: dict[sp.Basic, int] = {}

    def size(e: sp.Basic) -> int:
        if defined is not None:
            n = defined(e, size)
            if n is not None:
                return n
        if not e.args:
            return 1
        n = memo.get(e)
        if n is None:
            n = memo[e] = 1 + sum(size(a) for a in e.args)
        return n

    return size(expr)


def tidy(expr: sp.Expr) -> sp.Expr:
    """``expr``, or its factored form when that is at most half the size.

    This turns the sigmoid + binary cross-entropy output δ, a(1 − a)((1 − y)/(1 − a) − y/a),
    into the textbook a − y, and leaves forms that are already textbook alone.

    Examples
    --------
    >>> a, y = sp.symbols("a y")
    >>> tidy(a * (1 - a) * ((1 - y) / (1 - a) - y / a))
    a - y
    >>> tidy(a * (1 - a) * (a - y))
    a*(1 - a)*(a - y)
    """
    candidate = sp.factor(sp.cancel(expr))
    return candidate if 2 * tree_size(candidate) <= tree_size(expr) else expr


def diff_shape(term: sp.Expr, var: sp.Symbol, cache: dict[sp.Expr, sp.Expr]) -> sp.Expr:
    """``sympy.diff(term, var)`` with the kink convention (:func:`at_kinks`), taken once per
    shape of ``term`` (kept in ``cache``).

    The thousands of edges w·a → z share one shape: the term is renamed to placeholders
    (var → u, the other symbols → v0, v1, ... in name order), the placeholder form is
    differentiated once, and each edge renames the result back.

    Examples
    --------
    >>> w, a = sp.symbols("w a", real=True)
    >>> diff_shape(w * a, w, {})
    a
    """
    others = sorted(term.free_symbols - {var}, key=lambda s: s.name)
    while len(_PLACEHOLDERS) < len(others):
        _PLACEHOLDERS.append(real_symbol(f"_v{len(_PLACEHOLDERS)}"))
    forward = {var: _U, **dict(zip(others, _PLACEHOLDERS))}
    shape = term.xreplace(forward)
    partial = cache.get(shape)
    if partial is None:
        partial = cache[shape] = at_kinks(sp.diff(shape, _U))
    return partial.xreplace({v: k for k, v in forward.items()})


def tidy_shape(expr: sp.Expr, cache: dict[sp.Expr, sp.Expr]) -> sp.Expr:
    """:func:`tidy`, taken once per shape (kept in ``cache``); ``expr`` as it is past
    ``TIDY_MAX_SIZE`` tree nodes (see ``Backprop._tidy``).

    Examples
    --------
    >>> a, y = sp.symbols("a y")
    >>> tidy_shape(a * (1 - a) * ((1 - y) / (1 - a) - y / a), {})
    a - y
    """
    if tree_size(expr) > TIDY_MAX_SIZE:
        return expr
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    forward = {s: sp.Symbol(f"_t{i:06d}", **s.assumptions0) for i, s in enumerate(symbols)}
    shape = expr.xreplace(forward)
    done = cache.get(shape)
    if done is None:
        done = cache[shape] = tidy(shape)
    return done.xreplace({v: k for k, v in forward.items()})


def edge_partial(edge: dict, var: sp.Symbol, cache: dict[sp.Expr, sp.Expr]) -> sp.Expr:
    """The local partial of one graph edge u → v: the one its producer gave in textbook form
    (``partial``: an activation's, from the registry), else :func:`diff_shape` of the
    edge's ``term`` (the summands of v's definition that hold u) by u's symbol ``var``.

    Examples
    --------
    >>> w, a = sp.symbols("w a", real=True)
    >>> edge_partial({"term": w * a}, w, {}), edge_partial({"partial": a * (1 - a)}, w, {})
    (a, a*(1 - a))
    """
    given = edge.get("partial")
    if given is not None:
        return given
    return diff_shape(edge["term"], var, cache)


def reverse_pass(
    graph: nx.DiGraph,
    order: Iterable[str],
    named_adjoint: Callable[[str], sp.Expr],
    on_node: Callable[[str, sp.Expr], sp.Expr] | None = None,
    adjoints: dict[str, sp.Expr] | None = None,
) -> dict[str, sp.Expr]:
    """The chain rule over ``graph``, in reverse: the one reverse pass of the project.

    Each node v of ``order`` (every node, consumers before what they use) gets the adjoint
    ∂J/∂v = Σ over its consumers c of ``named_adjoint(c)`` · ∂c/∂v, the local partial being
    the edge's ``partial`` (:func:`edge_partial`); the loss (kind ``"loss"``) is seeded
    with 1. Each edge is visited once. The naming policy is the caller's:
    ``named_adjoint`` says how a consumer's adjoint is written in the adjoints of what it
    uses (a named δ, or the adjoint itself), and ``on_node(v, adjoint)`` records and may
    rewrite a node's adjoint (returning the one to keep).

    Used by :class:`Backprop` (the MLP: δ named at z nodes only, the output δ tidied to its
    textbook form) and by :class:`~symbackprop.computations.Computation` (δ_v named at
    every defined node).

    Returns
    -------
    dict[str, sympy.Expr]
        ``adjoints`` (a new dict when None), filled in for every node of ``order``.

    Examples
    --------
    >>> from symbackprop.graph import add_definition
    >>> w, x, u, J = sp.symbols("w x u J")
    >>> g = nx.DiGraph()
    >>> add_definition(g, w, kind="param"); add_definition(g, x, kind="input")
    >>> add_definition(g, u, w * x, {w: [w * x], x: [w * x]}, kind="node")
    >>> add_definition(g, J, u**2, {u: [u**2]}, kind="loss")
    >>> for a, b, edge in g.edges(data=True):
    ...     edge["partial"] = edge_partial(edge, g.nodes[a]["symbol"], {})
    >>> adjoints = {}
    >>> reverse_pass(g, ["J", "u", "w", "x"], lambda c: adjoints[c], adjoints=adjoints)["w"]
    2*u*x
    """
    adjoints = {} if adjoints is None else adjoints
    succ, nodes = graph.succ, graph.nodes
    for v in order:
        if nodes[v]["kind"] == "loss":
            adjoints[v] = sp.S.One
            continue
        adjoint = sp.Add(*[named_adjoint(c) * edge["partial"] for c, edge in succ[v].items()])
        if on_node is not None:
            adjoint = on_node(v, adjoint)
        adjoints[v] = adjoint
    return adjoints


#: The assumption under which softmax + cross-entropy's δ^(L) is the textbook a − y.
SUM_TO_ONE = "assuming the targets sum to one (as one-hot and probability targets do)"


def sum_to_one(spec: Spec) -> dict[sp.Symbol, sp.Expr] | None:
    """y_n = 1 − Σ_{j<n} y_j for the cross-entropy loss, whose targets are probability vectors
    (the :data:`SUM_TO_ONE` assumption), else None.

    Examples
    --------
    >>> sum_to_one(Spec([2, 3], "softmax", "cross_entropy"))
    {y3: -y1 - y2 + 1}
    >>> sum_to_one(Spec([2, 3], "sigmoid")) is None
    True
    """
    if spec.loss.name != "cross_entropy":
        return None
    y = spec.targets
    return {y[-1]: 1 - sp.Add(*y[:-1])}


class Backprop:
    """The adjoints of every node of a network's scalar graph.

    Parameters
    ----------
    spec : Spec
        The network.
    graph : networkx.DiGraph
        Its scalar graph (:func:`~symbackprop.graph.build_graph`). Each edge gets a
        ``partial`` attribute: the local partial derivative ∂v/∂u.

    Attributes
    ----------
    adjoint : dict[str, sympy.Expr]
        ∂J/∂node for every node name, compact: in named δ, a, z, w, x, y.
    delta : dict[sympy.Symbol, sympy.Expr]
        The definition of each δ^(l)_j = ∂J/∂z^(l)_j, one level deep (in δ^(l+1)).
    assumed : dict[sympy.Symbol, sympy.Expr]
        Output δ's textbook form a_j − y_j where it holds only :data:`SUM_TO_ONE`
        (softmax + cross-entropy: in general δ_j = a_j Σ_k y_k − y_j).

    Examples
    --------
    >>> from symbackprop.graph import build_graph
    >>> spec = Spec([1, 1], "sigmoid", "quadratic")
    >>> bp = Backprop(spec, build_graph(spec))
    >>> bp.adjoint["w1_1_1"]
    delta1_1*x1
    >>> bp.delta[spec.delta(1, 1)]
    a1_1*(1 - a1_1)*(a1_1 - y1)
    """

    def __init__(self, spec: Spec, graph: nx.DiGraph):
        self.spec = spec
        self.graph = graph
        #: The parameter whose cone ``graph`` is (:func:`~symbackprop.graph.build_cone`), or None.
        self.cone: str | None = graph.graph.get("cone")
        self.adjoint: dict[str, sp.Expr] = {}
        self.delta: dict[sp.Symbol, sp.Expr] = {}
        self.assumed: dict[sp.Symbol, sp.Expr] = {}
        self._defs: dict[sp.Symbol, sp.Expr] | None = None
        self._expansion: dict[sp.Symbol, sp.Expr] = {}
        self._sizes: dict[sp.Symbol, int] = {}
        self._shapes: dict[sp.Expr, sp.Expr] = {}
        self._totals: dict[int, list[sp.Expr]] = {}
        self._tidied: dict[sp.Expr, sp.Expr] = {}
        self._run()

    def _run(self) -> None:
        g = self.graph
        nodes = g.nodes
        # The local partials first, in one sweep, then the adjoints: measured about 10%
        # faster on a 2-128-128-1 network than taking each partial inside the reverse pass.
        for u, _, edge in g.edges(data=True):
            if "partial" not in edge:  # the activations' come with the graph
                edge["partial"] = edge_partial(edge, nodes[u]["symbol"], self._shapes)
        order = list(reversed(list(nx.topological_sort(g))))
        reverse_pass(g, order, self._named_adjoint, self._name_delta, self.adjoint)

    def _name_delta(self, v: str, adjoint: sp.Expr) -> sp.Expr:
        """The MLP's naming policy: the adjoint of z^(l)_j is δ^(l)_j, the output layer's in
        its tidied textbook form; other adjoints are kept as they are."""
        node = self.graph.nodes[v]
        if node["kind"] != "z":
            return adjoint
        layer, (j,) = node["layer"], node["index"]
        if layer == self.spec.n_layers:
            adjoint = self._tidy(adjoint)
            self._textbook(layer, j, adjoint)
        self.delta[self.spec.delta(layer, j)] = adjoint
        return adjoint

    def _textbook(self, layer: int, j: int, delta: sp.Expr) -> None:
        """Record δ = a_j − y_j when it holds under :data:`SUM_TO_ONE` (and only then)."""
        subs = sum_to_one(self.spec)
        candidate = self.spec.a(layer, j) - self.spec.y(j)
        if subs is not None and delta != candidate:
            if sp.expand((delta - candidate).xreplace(subs)) == 0:
                self.assumed[self.spec.delta(layer, j)] = candidate

    def _tidy(self, expr: sp.Expr) -> sp.Expr:
        """:func:`tidy`, taken once per shape: the output δ of a wide layer share one.

        The symbols are renamed to placeholders in the same name order and with the same
        assumptions, so that factoring, which orders its generators by name, finds the
        same form for every neuron. Past ``TIDY_MAX_SIZE`` tree nodes (a softmax δ of more
        than about ten outputs, which sums over all of them) the expression is kept as it
        is: factoring costs grow steeply with the number of symbols (38 s for one δ of a
        30-output softmax with the quadratic loss), and no textbook form is that long.
        """
        return tidy_shape(expr, self._tidied)

    def _named_adjoint(self, name: str) -> sp.Expr:
        """How the adjoint of ``name`` appears in its predecessors' adjoints: δ^(l)_j for a
        z node, the adjoint itself for every other node (the MLP's textbook form)."""
        node = self.graph.nodes[name]
        if node["kind"] == "z":
            return self.spec.delta(node["layer"], node["index"][0])
        return self.adjoint[name]

    def grad(self, p: sp.Symbol) -> sp.Expr:
        """∂J/∂p in compact form: δ of p's own neuron written out one level.

        For an output-layer parameter this is in a, y and the previous layer's a
        (``(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1``); deeper, it holds the next layer's δ.

        Examples
        --------
        >>> from symbackprop.graph import build_graph
        >>> spec = Spec([1, 1, 1], "identity")
        >>> Backprop(spec, build_graph(spec)).grad(spec.w(1, 1, 1))
        delta2_1*w2_1_1*x1
        """
        layer = self.graph.nodes[p.name]["layer"]
        j = self.graph.nodes[p.name]["index"][0]
        d = self.spec.delta(layer, j)
        return self.adjoint[p.name].xreplace({d: self.delta[d]})

    def _definitions(self) -> dict[sp.Symbol, sp.Expr] | _LazyDefinitions:
        """Each z, a and δ symbol's one-level definition (forward exprs, δ recursion)."""
        if self._defs is None:
            if self.cone:
                # A cone holds only the δ it reaches; the forward definitions it needs
                # reach back over whole layers, so they are built on demand.
                self._defs = _LazyDefinitions(self.spec, self.delta)
                return self._defs
            g = self.graph
            defs = {
                d["symbol"]: d["expr"] for _, d in g.nodes(data=True) if d["kind"] in ("z", "a")
            }
            defs.update(self.delta)
            self._defs = defs
        return self._defs

    def definition(self, symbol: sp.Symbol) -> sp.Expr | None:
        """The forward definition of a z, a or J symbol (None for leaves), as in the graph.

        Examples
        --------
        >>> from symbackprop.graph import build_cone
        >>> spec = Spec([1, 1], "identity")
        >>> Backprop(spec, build_cone(spec, spec.b(1, 1))).definition(spec.z(1, 1))
        b1_1 + w1_1_1*x1
        """
        node = self.graph.nodes.get(symbol.name)
        if node is not None and node["expr"] is not None:
            return node["expr"]
        if not self.cone:
            return None
        return definition(self.spec, symbol, totals=self._totals)  # not kept: may be wide

    def _expand(self, symbol: sp.Symbol) -> sp.Expr:
        """``symbol`` (z, a or δ) in x, y, w and b; memoised, built only when asked for."""
        done = self._expansion.get(symbol)
        if done is None:
            defs = self._definitions()
            expr = defs[symbol]
            done = expr.xreplace({s: self._expand(s) for s in expr.free_symbols if s in defs})
            self._expansion[symbol] = done
        return done

    def expanded_size(self, expr: sp.Expr) -> int:
        """Tree size :func:`tree_size` of ``expr`` expanded, counted without building it.

        Examples
        --------
        >>> from symbackprop.graph import build_graph
        >>> spec = Spec([1, 1], "identity")
        >>> Backprop(spec, build_graph(spec)).expanded_size(spec.a(1, 1))  # b1_1 + w1_1_1*x1
        5
        """
        defs = self._definitions()
        if self.cone:
            return defs.expanded_size(expr, self._sizes)

        def defined(e: sp.Basic, size: Callable[[sp.Basic], int]) -> int | None:
            if e not in defs:
                return None
            n = self._sizes.get(e)
            if n is None:
                n = self._sizes[e] = size(defs[e])
            return n

        return _dag_size(expr, defined)

    def expanded(self, expr: sp.Expr, *, max_size: int | None = DEFAULT_MAX_SIZE, what: str = "expression") -> sp.Expr:
        """``expr`` with every z, a and δ replaced by its expansion in x, y, w, b.

        Raises
        ------
        ExpressionTooLargeError
            When the result, printed as a tree, would have more than ``max_size`` nodes
            (:meth:`expanded_size`, measured before anything is built).

        Examples
        --------
        >>> from symbackprop.graph import build_graph
        >>> spec = Spec([1, 1], "identity")
        >>> Backprop(spec, build_graph(spec)).expanded(spec.delta(1, 1))
        b1_1 + w1_1_1*x1 - y1
        """
        if max_size is not None:
            # Measured before building: an expression too large to print is never built.
            check_expanded_size(self.expanded_size(expr), max_size, what)
        defs = self._definitions()
        return expr.xreplace({s: self._expand(s) for s in expr.free_symbols if s in defs})


class _LazyDefinitions:
    """The z, a and δ definitions a cone's expansions need, built when first asked for.

    Membership and lookup work like the full graph's ``{symbol: definition}`` dict; the
    weighted sums z = Σ w·a + b, which are what a wide network is made of, are built only
    by :meth:`Backprop.expanded`, never to measure sizes.
    """

    def __init__(self, spec: Spec, delta: dict[sp.Symbol, sp.Expr]):
        self.spec = spec
        self.delta = delta
        self._built: dict[sp.Symbol, sp.Expr] = {}
        self._kind: dict[sp.Symbol, tuple | None] = {}
        self._totals: dict[int, list[sp.Expr]] = {}
        self._layer_sums: dict[int, int] = {}

    def _position(self, s: sp.Basic) -> tuple | None:
        """(head, layer, j) of a z or a symbol of a layer ≥ 1 of the network, else None."""
        if not isinstance(s, sp.Symbol):
            return None
        if s not in self._kind:
            parsed = parse_name(s.name)
            ok = (
                parsed is not None and parsed.head in ("z", "a") and isinstance(parsed.layer, int)
                and 1 <= parsed.layer <= self.spec.n_layers
                and isinstance(parsed.index[0], int) and 1 <= parsed.index[0] <= self.spec.sizes[parsed.layer]
            )
            self._kind[s] = (parsed.head, parsed.layer, parsed.index[0]) if ok else None
        return self._kind[s]

    def __contains__(self, s: object) -> bool:
        return s in self.delta or self._position(s) is not None

    def __getitem__(self, s: sp.Symbol) -> sp.Expr:
        if s in self.delta:
            return self.delta[s]
        done = self._built.get(s)
        if done is None:
            if self._position(s) is None:
                raise KeyError(s)
            done = self._built[s] = definition(self.spec, s, totals=self._totals)
        return done

    def expanded_size(self, expr: sp.Expr, sizes: dict[sp.Basic, int]) -> int:
        """:meth:`Backprop.expanded_size`, with each weighted sum's size from the layer sizes.

        A z^(l)_j = b + Σ_k w·a^(l−1)_k counts 1 (the sum) + 1 (b) + Σ_k (2 + size of
        a^(l−1)_k) tree nodes, the same for every j of the layer; every a^(l)_k of a layer
        has the same shape (f(z^(l)_k), or e^(z_k) over the layer's sum for softmax) and its
        z^(l)_k the same size, so one of them is measured per layer. Inputs are leaves.
        """
        def layer_sum(layer: int, size: Callable[[sp.Basic], int]) -> int:  # Σ_k size(a^(layer)_k)
            n = self._layer_sums.get(layer)
            if n is None:
                n = self.spec.sizes[layer] * (size(self.spec.a(layer, 1)) if layer else 1)
                self._layer_sums[layer] = n
            return n

        def defined(e: sp.Basic, size: Callable[[sp.Basic], int]) -> int | None:
            if e not in self:
                return None
            n = sizes.get(e)
            if n is None:
                pos = self._position(e) if e not in self.delta else None
                if pos is not None and pos[0] == "z":
                    m = self.spec.sizes[pos[1] - 1]
                    n = 2 + 2 * m + layer_sum(pos[1] - 1, size)
                elif pos is not None and pos[2] != 1:
                    n = size(self.spec.a(pos[1], 1))  # same shape as the layer's first
                else:
                    n = size(self[e])
                sizes[e] = n
            return n

        return _dag_size(expr, defined)
