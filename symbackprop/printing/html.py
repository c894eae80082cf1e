"""HTML: the document as a ``<div>`` of sections, each line Unicode text with its LaTeX.

Each line is a ``<pre>`` of the Unicode equation (readable without any script) carrying
its LaTeX in ``data-latex``, so that a page with a math typesetter can show it typeset.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from ..notation import equation_text, to_latex
from .document import Document, Line, Section

__all__ = ["print_html", "CSS"]

#: Style for the classes :func:`print_html` uses (a page includes it once, in ``<style>``).
CSS = """
.sbp-doc h4 { color: #1f4e79; margin: .9em 0 .2em; font-size: 1em; }
.sbp-doc pre.sbp-line { margin: 0; padding: .15em .8em; background: #f6f8fa; overflow-x: auto; }
.sbp-doc .sbp-title { font-weight: bold; }
.sbp-doc .sbp-note { color: #555; font-size: .92em; margin: .2em .8em; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def print_html(doc: Document, *, heading: bool = True) -> str:
    """The document as an HTML fragment (``<div class="sbp-doc">``), without a page around it.

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
    >>> print(print_html(doc))
    <div class="sbp-doc">
    <p class="sbp-title">T</p>
    <section><h4>S &lt; R</h4>
    <pre class="sbp-line" data-latex="y = x \\approx 0.5">y = x  ≈ 0.5</pre>
    </section>
    </div>
    """
    head = None
    if heading:
        head = _e(doc.title) + (f"<br>{_e(doc.subtitle)}" if doc.subtitle else "")
    return _div(doc, head, lambda sec: _e(sec.title), _pre, _e)


def _pre(line: Line) -> str:
    """A line as a ``<pre>`` of its Unicode equation, carrying its LaTeX in ``data-latex``."""
    if line.expr is None:
        text, latex = line.text, line.latex.replace("&", "")
    else:
        text = equation_text(line.text, line.expr,
                             f"  ≈ {line.value:.6g}" if line.value is not None else "")
        text = "\n".join(row.rstrip() for row in text.split("\n"))
        latex = f"{line.latex.replace('&', '')} = {to_latex(line.expr)}" + (
            rf" \approx {line.value:.6g}" if line.value is not None else "")
    return f'<pre class="sbp-line" data-latex="{_e(latex)}">{_e(text)}</pre>'


def _div(doc: Document, head: str | None, title: Callable[[Section], str], line: Callable[[Line], str],
         note: Callable[[str], str]) -> str:
    """The fragment both HTML printers write (:data:`CSS` and ``MATHML_CSS`` style its
    classes): the heading ``head`` (left out if None), then each section's ``title``, its
    lines (``line``) and its ``note``, each part already escaped by the caller's functions."""
    out = ['<div class="sbp-doc">']
    if head is not None:
        out.append(f'<p class="sbp-title">{head}</p>')
    for sec in doc.sections:
        out.append(f"<section><h4>{title(sec)}</h4>")
        out += [line(x) for x in sec.lines]
        if sec.note:
            out.append(f'<p class="sbp-note">{note(sec.note)}</p>')
        out.append("</section>")
    out.append("</div>")
    return "\n".join(out)
