"""``symbackprop check``: output and exit codes (0 right, 1 wrong, 2 bad input)."""

from __future__ import annotations

import json

import pytest

from symbackprop.checking.latex import latex_available
from symbackprop.cli import main

NET = ["--layers", "2,2,1", "--activation", "sigmoid", "--loss", "quadratic"]


def run(capsys, *argv):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_right_and_wrong(capsys):
    code, out, _ = run(capsys, *NET, "--wrt", "w2_1_1", "--formula", "(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1")
    assert code == 0 and out.startswith("RIGHT")
    code, out, _ = run(capsys, *NET, "--wrt", "w2_1_1", "--formula", "(a2_1 - y1)*a1_1")
    assert code == 1 and out.startswith("WRONG")
    assert "Counterexample" in out and "σ'(z2_1)" in out


def test_json(capsys):
    code, out, _ = run(capsys, *NET, "--wrt", "b2_1", "--formula=-delta2_1", "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["diagnosis"]["kind"] == "sign"
    assert set(data["counterexample"]["point"]) >= {"x1", "x2", "y1", "w2_1_1"}


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--wrt", "w2_1_1", "--formula", "__import__('os').system('touch {p}')"], "__import__"),
        (["--wrt", "w2_1_1", "--formula", "a1_1.real"], "Attribute"),
        (["--wrt", "w9_1_1", "--formula", "a1_1"], "Unknown parameter"),
        (["--wrt", "w2_1_1"], "--formula"),
        (["--formula", "a1_1"], "--wrt"),
    ],
)
def test_bad_input_exit_2(capsys, tmp_path, argv, needle):
    target = tmp_path / "pwned"
    argv = [a.replace("{p}", str(target)) for a in argv]
    code, _out, err = run(capsys, *NET, *argv)
    assert code == 2 and needle in err and err.count("\n") == 1
    assert not target.exists()


def test_file(capsys, tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("# derivation\nb2_1: delta2_1\nw2_1_1: delta2_1*a1_2\n", encoding="utf-8")
    code, out, _ = run(capsys, *NET, "--file", str(f))
    assert code == 1
    assert "line 2 (b2_1): RIGHT" in out and "line 3 (w2_1_1): WRONG" in out
    assert "gradient of w2_1_2" in out and "1 of 2 formulas right." in out
    code, out, _ = run(capsys, *NET, "--file", str(f), "--json")
    assert [d["ok"] for d in json.loads(out)] == [True, False]
    f.write_text("b2_1: delta2_1\nb2_1: lambda: 1\n", encoding="utf-8")
    code, out, _ = run(capsys, *NET, "--file", str(f))
    assert code == 2 and "line 2 (b2_1): error:" in out
    f.write_text("b2_1: delta2_1\n", encoding="utf-8")
    assert run(capsys, *NET, "--file", str(f))[0] == 0


def test_function_mode(capsys):
    code, out, _ = run(capsys, "--function", "1/(1+exp(z))", "--formula", "sigmoid(z)*(1-sigmoid(z))")
    assert code == 1 and "σ(−z)" in out
    code, out, _ = run(capsys, "--function", "relu(z)", "--formula", "heaviside(z)")
    assert code == 0


def test_latex(capsys):
    argv = [*NET, "--wrt", "w2_1_1", "--latex", r"\delta^{(2)}_1 a^{(1)}_1"]
    code, out, err = run(capsys, *argv)
    if latex_available():
        assert code == 0 and out.startswith("RIGHT")
    else:
        assert code == 2 and "symbackprop[latex]" in err
