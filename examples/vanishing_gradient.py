"""The vanishing gradient: a deep sigmoid network and a ReLU network of the same shape, side by side.

Both 2-8-8-8-8-1 networks (sigmoid output, binary cross-entropy) train on the two moons
with the same seed, recording the gradient flow (``gradient_flow=True``). In the sigmoid
network each layer multiplies δ by σ'(z) ≤ ¼ on its way back, so the first layer's δ is
orders of magnitude smaller than the last one's and the first layers barely learn; in the
ReLU network (relu' = 1 where a unit is active) it is not.

Run:  python examples/vanishing_gradient.py [OUTPUT_DIR]
Saves vanishing_gradient.png (both networks' per-layer δ norms over the epochs, with
their bounds) in OUTPUT_DIR (default: the current directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import symbackprop as sbp

SIZES = [2, 8, 8, 8, 8, 1]


def main(out_dir: Path) -> None:
    X, Y = sbp.datasets.moons(n=200, noise=0.1, seed=0)
    flows = {}
    for hidden in ("sigmoid", "relu"):
        net = sbp.mlp(SIZES, activation=[hidden] * 4 + ["sigmoid"], loss="binary_cross_entropy")
        _, history = sbp.train(net, X, Y, epochs=60, lr=0.1, batch_size=20, seed=0,
                               progress=False, gradient_flow=True, accuracy=True)
        flow = sbp.gradient_flow(history)
        flows[hidden] = flow
        print(f"{hidden} hidden layers: final loss {history.loss[-1]:.4f}, "
              f"training accuracy {history.accuracy[-1]:.1%}")
        print(flow.text(every=20))
        print()
    for hidden, flow in flows.items():
        print(f"{hidden}: the first layer's δ is {flow.vanishing[-1]:.2e} times the output layer's "
              f"after {flow.epochs[-1]} epochs; bound held on every epoch: {flow.bound_holds}")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.5, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (hidden, flow) in zip(axes, flows.items()):
        sbp.plot_gradient_flow(flow, ax=ax, title=f"{hidden} hidden layers, 2-8-8-8-8-1")
    from symbackprop.render.drawing import save_figure

    path = save_figure(fig, out_dir / "vanishing_gradient.png")
    print(f"saved {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())  # never into the checkout
