"""Training, recorded for the explorer's epoch slider: loss, weights, decision boundary.

:func:`symbackprop.train` reports each epoch's loss to its callback but not its weights.
Training is deterministic for a seed (the shuffling draws from its own seeded stream), so
the weights after epoch e are exactly those of ``train(..., epochs=e)``: each recorded
epoch is trained again from the start. The recorded epochs are spaced geometrically
(0, 1, 2, 3, 5, 8, ... the last), where the weights change most, so the extra work is a
few times one run, not one run per epoch (4-16-16-3 on iris, 100 epochs: about 1 s).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from .content import finite

__all__ = ["record_training", "snapshot_epochs", "GRID", "MAX_POINTS"]

#: The decision boundary is drawn on a GRID × GRID raster of model.predict.
GRID = 48
#: At most this many data points are drawn over the boundary (a seeded subsample beyond).
MAX_POINTS = 400


def snapshot_epochs(epochs: int, n: int) -> list[int]:
    """About ``n`` epochs from 0 to ``epochs``, spaced geometrically, both ends included.

    Examples
    --------
    >>> snapshot_epochs(100, 12)
    [0, 1, 2, 4, 5, 8, 12, 19, 28, 43, 66, 100]
    >>> snapshot_epochs(3, 12)
    [0, 1, 2, 3]
    """
    if epochs <= n:
        return list(range(epochs + 1))
    marks = np.unique(np.round(np.geomspace(1, epochs, n)).astype(int))
    return [0, *(int(e) for e in marks)]


def _classes(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and confidence in [0, 1] (0: a tie, 1: certain) of each row."""
    if P.shape[1] == 1:
        p = np.clip(P[:, 0], 0.0, 1.0)
        return (p >= 0.5).astype(int), np.abs(2 * p - 1)
    k = P.shape[1]
    top = P.max(axis=1)
    return P.argmax(axis=1), np.clip((top - 1 / k) / (1 - 1 / k), 0.0, 1.0)


def _boundary_grid(X: np.ndarray) -> tuple[np.ndarray, list[float]]:
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.08 * np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad
    xs = np.linspace(lo[0], hi[0], GRID)
    ys = np.linspace(hi[1], lo[1], GRID)  # row 0 is the top of the picture
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()]), [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])]


def _raster(model, params, grid: np.ndarray) -> str:
    """Class and confidence of each grid cell, two bytes a cell, base64."""
    with np.errstate(all="ignore"):
        cls, conf = _classes(np.asarray(model.predict(params, grid), dtype=float))
    conf = np.nan_to_num(conf)
    cells = np.empty(2 * len(grid), dtype=np.uint8)
    cells[0::2] = np.clip(cls, 0, 255)
    cells[1::2] = np.round(conf * 255)
    return base64.b64encode(cells.tobytes()).decode("ascii")


def record_training(net, X: np.ndarray, Y: np.ndarray, params: Mapping[sp.Symbol, float], *,
                    epochs: int, lr: float, batch_size: int, seed: int, momentum: float,
                    snapshots: int, gradient_flow: bool = True) -> dict[str, Any]:
    """Train ``net`` from ``params`` and record what the slider shows.

    Returns
    -------
    dict
        ``loss`` (the mean loss of each epoch, what ``History.loss`` holds), ``accuracy``,
        ``epochs`` (the recorded epochs), ``snap_loss`` (the loss of the whole set with
        each recorded epoch's weights), ``weights`` (one list per recorded epoch, in
        ``net.params`` order, to four significant digits: they are drawn), ``boundary`` (for 2 inputs: the grid, one raster per
        recorded epoch, the points) or None, ``flow`` (per-layer δ norms, bounds and
        weight-gradient norms per epoch, from :func:`~symbackprop.gradient_flow`; None
        without ``gradient_flow``),
        ``settings`` and ``final`` (the trained parameters, name -> float).

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy")
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]); Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    >>> r = record_training(net, X, Y, net.init_params(0), epochs=5, lr=0.5, batch_size=4,
    ...                     seed=0, momentum=0.0, snapshots=12)
    >>> r["epochs"], len(r["weights"]), len(r["loss"])
    ([0, 1, 2, 3, 4, 5], 6, 5)
    """
    from ..training import train

    model = net.compile()
    settings = dict(lr=lr, batch_size=batch_size, seed=seed, momentum=momentum, progress=False)
    # The gradient flow is recorded on the full run only (it changes no result: the
    # snapshots below, trained again without it, are the same numbers).
    final, history = train(net, X, Y, epochs=epochs, params=params, gradient_flow=gradient_flow,
                           accuracy=True, **settings)
    done = history.epochs  # fewer than asked when interrupted
    marks = snapshot_epochs(done, snapshots)
    weights, snap_loss = [], []
    boundary = None
    if X.shape[1] == 2:
        grid, box = _boundary_grid(X)
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(X), MAX_POINTS, replace=False)) if len(X) > MAX_POINTS else np.arange(len(X))
        cls, _ = _classes(Y[keep] if Y.shape[1] > 1 else Y[keep].clip(0, 1))
        boundary = {"grid": GRID, "box": box, "rasters": [],
                    "points": [[float(a), float(b), int(c)] for (a, b), c in zip(X[keep], cls)]}
    for e in marks:
        if e == 0:
            p = dict(params)
        elif e == done:
            p = final
        else:
            p, _ = train(net, X, Y, epochs=e, params=params, **settings)
        # Only drawn (edge width and colour): four digits are plenty, and a third the size.
        weights.append([None if finite(p[s]) is None else float(f"{p[s]:.4g}") for s in net.params])
        snap_loss.append(finite(model.loss(p, X, Y)))
        if boundary is not None:
            boundary["rasters"].append(_raster(model, p, grid))
    return {
        "loss": [finite(v) for v in history.loss],
        "accuracy": [finite(v) for v in history.accuracy],
        "epochs": marks,
        "snap_loss": snap_loss,
        "weights": weights,
        "boundary": boundary,
        "flow": gradient_flow_hook(history),
        "settings": {"epochs": done, "lr": lr, "batch_size": batch_size, "seed": seed,
                     "momentum": momentum, "samples": int(len(X))},
        "final": {s.name: finite(v) for s, v in final.items()},
    }


def gradient_flow_hook(history) -> dict[str, Any] | None:
    """What the explorer's gradient-flow section shows, from ``sbp.gradient_flow(history)``.

    Per epoch and layer: the RMS δ norm, its bound and the weight-gradient norm; whether
    the bound held; the dead and saturated units. None when the history recorded no flow.

    Examples
    --------
    >>> gradient_flow_hook(None) is None
    True
    """
    if history is None or getattr(history, "gradient_flow", None) is None:
        return None
    from ..flow import gradient_flow

    d = gradient_flow(history).to_dict()
    keys = ("epochs", "eval_rows", "delta_norm", "bound", "grad_w_norm", "bound_holds", "dead", "saturated")
    out = {k: d[k] for k in keys}
    out["slope_bounds"] = [b["exact"] for b in d["slope_bounds"]]
    return out
