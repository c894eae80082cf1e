"""The composition view of a deep network: y = f(W³, g(W², h(W¹, x))).

A 3-layer network is a composition of three layer functions. Backpropagation applies
the chain rule to that composition from the outside in: first the loss and f (layer 3),
then g (layer 2), then h (layer 1), each step reusing the δ of the layer above. This
script prints the layer-level equations, then the derivation of a first-layer weight,
whose δ recursion walks the layers backwards.

Run:  python examples/deep_composition.py [OUTPUT_DIR]
Saves deep_composition.md (the derivation in Markdown with LaTeX) in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp


def main(out_dir: Path) -> None:
    # h = tanh, g = sigmoid, f = identity: a small regression network.
    net = sbp.mlp([2, 3, 3, 1], activation=["tanh", "sigmoid", "identity"], loss="quadratic")
    print(net.equations().text())
    print()
    d = net.derivation(net.w(1, 1, 1))
    print(d.text())
    print("\nThe δ recursion, layer by layer from the output back:")
    for delta, expr in d.deltas:
        print(f"  {delta} = {sbp.to_str(expr)}")
    path = out_dir / "deep_composition.md"
    path.write_text(net.equations().markdown() + "\n\n" + d.markdown() + "\n", encoding="utf-8")
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
