"""Iris with softmax and cross-entropy: three classes, loss curve and accuracy.

Run:  python examples/train_iris.py [OUTPUT_DIR]
Saves iris_loss.png (loss and accuracy per epoch) in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp


def main(out_dir: Path) -> None:
    data = sbp.datasets.iris()
    X = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)  # standardised features
    net = sbp.mlp([4, 8, 3], activation=["relu", "softmax"], loss="cross_entropy")
    print("delta2_1 =", net.deltas[net.delta(2, 1)])  # softmax + cross-entropy output δ
    params, history = sbp.train(net, X, data.Y, epochs=200, lr=0.1, batch_size=16, seed=0, progress=False,
                                accuracy=True)
    print(f"classes {', '.join(data.classes)}")
    print(f"final loss {history.loss[-1]:.4f}, training accuracy {history.accuracy[-1]:.1%}")
    sbp.plot_history(history).save(out_dir / "iris_loss.png")
    print(f"saved {out_dir / 'iris_loss.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
