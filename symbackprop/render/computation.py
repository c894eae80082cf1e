"""Pictures of a computation: its graph, and the paths from one variable to the loss.

:func:`draw_computation_graph` and :func:`draw_gradient_paths` of
:mod:`symbackprop.render.graph` call these for a :class:`~symbackprop.computations.Computation`.
Columns follow the data flow: a defined node sits one column right of the deepest node it
uses, a leaf (parameter, input, target) one column left of its first use, so every edge goes
right; the layout is :func:`~symbackprop.render.network.layered_layout` over those columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx
import sympy as sp

from ..notation import to_latex
from .drawing import Drawing, mathtext, new_axes
from .graph import path_edges
from .network import layered_layout

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from ..computations import Computation

__all__ = ["draw_computation", "draw_computation_paths", "computation_columns"]

_COLOURS = {"param": "#f6dada", "input": "#dbe9f6", "target": "#e5e5e5", "node": "#fdf0d5", "loss": "#d9f0d3"}


def computation_columns(g: Computation) -> dict[str, int]:
    """The column of every node: defined nodes by depth, leaves just before their first use.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> computation_columns(computation("h = w*x\\nJ = h + b", params="w b", inputs="x"))
    {'w': 0, 'b': 1, 'x': 0, 'h': 1, 'J': 2}
    """
    graph = g.graph
    depth: dict[str, int] = {}
    for s, _ in g.definitions:
        preds = [p for p in graph.predecessors(s.name) if graph.nodes[p]["expr"] is not None]
        depth[s.name] = 1 + max((depth[p] for p in preds), default=0)
    for n, kind in graph.nodes(data="kind"):
        if kind in ("param", "input", "target"):
            uses = [depth[c] for c in graph.successors(n)]
            depth[n] = max(0, min(uses, default=1) - 1)
    return {n: depth[n] for n in graph.nodes}


def _draw(g: Computation, nodes: set[str] | None, ax: Any, highlight: set[tuple[str, str]],
          partials: bool, title: str, kind: str) -> Drawing:
    columns = computation_columns(g)
    graph = nx.DiGraph()
    for n in g.graph.nodes:
        if nodes is None or n in nodes:
            graph.add_node(n, **g.graph.nodes[n], column=columns[n])
    graph.add_edges_from((u, v, d) for u, v, d in g.graph.edges(data=True) if u in graph and v in graph)
    pos = layered_layout(graph, "column")
    n_cols = 1 + max(columns[n] for n in graph)
    n_rows = max(sum(1 for n in graph if columns[n] == c) for c in range(n_cols))
    width = max(5.0, (2.6 if partials and highlight else 1.9) * n_cols)
    fig, ax = new_axes(ax, (width, max(0.35 * width, 0.6 * n_rows + 1.2)))
    node_size = 900
    on = {n for e in highlight for n in e}
    fade = bool(highlight)
    edges = list(graph.edges)
    hl = [e for e in edges if e in highlight]
    nx.draw_networkx_edges(graph, pos, ax=ax, edgelist=[e for e in edges if e not in highlight],
                           edge_color="#bbbbbb", alpha=0.45 if fade else 0.9, width=0.9, arrowsize=8,
                           node_size=node_size)
    if hl:
        nx.draw_networkx_edges(graph, pos, ax=ax, edgelist=hl, edge_color="#d62728", width=2.2,
                               arrowsize=12, node_size=node_size)
    nodes_ = list(graph.nodes)
    nx.draw_networkx_nodes(graph, pos, nodelist=nodes_, ax=ax, node_size=node_size,
                           node_color=[_COLOURS[graph.nodes[n]["kind"]] for n in nodes_],
                           edgecolors=["#d62728" if n in on else "#555555" for n in nodes_],
                           linewidths=[1.8 if n in on else 0.8 for n in nodes_])
    for n in nodes_:
        x, y = pos[n]
        ax.text(x, y, f"${mathtext(to_latex(graph.nodes[n]['symbol']))}$", ha="center", va="center",
                fontsize=10, alpha=0.35 if fade and n not in on else 1.0, zorder=4)
    labels: dict[Any, str] = {}
    if partials:
        for u, v in hl:
            text = "$" + mathtext(to_latex(graph.edges[u, v]["partial"])) + "$"
            (x0, y0), (x1, y1) = pos[u], pos[v]
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, text, ha="center", va="center", fontsize=9,
                    color="#8b0000", zorder=6,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#d62728", "lw": 0.6, "alpha": 0.92})
            labels[u, v] = text
    ax.set_title(title, fontsize=11)
    ax.set_axis_off()
    ax.margins(0.08, 0.08)
    return Drawing(fig, ax, kind, nodes=nodes_, edges=edges, highlighted=hl, labels=labels)


def draw_computation(g: Computation, *, ax: Axes | None = None) -> Drawing:
    """Draw a computation's graph: parameters, inputs, targets, defined nodes and the loss.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("h = tanh(w*x)\\nJ = (h + x - y)**2", params="w", inputs="x", targets="y")
    >>> d = draw_computation(g)
    >>> sorted(d.nodes), len(d.edges) == g.graph.number_of_edges()
    (['J', 'h', 'w', 'x', 'y'], True)
    """
    return _draw(g, None, ax, set(), False, f"Computation graph of the {g.describe()}", "graph")


def draw_computation_paths(g: Computation, variable: sp.Symbol | str, *, ax: Axes | None = None,
                           partials: bool = True, full: bool = True) -> Drawing:
    """Draw a computation with every path from ``variable`` to the loss highlighted.

    Each highlighted edge u → v is labelled with its local partial ∂v/∂u; ∂J/∂v is the sum
    over the paths of the product of the partials along each.

    Examples
    --------
    >>> from symbackprop.computations import computation
    >>> g = computation("h = tanh(w*x)\\nJ = (h + x - y)**2", params="w", inputs="x", targets="y")
    >>> d = draw_computation_paths(g, "x")
    >>> sorted(d.highlighted)
    [('h', 'J'), ('x', 'J'), ('x', 'h')]
    """
    v = g.symbol(variable)
    hl = set(path_edges(g.graph, v.name, g.loss.name))
    keep = None if full else ({n for e in hl for n in e} or {v.name})
    title = rf"Paths from ${to_latex(v)}$ to ${to_latex(g.loss)}$, labelled with local partials"
    return _draw(g, keep, ax, hl, partials, title, "paths")
