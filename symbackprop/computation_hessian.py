"""Second derivatives of a computation: ∂²J/∂p∂q step by step, and ∂outputs/∂inputs.

The computation's counterpart of :mod:`symbackprop.hessian` (the MLP's): ∂²J/∂p∂q is the
derivative along q of the gradient ∂J/∂p, forward over reverse, over the computation
graph instead of the layers. Every line of the computation and of its adjoint recursion is
differentiated along one leaf q (a parameter, input or target), giving named quantities:

- the **forward tangent** v̇_v = ∂v/∂q of every defined node v that q reaches, in the
  order of the lines, one term per edge of the graph (q̇ = 1, every other leaf 0)::

      v̇_v = Σ over the symbols u that v's definition uses of ∂v/∂u · u̇

  Python name ``vdot_v`` (Unicode ``v̇ᵥ``, LaTeX ``\\dot{v}_{v}``);
- the **second-order adjoint** δ̇_v = ∂δ_v/∂q, from the loss back: each adjoint line
  δ_v = Σ_c δ_c ∂c/∂v differentiated along q, term by term over the symbols s it holds
  (δ̇ = Σ_s ∂δ_v/∂s · ṡ: the δ of v's consumers, the nodes in the local partials, and 1
  for q itself). Python name ``deltadot_v`` (``δ̇ᵥ``, ``\\dot{\\delta}_{v}``);
- the result, ∂J/∂p = Σ_c δ_c ∂c/∂p differentiated along q the same way.

A dotted symbol that is zero (q does not reach that node) is left out. The MLP's ``zdot``,
``adot`` and ``deltadot1_2`` are the same recursions for z, a and the δ of a neuron; the
names here carry the node's own name after ``vdot_`` / ``deltadot_``, so no user name may
start with either (as with ``delta_``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import networkx as nx
import sympy as sp

from .activations import at_kinks
from .backprop import DEFAULT_MAX_SIZE, check_expanded_size
from .computation_derivation import point_text, point_value
from .errors import ComputationError
from .hessian import MAX_SHOWN_EXPANDED, _Partials
from .notation import real_symbol, to_latex, to_str, to_text
from .printing import Line, Section, SteppedDerivation

if TYPE_CHECKING:
    from .computations import Computation

__all__ = ["ComputationHessian", "tangent_symbol", "adjoint_dot_symbol", "TANGENT_PREFIX",
           "ADJOINT_DOT_PREFIX", "input_jacobian"]

#: v̇_v = ∂v/∂q is ``vdot_v``; δ̇_v = ∂δ_v/∂q is ``deltadot_v``. No user name may start so.
TANGENT_PREFIX = "vdot_"
ADJOINT_DOT_PREFIX = "deltadot_"


def tangent_symbol(name: str) -> sp.Symbol:
    """The tangent v̇_v = ∂v/∂q of the node ``name``: the real symbol ``vdot_<name>``.

    Examples
    --------
    >>> tangent_symbol("h"), to_text(tangent_symbol("h"))
    (vdot_h, 'v̇ₕ')
    """
    return real_symbol(TANGENT_PREFIX + name)


def adjoint_dot_symbol(name: str) -> sp.Symbol:
    """The second-order adjoint δ̇_v = ∂δ_v/∂q of the node ``name``: ``deltadot_<name>``.

    Examples
    --------
    >>> adjoint_dot_symbol("o"), to_latex(adjoint_dot_symbol("o"))
    (deltadot_o, '\\\\dot{\\\\delta}_{o}')
    """
    return real_symbol(ADJOINT_DOT_PREFIX + name)


def _tangents(comp: Computation, q: sp.Symbol) -> dict[sp.Symbol, sp.Expr]:
    """v̇_v = Σ_u ∂v/∂u · u̇ for every defined node q reaches (zero ones left out), in line order."""
    g = comp.graph
    out: dict[sp.Symbol, sp.Expr] = {}
    moving = {q.name: sp.S.One}  # u̇ of the nodes (and q) that move along q
    for s, _ in comp.definitions[:-1]:  # not the loss: J̇ is first order, and no δ uses it
        terms = [g.edges[u, s.name]["partial"] * moving[u] for u in g.predecessors(s.name) if u in moving]
        rhs = at_kinks(sp.Add(*terms))
        if rhs != 0:
            out[tangent_symbol(s.name)] = rhs
            moving[s.name] = tangent_symbol(s.name)
    return out


class _Recursions:
    """The tangent of q and the second-order adjoint of every node (built once per q)."""

    def __init__(self, comp: Computation, q: sp.Symbol):
        self.comp, self.q = comp, q
        self.tangent = _tangents(comp, q)
        #: δ̇ that are not zero, from the loss back (the order of ``comp.deltas``).
        self.adjoint: dict[sp.Symbol, sp.Expr] = {}
        self.partials = _Partials()
        for d, E in comp.deltas.items():
            rhs = self.along(E)
            if rhs != 0:
                self.adjoint[adjoint_dot_symbol(d.name[len("delta_"):])] = rhs

    def d(self, s: sp.Symbol) -> sp.Expr:
        """ṡ: 1 for q, the dotted symbol of a node or δ that moves along q, else 0."""
        if s == self.q:
            return sp.S.One
        name = s.name
        if name.startswith("delta_"):
            dd = adjoint_dot_symbol(name[len("delta_"):])
            return dd if dd in self.adjoint else sp.S.Zero
        t = tangent_symbol(name)
        return t if t in self.tangent else sp.S.Zero

    def along(self, E: sp.Expr) -> sp.Expr:
        """Ė = Σ_s ∂E/∂s · ṡ over the symbols of E that move along q (kinks: step' = 0)."""
        moving = [(s, ds) for s in sorted(E.free_symbols, key=str) if (ds := self.d(s)) != 0]
        return at_kinks(sp.Add(*[self.partials.of(E, s) * ds for s, ds in moving]))

    @property
    def definitions(self) -> dict[sp.Symbol, sp.Expr]:
        return self.tangent | self.adjoint


def _leaf(comp: Computation, v: str | sp.Symbol, which: str) -> sp.Symbol:
    s = comp.symbol(v)
    if comp.graph.nodes[s.name]["kind"] not in ("param", "input", "target"):
        leaves = ", ".join(x.name for x in (*comp.params, *comp.inputs, *comp.targets))
        raise ComputationError(
            f"{which} = {s.name!r} is a defined node; second derivatives are taken with respect to "
            f"the declared parameters, inputs and targets ({leaves})."
        )
    return s


class ComputationHessian(SteppedDerivation):
    """∂²J/∂p∂q of a computation step by step: the tangent of q, δ and δ̇, the result.

    Built by :meth:`Computation.hessian_derivation
    <symbackprop.computations.Computation.hessian_derivation>`.

    Attributes
    ----------
    p, q : sympy.Symbol
        Two leaves (parameters, inputs or targets): ∂²J/∂p∂q is ∂J/∂p differentiated along q.
    tangent : dict[Symbol, Expr]
        v̇_v = ∂v/∂q (``vdot_v``) of every node q reaches, in the order of the lines.
    deltas : list of (Symbol, Expr)
        δ_v of every node on p's paths to the loss, from the loss back.
    adjoint : dict[Symbol, Expr]
        δ̇_v = ∂δ_v/∂q (``deltadot_v``) of the same nodes, those that are not zero.
    gradient : sympy.Expr
        ∂J/∂p in the δ of p's consumers (``comp.adjoints[p]``), the line differentiated.
    compact : sympy.Expr
        ∂²J/∂p∂q in the named symbols.
    values : dict or None
        Every symbol's value at one point, set by :meth:`at`.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("h = tanh(w*x)\\nJ = (h - y)**2/2", params="w", inputs="x", targets="y")
    >>> h = g.hessian_derivation("w", "w")
    >>> h.tangent
    {vdot_h: x*(1 - h**2)}
    >>> h.adjoint
    {deltadot_h: vdot_h}
    >>> h.compact
    -2*delta_h*h*vdot_h*x + deltadot_h*x*(1 - h**2)

    It prints as :class:`~symbackprop.derivation.Derivation` does (``text()``, ``latex()``,
    ``markdown()``, ``_repr_latex_``), from its document:

    >>> g = computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    >>> print(g.hessian_derivation("w", "w").text().splitlines()[0])
    ∂²J/∂w² in the computation J (1 definition(s); params w)
    """

    def __init__(self, comp: Computation, p: sp.Symbol, q: sp.Symbol, *, values: dict | None = None,
                 recursions: _Recursions | None = None):
        self.computation, self.p, self.q, self.values = comp, p, q, values
        self._rec = recursions or _Recursions(comp, q)
        reached = nx.descendants(comp.graph, p.name)
        self.deltas = [(d, e) for d, e in comp.deltas.items() if d.name[len("delta_"):] in reached]
        needed = [adjoint_dot_symbol(d.name[len("delta_"):]) for d, _ in self.deltas]
        self.tangent = dict(self._rec.tangent)
        self.adjoint = {dd: self._rec.adjoint[dd] for dd in needed if dd in self._rec.adjoint}
        self.gradient = comp.adjoints[p.name]
        self.compact = self._rec.along(self.gradient)

    # ------------------------------------------------------------ expansion
    def _size(self, expr: sp.Expr) -> int:
        """Tree size of ``expr`` with every dotted symbol, node and δ substituted (not built)."""
        comp, defs = self.computation, self._rec.definitions
        sizes: dict[sp.Basic, int] = {}

        def size(e: sp.Basic) -> int:
            if e in sizes:
                return sizes[e]
            if e.is_Symbol:
                n = comp.expanded_size(e)
            elif not e.args:
                n = 1
            else:
                n = 1 + sum(size(a) for a in e.args)
            sizes[e] = n
            return n

        for s, e in defs.items():  # each definition uses only dotted symbols recorded before it
            sizes[s] = size(e)
        return size(expr)

    def expanded(self, *, max_size: int | None = DEFAULT_MAX_SIZE) -> sp.Expr:
        """∂²J/∂p∂q in parameters, inputs and targets only; refused
        (:class:`ExpressionTooLargeError`) past ``max_size`` tree nodes, measured before
        anything is built (None: no limit).

        Examples
        --------
        >>> from symbackprop.computations import computation
        >>> g = computation("u = w*x\\nJ = u**3", params="w", inputs="x")
        >>> g.hessian_derivation("w", "w").expanded()
        6*w*x**3
        """
        if max_size is not None:
            check_expanded_size(self._size(self.compact), max_size, f"d2J/d{self.p}d{self.q}", "derivatives")
        memo: dict[sp.Symbol, sp.Expr] = {}
        for s, e in self._rec.definitions.items():
            memo[s] = e.xreplace({t: memo[t] for t in e.free_symbols if t in memo})
        named = self.compact.xreplace({t: memo[t] for t in self.compact.free_symbols if t in memo})
        return self.computation.expanded(named, max_size=None)

    # ---------------------------------------------------------------- values
    def at(self, values: Mapping[sp.Symbol | str, float] | None = None, /, **named: float) -> ComputationHessian:
        """The same derivation with the value of every step at one point (as ``g.derivation(v).at``).

        Examples
        --------
        >>> from symbackprop.computations import computation
        >>> g = computation("u = w*x\\nJ = (u - y)**2/2", params="w", inputs="x", targets="y")
        >>> h = g.hessian_derivation("w", "w").at({"w": 2.0}, x=3.0, y=1.0)
        >>> h.value(h.compact)   # x²
        9.0
        """
        from . import numeric
        from .computation_derivation import point_values
        from .computations import realize

        point = point_values(self.computation, values, **named)
        steps = [(s, realize(e)) for s, e in self._rec.definitions.items()]
        point |= {s: float(v) for s, v in numeric.run(steps, point).items()}
        return ComputationHessian(self.computation, self.p, self.q, values=point, recursions=self._rec)

    def value(self, expr: sp.Expr) -> float:
        """Value of ``expr`` (in any symbols of the derivation) at the point given to :meth:`at`."""
        return point_value(self.values, expr)

    # --------------------------------------------------------------- printing
    def _name(self) -> tuple[str, str]:
        J, p, q = self.computation.loss, self.p, self.q
        if p == q:
            return (f"∂²{to_text(J)}/∂{to_text(p)}²",
                    rf"\frac{{\partial^2 {to_latex(J)}}}{{\partial {to_latex(p)}^2}}")
        return (f"∂²{to_text(J)}/∂{to_text(p)}∂{to_text(q)}",
                rf"\frac{{\partial^2 {to_latex(J)}}}{{\partial {to_latex(p)}\, \partial {to_latex(q)}}}")

    def sections(self) -> list[Section]:
        """The steps as titled sections (what the printers print)."""
        q, J = self.q, self.computation.loss
        text, latex = self._name()
        tq, lq = to_text(q), to_latex(q)

        def lines(defs: Mapping[sp.Symbol, sp.Expr]) -> tuple[Line, ...]:
            return tuple(Line(to_text(s), to_latex(s), e) for s, e in defs.items())

        grad = (f"∂{to_text(J)}/∂{to_text(self.p)}", rf"\frac{{\partial {to_latex(J)}}}{{\partial {to_latex(self.p)}}}")
        out = [
            Section(f"Forward tangent of {tq}: v̇_v = ∂v/∂{tq}, one term per edge (zero where {tq} does not reach)",
                    lines(self.tangent),
                    latex_title=rf"\textbf{{Forward tangent of }} {lq}:\ \dot{{v}}_{{v}} = \partial v/\partial {lq}"),
            Section(f"Adjoints (δ_v = ∂{to_text(J)}/∂v, from {to_text(J)} back)", lines(dict(self.deltas))),
            Section(f"Second-order adjoint δ̇_v = ∂δ_v/∂{tq}, from {to_text(J)} back "
                    f"(each adjoint line differentiated along {tq})", lines(self.adjoint),
                    latex_title=rf"\textbf{{Second-order adjoint }} \dot{{\delta}}_{{v}} = "
                                rf"\partial \delta_{{v}}/\partial {lq}"),
        ]
        out = [sec for sec in out if sec.lines]  # q reaches no node, or p only the loss line
        result = [Line(grad[0], grad[1], self.gradient), Line(text, latex, self.compact)]
        note = ""
        size = self._size(self.compact)
        if size <= MAX_SHOWN_EXPANDED:
            expanded = self.expanded(max_size=None)
            if expanded != self.compact:
                result.append(Line(text + " (expanded)", latex + r"\;\text{(expanded)}", expanded))
        else:
            note = (f"The expanded form (in the parameters, inputs and targets) has about {size:,} "
                    "operations; g.hessian(p, q, expand=True) builds it.")
        out.append(Section(f"Result: ∂{to_text(J)}/∂{to_text(self.p)}, differentiated along {tq}",
                           tuple(result), note=note))
        return out

    def _heading(self) -> tuple[str, str, str]:
        return (*self._name(), self.computation.describe())

    def _at(self) -> str:
        return point_text(self.computation, self.values or {})

    def to_dict(self) -> dict:
        """The derivation as plain data (Python-syntax strings), for JSON."""
        return {
            "p": self.p.name, "q": self.q.name, "computation": self.computation.source(),
            "tangent": {s.name: to_str(e) for s, e in self.tangent.items()},
            "deltas": {s.name: to_str(e) for s, e in self.deltas},
            "adjoint": {s.name: to_str(e) for s, e in self.adjoint.items()},
            "gradient": to_str(self.gradient),
            "compact": to_str(self.compact),
        }

    def __repr__(self) -> str:
        return f"<ComputationHessian of d2{self.computation.loss}/d{self.p}d{self.q}>"


def input_jacobian(comp: Computation) -> sp.Matrix:
    """∂output/∂input, an (n_outputs, n_inputs) matrix in the named nodes and parameters:
    the forward tangent of each input (:func:`_tangents`), its definitions substituted.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("h = tanh(w*x1)\\no = h + v*x2\\nJ = (o - y)**2", params="w v",
    ...                 inputs="x1 x2", targets="y")
    >>> input_jacobian(g)
    Matrix([[w*(1 - h**2), v]])
    """
    columns = []
    for x in comp.inputs:
        memo: dict[sp.Symbol, sp.Expr] = {}
        for s, e in _tangents(comp, x).items():
            memo[s] = e.xreplace({t: memo[t] for t in e.free_symbols if t in memo})
        columns.append([memo.get(tangent_symbol(o.name), sp.S.Zero) for o in comp.outputs])
    return sp.Matrix(len(comp.outputs), len(comp.inputs),
                     lambda i, j: columns[j][i])
