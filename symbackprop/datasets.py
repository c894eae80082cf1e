"""Small data sets to train on, and reading a user's CSV file.

Built in (each reproducible from an explicit ``seed``; inputs X of shape (n, 2), float64):

- :func:`xor`: the four corners of the unit square, target x1 XOR x2.
- :func:`moons`: two interleaving half circles (one per class).
- :func:`circles`: a small circle inside a large one.
- :func:`spirals`: two interleaved spiral arms, the hardest of the four.
- :func:`iris`: Fisher's iris flowers (public domain, 1936): 150 samples, 4 measurements
  in cm, 3 species one-hot encoded. Shipped as ``symbackprop/data/iris.csv``, written from
  the copy in scikit-learn's ``sklearn/datasets/data/iris.csv``.

Every loader returns a :class:`Dataset`, which unpacks as ``X, Y = sbp.datasets.moons()``
and carries the column names and, for a class column, the class names.

:func:`load_csv` reads a user's file: a header row of column names, numeric feature
columns, and target column(s). A target column holding names (``setosa``...) becomes one
one-hot column per class, in sorted order of the names. Bad data (an empty file, a missing
or non-numeric cell, NaN, a ragged row, an unknown column) gets a one-line
:class:`DataError` naming the line and column.
"""

from __future__ import annotations

import csv
import io
import math
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from .domain import check_finite, check_targets
from .errors import DataError, unknown
from .files import LIMITS, limit, open_input

if TYPE_CHECKING:  # pragma: no cover
    from .spec import Spec

__all__ = [
    "BUILTIN",
    "DataError",
    "Dataset",
    "circles",
    "for_network",
    "iris",
    "load_csv",
    "load_data",
    "moons",
    "spirals",
    "xor",
]


@dataclass(eq=False)
class Dataset:
    """Inputs ``X`` (n, n_features) and targets ``Y`` (n, n_outputs), with their names.

    Unpacks as ``X, Y = data`` (and ``data[0]`` is X, ``data[1]`` is Y).

    Attributes
    ----------
    X, Y : numpy.ndarray
        float64 arrays with one row per sample.
    features : tuple of str
        Names of the columns of X.
    target : tuple of str
        Names of the source column(s) Y was read from.
    classes : tuple of str or None
        For a class column: the class names, sorted; column j of Y is 1 where the sample
        is of class ``classes[j]`` (for two classes and one output, see :func:`for_network`).
    name : str
        Where the data came from (``"iris"``, a file path).
    lines : numpy.ndarray or None
        For data read from a file: the line of the file each row came from (for messages).

    Examples
    --------
    >>> data = iris()
    >>> X, Y = data
    >>> X.shape, Y.shape, data.classes
    ((150, 4), (150, 3), ('setosa', 'versicolor', 'virginica'))
    """

    X: np.ndarray
    Y: np.ndarray
    features: tuple[str, ...]
    target: tuple[str, ...]
    classes: tuple[str, ...] | None = None
    name: str = ""
    lines: np.ndarray | None = field(default=None, repr=False)

    def __iter__(self):
        return iter((self.X, self.Y))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index):
        return (self.X, self.Y)[index]

    @property
    def n_samples(self) -> int:
        """Number of rows."""
        return self.X.shape[0]

    def __repr__(self) -> str:
        classes = f", classes {', '.join(self.classes)}" if self.classes else ""
        return (
            f"Dataset({self.name or 'data'}: {self.n_samples} samples, "
            f"{self.X.shape[1]} features -> {self.Y.shape[1]} targets{classes})"
        )


# ------------------------------------------------------------------ generators
def _check(n: int, noise: float, minimum: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise DataError(f"n must be an integer of at least {minimum}; got {n!r}.")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise DataError(f"noise must be a finite number >= 0; got {noise!r}.")


def _binary(points: list[np.ndarray], rng: np.random.Generator, noise: float, name: str) -> Dataset:
    """Stack class 0 and class 1 points, add Gaussian noise, shuffle."""
    X = np.concatenate(points)
    Y = np.concatenate([np.full((len(p), 1), float(c)) for c, p in enumerate(points)])
    # Drawn even when noise is 0, so that only the noise changes with it, not the samples.
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(X))
    return Dataset(X[order], Y[order], ("x1", "x2"), ("y",), None, name)


def xor() -> Dataset:
    """The XOR problem: the four corners of the unit square, y = x1 XOR x2.

    Examples
    --------
    >>> X, Y = xor()
    >>> X.tolist(), Y.ravel().tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0.0, 1.0, 1.0, 0.0])
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return Dataset(X, Y, ("x1", "x2"), ("y",), None, "xor")


def moons(n: int = 200, noise: float = 0.1, seed: int | np.random.Generator = 0) -> Dataset:
    """Two interleaving half circles: class 0 on top, class 1 below, shifted right.

    Parameters
    ----------
    n : int
        Number of samples (half per class; the odd one goes to class 1).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int or numpy.random.Generator
        Source of randomness; the same seed gives the same data.

    Examples
    --------
    >>> X, Y = moons(100, noise=0.1, seed=0)
    >>> X.shape, Y.shape, int(Y.sum())
    ((100, 2), (100, 1), 50)
    """
    _check(n, noise, 2)
    rng = np.random.default_rng(seed)
    t0, t1 = rng.uniform(0, np.pi, n // 2), rng.uniform(0, np.pi, n - n // 2)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])
    return _binary([upper, lower], rng, noise, "moons")


def circles(
    n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | np.random.Generator = 0
) -> Dataset:
    """A circle of radius ``factor`` (class 1) inside a circle of radius 1 (class 0).

    Examples
    --------
    >>> X, Y = circles(10, noise=0.0, factor=0.5, seed=0)
    >>> np.round(np.hypot(X[:, 0], X[:, 1]), 6).tolist() == (1 - Y.ravel() / 2).tolist()
    True
    """
    _check(n, noise, 2)
    if not (isinstance(factor, (int, float)) and 0 < factor < 1):
        raise DataError(f"factor (inner radius / outer radius) must be in (0, 1); got {factor!r}.")
    rng = np.random.default_rng(seed)
    t0, t1 = rng.uniform(0, 2 * np.pi, n // 2), rng.uniform(0, 2 * np.pi, n - n // 2)
    outer = np.column_stack([np.cos(t0), np.sin(t0)])
    inner = factor * np.column_stack([np.cos(t1), np.sin(t1)])
    return _binary([outer, inner], rng, noise, "circles")


def spirals(
    n: int = 200, noise: float = 0.05, seed: int | np.random.Generator = 0, turns: float = 1.0
) -> Dataset:
    """Two spiral arms of ``turns`` turns each, the second the first rotated by half a turn.

    A point at distance r ∈ (0, 1] from the centre lies at angle 2π·turns·r (+ π for class 1).

    Examples
    --------
    >>> X, Y = spirals(200, seed=0)
    >>> X.shape, int(Y.sum()), bool(np.abs(X).max() < 1.5)
    ((200, 2), 100, True)
    """
    _check(n, noise, 2)
    if not (isinstance(turns, (int, float)) and math.isfinite(turns) and turns > 0):
        raise DataError(f"turns must be a number > 0; got {turns!r}.")
    rng = np.random.default_rng(seed)
    arms = []
    for c, m in enumerate((n // 2, n - n // 2)):
        r = rng.uniform(0.05, 1.0, m)
        angle = 2 * np.pi * turns * r + c * np.pi
        arms.append(r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))
    return _binary(arms, rng, noise, "spirals")


def iris() -> Dataset:
    """Fisher's iris data: X (150, 4) in cm, Y one-hot (150, 3); ``.classes`` names them.

    Columns of X: sepal_length, sepal_width, petal_length, petal_width. Columns of Y:
    setosa, versicolor, virginica (``data.classes``). Rows in the order of the original
    table (50 of each species, in turn).

    Examples
    --------
    >>> data = iris()
    >>> data.features
    ('sepal_length', 'sepal_width', 'petal_length', 'petal_width')
    >>> data.Y.sum(axis=0).tolist()
    [50.0, 50.0, 50.0]
    """
    ref = resources.files("symbackprop") / "data" / "iris.csv"
    with resources.as_file(ref) as path:
        data = load_csv(path, target="species")
    data.name = "iris"
    return data


#: Built-in data sets by name, as ``symbackprop train --data NAME`` finds them.
BUILTIN = {"xor": xor, "moons": moons, "circles": circles, "spirals": spirals, "iris": iris}


# ------------------------------------------------------------------ CSV files
def _number(text: str) -> float | None:
    """``float(text)`` for a numeric cell, None for anything else (NaN counts as a number)."""
    try:
        return float(text)
    except ValueError:
        return None


def load_csv(
    path: str | os.PathLike,
    target: str | Sequence[str] | None = None,
    *,
    features: Sequence[str] | None = None,
    max_bytes: int | None = None,
    max_rows: int | None = None,
    max_columns: int | None = None,
    max_cells: int | None = None,
) -> Dataset:
    """Read a CSV file with a header row into a :class:`Dataset`.

    The file is read once, row by row, in time linear in its size; each feature cell is
    converted as it is read.

    Parameters
    ----------
    path : str or path-like
        The file: a first row of column names, then one sample per row, comma-separated.
        Blank lines are skipped. ``-`` reads standard input. A FIFO or a device is refused.
    target : str, sequence of str, or None
        Target column name(s). None: the last column. ``()``: no targets (for prediction;
        Y then has 0 columns). A single target column holding names instead of numbers is
        one-hot encoded, one column per class in sorted order (``data.classes``).
    features : sequence of str, optional
        Feature column names, in the order the network takes them. Default: every column
        that is not a target, in file order. Every feature cell must be a finite number.
    max_bytes, max_rows, max_columns, max_cells : int, optional
        Limits on the file's size, its data rows, its columns, and the numbers X and Y hold
        together (rows × columns, a class column counting one column per class). Default:
        the environment variables ``SYMBACKPROP_MAX_DATA_BYTES`` (256 MiB),
        ``SYMBACKPROP_MAX_DATA_ROWS`` (10,000,000), ``SYMBACKPROP_MAX_DATA_COLUMNS``
        (100,000) and ``SYMBACKPROP_MAX_DATA_CELLS`` (2**25, 256 MiB of float64), else
        those defaults.

    Raises
    ------
    DataError
        Naming the file, line and column: an unreadable, empty or oversized file, a FIFO
        or device, a missing header, a row with the wrong number of cells, an empty,
        non-numeric, NaN or infinite cell, an unknown column name (with the closest match).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pets.csv"
    >>> _ = path.write_text("weight,height,kind\\n4.0,25,cat\\n30,60,dog\\n5,30,cat\\n")
    >>> data = load_csv(path, target="kind")
    >>> data.X.tolist(), data.Y.tolist(), data.classes
    ([[4.0, 25.0], [30.0, 60.0], [5.0, 30.0]], [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], ('cat', 'dog'))
    >>> _ = path.write_text("weight,height,kind\\n4.0,?,cat\\n")
    >>> load_csv(path, target="kind")
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: ...pets.csv, line 2, column 'height': '?' is not a number.
    """
    where = os.fspath(path)
    rows_bound = limit("data_rows", max_rows)
    columns_bound = limit("data_columns", max_columns)
    cells_bound = limit("data_cells", max_cells)
    try:
        with open_input(path, what="data file", error=DataError, limit_name="data_bytes",
                        max_bytes=max_bytes, stdin=True) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            return _read_csv(where, reader, target, features, rows_bound, columns_bound, cells_bound)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{where}: not a readable UTF-8 CSV file ({exc}).") from None
    except OSError as exc:
        raise DataError(f"Cannot read data file {where!r}: {exc.strerror or exc}.") from None


def _too_many_cells(where: str, bound: int) -> DataError:
    return DataError(
        f"{where}: the data holds more than {bound} numbers (rows × columns, one column per "
        f"class), the limit; raise it with max_cells=... or the environment variable "
        f"{LIMITS['data_cells'].env}."
    )


def _read_csv(where: str, reader, target, features, rows_bound: int, columns_bound: int,
              cells_bound: int) -> Dataset:
    header_line, header = 0, None
    for row in reader:
        if any(c.strip() for c in row):
            header_line, header = reader.line_num, [c.strip() for c in row]
            break
    if header is None:
        raise DataError(
            f"{where}: the file is empty; expected a header row of column names, then data rows."
        )
    if len(header) > columns_bound:
        raise DataError(
            f"{where}, line {header_line}: the header has {len(header)} columns, over the limit "
            f"of {columns_bound}; raise it with max_columns=... or the environment variable "
            f"{LIMITS['data_columns'].env}."
        )
    if all(_number(c) is not None for c in header):
        raise DataError(
            f"{where}, line {header_line}: the first row holds numbers, not column names; "
            "add a header row such as x1,x2,y."
        )
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        if not name or name in index:
            what = "is empty" if not name else f"repeats {name!r}"
            raise DataError(f"{where}, line {header_line}: column {i + 1} of the header {what}.")
        index[name] = i

    targets = _columns(where, header, index, target, "target")
    if features is None:
        chosen = set(targets)
        feats = [h for h in header if h not in chosen]
    else:
        feats = _columns(where, header, index, features, "feature")
        both = sorted(set(feats) & set(targets))
        if both:
            raise DataError(f"{where}: column {both[0]!r} is both a feature and a target.")
    if not feats:
        raise DataError(f"{where}: no feature columns (the header is {_shown(header)}).")

    feature_cols = [index[n] for n in feats]
    target_cols = [index[n] for n in targets]
    values = array("d")            # the feature cells, row after row
    texts: list[list[str]] = [[] for _ in targets]
    lines = array("q")
    width = len(header)
    for row in reader:
        if not any(c.strip() for c in row):
            continue
        line = reader.line_num
        if len(row) != width:
            raise DataError(
                f"{where}, line {line}: {len(row)} cells, but the header has {width} "
                f"columns ({_shown(header)})."
            )
        if len(lines) >= rows_bound:
            raise DataError(
                f"{where}: more than {rows_bound} data rows, the limit; raise it with "
                f"max_rows=... or the environment variable {LIMITS['data_rows'].env}."
            )
        if (len(lines) + 1) * (len(feats) + len(targets)) > cells_bound:
            raise _too_many_cells(where, cells_bound)
        lines.append(line)
        for col, name in zip(feature_cols, feats):
            values.append(_cell(where, line, name, row[col].strip()))
        for store, col in zip(texts, target_cols):
            store.append(row[col].strip())
    if not lines:
        raise DataError(f"{where}: the file has a header row but no data rows.")
    n = len(lines)
    X = np.frombuffer(values, dtype=np.float64).reshape(n, len(feats)).copy()

    classes = None
    if not targets:
        Y = np.empty((n, 0))
    else:
        named = [name for name, column in zip(targets, texts)
                 if any(t and _number(t) is None for t in column)]
        if named and len(targets) > 1:
            raise DataError(
                f"{where}: target column {named[0]!r} holds class names; a class column "
                "must be the only --target (it becomes one output per class)."
            )
        if named:
            labels = texts[0]
            for line, label in zip(lines, labels):
                if not label:
                    raise DataError(f"{where}, line {line}, column {named[0]!r}: the cell is empty.")
            classes = tuple(sorted(set(labels)))
            if n * (len(feats) + len(classes)) > cells_bound:  # before the one-hot is made
                raise _too_many_cells(where, cells_bound)
            Y = (np.array(labels)[:, None] == np.array(classes)[None, :]).astype(np.float64)
        else:
            Y = np.column_stack([
                [_cell(where, line, name, t) for line, t in zip(lines, column)]
                for name, column in zip(targets, texts)
            ])
    return Dataset(X, Y, tuple(feats), tuple(targets), classes, where, np.asarray(lines))


def _shown(header: list[str], most: int = 30) -> str:
    """The header's names for a message, the first ``most`` of a long one."""
    if len(header) <= most:
        return ", ".join(header)
    return ", ".join(header[:most]) + f", ... ({len(header)} in all)"


def _cell(where: str, line: int, name: str, text: str) -> float:
    """The finite number in a cell, or a DataError naming the line and column."""
    value = _number(text)
    if value is not None and math.isfinite(value):
        return value
    if not text:
        why = "the cell is empty (missing values are not accepted)"
    elif value is None:
        why = f"{text!r} is not a number"
    elif math.isnan(value):
        why = "NaN (missing values are not accepted)"
    else:
        why = f"{text!r} is not finite"
    raise DataError(f"{where}, line {line}, column {name!r}: {why}.")


def _columns(where: str, header: list[str], index: dict[str, int], names, what: str) -> list[str]:
    if names is None:
        return [header[-1]]
    if isinstance(names, str):
        names = [names]
    try:
        names = list(names)
    except TypeError:
        raise DataError(f"{where}: the {what} columns must be a name or a list of names; got {names!r}.") from None
    out = []
    for name in names:
        if not isinstance(name, str):
            raise DataError(f"{where}: {what} column names must be strings; got {name!r}.")
        name = name.strip()
        if name not in index:
            err = unknown(f"{what} column", name, header)
            raise DataError(f"{where}: {err}") from None
        out.append(name)
    return out


# ------------------------------------------------------------ data for a network
def load_data(source: str, target: str | Sequence[str] | None = None, **limits: int | None) -> Dataset:
    """A built-in data set by name (:data:`BUILTIN`), or a CSV file by path (``-``: stdin).

    ``limits`` (``max_bytes``, ``max_rows``, ``max_columns``) go to :func:`load_csv`.

    Examples
    --------
    >>> load_data("xor").X.shape
    (4, 2)
    >>> load_data("mons")
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: Unknown data set 'mons'. Did you mean 'moons'? Known: xor, moons, circles, spirals, iris, or a CSV file path.
    """
    name = str(source).strip()
    if name in BUILTIN:
        if target is not None:
            raise DataError(f"--target is for CSV files; the built-in {name!r} has its own targets.")
        return BUILTIN[name]()
    if name == "-" or os.path.exists(name) or os.sep in name or name.lower().endswith(".csv"):
        return load_csv(name, target, **limits)
    err = unknown("data set", name, list(BUILTIN))
    raise DataError(str(err).rstrip(".") + ", or a CSV file path.") from None


def for_network(data: Dataset, net: Spec) -> Dataset:
    """``data`` checked (and if need be adapted) to the inputs and outputs of ``net``.

    The number of feature columns must equal the network's inputs. Targets: a class
    column with two classes fits a single output (y = 1 for the second class in sorted
    order); a single column of class numbers 0..n−1 fits n outputs (one-hot encoded).
    Otherwise the number of target columns must equal the network's outputs. Every value
    must be finite and every target in the domain of the network's loss
    (:mod:`symbackprop.domain`); the error names the file line and column.

    Examples
    --------
    >>> from symbackprop.spec import Spec
    >>> data = Dataset(np.zeros((3, 2)), np.array([[0.0], [2.0], [1.0]]), ("a", "b"), ("c",))
    >>> for_network(data, Spec([2, 3], "sigmoid")).Y.tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    >>> for_network(data, Spec([3, 1]))
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: The data has 2 feature columns (a, b) but the network takes 3 inputs (sizes 3-1).
    """
    n_in, n_out = net.sizes[0], net.sizes[-1]
    sizes = "-".join(map(str, net.sizes))
    if data.X.shape[1] != n_in:
        raise DataError(
            f"The data has {data.X.shape[1]} feature columns ({_shown(list(data.features))}) "
            f"but the network takes {n_in} inputs (sizes {sizes})."
        )
    X, Y, classes = data.X, data.Y, data.classes
    if classes is not None and len(classes) == 2 and n_out == 1:
        Y = Y[:, 1:]
    elif classes is None and Y.shape[1] == 1 and n_out > 1:
        values = np.unique(Y)
        if np.array_equal(values, np.arange(len(values))) and len(values) <= n_out:
            Y = (Y == np.arange(n_out)[None, :]).astype(np.float64)
    if Y.shape[1] != n_out:
        what = f"{len(classes)} classes ({_shown(list(classes))})" if classes else (
            f"{Y.shape[1]} target columns ({_shown(list(data.target))})"
        )
        raise DataError(
            f"The data has {what} but the network has {n_out} output{'s' * (n_out != 1)} "
            f"(sizes {sizes}); "
            "make the last layer size match."
        )
    _check_values(data, net, X, Y)
    return Dataset(X, Y, data.features, data.target, classes, data.name, data.lines)


def _check_values(data: Dataset, net: Spec, X: np.ndarray, Y: np.ndarray) -> None:
    """Finite values and targets in the loss's domain, located by file line and column name."""
    lines = data.lines

    def locate(names: Sequence[str], what: str):
        if lines is None or len(names) != (X if what == "X" else Y).shape[1]:
            return None  # not from a file, or one-hot columns: the array's row and column
        prefix = f"{data.name}, " if data.name else ""
        return lambda r, c: f"{prefix}line {int(lines[r])}, column {names[c]!r}"

    check_finite("X", X, locate(data.features, "X"))
    check_finite("Y", Y, locate(data.target, "Y"))
    check_targets(net.loss, Y, locate(data.target, "Y"))

