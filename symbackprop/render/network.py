"""The network diagram: neurons in layers left to right, weights on the edges.

The drawing is of a neuron-level graph derived from the scalar graph (one node per input x
and activation a, one edge per weight), layers one unit apart; edge labels are drawn where
they fit (:mod:`.labels`). Past :data:`DENSE_FROM` neurons in a layer (a 4-16-16-3
network) every neuron and weight is still drawn, densely: small neurons numbered j, the
inputs and outputs named beside them, each weight a thin line whose colour and width show
its value, each neuron filled by its bias, values labelled largest first where they fit.
Beyond ``max_neurons`` neurons in a layer the diagram is summarised: one box per layer
with its size and activation, one arrow per weight matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import networkx as nx

from ..notation import latex_name
from .drawing import Drawing, new_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from ..network import Network

__all__ = ["draw_network", "neuron_graph"]

#: Neurons per layer up to which every neuron and weight is drawn.
MAX_NEURONS = 64
#: Past this many neurons in a layer the neurons are drawn small and the weights as thin
#: lines (:func:`draw_network`); up to it, as large named circles and arrows.
DENSE_FROM = 10
#: Weight values a dense diagram labels when not asked (``labels=None``): the largest.
DENSE_LABELS = 24

_LAYER_COLOURS = {"input": "#dbe9f6", "hidden": "#fdf0d5", "output": "#d9f0d3"}


def neuron_graph(net: Network) -> nx.DiGraph:
    """The neuron-level graph: nodes x_k and a^(l)_j, one edge per weight (attribute ``weight_name``).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = neuron_graph(sbp.mlp([2, 3, 1]))
    >>> g.number_of_nodes(), g.number_of_edges(), g.edges["x1", "a1_2"]["weight_name"]
    (6, 9, 'w1_2_1')
    """
    scalar = net.graph
    g = nx.DiGraph()
    for name, data in scalar.nodes(data=True):
        if data["kind"] in ("x", "a"):
            g.add_node(name, layer=data["layer"], index=data["index"][0], symbol=data["symbol"])
    for name, data in scalar.nodes(data=True):
        if data["kind"] == "weight":
            layer, (j, k) = data["layer"], data["index"]
            src = net.x(k).name if layer == 1 else net.a(layer - 1, k).name
            g.add_edge(src, net.a(layer, j).name, weight_name=name)
    return g


def layered_layout(g: nx.Graph, key: str, *, align: str = "vertical") -> dict[Any, tuple[float, float]]:
    """``nx.multipartite_layout`` by node attribute ``key``, keeping the graph's node order.

    The first node of a layer goes on top (left with ``align="horizontal"``), as in the
    textbooks; given only an attribute name, NetworkX groups nodes in sets and loses the order.

    Examples
    --------
    >>> g = nx.path_graph(3)
    >>> nx.set_node_attributes(g, {0: 0, 1: 1, 2: 1}, "layer")
    >>> pos = layered_layout(g, "layer")
    >>> pos[1][1] > pos[2][1]
    True
    """
    groups: dict[Any, list] = {}
    for n, value in g.nodes(data=key):
        groups.setdefault(value, []).append(n)
    pos = nx.multipartite_layout(g, subset_key=groups, align=align, scale=1.0)
    return {n: (float(x), -float(y)) for n, (x, y) in pos.items()}


def _values(net: Network, values: Any) -> dict[str, float] | None:
    """Parameter values by name from a mapping or per-layer arrays (None stays None)."""
    if values is None:
        return None
    from ..params import to_arrays, to_mapping

    if not isinstance(values, Mapping):
        values = to_mapping(net, to_arrays(net, values))
    by_name = {(k if isinstance(k, str) else k.name): float(v) for k, v in values.items()}
    to_arrays(net, by_name)  # names what is missing
    return by_name


def draw_network(
    net: Network,
    params: Mapping | Sequence | None = None,
    grads: Mapping | Sequence | None = None,
    *,
    ax: Axes | None = None,
    max_neurons: int = MAX_NEURONS,
    labels: bool | None = None,
) -> Drawing:
    """Draw the network: neurons in layers left to right, one edge per weight.

    Parameters
    ----------
    net : Network
    params : mapping or per-layer (W, b) arrays, optional
        Weight values: edges are coloured by value (with a colour bar) and labelled with it.
    grads : mapping or per-layer arrays, optional
        Gradient values ∂J/∂w: edges are coloured by them instead, and the edge width
        shows the weight's size when ``params`` is given too.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    max_neurons : int
        Above this many neurons in a layer (default 64), draw one box per layer instead.
        Past 10 the neurons are drawn small and the weights as thin lines.
    labels : bool, optional
        Label edges with the weight names (or values), each only where it fits; default:
        when there are at most 40, and on a denser network with ``params`` the 24 largest
        weights that fit (``True``: every weight that fits, largest first).

    Returns
    -------
    Drawing
        ``nodes`` are the neurons (or layers), ``edges`` the weights (or weight matrices).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy")
    >>> d = draw_network(net)
    >>> len(d.nodes), len(d.edges), d.labels["x1", "a1_2"]
    (7, 12, '$w^{(1)}_{2 1}$')
    >>> draw_network(sbp.mlp([4, 16, 3])).kind
    'network-dense'
    >>> draw_network(sbp.mlp([4, 100, 3])).kind
    'network-summary'
    """
    if max(net.sizes) > max_neurons:
        return _draw_summary(net, params, grads, ax, max_neurons)
    if max(net.sizes) > DENSE_FROM:
        from .network_dense import draw_dense

        return draw_dense(net, _values(net, params), _values(net, grads), ax, labels)
    g = neuron_graph(net)
    pvals, gvals = _values(net, params), _values(net, grads)
    # One unit between layers and between neurons, the first neuron on top (as
    # layered_layout, whose rescaling of both axes alike squeezes the layers together when
    # one layer is tall), and limits around the drawing: no empty band beside or under it.
    layers: dict[int, list[str]] = {}
    for n, layer in g.nodes(data="layer"):
        layers.setdefault(layer, []).append(n)
    pos = {n: (float(layer), (len(names) - 1) / 2 - i) for layer, names in layers.items()
           for i, n in enumerate(names)}
    width = 2.2 * len(net.sizes) + 1.0
    height = max(2.5, 0.75 * max(net.sizes) + 1.2)
    fig, ax = new_axes(ax, (width, height))
    L = len(net.sizes) - 1

    edges = list(g.edges)
    shown = gvals if gvals is not None else pvals
    edge_kw: dict[str, Any] = {"edge_color": "#666666", "width": 1.2}
    if shown is not None:
        import matplotlib as mpl

        vals = [shown[g.edges[e]["weight_name"]] for e in edges]
        vmax = max(1e-12, max(abs(v) for v in vals))
        norm = mpl.colors.Normalize(-vmax, vmax)
        cmap = mpl.colormaps["coolwarm"]
        edge_kw = {"edge_color": [cmap(norm(v)) for v in vals]}
        sizes_from = pvals if (gvals is not None and pvals is not None) else shown
        smax = max(1e-12, max(abs(sizes_from[g.edges[e]["weight_name"]]) for e in edges))
        edge_kw["width"] = [0.6 + 3.4 * abs(sizes_from[g.edges[e]["weight_name"]]) / smax for e in edges]
        sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        title = r"$\partial J/\partial w$" if gvals is not None else "weight"
        fig.colorbar(sm, ax=ax, shrink=0.7, pad=0.02, label=title)
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=edges, arrows=True, arrowsize=10,
                           node_size=1400, **edge_kw)

    colours = []
    for n in g.nodes:
        layer = g.nodes[n]["layer"]
        colours.append(_LAYER_COLOURS["input" if layer == 0 else "output" if layer == L else "hidden"])
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=1400, node_color=colours, edgecolors="#333333")
    node_labels = {n: f"${latex_name(g.nodes[n]['symbol'])}$" for n in g.nodes}
    nx.draw_networkx_labels(g, pos, labels=node_labels, ax=ax, font_size=11)
    if pvals is not None:  # biases under their neurons
        for n in g.nodes:
            if g.nodes[n]["layer"] > 0:
                b = net.b(g.nodes[n]["layer"], g.nodes[n]["index"]).name
                ax.annotate(f"b={pvals[b]:.2g}", xy=pos[n], xytext=(0, -24), ha="center",
                            va="top", textcoords="offset points", fontsize=8, color="#444444")

    if labels is None:
        labels = len(edges) <= 40
    top = max(y for _, y in pos.values())
    for layer, act in enumerate(["input", *[a.name for a in net.activations]]):
        xs = [pos[n][0] for n in g.nodes if g.nodes[n]["layer"] == layer]
        name = "inputs" if layer == 0 else f"layer {layer}: {act}"
        ax.text(xs[0], top + 0.45, name, ha="center", va="bottom", fontsize=10, color="#333333")
    ax.text(1.0, -0.02, f"loss: {net.loss.name}", transform=ax.transAxes, ha="right", va="top",
            fontsize=9, color="#555555")
    ax.set_axis_off()
    # Explicit limits: with one neuron per layer the data has no height at all.
    bottom = min(y for _, y in pos.values())
    ax.set_ylim(bottom - 0.95, top + 0.95)
    ax.set_xlim(-0.6, L + 0.6)
    drawn_labels: dict[Any, str] = {}
    if labels:
        engine = fig.get_layout_engine()
        if engine is not None:  # the axes' final size, to measure labels against
            engine.execute(fig)
        drawn_labels = _edge_labels(net, g, pos, ax, pvals)
        if len(drawn_labels) < len(edges):
            ax.text(0.0, -0.02, f"{len(drawn_labels)} of {len(edges)} weights labelled (no room for the rest)",
                    transform=ax.transAxes, ha="left", va="top", fontsize=9, color="#555555")
    return Drawing(fig, ax, "network", nodes=list(g.nodes), edges=edges, labels=drawn_labels)


def _edge_labels(net, g, pos, ax, pvals) -> dict[tuple[str, str], str]:
    """A label on every edge where it fits: first tried staggered along the edge by source
    neuron (so that the labels of a fan do not collide), then at other spots; a label that
    would touch a neuron, a bias or another label is left out."""
    from .labels import Placer, axes_scale, text_extent

    placer = Placer(axes_scale(ax))
    for n in g.nodes:
        placer.block(*pos[n], 19, 19)  # node_size 1400: a radius of about 19 points
        if pvals is not None and g.nodes[n]["layer"] > 0:
            x, y = pos[n]
            placer.taken.append((x - 16 * placer.sx, y - 36 * placer.sy, x + 16 * placer.sx, y - 22 * placer.sy))
    out = {}
    for u, v, data in g.edges(data=True):
        n_in = net.sizes[g.nodes[v]["layer"] - 1]
        k = g.nodes[u]["index"]
        # Fraction of the way from the target back to the source: spread 0.25..0.6.
        t = 0.3 if n_in == 1 else 0.22 + 0.4 * (k - 1) / (n_in - 1)
        (x0, y0), (x1, y1) = pos[u], pos[v]
        name = data["weight_name"]
        text = f"{pvals[name]:.2f}" if pvals is not None else f"${latex_name(net.parameter(name))}$"
        w, h = text_extent(text, 8)
        spots = [x1 + s * (x0 - x1) for s in (t, t - 0.08, t + 0.08, t - 0.16, t + 0.16, 0.5)]
        spot = placer.place(((x, y1 + (x - x1) / (x0 - x1) * (y0 - y1)) for x in spots), w + 3, h + 2)
        if spot is None:
            continue
        ax.text(*spot, text, ha="center", va="center", fontsize=8, zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
        out[u, v] = text
    return out


def _draw_summary(net: Network, params, grads, ax, max_neurons: int) -> Drawing:
    """One box per layer (size, activation), one arrow per weight matrix."""
    from matplotlib.patches import FancyBboxPatch

    g = nx.DiGraph()
    names = ["inputs", *[f"layer {l}" for l in range(1, len(net.sizes))]]
    for layer, name in enumerate(names):
        g.add_node(name, layer=layer)
    for a, b in pairwise(names):
        g.add_edge(a, b)
    pos = layered_layout(g, "layer")
    fig, ax = new_axes(ax, (2.3 * len(names) + 0.5, 2.8))
    pvals = _values(net, params)
    gvals = _values(net, grads)
    boxes = {}
    hmax = max(net.sizes)
    span = 2.0 / max(1, len(names) - 1)
    for layer, name in enumerate(names):
        x, _ = pos[name]
        n = net.sizes[layer]
        h = 0.35 + 0.9 * (n / hmax)
        w = 0.42 * span
        colour = _LAYER_COLOURS["input" if layer == 0 else "output" if layer == len(names) - 1 else "hidden"]
        ax.add_patch(FancyBboxPatch((x - w / 2, -h / 2), w, h, boxstyle="round,pad=0.02",
                                    fc=colour, ec="#333333"))
        act = "" if layer == 0 else f"\n{net.activations[layer - 1].name}"
        ax.text(x, 0, f"{name}\n{n} neurons{act}", ha="center", va="center", fontsize=9)
        boxes[name] = (x, w)
    labels = {}
    for layer, (a, b) in enumerate(pairwise(names), start=1):
        (xa, wa), (xb, wb) = boxes[a], boxes[b]
        ax.annotate("", xy=(xb - wb / 2 - 0.03, 0), xytext=(xa + wa / 2 + 0.03, 0),
                    arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.5})
        text = f"$W^{{({layer})}}$: {net.sizes[layer]}×{net.sizes[layer - 1]}"
        for vals, label in ((pvals, "‖W‖"), (gvals, "‖∂J/∂W‖")):
            if vals is not None:
                import numpy as np

                norm = float(np.sqrt(sum(vals[w.name] ** 2 for w in _weights(net, layer))))
                text += f"\n{label}={norm:.3g}"
        ax.text((xa + xb) / 2, 0.08, text, ha="center", va="bottom", fontsize=8)
        labels[a, b] = text
    ax.set_xlim(-1.0 - 0.3 * span, 1.0 + 0.3 * span)
    ax.set_ylim(-0.9, 0.9)
    ax.set_axis_off()
    ax.set_title(f"{net.describe()}\n(summarised: more than {max_neurons} neurons in a layer)",
                 fontsize=10)
    return Drawing(fig, ax, "network-summary", nodes=names, edges=list(g.edges), labels=labels)


def _weights(net: Network, layer: int):
    return [net.w(layer, j, k) for j in range(1, net.sizes[layer] + 1)
            for k in range(1, net.sizes[layer - 1] + 1)]
