"""The scalar computation graph, and the gradient paths from one parameter to the loss.

Columns left to right follow the data flow so that every edge goes one column right:
inputs with the first layer's parameters, then z^(1), then a^(1) with the next layer's
parameters, ..., the outputs with the targets, and J. The layout is NetworkX's
``multipartite_layout`` over those columns.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

import networkx as nx
import sympy as sp

from ..notation import latex_name, to_latex
from .drawing import Drawing, mathtext, new_axes
from .network import layered_layout

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from ..network import Network

__all__ = ["draw_computation_graph", "draw_gradient_paths", "path_edges"]

_KIND_COLOURS = {
    "x": "#dbe9f6", "weight": "#f6dada", "bias": "#f6dada", "z": "#fdf0d5", "a": "#fdf0d5",
    "y": "#e5e5e5", "loss": "#d9f0d3",
}
#: Above this many nodes, gradient paths are drawn on the part of the graph they touch.
MAX_FULL_NODES = 60


def _column(data: dict[str, Any], n_layers: int) -> int:
    kind, layer = data["kind"], data["layer"]
    if kind in ("x", "weight", "bias"):
        return 0 if kind == "x" else 2 * layer - 2
    if kind == "z":
        return 2 * layer - 1
    if kind == "a":
        return 2 * layer
    if kind == "y":
        return 2 * n_layers
    return 2 * n_layers + 1


def _ordered(net: Network, nodes: set[str] | None = None) -> nx.DiGraph:
    """A copy of the scalar graph (or of the subgraph on ``nodes``) with nodes in column
    order: per column, each neuron's parameters next to it, to keep edges short."""
    g = net.graph
    L = len(net.sizes) - 1
    rank = {"x": 0, "z": 0, "a": 0, "y": 1, "loss": 2}
    order = sorted(
        (n for n, kind in g.nodes(data="kind") if kind in rank),
        key=lambda n: (_column(g.nodes[n], L), rank[g.nodes[n]["kind"]], g.nodes[n]["index"]),
    )
    # Put the parameters of neuron j of layer l around the middle of the previous layer's
    # activations, grouped by j: one block per receiving neuron.
    columns: dict[int, list[str]] = {}
    for name in order:
        columns.setdefault(_column(g.nodes[name], L), []).append(name)
    for layer in range(1, L + 1):
        col = 2 * layer - 2
        params = []
        for j in range(1, net.sizes[layer] + 1):
            params += [net.w(layer, j, k).name for k in range(1, net.sizes[layer - 1] + 1)]
            params.append(net.b(layer, j).name)
        prev = columns.get(col, [])
        half = len(params) // 2
        columns[col] = params[:half] + prev + params[half:]
    out = nx.DiGraph()
    for col in sorted(columns):
        for name in columns[col]:
            if nodes is None or name in nodes:
                out.add_node(name, **g.nodes[name], column=col)
    out.add_edges_from((u, v, d) for u, v, d in g.edges(data=True) if u in out and v in out)
    return out


def path_edges(graph: nx.DiGraph, source: str, target: str = "J") -> list[tuple[str, str]]:
    """The edges on some path from ``source`` to ``target`` (linear time, no path listing).

    An edge u → v lies on such a path exactly when u is ``source`` or reached from it, and
    ``target`` is v or reached from v.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = sbp.mlp([1, 2, 1]).graph
    >>> sorted(path_edges(g, "w1_1_1"))
    [('a1_1', 'z2_1'), ('a2_1', 'J'), ('w1_1_1', 'z1_1'), ('z1_1', 'a1_1'), ('z2_1', 'a2_1')]
    """
    after = nx.descendants(graph, source) | {source}
    before = nx.ancestors(graph, target) | {target}
    return [(u, v) for u, v in graph.edges if u in after and v in before]


def _draw(net: Network, g: nx.DiGraph, ax, highlight: set[tuple[str, str]], partials: bool,
          title: str, kind: str) -> Drawing:
    pos = layered_layout(g, "column")
    n_cols = 1 + max(d for _, d in g.nodes(data="column"))
    count = {col: sum(1 for _, c in g.nodes(data="column") if c == col) for col in range(n_cols)}
    n_rows = max(count.values())
    # Columns of neurons only (z, and a^(L) with y, and J) are short next to the parameter
    # columns: spread them out, alike, so that the partials on their edges have room.
    params = {c for n, c in g.nodes(data="column") if g.nodes[n]["kind"] in ("weight", "bias")}
    short = [col for col in count if col not in params]
    if short:
        factor = min(2.5, max(1.0, 0.6 * n_rows / max(count[c] for c in short)))
        pos = {n: (x, y * factor if g.nodes[n]["column"] in short else y) for n, (x, y) in pos.items()}
    width = max(6.0, (2.6 if partials else 1.9) * n_cols)
    fig, ax = new_axes(ax, (width, max(0.3 * width, 0.48 * n_rows + 1.2)))
    node_size = 700 if n_rows <= 16 else max(150, 700 * 16 / n_rows)
    on = {n for e in highlight for n in e}
    fade = bool(highlight)
    edges = list(g.edges)
    faded = [e for e in edges if e not in highlight]
    hl = [e for e in edges if e in highlight]
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=faded, edge_color="#bbbbbb",
                           alpha=0.45 if fade else 0.9, width=0.8, arrowsize=7, node_size=node_size)
    if hl:
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=hl, edge_color="#d62728", width=2.2,
                               arrowsize=12, node_size=node_size)
    nodes = list(g.nodes)
    for group, alpha in (([n for n in nodes if fade and n not in on], 0.3),
                         ([n for n in nodes if not fade or n in on], 1.0)):
        if group:
            nx.draw_networkx_nodes(
                g, pos, nodelist=group, ax=ax, node_size=node_size, alpha=alpha,
                node_color=[_KIND_COLOURS[g.nodes[n]["kind"]] for n in group],
                edgecolors=["#d62728" if n in on else "#555555" for n in group],
                linewidths=[1.8 if n in on else 0.8 for n in group],
            )
    font = 9 if n_rows <= 16 else 7
    for n in nodes:
        x, y = pos[n]
        ax.text(x, y, f"${latex_name(g.nodes[n]['symbol'])}$", ha="center", va="center",
                fontsize=font, alpha=0.35 if fade and n not in on else 1.0, zorder=4)
    labels: dict[Any, str] = {}
    if partials and hl:
        _ = net.backprop  # sets the 'partial' attribute of every edge
        xs = sorted({x for x, _ in pos.values()})
        tallest = max(count, key=count.get)
        ys = sorted(y for n, (_, y) in pos.items() if g.nodes[n]["column"] == tallest)
        dx = 0.3 * min((b - a for a, b in pairwise(xs)), default=1.0)
        dy = 0.9 * min((b - a for a, b in pairwise(ys)), default=1.0)
        placed: list[tuple[float, float]] = []
        for u, v in hl:
            expr = net.graph.edges[u, v]["partial"]
            text = "$" + mathtext(to_latex(expr)) + "$"
            x, y = _label_spot(pos[u], pos[v], placed, dx, dy)
            placed.append((x, y))
            ax.text(x, y, text, ha="center", va="center", fontsize=9, color="#8b0000", zorder=6,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#d62728",
                          "lw": 0.6, "alpha": 0.92})
            labels[u, v] = text
    ax.set_title(title, fontsize=11)
    ax.set_axis_off()
    ax.margins(0.06, 0.06)
    return Drawing(fig, ax, kind, nodes=nodes, edges=edges, highlighted=hl, labels=labels)


def _label_spot(a, b, placed, dx: float, dy: float) -> tuple[float, float]:
    """A point along the edge a → b clear of the labels already placed (else the clearest)."""
    best, best_gap = (0.0, 0.0), -1.0
    for t in (0.5, 0.32, 0.68, 0.42, 0.58, 0.25, 0.75):
        x, y = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
        gap = min((max(abs(x - px) / dx, abs(y - py) / dy) for px, py in placed), default=2.0)
        if gap > 1.0:
            return x, y
        if gap > best_gap:
            best, best_gap = (x, y), gap
    return best


def draw_computation_graph(net: Network, *, ax: Axes | None = None) -> Drawing:
    """Draw the scalar computation graph: x, w, b, z, a, y and J, data flowing left to right.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1])
    >>> d = draw_computation_graph(net)
    >>> (len(d.nodes), len(d.edges)) == (net.graph.number_of_nodes(), net.graph.number_of_edges())
    True
    """
    if not hasattr(net, "sizes"):  # a Computation (symbackprop.computations)
        from .computation import draw_computation
        return draw_computation(net, ax=ax)
    return _draw(net, _ordered(net), ax, set(), False,
                 f"Computation graph of the {net.describe()}", "graph")


def draw_gradient_paths(
    net: Network,
    param: sp.Symbol | str,
    *,
    ax: Axes | None = None,
    partials: bool = True,
    full: bool | None = None,
) -> Drawing:
    """Draw the computation graph with every path from ``param`` to J highlighted.

    Each highlighted edge u → v is labelled with its local partial ∂v/∂u (rendered math);
    the rest of the graph is faded. ∂J/∂p is the sum over these paths of the product of
    the partials along each path.

    Parameters
    ----------
    net : Network
    param : Symbol or str
        A weight or bias (``net.w(1, 2, 1)`` or ``"w1_2_1"``).
    ax : matplotlib Axes, optional
    partials : bool
        Label the highlighted edges with their local partials (default True).
    full : bool, optional
        Draw the whole graph (True) or only the nodes on the paths (False). Default: the whole graph up to 60 nodes.

    Returns
    -------
    Drawing
        ``highlighted`` lists the edges on the paths, ``labels`` their partials.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid")
    >>> d = draw_gradient_paths(net, "w1_1_1")
    >>> sorted(d.highlighted)[:2], d.labels["w1_1_1", "z1_1"]
    ([('a1_1', 'z2_1'), ('a2_1', 'J')], '$x_{1}$')
    """
    if not hasattr(net, "sizes"):  # a Computation: any variable, the whole graph unless told
        from .computation import draw_computation_paths
        return draw_computation_paths(net, param, ax=ax, partials=partials, full=full is not False)
    p = net.parameter(param)
    g = net.graph
    hl = set(path_edges(g, p.name))
    if full is None:
        full = g.number_of_nodes() <= MAX_FULL_NODES
    keep = None
    if not full:
        keep = {n for e in hl for n in e}
    title = rf"Paths from ${latex_name(p)}$ to $J$, labelled with local partials"
    return _draw(net, _ordered(net, keep), ax, hl, partials, title, "paths")
