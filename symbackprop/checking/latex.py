"""Formulas typed in LaTeX, read through SymPy's LaTeX parser and then a whitelist.

Optional: SymPy's parser needs ``antlr4-python3-runtime`` 4.11 (``pip install
symbackprop[latex]``). The textbook symbols (``w^{(2)}_{1 2}``, ``a^{(1)}_1``,
``\\delta^{(2)}_1``, ``x_1``, ``y_1``) are replaced by placeholders before parsing, so the
parser cannot mistake ``a^{(2)}_1`` for a power or ``a(1-a)`` for a function call. Its
output is then rebuilt node by node from a whitelist — numbers, the network's symbols,
``+ * ^``, exp, log, sqrt, tanh, arctan, |·|, max, σ, σ' — and anything else (integrals,
sums, derivatives, factorials, unknown letters) is refused. Parsing never evaluates the
text, and nothing the parser returns reaches the checker without that rebuild.

Bounded work: SymPy's LaTeX parser (ANTLR) is slow — tens of milliseconds per nested
function call and about 6 ms per token — so :class:`LatexLimits` (length, tokens, nesting
depth, nesting of exponents) are checked on the text before it runs. The rebuild goes
through the same :class:`~symbackprop.limits.Arithmetic` as typed formulas, so
``2^{2^{2^{2^{10}}}}``, ``\\frac{1}{0}`` and ``\\sqrt{-1}`` are refused like their typed forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from .. import bounded
from ..errors import FormulaError
from ..limits import Arithmetic, Limits, deadline, resolve
from ..parse import FUNCTIONS

__all__ = ["LatexLimits", "LATEX_LIMITS", "latex_available", "parse_latex_formula"]


@dataclass(frozen=True)
class LatexLimits:
    """How large a LaTeX formula may be before SymPy's parser is run on it.

    Pass one to :func:`parse_latex_formula` (``latex_limits=``) to raise a bound.

    Attributes
    ----------
    max_length : int
        Characters of the text.
    max_tokens : int
        Tokens: commands (``\\frac``), numbers, letters, operators and brackets; each
        network symbol such as ``a^{(2)}_1`` counts as one.
    max_depth : int
        Nesting of brackets ``( [ {`` (with or without ``\\left``).
    max_power_depth : int
        Nesting of exponents: ``e^{-z^2}`` is 2, ``2^{2^{2^{2}}}`` is 3.

    Examples
    --------
    >>> LatexLimits().max_tokens
    200
    """

    max_length: int = 5000
    max_tokens: int = 200
    max_depth: int = 8
    max_power_depth: int = 2


#: The default LaTeX limits.
LATEX_LIMITS = LatexLimits()

_TOKEN = re.compile(r"\\[A-Za-z]+|\d+(?:\.\d*)?|\.\d+|[A-Za-z]|\S")
_PLACEHOLDER = re.compile(r"\{\\Xi_\{\d+\}\}")


def _precheck(text: str, prepared: str, limits: LatexLimits) -> None:
    """Refuse text whose parse would be slow or whose value would be huge, before parsing."""
    def refuse(problem: str) -> FormulaError:
        shown = text if len(text) <= 80 else text[:77] + "..."
        return FormulaError(f"Cannot read LaTeX {shown!r}: {problem}.")

    tokens = _TOKEN.findall(_PLACEHOLDER.sub("X", prepared))
    if len(tokens) > limits.max_tokens:
        raise refuse(f"it has {len(tokens)} tokens; the limit is {limits.max_tokens} (max_tokens)")
    depth = deepest = 0
    powers: list[int] = []  # depth at which each open exponent group started
    power_depth = 0
    after_caret = False
    for tok in tokens:
        if tok in ("(", "[", "{"):  # \left( counts once: by its bracket
            depth += 1
            deepest = max(deepest, depth)
            if tok == "{" and after_caret:
                powers.append(depth)
        elif tok in (")", "]", "}"):
            if powers and powers[-1] == depth:
                powers.pop()
            depth = max(depth - 1, 0)
        if tok == "^":
            power_depth = max(power_depth, len(powers) + 1)
        after_caret = tok == "^"
    if deepest > limits.max_depth:
        raise refuse(f"brackets are nested {deepest} deep; the limit is {limits.max_depth} (max_depth)")
    if power_depth > limits.max_power_depth:
        raise refuse(
            f"exponents are nested {power_depth} deep; the limit is {limits.max_power_depth} "
            "(max_power_depth)"
        )

_HEAD = r"(?P<head>w|b|z|a|\\delta)"
_LAYERED = re.compile(_HEAD + r"\s*\^\s*\{\s*\(\s*(?P<layer>\d+)\s*\)\s*\}\s*_\s*(?:\{(?P<sub>[^{}]*)\}|(?P<one>\d))")
_PLAIN = re.compile(r"(?<![\\A-Za-z])(?P<head>x|y)\s*_\s*(?:\{\s*(?P<sub>\d+)\s*\}|(?P<one>\d))")
_RESERVED = re.compile(r"\\Xi|(?<![\\A-Za-z])[QR](?![A-Za-z])")
_FUNCTION_NAMES = [
    (re.compile(r"\\sigma\s*(?:'|\^\s*\{?\s*\\prime\s*\}?)"), "Q"),
    (re.compile(r"\\(?:operatorname|mathrm)\s*\{\s*(?:ReLU|relu)\s*\}"), "R"),
]


def latex_available() -> bool:
    """True when SymPy's LaTeX parser can run (its antlr4 runtime is installed)."""
    try:
        import antlr4  # noqa: F401
    except ImportError:
        return False
    return True


def _indices(sub: str, head: str) -> list[str]:
    parts = [p for p in re.split(r"[\s,]+", sub.strip()) if p]
    if head == "w" and len(parts) == 1 and parts[0].isdigit() and len(parts[0]) == 2:
        parts = list(parts[0])  # w^{(2)}_{12}: two one-digit indices
    return parts


def _placeholders(text: str, net) -> tuple[str, dict[str, sp.Symbol]]:
    table: dict[str, sp.Symbol] = {}

    def put(name: str) -> str:
        key = f"Xi_{{{len(table) + 1}}}"
        table[key] = net.symbol(name)
        return rf" {{\Xi_{{{len(table)}}}}} "

    def layered(m: re.Match) -> str:
        head = m["head"].lstrip("\\")
        idx = _indices(m["sub"] if m["sub"] is not None else m["one"], head)
        layer = int(m["layer"])
        if head == "a" and layer == 0:
            return put("x" + "_".join(idx))
        return put(f"{head}{layer}_" + "_".join(idx))

    text = _LAYERED.sub(layered, text)
    text = _PLAIN.sub(lambda m: put(m["head"] + (m["sub"] or m["one"])), text)
    for pattern, letter in _FUNCTION_NAMES:
        text = pattern.sub(letter, text)
    # \cdot keeps "a(1-a)" a product, not a call of a function called a.
    text = re.sub(r"(\{\\Xi_\{\d+\}\})\s*(?=\(|\\left)", r"\1 \\cdot ", text)
    return text, table


_SIGMOID = FUNCTIONS["sigmoid"][0]
_UNDEFINED = {
    "sigma": _SIGMOID,
    "Q": FUNCTIONS["sigmoid_prime"][0],
    "R": FUNCTIONS["relu"][0],
    "H": FUNCTIONS["heaviside"][0],
    "max": lambda *a: sp.Max(*a),
}
_KNOWN = {sp.exp: sp.exp, sp.tanh: sp.tanh, sp.atan: sp.atan, sp.Abs: sp.Abs}


def _rebuild(e: sp.Basic, table: dict[str, sp.Symbol], text: str, limits: Limits | None = None) -> sp.Expr:
    arith = Arithmetic(limits)

    def fail(what: str) -> FormulaError:
        return FormulaError(
            f"Cannot read LaTeX {text!r}: {what} is not allowed. Allowed: the network's symbols "
            r"(w^{(l)}_{j k}, b^{(l)}_j, z^{(l)}_j, a^{(l)}_j, \delta^{(l)}_j, x_k, y_j), numbers, "
            r"+ - \cdot \frac ^, \exp, \log, \ln, \sqrt, \tanh, \arctan, |x|, \max, \sigma, \sigma', H."
        )

    def go(n: sp.Basic) -> sp.Expr:
        if isinstance(n, sp.Symbol):
            if n.name in table:
                return table[n.name]
            if n.name == "e":
                return sp.E
            raise fail(f"the name {n.name!r}")
        if isinstance(n, (sp.Integer, sp.Rational, sp.Float)) or n in (sp.E, sp.pi):
            return arith.check(n)
        # The parser builds its tree unevaluated; every operation is evaluated here, one at a
        # time and within the limits of typed formulas (2^{2^{2^{2^{10}}}}, \frac{1}{0}).
        if isinstance(n, sp.Pow):
            return arith.power(go(n.args[0]), go(n.args[1]))
        if isinstance(n, (sp.Add, sp.Mul)):
            args = [go(a) for a in n.args]
            out = args[0]
            for a in args[1:]:
                out = arith.apply(n.func, out, a)
            return out
        if isinstance(n, sp.log):
            if len(n.args) == 2 and n.args[1] != sp.E:
                return arith.apply(lambda u, v: u / v, arith.call(sp.log, [go(n.args[0])], "log"),
                                   arith.call(sp.log, [go(n.args[1])], "log"))
            return arith.call(sp.log, [go(n.args[0])], "log")
        if n.func in _KNOWN and len(n.args) == 1:
            return arith.call(_KNOWN[n.func], [go(n.args[0])], n.func.__name__)
        if isinstance(n, sp.core.function.AppliedUndef):
            f = _UNDEFINED.get(n.func.__name__)
            if f is None or (n.func.__name__ != "max" and len(n.args) != 1):
                raise fail(f"the function {n.func.__name__!r}")
            return arith.call(f, [go(a) for a in n.args], n.func.__name__)
        raise fail(type(n).__name__)

    try:
        with deadline(resolve(limits).max_seconds, "formula"):
            return go(e)
    except FormulaError as exc:
        if str(exc).startswith("Cannot read LaTeX"):
            raise
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise FormulaError(f"Cannot read LaTeX {shown!r}: {exc}.") from None


def parse_latex_formula(
    text: str,
    net,
    *,
    timeout: float = 5.0,
    limits: Limits | None = None,
    latex_limits: LatexLimits | None = None,
) -> sp.Expr:
    r"""Read a formula written in LaTeX in the network's notation, safely.

    Parameters
    ----------
    text : str
        E.g. ``\sigma(z^{(2)}_1)(1-\sigma(z^{(2)}_1))a^{(1)}_1``.
    net : Network
        Whose symbols the formula uses.
    timeout : float
        Seconds the parse may take (it runs in a child process, see
        :func:`symbackprop.bounded.run`, which also bounds its memory).
    limits : Limits, optional
        Bounds on what the formula computes, as for typed formulas
        (default :data:`symbackprop.limits.LIMITS`).
    latex_limits : LatexLimits, optional
        Bounds on the text, checked before it is parsed (default :data:`LATEX_LIMITS`).

    Returns
    -------
    sympy.Expr

    Raises
    ------
    FormulaError
        When the optional LaTeX parser is not installed, when it cannot read the text
        within the time and memory bounds, when the text or its value breaks a limit, or
        when the result holds anything outside the whitelist.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1])
    >>> if latex_available():
    ...     e = parse_latex_formula(r"(a^{(2)}_1 - y_1) a^{(2)}_1(1-a^{(2)}_1) a^{(1)}_{1}", net)
    ... else:
    ...     e = net.grad("w2_1_1")
    >>> e == net.grad("w2_1_1")
    True
    """
    latex_limits = latex_limits if latex_limits is not None else LATEX_LIMITS
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("The LaTeX formula is empty.")
    if len(text) > latex_limits.max_length:
        raise FormulaError(
            f"The LaTeX formula is {len(text)} characters long; the limit is "
            f"{latex_limits.max_length} (max_length)."
        )
    if not latex_available():
        raise FormulaError(
            "LaTeX input needs SymPy's LaTeX parser and its antlr4 runtime: "
            "pip install 'symbackprop[latex]' (antlr4-python3-runtime 4.11). "
            "Or type the formula in Python syntax with --formula."
        )
    if _RESERVED.search(text):
        raise FormulaError(r"Cannot read LaTeX: the letters Q, R and \Xi are reserved; rename them.")
    prepared, table = _placeholders(text, net)
    # Cheap checks of the text first; SymPy's parser evaluates as it reads
    # (2^{2^{2^{2^{10}}}}), so the parse itself runs under the checker's bounds.
    _precheck(text, prepared, latex_limits)
    try:
        return bounded.run(_parse, prepared, table, text, limits, timeout=timeout, warmup=_load_parser)
    except bounded.TimeLimitError:
        raise FormulaError(
            f"Cannot read LaTeX {text!r}: reading it took longer than the time bound of "
            f"{timeout:g} s (--timeout, or timeout= in Python)."
        ) from None
    except (bounded.MemoryLimitError, bounded.WorkerError) as exc:
        raise FormulaError(f"Cannot read LaTeX {text!r}: {exc}") from None


def _load_parser() -> None:
    """Import SymPy's LaTeX parser and build its tables (once per child, not timed)."""
    from sympy.parsing.latex import parse_latex

    parse_latex("x")


def _parse(prepared: str, table: dict[str, sp.Symbol], text: str, limits: Limits | None) -> sp.Expr:
    """SymPy's LaTeX parser, then the whitelist rebuild (runs in the bounded child)."""
    from sympy.parsing.latex import LaTeXParsingError, parse_latex

    try:
        parsed = parse_latex(prepared)
    except LaTeXParsingError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise FormulaError(f"Cannot read LaTeX {text!r}: {first}.") from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise FormulaError(f"Cannot read LaTeX {text!r}: {type(exc).__name__}.") from None
    if not isinstance(parsed, sp.Expr):
        raise FormulaError(f"Cannot read LaTeX {text!r}: it is not an expression (an equation or relation?).")
    return _rebuild(parsed, table, text, limits)
