"""Checking gradients: hand-derived formulas (:func:`check`) and compiled code (:func:`gradcheck`).

The subpackage is called ``checking``, not ``check``: a submodule ``symbackprop.check``
would shadow the function ``symbackprop.check`` once imported.

Modules, in the order they are used: :mod:`.evaluate` (values at random points),
:mod:`.symbolic` (a time-bounded proof), :mod:`.diagnose` (how a formula is wrong),
:mod:`.result` (what a check returns), :mod:`.verdict` (:func:`check`,
:func:`check_file`), :mod:`.derivative` (:func:`check_derivative`), :mod:`.gradcheck`.
"""

from __future__ import annotations

from .derivative import check_derivative
from .gradcheck import GradcheckResult, gradcheck
from .result import CheckResult, Counterexample, Diagnosis
from .verdict import FileLine, check, check_file, read_formula

__all__ = [
    "CheckResult",
    "Counterexample",
    "Diagnosis",
    "FileLine",
    "GradcheckResult",
    "check",
    "check_derivative",
    "check_file",
    "gradcheck",
    "read_formula",
]

from .layer import check_layer, true_formula  # noqa: E402  (matrix-form answers)
from .layer_result import LayerCheckResult, LayerCounterexample  # noqa: E402

__all__ += ["LayerCheckResult", "LayerCounterexample", "check_layer", "true_formula"]
