"""The ``symbackprop train`` and ``symbackprop predict`` commands, end to end."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.params import to_arrays

XOR = ["train", "--layers", "2,4,1", "--activation", "tanh,sigmoid", "--loss", "binary_cross_entropy",
       "--data", "xor", "--epochs", "2000", "--lr", "0.5", "--batch-size", "4", "--seed", "0",
       "--no-progress"]
IRIS = ["train", "--layers", "4,8,3", "--activation", "relu,softmax", "--loss", "cross_entropy",
        "--epochs", "200", "--lr", "0.05", "--batch-size", "16", "--seed", "0", "--no-progress"]


def forward(net, params, X):
    """A hand-written NumPy forward pass, independent of the compiled code."""
    a = X
    for (W, b), act in zip(to_arrays(net, params), net.activations):
        z = a @ W.T + b
        if act.name == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0),
                 "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[act.name](z)
    return a


def read_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_train_xor_reaches_100_percent_and_saves(tmp_path, capsys):
    model = tmp_path / "xor-model.npz"
    assert main([*XOR, "--save", str(model)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2-4-1 network (tanh, sigmoid; loss binary_cross_entropy) on xor: 4 samples"
    assert out[1].startswith("epoch 2000/2000: mean loss over the epoch ")
    assert out[2].startswith("after training: loss ") and out[2].endswith(" on the whole set")
    assert out[3] == "accuracy 100.00% (4/4)" and out[4] == f"saved {model}"

    saved = sbp.load(model)
    X, Y = sbp.datasets.xor()
    # The CLI runs the library: same arguments, bit-identical parameters.
    params, history = sbp.train(saved.net, X, Y, epochs=2000, lr=0.5, batch_size=4, seed=0, progress=False,
                                accuracy=True)  # as the command line asks for it
    assert saved.params == params and saved.history == history
    assert np.array_equal(forward(saved.net, saved.params, X).round(), Y)
    # The first number is the last point of the curve --plot draws; the second is the loss
    # of the whole set at the final parameters, from an independent forward pass.
    assert float(out[1].rsplit(" ", 1)[1]) == pytest.approx(history.loss[-1], rel=1e-5)
    loss = float(out[2].split()[3])
    P = forward(saved.net, params, X)
    reference = -np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P))
    assert loss == pytest.approx(reference, rel=1e-5)
    assert saved.meta["features"] == ["x1", "x2"] and saved.meta["classification"] is True

    # predict prints one row per sample: the probability (6 significant digits, so within
    # half a unit of the 6th digit), then the predicted class.
    assert main(["predict", str(model), "--data", "xor"]) == 0
    header, rows = read_csv(capsys.readouterr().out)
    assert header == ["y", "predicted"]
    assert all(len(r[0].replace("0.", "", 1).lstrip("0")) <= 6 for r in rows)
    assert np.allclose([float(r[0]) for r in rows], P[:, 0], rtol=5e-6, atol=0)
    assert [r[1] for r in rows] == ["0", "1", "1", "0"]
    # --precision 17 prints every float64 exactly.
    assert main(["predict", str(model), "--data", "xor", "--precision", "17"]) == 0
    _, rows = read_csv(capsys.readouterr().out)
    exact = saved.net.compile().predict(saved.params, X)[:, 0]
    assert [float(r[0]) for r in rows] == exact.tolist()

    # A CSV of new points, with the columns in another order and an extra one.
    new = tmp_path / "new.csv"
    new.write_text("note,x2,x1\na,0,0\nb,1,0.9\nc,0.1,0.95\n")
    out_file = tmp_path / "pred.csv"
    assert main(["predict", str(model), "--data", str(new), "--out", str(out_file)]) == 0
    assert capsys.readouterr().err.strip() == f"wrote 3 predictions to {out_file}"
    header, rows = read_csv(out_file.read_text())
    expected = forward(saved.net, params, np.array([[0, 0], [0.9, 1], [0.95, 0.1]]))[:, 0]
    assert np.allclose([float(r[0]) for r in rows], expected, rtol=5e-6, atol=0)
    assert [r[1] for r in rows] == ["0", "0", "1"]


def test_train_and_predict_iris_csv(tmp_path, capsys):
    data = tmp_path / "iris.csv"
    data.write_text((sbp.datasets.iris.__globals__["resources"].files("symbackprop") / "data" / "iris.csv").read_text())
    model = tmp_path / "iris.npz"
    assert main([*IRIS, "--data", str(data), "--target", "species", "--save", str(model)]) == 0
    out = capsys.readouterr().out.splitlines()
    right = int(out[3].split("(")[1].split("/")[0])
    assert out[3].startswith("accuracy ") and right >= 143  # >= 95% of 150

    saved = sbp.load(model)
    assert saved.meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert main(["predict", str(model), "--data", str(data)]) == 0  # the target column is ignored
    header, rows = read_csv(capsys.readouterr().out)
    assert header == ["setosa", "versicolor", "virginica", "predicted"]
    X, Y = sbp.datasets.iris()
    P = forward(saved.net, saved.params, X)
    assert np.allclose(np.array([r[:3] for r in rows], float), P, rtol=5e-6, atol=1e-300)
    names = np.array(saved.meta["classes"])
    assert [r[3] for r in rows] == names[P.argmax(axis=1)].tolist()
    assert sum(r[3] == names[y] for r, y in zip(rows, Y.argmax(axis=1))) == right


def test_two_class_names_fit_one_sigmoid_output(tmp_path, capsys):
    X, Y = sbp.datasets.moons(60, seed=1)
    path = tmp_path / "m.csv"
    path.write_text("a,b,kind\n" + "".join(
        f"{x0!r},{x1!r},{'top' if y == 0 else 'bottom'}\n" for (x0, x1), y in zip(X.tolist(), Y[:, 0])
    ))
    model = tmp_path / "m.npz"
    assert main(["train", "--layers", "2,8,1", "--activation", "tanh,sigmoid", "--loss",
                 "binary_cross_entropy", "--data", str(path), "--target", "kind", "--epochs", "200",
                 "--lr", "0.5", "--batch-size", "8", "--no-progress", "--save", str(model)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), "--data", str(path)]) == 0
    header, rows = read_csv(capsys.readouterr().out)
    # Sorted class names: bottom, top; the single output is P(top).
    assert header == ["top", "predicted"]
    saved = sbp.load(model)
    P = forward(saved.net, saved.params, X)[:, 0]
    assert [r[1] for r in rows] == np.where(P >= 0.5, "top", "bottom").tolist()


def test_regression_target_has_no_accuracy(tmp_path, capsys):
    path = tmp_path / "r.csv"
    x = np.linspace(-1, 1, 20).tolist()
    path.write_text("x,y\n" + "".join(f"{v!r},{2 * v + 1!r}\n" for v in x))
    assert main(["train", "--layers", "1,1", "--activation", "identity", "--loss", "mse",
                 "--data", str(path), "--epochs", "300", "--lr", "0.1", "--batch-size", "20",
                 "--no-progress", "--save", str(tmp_path / "r.npz")]) == 0
    out = capsys.readouterr().out
    assert "accuracy" not in out
    _, params = sbp.load(tmp_path / "r.npz")
    assert params[sbp.mlp([1, 1]).w(1, 1, 1)] == pytest.approx(2.0, abs=1e-3)
    assert main(["predict", str(tmp_path / "r.npz"), "--data", str(path)]) == 0
    header, rows = read_csv(capsys.readouterr().out)
    assert header == ["y"] and len(rows) == 20


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "mons"], "Unknown data set 'mons'. Did you mean 'moons'?"),
        (["--data", "{csv}", "--target", "kindd"], "Unknown target column 'kindd'. Did you mean 'kind'?"),
        (["--data", "{bad}"], "line 3, column 'b': 'oops' is not a number."),
        (["--data", "iris"], "The data has 4 feature columns"),
        (["--data", "xor", "--lr", "-1"], "argument --lr: must be a positive number; got '-1'"),
        (["--data", "xor", "--batch-size", "0"], "argument --batch-size: must be a positive integer"),
        (["--data", "xor", "--momentum", "1"], "argument --momentum: must be a number in [0, 1)"),
        (["--data", "xor", "--lr", "1e9", "--activation", "identity", "--epochs", "200"],
         "Try a smaller --lr (this run used --lr 1e+09)."),
        (["--data", "{empty}"], "the file is empty"),
    ],
)
def test_train_errors_are_one_line_exit_2(tmp_path, capsys, argv, message):
    files = {"csv": "a,b,kind\n1,2,x\n3,4,y\n", "bad": "a,b,y\n1,2,0\n1,oops,1\n", "empty": ""}
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text)
    argv = [a.format(**{n: str(tmp_path / f"{n}.csv") for n in files}) for a in argv]
    assert main(["train", "--layers", "2,3,1", "--no-progress", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("symbackprop train: error: ") and message in captured.err
    assert captured.err.count("\n") == 1


def test_predict_errors_are_one_line_exit_2(tmp_path, capsys):
    model = tmp_path / "xor.npz"
    assert main([*XOR, "--epochs", "10", "--save", str(model)]) == 0
    (tmp_path / "three.csv").write_text("p,q,r\n1,2,3\n")
    (tmp_path / "named.csv").write_text("a,b,kind\n1,2,cat\n")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really")
    cases = [
        ([str(tmp_path / "missing.npz"), "--data", "xor"], "Cannot read model file"),
        ([str(tmp_path / "junk.npz"), "--data", "xor"], "truncated or corrupt"),
        ([str(model), "--data", str(tmp_path / "three.csv")], "three.csv has 3 columns, but the model takes 2 inputs (x1, x2)."),
        ([str(model), "--data", str(tmp_path / "named.csv")], "named.csv: Unknown feature column 'x1'. Known: a, b, kind."),
        ([str(model), "--data", "iris"], "iris has 4 columns, but the model takes 2 inputs (x1, x2)."),
    ]
    capsys.readouterr()
    for argv, message in cases:
        assert main(["predict", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("symbackprop predict: error: ") and message in err, err
        assert err.count("\n") == 1


def test_help_lists_train_and_predict(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "predict" in out


def test_train_plot_saves_curves_and_boundary(tmp_path, capsys):
    out = tmp_path / "moons.png"
    assert main(["train", "--layers", "2,8,1", "--activation", "tanh,sigmoid",
                 "--loss", "binary_cross_entropy", "--data", "moons", "--epochs", "20",
                 "--lr", "0.5", "--batch-size", "16", "--plot", str(out)]) == 0
    assert f"saved {out}" in capsys.readouterr().out
    from matplotlib.image import imread

    height, width = imread(out).shape[:2]
    assert width > 1.8 * height  # two panels side by side: curves and decision boundary


def test_train_plot_bad_extension_fails_before_training(tmp_path, capsys):
    assert main(["train", "--layers", "2,8,1", "--data", "moons", "--epochs", "100000",
                 "--plot", str(tmp_path / "x.gif")]) == 2
    assert "--plot must end in .png, .svg or .pdf" in capsys.readouterr().err
