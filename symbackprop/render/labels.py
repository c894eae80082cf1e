"""Labels that do not overlap: measure a label before drawing it, draw it only where it fits.

A picture of a medium network (4-8-8-3) has more edges than room for their labels. The
drawings label greedily: each label is measured (:func:`text_extent`, matplotlib's own
mathtext layout, in points), tried at a few spots along its edge, and drawn at the first
spot where its box touches no node and no label already drawn (:class:`Placer`); a label
that fits nowhere is left out and counted, and the drawing summarises what was left out.
:func:`overlapping_texts` measures the result as drawn (the tests assert it is empty).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

__all__ = ["Placer", "axes_scale", "overlapping_texts", "text_extent"]

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@functools.lru_cache(maxsize=4096)
def text_extent(text: str, fontsize: float) -> tuple[float, float]:
    """Width and height (with descent) of ``text`` drawn at ``fontsize``, in points.

    Measured with matplotlib's text layout (mathtext between ``$``), independent of any
    backend or figure; cached, since a drawing measures the same labels again.

    Examples
    --------
    >>> w, h = text_extent("$w^{(1)}_{1 1}$", 9)
    >>> 10 < w < 30 and 8 < h < 25
    True
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    ismath = text.count("$") >= 2
    w, h, d = TextToPath().get_text_width_height_descent(
        text if ismath else text.replace("$", r"\$"), FontProperties(size=fontsize), ismath=ismath)
    return float(w), float(h + d)


def axes_scale(ax: Axes) -> tuple[float, float]:
    """Data units per point along x and y, for the axes' current limits and position.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 1))
    >>> ax = fig.add_axes((0, 0, 1, 1), xlim=(0, 144), ylim=(0, 72))
    >>> axes_scale(ax)
    (1.0, 1.0)
    """
    pos = ax.get_position()
    fig = ax.figure
    width_pt = pos.width * fig.get_figwidth() * 72
    height_pt = pos.height * fig.get_figheight() * 72
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return float(abs(x1 - x0) / width_pt), float(abs(y1 - y0) / height_pt)


def _overlap(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


class Placer:
    """Boxes already taken (nodes, labels), and where a new label still fits.

    Parameters
    ----------
    scale : (float, float)
        Data units per point (:func:`axes_scale`).
    gap : float
        Clearance around each label, in points.

    Examples
    --------
    >>> placer = Placer((1.0, 1.0))
    >>> placer.block(0, 0, 10, 10)           # a node of radius 10 at the origin
    >>> placer.place([(0, 0), (30, 0)], 8, 8)  # the first spot is on the node
    (30, 0)
    >>> placer.place([(31, 1)], 8, 8) is None  # too close to the label just placed
    True
    """

    def __init__(self, scale: tuple[float, float], gap: float = 1.5):
        self.sx, self.sy = scale
        self.gap = gap
        self.taken: list[Box] = []

    def block(self, x: float, y: float, rx: float, ry: float) -> None:
        """Mark the box of half-size (rx, ry) points around (x, y) (data) as taken."""
        self.taken.append((x - rx * self.sx, y - ry * self.sy, x + rx * self.sx, y + ry * self.sy))

    def fits(self, x: float, y: float, width: float, height: float) -> bool:
        """Whether a label of ``width`` × ``height`` points centred on (x, y) touches nothing."""
        return self._free(self._box(x, y, width, height))

    def _box(self, x: float, y: float, width: float, height: float) -> Box:
        hw, hh = (width / 2 + self.gap) * self.sx, (height / 2 + self.gap) * self.sy
        return (x - hw, y - hh, x + hw, y + hh)

    def _free(self, box: Box) -> bool:
        return not any(_overlap(box, t) for t in self.taken)

    def place(self, spots: Iterable[tuple[float, float]], width: float, height: float) -> tuple[float, float] | None:
        """The first of ``spots`` where the label fits (then taken), or None."""
        for x, y in spots:
            box = self._box(x, y, width, height)
            if self._free(box):
                self.taken.append(box)
                return x, y
        return None


def overlapping_texts(figure: Figure, axes: Sequence[Axes] | None = None) -> list[tuple[Text, Text]]:
    """Pairs of drawn texts whose boxes overlap, measured on the figure as rendered.

    A text drawn in a box (``bbox=``) counts with its box; empty and invisible texts do
    not count. Used by the tests: a readable picture has none.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure()
    >>> ax = fig.add_subplot()
    >>> a, b, c = ax.text(0.1, 0.5, "one"), ax.text(0.12, 0.5, "two"), ax.text(0.8, 0.5, "far")
    >>> [(p.get_text(), q.get_text()) for p, q in overlapping_texts(fig)]
    [('one', 'two')]
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure) if not hasattr(figure.canvas, "get_renderer") else figure.canvas
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = [t for ax in (axes if axes is not None else figure.axes) for t in ax.texts
             if t.get_visible() and t.get_text().strip()]
    boxes = []
    for t in texts:
        patch = t.get_bbox_patch()
        extent = patch.get_window_extent(renderer) if patch is not None else t.get_window_extent(renderer)
        boxes.append((extent.x0, extent.y0, extent.x1, extent.y1))
    # Touching by less than half a pixel is not overlapping (rounding of the extents).
    shrunk = [(x0 + 0.25, y0 + 0.25, x1 - 0.25, y1 - 0.25) for x0, y0, x1, y1 in boxes]
    return [(texts[i], texts[j]) for i in range(len(texts)) for j in range(i + 1, len(texts))
            if _overlap(shrunk[i], shrunk[j])]
