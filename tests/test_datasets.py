"""Built-in data sets and CSV loading: shapes, determinism, geometry, and every bad-data error."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from bounded import run_cli, run_python

import symbackprop as sbp
from symbackprop.datasets import (
    BUILTIN,
    DataError,
    Dataset,
    circles,
    for_network,
    iris,
    load_csv,
    load_data,
    moons,
    spirals,
    xor,
)
from symbackprop.spec import Spec

GENERATORS = [moons, circles, spirals]


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("n", [2, 7, 200])
def test_generator_shapes_and_balance(make, n):
    X, Y = make(n, seed=1)
    assert X.shape == (n, 2) and Y.shape == (n, 1)
    assert X.dtype == Y.dtype == np.float64
    assert set(Y.ravel().tolist()) <= {0.0, 1.0}
    assert int(Y.sum()) == n - n // 2  # the odd sample goes to class 1
    assert np.isfinite(X).all()


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_are_deterministic(make):
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y)
    assert not np.array_equal(a.X, c.X)
    gen = make(seed=np.random.default_rng(3))
    assert np.array_equal(gen.X, a.X)


def test_moons_geometry_without_noise():
    X, Y = moons(300, noise=0.0, seed=0)
    upper, lower = X[Y[:, 0] == 0], X[Y[:, 0] == 1]
    # Upper moon: unit half circle around (0, 0); lower: around (1, 0.5), opening upwards.
    assert np.allclose(np.hypot(*upper.T), 1.0) and (upper[:, 1] >= 0).all()
    assert np.allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5).all()


def test_circles_and_spirals_geometry_without_noise():
    X, Y = circles(100, noise=0.0, factor=0.3, seed=2)
    assert np.allclose(np.hypot(*X.T), np.where(Y[:, 0] == 1, 0.3, 1.0))
    X, Y = spirals(100, noise=0.0, seed=2, turns=1.5)
    r = np.hypot(*X.T)
    angle = 2 * np.pi * 1.5 * r + np.pi * Y[:, 0]
    assert np.allclose(X, r[:, None] * np.column_stack([np.cos(angle), np.sin(angle)]))


def test_noise_is_gaussian_with_the_given_scale():
    clean, noisy = moons(4000, noise=0.0, seed=5), moons(4000, noise=0.2, seed=5)
    # Same seed: same angles and order, so the difference is the noise itself.
    d = noisy.X - clean.X
    assert abs(d.std() - 0.2) < 0.01 and abs(d.mean()) < 0.01


def test_xor():
    X, Y = xor()
    assert np.array_equal(Y.ravel(), np.logical_xor(X[:, 0], X[:, 1]).astype(float))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: moons(1), "n must be an integer of at least 2"),
        (lambda: moons(10.5), "n must be"),
        (lambda: circles(noise=-1), "noise must be"),
        (lambda: circles(factor=1.0), "factor"),
        (lambda: spirals(turns=0), "turns"),
    ],
)
def test_generator_arguments_checked(call, match):
    with pytest.raises(DataError, match=match):
        call()


def test_iris():
    data = iris()
    X, Y = data
    assert X.shape == (150, 4) and Y.shape == (150, 3)
    assert data.classes == ("setosa", "versicolor", "virginica")
    assert data.features == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert (Y.sum(axis=1) == 1).all() and Y.sum(axis=0).tolist() == [50, 50, 50]
    # Published summary statistics of Fisher's table (means in cm; UCI iris.names).
    assert np.allclose(X.mean(axis=0), [5.843, 3.057, 3.758, 1.199], atol=5e-4)
    assert X[0].tolist() == [5.1, 3.5, 1.4, 0.2] and Y[0].tolist() == [1, 0, 0]
    assert X[-1].tolist() == [5.9, 3.0, 5.1, 1.8] and Y[-1].tolist() == [0, 0, 1]


def test_sbp_datasets_attribute_and_fast_import():
    assert sbp.datasets.xor()[0].shape == (4, 2)
    code = "import sys, symbackprop; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_data_names_and_paths(tmp_path):
    for name in BUILTIN:
        assert isinstance(load_data(name), Dataset)
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")
    assert load_data(str(path)).Y.tolist() == [[2.0]]
    with pytest.raises(DataError, match="Did you mean 'spirals'"):
        load_data("spiral")
    with pytest.raises(DataError, match="Cannot read data file"):
        load_data(str(tmp_path / "missing.csv"))
    with pytest.raises(DataError, match="--target is for CSV files"):
        load_data("xor", target="y")


# ------------------------------------------------------------------ CSV loading
def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_numeric_targets_and_defaults(tmp_path):
    path = write(tmp_path, "x1, x2 ,y1,y2\n1,2,0,1\n\n3.5,-4e-1,1,0\n")
    data = load_csv(path, target=["y1", "y2"])
    assert data.X.tolist() == [[1, 2], [3.5, -0.4]]
    assert data.Y.tolist() == [[0, 1], [1, 0]] and data.classes is None
    assert data.features == ("x1", "x2") and data.target == ("y1", "y2")
    last = load_csv(path)  # default target: the last column
    assert last.target == ("y2",) and last.features == ("x1", "x2", "y1")
    chosen = load_csv(path, target=(), features=["x2", "x1"])
    assert chosen.X.tolist() == [[2, 1], [-0.4, 3.5]] and chosen.Y.shape == (2, 0)


def test_csv_class_column_one_hot_matches_csv_module(tmp_path):
    rows = [[1, 2, "b"], [3, 4, "a"], [5, 6, "c"], [7, 8, "a"]]
    path = tmp_path / "c.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["u", "v", "label"], *rows])
    data = load_csv(path, target="label")
    assert data.classes == ("a", "b", "c")
    expected = [[float(r[2] == c) for c in "abc"] for r in rows]
    assert data.Y.tolist() == expected


def test_csv_round_trips_floats_exactly(tmp_path):
    values = np.random.default_rng(0).normal(size=(20, 3))
    path = write(tmp_path, "a,b,c\n" + "".join(",".join(map(repr, r)) + "\n" for r in values.tolist()))
    data = load_csv(path)
    assert np.array_equal(data.X, values[:, :2]) and np.array_equal(data.Y, values[:, 2:])


@pytest.mark.parametrize(
    "text, target, match",
    [
        ("", None, r"data\.csv: the file is empty"),
        ("\n  \n", None, "the file is empty"),
        ("a,b,y\n", None, "header row but no data rows"),
        ("1,2,3\n4,5,6\n", None, "line 1: the first row holds numbers"),
        ("a,a,y\n1,2,3\n", None, "column 2 of the header repeats 'a'"),
        ("a,b,y\n1,2,0\n1,2\n", None, "line 3: 2 cells, but the header has 3 columns"),
        ("a,b,y\n1,2,0\n1,x,1\n", None, "line 3, column 'b': 'x' is not a number"),
        ("a,b,y\n1,nan,0\n", None, "line 2, column 'b': NaN"),
        ("a,b,y\n1,,0\n", None, "line 2, column 'b': the cell is empty"),
        ("a,b,y\n1,inf,0\n", None, "'inf' is not finite"),
        ("a,b,y\n1,2,NaN\n", "y", "line 2, column 'y': NaN"),
        ("a,b,y\n1,2,0\n", "spieces", r"Unknown target column 'spieces'\. Known: a, b, y"),
        ("a,b,species\n1,2,x\n", "specis", "Did you mean 'species'"),
        ("a,b,y,z\n1,2,u,0\n", ["y", "z"], "target column 'y' holds class names"),
        ("a,b,y\n1,2,u\n3,4,\n", "y", "line 3, column 'y': the cell is empty"),
        ("y\n1\n", "y", "no feature columns"),
    ],
)
def test_csv_errors_name_line_and_column(tmp_path, text, target, match):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=match) as info:
        load_csv(path, target=target)
    assert "\n" not in str(info.value)


def test_csv_unreadable(tmp_path):
    with pytest.raises(DataError, match="Cannot read data file"):
        load_csv(tmp_path / "nope.csv")
    path = tmp_path / "bin.csv"
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(DataError, match="not a readable UTF-8 CSV"):
        load_csv(path)
    with pytest.raises(DataError, match="both a feature and a target"):
        load_csv(write(tmp_path, "a,b\n1,2\n"), target="b", features=["a", "b"])


# ---------------------------------------------------------------- for_network
def test_for_network_adapts_classes():
    X = np.zeros((4, 2))
    two = Dataset(X, np.array([[1, 0], [0, 1], [0, 1], [1, 0]], float), ("a", "b"), ("c",), ("no", "yes"))
    assert for_network(two, Spec([2, 1])).Y.ravel().tolist() == [0, 1, 1, 0]
    assert for_network(two, Spec([2, 2], "softmax", "cross_entropy")).Y.shape == (4, 2)
    numbered = Dataset(X, np.array([[0], [2], [1], [2]], float), ("a", "b"), ("c",))
    assert for_network(numbered, Spec([2, 3])).Y.tolist() == [
        [1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1],
    ]


def test_for_network_mismatches():
    data = iris()
    with pytest.raises(DataError, match=r"4 feature columns \(sepal_length.*takes 2 inputs"):
        for_network(data, Spec([2, 3]))
    with pytest.raises(DataError, match=r"3 classes \(setosa, versicolor, virginica\).*1 output "):
        for_network(data, Spec([4, 1]))
    fractional = Dataset(np.zeros((2, 1)), np.array([[0.5], [1.0]]), ("a",), ("y",))
    with pytest.raises(DataError, match=r"1 target columns \(y\).*2 outputs"):
        for_network(fractional, Spec([1, 2]))


# ------------------------------------------------- training on the built-in data
def accuracy(net, params, X, Y):
    """Train accuracy from a hand-written NumPy forward pass (not the compiled model)."""
    from symbackprop.params import to_arrays

    a = X
    for (W, b), act in zip(to_arrays(net, params), net.activations):
        z = a @ W.T + b
        a = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
             "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "softmax": lambda v: v}[act.name](z)
    if Y.shape[1] == 1:
        return float(np.mean((a >= 0.5) == (Y >= 0.5)))  # sigmoid output: threshold ½
    return float(np.mean(a.argmax(axis=1) == Y.argmax(axis=1)))  # softmax: argmax of z


@pytest.mark.parametrize(
    "name, sizes, acts, loss, options, target",
    [
        ("xor", [2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy",
         {"epochs": 2000, "lr": 0.5, "batch_size": 4}, 1.0),
        ("moons", [2, 8, 1], ["tanh", "sigmoid"], "binary_cross_entropy",
         {"epochs": 300, "lr": 0.5, "batch_size": 16}, 0.95),
        ("circles", [2, 16, 1], ["tanh", "sigmoid"], "binary_cross_entropy",
         {"epochs": 300, "lr": 0.3, "batch_size": 16}, 0.95),
        ("iris", [4, 8, 3], ["relu", "softmax"], "cross_entropy",
         {"epochs": 200, "lr": 0.05, "batch_size": 16}, 0.95),
    ],
)
def test_builtin_data_sets_are_learnable(name, sizes, acts, loss, options, target):
    X, Y = BUILTIN[name]()
    net = sbp.mlp(sizes, activation=acts, loss=loss)
    params, history = sbp.train(net, X, Y, seed=0, progress=False, accuracy=True, **options)
    assert accuracy(net, params, X, Y) >= target
    assert history.accuracy[-1] == accuracy(net, params, X, Y)


# ------------------------------------------------------------------ hostile data
posix = pytest.mark.skipif(os.name != "posix", reason="resource limits, FIFOs and /dev/zero")


@posix
def test_dev_zero_as_data_is_refused_at_once():
    with pytest.raises(DataError, match="/dev/zero is a character device, not a regular file"):
        load_csv("/dev/zero")
    out = run_cli("train", "--layers", "2,1", "--data", "/dev/zero")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "/dev/zero is a character device, not a regular file: give a data file" in out.stderr
    out = run_cli("check", "--layers", "2,1", "--file", "/dev/zero")
    assert out.returncode == 2 and "/dev/zero is a character device" in out.stderr


@posix
def test_a_fifo_as_data_is_refused_and_dash_reads_stdin(tmp_path):
    fifo = tmp_path / "d.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="is a FIFO \\(named pipe\\), not a regular file: give a data file, or - to read standard input"):
        load_csv(fifo)
    source = tmp_path / "in.csv"
    source.write_text("x1,y\n1,0\n2,1\n")
    with open(source, "rb") as stdin:
        out = run_python("from symbackprop.datasets import load_csv\nprint(load_csv('-').X.tolist())",
                         stdin=stdin)
    assert out.stdout.strip() == "[[1.0], [2.0]]"


WIDE = 200_000


@posix
def test_a_200000_column_header_is_read_in_linear_time(tmp_path):
    path = tmp_path / "wide.csv"
    names = [f"c{i}" for i in range(WIDE)]
    path.write_text(",".join(names) + "\n" + ",".join(["1"] * WIDE) + "\n")
    # Over the default column limit: refused (after a linear read of the header).
    with pytest.raises(DataError, match="line 1: the header has 200000 columns, over the limit of 100000; raise it with max_columns="):
        load_csv(path)
    # With the limit raised, read in full; quadratic work (the old header check) would not
    # finish within the child's timeout, nor within its memory.
    out = run_python(
        "from symbackprop.datasets import load_csv\n"
        f"data = load_csv({str(path)!r}, max_columns=300_000)\n"
        "print(data.X.shape, data.target)\n", timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"(1, {WIDE - 1}) ('c{WIDE - 1}',)"


def test_rows_bytes_and_column_limits(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n" + "1,0\n" * 50)
    assert load_csv(path, max_rows=50).n_samples == 50
    with pytest.raises(DataError, match="more than 49 data rows, the limit; raise it with max_rows=.*SYMBACKPROP_MAX_DATA_ROWS"):
        load_csv(path, max_rows=49)
    with pytest.raises(DataError, match="the data file is 204 bytes, over the limit of 100 bytes; raise it with max_bytes="):
        load_csv(path, max_bytes=100)
    monkeypatch.setenv("SYMBACKPROP_MAX_DATA_COLUMNS", "1")
    with pytest.raises(DataError, match="the header has 2 columns, over the limit of 1"):
        load_data(str(path))


def test_feature_and_target_names_of_the_wrong_type(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,0\n")
    with pytest.raises(DataError, match="the feature columns must be a name or a list of names; got 5"):
        load_csv(path, features=5)
    with pytest.raises(DataError, match="target column names must be strings; got 1"):
        load_csv(path, target=[1])


def test_csv_errors_come_in_file_order(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,2,0\n1,x,0\n1,2\n")
    with pytest.raises(DataError, match="line 3, column 'b': 'x' is not a number"):
        load_csv(path)


def test_a_class_column_of_unique_names_is_bounded_before_the_one_hot(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("x,id\n" + "".join(f"{i},name{i}\n" for i in range(3000)))
    # 3000 rows × 3000 classes would be 9 million numbers: refused before it is built.
    with pytest.raises(DataError, match="holds more than 1000000 numbers .* raise it with max_cells="):
        load_csv(path, max_cells=1_000_000)
    assert load_csv(path, max_cells=10_000_000).Y.shape == (3000, 3000)
    with pytest.raises(DataError, match=r"more than 2000 numbers"):
        load_csv(path, target=(), features=["x"], max_cells=2000)
