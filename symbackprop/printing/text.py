"""Unicode text: SymPy's pretty printer, one indented equation per line, for a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from ..notation import equation_text
from .document import Document, Section, ValueOf, _no_value, with_values

__all__ = ["print_text", "sections_text"]


def print_text(doc: Document) -> str:
    """The title, then each section's title and its lines as Unicode equations, indented.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.printing import Document, Line, Section
    >>> doc = Document("T", (Section("S", (Line("y", "y", sp.Symbol("x"), 0.5),), note="N"),))
    >>> print(print_text(doc))
    T
    <BLANKLINE>
    S
      y = x  ≈ 0.5
      N
    """
    parts = [doc.title + (f"\n{doc.subtitle}" if doc.subtitle else "")]
    for sec in doc.sections:
        parts += ["", sec.title]
        for line in sec.lines:
            if line.expr is None:
                body = line.text
            else:
                tail = f"  ≈ {line.value:.6g}" if line.value is not None else ""
                body = equation_text(line.text, line.expr, tail)
            parts.append("\n".join("  " + row.rstrip() for row in body.split("\n")))
        if sec.note:
            parts.append("  " + sec.note)
    return "\n".join(parts)


def sections_text(head: str, sections: Sequence[Section], value: ValueOf = _no_value) -> str:
    """``print_text`` of a document with heading ``head`` (kept for older callers).

    Examples
    --------
    >>> sections_text("Title", [])
    'Title'
    """
    return print_text(Document(head, with_values(sections, value)))
