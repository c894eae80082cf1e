"""``symbackprop train --gradient-flow [ROWS] --flow-plot FILE``, end to end.

Oracles: the table the command prints is the library's (same arguments, ``sbp.train`` and
``sbp.gradient_flow`` run here); the units it calls dead and saturated are checked against
a hand-written NumPy forward pass at the saved final parameters (z ≤ 0 on every evaluation
row, or on at least 90 % of them but not all); the picture is read back as an image.
"""

from __future__ import annotations

import numpy as np
import pytest
from bounded import run_cli

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.params import to_arrays

RELU = ["train", "--layers", "2,6,6,1", "--activation", "relu,relu,sigmoid",
        "--loss", "binary_cross_entropy", "--data", "moons", "--epochs", "10", "--lr", "0.5",
        "--batch-size", "20", "--seed", "2", "--no-progress"]
ROWS = 64


def _z(net, params, X):
    """Every layer's z from a NumPy forward pass written here (relu hidden layers)."""
    a, zs = X, []
    for W, b in to_arrays(net, params):
        z = a @ W.T + b
        zs.append(z)
        a = np.maximum(z, 0.0)
    return zs


def test_table_is_the_librarys_and_the_named_units_are_dead_and_saturated(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main([*RELU, "--gradient-flow", str(ROWS), "--save", str(model)]) == 0
    out = capsys.readouterr().out

    X, Y = sbp.datasets.moons()
    net = sbp.mlp([2, 6, 6, 1], activation=["relu", "relu", "sigmoid"], loss="binary_cross_entropy")
    params, history = sbp.train(net, X, Y, epochs=10, lr=0.5, batch_size=20, seed=2,
                                progress=False, gradient_flow=ROWS)
    flow = sbp.gradient_flow(history)
    assert flow.text() in out
    assert out.index("accuracy") < out.index("Gradient flow of the") < out.index(f"saved {model}")
    assert flow.dead and flow.saturated  # the run this test is about names both kinds

    # The units printed, checked at the saved final parameters with the forward pass above,
    # on the evaluation rows the docs describe (ROWS evenly spaced rows, first and last in).
    saved = sbp.load(model)
    assert saved.params == params and saved.history.gradient_flow == history.gradient_flow
    rows = np.unique(np.linspace(0, len(X) - 1, ROWS).round().astype(int))
    zs = _z(saved.net, saved.params, X[rows])
    dead_line = next(line for line in out.splitlines() if line.startswith("Dead units"))
    saturated_line = next(line for line in out.splitlines() if line.startswith("Saturated units"))
    for u in flow.dead:
        assert u.text in dead_line
        assert np.all(zs[u.layer - 1][:, u.index - 1] <= 0)
    for u in flow.saturated:
        assert u.text in saturated_line
        inactive = np.mean(zs[u.layer - 1][:, u.index - 1] <= 0)
        assert 0.9 <= inactive < 1
    # Every unit of the hidden layers is classified as the forward pass says.
    for layer in (1, 2):
        for j in range(1, 7):
            inactive = np.mean(zs[layer - 1][:, j - 1] <= 0)
            assert ((layer, j) in {(u.layer, u.index) for u in flow.dead}) == (inactive == 1)
            assert ((layer, j) in {(u.layer, u.index) for u in flow.saturated}) == (0.9 <= inactive < 1)


def test_flow_plot_saves_a_picture_and_implies_recording(tmp_path, capsys):
    picture = tmp_path / "flow.png"
    assert main([*RELU, "--epochs", "3", "--flow-plot", str(picture)]) == 0
    out = capsys.readouterr().out
    assert "Gradient flow of the 2-6-6-1 network" in out and f"saved {picture}" in out
    assert "on 200 of 200 rows" in out  # no ROWS given: every row (at most 1024)
    from matplotlib.image import imread

    height, width = imread(picture).shape[:2]
    assert width > height > 100
    assert not [p for p in tmp_path.iterdir() if p.name != "flow.png"]  # no temporary left


def test_without_the_flag_nothing_is_recorded_or_printed(capsys):
    assert main([*RELU, "--epochs", "2"]) == 0
    assert "Gradient flow" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--gradient-flow", "0"], "argument --gradient-flow: must be a positive integer; got '0'"),
    (["--gradient-flow", "many"], "argument --gradient-flow: must be a positive integer; got 'many'"),
    (["--flow-plot", "flow.gif"], "--flow-plot must end in .png, .svg or .pdf"),
    (["--flow-plot", "no/such/dir/flow.png"], "Cannot write --flow-plot 'no/such/dir/flow.png'"),
])
def test_bad_flow_options_fail_in_one_line_before_training(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*RELU, "--epochs", "100000", *argv]) == 2  # refused before 100000 epochs
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_bounded_child_prints_the_table_and_saves_the_plot(tmp_path):
    picture = tmp_path / "flow.svg"
    done = run_cli(*RELU, "--epochs", "2", "--gradient-flow", "--flow-plot", str(picture))
    assert done.returncode == 0, done.stderr
    assert "the bound holds on every recorded epoch: yes" in done.stdout
    assert picture.read_text().lstrip().startswith("<?xml")
