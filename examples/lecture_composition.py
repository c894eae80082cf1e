"""The lecture's composition J(f(W³, g(W², h(W¹, x)))), written as a computation.

Backpropagation is the chain rule through a composition of functions; the MLP is one such
composition, not the only one. Here three scalar "layers" use three different activations
(h = tanh, g = softplus, f = sigmoid), written as named definitions. The script prints the
gradient of every weight in the named nodes, the derivation of the innermost weight W¹ with
the value of every step at one point, and checks every gradient against central
differences of the loss.

Run:  python examples/lecture_composition.py [OUTPUT_DIR]
Saves lecture_composition.md (the derivation of dJ/dW1 in Markdown) in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp

SOURCE = """
    h = tanh(W1*x + b1)          # h(W1, x)
    g = softplus(W2*h + b2)      # g(W2, h)
    f = sigmoid(W3*g + b3)       # f(W3, g)
    J = (f - y)**2 / 2
"""


def main(out_dir: Path) -> None:
    comp = sbp.computation(SOURCE, params="W1 b1 W2 b2 W3 b3", inputs="x", targets="y")
    print("Gradients, compact (δ_v = ∂J/∂v is delta_v):")
    for p, grad in comp.gradients().items():
        print(f"  dJ/d{p} = {sbp.to_str(grad)}")
    point = {"W1": 0.8, "b1": -0.1, "W2": 1.5, "b2": 0.2, "W3": -1.2, "b3": 0.3}
    d = comp.derivation("W1").at(point, x=0.5, y=1.0)
    print()
    print(d.text())
    # The same number from the loss alone: central differences.
    values = {**point, "x": 0.5, "y": 1.0}

    def loss(v: dict) -> float:
        return comp.derivation("W1").at(v).value(comp.loss)

    for p in comp.params:
        up, down = dict(values), dict(values)
        up[p.name] += 1e-6
        down[p.name] -= 1e-6
        fd = (loss(up) - loss(down)) / 2e-6
        mine = comp.derivation(p).at(values).value(comp.grad(p))
        print(f"  dJ/d{p}: chain rule {mine:+.8f}, central difference {fd:+.8f}")
        assert abs(mine - fd) < 1e-6 * (1 + abs(fd))
    path = out_dir / "lecture_composition.md"
    path.write_text(d.markdown() + "\n", encoding="utf-8")
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
