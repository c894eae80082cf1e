"""Rows of matplotlib mathtext, what :func:`~symbackprop.render.draw_formula` draws.

Mathtext knows a subset of LaTeX, so the LaTeX of the notation is adjusted here
(:func:`mathtext`); wrapping long rows to a width is the drawing's business.
"""

from __future__ import annotations

import re

import sympy as sp

from .document import Document

__all__ = ["mathtext", "mathtext_rows", "plain"]

#: ``(kind, lhs, rhs, suffix)``: kind is "title", "section", "math" or "note"; for "math",
#: ``lhs`` is mathtext (without ``$``), ``rhs`` the right side (or None), ``suffix`` mathtext
#: after it; for the others ``lhs`` is the text to draw.
Row = tuple[str, str, "sp.Expr | None", str]

# ``\textbf{...}`` is LaTeX text mode, which mathtext lacks; ``&`` aligns in ``aligned``.
_TEXTBF = re.compile(r"\\textbf\{([^{}]*)\}")


def mathtext(latex: str) -> str:
    r"""LaTeX from :func:`~symbackprop.notation.to_latex` made parseable by matplotlib mathtext.

    Mathtext knows a subset of LaTeX: ``\left(``, ``\frac``, ``\operatorname`` and ``\text``
    work, ``\textbf`` and the ``&`` of aligned blocks do not.

    Examples
    --------
    >>> mathtext(r"\textbf{Paths from } w^{(1)}_{1 1} \textbf{ to } J")
    '\\mathbf{Paths\\ from\\ } w^{(1)}_{1 1} \\mathbf{\\ to\\ } J'
    >>> mathtext(r"\delta^{(L)} &= \nabla_a J")
    '\\delta^{(L)} = \\nabla_a J'
    """
    out = _TEXTBF.sub(lambda m: r"\mathbf{" + m.group(1).replace(" ", r"\ ") + "}", latex)
    out = out.replace("&", "")
    return out.replace("\n", " ")


def plain(text: str) -> str:
    r"""Text drawn as it is: a lone ``$`` would start mathtext.

    Examples
    --------
    >>> plain("costs $5")
    'costs \\$5'
    """
    return text.replace("$", r"\$")


def mathtext_rows(doc: Document) -> list[Row]:
    r"""The document as rows to draw: its heading, then each section's title, lines and note.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.printing import Document, Line, Section
    >>> doc = Document("T", (Section("S", (Line("y", "y", sp.Symbol("x"), 2.0),)),))
    >>> mathtext_rows(doc)
    [('title', 'T', None, ''), ('section', 'S', None, ''), ('math', 'y', x, ' \\approx 2')]
    """
    rows: list[Row] = [("title", doc.math_title or plain(doc.title), None, "")]
    for sec in doc.sections:
        title = "$" + mathtext(sec.latex_title) + "$" if sec.latex_title else plain(sec.title)
        rows.append(("section", title, None, ""))
        for line in sec.lines:
            suffix = rf" \approx {line.value:.6g}" if line.value is not None else ""
            rows.append(("math", mathtext(line.latex), line.expr, suffix))
        if sec.note:
            rows.append(("note", plain(sec.note), None, ""))
    return rows
