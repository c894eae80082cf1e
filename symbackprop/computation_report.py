"""The HTML report of a computation: definitions, graph, derivations, the compiled check.

:func:`symbackprop.report` dispatches here when given a
:class:`~symbackprop.computations.Computation`. The page is built as the network's is
(:mod:`symbackprop.reporting`): every formula in presentation MathML, pictures as base64
PNG, one self-contained file. Its parts:

- the definitions, typeset, and the source they were read from;
- the computation graph and the gradient paths of the first parameter
  (:mod:`symbackprop.render.computation`);
- the chain-rule derivation of every parameter (of the first ``max_params``), each step
  with its value at one point;
- the **compiled check** at that point: each parameter's gradient from the symbolic
  derivation, from the compiled array code (``g.compile()``) and from central differences
  of the compiled loss (:func:`~symbackprop.checking.gradcheck.gradcheck`), side by side;
- with ``data``, the mean loss of ``params`` on it and, with ``history``, the loss per epoch.
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .errors import SpecError
from .graph import CURRENT_LIMIT, GraphSize, check_graph_size
from .printing import Document, Line, Section, print_mathml

if TYPE_CHECKING:  # pragma: no cover
    from .computations import Computation
    from .training import History

__all__ = ["computation_report", "check_point"]

#: Seed of the point the derivations are evaluated at and the compiled check runs at.
POINT_SEED = 0


def check_point(g: Computation, params: Mapping | None = None,
                row: tuple[Sequence[float], Sequence[float]] | None = None) -> dict[sp.Symbol, float]:
    """The one point of the report: ``params`` (or ``g.init_params(0)``) and one row of data
    (or inputs from N(0, 1), targets from U(0.1, 0.9), seeded), by Symbol.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    >>> sorted(s.name for s in check_point(g))
    ['w', 'x', 'y']
    """
    rng = np.random.default_rng(POINT_SEED)
    point = dict(g.init_params(rng)) if params is None else {g.parameter(p): float(v) for p, v in params.items()}
    if row is None:
        x = rng.normal(0.0, 1.0, len(g.inputs))
        y = rng.uniform(0.1, 0.9, len(g.targets))
    else:
        x, y = row
    point.update({s: float(v) for s, v in zip(g.inputs, x)})
    point.update({s: float(v) for s, v in zip(g.targets, y)})
    return point


def _definitions(g: Computation) -> Document:
    lines = tuple(Line(_text(s), _latex(s), g.graph.nodes[s.name]["shown"])
                  for s, _ in g.definitions)
    return Document("Definitions", (Section("Definitions, in order (the last is the loss)", lines),))


def _text(s: sp.Symbol) -> str:
    from .notation import to_text

    return to_text(s)


def _latex(s: sp.Symbol) -> str:
    from .notation import to_latex

    return to_latex(s)


def _fmt(v: float) -> str:
    return f"{v:.10g}" if math.isfinite(v) else "—"


def _check_table(g: Computation, point: Mapping[sp.Symbol, float], symbolic: Mapping[sp.Symbol, float]) -> tuple[str, bool]:
    """The compiled check: symbolic, compiled and central-difference gradients at ``point``."""
    from .checking.gradcheck import gradcheck

    params = {p: point[p] for p in g.params}
    X = np.array([[point[s] for s in g.inputs]])
    Y = np.array([[point[s] for s in g.targets]]) if g.targets else None
    result = gradcheck(g, params, X, Y)
    rows, agree = [], result.ok
    for p in g.params:
        s, a, n = symbolic.get(p, math.nan), result.analytic[p], result.numeric[p]
        same = math.isclose(s, a, rel_tol=1e-9, abs_tol=1e-12) if p in symbolic else None
        agree = agree and same is not False
        ok = p not in result.failed and same is not False
        rows.append(f"<tr><td><code>{html.escape(p.name)}</code></td><td>{_fmt(s)}</td><td>{_fmt(a)}</td>"
                    f"<td>{_fmt(n)}</td><td>{'✓' if ok else '✗'}</td></tr>")
    head = ("<table><tr><th>parameter</th><th>symbolic (derivation)</th><th>compiled</th>"
            "<th>central difference</th><th>agree</th></tr>")
    return head + "".join(rows) + "</table>", agree


def computation_report(
    g: Computation,
    path: str | os.PathLike,
    params: Mapping | Sequence | None = None,
    data: Any = None,
    history: History | None = None,
    *,
    max_params: int,
    note: str = "",
    max_edges: int | None | object = CURRENT_LIMIT,
) -> Path:
    """Write one self-contained HTML page about the computation ``g`` (atomically).

    Called by :func:`symbackprop.report` (which takes the same arguments); see there.

    Examples
    --------
    >>> import os, tempfile, symbackprop as sbp
    >>> g = sbp.computation("h = tanh(w*x)\\nJ = (h - y)**2/2", params="w", inputs="x", targets="y")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     text = sbp.report(g, os.path.join(d, "r.html")).read_text()
    >>> "<h2>Compiled check</h2>" in text, "All 1 parameter(s) agree" in text
    (True, True)
    """
    from .files import check_writable, write_bytes
    from .render import plot_history
    from .render.computation import draw_computation, draw_computation_paths
    from .reporting import _data, _img, page

    if not (isinstance(max_params, int) and max_params >= 1):
        raise SpecError(f"max_params must be a positive integer; got {max_params!r}.")
    # The pictures draw the whole graph: refused past max_edges, as a network's report is.
    check_graph_size(GraphSize(g.graph.number_of_nodes(), g.graph.number_of_edges()), max_edges,
                     "A report draws the graph of the computation; it")
    check_writable(path, what="report")
    started = time.perf_counter()
    model = g.compile()
    if params is not None:
        params = model.mapping(model.arrays(params))  # checked: every parameter, numbers
    training: list[str] = []
    row = None
    if data is not None:
        X, Y = _data(data)
        if params is None:
            raise SpecError("report() shows a trained computation: train first (params, history = "
                            "sbp.train(g, X, Y)) and pass params=params, history=history with data=(X, Y).")
        Xa, Ya = model.check_data(X, Y)
        row = (Xa[0], Ya[0] if Ya is not None else ())
        if note:
            training.append(f'<p class="note">{html.escape(note)}</p>')
        training.append(f"<p>Mean loss on the {len(Xa)} samples: <b>{model.loss(params, Xa, Ya):.6g}</b></p>")
    if history is not None and len(history.loss):
        training.append(_img(plot_history(history), "loss per epoch"))
    point = check_point(g, params, row)

    chosen = list(g.params[:max_params]) or list(g.inputs[:1])
    title = f"symbackprop report: {g.describe()}"
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Computation: <code>{html.escape(repr(g))}</code>, {len(g.params)} parameters.</p>",
             "<h2>Definitions</h2>", print_mathml(_definitions(g), heading=False),
             f"<details><summary>Source</summary><pre>{html.escape(g.source())}</pre></details>",
             "<h2>Computation graph</h2>", _img(draw_computation(g), "computation graph"),
             "<h2>Gradient paths</h2>",
             _img(draw_computation_paths(g, chosen[0]), f"gradient paths of {chosen[0]}",
                  "Every path from the parameter to the loss, each edge labelled with its local "
                  "partial derivative; the gradient is the sum over the paths of their products."),
             "<h2>Derivations</h2>"]
    leaves = [s for s in (*g.params, *g.inputs, *g.targets)]
    where = ", ".join(f"{s.name} = {point[s]:.6g}" for s in leaves)
    parts.append(f'<p class="note">Each step with its value (≈) at {html.escape(where)}'
                 f"{'' if params is not None else ' (parameters from init_params(seed=0))'}.</p>")
    if len(g.params) > max_params:
        parts.append(f'<p class="note">This computation has {len(g.params)} parameters; shown are the first '
                     f"{max_params}. <code>symbackprop derive --file MODEL.txt --wrt NAME</code> prints any of them.</p>")
    symbolic: dict[sp.Symbol, float] = {}
    for p in chosen:
        d = g.derivation(p).at({s.name: v for s, v in point.items()})
        symbolic[p] = d.value(d.compact)
        parts.append(f'<h3 id="d-{p.name}">∂{html.escape(_text(g.loss))}/∂{html.escape(_text(p))} '
                     f"<small>(<code>{p.name}</code>, {d.n_paths} path(s))</small></h3>")
        parts.append(print_mathml(d.document(), heading=False))
    parts.append("<h2>Compiled check</h2>")
    table, agree = _check_table(g, point, symbolic)
    n = len(g.params)
    verdict = (f"All {n} parameter(s) agree" if agree else "Some parameters DISAGREE") + (
        ": the symbolic derivation, the compiled gradient (g.compile()) and central differences "
        "of the compiled loss, at the point above (tolerance of the compiled vs central difference: "
        "1e-5 + 1e-3·|value|; symbolic vs compiled: 1e-9 relative).")
    parts += [f"<p>{html.escape(verdict)}</p>", table]
    if training:
        parts.append("<h2>Training</h2>")
        parts += training
    parts.append(f'<p class="note">Made by symbackprop in {time.perf_counter() - started:.1f} s.</p>')
    path = Path(path)
    write_bytes(path, page(title, parts).encode("utf-8"), what="report")
    return path
