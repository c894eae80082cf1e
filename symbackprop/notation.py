"""The fixed notation: symbol names, their LaTeX and Unicode forms, and the printers.

Every quantity of a network is a SymPy ``Symbol`` whose name is a Python identifier
(``w1_2_1`` is w^(1)_21: layer 1, neuron 2, from neuron 1 of layer 0). This module knows
how to make those names, how to read them back, and how to print expressions in textbook
form: ``w^{(1)}_{2 1}`` in LaTeX and ``w⁽¹⁾₂₁`` in Unicode text.

The notation reaches inside every function: ``max(0, z⁽¹⁾₂)``, ``|z⁽¹⁾₁|``, ``sign(z⁽¹⁾₁)``,
in lower-case textbook style; fractions p/10^k show as decimals (``max(0.01⋅z, z)``).
The ReLU derivative is written with SymPy's ``Heaviside(z, 0)`` (the step with value 0 at
0, as PyTorch uses); the printers show it as ``H(z)``. The steps that differentiating
``max``/``min`` produces have value ½ at 0 (a tie, as ``torch.maximum``): ``H½(z)``.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import sympy as sp
from sympy.core.sorting import default_sort_key
from sympy.printing.latex import LatexPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.pretty_symbology import pretty_use_unicode
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.str import StrPrinter

__all__ = [
    "SymbolName",
    "real_symbol",
    "by_name",
    "parse_name",
    "symbol_name",
    "to_latex",
    "to_text",
    "to_str",
    "equation_text",
    "text_name",
    "latex_name",
    "latex_text",
    "name_parts",
]

# An index is a number, or one of the letters i, j, k for a generic neuron.
_NAME = re.compile(
    r"^(?:(w)(\d+|L)_(\d+|[ijk])_(\d+|[ijk])|(b|z|a|delta)(\d+|L)_(\d+|[ijk])|(x|y)(\d+|[ijk])|(J))$"
)
_KINDS = {"w": "weight", "b": "bias", "z": "z", "a": "a", "delta": "delta", "x": "x", "y": "y"}
_LATEX_HEAD = {"delta": r"\delta"}
_TEXT_HEAD = {"delta": "δ"}
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
# Second order (symbackprop.hessian): the tangents ż = ∂z/∂q, ȧ = ∂a/∂q along one parameter q
# and the second-order adjoint δ̇ = ∂δ/∂q; printed with a dot over the first-order name.
_DOT = re.compile(r"^(z|a|delta)dot((?:\d+|L)_(?:\d+|[ijk]))$")
_DOT_LATEX = {"z": r"\dot{z}", "a": r"\dot{a}", "delta": r"\dot{\delta}"}
_DOT_TEXT = {"z": "ż", "a": "ȧ", "delta": "δ̇"}
_SUB = str.maketrans("0123456789ijk", "₀₁₂₃₄₅₆₇₈₉ᵢⱼₖ")


@dataclass(frozen=True)
class SymbolName:
    """A parsed symbol name: its ``head`` (w, b, z, a, delta, x, y, J), layer and indices."""

    head: str
    layer: int | str | None
    index: tuple[int | str, ...]

    @property
    def kind(self) -> str:
        """The node kind used in the graph: weight, bias, z, a, delta, x, y or loss."""
        return _KINDS.get(self.head, "loss")


def parse_name(name: str) -> SymbolName | None:
    """Read a symbol name of the notation, or return None when it is not one.

    Examples
    --------
    >>> parse_name("w1_2_1")
    SymbolName(head='w', layer=1, index=(2, 1))
    >>> parse_name("x3")
    SymbolName(head='x', layer=None, index=(3,))
    >>> parse_name("a2_j")
    SymbolName(head='a', layer=2, index=('j',))
    >>> parse_name("foo") is None
    True
    """
    m = _NAME.match(name)
    if m is None:
        return None
    g = [int(v) if v is not None and v.isdigit() else v for v in m.groups()]
    if g[0]:
        return SymbolName("w", g[1], (g[2], g[3]))
    if g[4]:
        return SymbolName(g[4], g[5], (g[6],))
    if g[7]:
        return SymbolName(g[7], None, (g[8],))
    return SymbolName("J", None, ())


def symbol_name(head: str, layer: int | None, *index: int) -> str:
    """Build the Python name of a symbol: ``symbol_name("w", 1, 2, 1) == "w1_2_1"``.

    Examples
    --------
    >>> symbol_name("delta", 2, 1), symbol_name("x", None, 3)
    ('delta2_1', 'x3')
    """
    if layer is None:
        return head + "_".join(str(i) for i in index)
    return f"{head}{layer}_" + "_".join(str(i) for i in index)


def real_symbol(name: str) -> sp.Symbol:
    """The real SymPy symbol called ``name``: every symbol of a network is one of these.

    Being real is what makes ``Abs(z)`` differentiate to ``sign(z)`` (not to
    ``re``/``im`` of a complex z). Symbols compare by name *and* assumptions, so user
    input is matched to these by name (:func:`by_name`).

    Examples
    --------
    >>> z = real_symbol("z1_1")
    >>> sp.diff(sp.Abs(z), z)
    sign(z1_1)
    >>> z == sp.Symbol("z1_1")
    False
    """
    return sp.Symbol(name, real=True)


def by_name(expr: sp.Basic, symbols: dict[str, sp.Symbol] | None = None) -> sp.Basic:
    """``expr`` with each free symbol replaced by the symbol of the same name.

    ``symbols`` maps names to symbols; names not in it (or every name, when it is
    None) become :func:`real_symbol`. This is how a plain ``Symbol("w1_1_1")`` a user
    typed meets the network's real one.

    Examples
    --------
    >>> e = by_name(sp.Abs(sp.Symbol("z")))
    >>> e.free_symbols == {real_symbol("z")}
    True
    """
    table = symbols or {}
    swap = {}
    for s in expr.free_symbols:
        if isinstance(s, sp.Symbol):
            target = table.get(s.name) or real_symbol(s.name)
            if target != s:
                swap[s] = target
    return expr.xreplace(swap) if swap else expr


def _dotted(name: str, latex: bool) -> str | None:
    """A second-order name (``zdot1_2``): the first-order name with its head dotted."""
    m = _DOT.match(name)
    if m is None:
        return None
    head, rest = m.groups()
    plain = _latex_name(head + rest) if latex else _text_name(head + rest)
    old = (_LATEX_HEAD if latex else _TEXT_HEAD).get(head, head)
    return (_DOT_LATEX if latex else _DOT_TEXT)[head] + plain[len(old):]  # type: ignore[index]


def _latex_name(name: str) -> str | None:
    s = parse_name(name)
    if s is None:
        return _dotted(name, latex=True)
    if s.head == "J":
        return "J"
    head = _LATEX_HEAD.get(s.head, s.head)
    sub = " ".join(str(i) for i in s.index)
    if s.layer is None:
        return f"{head}_{{{sub}}}"
    return f"{head}^{{({s.layer})}}_{{{sub}}}"


def _text_name(name: str) -> str | None:
    s = parse_name(name)
    if s is None:
        return _dotted(name, latex=False)
    if s.head == "J":
        return "J"
    head = _TEXT_HEAD.get(s.head, s.head)
    # Subscript digits cannot be told apart once an index has two digits: separate them.
    sep = "," if any(isinstance(i, int) and i >= 10 for i in s.index) else ""
    sub = sep.join(str(i).translate(_SUB) for i in s.index)
    if s.layer is None:
        return head + sub
    return head + f"({s.layer})".translate(_SUP) + sub


def _is_step0(expr: sp.Basic) -> bool:
    return isinstance(expr, sp.Heaviside) and len(expr.args) == 2 and expr.args[1] == 0


def _step_at(expr: sp.Heaviside) -> sp.Expr:
    return expr.args[1] if len(expr.args) > 1 else sp.S.Half


def _decimals(expr: sp.Basic) -> sp.Basic:
    """``expr`` with fractions p/10^k shown as decimals (0.01 z, not z/100), for display."""
    swap = {}
    for r in expr.atoms(sp.Rational):
        q = int(r.q)
        if q > 1 and 10**len(str(q)) // 10 == q:
            swap[r] = sp.Float(str(Decimal(int(r.p)) / Decimal(q)))
    return expr.xreplace(swap) if swap else expr


class _Latex(LatexPrinter):
    def _print_Symbol(self, expr, style="plain"):
        name = _latex_name(expr.name)
        return name if name is not None else super()._print_Symbol(expr, style)

    def _print_Heaviside(self, expr, exp=None):
        # H(x): the step with H(0) = 0 (relu'); H_{1/2}: H(0) = ½ (max/min ties).
        h0 = _step_at(expr)
        head = "H" if h0 == 0 else rf"H_{{{self._print(h0)}}}"
        tex = rf"{head}\left({self._print(expr.args[0])}\right)"
        return f"{tex}^{{{exp}}}" if exp else tex

    def _print_sign(self, expr, exp=None):
        tex = rf"\operatorname{{sign}}\left({self._print(expr.args[0])}\right)"
        return f"{tex}^{{{exp}}}" if exp else tex


class _Text(PrettyPrinter):
    def _print_Symbol(self, e, bold_name=False):
        name = _text_name(e.name)
        return prettyForm(name) if name is not None else super()._print_Symbol(e, bold_name)

    def _print_Heaviside(self, e):
        h0 = _step_at(e)
        name = "H" if h0 == 0 else "H" + ("½" if h0 == sp.S.Half and self._use_unicode else f"[{h0}]")
        return self._helper_print_function(e.func, e.args[:1], func_name=name)

    def _print_Max(self, e):
        args = sorted(e.args, key=default_sort_key)  # the order LaTeX prints them in
        return self._helper_print_function(e.func, args, func_name="max")

    def _print_Min(self, e):
        args = sorted(e.args, key=default_sort_key)
        return self._helper_print_function(e.func, args, func_name="min")

    def _print_Abs(self, e):
        inner = self._print(e.args[0])
        if inner.height() == 1:  # plain bars, as a textbook (and a terminal) writes |z|
            return prettyForm("|" + str(inner) + "|")
        return super()._print_Abs(e)

    def _print_sign(self, e):
        return self._helper_print_function(e.func, e.args, func_name="sign")


@contextmanager
def _unicode(flag: bool):
    # The pretty printer picks symbols such as ⋅ from a global flag, not its settings.
    previous = pretty_use_unicode(flag)
    try:
        yield
    finally:
        pretty_use_unicode(previous)


class _Str(StrPrinter):
    """Python names and the parser's lower-case functions: what the formula parser reads back."""

    def _print_Heaviside(self, expr):
        h0 = _step_at(expr)
        x = self._print(expr.args[0])
        return f"heaviside({x})" if h0 == 0 else f"heaviside({x}, {self._print(h0)})"

    def _print_Max(self, expr):
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr):
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"


def to_latex(expr: sp.Basic, **settings) -> str:
    """LaTeX of ``expr`` in the textbook notation.

    Examples
    --------
    >>> import sympy as sp
    >>> to_latex(sp.Symbol("w1_2_1") * sp.Symbol("delta2_1"))
    '\\\\delta^{(2)}_{1} w^{(1)}_{2 1}'
    """
    return _Latex(settings).doprint(_decimals(expr))


def to_text(expr: sp.Basic, *, unicode: bool = True, wrap_line: bool = False) -> str:
    """Unicode (SymPy pretty printer) form of ``expr`` in the textbook notation.

    Examples
    --------
    >>> import sympy as sp
    >>> print(to_text(sp.Symbol("a1_1") * (1 - sp.Symbol("a1_1"))))
    a⁽¹⁾₁⋅(1 - a⁽¹⁾₁)
    """
    with _unicode(unicode):
        return _Text({"use_unicode": unicode, "wrap_line": wrap_line}).doprint(_decimals(expr))


def to_str(expr: sp.Basic) -> str:
    """One-line form of ``expr`` with Python names; what the formula parser reads back.

    Examples
    --------
    >>> import sympy as sp
    >>> to_str(sp.Heaviside(sp.Symbol("z1_1"), 0) * sp.Symbol("x1"))
    'x1*heaviside(z1_1)'
    """
    return _Str().doprint(expr)


def equation_text(lhs: str, rhs: sp.Basic, suffix: str = "") -> str:
    """``lhs = rhs`` with ``rhs`` pretty-printed, ``lhs`` and ``suffix`` on its baseline.

    Examples
    --------
    >>> import sympy as sp
    >>> print(equation_text("∂J/∂b⁽¹⁾₁", sp.Symbol("delta1_1")))
    ∂J/∂b⁽¹⁾₁ = δ⁽¹⁾₁
    """
    with _unicode(True):
        form = _Text({"use_unicode": True, "wrap_line": False})._print(_decimals(rhs))
        form = prettyForm(*form.left(f"{lhs} = "))
        if suffix:
            form = prettyForm(*form.right(suffix))
        return form.render(wrap_line=False)


def text_name(symbol: sp.Symbol) -> str:
    """Unicode name of a symbol (``w⁽¹⁾₂₁``); other names are returned unchanged.

    Examples
    --------
    >>> import sympy as sp
    >>> text_name(sp.Symbol("delta2_1"))
    'δ⁽²⁾₁'
    """
    return _text_name(symbol.name) or symbol.name


def latex_name(symbol: sp.Symbol) -> str:
    """LaTeX name of a symbol (``w^{(1)}_{2 1}``).

    Examples
    --------
    >>> import sympy as sp
    >>> latex_name(sp.Symbol("b2_1"))
    'b^{(2)}_{1}'
    """
    return _latex_name(symbol.name) or to_latex(symbol)


def latex_text(text: str) -> str:
    """Plain text (with Unicode δ, ∂, ⊙) made safe for LaTeX text mode.

    Examples
    --------
    >>> print(latex_text("δ = ∂J/∂z, 50%"))
    $\\delta$ = $\\partial$J/$\\partial$z, 50\\%
    """
    table = {
        "δ": r"$\delta$", "∂": r"$\partial$", "⊙": r"$\odot$",
        "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
    }
    return "".join(table.get(ch, ch) for ch in text)


def name_parts(name: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """The parts a notation name is printed from: head, layer (the superscript) and indices.

    The same reading of the name that :func:`to_latex` and :func:`to_text` print, for
    printers that lay the parts out themselves (MathML); the head is in Unicode (``δ``).
    None for a name outside the notation.

    Examples
    --------
    >>> name_parts("w1_2_1"), name_parts("delta2_j"), name_parts("x3"), name_parts("J")
    (('w', '1', ('2', '1')), ('δ', '2', ('j',)), ('x', None, ('3',)), ('J', None, ()))
    >>> name_parts("foo") is None
    True
    """
    s = parse_name(name)
    if s is None:
        return None
    layer = None if s.layer is None else str(s.layer)
    return _TEXT_HEAD.get(s.head, s.head), layer, tuple(str(i) for i in s.index)
