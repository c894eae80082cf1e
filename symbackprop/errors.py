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


class GraphTooLargeError(ExpressionTooLargeError):
    """A scalar graph (or one parameter's cone of it) larger than the caller allowed.

    Raised before anything is built. ``str()`` speaks to Python users; :meth:`cli_message`
    says the same with command-line flags.
    """

    def __init__(self, what: str, nodes: int, edges: int, limit: int):
        self.what, self.nodes, self.edges, self.limit = what, nodes, edges, limit
        super().__init__(self._message(
            "net.equations() for the layer-level form, a smaller network, or pass "
            "max_edges=None (net.max_graph_edges = None for net.graph) to build it anyway"
        ))

    def _message(self, way_out: str) -> str:
        return (
            f"{self.what} has {self.edges:,} edges and {self.nodes:,} nodes (limit "
            f"{self.limit:,}); building it would take about {max(1, self.edges // 10_000):,} s "
            f"and {max(1, self.edges // 1_000):,} MB. Use {way_out}."
        )

    def cli_message(self) -> str:
        """The same sentence for command-line users: flags instead of arguments."""
        return self._message(
            "--equations for the layer-level form, a smaller network, or "
            f"--max-graph-edges {self.edges} to build it anyway"
        )
