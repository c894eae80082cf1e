"""Explaining a wrong formula: which usual slip turns the true gradient into it.

Every test is numeric, on the values at the sample points (so it costs the same for a
deep network as for a small one), and exact up to a tolerance: the formula u must equal
c·(candidate) at *every* point, for one constant c.

- constant factor / sign: u = c·t (t the true gradient);
- wrong index: u equals the gradient of another parameter;
- missing paths: u equals the sum of the path products over a strict subset of the paths
  from p to J (the multivariate chain rule with some terms forgotten);
- local partial: u = c·t·P (an extra factor) or u·P = c·t (a missing one), P the local
  partial on one edge of the paths from p to J (σ'(z) = a(1 − a), a weight, a − y, ...).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import sympy as sp

from ..notation import parse_name, text_name, to_str
from .evaluate import evaluate
from .result import Diagnosis

__all__ = ["close", "constant_factor", "describe_factor", "diagnose_gradient", "fit_factor"]

#: Relative and absolute tolerance of the numeric comparisons.
RTOL, ATOL = 1e-9, 1e-11
#: At most this many other parameters are tried as the "wrong index" (same layer first).
MAX_INDEX_CANDIDATES = 400
#: At most this many subsets of paths are tried as the "missing paths".
MAX_PATH_SUBSETS = 5000


def close(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Elementwise: u and v agree to the relative tolerance (both finite)."""
    with np.errstate(all="ignore"):
        return np.isfinite(u) & np.isfinite(v) & (np.abs(u - v) <= RTOL * (np.abs(u) + np.abs(v)) + ATOL)


def fit_factor(lhs: np.ndarray, rhs: np.ndarray) -> float | None:
    """The constant c with lhs = c·rhs at every point, or None.

    Examples
    --------
    >>> fit_factor(np.array([2.0, -4.0, 0.0]), np.array([1.0, -2.0, 0.0]))
    2.0
    >>> fit_factor(np.array([2.0, 4.0]), np.array([1.0, 1.0])) is None
    True
    """
    with np.errstate(all="ignore"):
        ok = np.isfinite(lhs) & np.isfinite(rhs)
        if ok.sum() < 3:
            return None
        lhs, rhs = lhs[ok], rhs[ok]
        i = int(np.argmax(np.abs(rhs)))
        if abs(rhs[i]) <= ATOL:
            return None
        c = float(lhs[i] / rhs[i])
        if c == 0 or not np.isfinite(c):
            return None
        return c if bool(close(lhs, c * rhs).all()) else None


def _nice(c: float) -> Fraction | None:
    frac = Fraction(c).limit_denominator(24)
    return frac if abs(float(frac) - c) <= 1e-6 * max(1.0, abs(c)) else None


def _fmt(c: float) -> str:
    frac = _nice(c)
    return str(frac) if frac is not None else f"{c:.6g}"


def constant_factor(u: np.ndarray, t: np.ndarray) -> Diagnosis | None:
    """A sign error or a constant factor: u = c·t with c ≠ 1.

    Examples
    --------
    >>> constant_factor(np.array([-1.0, -2.0, 3.0]), np.array([1.0, 2.0, -3.0])).kind
    'sign'
    """
    c = fit_factor(u, t)
    if c is None or abs(c - 1) <= 1e-6:
        return None
    if abs(c + 1) <= 1e-6:
        return Diagnosis("sign", "Sign error: your formula is the negative of the true derivative.",
                         {"factor": -1.0})
    hint = ""
    frac = _nice(c)
    if frac is not None and abs(frac) == 2:
        hint = (" A factor ½ is missing: e.g. the ½ of the quadratic loss ½(a − y)² was "
                "dropped, or the 2 from differentiating a square was not cancelled.")
    elif frac is not None and abs(frac) == Fraction(1, 2):
        hint = (" A factor 2 is missing: e.g. d/da (a − y)² = 2(a − y), or a ½ was "
                "applied twice.")
    sign = " (and the sign is wrong)" if c < 0 else ""
    return Diagnosis(
        "constant_factor",
        f"Your formula is {_fmt(c)} times the true derivative{sign}.{hint}",
        {"factor": c},
    )


def describe_factor(net, edge: tuple[str, str], partial: sp.Expr) -> str:
    """Words for the local partial on ``edge``: ``σ'(z2_1) = a2_1*(1 - a2_1) = ∂a⁽²⁾₁/∂z⁽²⁾₁``."""
    g = net.graph
    u, v = edge
    du, dv = g.nodes[u], g.nodes[v]
    d = f"∂{text_name(dv['symbol'])}/∂{text_name(du['symbol'])}"
    what = ""
    if dv["kind"] == "a" and du["kind"] == "z":
        act = net.activations[dv["layer"] - 1]
        name = act.text or (act.name if act.name.isidentifier() else "f")
        what = f"{name}'({to_str(du['symbol'])}) = " if act.elementwise else ""
    elif dv["kind"] == "z" and du["kind"] == "a" or dv["kind"] == "z" and du["kind"] == "x":
        what = "the weight "
    elif dv["kind"] == "z" and du["kind"] == "weight":
        what = "the input " if g.nodes[u]["layer"] == 1 else "the activation "
    return f"{what}{to_str(partial)} = {d}"


def _index_hint(p: sp.Symbol, q: sp.Symbol) -> str:
    sp_, sq = parse_name(p.name), parse_name(q.name)
    if sp_ and sq and sp_.head == sq.head == "w" and sp_.layer == sq.layer and sp_.index == sq.index[::-1]:
        return (" The indices of w^(l)_jk are swapped: j is the neuron the weight goes into, "
                "k the neuron of the previous layer it comes from.")
    return ""


def _wrong_index(net, p, u, values) -> list[Diagnosis]:
    layer = net.graph.nodes[p.name]["layer"]
    others = [q for q in net.params if q != p]
    # Same layer and kind first: that is where index slips happen.
    others.sort(key=lambda q: (net.graph.nodes[q.name]["layer"] != layer, q.name[0] != p.name[0]))
    for q in others[:MAX_INDEX_CANDIDATES]:
        tq = evaluate(net.grad(q), values)
        if bool(close(u, tq).all()):
            return [Diagnosis(
                "wrong_index",
                f"Your formula is the gradient of {q.name} ({text_name(q)}), not of "
                f"{p.name} ({text_name(p)}).{_index_hint(p, q)}",
                {"other": q.name},
            )]
    return []


def _path_text(net, path: list[str]) -> str:
    return " → ".join(text_name(net.graph.nodes[n]["symbol"]) for n in path)


def _missing_paths(net, p, u, values) -> list[Diagnosis]:
    d = net.derivation(p)
    if d.paths is None or len(d.paths) < 2:
        return []
    products = np.array([evaluate(e, values) for e in d.products])
    n = len(d.paths)
    tried = 0
    # Fewest missing paths first.
    for size in range(n - 1, 0, -1):
        for subset in itertools.combinations(range(n), size):
            tried += 1
            if tried > MAX_PATH_SUBSETS:
                return []
            if bool(close(u, products[list(subset)].sum(axis=0)).all()):
                missing = [i for i in range(n) if i not in subset]
                shown = "; ".join(f"path {i + 1}: {_path_text(net, d.paths[i])}" for i in missing)
                return [Diagnosis(
                    "missing_paths",
                    f"Your formula sums {size} of the {n} paths from {text_name(p)} to J "
                    f"(multivariate chain rule); missing: {shown}.",
                    {"missing": [d.paths[i] for i in missing], "n_paths": n},
                )]
    return []


def _local_partials(net, p, u, t, values) -> list[Diagnosis]:
    d = net.derivation(p)
    seen: set[sp.Expr] = set()
    found = []
    for edge, partial in d.partials.items():
        if partial.is_number or partial in seen:
            continue
        seen.add(partial)
        P = evaluate(partial, values)
        for extra in (True, False):
            c = fit_factor(u, t * P) if extra else fit_factor(u * P, t)
            if c is None:
                continue
            words = describe_factor(net, edge, partial)
            times = "" if abs(c - 1) <= 1e-6 else f" (and a constant factor {_fmt(c)})"
            message = (
                f"Your formula has an extra factor {words}{times}."
                if extra
                else f"Your formula lacks the factor {words}, the local partial on the edge "
                f"{_path_text(net, list(edge))}{times}."
            )
            found.append(Diagnosis(
                "local_partial", message,
                {"edge": list(edge), "factor": to_str(partial), "extra": extra, "constant": c},
            ))
    # A factor written with the right constant explains more than one that needs another.
    found.sort(key=lambda g: abs(g.details["constant"] - 1) > 1e-6)
    return found


def diagnose_gradient(net, p: sp.Symbol, u: np.ndarray, t: np.ndarray, values) -> list[Diagnosis]:
    """Every usual slip that turns ∂J/∂p (values ``t``) into the formula (values ``u``).

    Parameters
    ----------
    net : Network
    p : Symbol
        The parameter.
    u, t : numpy.ndarray
        The formula's and the true gradient's values at the points ``values``.
    values : dict[Symbol, numpy.ndarray]
        Every symbol's value at the points (:func:`~.evaluate.sample_points`).

    Returns
    -------
    list of Diagnosis
        Most specific first; empty when none applies.
    """
    found: list[Diagnosis] = []
    const = constant_factor(u, t)
    if const is not None:
        found.append(const)
    found += _wrong_index(net, p, u, values)
    found += _missing_paths(net, p, u, values)
    if const is None:
        found += _local_partials(net, p, u, t, values)
    return found
