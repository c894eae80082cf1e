"""Run hostile input in a child process with its memory bounded, shared by the tests.

The time and memory a hostile input may cost are asserted here, in the child, with
``resource.setrlimit(RLIMIT_AS, ...)`` and a subprocess timeout, never with wall-clock
measurements in the test process.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

#: The address space a child may use: the interpreter with NumPy and SymPy takes about
#: 200 MB of it; anything inflating a hostile input (2 GiB and more) fails far before.
MEMORY = 768 << 20


def run_python(code: str, *, memory: int = MEMORY, timeout: float = 120, stdin=None):
    """Run ``code`` in a child Python whose address space is at most ``memory`` bytes."""
    limit = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", limit + code], capture_output=True, text=True, timeout=timeout,
        env=env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
    )


def run_cli(*args: str, memory: int = MEMORY, timeout: float = 120):
    """``symbackprop ARGS`` in a bounded child; returns the CompletedProcess."""
    return run_python(
        "import sys\nfrom symbackprop.cli import main\n"
        f"sys.exit(main({list(args)!r}))\n", memory=memory, timeout=timeout,
    )


#: One child imports symbackprop once, then forks a grandchild per command line: each runs
#: ``main`` with its own memory cap (RLIMIT_AS) and its own time limit (killed when over),
#: with stdout and stderr in files, as ``run_cli`` would, without importing SymPy each time.
#: (Forking the single-threaded child is safe: OpenBLAS runs with one thread here.)
_MANY = """
import json, os, resource, shutil, signal, sys, tempfile, time, traceback
import importlib
from symbackprop.cli import build_parser, main
build_parser()
# The modules a command imports on first use, imported once here (a speed-up only).
for name in ["numpy", "sympy", "symbackprop.checking", "symbackprop.checking.latex", "symbackprop.training",
             "symbackprop.datasets", "symbackprop.derivation", "symbackprop.equations",
             "sympy.parsing.latex._parse_latex_antlr", "sympy.parsing.latex._antlr.latexparser",
             "sympy.parsing.latex._antlr.latexlexer"]:
    try:
        importlib.import_module(name)
    except ImportError:  # the optional LaTeX parser
        pass
memory, timeout, cases = json.loads(sys.stdin.read())
tmp = tempfile.mkdtemp()
out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
results = []
for argv in cases:
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            for fd, path in ((1, out), (2, err)):
                f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(f, fd)
                os.close(f)
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()  # as the interpreter would, exit code 1
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            code = "timeout"
            break
        time.sleep(0.005)
    with open(out, encoding="utf-8", errors="replace") as o, open(err, encoding="utf-8", errors="replace") as e:
        results.append([code, o.read(), e.read()])
shutil.rmtree(tmp)
print(json.dumps(results))
"""


def run_cli_many(argvs: list[list[str]], *, memory: int = MEMORY, timeout: float = 60):
    """``symbackprop ARGV`` for each ARGV, each in a bounded forked child (see ``_MANY``).

    Returns one ``CompletedProcess`` per ARGV; a child over ``timeout`` seconds has
    returncode ``"timeout"``.
    """
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _MANY], input=json.dumps([memory, timeout, argvs]),
        capture_output=True, text=True, timeout=60 + timeout * len(argvs), env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [subprocess.CompletedProcess(["symbackprop", *argv], code, out, err)
            for argv, (code, out, err) in zip(argvs, json.loads(done.stdout.splitlines()[-1]))]


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """The ``.npy`` magic and header of an array of ``shape`` (no data)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def deflate_bomb(path, member: str, head: bytes, zeros: int) -> None:
    """Write a zip holding one deflated ``member``: ``head`` then ``zeros`` zero bytes.

    Built in a second from one compressed MiB repeated (after a full flush, the same input
    compresses to the same bytes), so a 2 GiB member costs about 2 MB on disk. The CRC is
    not computed (0): a loader that inflates the member runs out of memory long before it
    could notice.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    data = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert zeros % len(chunk) == 0
    data += block * (zeros // len(chunk)) + c.flush()
    size = len(head) + zeros
    name = member.encode()
    zip64 = struct.pack("<HHQQ", 1, 16, size, len(data))
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, 8, 0, 0x21, 0,
                        0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64)) + name + zip64
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 8, 0, 0x21, 0,
                          0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64), 0, 0, 0, 0, 0) + name + zip64
    offset = len(local) + len(data)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), offset, 0)
    with open(path, "wb") as fh:
        fh.write(local + data + central + end)
