"""Train XOR from a symbolic definition: the same network that prints its derivatives.

Run:  python examples/train_xor.py [OUTPUT_DIR]
Saves xor_loss.png (the loss per epoch) in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import symbackprop as sbp


def main(out_dir: Path) -> None:
    X, Y = sbp.datasets.xor()
    net = sbp.mlp([2, 4, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    print("dJ/db2_1 =", net.grad("b2_1"))  # the derivation the training runs on
    params, history = sbp.train(net, X, Y, epochs=2000, lr=0.5, batch_size=4, seed=0, progress=False)
    out = net.compile().predict(params, X)
    for x, y, o in zip(X, Y, out):
        print(f"x = {x}, target {y[0]:.0f}, output {o[0]:.3f}")
    print(f"final loss {history.loss[-1]:.4f}, accuracy {np.mean((out > 0.5) == Y):.0%}")
    sbp.plot_history(history).save(out_dir / "xor_loss.png")
    print(f"saved {out_dir / 'xor_loss.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
