"""Cost of a Hessian-vector product against a gradient, at the four benchmark sizes.

Run: ``python benchmarks/second_order.py`` (not part of the tests; about a minute);
``--rounds 5`` for a quicker look. For each network of benchmarks/train.py, on one
batch, it times the compiled gradient (``model.loss_and_grad``) and the compiled
Hessian-vector product (``model.second_order.hvp``, the generated R-operator code), both
on the array level (no conversion), in interleaved rounds (gradient calls, then HVP
calls, then again), and prints the medians and their ratio. Each figure is measured twice,
in a child process with one BLAS thread and in one with BLAS's default, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = [  # sizes, activations, loss, batch size (benchmarks/train.py's)
    ([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy", 4),
    ([2, 16, 16, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", 32),
    ([4, 32, 32, 3], ["relu", "relu", "softmax"], "cross_entropy", 64),
    ([64, 128, 128, 10], ["relu", "relu", "softmax"], "cross_entropy", 128),
]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def measure(rounds: int) -> list[dict]:
    """Median seconds per gradient and per HVP for every case (run in a child process)."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symbackprop as sbp
    from symbackprop.compiler.second_order import direction

    out = []
    rng = np.random.default_rng(0)
    for sizes, acts, loss, batch in CASES:
        net = sbp.mlp(sizes, acts, loss)
        model = net.compile()
        P = model.arrays(net.init_params(seed=0))
        X = rng.normal(size=(batch, sizes[0]))
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=batch)] if sizes[-1] > 1 else \
            (X[:, :1] * X[:, 1:2] > 0).astype(float)
        V, _ = direction(net, rng.normal(size=len(net.params)))
        grad, hvp = model.loss_and_grad, model.second_order.hvp
        hvp(P, V, X, Y)  # build and warm up
        # calls per timing: about 20 ms of gradients
        t0 = time.perf_counter()
        grad(P, X, Y)
        k = max(5, int(0.02 / max(time.perf_counter() - t0, 1e-6)))
        g_times, h_times = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(k):
                grad(P, X, Y)
            g_times.append((time.perf_counter() - t0) / k)
            t0 = time.perf_counter()
            for _ in range(k):
                hvp(P, V, X, Y)
            h_times.append((time.perf_counter() - t0) / k)
        g, h = statistics.median(g_times), statistics.median(h_times)
        out.append({"net": "-".join(map(str, sizes)), "batch": batch, "params": len(net.params),
                    "grad_us": g * 1e6, "hvp_us": h * 1e6, "ratio": h / g})
    return out


def child(threads: str | None, rounds: int) -> list[dict]:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env.pop(var, None)
        if threads is not None:
            env[var] = threads
    cmd = [sys.executable, __file__, "--child", "--rounds", str(rounds)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15, help="interleaved rounds (median over them)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.rounds)))
        return
    one, default = child("1", args.rounds), child(None, args.rounds)
    print("| network / batch | params | gradient, 1 thread (µs) | HVP, 1 thread (µs) | HVP / gradient, "
          "1 thread | gradient, default BLAS (µs) | HVP, default BLAS (µs) | HVP / gradient, default BLAS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for a, b in zip(one, default):
        print(f"| {a['net']} / b{a['batch']} | {a['params']:,} | {a['grad_us']:.0f} | {a['hvp_us']:.0f} "
              f"| {a['ratio']:.2f} | {b['grad_us']:.0f} | {b['hvp_us']:.0f} | {b['ratio']:.2f} |")


if __name__ == "__main__":
    main()
