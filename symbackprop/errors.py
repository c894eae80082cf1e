"""The exception hierarchy of symbackprop.

Every error a user can cause is a :class:`SymbackpropError`; each subclass is also the
built-in exception a Python user would expect (``ValueError`` or ``TypeError``), so
``except ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "SymbackpropError",
    "SpecError",
    "FormulaError",
    "UnknownNameError",
    "ExpressionTooLargeError",
    "closest",
]


class SymbackpropError(Exception):
    """Base class of every error symbackprop raises on bad input."""


class SpecError(SymbackpropError, ValueError):
    """A network specification (sizes, activation, loss) that cannot be built."""


class UnknownNameError(SpecError, KeyError):
    """A name (activation, loss, parameter, symbol) that is not known.

    The message names the closest known name and lists the accepted ones.
    """

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class FormulaError(SymbackpropError, ValueError):
    """A formula string that the safe parser refuses (syntax, unknown name, disallowed node)."""


class ExpressionTooLargeError(SymbackpropError, ValueError):
    """An expanded expression whose size exceeds the limit the caller allowed."""


def closest(name: str, choices: Iterable[str]) -> str | None:
    """Return the known name closest to ``name``, or None when none is close.

    Examples
    --------
    >>> closest("sigmod", ["sigmoid", "tanh", "relu"])
    'sigmoid'
    >>> closest("zzz", ["sigmoid"]) is None
    True
    """
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown(what: str, name: str, choices: Iterable[str]) -> UnknownNameError:
    """Build the error for an unknown ``name`` of kind ``what`` (not raised here)."""
    choices = list(choices)
    guess = closest(name, choices)
    hint = f" Did you mean {guess!r}?" if guess else ""
    shown = ", ".join(choices) if len(choices) <= 30 else ", ".join(choices[:30]) + ", ..."
    return UnknownNameError(f"Unknown {what} {name!r}.{hint} Known: {shown}.")


class GraphTooLargeError(SymbackpropError, ValueError):
    """A scalar graph (or one parameter's cone of it) larger than the caller allowed.

    Raised before anything is built. ``str()`` speaks to Python users; :meth:`in_flags`
    gives the same error worded for command-line users.
    """

    def __init__(self, what: str, nodes: int, edges: int, limit: int, *, flags: str = ""):
        self.what, self.nodes, self.edges, self.limit = what, nodes, edges, limit
        way_out = (
            f"{flags} for the layer-level form, a smaller network, or "
            f"--max-graph-edges {edges} to build it anyway"
            if flags else
            "net.equations() for the layer-level form, a smaller network, or pass "
            "max_edges=None (or work inside `with sbp.graph_limit(None):`) to build it anyway"
        )
        super().__init__(
            f"{what} has {edges:,} edges and {nodes:,} nodes (limit {limit:,}); building it "
            f"would take about {max(1, edges // 10_000):,} s and {max(1, edges // 1_000):,} MB. "
            f"Use {way_out}."
        )

    def in_flags(self, equations: str = "--equations") -> GraphTooLargeError:
        """The same error, with the way out in command-line flags (``equations``: how this
        command gets the layer-level equations)."""
        return GraphTooLargeError(self.what, self.nodes, self.edges, self.limit, flags=equations)
