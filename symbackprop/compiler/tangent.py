"""Forward-mode tangents of a straight-line program: the R-operator, for second order.

A program is a list of assignments ``s = e`` (each e in symbols assigned before it and
leaves). Given the tangents of some leaves (``seeds``: ṗ = v_p for the parameters, ẋ = 1
for one input), :func:`tangent_lines` writes, line by line, ṡ = Σ_u ∂e/∂u · u̇ over the
symbols u that e uses (``sympy.diff``, at the kink convention: a step's derivative is 0).
Applied to the forward pass it gives ∂output/∂input (the input Jacobian); applied to
the forward *and* reverse pass of the gradient it gives the Hessian-vector product H·v
(Pearlmutter's R-operator, forward-over-reverse), at a small constant times the cost of a
gradient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from ..activations import at_kinks

__all__ = ["tangent_lines"]


def tangent_lines(
    lines: Sequence[tuple[sp.Symbol, sp.Expr]],
    seeds: Mapping[sp.Symbol, sp.Expr],
    prefix: str,
) -> tuple[list[tuple[sp.Symbol, sp.Expr]], dict[sp.Symbol, sp.Expr]]:
    """The tangent line of every line whose tangent is not 0, and every symbol's tangent.

    Parameters
    ----------
    lines : sequence of (Symbol, Expr)
        The program, in order.
    seeds : mapping Symbol -> Expr
        The tangents of the leaves that move (the others are constant: tangent 0).
    prefix : str
        ṡ is named ``prefix + s.name``.

    Examples
    --------
    >>> x, w, u, J, v = sp.symbols("x w u J v_w", real=True)
    >>> lines, tangent = tangent_lines([(u, w * x), (J, sp.sin(u))], {w: v}, "r_")
    >>> lines
    [(r_u, v_w*x), (r_J, r_u*cos(u))]
    """
    tangent: dict[sp.Symbol, sp.Expr] = {s: t for s, t in seeds.items() if t != 0}
    out = []
    for s, e in lines:
        moving = sorted((u for u in e.free_symbols if u in tangent), key=sp.default_sort_key)
        total = sp.Add(*[at_kinks(sp.diff(e, u)) * tangent[u] for u in moving])
        if total == 0:
            continue
        if total.is_Atom:  # a seed or another tangent itself: no line of its own
            tangent[s] = total
            continue
        name = sp.Symbol(prefix + s.name, real=True)
        tangent[s] = name
        out.append((name, total))
    return out, tangent
