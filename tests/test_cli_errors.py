"""Exit codes, one-line errors, --debug, checks before work, and safe output, for every command.

Exit codes: 0 success (check: right), 1 check's "wrong" only, 2 bad input or any failure
(one line on stderr, never a traceback), 130 interrupted, 141 stdout closed early.
"""

from __future__ import annotations

import csv
import io
import os
import shlex
import subprocess
import sys
import threading

import pytest
import sympy as sp

import symbackprop as sbp
import symbackprop.cli.derive
import symbackprop.cli.render
import symbackprop.training
from symbackprop.cli import main
from symbackprop.cli.common import csv_cell, printable

NET = ["--layers", "2,2,1", "--activation", "sigmoid", "--loss", "quadratic"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


@pytest.fixture()
def xor_model(tmp_path, capsys):
    path = tmp_path / "xor.npz"
    assert main(["train", "--layers", "2,3,1", "--data", "xor", "--epochs", "2", "--no-progress",
                 "--save", str(path)]) == 0
    capsys.readouterr()
    return path


@pytest.fixture()
def no_training(monkeypatch):
    """Training fails the test if it starts: the command must have refused before."""
    def train(*args, **kwargs):
        raise AssertionError("training started before the bad option was refused")

    monkeypatch.setattr(symbackprop.training, "train", train)


# --- the exit-code table ----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, code",
    [
        (["check", *NET, "--wrt", "w2_1_1", "--formula", "(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1"], 0),
        (["check", *NET, "--wrt", "w2_1_1", "--formula", "(a2_1 - y1)*a1_1"], 1),
        (["check", *NET, "--wrt", "w2_1_1", "--formula", "a1_1 +"], 2),
        (["check", *NET, "--wrt", "w7_1_1", "--formula", "a1_1"], 2),
        (["derive", "--layers", "2,1", "--wrt", "b1_1"], 0),
        (["derive", "--layers", "2,1", "--activation", "sigmod"], 2),
        (["derive", "--layers"], 2),  # a usage error is one line too
        (["derive", "--layers", "2,1", "--no-such-flag"], 2),
        (["--version"], 0),
    ],
)
def test_exit_codes(capsys, argv, code):
    got, out, err = run(capsys, *argv)
    assert got == code
    if code == 2:
        assert one_line(err) and "usage:" not in err and out == ""


@pytest.mark.parametrize(
    "formula",
    ["log(0)", "1/0", "sqrt(-1)", "2**(0/0)*a1_1", "1e999*a1_1", "max(a1_1, 1/0)", "zoo"],
)
def test_formulas_undefined_everywhere_are_one_line_exit_2_never_1(capsys, formula):
    code, _out, err = run(capsys, "check", *NET, "--wrt", "w2_1_1", "--formula", formula)
    assert code == 2 and one_line(err) and err.startswith("symbackprop check: error: ")


def test_unexpected_error_is_one_line_with_a_pointer_to_debug(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("something nobody foresaw\nsecond line")

    monkeypatch.setattr(symbackprop.cli.derive, "network_from_args", boom)
    code, out, err = run(capsys, "derive", "--layers", "2,1")
    assert code == 2 and one_line(err) and out == ""
    assert "RuntimeError: something nobody foresaw second line" in err and "--debug" in err
    for argv in (["--debug", "derive", "--layers", "2,1"], ["derive", "--layers", "2,1", "--debug"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and "Traceback (most recent call last)" in err
        assert "RuntimeError: something nobody foresaw" in err
    # --debug shows where a refusal came from too; without it, one line.
    monkeypatch.undo()
    code, _out, err = run(capsys, "--debug", "derive", "--layers", "2,1", "--activation", "sigmod")
    assert code == 2 and "Traceback" in err and err.splitlines()[-1].startswith("symbackprop derive: error: Unknown")


def test_interrupt_is_130_and_os_errors_are_one_line(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(symbackprop.cli.derive, "network_from_args", interrupted)
    code, _out, err = run(capsys, "derive", "--layers", "2,1")
    assert code == 130 and err == "symbackprop derive: interrupted\n"

    def denied(args):
        raise PermissionError(13, "Permission denied", "secret.csv")

    monkeypatch.setattr(symbackprop.cli.derive, "network_from_args", denied)
    code, _out, err = run(capsys, "derive", "--layers", "2,1")
    assert code == 2 and err == "symbackprop derive: error: 'secret.csv': Permission denied.\n"


def test_broken_pipe_exits_quietly(xor_model, tmp_path):
    # Far more output than a pipe buffer holds, so the writer meets the closed pipe.
    data = tmp_path / "big.csv"
    data.write_text("x1,x2\n" + "0.25,0.75\n" * 40000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "symbackprop", "predict", str(xor_model), "--data", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ,
    )
    assert proc.stdout.readline() == b"y,predicted\n"
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert err == ""


# --- messages speak in flags ----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, wanted, unwanted",
    [
        (["derive", "--layers", "-1,2"], "--layers must be comma-separated positive integers", "expected one argument"),
        (["derive", "--layers", "2"], "at least two sizes", "comma"),
        (["derive", "--layers", "2,1", "--x", "1,2"], "add --at", None),
        (["derive", "--layers", "3,8,8,8,8,1", "--wrt", "w1_1_1", "--expand"], "Leave out --expand", "max_size"),
        (["train", "--layers", "2,3,1", "--activation", "identity", "--data", "xor", "--lr", "1e9",
          "--epochs", "200", "--no-progress"], "Try a smaller --lr", ".params"),
        (["train", "--layers", "2,3,1", "--data", "xor", "--epochs", "0"], "argument --epochs: must be a positive integer", None),
        (["predict", "m.npz", "--data", "xor", "--precision", "0"], "argument --precision", None),
        (["check", *NET, "--wrt", "w2_1_1", "--formula", "a1_1", "--seed", "-1"], "argument --seed", "ValueError"),
        (["check", "--function", "z**", "--formula", "1"], "Cannot read function", "symbols="),
        (["derive", "--layers", "2,1", "--at", "{params}", "--x", "1", "--y", "1"], "--x needs 2 number(s)", None),
        (["derive", "--layers", "2,1", "--at", "{params}", "--x", "1,2", "--y", "1,2"], "--y needs 1 number(s)", None),
    ],
)
def test_messages_name_flags(capsys, tmp_path, argv, wanted, unwanted):
    params = tmp_path / "p.json"
    params.write_text('{"w1_1_1": 1, "w1_1_2": 2, "b1_1": 0}')
    code, _out, err = run(capsys, *[a.replace("{params}", str(params)) for a in argv])
    assert code == 2 and one_line(err) and wanted in err, err
    assert unwanted is None or unwanted not in err


def test_an_activation_not_a_activation():
    with pytest.raises(sbp.SpecError, match="^An activation may only use"):
        sbp.mlp([1, 1], activation=sp.Symbol("x1") * sp.Symbol("z"))


def test_help_examples_are_honest(capsys, tmp_path, monkeypatch):
    assert main(["check", "--help"]) == 0
    assert "answers WRONG, on purpose" in capsys.readouterr().out
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "iris.csv" not in out and "--data iris " in out and "mine.csv" in out
    assert "mean" in out and "whole" in out  # which loss is printed
    # Every example of train --help runs as shown, from an empty folder.
    monkeypatch.chdir(tmp_path)
    commands = out.split("examples:\n")[1].replace("\\\n", " ").splitlines()
    ran = 0
    for line in (c.strip() for c in commands):
        if line.startswith("printf "):
            subprocess.run(["bash", "-c", line], check=True, cwd=tmp_path)
        elif line.startswith("symbackprop train "):
            assert main([*shlex.split(line)[1:], "--no-progress"]) == 0, line
            shown = capsys.readouterr().out
            if "--gradient-flow" in line:
                assert "Dead units at the last epoch" in shown and (tmp_path / "flow.png").is_file()
            else:
                assert "accuracy 100.00%" in shown or "iris" in line
            ran += 1
    assert ran == 4


# --- every path is checked before any work ------------------------------------------------


@pytest.mark.parametrize(
    "flag, path, wanted",
    [
        ("--save", "missing/dir/m.npz", "the directory 'missing/dir' does not exist"),
        ("--save", ".", "it is a directory"),
        ("--plot", "missing/dir/loss.png", "the directory 'missing/dir' does not exist"),
        ("--plot", "loss.gif", "--plot must end in .png, .svg or .pdf"),
        ("--plot", "loss", "--plot must end in .png, .svg or .pdf"),
    ],
)
def test_train_refuses_bad_paths_before_training(capsys, tmp_path, monkeypatch, no_training, flag, path, wanted):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "train", "--layers", "2,3,1", "--data", "xor", "--epochs", "100000",
                         "--no-progress", flag, path)
    assert code == 2 and one_line(err) and wanted in err and flag in err and out == ""
    assert sorted(os.listdir(tmp_path)) == []


def test_predict_refuses_a_bad_out_before_reading_anything(capsys, tmp_path):
    # The model does not exist either: the --out message shows the path came first.
    out_path = tmp_path / "missing" / "dir" / "p.csv"
    code, out, err = run(capsys, "predict", str(tmp_path / "nope.npz"), "--data", "xor", "--out", str(out_path))
    assert code == 2 and one_line(err) and "--out" in err and "does not exist" in err and out == ""
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--layers", "2,2,1", "--out", "net.gif"],
        ["render", "--layers", "2,2,1", "--out", "missing/net.png"],
        ["report", "--layers", "2,2,1", "--out", "missing/report.html"],
    ],
)
def test_render_and_report_refuse_bad_paths_before_building(capsys, tmp_path, monkeypatch, argv):
    def build(args):
        raise AssertionError("the network was built before the bad --out was refused")

    monkeypatch.setattr(symbackprop.cli.render, "network_from_args", build)
    monkeypatch.chdir(tmp_path)
    code, _out, err = run(capsys, *argv)
    assert code == 2 and one_line(err) and "--out" in err
    assert os.listdir(tmp_path) == []


# --- output: stdout, FIFOs, spreadsheets, terminals -------------------------------------------


def test_out_dash_writes_to_stdout(capsys, xor_model):
    code, out, err = run(capsys, "predict", str(xor_model), "--data", "xor", "--out", "-")
    assert code == 0 and err == ""
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["y", "predicted"] and len(rows) == 5


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_out_fifo_is_written_through_not_replaced(capsys, xor_model, tmp_path):
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    code, _out, _err = run(capsys, "predict", str(xor_model), "--data", "xor", "--out", str(fifo))
    reader.join(timeout=60)
    assert code == 0 and got and got[0].startswith("y,predicted\n") and got[0].count("\n") == 5
    assert fifo.is_fifo() and sorted(os.listdir(tmp_path)) == ["p.csv", "xor.npz"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_out_uses_the_one_writer_link_followed_stale_temps_removed(capsys, xor_model, tmp_path):
    # The CLI writes through symbackprop.files: a link is followed (the file it names is
    # replaced, the link stays) and a dead process's temp file beside the target is removed.
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "p.csv"
    link.symlink_to(real)
    stale = tmp_path / ".real.csv.symbackprop-tmp-999999999-abcd"
    stale.write_text("left by a killed save")
    code, _out, _err = run(capsys, "predict", str(xor_model), "--data", "xor", "--out", str(link))
    assert code == 0 and link.is_symlink() and real.read_text().startswith("y,predicted\n")
    assert not stale.exists()


HOSTILE = {"=HYPERLINK(\"http://evil\",\"x\")": 0, "@SUM(A1:A9)": 1}


def test_class_names_are_spreadsheet_safe(capsys, tmp_path):
    data = tmp_path / "d.csv"
    names = list(HOSTILE)
    data.write_text("x1,x2,kind\n" + "".join(
        f"{i % 2},{(i // 2) % 2},{csv_field(names[(i + i // 2) % 2])}\n" for i in range(8)
    ))
    model = tmp_path / "m.npz"
    assert main(["train", "--layers", "2,3,2", "--activation", "tanh,softmax", "--loss", "cross_entropy",
                 "--data", str(data), "--target", "kind", "--epochs", "5", "--no-progress",
                 "--save", str(model)]) == 0
    capsys.readouterr()
    out_file = tmp_path / "p.csv"
    assert main(["predict", str(model), "--data", str(data), "--out", str(out_file)]) == 0
    rows = list(csv.reader(io.StringIO(out_file.read_text())))
    assert rows[0] == ["'" + n for n in sorted(names)] + ["predicted"]
    assert {r[2] for r in rows[1:]} <= {"'" + n for n in names}
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row)


def csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.mark.parametrize("name, safe", [("-1", "-1"), ("+x", "'+x"), ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
                                         ("setosa", "setosa"), ("\tx", "'\tx")])
def test_csv_cell(name, safe):
    assert csv_cell(name) == safe


def test_control_characters_are_escaped_on_the_terminal(capsys, tmp_path):
    data = tmp_path / "d.csv"
    evil = "\x1b[31mred\x1b[0m"
    data.write_text("x1,x2,kind\n" + "".join(
        f"{i % 2},{i // 2},{evil if (i % 2) ^ (i // 2) else 'plain'}\n" for i in range(4)
    ))
    model = tmp_path / "m.npz"
    assert main(["train", "--layers", "2,2,2", "--activation", "tanh,softmax", "--loss", "cross_entropy",
                 "--data", str(data), "--epochs", "2", "--no-progress", "--save", str(model)]) == 0
    capsys.readouterr()
    code, out, err = run(capsys, "predict", str(model), "--data", str(data))
    assert code == 0 and "\x1b" not in out + err and "\\x1b[31mred\\x1b[0m" in out
    for argv in (["derive", "--layers", "2,1", "--wrt", evil],
                 ["check", *NET, "--wrt", "w2_1_1", "--formula", f"a1_1 + {evil}"],
                 ["derive", "--layers", "2,1", "--activation", "\u202esigmoid"],
                 ["train", "--layers", "2,1", "--data", evil]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and one_line(err)
        assert "\x1b" not in out + err and "\u202e" not in out + err


def test_printable_keeps_newlines_tabs_and_unicode_maths():
    assert printable("∂J/∂w⁽¹⁾₁₁ ≈ 0.5\n\tδ") == "∂J/∂w⁽¹⁾₁₁ ≈ 0.5\n\tδ"
    assert printable("a\rb\x07\x9b") == "a\\x0db\\x07\\x9b"


def test_derivation_notes_speak_in_flags(capsys):
    code, out, _err = run(capsys, "derive", "--layers", "2,2,2", "--wrt", "w1_1_1")
    assert code == 0 and "--expand prints it" in out and "net.grad(" not in out
