"""Any expression, decomposed: its computation graph and the chain rule, step by step.

:func:`explain` splits a plain expression such as ``sin(x*y) + exp(x**2)`` into elementary
operations, one function call or binary operation per node, named u₁, u₂, ... in evaluation
order (as a textbook or micrograd draws the graph); identical subexpressions are one node.
The nodes become a :class:`~symbackprop.computations.Computation` whose last node is f, and
the :class:`Explanation` prints the graph, the local partials, every path from the variable to
f, the product along each path and the chain-rule sum (with numbers at a point if given), and
checks the result against ``sympy.diff`` of the expression.

The split follows the expression as typed (Python's own parse tree, never evaluated): ``a + b
+ c`` is ``(a + b) + c``, two nodes; numbers stay inside the operation that uses them
(``x**2`` is one node). The module is called ``explaining`` so that it does not shadow the
function ``symbackprop.explain``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .computation_derivation import ComputationDerivation
from .computations import Computation, _check_name, _opaque_functions, computation, realize
from .errors import ComputationError, FormulaError, SpecError, closest
from .limits import Limits, resolve
from .notation import real_symbol, to_latex, to_text
from .parse import parse_formula
from .printing import Document, Line, Printable, Section

__all__ = ["explain", "Explanation", "decompose"]

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def _variables(tree: ast.AST) -> list[str]:
    """The names an expression uses (not the functions it calls), in order of appearance."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called]
    names.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in names))


def _fresh(prefixes: tuple[str, ...], taken: set[str], numbered: bool) -> str:
    for p in prefixes:
        if numbered and not any(t.startswith(p) and t[len(p):].isdigit() for t in taken):
            return p
        if not numbered and p not in taken:
            return p
    raise ComputationError("Cannot name the intermediate nodes: every candidate name is taken by a variable.")


def decompose(expression: str, *, limits: Limits | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """Split ``expression`` into elementary operations: ``(name, formula)`` lines and the variables.

    Every function call and binary operation on a variable becomes one line, in evaluation
    order; the last line is ``f``. Equal subexpressions (``x*y`` and ``y*x``) are one line.

    Examples
    --------
    >>> lines, names = decompose("sin(x*y) + exp(x**2)")
    >>> lines
    [('u1', 'x * y'), ('u2', 'sin(u1)'), ('u3', 'x ** 2'), ('u4', 'exp(u3)'), ('f', 'u2 + u4')]
    >>> names
    ['x', 'y']
    """
    limits = resolve(limits)
    if not isinstance(expression, str):
        raise FormulaError(f"explain takes an expression as a string; got {type(expression).__name__}.")
    text = expression.strip()
    tree = None
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    names = _variables(tree) if tree is not None else []
    for n in names:
        if n not in ("pi", "E"):
            _check_name(n, "In the expression")
    variables = [n for n in names if n not in ("pi", "E")]
    symbols = {n: real_symbol(n) for n in variables}
    # The whole expression through the safe parser first: every syntax, name, function and
    # size problem is reported as for any formula, before anything is split.
    parse_formula(expression, symbols, what="expression", limits=limits)
    assert tree is not None  # parse_formula refused anything ast cannot read
    taken = set(variables)
    prefix = _fresh(("u", "v", "t", "node"), taken, numbered=True)
    result = _fresh(("f", "F", "g", "result"), taken, numbered=False)
    lines: list[tuple[str, str]] = []
    seen: dict[sp.Expr, str] = {}
    known = dict(symbols)  # the variables, then each node as it is named

    body = tree.body
    while isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.UAdd):
        body = body.operand
    # One iterative post-order walk (a long sum is a deep chain of BinOps: no recursion):
    # children first, so each node's operands are named before it (evaluation order).
    order: list[ast.AST] = []
    stack: list[tuple[ast.AST, bool]] = [(body, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        stack.append((node, True))
        kids = ([node.left, node.right] if isinstance(node, ast.BinOp) else [node.operand]
                if isinstance(node, ast.UnaryOp) else list(node.args) if isinstance(node, ast.Call) else [])
        stack.extend((k, False) for k in reversed(kids))
    has_var: dict[int, bool] = {}  # does the subtree hold a variable (it is then split)?
    named: dict[int, str] = {}  # what an operation's node is called in the lines
    for node in order:
        if isinstance(node, ast.Name):
            has_var[id(node)] = node.id not in ("pi", "E")
        elif isinstance(node, ast.BinOp):
            has_var[id(node)] = has_var[id(node.left)] or has_var[id(node.right)]
        elif isinstance(node, ast.UnaryOp):
            has_var[id(node)] = has_var[id(node.operand)]
        elif isinstance(node, ast.Call):
            has_var[id(node)] = any(has_var[id(a)] for a in node.args)
        else:
            has_var[id(node)] = False
        if not has_var[id(node)] or isinstance(node, ast.Name):
            continue

        def operand(child: ast.AST) -> str:
            if isinstance(child, ast.Name):
                return child.id
            if not has_var[id(child)]:  # a number stays inside the operation that uses it
                segment = ast.unparse(child)  # (get_source_segment re-splits the text each call)
                return segment if isinstance(child, ast.Constant) else f"({segment})"
            return named[id(child)]

        if isinstance(node, ast.BinOp):
            formula = f"{operand(node.left)} {_OPS[type(node.op)]} {operand(node.right)}"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            formula = f"-{operand(node.operand)}"
        elif isinstance(node, ast.UnaryOp):  # unary + changes nothing
            named[id(node)] = operand(node.operand)
            continue
        elif isinstance(node, ast.Call):
            formula = f"{node.func.id}({', '.join(operand(a) for a in node.args)})"
        else:  # parse_formula accepted nothing else
            raise ComputationError(f"Cannot split {ast.unparse(node)!r} into elementary operations.")
        # Shared by value, not by spelling: y*x is the node x*y already is.
        key = parse_formula(formula, known, what="expression", limits=limits)
        if key not in seen:
            seen[key] = f"{prefix}{len(seen) + 1}"
            known[seen[key]] = real_symbol(seen[key])
            lines.append((seen[key], formula))
        named[id(node)] = seen[key]
    if isinstance(body, ast.Name) or not has_var[id(body)]:
        segment = body.id if isinstance(body, ast.Name) else ast.unparse(body)
        lines.append((result, segment))
    else:
        _, formula = lines.pop()  # the root's line, used by no other: it is f
        lines.append((result, formula))
    return lines, variables


@dataclass
class Explanation(Printable):
    """An expression's computation graph and the chain rule for one variable.

    Attributes
    ----------
    expression : str
        What was typed.
    expr : sympy.Expr
        It, parsed (activations unevaluated).
    computation : Computation
        One elementary operation per node; the variables are its inputs, the last node f.
    derivation : ComputationDerivation
        Paths, local partials, products and the chain-rule sum for ``wrt`` (with values if
        ``at`` was given).
    direct : sympy.Expr
        ``sympy.diff`` of the expression, the independent check.
    agrees : bool
        Whether the chain-rule result equals ``direct`` (at 30 digits, at several points).

    It prints (:class:`~symbackprop.printing.Printable`) as Unicode text (``text()``,
    ``str()``), one LaTeX ``aligned`` block (``latex()``) and Markdown (``markdown()``).

    Examples
    --------
    >>> print(explain("sin(x*y)", wrt="x").text())  # doctest: +ELLIPSIS
    The chain rule for ∂f/∂x, step by step
    ...
    Computation graph: one elementary operation per node, in evaluation order
      u₁ = x⋅y
      f = sin(u₁)
    ...
    >>> explain("x**2", wrt="x").latex().startswith("\\\\begin{aligned}")
    True
    >>> explain("x**2", wrt="x").markdown().startswith("### ")
    True
    """

    expression: str
    expr: sp.Expr
    computation: Computation
    derivation: ComputationDerivation
    direct: sp.Expr
    agrees: bool
    checked_at: int

    def document(self) -> Document:
        """Everything, as a :class:`~symbackprop.printing.Document`."""
        comp, d = self.computation, self.derivation
        v, f = d.variable, comp.loss
        graph = Section("Computation graph: one elementary operation per node, in evaluation order", tuple(
            Line(to_text(s), to_latex(s), comp.graph.nodes[s.name]["shown"]) for s, _ in comp.definitions))
        doc = d.document()
        sections = [s for s in doc.sections if not s.title.startswith("Definitions")]
        value = None
        if d.values is not None:
            value = d._fmt_value(realize(self.direct))
        verdict = (
            f"The chain rule agrees with sympy.diff of the expression (at 30 digits, at {self.checked_at} point(s))."
            if self.agrees else "The chain rule DISAGREES with sympy.diff: please report this expression."
        )
        check = Section("Check: sympy.diff of the whole expression", (
            Line(f"∂{to_text(f)}/∂{to_text(v)}", rf"\frac{{\partial {to_latex(f)}}}{{\partial {to_latex(v)}}}",
                 self.direct, value),
        ), note=verdict)
        head = Section("The expression", (Line(to_text(f), to_latex(f), self.expr),))
        return Document(
            f"The chain rule for ∂{to_text(f)}/∂{to_text(v)}, step by step",
            (head, graph, *sections, check),
            math_title=rf"The chain rule for $\frac{{\partial {to_latex(f)}}}{{\partial {to_latex(v)}}}$, step by step",
            subtitle=doc.subtitle,
        )


def _agrees(comp: Computation, result: sp.Expr, direct: sp.Expr, variables: list[sp.Symbol],
            at: Mapping[sp.Symbol, float] | None, n: int = 4) -> tuple[bool, int]:
    """Compare at 30 digits at ``n`` seeded points in [-1, 1] (and at ``at``), skipping points
    where the expression is undefined; at least one point must be compared."""
    expanded = comp.expanded(result, max_size=None)
    rng = np.random.default_rng(0)
    # half in [-0.9, 0.9], half in [0.1, 0.9] (where sqrt and log are defined)
    points = [{s: sp.Rational(int(rng.integers(-90 if i % 2 else 10, 91)), 100) for s in variables} for i in range(n)]
    if at is not None:
        points.append({s: sp.Rational(str(at[s])) for s in variables})
    compared = 0
    for point in points:
        a = sp.N(expanded.xreplace(point), 30)
        b = sp.N(realize(direct).xreplace(point), 30)
        if not (a.is_real and b.is_real and a.is_finite and b.is_finite):
            continue
        compared += 1
        if abs(a - b) > sp.Float("1e-20", 30) * (1 + abs(b)):
            return False, compared
    return compared > 0, compared


def explain(
    expression: str,
    wrt: str | None = None,
    at: Mapping[str, float] | None = None,
    *,
    limits: Limits | None = None,
) -> Explanation:
    """The computation graph of ``expression`` and the chain rule for ∂f/∂``wrt``, step by step.

    Parameters
    ----------
    expression : str
        A formula in the parser's syntax, e.g. ``"sin(x*y) + exp(x**2)"``.
    wrt : str, optional
        The variable to differentiate by (default: the first one in the expression).
    at : Mapping[str, float], optional
        A value for every variable: each step is shown with its value there.
    limits : Limits, optional
        Bounds on the expression (:class:`~symbackprop.limits.Limits`).

    Returns
    -------
    Explanation

    Examples
    --------
    >>> e = explain("sin(x*y) + exp(x**2)", wrt="x", at={"x": 1, "y": 2})
    >>> [f"{s} = {expr}" for s, expr in e.computation.definitions]
    ['u1 = x*y', 'u2 = sin(u1)', 'u3 = x**2', 'u4 = exp(u3)', 'f = u2 + u4']
    >>> e.derivation.chain_sum
    2*u4*x + y*cos(u1)
    >>> e.agrees, round(e.derivation.value(e.derivation.chain_sum), 4)   # 2·cos(2) + 2e
    (True, 4.6043)
    """
    lines, variables = decompose(expression, limits=limits)
    if not variables:
        raise ComputationError(f"The expression {expression.strip()!r} has no variable to differentiate by.")
    if wrt is None:
        wrt = variables[0]
    if wrt not in variables:
        guess = closest(str(wrt), variables)
        hint = f" Did you mean {guess!r}?" if guess else ""
        raise SpecError(f"wrt={wrt!r} is not a variable of the expression.{hint} Its variables: {', '.join(variables)}.")
    source = "\n".join(f"{name} = {formula}" for name, formula in lines)
    comp = computation(source, inputs=variables, limits=limits)
    comp.title = "expression"
    symbols = {n: comp.symbol(n) for n in variables}
    expr = parse_formula(expression, symbols, what="expression", limits=limits, functions=_opaque_functions())
    direct = sp.diff(expr, symbols[wrt])
    derivation = ComputationDerivation(comp, symbols[wrt])
    point = None
    if at is not None:
        if not isinstance(at, Mapping):
            raise SpecError(f"at= takes a mapping {{name: number}}, e.g. {{'x': 1, 'y': 2}}; got {type(at).__name__}.")
        missing = [n for n in variables if n not in at]
        if missing:
            raise SpecError(f"No value for {', '.join(missing)}: give a value for every variable ({', '.join(variables)}).")
        derivation = derivation.at(dict(at))
        point = {symbols[n]: derivation.values[symbols[n]] for n in variables}
        if not all(math.isfinite(v) for v in point.values()):
            raise SpecError("Every value in at= must be a finite number.")
    agrees, n = _agrees(comp, derivation.chain_sum if derivation.chain_sum is not None else derivation.compact,
                        direct, list(symbols.values()), point)
    return Explanation(expression, expr, comp, derivation, direct, agrees, n)
