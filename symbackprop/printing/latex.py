"""LaTeX: one ``aligned`` block (math mode, no surrounding ``$``), equations aligned at ``=``."""

from __future__ import annotations

from collections.abc import Sequence

from ..notation import latex_text, to_latex
from .document import Document, Section, ValueOf, _no_value, with_values

__all__ = ["print_latex", "sections_latex"]


def print_latex(doc: Document) -> str:
    r"""The sections as one LaTeX ``aligned`` block: titles bold, equations aligned at ``=``.

    The document's title is not part of the block (the caller sets it in its own text).

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.printing import Document, Line, Section
    >>> print(print_latex(Document("T", (Section("S", (Line("y", "y", sp.Symbol("x")),)),))))
    \begin{aligned}
    &\textbf{S} \\
    y &= x
    \end{aligned}
    """
    rows = []
    for sec in doc.sections:
        rows.append("&" + (sec.latex_title or rf"\textbf{{{latex_text(sec.title)}}}"))
        for line in sec.lines:
            if line.expr is None:
                # A line without a right side aligns where it says (``&=``), else at its start.
                rows.append(line.latex if "&" in line.latex else "&" + line.latex)
                continue
            tail = rf" \approx {line.value:.6g}" if line.value is not None else ""
            rows.append(f"{line.latex} &= {to_latex(line.expr)}{tail}")
        if sec.note:
            rows.append(rf"&\text{{{latex_text(sec.note)}}}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def sections_latex(sections: Sequence[Section], value: ValueOf = _no_value) -> str:
    """``print_latex`` of these sections (kept for older callers).

    Examples
    --------
    >>> sections_latex([]).splitlines()[0]
    '\\\\begin{aligned}'
    """
    return print_latex(Document("", with_values(sections, value)))
