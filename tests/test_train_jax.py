"""``sbp.train(backend="jax")``: whole epochs in one jitted ``lax.scan`` (compiler/jax_loop.py).

The oracle is the NumPy backend's Python loop (tests/test_train.py checks it, and
test_compile.py checks its steps against ``sympy.diff`` and finite differences): for the
same seed both draw the same permutations, so parameters and histories agree to rounding
(1e-12) — for every activation family, softmax + cross-entropy, momentum, a ragged last
batch, one batch holding all the data, and divergence (the last good parameters, found
by replaying the epoch, against those the NumPy loop kept step by step).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.errors import SpecError

TOL = 1e-12


@pytest.fixture(scope="module", autouse=True)
def jax():
    return pytest.importorskip("jax")


def data(n, n_in, n_out, seed=0, onehot=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    if onehot:
        Y = np.eye(n_out)[rng.integers(0, n_out, size=n)]
    else:
        Y = (X[:, :1] * X[:, 1:2] > 0).astype(float).repeat(n_out, axis=1)
    return X, Y


def assert_same_run(a, b):
    """Two (params, history) results agree to TOL."""
    (pa, ha), (pb, hb) = a, b
    assert list(pa) == list(pb)
    np.testing.assert_allclose(list(pb.values()), list(pa.values()), rtol=TOL, atol=TOL)
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=TOL, atol=TOL)
    assert hb.accuracy == ha.accuracy  # argmax / threshold of agreeing outputs
    assert (hb.epochs, hb.interrupted, hb.stopped_early) == (ha.epochs, ha.interrupted, ha.stopped_early)


def both(net, X, Y, **kw):
    return [sbp.train(net, X, Y, backend=b, progress=False, **{"accuracy": True, **kw}) for b in ("numpy", "jax")]


CASES = [  # sizes, activations, loss, one-hot targets
    ([2, 5, 1], ["sigmoid", "sigmoid"], "quadratic", False),
    ([2, 6, 4, 1], ["tanh", "relu", "sigmoid"], "binary_cross_entropy", False),
    ([3, 6, 3], ["relu", "softmax"], "cross_entropy", True),
]


@pytest.mark.parametrize("sizes, acts, loss, onehot", CASES)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_jax_loop_matches_numpy_ragged(sizes, acts, loss, onehot, momentum):
    # 37 rows in batches of 8: four full batches and a ragged one of 5, whose mean is
    # over its own 5 rows (a wrong divisor would show at once).
    net = sbp.mlp(sizes, acts, loss)
    X, Y = data(37, sizes[0], sizes[-1], seed=1, onehot=onehot)
    numpy_run, jax_run = both(net, X, Y, epochs=15, lr=0.3, batch_size=8, seed=3, momentum=momentum)
    assert_same_run(numpy_run, jax_run)
    assert numpy_run[1].loss[-1] < numpy_run[1].loss[0]  # it trained: the comparison has teeth


HIDDEN = [name for name, act in sbp.ACTIVATIONS.items() if act.elementwise]


@settings(max_examples=6, deadline=None)  # each example compiles a JAX program (~1 s)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(HIDDEN), min_size=3, max_size=3),
    n=st.integers(1, 19), batch=st.integers(1, 8), momentum=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_random_architectures_match_numpy(sizes, acts, n, batch, momentum, seed):
    # Any elementwise activations, quadratic loss, targets in (0.1, 0.9); sizes of data and
    # batch that leave a ragged last batch or none, or a batch larger than the data.
    net = sbp.mlp(sizes, acts[: len(sizes) - 1], "quadratic")
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, sizes[0])), rng.uniform(0.1, 0.9, size=(n, sizes[-1]))
    assert_same_run(*both(net, X, Y, epochs=4, lr=0.05, batch_size=batch, seed=seed, momentum=momentum))


def test_divisible_and_one_batch_and_no_accuracy():
    net = sbp.mlp(*CASES[1][:3])
    X, Y = data(32, 2, 1, seed=2)
    for batch in (8, 32, 100):  # no ragged batch; one batch (no shuffle); larger than the data
        assert_same_run(*both(net, X, Y, epochs=6, lr=0.5, batch_size=batch, seed=0))
    numpy_run, jax_run = both(net, X, Y, epochs=3, lr=0.5, batch_size=8, accuracy=False)
    assert jax_run[1].accuracy == [] and len(jax_run[1].loss) == 3
    assert_same_run(numpy_run, jax_run)


def test_same_seed_bit_identical_and_seed_matters():
    net = sbp.mlp(*CASES[2][:3])
    X, Y = data(29, 3, 3, seed=4, onehot=True)
    runs = [sbp.train(net, X, Y, epochs=5, lr=0.2, batch_size=6, seed=s, backend="jax", momentum=0.5)
            for s in (7, 7, 8)]
    assert runs[0][0] == runs[1][0] and runs[0][1].loss == runs[1][1].loss  # bit for bit
    assert runs[0][0] != runs[2][0]  # another seed: other parameters and batches


def test_callback_stop_and_ctrl_c_as_numpy():
    net = sbp.mlp(*CASES[0][:3])
    X, Y = data(21, 2, 1, seed=5)

    def stop_at_3(epoch, history):
        return epoch == 3

    def ctrl_c_at_2(epoch, history):
        if epoch == 2:
            raise KeyboardInterrupt

    for callback, flag in ((stop_at_3, "stopped_early"), (ctrl_c_at_2, "interrupted")):
        numpy_run, jax_run = both(net, X, Y, epochs=10, lr=0.5, batch_size=4, callback=callback)
        assert getattr(jax_run[1], flag) and jax_run[1].epochs == (3 if flag == "stopped_early" else 2)
        assert_same_run(numpy_run, jax_run)


# ----------------------------------------------------------------------- divergence
def blowup_data(n=23, row=None, seed=0):
    """Ordinary rows and one with inputs of 1e100: the step on its batch is finite but
    throws the weights to ~1e200, so the next step's loss overflows. The last good
    parameters are then ordinary numbers, which a relative tolerance can compare."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    Y = X[:, :1] - X[:, 1:]
    X[n // 2 if row is None else row] = [1e100, -1e100]
    return X, Y


def diverge(backend, X, Y, **kw):
    net = sbp.mlp([2, 3, 1], ["identity", "identity"], "quadratic")
    with pytest.raises(sbp.TrainingDivergedError) as info:
        sbp.train(net, X, Y, backend=backend, progress=False, **kw)
    return info.value


def where(error):
    """(epoch, batch) from the error's message."""
    words = str(error).split()
    return int(words[4].rstrip(",")), int(words[6].rstrip(":"))


def assert_same_divergence(X, Y, **kw):
    a, b = diverge("numpy", X, Y, **kw), diverge("jax", X, Y, **kw)
    assert str(a) == str(b)
    assert list(a.params) == list(b.params)
    good = np.array(list(a.params.values()))
    assert np.all(np.isfinite(good)) and np.abs(good).max() < 1e3  # ordinary parameters
    np.testing.assert_allclose(list(b.params.values()), good, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(b.history.loss, a.history.loss, rtol=TOL, atol=TOL)
    assert b.history.epochs == a.history.epochs
    return where(a)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_divergence_last_good_params_as_numpy(momentum):
    # Try seeds until each case has happened: the failing step is inside an epoch (replay
    # of this epoch), the first of an epoch after the first (replay of the previous
    # epoch's steps but its last), and the run's very first step (the starting params).
    X, Y = blowup_data()
    seen = set()
    for seed in range(40):
        epoch, batch = assert_same_divergence(X, Y, epochs=3, lr=0.05, batch_size=4, seed=seed,
                                              momentum=momentum)
        seen.add("inside" if batch > 1 else "first of epoch" if epoch > 1 else "first step")
        if len(seen) == 2:
            break
    assert seen == {"inside", "first of epoch"}
    X1, Y1 = blowup_data(n=4)  # one batch: the huge row is in the first step's batch
    assert assert_same_divergence(X1, Y1, epochs=3, lr=0.05, batch_size=4, momentum=momentum) == (2, 1)


def test_divergence_at_the_first_step_gives_the_starting_params():
    X, Y = blowup_data(n=4)
    net = sbp.mlp([2, 3, 1], ["identity", "identity"], "quadratic")
    start = net.init_params(seed=0)
    big = {p: 1e160 for p in start}  # the very first loss overflows
    err = diverge("jax", X, Y, epochs=2, lr=0.1, batch_size=2, params=big)
    assert where(err) == (1, 1) and err.params == big and err.history.epochs == 0


# --------------------------------------------------------------------- the runner
def test_runner_ragged_losses_are_each_batch_mean():
    # The epoch program's losses against the NumPy model's loss of each batch, in turn.
    net = sbp.mlp([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    X, Y = data(11, 2, 1, seed=6)
    mj, mn = net.compile(backend="jax"), net.compile()
    start = mn.arrays(net.init_params(0))
    order = np.random.default_rng(0).permutation(11)
    loop = mj.backend.epoch_loop(mj)
    P, V, losses, good = loop.run(mj.backend.place(start), [], X, Y, order, 4, 0.5, 0.0)
    assert good is None and losses.shape == (3,)
    P_np, expected = [p.copy() for p in start], []
    for i in range(0, 11, 4):
        rows = order[i : i + 4]
        expected.append(mn.step(P_np, X[rows], Y[rows], 0.5))
    np.testing.assert_allclose(losses, expected, rtol=TOL, atol=TOL)
    for a, b in zip(P, P_np):
        np.testing.assert_allclose(np.asarray(a), b, rtol=TOL, atol=TOL)


def test_runner_finite_losses_whose_sum_overflows_are_not_a_divergence():
    # The runner checks the sum of the epoch's losses first; finite losses whose sum
    # overflows must still count as finite (lr = 0 keeps every batch at the same loss).
    net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
    model = net.compile(backend="jax")
    b = 1.3e154  # (b - 0)² / 2 ≈ 8.5e307: finite; three of them overflow
    P = model.backend.place(model.arrays({p: (b if p.name.startswith("b") else 0.0) for p in net.params}))
    X, Y = np.ones((3, 1)), np.zeros((3, 1))
    P, V, losses, good = model.backend.epoch_loop(model).run(P, [], X, Y, np.array([2, 0, 1]), 1, 0.0, 0.0)
    assert np.isfinite(losses).all() and sum(losses.tolist()) == np.inf
    assert good is None


def test_fresh_networks_share_compiled_code_only_when_it_is_the_same():
    # Sharing is a cache: equal generated code shares the jitted functions and the epoch
    # program (compiled once); any difference in the code, a constant included, does not.
    def make(acts=("tanh", "sigmoid"), loss="binary_cross_entropy", sizes=(2, 4, 1)):
        return sbp.mlp(list(sizes), list(acts), loss)

    a, b = make(), make()
    ma, mb = a.compile(backend="jax"), b.compile(backend="jax")
    assert ma.source() == mb.source() and ma.step is mb.step
    assert ma.backend.epoch_program(ma) is mb.backend.epoch_program(mb)
    for other in (make(acts=("relu", "sigmoid")), make(loss="quadratic"), make(acts=("leaky_relu", "sigmoid"))):
        mo = other.compile(backend="jax")
        assert mo.source() != ma.source() and mo.step is not ma.step
        assert mo.backend.epoch_program(mo) is not ma.backend.epoch_program(ma)
    # The shared program gives each network what its own would: the NumPy backend's run.
    X, Y = data(12, 2, 1, seed=3)
    kw = dict(epochs=3, lr=0.3, batch_size=4, seed=5)
    assert_same_run(*both(b, X, Y, **kw))
    assert_same_run(sbp.train(a, X, Y, backend="jax", progress=False, **kw),
                    sbp.train(b, X, Y, backend="jax", progress=False, **kw))


def test_backend_hook_default_is_none():
    net = sbp.mlp([1, 1])
    assert net.compile().backend.epoch_loop(net.compile()) is None
    model = net.compile(backend="jax")
    assert model.backend.epoch_program(model) is model.backend.epoch_program(model)


def test_bad_arguments_still_rejected_with_jax():
    X, Y = data(8, 2, 1)
    with pytest.raises(SpecError, match="batch_size must be"):
        sbp.train(sbp.mlp([2, 1]), X, Y, batch_size=0, backend="jax")
