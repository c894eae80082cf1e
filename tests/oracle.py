"""Independent oracles for the symbolic core, shared by the tests.

The forward pass is composed here directly from the registry definitions (no graph,
no reverse mode), differentiated with ``sympy.diff``, and evaluated numerically.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

import symbackprop as sbp


def expanded_loss(net: sbp.Network) -> sp.Expr:
    """J written in x, y, w, b only, composed layer by layer from the definitions."""
    prev = list(net.inputs)
    for layer, act in enumerate(net.activations, start=1):
        zs = [
            sum((net.w(layer, j, k) * a for k, a in enumerate(prev, start=1)), net.b(layer, j))
            for j in range(1, net.sizes[layer] + 1)
        ]
        if act.elementwise:
            prev = [act(z) for z in zs]
        else:
            total = sum(sp.exp(z) for z in zs)
            prev = [sp.exp(z) / total for z in zs]
    loss = net.loss(net.outputs, net.targets)
    return loss.xreplace(dict(zip(net.outputs, prev)))


def network_for(activation: str, loss: str) -> sbp.Network:
    """A 2-3-2 network using ``activation`` and ``loss``, with outputs valid for the loss."""
    if activation == "softmax":
        return sbp.mlp([2, 3, 2], ["tanh", "softmax"], loss)
    if loss == "binary_cross_entropy":
        return sbp.mlp([2, 3, 2], [activation, "sigmoid"], loss)
    if loss == "cross_entropy":
        return sbp.mlp([2, 3, 2], [activation, "softmax"], loss)
    return sbp.mlp([2, 3, 2], activation, loss)


def random_point(net: sbp.Network, rng: np.random.Generator) -> dict[sp.Symbol, float]:
    """Parameters and inputs drawn around 0, targets in (0.1, 0.9) (valid for every loss)."""
    point = {p: float(rng.normal(0.0, 0.8)) for p in net.params}
    point.update({x: float(rng.normal(0.0, 1.0)) for x in net.inputs})
    point.update({y: float(rng.uniform(0.1, 0.9)) for y in net.targets})
    return point


def value(expr: sp.Expr, point: dict[sp.Symbol, float]) -> float:
    """Float value of ``expr`` at ``point`` (all free symbols must be given)."""
    return float(expr.xreplace({s: sp.Float(v, 30) for s, v in point.items()}).evalf(30))


def finite_difference(loss: sp.Expr, p: sp.Symbol, point: dict[sp.Symbol, float], h: float = 1e-6) -> float:
    """Central difference (J(p + h) − J(p − h)) / 2h of the loss, in float64."""
    symbols = sorted(point, key=lambda s: s.name)
    f = sp.lambdify(symbols, loss, modules="math")
    args = [point[s] for s in symbols]
    i = symbols.index(p)
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def close(a: float, b: float, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
