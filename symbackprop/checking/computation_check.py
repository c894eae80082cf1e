"""Checking a hand-derived ∂J/∂v of a computation (what :func:`~.verdict.check` does for one).

The same tests as for a network: the formula (read by the safe parser, in any of the
computation's names: parameters, inputs, targets, defined nodes and adjoints ``delta_v``) and
the true compact gradient are evaluated at random points (a numeric counterexample decides
"wrong"), then a symbolic proof of the expanded difference is tried. Of the diagnoses, those
that do not depend on layers apply: a sign or constant factor, missing paths of the
multivariate chain rule, and a missing or extra local partial on one edge. The ones about
layers and neuron indices (a swapped index, a transposed weight) have no meaning here.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..errors import ExpressionTooLargeError, FormulaError
from ..notation import to_str, to_text
from ..parse import parse_formula
from .diagnose import _fmt, close, constant_factor, fit_factor
from .evaluate import evaluate
from .result import CheckResult, Counterexample, Diagnosis
from .symbolic import SYMBOLIC_MAX_SIZE, describe, prove_equal

if TYPE_CHECKING:
    from ..computations import Computation

__all__ = ["check_computation"]

#: Subsets of paths tried when looking for missing ones.
MAX_PATH_SUBSETS = 256
#: The numeric test decides only with at least this many valid points.
MIN_POINTS = 8


def _read(g: Computation, formula: str | sp.Expr) -> sp.Expr:
    from ..computations import adjoint_symbol

    names = {n: g.symbol(n) for n in g.names}
    names.update({adjoint_symbol(s.name).name: adjoint_symbol(s.name) for s, _ in g.definitions[:-1]})
    if isinstance(formula, str):
        return parse_formula(formula, names, what="formula")
    if isinstance(formula, (int, float)) and not isinstance(formula, bool):
        return sp.sympify(formula)
    if not isinstance(formula, sp.Expr):
        raise FormulaError(f"A formula must be a string or a SymPy expression; got {type(formula).__name__}.")
    unknown = sorted(s.name for s in formula.free_symbols if s.name not in names)
    if unknown:
        raise FormulaError(f"The formula uses {', '.join(unknown)}, which this computation does not have.")
    return formula.xreplace({s: names[s.name] for s in formula.free_symbols})


def _sample(g: Computation, n: int, seed: int) -> dict[sp.Symbol, np.ndarray]:
    """Every symbol's value at ``n`` random points: leaves drawn, nodes and δ computed."""
    from .. import numeric
    from ..computations import realize

    rng = np.random.default_rng(seed)
    leaves = {p: rng.normal(0.0, 1.0, n) for p in g.params}
    leaves.update({x: rng.normal(0.0, 1.0, n) for x in g.inputs})
    leaves.update({y: rng.uniform(0.1, 0.9, n) for y in g.targets})
    steps = [*g.definitions, *((d, realize(e)) for d, e in g.deltas.items())]
    return numeric.run(steps, leaves)


def _diagnoses(g: Computation, p: sp.Symbol, u: np.ndarray, t: np.ndarray, values) -> list[Diagnosis]:
    from ..computations import realize

    found = []
    c = constant_factor(u, t)
    if c is not None:
        found.append(c)
    d = g.derivation(p)
    if d.paths is not None and len(d.paths) >= 2:
        products = np.array([evaluate(realize(e), values) for e in d.products])
        n, tried = len(d.paths), 0
        for size in range(n - 1, 0, -1):  # fewest missing paths first
            for subset in itertools.combinations(range(n), size):
                tried += 1
                if tried > MAX_PATH_SUBSETS or found and found[-1].kind == "missing_paths":
                    break
                if bool(close(u, products[list(subset)].sum(axis=0)).all()):
                    missing = [i for i in range(n) if i not in subset]
                    shown = "; ".join(f"path {i + 1}: {' → '.join(d.paths[i])}" for i in missing)
                    found.append(Diagnosis(
                        "missing_paths",
                        f"Your formula sums {size} of the {n} paths from {to_text(p)} to {to_text(g.loss)} "
                        f"(multivariate chain rule); missing: {shown}.",
                        {"missing": [d.paths[i] for i in missing], "n_paths": n},
                    ))
                    break
    seen: set[sp.Expr] = set()
    for (a, b), partial in d.partials.items():
        if partial.is_number or partial in seen:
            continue
        seen.add(partial)
        P = evaluate(realize(partial), values)
        for extra in (True, False):
            c = fit_factor(u, t * P) if extra else fit_factor(u * P, t)
            if c is None:
                continue
            words = f"∂{b}/∂{a} = {to_str(realize(partial))}"
            times = "" if abs(c - 1) <= 1e-6 else f" (and a constant factor {_fmt(c)})"
            message = (f"Your formula has an extra factor {words}{times}." if extra else
                       f"Your formula lacks the factor {words}, the local partial on the edge {a} → {b}{times}.")
            found.append(Diagnosis("local_partial", message,
                                   {"edge": [a, b], "factor": to_str(partial), "extra": extra, "constant": c}))
    return found


def check_computation(
    g: Computation,
    wrt: sp.Symbol | str,
    formula: str | sp.Expr,
    *,
    points: int = 64,
    seed: int = 0,
    symbolic: bool = True,
    timeout: float = 5.0,
) -> CheckResult:
    """Check a hand-derived ∂J/∂v of a computation: right or wrong, where, and how.

    ``sbp.check(g, ...)`` calls this for a :class:`~symbackprop.computations.Computation`.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = sbp.computation('''
    ...     h = tanh(w1*x + b1)
    ...     o = sigmoid(w2*h + w3*x + b2)
    ...     J = (o - y)**2 / 2''', params="w1 b1 w2 w3 b2", inputs="x", targets="y")
    >>> check_computation(g, "w3", "(o - y)*o*(1 - o)*x").ok
    True
    >>> r = check_computation(g, "w1", "(o - y)*(1 - h**2)*x")
    >>> r.ok, r.diagnosis.kind
    (False, 'local_partial')
    >>> print(r.diagnosis.message)
    Your formula lacks the factor ∂o/∂h = o*w2*(1 - o), the local partial on the edge h → o.
    """
    p = g.symbol(wrt)
    expr = _read(g, formula)
    source = formula.strip() if isinstance(formula, str) else ""
    truth = g.grad(p)
    values = _sample(g, points, seed)
    u, t = evaluate(expr, values), evaluate(truth, values)
    valid = np.isfinite(t)
    bad = np.flatnonzero(valid & ~close(u, t))
    n_valid = int(valid.sum())
    subject = f"∂{to_text(g.loss)}/∂{to_text(p)}"
    outcomes: dict[str, str] = {}
    if bad.size:
        i = int(bad[0])
        leaves = [*g.params, *g.inputs, *g.targets]
        used = sorted({s for e in (expr, truth) for s in e.free_symbols if s not in leaves}, key=lambda s: s.name)
        cex = Counterexample({s.name: float(values[s][i]) for s in leaves},
                             {s.name: float(values[s][i]) for s in used if s in values}, float(u[i]), float(t[i]))
        found = _diagnoses(g, p, u[valid], t[valid], {s: v[valid] for s, v in values.items()})
        outcomes["numeric"] = f"differs at {bad.size} of {n_valid} random points"
        outcomes["symbolic"] = "not needed (numeric counterexample)"
        return CheckResult(False, p, expr, truth, cex, found[0] if found else None, tuple(found),
                           ("numeric",), outcomes, subject, source)
    numeric_ok = n_valid >= MIN_POINTS
    outcomes["numeric"] = (f"agrees at all {n_valid} random points" if numeric_ok
                           else f"inconclusive: only {n_valid} valid points")
    tests = ["numeric"]
    ok = numeric_ok
    if symbolic:
        tests.append("symbolic")
        try:
            diff = (g.expanded(expr, max_size=SYMBOLIC_MAX_SIZE)
                    - g.expanded(truth, max_size=SYMBOLIC_MAX_SIZE))
            outcome = prove_equal([diff], timeout=timeout)
        except ExpressionTooLargeError:
            outcome = "too large"
        outcomes["symbolic"] = describe(outcome, timeout)
        ok = outcome == "equal" or numeric_ok
    return CheckResult(ok, p, expr, truth, None, None, (), tuple(tests), outcomes, subject, source)
