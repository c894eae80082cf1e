"""Second derivatives at the scalar level: ∂²J/∂p∂q step by step, and the input Jacobian.

∂²J/∂p∂q is the derivative along q of the gradient ∂J/∂p: backpropagation of the
gradient (forward over reverse). Differentiating every line of backpropagation along one
parameter q gives two recursions, in named symbols (docs/second-order.md):

- the **forward tangent** of q, ż = ∂z/∂q and ȧ = ∂a/∂q, from q's layer forward::

      ż⁽ˡ⁾ⱼ = Σₖ w⁽ˡ⁾ⱼₖ ȧ⁽ˡ⁻¹⁾ₖ  (+ a⁽ˡ⁻¹⁾ₖ when q = w⁽ˡ⁾ⱼₖ, + 1 when q = b⁽ˡ⁾ⱼ)
      ȧ⁽ˡ⁾ⱼ = f'(z⁽ˡ⁾ⱼ) ż⁽ˡ⁾ⱼ        (softmax: Σᵢ ∂aⱼ/∂zᵢ żᵢ)

- the **second-order adjoint** δ̇ = ∂δ/∂q, from the output layer back: the derivative
  along q of each line of the δ recursion, term by term (δ̇ = Σ_s ∂δ/∂s · ṡ over the
  symbols s the line holds: ż, ȧ, δ̇ of the next layer, and 1 for q itself)::

      δ̇⁽ˡ⁾ⱼ = f''(z⁽ˡ⁾ⱼ) ż⁽ˡ⁾ⱼ Σₖ w⁽ˡ⁺¹⁾ₖⱼ δ⁽ˡ⁺¹⁾ₖ + f'(z⁽ˡ⁾ⱼ) Σₖ (w⁽ˡ⁺¹⁾ₖⱼ δ̇⁽ˡ⁺¹⁾ₖ + [q = w⁽ˡ⁺¹⁾ₖⱼ] δ⁽ˡ⁺¹⁾ₖ)

- then, from ∂J/∂w⁽ˡ⁾ⱼₖ = δ⁽ˡ⁾ⱼ a⁽ˡ⁻¹⁾ₖ::

      ∂²J/∂w⁽ˡ⁾ⱼₖ∂q = δ̇⁽ˡ⁾ⱼ a⁽ˡ⁻¹⁾ₖ + δ⁽ˡ⁾ⱼ ȧ⁽ˡ⁻¹⁾ₖ        ∂²J/∂b⁽ˡ⁾ⱼ∂q = δ̇⁽ˡ⁾ⱼ

A dotted symbol is always along the q of its derivation; one that is zero (q does not
reach it) is left out. The Python names are ``zdot1_2``, ``adot1_2``, ``deltadot1_2``.
This is the scalar form of Pearlmutter's R-operator, which the compiled code runs at the
layer level (:mod:`symbackprop.compiler.second_order`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from .activations import at_kinks
from .backprop import DEFAULT_MAX_SIZE, Backprop, check_expanded_size
from .derivation import sample_text
from .errors import SpecError
from .notation import by_name, latex_name, real_symbol, text_name, to_str
from .printing import Line, Section, SteppedDerivation

__all__ = ["HessianDerivation", "dot", "input_jacobian"]

#: The expanded form is printed inside a derivation only up to this many tree nodes.
MAX_SHOWN_EXPANDED = 150


def dot(symbol: sp.Symbol) -> sp.Symbol:
    """The tangent (ż, ȧ) or second-order adjoint (δ̇) symbol of a z, a or δ symbol.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 1])
    >>> dot(net.z(1, 1)), dot(net.delta(1, 1))
    (zdot1_1, deltadot1_1)
    """
    for h in ("delta", "z", "a"):
        if symbol.name.startswith(h):
            return real_symbol(f"{h}dot{symbol.name[len(h):]}")
    raise SpecError(f"Only z, a and δ symbols have a tangent; got {symbol}.")


class _Partials:
    """∂e/∂s by the sum and product rules, visiting only the subexpressions that hold s.

    ``sympy.diff`` of a hidden δ line f'(z_j) Σ_k w_kj δ_k walks the whole sum once per
    δ_k it is taken for: fan-out² work per line (38 s for the δ̇ of a 4-32-32-3 network).
    Here each sum is indexed once by the symbols of its terms, so ∂/∂δ_k finds its one term
    directly; powers and functions (small: f'(z), (1 − a)²) go to ``sympy.diff``.
    """

    def __init__(self) -> None:
        self._symbols: dict[sp.Basic, frozenset] = {}
        self._terms: dict[sp.Basic, dict[sp.Symbol, list[sp.Basic]]] = {}

    def symbols(self, e: sp.Basic) -> frozenset:
        done = self._symbols.get(e)
        if done is None:
            done = self._symbols[e] = frozenset(e.free_symbols)
        return done

    def of(self, e: sp.Expr, s: sp.Symbol) -> sp.Expr:
        """∂e/∂s (the kink convention applied: a step's derivative is 0)."""
        if e == s:
            return sp.S.One
        if s not in self.symbols(e):
            return sp.S.Zero
        if e.is_Add:
            index = self._terms.get(e)
            if index is None:
                index = self._terms[e] = {}
                for term in e.args:
                    for t in self.symbols(term):
                        index.setdefault(t, []).append(term)
            return sp.Add(*[self.of(term, s) for term in index.get(s, ())])
        if e.is_Mul:
            args = e.args
            return sp.Add(*[sp.Mul(*args[:i], self.of(f, s), *args[i + 1:])
                            for i, f in enumerate(args) if s in self.symbols(f)])
        return at_kinks(sp.diff(e, s))


class _Recursions:
    """The forward tangent and the second-order adjoint of one direction q (built once)."""

    def __init__(self, backprop: Backprop, q: sp.Symbol):
        self.backprop, self.q = backprop, q
        spec = backprop.spec
        self.spec = spec
        g = backprop.graph
        m = g.nodes[q.name]["layer"]
        #: ż and ȧ that are not zero, in order: layer by layer, z then a.
        self.tangent: dict[sp.Symbol, sp.Expr] = {}
        #: δ̇ that are not zero, from the output layer back.
        self.adjoint: dict[sp.Symbol, sp.Expr] = {}
        for layer in range(m, spec.n_layers + 1):
            n, n_in = spec.sizes[layer], spec.sizes[layer - 1]
            prev = [spec.x(k) if layer == 1 else spec.a(layer - 1, k) for k in range(1, n_in + 1)]
            zs = []
            for j in range(1, n + 1):
                terms = [spec.w(layer, j, k) * self.d(prev[k - 1]) for k in range(1, n_in + 1)]
                terms += [prev[k - 1] for k in range(1, n_in + 1) if spec.w(layer, j, k) == q]
                terms += [sp.S.One] if spec.b(layer, j) == q else []
                zs.append(self._set(spec.z(layer, j), sp.Add(*terms)))
            act = spec.activations[layer - 1]
            outputs = [spec.a(layer, i) for i in range(1, n + 1)]
            for j in range(1, n + 1):
                if act.elementwise:
                    rhs = act.local_partial(spec.z(layer, j), outputs[j - 1]) * zs[j - 1]
                else:
                    rhs = sp.Add(*[act.jacobian(j - 1, i - 1, outputs) * zs[i - 1] for i in range(1, n + 1)])
                self._set(spec.a(layer, j), rhs)
        partials = _Partials()
        for layer in range(spec.n_layers, 0, -1):
            for j in range(1, spec.sizes[layer] + 1):
                d = spec.delta(layer, j)
                E = backprop.delta[d]
                moving = [(s, ds) for s in sorted(E.free_symbols, key=str) if (ds := self.d(s)) != 0]
                rhs = sp.Add(*[partials.of(E, s) * ds for s, ds in moving])
                self._set(d, at_kinks(rhs), self.adjoint)

    def _set(self, s: sp.Symbol, rhs: sp.Expr, into: dict | None = None) -> sp.Expr:
        """Record ``dot(s) = rhs`` unless it is zero; returns what stands for ṡ (0 or ṡ)."""
        if rhs == 0:
            return sp.S.Zero
        (self.tangent if into is None else into)[dot(s)] = rhs
        return dot(s)

    def d(self, s: sp.Symbol) -> sp.Expr:
        """ṡ: the dotted symbol where it is not zero, 1 for q itself, else 0."""
        if s == self.q:
            return sp.S.One
        ds = dot(s) if s.name.startswith(("z", "a", "delta")) else None
        return ds if ds is not None and (ds in self.tangent or ds in self.adjoint) else sp.S.Zero

    @property
    def definitions(self) -> dict[sp.Symbol, sp.Expr]:
        return self.tangent | self.adjoint


def _compact(backprop: Backprop, rec: _Recursions, p: sp.Symbol) -> sp.Expr:
    """∂²J/∂p∂q = δ̇ⱼ aₖ + δⱼ ȧₖ (weights), δ̇ⱼ (biases), with zero terms left out."""
    spec, node = backprop.spec, backprop.graph.nodes[p.name]
    layer, j = node["layer"], node["index"][0]
    d = spec.delta(layer, j)
    if node["kind"] == "bias":
        return rec.d(d)
    k = node["index"][1]
    prev = spec.x(k) if layer == 1 else spec.a(layer - 1, k)
    return rec.d(d) * prev + d * rec.d(prev)


class HessianDerivation(SteppedDerivation):
    """∂²J/∂p∂q step by step: the forward tangent of q, the δ and δ̇ recursions, the result.

    Built by :meth:`Network.hessian_derivation <symbackprop.network.Network.hessian_derivation>`.

    Attributes
    ----------
    p, q : sympy.Symbol
        The two parameters: ∂²J/∂p∂q is the derivative along q of ∂J/∂p.
    tangent : dict[Symbol, Expr]
        ż = ∂z/∂q and ȧ = ∂a/∂q of every neuron q reaches, layer by layer.
    deltas : list of (Symbol, Expr)
        The δ recursion from the output layer down to p's layer.
    adjoint : dict[Symbol, Expr]
        The second-order adjoint δ̇ = ∂δ/∂q, from the output layer down to p's layer.
    compact : sympy.Expr
        ∂²J/∂p∂q in the named symbols (δ̇ a + δ ȧ).
    values : dict or None
        Every symbol's value at one sample, set by :meth:`at`.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1, 1], activation="sigmoid", loss="quadratic")
    >>> h = net.hessian_derivation("w2_1_1", "b1_1")
    >>> h.compact
    a1_1*deltadot2_1 + adot1_1*delta2_1
    >>> h.tangent
    {zdot1_1: 1, adot1_1: a1_1*zdot1_1*(1 - a1_1), zdot2_1: adot1_1*w2_1_1, adot2_1: a2_1*zdot2_1*(1 - a2_1)}

    It prints as :class:`~symbackprop.derivation.Derivation` does (``text()``, ``latex()``,
    ``markdown()``, ``_repr_latex_``), from its document:

    >>> print(sbp.mlp([1, 1]).hessian_derivation("b1_1", "b1_1").text().splitlines()[0])
    ∂²J/∂b⁽¹⁾₁∂b⁽¹⁾₁ in the 1-1 network (sigmoid; loss quadratic)
    """

    def __init__(self, backprop: Backprop, p: sp.Symbol, q: sp.Symbol, *, values: dict | None = None,
                 recursions: _Recursions | None = None):
        self.backprop, self.p, self.q, self.values = backprop, p, q, values
        self._rec = recursions or _Recursions(backprop, q)
        spec = backprop.spec
        node = backprop.graph.nodes[p.name]
        low, own = node["layer"], spec.delta(node["layer"], node["index"][0])
        # every δ and δ̇ of the layers above p's, and p's own neuron's in its layer
        needed = [d for layer in range(spec.n_layers, low - 1, -1)
                  for d in (spec.delta(layer, j) for j in range(1, spec.sizes[layer] + 1))
                  if layer > low or d == own]
        self.tangent = dict(self._rec.tangent)
        self.adjoint = {dot(d): self._rec.adjoint[dot(d)] for d in needed if dot(d) in self._rec.adjoint}
        self.deltas = [(d, backprop.delta[d]) for d in needed]
        self.compact = _compact(backprop, self._rec, p)

    # ------------------------------------------------------------ expansion
    def _size(self, expr: sp.Expr, memo: dict) -> int:
        defs = self._rec.definitions
        if expr in defs:
            if expr not in memo:
                memo[expr] = self._size(defs[expr], memo)
            return memo[expr]
        if expr.is_Symbol:
            return self.backprop.expanded_size(expr)
        return 1 + sum(self._size(a, memo) for a in expr.args) if expr.args else 1

    def expanded(self, *, max_size: int | None = DEFAULT_MAX_SIZE) -> sp.Expr:
        """∂²J/∂p∂q in x, y, w and b only; refused (:class:`ExpressionTooLargeError`) past
        ``max_size`` tree nodes, measured before anything is built (None: no limit)."""
        if max_size is not None:
            check_expanded_size(self._size(self.compact, {}), max_size, f"d2J/d{self.p}d{self.q}", "derivatives")
        defs, memo = self._rec.definitions, {}

        def sub(s: sp.Symbol) -> sp.Expr:
            if s not in memo:
                e = defs[s]
                memo[s] = e.xreplace({t: sub(t) for t in e.free_symbols if t in defs})
            return memo[s]

        named = self.compact.xreplace({t: sub(t) for t in self.compact.free_symbols if t in defs})
        return self.backprop.expanded(named, max_size=None)

    # ---------------------------------------------------------------- values
    def at(self, params: Mapping[sp.Symbol | str, float], x: Sequence[float], y: Sequence[float]) -> HessianDerivation:
        """The same derivation with the value of every step at one sample (x, y).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
        >>> h = net.hessian_derivation("w1_1_1", "w1_1_1").at({"w1_1_1": 2.0, "b1_1": 0.5}, [3.0], [1.0])
        >>> h.value(h.compact)   # x² for a linear neuron and the quadratic loss
        9.0
        """
        from . import numeric
        from .derivation import sample_values

        values = sample_values(self.backprop, params, x, y)
        steps = list(self._rec.tangent.items()) + list(self._rec.adjoint.items())
        values |= {s: float(v) for s, v in numeric.run(steps, values).items()}
        return HessianDerivation(self.backprop, self.p, self.q, values=values, recursions=self._rec)

    def value(self, expr: sp.Expr) -> float:
        """Value of ``expr`` (in any symbols of the derivation) at the sample given to :meth:`at`."""
        if self.values is None:
            raise SpecError("This derivation has no values; call .at(params, x, y) first.")
        v = by_name(expr).xreplace(self.values)
        try:
            return float(v)
        except TypeError:
            return float("nan")

    # --------------------------------------------------------------- printing
    def _name(self) -> tuple[str, str]:
        p, q = self.p, self.q
        return (f"∂²J/∂{text_name(p)}∂{text_name(q)}",
                rf"\frac{{\partial^2 J}}{{\partial {latex_name(p)}\, \partial {latex_name(q)}}}")

    def sections(self) -> list[Section]:
        """The steps as titled sections (what the printers print)."""
        q = self.q
        text, latex = self._name()

        def lines(defs: Mapping[sp.Symbol, sp.Expr]) -> tuple[Line, ...]:
            return tuple(Line(text_name(s), latex_name(s), e) for s, e in defs.items())

        out = [
            Section(f"Forward tangent of {text_name(q)}: ż = ∂z/∂{text_name(q)}, ȧ = ∂a/∂{text_name(q)} "
                    "(zero where it does not reach)", lines(self.tangent),
                    latex_title=rf"\textbf{{Forward tangent of }} {latex_name(q)}:\ \dot z = "
                                rf"\partial z/\partial {latex_name(q)},\ \dot a = \partial a/\partial {latex_name(q)}"),
            Section("δ recursion (δ = ∂J/∂z, from the output layer back)", lines(dict(self.deltas))),
            Section(f"Second-order adjoint δ̇ = ∂δ/∂{text_name(q)}, from the output layer back "
                    "(each δ line differentiated along q)", lines(self.adjoint),
                    latex_title=rf"\textbf{{Second-order adjoint }} \dot\delta = \partial\delta/\partial "
                                rf"{latex_name(q)}"),
        ]
        result = [Line(text, latex, self.compact)]
        note = ""
        size = self._size(self.compact, {})
        if size <= MAX_SHOWN_EXPANDED:
            result.append(Line(text + " (expanded)", latex + r"\;\text{(expanded)}", self.expanded(max_size=None)))
        else:
            note = (f"The expanded form (in x, y, w, b) has about {size:,} operations; "
                    "net.hessian(p, q, expand=True) builds it.")
        out.append(Section("Result: ∂J/∂p = δ a, differentiated along q", tuple(result), note=note))
        return out

    def _heading(self) -> tuple[str, str, str]:
        return (*self._name(), self.backprop.spec.describe())

    def _at(self) -> str:
        return "the sample " + sample_text(self.backprop.spec, self.values or {})

    def to_dict(self) -> dict:
        """The derivation as plain data (Python-syntax strings), for JSON."""
        return {
            "p": self.p.name, "q": self.q.name, "network": self.backprop.spec.describe(),
            "tangent": {s.name: to_str(e) for s, e in self.tangent.items()},
            "deltas": {s.name: to_str(e) for s, e in self.deltas},
            "adjoint": {s.name: to_str(e) for s, e in self.adjoint.items()},
            "compact": to_str(self.compact),
        }

    def __repr__(self) -> str:
        return f"<HessianDerivation of d2J/d{self.p}d{self.q} in the {self.backprop.spec.describe()}>"


def input_jacobian(backprop: Backprop) -> sp.Matrix:
    """∂a⁽ᴸ⁾ⱼ/∂xₖ as an (n_L, n_0) matrix in the named a, z and w: the product of the layer
    Jacobians diag(f'(z⁽ᴸ⁾)) W⁽ᴸ⁾ ⋯ diag(f'(z⁽¹⁾)) W⁽¹⁾ (softmax: its full Jacobian).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> input_jacobian(sbp.mlp([2, 1], "tanh").backprop)
    Matrix([[w1_1_1*(1 - a1_1**2), w1_1_2*(1 - a1_1**2)]])
    """
    spec = backprop.spec
    M = sp.eye(spec.sizes[0])
    for layer in range(1, spec.n_layers + 1):
        n, n_in = spec.sizes[layer], spec.sizes[layer - 1]
        W = sp.Matrix([[spec.w(layer, j, k) for k in range(1, n_in + 1)] for j in range(1, n + 1)])
        act = spec.activations[layer - 1]
        outputs = [spec.a(layer, i) for i in range(1, n + 1)]
        if act.elementwise:
            D = sp.diag(*[act.local_partial(spec.z(layer, j), outputs[j - 1]) for j in range(1, n + 1)])
        else:
            D = sp.Matrix([[act.jacobian(i, j, outputs) for j in range(n)] for i in range(n)])
        M = D * (W * M)
    return M
