"""A 2-2-2 sigmoid network with the quadratic loss: every weight's gradient, two ways.

Prints each parameter's gradient in compact form (the network's own symbols) and
expanded (inputs, targets, weights and biases only), then the layer-level backprop
equations, and renders the equations and the derivation of w^(1)_11 as pictures.

Run:  python examples/network_222.py [OUTPUT_DIR]
Saves equations_222.png and derivation_w1_1_1.png in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp
from symbackprop.derive import tree_size


def main(out_dir: Path) -> None:
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    for p in net.params:
        expanded = net.grad(p, expand=True)
        print(f"dJ/d{p}")
        print(f"  compact:  {sbp.to_str(net.grad(p))}")
        print(f"  expanded: {sbp.to_str(expanded)}  ({tree_size(expanded)} operations)")
    print()
    print(net.equations().text())
    for name, obj in [("equations_222.png", net.equations()),
                      ("derivation_w1_1_1.png", net.derivation(net.w(1, 1, 1)))]:
        sbp.draw_formula(obj).save(out_dir / name)
        print(f"saved {out_dir / name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
