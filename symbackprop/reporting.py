"""One self-contained HTML page about a network: diagram, equations, derivations, training.

The page shows a trained result; it does not train. Train first and pass what
:func:`symbackprop.train` returned (``params=``, ``history=``) with the ``data`` it was
trained on, as the ``symbackprop report --data`` command does.

Every formula is presentation MathML (:func:`~symbackprop.printing.print_mathml`), which
browsers typeset natively: no script and no web font (a page that fetched MathJax from a
CDN would not work offline), and about a millisecond a line to build, where a mathtext
picture took about 0.1 s. The pictures (diagram, gradient paths, training) are embedded as
base64 PNG, so the file opens anywhere without network access. A small inline script
marks the page ``data-images="ok"`` once every image has decoded, and
``data-mathml="ok"`` when every formula was laid out with a non-zero size, which a headless
browser can check.
"""

from __future__ import annotations

import base64
import html
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sympy as sp

from .errors import SpecError
from .graph import CURRENT_LIMIT, check_graph_size, graph_size
from .printing import MATHML_CSS as _DOC_CSS
from .printing import print_mathml

if TYPE_CHECKING:  # pragma: no cover
    from .computations import Computation
    from .network import Network
    from .render.drawing import Drawing
    from .training import History

__all__ = ["MAX_PARAMS", "report", "page"]

#: Beyond this many parameters, the report derives a chosen few (see :func:`report`).
MAX_PARAMS = 24
#: Kept for older callers: every derivation is typeset now (MathML), none as a picture.
RENDERED = 1

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #1f4e79; padding-bottom: .2em; }
h2 { color: #1f4e79; margin-top: 1.8em; }
figure { margin: 1em 0; overflow-x: auto; }
figure img { max-width: 100%; height: auto; }
figcaption, .note { color: #555; font-size: .92em; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; font-size: .88em;
      font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
details { margin: .4em 0; }
summary { cursor: pointer; }
table { border-collapse: collapse; } td, th { padding: .2em .8em; border-bottom: 1px solid #ddd; }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", ok === imgs.length ? "ok" : "broken");
  document.body.setAttribute("data-images-decoded", ok + "/" + imgs.length);
  var maths = Array.prototype.slice.call(document.getElementsByTagName("math"));
  var laid = maths.filter(function (m) {
    var r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length;
  document.body.setAttribute("data-mathml", laid === maths.length ? "ok" : "broken");
  document.body.setAttribute("data-mathml-laid-out", laid + "/" + maths.length);
});
"""


def _img(drawing: Drawing, alt: str, caption: str = "") -> str:
    data = base64.b64encode(drawing.to_bytes("png", dpi=100)).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><img alt="{html.escape(alt)}" '
            f'src="data:image/png;base64,{data}">{cap}</figure>')


def _chosen(net: Network, max_params: int) -> tuple[list[sp.Symbol], str]:
    """Every parameter, or the first weight and bias of each layer with a note."""
    params = list(net.params)
    if len(params) <= max_params:
        return params, ""
    chosen = []
    for layer in range(1, len(net.sizes)):
        chosen += [net.w(layer, 1, 1), net.b(layer, 1)]
    note = (f"This network has {len(params)} parameters; shown are the first weight and bias "
            f"of each layer ({len(chosen)}). The others follow the same pattern; "
            "<code>symbackprop derive --wrt NAME</code> prints any of them.")
    return chosen, note


def _data(data: Any) -> tuple[Any, Any]:
    if isinstance(data, tuple) and len(data) == 2:
        return data
    if hasattr(data, "X") and hasattr(data, "Y"):
        return data.X, data.Y
    raise SpecError("data must be a pair (X, Y) of inputs and targets (or a Dataset).")


def _train_first(net: Network, X: Any, Y: Any, history: History | None, epochs: int | None,
                 lr: float | None, seed: int | None) -> tuple[Any, History | None, str]:
    """What report() did before it took a trained result: train, when the caller gave
    training settings; otherwise say in one line how to train first."""
    if epochs is None and lr is None and seed is None:
        raise SpecError(
            "report() shows a trained network: train first (params, history = "
            "sbp.train(net, X, Y)) and pass params=params, history=history with data=(X, Y)."
        )
    from .training import train

    epochs, lr, seed = (200 if epochs is None else epochs, 0.5 if lr is None else lr,
                        0 if seed is None else seed)
    params, trained = train(net, X, Y, epochs=epochs, lr=lr, seed=seed, progress=False)
    return params, history or trained, f"Trained here: {epochs} epochs of SGD, learning rate {lr}, seed {seed}."


def report(
    net: Network | Computation,
    path: str | os.PathLike,
    params: Mapping | Sequence | None = None,
    data: Any = None,
    history: History | None = None,
    *,
    max_params: int = MAX_PARAMS,
    rendered: int = RENDERED,
    note: str = "",
    epochs: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    max_edges: int | None | object = CURRENT_LIMIT,
) -> Path:
    """Write one self-contained HTML page about ``net`` to ``path`` (atomically).

    ``net`` may be a computation (``sbp.computation``): its page holds the definitions, the
    computation graph, every parameter's derivation with values at one point, and the
    compiled check (:mod:`symbackprop.computation_report`).

    The page holds the network diagram, the layer-level backprop equations, the gradient
    paths of one parameter, the chain-rule derivation of every parameter (of the first
    weight and bias of each layer when there are more than ``max_params``), and, when
    ``data`` is given, the trained result: the mean loss, the loss per epoch (from
    ``history``) and, for 2 inputs, the decision boundary of ``params``. Train first::

        params, history = sbp.train(net, X, Y)
        sbp.report(net, "report.html", params=params, data=(X, Y), history=history)

    Parameters
    ----------
    net : Network
    path : str or path
        Where to write the HTML file.
    params : mapping or per-layer arrays, optional
        Parameter values: shown on the diagram and used for the decision boundary.
    data : (X, Y) or Dataset, optional
        The data ``params`` were trained on (it needs ``params``).
    history : History, optional
        The training history to plot.
    max_params : int
        Derive every parameter up to this many; beyond, a chosen few, with a note.
    rendered : int
        Ignored, kept for calls written when only the first few derivations were typeset
        (as pictures, about 0.1 s per line); every derivation is now typeset in MathML.
    note : str
        A sentence shown under Training (with ``data``), such as how ``params`` were trained.
    epochs, lr, seed
        Kept for calls written before report stopped training: given with ``data`` and
        no ``params``, the network is trained here first with these settings (defaults
        200, 0.5, 0). Without them, data without params is an error that says to train
        first.
    max_edges : int or None
        Refuse (:class:`~symbackprop.errors.GraphTooLargeError`), before any work, a network
        whose scalar graph has more edges (default: the limit
        :func:`~symbackprop.graph.graph_limit` set, 100,000); None for no limit.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import os, tempfile, symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="sigmoid")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = report(net, os.path.join(d, "r.html"))
    ...     "<h2>Layer-level equations</h2>" in out.read_text()
    True
    """
    if hasattr(net, "definitions"):  # a Computation: its own page (symbackprop.computation_report)
        from .computation_report import computation_report
        return computation_report(net, path, params, data, history, max_params=max_params, note=note,
                                  max_edges=max_edges)
    from .files import check_writable, write_bytes
    from .render import (
        draw_gradient_paths,
        draw_network,
        plot_decision_boundary,
        plot_history,
    )

    if not (isinstance(max_params, int) and max_params >= 1):
        raise SpecError(f"max_params must be a positive integer; got {max_params!r}.")
    # The diagram and the gradient paths draw the whole scalar graph: measure it first.
    check_graph_size(graph_size(net), max_edges,
                     f"A report draws the scalar graph of the {'-'.join(map(str, net.sizes))} network; it")
    check_writable(path, what="report")  # before the work, not after it
    started = time.perf_counter()
    parts: list[str] = []
    training: list[str] = []
    if data is not None:
        X, Y = _data(data)
        if params is None:
            params, history, note = _train_first(net, X, Y, history, epochs, lr, seed)
        if note:
            training.append(f'<p class="note">{html.escape(note)}</p>')
        model = net.compile()
        final = model.loss(params, X, Y)
        training.append(f"<p>Mean loss on the {len(X)} samples: <b>{final:.6g}</b></p>")
    if history is not None and len(history.loss):
        training.append(_img(plot_history(history), "loss per epoch"))
    if data is not None and net.sizes[0] == 2:
        training.append(_img(plot_decision_boundary(net, params, X, Y), "decision boundary"))

    title = f"symbackprop report: {net.describe()}"
    parts.append(f"<h1>{html.escape(title)}</h1>")
    parts.append(f"<p>Network: <code>{html.escape(repr(net))}</code>, "
                 f"{len(net.params)} parameters.</p>")
    parts.append("<h2>Network</h2>")
    parts.append(_img(draw_network(net, params=params), "network diagram"))
    parts.append("<h2>Layer-level equations</h2>")
    parts.append(print_mathml(net.equations().document(), heading=False))

    chosen, note = _chosen(net, max_params)
    first = chosen[0]
    parts.append("<h2>Gradient paths</h2>")
    parts.append(_img(draw_gradient_paths(net, first), f"gradient paths of {first}",
                      "Every path from the parameter to J, each edge labelled with its local "
                      "partial derivative; ∂J/∂p is the sum over the paths of their products."))
    parts.append("<h2>Derivations</h2>")
    if note:
        parts.append(f'<p class="note">{note}</p>')
    from .notation import text_name

    for p in chosen:
        d = net.derivation(p)
        parts.append(f'<h3 id="d-{p.name}">∂J/∂{html.escape(text_name(p))} '
                     f"<small>(<code>{p.name}</code>, {d.n_paths} path(s))</small></h3>")
        parts.append(print_mathml(d.document(), heading=False))
    if training:
        parts.append("<h2>Training</h2>")
        parts += training
    elapsed = time.perf_counter() - started
    parts.append(f'<p class="note">Made by symbackprop in {elapsed:.1f} s.</p>')
    path = Path(path)
    write_bytes(path, page(title, parts).encode("utf-8"), what="report")
    return path


def page(title: str, parts: Sequence[str]) -> str:
    """The whole HTML page around ``parts`` (the network's and the computation's reports).

    Examples
    --------
    >>> page("T", ["<p>x</p>"]).startswith("<!DOCTYPE html>")
    True
    """
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}{_DOC_CSS}</style>"
        f"<script>{_SCRIPT}</script></head>\n<body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )

