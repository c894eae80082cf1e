"""Numeric values of a network's symbols at many random points at once.

The checker compares formulas by their values, so it needs every symbol of the network
(x, y, w, b, z, a, δ and J) at a batch of points. :func:`sample_points` draws inputs,
targets and parameters, then runs the graph's own definitions forward (z, a, J) and the
δ recursion backward, as one program over NumPy arrays (:func:`symbackprop.numeric.run`).
:func:`evaluate` gives a formula's value at those points. Both use symbackprop's one
evaluator, :mod:`symbackprop.numeric` (SymPy's NumPy printer, the compiled code's kink
convention, compiled functions cached).
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import sympy as sp

from .. import numeric
from ..errors import SpecError
from ..spec import Spec

__all__ = ["KINK", "MAX_POINTS", "check_points", "evaluate", "forward_values", "sample_points"]

#: The most random points a check may draw: each point holds a float for every symbol of
#: the network and for every intermediate value, so memory grows with it. Raise it from
#: Python (``symbackprop.checking.evaluate.MAX_POINTS = 10**6``) when you have the memory.
MAX_POINTS = 100_000

#: Points where some z is closer than this to 0 are rejected (ReLU-type kinks live there).
KINK = 1e-6

def evaluate(expr: sp.Basic, values: Mapping[sp.Symbol, np.ndarray]) -> np.ndarray:
    """Value of ``expr`` at every point, from the arrays of its free symbols.

    Parameters
    ----------
    expr : sympy.Expr
        Built from numbers, symbols, ``+ * **`` and the functions the formula parser knows.
    values : Mapping[Symbol, numpy.ndarray]
        One array (all of one shape) per free symbol of ``expr``.

    Returns
    -------
    numpy.ndarray
        float64; ``nan``/``inf`` where the expression is undefined (no warning).

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> evaluate(sp.Max(0, x) + sp.exp(x) / 2, {x: np.array([-1.0, 0.0, 2.0])}).round(3)
    array([0.184, 0.5  , 5.695])
    """
    return numeric.evaluate(expr, values)


def _draw(spec: Spec, n: int, rng: np.random.Generator) -> dict[sp.Symbol, np.ndarray]:
    # Two decimals: a counterexample a person can retype; still dense enough to tell
    # formulas apart.
    def draw(low: float, high: float) -> np.ndarray:
        return np.round(rng.uniform(low, high, n), 2)

    values = {x: draw(-2.0, 2.0) for x in spec.inputs}
    values.update({p: draw(-1.5, 1.5) for p in spec.params})
    if spec.loss.name == "cross_entropy":
        # Categorical cross-entropy assumes targets that are probabilities summing to 1.
        ys = rng.dirichlet(np.ones(len(spec.targets)), n)
        values.update({y: ys[:, i] for i, y in enumerate(spec.targets)})
    else:
        values.update({y: draw(0.05, 0.95) for y in spec.targets})
    return values


def forward_values(net, leaves: Mapping[sp.Symbol, np.ndarray]) -> dict[sp.Symbol, np.ndarray]:
    """Every symbol's value from the leaves' (x, y, w, b): z, a and J forward, δ backward.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity")
    >>> v = forward_values(net, {net.x(1): np.array([3.0]), net.y(1): np.array([1.0]),
    ...                          net.w(1, 1, 1): np.array([2.0]), net.b(1, 1): np.array([0.5])})
    >>> float(v[net.delta(1, 1)][0]), float(v[net.J][0])
    (5.5, 15.125)
    """
    return numeric.run(_program(net), leaves)


def _program(net) -> list[tuple[sp.Symbol, sp.Expr]]:
    # z, a and J in the graph's order, then δ from the output layer back.
    g = net.graph
    order = list(nx.topological_sort(g))
    steps = [(g.nodes[n]["symbol"], g.nodes[n]["expr"]) for n in order if g.nodes[n]["expr"] is not None]
    bp = net.backprop
    for name in reversed(order):
        node = g.nodes[name]
        if node["kind"] == "z":
            d = net.delta(node["layer"], node["index"][0])
            steps.append((d, bp.delta[d]))
    return steps


def check_points(points: int) -> int:
    """Return ``points`` if it is a whole number from 1 to :data:`MAX_POINTS`, else refuse.

    Examples
    --------
    >>> check_points(64)
    64
    >>> check_points(200_000_000)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: 200000000 random points is more than the limit of 100000 (memory grows with the points); use fewer (--points), or raise symbackprop.checking.evaluate.MAX_POINTS from Python.
    """
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise SpecError(f"The number of random points must be a positive whole number; got {points!r}.")
    if points > MAX_POINTS:
        raise SpecError(
            f"{points} random points is more than the limit of {MAX_POINTS} (memory grows with the "
            "points); use fewer (--points), or raise symbackprop.checking.evaluate.MAX_POINTS from Python."
        )
    return int(points)


def sample_points(
    net, n: int = 64, seed: int | np.random.Generator = 0
) -> dict[sp.Symbol, np.ndarray]:
    """Values of every symbol of ``net`` at ``n`` random points where all are defined.

    Inputs are drawn from [−2, 2], parameters from [−1.5, 1.5] (rounded to 0.01), targets
    from [0.05, 0.95] (for ``cross_entropy``: probability vectors). Points where some z is
    within :data:`KINK` of 0, or where the loss or a δ is not finite, are dropped.

    Parameters
    ----------
    net : Network
        The network.
    n : int
        Number of points to draw (fewer may be returned).
    seed : int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    dict[Symbol, numpy.ndarray]
        One array per symbol: x, y, w, b, z, a, δ and J.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="sigmoid")
    >>> v = sample_points(net, n=5)
    >>> bool(np.allclose(v[net.a(1, 1)], 1 / (1 + np.exp(-v[net.z(1, 1)]))))
    True
    """
    n = check_points(n)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    values = forward_values(net, _draw(net, n, rng))
    keep = np.ones(n, dtype=bool)
    for _, node in net.graph.nodes(data=True):
        if node["kind"] == "z":
            keep &= np.abs(values[node["symbol"]]) > KINK
    for v in values.values():
        keep &= np.isfinite(v)
    return {s: v[keep] for s, v in values.items()}
