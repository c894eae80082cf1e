"""Measure how readable the pictures of medium networks are: size, aspect, overlapping labels.

Run:  python benchmarks/render_readability.py [OUTPUT_DIR]

For the 4-8-8-3 and 4-16-16-3 networks (relu, relu, softmax; cross-entropy) it draws the
computation graph, the gradient paths of a first- and a second-layer weight and the network
diagram with every weight's value asked for, saves each as PNG (150 dpi, as
``Drawing.save``) in OUTPUT_DIR (default: the current directory), and prints per picture:

- its size in pixels and its aspect ratio (width / height);
- texts: how many texts are drawn;
- overlapping: pairs of drawn texts whose boxes overlap, measured on the rendered figure
  (:func:`symbackprop.render.labels.overlapping_texts`);
- over nodes: labels (texts in a box: partials, weight values) covering a node circle;
- seconds to draw and encode.

docs/rendering.md compares these numbers before and after the medium-network layout.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import symbackprop as sbp
from symbackprop.render.labels import overlapping_texts

DPI = 150


def _medium(sizes):
    return sbp.mlp(sizes, activation=["relu", "relu", "softmax"], loss="cross_entropy")


CASES = {
    "graph_4-8-8-3": lambda: sbp.draw_computation_graph(_medium([4, 8, 8, 3])),
    "paths_4-8-8-3_w1_1_1": lambda: sbp.draw_gradient_paths(_medium([4, 8, 8, 3]), "w1_1_1"),
    "paths_4-8-8-3_w2_1_1": lambda: sbp.draw_gradient_paths(_medium([4, 8, 8, 3]), "w2_1_1"),
    "network_4-8-8-3_values": lambda: (lambda n: sbp.draw_network(n, n.init_params(0), labels=True))(
        _medium([4, 8, 8, 3])),
    "graph_4-16-16-3": lambda: sbp.draw_computation_graph(_medium([4, 16, 16, 3])),
    "paths_4-16-16-3_w1_1_1": lambda: sbp.draw_gradient_paths(_medium([4, 16, 16, 3]), "w1_1_1"),
    "network_4-16-16-3_values": lambda: (lambda n: sbp.draw_network(n, n.init_params(0)))(_medium([4, 16, 16, 3])),
}


def labels_over_nodes(drawing) -> int:
    """Labels in a box (not node names) whose box covers part of a node circle."""
    from matplotlib.collections import PathCollection

    fig, ax = drawing.figure, drawing.ax
    renderer = fig.canvas.get_renderer()
    circles = []
    for c in ax.collections:
        if isinstance(c, PathCollection) and len(c.get_offsets()):
            sizes = c.get_sizes()
            for i, (x, y) in enumerate(ax.transData.transform(c.get_offsets())):
                r = sizes[i % len(sizes)] ** 0.5 / 2 * fig.dpi / 72
                circles.append((x - r, y - r, x + r, y + r))
    names = {v for k, v in drawing.labels.items() if isinstance(k, str)}  # grouped parameters
    over = 0
    for t in ax.texts:
        patch = t.get_bbox_patch()
        if patch is None or t.get_text() in names:
            continue
        b = patch.get_window_extent(renderer)
        over += any(min(b.x1, x1) - max(b.x0, x0) > 3 and min(b.y1, y1) - max(b.y0, y0) > 3
                    for x0, y0, x1, y1 in circles)
    return over


def main(out: Path) -> None:
    from matplotlib.image import imread

    out.mkdir(parents=True, exist_ok=True)
    print(f"{'picture':26s} {'pixels':>11s} {'aspect':>6s} {'texts':>5s} {'overlapping':>11s} "
          f"{'over nodes':>10s} {'seconds':>7s}")
    for name, make in CASES.items():
        start = time.perf_counter()
        drawing = make()
        png = drawing.to_bytes("png", dpi=DPI)
        seconds = time.perf_counter() - start
        (out / f"{name}.png").write_bytes(png)
        h, w = imread(io.BytesIO(png)).shape[:2]
        drawing.figure.set_dpi(DPI)
        pairs = overlapping_texts(drawing.figure, [drawing.ax])
        texts = sum(1 for t in drawing.ax.texts if t.get_text().strip())
        print(f"{name:26s} {w:>5d}x{h:<5d} {w / h:6.2f} {texts:5d} {len(pairs):11d} "
              f"{labels_over_nodes(drawing):10d} {seconds:7.1f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
