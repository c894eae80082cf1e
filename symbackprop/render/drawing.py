"""What every drawing function returns, saving it, and LaTeX made safe for mathtext.

Figures are made with ``matplotlib.figure.Figure`` directly, not with ``pyplot``: a
drawing then holds no global state, leaks no figure, and works the same in a script, a
test and a server. To draw into a pyplot figure, pass ``ax=plt.gca()``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputError
from ..files import write_bytes
from ..printing.mathtext import mathtext  # re-exported: drawings of graphs label with it too

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["FORMATS", "Drawing", "mathtext", "new_axes", "picture_format", "save_figure"]

#: File formats a drawing is saved in, chosen by the file's extension.
FORMATS = ("png", "svg", "pdf")


@dataclass
class Drawing:
    """A picture and what is in it, so that code (and tests) can check the content.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The figure drawn into.
    ax : matplotlib.axes.Axes or None
        The main axes (None for a formula drawn on the bare figure).
    kind : str
        ``"network"``, ``"network-dense"``, ``"network-summary"``, ``"graph"``, ``"paths"``, ``"expression"``,
        ``"formula"``, ``"history"``, ``"decision-boundary"`` or ``"gradient-flow"``.
    nodes : list of str
        The nodes drawn (graph node keys), in drawing order.
    edges : list of (str, str)
        The edges drawn.
    highlighted : list of (str, str)
        The edges drawn highlighted (gradient paths).
    labels : dict
        Edge (or node) -> the label text drawn on it.
    lines : list of str
        For formulas: the text lines drawn, after wrapping.
    """

    figure: Figure
    ax: Axes | None
    kind: str
    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    highlighted: list[tuple[str, str]] = field(default_factory=list)
    labels: dict[Any, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    #: PNG: draw once and crop the white margins instead of ``bbox_inches="tight"``, which
    #: draws twice (mathtext parsing, about 50 ms a formula, is what costs).
    crop: bool = True

    def save(self, path: str | os.PathLike, *, dpi: int = 150) -> Path:
        """Write the picture to ``path`` (PNG, SVG or PDF by extension), atomically."""
        return save_figure(self.figure, path, dpi=dpi, crop=self.crop)

    def to_bytes(self, fmt: str = "png", *, dpi: int = 110) -> bytes:
        """The picture encoded as PNG, SVG or PDF bytes."""
        return _encode(self.figure, picture_format(fmt), dpi, self.crop)

    def _repr_png_(self) -> bytes:  # Jupyter
        return self.to_bytes("png")

    def __repr__(self) -> str:
        return (
            f"<Drawing {self.kind}: {len(self.nodes)} nodes, {len(self.edges)} edges, "
            f"{len(self.highlighted)} highlighted, {len(self.lines)} lines>"
        )


def picture_format(fmt: str) -> str:
    """The picture format ``fmt`` (an extension such as ``".svg"``) names, checked.

    Examples
    --------
    >>> picture_format(".SVG")
    'svg'
    >>> picture_format("gif")
    Traceback (most recent call last):
    ...
    symbackprop.errors.OutputError: Cannot save a picture as 'gif'; use one of png, svg, pdf.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise OutputError(f"Cannot save a picture as {fmt!r}; use one of {', '.join(FORMATS)}.")
    return fmt


def _encode(figure: Figure, fmt: str, dpi: int, crop: bool = True) -> bytes:
    buf = io.BytesIO()
    if crop and fmt == "png":
        return _cropped_png(figure, dpi)
    # A fixed SVG hash salt and no date keep saved SVGs reproducible.
    meta = {"Date": None} if fmt == "svg" else None
    figure.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.1,
                   facecolor="white", metadata=meta)
    return buf.getvalue()


def _cropped_png(figure: Figure, dpi: int, pad: int = 8) -> bytes:
    """PNG of ``figure`` drawn once at ``dpi``, cropped to its non-white pixels plus ``pad``."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imsave

    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    ink = np.argwhere((rgba[..., :3] < 250).any(axis=-1))
    if len(ink):
        (r0, c0), (r1, c1) = ink.min(axis=0), ink.max(axis=0)
        rgba = rgba[max(0, r0 - pad): r1 + pad + 1, max(0, c0 - pad): c1 + pad + 1]
    buf = io.BytesIO()
    imsave(buf, rgba, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(
    figure: Figure, path: str | os.PathLike, *, dpi: int = 150, crop: bool = True
) -> Path:
    """Save ``figure`` to ``path`` by extension (png, svg, pdf), atomically.

    Written with :func:`symbackprop.files.write_bytes`: a temporary file and a rename for a
    file, straight through for ``-``, a FIFO or a device.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = save_figure(Figure(figsize=(1, 1)), os.path.join(d, "a.svg"))
    ...     out.read_text()[:5]
    '<?xml'
    """
    path = Path(path)
    data = _encode(figure, picture_format(path.suffix or "(no extension)"), dpi, crop)
    write_bytes(path, data, what="picture")
    return path


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``(figure, ax)``: the given axes and its figure, or a new pyplot-free figure."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()
