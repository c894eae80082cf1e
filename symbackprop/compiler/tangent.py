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

import functools
from collections.abc import Mapping, Sequence

import sympy as sp

from ..activations import at_kinks

__all__ = ["partial", "tangent_lines"]


@functools.lru_cache(maxsize=4096)
def _shape_partial(shape: sp.Expr, u: sp.Symbol) -> sp.Expr:
    return at_kinks(sp.diff(shape, u))


def partial(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """∂expr/∂var at the kink convention, taken once per *shape* of expr.

    Definitions of one form (``tanh(w*u1 + b)``, ``tanh(w*u2 + b)``, ...) share one
    ``sympy.diff``: the symbols are renamed to placeholders (var → ``_u``, the others, in
    name order, → ``_v0``, ``_v1``, ...; same assumptions), the placeholder form is
    differentiated (cached), and the result renamed back. ``sympy.diff`` costs about 10 ms
    on real symbols (its assumption queries); renaming, a twentieth of that.

    Examples
    --------
    >>> w, b, u = sp.symbols("w b u", real=True)
    >>> partial(sp.tanh(w * u + b), w)
    u*(1 - tanh(b + u*w)**2)
    """
    others = sorted(expr.free_symbols - {var}, key=lambda s: (s.name, sorted(s.assumptions0.items())))
    u = sp.Symbol("_u", **var.assumptions0)
    holders = [sp.Symbol(f"_v{i}", **s.assumptions0) for i, s in enumerate(others)]
    shape = expr.xreplace({var: u, **dict(zip(others, holders))})
    return _shape_partial(shape, u).xreplace({u: var, **dict(zip(holders, others))})


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
        # Term by term: an adjoint or a gradient is a sum over many consumers, each term
        # with few symbols; differentiating the whole sum by each would cost its size squared.
        parts = []
        for term in sp.Add.make_args(e):
            for u in sorted((u for u in term.free_symbols if u in tangent), key=sp.default_sort_key):
                parts.append(partial(term, u) * tangent[u])
        total = sp.Add(*parts)
        if total == 0:
            continue
        if total.is_Atom:  # a seed or another tangent itself: no line of its own
            tangent[s] = total
            continue
        name = sp.Symbol(prefix + s.name, real=True)
        tangent[s] = name
        out.append((name, total))
    return out, tangent
