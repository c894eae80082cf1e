"""Benchmark: derive every compact gradient, against naive ``sympy.diff`` of the expanded loss.

Run:  python benchmarks/derive.py            (naive cases capped at 60 s each)
      python benchmarks/derive.py --quick    (widths up to 16, naive capped at 5 s)

For MLPs [2, w, ..., w, 1] of widths w and depths d (hidden layers), prints

- compact: seconds to build the network, its graph and every parameter's compact
  gradient (``net.gradients()``), and milliseconds per parameter;
- naive: seconds for ``sympy.diff(J_expanded, p)`` over every parameter p, where
  J_expanded is the loss composed in x, y, w, b (capped; "timeout" past the cap);
- ratio naive / compact;
- ops: tree size of the expanded gradient of w^(1)_11 (what printing it would cost).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import sympy as sp

import symbackprop as sbp
from symbackprop.derive import tree_size


def expanded_loss(net: sbp.Network) -> sp.Expr:
    prev = list(net.inputs)
    for layer, act in enumerate(net.activations, start=1):
        zs = [
            sp.Add(*[net.w(layer, j, k) * a for k, a in enumerate(prev, start=1)], net.b(layer, j))
            for j in range(1, net.sizes[layer] + 1)
        ]
        prev = [act(z) for z in zs]
    return net.loss(net.outputs, net.targets).xreplace(dict(zip(net.outputs, prev)))


def _naive(sizes: list[int], queue: mp.Queue) -> None:
    start = time.perf_counter()
    net = sbp.mlp(sizes, activation="sigmoid", loss="quadratic")
    J = expanded_loss(net)
    for p in net.params:
        sp.diff(J, p)
    queue.put(time.perf_counter() - start)


def naive_seconds(sizes: list[int], timeout: float) -> float | None:
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=_naive, args=(sizes, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None
    return queue.get()


def compact_seconds(sizes: list[int]) -> tuple[float, int]:
    start = time.perf_counter()
    net = sbp.mlp(sizes, activation="sigmoid", loss="quadratic")
    grads = net.gradients()
    return time.perf_counter() - start, len(grads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small widths, 5 s naive cap")
    parser.add_argument("--timeout", type=float, default=None, help="naive cap in seconds (default 60)")
    args = parser.parse_args()
    compact_seconds([2, 2, 1])  # warm up: imports and SymPy's caches of small numbers
    widths = (2, 4, 8, 16) if args.quick else (2, 4, 8, 16, 32, 64)
    timeout = args.timeout or (5.0 if args.quick else 60.0)
    print(f"{'network':>24} {'params':>7} {'compact s':>10} {'ms/param':>9} "
          f"{'naive s':>9} {'naive/compact':>14} {'ops of dJ/dw1_1_1':>18}")
    for depth in (1, 2, 3, 4):
        for width in widths:
            sizes = [2] + [width] * depth + [1]
            t_compact, n = compact_seconds(sizes)
            t_naive = naive_seconds(sizes, timeout)
            net = sbp.mlp(sizes, activation="sigmoid", loss="quadratic")
            ops = tree_size(net.grad("w1_1_1", expand=True, max_size=None))
            naive = f"{t_naive:9.2f}" if t_naive is not None else f"{'timeout':>9}"
            ratio = f"{t_naive / t_compact:14.1f}" if t_naive is not None else f"{'> ' + format(timeout / t_compact, '.0f'):>14}"
            print(f"{str(sizes):>24} {n:7d} {t_compact:10.3f} {1000 * t_compact / n:9.3f} "
                  f"{naive} {ratio} {ops:18,d}", flush=True)


if __name__ == "__main__":
    main()
