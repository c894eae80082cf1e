"""One printing layer: a :class:`Document` of titled sections, and one printer per format.

:class:`~symbackprop.derivation.Derivation` and :class:`~symbackprop.equations.Equations`
only build a Document (what to say); the printers here decide how it looks: Unicode text
(:func:`print_text`), a LaTeX ``aligned`` block (:func:`print_latex`), Markdown
(:func:`print_markdown`), HTML (:func:`print_html`), HTML with every formula in
presentation MathML (:func:`print_mathml`, which browsers typeset natively) and rows of matplotlib mathtext
(:func:`mathtext_rows`, drawn by :func:`~symbackprop.render.draw_formula`). The mixins of
:mod:`~symbackprop.printing.printable` give a class with a ``document()`` all of these as
methods (``text()``, ``latex()``, ``markdown()``, ``html()``). How a single
expression or symbol name is printed is the fixed notation, in :mod:`symbackprop.notation`.

Examples
--------
>>> import sympy as sp
>>> doc = Document("Example", (Section("Steps", (Line("y", "y", sp.Symbol("x") + 1, 4.0),)),))
>>> print(print_text(doc))
Example
<BLANKLINE>
Steps
  y = x + 1  ≈ 4
"""

from .document import Document, Line, Section, with_values
from .html import CSS, print_html
from .latex import print_latex, sections_latex
from .markdown import print_markdown, sections_markdown
from .mathml import MATHML_CSS, line_mathml, print_mathml, tex_mathml, to_mathml
from .mathtext import mathtext, mathtext_rows
from .printable import HtmlPrintable, LatexPrintable, Printable, SteppedDerivation
from .text import print_text, sections_text

__all__ = [
    "Document",
    "Section",
    "Line",
    "with_values",
    "print_text",
    "print_latex",
    "print_markdown",
    "print_html",
    "CSS",
    "print_mathml",
    "to_mathml",
    "tex_mathml",
    "line_mathml",
    "MATHML_CSS",
    "mathtext_rows",
    "mathtext",
    "sections_text",
    "sections_latex",
    "sections_markdown",
    "Printable",
    "LatexPrintable",
    "HtmlPrintable",
    "SteppedDerivation",
]
