"""Checking the derivative of one scalar function: :func:`check_derivative`.

For the pieces of a derivation: an activation's derivative (σ' = σ(1 − σ)), a loss's
gradient in a (∂/∂a ½(a − y)² = a − y). Besides the generic slips (sign, constant
factor) it recognises a classic one: a function written as g(−z) for a known activation
g (``1/(1+exp(z))`` is σ(−z), not σ(z)), differentiated as if it were g(z).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from ..activations import ACTIVATIONS, Z, at_kinks, step_at_zero
from ..errors import FormulaError
from ..notation import by_name, real_symbol
from ..parse import parse_formula
from .diagnose import close, constant_factor
from .evaluate import check_points, evaluate
from .result import CheckResult, Counterexample, Diagnosis
from .symbolic import describe, prove_equal
from .verdict import MIN_POINTS

__all__ = ["check_derivative"]



def _read(text: str | sp.Expr, names: dict[str, sp.Symbol], what: str) -> sp.Expr:
    if isinstance(text, str):
        try:
            return parse_formula(text, names, what=what)
        except FormulaError as exc:
            raise FormulaError(f"{exc} (Pass symbols=[...] to allow more names.)") from None
    if not isinstance(text, sp.Expr):
        raise FormulaError(f"A {what} must be a string or a SymPy expression; got {type(text).__name__}.")
    stray = sorted(s.name for s in text.free_symbols if s.name not in names)
    if stray:
        raise FormulaError(f"The {what} uses {', '.join(stray)}; allowed symbols: {', '.join(names)}.")
    return by_name(text, names)


def _draw(names: dict[str, sp.Symbol], wrt: str, n: int, seed: int) -> dict[sp.Symbol, np.ndarray]:
    n = check_points(n)
    rng = np.random.default_rng(seed)
    values = {}
    for name, s in names.items():
        # Outputs and targets as probabilities (the domain of the cross-entropies).
        low, high = (-4.0, 4.0) if name == wrt else (0.02, 0.98) if name[0] in "ay" else (-3.0, 3.0)
        values[s] = np.round(rng.uniform(low, high, n), 2)
    return values


def _reflected(f: sp.Expr, fprime: sp.Expr, z: sp.Symbol, values) -> list[Diagnosis]:
    fv, pv = evaluate(f, values), evaluate(fprime, values)
    zv = values[z]
    for name, act in ACTIVATIONS.items():
        if not act.elementwise or name == "identity":
            continue
        g = act.expr.xreplace({Z: z})
        if bool(close(fv, evaluate(g, values)).all()):
            continue  # f is g itself, not reflected
        if not bool(close(fv, evaluate(act.expr, {Z: -zv})).all()):
            continue
        gprime = act.derivative()
        if not bool(close(pv, evaluate(gprime, {Z: zv})).all()):
            continue
        zn = z.name
        fn = act.text or name
        right = act.display(f"−{zn}")[1]
        return [Diagnosis(
            "reflected_function",
            f"The function given is {fn}(−{zn}), not {fn}({zn}); its derivative is "
            f"−{right}, but your formula is the derivative of {fn}({zn}).",
            {"function": name},
        )]
    return []


def check_derivative(
    f: str | sp.Expr,
    fprime: str | sp.Expr,
    wrt: str = "z",
    *,
    symbols: Sequence[str] = ("z", "a", "y", "x"),
    points: int = 64,
    seed: int = 0,
    symbolic: bool = True,
    timeout: float = 5.0,
) -> CheckResult:
    """Check that ``fprime`` is the derivative of the scalar function ``f`` in ``wrt``.

    Parameters
    ----------
    f, fprime : str or sympy.Expr
        The function and its claimed derivative, read by the safe parser (functions such
        as ``exp``, ``sigmoid``, ``tanh``, ``relu``, ``heaviside`` are known).
    wrt : str
        The variable.
    symbols : sequence of str
        Other names the formulas may use (held constant): by default a, y, x.
    points, seed, symbolic, timeout
        As for :func:`~symbackprop.check`. The variable is drawn from [−4, 4]; names
        starting with a or y from [0.02, 0.98]; others from [−3, 3].

    Returns
    -------
    CheckResult
        ``.truth`` is ``sympy.diff(f, wrt)``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> sbp.check_derivative("sigmoid(z)", "sigmoid(z)*(1 - sigmoid(z))").ok
    True
    >>> r = sbp.check_derivative("1/(1+exp(z))", "sigmoid(z)*(1-sigmoid(z))")
    >>> r.ok, [d.kind for d in r.diagnoses]
    (False, ['reflected_function', 'sign'])
    >>> print(r.diagnosis.message)
    The function given is σ(−z), not σ(z); its derivative is −σ(−z)(1−σ(−z)), but your formula is the derivative of σ(z).
    >>> sbp.check_derivative("(a - y)**2", "a - y", wrt="a").diagnosis.kind
    'constant_factor'
    >>> sbp.check_derivative("abs(z)", "z/abs(z)").ok
    True
    """
    if not isinstance(wrt, str) or not wrt.isidentifier():
        raise FormulaError(f"wrt must be a variable name such as 'z'; got {wrt!r}.")
    names = {n: real_symbol(n) for n in dict.fromkeys([wrt, *symbols])}
    z = names[wrt]
    func = _read(f, names, "function")
    expr = _read(fprime, names, "derivative")
    truth = at_kinks(sp.diff(func, z))
    used = {s for e in (func, expr) for s in e.free_symbols} | {z}
    values = _draw({n: s for n, s in names.items() if s in used}, wrt, points, seed)
    u, t = evaluate(expr, values), evaluate(truth, values)
    valid = np.isfinite(t)
    bad = np.flatnonzero(valid & ~close(u, t))
    n_valid = int(valid.sum())
    subject = f"d/d{wrt} [{f if isinstance(f, str) else func}]"
    source = fprime.strip() if isinstance(fprime, str) else ""
    outcomes: dict[str, str] = {}
    if bad.size:
        i = int(bad[0])
        point = {s.name: float(v[i]) for s, v in values.items()}
        cex = Counterexample(point, {}, float(u[i]), float(t[i]))
        sub = {s: v[valid] for s, v in values.items()}
        found = _reflected(func, expr, z, sub)
        const = constant_factor(u[valid], t[valid])
        if const is not None:
            found.append(const)
        outcomes["numeric"] = f"differs at {bad.size} of {n_valid} random points"
        outcomes["symbolic"] = "not needed (numeric counterexample)"
        return CheckResult(False, z, expr, truth, cex, found[0] if found else None, tuple(found),
                           ("numeric",), outcomes, subject, source)
    numeric_ok = n_valid >= MIN_POINTS
    outcomes["numeric"] = (
        f"agrees at all {n_valid} random points" if numeric_ok
        else f"inconclusive: only {n_valid} valid points"
    )
    tests = ("numeric",)
    ok = numeric_ok
    if symbolic:
        tests += ("symbolic",)
        # Equal almost everywhere: a step's value at its jump is a convention, not compared.
        outcome = prove_equal([step_at_zero(expr - truth)], timeout=timeout)
        outcomes["symbolic"] = describe(outcome, timeout)
        ok = ok or outcome == "equal"
    return CheckResult(ok, z, expr, truth, None, None, (), tests, outcomes, subject, source)
