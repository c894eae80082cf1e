"""Every ``$ command`` shown in the README and docs/ runs, and prints what the page shows.

A fenced block whose first line starts with ``$ `` is a shell session. The sessions of a
page run in order in one fresh temporary folder (a later block may use a file an earlier
one wrote). A command may continue over lines ending in ``\\`` and may carry a here-document
(``<<'EOF'`` ... ``EOF``). Its output (stdout and stderr) must match the lines under it,
where ``...`` stands for any text, as in doctest; ``echo $?`` prints the previous exit code.
Numbers are compared the way they are printed, not digit for digit: a decimal number may
differ from the page by one unit in its last printed digit (or a relative 1e-6), because
two machines (BLAS builds, thread counts) may round the same result to neighbouring last
digits; integers must be equal. Blocks that run benchmarks are left out: their timings vary
from run to run.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")


def steps(block: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of one session block."""
    out: list[tuple[str, list[str]]] = []
    lines = iter(block.splitlines())
    for line in lines:
        if not line.startswith("$ "):
            out[-1][1].append(line)
            continue
        cmd = line[2:]
        while cmd.endswith("\\"):
            cmd = cmd[:-1] + " " + next(lines).strip()
        heredoc = HEREDOC.search(cmd)
        if heredoc:
            body = []
            for more in lines:
                body.append(more)
                if more.strip() == heredoc.group(1):
                    break
            cmd = "\n".join([cmd, *body])
        out.append((cmd, []))
    return [(cmd, "\n".join(expected) + "\n" if expected else "") for cmd, expected in out]


NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _unit(text: str) -> float:
    """One unit in the last printed digit of ``text`` (0 for an integer: exact)."""
    mantissa, _, exponent = text.lower().partition("e")
    if "." not in mantissa and not exponent:
        return 0.0
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_match(expected: str, got: str) -> bool:
    """``got`` reads as ``expected`` (``...`` for any text, whitespace runs alike), each number
    within one unit of its last printed digit or a relative 1e-6.

    >>> numbers_match("loss 0.0013772 (4/4)", "loss 0.0013773 (4/4)")
    True
    >>> numbers_match("loss 0.0013772 (4/4)", "loss 0.0013775 (4/4)")
    False
    >>> numbers_match("accuracy ... (4/4)", "accuracy 100% (3/4)")
    False
    """
    expected, got = " ".join(expected.split()), " ".join(got.split())
    pattern, wanted = [], []
    for i, chunk in enumerate(re.split(r"(\.\.\.)", expected)):
        if i % 2:
            pattern.append(".*?")
            continue
        last = 0
        for m in NUMBER.finditer(chunk):
            pattern += [re.escape(chunk[last:m.start()]), f"({NUMBER.pattern})"]
            wanted.append(m.group())
            last = m.end()
        pattern.append(re.escape(chunk[last:]))
    match = re.fullmatch("".join(pattern), got, re.S)
    if match is None:
        return False
    for want, have in zip(wanted, match.groups()):
        a, b = float(want), float(have)
        unit = max(_unit(want), _unit(have))
        if unit == 0.0:  # two integers (counts, sizes, indices): exactly
            if want != have:
                return False
        elif abs(a - b) > max(unit * (1 + 1e-9), 1e-6 * abs(a)):
            return False
    return True


def pages_with_sessions():
    for page in PAGES:
        blocks = [
            b for b in FENCE.findall(page.read_text(encoding="utf-8"))
            if b.startswith("$ ") and "benchmarks/" not in b
        ]
        if blocks:
            yield pytest.param(blocks, id=page.name)


QUOTED = re.compile(r"'[^']*'|\"[^\"$`\\\\]*\"")
SHELL = re.compile(r"[|;&<>$`()\\\\*?\[\]{}~\n]")


def plain(cmd: str) -> bool:
    """A ``symbackprop ARGS`` line that bash would only split into words: outside quotes, no
    pipe, redirection, variable, glob, escape or second command."""
    return cmd.startswith("symbackprop ") and not SHELL.search(QUOTED.sub("", cmd))


def run_in_process(cmd: str) -> tuple[int, str]:
    """``symbackprop ARGS`` through the CLI's ``main`` in this process: the exit code and
    stdout + stderr as a shell would show them (the warnings a fresh interpreter shows).

    Starting an interpreter per command cost most of this module's time; the lines with
    pipes, redirections or other programs still run in bash, so the console script itself
    keeps being run (``symbackprop predict ... | tail -1``, ``printf ... | symbackprop train``).
    """
    import io
    import warnings
    from contextlib import redirect_stderr, redirect_stdout

    from symbackprop.cli import main

    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True) for _ in range(2))
    with warnings.catch_warnings(), redirect_stdout(out), redirect_stderr(err):
        warnings.resetwarnings()  # Python's defaults, not pytest's filterwarnings = error
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        try:
            status = main(shlex.split(cmd)[1:])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    texts = [stream.buffer.getvalue().decode("utf-8") for stream in (out, err)]
    return status, "".join(t.replace("\r\n", "\n").replace("\r", "\n") for t in texts)


@pytest.mark.parametrize("blocks", list(pages_with_sessions()))
def test_sessions(blocks, tmp_path, monkeypatch):
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "COLUMNS": "80",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for name in ("MPLBACKEND", "COLUMNS"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.chdir(tmp_path)
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    status = 0
    for block in blocks:
        for cmd, expected in steps(block):
            if cmd == "echo $?":
                got = f"{status}\n"
            elif plain(cmd):
                status, got = run_in_process(cmd)
            else:
                run = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env,
                                     capture_output=True, text=True, timeout=300)
                status, got = run.returncode, run.stdout + run.stderr
            assert checker.check_output(expected, got, flags) or numbers_match(expected, got), (
                f"$ {cmd}\n--- expected:\n{expected}--- got:\n{got}"
            )
