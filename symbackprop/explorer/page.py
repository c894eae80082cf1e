"""The explorer's one HTML file: markup, the inline style and script, and the data as JSON.

Nothing is loaded from anywhere: the style and script are inlined from the files beside
this module, the formulas are MathML (typeset by the browser itself), the pictures are
SVG and a canvas drawn by the script from the embedded data.
"""

from __future__ import annotations

import html
import json
import math
from importlib.resources import files
from typing import Any

from ..printing.mathml import MATHML_CSS
from .svg import network_svg

__all__ = ["build_page", "loss_curve"]

_CURVE_W, _CURVE_H, _PAD = 560, 260, 46


def _asset(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def _json(data: Any) -> str:
    """JSON safe inside ``<script>``: no ``</`` can close the element early."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


#: Line colours of the layers in the gradient-flow chart.
LAYER_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def line_chart(series: list[tuple[str, list[float | None], str, bool]], epochs: list[int], *,
               title: str, n: int, force_log: bool = False, marker: str = "") -> tuple[str, list, Any]:
    """Lines over epochs 1..n as an SVG chart, and where each of ``epochs`` sits on the x axis.

    ``series`` holds (label, values per epoch, colour, dashed). The scale is logarithmic
    when ``force_log`` or when the values span more than two decades (and are positive).
    Also returns the chart's y of a value.

    Examples
    --------
    >>> svg, xs, fy = line_chart([("loss", [1.0, 0.5, 0.25], "#000", False)], [0, 1, 3], title="t", n=3)
    >>> svg.startswith("<svg") and xs[0] is None and len(xs) == 3
    True
    """
    vals = [v for _, values, _, _ in series for v in values if v is not None]
    if not vals:
        return '<svg class="curve"></svg>', [None] * len(epochs), lambda v: 0.0
    log = min(vals) > 0 and (force_log or max(vals) / min(vals) > 100)
    pos = [v for v in vals if v > 0]
    lo, hi = (min(pos), max(pos)) if log else (min(0.0, min(vals)), max(vals))

    def fy(v: float) -> float:
        a, b = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
        t = ((math.log10(max(v, lo)) if log else v) - a) / ((b - a) or 1.0)
        return _CURVE_H - _PAD - t * (_CURVE_H - _PAD - 22)

    legend = sum(1 for *_, dashed in series if not dashed) > 1
    right = 96 if legend else 16  # room for the legend right of the plot

    def fx(e: float) -> float:
        return _PAD + (e - 1) / max(n - 1, 1) * (_CURVE_W - _PAD - right)

    out = [f'<svg class="curve" viewBox="0 0 {_CURVE_W} {_CURVE_H}" role="img" aria-label="{_e(title)}">',
           f'<line class="axis" x1="{_PAD}" y1="{_CURVE_H - _PAD}" x2="{_CURVE_W - 10}" y2="{_CURVE_H - _PAD}"/>',
           f'<line class="axis" x1="{_PAD}" y1="14" x2="{_PAD}" y2="{_CURVE_H - _PAD}"/>',
           f'<text x="{_PAD}" y="{_CURVE_H - _PAD + 18}">1</text>',
           f'<text x="{_CURVE_W - right}" y="{_CURVE_H - _PAD + 18}" text-anchor="end">{n}</text>',
           f'<text x="{_CURVE_W / 2}" y="{_CURVE_H - 8}" text-anchor="middle">epoch</text>',
           f'<text x="{_PAD - 4}" y="{fy(hi) + 4:.1f}" text-anchor="end">{hi:.3g}</text>',
           f'<text x="{_PAD - 4}" y="{fy(lo) + 4:.1f}" text-anchor="end">{lo:.3g}</text>',
           f'<text x="{_PAD + 6}" y="12">{_e(title)}{" (log scale)" if log else ""}</text>']
    step = max(1, n // 600)  # at most about 600 points a line
    for i, (label, values, colour, dashed) in enumerate(series):
        pts = [(e, v) for e, v in enumerate(values, start=1) if v is not None and (v > 0 or not log)]
        pts = pts[::step] + ([pts[-1]] if pts and (len(pts) - 1) % step else [])
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        poly = " ".join(f"{fx(e):.1f},{fy(v):.1f}" for e, v in pts)
        out.append(f'<polyline points="{poly}" style="stroke:{colour}"{dash}><title>{_e(label)}</title></polyline>')
        if legend and not dashed:
            out.append(f'<text x="{_CURVE_W - right + 10}" y="{30 + 16 * i}" '
                       f'style="fill:{colour}">{_e(label)}</text>')
    xs = [None if e == 0 or e > n else round(fx(e), 1) for e in epochs]
    if marker:
        out.append(marker)
    out.append("</svg>")
    return "".join(out), xs, fy


def loss_curve(loss: list[float | None], epochs: list[int]) -> tuple[str, list]:
    """The loss per epoch as an SVG chart, and the (x, y) of each recorded epoch on it.

    Examples
    --------
    >>> svg, marks = loss_curve([1.0, 0.5, 0.25], [0, 1, 3])
    >>> svg.startswith("<svg") and marks[0] is None and marks[2][0] > marks[1][0]
    True
    """
    svg, xs, fy = line_chart([("mean loss per epoch", loss, "#1f4e79", False)], epochs,
                             title="mean loss per epoch", n=len(loss),
                             marker='<circle id="loss-mark" r="5" cx="0" cy="0"/>')
    marks = [None if x is None or loss[e - 1] is None else [x, round(fy(loss[e - 1]), 1)]
             for e, x in zip(epochs, xs)]
    return svg, marks


def flow_chart(flow: dict[str, Any], epochs: list[int]) -> tuple[str, list]:
    """Each layer's δ norm over the epochs (solid) and its bound (dashed), log scale.

    Examples
    --------
    >>> svg, xs = flow_chart({"delta_norm": [[0.1, 1.0], [0.05, 0.8]], "bound": [[0.2, None], [0.1, None]],
    ...                       "epochs": [1, 2]}, [0, 2])
    >>> svg.count("<polyline"), xs[0]
    (3, None)
    """
    n = len(flow["epochs"])
    layers = len(flow["delta_norm"][0]) if flow["delta_norm"] else 0
    series = []
    for l in range(layers):
        colour = LAYER_COLOURS[l % len(LAYER_COLOURS)]
        series.append((f"layer {l + 1}", [row[l] for row in flow["delta_norm"]], colour, False))
        bound = [row[l] for row in flow["bound"]]
        if any(v is not None for v in bound):
            series.append((f"bound of layer {l + 1}", bound, colour, True))
    svg, xs, _ = line_chart(
        series, epochs, title="RMS ‖δ‖ per layer, bound dashed", n=n, force_log=True,
        marker=f'<line id="flow-mark" class="axis" y1="14" y2="{_CURVE_H - _PAD}" x1="0" x2="0"/>')
    return svg, xs


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _flow_figure(flow: dict[str, Any], epochs: list[int], data: dict[str, Any]) -> str:
    svg, xs = flow_chart(flow, epochs)
    data["curve"]["flow_x"] = xs
    holds = "holds" if flow["bound_holds"] else "does NOT hold"
    units = []
    for kind in ("dead", "saturated"):
        names = [u["text"] for u in flow[kind]]
        if names:
            more = f" and {len(names) - 12} more" if len(names) > 12 else ""
            units.append(f"{kind}: {', '.join(names[:12])}{more}")
    named = "; ".join(units) if units else "no dead or saturated units at the end"
    return (f'<figure id="flow">{svg}<table id="flow-table"></table><figcaption>Gradient flow '
            f"(sbp.gradient_flow): the RMS over {flow['eval_rows']} samples of each layer's ‖δ‖ at "
            f"the end of each epoch, and the bound sup|f′|·‖W⁽ˡ⁺¹⁾‖₂·‖δ⁽ˡ⁺¹⁾‖ it obeys: the bound "
            f"{holds} on every sample of every epoch; {_e(named)}.</figcaption></figure>")


def build_page(net, data: dict[str, Any], *, title: str, subtitle: str, footer: str) -> str:
    """The whole page as a string.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> page = sbp.explore(sbp.mlp([1, 1], activation="identity")).html()
    >>> page.startswith("<!DOCTYPE html>") and "http" not in page.split("<body")[0]
    True
    """
    training = data.get("training")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_asset('explorer.css')}{MATHML_CSS}</style></head>",
        "<body>",
        f"<header><h1>{_e(title)}</h1><p class=\"sub\">{_e(subtitle)}</p></header>",
        '<div class="top"><section class="diagram">',
        '<div class="controls" role="toolbar" aria-label="one training step">',
        '<button id="b-reset" title="back to the start">\u27f2 Start</button>',
        '<button id="b-prev">\u25c0 Back</button><button id="b-next">Next \u25b6</button>',
        '<span class="sep"></span>',
        '<button id="b-forward">Forward</button><button id="b-backward">Backward</button>',
        '<button id="b-update">Update</button></div>',
        '<div id="step-title" class="step-title"></div>',
        network_svg(net, "m"),
        '<p class="legend">Edge width: |w|; colour: <span class="pos">positive</span> or '
        '<span class="neg">negative</span> weight (in a backward step: the gradient, purple '
        "positive, green negative). Click an edge for its weight's derivation, a neuron for "
        "its bias's.</p>",
        "</section>",
        '<aside class="panel" id="panel"><div id="step-box"></div>',
        '<div id="deriv"><p class="note">Click a weight (an edge) or a bias (a neuron) on the '
        "diagram to see its derivation: its paths, the local partial on each edge, the δ "
        "recursion and the compact and expanded forms, each with its value at this sample.</p>"
        "</div></aside></div>",
    ]
    if training:
        s = training["settings"]
        svg, marks = loss_curve(training["loss"], training["epochs"])
        data["curve"] = {"marks": marks}
        last = len(training["epochs"]) - 1
        parts += [
            '<section id="training"><h2>Training</h2>',
            f'<p class="note">{s["epochs"]} epochs of mini-batch SGD on {s["samples"]} samples '
            f'(learning rate {s["lr"]}, batch size {s["batch_size"]}, momentum {s["momentum"]}, '
            f'seed {s["seed"]}); the weights are recorded at {len(training["epochs"])} epochs.</p>',
            f'<div class="slider"><label for="epoch">Epoch</label><input type="range" id="epoch" '
            f'min="0" max="{last}" step="1" value="{last}"><output id="epoch-out" for="epoch"></output></div>',
            '<p>Loss of the whole set with these weights: <b id="epoch-loss"></b>; mean loss over '
            'the epoch (as it trained): <span id="epoch-mean"></span>; accuracy: '
            '<span id="epoch-acc"></span></p>',
            '<div class="tgrid">',
            f"<figure>{svg}<figcaption>The loss of each epoch; the dot is the slider's epoch."
            "</figcaption></figure>",
        ]
        if training.get("boundary"):
            b = training["boundary"]
            x0, x1, y0, y1 = b["box"]
            w, h = x1 - x0, y1 - y0
            r = 0.012 * max(w, h)
            dots = "".join(
                f'<circle cx="{px:.4g}" cy="{y0 + y1 - py:.4g}" r="{r:.3g}" fill="var(--c{c % 10})"/>'
                for px, py, c in b["points"])
            colours = ";".join(f"--c{i}:{c}" for i, c in enumerate(
                ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
                 "#8C8C8C", "#CCB974", "#64B5CD"]))
            parts.append(
                f'<figure><div class="boundary" style="{colours}"><canvas id="boundary-canvas" '
                f'width="{b["grid"]}" height="{b["grid"]}"></canvas>'
                f'<svg viewBox="{x0:.6g} {y0:.6g} {w:.6g} {h:.6g}" preserveAspectRatio="none" '
                f'stroke="#fff" stroke-width="{r / 3:.3g}">{dots}</svg></div>'
                "<figcaption>Decision boundary: each cell coloured by the predicted class, paler "
                "where the network is unsure; the data points on top.</figcaption></figure>")
        parts.append(f"<figure>{network_svg(net, 't', clickable=False)}<figcaption>The weights "
                     "after the slider's epoch.</figcaption></figure>")
        if training.get("flow"):
            parts.append(_flow_figure(training["flow"], training["epochs"], data))
        parts.append("</div></section>")
    parts += [
        f"<footer>{_e(footer)}</footer>",
        f'<script type="application/json" id="sbp-data">{_json(data)}</script>',
        f"<script>{_asset('explorer.js')}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
