"""The bounded child process: results, time and memory bounds, and no process left behind.

The subprocess tests run real scripts the way a user would (no ``__main__`` guard, BLAS
threads, JAX, a spawn start method, code piped on stdin as a notebook or REPL has it) and
kill the parent of a running check with SIGTERM, SIGKILL and SIGINT.
"""

from __future__ import annotations

import json
import operator
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop import bounded
from symbackprop.activations import ACTIVATIONS
from symbackprop.losses import LOSSES
from symbackprop.store import ModelFileError, load

posix_only = pytest.mark.skipif(os.name != "posix", reason="signals and process groups are POSIX")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")

#: Right for ∂J/∂w2_1_1 of the 2-2-1 sigmoid net, but only simplify can tell (a child is needed).
NEEDS_PROOF = "(a2_1 - y1)*(a2_1 - a2_1**2)*a1_1"
#: Right too (the added terms cancel numerically), but simplify takes many seconds on it.
SLOW_PROOF = (
    "(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1 + tanh(z1_1)**50 - (exp(2*z1_1) - 1)**50/(exp(2*z1_1) + 1)**50"
)


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a pid reused by another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run_script(code: str, how: str, tmp_path) -> subprocess.CompletedProcess:
    """Run ``code`` as a user would: a script file, piped on stdin, or in IPython."""
    code = textwrap.dedent(code)
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")}
    script = tmp_path / "user_script.py"
    script.write_text(code)
    argv = {
        "script": [sys.executable, str(script)],
        "stdin": [sys.executable, "-"],
        # IPython's __main__ is its interactive namespace, with no file, as in Jupyter.
        "ipython": [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor",
                    "-c", code],
    }[how]
    return subprocess.run(argv, input=code if how == "stdin" else None, capture_output=True,
                          text=True, timeout=300, env=env, cwd=tmp_path)


# ----------------------------------------------------------------- in this process
def test_results_and_exceptions_come_back():
    assert bounded.run(abs, -2) == 2
    assert bounded.run(divmod, 7, 2) == (3, 1)
    with pytest.raises(ValueError, match="invalid literal"):
        bounded.run(int, "x")
    with pytest.raises(sbp.FormulaError, match="unknown name"):
        bounded.run(sbp.parse_formula, "q + 1", {"z": sp.Symbol("z")})
    with pytest.raises(TypeError, match="importable by name"):
        bounded.run(lambda: 1)
    # The child keeps running between calls: one process, started once.
    pid = bounded.child_pid()
    assert bounded.run(os.getpid) == pid != os.getpid()


def test_sympy_objects_round_trip():
    z = sp.Symbol("z", real=True)
    back = bounded.run(operator.pos, z)
    assert back == z and back.is_real
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    exprs = [net.grad(p) for p in net.params]
    exprs += [act.expr for act in ACTIVATIONS.values()]
    a, y = sp.symbols("a1 a2", real=True), sp.symbols("y1 y2", real=True)
    exprs += [loss(list(a), list(y)) for loss in LOSSES.values()]
    assert bounded.run(list, exprs) == exprs


def test_is_zero():
    x = sp.Symbol("x")
    assert bounded.is_zero([x + 1, sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1])
    assert not bounded.is_zero([x + 1])
    assert sp.simplify(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1) == 0  # the oracle agrees


def test_timeout_kills_the_child_and_the_next_call_works():
    first = bounded.start()
    with pytest.raises(bounded.TimeLimitError, match="longer than 0.2 s"):
        bounded.run(time.sleep, 60, timeout=0.2)
    assert gone(first)  # killed and reaped before run() returned
    assert bounded.child_pid() is None
    assert bounded.run(abs, -1) == 1
    assert bounded.child_pid() not in (None, first)


@posix_only
def test_an_interrupt_while_waiting_kills_the_child():
    # As Ctrl-C in a terminal or "interrupt" in Jupyter: KeyboardInterrupt in the caller.
    assert bounded.run(abs, -1) == 1
    pid = bounded.child_pid()
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            bounded.run(time.sleep, 60, timeout=120)
    finally:
        timer.join()
    assert gone(pid) and bounded.child_pid() is None
    assert bounded.run(abs, -3) == 3


def test_a_child_killed_from_outside_is_replaced():
    pid = bounded.start()
    assert bounded.run(abs, -1) == 1
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid, 5)
    assert bounded.run(abs, -4) == 4
    assert bounded.child_pid() != pid


@linux_only
def test_memory_bound_refuses_a_blow_up():
    with pytest.raises(bounded.MemoryLimitError, match="more than 512 MiB"):
        bounded.run(bytearray, 2**30, memory=512 * 2**20)
    assert bounded.run(len, bytearray(10)) == 10


@posix_only
def test_a_forked_process_gets_its_own_child():
    pid = bounded.start()
    assert bounded.run(abs, -1) == 1
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        forked = os.fork()
    if forked == 0:  # pragma: no cover - the forked copy of this test process
        try:
            ok = bounded.run(os.getppid) == os.getpid() and bounded.child_pid() != pid
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(forked, 0)
    assert answer == b"1"
    assert bounded.run(abs, -2) == 2 and bounded.child_pid() == pid  # ours is untouched


def test_bad_time_bound():
    with pytest.raises(ValueError, match="positive number of seconds"):
        bounded.run(abs, 1, timeout=0)
    assert bounded.run(abs, -1, timeout=float("inf")) == 1


def test_stop():
    pid = bounded.start()
    bounded.stop()
    assert gone(pid) and bounded.child_pid() is None


# ---------------------------------------------------- the places that use the bound
def slow_model(tmp_path):
    """A model file whose registered activation name carries a formula slow to simplify."""
    net = sbp.mlp([1, 1], activation="sigmoid", loss="quadratic")
    path = tmp_path / "m.npz"
    sbp.save(path, net, net.init_params(seed=0))
    with np.load(path) as npz:
        arrays = dict(npz)
    spec = json.loads(str(arrays["spec"][()]))
    spec["activations"][0]["formula"] = (
        "1/(1 + exp(-z)) + tanh(z)**50 - (exp(2*z) - 1)**50/(exp(2*z) + 1)**50"
    )
    arrays["spec"] = np.array(json.dumps(spec))
    np.savez(path, **arrays)
    return path


def test_loading_a_model_is_time_bounded(tmp_path, monkeypatch):
    path = slow_model(tmp_path)
    monkeypatch.setattr(bounded, "TIME_LIMIT", 0.5)
    with pytest.raises(ModelFileError, match=r"activation 'sigmoid' could not be compared .*0\.5 s"):
        load(path)


def test_check_times_out_then_proves(tmp_path):
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    r = sbp.check(net, "w2_1_1", SLOW_PROOF, timeout=0.5)
    assert r.ok and r.outcomes["symbolic"] == "undecided within 0.5 s"
    assert bounded.child_pid() is None  # the child of the timed-out proof is gone
    r = sbp.check(net, "w2_1_1", NEEDS_PROOF)
    assert r.ok and r.outcomes["symbolic"] == "proved equal"


# --------------------------------------------------------- real scripts of a user
PREAMBLES = {
    "blas threads": "np.ones((300, 300)) @ np.ones((300, 300))",
    "spawn start method": "import multiprocessing; multiprocessing.set_start_method('spawn')",
    "jax": "import jax.numpy as jnp; jnp.ones(3).sum().block_until_ready()",
}


# The child is a fresh interpreter started with Popen (nothing forked, the user's __main__
# never imported), so how the script runs matters only with the spawn start method (which
# re-imports __main__), and the threads of BLAS or JAX matter only to a fork: spawn runs
# every way; BLAS threads and JAX once each (the 3 x 3 product repeated the same path).
SCRIPT_CASES = [("spawn start method", how) for how in ("script", "stdin", "ipython")] + [
    ("blas threads", "script"), ("jax", "ipython"),
]


@pytest.mark.parametrize(("preamble", "how"), SCRIPT_CASES, ids=[f"{p}-{h}" for p, h in SCRIPT_CASES])
def test_a_script_without_main_guard_runs_once(preamble, how, tmp_path):
    if preamble == "jax":
        pytest.importorskip("jax")
    if how == "ipython":
        pytest.importorskip("IPython")
    out = run_script(
        f"""
        import numpy as np
        {PREAMBLES[preamble]}
        import symbackprop as sbp
        from symbackprop import bounded
        print("top-level code ran")
        net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
        for _ in range(2):
            print(sbp.check(net, "w2_1_1", {NEEDS_PROOF!r}).outcomes["symbolic"])
        print("child used:", bounded.child_pid() is not None)
        """,
        how,
        tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("top-level code ran") == 1
    assert out.stdout.count("proved equal") == 2
    assert "child used: True" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@linux_only
@posix_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT], ids=lambda s: s.name)
def test_killing_the_parent_of_a_running_check_kills_the_child(sig):
    cmd = [sys.executable, "-m", "symbackprop", "check", "--layers", "2,2,1", "--activation",
           "sigmoid", "--loss", "quadratic", "--wrt", "w2_1_1", "--timeout", "120",
           "--formula", SLOW_PROOF]
    parent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=os.environ.copy())
    try:
        # Wait until the parent has a child and the child is in the proof: twice the CPU
        # time starting up takes (importing SymPy, about half a second; the proof, many seconds).
        deadline = time.monotonic() + 120
        child = None
        while child is None or cpu_seconds(child) < 1:
            assert time.monotonic() < deadline and parent.poll() is None, "no busy child appeared"
            kids = children(parent.pid)
            child = kids[0] if kids else None
            time.sleep(0.02)
        parent.send_signal(sig)
        parent.wait(timeout=60)
        assert wait_gone(child, 1.0), f"child {child} outlived its parent ({sig.name})"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
