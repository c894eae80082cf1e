"""Per-step cost of ``sbp.train`` on every backend against hand-written NumPy, plain JAX
``jit`` and PyTorch eager, in one run (issue 15's table).

Run: ``python benchmarks/train.py`` (not part of the tests; a few minutes, most of it
compiling); ``--rounds 3 --cases 2`` for a quick look; ``--threads default`` leaves the BLAS
thread count alone (the default sets one thread for every contender). Every contender runs
the same loop on the same data: shuffle each epoch, mini-batches, forward, loss, backward,
SGD update, and once per epoch the training-set accuracy (what ``sbp.train`` records; the
references do it too). Times are medians over interleaved rounds (each round runs every
contender once, in turn, so that machine noise hits all alike), divided by the steps, and
printed as ratios to the hand-written NumPy loop of the same round set.

Contenders (each optional when not installed): ``sbp.train`` with ``backend=`` numpy,
numba, auto and jax; hand-written NumPy (the reference); a hand-written JAX step under
``jax.jit`` driven by a Python loop; PyTorch eager (``pip install torch==2.13.0``; never a
dependency of symbackprop). The numba column's first call compiles (or loads from the disk
cache): reported apart, in the "numba set-up" line. The "auto" column trains the same
network object after that, so auto's rule 2 applies (see symbackprop/compiler/auto.py);
the moons row trains a fresh network, where rule 3 applies (6,400 steps, cache warm).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

if "--threads" not in sys.argv or sys.argv[sys.argv.index("--threads") + 1] != "default":
    # One BLAS thread for every contender: per-step cost, not parallel speed-up.
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings, which must come first)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import symbackprop as sbp  # noqa: E402
from symbackprop.compiler import numba_backend  # noqa: E402

SIZES = [  # sizes, hidden activation, batch, epochs of 16 steps
    ([2, 4, 1], "tanh", 4, 40),
    ([2, 16, 16, 1], "relu", 32, 30),
    ([4, 32, 32, 3], "relu", 64, 15),
    ([64, 128, 128, 10], "relu", 128, 4),
]
HEADS = {"MSE": ("identity", "mse"), "softmax+CE": ("softmax", "cross_entropy")}
STEPS_PER_EPOCH = 16
LR = 0.05


def make_data(sizes, batch, head, rng, n=None):
    n = n or STEPS_PER_EPOCH * batch
    X = rng.normal(size=(n, sizes[0]))
    k = sizes[-1]
    labels = (X[:, 0] * X[:, 1] > 0).astype(int) % k if k > 1 else None
    if head == "softmax+CE":
        Y = np.eye(k)[labels if labels is not None else np.zeros(n, int)]
    else:
        Y = X[:, :1] * X[:, 1:2] + 0.1 * rng.normal(size=(n, k))
    return X, Y


# ----------------------------------------------------------- hand-written NumPy reference
def numpy_train(arrays, hidden, head, X, Y, epochs, lr, batch, seed):
    """Textbook vectorised backprop: tanh/relu hidden layers, an identity output with the
    mean squared error, or softmax with cross-entropy from the logits (log-sum-exp)."""
    P = [a.copy() for a in arrays]
    L = len(P) // 2
    n, k = X.shape[0], Y.shape[1]
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    softmax = head == "softmax+CE"
    labels = Y.argmax(axis=1)

    def forward(X):
        A, As, Zs = X, [X], []
        for l in range(L):
            Z = A @ P[2 * l].T + P[2 * l + 1]
            Zs.append(Z)
            if l < L - 1:
                A = np.tanh(Z) if hidden == "tanh" else np.maximum(Z, 0.0)
            elif softmax:
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                A = E / E.sum(axis=1, keepdims=True)
            else:
                A = Z
            As.append(A)
        return As, Zs

    for _ in range(epochs):
        perm = rng.permutation(n)
        Xs, Ys = X[perm], Y[perm]
        total = 0.0
        for i in range(0, n, batch):
            xb, yb = Xs[i : i + batch], Ys[i : i + batch]
            m = xb.shape[0]
            As, Zs = forward(xb)
            Z = Zs[-1]
            if softmax:
                M = Z.max(axis=1, keepdims=True)
                lse = M + np.log(np.exp(Z - M).sum(axis=1, keepdims=True))
                loss = (yb * (lse - Z)).sum() / m
                D = As[-1] * yb.sum(axis=1, keepdims=True) - yb
            else:
                R = As[-1] - yb
                loss = (R * R).sum() / (m * k)
                D = R * (2.0 / k)
            if not math.isfinite(loss):
                raise FloatingPointError
            s = lr / m
            for l in range(L - 1, -1, -1):
                if l > 0:
                    Dn = D @ P[2 * l]
                    Dn *= (1 - As[l] ** 2) if hidden == "tanh" else (Zs[l - 1] > 0)
                P[2 * l] -= s * (D.T @ As[l])
                P[2 * l + 1] -= s * D.sum(axis=0)
                if l > 0:
                    D = Dn
            total += loss * m
        if softmax:
            (forward(X)[0][-1].argmax(axis=1) == labels).mean()
    return P


# -------------------------------------------------------------- plain JAX, jit per step
def jax_trainer(arrays, hidden, head, X, Y, epochs, lr, batch, seed):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    softmax = head == "softmax+CE"
    L = len(arrays) // 2
    k = Y.shape[1]

    def logits(P, x):
        a = x
        for l in range(L):
            a = a @ P[2 * l].T + P[2 * l + 1]
            if l < L - 1:
                a = jnp.tanh(a) if hidden == "tanh" else jax.nn.relu(a)
        return a

    def loss_fn(P, x, y):
        z = logits(P, x)
        if softmax:
            return -(y * jax.nn.log_softmax(z)).sum() / x.shape[0]
        return ((z - y) ** 2).sum() / (x.shape[0] * k)

    @jax.jit
    def step(P, x, y):
        loss, g = jax.value_and_grad(loss_fn)(P, x, y)
        return [p - lr * d for p, d in zip(P, g)], loss

    accuracy = jax.jit(lambda P, X, labels: (logits(P, X).argmax(axis=1) == labels).mean())
    Xd, labels = jnp.asarray(X), jnp.asarray(Y.argmax(axis=1))
    total = jax.jit(lambda losses: jnp.stack(losses).sum())

    def run():
        P = [jnp.asarray(a) for a in arrays]
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        n = X.shape[0]
        for _ in range(epochs):
            # Shuffled and cut on the host (slicing a device array is one dispatch per slice).
            perm = rng.permutation(n)
            Xs, Ys = X[perm], Y[perm]
            losses = []
            for i in range(0, n, batch):
                P, loss = step(P, Xs[i : i + batch], Ys[i : i + batch])
                losses.append(loss)
            if not math.isfinite(float(total(losses))):  # one sync per epoch
                raise FloatingPointError
            if softmax:
                float(accuracy(P, Xd, labels))
        return P

    return run


# ------------------------------------------------------------------------ PyTorch eager
def torch_trainer(arrays, hidden, head, X, Y, epochs, lr, batch, seed):
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads())
    softmax = head == "softmax+CE"
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    labels = Yt.argmax(dim=1)
    n, L, k = X.shape[0], len(arrays) // 2, Y.shape[1]

    def run():
        P = [torch.tensor(a, requires_grad=True) for a in arrays]
        g = torch.Generator().manual_seed(seed)

        def forward(x):
            a = x
            for l in range(L):
                a = a @ P[2 * l].T + P[2 * l + 1]
                if l < L - 1:
                    a = torch.tanh(a) if hidden == "tanh" else torch.relu(a)
            return a

        for _ in range(epochs):
            perm = torch.randperm(n, generator=g)
            Xs, Ys = Xt[perm], Yt[perm]
            for i in range(0, n, batch):
                xb, yb = Xs[i : i + batch], Ys[i : i + batch]
                z = forward(xb)
                if softmax:
                    loss = -(yb * torch.log_softmax(z, dim=1)).sum() / xb.shape[0]
                else:
                    loss = ((z - yb) ** 2).sum() / (xb.shape[0] * k)
                for p in P:
                    p.grad = None
                loss.backward()
                with torch.no_grad():
                    for p in P:
                        p -= lr * p.grad
            if softmax:
                with torch.no_grad():
                    (forward(Xt).argmax(dim=1) == labels).double().mean()
        return P

    return run


def have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


#: The clock of every measurement: wall time, or with ``--clock cpu`` this process's CPU time
#: (with one BLAS thread, what other processes on a shared machine do not inflate).
CLOCK = time.perf_counter


def median_times(runs: dict, rounds: int) -> dict:
    """Median seconds of each run, over ``rounds`` interleaved rounds."""
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, fn in runs.items():
            t0 = CLOCK()
            fn()
            times[name].append(CLOCK() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def case(sizes, hidden, head, batch, epochs, rounds, contenders, notes):
    out_act, loss = HEADS[head]
    if head == "softmax+CE" and sizes[-1] == 1:
        sizes = [*sizes[:-1], 2]  # softmax needs two outputs
    rng = np.random.default_rng(0)
    X, Y = make_data(sizes, batch, head, rng)
    net = sbp.mlp(sizes, [hidden] * (len(sizes) - 2) + [out_act], loss)
    params = net.init_params(seed=0)
    arrays = [a for pair in sbp.to_arrays(net, params) for a in pair]
    steps = epochs * STEPS_PER_EPOCH
    kw = dict(epochs=epochs, lr=LR, batch_size=batch, params=params, seed=0, progress=False,
              accuracy=head == "softmax+CE")
    runs = {"hand NumPy": lambda: numpy_train(arrays, hidden, head, X, Y, epochs, LR, batch, 0)}
    for backend in contenders["sbp"]:
        t0 = time.perf_counter()
        p, hist = sbp.train(net, X, Y, **{**kw, "epochs": 1}, backend=backend)  # compile, warm up
        if backend == "numba":
            b = net.compile("numba").backend
            how = "loaded from cache" if b.from_cache else "compiled"
            notes.append(f"{sizes!s:<20} {head:<11} numba set-up: {time.perf_counter() - t0:6.2f} s "
                         f"(first epoch {how} in {b.compile_seconds:.2f} s)")
        if backend == "auto":
            notes.append(f"{sizes!s:<20} {head:<11} auto picked: {hist.backend}")
        runs[f"sbp {backend}"] = (lambda b=backend: sbp.train(net, X, Y, **kw, backend=b))
    if contenders["jax jit"]:
        runs["JAX jit"] = jax_trainer(arrays, hidden, head, X, Y, epochs, LR, batch, 0)
        runs["JAX jit"]()  # compile
    if contenders["torch"]:
        runs["PyTorch eager"] = torch_trainer(arrays, hidden, head, X, Y, epochs, LR, batch, 0)
    # Equal work: every sbp backend ends where the hand-written loop ends.
    ref = np.concatenate([a.ravel() for a in numpy_train(arrays, hidden, head, X, Y, epochs, LR, batch, 0)])
    for backend in contenders["sbp"]:
        got = np.array(list(sbp.train(net, X, Y, **kw, backend=backend)[0].values()))
        assert np.allclose(got, ref, rtol=1e-9, atol=1e-12), f"sbp {backend} differs from the reference"
    t = median_times(runs, rounds)
    return {name: t[name] / steps for name in t}


def moons(rounds, contenders, notes):
    """The whole moons run: 1,000 points, 2-16-16-1, batch 32, 200 epochs, a fresh network."""
    data = sbp.datasets.moons(1000, 0.1, 0)
    X, Y = data.X, data.Y
    kw = dict(epochs=200, lr=0.1, batch_size=32, seed=0, progress=False)

    def make():
        return sbp.mlp([2, 16, 16, 1], ["tanh", "tanh", "sigmoid"], "binary_cross_entropy")

    net0 = make()
    arrays = [a for pair in sbp.to_arrays(net0, net0.init_params(0)) for a in pair]

    def hand():  # the hand-written loop with a sigmoid+BCE head (from the logits)
        P = [a.copy() for a in arrays]
        n = X.shape[0]
        rng = np.random.default_rng(np.random.SeedSequence(0).spawn(1)[0])

        def forward(x):
            A, As = x, [x]
            for l in range(3):
                Z = A @ P[2 * l].T + P[2 * l + 1]
                A = np.tanh(Z) if l < 2 else Z
                As.append(A)
            return As

        for _ in range(200):
            perm = rng.permutation(n)
            Xs, Ys = X[perm], Y[perm]
            for i in range(0, n, 32):
                xb, yb = Xs[i : i + 32], Ys[i : i + 32]
                m = xb.shape[0]
                As = forward(xb)
                Z = As[-1]
                loss = (np.logaddexp(0, Z) - yb * Z).sum() / m
                if not math.isfinite(loss):
                    raise FloatingPointError
                e = np.exp(-np.abs(Z))
                D = np.where(Z >= 0, 1 / (1 + e), e / (1 + e)) - yb
                s = 0.1 / m
                for l in range(2, -1, -1):
                    if l > 0:
                        Dn = (D @ P[2 * l]) * (1 - As[l] ** 2)
                    P[2 * l] -= s * (D.T @ As[l])
                    P[2 * l + 1] -= s * D.sum(axis=0)
                    if l > 0:
                        D = Dn
            ((forward(X)[-1] > 0) == (Y > 0.5)).mean()
        return P

    runs = {"hand NumPy": hand}
    for backend in contenders["sbp"]:
        if backend == "numba":  # compile once (into the disk cache) on a network of its own
            sbp.train(make(), X, Y, **{**kw, "epochs": 1}, backend="numba")

        def run(b=backend):
            _, hist = sbp.train(make(), X, Y, **kw, backend=b)
            return hist

        runs[f"sbp {backend}"] = run
    if "auto" in contenders["sbp"]:
        notes.append(f"{'moons 2-16-16-1':<20} {'BCE':<11} auto picked: {runs['sbp auto']().backend} "
                     "(a fresh network, 6,400 steps)")
    return median_times(runs, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=len(SIZES), help=f"the first N sizes (1-{len(SIZES)})")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median; default 5)")
    parser.add_argument("--heads", default="MSE,softmax+CE", help="MSE, softmax+CE or both (default)")
    parser.add_argument("--no-moons", action="store_true", help="skip the whole moons run")
    parser.add_argument("--threads", choices=("1", "default"), default="1",
                        help="BLAS threads: 1 (default) or the libraries' default")
    parser.add_argument("--skip", default="", help="contenders to skip, e.g. jax,torch")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (default) or this process's CPU time (steadier on a shared "
                             "machine with one BLAS thread; not meaningful with several threads)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    skip = set(filter(None, args.skip.split(",")))
    sbp_backends = ["numpy"]
    if numba_backend.available() and "numba" not in skip:
        sbp_backends += ["numba", "auto"]
    if have("jax") and "jax" not in skip:
        sbp_backends.append("jax")
    contenders = {"sbp": sbp_backends, "jax jit": have("jax") and "jax" not in skip,
                  "torch": have("torch") and "torch" not in skip}
    versions = [f"numpy {np.__version__}"]
    for m in ("numba", "jax", "torch"):
        if have(m):
            versions.append(f"{m} {sys.modules[m].__version__}")
    threads = {v: os.environ.get(v, "unset") for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    print(f"# {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, {', '.join(versions)}")
    print(f"# threads: {', '.join(f'{k}={v}' for k, v in threads.items())}; load average "
          f"{os.getloadavg()[0]:.1f} at start (shared machine: medians of {args.rounds} interleaved rounds, "
          f"{'CPU' if args.clock == 'cpu' else 'wall'} time)")
    print("# per training step, × the hand-written NumPy loop (lower is faster); hand NumPy in µs")
    notes: list[str] = []
    results = {}
    for head in args.heads.split(","):
        for sizes, hidden, batch, epochs in SIZES[: args.cases]:
            results[(head, str(sizes))] = case(sizes, hidden, head, batch, epochs, args.rounds, contenders, notes)
    names = ["sbp numpy", "sbp numba", "sbp auto", "sbp jax", "JAX jit", "PyTorch eager"]
    cols = [f"{'-'.join(map(str, s))}/b{b}" for s, _, b, _ in SIZES[: args.cases]]
    print(f"{'':<28}" + "".join(f"{c:>20}" for c in cols))
    for head in args.heads.split(","):
        row = [results[(head, str(s))] for s, *_ in SIZES[: args.cases]]
        print(f"{'hand NumPy µs/step, ' + head:<28}" + "".join(f"{r['hand NumPy'] * 1e6:>20.1f}" for r in row))
        for name in names:
            if name in row[0]:
                print(f"{name + ', ' + head:<28}" + "".join(f"{r[name] / r['hand NumPy']:>19.2f}×" for r in row))
    if not args.no_moons:
        t = moons(args.rounds, contenders, notes)
        print(f"whole moons run (1,000 points, 2-16-16-1, batch 32, 200 epochs): hand NumPy "
              f"{t['hand NumPy']:.3f} s; " + ", ".join(
                  f"{k} {v / t['hand NumPy']:.2f}×" for k, v in t.items() if k != "hand NumPy"))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
