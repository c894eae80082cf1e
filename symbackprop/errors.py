"""The exception hierarchy of symbackprop: every exception the package raises is here.

Every error a user can cause is a :class:`SymbackpropError`; each subclass is also the
built-in exception a Python user would expect (``ValueError``, ``KeyError``,
``FloatingPointError``), so ``except ValueError`` keeps working::

    SymbackpropError
    ├── SpecError               a network or setting that cannot be used (ValueError)
    │   ├── UnknownNameError    an unknown activation, loss, parameter... (also KeyError)
    │   ├── DataError           data unreadable, malformed, outside the loss's domain
    │   └── OutputError         a file that cannot be written, a picture format not supported
    ├── FormulaError            a formula the safe parser refuses (ValueError)
    ├── ExpressionTooLargeError an expression over the size limit (ValueError)
    ├── ModelFileError          a model file that cannot be read or written (ValueError)
    └── TrainingDivergedError   the loss became NaN or infinite (FloatingPointError)

:class:`DataError` and :class:`OutputError` derive from :class:`SpecError` because
symbackprop raised SpecError for these cases before they had their own class; code that
catches SpecError keeps working. ``symbackprop.datasets.DataError``,
``symbackprop.store.ModelFileError`` and ``symbackprop.training.TrainingDivergedError``
are the same classes, importable from where they used to live.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "SymbackpropError",
    "SpecError",
    "FormulaError",
    "UnknownNameError",
    "ExpressionTooLargeError",
    "DataError",
    "ModelFileError",
    "OutputError",
    "TrainingDivergedError",
    "ComputationError",
    "HessianTooLargeError",
    "closest",
    "BackendFallbackWarning",
]


class SymbackpropError(Exception):
    """Base class of every error symbackprop raises on bad input."""


class SpecError(SymbackpropError, ValueError):
    """A network specification (sizes, activation, loss) that cannot be built, or a
    setting or argument that does not fit it."""


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


class DataError(SpecError):
    """Data that cannot be used: unreadable, malformed, over a size limit, holding a
    non-finite value, with targets outside the loss's domain, or not shaped for the network.
    """


class OutputError(SpecError):
    """An output that cannot be written as asked: its directory is missing or not
    writable, the disk is full, the path is a directory, or the picture format is not
    supported. The message names the path and the reason."""


class ModelFileError(SymbackpropError, ValueError):
    """A model file that cannot be read or written: missing, corrupt, of another format or
    version, over a size limit, holding non-finite weights, or whose arrays or meta do not
    match its network spec."""


class TrainingDivergedError(SymbackpropError, FloatingPointError):
    """The loss became NaN or infinite during training.

    Attributes
    ----------
    params : dict
        The last good parameters, ``{Symbol: float}``: those the step before the failing
        one started from, whose batch loss was finite.
    history : History
        The history up to the last complete epoch.
    """

    def __init__(self, message: str, params: dict, history: Any):
        super().__init__(message)
        self.params = params
        self.history = history


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


class ComputationError(FormulaError):
    """A computation (named scalar definitions) that cannot be read: the message names the
    line, what is wrong and what is accepted."""


class HessianTooLargeError(SymbackpropError, ValueError):
    """A dense Hessian with more parameters than ``model.hessian(..., max_params=...)`` allows.

    Raised before anything is computed; ``model.hvp`` gives products with the Hessian at
    any size.
    """


class BackendFallbackWarning(UserWarning):
    """A backend asked for by name cannot compile this network's code (a formula numba
    does not support, say): the NumPy backend computes it instead. The message names what
    was refused."""
