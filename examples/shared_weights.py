"""Weight sharing: one weight used at every step of a tiny recurrent computation.

s_t = tanh(w*s_(t-1) + u*x_t) for three steps uses w three times and u three times; the
gradient of a shared weight is the sum over its uses. The script prints ∂J/∂w, shows that
it equals the sum of the three per-use contributions (each use's edge into its node), checks
a hand-derived formula with sbp.check, and saves the derivation as Markdown.

Run:  python examples/shared_weights.py [OUTPUT_DIR]
Saves shared_weights.md in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp

SOURCE = """
    s1 = tanh(u*x1)
    s2 = tanh(w*s1 + u*x2)
    s3 = tanh(w*s2 + u*x3)
    J = (s3 - y)**2 / 2
"""


def main(out_dir: Path) -> None:
    comp = sbp.computation(SOURCE, params="w u", inputs="x1 x2 x3", targets="y")
    print(f"dJ/dw = {sbp.to_str(comp.grad('w'))}")
    print(f"dJ/du = {sbp.to_str(comp.grad('u'))}")
    point = {"w": 0.9, "u": -0.6, "x1": 1.0, "x2": 0.5, "x3": -1.0, "y": 0.2}
    d = comp.derivation("u").at(point)
    uses = [(c, d.value(comp.named_adjoint(c) * comp.graph.edges["u", c]["partial"]))
            for c in comp.graph.successors("u")]
    for node, part in uses:
        print(f"  the use of u in {node}: {part:+.6f}")
    print(f"  sum {sum(p for _, p in uses):+.6f} = dJ/du {d.value(d.compact):+.6f}")
    r = sbp.check(comp, "u", "delta_s3*(1 - s3**2)*x3")  # only the last use: a slip
    print(r)
    path = out_dir / "shared_weights.md"
    path.write_text(d.markdown() + "\n", encoding="utf-8")
    print(f"saved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
