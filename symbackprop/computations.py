"""Any computation a user writes down: named scalar definitions, their graph and gradients.

A computation is a list of lines ``name = formula``, each defining one scalar node from
parameters, inputs, targets and the nodes defined above it; the last line is the loss::

    h = tanh(w1*x + b1)
    o = sigmoid(w2*h + w3*x + b2)      # a skip connection: x reaches o twice
    J = (o - y)**2 / 2

Every formula is read by the project's safe parser (:func:`~symbackprop.parse.parse_formula`,
never ``eval``), so it may call the parser's functions (the registry's activations, exp,
log, ...). :func:`computation` builds a :class:`Computation`: its NetworkX graph (one node
per scalar, an edge from each symbol to each definition that uses it, holding the local
partial) and the reverse pass over it. The adjoint of a defined node v is written
δ_v = ∂J/∂v (Python name ``delta_v``, see docs/notation.md); a node's adjoint is the sum,
over the definitions c that use it, of δ_c · ∂c/∂v, so a parameter used in several places
(weight sharing) and a node reached by several paths (skip connections, residuals
``a + f(a)``) get the sum over every use and path. The pass visits each edge once.

Local partials are taken in textbook form: an activation is differentiated as an
unevaluated function (σ' = σ(1 − σ)) and a node's own definition is written back as its
name, so ∂o/∂h = o·(1 − o)·w2 and ∂h/∂w1 = (1 − h²)·x.

The graph is built by :func:`~symbackprop.graph.add_definition` and differentiated by
:func:`~symbackprop.backprop.reverse_pass`, the builder and the reverse pass of the MLP's
scalar graph too. The MLP of :func:`~symbackprop.network.mlp` is one such computation:
``net.as_computation()`` (:func:`from_network`) reads the network's one list of definitions,
:func:`~symbackprop.graph.network_definitions`, that its graph is built from (see
docs/computations.md).

The module is called ``computations``, not ``computation``: a submodule named like the
function ``symbackprop.computation`` would shadow it once imported (as ``training`` and
``checking`` do for ``train`` and ``check``).
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import sympy as sp
from mpmath.libmp import prec_to_dps

from .activations import A, Activation, Z
from .backprop import (
    DEFAULT_MAX_SIZE,
    _dag_size,
    check_expanded_size,
    edge_partial,
    reverse_pass,
    tidy_shape,
)
from .errors import (
    ComputationError,
    ExpressionTooLargeError,
    FormulaError,
    SpecError,
    closest,
    unknown,
)
from .graph import add_definition, terms_of
from .limits import Limits, resolve
from .notation import real_symbol
from .parse import CONSTANTS, FUNCTIONS, Function, parse_formula

if TYPE_CHECKING:
    from .computation_derivation import ComputationDerivation
    from .computation_hessian import ComputationHessian

__all__ = ["Computation", "computation", "KINDS", "adjoint_symbol", "realize"]

#: The kinds of graph node: declared leaves, defined nodes and the loss (the last line).
KINDS = ("param", "input", "target", "node", "loss")

#: The prefix of an adjoint's name: δ_o = ∂J/∂o is ``delta_o``; no user name may start so.
ADJOINT_PREFIX = "delta_"

#: Prefixes of the second-order names (:mod:`symbackprop.computation_hessian`): reserved too.
SECOND_ORDER_PREFIXES = ("vdot_", "deltadot_")

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*(.*?)\s*$")


def adjoint_symbol(name: str) -> sp.Symbol:
    """The adjoint δ_v = ∂J/∂v of the node called ``name``: the real symbol ``delta_<name>``.

    Examples
    --------
    >>> adjoint_symbol("o")
    delta_o
    """
    return real_symbol(ADJOINT_PREFIX + name)


# ------------------------------------------------------------------ textbook partials
class Applied(sp.Function):
    """An activation applied but kept unevaluated, so that ``diff`` gives its textbook form.

    Subclasses are made once per activation (:func:`applied`); :func:`realize` turns every
    application back into the registry's expression (what the parser builds).
    """

    activation: Activation
    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        act = self.activation
        if act.output_derivative is not None:  # σ' = σ(1 − σ), written in the output
            return act.output_derivative.xreplace({A: self})
        return act.derivative().xreplace({Z: self.args[0]})

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.activation(self.args[0]).evalf(prec_to_dps(prec))

    def _pretty(self, printer: Any) -> Any:
        return printer._helper_print_function(self.func, self.args, func_name=self.activation.text or self.activation.name)

    def _latex(self, printer: Any) -> str:
        return rf"{self.activation.latex}\left({printer._print(self.args[0])}\right)"


_APPLIED: dict[tuple[str, int], type[Applied]] = {}


def applied(act: Activation) -> type[Applied]:
    """The unevaluated function class of ``act`` (one per activation object).

    Examples
    --------
    >>> from symbackprop.activations import get_activation
    >>> s = applied(get_activation("sigmoid"))
    >>> x = real_symbol("x")
    >>> sp.diff(s(x), x)
    (1 - sigmoid(x))*sigmoid(x)
    """
    key = (act.name, id(act))
    cls = _APPLIED.get(key)
    if cls is None:
        cls = _APPLIED[key] = type(act.name, (Applied,), {"activation": act})
    return cls


def _opaque_functions() -> dict[str, Function]:
    """The parser's functions with every registered activation kept unevaluated."""
    from . import activations  # noqa: F401  (registers the activations with the parser)

    table = dict(FUNCTIONS)
    for name, f in FUNCTIONS.items():
        if isinstance(f.build, Activation):
            table[name] = f._replace(build=applied(f.build))
    return table


def realize(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every unevaluated activation (:class:`Applied`) written out.

    Examples
    --------
    >>> from symbackprop.activations import get_activation
    >>> x = real_symbol("x")
    >>> realize(applied(get_activation("sigmoid"))(x))
    1/(1 + exp(-x))
    """
    if not expr.has(Applied):
        return expr
    return expr.replace(lambda e: isinstance(e, Applied), lambda e: e.activation(e.args[0]))


# ------------------------------------------------------------------ reading the source
def _names(value: str | Iterable[str | sp.Symbol] | None, what: str) -> list[str]:
    """A space/comma separated string, or a sequence of names or Symbols, as names."""
    if value is None:
        return []
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    names = []
    for item in items:
        name = item.name if isinstance(item, sp.Symbol) else item
        if not isinstance(name, str):
            raise ComputationError(
                f"{what}= takes names (a string such as 'w1 b1', or a list of names or Symbols); "
                f"got {type(item).__name__}."
            )
        names.append(name)
    return names


def _check_name(name: str, where: str) -> None:
    problem = None
    if not name.isidentifier() or keyword.iskeyword(name):
        problem = "is not a name (letters, digits and _, not starting with a digit, not a Python keyword)"
    elif name in FUNCTIONS:
        problem = "is a function of the formula parser"
    elif name in CONSTANTS:
        problem = f"is the constant {CONSTANTS[name]}"
    elif name.startswith(ADJOINT_PREFIX):
        problem = f"starts with {ADJOINT_PREFIX!r}, which names adjoints (δ_v = ∂J/∂v is delta_v)"
    elif name.startswith(SECOND_ORDER_PREFIXES):
        problem = ("starts with 'vdot_' or 'deltadot_', which name the second-order quantities "
                   "(v̇_v = ∂v/∂q is vdot_v, δ̇_v = ∂δ_v/∂q is deltadot_v)")
    if problem:
        raise ComputationError(f"{where}: {name!r} {problem}; choose another name.")


def _source_lines(source: str, limits: Limits) -> list[tuple[int, str, str]]:
    """(line number, name, formula) of every definition; comments and blank lines skipped."""
    if not isinstance(source, str):
        raise ComputationError(f"A computation must be a string of lines 'name = formula'; got {type(source).__name__}.")
    n_lines = source.count("\n") + 1
    if n_lines > limits.max_lines:
        raise ComputationError(
            f"The computation has {n_lines:,} lines; the limit is {limits.max_lines:,} (max_lines)."
        )
    out = []
    for number, raw in enumerate(source.splitlines(), start=1):
        text = raw.split("#", 1)[0].strip()  # no formula holds a string, so # starts a comment
        if not text:
            continue
        m = _LINE.match(text)
        if m is None:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ComputationError(
                f"Line {number} of the computation ({shown!r}) is not a definition: write "
                "'name = formula', one per line (comments after #, blank lines allowed)."
            )
        out.append((number, m.group(1), m.group(2)))
    if not out:
        raise ComputationError(
            "The computation has no definitions: write lines 'name = formula', the last one the loss."
        )
    return out


def _used_names(formula: str) -> set[str]:
    """Names a formula uses (read by ``ast``, never run); empty when it is no expression."""
    try:
        tree = ast.parse(formula, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()  # parse_formula reports it, with the column
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def _order_problem(lines: list[tuple[int, str, str]], declared: Mapping[str, str]) -> None:
    """Refuse a redefinition, a cycle or a use before the definition, naming the lines."""
    first: dict[str, int] = {}
    for number, name, _ in lines:
        if name in declared:
            raise ComputationError(
                f"Line {number} defines {name!r}, which is declared as {declared[name]}; "
                "a declared name is given, not defined (remove it from the declaration or rename the node)."
            )
        _check_name(name, f"Line {number}")
        if name in first:
            raise ComputationError(
                f"Line {number} defines {name!r} again (first defined on line {first[name]}); "
                "each node is defined once (use a new name, e.g. {name}2).".replace("{name}", name)
            )
        first[name] = number
    deps = nx.DiGraph()
    uses = {}
    for _, name, formula in lines:
        uses[name] = _used_names(formula) & set(first)
        deps.add_node(name)
        deps.add_edges_from((u, name) for u in uses[name])
    cycle = None
    if not nx.is_directed_acyclic_graph(deps):  # linear; find_cycle only when there is one
        cycle = nx.find_cycle(deps)
    if cycle:
        names = [u for u, _ in cycle] + [cycle[0][0]]
        where = ", ".join(f"{n} (line {first[n]})" for n in dict.fromkeys(names))
        raise ComputationError(
            f"The definitions form a cycle, {' → '.join(names)}: {where}; a node may use only "
            "parameters, inputs, targets and nodes defined on lines above it."
        )
    for number, name, _ in lines:
        later = sorted((first[u], u) for u in uses[name] if first[u] > number)
        if later:
            line, u = later[0]
            raise ComputationError(
                f"Line {number} ({name}) uses {u!r} before its definition on line {line}; "
                "definitions are read top to bottom: move that line above this one."
            )


class Computation:
    """Named scalar definitions with declared parameters, inputs and targets; the last is the loss.

    Build one with :func:`computation` (from text) or ``net.as_computation()`` (from an MLP).

    Attributes
    ----------
    definitions : tuple of (Symbol, Expr)
        The lines, in order, each in the parser's functions (what the compiler compiles).
    params, inputs, targets : tuple of Symbol
        In declared order (columns of X and Y are matched to inputs and targets).
    loss : Symbol
        The last definition.
    outputs : tuple of Symbol
        The prediction nodes (default: the defined nodes the loss line uses directly).
    graph : networkx.DiGraph
        One node per scalar, keyed by name, with ``kind`` (one of :data:`KINDS`),
        ``symbol``, ``expr`` (definition or None), ``shown`` (the definition with
        activations unevaluated, for printing) and ``line``; each edge u → v holds
        ``term`` (the summands of v's shown definition that hold u) and ``partial``, the
        local partial ∂v/∂u in textbook form.
    adjoints : dict[str, Expr]
        ∂J/∂node for every node, one level deep: in the δ of the nodes that use it.
    deltas : dict[Symbol, Expr]
        δ_v (``delta_v``) = ∂J/∂v for every defined node except the loss.

    Examples
    --------
    >>> g = computation("h = tanh(w*x)\\nJ = (h - y)**2/2", params="w", inputs="x", targets="y")
    >>> g.grad("w")
    x*(1 - h**2)*(h - y)
    >>> g.deltas
    {delta_h: h - y}
    """

    def __init__(
        self,
        definitions: Sequence[tuple[sp.Symbol, sp.Expr]],
        params: Sequence[sp.Symbol],
        inputs: Sequence[sp.Symbol],
        targets: Sequence[sp.Symbol] = (),
        outputs: Sequence[sp.Symbol] | None = None,
        *,
        shown: Sequence[sp.Expr] | None = None,
        lines: Sequence[int] | None = None,
        title: str = "computation",
        partials: Mapping[str, Mapping[sp.Symbol, sp.Expr]] | None = None,
    ):
        self.definitions = tuple((s, e) for s, e in definitions)
        self.params, self.inputs, self.targets = tuple(params), tuple(inputs), tuple(targets)
        if not self.definitions:
            raise ComputationError("A computation needs at least one definition (the loss).")
        self.loss = self.definitions[-1][0]
        self.title = title
        self._shown = tuple(shown) if shown is not None else tuple(e for _, e in self.definitions)
        self._lines = tuple(lines) if lines is not None else tuple(range(1, len(self.definitions) + 1))
        if outputs is None:
            defined = {s for s, _ in self.definitions[:-1]}
            used = self.definitions[-1][1].free_symbols
            outputs = [s for s, _ in self.definitions[:-1] if s in used and s in defined]
        self.outputs = tuple(outputs)
        self._shapes: dict[sp.Expr, sp.Expr] = {}
        self._given = dict(partials or {})  # node name -> {source: local partial a producer knows}
        self.graph = self._build_graph()
        self._check_reach()
        self.adjoints: dict[str, sp.Expr] = {}
        self.deltas: dict[sp.Symbol, sp.Expr] = {}
        self._reverse()
        self._expansion: dict[sp.Symbol, sp.Expr] = {}
        self._sizes: dict[sp.Basic, int] = {}
        self._compiled: dict[str, Any] = {}
        self._tidied: dict[sp.Expr, sp.Expr] = {}

    # ------------------------------------------------------------------ the graph
    def _build_graph(self) -> nx.DiGraph:
        """The graph, built by :func:`~symbackprop.graph.add_definition` as the MLP's is: each
        edge u → v holds ``term``, the summands of v's (shown) definition that hold u."""
        g = nx.DiGraph(loss=self.loss.name)
        for kind, symbols in (("param", self.params), ("input", self.inputs), ("target", self.targets)):
            for s in symbols:
                add_definition(g, s, kind=kind, shown=None, line=None)
        last = len(self.definitions) - 1
        for i, ((s, expr), shown, line) in enumerate(zip(self.definitions, self._shown, self._lines)):
            terms = terms_of(shown)
            add_definition(g, s, expr, {u: terms[u] for u in sorted(terms, key=lambda u: u.name)},
                           self._given.get(s.name), kind="loss" if i == last else "node", shown=shown, line=line)
            for u, edge in g.pred[s.name].items():
                edge["partial"] = self._local_partial(g, u, s.name, edge)
        return g

    def _local_partial(self, g: nx.DiGraph, u: str, v: str, edge: dict) -> sp.Expr:
        """∂v/∂u in textbook form: the producer's (an MLP's activations), else taken on the
        summands of v's definition that hold u (once per shape: the w·a terms of a wide
        layer share one ``diff``), with v's own definition inside it (σ, tanh, exp) written v."""
        given = edge.get("partial")
        if given is not None:
            return given
        node = g.nodes[v]
        partial = edge_partial(edge, g.nodes[u]["symbol"], self._shapes)
        shown = node["shown"]
        if shown.args:
            partial = partial.xreplace({shown: node["symbol"]})
        return partial

    def _check_reach(self) -> None:
        loss = self.loss.name
        reach = nx.ancestors(self.graph, loss)
        dead = [p.name for p in self.params if p.name not in reach]
        if dead:
            unused = [n for n in dead if self.graph.out_degree(n) == 0]
            it = "it" if len(dead) == 1 else "them"
            why = f"no line uses {it}" if len(unused) == len(dead) else f"no path leads from {it} to the loss"
            raise ComputationError(
                f"Parameter(s) {', '.join(map(repr, dead))} never reach the loss {loss} ({why}), so "
                f"the gradient would be 0: use {it} in a definition the loss depends on, or "
                "remove it from params.".replace("remove it", f"remove {it}")
            )

    def _reverse(self) -> None:
        """The chain rule in reverse (:func:`~symbackprop.backprop.reverse_pass`, the MLP's too),
        with this naming policy: every defined node's adjoint is named δ_v."""
        order = [s.name for s, _ in reversed(self.definitions)]
        order += [s.name for s in (*self.params, *self.inputs, *self.targets)]
        reverse_pass(self.graph, order, self.named_adjoint, self._name_delta, self.adjoints)

    def _name_delta(self, v: str, adjoint: sp.Expr) -> sp.Expr:
        if self.graph.nodes[v]["kind"] == "node":
            self.deltas[adjoint_symbol(v)] = adjoint
        return adjoint

    def named_adjoint(self, name: str) -> sp.Expr:
        """∂J/∂node as it appears in other adjoints: δ_v for a defined node, 1 for the loss.

        Examples
        --------
        >>> g = computation("u = w*x\\nJ = u**2", params="w", inputs="x")
        >>> g.named_adjoint("u"), g.named_adjoint("J")
        (delta_u, 1)
        """
        if name == self.loss.name:
            return sp.S.One
        return adjoint_symbol(name)

    # ------------------------------------------------------------------ names
    @property
    def names(self) -> list[str]:
        """Every node's name: parameters, inputs, targets, then the definitions in order."""
        return list(self.graph.nodes)

    def symbol(self, name: str | sp.Symbol) -> sp.Symbol:
        """The symbol of the node ``name`` (a name or a Symbol of the same name).

        Examples
        --------
        >>> computation("J = w*x", params="w", inputs="x").symbol("w")
        w
        """
        key = name.name if isinstance(name, sp.Symbol) else name
        if not isinstance(key, str) or key not in self.graph:
            raise unknown("node of this computation", str(key), self.names)
        return self.graph.nodes[key]["symbol"]

    def parameter(self, p: str | sp.Symbol) -> sp.Symbol:
        """The parameter symbol called ``p`` (an error names the closest parameter)."""
        key = p.name if isinstance(p, sp.Symbol) else p
        for s in self.params:
            if s.name == key:
                return s
        raise unknown("parameter of this computation", str(key), [s.name for s in self.params])

    def describe(self) -> str:
        """One phrase for titles: what this computation is.

        Examples
        --------
        >>> computation("J = w*x", params="w", inputs="x").describe()
        'computation J (1 definition(s); params w)'
        """
        params = ", ".join(p.name for p in self.params[:6]) + (", ..." if len(self.params) > 6 else "")
        return f"{self.title} {self.loss.name} ({len(self.definitions)} definition(s); params {params or '(none)'})"

    # ------------------------------------------------------------------ gradients
    def grad(self, p: str | sp.Symbol, expand: bool = False, *, max_size: int | None = DEFAULT_MAX_SIZE) -> sp.Expr:
        """∂J/∂p for any node p (parameter, input, target or defined node), for one sample.

        Parameters
        ----------
        p : str or Symbol
            The variable.
        expand : bool
            False (default): compact, in the named nodes and the δ of the nodes two uses
            away (p's own consumers' δ written out one level). True: in parameters,
            inputs and targets only.
        max_size : int or None
            With ``expand=True``, refuse (:class:`ExpressionTooLargeError`) an expanded form
            of more tree nodes than this, measured before it is built; None for no limit.

        Examples
        --------
        >>> g = computation('''
        ...     h = tanh(w1*x + b1)
        ...     o = sigmoid(w2*h + w3*x + b2)
        ...     J = (o - y)**2 / 2''', params="w1 b1 w2 w3 b2", inputs="x", targets="y")
        >>> g.grad("w1")
        delta_o*o*w2*x*(1 - h**2)*(1 - o)
        >>> g.grad("w3")
        o*x*(1 - o)*(o - y)
        >>> g.grad("b2", expand=True).free_symbols == {g.symbol(n) for n in ("w1", "b1", "w2", "w3", "b2", "x", "y")}
        True
        """
        s = self.symbol(p)
        compact = self.compact(s)
        if not expand:
            return compact
        return self.expanded(compact, max_size=max_size, what=f"dJ/d{s}")

    def compact(self, s: sp.Symbol) -> sp.Expr:
        """∂J/∂s with the δ of s's consumers written out one level (what :meth:`grad` returns)."""
        adjoint = self.adjoints[s.name]
        consumers = {adjoint_symbol(c): self.deltas[adjoint_symbol(c)]
                     for c in self.graph.successors(s.name) if adjoint_symbol(c) in self.deltas}
        return tidy_shape(realize(adjoint.xreplace(consumers)), self._tidied)

    def gradients(self, expand: bool = False, *, max_size: int | None = DEFAULT_MAX_SIZE) -> dict[sp.Symbol, sp.Expr]:
        """``{p: grad(p, expand)}`` for every parameter, in declared order.

        Examples
        --------
        >>> computation("J = (w*x + b - y)**2", params="w b", inputs="x", targets="y").gradients()
        {w: 2*x*(b + w*x - y), b: 2*b + 2*w*x - 2*y}
        """
        return {p: self.grad(p, expand, max_size=max_size) for p in self.params}

    def _definitions(self) -> dict[sp.Symbol, sp.Expr]:
        defs = {s: e for s, e in self.definitions}
        defs.update({d: realize(e) for d, e in self.deltas.items()})
        return defs

    def expanded_size(self, expr: sp.Expr) -> int:
        """Tree size of ``expr`` with every node and δ substituted, counted without building it.

        Examples
        --------
        >>> g = computation("u = w*x\\nJ = u + 1", params="w", inputs="x")
        >>> g.expanded_size(g.symbol("J"))
        5
        """
        defs = self._definitions()

        def defined(e: sp.Basic, _size: Callable[[sp.Basic], int]) -> int | None:
            return self._sizes[e] if e in defs else None  # measured below, before it is read

        # Node by node in dependency order, never recursing from one node into the next: a
        # chain of thousands of definitions is as deep as its lines.
        for s in self._needed(realize(expr), defs):
            if s not in self._sizes:
                self._sizes[s] = _dag_size(defs[s], defined)
        return _dag_size(realize(expr), defined)

    def _needed(self, expr: sp.Expr, defs: Mapping[sp.Symbol, sp.Expr]) -> list[sp.Symbol]:
        """The nodes and δ that ``expr`` depends on, in an order where each comes after
        everything its definition uses (the lines in order, then the δ from the loss back)."""
        seen: set[sp.Symbol] = set()
        stack = [s for s in expr.free_symbols if s in defs]
        while stack:
            s = stack.pop()
            if s not in seen:
                seen.add(s)
                stack.extend(u for u in defs[s].free_symbols if u in defs and u not in seen)
        order = [s for s, _ in self.definitions] + list(self.deltas)
        return [s for s in order if s in seen]

    def expanded(self, expr: sp.Expr, *, max_size: int | None = DEFAULT_MAX_SIZE, what: str = "expression") -> sp.Expr:
        """``expr`` in parameters, inputs and targets only (nodes and δ substituted).

        Raises
        ------
        ExpressionTooLargeError
            When the result would have more than ``max_size`` tree nodes (measured first).

        Examples
        --------
        >>> g = computation("u = w*x\\nJ = u**2", params="w", inputs="x")
        >>> g.expanded(g.grad("w"))
        2*w*x**2
        """
        if max_size is not None:
            check_expanded_size(self.expanded_size(expr), max_size, what)
        defs = self._definitions()
        expr = realize(expr)
        try:
            for s in self._needed(expr, defs):  # in dependency order: no recursion across nodes
                if s not in self._expansion:
                    e = defs[s]
                    self._expansion[s] = e.xreplace({u: self._expansion[u] for u in e.free_symbols if u in defs})
            return expr.xreplace({s: self._expansion[s] for s in expr.free_symbols if s in defs})
        except RecursionError:  # SymPy walks trees recursively: a chain of thousands of nodes
            raise ExpressionTooLargeError(
                f"The expanded form of {what} is nested too deeply for SymPy to build "
                "(a chain of thousands of definitions); use the compact form (expand=False)."
            ) from None

    def equations(self) -> None:
        """Refused: the layer-level equations exist only for layered networks (``sbp.mlp``).

        Examples
        --------
        >>> computation("J = w*x", params="w", inputs="x").equations()
        Traceback (most recent call last):
        ...
        symbackprop.errors.SpecError: The layer-level backpropagation equations exist only for layered networks (sbp.mlp); a computation has its adjoints instead: g.deltas, g.derivation(v).
        """
        raise SpecError("The layer-level backpropagation equations exist only for layered networks "
                        "(sbp.mlp); a computation has its adjoints instead: g.deltas, g.derivation(v).")

    def derivation(self, p: str | sp.Symbol) -> ComputationDerivation:
        """The chain-rule derivation of ∂J/∂p: every path, each local partial, the sum.

        Examples
        --------
        >>> g = computation("h = w*x\\nJ = h + x*h", params="w", inputs="x")
        >>> g.derivation("x").n_paths
        2
        """
        from .computation_derivation import ComputationDerivation

        return ComputationDerivation(self, self.symbol(p))

    def hessian_derivation(self, p: str | sp.Symbol, q: str | sp.Symbol) -> ComputationHessian:
        """∂²J/∂p∂q step by step: the forward tangent of q (v̇ = ∂v/∂q), the adjoints δ,
        the second-order adjoints δ̇ = ∂δ/∂q and the result (see
        :mod:`symbackprop.computation_hessian`). p and q are parameters, inputs or targets.

        Examples
        --------
        >>> g = computation("u = w*x\\nJ = u**2/2", params="w", inputs="x")
        >>> h = g.hessian_derivation("w", "w")
        >>> h.tangent, h.adjoint, h.compact
        ({vdot_u: x}, {deltadot_u: vdot_u}, deltadot_u*x)
        """
        from .computation_hessian import ComputationHessian, _leaf

        return ComputationHessian(self, _leaf(self, p, "p"), _leaf(self, q, "q"))

    def hessian(self, p: str | sp.Symbol, q: str | sp.Symbol, expand: bool = False, *,
                max_size: int | None = DEFAULT_MAX_SIZE) -> sp.Expr:
        """∂²J/∂p∂q for one sample.

        Compact (default): ∂J/∂p differentiated along q, in the named nodes, adjoints δ,
        tangents v̇ = ∂v/∂q (``vdot_v``) and second-order adjoints δ̇ = ∂δ/∂q
        (``deltadot_v``) that :meth:`hessian_derivation` defines. ``expand=True``: in
        parameters, inputs and targets only, refused past ``max_size`` tree nodes as in
        :meth:`grad`.

        Examples
        --------
        >>> g = computation("h = tanh(w*x)\\nJ = (h - y)**2/2", params="w", inputs="x", targets="y")
        >>> g.hessian("w", "w")
        -2*delta_h*h*vdot_h*x + deltadot_h*x*(1 - h**2)
        >>> g.hessian("w", "y", expand=True)
        -x*(1 - tanh(w*x)**2)
        """
        h = self.hessian_derivation(p, q)
        # activations kept unevaluated for printing are written out, as grad() returns them
        return h.expanded(max_size=max_size) if expand else realize(h.compact)

    def jacobian(self, expand: bool = False, *, max_size: int | None = DEFAULT_MAX_SIZE) -> sp.Matrix:
        """∂output/∂input, an (n_outputs, n_inputs) matrix (outputs and inputs in declared
        order): compact in the named nodes and parameters (the forward tangent of each
        input), or ``expand=True`` in inputs and parameters only (each entry refused past
        ``max_size`` tree nodes). The compiled counterpart is ``model.input_jacobian``.

        Examples
        --------
        >>> g = computation("o = sigmoid(w*x1 + v*x2)\\nJ = (o - y)**2", params="w v", inputs="x1 x2", targets="y")
        >>> g.jacobian()
        Matrix([[o*w*(1 - o), o*v*(1 - o)]])
        """
        from .computation_hessian import input_jacobian

        M = input_jacobian(self)
        if not expand:
            return M.applyfunc(realize)
        return M.applyfunc(lambda e: self.expanded(e, max_size=max_size, what="the Jacobian entry"))

    # ------------------------------------------------------------------ numbers
    def init_params(self, seed: int | np.random.Generator = 0) -> dict[sp.Symbol, float]:
        """Starting parameters: independent draws from N(0, 0.5²), reproducible from ``seed``.

        Examples
        --------
        >>> g = computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
        >>> g.init_params(seed=1) == g.init_params(seed=1)
        True
        """
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        values = rng.normal(0.0, 0.5, len(self.params))
        return {p: float(v) for p, v in zip(self.params, values)}

    def compile(self, backend: str = "numpy") -> Any:
        """The computation compiled to array code over a batch (kept per backend name).

        See :func:`symbackprop.compiler.computation.compile_computation`.
        """
        from .compiler.computation import compile_computation

        if not isinstance(backend, str):
            return compile_computation(self, backend)
        if backend not in self._compiled:
            self._compiled[backend] = compile_computation(self, backend)
        return self._compiled[backend]

    def source(self) -> str:
        """The computation as text lines ``name = formula`` (what :func:`computation` reads).

        Examples
        --------
        >>> print(computation("h = tanh(w*x)  # hidden\\nJ = h**2", params="w", inputs="x").source())
        h = tanh(w*x)
        J = h**2
        """
        from .notation import to_str

        return "\n".join(f"{s.name} = {to_str(e)}" for s, e in zip((s for s, _ in self.definitions), self._shown))

    def __repr__(self) -> str:
        return (f"<Computation {self.loss.name}: {len(self.definitions)} definition(s), "
                f"params {' '.join(p.name for p in self.params) or '(none)'}, "
                f"inputs {' '.join(x.name for x in self.inputs) or '(none)'}, "
                f"targets {' '.join(y.name for y in self.targets) or '(none)'}>")


def computation(
    source: str,
    params: str | Iterable[str | sp.Symbol] = (),
    inputs: str | Iterable[str | sp.Symbol] = (),
    targets: str | Iterable[str | sp.Symbol] = (),
    outputs: str | Iterable[str | sp.Symbol] | None = None,
    *,
    limits: Limits | None = None,
) -> Computation:
    """Read a computation: one definition ``name = formula`` per line, the last one the loss.

    Parameters
    ----------
    source : str
        The lines. Comments (``# ...``) and blank lines are allowed; each formula may use the
        declared names, the nodes defined above it, numbers, ``+ - * / **`` and the
        parser's functions (``sigmoid``, ``tanh``, ``relu``, ``exp``, ``log``, ...).
    params, inputs, targets : str or sequence
        The declared names: a space/comma separated string, or names/Symbols.
    outputs : str or sequence, optional
        The prediction nodes (default: the defined nodes the loss line uses directly).
    limits : Limits, optional
        Bounds on every formula (:class:`~symbackprop.limits.Limits`) and on the number of
        lines (``max_lines``).

    Raises
    ------
    ComputationError
        Naming the line and what is wrong: an undefined name (with the closest one), an
        unknown function, a redefinition, a cycle or use before definition, a parameter
        that never reaches the loss, a limit.

    Examples
    --------
    >>> g = computation('''
    ...     h = tanh(w1*x + b1)
    ...     o = sigmoid(w2*h + w3*x + b2)      # a skip connection: x reaches o twice
    ...     J = (o - y)**2 / 2
    ... ''', params="w1 b1 w2 w3 b2", inputs="x", targets="y")
    >>> g.loss, g.outputs, g.graph.number_of_edges()
    (J, (o,), 10)
    >>> computation("J = (w*xx - y)**2", params="w", inputs="x", targets="y")
    Traceback (most recent call last):
    ...
    symbackprop.errors.ComputationError: Cannot read the definition of 'J' on line 1 '(w*xx - y)**2': unknown name 'xx' (did you mean 'x'?) ...
    """
    limits = resolve(limits)
    declared: dict[str, str] = {}
    kinds = {}
    for what, value in (("params", params), ("inputs", inputs), ("targets", targets)):
        names = _names(value, what)
        for name in names:
            _check_name(name, f"In {what}=")
            if name in declared:
                raise ComputationError(
                    f"{name!r} is declared twice (as {declared[name]} and in {what}=); declare each name once."
                )
            declared[name] = {"params": "a parameter", "inputs": "an input", "targets": "a target"}[what]
        kinds[what] = [real_symbol(n) for n in names]
    lines = _source_lines(source, limits)
    _order_problem(lines, declared)
    names = {s.name: s for group in kinds.values() for s in group}
    opaque = _opaque_functions()
    definitions, shown, numbers = [], [], []
    for number, name, formula in lines:
        what = f"the definition of {name!r} on line {number}"
        try:
            expr = parse_formula(formula, names, what=what, limits=limits)
            display = parse_formula(formula, names, what=what, limits=limits, functions=opaque)
        except FormulaError as exc:
            raise ComputationError(str(exc)) from None
        s = real_symbol(name)
        definitions.append((s, expr))
        shown.append(display)
        numbers.append(number)
        names[name] = s
    out = None
    if outputs is not None:
        out = []
        defined = {s.name: s for s, _ in definitions}
        for name in _names(outputs, "outputs"):
            if name not in defined:
                guess = closest(name, defined)
                hint = f" (did you mean {guess!r}?)" if guess else ""
                raise ComputationError(
                    f"outputs= names {name!r}, which no line defines{hint}; outputs are defined nodes: "
                    f"{', '.join(defined)}."
                )
            out.append(defined[name])
    return Computation(definitions, kinds["params"], kinds["inputs"], kinds["targets"], out,
                       shown=shown, lines=numbers)


def from_network(net: Any) -> Computation:
    """The computation of an MLP: its z, a and J definitions, as the network's graph has them.

    Read from :func:`~symbackprop.graph.network_definitions`, the one list that
    :func:`~symbackprop.graph.build_graph` builds the network's graph from: the same
    symbols, definitions and activation partials from the registry (a' = a(1 − a) for σ,
    a_j(δ_jk − a_k) for softmax), so the graphs have the same edges and local partials and
    the gradients equal ``net.grad``. Registered activations are shown unevaluated
    (``sigmoid(z1_1)``). Used by ``Network.as_computation``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = from_network(sbp.mlp([1, 1], activation="sigmoid"))
    >>> g.definitions
    ((z1_1, b1_1 + w1_1_1*x1), (a1_1, 1/(1 + exp(-z1_1))), (J, (a1_1 - y1)**2/2))
    >>> g.grad("b1_1")
    a1_1*delta_a1_1*(1 - a1_1)
    >>> g.deltas[adjoint_symbol("a1_1")]
    a1_1 - y1
    """
    from .graph import network_definitions

    opaque = _opaque_functions()
    definitions, shown, partials = [], [], {}
    for d in network_definitions(net):
        if d.expr is None:  # x, w, b, y: the declared inputs, parameters and targets
            continue
        definitions.append((d.symbol, d.expr))
        display = d.expr
        if d.kind == "a":
            act = net.activations[d.layer - 1]
            entry = opaque.get(act.name)
            # σ, softplus, relu, ... of the registry: unevaluated, for printing (tanh is SymPy's)
            if entry is not None and FUNCTIONS[act.name].build is act:
                display = entry.build(net.z(d.layer, d.index[0]))
        shown.append(display)
        if d.partials:
            partials[d.symbol.name] = d.partials
    return Computation(definitions, net.params, net.inputs, net.targets, net.outputs, shown=shown,
                       title=f"{'-'.join(map(str, net.sizes))} network as a computation", partials=partials)
