"""The network diagram of a medium network (a 4-16-16-3, up to 64 neurons a layer), in full.

Every neuron and every weight is drawn, sized to the figure instead of summarised: neurons
as small circles numbered j inside where the number fits, the inputs and the outputs
named beside them (every one where the names fit, else every second, ...), each weight a
thin line. With values (``params`` or ``grads``) the line's colour is the value, its width
the size of the weight, and each neuron is filled by its bias on the same colour scale;
the values are labelled largest first, each only where its box touches no neuron, name
or other label (:class:`~.labels.Placer`), and a note says how many were labelled.
:func:`symbackprop.render.draw_network` calls :func:`draw_dense` past 10 neurons a layer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..notation import latex_name
from .drawing import Drawing, new_axes
from .labels import Placer, axes_scale, text_extent

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from ..network import Network

__all__ = ["draw_dense"]

_INPUT, _HIDDEN, _OUTPUT = "#dbe9f6", "#fdf0d5", "#d9f0d3"
_LABEL_FONT = 7.5


def _geometry(net: Network, with_colorbar: bool) -> tuple[float, float]:
    """Figure size in inches: a neuron every 12-18 points up to 11 inches high, layers
    about 2.1 inches apart, so that a 4-16-16-3 is about twice as wide as high."""
    n_max, L = max(net.sizes), len(net.sizes) - 1
    height = min(11.0, max(4.5, 0.19 * n_max + 2.0))
    width = min(13.0, 2.1 * (L + 1) + 1.5) + (1.0 if with_colorbar else 0.0)
    return width, height


def draw_dense(
    net: Network,
    pvals: dict[str, float] | None,
    gvals: dict[str, float] | None,
    ax: Axes | None,
    labels: bool | None,
) -> Drawing:
    """Draw every neuron and weight of a medium network (values by name, or None).

    Parameters
    ----------
    net : Network
    pvals, gvals : dict[str, float] or None
        Parameter values and gradients by name (as :func:`~.network.draw_network` reads them).
    ax : matplotlib Axes, optional
    labels : bool or None
        Label weights where they fit: None labels the :data:`~.network.DENSE_LABELS`
        largest values (none without values), True every one that fits, False none.

    Returns
    -------
    Drawing
        ``kind`` ``"network-dense"``; ``nodes`` every neuron, ``edges`` every weight,
        ``labels`` the weights labelled.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([4, 16, 16, 3])
    >>> d = draw_dense(net, None, None, None, None)
    >>> d.kind, len(d.nodes), len(d.edges), d.labels
    ('network-dense', 39, 368, {})
    """
    import matplotlib as mpl
    from matplotlib.collections import LineCollection

    from .network import DENSE_LABELS, neuron_graph

    g = neuron_graph(net)
    L = len(net.sizes) - 1
    shown = gvals if gvals is not None else pvals
    fig, ax = new_axes(ax, _geometry(net, shown is not None))

    layers: dict[int, list[str]] = {}
    for n, layer in g.nodes(data="layer"):
        layers.setdefault(layer, []).append(n)
    # One unit between layers and between neurons, the first neuron on top.
    pos = {n: (float(layer), (len(names) - 1) / 2 - i) for layer, names in layers.items()
           for i, n in enumerate(names)}
    top = max(len(names) for names in layers.values()) / 2
    ax.set_xlim(-0.42, L + 0.42)
    ax.set_ylim(-top - 0.3, top + 1.2)  # room above for the layers' names
    ax.set_axis_off()

    edges = list(g.edges)
    cmap = mpl.colormaps["coolwarm"]
    norm = None
    if shown is not None:
        vmax = max(1e-12, max(abs(v) for v in shown.values()))
        norm = mpl.colors.Normalize(-vmax, vmax)
        sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        what = r"$\partial J/\partial w$, $\partial J/\partial b$" if gvals is not None else "weight, bias"
        fig.colorbar(sm, ax=ax, shrink=0.6, pad=0.01, label=what)
    engine = fig.get_layout_engine()
    if engine is not None:  # the axes' final size: circles and labels are sized from it
        engine.execute(fig)
    sx, sy = axes_scale(ax)
    spacing = 1.0 / sy  # points between two neurons of a layer
    diameter = max(4.0, min(24.0, 0.72 * spacing))

    # ----------------------------------------------------------------- edges
    name_of = {e: g.edges[e]["weight_name"] for e in edges}
    if shown is not None:
        sizes_from = pvals if pvals is not None else shown
        smax = max(1e-12, max(abs(sizes_from[name_of[e]]) for e in edges))
        order = sorted(edges, key=lambda e: abs(sizes_from[name_of[e]]))  # the strongest on top
        # Small weights fade as well as thin out: the strong connections stand out.
        colours = [(*cmap(norm(shown[name_of[e]]))[:3], 0.25 + 0.7 * abs(sizes_from[name_of[e]]) / smax)
                   for e in order]
        # The widest line is narrower where neurons are closer: 64 a layer stay lines, not a wall.
        widest = 2.25 * min(1.0, spacing / 18.0)
        widths = [0.25 + widest * abs(sizes_from[name_of[e]]) / smax for e in order]
        lines = LineCollection([(pos[u], pos[v]) for u, v in order], colors=colours, linewidths=widths,
                               zorder=1)
    else:
        order = edges
        lines = LineCollection([(pos[u], pos[v]) for u, v in order], colors="#8c8c8c", linewidths=0.5,
                               alpha=0.6, zorder=1)
    lines.set_gid("weights")
    ax.add_collection(lines)

    # ----------------------------------------------------------------- neurons
    fills = []
    for n in g.nodes:
        layer, j = g.nodes[n]["layer"], g.nodes[n]["index"]
        if layer > 0 and shown is not None:
            fills.append(cmap(norm(shown[net.b(layer, j).name])))
        else:
            fills.append(_INPUT if layer == 0 else _OUTPUT if layer == L else _HIDDEN)
    ax.scatter([pos[n][0] for n in g.nodes], [pos[n][1] for n in g.nodes], s=diameter**2, c=fills,
               edgecolors="#333333", linewidths=0.6, zorder=3)
    placer = Placer((sx, sy))
    for n in g.nodes:
        placer.block(*pos[n], diameter / 2 + 1, diameter / 2 + 1)
    number_size = min(8.0, 0.5 * diameter)
    if number_size >= 4.5:
        for n in g.nodes:
            if g.nodes[n]["layer"] > 0:
                w, h = text_extent(str(g.nodes[n]["index"]), number_size)
                if w < 0.9 * diameter and h < 0.9 * diameter:
                    ax.text(*pos[n], str(g.nodes[n]["index"]), ha="center", va="center",
                            fontsize=number_size, zorder=4, color="#222222")
    _names(net, g, pos, ax, placer, diameter, spacing)
    for layer in range(L + 1):
        act = "inputs" if layer == 0 else f"layer {layer}: {net.activations[layer - 1].name}"
        text = f"{act}\n{net.sizes[layer]} neurons"
        y = top + 0.3
        ax.text(float(layer), y, text, ha="center", va="bottom", fontsize=9, color="#333333")
        w, h = text_extent(text.split("\n")[0], 9)
        placer.taken.append((layer - w / 2 * sx, y, layer + w / 2 * sx, y + 2.4 * h * sy))

    # ----------------------------------------------------------------- values
    drawn: dict[tuple[str, str], str] = {}
    if labels is None:
        labels, limit = shown is not None, DENSE_LABELS
    else:
        limit = len(edges)
    if labels:
        candidates = sorted(edges, key=lambda e: -abs(shown[name_of[e]])) if shown is not None else edges
        for u, v in candidates:
            if len(drawn) >= limit:
                break
            name = name_of[u, v]
            text = f"{shown[name]:.2f}" if shown is not None else f"${latex_name(net.parameter(name))}$"
            spot = _spot(placer, pos[u], pos[v], *text_extent(text, _LABEL_FONT))
            if spot is None:
                continue
            colour = cmap(norm(shown[name])) if shown is not None else "#8c8c8c"
            ax.text(*spot, text, ha="center", va="center", fontsize=_LABEL_FONT, zorder=5,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "lw": 0.8, "alpha": 0.9})
            drawn[u, v] = text
    notes = []
    if shown is not None:
        w_what = "∂J/∂w" if gvals is not None else "value"
        width_what = ", width |w|" if pvals is not None else ""
        b_what = "∂J/∂b" if gvals is not None else "bias b"
        notes.append(f"lines: weights (colour {w_what}{width_what}); fill: {b_what}")
    if labels:
        notes.append(f"{len(drawn)} of {len(edges)} weights labelled"
                     + (" (largest first, where they fit)" if shown is not None else " (where they fit)"))
    if notes:
        ax.text(0.0, -0.01, "; ".join(notes), transform=ax.transAxes, ha="left", va="top", fontsize=8,
                color="#555555")
    ax.text(1.0, -0.01, f"loss: {net.loss.name}", transform=ax.transAxes, ha="right", va="top",
            fontsize=8, color="#555555")
    return Drawing(fig, ax, "network-dense", nodes=list(g.nodes), edges=edges, labels=drawn)


def _names(net: Network, g: Any, pos: dict, ax: Axes, placer: Placer, diameter: float, spacing: float) -> None:
    """x_k left of the inputs, a^(L)_j right of the outputs: every one if they fit one
    above the other, else every second (third, ...), always the first and the last."""
    L = len(net.sizes) - 1
    for layer, side in ((0, -1), (L, 1)):
        names = [n for n in g.nodes if g.nodes[n]["layer"] == layer]
        texts = [f"${latex_name(g.nodes[n]['symbol'])}$" for n in names]
        size = max(6.0, min(10.0, 0.75 * spacing))
        height = max(text_extent(t, size)[1] for t in texts)
        step = max(1, math.ceil((height + 1) / spacing))
        chosen = list(range(0, len(names), step))
        if chosen[-1] != len(names) - 1:  # the last one always; in place of its neighbour if too close
            chosen[-1 if len(names) - 1 - chosen[-1] < step else len(chosen):] = [len(names) - 1]
        for i in chosen:
            n, text = names[i], texts[i]
            offset = side * (diameter / 2 + 3)
            ax.annotate(text, xy=pos[n], xytext=(offset, 0), textcoords="offset points",
                        ha="left" if side > 0 else "right", va="center", fontsize=size, color="#222222")
            w, h = text_extent(text, size)
            x, y = pos[n]
            x0 = x + offset * placer.sx
            x1 = x0 + side * (w + 2) * placer.sx
            placer.taken.append((min(x0, x1), y - h / 2 * placer.sy, max(x0, x1), y + h / 2 * placer.sy))


def _spot(placer: Placer, source: tuple[float, float], target: tuple[float, float],
          width: float, height: float) -> tuple[float, float] | None:
    """Where on the edge source → target a label of that size fits, from the middle outwards."""
    (x0, y0), (x1, y1) = source, target
    spots = [(x1 + t * (x0 - x1), y1 + t * (y0 - y1)) for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78)]
    return placer.place(spots, width + 3, height + 2)
