"""A single neuron, a = f(w1·x1 + … + wn·xn + b), for each activation a first course meets.

For ReLU, the logistic sigmoid, arctan and tanh: the function, its derivative as SymPy
derives it, and both plotted. For softmax (a whole layer): the Jacobian a_i(δ_ij − a_j).
Then the gradient of the quadratic loss of one sigmoid neuron with respect to each weight.

Run:  python examples/single_neuron.py [OUTPUT_DIR]
Saves single_neuron.png in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import symbackprop as sbp  # noqa: E402
from symbackprop.activations import Z, get_activation, softmax_layer  # noqa: E402


def main(out_dir: Path) -> None:
    names = ["relu", "sigmoid", "arctan", "tanh"]
    fig, axes = plt.subplots(1, len(names), figsize=(13, 3.2), constrained_layout=True)
    zs = np.linspace(-4, 4, 401)
    for ax, name in zip(axes, names):
        act = get_activation(name)
        deriv = act.derivative()
        textbook = "" if act.output_derivative is None else f"  = {act.output_derivative} with a = f(z)"
        print(f"{name:8s} f(z) = {sbp.to_str(act.expr):20s} f'(z) = {sbp.to_str(deriv)}{textbook}")
        f = sp.lambdify(Z, act.expr, "numpy")
        df = sp.lambdify(Z, deriv, modules=[{"Heaviside": lambda z, h0=0: np.heaviside(z, h0)}, "numpy"])
        ax.plot(zs, f(zs) * np.ones_like(zs), label="f(z)")
        ax.plot(zs, df(zs) * np.ones_like(zs), label="f'(z)", linestyle="--")
        ax.set_title(f"{name}:  $f'(z) = {sbp.to_latex(deriv)}$", fontsize=10)
        ax.axhline(0, color="0.8", linewidth=0.8)
        ax.set_xlabel("z")
        ax.legend(loc="upper left", fontsize=8)
    path = out_dir / "single_neuron.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)

    z = sp.symbols("z1:4")
    a = softmax_layer(list(z))
    print("\nsoftmax a_i = exp(z_i) / Σ_k exp(z_k) over a layer of 3; SymPy's derivatives")
    for i, j, textbook, label in [(0, 0, a[0] * (1 - a[0]), "a1(1 - a1)"), (0, 1, -a[0] * a[1], "-a1 a2")]:
        same = sp.simplify(sp.diff(a[i], z[j]) - textbook) == 0
        print(f"  ∂a{i + 1}/∂z{j + 1} {'equals' if same else 'DIFFERS FROM'} {label}")

    neuron = sbp.mlp([3, 1], activation="sigmoid", loss="quadratic")
    print("\nOne sigmoid neuron with 3 inputs and the quadratic loss:")
    for p in neuron.params:
        print(f"  dJ/d{p} = {neuron.grad(p)}")
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
