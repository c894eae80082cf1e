"""The gradient-flow picture: each layer's δ norm per epoch, on a log scale, with its bound."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .drawing import Drawing, new_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_gradient_flow"]

_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf"]


def plot_gradient_flow(history_or_flow: Any, path: str | os.PathLike | None = None, *,
                       ax: Axes | None = None, title: str | None = None) -> Drawing:
    """Plot each layer's δ norm over the epochs (log scale), its bound dashed, dead units noted.

    The solid line of layer l is ``delta_norm`` (the RMS over the evaluation samples of
    ‖δ^(l)‖); the dashed line of the same colour is the bound it obeys,
    sup|f_l'| · ‖W^(l+1)‖₂ · ``delta_norm[l+1]`` (hidden layers whose slope is bounded).
    Lines far apart on the log scale are gradients that vanish (or explode) on their way
    back to the first layer.

    Parameters
    ----------
    history_or_flow : History, FlowRecording or GradientFlow
        A history from ``sbp.train(..., gradient_flow=True)``, or
        :func:`symbackprop.gradient_flow` of one.
    path : str or path-like, optional
        Also save the picture there (PNG, SVG or PDF by extension), atomically.
    ax : matplotlib Axes, optional
    title : str, optional
        Default: the network's sizes and activations.

    Returns
    -------
    Drawing
        ``lines`` names the curves drawn (``"|δ(1)|"``, ``"bound 1"``, ...).

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> X, Y = sbp.datasets.moons(n=32, noise=0.1, seed=0)
    >>> net = sbp.mlp([2, 3, 3, 1], activation="sigmoid", loss="binary_cross_entropy")
    >>> _, history = sbp.train(net, X, Y, epochs=4, gradient_flow=True, progress=False)
    >>> plot_gradient_flow(history).lines
    ['|δ(1)|', 'bound 1', '|δ(2)|', 'bound 2', '|δ(3)|']
    """
    from ..flow import GradientFlow, gradient_flow

    flow = history_or_flow if isinstance(history_or_flow, GradientFlow) else gradient_flow(history_or_flow)
    fig, ax = new_axes(ax, (6.4, 4.0))
    epochs = np.asarray(flow.epochs)
    marker = "o" if len(epochs) <= 30 else None
    drawn: list[str] = []
    bounds: set[str] = set()
    for l in flow.layers:
        colour = _COLOURS[(l - 1) % len(_COLOURS)]
        values = flow.delta_norm[:, l - 1]
        ax.plot(epochs, np.where(values > 0, values, np.nan), color=colour, marker=marker, ms=3,
                label=f"$\\|\\delta^{{({l})}}\\|$ ({flow.activations[l - 1]})")
        drawn.append(f"|δ({l})|")
        bound = flow.bound[:, l - 1]
        if np.isfinite(bound).any():
            s = flow.slope_bounds[l - 1].exact
            ax.plot(epochs, np.where(bound > 0, bound, np.nan), color=colour, ls="--", lw=1, alpha=0.8)
            drawn.append(f"bound {l}")
            bounds.add(s)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMS over samples of $\\|\\delta^{(l)}\\|$")
    ax.grid(alpha=0.3, which="both")
    notes = []
    if flow.dead:
        notes.append("dead: " + ", ".join(u.text for u in flow.dead[:8]) + (" ..." if len(flow.dead) > 8 else ""))
    if flow.saturated:
        notes.append("saturated: " + ", ".join(u.text for u in flow.saturated[:8])
                     + (" ..." if len(flow.saturated) > 8 else ""))
    if notes:
        ax.text(0.01, 0.01, "\n".join(notes), transform=ax.transAxes, fontsize=7, va="bottom",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#cccccc"})
    handles, _ = ax.get_legend_handles_labels()
    if bounds:  # one legend entry for every dashed line: same colour, same layer
        from matplotlib.lines import Line2D

        sup = next(iter(bounds)) if len(bounds) == 1 else "sup|f'|"
        handles.append(Line2D([], [], color="#555555", ls="--", lw=1, label=(
            f"bound {sup}$\\cdot\\|W^{{(l+1)}}\\|_2\\,\\|\\delta^{{(l+1)}}\\|$")))
    ax.legend(handles=handles, loc="best", fontsize=7, framealpha=0.85)
    sizes = "-".join(map(str, flow.sizes))
    ax.set_title(title or f"Gradient flow, {sizes} ({', '.join(dict.fromkeys(flow.activations))})", fontsize=10)
    drawing = Drawing(fig, ax, "gradient-flow", lines=drawn)
    if path is not None:
        drawing.save(path)
    return drawing
