"""A residual block r = a + F(a): the gradient flows through the identity and through F.

The skip connection gives every earlier node two paths to the loss; the chain rule sums
them. The derivation lists both paths, the product along each, and their sum; the picture
highlights them with their local partials.

Run:  python examples/residual_block.py [OUTPUT_DIR]
Saves residual_paths.png in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp

SOURCE = """
    a = tanh(w0*x + b0)        # the block's input
    u = relu(w1*a + b1)        # F(a) = w2 * relu(w1*a + b1)
    F = w2*u
    r = a + F                  # the residual: a reaches r directly and through F
    o = v*r + c
    J = (o - y)**2 / 2
"""


def main(out_dir: Path) -> None:
    comp = sbp.computation(SOURCE, params="w0 b0 w1 b1 w2 v c", inputs="x", targets="y")
    d = comp.derivation("a")
    print(f"paths from a to J: {d.n_paths}")
    for path in d.paths:
        print("  " + " → ".join(path))
    print(f"dJ/da = {sbp.to_str(d.chain_sum)}")
    print(f"dJ/dw0 = {sbp.to_str(comp.grad('w0'))}")
    point = {"w0": 0.7, "b0": 0.1, "w1": 1.3, "b1": -0.2, "w2": 0.5, "v": 1.1, "c": 0.0, "x": 0.9, "y": 0.3}
    at = d.at(point)
    print(f"at the point: dJ/da = {at.value(d.chain_sum):.6f} (identity path {at.value(d.products[-1]):.6f})")
    drawing = sbp.draw_gradient_paths(comp, "w0")
    path = out_dir / "residual_paths.png"
    drawing.save(path)
    print(f"saved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
