"""Check my homework: three hand derivations of a 2-2-1 network's gradients.

One is right, two are wrong in the ways students most often slip: a forgotten σ'(z)
factor, and a hidden weight's gradient with its indices swapped (the input x2 where
w^(1)_21 comes from x1).
symbackprop says which is which, shows a point where a wrong one fails, and explains how.

Run:  python examples/check_homework.py [OUTPUT_DIR]
Saves homework.json (the verdicts, machine-readable) in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import symbackprop as sbp

HOMEWORK = [
    # (parameter, formula as the student wrote it)
    ("w2_1_1", "(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1"),          # right
    ("w2_1_2", "(a2_1 - y1)*a1_2"),                          # forgot σ'(z2_1)
    ("w1_2_1", "(a2_1 - y1)*a2_1*(1 - a2_1)*w2_1_2*a1_2*(1 - a1_2)*x2"),  # x2: from neuron 2
]


def main(out_dir: Path) -> None:
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    results = []
    for wrt, formula in HOMEWORK:
        result = sbp.check(net, wrt, formula)
        print(result)
        print()
        results.append(result.to_dict())
    path = out_dir / "homework.json"
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    right = sum(r["ok"] for r in results)
    print(f"{right} of {len(results)} right; saved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
