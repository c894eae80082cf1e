"""The printing layer: a Document of sections of lines, and one printer per format."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.printing import (
    Document,
    Line,
    Section,
    mathtext_rows,
    print_html,
    print_latex,
    print_markdown,
    print_text,
    sections_latex,
    sections_markdown,
    sections_text,
    with_values,
)

x, y = sp.symbols("x1 y1")


def _doc(value: float | None = None) -> Document:
    return Document(
        "Title",
        (
            Section("First", (Line("u", "u", x - y, value), Line("a remark", r"\text{a remark}"))),
            Section("Second & <last>", (Line("v", "v", x / (1 + y)),), note="A note."),
        ),
        math_title="$T$ itle",
        subtitle="at a sample",
    )


def test_text_printer_indents_lines_shows_values_and_notes():
    out = print_text(_doc(0.25))
    lines = out.split("\n")
    assert lines[:2] == ["Title", "at a sample"]
    assert "  u = x₁ - y₁  ≈ 0.25" in lines
    assert "  a remark" in lines and "  A note." in lines
    # A fraction spans several rows, every one indented under its section title.
    body = lines[lines.index("Second & <last>") + 1:lines.index("  A note.")]
    assert len(body) == 3 and all(row.startswith("  ") for row in body)
    assert "≈" not in print_text(_doc(None))


def test_latex_printer_is_one_aligned_block():
    out = print_latex(_doc(0.25))
    rows = out.split(" \\\\\n")
    assert rows[0] == "\\begin{aligned}\n&\\textbf{First}"
    assert "u &= x_{1} - y_{1} \\approx 0.25" in rows
    assert "&\\text{a remark}" in rows
    assert rows[-1] == "&\\text{A note.}\n\\end{aligned}"
    # One row per title, line and note.
    assert len(rows) == 2 + 3 + 1


def test_markdown_printer_uses_the_math_title():
    out = print_markdown(_doc())
    assert out.startswith("### $T$ itle\n\n**First**\n\n- $u = x_{1} - y_{1}$")
    assert out.endswith("\n\nA note.")
    assert print_markdown(Document("Plain", ())) == "### Plain"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.latex: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag != "br":
            self.stack.append(tag)
        if tag == "pre":
            self.latex.append(dict(attrs)["data-latex"])

    def handle_endtag(self, tag):
        assert self.stack.pop() == tag, f"</{tag}> closes another element"

    def handle_data(self, data):
        self.text.append(data)


def test_html_printer_is_balanced_escaped_and_carries_latex():
    doc = _doc(0.25)
    out = print_html(doc)
    parser = _Tags()
    parser.feed(out)
    assert parser.stack == []
    assert "Second &amp; &lt;last&gt;" in out  # escaped, and read back as the title
    assert "Second & <last>" in "".join(parser.text)
    # Each line's LaTeX is the LaTeX printer's row, without the alignment mark.
    latex_rows = print_latex(doc).split(" \\\\\n")
    for tex in parser.latex:
        assert any(tex == row.replace("&", "") for row in latex_rows), tex
    assert len(parser.latex) == 3
    assert "Title" not in print_html(doc, heading=False)


def test_mathtext_rows_parse_in_matplotlib():
    from matplotlib.mathtext import MathTextParser

    rows = mathtext_rows(_doc(0.25))
    assert [r[0] for r in rows] == ["title", "section", "math", "math", "section", "math", "note"]
    parser = MathTextParser("agg")
    for kind, lhs, expr, suffix in rows:
        if kind == "math":
            rhs = sbp.to_latex(expr) if expr is not None else ""
            parser.parse(f"${lhs} = {rhs}{suffix}$" if expr is not None else f"${lhs}$")
    assert rows[2][3] == r" \approx 0.25"


def test_with_values_sets_only_lines_with_a_right_side():
    (first, _) = with_values(_doc().sections, lambda e: float(e.subs({x: 3, y: 1})))
    assert first.lines[0].value == 2.0 and first.lines[1].value is None


@pytest.mark.parametrize("make", [
    lambda: sbp.mlp([2, 2, 1], activation="relu").derivation("w1_1_1"),
    lambda: sbp.mlp([2, 3, 3], activation=["sigmoid", "softmax"], loss="cross_entropy").equations(),
])
def test_objects_print_through_their_document(make):
    obj = make()
    doc = obj.document()
    assert obj.text() == print_text(doc)
    assert obj.latex() == print_latex(doc)
    assert obj.markdown() == print_markdown(doc)
    assert obj._repr_latex_() == "$$" + print_latex(doc) + "$$"
    # The older section printers say the same.
    assert sections_text(doc.title, doc.sections) == obj.text()
    assert sections_latex(doc.sections) == obj.latex()
    assert sections_markdown(doc.heading, doc.sections) == obj.markdown()


def test_values_of_a_derivation_at_a_sample():
    # 1-1 identity network, quadratic loss: a = w x + b, δ = a - y, ∂J/∂w = δ x (by hand).
    net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
    w, b, xv, yv = 2.0, 0.5, 3.0, 1.0
    d = net.derivation("w1_1_1").at({"w1_1_1": w, "b1_1": b}, x=[xv], y=[yv])
    doc = d.document()
    values = {line.text: line.value for sec in doc.sections for line in sec.lines if line.expr is not None}
    assert values["δ⁽¹⁾₁"] == pytest.approx(w * xv + b - yv)
    assert values["∂J/∂w⁽¹⁾₁₁"] == pytest.approx((w * xv + b - yv) * xv)
    assert doc.subtitle == "with the value (≈) of every step at the sample x₁ = 3, y₁ = 1"
    # No sample, no values.
    assert all(line.value is None for sec in net.derivation("w1_1_1").document().sections for line in sec.lines)


def test_draw_formula_draws_a_document():
    drawing = sbp.draw_formula(_doc())
    assert drawing.lines[0] == "$T$ itle"
    assert "A note." in drawing.lines


def test_report_prints_derivations_with_the_mathml_printer(tmp_path):
    from symbackprop.printing import print_mathml

    net = sbp.mlp([1, 1], activation="sigmoid", loss="quadratic")
    page = sbp.report(net, tmp_path / "r.html").read_text(encoding="utf-8")
    for p in net.params:
        assert print_mathml(net.derivation(p).document(), heading=False) in page
    assert print_mathml(net.equations().document(), heading=False) in page


def test_derive_module_still_exports_the_reverse_pass():
    from symbackprop import backprop
    from symbackprop.derive import SUM_TO_ONE, Backprop, sum_to_one, tidy, tree_size

    assert (Backprop, SUM_TO_ONE, sum_to_one, tidy, tree_size) == (
        backprop.Backprop, backprop.SUM_TO_ONE, backprop.sum_to_one, backprop.tidy, backprop.tree_size)
    assert sbp.Backprop is backprop.Backprop
