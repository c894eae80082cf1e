"""``symbackprop train --file`` (a computation file) and ``predict`` of the saved model."""

from __future__ import annotations

import numpy as np
from bounded import run_cli

import symbackprop as sbp

MODEL = """\
# a tanh unit with a skip connection
params: w1 b1 w2 w3 b2
inputs: x
targets: y
h = tanh(w1*x + b1)
o = sigmoid(w2*h + w3*x + b2)
J = (o - y)**2 / 2
"""


def files(tmp_path, header="x,y"):
    model = tmp_path / "model.txt"
    model.write_text(MODEL)
    x = np.random.default_rng(0).uniform(-2.0, 2.0, 40)
    rows = "\n".join(f"{a!r},{float(a > 0.3)!r}" for a in x.tolist())
    data = tmp_path / "data.csv"
    data.write_text(header + "\n" + rows + "\n")
    return model, data, x


def test_train_file_trains_saves_and_predicts(tmp_path):
    model, data, x = files(tmp_path, header="y,x")  # columns found by name, in any order
    data.write_text("y,x\n" + "\n".join(f"{float(a > 0.3)!r},{a!r}" for a in x.tolist()) + "\n")
    saved = tmp_path / "m.npz"
    r = run_cli("train", "--file", str(model), "--data", str(data), "--epochs", "200", "--lr", "0.5",
                "--seed", "1", "--save", str(saved), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "accuracy 100.00% (40/40)" in r.stdout and "parameters: w1=" in r.stdout
    g, params = sbp.load(saved)
    want, _ = sbp.train(g, {"x": x, "y": (x > 0.3).astype(float)}, epochs=200, lr=0.5, seed=1, progress=False)
    assert params == want  # the same run, bit for bit
    r = run_cli("predict", str(saved), "--data", str(data), "--precision", "17")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "o,predicted" and len(lines) == 41
    out = g.compile().predict(params, {"x": x})
    assert [float(line.split(",")[0]) for line in lines[1:]] == out[:, 0].tolist()


def test_train_file_errors_are_one_line(tmp_path, capsys):
    """Through the CLI's main in this process (the end-to-end run above is a real child)."""
    from symbackprop.cli import main

    model, data, _ = files(tmp_path, header="x,label")
    cases = [
        (["--file", str(model), "--data", str(data)], "column(s) label that are not an input or target"),
        (["--file", str(model), "--layers", "1,1", "--data", str(data)], "cannot go with --layers"),
        (["--file", str(model), "--target", "y", "--data", str(data)], "--target is for --layers networks"),
        (["--data", str(data)], "train needs --layers (a network) or --file"),
        (["--file", str(tmp_path / "nope.txt"), "--data", str(data)], "Cannot read computation file"),
    ]
    for args, message in cases:
        capsys.readouterr()
        code, err = main(["train", *args]), capsys.readouterr().err
        assert code == 2 and message in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
