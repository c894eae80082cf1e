"""Pictures of medium networks (4-8-8-3, 4-16-16-3) stay readable: no two drawn labels
overlap (measured on the rendered figure), a sensible size and aspect ratio, and what is
left out is summarised, not lost."""

from __future__ import annotations

import os
import re

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib

matplotlib.use("Agg")

import pytest

import symbackprop as sbp
from symbackprop.notation import to_latex
from symbackprop.render.drawing import mathtext
from symbackprop.render.labels import overlapping_texts

DPI = 150  # Drawing.save's


def _medium(sizes):
    return sbp.mlp(sizes, activation=["relu", "relu", "softmax"], loss="cross_entropy")


@pytest.fixture(scope="module")
def net8():
    return _medium([4, 8, 8, 3])


@pytest.fixture(scope="module")
def net16():
    return _medium([4, 16, 16, 3])


def _png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _readable(d, max_aspect: float = 3.0, min_aspect: float = 0.5, max_pixels: int = 2600) -> None:
    w, h = _png_size(d.to_bytes("png", dpi=DPI))
    assert min_aspect <= w / h <= max_aspect, (w, h)
    assert max(w, h) <= max_pixels, (w, h)
    d.figure.set_dpi(DPI)
    pairs = overlapping_texts(d.figure, [d.ax])
    assert pairs == [], [(a.get_text(), b.get_text()) for a, b in pairs][:5]


def test_overlap_measure_finds_overlaps():
    # The measure the tests rely on does see overlapping labels.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "$w^{(1)}_{1 1}$", bbox={"boxstyle": "round"})
    ax.text(0.52, 0.5, "$w^{(1)}_{1 2}$")
    ax.text(0.9, 0.9, "apart")
    assert len(overlapping_texts(fig)) == 1


@pytest.mark.parametrize("which", ["net8", "net16"])
def test_computation_graph_groups_parameters(which, request):
    net = request.getfixturevalue(which)
    d = sbp.draw_computation_graph(net)
    g = net.graph
    neurons = {n for n, k in g.nodes(data="kind") if k not in ("weight", "bias")}
    groups = {f"w{l}_{j}_k" for l in range(1, len(net.sizes)) for j in range(1, net.sizes[l] + 1)}
    assert set(d.nodes) == neurons | groups
    # Every edge of the scalar graph between neurons is drawn; each group feeds its z.
    assert {(u, v) for u, v in g.edges if u in neurons} | {(k, f"z{k[1:].rsplit('_', 1)[0]}") for k in groups} \
        == set(d.edges)
    _readable(d, max_aspect=2.5)


def test_computation_graph_of_a_small_network_keeps_every_parameter():
    net = sbp.mlp([2, 3, 2])
    d = sbp.draw_computation_graph(net)
    assert sorted(d.nodes) == sorted(net.graph.nodes)
    _readable(d)
    assert set(sbp.draw_computation_graph(net, group=True).nodes) & set(map(str, net.params)) == set()


@pytest.mark.parametrize(("which", "param"), [
    ("net8", "w1_1_1"), ("net8", "w2_3_5"), ("net8", "b3_2"), ("net16", "w1_1_1"),
    ("net16", "w2_16_16"),
])
def test_gradient_paths_label_what_fits_and_summarise_the_rest(which, param, request):
    net = request.getfixturevalue(which)
    d = sbp.draw_gradient_paths(net, param)
    _readable(d)
    edge_labels = {k: v for k, v in d.labels.items() if isinstance(k, tuple)}
    assert set(edge_labels) <= set(d.highlighted)
    for (u, v), text in edge_labels.items():  # each label is its edge's local partial
        assert text == "$" + mathtext(to_latex(net.graph.edges[u, v]["partial"])) + "$"
    # The summary lines account for every highlighted edge left unlabelled.
    notes = [t.get_text() for t in d.ax.texts if "not labelled" in t.get_text()]
    left_out = sum(int(re.search(r": (\d+) of (\d+) partials", n).group(1)) for n in notes)
    assert left_out == len(d.highlighted) - len(edge_labels)
    assert len(edge_labels) >= len(d.highlighted) // 3  # most of the picture is labelled


def test_small_gradient_paths_label_every_edge():
    net = sbp.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy")
    d = sbp.draw_gradient_paths(net, net.w(1, 2, 1))
    assert set(d.labels) == set(d.highlighted)
    _readable(d)


def test_network_values_label_what_fits(net8):
    d = sbp.draw_network(net8, net8.init_params(0), labels=True)
    _readable(d, max_pixels=1600)
    p = net8.init_params(0)
    for (u, v), text in d.labels.items():
        layer, j, k = net8.graph.nodes[v]["layer"], net8.graph.nodes[v]["index"][0], net8.graph.nodes[u]["index"][0]
        assert text == f"{p[net8.w(layer, j, k)]:.2f}"
    note = next(t.get_text() for t in d.ax.texts if "weights labelled" in t.get_text())
    assert note.startswith(f"{len(d.labels)} of 120 weights labelled")
    assert len(d.labels) >= 60


def test_network_diagram_fills_its_figure(net8):
    # Layers one unit apart: the drawing spans the axes, no empty band beside it.
    d = sbp.draw_network(net8)
    xs = [x for x, _ in d.ax.collections[-1].get_offsets()]
    lo, hi = d.ax.get_xlim()
    assert (max(xs) - min(xs)) / (hi - lo) > 0.6
    _readable(d)


@pytest.mark.parametrize("number", [1, 5, 72])
def test_one_path_at_a_time(net8, number):
    d = sbp.draw_gradient_paths(net8, "w1_1_1", path=number)
    # The oracle: the paths Derivation lists, in its order (fewer than 16 there: count here).
    import networkx as nx

    paths = list(nx.all_simple_paths(net8.graph, "w1_1_1", "J"))
    assert len(paths) == 72 == net8.derivation("w1_1_1").n_paths
    nodes = paths[number - 1]
    assert d.highlighted == [e for e in d.edges if e in set(zip(nodes, nodes[1:]))]
    assert len(d.highlighted) == len(nodes) - 1
    assert {k for k in d.labels if isinstance(k, tuple)} == set(d.highlighted)  # every edge labelled
    assert f"Path {number} of 72" in d.ax.get_title()
    _readable(d)


def test_path_number_is_checked(net8):
    for bad in (0, 73, 1.5, True):
        with pytest.raises(sbp.SpecError, match="path must be a path number from 1 to 72"):
            sbp.draw_gradient_paths(net8, "w1_1_1", path=bad)


# ------------------------------------------------------------ the dense network diagram
def _weight_lines(d):
    from matplotlib.collections import LineCollection

    (lines,) = [c for c in d.ax.collections if isinstance(c, LineCollection) and c.get_gid() == "weights"]
    return lines


def _by_segment(d, net):
    """Each drawn line's weight name, from its end points (the neurons' positions)."""
    import numpy as np

    offsets = [c for c in d.ax.collections if len(c.get_offsets()) == len(d.nodes)][0].get_offsets()
    where = {tuple(np.round(xy, 9)): n for n, xy in zip(d.nodes, offsets)}
    g = sbp.render.network.neuron_graph(net)
    return [g.edges[where[tuple(np.round(seg[0], 9))], where[tuple(np.round(seg[1], 9))]]["weight_name"]
            for seg in _weight_lines(d).get_segments()]


def test_dense_network_draws_every_neuron_and_weight(net16):
    params = net16.init_params(0)
    d = sbp.draw_network(net16, params)
    assert d.kind == "network-dense"
    assert len(d.nodes) == 4 + 16 + 16 + 3 and len(d.edges) == 4 * 16 + 16 * 16 + 16 * 3
    _readable(d, max_aspect=2.6, max_pixels=1800)
    # Every weight is one line; the widths grow with |w|, the colours are the values'.
    import matplotlib as mpl
    import numpy as np

    names = _by_segment(d, net16)
    assert sorted(names) == sorted(n.name for n in net16.params if n.name.startswith("w"))
    widths = _weight_lines(d).get_linewidths()
    sizes = [abs(params[net16.parameter(n)]) for n in names]
    order = np.argsort(sizes, kind="stable")
    assert all(np.diff(np.asarray(widths)[order]) >= 0)
    vmax = max(abs(v) for v in params.values())
    cmap = mpl.colormaps["coolwarm"]
    colours = _weight_lines(d).get_colors()
    for name, rgba in zip(names, colours):
        assert np.allclose(rgba[:3], cmap(mpl.colors.Normalize(-vmax, vmax)(params[net16.parameter(name)]))[:3])
    # The labels are the largest weights' values, at most 24, each where it fits.
    assert 0 < len(d.labels) <= 24
    g = sbp.render.network.neuron_graph(net16)
    for (u, v), text in d.labels.items():
        assert text == f"{params[net16.parameter(g.edges[u, v]['weight_name'])]:.2f}"
    note = next(t.get_text() for t in d.ax.texts if "weights labelled" in t.get_text())
    assert f"{len(d.labels)} of 368 weights labelled" in note


def test_dense_network_every_label_that_fits(net16):
    d = sbp.draw_network(net16, net16.init_params(0), labels=True)
    assert len(d.labels) > 24
    _readable(d, max_aspect=2.6, max_pixels=1800)


def test_dense_network_without_values(net16):
    d = sbp.draw_network(net16)
    assert d.kind == "network-dense" and d.labels == {}
    texts = {t.get_text() for t in d.ax.texts}
    assert {str(j) for j in range(1, 17)} <= texts  # the hidden neurons numbered
    assert {"$x_{1}$", "$x_{4}$", "$a^{(3)}_{1}$", "$a^{(3)}_{3}$"} <= texts  # inputs and outputs named
    _readable(d, max_aspect=2.6, max_pixels=1800)


def test_dense_network_with_gradients(net16):
    params, grads = net16.init_params(0), net16.init_params(1)
    d = sbp.draw_network(net16, params, grads)
    # Colour by ∂J/∂w, width by |w|.
    import numpy as np

    names = _by_segment(d, net16)
    widths = np.asarray(_weight_lines(d).get_linewidths())
    assert widths[np.argmax([abs(params[net16.parameter(n)]) for n in names])] == widths.max()
    g = sbp.render.network.neuron_graph(net16)
    for (u, v), text in d.labels.items():
        assert text == f"{grads[net16.parameter(g.edges[u, v]['weight_name'])]:.2f}"
    _readable(d, max_aspect=2.6, max_pixels=1800)


def test_dense_network_up_to_64_neurons():
    net = sbp.mlp([4, 64, 64, 3])
    d = sbp.draw_network(net, net.init_params(0))
    assert d.kind == "network-dense" and len(_weight_lines(d).get_segments()) == 4 * 64 + 64 * 64 + 64 * 3
    _readable(d, max_aspect=2.0, max_pixels=2000)
    assert sbp.draw_network(sbp.mlp([4, 65, 3])).kind == "network-summary"
