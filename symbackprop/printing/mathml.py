"""Presentation MathML: formulas the browser typesets itself, without a script or a picture.

Chromium (since 109), Firefox and Safari render MathML Core natively, so a page of MathML
works offline and costs nothing to build (SymPy's printer, about a millisecond a line,
where a mathtext picture costs about 0.1 s a line).

The right side of each line is printed by SymPy's presentation-MathML printer, with the
symbols laid out from the notation's own reading of their names
(:func:`~symbackprop.notation.name_parts`: ``w1_2_1`` is ``w`` with subscript 21 and
superscript (1), as :func:`~symbackprop.notation.to_latex` prints it). The left sides and
section titles, which a :class:`Document` holds as LaTeX, are translated from the small
LaTeX vocabulary the notation uses (:func:`tex_mathml`); anything outside it is shown as
the line's Unicode text instead.

Every fragment is well-formed XML (numeric character references only, text escaped), so
it is valid in HTML, XHTML and notebooks alike.
"""

from __future__ import annotations

import html.entities
import re
from xml.sax.saxutils import escape

import sympy as sp
from sympy.core.sorting import default_sort_key
from sympy.printing.mathml import MathMLPresentationPrinter

from ..notation import _decimals, _step_at, name_parts
from .document import Document, Line
from .html import _div

__all__ = ["to_mathml", "rhs_mathml", "symbol_mathml", "tex_mathml", "line_mathml", "print_mathml",
           "MATHML_CSS"]

#: Style for the classes :func:`print_mathml` uses (a page includes it once, in ``<style>``).
MATHML_CSS = """
.sbp-doc h4 { color: #1f4e79; margin: .9em 0 .2em; font-size: 1em; }
.sbp-doc .sbp-title { font-weight: bold; }
.sbp-doc .sbp-note { color: #555; font-size: .92em; margin: .2em .8em; }
.sbp-doc .sbp-line { margin: 0; padding: .25em .8em; background: #f6f8fa; overflow-x: auto;
                     overflow-y: hidden; }
.sbp-doc math { font-size: 1.12em; }
"""

_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


def _numeric_entities(xml: str) -> str:
    # SymPy writes a few HTML named entities (&InvisibleTimes;), which XML does not define.
    def sub(m: re.Match) -> str:
        chars = html.entities.html5.get(m.group(1) + ";")
        return "".join(f"&#x{ord(c):X};" for c in chars) if chars else m.group(0)

    return _ENTITY.sub(sub, xml)


def _indices(index: tuple[str, ...]) -> str:
    """A subscript of indices: ``21`` or ``jk`` run together, ``12,3`` with commas once an
    index has two characters (as the Unicode text prints them)."""
    def one(i: str) -> str:
        return f"<mn>{i}</mn>" if i.isdigit() else f"<mi>{escape(i)}</mi>"

    if len(index) == 1:
        return one(index[0])
    if all(len(i) == 1 for i in index) and all(i.isdigit() for i in index):
        return f"<mn>{''.join(index)}</mn>"
    sep = "<mo>,</mo>" if any(len(i) > 1 for i in index) else ""
    return "<mrow>" + sep.join(one(i) for i in index) + "</mrow>"


def _layer(layer: str) -> str:
    # Stretchy parentheses in a script get the spacing of an operator: (1) as one number
    # (compact too), a letter between parentheses that do not stretch.
    if layer.isdigit():
        return f"<mn>({layer})</mn>"
    return f'<mrow><mo stretchy="false">(</mo><mi>{escape(layer)}</mi><mo stretchy="false">)</mo></mrow>'


def symbol_mathml(name: str) -> str | None:
    """MathML (no ``<math>`` around it) of a notation name, or None outside the notation.

    Examples
    --------
    >>> symbol_mathml("b2_1"), symbol_mathml("x1"), symbol_mathml("foo")
    ('<msubsup><mi>b</mi><mn>1</mn><mn>(2)</mn></msubsup>', '<msub><mi>x</mi><mn>1</mn></msub>', None)
    """
    parts = name_parts(name)
    if parts is None:
        return None
    head, layer, index = parts
    mi = f"<mi>{escape(head)}</mi>"
    if layer is None:
        return f"<msub>{mi}{_indices(index)}</msub>" if index else mi
    if not index:
        return f"<msup>{mi}{_layer(layer)}</msup>"
    return f"<msubsup>{mi}{_indices(index)}{_layer(layer)}</msubsup>"


#: The dotted names of second order (symbackprop.hessian, symbackprop.computation_hessian).
_DOTTED = re.compile(r"^(z|a|delta|v)dot((?:\d+|L)_(?:\d+|[ijk])|_[A-Za-z_][A-Za-z0-9_]*)$")


class _MathML(MathMLPresentationPrinter):
    def doprint(self, expr) -> str:
        # As SymPy's, but kept in Unicode (δ is 2 bytes of UTF-8, its reference 6).
        return self._print(expr).toxml()

    def _raw(self, xml: str):
        # SymPy's printer makes text nodes that are written out unescaped: a prebuilt
        # MathML string goes into its tree as one.
        return self.dom.createTextNode(xml)

    def _print_Symbol(self, sym, style="plain"):
        xml = symbol_mathml(sym.name)
        dotted = _DOTTED.match(sym.name) if xml is None else None
        if dotted and (dotted.group(2)[:1] != "_" or dotted.group(1) in ("v", "delta")):  # second order: ż⁽¹⁾₂ (zdot1_2), v̇_h (vdot_h), δ̇_h (deltadot_h)
            head, rest = dotted.group(1), dotted.group(2)
            plain = symbol_mathml(head + rest) if rest[:1] != "_" else None
            if plain is None:
                plain = super()._print_Symbol(sp.Symbol(head + rest), style).toxml()
            mi = "<mi>δ</mi>" if head == "delta" else f"<mi>{head}</mi>"
            return self._raw(plain.replace(mi, f'<mover accent="true">{mi}<mo>&#x2D9;</mo></mover>', 1))
        if xml is None:  # a name outside the notation: SymPy's layout, its text escaped
            if any(c in sym.name for c in "<>&"):
                return self._raw(f"<mi>{escape(sym.name)}</mi>")
            return super()._print_Symbol(sym, style)
        return self._raw(xml)

    def _print_Exp1(self, e):
        return self._raw("<mi>e</mi>")  # textbook e, not the double-struck ⅇ

    def _print_Heaviside(self, e):
        # H(z): the step with H(0) = 0 (relu'); H with subscript ½: H(0) = ½ (max/min ties).
        h0 = _step_at(e)
        row = self.dom.createElement("mrow")
        if h0 == 0:
            head = self._raw("<mi>H</mi>")
        else:
            head = self.dom.createElement("msub")
            head.appendChild(self._raw("<mi>H</mi>"))
            head.appendChild(self._print(h0))
        row.appendChild(head)
        row.appendChild(self._paren_comma_separated(e.args[0]))
        return row

    def _minmax(self, e, name: str):
        row = self.dom.createElement("mrow")
        row.appendChild(self._raw(f"<mi>{name}</mi>"))
        row.appendChild(self._paren_comma_separated(*sorted(e.args, key=default_sort_key)))
        return row

    def _print_Max(self, e):
        return self._minmax(e, "max")

    def _print_Min(self, e):
        return self._minmax(e, "min")


def rhs_mathml(expr: sp.Basic) -> str:
    """MathML of ``expr`` without the ``<math>`` element around it (to build a line from).

    Examples
    --------
    >>> import sympy as sp
    >>> rhs_mathml(sp.Symbol("a1_1") - sp.Symbol("y1"))
    '<mrow><msubsup><mi>a</mi><mn>1</mn><mn>(1)</mn></msubsup><mo>−</mo><msub><mi>y</mi><mn>1</mn></msub></mrow>'
    """
    xml = _MathML({"mul_symbol": "&#x2062;"}).doprint(_decimals(expr))
    # The minus sign, not the hyphen SymPy writes.
    return _numeric_entities(xml).replace("<mo>-</mo>", "<mo>−</mo>")


def _math(body: str, display: bool = False) -> str:
    attrs = ' display="block"' if display else ' displaystyle="true"'
    return f"<math{attrs}>{body}</math>"


def to_mathml(expr: sp.Basic, *, display: bool = False) -> str:
    """Presentation MathML (one ``<math>`` element) of ``expr`` in the textbook notation.

    Parameters
    ----------
    expr : sympy.Basic
    display : bool
        A block (centred, on its own line) instead of inline math in display style.

    Examples
    --------
    >>> import sympy as sp
    >>> print(to_mathml(sp.Symbol("w1_2_1")))
    <math displaystyle="true"><msubsup><mi>w</mi><mn>21</mn><mn>(1)</mn></msubsup></math>
    >>> print(to_mathml(sp.Symbol("delta2_1") * sp.Symbol("x1")))
    <math displaystyle="true"><mrow><msubsup><mi>δ</mi><mn>1</mn><mn>(2)</mn></msubsup><mo>&#x2062;</mo><msub><mi>x</mi><mn>1</mn></msub></mrow></math>
    """
    return _math(rhs_mathml(expr), display)


# ----------------------------------------------------------------- LaTeX -> MathML
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[A-Za-z]|\d+(?:\.\d+)?|\s+|.", re.S)
#: Commands of the notation's LaTeX, as (tag, text).
_COMMANDS = {
    r"\partial": ("mi", "∂"), r"\delta": ("mi", "δ"), r"\sigma": ("mi", "σ"),
    r"\eta": ("mi", "η"), r"\lambda": ("mi", "λ"), r"\alpha": ("mi", "α"),
    r"\nabla": ("mo", "∇"), r"\odot": ("mo", "⊙"), r"\to": ("mo", "→"),
    r"\approx": ("mo", "≈"), r"\ldots": ("mo", "…"), r"\cdots": ("mo", "⋯"),
    r"\vdots": ("mo", "⋮"), r"\cdot": ("mo", "⋅"), r"\times": ("mo", "×"),
    r"\leq": ("mo", "≤"), r"\geq": ("mo", "≥"), r"\le": ("mo", "≤"), r"\ge": ("mo", "≥"),
    r"\sum": ("mo", "∑"), r"\infty": ("mi", "∞"), r"\leftarrow": ("mo", "←"),
    r"\mapsto": ("mo", "↦"), r"\prime": ("mo", "′"),
}
_SPACES = {r"\;": ".28em", r"\,": ".17em", r"\:": ".22em", r"\ ": ".25em", r"\quad": "1em",
           r"\qquad": "2em"}
_TEXT = {r"\text": "", r"\mathrm": "", r"\textbf": "bold", r"\mathbf": "bold", r"\textit": "italic"}
_OPERATORS = set("()[]=+-,./|<>:;!*")


class _Unknown(Exception):
    """The LaTeX uses something outside the small vocabulary translated here."""


class _Tex:
    def __init__(self, latex: str):
        self.tokens = [t for t in _TOKEN.findall(latex)]
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        if self.i >= len(self.tokens):
            raise _Unknown("unexpected end")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def skip_space(self) -> None:
        while (t := self.peek()) is not None and t.isspace():
            self.i += 1

    def braced_text(self) -> str:
        """The raw text of the next ``{...}`` (nested braces kept)."""
        self.skip_space()
        if self.take() != "{":
            raise _Unknown("expected {")
        depth, out = 1, []
        while True:
            t = self.take()
            depth += (t == "{") - (t == "}")
            if depth == 0:
                return "".join(out)
            out.append(t)

    def argument(self) -> str:
        """One argument: a ``{group}`` or a single token."""
        self.skip_space()
        if self.peek() == "{":
            self.take()
            return _row(self.sequence("}"))
        items = self.atom(self.take())
        if items is None:
            raise _Unknown("bad argument")
        return items

    def script(self) -> str:
        """A sub- or superscript; plain indices (``{2 1}``) as the notation prints them."""
        self.skip_space()
        if self.peek() == "{":
            start = self.i
            raw = self.braced_text()
            if re.fullmatch(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*", raw) and " " in raw:
                return _indices(tuple(raw.split(" ")))
            if (layer := re.fullmatch(r"\(([A-Za-z0-9]+)\)", raw)) is not None:
                return _layer(layer.group(1))
            self.i = start
        return self.argument()

    def atom(self, tok: str) -> str | None:
        """The MathML of one token (reading its arguments), or None for space/alignment."""
        if tok.isspace() or tok == "&":
            return None
        if tok == "{":
            return _row(self.sequence("}"))
        if tok == r"\frac":
            num = self.argument()
            return f"<mfrac>{num}{self.argument()}</mfrac>"
        if tok in _TEXT:
            variant = f' mathvariant="{_TEXT[tok]}"' if _TEXT[tok] else ""
            text = self.braced_text()
            if "\\" in text or "$" in text:
                raise _Unknown("markup inside text")
            # MathML trims the ends of a text: keep its spaces as no-break spaces.
            return f"<mtext{variant}>{escape(text).replace(' ', chr(0xA0))}</mtext>"
        if tok == r"\operatorname":
            return f"<mi>{escape(self.braced_text())}</mi>"
        if tok in (r"\left", r"\right"):
            delim = self.take()
            return "" if delim == "." else f"<mo>{escape(delim.lstrip(chr(92)))}</mo>"
        if tok in _COMMANDS:
            tag, text = _COMMANDS[tok]
            return f"<{tag}>{text}</{tag}>"
        if tok in _SPACES:
            return f'<mspace width="{_SPACES[tok]}"/>'
        if tok == r"\!":
            return None
        if tok.startswith("\\"):
            raise _Unknown(tok)
        if tok[0].isdigit():
            return f"<mn>{tok}</mn>"
        if tok.isalpha():
            return f"<mi>{tok}</mi>"
        if tok == "-":
            return "<mo>−</mo>"
        if tok in _OPERATORS:
            return f"<mo>{escape(tok)}</mo>"
        raise _Unknown(tok)

    def sequence(self, stop: str | None) -> list[str]:
        """Items up to ``stop`` (consumed), each a MathML string; scripts attach to the last."""
        items: list[list[str | None]] = []  # [base, sub, sup]
        while True:
            tok = self.peek()
            if tok is None:
                if stop is not None:
                    raise _Unknown("unbalanced braces")
                break
            self.take()
            if tok == stop:
                break
            if tok == "}":
                raise _Unknown("unbalanced braces")
            if tok in ("_", "^", "'"):
                if not items:
                    raise _Unknown("script without a base")
                slot = 1 if tok == "_" else 2
                if items[-1][slot] is not None:
                    raise _Unknown("double script")
                items[-1][slot] = "<mo>′</mo>" if tok == "'" else self.script()
                continue
            xml = self.atom(tok)
            if xml is not None:
                items.append([xml, None, None])
        out = []
        for base, sub, sup in items:
            if sub is not None and sup is not None:
                out.append(f"<msubsup>{base}{sub}{sup}</msubsup>")
            elif sub is not None:
                out.append(f"<msub>{base}{sub}</msub>")
            elif sup is not None:
                out.append(f"<msup>{base}{sup}</msup>")
            else:
                out.append(base)
        return out


def _row(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "<mrow>" + "".join(items) + "</mrow>"


def tex_mathml(latex: str) -> str | None:
    r"""MathML (the inside of a ``<math>`` element) of the notation's LaTeX, or None.

    The left sides and titles of a :class:`Document` are LaTeX in a small vocabulary
    (names, ``\frac``, ``\partial``, ``\to``, ``\text``, ``\odot``, scripts, spacing);
    anything else gives None, and the caller shows the Unicode text instead.

    Examples
    --------
    >>> tex_mathml(r"\frac{\partial J}{\partial b^{(2)}_{1}}")
    '<mfrac><mrow><mi>∂</mi><mi>J</mi></mrow><mrow><mi>∂</mi><msubsup><mi>b</mi><mn>1</mn><mn>(2)</mn></msubsup></mrow></mfrac>'
    >>> tex_mathml(r"\text{path 1}") == "<mtext>path\N{NO-BREAK SPACE}1</mtext>"
    True
    >>> tex_mathml(r"\unknowncommand x") is None
    True
    """
    try:
        return _row(_Tex(latex).sequence(None)) if latex.strip() else None
    except (_Unknown, IndexError):
        return None


def _lhs(text: str, latex: str) -> str:
    return tex_mathml(latex) or f"<mtext>{escape(text)}</mtext>"


def _value(value: float) -> str:
    text = f"{value:.6g}"
    return f"<mo>≈</mo><mn>{text.replace('-', '−')}</mn>"


def line_mathml(line: Line, *, value: bool = True) -> str:
    """One line of a document as a ``<math>`` element: ``lhs = rhs ≈ value``.

    Parameters
    ----------
    line : Line
    value : bool
        Show the line's value (when it has one).

    Examples
    --------
    >>> import sympy as sp
    >>> line_mathml(Line("y", "y", sp.Symbol("x1"), 0.25))
    '<math displaystyle="true"><mi>y</mi><mo>=</mo><msub><mi>x</mi><mn>1</mn></msub><mo>≈</mo><mn>0.25</mn></math>'
    """
    if line.expr is None:
        return _math(_lhs(line.text, line.latex))
    body = f"{_lhs(line.text, line.latex)}<mo>=</mo>{rhs_mathml(line.expr)}"
    if value and line.value is not None:
        body += _value(line.value)
    return _math(body)


def _inline_math(text_with_dollars: str, fallback: str) -> str:
    """Text with ``$…$`` math segments: the math as MathML, the rest escaped."""
    parts = text_with_dollars.split("$")
    if len(parts) % 2 == 0:
        return escape(fallback)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(escape(part))
        else:
            xml = tex_mathml(part)
            if xml is None:
                return escape(fallback)
            out.append(f"<math>{xml}</math>")
    return "".join(out)


_TEXTBF = re.compile(r"\\textbf\{([^{}]*)\}")


def _title(title: str, latex_title: str) -> str:
    """A section title: its ``\textbf`` parts as the heading's own text, the rest MathML."""
    if not latex_title:
        return escape(title)
    parts = _TEXTBF.split(latex_title)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(escape(part))
        elif part.strip():
            xml = tex_mathml(part)
            if xml is None:
                return escape(title)
            out.append(f"<math>{xml}</math>")
    return "".join(out)


def print_mathml(doc: Document, *, heading: bool = True) -> str:
    """The document as an HTML fragment with every formula in presentation MathML.

    Each line is a ``<div class="sbp-line">`` holding one ``<math>`` element; titles with
    symbols are typeset too. The fragment is well-formed XML (style it with
    :data:`MATHML_CSS`).

    Parameters
    ----------
    doc : Document
        What to print.
    heading : bool
        Print the title (and subtitle) first; a page that has its own heading leaves it out.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbackprop.printing import Document, Line, Section
    >>> doc = Document("T", (Section("S < R", (Line("y", "y", sp.Symbol("x"), 0.5),)),))
    >>> print(print_mathml(doc))
    <div class="sbp-doc">
    <p class="sbp-title">T</p>
    <section><h4>S &lt; R</h4>
    <div class="sbp-line"><math displaystyle="true"><mi>y</mi><mo>=</mo><mi>x</mi><mo>≈</mo><mn>0.5</mn></math></div>
    </section>
    </div>
    """
    head = None
    if heading:
        head = _inline_math(doc.heading, doc.title) + (f"<br/>{escape(doc.subtitle)}" if doc.subtitle else "")
    return _div(doc, head, lambda sec: _title(sec.title, sec.latex_title),
                lambda line: f'<div class="sbp-line">{line_mathml(line)}</div>', escape)
