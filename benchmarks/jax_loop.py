"""Per-step cost of ``sbp.train(backend="jax")`` vs a hand-written JAX loop vs hand-written NumPy.

Run: ``python benchmarks/jax_loop.py`` (not part of the tests; about a minute);
``--cases 2 --rounds 3`` for a quick look. Every contender trains the same network on
the same data with the same learning rate: each epoch a permutation from a seeded NumPy
generator, ``STEPS_PER_EPOCH`` mini-batches, forward, loss, backward, SGD update; no
accuracy pass (``accuracy=False``; ``--accuracy`` adds it to every contender).

- ``sbp jax``: ``sbp.train(net, ..., backend="jax")`` (the jitted epoch of
  :mod:`symbackprop.compiler.jax_loop`);
- ``jax scan``: what one would write by hand in JAX: the loss from the logits
  (``log_softmax`` / ``softplus``), ``jax.value_and_grad``, one ``jax.jit``-ted
  ``lax.scan`` per epoch over the permuted device-resident data, one sync per epoch;
- ``numpy``: textbook vectorised backprop by hand, one Python iteration per batch.

The hand-written JAX loop is the lighter one in its numerics: autodiff of ``softplus(z) -
y·z`` gives σ(z) − y and tanh′ = (1 − t)(1 + t), which lose their relative accuracy once σ or
tanh saturates; symbackprop's step uses the stable forms (``sigmoid_parts``, ``sech2``;
tests/test_extremes.py) and takes η as an argument, where the hand version bakes it in.
The data layout is the same: both on the device, permuted each epoch with the same
permutation, cut into a (steps, batch, features) array that ``lax.scan`` walks.

``--flops`` also prints XLA's cost estimate of both epoch programs: XLA's CPU client runs a
program estimated under 1,000 flops inline on the calling thread and dispatches any other to
a worker thread, which at 2-4-1 / batch 4 costs more than the step's arithmetic.
``--sync-dispatch`` runs every program inline (``jax_cpu_enable_async_dispatch=False``, for
all contenders) to compare the steps' own cost.

``--devices K`` instead compares ``backend="jax"`` with ``backend="jax-sharded"`` on K
devices (on CPU, K forced host devices: ``XLA_FLAGS=--xla_force_host_platform_device_count=K``,
which share the machine's cores).

Each round runs every contender once, in turn (interleaved, so that machine noise hits
all alike); the table shows the median over the rounds of each run's time per step, and
the ratios to the hand-written JAX loop and to NumPy. Thread settings: one BLAS thread
and single-threaded XLA on CPU unless the environment already says otherwise (printed in
the header; ``--threads`` leaves both to their defaults).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

if "--threads" not in sys.argv:  # must be set before NumPy and JAX are imported
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
if "--devices" in sys.argv:  # forced CPU devices: also before JAX is imported
    _k = sys.argv[sys.argv.index("--devices") + 1]
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={_k}").strip()

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import symbackprop as sbp  # noqa: E402

CASES = [  # sizes, activations, loss, batch size, epochs per run
    ([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy", 4, 200),
    ([2, 16, 16, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", 32, 100),
    ([4, 32, 32, 3], ["relu", "relu", "softmax"], "cross_entropy", 64, 50),
    # 40 epochs: sbp.train's fixed cost per call (~30 ms here: the {Symbol: float} mapping
    # of 26k parameters to arrays and back, the same for every backend) spread thin.
    ([64, 128, 128, 10], ["relu", "relu", "softmax"], "cross_entropy", 128, 40),
]
STEPS_PER_EPOCH = 16
LR = 0.05


def make_data(sizes, batch, rng):
    n = STEPS_PER_EPOCH * batch
    X = rng.normal(size=(n, sizes[0]))
    if sizes[-1] == 1:
        Y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    else:
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=n)]
    return X, Y


def shuffler(seed):
    """The training loop's own stream of permutations (symbackprop.training)."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


# ------------------------------------------------------------------ hand-written JAX
def jax_trainer(acts, n, batch):
    """A JAX user's loop: value_and_grad of the loss from the logits, one jitted scan per
    epoch (compiled once per network, like the symbackprop model)."""
    import jax
    import jax.numpy as jnp

    L = len(acts)
    softmax = acts[-1] == "softmax"

    def logits(P, x):
        a = x
        for l in range(L):
            a = a @ P[2 * l].T + P[2 * l + 1]
            if l < L - 1:
                a = jnp.tanh(a) if acts[l] == "tanh" else jax.nn.relu(a)
        return a

    def loss_fn(P, x, y):
        z = logits(P, x)
        if softmax:
            return -(y * jax.nn.log_softmax(z)).sum() / x.shape[0]
        return (jax.nn.softplus(z) - y * z).sum() / x.shape[0]

    grad = jax.value_and_grad(loss_fn)

    @jax.jit
    def epoch(P, X, Y, order):
        xs = X[order].reshape(n // batch, batch, -1)
        ys = Y[order].reshape(n // batch, batch, -1)

        def body(P, xy):
            loss, g = grad(P, *xy)
            return [p - LR * d for p, d in zip(P, g)], loss

        return jax.lax.scan(body, P, (xs, ys))

    @jax.jit
    def accuracy(P, X, Y):
        z = logits(P, X)
        if softmax:
            return (z.argmax(1) == Y.argmax(1)).mean()
        return ((z > 0) == (Y > 0.5)).mean()

    def train(arrays, X, Y, epochs, seed, with_accuracy):
        P = [jax.device_put(a) for a in arrays]
        Xd, Yd = jax.device_put(X), jax.device_put(Y)
        rng = shuffler(seed)
        for _ in range(epochs):
            P, losses = epoch(P, Xd, Yd, rng.permutation(n))  # NumPy in: jit moves it, cheaply
            float(np.asarray(losses).mean())
            if with_accuracy:
                float(accuracy(P, Xd, Yd))
        return [np.asarray(p) for p in P]

    train.epoch = epoch  # for --flops
    return train


# ---------------------------------------------------------------- hand-written NumPy
def numpy_train(arrays, acts, X, Y, epochs, batch, seed, with_accuracy):
    """Textbook vectorised backprop for tanh/relu hidden layers, sigmoid+BCE or softmax+CE."""
    P = [a.copy() for a in arrays]
    L, n = len(acts), X.shape[0]
    softmax = acts[-1] == "softmax"
    rng = shuffler(seed)

    def forward(x):
        A, As, Zs = x, [x], []
        for l in range(L):
            Z = A @ P[2 * l].T + P[2 * l + 1]
            Zs.append(Z)
            if l < L - 1:
                A = np.tanh(Z) if acts[l] == "tanh" else np.maximum(Z, 0.0)
            elif softmax:
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                A = E / E.sum(axis=1, keepdims=True)
            else:
                e = np.exp(-np.abs(Z))
                A = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
            As.append(A)
        return As, Zs

    for _ in range(epochs):
        perm = rng.permutation(n)
        Xs, Ys = X[perm], Y[perm]
        for i in range(0, n, batch):
            xb, yb = Xs[i : i + batch], Ys[i : i + batch]
            As, Zs = forward(xb)
            Z = Zs[-1]
            if softmax:
                M = Z.max(axis=1, keepdims=True)
                loss = (yb * (M + np.log(np.exp(Z - M).sum(axis=1, keepdims=True)) - Z)).sum() / len(xb)
            else:
                loss = (np.logaddexp(0, Z) - yb * Z).sum() / len(xb)
            if not np.isfinite(loss):
                raise FloatingPointError
            D, s = As[-1] - yb, LR / len(xb)
            for l in range(L - 1, -1, -1):
                if l > 0:
                    Dn = D @ P[2 * l]
                    Dn *= (1 - As[l] ** 2) if acts[l - 1] == "tanh" else (Zs[l - 1] > 0)
                P[2 * l] -= s * (D.T @ As[l])
                P[2 * l + 1] -= s * D.sum(axis=0)
                if l > 0:
                    D = Dn
        if with_accuracy:
            A = forward(X)[0][-1]
            float((A.argmax(1) == Y.argmax(1)).mean() if softmax else ((A > 0.5) == (Y > 0.5)).mean())
    return P


CLOCK = time.perf_counter  # --cpu: time.process_time (all of the process's threads)
FLOPS = False  # --flops: also print XLA's cost estimate of each epoch program


def timed(fn):
    t0 = CLOCK()
    out = fn()
    return CLOCK() - t0, out


def run_case(sizes, acts, loss, batch, epochs, rounds, with_accuracy, rng):
    net = sbp.mlp(sizes, acts, loss)
    X, Y = make_data(sizes, batch, rng)
    params = net.init_params(seed=0)
    arrays = [a for pair in sbp.to_arrays(net, params) for a in pair]
    steps = epochs * STEPS_PER_EPOCH
    jax_train = jax_trainer(acts, X.shape[0], batch)
    contenders = {
        "sbp jax": lambda: sbp.train(net, X, Y, epochs=epochs, lr=LR, batch_size=batch, params=params,
                                     seed=0, progress=False, backend="jax", accuracy=with_accuracy)[0],
        "jax scan": lambda: jax_train(arrays, X, Y, epochs, 0, with_accuracy),
        "numpy": lambda: numpy_train(arrays, acts, X, Y, epochs, batch, 0, with_accuracy),
    }
    results = {name: fn() for name, fn in contenders.items()}  # compile, warm up, and check:
    flat = {name: np.concatenate([np.ravel(a) for a in r]) if isinstance(r, list) else np.array(list(r.values()))
            for name, r in results.items()}
    for name in ("jax scan", "numpy"):  # the same work: the same parameters at the end
        assert np.allclose(flat["sbp jax"], flat[name], rtol=1e-9, atol=1e-12), f"sbp jax and {name} differ"
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            times[name].append(timed(fn)[0] / steps)
    medians = {name: statistics.median(t) for name, t in times.items()}
    if FLOPS:
        medians["flops"] = epoch_flops(net, arrays, X, Y, batch, jax_train.epoch)
    return medians


def epoch_flops(net, arrays, X, Y, batch, hand_epoch):
    """XLA's cost estimate (flops) of one epoch program: symbackprop's and the hand-written one.

    XLA's CPU client runs a program with an estimate under 1,000 flops inline on the
    calling thread, and dispatches any other to a worker thread (a thread hand-off and a
    wait per call): at 2-4-1 / batch 4 that decides the ratio more than the arithmetic.
    """
    model = net.compile(backend="jax")
    program = model.backend.epoch_program(model)
    order, P = np.arange(X.shape[0]), model.backend.place(arrays)
    hyper = np.array([LR, 0.0])

    def flops(compiled):
        cost = compiled.cost_analysis()
        return (cost[0] if isinstance(cost, list) else cost)["flops"]

    ours = program.epoch.lower(P, [], X, Y, order, hyper, batch_size=batch, with_momentum=False).compile()
    return flops(ours), flops(hand_epoch.lower(P, X, Y, order).compile())


def run_sharded(sizes, acts, loss, batch, epochs, rounds, with_accuracy, rng, k):
    """Per-step seconds of backend="jax" and of backend="jax-sharded" on k devices."""
    from symbackprop.compiler import JaxShardedBackend

    net = sbp.mlp(sizes, acts, loss)
    X, Y = make_data(sizes, batch, rng)
    params = net.init_params(seed=0)
    sharded = JaxShardedBackend(devices=k)
    sharded_model = net.compile(sharded)  # compiled once here, reused by every run
    net.__dict__["_compiled"][f"jax-sharded-{k}"] = sharded_model

    def run(backend):
        return sbp.train(net, X, Y, epochs=epochs, lr=LR, batch_size=batch, params=params, seed=0,
                         progress=False, backend=backend, accuracy=with_accuracy)[0]

    contenders = {"jax": lambda: run("jax"), "sharded": lambda: run(f"jax-sharded-{k}")}
    one, many = (fn() for fn in contenders.values())
    assert np.allclose(list(one.values()), list(many.values()), rtol=1e-9, atol=1e-12)
    steps = epochs * STEPS_PER_EPOCH
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            times[name].append(timed(fn)[0] / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=len(CASES), help="run the first N networks")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median; default 7)")
    parser.add_argument("--accuracy", action="store_true", help="every contender also computes "
                        "the training-set accuracy once per epoch (sbp.train's default)")
    parser.add_argument("--cpu", action="store_true", help="measure the process's CPU time instead "
                        "of wall time (steadier on a loaded machine; counts JAX's threads too)")
    parser.add_argument("--threads", action="store_true", help="leave BLAS and XLA threads at their defaults")
    parser.add_argument("--devices", type=int, default=0, help="compare jax with jax-sharded on "
                        "this many devices (forced host devices on CPU)")
    parser.add_argument("--flops", action="store_true", help="also print XLA's cost estimate (flops) of "
                        "symbackprop's and the hand-written epoch program (< 1000: run inline on CPU)")
    parser.add_argument("--sync-dispatch", action="store_true", help="run every JAX program inline on "
                        "the calling thread (jax_cpu_enable_async_dispatch=False), for everyone: the "
                        "step's own cost, without XLA's choice of inline or worker-thread dispatch")
    args = parser.parse_args()
    if not 1 <= args.cases <= len(CASES) or args.rounds < 1:
        parser.error(f"--cases must be in 1..{len(CASES)} and --rounds at least 1")
    global CLOCK, FLOPS
    if args.cpu:
        CLOCK = time.process_time
    FLOPS = args.flops
    import jax

    if args.sync_dispatch:  # before the CPU client exists: it is made on first use
        jax.config.update("jax_cpu_enable_async_dispatch", False)

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, NumPy {np.__version__}, JAX {jax.__version__} on {jax.devices()[0]}")
    print(f"# OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(default)')} "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '(default)')!r}; accuracy pass: {args.accuracy}; "
          f"{'CPU' if args.cpu else 'wall'} time, medians of {args.rounds} interleaved rounds; "
          f"CPU dispatch: {'inline (--sync-dispatch)' if args.sync_dispatch else 'JAX default'}; "
          f"load average {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(0)
    if args.devices:
        print(f"# {len(jax.devices())} devices; backend=\"jax-sharded\" on {args.devices} vs backend=\"jax\"")
        print(f"{'network':<18} {'batch':>5} {'jax µs':>9} {'sharded µs':>10} {'ratio':>6}")
        for sizes, acts, loss, batch, epochs in CASES[: args.cases]:
            t = run_sharded(sizes, acts, loss, batch, epochs, args.rounds, args.accuracy, rng, args.devices)
            print(f"{'-'.join(map(str, sizes)):<18} {batch:>5} {t['jax'] * 1e6:9.2f} "
                  f"{t['sharded'] * 1e6:10.2f} {t['sharded'] / t['jax']:6.2f}", flush=True)
        return
    print(f"{'network':<18} {'batch':>5} {'sbp jax µs':>10} {'jax scan µs':>11} {'numpy µs':>9} "
          f"{'sbp/jax':>8} {'sbp/numpy':>9} {'jax/numpy':>9}")
    for sizes, acts, loss, batch, epochs in CASES[: args.cases]:
        t = run_case(sizes, acts, loss, batch, epochs, args.rounds, args.accuracy, rng)
        s, j, n = t["sbp jax"], t["jax scan"], t["numpy"]
        flops = "  XLA estimate: sbp {:.0f}, hand {:.0f} flops".format(*t["flops"]) if FLOPS else ""
        print(f"{'-'.join(map(str, sizes)):<18} {batch:>5} {s * 1e6:10.2f} {j * 1e6:11.2f} {n * 1e6:9.2f} "
              f"{s / j:8.2f} {s / n:9.2f} {j / n:9.2f}{flops}", flush=True)


if __name__ == "__main__":
    main()
