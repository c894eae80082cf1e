"""What every printable object shares: all its formats come from one :class:`Document`.

A derivation, the layer equations, a walkthrough or an explanation says only what to print,
in its ``document()``; these mixins give it every format from that document, so the
formats stay the same across classes and are written once:

- :class:`Printable`: ``text()``, ``latex()``, ``markdown()`` and ``str()``;
- :class:`LatexPrintable`: also Jupyter's ``_repr_latex_`` (derivations, equations);
- :class:`HtmlPrintable`: also ``html()`` in presentation MathML, a fragment or a whole
  page, and Jupyter's ``_repr_html_`` (walkthroughs);
- :class:`SteppedDerivation`: the ``document()`` of a derivation whose steps carry their
  values at one point after ``.at(...)`` (first- and second-order, MLP and computation).
"""

from __future__ import annotations

import html as _html
import math

import sympy as sp

from .document import Document, Section, with_values
from .latex import print_latex
from .markdown import print_markdown
from .mathml import MATHML_CSS, print_mathml
from .text import print_text

__all__ = ["Printable", "LatexPrintable", "HtmlPrintable", "SteppedDerivation"]


class Printable:
    """Mixin: ``text()``, ``latex()``, ``markdown()`` and ``str()`` of ``self.document()``.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.printing import Document, Line, Section
    >>> class Note(Printable):
    ...     def document(self):
    ...         return Document("Note", (Section("S", (Line("y", "y", sp.Symbol("x")),)),))
    >>> print(Note())
    Note
    <BLANKLINE>
    S
      y = x
    """

    def document(self) -> Document:
        """What every format prints (each class builds its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define document()")

    def text(self) -> str:
        """The document in Unicode text (SymPy's pretty printer), for a terminal.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> print(sbp.mlp([1, 1], activation="identity").equations().text().splitlines()[0])
        Layer-level backpropagation for the 1-1 network (identity; loss quadratic)
        """
        return print_text(self.document())

    def latex(self) -> str:
        r"""The document as one LaTeX ``aligned`` block (math mode, no surrounding ``$``).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> print(sbp.mlp([1, 1], activation="identity").derivation("b1_1").latex().splitlines()[0])
        \begin{aligned}
        """
        return print_latex(self.document())

    def markdown(self) -> str:
        """The document as Markdown with ``$`` math (GitHub, Jupyter, MkDocs).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> print(sbp.mlp([1, 1], activation="identity").equations().markdown().splitlines()[0])
        ### Layer-level backpropagation for the 1-1 network (identity; loss quadratic)
        """
        return print_markdown(self.document())

    def __str__(self) -> str:
        return self.text()


class LatexPrintable(Printable):
    """Mixin: :class:`Printable`, shown typeset in Jupyter (``_repr_latex_``).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> sbp.mlp([1, 1], activation="identity").equations()._repr_latex_()[:17]
    '$$\\\\begin{aligned}'
    """

    def _repr_latex_(self) -> str:
        return "$$" + self.latex() + "$$"


class HtmlPrintable(Printable):
    """Mixin: :class:`Printable` and ``html()``, every line in presentation MathML.

    A class sets ``_html_class`` (the class of the ``<div>`` around the document) and
    ``_html_css`` (the style inside it).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity")
    >>> w = sbp.walkthrough(net, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0], lr=0.1)
    >>> isinstance(w, HtmlPrintable), w.html().startswith('<div class="sbp-walkthrough">')
    (True, True)
    """

    _html_class = "sbp-page"
    _html_css = MATHML_CSS

    def html(self, *, page: bool = False) -> str:
        """The document as HTML: a fragment (``<div>`` with its own ``<style>``), or with
        ``page=True`` a whole self-contained page (no script, no external resource).

        Every line is typeset in presentation MathML (:func:`print_mathml`), which browsers
        and notebooks lay out without any script, as in the report and the explorer.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> w = sbp.walkthrough(net, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0], lr=0.1)
        >>> w.html(page=True).splitlines()[0]
        '<!DOCTYPE html>'
        """
        doc = self.document()
        fragment = (f'<div class="{self._html_class}"><style>{self._html_css}</style>\n'
                    f"{print_mathml(doc)}\n</div>")
        if not page:
            return fragment
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{_html.escape(doc.title)}</title></head>\n<body>\n{fragment}\n</body></html>\n")

    def _repr_html_(self) -> str:
        return self.html()


class SteppedDerivation(LatexPrintable):
    """Mixin: the :class:`Document` of a derivation, with every step's value after ``.at``.

    A class gives its steps (``sections()``), the value of an expression at its point
    (``value(expr)``, used while ``values`` is set), what is derived (``_heading()``) and
    where the values are taken (``_at()``).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> d = sbp.mlp([1, 1], activation="identity").derivation("b1_1")
    >>> d.at({"w1_1_1": 1.0, "b1_1": 0.0}, x=[2.0], y=[0.5]).document().subtitle
    'with the value (≈) of every step at the sample x₁ = 2, y₁ = 0.5'
    """

    #: Values of the symbols at one point (set by ``.at``), or None.
    values: dict | None = None

    def sections(self) -> list[Section]:
        """The steps as titled sections (each class builds its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define sections()")

    def value(self, expr: sp.Expr) -> float:
        """Value of ``expr`` at the point given to ``.at`` (each class evaluates its own)."""
        raise NotImplementedError(f"{type(self).__name__} must define value()")

    def _heading(self) -> tuple[str, str, str]:
        """What is derived, in Unicode text and in LaTeX, and what it is derived in."""
        raise NotImplementedError(f"{type(self).__name__} must define _heading()")

    def _at(self) -> str:
        """Where the values are taken, as text (``the sample x₁ = 2, y₁ = 0.5``)."""
        raise NotImplementedError(f"{type(self).__name__} must define _at()")

    def _fmt_value(self, expr: sp.Expr) -> float | None:
        """The value to show beside a step, or None (no point, or not a finite number)."""
        if self.values is None:
            return None
        try:
            v = self.value(expr)
        except (TypeError, ValueError):
            return None
        return v if math.isfinite(v) else None

    def document(self) -> Document:
        """The derivation as a :class:`Document`, with the value of every step when ``.at``
        gave a point (what every printer prints).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> doc = sbp.mlp([1, 1], activation="identity").derivation("b1_1").document()
        >>> doc.title, [s.title for s in doc.sections][-1]
        ('∂J/∂b⁽¹⁾₁ in the 1-1 network (identity; loss quadratic)', 'Result')
        """
        text, latex, where = self._heading()
        subtitle = f"with the value (≈) of every step at {self._at()}" if self.values is not None else ""
        return Document(f"{text} in the {where}", with_values(self.sections(), self._fmt_value),
                        math_title=f"${latex}$ in the {where}", subtitle=subtitle)
