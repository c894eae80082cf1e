"""What a check returns: the verdict, a counterexample, a diagnosis, the true gradient."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from ..notation import text_name, to_latex, to_str

__all__ = ["CheckResult", "Counterexample", "Diagnosis", "DiagnosisKind"]

DiagnosisKind = Literal[
    "sign",
    "constant_factor",
    "wrong_index",
    "missing_paths",
    "local_partial",
    "reflected_function",
    # scalar slips named by diagnose.substituted_partials
    "z_for_a",
    "wrong_activation",
    "transposed_weights",
    "param_partial",
    "wrong_layer",
    "softmax_jacobian",
    "wrong_target",
    "target_sign",
    # matrix-form slips named by layer.check_layer
    "transposed_result",
    "missing_batch_average",
    "missing_transpose",
    "extra_transpose",
    "matmul_for_elementwise",
    "elementwise_for_matmul",
    "missing_derivative",
    "sign_term",
    "extra_factor",
    "shape_mismatch",
]

#: How many point coordinates ``str(result)`` shows before it abbreviates.
_SHOWN_COORDINATES = 16


@dataclass(frozen=True)
class Diagnosis:
    """How a wrong formula relates to the true one.

    Attributes
    ----------
    kind : str
        ``"sign"``, ``"constant_factor"``, ``"wrong_index"``, ``"missing_paths"``,
        ``"local_partial"``, ``"reflected_function"``, or one of the kinds of
        :data:`DiagnosisKind` named by the wider scalar diagnosis and by ``check_layer``.
    message : str
        The explanation, in words.
    details : dict
        Plain data: the factor, the other parameter, the missing paths, ...
    """

    kind: DiagnosisKind
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"kind": self.kind, "message": self.message, **self.details}


@dataclass(frozen=True)
class Counterexample:
    """A point where the formula and the true gradient differ, with both values.

    Attributes
    ----------
    point : dict[str, float]
        The values of the leaves (inputs, targets, weights, biases; or the variable).
    intermediates : dict[str, float]
        Values of the z, a and δ symbols the formula or the true gradient use.
    formula_value, true_value : float
        The two values at the point.
    """

    point: dict[str, float]
    intermediates: dict[str, float]
    formula_value: float
    true_value: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (non-finite values as strings)."""
        def num(v: float) -> float | str:
            return v if math.isfinite(v) else str(v)

        return {
            "point": self.point,
            "intermediates": self.intermediates,
            "formula_value": num(self.formula_value),
            "true_value": num(self.true_value),
        }

    def text(self) -> str:
        """The point and both values, on a few lines."""
        items = [f"{k} = {v + 0.0:.6g}" for k, v in self.point.items()]
        if len(items) > _SHOWN_COORDINATES:
            items = items[:_SHOWN_COORDINATES] + [f"... ({len(items) - _SHOWN_COORDINATES} more)"]
        lines = ["  at " + ", ".join(items)]
        if self.intermediates:
            lines.append("  where " + ", ".join(f"{k} = {v:.6g}" for k, v in self.intermediates.items()))
        lines.append(f"  your formula = {self.formula_value:.10g}")
        lines.append(f"  true value   = {self.true_value:.10g}")
        return "\n".join(lines)


def explain(ok: bool, subject: str, shown: str, counterexample: Counterexample | None,
            diagnoses: tuple[Diagnosis, ...], *, truth: str, outcomes: dict[str, str],
            slips: str = "") -> str:
    """The printed verdict of a check (scalar or layer-level): verdict, counterexample,
    diagnoses, the true formula, the tests run. ``slips`` lists the usual slips looked
    for, said when none explains a wrong answer (empty: say nothing).

    Examples
    --------
    >>> print(explain(True, "∂J/∂b", "d", None, (), truth="d", outcomes={"numeric": "agrees"}))
    RIGHT: ∂J/∂b = d is correct.
    True: ∂J/∂b = d
    Tests: numeric: agrees
    """
    lines = [f"{'RIGHT' if ok else 'WRONG'}: {subject} = {shown} is {'correct' if ok else 'not correct'}."]
    if counterexample is not None:
        lines += ["Counterexample:", counterexample.text()]
    for i, d in enumerate(diagnoses):
        lines.append(f"{'Diagnosis' if i == 0 else 'Also'} ({d.kind.replace('_', ' ')}): {d.message}")
    if not ok and not diagnoses and slips:
        lines.append(f"Diagnosis: none of the usual slips ({slips}) explains the difference.")
    lines.append(f"True: {subject} = {truth}")
    lines.append("Tests: " + "; ".join(f"{k}: {v}" for k, v in outcomes.items()))
    return "\n".join(lines)


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one hand-derived formula.

    Attributes
    ----------
    ok : bool
        True when the formula equals the true derivative.
    wrt : sympy.Symbol
        The parameter (or variable) differentiated with respect to.
    formula : sympy.Expr
        The formula as read.
    truth : sympy.Expr
        The true derivative in compact form (``net.grad(p)``).
    counterexample : Counterexample or None
        A point where the two differ (None when right).
    diagnosis : Diagnosis or None
        The most specific explanation found of how the formula is wrong.
    diagnoses : tuple of Diagnosis
        Every explanation found (the first is :attr:`diagnosis`).
    tests_run : tuple of str
        Which tests ran: ``"numeric"``, ``"symbolic"``.
    outcomes : dict[str, str]
        What each test found, in words.
    subject : str
        What was differentiated, for the report (``"∂J/∂w⁽²⁾₁₁"``).
    source : str
        The formula as the user typed it (empty for a SymPy expression).
    """

    ok: bool
    wrt: sp.Symbol
    formula: sp.Expr
    truth: sp.Expr
    counterexample: Counterexample | None = None
    diagnosis: Diagnosis | None = None
    diagnoses: tuple[Diagnosis, ...] = ()
    tests_run: tuple[str, ...] = ()
    outcomes: dict[str, str] = field(default_factory=dict)
    subject: str = ""
    source: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        subject = self.subject or f"∂J/∂{text_name(self.wrt)}"
        slips = ("sign, constant factor, wrong index, missing path, missing or extra local partial"
                 if self.counterexample is not None else "")
        return explain(self.ok, subject, self.source or to_str(self.formula), self.counterexample,
                       self.diagnoses, truth=to_str(self.truth), outcomes=self.outcomes, slips=slips)

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (strings in Python syntax and LaTeX), for JSON.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> d = sbp.check(net, "b1_1", "a1_1 - y1").to_dict()
        >>> d["ok"], d["truth"], d["tests_run"]
        (True, 'a1_1 - y1', ['numeric', 'symbolic'])
        """
        return {
            "ok": self.ok,
            "wrt": self.wrt.name,
            "formula": to_str(self.formula),
            "source": self.source,
            "truth": to_str(self.truth),
            "truth_latex": to_latex(self.truth),
            "counterexample": None if self.counterexample is None else self.counterexample.to_dict(),
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
            "diagnoses": [d.to_dict() for d in self.diagnoses],
            "tests_run": list(self.tests_run),
            "outcomes": dict(self.outcomes),
        }
