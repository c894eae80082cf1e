"""The layer-level backpropagation equations, filled in for one network.

The four textbook equations (Nielsen, ch. 2)::

    δ^(L) = ∇_a J ⊙ f_L'(z^(L))
    δ^(l) = ((W^(l+1))ᵀ δ^(l+1)) ⊙ f_l'(z^(l))
    ∂J/∂W^(l) = δ^(l) (a^(l−1))ᵀ
    ∂J/∂b^(l) = δ^(l)

with ∇_a J and each f' derived by SymPy for this network's loss and activations, and
written per component for a generic neuron j. A softmax output layer has no elementwise
f'; its δ^(L) is the softmax Jacobian applied to ∇_a J.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from .activations import at_kinks
from .backprop import TIDY_MAX_SIZE, tidy, tree_size
from .losses import per_output_term
from .notation import latex_name, real_symbol, text_name
from .notation import symbol_name as _name
from .printing import Document, LatexPrintable, Line, Section

if TYPE_CHECKING:  # pragma: no cover
    from .spec import Spec

__all__ = ["Equations"]

#: Past this many outputs, J and ∇_a J are written from the loss's term per output.
WIDE = 16


def _sym(head: str, layer, *index) -> sp.Symbol:
    return real_symbol(_name(head, layer, *index))


class Equations(LatexPrintable):
    r"""The layer-level backprop equations of a network, as text, LaTeX or Markdown.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> eq = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic").equations()
    >>> print(eq.text())  # doctest: +ELLIPSIS
    Layer-level backpropagation for the 2-2-2 network (sigmoid, sigmoid; loss quadratic)
    ...
    δ⁽²⁾ⱼ = a⁽²⁾ⱼ⋅(1 - a⁽²⁾ⱼ)⋅(a⁽²⁾ⱼ - yⱼ)
    ...
    >>> tex = sbp.mlp([1, 1], activation="identity").equations().latex()
    >>> tex.splitlines()[0], r"\delta^{(1)}_{j} &= a^{(1)}_{j} - y_{j}" in tex
    ('\\begin{aligned}', True)
    >>> print(sbp.mlp([1, 1], activation="identity").equations().markdown().splitlines()[0])
    ### Layer-level backpropagation for the 1-1 network (identity; loss quadratic)
    """

    def __init__(self, spec: Spec):
        self.spec = spec

    def sections(self) -> list[Section]:
        """The equations as titled sections (the generic form, then this network's)."""
        spec = self.spec
        L = spec.n_layers
        general = Section(
            "The four equations (⊙: elementwise product)",
            (
                Line("δ⁽ᴸ⁾ = ∇ₐJ ⊙ f'(z⁽ᴸ⁾)", r"\delta^{(L)} &= \nabla_a J \odot f_L'(z^{(L)})"),
                Line("δ⁽ˡ⁾ = ((W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾) ⊙ f'(z⁽ˡ⁾)",
                     r"\delta^{(l)} &= \left((W^{(l+1)})^{T} \delta^{(l+1)}\right) \odot f_l'(z^{(l)})"),
                Line("∂J/∂W⁽ˡ⁾ = δ⁽ˡ⁾ (a⁽ˡ⁻¹⁾)ᵀ", r"\frac{\partial J}{\partial W^{(l)}} &= \delta^{(l)} (a^{(l-1)})^{T}"),
                Line("∂J/∂b⁽ˡ⁾ = δ⁽ˡ⁾", r"\frac{\partial J}{\partial b^{(l)}} &= \delta^{(l)}"),
            ),
        )
        aj, yj, n = _sym("a", L, "j"), _sym("y", None, "j"), spec.sizes[-1]
        # A wide output layer: J and ∇_a J from the loss's one term per output (building and
        # differentiating n terms takes minutes for 100,000 outputs).
        term = per_output_term(spec.loss, n, aj, yj) if n > WIDE else None
        if term is not None:
            loss, grads = sp.Sum(term, (sp.Symbol("j"), 1, n)), None
            generic = at_kinks(sp.diff(term, aj))
        else:
            outputs, targets = spec.outputs, spec.targets
            loss = spec.loss(outputs, targets)
            # ∂J/∂a_j from the summands that hold a_j: linear, not quadratic, in the outputs.
            holding: dict[sp.Symbol, list[sp.Expr]] = {}
            for part in loss.args if isinstance(loss, sp.Add) else (loss,):
                for a in part.free_symbols:
                    holding.setdefault(a, []).append(part)
            grads = [at_kinks(sp.diff(sp.Add(*holding.get(a, ())), a)) for a in outputs]
            generic = self._generic(grads, L)
        lines = [Line("J", "J", loss)]
        if generic is not None:
            lines.append(Line(f"∂J/∂{text_name(aj)}", rf"\frac{{\partial J}}{{\partial {latex_name(aj)}}}", generic))
        else:
            lines += [
                Line(f"∂J/∂{text_name(a)}", rf"\frac{{\partial J}}{{\partial {latex_name(a)}}}", g)
                for a, g in zip(outputs, grads)
            ]
        for layer, act in enumerate(spec.activations, start=1):
            z, a = _sym("z", layer, "j"), _sym("a", layer, "j")
            if act.elementwise:
                lines.append(Line(text_name(a), latex_name(a), act(z)))
            else:
                k = sp.Symbol("k")
                total = sp.Sum(sp.exp(_sym("z", layer, "k")), (k, 1, spec.sizes[layer]))
                lines.append(Line(text_name(a), latex_name(a), sp.exp(z) / total))
            if act.elementwise:
                lines.append(Line(f"∂{text_name(a)}/∂{text_name(z)}", rf"\frac{{\partial {latex_name(a)}}}{{\partial {latex_name(z)}}}",
                                  act.local_partial(z, a)))
            else:
                ai, zj = _sym("a", layer, "i"), _sym("z", layer, "j")
                lines.append(Line(
                    f"∂{text_name(ai)}/∂{text_name(zj)}", rf"\frac{{\partial {latex_name(ai)}}}{{\partial {latex_name(zj)}}}",
                    ai * (sp.KroneckerDelta(sp.Symbol("i"), sp.Symbol("j")) - aj),
                ))
        # δ per layer, for a generic neuron j, with f' and ∇_a J filled in.
        deltas = []
        out_act, zL, dL = spec.activations[-1], _sym("z", L, "j"), _sym("delta", L, "j")
        if out_act.elementwise and generic is not None:
            deltas.append(Line(text_name(dL), latex_name(dL), tidy(generic * out_act.local_partial(zL, aj))))
        elif grads is None:  # wide softmax output: δ_j = Σ_i ∂J/∂a_i · a_i (δ_ij − a_j)
            i, ai = sp.Symbol("i"), _sym("a", L, "i")
            gi = generic.xreplace({aj: ai, yj: _sym("y", None, "i")})
            d = sp.Sum(gi * ai * (sp.KroneckerDelta(i, sp.Symbol("j")) - aj), (i, 1, n))
            deltas.append(Line(text_name(dL), latex_name(dL), d))
        else:
            # Not one form for every j (softmax, or a loss that treats outputs differently):
            # write each output neuron's δ out.
            for j in range(1, spec.sizes[-1] + 1):
                if out_act.elementwise:
                    d = grads[j - 1] * out_act.local_partial(spec.z(L, j), outputs[j - 1])
                else:
                    d = sp.Add(*[g * out_act.jacobian(i, j - 1, list(outputs)) for i, g in enumerate(grads)])
                # Too long to factor in reasonable time (see backprop.TIDY_MAX_SIZE): as it is.
                d = tidy(d) if tree_size(d) <= TIDY_MAX_SIZE else d
                deltas.append(Line(text_name(spec.delta(L, j)), latex_name(spec.delta(L, j)), d))
        k = sp.Symbol("k")
        for layer in range(L - 1, 0, -1):
            act = spec.activations[layer - 1]
            d = _sym("delta", layer, "j")
            # Σ_k w^(l+1)_kj δ^(l+1)_k over the neurons k of the next layer.
            s = sp.Sum(_sym("w", layer + 1, "k", "j") * _sym("delta", layer + 1, "k"), (k, 1, spec.sizes[layer + 1]))
            deltas.append(Line(text_name(d), latex_name(d), act.local_partial(_sym("z", layer, "j"), _sym("a", layer, "j")) * s))
        for layer in range(1, L + 1):
            w, b = _sym("w", layer, "j", "k"), _sym("b", layer, "j")
            prev = _sym("a", layer - 1, "k") if layer > 1 else _sym("x", None, "k")
            d = _sym("delta", layer, "j")
            deltas.append(Line(f"∂J/∂{text_name(w)}", rf"\frac{{\partial J}}{{\partial {latex_name(w)}}}", d * prev))
            deltas.append(Line(f"∂J/∂{text_name(b)}", rf"\frac{{\partial J}}{{\partial {latex_name(b)}}}", d))
        return [
            general,
            Section("For this network: loss and activations", tuple(lines)),
            Section("For this network: δ and gradients, neuron j (k: the previous layer)", tuple(deltas)),
        ]

    @staticmethod
    def _generic(grads: list[sp.Expr], L: int) -> sp.Expr | None:
        """∂J/∂a_j for a generic j, if every component has the same form; else None."""
        forms = set()
        for j, g in enumerate(grads, start=1):
            forms.add(g.xreplace({_sym("a", L, j): _sym("a", L, "j"), _sym("y", None, j): _sym("y", None, "j")}))
        return forms.pop() if len(forms) == 1 else None

    def document(self) -> Document:
        """The equations as a :class:`~symbackprop.printing.Document` (what every printer prints).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> doc = sbp.mlp([1, 1], activation="identity").equations().document()
        >>> doc.title, len(doc.sections)
        ('Layer-level backpropagation for the 1-1 network (identity; loss quadratic)', 3)
        """
        return Document(f"Layer-level backpropagation for the {self.spec.describe()}", tuple(self.sections()))

