"""Bounds on the work a formula may cause, checked before the work is done.

A formula of a few characters can ask SymPy for a number with billions of digits
(``((9**999)**999)**999``), an expression that doubles at every level of nesting, or a
value that is not a real number (``log(0)``, ``sqrt(-1)``). SymPy computes with exact
numbers and evaluates eagerly, so a size has to be known *before* the operation runs.
:class:`Arithmetic` builds a formula one operation at a time and checks every step
against :class:`Limits`:

- every exact number, typed or computed, has at most ``max_digits`` digits in its
  numerator and in its denominator;
- every number lies within float64's range (about 1.8e308): the formula is evaluated in
  float64, where a larger number is ``inf``; an inexact number (a power, a function value)
  is not smaller than float64's smallest (about 5e-324), where SymPy would need hundreds
  of digits to tell it from 0 (``sigmoid(1e300)``);
- a power of numbers ``b**r`` is estimated from logarithms, ``r·log10|b|``, and refused
  before it is computed when the result would leave that range;
- a fractional power of a number (a root) is refused when ``max_root_digits`` is smaller
  than the digits of the number times (denominator of the exponent − 1): SymPy looks for
  perfect powers in a radicand that size, and its cost grows steeply with the size;
- a power of a symbol has an exponent of at most ``max_exponent`` in absolute value, and
  so has every number inside the exponent of a power or exp that holds a symbol (SymPy
  turns ``exp(z - 10**20)`` into polynomials of that degree when it asks whether a
  ``tanh`` of it is real);
- no function argument holds a term ``c·log(k)`` beyond ±709 (SymPy rewrites
  ``exp(c·log(k))`` to the exact number ``k**c``; exp(709) is float64's largest);
- no value is undefined, infinite or complex (``1/0``, ``0/0``, ``log(0)``, ``sqrt(-1)``);
- the expression tree has at most ``max_size`` nodes, counted with shared subtrees
  repeated (as every later tree walk sees them), but each counted once in time;
- and, as a last resort for the many other corners of SymPy's eager evaluation (each
  ``Heaviside`` of a polynomial asks for its imaginary part, some 10 ms), building a
  formula stops after ``max_seconds`` (:func:`deadline`, checked after every operation).

:func:`require_defined` refuses an activation or loss that has no finite real value at
any of a few sample points (``sqrt(-1 - z**2)``).
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from .errors import FormulaError

__all__ = ["Limits", "LIMITS", "Arithmetic", "deadline", "require_defined", "resolve"]

#: log10 of float64's largest number (about 308.25) and ln of it (about 709.78).
FLOAT_LOG10_MAX = math.log10(sys.float_info.max)
#: log10 of float64's smallest positive number (about −323.3).
FLOAT_LOG10_MIN = math.log10(5e-324)
EXP_ARG_MAX = math.log(sys.float_info.max)
_LOG10_2 = math.log10(2)
_FLOAT_MAX = sp.Integer(int(sys.float_info.max))


@dataclass(frozen=True)
class Limits:
    """How large a formula, and what it computes, may be.

    Pass one to :func:`~symbackprop.parse.parse_formula` (``limits=``) or replace the
    module default ``symbackprop.limits.LIMITS`` to raise a bound.

    Attributes
    ----------
    max_length : int
        Characters of a formula's text.
    max_digits : int
        Digits of every exact number's numerator and denominator, typed or computed.
    max_root_digits : int
        Digits of a number times (denominator of a fractional exponent − 1).
    max_exponent : int
        Absolute value of a numeric exponent on a symbolic base (``z**1000``).
    max_size : int
        Nodes of the expression tree.
    max_seconds : float
        Seconds that building the expression may take (read after every operation).
    max_lines : int
        Lines of a computation's source (:func:`~symbackprop.computation.computation`).

    Examples
    --------
    >>> Limits().max_digits
    330
    >>> Limits(max_size=100).max_size
    100
    """

    max_length: int = 20_000
    max_digits: int = 330
    max_root_digits: int = 300
    max_exponent: int = 100
    max_size: int = 50_000
    max_seconds: float = 2.0
    max_lines: int = 10_000


#: Per (function, arity): the size of its form in placeholders and how often each appears.
_CALL_FORMS: dict[tuple[Callable[..., sp.Basic], int], tuple[int, list[int]]] = {}


def _tree_size(e: sp.Basic) -> int:
    return sum(1 for _ in sp.preorder_traversal(e))


#: The default limits (replace it to raise a bound for every formula).
LIMITS = Limits()


def resolve(limits: Limits | None = None) -> Limits:
    """``limits``, or the module default :data:`LIMITS` as it is now (it may be replaced).

    Examples
    --------
    >>> resolve() is LIMITS
    True
    """
    return limits if limits is not None else LIMITS

_UNDEFINED = {
    sp.S.ComplexInfinity: "division by zero (or log(0)) gives an undefined value",
    sp.S.NaN: "an undefined value such as 0/0",
    sp.S.Infinity: "an infinite value",
    sp.S.NegativeInfinity: "an infinite value",
}


def _short(e: sp.Basic) -> str:
    # Only for messages: a huge tree or number is never printed whole.
    if isinstance(e, sp.Rational) and not _cheap_to_print(e):
        return f"a {max(_digits(e.p), _digits(e.q))}-digit number"
    text = sp.sstr(e) if _cheap_to_print(e) else f"an expression of {type(e).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _power_text(base: sp.Basic, exp: sp.Basic) -> str:
    def part(e: sp.Basic) -> str:
        text = _short(e)
        bare = (isinstance(e, sp.Integer) and e >= 0) or e.is_Symbol or isinstance(e, sp.NumberSymbol)
        return text if bare and not text.startswith("a ") else f"({text})"

    return f"{part(base)}**{part(exp)}"


def _exp10(x: float) -> str:
    return f"10^{x:.0f}" if abs(x) < 1e6 else f"10^({x:.3g})"


def _cheap_to_print(e: sp.Basic) -> bool:
    if isinstance(e, sp.Rational):
        return max(abs(e.p), e.q).bit_length() < 200
    return sum(1 for _ in zip(range(200), sp.preorder_traversal(e))) < 200


def _digits(n: int) -> int:
    # Exact, from the bit length: str() of a huge int is slow (and refused past 4300 digits).
    n = abs(int(n))
    if n == 0:
        return 1
    k = int((n.bit_length() - 1) * _LOG10_2) + 1  # 2**(bits-1) <= n, so n has k or k+1 digits
    return k + (n >= 10**k)


@dataclass
class _Info:
    expr: sp.Basic  # kept so that the id() it is filed under stays unique
    size: int
    numeric: bool
    log10: float = -math.inf  # an upper bound of log10|value| when numeric
    big: float = 0.0  # the largest |number| anywhere inside


class Arithmetic:
    """Builds expressions one operation at a time, refusing any step beyond :class:`Limits`.

    Each method raises :class:`~symbackprop.errors.FormulaError` whose message is the
    problem alone (the caller adds where in the text it was). Every subexpression is
    examined once: results are filed by identity.

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> ar = Arithmetic()
    >>> ar.power(sp.Integer(2), sp.Integer(10))
    1024
    >>> ar.power(sp.Integer(9), sp.Integer(999))
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: 9**999 would be about 10^953, beyond float64's largest number (about 1.8e308)
    >>> ar.check(sp.Integer(1) / 0)
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: division by zero (or log(0)) gives an undefined value
    """

    def __init__(self, limits: Limits | None = None):
        self.limits = resolve(limits)
        self._seen: dict[int, _Info] = {}

    # ----------------------------------------------------------------- checks
    def check(self, expr: sp.Basic) -> sp.Basic:
        """Return ``expr`` if it and every part of it are within the limits (and the time of
        a running :func:`deadline` has not run out)."""
        _check_clock()
        self._info(expr)
        return expr

    def apply(self, func: Callable[..., sp.Basic], *args: sp.Basic) -> sp.Basic:
        """``func(*args)`` for an operation whose size is bounded by its arguments (+, −, ×, ÷)."""
        return self.check(func(*args))

    def call(self, func: Callable[..., sp.Basic], args: list[sp.Basic], name: str = "a function") -> sp.Basic:
        """``func(*args)`` for a named function, after :meth:`check_arguments`."""
        self.check_arguments(args, name)
        return self.check(func(*args))

    def check_arguments(
        self, args: list[sp.Basic], name: str = "a function", func: Callable[..., sp.Basic] | None = None
    ) -> None:
        """Refuse an argument that SymPy would turn into a huge exact power, or a call of
        ``func`` whose result would break ``max_size``.

        ``exp(c*log(k))`` becomes ``k**c`` as soon as it is built, so a term ``c·log(k)``
        of an argument must stay within ±709 (exp(709) is float64's largest number).
        A function that repeats its argument (σ'(u) = σ(u)(1 − σ(u)) holds u twice) is sized
        from its form in placeholders before it is built, and refused when that estimate
        passes ``max_size`` by a quarter: SymPy's automatic simplification of a huge result
        costs seconds before its size could be checked.
        """
        sizes = [self._info(arg).size for arg in args]
        if func is not None and max(sizes, default=1) > 1:
            self._check_call_size(func, sizes, name)
        for arg in args:
            for term in sp.Add.make_args(arg):
                if not (self._info(term).numeric and term.has(sp.log)):
                    continue
                v = self._value(term)
                if abs(v) > EXP_ARG_MAX:
                    raise FormulaError(
                        f"the argument term {_short(term)} of {name} is about {mpmath.nstr(v, 3)}; "
                        f"beyond ±{EXP_ARG_MAX:.0f} its exponential leaves float64's range"
                    )

    def power(self, base: sp.Expr, exp: sp.Expr) -> sp.Expr:
        """``base**exp``, estimated from logarithms and refused before computing when too large."""
        lim = self.limits
        b, r = self._info(base), self._info(exp)
        if r.numeric and not b.numeric:
            if abs(self._value(exp)) > lim.max_exponent:
                raise FormulaError(
                    f"the exponent {_short(exp)} is larger than {lim.max_exponent} in absolute value "
                    f"(the limit max_exponent)"
                )
        elif r.numeric and b.numeric:
            self._check_root(base, exp)
            bv, rv = self._value(base), self._value(exp)
            if bv != 0:
                lb = float(mpmath.log10(abs(bv)))
                estimate = float(rv) * lb
                if estimate > FLOAT_LOG10_MAX:
                    raise FormulaError(
                        f"{_power_text(base, exp)} would be about {_exp10(estimate)}, "
                        "beyond float64's largest number (about 1.8e308)"
                    )
                if estimate < FLOAT_LOG10_MIN:
                    raise FormulaError(
                        f"{_power_text(base, exp)} would be about {_exp10(estimate)}, "
                        "below float64's smallest number (about 5e-324); write 0"
                    )
                if isinstance(base, sp.Rational) and isinstance(exp, sp.Rational):
                    digits = abs(float(rv)) * max(math.log10(abs(base.p)), math.log10(base.q))
                    if digits > lim.max_digits:
                        raise FormulaError(
                            f"{_power_text(base, exp)} would have about {digits:.3g} digits; "
                            f"the limit is {lim.max_digits} (max_digits)"
                        )
        return self.check(base**exp)

    def _check_root(self, base: sp.Expr, exp: sp.Expr) -> None:
        denominators = [exp.q] if isinstance(exp, sp.Rational) else [1]
        denominators += [
            p.exp.q for p in sp.preorder_traversal(base)
            if isinstance(p, sp.Pow) and isinstance(p.exp, sp.Rational)
        ]
        n = math.lcm(*denominators)
        if n == 1:
            return
        digits = max(
            (max(_digits(a.p), _digits(a.q)) for a in sp.preorder_traversal(base) if isinstance(a, sp.Rational)),
            default=1,
        )
        if digits * (n - 1) > self.limits.max_root_digits:
            raise FormulaError(
                f"the root {_power_text(base, exp)} is too costly: {digits} digits times "
                f"{n - 1} exceeds {self.limits.max_root_digits} (max_root_digits)"
            )

    def _check_call_size(self, func: Callable[..., sp.Basic], sizes: list[int], name: str) -> None:
        key = (func, len(sizes))
        counts = _CALL_FORMS.get(key)
        if counts is None:
            holes = [sp.Dummy(real=True) for _ in sizes]
            form = func(*holes)
            counts = _CALL_FORMS[key] = (
                _tree_size(form), [sum(1 for t in sp.preorder_traversal(form) if t == h) for h in holes]
            )
        base, uses = counts
        size = base + sum(u * (s - 1) for u, s in zip(uses, sizes))
        # The estimate is before simplification, which may shrink the result a little: refuse
        # early only past a margin, so that the limit's edge stays the built size.
        if size > self.limits.max_size * 5 // 4:
            raise FormulaError(
                f"{name} of this argument would have about {size} nodes; the limit is "
                f"{self.limits.max_size} (max_size)"
            )

    # ----------------------------------------------------------------- walk
    def _info(self, e: sp.Basic) -> _Info:
        hit = self._seen.get(id(e))
        if hit is not None and hit.expr is e:
            return hit
        if e in _UNDEFINED:
            raise FormulaError(_UNDEFINED[e])
        kids = [self._info(a) for a in e.args]
        size = 1 + sum(k.size for k in kids)
        if size > self.limits.max_size:
            raise FormulaError(
                f"the expression would have {size} or more nodes; the limit is "
                f"{self.limits.max_size} (max_size)"
            )
        numeric = isinstance(e, sp.Expr) and not e.is_Symbol and all(k.numeric for k in kids)
        big = max((k.big for k in kids), default=0.0)
        if isinstance(e, sp.Rational):
            big = math.inf if max(e.p.bit_length(), e.q.bit_length()) > 1000 else abs(e.p / e.q)
        info = _Info(e, size, numeric, big=big)
        if not numeric and isinstance(e, (sp.exp, sp.Pow)) and kids[-1].big > self.limits.max_exponent:
            raise FormulaError(
                f"the exponent {_short(e.args[-1])} holds a number larger than "
                f"{self.limits.max_exponent} in absolute value (the limit max_exponent)"
            )
        if numeric:
            info.log10 = self._log10_bound(e, kids)
            if info.log10 > FLOAT_LOG10_MAX:
                about = "" if math.isinf(info.log10) else f" (about {_exp10(info.log10)})"
                raise FormulaError(
                    f"{_short(e)}{about} is beyond float64's largest number (about 1.8e308)"
                )
        self._seen[id(e)] = info
        return info

    def _log10_bound(self, e: sp.Expr, kids: list[_Info]) -> float:
        if isinstance(e, sp.Rational):
            digits = max(_digits(e.p), _digits(e.q))
            if digits > self.limits.max_digits:
                raise FormulaError(
                    f"a number with {digits} digits; the limit is {self.limits.max_digits} (max_digits)"
                )
            if abs(e) > _FLOAT_MAX:  # exact, so that 2**1024 is out and 2**1023 in
                return math.inf
            return -math.inf if e.p == 0 else math.log10(abs(e.p)) - math.log10(e.q)
        # A sum is at most n times its largest term, a product the product of its factors:
        # bounds from the parts, so a long sum or product is never evaluated again and again.
        if isinstance(e, sp.Add):
            return max(k.log10 for k in kids) + math.log10(len(kids))
        if isinstance(e, sp.Mul):
            return sum(k.log10 for k in kids)
        v = self._value(e)
        if v == 0:
            return -math.inf
        log10 = float(mpmath.log10(abs(v)))
        if log10 < FLOAT_LOG10_MIN:
            raise FormulaError(
                f"{_short(e)} (about {_exp10(log10)}) is below float64's smallest number "
                "(about 5e-324); write 0"
            )
        return log10

    def _value(self, e: sp.Expr) -> mpmath.mpf:
        """The value of a numeric expression as a real mpmath number (refused if not real)."""
        if isinstance(e, sp.Rational):
            return mpmath.mpf(e.p) / e.q
        try:
            v = e.evalf(15)
            re, im = v.as_real_imag()
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise FormulaError(f"cannot evaluate the number {_short(e)} ({type(exc).__name__})") from None
        if im != 0 and abs(im) > 1e-12 * (abs(re) + 1):
            what = "the imaginary unit I" if e is sp.I else _short(e)
            raise FormulaError(
                f"{what} is not a real number (the square root or log of a negative number?)"
            )
        if not isinstance(re, (sp.Float, sp.Rational)) or not mpmath.isfinite(mpmath.mpf(re)):
            raise FormulaError(f"{_short(e)} has no finite real value")
        return mpmath.mpf(re)


#: The running :func:`deadline`: (end on the monotonic clock, its seconds, what is built).
_DEADLINE: ContextVar[tuple[float, float, str] | None] = ContextVar("symbackprop_deadline", default=None)


@contextmanager
def deadline(seconds: float, what: str = "formula") -> Iterator[None]:
    """Stop the block with a :class:`~symbackprop.errors.FormulaError` once ``seconds`` passed.

    Cooperative: :class:`Arithmetic` looks at the clock after every operation it checks, so
    the bound holds in any thread and on any platform, and nothing is raised asynchronously
    (an exception raised from a signal handler can land inside a garbage-collection callback,
    JAX has one, and be lost). One operation is not interrupted; the static limits keep each
    one small.

    Examples
    --------
    >>> with deadline(5.0):
    ...     Arithmetic().check(sp.Integer(2) ** 10)
    1024
    """
    token = _DEADLINE.set((time.monotonic() + seconds, seconds, what))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _check_clock() -> None:
    running = _DEADLINE.get()
    if running is not None and time.monotonic() > running[0]:
        _, seconds, what = running
        raise FormulaError(f"building the {what} took more than {seconds:g} s (the limit max_seconds)")


def require_defined(expr: sp.Expr, what: str, *, points: int = 64, seed: int = 0) -> sp.Expr:
    """Return ``expr`` unless it has no finite real value at any of a few sample points.

    Each symbol is drawn from [−4, 4] for half of the points and from [0.02, 0.98] (the
    range of probabilities and targets) for the other half, with a fixed seed. A formula
    such as ``sqrt(-1 - z**2)`` or ``log(-exp(z))`` is undefined everywhere and refused.

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> require_defined(sp.log(z), "activation")
    log(z)
    >>> require_defined(sp.sqrt(-1 - z**2), "activation")
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: The activation sqrt(-z**2 - 1) has no finite real value at any of 64 sample points (e.g. z = 1.1); it is undefined everywhere.
    """
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if any(expr.has(u) for u in _UNDEFINED):
        raise FormulaError(f"The {what} {_short(expr)} is undefined (it holds {_short(next(u for u in _UNDEFINED if expr.has(u)))}).")
    rng = np.random.default_rng(seed)
    half = points // 2
    values = [
        np.round(np.concatenate([rng.uniform(-4.0, 4.0, half), rng.uniform(0.02, 0.98, points - half)]), 2)
        for _ in symbols
    ]
    try:
        f = sp.lambdify(symbols, expr, modules="numpy")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.broadcast_to(np.asarray(f(*values)), (points,))
    except Exception:  # noqa: BLE001 - a formula NumPy cannot evaluate is left to later steps
        return expr
    real = np.real(out).astype(float) if np.iscomplexobj(out) else out.astype(float)
    ok = np.isfinite(real)
    if np.iscomplexobj(out):
        ok &= np.imag(out) == 0
    if not ok.any():
        at = ", ".join(f"{s.name} = {v[0]:g}" for s, v in zip(symbols, values)) or "every point"
        raise FormulaError(
            f"The {what} {_short(expr)} has no finite real value at any of {points} sample "
            f"points (e.g. {at}); it is undefined everywhere."
        )
    return expr
