"""The expression tree of a formula: operators above their operands, root on top.

The tree is SymPy's own (``expr.args``, walked in preorder as ``srepr`` shows it), held as
a NetworkX tree and drawn with ``multipartite_layout`` by depth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import sympy as sp

from ..errors import ExpressionTooLargeError
from ..notation import latex_name
from .drawing import Drawing, new_axes
from .network import layered_layout

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["draw_expression", "expression_tree"]

#: Trees beyond this many nodes are refused: the picture would be unreadable.
MAX_NODES = 150
_OPS = {"Add": "+", "Mul": "×", "Pow": "^", "Heaviside": "H"}


def _label(node: sp.Basic) -> str:
    if isinstance(node, sp.Symbol):
        return f"${latex_name(node)}$"
    if node.is_Number:
        return str(node)
    name = type(node).__name__
    return _OPS.get(name, name)


def expression_tree(expr: sp.Basic) -> nx.DiGraph:
    """``expr`` as a tree: nodes 0, 1, ... in preorder with ``label`` and ``depth``.

    Examples
    --------
    >>> import sympy as sp
    >>> t = expression_tree(sp.Symbol("x1") * (1 - sp.Symbol("a1_1")))
    >>> [t.nodes[n]["label"] for n in t]
    ['×', '$x_{1}$', '+', '1', '×', '-1', '$a^{(1)}_{1}$']
    """
    tree = nx.DiGraph()
    stack: list[tuple[sp.Basic, int | None, int]] = [(expr, None, 0)]
    while stack:
        node, parent, depth = stack.pop()
        n = tree.number_of_nodes()
        if n >= MAX_NODES:
            raise ExpressionTooLargeError(
                f"The expression tree has more than {MAX_NODES} nodes; draw a smaller formula "
                "(the compact gradient, not the expanded one)."
            )
        tree.add_node(n, label=_label(node), depth=depth, expr=node)
        if parent is not None:
            tree.add_edge(parent, n)
        # SymPy's Heaviside(z, 0) carries the convention as a second argument: not an operand.
        args = node.args[:1] if isinstance(node, sp.Heaviside) else node.args
        stack.extend((arg, n, depth + 1) for arg in reversed(args))
    return tree


def draw_expression(expr: sp.Basic, *, ax: Axes | None = None) -> Drawing:
    """Draw the expression tree of ``expr``: operators above their operands.

    Parameters
    ----------
    expr : sympy expression
        E.g. ``net.grad(p)``. At most 150 tree nodes.
    ax : matplotlib Axes, optional

    Returns
    -------
    Drawing
        ``nodes`` are the tree nodes in preorder, ``labels`` their labels.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid")
    >>> d = draw_expression(net.grad("w2_1_1"))
    >>> d.labels[0], len(d.edges) == len(d.nodes) - 1
    ('×', True)
    """
    tree = expression_tree(expr)
    pos = layered_layout(tree, "depth", align="horizontal")
    depth = 1 + max(d for _, d in tree.nodes(data="depth"))
    widest = max(sum(1 for _, d in tree.nodes(data="depth") if d == k) for k in range(depth))
    fig, ax = new_axes(ax, (max(4.0, 0.85 * widest + 1), max(2.5, 0.8 * depth + 0.6)))
    nx.draw_networkx_edges(tree, pos, ax=ax, arrows=False, edge_color="#888888", width=1.0)
    ops = [n for n in tree if tree.out_degree(n) > 0]
    leaves = [n for n in tree if tree.out_degree(n) == 0]
    nx.draw_networkx_nodes(tree, pos, nodelist=ops, ax=ax, node_color="#fdf0d5",
                           edgecolors="#555555", node_size=620)
    nx.draw_networkx_nodes(tree, pos, nodelist=leaves, ax=ax, node_color="#dbe9f6",
                           edgecolors="#555555", node_size=620, node_shape="s")
    labels = {n: tree.nodes[n]["label"] for n in tree}
    for n, text in labels.items():
        ax.text(*pos[n], text, ha="center", va="center", fontsize=9 if len(text) < 8 else 7)
    ax.set_axis_off()
    ax.margins(0.08, 0.1)
    return Drawing(fig, ax, "expression", nodes=list(tree), edges=list(tree.edges), labels=labels)
