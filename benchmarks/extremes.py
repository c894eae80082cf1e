"""The extreme-value table of docs/training.md: compiled loss and gradients against exact values.

Run: ``python benchmarks/extremes.py`` (a few seconds). Prints a Markdown table: for each
activation × loss pair at an extreme input, the compiled value (``net.compile()``), the
exact value (the same network composed from the textbook definitions, differentiated by
``sympy.diff`` and evaluated with mpmath at 2|z| + 50 digits) and the relative error.
Only the public API is used, so the same script measures any version of symbackprop
(``PYTHONPATH=/path/to/other/checkout python benchmarks/extremes.py``).

``python benchmarks/extremes.py --survey`` (about a minute) goes through every registered
activation × loss pair instead: one output layer (two outputs for softmax), logits
z = ±20, ±40, ±800 (softmax: (z, −z)), targets at the ends of the output's range and in the
middle (only those the loss accepts), and compares J, ∂J/∂b and ∂J/∂w of the output layer
with the exact values to 1e-12 relative (values below 1e-300 absolutely, as
tests/test_extremes.py does). It prints one line per pair — exact, or the cases that are
not — and a case whose exact value is not a finite real number (the loss's mathematics
fails there, e.g. log of a negative tanh output) is counted as outside the domain.
"""

from __future__ import annotations

import math
import sys
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
    ("tanh + quadratic", [1, 1], "tanh", "quadratic",
     {"w1_1_1": 20.0}, [1.0], [1.0], ["J", "b1_1"], "z = 20, y = 1"),
    ("tanh + quadratic", [1, 1], "tanh", "quadratic",
     {"w1_1_1": -40.0}, [1.0], [-1.0], ["J", "b1_1"], "z = −40, y = −1"),
    ("tanh + binary_cross_entropy", [1, 1], "tanh", "binary_cross_entropy",
     {"w1_1_1": 20.0}, [1.0], [1.0], ["J", "b1_1"], "z = 20, y = 1"),
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


# ------------------------------------------------------------------- the survey
LOGITS = [20.0, -20.0, 40.0, -40.0, 800.0, -800.0]
REL, TINY = 1e-12, 1e-300
# Targets per output activation: the ends of its range and the middle (and one in between).
RANGE_TARGETS = {
    "sigmoid": [0.0, 1.0, 0.5, 0.3],
    "tanh": [-1.0, 1.0, 0.0, 0.3, -0.3],
    "arctan": [-1.0, 1.0, 0.0, 0.3, math.pi / 2, -math.pi / 2],
    "softmax": [(1.0, 0.0), (0.0, 1.0), (0.3, 0.7), (0.5, 0.5)],
}
UNBOUNDED_TARGETS = [0.0, 1.0, 0.3, -1.0]


def survey_cases(act: str, loss: str) -> list[tuple[float, tuple[float, ...]]]:
    """(logit, targets) of one pair: every logit with every target the loss accepts."""
    targets = RANGE_TARGETS.get(act, UNBOUNDED_TARGETS)
    targets = [t if isinstance(t, tuple) else (t,) for t in targets]
    if loss in sbp.LOSSES and sbp.LOSSES[loss].targets is not None:
        low, high, _ = sbp.LOSSES[loss].targets
        targets = [t for t in targets if all(low <= v <= high for v in t)]
    return [(z, t) for z in LOGITS for t in targets]


def survey_pair(act: str, loss: str) -> tuple[list[str], int, int]:
    """The cases of one pair that are not exact (as lines), the number of cases checked, and
    the number outside the loss's domain."""
    k = 2 if act == "softmax" else 1
    net = sbp.mlp([1, k], act, loss)
    model = net.compile()
    J = composed_loss(net)
    b, w = net.b(1, 1), net.w(1, 1, 1)
    exprs = [J, sp.diff(J, b), sp.diff(J, w)]
    # The loss's own domain: every log's argument positive (0·log(a < 0) is not a number).
    exprs += [e.args[0] for e in J.atoms(sp.log)]
    symbols = [*net.params, *net.inputs, *net.targets]
    f = sp.lambdify(symbols, exprs, modules="mpmath")
    bad, checked, outside = [], 0, 0
    for z, t in survey_cases(act, loss):
        # x = 2 and w = z/2 (exact): z^(1) = z, and ∂J/∂w = 2 ∂J/∂b is a separate number.
        ws = [z / 2, -z / 2][:k]
        params = {net.w(1, j + 1, 1): ws[j] for j in range(k)} | {net.b(1, j + 1): 0.0 for j in range(k)}
        X, Y = np.array([[2.0]]), np.array([t])
        point = [*(params[p] for p in net.params), 2.0, *t]
        with mpmath.workdps(50 + int(2 * abs(z))):
            try:
                values = f(*(mpmath.mpf(v) for v in point))
                inside = all(mpmath.im(v) == 0 and mpmath.re(v) > 0 for v in values[3:])
                want = [complex(v) for v in values[:3]]
            except (ValueError, ZeroDivisionError):
                inside = False
        if not inside or not all(math.isfinite(v.real) and v.imag == 0 for v in want):
            outside += 1
            continue
        want = [v.real for v in want]
        checked += 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loss_value = model.loss(params, X, Y)
            grad = model.gradient(params, X, Y)
        got = [loss_value, grad[b], grad[w]]
        errors = []
        for name, g, v in zip(("J", "∂J/∂b", "∂J/∂w"), got, want):
            if not (math.isfinite(g) and abs(g - v) <= REL * abs(v) + TINY):
                err = abs(g - v) / abs(v) if math.isfinite(g) and v != 0 else math.inf
                errors.append(f"{name} {fmt(g)} (exact {fmt(v)}, rel. error {err:.1e})")
        if caught:
            errors.append(f"warning: {caught[0].message}")
        if errors:
            bad.append(f"z = {z:g}, y = {', '.join(f'{v:g}' for v in t)}: " + "; ".join(errors))
    return bad, checked, outside


def survey() -> int:
    """Print the survey; return the number of pairs that are not exact everywhere."""
    failing = 0
    for act in sbp.ACTIVATIONS:
        for loss in sbp.LOSSES:
            bad, checked, outside = survey_pair(act, loss)
            where = f"{checked} cases" + (f", {outside} outside the domain" if outside else "")
            if bad:
                failing += 1
                print(f"- {act} + {loss}: NOT exact in {len(bad)} of {where}")
                for line in bad:
                    print(f"    {line}")
            else:
                print(f"- {act} + {loss}: exact ({where})")
    return failing


if __name__ == "__main__":
    if sys.argv[1:] == ["--survey"]:
        sys.exit(1 if survey() else 0)
    main()
