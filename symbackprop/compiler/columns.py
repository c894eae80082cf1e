"""Data for a computation: columns matched to its inputs and targets, by name or by order.

A computation's inputs and targets are named (``x``, ``y``), so data that names its
columns is matched by name: a :class:`~symbackprop.datasets.Dataset` (a CSV file's
header, :func:`symbackprop.datasets.load_csv`), a mapping ``{"x": array, ...}`` (names or
Symbols as keys), a pandas ``DataFrame`` or a NumPy structured array. Plain arrays are
matched by the declared order: column j of X is ``inputs[j]``, column j of Y
``targets[j]`` (a 1-D array for a single input or target). A missing or extra column, or
columns of different lengths, give one-line :class:`~symbackprop.errors.DataError`
naming them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..domain import check_finite
from ..errors import DataError

__all__ = ["named_columns", "select"]


def _as_float(value: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must hold numbers: {exc}.") from None


def named_columns(data: Any) -> dict[str, np.ndarray] | None:
    """``{name: column}`` when ``data`` names its columns, else None.

    Examples
    --------
    >>> named_columns({"x": [1, 2], "y": [3, 4]})
    {'x': array([1., 2.]), 'y': array([3., 4.])}
    >>> named_columns(np.zeros((2, 2))) is None
    True
    """
    if hasattr(data, "features") and hasattr(data, "X") and hasattr(data, "Y"):  # a Dataset
        X, Y = np.asarray(data.X, dtype=np.float64), np.asarray(data.Y, dtype=np.float64)
        out = {str(name): X[:, j] for j, name in enumerate(data.features)}
        target = tuple(getattr(data, "target", ()))
        if Y.ndim == 2 and Y.shape[1] == len(target) and getattr(data, "classes", None) is None:
            out.update({str(name): Y[:, j] for j, name in enumerate(target)})
        elif Y.ndim == 2 and Y.shape[1]:
            # A class column, one-hot: one column per class, named after the classes.
            out.update({str(name): Y[:, j] for j, name in enumerate(data.classes or ())})
        return out
    names = getattr(getattr(data, "dtype", None), "names", None)
    if names:  # a structured array
        return {str(n): _as_float(data[n], f"Column {n!r}") for n in names}
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a DataFrame
        return {str(n): _as_float(data[n].to_numpy(), f"Column {n!r}") for n in data.columns}
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            name = key.name if isinstance(key, sp.Symbol) else key
            if not isinstance(name, str):
                raise DataError(f"Data given as a mapping needs column names (or Symbols) as keys; got {key!r}.")
            out[name] = _as_float(value, f"Column {name!r}")
        return out
    return None


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


def _pick(columns: dict[str, np.ndarray], wanted: Sequence[str], what: str) -> np.ndarray:
    missing = [n for n in wanted if n not in columns]
    if missing:
        raise DataError(
            f"The data has no column for the {what} {_listed(missing)} (its columns: "
            f"{_listed(list(columns))}); name the columns after the computation's {what}s."
        )
    for n in wanted:
        if columns[n].ndim != 1:
            raise DataError(f"Column {n!r} must be one value per row (1-D); got shape {columns[n].shape}.")
    lengths = {n: len(columns[n]) for n in wanted}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{n!r} {k}" for n, k in lengths.items())
        raise DataError(f"The data's columns have different numbers of rows: {shown}.")
    return np.stack([columns[n] for n in wanted], axis=1) if wanted else np.zeros((0, 0))


def _ordered(value: Any, names: Sequence[str], what: str) -> np.ndarray:
    a = _as_float(value, what)
    if a.ndim == 1 and len(names) == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[1] != len(names):
        raise DataError(
            f"{what} must have shape (n_rows, {len(names)}), one column per {_role(what)} "
            f"({_listed(names)}, in that order), or name its columns; got shape {a.shape}."
        )
    return a


def _role(what: str) -> str:
    return "input" if what == "X" else "target"


def _check_names(columns: dict[str, np.ndarray], inputs: Sequence[str], targets: Sequence[str],
                 need_targets: bool) -> None:
    """One error naming every missing and every extra column, when there are any."""
    missing = [n for n in inputs if n not in columns]
    if need_targets or any(t in columns for t in targets):
        missing += [n for n in targets if n not in columns]
    extra = [n for n in columns if n not in inputs and n not in targets]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"no column for {_listed(missing)}")
    if extra:
        parts.append(f"column(s) {_listed(extra)} that are not an input or target")
    raise DataError(
        f"The data has {' and '.join(parts)} (its columns: {_listed(list(columns))}; the computation's "
        f"inputs: {_listed(inputs)}; targets: {_listed(targets)}); name the columns after them."
    )


def select(
    X: Any, Y: Any, inputs: Sequence[str], targets: Sequence[str], need_targets: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """X of shape (n, len(inputs)) and Y of shape (n, len(targets)) (or None), float64, finite.

    Named data is matched by name; a named X may also hold the target columns (then Y may
    be left out). Columns that are neither an input nor a target are refused.

    Examples
    --------
    >>> X, Y = select({"y": [1.0, 0.0], "x": [2.0, 3.0]}, None, ["x"], ["y"])
    >>> X.tolist(), Y.tolist()
    ([[2.0], [3.0]], [[1.0], [0.0]])
    >>> select({"x": [1.0], "z": [2.0]}, None, ["x"], [])
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: The data has column(s) z that are not an input or target (its columns: x, z; the computation's inputs: x; targets: (none)); name the columns after them.
    """
    columns = named_columns(X)
    if columns is None:
        Xa = _ordered(X, inputs, "X")
    else:
        _check_names(columns, inputs, targets, need_targets and Y is None)
        Xa = _pick(columns, inputs, "input")
        if not inputs:
            Xa = np.zeros((len(next(iter(columns.values()), [])), 0))
    n = Xa.shape[0]
    Ya: np.ndarray | None
    if not targets:
        Ya = np.zeros((n, 0))
    elif Y is not None:
        named = named_columns(Y)
        Ya = _pick(named, targets, "target") if named is not None else _ordered(Y, targets, "Y")
    elif columns is not None and any(t in columns for t in targets) or (columns is not None and need_targets):
        Ya = _pick(columns, targets, "target")
    elif need_targets:
        raise DataError(
            f"No targets: give Y (one column per target: {_listed(targets)}) or name the target "
            "columns in the data."
        )
    else:
        Ya = None
    if Ya is not None and Ya.shape[0] != n:
        raise DataError(f"X has {n} rows but Y has {Ya.shape[0]}; give one target row per input row.")
    check_finite("X", Xa, lambda r, c: f"Column {inputs[c]!r}, row {r} (counting from 0)")
    if Ya is not None:
        check_finite("Y", Ya, lambda r, c: f"Column {targets[c]!r}, row {r} (counting from 0)")
    return Xa, Ya
