"""A symbolic equality test that cannot hang: size limit first, then a bounded child process.

``sympy.simplify`` may take seconds or hours and cannot be interrupted from inside the
process, so the test runs in symbackprop's warm child process under a time and memory
bound (:func:`symbackprop.bounded.is_zero`): killed when the time passes, whatever SymPy is
doing, and never re-running the user's script. Before paying for the round trip, two
cheap checks run in-process: the difference is already 0 after SymPy's automatic
simplification (the common case of a formula typed exactly as the library prints it),
or it is too large to be worth simplifying.

Outcomes (:data:`Outcome`): ``"equal"`` (proved), ``"unproved"`` (simplification did not
reach 0: not a proof of a difference), ``"timeout"``, ``"out of memory"``, ``"too large"``
and ``"error"`` (the child process could not run).
"""

from __future__ import annotations

from typing import Literal

import sympy as sp

from ..backprop import tree_size
from ..bounded import MemoryLimitError, TimeLimitError, WorkerError, is_zero

__all__ = ["SYMBOLIC_MAX_SIZE", "Outcome", "describe", "prove_equal"]

Outcome = Literal["equal", "unproved", "timeout", "out of memory", "too large", "error"]

#: Differences larger than this many tree nodes are not handed to ``simplify``.
SYMBOLIC_MAX_SIZE = 3000


def prove_equal(
    diffs: list[sp.Expr],
    *,
    timeout: float = 5.0,
    max_size: int = SYMBOLIC_MAX_SIZE,
    memory: int | None = None,
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
    memory : int or None
        Bytes of address space the child may use; default
        :data:`symbackprop.bounded.MEMORY_LIMIT` (2 GiB).

    Returns
    -------
    Outcome
        ``"equal"``, ``"unproved"``, ``"timeout"``, ``"out of memory"``, ``"too large"``
        or ``"error"``.

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
    try:
        return "equal" if is_zero(small, timeout=timeout, memory=memory) else "unproved"
    except TimeLimitError:
        return "timeout"
    except MemoryLimitError:
        return "out of memory"
    except WorkerError:
        return "error"


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
        "out of memory": "undecided: simplify exceeded its memory bound",
        "too large": "skipped (expression too large)",
        "error": "not run: the child process for the proof could not run",
    }[outcome]
