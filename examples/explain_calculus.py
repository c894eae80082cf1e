"""A calculus exercise, step by step: the chain rule on a computation graph.

d/dx [ sin(x·y) + exp(x²) ] at x = 1, y = 2: sbp.explain splits the expression into
elementary operations (u1 = x*y, u2 = sin(u1), ...), lists the two paths from x to the
result, the local partial on each edge, the products and their sum, with numbers, and checks
the result against sympy.diff. A second exercise shows a subexpression used twice.

Run:  python examples/explain_calculus.py [OUTPUT_DIR]
Saves explain_calculus.md in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp


def main(out_dir: Path) -> None:
    first = sbp.explain("sin(x*y) + exp(x**2)", wrt="x", at={"x": 1, "y": 2})
    print(first.text())
    second = sbp.explain("log(1 + x**2) * tanh(x**2)", wrt="x", at={"x": 0.5})
    print()
    print(second.text())
    assert first.agrees and second.agrees
    path = out_dir / "explain_calculus.md"
    path.write_text(first.markdown() + "\n\n" + second.markdown() + "\n", encoding="utf-8")
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
