"""One parameter's gradient, step by step: paths, local partials, products, δ recursion.

:class:`Derivation` holds the steps of the multivariate chain rule for ∂J/∂p and prints
them as Unicode text, LaTeX or Markdown. ``Derivation.at(params, x, y)`` fills in every
step with its value at one sample, for following a worked example digit by digit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import networkx as nx
import sympy as sp

from .backprop import SUM_TO_ONE, Backprop, tree_size
from .errors import SpecError
from .graph import CURRENT_LIMIT, check_graph_size, graph_size
from .notation import (
    by_name,
    latex_name,
    latex_text,
    parse_name,
    symbol_name,
    text_name,
    to_latex,
    to_str,
)
from .printing import (
    Line,
    Section,
    SteppedDerivation,
    sections_latex,
    sections_markdown,
    sections_text,
)

if TYPE_CHECKING:
    from .computation_derivation import ComputationDerivation
    from .spec import Spec

__all__ = [
    "Derivation",
    "sample_values",
    "sample_text",
    "definition_line",
    "path_sections",
    "partial_name",
    "sections_text",
    "sections_latex",
    "sections_markdown",
    "MAX_PATHS",
]

#: Paths are listed one by one only up to this many; beyond, the δ recursion says it all.
MAX_PATHS = 16
#: A weighted sum of more inputs than this is printed with Σ in the forward definitions.
MAX_SUMMANDS = 16
#: A layer of more δ than ``MAX_PATHS`` prints this many of them, "⋮ N more", and its last.
SHOWN_DELTAS = 3
#: The expanded form is printed inside a derivation only up to this many tree nodes.
MAX_SHOWN_EXPANDED = 150


Name = Callable[[sp.Symbol], str]


def partial_name(num: sp.Symbol, den: sp.Symbol, text: Name = text_name, latex: Name = latex_name) -> Line:
    """The name ∂num/∂den in Unicode text and in LaTeX (a :class:`~symbackprop.printing.Line`
    without a right side); ``text`` and ``latex`` name a symbol.

    Examples
    --------
    >>> import sympy as sp
    >>> partial_name(sp.Symbol("J"), sp.Symbol("w1_2_1"))
    Line(text='∂J/∂w⁽¹⁾₂₁', latex='\\\\frac{\\\\partial J}{\\\\partial w^{(1)}_{2 1}}', expr=None, value=None)
    """
    return Line(f"∂{text(num)}/∂{text(den)}", rf"\frac{{\partial {latex(num)}}}{{\partial {latex(den)}}}")


def path_sections(d: Derivation | ComputationDerivation, graph: nx.DiGraph, v: sp.Symbol, J: sp.Symbol, *,
                  many: str, text: Name = text_name, latex: Name = latex_name) -> list[Section]:
    """The chain rule along the paths of a derivation ``d`` from ``v`` to ``J``: the paths,
    the local partial on each edge, the product along each path and their sum.

    Past ``MAX_PATHS`` paths (``d.paths`` is None) it is one section, with the note ``many``.
    ``text`` and ``latex`` name a symbol (the notation's names of a network by default).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity")
    >>> d = net.derivation("b1_1")
    >>> [s.title for s in path_sections(d, net.backprop.graph, d.param, net.J, many="")]  # doctest: +NORMALIZE_WHITESPACE
    ['Paths from b⁽¹⁾₁ to J (1)', 'Local partial derivatives, one per edge',
     'Chain rule: the product along each path', 'Multivariate chain rule: the sum over paths']
    """
    if d.paths is None:
        return [Section(f"Paths from {text(v)} to {text(J)}", (),
                        latex_title=rf"\textbf{{Paths from }} {latex(v)} \textbf{{ to }} {latex(J)}", note=many)]
    grad = partial_name(J, v, text, latex)
    symbol = {n: graph.nodes[n]["symbol"] for path in d.paths for n in path}
    return [
        Section(f"Paths from {text(v)} to {text(J)} ({d.n_paths})", tuple(
            Line(" → ".join(text(symbol[n]) for n in path), r" \to ".join(latex(symbol[n]) for n in path))
            for path in d.paths
        ), latex_title=rf"\textbf{{Paths from }} {latex(v)} \textbf{{ to }} {latex(J)} \; ({d.n_paths})"),
        Section("Local partial derivatives, one per edge", tuple(
            replace(partial_name(symbol[b], symbol[a], text, latex), expr=expr) for (a, b), expr in d.partials.items()
        )),
        Section("Chain rule: the product along each path", tuple(
            Line(f"path {i}", rf"\text{{path {i}}}", prod) for i, prod in enumerate(d.products, start=1)
        )),
        Section("Multivariate chain rule: the sum over paths", (Line(grad.text, grad.latex, d.chain_sum),)),
    ]


def count_paths(graph: nx.DiGraph, source: str, target: str) -> int:
    """Number of directed paths from ``source`` to ``target`` (dynamic programming)."""
    count: dict[str, int] = {target: 1}
    for v in reversed(list(nx.topological_sort(graph.subgraph(nx.descendants(graph, source) | {source})))):
        if v != target:
            count[v] = sum(count.get(c, 0) for c in graph.successors(v))
    return count.get(source, 0)


def sample_values(
    backprop: Backprop,
    params: Mapping[sp.Symbol | str, float],
    x: Sequence[float],
    y: Sequence[float],
) -> dict[sp.Symbol, float]:
    """Values of every symbol of the network at one sample: forward pass, J and all δ.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
    >>> v = sample_values(net.backprop, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0])
    >>> v[net.a(1, 1)], v[net.J], v[net.delta(1, 1)]
    (6.5, 15.125, 5.5)
    """
    spec = backprop.spec
    given = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in params.items()}
    missing = [p.name for p in spec.params if p.name not in given]
    if missing:
        raise SpecError(
            f"params lacks {len(missing)} parameter(s) of this network, e.g. {', '.join(missing[:5])}."
        )
    for name, arr, n in (("x", x, spec.sizes[0]), ("y", y, spec.sizes[-1])):
        if len(arr) != n:
            raise SpecError(f"{name} must have {n} value(s) for this network; got {len(arr)}.")
    from . import numeric  # the one numeric evaluator (imported here: a small local edit)

    leaves = {p: float(given[p.name]) for p in spec.params}
    leaves.update({s: float(v) for s, v in zip(spec.inputs, x)})
    leaves.update({s: float(v) for s, v in zip(spec.targets, y)})
    # The forward pass covers the whole network, layer by layer (a cone holds only the
    # neurons its parameter reaches, and their definitions reach back over whole layers),
    # then J and the δ recursion backward: one program, in float64 like the compiled code.
    steps = []
    for layer in range(1, spec.n_layers + 1):
        for head in ("z", "a"):
            for j in range(1, spec.sizes[layer] + 1):
                s = getattr(spec, head)(layer, j)
                steps.append((s, backprop.definition(s)))
    steps.append((spec.J, backprop.definition(spec.J)))
    g = backprop.graph
    for name in reversed(list(nx.topological_sort(g))):
        node = g.nodes[name]
        if node["kind"] == "z":
            d = spec.delta(node["layer"], node["index"][0])
            steps.append((d, backprop.delta[d]))
    return {s: float(v) for s, v in numeric.run(steps, leaves).items()}


def definition_line(backprop: Backprop, s: sp.Symbol) -> Line:
    """The line ``s = its definition`` of a z, a or J symbol, as derivations print it.

    A weighted sum of more than ``MAX_SUMMANDS`` inputs is written with Σ (and never
    built); any other definition too large to read is named, not printed.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity")
    >>> definition_line(net.backprop, net.z(1, 1)).expr
    b1_1 + w1_1_1*x1
    """
    spec = backprop.spec
    parsed = parse_name(s.name)
    if parsed.head == "z" and spec.sizes[parsed.layer - 1] > MAX_SUMMANDS:
        (j,), k = parsed.index, sp.Symbol("k")
        head = "x" if parsed.layer == 1 else "a"
        term = sp.Symbol(symbol_name("w", parsed.layer, j, "k")) * sp.Symbol(
            symbol_name(head, None if head == "x" else parsed.layer - 1, "k"))
        n = spec.sizes[parsed.layer - 1]
        return Line(text_name(s), latex_name(s), sp.Sum(term, (k, 1, n)) + spec.b(parsed.layer, j))
    expr = backprop.definition(s)
    if tree_size(expr) <= MAX_SHOWN_EXPANDED * 4:
        return Line(text_name(s), latex_name(s), expr)
    what = f"the {spec.loss.name} loss over the {spec.sizes[-1]:,} outputs" if s == spec.J else "its definition"
    note = f"{what}, {tree_size(expr):,} operations, not printed"
    return Line(f"{text_name(s)} = ({note})", rf"{latex_name(s)} &= \text{{({latex_text(note)})}}")


def sample_text(spec: Spec, values: Mapping[sp.Symbol, float]) -> str:
    """The sample's inputs and targets as text, as a derivation's subtitle names them.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1])
    >>> sample_text(net.backprop.spec, {net.x(1): 2.0, net.y(1): 0.5})
    'x₁ = 2, y₁ = 0.5'
    """
    return ", ".join(f"{text_name(s)} = {values[s]:.6g}" for s in (*spec.inputs, *spec.targets))


def _float(v: sp.Expr) -> float:
    # Saturated values overflow float64 the way NumPy does: σ(1000) rounds to 1, so
    # log(1 - a) is log(0), which SymPy calls zoo (printed as inf) and 0·zoo nan.
    if v in (sp.zoo, sp.oo):
        return float("inf")
    if v == -sp.oo:
        return float("-inf")
    try:
        return float(v)
    except TypeError:  # nan, or a complex value
        return float("nan")


class Derivation(SteppedDerivation):
    """The chain-rule derivation of ∂J/∂p for one parameter p.

    It prints (:class:`~symbackprop.printing.SteppedDerivation`) as Unicode text
    (``text()``, ``str()``), one LaTeX ``aligned`` block (``latex()``, Jupyter's
    ``_repr_latex_``) and Markdown (``markdown()``), all from :meth:`document`.

    Attributes
    ----------
    param : sympy.Symbol
        The parameter p.
    n_paths : int
        Number of paths from p to J in the scalar graph.
    paths : list of list of str or None
        The paths (node names), listed while there are at most ``MAX_PATHS``.
    partials : dict[tuple[str, str], sympy.Expr]
        The local partial on every edge of the listed paths (p's own edge otherwise).
    products : list of sympy.Expr
        The product of local partials along each listed path.
    chain_sum : sympy.Expr or None
        The sum of the products: the multivariate chain rule.
    deltas : list of (sympy.Symbol, sympy.Expr)
        The δ recursion from the output layer down to p's layer, for every neuron p
        reaches.
    delta_form : sympy.Expr
        ∂J/∂p in δ form, e.g. ``delta1_1*x1``.
    compact : sympy.Expr
        :meth:`Network.grad` of p: δ of p's neuron written out one level.
    values : dict or None
        Values of every symbol at one sample, set by :meth:`at`.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="sigmoid", loss="quadratic")
    >>> d = net.derivation(net.w(1, 1, 1))
    >>> d.n_paths, d.paths
    (1, [['w1_1_1', 'z1_1', 'a1_1', 'J']])
    >>> d.compact
    a1_1*x1*(1 - a1_1)*(a1_1 - y1)
    >>> print(d.latex())  # doctest: +ELLIPSIS
    \\begin{aligned}
    ...
    \\frac{\\partial J}{\\partial w^{(1)}_{1 1}} &= \\delta^{(1)}_{1} x_{1} \\\\
    ...
    \\end{aligned}
    >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
    >>> print(net.derivation("b1_1").text())  # doctest: +ELLIPSIS
    ∂J/∂b⁽¹⁾₁ in the 1-1 network (identity; loss quadratic)
    ...
    δ recursion (δ = ∂J/∂z, from the output layer back)
      δ⁽¹⁾₁ = a⁽¹⁾₁ - y₁
    ...
    >>> print(net.derivation("b1_1").markdown().splitlines()[0])
    ### $\\frac{\\partial J}{\\partial b^{(1)}_{1}}$ in the 1-1 network (identity; loss quadratic)
    """

    def __init__(self, backprop: Backprop, param: sp.Symbol, *, values: dict | None = None):
        self.backprop = backprop
        self.param = param
        self.values = values
        g = backprop.graph
        self.n_paths = count_paths(g, param.name, "J")
        self.paths = (
            [list(p) for p in nx.all_simple_paths(g, param.name, "J")]
            if self.n_paths <= MAX_PATHS
            else None
        )
        edges: dict[tuple[str, str], None] = {}
        for path in self.paths or [[param.name, next(iter(g.successors(param.name)))]]:
            edges.update(dict.fromkeys(zip(path, path[1:])))
        self.partials = {e: g.edges[e]["partial"] for e in edges}
        self.products = [
            sp.Mul(*[self.partials[e] for e in zip(p, p[1:])]) for p in self.paths or []
        ]
        self.chain_sum = sp.Add(*self.products) if self.paths is not None else None
        reached = [
            n for n in nx.descendants(g, param.name) if g.nodes[n]["kind"] == "z"
        ]
        reached.sort(key=lambda n: (-g.nodes[n]["layer"], g.nodes[n]["index"]))
        spec = backprop.spec
        self.deltas = [
            (d, backprop.delta[d])
            for d in (spec.delta(g.nodes[n]["layer"], g.nodes[n]["index"][0]) for n in reached)
        ]
        self.delta_form = backprop.adjoint[param.name]
        self.compact = backprop.grad(param)
        self._expanded: sp.Expr | None = None

    # ------------------------------------------------------------------ values
    @property
    def expanded(self) -> sp.Expr:
        """∂J/∂p in x, y, w and b only (may raise :class:`ExpressionTooLargeError`)."""
        if self._expanded is None:
            self._expanded = self.backprop.expanded(self.compact, what=f"dJ/d{self.param}")
        return self._expanded

    def at(
        self,
        params: Mapping[sp.Symbol | str, float],
        x: Sequence[float],
        y: Sequence[float],
        *,
        max_edges: int | None | object = CURRENT_LIMIT,
    ) -> Derivation:
        """The same derivation with the value of every step at one sample.

        Parameters
        ----------
        params : Mapping[Symbol or str, float]
            A value for every parameter of the network.
        x, y : sequence of float
            One input and its target.
        max_edges : int or None
            Refuse (:class:`GraphTooLargeError`) a network whose scalar graph has more edges:
            the forward pass is evaluated symbolically, about one edge at a time.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
        >>> d = net.derivation("w1_1_1").at({"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0])
        >>> d.value(d.compact)   # (2*3 + 0.5 - 1) * 3
        16.5
        """
        spec = self.backprop.spec
        # Every step's value needs the whole forward pass, symbolically: about one graph edge each.
        check_graph_size(graph_size(spec), max_edges,
                         f"Every step's value at one sample needs the whole forward pass of the "
                         f"{'-'.join(map(str, spec.sizes))} network, whose scalar graph")
        values = sample_values(self.backprop, params, x, y)
        return Derivation(self.backprop, self.param, values=values)

    def value(self, expr: sp.Expr) -> float:
        """Value of ``expr`` at the sample given to :meth:`at`.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> d = net.derivation("b1_1").at({"w1_1_1": 1.0, "b1_1": 0.0}, x=[2.0], y=[0.5])
        >>> d.value(net.a(1, 1) - net.y(1))
        1.5
        """
        if self.values is None:
            raise SpecError("This derivation has no values; call .at(params, x, y) first.")
        return _float(by_name(expr).xreplace(self.values))  # a plain Symbol("a1_1") works too

    # --------------------------------------------------------------- structure
    def sections(self) -> list[Section]:
        """The derivation as titled sections of lines (what the printers print)."""
        p, g = self.param, self.backprop.graph
        J = sp.Symbol("J")
        grad = partial_name(J, p)
        out: list[Section] = []
        if self.paths is not None:
            defined = ("z", "a", "loss")
            on_paths = {n for path in self.paths for n in path if g.nodes[n]["kind"] in defined}
            shown = [g.nodes[n]["symbol"] for n in nx.topological_sort(g) if n in on_paths]
            out.append(Section("Forward definitions", tuple(definition_line(self.backprop, s) for s in shown)))
        out += path_sections(self, g, p, J, many=f"There are {self.n_paths:,} paths (their number grows "
                             "exponentially with depth); the δ recursion below sums over all of them.")
        assumed = [(d, self.backprop.assumed[d]) for d, _ in self.deltas if d in self.backprop.assumed]
        out.append(Section(
            "δ recursion (δ = ∂J/∂z, from the output layer back)",
            tuple([*self._delta_lines(), *(Line(text_name(d), latex_name(d), expr) for d, expr in assumed)]),
            note=f"The last line, δ = a - y, holds {SUM_TO_ONE}; the line above holds for any targets."
            if assumed else "",
        ))
        result = [Line(grad.text, grad.latex, self.delta_form)]
        if self.compact != self.delta_form:
            result.append(Line(grad.text, grad.latex, self.compact))
        note = ""
        size = self.backprop.expanded_size(self.compact)
        if size <= MAX_SHOWN_EXPANDED:
            expanded = self.backprop.expanded(self.compact, max_size=None)
            result.append(Line(grad.text + " (expanded)", grad.latex + r"\;\text{(expanded)}", expanded))
        else:
            note = (
                f"The expanded form (in x, y, w, b) has about {size:,} operations; "
                "net.grad(p, expand=True) builds it."
            )
        out.append(Section("Result", tuple(result), note=note))
        return out

    def _delta_lines(self) -> list[Line]:
        """One line per δ; a layer of more than ``MAX_PATHS`` shows its first few and last."""
        layers: dict[int, list[tuple[sp.Symbol, sp.Expr]]] = {}
        for d, expr in self.deltas:
            layers.setdefault(parse_name(d.name).layer, []).append((d, expr))
        lines = []
        for layer, group in layers.items():
            shown = group if len(group) <= MAX_PATHS else [*group[:SHOWN_DELTAS], group[-1]]
            for d, expr in shown:
                if len(group) > MAX_PATHS and d is group[-1][0]:
                    first, last = group[SHOWN_DELTAS][0], group[-2][0]
                    n = len(group) - SHOWN_DELTAS - 1
                    lines.append(Line(
                        f"⋮ {n:,} more of layer {layer}, {text_name(first)} … {text_name(last)} "
                        "(Derivation.deltas lists them all)",
                        rf"&\vdots\;\text{{{n:,} more of layer {layer}, }} {latex_name(first)} "
                        rf"\ldots {latex_name(last)}",
                    ))
                lines.append(Line(text_name(d), latex_name(d), expr))
        return lines

    # ---------------------------------------------------------------- printers
    def _heading(self) -> tuple[str, str, str]:
        return (f"∂J/∂{text_name(self.param)}", rf"\frac{{\partial J}}{{\partial {latex_name(self.param)}}}",
                self.backprop.spec.describe())

    def _at(self) -> str:
        return "the sample " + sample_text(self.backprop.spec, self.values or {})

    def to_dict(self) -> dict:
        """The derivation as plain data (strings in Python syntax and LaTeX), for JSON.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> data = sbp.mlp([1, 1], activation="identity").derivation("b1_1").to_dict()
        >>> data["paths"], data["compact"]
        ([['b1_1', 'z1_1', 'a1_1', 'J']], 'a1_1 - y1')
        """
        return {
            "param": self.param.name,
            "network": self.backprop.spec.describe(),
            "n_paths": self.n_paths,
            "paths": self.paths,
            "partials": [
                {"edge": [u, v], "partial": to_str(e), "latex": to_latex(e)}
                for (u, v), e in self.partials.items()
            ],
            "deltas": [{"delta": d.name, "expr": to_str(e), "latex": to_latex(e)} for d, e in self.deltas],
            "delta_form": to_str(self.delta_form),
            "compact": to_str(self.compact),
            "compact_latex": to_latex(self.compact),
        }

    def __repr__(self) -> str:
        return f"<Derivation of dJ/d{self.param} in the {self.backprop.spec.describe()}: {self.n_paths} path(s)>"
