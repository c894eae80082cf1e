"""``symbackprop render --what paths --path N``: one highlighted path, from the command line.

The first path's picture comes from a bounded child (the exit code and output of a real
process); the others call the CLI's ``main`` in this process (an interpreter per case was
most of this module's time).
"""

from __future__ import annotations

import subprocess

import pytest
from bounded import run_cli

import symbackprop as sbp
from symbackprop.derivation import count_paths

NET = ["--layers", "1,1,2", "--activation", "sigmoid"]


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """``symbackprop ARGS`` through ``main`` in this process, as run_cli reports it."""
    from symbackprop.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["symbackprop", *args], code, out.out, out.err)


def _pixels(path):
    import matplotlib.image

    return matplotlib.image.imread(path).tobytes()


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("number", [1, 2])
def test_path_n_draws_that_path(tmp_path, number, capsys):
    out = tmp_path / f"path{number}.png"
    args = ["render", *NET, "--what", "paths", "--wrt", "w1_1_1", "--path", str(number), "--out", str(out)]
    proc = run_cli(*args) if number == 1 else cli(capsys, *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    # The library's drawing of that one path (the two paths of w1_1_1 end through a2_1 and
    # a2_2), saved here, is the same picture pixel for pixel; the other path's is not.
    net = sbp.mlp([1, 1, 2], activation="sigmoid")
    assert count_paths(net.graph, "w1_1_1", "J") == 2
    for k in (1, 2):
        d = sbp.draw_gradient_paths(net, "w1_1_1", path=k)
        assert (("z2_1", "a2_1") in d.highlighted) == (k == 1)
        d.save(tmp_path / f"lib{k}.png")
    assert _pixels(out) == _pixels(tmp_path / f"lib{number}.png")
    assert _pixels(out) != _pixels(tmp_path / f"lib{3 - number}.png")


def test_path_of_a_medium_network(tmp_path, capsys):
    out = tmp_path / "p.png"
    args = ["--layers", "4,8,8,3", "--activation", "relu,relu,softmax", "--loss", "cross_entropy"]
    proc = cli(capsys, "render", *args, "--what", "paths", "--wrt", "w1_1_1", "--path", "72", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    w, h = _png_size(out)
    assert w > 300 and h > 300


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--what", "paths", "--wrt", "w1_1_1", "--path", "3"], "--path must be a path number from 1 to 2 (the paths from w1_1_1 to J); got 3."),
        (["--what", "network", "--path", "1"], "--path chooses one of the gradient paths: give it with --what paths, not --what network."),
        (["--what", "paths", "--path", "0"], "--path"),
    ],
)
def test_bad_path_is_one_clear_error(tmp_path, args, message, capsys):
    out = tmp_path / "x.png"
    proc = cli(capsys, "render", *NET, *args, "--out", str(out))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
