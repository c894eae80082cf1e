"""Presentation MathML: well-formed XML, MathML Core elements only, the notation's symbols."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.printing import Document, Line, Section, print_mathml, tex_mathml, to_mathml

# The elements of MathML Core (what Chromium renders natively); SymPy's printer can also
# write <mfenced> or <menclose>, which Chromium ignores.
CORE = {"math", "mi", "mn", "mo", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot",
        "msub", "msup", "msubsup", "munder", "mover", "munderover", "mtable", "mtr", "mtd",
        "mpadded", "mphantom", "mstyle", "semantics", "annotation", "merror", "ms"}

NETS = [
    ([2, 2, 2], "sigmoid", "quadratic"),
    ([2, 3, 3], ["relu", "softmax"], "cross_entropy"),
    ([2, 2, 1], ["leaky_relu", "sigmoid"], "binary_cross_entropy"),
    ([1, 2, 1], ["tanh", "softplus"], "mse"),
    ([1, 1, 1], ["arctan", "identity"], "quadratic"),
]


def _expected(name: str) -> tuple[str, str, str] | None:
    """(head, subscript, superscript) of a notation name, read here independently of
    symbackprop: w1_2_1 -> ('w', '21', '(1)'), delta2_1 -> ('δ', '1', '(2)'), x3 -> ('x', '3', '')."""
    m = re.fullmatch(r"(w|b|z|a|delta)(\d+|L)_(\d+|[ijk])(?:_(\d+|[ijk]))?", name)
    if m:
        head = "δ" if m.group(1) == "delta" else m.group(1)
        return head, m.group(3) + (m.group(4) or ""), f"({m.group(2)})"
    m = re.fullmatch(r"(x|y)(\d+|[ijk])", name)
    return (m.group(1), m.group(2), "") if m else None  # J, or a summation index i, k


def _symbols(element: ET.Element) -> set[tuple[str, str, str]]:
    """Every scripted identifier in a MathML tree, as (head, subscript, superscript) text."""
    found = set()
    for el in element.iter():
        if el.tag in ("msub", "msubsup"):
            kids = list(el)
            text = ["".join(k.itertext()) for k in kids]
            found.add((text[0], text[1], text[2] if el.tag == "msubsup" else ""))
    return found


def _parse(fragment: str) -> ET.Element:
    return ET.fromstring(f"<root>{fragment}</root>")  # raises on anything not well-formed


def _check_core(root: ET.Element) -> None:
    for math in root.iter("math"):
        tags = {el.tag for el in math.iter()}
        assert tags <= CORE, tags - CORE
        assert not any(el.tag == "mo" and el.text == "-" for el in math.iter()), "hyphen for minus"


@pytest.mark.parametrize("sizes, act, loss", NETS)
def test_every_derivation_is_well_formed_mathml_with_the_right_symbols(sizes, act, loss):
    net = sbp.mlp(sizes, activation=act, loss=loss)
    params = net.init_params(seed=1)
    x = [0.3 * (i + 1) for i in range(sizes[0])]
    y = [1.0] + [0.0] * (sizes[-1] - 1)
    docs = [net.equations().document()]
    for p in net.params:
        d = net.derivation(p)
        docs += [d.document(), d.at(params, x, y).document()]
    for doc in docs:
        root = _parse(print_mathml(doc))
        _check_core(root)
        lines = [line for sec in doc.sections for line in sec.lines]
        maths = [m for div in root.iter("div") if div.get("class") == "sbp-line" for m in div]
        assert len(maths) == len(lines)
        for line, math in zip(lines, maths):
            # Every left side of the notation's documents is typeset (no Unicode fallback).
            assert math.find("mtext") is None or "".join(math.find("mtext").itertext()) != line.text
            if line.expr is None:
                continue
            # The right side holds exactly the symbols of the expression, in the notation.
            rhs = _parse(to_mathml(line.expr))
            expected = {_expected(s.name) for s in line.expr.free_symbols} - {None}
            assert _symbols(rhs) == expected, line.text
            if line.value is not None:  # the value as printed, with a real minus sign
                shown = "".join(list(math)[-1].itertext())
                assert float(shown.replace("−", "-")) == pytest.approx(line.value, rel=1e-5)


def test_a_derivation_names_its_parameter_and_deltas():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    d = net.derivation(net.w(1, 2, 1))
    root = _parse(print_mathml(d.document()))
    found = _symbols(root)
    assert ("w", "21", "(1)") in found          # the parameter w⁽¹⁾₂₁
    assert ("δ", "1", "(2)") in found and ("δ", "2", "(2)") in found and ("δ", "2", "(1)") in found
    assert ("x", "1", "") in found
    text = "".join(root.itertext())
    assert "→" in text and "∂" in text          # the paths and the partials


def test_functions_print_in_textbook_form():
    z = sp.Symbol("z1_1", real=True)
    relu_prime = _parse(to_mathml(sp.Heaviside(z, 0)))
    assert [el.text for el in relu_prime.iter("mi")][0] == "H"
    half = _parse(to_mathml(sp.Heaviside(z)))
    assert half.find(".//msub/mi").text == "H" and half.find(".//mfrac") is not None
    assert "max" in [el.text for el in _parse(to_mathml(sp.Max(0, z))).iter("mi")]
    e = _parse(to_mathml(sp.exp(z)))
    assert e.find(".//msup/mi").text == "e"     # not the double-struck ⅇ
    assert "0.01" in [el.text for el in _parse(to_mathml(sp.Rational(1, 100) * z)).iter("mn")]
    # A two-digit index is separated, as in the Unicode text (w⁽¹⁾₁₂,₃ is not w⁽¹⁾₁₂₃).
    big = _parse(to_mathml(sp.Symbol("w1_12_3")))
    assert "".join(big.find(".//msubsup")[1].itertext()) == "12,3"


def test_unknown_latex_falls_back_to_the_unicode_text():
    assert tex_mathml(r"\mathcal{L}") is None
    assert tex_mathml(r"{unbalanced") is None
    doc = Document("T", (Section("S", (Line("ℒ(θ)", r"\mathcal{L}(\theta)", sp.Symbol("x1")),)),))
    root = _parse(print_mathml(doc))
    assert root.find(".//mtext").text == "ℒ(θ)"


def test_text_is_escaped():
    doc = Document("a < b & c", (Section("<S>", (Line("<y>", r"\text{<y> & z}", sp.Symbol("q<r")),),
                                         note="1 < 2"),), subtitle="x & y")
    root = _parse(print_mathml(doc))
    text = "".join(root.itertext())
    for piece in ("a < b & c", "<S>", "1 < 2", "x & y", "q<r"):
        assert piece in text
