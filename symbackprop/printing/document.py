"""What the printers print: a document of titled sections of lines.

Each line is a relation ``lhs = rhs``: the left side as Unicode text and as LaTeX (a name
such as ``∂J/∂w⁽¹⁾₁₁``, or a label such as ``path 1``), the right side a SymPy expression,
and optionally the right side's value at one sample. A line without a right side is a
remark (its text and LaTeX are printed as they are).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import sympy as sp

__all__ = ["Line", "Section", "Document", "with_values", "ValueOf"]

#: Gives the number to show beside a line's right side, or None.
ValueOf = Callable[[sp.Expr], "float | None"]


@dataclass(frozen=True)
class Line:
    """One step: ``text``/``latex`` is the left side, ``expr`` (if any) the right side.

    ``value`` is the right side's value at a sample (finite), shown as ``≈ value``.

    Examples
    --------
    >>> import sympy as sp
    >>> Line("y", "y", sp.Symbol("x") + 1, value=3.0).value
    3.0
    """

    text: str
    latex: str
    expr: sp.Expr | None = None
    value: float | None = None


@dataclass(frozen=True)
class Section:
    """A titled group of lines, with an optional note printed after them.

    ``latex_title`` is the title in LaTeX math where it holds symbols (else the printers
    set ``title`` in bold text).

    Examples
    --------
    >>> Section("Result", ()).note
    ''
    """

    title: str
    lines: tuple[Line, ...]
    note: str = ""
    latex_title: str = ""


@dataclass(frozen=True)
class Document:
    """Titled sections of lines: everything a printer needs.

    Attributes
    ----------
    title : str
        The heading in Unicode text.
    sections : tuple of Section
        The body.
    math_title : str
        The heading with inline ``$…$`` math (Markdown, HTML, pictures); ``title`` if empty.
    subtitle : str
        A second heading line in text output (e.g. the sample the values are taken at).

    Examples
    --------
    >>> Document("Title", ()).heading
    'Title'
    """

    title: str
    sections: tuple[Section, ...]
    math_title: str = ""
    subtitle: str = ""

    @property
    def heading(self) -> str:
        """The heading with inline math, for formats that typeset it."""
        return self.math_title or self.title


def _no_value(expr: sp.Expr) -> float | None:
    return None


def with_values(sections: Iterable[Section], value: ValueOf = _no_value) -> tuple[Section, ...]:
    """The sections with ``value(expr)`` set on every line that has a right side.

    Examples
    --------
    >>> import sympy as sp
    >>> (sec,) = with_values([Section("S", (Line("y", "y", sp.Integer(2)),))], lambda e: float(e))
    >>> sec.lines[0].value
    2.0
    """
    return tuple(
        replace(sec, lines=tuple(
            line if line.expr is None else replace(line, value=value(line.expr)) for line in sec.lines
        ))
        for sec in sections
    )
