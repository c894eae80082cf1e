"""Two moons: a small tanh network learns a curved decision boundary.

Run:  python examples/train_moons.py [OUTPUT_DIR]
Saves moons_boundary.png (data and decision boundary) and moons_loss.png in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp


def main(out_dir: Path) -> None:
    X, Y = sbp.datasets.moons(n=200, noise=0.1, seed=0)
    net = sbp.mlp([2, 16, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    params, history = sbp.train(net, X, Y, epochs=300, lr=0.5, batch_size=16, seed=0, progress=False,
                                accuracy=True)
    print(f"final loss {history.loss[-1]:.4f}, training accuracy {history.accuracy[-1]:.1%}")
    sbp.plot_decision_boundary(net, params, X, Y).save(out_dir / "moons_boundary.png")
    sbp.plot_history(history).save(out_dir / "moons_loss.png")
    print(f"saved {out_dir / 'moons_boundary.png'} and {out_dir / 'moons_loss.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
