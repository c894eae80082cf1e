"""The shared atomic writer and bounded reader (symbackprop.files), and the error classes."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop import errors, files
from symbackprop.errors import OutputError, SymbackpropError
from symbackprop.files import TEMP_TAG, check_writable, open_output, read_bytes, write_bytes

posix = pytest.mark.skipif(os.name != "posix" or not hasattr(os, "mkfifo"), reason="POSIX FIFOs")


def temps(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if TEMP_TAG in n)


# ------------------------------------------------------------------ errors in one place
def test_every_exception_lives_in_errors_and_is_exported():
    from symbackprop import datasets, store, training

    for name in ("DataError", "ModelFileError", "OutputError", "TrainingDivergedError"):
        cls = getattr(errors, name)
        assert cls.__module__ == "symbackprop.errors" and getattr(sbp, name) is cls
        assert name in sbp.__all__ and name in errors.__all__
        assert issubclass(cls, SymbackpropError)
    # Still importable from where they lived, as the same class.
    assert datasets.DataError is errors.DataError
    assert store.ModelFileError is errors.ModelFileError
    assert training.TrainingDivergedError is errors.TrainingDivergedError
    # Code that caught the old classes keeps working.
    assert issubclass(errors.DataError, ValueError) and issubclass(errors.DataError, errors.SpecError)
    assert issubclass(errors.OutputError, errors.SpecError)
    assert issubclass(errors.TrainingDivergedError, FloatingPointError)


def test_the_two_writers_are_one():
    from symbackprop import store
    from symbackprop.render import drawing

    assert store.atomic_write is files.open_output
    assert not hasattr(drawing, "write_atomic")


def test_picture_format_and_disk_errors_are_output_errors(tmp_path):
    from matplotlib.figure import Figure

    from symbackprop.render.drawing import picture_format, save_figure

    with pytest.raises(OutputError, match="Cannot save a picture as 'gif'"):
        picture_format("gif")
    with pytest.raises(OutputError, match=r"Cannot write picture '.*nowhere/a.png': the directory '.*nowhere' does not exist"):
        save_figure(Figure(figsize=(1, 1)), tmp_path / "nowhere" / "a.png")


# ------------------------------------------------------------------ writing
def test_regular_file_is_replaced_atomically_keeping_its_mode(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(0o640)
    with open_output(target, "w") as fh:
        fh.write("new")
        assert len(temps(tmp_path)) == 1
        assert target.read_text() == "old"  # not visible until the body ends
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert temps(tmp_path) == []


def test_a_failing_body_leaves_the_target_and_no_temp_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with open_output(target) as fh:
            fh.write(b"half")
            raise RuntimeError("stop")
    with pytest.raises(OutputError, match="No space left on device"):
        with open_output(target):
            raise OSError(28, "No space left on device")
    assert target.read_bytes() == b"old" and temps(tmp_path) == []


def test_symlink_is_followed_and_its_target_replaced(tmp_path):
    real = tmp_path / "real" / "model.npz"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    net = sbp.mlp([2, 1])
    sbp.save(link, net, net.init_params(0))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert sbp.load(real).params == net.init_params(0)
    assert temps(real.parent) == [] and temps(tmp_path) == []


def test_dash_writes_to_stdout(capsys):
    with open_output("-", "w") as fh:
        fh.write("to stdout\n")
    assert capsys.readouterr().out == "to stdout\n"


@posix
def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "p.csv"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_bytes(fifo, b"a,b\n1,2\n")
    reader.join(30)
    assert got == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and temps(tmp_path) == []


@posix
def test_a_character_device_is_written_through_not_replaced(tmp_path):
    before = os.stat("/dev/null")
    write_bytes("/dev/null", b"x" * 1000)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    link = tmp_path / "sink"
    link.symlink_to("/dev/null")  # a link to a device: the device, through the link
    write_bytes(link, b"y")
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    if os.path.exists("/dev/full"):
        with pytest.raises(OutputError, match="Cannot write file '/dev/full': No space left on device"):
            write_bytes("/dev/full", b"z" * 10000)
        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_check_writable_names_the_path_and_why(tmp_path):
    check_writable(tmp_path / "new.npz")
    check_writable("-")
    with pytest.raises(OutputError, match=r"Cannot write model file '.*missing/m.npz': the directory '.*missing' does not exist\."):
        check_writable(tmp_path / "missing" / "m.npz", what="model file")
    with pytest.raises(OutputError, match="it is a directory"):
        check_writable(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="is not a directory"):
        check_writable(tmp_path / "file" / "m.npz")
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(OutputError, match="is not writable"):
            check_writable(ro / "m.npz")


def test_stale_temp_files_of_dead_processes_are_removed_on_the_next_save(tmp_path):
    target = tmp_path / "m.npz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".m.npz{TEMP_TAG}{dead_pid}-0a1b2c3d",
            "live": f".m.npz{TEMP_TAG}{live.pid}-0a1b2c3d",
            "old": f".m.npz{TEMP_TAG}{live.pid}-deadbeef",
            "other target": f".n.npz{TEMP_TAG}{dead_pid}-0a1b2c3d",
            "not ours": ".m.npz.abc.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"partial")
        old = time.time() - files.STALE_AFTER - 60
        os.utime(tmp_path / names["old"], (old, old))
        write_bytes(target, b"new")
        left = set(os.listdir(tmp_path))
        assert names["dead"] not in left and names["old"] not in left
        assert {names["live"], names["other target"], names["not ours"], "m.npz"} <= left
    finally:
        live.kill()
        live.wait()


# One child imports symbackprop once, then forks a saver per round; the test kills each
# saver with SIGKILL at a random moment (forking a single-threaded child is safe, and
# saves importing SymPy ten times).
SAVERS = """
import os, signal, sys
import numpy as np, symbackprop as sbp
from symbackprop import store
net = sbp.mlp([2, 3, 1])
params = net.init_params(0)
history = {"loss": np.linspace(0, 1, 1_000_000), "epochs": 1}   # about 8 MB a save
print("ready", flush=True)
for _ in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            while True:
                store.save(sys.argv[1], net, params, history)
        finally:
            os._exit(1)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_kill_9_during_saves_leaves_no_temp_file_after_the_next_save(tmp_path):
    target = tmp_path / "big.npz"
    rng = random.Random(10)
    killed_with_temp = 0
    with subprocess.Popen([sys.executable, "-c", SAVERS, str(target)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout.readline() == "ready\n"
        for _ in range(8):
            child.stdin.write("go\n")
            child.stdin.flush()
            saver = int(child.stdout.readline())
            time.sleep(rng.uniform(0.05, 0.25))  # a few 8 MB saves: kills land anywhere in one
            os.kill(saver, signal.SIGKILL)
            assert child.stdout.readline() == "True\n"  # it died of the SIGKILL
            killed_with_temp += bool(temps(tmp_path))
            if target.exists():  # whatever the moment of the kill, the target is whole
                assert sbp.load(target).history.loss[-1] == 1.0
        child.stdin.close()
    net = sbp.mlp([2, 3, 1])
    sbp.save(target, net, net.init_params(0))
    assert temps(tmp_path) == [] and os.listdir(tmp_path) == ["big.npz"]
    assert killed_with_temp > 0, "no kill landed during a save: the test proved nothing"


# ------------------------------------------------------------------ reading
@posix
def test_a_fifo_or_device_is_refused_as_input_at_once(tmp_path):
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)  # nobody writes to it: opening it for reading would block
    for path, kind in ((fifo, "a FIFO"), ("/dev/zero", "a character device")):
        with pytest.raises(SymbackpropError, match=f"is {kind}.*not a regular file"):
            read_bytes(path, what="data file")
    with pytest.raises(SymbackpropError, match="is a directory"):
        read_bytes(tmp_path)


def test_limits_come_from_the_argument_then_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 100)
    monkeypatch.setenv("SYMBACKPROP_MAX_TEXT_BYTES", "50")
    with pytest.raises(SymbackpropError, match="100 bytes, over the limit of 50 bytes.*SYMBACKPROP_MAX_TEXT_BYTES"):
        read_bytes(path, limit_name="text_bytes")
    assert read_bytes(path, limit_name="text_bytes", max_bytes=100) == b"x" * 100
    monkeypatch.setenv("SYMBACKPROP_MAX_TEXT_BYTES", "lots")
    with pytest.raises(sbp.SpecError, match="SYMBACKPROP_MAX_TEXT_BYTES must be a positive integer; got 'lots'"):
        read_bytes(path, limit_name="text_bytes")


def test_a_stream_is_bounded_while_it_is_read():
    code = (
        "import sys\nfrom symbackprop.files import read_bytes\n"
        "try:\n    read_bytes('-', stdin=True, max_bytes=1000)\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], input=b"y" * 5000, capture_output=True,
                         timeout=60, env=os.environ)
    assert b"SymbackpropError -: the file is larger than the limit of 1000 bytes" in out.stdout


def test_random_bytes_never_escape_as_anything_but_a_symbackprop_error(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "noise.npz"
    for _ in range(20):
        path.write_bytes(b"PK" + rng.bytes(int(rng.integers(0, 3000))))
        with pytest.raises(sbp.ModelFileError):
            sbp.load(path)
