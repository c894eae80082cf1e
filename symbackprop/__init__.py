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
    "DataError": "errors",
    "ModelFileError": "errors",
    "OutputError": "errors",
    "TrainingDivergedError": "errors",
    "ComputationError": "errors",
    # limits on what a formula (or a LaTeX formula) may cost
    "Limits": "limits",
    "LatexLimits": "checking.latex",
    # formulas, activations, losses, the network
    "parse_formula": "parse",
    "Activation": "activations",
    "ACTIVATIONS": "activations",
    "register_activation": "activations",
    "unregister_activation": "activations",
    "Loss": "losses",
    "LOSSES": "losses",
    "register_loss": "losses",
    "Spec": "spec",
    "build_graph": "graph",
    "graph_limit": "graph",
    "GraphTooLargeError": "errors",
    "HessianTooLargeError": "errors",
    "Backprop": "backprop",
    "Derivation": "derivation",
    "HessianDerivation": "hessian",
    "Equations": "equations",
    "Network": "network",
    "mlp": "network",
    "Computation": "computations",
    "computation": "computations",
    "ComputationDerivation": "computation_derivation",
    "ComputationHessian": "computation_hessian",
    "ComputationWalkthrough": "computation_walkthrough",
    "explain": "explaining",
    "Explanation": "explaining",
    "load_computation": "computation_file",
    "init_params": "params",
    "to_arrays": "params",
    "to_mapping": "params",
    "CompiledModel": "compiler",
    "compile_network": "compiler",
    "ComputationModel": "compiler",
    "compile_computation": "compiler",
    "History": "training",
    "train": "training",
    "gradient_flow": "flow",
    "GradientFlow": "flow",
    "slope_bound": "flow",
    "check": "checking",
    "check_derivative": "checking",
    "check_file": "checking",
    "gradcheck": "checking",
    "CheckResult": "checking",
    "GradcheckResult": "checking",
    "check_layer": "checking",
    "LayerCheckResult": "checking",
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
    "plot_gradient_flow": "render",
    "report": "reporting",
    "walkthrough": "walkthroughs",
    "Walkthrough": "walkthroughs",
    "explore": "explorer",
    "Explorer": "explorer",
    "datasets": "datasets",
    "save": "store",
    "load": "store",
    # exercises and grading
    "Exercise": "exercises",
    "exercise": "exercises",
    "load_exercise": "exercises",
    "Grade": "exercises",
    "grade": "exercises",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")
    imported = importlib.import_module(f".{module}", __name__)
    value = imported if module == name else getattr(imported, name)  # a module: datasets
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover  (what the lazy exports resolve to, for type checkers)
    from . import datasets as datasets
    from .activations import (
        ACTIVATIONS as ACTIVATIONS,
    )
    from .activations import (
        Activation as Activation,
    )
    from .activations import (
        register_activation as register_activation,
    )
    from .activations import (
        unregister_activation as unregister_activation,
    )
    from .backprop import (
        Backprop as Backprop,
    )
    from .checking import (
        CheckResult as CheckResult,
    )
    from .checking import (
        GradcheckResult as GradcheckResult,
    )
    from .checking import (
        LayerCheckResult as LayerCheckResult,
    )
    from .checking import (
        check as check,
    )
    from .checking import (
        check_derivative as check_derivative,
    )
    from .checking import (
        check_file as check_file,
    )
    from .checking import (
        check_layer as check_layer,
    )
    from .checking import (
        gradcheck as gradcheck,
    )
    from .checking.latex import (
        LatexLimits as LatexLimits,
    )
    from .compiler import (
        CompiledModel as CompiledModel,
    )
    from .compiler import (
        ComputationModel as ComputationModel,
    )
    from .compiler import (
        compile_computation as compile_computation,
    )
    from .compiler import (
        compile_network as compile_network,
    )
    from .computation_derivation import (
        ComputationDerivation as ComputationDerivation,
    )
    from .computation_file import (
        load_computation as load_computation,
    )
    from .computation_hessian import (
        ComputationHessian as ComputationHessian,
    )
    from .computation_walkthrough import (
        ComputationWalkthrough as ComputationWalkthrough,
    )
    from .computations import (
        Computation as Computation,
    )
    from .computations import (
        computation as computation,
    )
    from .derivation import (
        Derivation as Derivation,
    )
    from .equations import (
        Equations as Equations,
    )
    from .errors import (
        ComputationError as ComputationError,
    )
    from .errors import (
        DataError as DataError,
    )
    from .errors import (
        ExpressionTooLargeError as ExpressionTooLargeError,
    )
    from .errors import (
        FormulaError as FormulaError,
    )
    from .errors import (
        GraphTooLargeError as GraphTooLargeError,
    )
    from .errors import (
        ModelFileError as ModelFileError,
    )
    from .errors import (
        OutputError as OutputError,
    )
    from .errors import (
        SpecError as SpecError,
    )
    from .errors import (
        SymbackpropError as SymbackpropError,
    )
    from .errors import (
        TrainingDivergedError as TrainingDivergedError,
    )
    from .errors import (
        UnknownNameError as UnknownNameError,
    )
    from .exercises import (
        Exercise as Exercise,
    )
    from .exercises import (
        Grade as Grade,
    )
    from .exercises import (
        exercise as exercise,
    )
    from .exercises import (
        grade as grade,
    )
    from .exercises import (
        load_exercise as load_exercise,
    )
    from .explaining import (
        Explanation as Explanation,
    )
    from .explaining import (
        explain as explain,
    )
    from .explorer import (
        Explorer as Explorer,
    )
    from .explorer import (
        explore as explore,
    )
    from .flow import (
        GradientFlow as GradientFlow,
    )
    from .flow import (
        gradient_flow as gradient_flow,
    )
    from .flow import (
        slope_bound as slope_bound,
    )
    from .graph import (
        build_graph as build_graph,
    )
    from .graph import (
        graph_limit as graph_limit,
    )
    from .limits import (
        Limits as Limits,
    )
    from .losses import (
        LOSSES as LOSSES,
    )
    from .losses import (
        Loss as Loss,
    )
    from .losses import (
        register_loss as register_loss,
    )
    from .network import (
        Network as Network,
    )
    from .network import (
        mlp as mlp,
    )
    from .notation import (
        to_latex as to_latex,
    )
    from .notation import (
        to_str as to_str,
    )
    from .notation import (
        to_text as to_text,
    )
    from .params import (
        init_params as init_params,
    )
    from .params import (
        to_arrays as to_arrays,
    )
    from .params import (
        to_mapping as to_mapping,
    )
    from .parse import (
        parse_formula as parse_formula,
    )
    from .render import (
        draw_computation_graph as draw_computation_graph,
    )
    from .render import (
        draw_expression as draw_expression,
    )
    from .render import (
        draw_formula as draw_formula,
    )
    from .render import (
        draw_gradient_paths as draw_gradient_paths,
    )
    from .render import (
        draw_network as draw_network,
    )
    from .render import (
        plot_decision_boundary as plot_decision_boundary,
    )
    from .render import (
        plot_gradient_flow as plot_gradient_flow,
    )
    from .render import (
        plot_history as plot_history,
    )
    from .reporting import (
        report as report,
    )
    from .spec import (
        Spec as Spec,
    )
    from .store import (
        load as load,
    )
    from .store import (
        save as save,
    )
    from .training import (
        History as History,
    )
    from .training import (
        train as train,
    )
    from .walkthroughs import (
        Walkthrough as Walkthrough,
    )
    from .walkthroughs import (
        walkthrough as walkthrough,
    )
