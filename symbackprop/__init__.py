"""symbackprop: derive neural-network gradients symbolically, check them, train with them.

>>> import symbackprop as sbp
>>> net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
>>> net.grad(net.w(2, 1, 1))
a1_1*a2_1*(1 - a2_1)*(a2_1 - y1)

The public names below load on first use (PEP 562), so that ``symbackprop --help``
answers without importing SymPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it, in data-flow order.
_EXPORTS: dict[str, str] = {
    # errors
    "SymbackpropError": "errors",
    "SpecError": "errors",
    "UnknownNameError": "errors",
    "FormulaError": "errors",
    "ExpressionTooLargeError": "errors",
    # formulas, activations, losses, the network
    "parse_formula": "parse",
    "Activation": "activations",
    "ACTIVATIONS": "activations",
    "register_activation": "activations",
    "Loss": "losses",
    "LOSSES": "losses",
    "register_loss": "losses",
    "Spec": "spec",
    "build_graph": "graph",
    "Backprop": "derive",
    "Derivation": "derivation",
    "Equations": "equations",
    "Network": "network",
    "mlp": "network",
    "init_params": "params",
    "to_arrays": "params",
    "to_mapping": "params",
    "CompiledModel": "compile",
    "compile_network": "compile",
    "History": "train",
    "TrainingDivergedError": "train",
    "train": "train",
    "check": "checking",
    "check_derivative": "checking",
    "check_file": "checking",
    "gradcheck": "checking",
    "CheckResult": "checking",
    "GradcheckResult": "checking",
    # printing
    "to_text": "notation",
    "to_latex": "notation",
    "to_str": "notation",
    # rendering
    "draw_network": "render",
    "draw_computation_graph": "render",
    "draw_gradient_paths": "render",
    "draw_expression": "render",
    "draw_formula": "render",
    "plot_history": "render",
    "plot_decision_boundary": "render",
    "report": "report",
    "datasets": "datasets",
    "save": "store",
    "load": "store",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from .activations import ACTIVATIONS, Activation, register_activation
    from .derivation import Derivation
    from .derive import Backprop
    from .equations import Equations
    from .errors import (
        ExpressionTooLargeError,
        FormulaError,
        SpecError,
        SymbackpropError,
        UnknownNameError,
    )
    from .graph import build_graph
    from .losses import LOSSES, Loss, register_loss
    from .network import Network, mlp
    from .notation import to_latex, to_str, to_text
    from .parse import parse_formula
    from .spec import Spec
