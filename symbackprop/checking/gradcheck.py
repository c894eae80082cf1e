"""Finite-difference check of a compiled network: :func:`gradcheck`.

For users who extend the library with their own activations or losses: the compiled
gradient of every parameter is compared with the central difference
(L(p + ε) − L(p − ε)) / 2ε of the compiled batch loss, in the way
``torch.autograd.gradcheck`` does (a parameter passes when
|analytic − numeric| ≤ atol + rtol·|numeric|).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .. import numeric
from ..params import to_arrays, to_mapping
from .evaluate import _program

__all__ = ["GradcheckResult", "gradcheck"]


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes
    ----------
    ok : bool
        Every parameter within ``atol + rtol·|numeric|``.
    max_abs_error, max_rel_error : float
        Over all parameters; the relative error is |a − n| / max(|a|, |n|, atol).
    worst : sympy.Symbol
        The parameter with the largest relative error.
    analytic, numeric : dict[Symbol, float]
        The compiled gradient and the central differences.
    failed : tuple of Symbol
        Parameters outside the tolerance.
    eps, atol, rtol : float
        The settings used.
    """

    ok: bool
    max_abs_error: float
    max_rel_error: float
    worst: sp.Symbol
    analytic: dict[sp.Symbol, float]
    numeric: dict[sp.Symbol, float]
    failed: tuple[sp.Symbol, ...]
    eps: float
    atol: float
    rtol: float

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        w = self.worst
        head = "PASSED" if self.ok else f"FAILED for {len(self.failed)} of {len(self.analytic)} parameters"
        return (
            f"gradcheck {head}: max relative error {self.max_rel_error:.3g}, "
            f"max absolute error {self.max_abs_error:.3g} (eps={self.eps:g}, atol={self.atol:g}, "
            f"rtol={self.rtol:g}).\nWorst parameter: {w.name}: analytic {self.analytic[w]:.10g}, "
            f"central difference {self.numeric[w]:.10g}."
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "ok": self.ok,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "worst": self.worst.name,
            "failed": [p.name for p in self.failed],
            "analytic": {p.name: v for p, v in self.analytic.items()},
            "numeric": {p.name: v for p, v in self.numeric.items()},
            "eps": self.eps,
            "atol": self.atol,
            "rtol": self.rtol,
        }


class _Evaluated:
    """Loss and gradient from the symbolic derivation, evaluated numerically.

    Used when the compiler (:mod:`symbackprop.compile`) is not available: the forward
    pass, the δ recursion and every ∂J/∂p are one program of :mod:`symbackprop.numeric`
    (compiled once, then cached).
    """

    def __init__(self, net):
        self.net = net
        # Named after the gradient they hold; stable, so that the program's cache hits.
        grads = [(sp.Symbol(f"∂J/∂{p.name}"), net.grad(p)) for p in net.params]
        self._program = _program(net) + grads
        self._grads = dict(zip(net.params, (g for g, _ in grads)))

    def _values(self, params, X, Y):
        X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float).reshape(len(X), -1)
        n = len(X)
        leaves = {p: np.full(n, float(v)) for p, v in params.items()}
        leaves.update({x: X[:, i] for i, x in enumerate(self.net.inputs)})
        leaves.update({y: Y[:, i] for i, y in enumerate(self.net.targets)})
        return numeric.run(self._program, leaves)

    def loss(self, params, X, Y) -> float:
        return float(np.mean(self._values(params, X, Y)[self.net.J]))

    def gradient(self, params, X, Y) -> dict[sp.Symbol, float]:
        values = self._values(params, X, Y)
        return {p: float(np.mean(values[g])) for p, g in self._grads.items()}


def gradcheck(
    net,
    params: Mapping[sp.Symbol | str, float] | Sequence,
    X: Any,
    Y: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    model: Any = None,
) -> GradcheckResult:
    """Compare every parameter's compiled gradient with central differences of the loss.

    Parameters
    ----------
    net : Network or Computation
    params : Mapping[Symbol or str, float] or per-layer [(W, b), ...]
        Where to check.
    X, Y : array-like
        A batch: shapes (n, n_0) and (n, n_L).
    eps : float
        Step of the central difference.
    atol, rtol : float
        A parameter passes when |analytic − numeric| ≤ atol + rtol·|numeric|
        (the defaults of ``torch.autograd.gradcheck``).
    model : object with ``loss(params, X, Y)`` and ``gradient(params, X, Y)``, optional
        What to check; default ``net.compile()``.

    Returns
    -------
    GradcheckResult
        ``.ok``, ``.max_rel_error``, ``.worst``; ``print`` it for a summary.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> net = sbp.mlp([2, 3, 1], activation="tanh", loss="quadratic")
    >>> X, Y = np.array([[0.5, -1.0], [1.0, 2.0]]), np.array([[0.2], [0.7]])
    >>> r = sbp.gradcheck(net, net.init_params(seed=0), X, Y)
    >>> r.ok, r.max_rel_error < 1e-6
    (True, True)
    """
    if model is None:
        try:
            model = net.compile()
        except ImportError:  # the compiler is an optional part of the flow
            model = _Evaluated(net)
    if hasattr(net, "definitions"):  # a computation: its model converts its parameters
        point = model.mapping(model.arrays(params))
    else:
        point = to_mapping(net, to_arrays(net, params))
    analytic = {p: float(v) for p, v in model.gradient(point, X, Y).items()}
    numeric: dict[sp.Symbol, float] = {}
    for p in net.params:
        up, down = dict(point), dict(point)
        up[p] += eps
        down[p] -= eps
        numeric[p] = (model.loss(up, X, Y) - model.loss(down, X, Y)) / (2 * eps)
    a = np.array([analytic[p] for p in net.params])
    n = np.array([numeric[p] for p in net.params])
    abs_err = np.abs(a - n)
    rel_err = abs_err / np.maximum(np.maximum(np.abs(a), np.abs(n)), atol)
    failed = tuple(p for p, e, v in zip(net.params, abs_err, n) if not e <= atol + rtol * abs(v))
    worst = net.params[int(np.argmax(rel_err))]
    return GradcheckResult(
        ok=not failed,
        max_abs_error=float(abs_err.max()),
        max_rel_error=float(rel_err.max()),
        worst=worst,
        analytic=analytic,
        numeric=numeric,
        failed=failed,
        eps=eps,
        atol=atol,
        rtol=rtol,
    )
