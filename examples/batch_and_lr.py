"""Mini-batch size and learning rate: the same network trained six ways.

Batch sizes 1, 8 and the full data set at one learning rate, then three learning rates
at one batch size; all loss curves on one figure. Smaller batches take more (noisier)
steps per epoch; too small a learning rate crawls, too large a one oscillates.

Run:  python examples/batch_and_lr.py [OUTPUT_DIR]
Saves batch_and_lr.png in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import symbackprop as sbp  # noqa: E402


def main(out_dir: Path) -> None:
    X, Y = sbp.datasets.moons(n=200, noise=0.1, seed=0)
    net = sbp.mlp([2, 8, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    start = net.init_params(seed=0)  # every run starts from the same weights
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True, constrained_layout=True)
    for batch in (1, 8, len(X)):
        _, h = sbp.train(net, X, Y, epochs=100, lr=0.2, batch_size=batch, seed=0, params=start, progress=False)
        label = "full batch" if batch == len(X) else f"batch {batch}"
        left.plot(h.loss, label=label)
        print(f"lr 0.2, {label:10s}: final loss {h.loss[-1]:.4f}")
    for lr in (0.02, 0.2, 2.0):
        _, h = sbp.train(net, X, Y, epochs=100, lr=lr, batch_size=8, seed=0, params=start, progress=False)
        right.plot(h.loss, label=f"lr {lr}")
        print(f"batch 8, lr {lr:<4}: final loss {h.loss[-1]:.4f}")
    left.set_title("learning rate 0.2, three batch sizes")
    right.set_title("batch size 8, three learning rates")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
        ax.legend()
    left.set_ylabel("mean loss (binary cross-entropy)")
    path = out_dir / "batch_and_lr.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"saved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
