"""Safe parsing of formulas a user types: an AST whitelist, never ``eval``.

A formula such as ``"(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1"`` or ``"log(1 + exp(z))"`` is read
with :func:`ast.parse` and translated node by node into SymPy. Only these are accepted:
numbers, the names the caller allows, ``+ - * / **``, unary ``-``/``+``, parentheses and
calls of the functions in :data:`FUNCTIONS`. Anything else (attribute access, subscripts,
lambdas, keyword arguments, comprehensions, strings, unknown names or functions) raises
:class:`~symbackprop.errors.FormulaError` naming the offending token. Nothing the user
typed is ever executed, and neither ``sympify`` nor ``parse_expr`` sees the string.

Every operation is checked against :class:`~symbackprop.limits.Limits` before or as it
is built (:class:`~symbackprop.limits.Arithmetic`): a formula such as
``((9**999)**999)**999``, ``1/0`` or ``sqrt(-1)`` is refused in milliseconds with a
``FormulaError`` naming the token and the limit.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import sympy as sp

from .errors import FormulaError, closest
from .limits import Arithmetic, Limits, deadline, resolve

__all__ = ["Function", "FUNCTIONS", "CONSTANTS", "parse_formula"]


def _heaviside(x, h0=sp.S.Zero):
    # The step with H(0) = 0 unless told: relu's derivative, as PyTorch takes it.
    return sp.Heaviside(x, h0)


def _max(*args):
    return sp.Max(*args)


def _min(*args):
    return sp.Min(*args)


class Function(NamedTuple):
    """One function of the formula parser: everything symbackprop knows about it.

    ``build`` makes the SymPy expression from the arguments; ``arity`` is the number of
    arguments (a tuple: any of these; None: two or more); ``numpy`` is the NumPy ufunc of
    the same function, for a caller's reference only (None for max/min, the steps and the
    registered activations): nothing in symbackprop calls it, since every numeric value is
    computed from the SymPy expression by SymPy's NumPy printer (:mod:`symbackprop.numeric`
    for the checker and derivations, :mod:`symbackprop.compiler` for compiled models), so
    that one kink convention holds everywhere; ``kink`` states that convention where the
    function has no derivative (docs/notation.md). Display comes from SymPy's printers as
    :mod:`symbackprop.notation` extends them for max/min/steps.

    Examples
    --------
    >>> FUNCTIONS["tanh"].arity, FUNCTIONS["tanh"].numpy is np.tanh, FUNCTIONS["max"].numpy
    (1, True, None)
    """

    build: Callable[..., sp.Expr]
    arity: int | tuple[int, ...] | None
    numpy: Callable[..., np.ndarray] | None = None
    kink: str = ""


_TIE = "a tie gives ½ to each argument (torch.maximum/minimum)"
_STEP = "derivative 0 everywhere, the jump included"

#: Named functions a formula may call. The math functions are listed here; each
#: registered activation adds itself (``sigmoid``, ``relu``, ...) and its textbook
#: derivative (``sigmoid_prime``) when :mod:`symbackprop.activations` registers it.
FUNCTIONS: dict[str, Function] = {
    "exp": Function(sp.exp, 1, np.exp),
    "log": Function(sp.log, 1, np.log),
    "ln": Function(sp.log, 1, np.log),
    "sqrt": Function(sp.sqrt, 1, np.sqrt),
    "tanh": Function(sp.tanh, 1, np.tanh),
    "atan": Function(sp.atan, 1, np.arctan),
    "arctan": Function(sp.atan, 1, np.arctan),
    "sin": Function(sp.sin, 1, np.sin),
    "cos": Function(sp.cos, 1, np.cos),
    # heaviside(x) has H(0) = 0; heaviside(x, h0) sets the value at 0 (as SymPy prints it).
    "heaviside": Function(_heaviside, (1, 2), kink=_STEP),
    "Heaviside": Function(lambda x, h0=sp.S.Half: sp.Heaviside(x, h0), (1, 2), kink=_STEP),
    "sign": Function(sp.sign, 1, np.sign, kink=_STEP),
    "max": Function(_max, None, kink=_TIE),
    "Max": Function(_max, None, kink=_TIE),
    "min": Function(_min, None, kink=_TIE),
    "Min": Function(_min, None, kink=_TIE),
    "abs": Function(sp.Abs, 1, np.abs, kink="abs'(0) = sign(0) = 0 (torch.abs)"),
    "Abs": Function(sp.Abs, 1, np.abs, kink="abs'(0) = sign(0) = 0 (torch.abs)"),
}

#: Named constants a formula may use (unless the caller defines the same name).
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def _registry() -> None:
    # The activations register their parser functions when their module is imported; it
    # imports this one, so make sure it has run before a formula is read.
    from . import activations  # noqa: F401


def literal_problem(value: object, *, as_float: bool = False) -> tuple[str, bool] | None:
    """What is wrong with the number literal ``value`` of a formula, or None when nothing is.

    Returns ``(problem, refused_kind)``: ``refused_kind`` is true for a literal the grammar
    refuses (a string, ``True``, a complex number), false for a number past float64's
    range (``1e999``; with ``as_float``, for callers that compute in float64 such as the
    matrix checker, an integer too large to become a float64 as well; the scalar parser
    keeps integers exact and bounds their digits instead).

    Examples
    --------
    >>> literal_problem(0.5) is None, literal_problem(10**400) is None
    (True, True)
    >>> literal_problem("x")
    ('str literals are not allowed', True)
    >>> literal_problem(10**400, as_float=True)
    ("the number is beyond float64's largest (about 1.8e308)", False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{type(value).__name__} literals are not allowed", True
    if (not math.isfinite(value)) if isinstance(value, float) else (as_float and abs(value) > _FLOAT_MAX):
        return "the number is beyond float64's largest (about 1.8e308)", False
    return None


#: The largest finite float64, as an exact integer (larger literals do not fit one).
_FLOAT_MAX = int(np.finfo(np.float64).max)


def _allowed(names: Mapping[str, sp.Basic]) -> str:
    shown = sorted(names)
    if len(shown) > 12:
        shown = shown[:12] + ["..."]
    return (
        f"names {', '.join(shown) or '(none)'}; numbers; + - * / ** and parentheses; "
        f"functions {', '.join(sorted(set(FUNCTIONS) - {'Max', 'Min', 'Abs'}))}"
    )


class _Translator:
    def __init__(self, text: str, names: Mapping[str, sp.Basic], what: str, limits: Limits | None = None,
                 functions: Mapping[str, Function] | None = None):
        self.text = text
        self.functions = FUNCTIONS if functions is None else functions
        self.names = names
        self.what = what
        self.arith = Arithmetic(limits)
        self.done: dict[int, sp.Expr] = {}  # id(node) -> its translation (call() revisits arguments)

    def fail(self, node: ast.AST | None, problem: str, allowed: bool = True) -> FormulaError:
        where = ""
        if node is not None and hasattr(node, "col_offset"):
            token = ast.get_source_segment(self.text, node) or ""
            token = token if len(token) <= 40 else token[:37] + "..."
            where = f" at column {node.col_offset + 1} ({token!r})"
        text = self.text if allowed or len(self.text) <= 80 else self.text[:77] + "..."
        tail = f" Allowed: {_allowed(self.names)}." if allowed else ""
        return FormulaError(f"Cannot read {self.what} {text!r}: {problem}{where}.{tail}")

    def bounded(self, node: ast.AST, build: Callable[..., sp.Expr], *args) -> sp.Expr:
        """``build(*args)``, refused with the token's position when it breaks a limit."""
        try:
            return build(*args)
        except FormulaError as exc:
            raise self.fail(node, str(exc), allowed=False) from None

    def visit(self, node: ast.AST) -> sp.Expr:
        key = id(node)
        if key not in self.done:
            self.done[key] = self.translate(node)
        return self.done[key]

    def translate(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Expression):
            return self.visit(node.body)
        if isinstance(node, ast.Constant):
            value = node.value
            problem = literal_problem(value)
            if problem is not None:
                raise self.fail(node, problem[0], allowed=problem[1])
            # A rough bound first, so that no huge Integer is ever built; exact digits follow.
            if isinstance(value, int) and value.bit_length() > 3.33 * self.arith.limits.max_digits + 4:
                raise self.fail(
                    node, f"the number has more than {self.arith.limits.max_digits} digits "
                    "(the limit max_digits)", allowed=False,
                )
            # A decimal like 0.5 becomes the exact 1/2, so symbolic comparison stays exact.
            return self.bounded(node, lambda: self.arith.check(
                sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))
            ))
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in FUNCTIONS:
                raise self.fail(node, f"function {node.id!r} needs arguments in parentheses")
            guess = closest(node.id, list(self.names) + list(CONSTANTS))
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise self.fail(node, f"unknown name {node.id!r}{hint}")
        if isinstance(node, ast.BinOp):
            # A long sum is a deep left spine of BinOps: walk it in a loop, not by recursion.
            spine = [node]
            while isinstance(spine[-1].left, ast.BinOp) and id(spine[-1].left) not in self.done:
                spine.append(spine[-1].left)
            # A run of + and - (or of *) is built as one Add (Mul): adding n terms one at a
            # time costs SymPy O(n**2), all at once O(n log n).
            value = self.visit(spine[-1].left)
            run: list[sp.Expr] = []
            kind = None
            for link in reversed(spine):
                right = self.visit(link.right)
                step = sp.Add if isinstance(link.op, (ast.Add, ast.Sub)) else sp.Mul if isinstance(link.op, ast.Mult) else None
                if step is not kind and run:
                    value = self.bounded(link, self.arith.apply, kind, *run)
                    run = []
                kind = step
                if step is None:
                    value = self.binop(link, value, right)
                    continue
                if not run:
                    run = [value]
                if isinstance(link.op, ast.Sub):
                    right = self.bounded(link, self.arith.apply, operator.neg, right)
                run.append(right)
            if run:
                value = self.bounded(node, self.arith.apply, kind, *run)
            return value
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                operand = self.visit(node.operand)
                return self.bounded(node, lambda: self.arith.apply(lambda e: -e, operand))
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand)
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in self.functions:
                # Arguments first, so that SymPy never builds exp(c*log(k)) = k**c for a huge c.
                args = [self.visit(a) for a in node.args]
                self.bounded(node, lambda: self.arith.check_arguments(args, node.func.id, self.functions[node.func.id][0]))
            try:
                result = self.call(node)
            except (ValueError, TypeError, ArithmeticError) as exc:
                if isinstance(exc, FormulaError):
                    raise
                raise self.fail(node, f"cannot compute this ({exc})", allowed=False) from None
            return self.bounded(node, lambda: self.arith.check(result))
        raise self.fail(node, f"{type(node).__name__} is not allowed in a formula")

    def binop(self, node: ast.BinOp, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        op = _BINOPS.get(type(node.op))
        if op is None:
            hint = "; use ** for powers" if isinstance(node.op, ast.BitXor) else ""
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed{hint}")
        if isinstance(node.op, ast.Pow):  # estimated before it is computed
            return self.bounded(node, lambda: self.arith.power(left, right))
        try:
            return self.bounded(node, lambda: self.arith.apply(op, left, right))
        except (ZeroDivisionError, ValueError, TypeError) as exc:
            if isinstance(exc, FormulaError):
                raise
            raise self.fail(node, f"cannot compute this ({exc})") from exc

    def call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, "only calls of named functions are allowed")
        name = node.func.id
        if name not in self.functions:
            guess = closest(name, self.functions)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise self.fail(node.func, f"unknown function {name!r}{hint}")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        func, arity = self.functions[name][:2]
        args = [self.visit(a) for a in node.args]
        if func is _heaviside and len(args) == 2 and not args[1].is_number:
            raise self.fail(node, "the second argument of heaviside, its value at 0, must be a number")
        ok = (
            len(args) >= 2
            if arity is None
            else len(args) in (arity if isinstance(arity, tuple) else (arity,))
        )
        if not ok:
            want = "two or more" if arity is None else " or ".join(map(str, arity if isinstance(arity, tuple) else (arity,)))
            raise self.fail(node, f"{name} takes {want} argument(s), got {len(args)}")
        return func(*args)


def parse_formula(
    text: str, names: Mapping[str, sp.Basic], *, what: str = "formula", limits: Limits | None = None,
    functions: Mapping[str, Function] | None = None,
) -> sp.Expr:
    """Translate the formula ``text`` into a SymPy expression, safely.

    Parameters
    ----------
    text : str
        The formula, in Python syntax (``**`` for powers).
    names : Mapping[str, sympy.Basic]
        The names the formula may use and what each stands for.
    what : str
        How to call the text in error messages (e.g. ``"activation"``).
    limits : Limits, optional
        Bounds on the formula and on every number it computes (default
        :data:`symbackprop.limits.LIMITS` as it is at the call); pass e.g. ``Limits(max_size=200_000)`` to raise one.
    functions : Mapping[str, Function], optional
        The functions a formula may call (default :data:`FUNCTIONS`); a computation passes
        a copy whose activations stay unevaluated, to differentiate them in textbook form.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    FormulaError
        On a syntax error, an unknown name or function, or any construct outside the
        whitelist; the message names the offending token and lists what is allowed. Also
        when the formula breaks a limit (digits of a number, size of a power, nodes of the
        expression) or computes an undefined, infinite or complex value (``1/0``, ``log(0)``,
        ``sqrt(-1)``).

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z")
    >>> parse_formula("log(1 + exp(z))", {"z": z})
    log(exp(z) + 1)
    >>> parse_formula("0.5*z**2", {"z": z})
    z**2/2
    >>> parse_formula("__import__('os')", {"z": z})
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: Cannot read formula "__import__('os')": unknown function '__import__' at column 1 ('__import__'). Allowed: ...
    >>> parse_formula("((9**999)**999)**999", {})
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: Cannot read formula '((9**999)**999)**999': 9**999 would be about 10^953, beyond float64's largest number (about 1.8e308) at column 3 ('9**999').
    >>> parse_formula("log(0)", {})
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: Cannot read formula 'log(0)': division by zero (or log(0)) gives an undefined value at column 1 ('log(0)').
    """
    limits = resolve(limits)
    if not isinstance(text, str):
        raise FormulaError(f"A {what} must be a string, got {type(text).__name__}.")
    if len(text) > limits.max_length:
        raise FormulaError(
            f"The {what} is {len(text)} characters long; the limit is {limits.max_length} (max_length)."
        )
    if not text.strip():
        raise FormulaError(f"The {what} is empty.")
    _registry()
    translator = _Translator(text, names, what, limits, functions)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise FormulaError(
            f"Cannot read {what} {text!r}: syntax error{col} ({exc.msg}). "
            f"Allowed: {_allowed(names)}."
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise FormulaError(
            f"Cannot read {what} {shown!r}: too deeply nested or too long a chain for Python's "
            f"parser ({type(exc).__name__})."
        ) from None
    translator.text = text.strip()
    try:
        with deadline(limits.max_seconds, what):
            return translator.visit(tree)
    except FormulaError as exc:
        if str(exc).startswith("building the"):
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise FormulaError(f"Cannot read {what} {shown!r}: {exc}.") from None
        raise
    except RecursionError:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise FormulaError(f"Cannot read {what} {shown!r}: nested too deeply.") from None
