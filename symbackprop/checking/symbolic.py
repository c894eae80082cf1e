"""A symbolic equality test that cannot hang: size limit first, then a child process.

``sympy.simplify`` may take seconds or hours and cannot be interrupted from another
thread (a Python thread cannot be killed, and ``signal.alarm`` works only in the main
thread and not inside long C calls). So the test runs in a child process with a time
limit, and the child is killed when the limit passes: robust on Linux, whatever SymPy is
doing. Before paying for a process, two cheap checks run in-process: the difference is
already 0 after SymPy's automatic simplification (the common case of a formula typed
exactly as the library prints it), or it is too large to be worth simplifying.

Outcomes (:data:`Outcome`): ``"equal"`` (proved), ``"unproved"`` (simplification did not
reach 0: not a proof of a difference), ``"timeout"`` and ``"too large"``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import warnings
from typing import Literal

import sympy as sp

from ..derive import tree_size

__all__ = ["SYMBOLIC_MAX_SIZE", "Outcome", "describe", "prove_equal"]

Outcome = Literal["equal", "unproved", "timeout", "too large"]

#: Differences larger than this many tree nodes are not handed to ``simplify``.
SYMBOLIC_MAX_SIZE = 3000


def _zero(diff: sp.Expr) -> bool:
    if diff == 0:
        return True
    for attempt in (lambda e: sp.cancel(sp.together(e)), sp.simplify):
        if attempt(diff) == 0:
            return True
    return bool(diff.equals(0))


def _child(conn, diffs: list[sp.Expr]) -> None:  # pragma: no cover - runs in the child
    try:
        conn.send(any(_zero(d) for d in diffs))
    except Exception:  # noqa: BLE001 - any failure of SymPy means "not proved"
        conn.send(False)
    finally:
        conn.close()


def _single_threaded() -> bool:
    """True when this process has one OS thread (native ones included, e.g. JAX's XLA pool)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: count the Python threads, the best we can see
        return threading.active_count() == 1


def _context() -> mp.context.BaseContext:
    # fork is fast (SymPy is already loaded) and safe while this process has one thread;
    # otherwise spawn, which starts a clean interpreter.
    if "fork" in mp.get_all_start_methods() and _single_threaded():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def prove_equal(
    diffs: list[sp.Expr], *, timeout: float = 5.0, max_size: int = SYMBOLIC_MAX_SIZE
) -> Outcome:
    """Try to prove that one of the expressions ``diffs`` is identically 0.

    Parameters
    ----------
    diffs : list of sympy.Expr
        Differences to test, cheapest first (e.g. the same difference at two levels of
        expansion); equality is proved when any one simplifies to 0.
    timeout : float
        Seconds the child process may take before it is killed.
    max_size : int
        Differences of more tree nodes than this are skipped.

    Returns
    -------
    Outcome
        ``"equal"``, ``"unproved"``, ``"timeout"`` or ``"too large"``.

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> s = 1 / (1 + sp.exp(-z))
    >>> prove_equal([sp.diff(s, z) - s * (1 - s)])
    'equal'
    >>> prove_equal([sp.diff(s, z) - s])
    'unproved'
    """
    if any(d == 0 for d in diffs):
        return "equal"
    small = [d for d in diffs if tree_size(d) <= max_size]
    if not small:
        return "too large"
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork in a process with (non-Python) threads.
        warnings.simplefilter("ignore", DeprecationWarning)
        proc = ctx.Process(target=_child, args=(send, small), daemon=True)
        proc.start()
    send.close()
    try:
        if receive.poll(timeout):
            return "equal" if receive.recv() else "unproved"
        return "timeout"
    except (EOFError, OSError):
        return "unproved"
    finally:
        receive.close()
        if proc.is_alive():
            proc.kill()
        proc.join()


def describe(outcome: Outcome, timeout: float) -> str:
    """The outcome in words, for a report.

    Examples
    --------
    >>> describe("timeout", 5.0)
    'undecided within 5 s'
    """
    return {
        "equal": "proved equal",
        "unproved": "simplify did not reach 0 (not a proof of a difference)",
        "timeout": f"undecided within {timeout:g} s",
        "too large": "skipped (expression too large)",
    }[outcome]
