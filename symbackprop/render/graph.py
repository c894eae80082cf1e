"""The scalar computation graph, and the gradient paths from one parameter to the loss.

Columns left to right follow the data flow so that every edge goes one column right:
inputs with the first layer's parameters, then z^(1), then a^(1) with the next layer's
parameters, ..., the outputs with the targets, and J. Positions are in inches: each column
centred, the gap after it as wide as the labels on its edges need (:func:`_layout`), and
the figure as large as the layout. Labels of partials are drawn only where they fit
(:mod:`.labels`); the ones left out are summarised under the picture, per bundle of edges,
in index notation. Past 60 nodes the computation graph draws each neuron's incoming
weights and bias as one node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx
import sympy as sp

from ..notation import latex_name, symbol_name, to_latex
from .drawing import Drawing, mathtext, new_axes
from .labels import Placer, axes_scale, text_extent

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


def _ordered(net: Network, nodes: set[str] | None = None, group: bool = False) -> nx.DiGraph:
    """A copy of the scalar graph (or of the subgraph on ``nodes``) with nodes in column
    order: per column, each neuron's parameters next to it, to keep edges short.

    With ``group``, each neuron's incoming weights and bias are one node ``w{l}_{j}_k``
    (w⁽ˡ⁾ⱼₖ, b⁽ˡ⁾ⱼ, with an edge to z⁽ˡ⁾ⱼ) instead of n_(l−1) + 1 nodes: a 4-8-8-3
    network's parameter column holds 8 such nodes instead of 72.
    """
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
    groups: dict[str, dict[str, Any]] = {}
    for layer in range(1, L + 1):
        col = 2 * layer - 2
        params = []
        for j in range(1, net.sizes[layer] + 1):
            if group:
                key = f"w{layer}_{j}_k"
                groups[key] = {
                    "kind": "params", "layer": layer, "index": (j,), "column": col,
                    "symbol": None, "target": net.z(layer, j).name,
                    "label": rf"${latex_name(sp.Symbol(key))},\,{latex_name(net.b(layer, j))}$",
                }
                params.append(key)
                continue
            params += [net.w(layer, j, k).name for k in range(1, net.sizes[layer - 1] + 1)]
            params.append(net.b(layer, j).name)
        prev = columns.get(col, [])
        half = len(params) // 2
        columns[col] = params[:half] + prev + params[half:]
    out = nx.DiGraph()
    for col in sorted(columns):
        for name in columns[col]:
            if name in groups:
                out.add_node(name, **groups[name])
            elif nodes is None or name in nodes:
                out.add_node(name, **g.nodes[name], column=col)
    out.add_edges_from((u, v, d) for u, v, d in g.edges(data=True) if u in out and v in out)
    out.add_edges_from((key, data["target"]) for key, data in groups.items())
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


def _layout(net: Network, g: nx.DiGraph, highlight: set[tuple[str, str]], partials: bool,
            node_size: float) -> dict[str, tuple[float, float]]:
    """Node positions in inches: columns left to right, each column's nodes evenly spaced
    and centred; the gap after a column as wide as the labels on its edges need.

    Columns of neurons only (z, and a^(L) with y, and J) are short next to the parameter
    columns: each is spread out (up to 2.5 times), so that the partials on their edges have room. A
    gap whose edges carry no label (or only short ones) stays narrow, so that a chain of
    one-node columns leaves no wide empty band.
    """
    columns: dict[int, list[str]] = {}
    for n, col in g.nodes(data="column"):
        columns.setdefault(col, []).append(n)
    n_rows = max(len(c) for c in columns.values())
    # A few rows get more room each: the labels of a fan into a short column need it.
    pitch = (0.62 * min(1.6, max(1.0, 6 / n_rows))) if partials else 0.45
    params = {c for n, c in g.nodes(data="column") if g.nodes[n]["kind"] in ("weight", "bias", "params")}
    diameter = node_size ** 0.5 / 72
    xs, x = {}, 0.0
    for col in sorted(columns):
        xs[col] = x
        gap = 1.3
        if partials:
            on = [(u, v) for u, v in highlight if g.nodes[u]["column"] == col]
            if on:
                _ = net.backprop  # sets the 'partial' attribute of every edge
                widest = max(text_extent("$" + mathtext(to_latex(net.graph.edges[e]["partial"])) + "$", 9)[0]
                             for e in on) / 72
                sources = len({u for u, _ in on})
                crowd = min(2.0, (len(on) - 1) / max(1, sources) / 2)  # bundles: room for more
                gap = max(1.15, diameter + widest * (1.4 + crowd) + 0.25)
            else:
                gap = 0.9
        x += gap
    pos = {}
    for col, nodes in columns.items():
        spread = pitch * (1.0 if col in params else min(2.5, max(1.0, 0.6 * n_rows / len(nodes))))
        for i, n in enumerate(nodes):
            pos[n] = (xs[col], ((len(nodes) - 1) / 2 - i) * spread)
    return pos


def _draw(net: Network, g: nx.DiGraph, ax, highlight: set[tuple[str, str]], partials: bool,
          title: str, kind: str, context: set[tuple[str, str]] = frozenset()) -> Drawing:
    """Draw ``g``: ``highlight`` edges in red (labelled with their partials when
    ``partials``), ``context`` edges (the other gradient paths) in pale red, the rest faded."""
    n_rows = max(sum(1 for _, c in g.nodes(data="column") if c == col) for _, col in g.nodes(data="column"))
    node_size = 700 if n_rows <= 16 else max(150, 700 * 16 / n_rows)
    # The layout makes room for the labels of every path, so that stepping through the paths
    # one at a time keeps the picture still.
    pos = _layout(net, g, highlight | context, partials, node_size)
    # Data units are inches: a figure of our own is as large as the layout, no larger.
    pad = node_size ** 0.5 / 72 / 2 + 0.15
    x0, x1 = min(x for x, _ in pos.values()) - pad, max(x for x, _ in pos.values()) + pad
    y0, y1 = min(y for _, y in pos.values()) - pad, max(y for _, y in pos.values()) + pad
    width, height = max(x1 - x0, 3.0), y1 - y0
    own = ax is None
    fig, ax = new_axes(ax, (width + 0.4, height + 0.7))
    if own:  # fixed margins (in inches), so that labels can be measured before drawing
        fig.set_layout_engine("none")
        ax.set_position((0.2 / (width + 0.4), 0.15 / (height + 0.7), width / (width + 0.4), height / (height + 0.7)))
    ax.set_xlim(x0 - (width - (x1 - x0)) / 2, x1 + (width - (x1 - x0)) / 2)
    ax.set_ylim(y0, y1)
    on = {n for e in highlight for n in e}
    near = {n for e in context for n in e} - on
    fade = bool(highlight)
    edges = list(g.edges)
    faded = [e for e in edges if e not in highlight and e not in context]
    hl = [e for e in edges if e in highlight]
    pale = [e for e in edges if e in context and e not in highlight]
    font = 9 if n_rows <= 16 else 7
    nodes = list(g.nodes)
    # Grouped parameters are drawn as labelled boxes over the start of their edges.
    boxes = {n: text_extent(g.nodes[n]["label"], font) for n in nodes if g.nodes[n]["kind"] == "params"}
    sizes = [0 if n in boxes else node_size for n in nodes]
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=faded, nodelist=nodes, edge_color="#bbbbbb",
                           alpha=0.45 if fade else 0.9, width=0.8, arrowsize=7, node_size=sizes)
    if pale:
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=pale, nodelist=nodes, edge_color="#d62728",
                               alpha=0.3, width=1.4, arrowsize=9, node_size=sizes)
    if hl:
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=hl, nodelist=nodes, edge_color="#d62728",
                               width=2.2, arrowsize=12, node_size=sizes)
    circles = [n for n in nodes if n not in boxes]
    for group, alpha in (([n for n in circles if fade and n not in on and n not in near], 0.3),
                         ([n for n in circles if not fade or n in on or n in near], 1.0)):
        if group:
            nx.draw_networkx_nodes(
                g, pos, nodelist=group, ax=ax, node_size=node_size, alpha=alpha,
                node_color=[_KIND_COLOURS[g.nodes[n]["kind"]] for n in group],
                edgecolors=["#d62728" if n in on else "#555555" for n in group],
                linewidths=[1.8 if n in on else 0.8 for n in group],
            )
    node_labels: dict[Any, str] = {}
    for n in nodes:
        x, y = pos[n]
        text = g.nodes[n].get("label") or f"${latex_name(g.nodes[n]['symbol'])}$"
        box = {"boxstyle": "round,pad=0.3", "fc": _KIND_COLOURS["weight"], "ec": "#555555", "lw": 0.8} \
            if n in boxes else None
        ax.text(x, y, text, ha="center", va="center", fontsize=font, bbox=box,
                alpha=0.35 if fade and n not in on and n not in near else 1.0, zorder=4)
        if n in boxes:
            node_labels[n] = text
    ax.set_title(title, fontsize=11)
    ax.set_axis_off()
    labels: dict[Any, str] = dict(node_labels)
    if partials and hl:
        _ = net.backprop  # sets the 'partial' attribute of every edge
        placer = Placer(axes_scale(ax))
        radius = node_size ** 0.5 / 2
        for n in nodes:
            w, h = (boxes[n][0] / 2 + 3, boxes[n][1] / 2 + 3) if n in boxes else (radius, radius)
            placer.block(*pos[n], w, h)
        left_out: dict[tuple, list[tuple[str, str]]] = {}
        # Left to right, top to bottom: labels spread evenly over each column gap.
        for u, v in sorted(hl, key=lambda e: (pos[e[0]][0], -pos[e[0]][1], -pos[e[1]][1])):
            expr = net.graph.edges[u, v]["partial"]
            text = "$" + mathtext(to_latex(expr)) + "$"
            (x0, y0), (x1, y1) = pos[u], pos[v]
            w, h = text_extent(text, 9)
            spot = placer.place(((x0 + t * (x1 - x0), y0 + t * (y1 - y0)) for t in _SPOTS), w + 4, h + 4)
            if spot is None:
                left_out.setdefault(_gap(g, u, v), []).append((u, v))
                continue
            ax.text(*spot, text, ha="center", va="center", fontsize=9, color="#8b0000", zorder=6,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#d62728",
                          "lw": 0.6, "alpha": 0.92})
            labels[u, v] = text
        if left_out:
            _summarise(net, g, ax, fig if own else None, left_out, hl)
    return Drawing(fig, ax, kind, nodes=nodes, edges=edges, highlighted=hl, labels=labels)


#: Where along an edge (fraction of the way from its source) a label is tried, in turn.
_SPOTS = (0.5, 0.36, 0.64, 0.26, 0.74, 0.43, 0.57, 0.18, 0.82)


def _gap(g: nx.DiGraph, u: str, v: str) -> tuple:
    """Which bundle of edges u → v belongs to: the kinds and layers of its ends."""
    return (g.nodes[u]["kind"], g.nodes[u]["layer"], g.nodes[v]["kind"], g.nodes[v]["layer"])


def _generic(net: Network, u: str, v: str) -> tuple[str, str]:
    """∂v/∂u and its partial with neuron indices written j (v's) and k (u's): the form every
    edge of the bundle shares, in mathtext."""
    from ..notation import parse_name

    g = net.graph
    ends = {}  # layer -> (index of v or u in that layer, letter), v first
    for n, letter in ((v, "j"), (u, "k")):
        node = g.nodes[n]
        if node["kind"] in ("x", "z", "a"):
            ends.setdefault(node["layer"] if node["kind"] != "x" else 0, []).append((node["index"][0], letter))

    def rename(s: sp.Symbol) -> sp.Symbol:
        parsed = parse_name(s.name)
        if parsed is None or not parsed.index or not all(isinstance(i, int) for i in parsed.index):
            return s
        if parsed.head == "w":  # w⁽ˡ⁾ⱼₖ: into v's neuron j, from u's neuron k
            (jj, kk), j, k = parsed.index, g.nodes[v]["index"], g.nodes[u]["index"]
            index = ("j" if j and jj == j[0] else jj, "k" if k and kk == k[0] else kk)
            return sp.Symbol(symbol_name("w", parsed.layer, *index))
        (i,) = parsed.index
        layer = 0 if parsed.head == "x" else parsed.layer if parsed.head != "y" else None
        # A neuron of v's (or u's) layer takes its letter; a target y_i follows the output's.
        candidates = ends.get(layer, []) if layer is not None else [e for es in ends.values() for e in es]
        letter = next((c for idx, c in candidates if idx == i), i)
        return sp.Symbol(symbol_name(parsed.head, parsed.layer if parsed.head not in ("x", "y") else None, letter))

    expr = g.edges[u, v]["partial"]
    generic = expr.xreplace({s: rename(s) for s in expr.free_symbols})
    num, den = rename(g.nodes[v]["symbol"]), rename(g.nodes[u]["symbol"])
    lhs = rf"\partial {latex_name(num)} / \partial {latex_name(den)}"
    return lhs, mathtext(to_latex(generic))


def _summarise(net: Network, g: nx.DiGraph, ax, fig, left_out: dict, hl: list) -> None:
    """One line under the picture per bundle of edges whose labels did not fit: how many
    were left out, and the form their partials share (one or two index patterns)."""
    lines = []
    for key, bundle in left_out.items():
        total = sum(1 for e in hl if _gap(g, *e) == key)
        forms = list(dict.fromkeys(_generic(net, u, v) for u, v in bundle))
        shown = " or ".join(f"${lhs} = {rhs}$" for lhs, rhs in forms[:2]) + (", ..." if len(forms) > 2 else "")
        ku, lu, kv, lv = key
        ends = [{"loss": "J", "x": "x", "weight": f"w^{{({lu})}}", "bias": f"b^{{({lu})}}"}.get(kind, f"{kind}^{{({layer})}}")
                for kind, layer in ((ku, lu), (kv, lv))]
        lines.append(rf"${ends[0]} \to {ends[1]}$: {len(bundle)} of {total} partials not labelled "
                     f"(no room); each is {shown}")
    step = 15.0  # points per line
    if fig is not None:  # grow the figure at the bottom; the axes keep their size in inches
        extra = (len(lines) * step + 6) / 72
        h = fig.get_figheight()
        pos = ax.get_position()
        fig.set_figheight(h + extra)
        ax.set_position((pos.x0, (pos.y0 * h + extra) / (h + extra), pos.width, pos.height * h / (h + extra)))
    for i, line in enumerate(lines):
        ax.annotate(line, xy=(0, 0), xycoords="axes fraction", xytext=(0, -6 - step * i),
                    textcoords="offset points", ha="left", va="top", fontsize=9, color="#8b0000")


def draw_computation_graph(net: Network, *, ax: Axes | None = None, group: bool | None = None) -> Drawing:
    """Draw the scalar computation graph: x, w, b, z, a, y and J, data flowing left to right.

    Parameters
    ----------
    net : Network
    ax : matplotlib Axes, optional
    group : bool, optional
        Draw each neuron's incoming weights and bias as one box w⁽ˡ⁾ⱼₖ, b⁽ˡ⁾ⱼ (node
        ``"w{l}_{j}_k"`` of the drawing) instead of one node each. Default: above 60 nodes,
        where one node per parameter makes a column far taller than the rest.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1])
    >>> d = draw_computation_graph(net)
    >>> (len(d.nodes), len(d.edges)) == (net.graph.number_of_nodes(), net.graph.number_of_edges())
    True
    >>> d = draw_computation_graph(sbp.mlp([4, 8, 8, 3]))
    >>> len(d.nodes), sorted(n for n in d.nodes if n.startswith("w2_"))[:2]
    (65, ['w2_1_k', 'w2_2_k'])
    """
    if not hasattr(net, "sizes"):  # a Computation (symbackprop.computations)
        from .computation import draw_computation
        return draw_computation(net, ax=ax)
    if group is None:
        group = net.graph.number_of_nodes() > MAX_FULL_NODES
    return _draw(net, _ordered(net, group=group), ax, set(), False,
                 f"Computation graph of the {net.describe()}", "graph")


def draw_gradient_paths(
    net: Network,
    param: sp.Symbol | str,
    *,
    ax: Axes | None = None,
    partials: bool = True,
    full: bool | None = None,
    path: int | None = None,
) -> Drawing:
    """Draw the computation graph with every path from ``param`` to J highlighted.

    Each highlighted edge u → v is labelled with its local partial ∂v/∂u (rendered math)
    where the label fits; the labels left out are summarised under the picture, per bundle
    of edges, in the form they share. The rest of the graph is faded. ∂J/∂p is the sum
    over these paths of the product of the partials along each path.

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
    path : int, optional
        Highlight only the path with this number (1 for the first, in the order
        :attr:`Derivation.paths <symbackprop.derivation.Derivation.paths>` lists them),
        every edge of it labelled; the other paths are drawn pale, in the same places, so
        that a reader can step through them one at a time.

    Returns
    -------
    Drawing
        ``highlighted`` lists the edges on the paths (on the one path), ``labels`` the
        partials drawn.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid")
    >>> d = draw_gradient_paths(net, "w1_1_1")
    >>> sorted(d.highlighted)[:2], d.labels["w1_1_1", "z1_1"]
    ([('a1_1', 'z2_1'), ('a2_1', 'J')], '$x_{1}$')
    >>> draw_gradient_paths(sbp.mlp([1, 1, 2]), "w1_1_1", path=2).highlighted
    [('w1_1_1', 'z1_1'), ('z1_1', 'a1_1'), ('a1_1', 'z2_2'), ('z2_2', 'a2_2'), ('a2_2', 'J')]
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
    if path is None:
        return _draw(net, _ordered(net, keep), ax, hl, partials, title, "paths")
    from itertools import islice

    from ..derivation import count_paths
    from ..errors import SpecError

    n = count_paths(g, p.name, "J")
    if isinstance(path, bool) or not isinstance(path, int) or not 1 <= path <= n:
        raise SpecError(f"path must be a path number from 1 to {n:,} (the paths from {p} to J); got {path!r}.")
    nodes = next(islice(nx.all_simple_paths(g, p.name, "J"), path - 1, None))
    one = set(zip(nodes, nodes[1:]))
    title = rf"Path {path:,} of {n:,} from ${latex_name(p)}$ to $J$, labelled with local partials"
    return _draw(net, _ordered(net, keep), ax, one, partials, title, "paths", context=hl - one)
