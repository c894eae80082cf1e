"""The worksheet and the worked solution of an exercise, as Markdown or a LaTeX document.

Both are written once, against a small writer with two implementations (:class:`_Markdown`
and :class:`_Latex`: headings, lists, tables, inline and display math). The mathematics is
LaTeX in both; it comes from the network's own printers: the loss and activations from
:meth:`Network.equations`, each worked answer from :meth:`Derivation.at` (a number on every
step), the layer-level equations from :class:`~symbackprop.equations.Equations`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

from ..errors import SpecError
from ..notation import latex_name, latex_text, to_latex

if TYPE_CHECKING:  # pragma: no cover
    from .generate import Exercise, Question

__all__ = ["FILES", "worksheet", "solution", "write_files"]

#: What :func:`write_files` writes into an exercise's folder.
FILES = ("worksheet.md", "worksheet.tex", "solution.md", "solution.tex", "exercise.json")

Format = Literal["markdown", "latex"]


class _Markdown:
    def heading(self, level: int, text: str) -> str:
        return "#" * level + " " + text

    def text(self, s: str) -> str:
        return s

    def code(self, s: str) -> str:
        return f"`{s}`"

    def math(self, s: str) -> str:
        return f"${s}$"

    def display(self, s: str) -> str:
        return f"$$\n{s}\n$$"

    def bold(self, s: str) -> str:
        return f"**{s}**"

    def items(self, items: list[str], numbered: bool = False) -> str:
        return "\n".join(f"{i}. {t}" if numbered else f"- {t}" for i, t in enumerate(items, start=1))

    def table(self, header: list[str], rows: list[list[str]]) -> str:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])

    def document(self, title: str, body: list[str]) -> str:
        return "\n\n".join([f"# {title}", *body]) + "\n"


# Characters special to LaTeX, as typewriter text shows them.
_TT = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "^": r"\^{}", "~": r"\~{}",
    "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
}


class _Latex:
    def heading(self, level: int, text: str) -> str:
        return ("\\section*{" if level <= 2 else "\\subsection*{") + text + "}"

    def text(self, s: str) -> str:
        return latex_text(s)

    def code(self, s: str) -> str:
        return r"\texttt{" + "".join(_TT.get(ch, ch) for ch in s) + "}"

    def math(self, s: str) -> str:
        return f"${s}$"

    def display(self, s: str) -> str:
        return f"\\[\n{s}\n\\]"

    def bold(self, s: str) -> str:
        return r"\textbf{" + s + "}"

    def items(self, items: list[str], numbered: bool = False) -> str:
        env = "enumerate" if numbered else "itemize"
        return "\n".join([f"\\begin{{{env}}}", *(r"\item " + t for t in items), f"\\end{{{env}}}"])

    def table(self, header: list[str], rows: list[list[str]]) -> str:
        spec = "l" * len(header)
        body = [" & ".join(header) + r" \\ \hline", *(" & ".join(r) + r" \\" for r in rows)]
        return "\\begin{center}\n\\begin{tabular}{" + spec + "}\n" + "\n".join(body) + "\n\\end{tabular}\n\\end{center}"

    def document(self, title: str, body: list[str]) -> str:
        head = [
            r"\documentclass[11pt]{article}",
            r"\usepackage[T1]{fontenc}",
            r"\usepackage{amsmath,amssymb}",
            r"\usepackage[margin=2cm]{geometry}",
            r"\allowdisplaybreaks",
            r"\setlength{\parindent}{0pt}",
            r"\setlength{\parskip}{0.6em}",
            r"\begin{document}",
            r"{\Large\bfseries " + title + r"\par}",
        ]
        return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n\n\\end{document}\n"


def _writer(fmt: str) -> _Markdown | _Latex:
    if fmt == "markdown":
        return _Markdown()
    if fmt == "latex":
        return _Latex()
    raise SpecError(f"The format must be 'markdown' or 'latex'; got {fmt!r}.")


def _num(v: float) -> str:
    return f"{v:.6g}"


def _grad_latex(name: str) -> str:
    import sympy as sp

    return rf"\frac{{\partial J}}{{\partial {latex_name(sp.Symbol(name))}}}"


def _target_latex(q: Question) -> str:
    """What the question asks for, in LaTeX (``∂J/∂w^(2)_11``, ``δ^(1)_2``, ``∂J/∂W^(2)``)."""
    import sympy as sp

    if q.kind == "delta":
        return latex_name(sp.Symbol(q.target))
    if q.kind == "layer":
        if q.target.startswith("dW"):
            return rf"\frac{{\partial J}}{{\partial W^{{({q.layer})}}}}"
        return rf"\delta^{{({q.layer})}}"
    if q.kind == "sgd_step":
        return latex_name(sp.Symbol(q.target))
    return _grad_latex(q.target)


def _matrix_latex(ex: Exercise, q: Question) -> str:
    """The layer answer in matrix notation (Wᵀ, ⊙)."""
    l = q.layer
    if q.target.startswith("dW"):
        prev = "x" if l == 1 else f"a^{{({l - 1})}}"
        return rf"\delta^{{({l})}} \left({prev}\right)^{{T}}"
    act = ex.activations[l - 1]
    a = f"a^{{({l})}}"
    fprime = {"sigmoid": rf" \odot {a} \odot \left(1 - {a}\right)",
              "tanh": rf" \odot \left(1 - {a} \odot {a}\right)", "identity": ""}[act]
    return rf"\left(W^{{({l + 1})}}\right)^{{T}} \delta^{{({l + 1})}}{fprime}"


def _allowed_deltas(ex: Exercise, q: Question, w: _Markdown | _Latex) -> str:
    """Which δ a formula answer may use: only those of later layers."""
    L = len(ex.sizes) - 1
    if q.layer >= L:
        return w.text("Write it in x, y, w, b, z and a (no δ).")
    later = ", ".join(w.math(rf"\delta^{{({m})}}") for m in range(q.layer + 1, L + 1))
    return w.text("You may use ") + later + w.text(f", but no δ of layer {q.layer} or before.")


def _prompt(ex: Exercise, q: Question, w: _Markdown | _Latex) -> str:
    target = w.math(_target_latex(q))
    if q.kind == "gradient":
        body = f"Derive {target} as a formula. " + _allowed_deltas(ex, q, w)
    elif q.kind == "delta":
        body = f"Derive {target} as a formula. " + _allowed_deltas(ex, q, w)
    elif q.kind == "value":
        body = f"Compute the value of {target} at the parameters and the sample above."
    elif q.kind == "sgd_step":
        eta = w.math(r"\eta = " + _num(ex.lr))
        body = (f"One step of stochastic gradient descent on this sample, with learning rate "
                f"{eta}: what is the new value of {target}?")
    else:
        body = (f"Write {target} for the whole layer in matrix form "
                + w.text("(answer with @ for the matrix product, * for the elementwise product, ")
                + w.code(".T") + w.text(" for the transpose, and the layer names ")
                + w.code("W2, b2, delta2, a1, z1, x, y") + w.text(").")
                )
    kind = {"formula": "formula", "number": "number", "matrix": "matrix formula"}[q.answer_type]
    return f"{w.bold(q.id)} ({w.text(kind)}). {body}"


def _network_section(ex: Exercise, w: _Markdown | _Latex) -> list[str]:
    net = ex.network
    L = net.n_layers
    layers = ", ".join(
        f"layer {l}: {net.sizes[l]} neuron{'s' if net.sizes[l] > 1 else ''}, {ex.activations[l - 1]}"
        for l in range(1, L + 1)
    )
    out = [w.heading(2, "The network"),
           w.text(f"A {net.describe()}: {net.sizes[0]} input(s); {layers} (layer {L} is the output)."),
           w.text("Notation: ") + w.math(r"z^{(l)}_j = \sum_k w^{(l)}_{j k} a^{(l-1)}_k + b^{(l)}_j")
           + ", " + w.math(r"a^{(l)}_j = f_l(z^{(l)}_j)") + ", " + w.math(r"a^{(0)}_k = x_k")
           + ", " + w.math(r"\delta^{(l)}_j = \partial J / \partial z^{(l)}_j") + "."]
    lines = [line for line in net.equations().sections()[1].lines if not line.text.startswith("∂")]
    out.append(w.items([w.math(f"{line.latex} = {to_latex(line.expr)}") for line in lines]))
    return out


def _numbers_section(ex: Exercise, w: _Markdown | _Latex) -> list[str]:
    import sympy as sp

    net = ex.network
    rows = []
    for l in range(1, net.n_layers + 1):
        for j in range(1, net.sizes[l] + 1):
            ws = [p for p in ex.params if p.startswith(f"w{l}_{j}_")]
            weights = ", ".join(w.math(f"{latex_name(sp.Symbol(p))} = {_num(ex.params[p])}") for p in ws)
            b = f"b{l}_{j}"
            rows.append([w.text(f"layer {l}, neuron {j}"), weights, w.math(f"{latex_name(sp.Symbol(b))} = {_num(ex.params[b])}")])
    sample = ", ".join(w.math(f"x_{{{k}}} = {_num(v)}") for k, v in enumerate(ex.x, start=1))
    target = ", ".join(w.math(f"y_{{{j}}} = {_num(v)}") for j, v in enumerate(ex.y, start=1))
    return [w.heading(2, "The numbers"),
            w.table([w.text("neuron"), w.text("weights"), w.text("bias")], rows),
            w.text("The sample: ") + sample + w.text("; its target: ") + target
            + w.text("; the learning rate: ") + w.math(rf"\eta = {_num(ex.lr)}") + "."]


def _title(ex: Exercise, what: str) -> str:
    who = f" for {ex.student}" if ex.student else ""
    return f"Backpropagation {what}{who} (level {ex.level}, seed {ex.seed})"


def worksheet(ex: Exercise, fmt: Format = "markdown") -> str:
    """The worksheet: the network, its numbers, the questions and how to answer them.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> text = sbp.exercise(seed=7, level=1).worksheet("markdown")
    >>> print(text.splitlines()[0])
    # Backpropagation exercise (level 1, seed 7)
    >>> sbp.exercise(seed=7, level=1).worksheet("latex").startswith(r"\\documentclass")
    True
    """
    w = _writer(fmt)
    tol = f"{ex.tolerance:.0%}".replace("%", " %")
    how = [
        w.text("Formulas: in Python syntax with the network's names (") + w.code("x1, w2_1_1, b2_1, z2_1, a2_1, delta2_1, y1")
        + w.text("; ") + w.code("**") + w.text(" for powers; ") + w.code("sigmoid, tanh, exp, log, heaviside")
        + w.text(" are known), or in LaTeX between dollar signs (") + w.code(r"$\delta^{(2)}_1 a^{(1)}_1$") + w.text(")."),
        w.text(f"Numbers: at least four significant digits; within {tol} (relative) of the exact value counts as right. "
               f"The new value after an SGD step: six decimals; within {tol} of the step ")
        + w.math(r"\eta\, \partial J / \partial p") + w.text(" counts as right."),
        w.text("Matrix formulas: ") + w.code("@") + w.text(", ") + w.code("*") + w.text(", ") + w.code(".T")
        + w.text(" and the layer names (") + w.code("delta2 @ a1.T") + w.text(")."),
    ]
    body = [
        *_network_section(ex, w),
        *_numbers_section(ex, w),
        w.heading(2, "Questions"),
        w.items([_prompt(ex, q, w) for q in ex.questions], numbered=True),
        w.heading(2, "How to answer"),
        w.items(how),
    ]
    return w.document(_title(ex, "exercise"), body)


def solution(ex: Exercise, fmt: Format = "markdown") -> str:
    """The worked solution: each answer, typed and in notation, with its derivation at the
    sample (a number on every step) and, for the layer question, the layer-level equations.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.exercise(seed=7, level=1)
    >>> md = ex.solution("markdown")
    >>> ex.answer("q3") in md and "Chain rule" in md
    True
    """
    w = _writer(fmt)
    body = [*_network_section(ex, w), *_numbers_section(ex, w), w.heading(2, "Answers")]
    shown: set[str] = set()
    for q in ex.questions:
        body.append(w.heading(3, f"{q.id}: {q.kind.replace('_', ' ')}"))
        body.append(_prompt(ex, q, w))
        body += _worked(ex, q, w, shown)
    return w.document(_title(ex, "exercise: worked solution"), body)


def _derivation(ex: Exercise, p: str, w: _Markdown | _Latex, shown: set[str], note: str = "") -> list[str]:
    if p in shown:
        return [w.text(f"The derivation of ∂J/∂{p} with its numbers is shown above.")]
    shown.add(p)
    d = ex.derivation(p)
    intro = [w.text(note)] if note else []
    if isinstance(w, _Markdown):
        return intro + [d.markdown().replace("### ", "#### ", 1)]
    return intro + [w.display(d.latex())]


def _worked(ex: Exercise, q: Question, w: _Markdown | _Latex, shown: set[str]) -> list[str]:
    import sympy as sp

    answer = ex.answer(q)
    typed = w.text("Typed: ") + w.code(answer)
    if q.answer_type == "formula":
        out = [w.display(f"{_target_latex(q)} = {to_latex(ex.truth(q))}"), typed]
        if ex.loss == "cross_entropy" and q.layer == len(ex.sizes) - 1:
            out.append(w.text("With a one-hot target (the y sum to 1) this is the textbook a - y form."))
        note = ""
        if q.kind == "delta":
            note = f"δ = ∂J/∂z = ∂J/∂b, so the derivation of ∂J/∂b{q.target[5:]} holds it (δ recursion)."
        return out + _derivation(ex, ex._param_of(q), w, shown, note)
    if q.kind == "value":
        return [w.display(rf"{_target_latex(q)} \approx {answer}"), typed,
                *_derivation(ex, q.target, w, shown)]
    if q.kind == "sgd_step":
        p = latex_name(sp.Symbol(q.target))
        d = ex.derivation(q.target)
        grad = d.value(d.compact)
        line = (rf"{p} - \eta\, {_grad_latex(q.target)} = {_num(ex.params[q.target])} - {_num(ex.lr)} "
                rf"\times ({_num(grad)}) \approx {answer}")
        return [w.display(line), typed, *_derivation(ex, q.target, w, shown)]
    return _worked_layer(ex, q, w)


def _worked_layer(ex: Exercise, q: Question, w: _Markdown | _Latex) -> list[str]:
    import numpy as np

    net = ex.network
    values = ex.sample_values
    l = q.layer
    if q.target.startswith("dW"):
        delta = np.array([values[net.delta(l, j)] for j in range(1, net.sizes[l] + 1)])
        prev = np.array(list(ex.x) if l == 1 else [values[net.a(l - 1, k)] for k in range(1, net.sizes[l - 1] + 1)])
        matrix = np.outer(delta, prev)
    else:
        matrix = np.array([[values[net.delta(l, j)]] for j in range(1, net.sizes[l] + 1)])
    rows = r" \\ ".join(" & ".join(_num(float(v)) for v in row) for row in matrix)
    equations = net.equations()
    general = equations.sections()[0]
    from ..derivation import sections_latex

    return [
        w.display(f"{_target_latex(q)} = {_matrix_latex(ex, q)}"),
        w.text("Typed: ") + w.code(ex.answer(q)),
        w.text("At the sample:"),
        w.display(rf"{_target_latex(q)} \approx \begin{{pmatrix}} {rows} \end{{pmatrix}}"),
        w.text("The layer-level equations it comes from:"),
        w.display(sections_latex([general])),
    ]


def write_files(ex: Exercise, folder: str | os.PathLike) -> list[str]:
    """Write :data:`FILES` into ``folder`` (created if missing), each atomically.

    Examples
    --------
    >>> import symbackprop as sbp, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> [os.path.basename(p) for p in write_files(sbp.exercise(seed=1, level=1), d)]
    ['worksheet.md', 'worksheet.tex', 'solution.md', 'solution.tex', 'exercise.json']
    """
    from ..errors import OutputError
    from ..files import write_bytes

    folder = os.fspath(folder)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the folder {folder!r}: {exc.strerror or exc}.") from None
    contents = {
        "worksheet.md": ex.worksheet("markdown"), "worksheet.tex": ex.worksheet("latex"),
        "solution.md": ex.solution("markdown"), "solution.tex": ex.solution("latex"),
        "exercise.json": ex.to_json(),
    }
    paths = []
    for name in FILES:
        path = os.path.join(folder, name)
        write_bytes(path, contents[name].encode("utf-8"), what=name)
        paths.append(path)
    return paths
