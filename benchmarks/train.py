"""Per-step cost of symbackprop training vs hand-written NumPy backprop vs PyTorch eager.

Run: ``python benchmarks/train.py`` (not part of the tests); ``--cases 2 --repeats 3``
runs only the first two networks with three interleaved repeats (a quick look). Every contender runs the
same loop on the same data: shuffle each epoch, mini-batches, forward, loss, backward,
SGD update, and once per epoch the training-set accuracy (what ``sbp.train`` records).
Per-step time is the best of several repeats of a whole run divided by its steps.
Set-up is ``mlp(...)`` + ``compile()`` of a fresh network (derive + compile).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

# One BLAS thread for every contender (PyTorch too): per-step cost, not parallel speed-up.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings, which must come first)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import symbackprop as sbp  # noqa: E402

CASES = [  # sizes, activations, loss, batch size
    ([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy", 4),
    ([2, 16, 16, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", 32),
    ([4, 32, 32, 3], ["relu", "relu", "softmax"], "cross_entropy", 64),
    ([64, 128, 128, 10], ["relu", "relu", "softmax"], "cross_entropy", 128),
]
STEPS_PER_EPOCH = 16
REPEATS = 5
LR = 0.05


def make_data(sizes, batch, rng):
    n = STEPS_PER_EPOCH * batch
    X = rng.normal(size=(n, sizes[0]))
    if sizes[-1] == 1:
        Y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    else:
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=n)]
    return X, Y


# ----------------------------------------------------------- hand-written NumPy reference
def numpy_train(arrays, acts, X, Y, epochs, lr, batch, seed):
    """Textbook vectorised backprop, written by hand for tanh/relu hidden layers and a
    sigmoid+BCE (from the logits) or softmax+CE (log-sum-exp) output."""
    P = [a.copy() for a in arrays]
    L = len(acts)
    n = X.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    softmax_out = acts[-1] == "softmax"

    def forward(X):
        A, As, Zs = X, [X], []
        for l in range(L):
            Z = A @ P[2 * l].T + P[2 * l + 1]
            Zs.append(Z)
            if l < L - 1:
                A = np.tanh(Z) if acts[l] == "tanh" else np.maximum(Z, 0.0)
            elif softmax_out:
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                A = E / E.sum(axis=1, keepdims=True)
            else:
                e = np.exp(-np.abs(Z))
                A = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
            As.append(A)
        return As, Zs

    losses, accs = [], []
    for _ in range(epochs):
        perm = rng.permutation(n)
        Xs, Ys = X[perm], Y[perm]
        total = 0.0
        for i in range(0, n, batch):
            xb, yb = Xs[i : i + batch], Ys[i : i + batch]
            m = xb.shape[0]
            As, Zs = forward(xb)
            Z = Zs[-1]
            if softmax_out:
                M = Z.max(axis=1, keepdims=True)
                lse = M + np.log(np.exp(Z - M).sum(axis=1, keepdims=True))
                loss = (yb * (lse - Z)).sum() / m
                D = As[-1] * yb.sum(axis=1, keepdims=True) - yb
            else:
                loss = (np.logaddexp(0, Z) - yb * Z).sum() / m
                D = As[-1] - yb
            if not math.isfinite(loss):
                raise FloatingPointError
            s = lr / m
            for l in range(L - 1, -1, -1):
                if l > 0:
                    Dn = D @ P[2 * l]
                    Dn *= (1 - As[l] ** 2) if acts[l - 1] == "tanh" else (Zs[l - 1] > 0)
                P[2 * l] -= s * (D.T @ As[l])
                P[2 * l + 1] -= s * D.sum(axis=0)
                if l > 0:
                    D = Dn
            total += loss * m
        losses.append(total / n)
        A = forward(X)[0][-1]
        accs.append(
            np.mean(A.argmax(1) == Y.argmax(1)) if softmax_out else np.mean((A > 0.5) == (Y > 0.5))
        )
    return P, losses


# ------------------------------------------------------------------------ PyTorch eager
def torch_train(arrays, acts, X, Y, epochs, lr, batch, seed):
    import torch

    torch.set_num_threads(1)
    P = [torch.tensor(a, requires_grad=True) for a in arrays]
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    n, L = X.shape[0], len(acts)
    g = torch.Generator().manual_seed(seed)

    def forward(x):
        a = x
        for l in range(L):
            a = a @ P[2 * l].T + P[2 * l + 1]
            if l < L - 1:
                a = torch.tanh(a) if acts[l] == "tanh" else torch.relu(a)
        return a  # logits

    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        Xs, Ys = Xt[perm], Yt[perm]
        for i in range(0, n, batch):
            xb, yb = Xs[i : i + batch], Ys[i : i + batch]
            z = forward(xb)
            if acts[-1] == "softmax":
                loss = -(yb * torch.log_softmax(z, dim=1)).sum() / xb.shape[0]
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(z, yb, reduction="sum") / xb.shape[0]
            for p in P:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in P:
                    p -= lr * p.grad
        with torch.no_grad():
            forward(Xt)


def best_of(fn, repeats):
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_case(sizes, acts, loss, batch, rng, have_torch, repeats=REPEATS):
    """Set-up time and per-step seconds (sbp, NumPy, torch or None) of one case."""
    t0 = time.perf_counter()
    net = sbp.mlp(sizes, acts, loss)
    net.compile()
    setup = time.perf_counter() - t0
    X, Y = make_data(sizes, batch, rng)
    params = net.init_params(seed=0)
    arrays = [a for pair in sbp.to_arrays(net, params) for a in pair]
    epochs = {4: 100, 32: 60, 64: 30, 128: 10}[batch]
    steps = epochs * STEPS_PER_EPOCH
    sbp.train(net, X, Y, epochs=1, lr=LR, batch_size=batch, progress=False)  # compile, warm up
    def run_sbp():
        return sbp.train(net, X, Y, epochs=epochs, lr=LR, batch_size=batch, params=params,
                         seed=0, progress=False)

    def run_np():
        return numpy_train(arrays, acts, X, Y, epochs, LR, batch, 0)

    # Same results: the benchmark compares equal work.
    p_sbp, _ = run_sbp()
    p_np, _ = run_np()
    flat = np.concatenate([a.ravel() for a in p_np])
    assert np.allclose(list(p_sbp.values()), flat, rtol=1e-9, atol=1e-12), "results differ"
    t_np, t_sbp = math.inf, math.inf
    for _ in range(repeats):  # interleaved, so that machine noise hits both alike
        t_np = min(t_np, best_of(run_np, 1))
        t_sbp = min(t_sbp, best_of(run_sbp, 1))
    t_torch = None
    if have_torch:
        t_torch = best_of(lambda: torch_train(arrays, acts, X, Y, epochs, LR, batch, 0), repeats)
    return (sizes, batch, setup, t_sbp / steps, t_np / steps, t_torch and t_torch / steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=len(CASES),
                        help=f"run the first N networks (1-{len(CASES)}; default all)")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"interleaved repeats, the best counts (default {REPEATS})")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    args = parser.parse_args()
    if not 1 <= args.cases <= len(CASES) or args.repeats < 1:
        parser.error(f"--cases must be in 1..{len(CASES)} and --repeats at least 1")
    try:
        import torch  # noqa: F401

        have_torch = not args.no_torch
    except ImportError:
        have_torch = False
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    sbp.mlp([1, 1]).compile()  # one-off imports (SymPy printers), not per-network set-up
    print(f"first compile in this process (imports): {time.perf_counter() - t0:.2f} s")
    rows = []
    for sizes, acts, loss, batch in CASES[: args.cases]:
        rows.append(run_case(sizes, acts, loss, batch, rng, have_torch, args.repeats))

    print(f"{'network':<18} {'batch':>5} {'setup s':>8} {'sbp µs':>9} {'numpy µs':>9} "
          f"{'ratio':>6} {'torch µs':>9}")
    for sizes, batch, setup, s, n, t in rows:
        torch_col = f"{t * 1e6:9.1f}" if t else f"{'skipped':>9}"
        print(f"{sizes!s:<18} {batch:>5} {setup:8.3f} {s * 1e6:9.1f} {n * 1e6:9.1f} "
              f"{s / n:6.2f} {torch_col}")


if __name__ == "__main__":
    main()
