"""Formulas as pictures, typeset by matplotlib mathtext (no TeX installation needed).

A derivation, the layer-level equations (any :class:`~symbackprop.printing.Document`, as
rows from :func:`~symbackprop.printing.mathtext_rows`), an expression or LaTeX lines become
lines of mathtext stacked top to bottom. A long equation is wrapped at its top-level ``+`` (or at
its factors) to fit the width, the continuation lines indented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy as sp

from ..errors import SpecError
from ..notation import to_latex
from ..printing import Document, mathtext_rows
from ..printing.mathtext import Row, mathtext
from .drawing import Drawing

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["draw_formula", "formula_lines"]

#: Width (inches) that long equations are wrapped to.
WIDTH = 9.0
FONT_SIZE = 12


@dataclass(frozen=True)
class _Row:
    kind: str  # "title", "math" or "note"
    text: str  # what matplotlib draws
    indent: float = 0.0  # points


def _pieces(expr: sp.Expr) -> list[str]:
    """LaTeX pieces that may each start a new line: the terms of a sum, else the factors."""
    if isinstance(expr, sp.Add):
        out = []
        for i, term in enumerate(expr.as_ordered_terms()):
            if term.could_extract_minus_sign():
                out.append("- " + to_latex(-term))
            else:
                out.append(("+ " if i else "") + to_latex(term))
        return out
    if isinstance(expr, sp.Mul) and len(expr.args) > 1:
        coeff, factors = expr.as_coeff_mul()
        parts = []
        for f in factors:
            tex = to_latex(f)
            parts.append(rf"\left({tex}\right)" if isinstance(f, sp.Add) else tex)
        if coeff == -1:
            parts[0] = "-" + parts[0]
        elif coeff != 1:
            parts.insert(0, to_latex(coeff))
        return [parts[0], *[r"\cdot " + p for p in parts[1:]]]
    return [to_latex(expr)]


def _source_rows(obj: Any) -> list[Row]:
    """``(kind, lhs_latex_or_text, rhs_expr, suffix)`` rows for what draw_formula accepts."""
    from ..derivation import Derivation
    from ..equations import Equations

    if hasattr(obj, "equations") and hasattr(obj, "graph") and callable(obj.equations):
        obj = obj.equations()
    if isinstance(obj, (Derivation, Equations)) or callable(getattr(obj, "document", None)):
        obj = obj.document()  # a computation's derivation or an explanation too
    if isinstance(obj, Document):
        return mathtext_rows(obj)
    if isinstance(obj, sp.Basic):
        return [("math", "", obj, "")]
    if isinstance(obj, str):
        return [("math", mathtext(obj), None, "")]
    if isinstance(obj, Sequence):
        rows: list[Row] = []
        for item in obj:
            if isinstance(item, tuple) and len(item) == 2:
                lhs, rhs = item
                lhs = mathtext(lhs) if isinstance(lhs, str) else to_latex(lhs)
                rows.append(("math", lhs, rhs if isinstance(rhs, sp.Basic) else None,
                             "" if isinstance(rhs, sp.Basic) else " = " + mathtext(str(rhs))))
            else:
                rows += _source_rows(item)
        return rows
    raise SpecError(
        f"draw_formula cannot draw a {type(obj).__name__}; give a Derivation, Equations, "
        "Network, Document, SymPy expression, LaTeX string, or a list of these or of (lhs, rhs) pairs."
    )


_COMMAND = re.compile(r"\\(?:left|right)(?![a-zA-Z])|\\[a-zA-Z]+|\\.|[{}$ ]|[_^]")


def _width(text: str, size: float) -> float:
    """Estimated width in points of ``text`` at font ``size``.

    Measuring with mathtext would parse every line once more, and parsing is what makes
    mathtext slow (about 50 ms a line); an estimate from the characters is enough to
    decide where to wrap, since the picture is cropped to its ink afterwards.
    """
    if "$" not in text:
        return 0.6 * size * len(text)
    total, script, depth = 0.0, False, 0
    for m in re.finditer(_COMMAND.pattern + "|.", text):
        tok = m.group(0)
        if tok in ("_", "^"):
            script = True
            continue
        if tok == "{":
            depth += 1
            continue
        if tok == "}":
            depth -= 1
            if depth == 0:
                script = False
            continue
        if tok in ("$", " ") or tok.startswith(("\\left", "\\right")):
            continue
        w = 0.68 if tok.startswith("\\") else 0.6
        total += w * (0.7 if script else 1.0)
        if script and depth == 0:
            script = False
    return total * size * (0.75 if "\\frac" in text else 1.0)


def _height(text: str, size: float) -> float:
    """Estimated height in points of one line (fractions and stacked indices are taller)."""
    if "\\sum" in text:  # limits above and below
        return 3.3 * size
    if "\\frac" in text:
        return 2.5 * size
    return 1.75 * size if "^{" in text else 1.45 * size


def formula_lines(obj: Any, *, width: float = WIDTH, font_size: float = FONT_SIZE) -> list[_Row]:
    """The rows :func:`draw_formula` draws, each equation wrapped to ``width`` inches.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.symbols("x1:30")
    >>> rows = formula_lines(sp.Add(*x), width=3)
    >>> len(rows) > 1, rows[0].text.startswith("$x_{1}")
    (True, True)
    """
    limit = width * 72.0
    out: list[_Row] = []
    for kind, lhs, expr, suffix in _source_rows(obj):
        if kind != "math":
            out.append(_Row(kind, lhs))
            continue
        head = f"{lhs} = " if (lhs and expr is not None) else lhs
        whole = [to_latex(expr)] if expr is not None else [""]
        fits = _width(f"${head}{whole[0]}{suffix}$", font_size) <= limit
        pieces = whole if (fits or expr is None) else _pieces(expr)
        pieces[-1] += suffix
        indent = 0.0
        line = head
        for piece in pieces:
            candidate = line + piece + " "
            if line not in ("", head) and _width(f"${candidate}$", font_size) + indent > limit:
                out.append(_Row("math", f"${line}$", indent))
                if not indent:
                    indent = min(_width(f"${head}$", font_size) if head else 0.0, limit / 3) + 12
                line = piece + " "
            else:
                line = candidate
        out.append(_Row("math", f"${line}$", indent))
    return out


_STYLE = {
    "title": {"fontsize": 1.1, "weight": "bold", "color": "#111111", "gap": 10},
    "section": {"fontsize": 1.0, "weight": "bold", "color": "#1f4e79", "gap": 10},
    "math": {"fontsize": 1.0, "weight": "normal", "color": "#111111", "gap": 4},
    "note": {"fontsize": 0.85, "weight": "normal", "color": "#555555", "gap": 4},
}


def draw_formula(
    obj: Any,
    *,
    ax: Axes | None = None,
    width: float = WIDTH,
    font_size: float = FONT_SIZE,
) -> Drawing:
    """Render a derivation, equations or expression as a picture, with matplotlib mathtext.

    Parameters
    ----------
    obj : Derivation, Equations, Network, Document, SymPy expression, str, or a list
        What to draw. A Network draws its layer-level equations; a str is LaTeX (math);
        a list may hold any of these, or ``(lhs, rhs)`` pairs.
    ax : matplotlib Axes, optional
        Draw into this axes (top-left down, in axes coordinates); by default a new figure
        exactly as tall as the text.
    width : float
        Width in inches to wrap long equations to.
    font_size : float
        Font size of the formulas in points.

    Returns
    -------
    Drawing
        ``lines`` holds every drawn line (mathtext strings).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid")
    >>> d = draw_formula(net.derivation("w1_1_1"))
    >>> d.lines[0]
    '$\\\\frac{\\\\partial J}{\\\\partial w^{(1)}_{1 1}}$ in the 2-2-1 network (sigmoid, sigmoid; loss quadratic)'
    >>> d.save  # doctest: +ELLIPSIS
    <bound method Drawing.save ...>
    """
    rows = formula_lines(obj, width=width, font_size=font_size)
    sizes = [font_size * _STYLE[r.kind]["fontsize"] for r in rows]
    heights = [_height(r.text, fs) + _STYLE[r.kind]["gap"] for r, fs in zip(rows, sizes)]
    total = sum(heights) + 24  # points
    widths = [r.indent + _width(r.text, fs) for r, fs in zip(rows, sizes)]
    if ax is None:
        from matplotlib.figure import Figure

        # Wider than the estimate, so nothing is clipped; the PNG is cropped to the ink.
        w_in = max(3.0, (max(widths, default=0) + 24) / 72 * 1.3 + 1)
        fig = Figure(figsize=(w_in, max(0.6, total / 72)))
        place, transform = fig, fig.transFigure
        w_pt, h_pt = fig.get_figwidth() * 72, fig.get_figheight() * 72
    else:
        fig, place, transform = ax.figure, ax, ax.transAxes
        bbox = ax.get_window_extent()
        w_pt, h_pt = bbox.width * 72 / fig.dpi, bbox.height * 72 / fig.dpi
        ax.set_axis_off()
    y = h_pt - 8
    for row, h, fs in zip(rows, heights, sizes):
        style = _STYLE[row.kind]
        y -= style["gap"]
        place.text((12 + row.indent) / w_pt, y / h_pt, row.text, transform=transform,
                   ha="left", va="top", fontsize=fs, weight=style["weight"], color=style["color"])
        y -= h - style["gap"]
    return Drawing(fig, ax, "formula", lines=[r.text for r in rows])
