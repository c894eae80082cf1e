"""The ``symbackprop derive`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sympy as sp
from bounded import run_cli

import symbackprop as sbp
from symbackprop.cli import main


def test_derive_text(capsys):
    assert main(["derive", "--layers", "2,2,2", "--activation", "sigmoid", "--loss", "quadratic",
                 "--wrt", "w1_1_1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("∂J/∂w⁽¹⁾₁₁ in the 2-2-2 network")
    assert "Paths from w⁽¹⁾₁₁ to J (2)" in out


def test_derive_all_latex(capsys):
    assert main(["derive", "--layers", "2,3,1", "--activation", "relu,sigmoid",
                 "--loss", "binary_cross_entropy", "--wrt", "all", "--full", "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert out.count(r"\begin{aligned}") == 13  # one derivation per parameter


def test_derive_all_full_is_each_derivation_in_turn(capsys):
    net = sbp.mlp([2, 2, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    assert main(["derive", "--layers", "2,2,1", "--activation", "tanh,sigmoid",
                 "--loss", "binary_cross_entropy", "--wrt", "all", "--full"]) == 0
    assert capsys.readouterr().out == "\n\n".join(net.derivation(p).text() for p in net.params) + "\n"


NETS = [  # sizes, activations, loss: the table against net.grad on each
    ([2, 2, 2], "sigmoid", "quadratic"),
    ([2, 3, 3], ["tanh", "softmax"], "cross_entropy"),
    ([3, 2, 1], ["relu", "sigmoid"], "binary_cross_entropy"),
    ([2, 3, 2, 2], ["sigmoid", "tanh", "softmax"], "cross_entropy"),
    ([1, 2, 2, 1], "tanh", "mse"),
    ([2, 1], "sigmoid", "quadratic"),
]


@pytest.mark.parametrize(("sizes", "act", "loss"), NETS)
def test_compact_gradients_are_grad(sizes, act, loss):
    net = sbp.mlp(sizes, activation=act, loss=loss)
    rows = list(net.compact_gradients())
    assert [p for p, _ in rows] == list(net.params)
    last = net.n_layers
    for p, g in rows:
        layer, j, *k = (int(v) for v in p.name[1:].split("_"))
        if layer == last:  # written out exactly as grad writes it
            assert g == net.grad(p)
            assert not g.free_symbols & set(net.deltas)
            continue
        into = net.x(k[0]) if k and layer == 1 else net.a(layer - 1, k[0]) if k else 1
        assert g.args == ((net.delta(layer, j), into) if k else ())  # δ⁽ˡ⁾ⱼ·a⁽ˡ⁻¹⁾ₖ, or δ⁽ˡ⁾ⱼ
        assert sp.expand(g.xreplace(net.deltas) - net.grad(p)) == 0


@pytest.mark.parametrize(("sizes", "act", "loss"), NETS[:2])
def test_derive_all_is_one_table(capsys, sizes, act, loss):
    from symbackprop.notation import equation_text, text_name

    net = sbp.mlp(sizes, activation=act, loss=loss)
    flags = ["--layers", ",".join(map(str, sizes)), "--activation",
             act if isinstance(act, str) else ",".join(act), "--loss", loss]
    assert main(["derive", *flags]) == 0  # --wrt all is the default
    head, *lines = capsys.readouterr().out.splitlines()
    assert head.startswith(f"∂J/∂p for every parameter of the {net.describe()}")
    rows = dict(net.compact_gradients())
    assert len(lines) == len(net.params)
    for line, p in zip(lines, net.params):
        lhs, rhs = line.split(" = ", 1)
        assert lhs == f"∂J/∂{text_name(p)}"
        if p.name[1] == str(net.n_layers):
            assert line == equation_text(lhs, net.grad(p))
        else:
            assert rhs == "⋅".join(text_name(s) for s in (rows[p].args or [rows[p]]))
    assert main(["derive", *flags, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == [p.name for p in net.params]
    names = {s.name: s for s in [*net.params, *net.deltas, *net.inputs, *net.targets]
             + [net.a(l, j) for l in range(1, net.n_layers + 1) for j in range(1, net.sizes[l] + 1)]}
    for p in net.params:
        got = sp.sympify(data[p.name]["compact"], locals=names)  # our own output, in the test only
        assert sp.expand(got.xreplace(net.deltas) - net.grad(p)) == 0


def test_derive_json_expand_and_equations(capsys):
    assert main(["derive", "--layers", "2,1", "--wrt", "w1_1_1,b1_1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["param"] for d in data] == ["w1_1_1", "b1_1"]
    assert main(["derive", "--layers", "2,1", "--wrt", "b1_1", "--expand", "--format", "json"]) == 0
    assert "exp(" in json.loads(capsys.readouterr().out)["b1_1"]["expanded"]
    assert main(["derive", "--layers", "2,2", "--equations", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("### Layer-level")


def test_derive_at_a_sample(tmp_path, capsys):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"w1_1_1": 2.0, "b1_1": 0.5}))
    assert main(["derive", "--layers", "1,1", "--activation", "identity", "--wrt", "w1_1_1",
                 "--at", str(params), "--x", "3", "--y", "1"]) == 0
    assert "≈ 16.5" in capsys.readouterr().out


def test_at_reads_a_bounded_regular_file_only(tmp_path, monkeypatch, capsys):
    # /dev/zero would be read for ever: refused unread, in a child whose memory is bounded.
    r = run_cli("derive", "--layers", "1,1", "--wrt", "w1_1_1", "--at", "/dev/zero", "--x", "1", "--y", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "/dev/zero is a character device, not a regular file: give a --at file" in r.stderr
    if hasattr(os, "mkfifo"):  # a FIFO nobody writes to does not hang either
        fifo = tmp_path / "p.json"
        os.mkfifo(fifo)
        assert main(["derive", "--layers", "1,1", "--wrt", "w1_1_1", "--at", str(fifo), "--x", "1", "--y", "1"]) == 2
        assert "is a FIFO (named pipe), not a regular file" in capsys.readouterr().err
    big = tmp_path / "big.json"
    big.write_text('{"w1_1_1": 1.0, "b1_1": 0.0}' + " " * 100)
    monkeypatch.setenv("SYMBACKPROP_MAX_TEXT_BYTES", "64")
    assert main(["derive", "--layers", "1,1", "--wrt", "w1_1_1", "--at", str(big), "--x", "1", "--y", "1"]) == 2
    err = capsys.readouterr().err
    assert "over the limit of 64 bytes" in err and "SYMBACKPROP_MAX_TEXT_BYTES" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layers", "2,x"], "--layers must be comma-separated positive integers"),
        (["--layers", "2,2", "--activation", "sigmod"], "Did you mean 'sigmoid'"),
        (["--layers", "2,2", "--wrt", "w3_1_1"], "Unknown parameter 'w3_1_1'"),
        (["--layers", "2,2", "--loss", "hinge"], "Unknown loss 'hinge'"),
        (["--layers", "2,2", "--at", "missing.json", "--x", "1,2", "--y", "1,2"], "Cannot read --at file"),
        (["--layers", "3,8,8,8,8,1", "--wrt", "w1_1_1", "--expand"], "operations"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, capsys):
    assert main(["derive", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_console_script_help_is_fast_and_light():
    # --help must not import SymPy (it is what makes the command slow to start).
    code = "import sys; from symbackprop.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\nprint('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_parameters_by_name_follow_changes():
    # Parameters indexes names once (for speed at 26k parameters); the index must follow edits.
    net = sbp.mlp([3, 2, 1])
    p = net.init_params(0)
    assert [p[q.name] for q in net.params] == list(p.values())
    for i, q in enumerate(net.params[::2]):
        del p[q]
        assert q.name not in p
        p[sp.Symbol(q.name, real=True)] = float(i)
        assert p[q.name] == p[sp.Symbol(q.name)] == float(i)
    with pytest.raises(KeyError):
        p["w9_1_1"]
