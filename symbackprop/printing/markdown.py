"""Markdown with ``$`` math (GitHub, Jupyter, MkDocs): a heading, bold titles, one item a line."""

from __future__ import annotations

from collections.abc import Sequence

from ..notation import to_latex
from .document import Document, Section, ValueOf, _no_value, with_values

__all__ = ["print_markdown", "sections_markdown"]


def print_markdown(doc: Document) -> str:
    """The document as Markdown: a ``###`` heading, bold titles, one ``$`` equation per item.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.printing import Document, Line, Section
    >>> print(print_markdown(Document("T", (Section("S", (Line("y", "y", sp.Symbol("x")),)),))))
    ### T
    <BLANKLINE>
    **S**
    <BLANKLINE>
    - $y = x$
    """
    out = [f"### {doc.heading}"]
    for sec in doc.sections:
        out += ["", f"**{sec.title}**", ""]
        for line in sec.lines:
            if line.expr is None:
                out.append(f"- ${line.latex.replace('&', '')}$")
                continue
            tail = rf" \approx {line.value:.6g}" if line.value is not None else ""
            out.append(f"- ${line.latex} = {to_latex(line.expr)}{tail}$")
        if sec.note:
            out += ["", sec.note]
    return "\n".join(out)


def sections_markdown(head: str, sections: Sequence[Section], value: ValueOf = _no_value) -> str:
    """``print_markdown`` of a document with heading ``head`` (kept for older callers).

    Examples
    --------
    >>> sections_markdown("Title", [])
    '### Title'
    """
    return print_markdown(Document(head, with_values(sections, value)))
