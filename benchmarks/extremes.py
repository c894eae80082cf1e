"""The extreme-value table of docs/training.md: compiled loss and gradients against exact values.

Run: ``python benchmarks/extremes.py`` (a few seconds). Prints a Markdown table: for each
activation × loss pair at an extreme input, the compiled value (``net.compile()``), the
exact value (the same network composed from the textbook definitions, differentiated by
``sympy.diff`` and evaluated with mpmath at 2|z| + 50 digits) and the relative error.
Only the public API is used, so the same script measures any version of symbackprop
(``PYTHONPATH=/path/to/other/checkout python benchmarks/extremes.py``).
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import sympy as sp

import symbackprop as sbp

# (pair label, sizes, activations, loss, {param name: value}, x, y, quantity, input label)
ROWS = [
    ("sigmoid + binary_cross_entropy", [1, 2], "sigmoid", "binary_cross_entropy",
     {"w1_1_1": 1e4, "w1_2_1": -1e4}, [1.0], [0.3, 0.7], ["J", "b1_1"], "z = (1e4, −1e4)"),
    ("sigmoid + cross_entropy", [1, 1], "sigmoid", "cross_entropy",
     {"w1_1_1": -40.0}, [1.0], [0.5], ["J", "b1_1"], "z = −40"),
    ("softmax + cross_entropy", [1, 2], "softmax", "cross_entropy",
     {"w1_1_1": 1000.0, "w1_2_1": -1000.0}, [1.0], [0.3, 0.7], ["J", "b1_1"], "z = (1000, −1000)"),
    ("softmax + binary_cross_entropy", [1, 2], "softmax", "binary_cross_entropy",
     {"w1_1_1": 20.0, "w1_2_1": -20.0}, [1.0], [0.65, 0.35], ["J", "b1_1"], "z = (20, −20)"),
    ("softmax + binary_cross_entropy", [1, 2], "softmax", "binary_cross_entropy",
     {"w1_1_1": 1000.0, "w1_2_1": -1000.0}, [1.0], [0.3, 0.7], ["J", "b1_2"], "z = (1000, −1000)"),
    *[("softplus + quadratic", [1, 1], "softplus", "quadratic",
       {"w1_1_1": z}, [1.0], [0.5], ["b1_1"], f"z = {z:g}".replace("-", "−"))
      for z in (-20.0, -25.0, -30.0, -40.0)],
    ("softplus + cross_entropy", [1, 2], "softplus", "cross_entropy",
     {"w1_1_1": 800.0, "w1_2_1": -800.0}, [1.0], [0.3, 0.7], ["J", "b1_2"], "z = (800, −800)"),
    ("tanh + mse", [1, 2], "tanh", "mse",
     {"w1_1_1": 1e4, "w1_2_1": -1e4}, [1.0], [0.3, 0.7], ["J", "b1_1"], "z = (1e4, −1e4)"),
    ("sigmoid (hidden) → identity + quadratic", [1, 1, 1], ["sigmoid", "identity"], "quadratic",
     {"w1_1_1": 30.0, "w2_1_1": 0.5}, [1.0], [0.3], ["b1_1"], "z⁽¹⁾ = 30"),
    ("tanh (hidden) → identity + quadratic", [1, 1, 1], ["tanh", "identity"], "quadratic",
     {"w1_1_1": -30.0, "w2_1_1": 0.5}, [1.0], [0.3], ["b1_1"], "z⁽¹⁾ = −30"),
    ("log(1 + exp(z)) (typed) + quadratic", [1, 1], "log(1 + exp(z))", "quadratic",
     {"w1_1_1": 800.0}, [1.0], [0.5], ["J", "b1_1"], "z = 800"),
    ("z*sigmoid(z) (hidden) → identity + quadratic", [1, 1, 1], ["z*sigmoid(z)", "identity"],
     "quadratic", {"w1_1_1": -1000.0, "w2_1_1": 0.5}, [1.0], [0.3], ["w1_1_1"], "z⁽¹⁾ = −1000"),
]


def composed_loss(net: sbp.Network) -> sp.Expr:
    """J in x, y, w, b, composed from the textbook definitions (no stable forms)."""
    prev = list(net.inputs)
    for layer, act in enumerate(net.activations, start=1):
        zs = [sum((net.w(layer, j, k) * a for k, a in enumerate(prev, start=1)), net.b(layer, j))
              for j in range(1, net.sizes[layer] + 1)]
        if act.elementwise:
            prev = [act(z) for z in zs]
        else:
            total = sum(sp.exp(z) for z in zs)
            prev = [sp.exp(z) / total for z in zs]
    return net.loss(net.outputs, net.targets).xreplace(dict(zip(net.outputs, prev)))


def exact(net: sbp.Network, point: dict, quantities: list[str], digits: int) -> list[float]:
    J = composed_loss(net)
    exprs = [J if q == "J" else sp.diff(J, net.symbol(q)) for q in quantities]
    symbols = sorted(point, key=lambda s: s.name)
    f = sp.lambdify(symbols, exprs, modules="mpmath")
    with mpmath.workdps(digits):
        return [float(v) for v in f(*(mpmath.mpf(point[s]) for s in symbols))]


def compiled(net: sbp.Network, params: dict, X, Y, quantities: list[str]) -> tuple[list[float], bool]:
    model = net.compile()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = model.loss(params, X, Y)
        grad = model.gradient(params, X, Y)
    values = [loss if q == "J" else grad[net.symbol(q)] for q in quantities]
    return values, bool(caught)


def fmt(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.6g}"


def rel(got: float, want: float) -> str:
    if not math.isfinite(got):
        return "—"
    if want == 0:
        return "0" if got == 0 else "—"
    e = abs(got - want) / abs(want)
    return "0" if e == 0 else f"{e:.1e}"


def main() -> None:
    print("| pair | input | quantity | compiled | exact | relative error |")
    print("|---|---|---|---|---|---|")
    for label, sizes, acts, loss, given, x, y, quantities, where in ROWS:
        net = sbp.mlp(sizes, acts, loss)
        params = {p: given.get(p.name, 0.0) for p in net.params}
        X, Y = np.array([x]), np.array([y])
        point = {**params, **dict(zip(net.inputs, x)), **dict(zip(net.targets, y))}
        scale = max(abs(v) for v in given.values())
        want = exact(net, point, quantities, 50 + int(2 * scale))
        got, warned = compiled(net, params, X, Y, quantities)
        for q, g, w in zip(quantities, got, want):
            name = "J" if q == "J" else f"∂J/∂{q}"
            flag = " (warning)" if warned else ""
            print(f"| {label} | {where} | {name} | {fmt(g)}{flag} | {fmt(w)} | {rel(g, w)} |")


if __name__ == "__main__":
    main()
