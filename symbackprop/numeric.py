"""Evaluate SymPy expressions numerically, over NumPy arrays: the one evaluator.

Derivations (a worked example's values), the checker (formulas at random points) and
gradcheck's fallback all evaluate expressions here; the compiler (:mod:`symbackprop.compiler`)
prints its code with the same printer, so every numeric value in symbackprop follows the
same kink convention (docs/notation.md, PyTorch's): ``Heaviside(u, 0)`` is 0 at 0, SymPy's
``Heaviside(u)`` ½ (the tie of ``max``/``min``), a ``DiracDelta`` (a step's derivative) 0,
``sign(0) = 0``.

How: :func:`lambdified` turns expressions into one Python function with
``sympy.lambdify`` over SymPy's NumPy printer (extended by :class:`UfuncPrinting`),
with ``cse`` wherever a subexpression repeats, so that it is computed once. Turning an
expression into code costs a fraction of a millisecond to a few, so the functions are
cached per (expressions, symbols), and :func:`evaluate` caches by the expression's shape
(its symbols renamed in order): a check that evaluates the same formula again, the same
formula of another neuron, or the same network's forward pass, pays once. :func:`run` evaluates a whole program (symbols defined one after the
other, the forward pass then the δ recursion) as one function. Undefined values come back
as ``nan``/``inf``, without warnings; expressions in the stable vocabulary of
:mod:`symbackprop.compiler.stable` (what :func:`~symbackprop.compiler.stable.stabilize`
writes: ``log_sigmoid(z)``, ``dsigmoid(z)``, ...) evaluate as in the compiled code.
An expression of more than :data:`MAX_NODES`
distinct subexpressions is refused before any code is generated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter

from .activations import at_kinks
from .errors import SymbackpropError

__all__ = ["MAX_NODES", "KinkNumPyPrinter", "UfuncPrinting", "evaluate", "lambdified", "run", "size"]

#: The most distinct subexpressions one generated function may hold. Python compiles the
#: generated source at about a microsecond per node and holds it in memory; a network's
#: forward pass of more nodes is split into several functions by :func:`run`, a single
#: expression of more is refused. Raise it from Python
#: (``symbackprop.numeric.MAX_NODES = 10**7``) when you have the time and memory.
MAX_NODES = 200_000


class UfuncPrinting:
    """Heaviside steps, Max and Min as ufunc calls, at the kink convention (mixed into
    SymPy's NumPy and JAX printers).

    Max/Min of any number of arguments become nested ``maximum``/``minimum`` calls (SymPy's
    own NumPy printer emits ``functools.reduce``, a name the generated code does not have).
    """

    _module: str

    def _print_Heaviside(self, expr: sp.Heaviside) -> str:
        x, m = self._print(expr.args[0]), self._module  # type: ignore[attr-defined]
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        # A comparison is three times faster than numpy.heaviside; "* 1.0" makes a step
        # that stands alone (an activation heaviside(z)) a float array, not a bool one.
        if at_zero == 0:
            return f"({m}.greater({x}, 0) * 1.0)"
        if at_zero == 1:
            return f"({m}.greater_equal({x}, 0) * 1.0)"
        return f"{m}.heaviside({x}, {float(at_zero)!r})"

    def _fold(self, expr: sp.Expr, ufunc: str) -> str:
        code = self._print(expr.args[0])  # type: ignore[attr-defined]
        for arg in expr.args[1:]:
            code = f"{self._module}.{ufunc}({code}, {self._print(arg)})"  # type: ignore[attr-defined]
        return code

    def _print_Max(self, expr: sp.Max) -> str:
        return self._fold(expr, "maximum")

    def _print_Min(self, expr: sp.Min) -> str:
        return self._fold(expr, "minimum")

    def _print_ComplexInfinity(self, expr: sp.Expr) -> str:
        # SymPy's 1/0; in float64 it is what NumPy makes of 1.0/0.0.
        return f"{self._module}.inf"

    def doprint(self, expr: sp.Expr, *args: Any, **kwargs: Any) -> str:
        # The kink convention (docs/notation.md): a step's derivative (DiracDelta) is 0.
        return super().doprint(at_kinks(expr), *args, **kwargs)  # type: ignore[misc]


class KinkNumPyPrinter(UfuncPrinting, NumPyPrinter):
    """SymPy's NumPy printer (the one ``lambdify`` uses) at the kink convention.

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> KinkNumPyPrinter().doprint(sp.Heaviside(z, 0) + sp.Max(0, z, 2 * z))
    '(numpy.greater(z, 0) * 1.0) + numpy.maximum(numpy.maximum(0, z), 2*z)'
    """


def size(exprs: sp.Basic | Iterable[sp.Basic]) -> int:
    """Number of distinct subexpressions of ``exprs`` (what the generated code holds).

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> size([sp.exp(x * y) + x * y, x])  # the sum, exp, x*y, x, y
    5
    """
    todo = [exprs] if isinstance(exprs, sp.Basic) else list(exprs)
    seen: set[sp.Basic] = set()
    while todo:  # a stack, not recursion: deep trees are fine
        e = todo.pop()
        if e not in seen:
            seen.add(e)
            todo.extend(e.args)
    return len(seen)


def _check_size(exprs: Sequence[sp.Basic]) -> None:
    n = size(exprs)
    if n > MAX_NODES:
        raise SymbackpropError(
            f"The expression has {n} distinct subexpressions, more than the limit of {MAX_NODES} "
            "for numeric evaluation (the generated code grows with it); use a smaller network or "
            "formula, or raise symbackprop.numeric.MAX_NODES from Python."
        )


class _NamingPrinter(KinkNumPyPrinter):
    """The printer of one generated function: its symbols are renamed (``_V[0]``, ``_v0``).

    A symbol's own name may be no Python identifier (``δ1``) or the name of something the
    code calls (``numpy``, ``exp``); renaming in the printer costs nothing, where
    substituting new symbols into the expressions would rebuild them.
    """

    def __init__(self, names: Mapping[sp.Symbol, str]):
        # Add terms in their stored order: sorting them (SymPy's default) is for people.
        # strict, no unknown functions: a function SymPy has no NumPy form for is refused,
        # never printed by its name into the code (a name can be any string).
        super().__init__({"fully_qualified_modules": True, "inline": True, "strict": True,
                          "allow_unknown_functions": False, "order": "none"})
        self._names = names

    def _module_format(self, fqn: str, register: bool = True) -> str:
        if fqn.startswith("math."):  # Python's scalar math (erf, gamma): not over arrays
            raise PrintMethodNotImplementedError(f"no NumPy form: {fqn.partition('.')[2]}")
        return super()._module_format(fqn, register)

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        name = self._names.get(expr)
        return name if name is not None else super()._print_Symbol(expr)


def _compile(
    args: tuple[sp.Symbol, ...],
    outputs: Sequence[sp.Expr],
    assignments: Sequence[tuple[sp.Symbol, sp.Expr]] = (),
) -> Callable[..., Any]:
    # The arguments arrive as one tuple _V (lambdify sorts its arguments by SymPy's sort
    # key: seconds for a network's 25 000 weights); the program's own symbols are _v0, ...
    names = {a: f"_V[{i}]" for i, a in enumerate(args)}
    names.update({s: f"_v{i}" for i, (s, _) in enumerate(assignments)})
    # cse only where something repeats: finding nothing costs as much as the printing.
    cse: Any = _repeats(sp.Tuple(*outputs))
    if assignments:
        # A program: the definitions in their order, each one's repeats shared.
        def cse(out: Any) -> tuple[list[tuple[sp.Basic, sp.Expr]], Any]:
            lines: list[tuple[sp.Basic, sp.Expr]] = []
            temps = sp.numbered_symbols("_t")
            for s, e in assignments:
                reps, (reduced,) = sp.cse(e, symbols=temps) if _repeats(e) else ([], (e,))
                lines.extend(reps)
                lines.append((s, reduced))
            return lines, out

    try:
        f = sp.lambdify([sp.Symbol("_V")], list(outputs), modules=[{"numpy": np, **_stable_helpers()}],
                        printer=_NamingPrinter(names), cse=cse, docstring_limit=0)
    except (RecursionError, SyntaxError):  # SymPy's printer, or Python's parser
        raise _too_deep() from None
    except PrintMethodNotImplementedError as e:
        what = str(e).splitlines()[0].rpartition(": ")[2]
        raise SymbackpropError(
            f"The expression holds a function NumPy has no form for ({what}); use numbers, "
            "+ - * / ** and the functions the formula parser knows (docs/notation.md)."
        ) from None
    return lambda *arrays: f(arrays)


def _stable_helpers() -> dict[str, Any]:
    # The stable vocabulary of symbackprop.compiler.stable (sigmoid(u), log_sigmoid(u),
    # dsigmoid(u), ... print as calls of these): an expression rewritten by stabilize()
    # evaluates here exactly as in the compiled code. Imported late: the compiler imports
    # this module. Symbols are renamed (_V[i], _v0), so no user name can shadow these.
    from .compiler.stable import numpy_helpers

    return numpy_helpers()


def _too_deep() -> SymbackpropError:
    return SymbackpropError(
        "The expression is nested too deeply to be turned into code for numeric evaluation "
        "(Python's recursion and parser limits, about 200 levels); write it with fewer "
        "nested levels."
    )


def _repeats(expr: sp.Basic) -> bool:
    """Whether some subexpression (not a symbol or number) occurs twice in ``expr``."""
    seen: set[sp.Basic] = set()
    todo = [expr]
    while todo:
        e = todo.pop()
        if e.args:
            if e in seen:
                return True
            seen.add(e)
            todo.extend(e.args)
    return False


@functools.lru_cache(maxsize=512)
def lambdified(exprs: tuple[sp.Expr, ...], symbols: tuple[sp.Symbol, ...]) -> Callable[..., list]:
    """A cached NumPy function of ``symbols`` returning the list of ``exprs``' values.

    Parameters
    ----------
    exprs : tuple of sympy.Expr
        Evaluated together: their common subexpressions are computed once (``cse``).
    symbols : tuple of sympy.Symbol
        The arguments, in order.

    Returns
    -------
    Callable
        ``f(*arrays) -> list``; call it under ``numpy.errstate(all="ignore")`` (as
        :func:`evaluate` does) for nan/inf without warnings. ``lambdified.cache_info()``
        tells the cache's hits.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> f = lambdified((sp.Abs(x), sp.sign(x)), (x,))
    >>> f(np.array([-2.0, 0.0]))
    [array([2., 0.]), array([-1.,  0.])]
    >>> lambdified((sp.Abs(x), sp.sign(x)), (x,)) is f
    True
    """
    _check_size(exprs)
    return _compile(symbols, exprs)


@functools.lru_cache(maxsize=64)
def _program(
    assignments: tuple[tuple[sp.Symbol, sp.Expr], ...], leaves: tuple[sp.Symbol, ...]
) -> Callable[..., list]:
    return _compile(leaves, [s for s, _ in assignments], assignments)


def _arrays(values: Mapping[sp.Symbol, Any], symbols: Iterable[sp.Symbol]) -> list[np.ndarray]:
    out = []
    for s in symbols:
        if s not in values:
            raise SymbackpropError(f"No value for the symbol {s.name!r}.")
        # Arrays, never Python floats: NumPy gives inf/nan where Python would raise (0.0**-1).
        out.append(np.asarray(values[s], dtype=float))
    return out


def _shape(values: Mapping[sp.Symbol, Any]) -> tuple[int, ...]:
    return next((np.shape(v) for v in values.values()), ())


def _float_array(v: Any, shape: tuple[int, ...]) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return np.array(np.broadcast_to(v, shape)) if v.shape != shape else v


def _sorted_symbols(exprs: Iterable[sp.Basic]) -> tuple[sp.Symbol, ...]:
    free: set[sp.Symbol] = set()
    for e in exprs:
        free |= e.free_symbols
    return tuple(sorted(free, key=lambda s: (s.name, str(s.assumptions0))))


def evaluate(expr: sp.Basic, values: Mapping[sp.Symbol, Any]) -> np.ndarray:
    """Value of ``expr`` at every point, from the arrays of its free symbols.

    Parameters
    ----------
    expr : sympy.Expr
        Numbers, symbols, arithmetic and any function SymPy's NumPy printer knows.
    values : Mapping[Symbol, numpy.ndarray]
        One array (all of one shape) per free symbol of ``expr`` (more may be given).

    Returns
    -------
    numpy.ndarray
        float64, of the values' shape; ``nan``/``inf`` where undefined (no warning).

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> evaluate(sp.Max(0, x) + sp.exp(x) / 2, {x: np.array([-1.0, 0.0, 2.0])}).round(3)
    array([0.184, 0.5  , 5.695])
    >>> evaluate(sp.log(x) + sp.Heaviside(x, 0), {x: np.array([-1.0, 0.0])})
    array([ nan, -inf])
    >>> from symbackprop.compiler.stable import stabilize
    >>> evaluate(stabilize(sp.log(1 + sp.exp(x))), {x: np.array([800.0, -800.0])})  # softplus(x)
    array([800.,   0.])
    """
    expr = sp.sympify(expr)
    shape = _shape(values)
    if expr.is_Symbol:  # the commonest formula part: nothing to compute
        return _float_array(_arrays(values, [expr])[0], shape)
    # Cached by shape: a1_1*(1 - a1_1) and a2_3*(1 - a2_3) are one function of _v0, so
    # a check's many small formulas (one per neuron or path) are turned into code once.
    try:
        symbols = _sorted_symbols([expr])
        f = lambdified((_canonical(expr, symbols),), _placeholders(symbols))
    except RecursionError:  # SymPy's own tree walks
        raise _too_deep() from None
    args = _arrays(values, symbols)
    with np.errstate(all="ignore"):
        (out,) = f(*args)
    return _float_array(out, shape)


def _placeholders(symbols: Sequence[sp.Symbol]) -> tuple[sp.Symbol, ...]:
    # The same assumptions: the expression rebuilt over them is the same tree.
    return tuple(sp.Symbol(f"_v{i}", **s.assumptions0) for i, s in enumerate(symbols))


def _canonical(expr: sp.Expr, symbols: Sequence[sp.Symbol]) -> sp.Expr:
    return expr.xreplace(dict(zip(symbols, _placeholders(symbols))))


def run(
    assignments: Sequence[tuple[sp.Symbol, sp.Expr]], values: Mapping[sp.Symbol, Any]
) -> dict[sp.Symbol, np.ndarray]:
    """Run a program: each symbol defined in turn by its expression, over arrays.

    The definitions are compiled together into one function (cached), split into several
    only past :data:`MAX_NODES`; a network's forward pass and δ recursion are one
    program. ``values`` gives every symbol not defined by the program.

    Returns
    -------
    dict[Symbol, numpy.ndarray]
        ``values`` and every defined symbol's array.

    Examples
    --------
    >>> x, u, v = sp.symbols("x u v")
    >>> out = run([(u, 2 * x), (v, u**2 + u)], {x: np.array([1.0, 3.0])})
    >>> out[v]
    array([ 6., 42.])
    """
    result = dict(values)
    shape = _shape(values)
    for defined, leaves, f in _compiled(tuple(assignments), MAX_NODES):
        args = _arrays(result, leaves)
        with np.errstate(all="ignore"):
            outs = f(*args)
        result.update({s: _float_array(o, shape) for s, o in zip(defined, outs)})
    return result


@functools.lru_cache(maxsize=64)
def _compiled(
    assignments: tuple[tuple[sp.Symbol, sp.Expr], ...], limit: int
) -> list[tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], Callable[..., list]]]:
    # Each piece of the program: what it defines, what it reads, its function. Cached
    # whole, so that running a program again (gradcheck's fallback runs the same program
    # twice per parameter) walks no tree.
    pieces = []
    for chunk in _chunks(assignments, limit):
        defined = tuple(s for s, _ in chunk)
        try:
            inside = set(defined)
            leaves = tuple(s for s in _sorted_symbols(e for _, e in chunk) if s not in inside)
            pieces.append((defined, leaves, _program(tuple(chunk), leaves)))
        except RecursionError:  # SymPy's own tree walks
            raise _too_deep() from None
    return pieces


def _chunks(
    assignments: tuple[tuple[sp.Symbol, sp.Expr], ...], limit: int
) -> list[list[tuple[sp.Symbol, sp.Expr]]]:
    # Consecutive definitions of at most `limit` distinct subexpressions in all.
    chunks: list[list[tuple[sp.Symbol, sp.Expr]]] = [[]]
    total = 0
    for s, e in assignments:
        n = size(e)
        if n > limit:
            _check_size([e])
        if chunks[-1] and total + n > limit:
            chunks.append([])
            total = 0
        chunks[-1].append((s, e))
        total += n
    return chunks
