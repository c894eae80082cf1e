"""Matrix formulas a user types (``W2.T @ delta2 * a1 * (1 - a1)``): read safely, evaluate with shapes.

A matrix formula is read with :func:`ast.parse` and translated node by node into a small
tree of :class:`Node` (never ``eval``, ``sympify`` or ``parse_expr``), as
:mod:`symbackprop.parse` does for scalar formulas. Accepted: numbers; the names the
caller allows (the layer matrices and vectors ``W2``, ``b2``, ``z1``, ``a1``, ``delta1``,
``x``, ``y``); ``@`` (matrix product); ``*`` and ``/`` (elementwise, ⊙); ``+ -``; ``**``
with a number as exponent (elementwise); unary minus; ``.T`` (transpose); the scalar
functions of the formula parser applied elementwise (``sigmoid``, ``tanh``, ``exp``,
``log``, ``sigmoid_prime``, ...); and :data:`MATRIX_FUNCTIONS` (``mean`` and ``sum`` over
the batch, ``softmax`` per column). Anything else is refused with one line that names the
token and lists what is allowed.

:func:`evaluate_matrix` computes a tree on NumPy arrays and checks shapes as a person
would: ``@`` needs the inner sizes to agree, ``*`` ``/`` ``+`` ``-`` need equal shapes (or
a scalar; ``+``/``-`` also add a column such as a bias to every column of a batch). It
never relies on NumPy's broadcasting, so ``delta1 * x.T`` is a shape error, not an outer
product.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import FormulaError, closest
from ..parse import FUNCTIONS, _registry, literal_problem
from .evaluate import evaluate

__all__ = [
    "MATRIX_FUNCTIONS",
    "MAX_LENGTH",
    "MAX_NODES",
    "Node",
    "ShapeError",
    "evaluate_matrix",
    "parse_matrix",
]

#: Longest matrix formula accepted, in characters.
MAX_LENGTH = 2000
#: Largest matrix formula accepted, in tree nodes.
MAX_NODES = 300


def _column_mean(v: np.ndarray) -> np.ndarray:
    return v.mean(axis=1, keepdims=True)


def _column_sum(v: np.ndarray) -> np.ndarray:
    return v.sum(axis=1, keepdims=True)


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=0, keepdims=True))  # shifted: never overflows
    return e / e.sum(axis=0, keepdims=True)


#: Functions that act on a whole matrix (not elementwise), with what they do.
MATRIX_FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "mean": (_column_mean, "the mean over the batch (the columns): shape n×1"),
    "sum": (_column_sum, "the sum over the batch (the columns): shape n×1"),
    "softmax": (_softmax, "softmax of each column"),
}

# Precedence for printing a tree back as a formula (higher binds tighter).
_PREC = {"+": 1, "-": 1, "@": 2, "*": 2, "/": 2, "neg": 3, "**": 4, "T": 5, "call": 6, "name": 6, "num": 6}


@dataclass(frozen=True)
class Node:
    """One node of a matrix formula.

    ``op`` is ``"name"``, ``"num"``, ``"call"`` (``name`` is the function), ``"T"``,
    ``"neg"``, or a binary operator ``"@" "*" "/" "+" "-" "**"``; ``args`` are the operands.

    Examples
    --------
    >>> print(parse_matrix("(W2.T @ delta2) * a1*(1-a1)", {"W2", "delta2", "a1"}))
    (W2.T @ delta2) * a1 * (1 - a1)
    """

    op: str
    args: tuple[Node, ...] = ()
    name: str = ""
    value: float = 0.0

    def __str__(self) -> str:
        op = self.op
        if op == "name":
            return self.name
        if op == "num":
            v = self.value
            return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)
        if op == "call":
            return f"{self.name}({', '.join(str(a) for a in self.args)})"
        if op == "T":
            return f"{self._wrap(self.args[0], _PREC['T'], strict=True)}.T"
        if op == "neg":
            return f"-{self._wrap(self.args[0], _PREC['neg'], strict=False)}"
        left, right = self.args
        p = _PREC[op]
        if op == "**":  # right-associative
            return f"{self._wrap(left, p, strict=True)}**{self._wrap(right, p, strict=False)}"
        # @ next to * or /: same precedence for Python, but a reader wants the parentheses.
        lp = p + 1 if p == 2 and left.op in "@*/" and (left.op == "@") != (op == "@") else p
        return f"{self._wrap(left, lp, strict=False)} {op} {self._wrap(right, p, strict=True)}"

    @staticmethod
    def _wrap(node: Node, prec: int, strict: bool) -> str:
        own = _PREC.get(node.op, 6)
        if node.op == "num" and node.value < 0:
            own = _PREC["neg"]
        text = str(node)
        return f"({text})" if own < prec or (strict and own == prec) else text

    def nodes(self) -> list[Node]:
        """This node and every node below it (preorder)."""
        out = [self]
        for a in self.args:
            out += a.nodes()
        return out

    def names(self) -> set[str]:
        """The names the formula uses."""
        return {n.name for n in self.nodes() if n.op == "name"}


class ShapeError(Exception):
    """Two operands whose shapes do not fit (internal: the checker turns it into a verdict)."""

    def __init__(self, node: Node, message: str):
        super().__init__(message)
        self.node = node
        self.message = message


def _allowed(names) -> str:
    shown = sorted(names)
    funcs = sorted((set(FUNCTIONS) - {"Max", "Min", "Abs", "Heaviside"}) | set(MATRIX_FUNCTIONS))
    return (
        f"names {', '.join(shown)}; numbers; @ (matrix product), * and / (elementwise), + -, "
        f"** with a number, .T (transpose), parentheses; functions {', '.join(funcs)}"
    )


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@", ast.Pow: "**"}


class _Translator:
    def __init__(self, text: str, names, what: str):
        self.text, self.names, self.what = text, names, what

    def fail(self, node: ast.AST | None, problem: str) -> FormulaError:
        where = ""
        if node is not None and hasattr(node, "col_offset"):
            token = ast.get_source_segment(self.text, node) or ""
            where = f" at column {node.col_offset + 1} ({token!r})"
        return FormulaError(
            f"Cannot read {self.what} {self.text!r}: {problem}{where}. Allowed: {_allowed(self.names)}."
        )

    def visit(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Expression):
            return self.visit(node.body)
        if isinstance(node, ast.Constant):
            problem = literal_problem(node.value, as_float=True)  # the scalar parser's rule
            if problem is not None:
                raise self.fail(node, problem[0])
            return Node("num", value=float(node.value))
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return Node("name", name=node.id)
            if node.id in FUNCTIONS or node.id in MATRIX_FUNCTIONS:
                raise self.fail(node, f"function {node.id!r} needs arguments in parentheses")
            guess = closest(node.id, self.names)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise self.fail(node, f"unknown name {node.id!r}{hint}")
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(node, f"attribute {node.attr!r} is not allowed (only .T, the transpose)")
            return Node("T", (self.visit(node.value),))
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                hint = "; use ** for powers" if isinstance(node.op, ast.BitXor) else ""
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed{hint}")
            left, right = self.visit(node.left), self.visit(node.right)
            if op == "**":
                exponent = right.value if right.op == "num" else (
                    -right.args[0].value if right.op == "neg" and right.args[0].op == "num" else None)
                if exponent is None or abs(exponent) > 100:
                    raise self.fail(node, "the exponent of ** must be a number between -100 and 100")
                right = Node("num", value=float(exponent))
            return Node(op, (left, right))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                inner = self.visit(node.operand)
                return Node("num", value=-inner.value) if inner.op == "num" else Node("neg", (inner,))
            if isinstance(node.op, ast.UAdd):
                return self.visit(node.operand)
            raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self.fail(node.func, "only calls of named functions are allowed")
            name = node.func.id
            if name not in FUNCTIONS and name not in MATRIX_FUNCTIONS:
                guess = closest(name, list(FUNCTIONS) + list(MATRIX_FUNCTIONS))
                hint = f" (did you mean {guess!r}?)" if guess else ""
                raise self.fail(node.func, f"unknown function {name!r}{hint}")
            if node.keywords:
                raise self.fail(node, "keyword arguments are not allowed")
            args = tuple(self.visit(a) for a in node.args)
            if name in MATRIX_FUNCTIONS:
                want: tuple[int, ...] | None = (1,)
            else:
                arity = FUNCTIONS[name].arity
                want = None if arity is None else arity if isinstance(arity, tuple) else (arity,)
            if (want is None and len(args) < 2) or (want is not None and len(args) not in want):
                need = "two or more" if want is None else " or ".join(map(str, want))
                raise self.fail(node, f"{name} takes {need} argument(s), got {len(args)}")
            return Node("call", args, name=name)
        raise self.fail(node, f"{type(node).__name__} is not allowed in a matrix formula")


def parse_matrix(text: str, names, *, what: str = "matrix formula") -> Node:
    """Read a matrix formula into a :class:`Node` tree, safely (nothing is executed).

    Parameters
    ----------
    text : str
        The formula in Python/NumPy syntax: ``@``, ``*``, ``.T``, ...
    names : collection of str
        The names it may use.
    what : str
        How to call the text in error messages.

    Returns
    -------
    Node

    Raises
    ------
    FormulaError
        Syntax errors, unknown names or functions, anything outside the whitelist, a
        formula longer than :data:`MAX_LENGTH` characters or :data:`MAX_NODES` nodes.

    Examples
    --------
    >>> tree = parse_matrix("delta1 @ x.T", {"delta1", "x"})
    >>> tree.op, str(tree)
    ('@', 'delta1 @ x.T')
    >>> parse_matrix("x.__class__", {"x"})
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: Cannot read matrix formula 'x.__class__': attribute '__class__' is not allowed (only .T, the transpose) at column 1 ('x.__class__'). Allowed: ...
    """
    if not isinstance(text, str):
        raise FormulaError(f"A {what} must be a string, got {type(text).__name__}.")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"The {what} is {len(text)} characters long; the limit is {MAX_LENGTH}.")
    text = text.strip()
    if not text:
        raise FormulaError(f"The {what} is empty.")
    _registry()
    translator = _Translator(text, set(names), what)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise FormulaError(
            f"Cannot read {what} {text!r}: syntax error{col} ({exc.msg}). Allowed: {_allowed(names)}."
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise FormulaError(f"Cannot read {what} {text!r}: {type(exc).__name__}.") from None
    try:
        out = translator.visit(tree)
    except RecursionError:
        raise FormulaError(f"Cannot read {what} {text!r}: nested too deeply.") from None
    size = len(out.nodes())
    if size > MAX_NODES:
        raise FormulaError(f"The {what} has {size} terms and operators; the limit is {MAX_NODES}.")
    return out


def shape_text(v: np.ndarray) -> str:
    """``(2×3)`` for a matrix, ``scalar`` for a number."""
    return "scalar" if np.ndim(v) == 0 else f"({v.shape[0]}×{v.shape[1]})"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _elementwise(node: Node, values: list[np.ndarray], column_ok: bool = False) -> None:
    shapes = {np.shape(v) for v in values if np.ndim(v) == 2 and np.shape(v) != (1, 1)}
    if len(shapes) <= 1:
        return
    if column_ok and len(shapes) == 2:
        (r1, c1), (r2, c2) = sorted(shapes, key=lambda s: s[1])
        if r1 == r2 and c1 == 1:
            return  # a column (a bias) added to every column of a batch
    shown = " and ".join(shape_text(v) for v in values)
    what = "⊙ (elementwise *)" if node.op in "*/" else f"{node.op}" if node.op in "+-" else node.name
    raise ShapeError(node, f"{node} applies {what} to shapes {shown}, which differ")


def evaluate_matrix(node: Node, env: Mapping[str, np.ndarray]) -> np.ndarray:
    """The value of a matrix formula for the arrays ``env`` (name -> 2-D array), shapes checked.

    Raises :class:`ShapeError` (not a user error: the checker reports it) where shapes do
    not fit.

    Examples
    --------
    >>> env = {"W": np.ones((2, 3)), "v": np.ones((2, 1))}
    >>> evaluate_matrix(parse_matrix("W.T @ v", env), env).shape
    (3, 1)
    >>> evaluate_matrix(parse_matrix("W @ v", env), env)
    Traceback (most recent call last):
    ...
    symbackprop.checking.matrix.ShapeError: W @ v multiplies shapes (2×3) and (2×1), which cannot multiply (3 columns, 2 rows)
    """
    with np.errstate(all="ignore"):
        return np.asarray(_ev(node, env), dtype=float)


def _function_expr(name: str, n: int) -> tuple[tuple[sp.Symbol, ...], sp.Expr]:
    # Built once per call of the checker's variants, not once per evaluation.
    key = (name, n, FUNCTIONS[name])
    if key not in _BUILT:
        dummies = sp.symbols(f"_m0:{n}")
        if len(_BUILT) > 256:  # registered functions come and go: keep the table small
            _BUILT.clear()
        _BUILT[key] = (dummies, FUNCTIONS[name].build(*dummies))
    return _BUILT[key]


_BUILT: dict = {}


def _ev(node: Node, env: Mapping[str, np.ndarray]) -> np.ndarray:
    op = node.op
    if op == "name":
        return np.asarray(env[node.name], dtype=float)
    if op == "num":
        return np.asarray(node.value)
    if op == "T":
        v = _ev(node.args[0], env)
        return v.T if np.ndim(v) == 2 else v
    if op == "neg":
        return -_ev(node.args[0], env)
    if op == "call":
        args = [_ev(a, env) for a in node.args]
        if node.name in MATRIX_FUNCTIONS:
            (v,) = args
            if np.ndim(v) != 2:
                raise ShapeError(node, f"{node} needs a matrix, got a scalar")
            return MATRIX_FUNCTIONS[node.name][0](v)
        _elementwise(node, args)
        shape = next((np.shape(v) for v in args if np.ndim(v) == 2 and np.shape(v) != (1, 1)),
                     next((np.shape(v) for v in args if np.ndim(v) == 2), ()))
        dummies, expr = _function_expr(node.name, len(args))
        flat = {d: np.broadcast_to(v, shape).ravel() if shape else np.atleast_1d(v)
                for d, v in zip(dummies, args)}
        out = evaluate(expr, flat)
        return out.reshape(shape) if shape else np.asarray(out.reshape(()))
    left, right = (_ev(a, env) for a in node.args)
    if op == "@":
        if np.ndim(left) != 2 or np.ndim(right) != 2:
            raise ShapeError(node, f"{node} uses @ with a scalar; @ multiplies two matrices")
        if left.shape[1] != right.shape[0]:
            raise ShapeError(
                node,
                f"{node} multiplies shapes {shape_text(left)} and {shape_text(right)}, which "
                f"cannot multiply ({_count(left.shape[1], 'column')}, {_count(right.shape[0], 'row')})",
            )
        return left @ right
    _elementwise(node, [left, right], column_ok=op in "+-")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    return np.power(left, right)  # "**": the exponent is a number
