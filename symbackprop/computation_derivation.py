"""One variable's gradient in a computation, step by step: paths, local partials, products, sum.

:class:`ComputationDerivation` is the computation's counterpart of
:class:`~symbackprop.derivation.Derivation`: every path from the variable to the loss (counted
first by dynamic programming and listed only up to :data:`~symbackprop.derivation.MAX_PATHS`,
since their number can grow exponentially), the local partial on each edge, the product along
each path, the chain-rule sum, and the adjoint recursion δ_v = ∂J/∂v that sums over all
paths in one pass. It prints through the same :class:`~symbackprop.printing.Document` as the
MLP derivations; :meth:`ComputationDerivation.at` adds the value of every step at one point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import sympy as sp

from .derivation import MAX_PATHS, MAX_SHOWN_EXPANDED, count_paths, partial_name, path_sections
from .errors import SpecError
from .notation import to_latex, to_str, to_text
from .printing import Line, Section, SteppedDerivation

if TYPE_CHECKING:
    from .computations import Computation

__all__ = ["ComputationDerivation", "point_values", "point_value", "point_text"]


def point_values(comp: Computation, values: Mapping[sp.Symbol | str, float] | None = None,
                 **named: float) -> dict[sp.Symbol, float]:
    """Every node and adjoint of ``comp`` at one point: forward pass, then the δ backward.

    ``values`` (a mapping by Symbol or name) and ``named`` (keywords) give the leaves: every
    parameter, input and target the loss depends on.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("u = w*x\\nJ = (u - y)**2/2", params="w", inputs="x", targets="y")
    >>> v = point_values(g, {"w": 2.0}, x=3.0, y=1.0)
    >>> v[g.symbol("u")], v[g.loss], v[sp.Symbol("delta_u", real=True)]
    (6.0, 12.5, 5.0)
    """
    from . import numeric
    from .computations import realize

    given: dict[str, float] = {}
    for k, v in {**(values or {}), **named}.items():
        given[k.name if isinstance(k, sp.Symbol) else str(k)] = v
    leaves = [*comp.params, *comp.inputs, *comp.targets]
    needed = nx.ancestors(comp.graph, comp.loss.name)
    missing = [s.name for s in leaves if s.name in needed and s.name not in given]
    if missing:
        raise SpecError(
            f"No value for {', '.join(missing)}: give every parameter, input and target the loss "
            "depends on, e.g. .at({'w1': 0.5, ...}, x=1.0, y=0.0)."
        )
    extra = sorted(set(given) - {s.name for s in leaves})
    if extra:
        raise SpecError(
            f"{', '.join(extra)} is not a parameter, input or target of this computation "
            f"(they are {', '.join(s.name for s in leaves)}); defined nodes are computed, not given."
        )
    point: dict[sp.Symbol, float] = {}
    for s in leaves:
        if s.name in given:
            try:
                point[s] = float(given[s.name])
            except (TypeError, ValueError):
                raise SpecError(f"The value of {s.name} must be a number; got {given[s.name]!r}.") from None
    steps = list(comp.definitions)
    steps += [(d, realize(e)) for d, e in comp.deltas.items()]  # from the loss back
    # Leaves the loss does not need still appear in unused adjoints: give them nan.
    for s in leaves:
        point.setdefault(s, float("nan"))
    return {s: float(v) for s, v in numeric.run(steps, point).items()}


def point_value(values: Mapping[sp.Symbol, float] | None, expr: sp.Expr) -> float:
    """Value of ``expr`` (symbols matched by name) at a point of :func:`point_values`.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("J = w*x", params="w", inputs="x")
    >>> point_value(point_values(g, w=2.0, x=3.0), sp.Symbol("w") + 1)
    3.0
    """
    from .computations import realize
    from .numeric import evaluate

    if values is None:
        raise SpecError("This derivation has no values; call .at({...}, x=..., y=...) first.")
    expr = realize(sp.sympify(expr))
    by_name = {s.name: s for s in values}
    expr = expr.xreplace({s: by_name[s.name] for s in expr.free_symbols if s.name in by_name})
    return float(np.asarray(evaluate(expr, {s: np.asarray(v) for s, v in values.items()})))


def point_text(comp: Computation, values: Mapping[sp.Symbol, float]) -> str:
    """The point's finite leaves as text, as a derivation's subtitle names them.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("J = w*x", params="w", inputs="x")
    >>> point_text(g, point_values(g, w=2.0, x=3.0))
    'w = 2, x = 3'
    """
    leaves = [s for s in (*comp.params, *comp.inputs, *comp.targets) if math.isfinite(values.get(s, math.nan))]
    return ", ".join(f"{to_text(s)} = {values[s]:.6g}" for s in leaves)


class ComputationDerivation(SteppedDerivation):
    """The chain-rule derivation of ∂J/∂v for one variable v of a computation.

    Attributes
    ----------
    variable : sympy.Symbol
        v: a parameter, input, target or defined node.
    n_paths : int
        Number of paths from v to the loss (dynamic programming: never enumerated to count).
    paths : list of list of str or None
        The paths (node names), listed while there are at most ``MAX_PATHS``.
    partials : dict[tuple[str, str], sympy.Expr]
        The local partial on every edge of the listed paths (v's own edges otherwise).
    products : list of sympy.Expr
        The product of the local partials along each listed path.
    chain_sum : sympy.Expr or None
        The sum of the products: the multivariate chain rule.
    adjoints : list of (sympy.Symbol, sympy.Expr)
        δ_u = ∂J/∂u for every defined node u on v's paths, from the loss back.
    delta_form : sympy.Expr
        ∂J/∂v in the δ of the nodes that use v.
    compact : sympy.Expr
        ``comp.grad(v)``.
    values : dict or None
        Every symbol's value at the point given to :meth:`at`.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("h = w*x\\nJ = h + x*h", params="w", inputs="x")
    >>> d = g.derivation("x")
    >>> d.n_paths, d.paths
    (2, [['x', 'h', 'J'], ['x', 'J']])
    >>> d.chain_sum
    h + w*(x + 1)

    It prints as :class:`~symbackprop.derivation.Derivation` does (``text()``, ``latex()``,
    ``markdown()``, ``_repr_latex_``), from :meth:`document`:

    >>> print(d.text())  # doctest: +ELLIPSIS
    ∂J/∂x in the computation J ...
    Paths from x to J (2)
      x → h → J
      x → J
    ...
    >>> print(computation("J = w*x", params="w", inputs="x").derivation("w").markdown().splitlines()[0])
    ### $\\frac{\\partial J}{\\partial w}$ in the computation J (1 definition(s); params w)
    """

    def __init__(self, comp: Computation, variable: sp.Symbol, *, values: dict | None = None):
        self.computation = comp
        self.variable = variable
        self.values = values
        g, loss = comp.graph, comp.loss.name
        v = variable.name
        self.n_paths = count_paths(g, v, loss) if v != loss else 1
        self.paths = (
            [list(p) for p in nx.all_simple_paths(g, v, loss)] if v != loss and self.n_paths <= MAX_PATHS else None
        )
        edges: dict[tuple[str, str], None] = {}
        for path in self.paths if self.paths is not None else [[v, c] for c in g.successors(v)]:
            edges.update(dict.fromkeys(zip(path, path[1:])))
        self.partials = {e: g.edges[e]["partial"] for e in edges}
        # A path through an edge whose definition uses v in several places is one path: the
        # edge's partial holds all of them (x reaches J = h + x*h once directly).
        self.products = [sp.Mul(*[self.partials[e] for e in zip(p, p[1:])]) for p in self.paths or []]
        self.chain_sum = sp.Add(*self.products) if self.paths is not None else None
        reached = nx.descendants(g, v)
        self.adjoints = [
            (d, comp.deltas[d]) for d in comp.deltas
            if d.name[len("delta_"):] in reached
        ]
        self.delta_form = comp.adjoints[v]
        self.compact = comp.grad(variable)

    # ------------------------------------------------------------------ values
    def at(self, values: Mapping[sp.Symbol | str, float] | None = None, /, **named: float) -> ComputationDerivation:
        """The same derivation with every step's value at one point.

        Parameters
        ----------
        values : Mapping[Symbol or str, float], optional
            Values by Symbol or name (parameters, and inputs/targets if not given as keywords).
        **named : float
            Values by keyword, e.g. ``x=1.0, y=0.0``.

        Examples
        --------
        >>> from symbackprop.computations import computation
        >>> g = computation("u = w*x\\nJ = (u - y)**2/2", params="w", inputs="x", targets="y")
        >>> d = g.derivation("w").at({"w": 2.0}, x=3.0, y=1.0)
        >>> d.value(d.compact)   # (2*3 - 1) * 3
        15.0
        """
        return ComputationDerivation(self.computation, self.variable,
                                     values=point_values(self.computation, values, **named))

    def value(self, expr: sp.Expr) -> float:
        """Value of ``expr`` at the point given to :meth:`at`.

        Examples
        --------
        >>> from symbackprop.computations import computation
        >>> g = computation("J = w*x", params="w", inputs="x")
        >>> g.derivation("w").at(w=2.0, x=3.0).value(g.loss)
        6.0
        """
        return point_value(self.values, expr)

    # --------------------------------------------------------------- structure
    def sections(self) -> list[Section]:
        """The derivation as titled sections of lines (what the printers print)."""
        comp, g = self.computation, self.computation.graph
        v, J = self.variable, comp.loss
        grad = partial_name(J, v, to_text, to_latex)
        out: list[Section] = []
        on_paths = {n for path in self.paths or [] for n in path} if self.paths is not None else (
            nx.descendants(g, v.name) | {v.name})
        shown = [s for s, _ in comp.definitions if s.name in on_paths]
        out.append(Section("Definitions (the computation graph on the paths)", tuple(
            self._definition_line(s) for s in shown)))
        out += path_sections(
            self, g, v, J, text=to_text, latex=to_latex,
            many=f"There are {self.n_paths:,} paths (their number can grow exponentially with depth), more "
            f"than the {MAX_PATHS} listed at most; the adjoint recursion below sums over all of them, one "
            "edge at a time.")
        if self.adjoints:
            out.append(Section(
                f"Adjoints (δ_u = ∂{to_text(J)}/∂u, from {to_text(J)} back; each sums over the uses of u)",
                tuple(Line(to_text(d), to_latex(d), e) for d, e in self.adjoints),
            ))
        result = [Line(grad.text, grad.latex, self.delta_form)]
        if self.compact != self.delta_form:
            result.append(Line(grad.text, grad.latex, self.compact))
        note = ""
        size = comp.expanded_size(self.compact)
        if size <= MAX_SHOWN_EXPANDED:
            expanded = comp.expanded(self.compact, max_size=None)
            if expanded != self.compact:
                result.append(Line(grad.text + " (expanded)", grad.latex + r"\;\text{(expanded)}", expanded))
        else:
            note = f"The expanded form has about {size:,} operations; g.grad(v, expand=True) builds it."
        out.append(Section("Result", tuple(result), note=note))
        return out

    def _definition_line(self, s: sp.Symbol) -> Line:
        from .backprop import tree_size

        shown = self.computation.graph.nodes[s.name]["shown"]
        if tree_size(shown) <= MAX_SHOWN_EXPANDED * 4:
            return Line(to_text(s), to_latex(s), shown)
        note = f"its definition, {tree_size(shown):,} operations, not printed"
        return Line(f"{to_text(s)} = ({note})", rf"{to_latex(s)} &= \text{{({note})}}")

    # ---------------------------------------------------------------- printers
    def _heading(self) -> tuple[str, str, str]:
        J, v = self.computation.loss, self.variable
        return (f"∂{to_text(J)}/∂{to_text(v)}", rf"\frac{{\partial {to_latex(J)}}}{{\partial {to_latex(v)}}}",
                self.computation.describe())

    def _at(self) -> str:
        return point_text(self.computation, self.values or {})

    def to_dict(self) -> dict:
        """The derivation as plain data (Python syntax and LaTeX strings), for JSON.

        Examples
        --------
        >>> from symbackprop.computations import computation
        >>> computation("J = w*x", params="w", inputs="x").derivation("w").to_dict()["compact"]
        'x'
        """
        return {
            "variable": self.variable.name,
            "computation": self.computation.source(),
            "n_paths": self.n_paths,
            "paths": self.paths,
            "partials": [{"edge": [a, b], "partial": to_str(e), "latex": to_latex(e)}
                         for (a, b), e in self.partials.items()],
            "products": [to_str(p) for p in self.products],
            "chain_sum": None if self.chain_sum is None else to_str(self.chain_sum),
            "adjoints": [{"adjoint": d.name, "expr": to_str(e), "latex": to_latex(e)} for d, e in self.adjoints],
            "delta_form": to_str(self.delta_form),
            "compact": to_str(self.compact),
            "compact_latex": to_latex(self.compact),
        }

    def __repr__(self) -> str:
        return f"<ComputationDerivation of d{self.computation.loss}/d{self.variable}: {self.n_paths} path(s)>"
