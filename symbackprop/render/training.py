"""Training pictures: loss (and accuracy) per epoch; the decision boundary of a 2-D classifier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError
from .drawing import Drawing, new_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from ..network import Network
    from ..training import History

__all__ = ["plot_decision_boundary", "plot_history"]

_CLASS_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def plot_history(history: History, *, ax: Axes | None = None) -> Drawing:
    """Plot the loss per epoch (log scale when it spans decades) and the accuracy if any.

    Parameters
    ----------
    history : History
        From :func:`symbackprop.train` (``.loss``, optional ``.accuracy``).
    ax : matplotlib Axes, optional
        Axes for the loss; the accuracy goes on a twin axis at the right.

    Returns
    -------
    Drawing
        ``lines`` names the curves drawn (``"loss"``, ``"accuracy"``).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> d = plot_history(SimpleNamespace(loss=[1.0, 0.5, 0.2], accuracy=[0.5, 0.75, 1.0]))
    >>> d.lines
    ['loss', 'accuracy']
    """
    loss = np.asarray(list(history.loss), dtype=float)
    if loss.size == 0:
        raise SpecError("The history has no epochs to plot (history.loss is empty).")
    acc = list(getattr(history, "accuracy", None) or [])
    fig, ax = new_axes(ax, (6.0, 3.6))
    epochs = np.arange(1, loss.size + 1)
    ax.plot(epochs, loss, color="#1f77b4", marker="o" if loss.size <= 30 else None, ms=3,
            label="loss")
    finite = loss[np.isfinite(loss) & (loss > 0)]
    if finite.size and finite.max() / finite.min() > 50:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss", color="#1f77b4")
    ax.grid(alpha=0.3)
    drawn = ["loss"]
    if acc:
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, len(acc) + 1), acc, color="#2ca02c", marker="s" if len(acc) <= 30 else None,
                 ms=3, label="accuracy")
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("training accuracy", color="#2ca02c")
        drawn.append("accuracy")
    ax.set_title("Training", fontsize=11)
    return Drawing(fig, ax, "history", lines=drawn)


def _classes(Y: np.ndarray) -> np.ndarray:
    """Class index of each target row: argmax of one-hot rows, else 0/1 by ½."""
    if Y.ndim == 2 and Y.shape[1] > 1:
        return Y.argmax(axis=1)
    return (Y.reshape(len(Y), -1)[:, 0] >= 0.5).astype(int)


def plot_decision_boundary(
    net: Network,
    params: Mapping | Sequence,
    X: Any,
    Y: Any,
    *,
    ax: Axes | None = None,
    resolution: int = 200,
) -> Drawing:
    """The regions a 2-input classifier assigns to each class, with the data points on top.

    One output: the output's value as a shaded map with the ½ contour; several outputs:
    the argmax class per region.

    Parameters
    ----------
    net : Network
        A network with 2 inputs.
    params : mapping or per-layer (W, b) arrays
    X : array_like, shape (n, 2)
    Y : array_like
        Targets: one-hot rows, or 0/1 for one output.
    ax : matplotlib Axes, optional
    resolution : int
        Grid points per axis.

    Returns
    -------
    Drawing
        ``nodes`` holds one entry per class drawn.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> net = sbp.mlp([2, 1], activation="sigmoid", loss="binary_cross_entropy")
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0]]); Y = np.array([[0.0], [1.0]])
    >>> d = plot_decision_boundary(net, {"w1_1_1": 1, "w1_1_2": 1, "b1_1": -1}, X, Y, resolution=20)
    >>> d.nodes
    ['class 0', 'class 1']
    """
    if net.sizes[0] != 2:
        raise SpecError(
            f"plot_decision_boundary needs a network with 2 inputs; this one has {net.sizes[0]}."
        )
    if not (isinstance(resolution, int) and 2 <= resolution <= 2000):
        raise SpecError(f"resolution must be an integer from 2 to 2000; got {resolution!r}.")
    model = net.compile()
    X, Y = model.check_data(X, Y)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.15 * np.maximum(hi - lo, 1e-9)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    out = model.predict(params, np.column_stack([xx.ravel(), yy.ravel()]))
    fig, ax = new_axes(ax, (5.2, 4.4))
    from matplotlib.colors import ListedColormap

    n_out = out.shape[1]
    classes = _classes(Y)
    n_classes = max(2, n_out, int(classes.max()) + 1)
    colours = (_CLASS_COLOURS * (n_classes // len(_CLASS_COLOURS) + 1))[:n_classes]
    if n_out == 1:
        zz = out[:, 0].reshape(xx.shape)
        mesh = ax.contourf(xx, yy, zz, levels=20, cmap="RdBu_r", alpha=0.45)
        ax.contour(xx, yy, zz, levels=[0.5], colors="k", linewidths=1.5)
        fig.colorbar(mesh, ax=ax, shrink=0.8, label="output $a^{(L)}_{1}$")
    else:
        zz = out.argmax(axis=1).reshape(xx.shape)
        ax.contourf(xx, yy, zz, levels=np.arange(n_out + 1) - 0.5,
                    cmap=ListedColormap(colours[:n_out]), alpha=0.3)
    drawn = []
    for c in range(n_classes):
        mask = classes == c
        if mask.any():
            ax.scatter(X[mask, 0], X[mask, 1], s=22, color=colours[c], edgecolors="white",
                       linewidths=0.6, label=f"class {c}")
            drawn.append(f"class {c}")
    ax.set_xlabel("$x_{1}$")
    ax.set_ylabel("$x_{2}$")
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    ax.set_title("Decision boundary", fontsize=11)
    return Drawing(fig, ax, "decision-boundary", nodes=drawn)
