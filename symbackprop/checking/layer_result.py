"""What :func:`~symbackprop.checking.layer.check_layer` returns: the verdict on a matrix formula."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .result import Diagnosis, explain

__all__ = ["LayerCheckResult", "LayerCounterexample"]


def _fmt(v: np.ndarray | float) -> str:
    """A matrix on one line, row by row: ``[[0.5, -1], [2, 0.25]]``."""
    v = np.asarray(v, dtype=float)
    if v.ndim == 0:
        return f"{float(v):.6g}"
    return "[" + ", ".join("[" + ", ".join(f"{x:.6g}" for x in row) + "]" for row in np.atleast_2d(v)) + "]"


def _plain(v: np.ndarray) -> Any:
    # Non-finite numbers as strings, so that the JSON stays standard.
    out = np.asarray(v, dtype=float)
    return [[x if np.isfinite(x) else str(x) for x in row] for row in np.atleast_2d(out).tolist()]


@dataclass(frozen=True)
class LayerCounterexample:
    """One random draw where a matrix formula and the true quantity differ.

    Attributes
    ----------
    values : dict[str, numpy.ndarray]
        The layer matrices and vectors the formula and the true formula use (``W2``,
        ``delta2``, ``a1``, ...), as drawn.
    formula_value, true_value : numpy.ndarray
        Both sides at that draw (same shape).
    """

    values: dict[str, np.ndarray]
    formula_value: np.ndarray
    true_value: np.ndarray

    def text(self) -> str:
        """The draw and both values, one matrix a line."""
        lines = ["  at " + "; ".join(f"{k} = {_fmt(v)}" for k, v in self.values.items())]
        lines.append(f"  your formula = {_fmt(self.formula_value)}")
        lines.append(f"  true value   = {_fmt(self.true_value)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (matrices as lists of rows)."""
        return {
            "values": {k: _plain(v) for k, v in self.values.items()},
            "formula_value": _plain(self.formula_value),
            "true_value": _plain(self.true_value),
        }


@dataclass(frozen=True)
class LayerCheckResult:
    """The verdict on one matrix-form (layer-level) answer.

    Attributes
    ----------
    ok : bool
        True when the formula equals the true quantity at every random draw.
    wrt : str
        What was asked for: ``"dW1"``, ``"db2"``, ``"delta1"``, ``"z2"``, ``"a1"``.
    formula : str
        The formula as read (normalised spacing).
    truth : str
        The true formula in the same syntax (``"delta1 @ x.T"``).
    shape : tuple of int
        The shape of the true quantity (rows, columns).
    counterexample : LayerCounterexample or None
        A draw where the two differ (None when right, or when the formula's shapes do not fit).
    diagnosis : Diagnosis or None
        The most specific named slip found.
    diagnoses : tuple of Diagnosis
        Every slip found (the first is :attr:`diagnosis`).
    subject : str
        What was computed, for the report (``"∂J/∂W⁽¹⁾"``).
    source : str
        The formula as typed.
    batch : int or None
        The number of samples (the columns of x, a, δ) in batch form; None: one sample.
    outcomes : dict[str, str]
        What the numeric test found, in words.
    """

    ok: bool
    wrt: str
    formula: str
    truth: str
    shape: tuple[int, int]
    counterexample: LayerCounterexample | None = None
    diagnosis: Diagnosis | None = None
    diagnoses: tuple[Diagnosis, ...] = ()
    subject: str = ""
    source: str = ""
    batch: int | None = None
    outcomes: dict[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``"right"`` or ``"wrong"``."""
        return "right" if self.ok else "wrong"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        rows, cols = self.shape
        return explain(self.ok, self.subject, self.source or self.formula, self.counterexample,
                       self.diagnoses, truth=f"{self.truth}  (shape {rows}×{cols})",
                       outcomes=self.outcomes,
                       slips="transpose, @ or ⊙, layer, f'(z), batch average, sign, factor")

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data, for JSON.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.check_layer(sbp.mlp([2, 3, 2]), "db2", "delta2").to_dict()
        >>> d["ok"], d["verdict"], d["truth"], d["shape"]
        (True, 'right', 'delta2', [2, 1])
        """
        return {
            "ok": self.ok,
            "verdict": self.verdict,
            "wrt": self.wrt,
            "formula": self.formula,
            "source": self.source,
            "truth": self.truth,
            "shape": list(self.shape),
            "batch": self.batch,
            "counterexample": None if self.counterexample is None else self.counterexample.to_dict(),
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
            "diagnoses": [d.to_dict() for d in self.diagnoses],
            "outcomes": dict(self.outcomes),
        }
