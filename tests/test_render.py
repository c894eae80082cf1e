"""Pictures: content checked against the graph, not just that a file exists."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from itertools import pairwise

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib

matplotlib.use("Agg")

import networkx as nx
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.errors import ExpressionTooLargeError, SpecError
from symbackprop.render.drawing import mathtext

NETS = [
    ([2, 3, 2], ["relu", "softmax"], "cross_entropy"),
    ([2, 2, 1], "sigmoid", "quadratic"),
    ([1, 2, 2, 1], ["tanh", "softplus", "sigmoid"], "binary_cross_entropy"),
    ([3, 2], "leaky_relu", "mse"),
]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _sane(drawing, lo=(100, 60), hi=(8000, 8000)) -> None:
    w, h = _png_size(drawing.to_bytes("png", dpi=72))
    assert lo[0] <= w <= hi[0] and lo[1] <= h <= hi[1], (w, h)


@pytest.fixture(params=NETS, ids=lambda n: "-".join(map(str, n[0])))
def net(request):
    sizes, act, loss = request.param
    return sbp.mlp(sizes, activation=act, loss=loss)


def test_network_nodes_and_edges_match_the_graph(net):
    d = sbp.draw_network(net)
    g = net.graph
    neurons = {n for n, k in g.nodes(data="kind") if k in ("x", "a")}
    weights = {n for n, k in g.nodes(data="kind") if k == "weight"}
    assert set(d.nodes) == neurons and len(d.nodes) == sum(net.sizes)
    assert len(d.edges) == len(weights)
    # Each edge u -> v carries the weight whose z uses u: w^(l)_jk joins a^(l-1)_k to a^(l)_j.
    for (u, v), label in d.labels.items():
        layer, (j, k) = g.nodes[v]["layer"], g.nodes[v]["index"] + g.nodes[u]["index"]
        w = net.w(layer, j, k)
        assert g.has_edge(w.name, f"z{layer}_{j}") and g.has_edge(u, f"z{layer}_{j}")
        assert label == f"${sbp.notation.latex_name(w)}$"
    _sane(d)


def test_network_with_params_shows_values_and_colour_bar():
    net = sbp.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy")
    p = net.init_params(seed=3)
    grads = {k: float(i) - 9.5 for i, k in enumerate(net.params)}
    d = sbp.draw_network(net, params=p, grads=grads)
    assert d.labels["x1", "a1_2"] == f"{p[net.w(1, 2, 1)]:.2f}"
    assert len(d.figure.axes) == 2  # the diagram and its colour bar
    # Per-layer arrays are accepted as well, and give the same labels.
    arrays = sbp.params.to_arrays(net, p)
    assert sbp.draw_network(net, params=arrays).labels == sbp.draw_network(net, params=p).labels


def test_big_network_is_summarised():
    net = sbp.mlp([4, 80, 16, 3])
    d = sbp.draw_network(net, params=net.init_params(0))
    assert d.kind == "network-summary"
    assert d.nodes == ["inputs", "layer 1", "layer 2", "layer 3"] and len(d.edges) == 3
    assert "80×4" in d.labels["inputs", "layer 1"]
    _sane(d)


def test_missing_params_are_named():
    net = sbp.mlp([2, 1])
    with pytest.raises(SpecError, match="w1_1_2"):
        sbp.draw_network(net, params={"w1_1_1": 1.0})


def test_computation_graph_draws_every_node_and_edge(net):
    d = sbp.draw_computation_graph(net)
    assert sorted(d.nodes) == sorted(net.graph.nodes)
    assert sorted(d.edges) == sorted(net.graph.edges)
    assert d.highlighted == []


def _oracle_edges(g: nx.DiGraph, p: str) -> set[tuple[str, str]]:
    return {e for path in nx.all_simple_paths(g, p, "J") for e in pairwise(path)}


def test_gradient_paths_highlight_exactly_the_paths(net):
    for p in net.params:
        d = sbp.draw_gradient_paths(net, p, partials=False)
        assert set(d.highlighted) == _oracle_edges(net.graph, p.name), p
        assert len(d.edges) == net.graph.number_of_edges()


def test_gradient_path_labels_are_the_local_partials():
    net = sbp.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy")
    d = sbp.draw_gradient_paths(net, net.w(1, 2, 1))
    assert set(d.labels) == set(d.highlighted)
    # Independent oracle: differentiate each node's definition directly.
    # Partials may be written in the node's own value (softmax: a(1 - a)): substitute the
    # definitions of the a's and compare numerically at a random point.
    g = net.graph
    defs = {g.nodes[n]["symbol"]: g.nodes[n]["expr"] for n in g if g.nodes[n]["kind"] == "a"}
    rng = np.random.default_rng(0)
    for (u, v), label in d.labels.items():
        expected = sp.diff(g.nodes[v]["expr"], g.nodes[u]["symbol"])
        u_sym = g.nodes[u]["symbol"]
        got = g.edges[u, v]["partial"].xreplace({a: e for a, e in defs.items() if a != u_sym})
        point = {s: sp.Float(rng.uniform(0.1, 1.0)) for s in (got.free_symbols | expected.free_symbols)}
        assert abs(float(got.xreplace(point)) - float(expected.xreplace(point))) < 1e-12, (u, v)
        assert label == "$" + mathtext(sbp.to_latex(g.edges[u, v]["partial"])) + "$"
    _sane(d)


@settings(max_examples=6, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=2, max_size=4), st.data())
def test_gradient_paths_property(sizes, data):
    net = sbp.mlp(sizes, activation="tanh")
    p = data.draw(st.sampled_from(net.params))
    d = sbp.draw_gradient_paths(net, p, partials=False)
    assert set(d.highlighted) == _oracle_edges(net.graph, p.name)


def test_large_graph_draws_only_the_paths():
    net = sbp.mlp([4, 16, 16, 3], activation=["relu", "relu", "softmax"], loss="cross_entropy")
    d = sbp.draw_gradient_paths(net, "w2_1_1", partials=False)
    on = _oracle_edges(net.graph, "w2_1_1")
    assert set(d.highlighted) == on == set(d.edges)
    assert set(d.nodes) == {n for e in on for n in e}


def test_expression_tree_matches_sympy_preorder():
    net = sbp.mlp([2, 2, 1], activation="sigmoid")
    expr = net.grad("w1_1_1")
    d = sbp.draw_expression(expr)
    # Oracle: SymPy's own preorder traversal (Heaviside has none here).
    assert len(d.nodes) == sum(1 for _ in sp.preorder_traversal(expr))
    assert nx.is_tree(nx.DiGraph(d.edges)) and len(d.edges) == len(d.nodes) - 1
    _sane(d)


def test_expression_tree_refuses_huge_formulas():
    net = sbp.mlp([2, 3, 3, 2], activation="sigmoid")
    with pytest.raises(ExpressionTooLargeError, match="compact"):
        sbp.draw_expression(net.grad("w1_1_1", expand=True))


def test_mathtext_parses_every_printed_formula(net):
    """Every derivation and equation line goes through matplotlib's mathtext parser."""
    from matplotlib.mathtext import MathTextParser

    from symbackprop.render.formula import formula_lines

    parser = MathTextParser("path")
    for obj in (net.equations(), net.derivation(net.params[0]), net.derivation(net.params[-1])):
        for row in formula_lines(obj):
            if "$" in row.text:
                parser.parse(row.text)


def test_formula_wraps_long_lines_and_saves_svg_and_png(tmp_path):
    x = sp.symbols("x1:40")
    d = sbp.draw_formula([("J", sp.Add(*[xi**2 for xi in x]))], width=4)
    assert len(d.lines) > 2
    assert d.lines[0].startswith("$J = ")
    joined = " ".join(d.lines)
    assert all(joined.count(f"x_{{{i}}}^{{2}}") == 1 for i in range(1, 40))
    assert all(ln.startswith("$+ ") for ln in d.lines[1:])
    svg = d.save(tmp_path / "f.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    png = d.save(tmp_path / "f.png")
    w, h = _png_size(png.read_bytes())
    assert 100 < w < 2000 and h > 3 * 20
    with pytest.raises(SpecError, match="png, svg, pdf"):
        d.save(tmp_path / "f.bmp")


def test_formula_of_derivation_has_every_section():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    d = net.derivation("w1_1_1")
    drawing = sbp.draw_formula(d)
    text = "\n".join(drawing.lines)
    for sec in d.sections():
        assert (mathtext(sec.latex_title) if sec.latex_title else sec.title) in text
    assert sbp.to_latex(d.compact) in text
    # A Network draws its equations.
    eq = sbp.draw_formula(net)
    assert "Layer-level" in eq.lines[0]
    with pytest.raises(SpecError, match="Derivation"):
        sbp.draw_formula(3.5)


def test_drawing_into_given_axes_and_repr_png():
    from matplotlib.figure import Figure

    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    net = sbp.mlp([2, 2, 1])
    d = sbp.draw_network(net, ax=ax1)
    assert d.ax is ax1 and d.figure is fig
    f = sbp.draw_formula(net.derivation("b2_1"), ax=ax2)
    assert f.figure is fig
    assert d._repr_png_()[:4] == b"\x89PNG"


class _History:
    def __init__(self, loss, accuracy):
        self.loss, self.accuracy = loss, accuracy


def test_plot_history():
    d = sbp.plot_history(_History([2.0, 1.0, 0.01], [0.3, 0.6, 1.0]))
    assert d.lines == ["loss", "accuracy"] and d.ax.get_yscale() == "log"
    (line,) = d.ax.get_lines()
    assert list(line.get_ydata()) == [2.0, 1.0, 0.01]
    assert sbp.plot_history(_History([1.0, 0.9], None)).lines == ["loss"]
    with pytest.raises(SpecError, match="empty"):
        sbp.plot_history(_History([], None))


def test_decision_boundary_regions_match_a_numpy_reference():
    net = sbp.mlp([2, 1], activation="sigmoid", loss="binary_cross_entropy")
    params = {"w1_1_1": 4.0, "w1_1_2": -4.0, "b1_1": 0.0}
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.8, 0.1]])
    Y = np.array([[0.0], [1.0], [0.0], [1.0]])
    d = sbp.plot_decision_boundary(net, params, X, Y, resolution=30)
    assert d.nodes == ["class 0", "class 1"]
    # The ½ contour of sigmoid(4 x1 - 4 x2) is the diagonal x1 = x2.
    from matplotlib.contour import ContourSet

    (boundary,) = [c for c in d.ax.collections if isinstance(c, ContourSet) and list(c.levels) == [0.5]]
    pts = np.concatenate([path.vertices for path in boundary.get_paths() if len(path.vertices)])
    assert len(pts) > 5
    assert np.allclose(pts[:, 0], pts[:, 1], atol=0.05)
    net3 = sbp.mlp([3, 1])
    with pytest.raises(SpecError, match="2 inputs"):
        sbp.plot_decision_boundary(net3, net3.init_params(0), np.zeros((2, 3)), np.zeros((2, 1)))


def test_import_does_not_load_matplotlib():
    import subprocess
    import sys

    code = "import sys, symbackprop.render, symbackprop.reporting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bytes_are_reproducible_svg():
    net = sbp.mlp([1, 1])
    a = sbp.draw_network(net).to_bytes("svg")
    assert ET.parse(io.BytesIO(a)).getroot().tag.endswith("svg")
