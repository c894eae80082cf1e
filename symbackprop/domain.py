"""Which values data may hold: finite inputs, and targets inside the loss's domain.

Checked at the edges, where data enters: :meth:`CompiledModel.check_data` (so
:func:`symbackprop.train`, ``model.loss``, ``model.gradient`` and ``model.predict``) and
:func:`symbackprop.datasets.for_network` (so the command line, with file lines).

:data:`TARGET_DOMAINS` says, per registered loss name, which targets it is defined for:

- ``binary_cross_entropy``: y in [0, 1]. −[y log a + (1−y) log(1−a)] is a probability's
  log-likelihood; outside [0, 1] it has no minimum (y = 2 drives a to 1 and J to −∞).
- ``cross_entropy``: y in [0, 1], each y_j the probability of class j (one-hot rows for
  classes). y < 0 makes J unbounded below. A row need not sum to 1: the fused softmax
  gradient δ = a·Σy − y is exact for any such row, so scaled rows are the user's choice,
  not an error; but y = 2 or 5 is almost always a class number given where one output per
  class was meant, so it is refused with that hint.
- ``quadratic``, ``mse`` and custom losses: any finite y.

Every value must be finite (no NaN or ±inf) whatever the loss. The table is keyed by loss
name and applies only to the registered loss of that name (a custom loss that reuses a name
is not checked). Each domain is declared where its loss is, in the registry
(``register_loss(..., targets=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .errors import DataError

__all__ = ["TARGET_DOMAINS", "check_finite", "check_targets", "check_values"]

class _Domains(Mapping):
    """Registered loss name -> (lowest, highest, what the targets are): a live view of the
    ``targets`` field of the loss registry (:func:`symbackprop.register_loss`)."""

    def _table(self) -> dict[str, tuple[float, float, str]]:
        from .losses import LOSSES  # imported when data is checked, not with the CLI

        return {name: loss.targets for name, loss in LOSSES.items() if loss.targets is not None}

    def __getitem__(self, name: str) -> tuple[float, float, str]:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


#: Registered loss name -> (lowest, highest, what the targets are), both ends included.
TARGET_DOMAINS: Mapping[str, tuple[float, float, str]] = _Domains()

#: ``locate(row, column)`` -> where that cell is, for the message (default: array indices).
Locate = Callable[[int, int], str]


def _at(name: str) -> Locate:
    return lambda r, c: f"{name} at row {r}, column {c} (counting from 0)"


def check_finite(name: str, array: np.ndarray, locate: Locate | None = None) -> None:
    """Raise :class:`DataError` naming the first NaN or infinite value of ``array`` (2-D).

    Examples
    --------
    >>> check_finite("X", np.array([[0.0, 1.0], [2.0, np.inf]]))
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: X holds a non-finite value (inf) at row 1, column 1 (counting from 0).
    """
    finite = np.isfinite(array)
    if finite.all():
        return
    r, c = (int(i) for i in np.argwhere(~finite)[0])
    where = (locate or _at(name))(r, c)
    if locate is None:
        raise DataError(f"{name} holds a non-finite value ({float(array[r, c])}) at row {r}, column {c} (counting from 0).")
    raise DataError(f"{where}: {float(array[r, c])} is not finite (NaN and infinite values are not accepted).")


def _registered_name(loss: Any) -> str | None:
    """The table key for ``loss`` (a name or a Loss), or None when it is not checked."""
    name = loss if isinstance(loss, str) else getattr(loss, "name", None)
    if name not in TARGET_DOMAINS:
        return None
    if not isinstance(loss, str):
        from .losses import LOSSES

        if LOSSES.get(name) is not loss:  # a custom loss that happens to reuse the name
            return None
    return name


def check_targets(loss: Any, Y: np.ndarray, locate: Locate | None = None) -> None:
    """Raise :class:`DataError` naming the first target outside ``loss``'s domain.

    Parameters
    ----------
    loss : Loss or str
        The network's loss, or a registered loss name (see :data:`TARGET_DOMAINS`).
    Y : numpy.ndarray
        Targets, shape (n_samples, n_outputs), already checked to be finite.
    locate : callable, optional
        ``locate(row, column)`` -> a description of where that cell is (a file line and
        column name); default: the row and column of ``Y``.

    Examples
    --------
    >>> check_targets("binary_cross_entropy", np.array([[0.0], [1.0], [0.25]]))
    >>> check_targets("cross_entropy", np.array([[0.0, 1.0], [5.0, 0.0]]))
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: Y at row 1, column 0 (counting from 0) holds 5.0, outside the domain of the loss 'cross_entropy': its targets are class probabilities in [0, 1] (one-hot rows: a column of class numbers needs one output per class).
    """
    name = _registered_name(loss)
    if name is None or Y.size == 0:
        return
    low, high, what = TARGET_DOMAINS[name]
    outside = (Y < low) | (Y > high)
    if not outside.any():
        return
    r, c = (int(i) for i in np.argwhere(outside)[0])
    where = (locate or _at("Y"))(r, c)
    raise DataError(
        f"{where} holds {float(Y[r, c])!r}, outside the domain of the loss {name!r}: its targets are {what}."
    )


def check_values(loss: Any, X: np.ndarray, Y: np.ndarray | None = None) -> None:
    """Check inputs ``X`` (and targets ``Y``) are finite and ``Y`` is in ``loss``'s domain.

    The one call :meth:`CompiledModel.check_data` makes, on float64 arrays of checked shape.

    Examples
    --------
    >>> check_values("quadratic", np.zeros((2, 2)), np.array([[3.0], [-7.0]]))
    >>> check_values("binary_cross_entropy", np.zeros((2, 2)), np.array([[1.0], [-1.0]]))
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: Y at row 1, column 0 (counting from 0) holds -1.0, outside the domain of the loss 'binary_cross_entropy': its targets are probabilities in [0, 1] (0/1 labels).
    """
    check_finite("X", X)
    if Y is not None:
        check_finite("Y", Y)
        check_targets(loss, Y)
