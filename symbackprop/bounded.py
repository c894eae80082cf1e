"""SymPy work under a time and memory bound, in one warm child process: :func:`run`.

Why a child process
-------------------
``sympy.simplify`` (or SymPy's LaTeX parser, or an innocent-looking ``2**2**2**2**10``)
may take seconds, hours or gigabytes, and cannot be interrupted from inside the process:
a Python thread cannot be killed, ``signal.alarm`` works only in the main thread and not
inside long C calls. A separate process can be killed, whatever it is doing.

How it works
------------
- **Process model.** One child per parent process, started on first use and then kept
  warm for later calls. It is a fresh interpreter (``subprocess``, ``python -c`` running
  :func:`_serve` of this module), so it never imports the user's ``__main__``: a script
  without an ``if __name__ == "__main__":`` guard, a notebook, or a process whose
  ``multiprocessing`` start method is spawn or forkserver (macOS, Windows) all behave the
  same, and threads in the parent (BLAS, JAX) do not matter since nothing is forked but
  ``exec``. Tasks ``(function, arguments)`` and results go as pickles over the child's
  stdin and stdout, between our own two processes only; functions travel by name, so only
  importable module-level functions can be run. Calls are serialised by a lock.
- **Time bound.** The clock starts when the child has read the task (so its start-up
  and imports do not count) and ends at the reply. When ``timeout`` passes first, the
  child's process group is killed (SIGKILL), the child is reaped, and
  :class:`TimeLimitError` is raised; the next call starts a fresh child. An interrupt
  (Ctrl-C, a Jupyter "stop") while waiting kills the child the same way.
- **Memory bound.** Before each task the child sets its address-space limit
  (``RLIMIT_AS``) to ``memory`` (default :data:`MEMORY_LIMIT`, 2 GiB), so a blow-up is
  refused with :class:`MemoryLimitError` instead of swapping; the child is then replaced.
  Enforced on Linux; macOS does not enforce ``RLIMIT_AS`` and Windows has no ``resource``
  module, so there only the time bound holds.
- **Dies with its parent**, on SIGTERM, SIGKILL or SIGINT of the parent: on Linux the
  child asks for ``PR_SET_PDEATHSIG`` (SIGKILL) at start-up and then checks that its
  parent is still the one that started it (closing the race); a thread watches stdin
  for end-of-file (the parent's end of the pipe closes when the parent dies, on every
  platform) and another polls ``getppid()`` (reparenting, on POSIX). The child runs in its
  own process group (a new session), so a terminal's Ctrl-C reaches only the parent, which
  then kills the group. The parent kills it at exit too.

The thread that starts the child is the one that reads its replies and lives exactly as
long as the child: Linux sends the parent-death signal when the *thread* that created the
child ends, so starting it from a short-lived thread would kill it early.
"""

from __future__ import annotations

import atexit
import math
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sympy as sp

from .errors import SymbackpropError

__all__ = [
    "MEMORY_LIMIT",
    "TIME_LIMIT",
    "MemoryLimitError",
    "TimeLimitError",
    "WorkerError",
    "child_pid",
    "is_zero",
    "run",
    "start",
    "stop",
]

#: Default seconds a bounded computation may take (the checker's ``timeout`` default);
#: read at each call, so a program may change it (it bounds e.g. :func:`symbackprop.load`).
TIME_LIMIT: float = 5.0
#: Default address-space limit of the child while it computes, in bytes (2 GiB); read at
#: each call; None for no limit.
MEMORY_LIMIT: int | None = 2 * 1024**3
#: Seconds the child may take to start (import SymPy) or to read a task, before the
#: bound proper starts. Generous: a loaded machine can be slow to import.
STARTUP_LIMIT = 120.0

T = TypeVar("T")
_POSIX = os.name == "posix"
_HEADER = 8  # bytes of the length prefix of each pickled frame


class TimeLimitError(SymbackpropError, TimeoutError):
    """A bounded computation that did not finish within its time bound (it was stopped)."""


class MemoryLimitError(SymbackpropError, MemoryError):
    """A bounded computation that needed more memory than its bound (it was stopped)."""


class WorkerError(SymbackpropError, RuntimeError):
    """The child process could not start, or ended without answering."""


# ------------------------------------------------------------------ the parent side
def _send(stream, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(_HEADER, "little") + data)
    stream.flush()


def _frames(stream, box: queue.Queue) -> None:
    """Put each length-prefixed frame of ``stream`` into ``box``; None at end of file."""
    try:
        while True:
            head = stream.read(_HEADER)
            if len(head) < _HEADER:
                break
            size = int.from_bytes(head, "little")
            body = stream.read(size)
            if len(body) < size:
                break
            box.put(body)
    except (OSError, ValueError):  # the stream was closed under us: the child is gone
        pass
    box.put(None)


def _command() -> list[str]:
    # sys.path[0] of "python -c" is the current directory; replace it by the directory
    # holding this package, so the child imports this very copy and no file of the user's.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    boot = "import sys; sys.path[0] = sys.argv[1]; from symbackprop.bounded import _serve; _serve(int(sys.argv[2]))"
    return [sys.executable, "-c", boot, root, str(os.getpid())]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # The child does no numerics: one BLAS thread keeps its start-up small and its
    # address space far below the memory bound.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    env["PYTHONWARNINGS"] = "ignore"  # a warning of SymPy's is no answer; stderr stays quiet
    return env


class _Child:
    """One running child: its process, and the thread that started it and reads its replies."""

    def __init__(self) -> None:
        if not sys.executable:
            raise WorkerError("Cannot start a child process: sys.executable is not known here.")
        self.replies: queue.Queue = queue.Queue()
        started: queue.Queue = queue.Queue()
        self.reader = threading.Thread(
            target=self._start_and_read, args=(started,), name="symbackprop-bounded", daemon=True
        )
        self.reader.start()
        proc = started.get()
        if isinstance(proc, BaseException):
            raise WorkerError(f"Cannot start a child process ({type(proc).__name__}: {proc}).")
        self.proc: subprocess.Popen = proc
        self.ready = False

    def _start_and_read(self, started: queue.Queue) -> None:
        try:
            proc = subprocess.Popen(
                _command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=_environment(),
                start_new_session=_POSIX,
                creationflags=0 if _POSIX else subprocess.CREATE_NEW_PROCESS_GROUP,
            )
        except (OSError, ValueError) as exc:
            started.put(exc)
            return
        started.put(proc)
        _frames(proc.stdout, self.replies)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, payload: bytes) -> None:
        self.proc.stdin.write(len(payload).to_bytes(_HEADER, "little") + payload)
        self.proc.stdin.flush()

    def receive(self, timeout: float) -> Any:
        """The next reply, unpickled; raises queue.Empty after ``timeout`` seconds."""
        data = self.replies.get(timeout=None if math.isinf(timeout) else timeout)
        if data is None:
            code = self.proc.wait()
            raise WorkerError(f"The child process ended without answering (exit code {code}).")
        try:
            return pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - e.g. too deep an expression
            raise WorkerError(f"Cannot read the child process's reply ({type(exc).__name__}: {exc}).") from None

    def kill(self) -> None:
        """SIGKILL to the child's process group, then reap it and close the pipes."""
        if self.proc.returncode is None:  # not reaped yet, so its pid cannot be reused
            try:
                if _POSIX:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except OSError:  # already gone
                pass
        self.proc.wait()
        self.reader.join(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:  # e.g. a broken pipe while flushing: nothing left to say
                pass


_lock = threading.Lock()
_child: _Child | None = None


def _discard() -> None:
    global _child
    child, _child = _child, None
    if child is not None:
        child.kill()


def _forget_after_fork() -> None:
    # A forked copy of the parent must not talk to, or kill, the parent's child; nor keep
    # the child's stdin open (the child would not see end of file when the parent dies).
    global _child, _lock
    child, _child, _lock = _child, None, threading.Lock()
    if child is not None:
        null = os.open(os.devnull, os.O_RDWR)
        for stream in (child.proc.stdin, child.proc.stdout):
            try:  # this process's copy of the pipe is closed; the fd number stays taken
                os.dup2(null, stream.fileno())
            except (OSError, ValueError):
                pass
        os.close(null)
        child.proc.returncode = 0  # not this process's child: never to be waited for here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(_discard)


def _running() -> _Child:
    """The warm child, started when there is none or the last one died."""
    global _child
    if _child is not None and not _child.alive():
        _discard()
    if _child is None:
        _child = _Child()
    if not _child.ready:
        try:
            kind, _ = _child.receive(STARTUP_LIMIT)
        except queue.Empty:
            _discard()
            raise WorkerError(f"The child process did not start within {STARTUP_LIMIT:g} s.") from None
        except BaseException:
            _discard()
            raise
        _child.ready = kind == "ready"
    return _child


def start() -> int:
    """Start the child process now (it is otherwise started on first use); its pid.

    Calling it early lets the child import SymPy while the caller does other work.

    Examples
    --------
    >>> start() == child_pid()
    True
    """
    global _child
    with _lock:
        if _child is not None and not _child.alive():
            _discard()
        if _child is None:
            _child = _Child()
        return _child.proc.pid


def stop() -> None:
    """Kill the child process, if any (the next bounded call starts a fresh one).

    Examples
    --------
    >>> stop()
    >>> child_pid() is None
    True
    """
    with _lock:
        _discard()


def child_pid() -> int | None:
    """The pid of the running child process, or None when there is none.

    Examples
    --------
    >>> run(abs, -2)
    2
    >>> isinstance(child_pid(), int)
    True
    """
    child = _child
    return child.proc.pid if child is not None and child.alive() else None


def run(
    func: Callable[..., T],
    /,
    *args: Any,
    timeout: float | None = None,
    memory: int | None = None,
    warmup: Callable[[], object] | None = None,
    **kwargs: Any,
) -> T:
    """``func(*args, **kwargs)``, computed in the child process under a time and memory bound.

    Parameters
    ----------
    func : callable
        A module-level function (it is sent by name): of SymPy, of the standard library or
        of symbackprop. Never a function of the user's ``__main__``, which the child does
        not import.
    *args, **kwargs
        Its arguments, sent pickled (SymPy expressions, numbers, strings, ...).
    timeout : float, optional
        Seconds the computation may take; then the child is killed. Default
        :data:`TIME_LIMIT` (5 s), read at each call.
    memory : int, optional
        Bytes of address space the child may use meanwhile. Default :data:`MEMORY_LIMIT`
        (2 GiB), read at each call; set that to None for no limit.
    warmup : callable, optional
        A module-level function the child calls once (per child) before the clock starts,
        for one-time work that is not the task's: importing a parser, building its tables.

    Returns
    -------
    The function's result, sent back pickled.

    Raises
    ------
    TimeLimitError
        When ``timeout`` passed first.
    MemoryLimitError
        When the child ran out of its ``memory``.
    WorkerError
        When the child could not start or died without answering.
    Exception
        Whatever ``func`` raised in the child, raised again here.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> run(sp.simplify, sp.sin(x)**2 + sp.cos(x)**2)
    1
    >>> import time
    >>> run(time.sleep, 10, timeout=0.1)
    Traceback (most recent call last):
    ...
    symbackprop.bounded.TimeLimitError: The computation took longer than 0.1 s (its time bound) and was stopped.
    """
    timeout = TIME_LIMIT if timeout is None else timeout
    memory = MEMORY_LIMIT if memory is None else memory
    if not timeout > 0:
        raise ValueError(f"The time bound must be a positive number of seconds; got {timeout!r}.")
    try:
        payload = pickle.dumps((func, args, kwargs, memory, warmup), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(
            "run() sends its function and arguments to a child process, pickled; the function "
            f"must be importable by name (a module-level function): {exc}"
        ) from None
    with _lock:
        try:
            try:
                child, kind, value = _hand_over(payload)
            except (OSError, WorkerError):
                # It died since the last call (killed from outside; a dying process with
                # threads is not yet reaped, so it may still look alive): once more, fresh.
                _discard()
                child, kind, value = _hand_over(payload)
            if kind == "started":
                try:
                    kind, value = child.receive(timeout)
                except queue.Empty:
                    raise TimeLimitError(
                        f"The computation took longer than {timeout:g} s (its time bound) "
                        "and was stopped."
                    ) from None
        except BaseException:  # an interrupt while waiting, a broken pipe, a dead child
            _discard()
            raise
    if kind == "ok":
        return value
    if kind == "memory":
        with _lock:
            _discard()  # a process that hit its memory bound is not trusted again
        raise MemoryLimitError(
            "The computation ran out of memory and was stopped." if memory is None else
            f"The computation needed more than {_bytes(memory)} of memory (its memory bound) "
            "and was stopped."
        )
    raise value


def _hand_over(payload: bytes) -> tuple[_Child, str, Any]:
    """Send the task to the warm child and wait until it has read it: the clock of the time
    bound starts once the child has read the task, imported its function and done the
    warm-up. Returns the child and its first reply."""
    child = _running()
    child.send(payload)
    try:
        kind, value = child.receive(STARTUP_LIMIT)
    except queue.Empty:
        raise WorkerError(f"The child process did not read its task within {STARTUP_LIMIT:g} s.") from None
    return child, kind, value


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def _any_zero(exprs: Sequence[sp.Expr]) -> bool:  # runs in the child
    """True when SymPy reduces one of ``exprs`` to 0 (cancel, then simplify, then equals)."""
    try:
        for e in exprs:
            if e == 0:
                return True
            for attempt in (lambda e: sp.cancel(sp.together(e)), sp.simplify):
                if attempt(e) == 0:
                    return True
            if e.equals(0):
                return True
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - any failure of SymPy means "not proved"
        return False
    return False


def is_zero(
    exprs: Sequence[sp.Expr], *, timeout: float | None = None, memory: int | None = None
) -> bool:
    """True when SymPy proves one of ``exprs`` identically 0, within the bounds of :func:`run`.

    ``timeout`` and ``memory`` as in :func:`run` (defaults :data:`TIME_LIMIT` and
    :data:`MEMORY_LIMIT`).

    False means "not proved" (simplification did not reach 0), not "proved non-zero".

    Raises
    ------
    TimeLimitError, MemoryLimitError, WorkerError
        As :func:`run`.

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> s = 1 / (1 + sp.exp(-z))
    >>> is_zero([sp.diff(s, z) - s * (1 - s)])
    True
    >>> is_zero([sp.diff(s, z) - s])
    False
    """
    return run(_any_zero, list(exprs), timeout=timeout, memory=memory)


# ------------------------------------------------------------------- the child side
def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # no prctl: the watchers below still hold
            pass
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(0)


def _watch_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:  # reparented: the parent is gone
            os._exit(0)


def _read_tasks(stream, box: queue.Queue) -> None:  # pragma: no cover - runs in the child
    _frames(stream, box)
    os._exit(0)  # end of file: the parent closed the pipe or died


def _limit_memory(limit: int | None) -> None:  # pragma: no cover - runs in the child
    try:
        import resource
    except ImportError:  # Windows
        return
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = hard if limit is None else (limit if hard == resource.RLIM_INFINITY else min(limit, hard))
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ValueError, OSError):  # not supported here (macOS): the time bound still holds
        pass


_warmed: set = set()


def _execute(frame: bytes, out) -> None:  # pragma: no cover - runs in the child
    try:
        func, args, kwargs, memory, warmup = pickle.loads(frame)
        if warmup is not None and warmup not in _warmed:
            warmup()
            _warmed.add(warmup)
    except Exception as exc:  # noqa: BLE001 - e.g. a function the child cannot import
        _send(out, ("error", WorkerError(f"The child process cannot prepare the task ({type(exc).__name__}: {exc}).")))
        return
    _send(out, ("started", None))
    _limit_memory(memory)
    try:
        reply = ("ok", func(*args, **kwargs))
    except MemoryError:
        reply = ("memory", None)
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        reply = ("error", exc)
    finally:
        _limit_memory(None)
        sp.core.cache.clear_cache()  # a long session must not grow the child without end
    try:
        _send(out, reply)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        _send(out, ("error", WorkerError(f"The child process cannot send its result back ({type(exc).__name__}: {exc}).")))


def _serve(parent: int) -> None:  # pragma: no cover - runs in the child
    """The child's main loop: read a task, run it, send the reply; until the parent goes."""
    import warnings

    _die_with_parent(parent)
    warnings.simplefilter("ignore")
    # stdout carries the replies only; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    tasks: queue.Queue = queue.Queue()
    threading.Thread(target=_read_tasks, args=(sys.stdin.buffer, tasks), daemon=True).start()
    if _POSIX:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _send(out, ("ready", os.getpid()))
    while True:
        frame = tasks.get()
        if frame is None:
            os._exit(0)
        _execute(frame, out)
