"""Mini-batch SGD: the update rule against the compiled gradient, behaviour at the edges."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.training import History, TrainingDivergedError, train

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def xor_net():
    return sbp.mlp([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy")


def test_xor_reaches_100_percent():
    net = xor_net()
    params, history = train(net, XOR_X, XOR_Y, epochs=2000, lr=0.5, batch_size=4, seed=0, accuracy=True)
    assert history.accuracy[-1] == 1.0
    assert len(history.loss) == 2000 and history.loss[-1] < 0.05
    pred = net.compile().predict(params, XOR_X)
    np.testing.assert_array_equal(pred.round(), XOR_Y)


def test_full_batch_epoch_is_one_gradient_step():
    """One epoch over one batch is w − η · (mean gradient), the gradient from model.gradient."""
    net = sbp.mlp([2, 3, 2], ["relu", "softmax"], "cross_entropy")
    model = net.compile()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 2))
    Y = np.eye(2)[rng.integers(0, 2, size=6)]
    p0 = net.init_params(seed=1)
    params, history = train(net, X, Y, epochs=1, lr=0.3, batch_size=6, params=p0, accuracy=True)
    g = model.gradient(p0, X, Y)
    for p in net.params:
        assert params[p] == pytest.approx(p0[p] - 0.3 * g[p], rel=1e-12, abs=1e-14)
    assert history.loss[0] == pytest.approx(model.loss(p0, X, Y), rel=1e-12)
    assert history.accuracy[0] == np.mean(
        model.predict(params, X).argmax(1) == Y.argmax(1)
    )


def test_momentum_update():
    net = sbp.mlp([2, 2, 1], "tanh", "quadratic")
    model = net.compile()
    X, Y = XOR_X, XOR_Y
    w0 = net.init_params(seed=2)
    lr, mu = 0.2, 0.9
    params, _ = train(net, X, Y, epochs=2, lr=lr, batch_size=4, params=w0, momentum=mu)
    g0 = model.gradient(w0, X, Y)
    v1 = {p: -lr * g0[p] for p in net.params}
    w1 = {p: w0[p] + v1[p] for p in net.params}
    g1 = model.gradient(w1, X, Y)
    w2 = {p: w1[p] + mu * v1[p] - lr * g1[p] for p in net.params}
    for p in net.params:
        assert params[p] == pytest.approx(w2[p], rel=1e-10, abs=1e-13)


def test_history_loss_is_the_sample_mean_of_batch_losses():
    """Batches of 4, 4, 2: the epoch loss weighs each batch by its size."""
    net = sbp.mlp([1, 1], "identity", "quadratic")
    X = np.arange(10.0).reshape(-1, 1)
    Y = 2 * X
    seen = []

    def record(epoch, history):
        seen.append(epoch)

    p0 = {"w1_1_1": 0.0, "b1_1": 0.0}
    _, history = train(net, X, Y, epochs=1, lr=1e-9, batch_size=4, params=p0, callback=record)
    # lr is tiny: every batch sees (almost) p0, whose loss per sample is ½ (2x)².
    assert history.loss[0] == pytest.approx(np.mean(0.5 * (2 * X) ** 2), rel=1e-6)
    assert seen == [1] and history.accuracy == []


def test_same_seed_is_bit_identical_and_another_seed_differs():
    net = sbp.mlp([2, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    Y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    kw = {"epochs": 20, "lr": 0.3, "batch_size": 8, "momentum": 0.5, "accuracy": True}
    a, ha = train(net, X, Y, seed=7, **kw)
    b, hb = train(net, X, Y, seed=7, **kw)
    c, _ = train(net, X, Y, seed=8, **kw)
    assert a == b and ha.loss == hb.loss and ha.accuracy == hb.accuracy
    assert a != c


def test_given_params_are_not_modified():
    net = xor_net()
    p0 = net.init_params(seed=3)
    copy = dict(p0)
    arrays = sbp.to_arrays(net, p0)
    before = [w.copy() for pair in arrays for w in pair]
    train(net, XOR_X, XOR_Y, epochs=3, lr=0.5, params=p0)
    train(net, XOR_X, XOR_Y, epochs=3, lr=0.5, params=arrays)
    assert p0 == copy
    assert all(np.array_equal(x, y) for x, y in zip(before, [w for pair in arrays for w in pair]))


def test_divergence_raises_with_the_last_finite_parameters():
    net = sbp.mlp([1, 1], "identity", "quadratic")
    model = net.compile()
    X = np.array([[10.0], [-20.0]])
    Y = np.array([[1.0], [2.0]])
    with pytest.raises(TrainingDivergedError, match="diverged in epoch .*smaller learning rate") as info:
        train(net, X, Y, epochs=1000, lr=5.0, batch_size=2)
    err = info.value
    assert isinstance(err, sbp.SymbackpropError)
    # .params are the last good parameters: their (full-batch) loss is finite, and one
    # step from them, the one before the failing step, leads to a non-finite loss.
    assert all(np.isfinite(v) for v in err.params.values())
    assert np.isfinite(model.loss(err.params, X, Y))
    arrays = model.arrays(err.params)
    with np.errstate(over="ignore", invalid="ignore"):
        model.step(arrays, X, Y, 5.0)
        assert not np.isfinite(model.loss(model.mapping(arrays), X, Y))
    assert isinstance(err.history, History) and err.history.epochs == len(err.history.loss)
    assert all(np.isfinite(err.history.loss))


def test_keyboard_interrupt_returns_what_was_trained():
    net = xor_net()

    def interrupt(epoch, history):
        if epoch == 3:
            raise KeyboardInterrupt

    params, history = train(net, XOR_X, XOR_Y, epochs=100, lr=0.5, callback=interrupt)
    assert history.interrupted and history.epochs == 3 and len(history.loss) == 3
    assert len(params) == len(net.params)


def test_callback_can_stop_early():
    _, history = train(xor_net(), XOR_X, XOR_Y, epochs=100, lr=0.5, callback=lambda e, h: e == 5)
    assert history.stopped_early and history.epochs == 5 and not history.interrupted


def test_quick_synthetic_three_class_problem():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    labels = rng.integers(0, 3, size=150)
    X = centres[labels] + rng.normal(scale=0.7, size=(150, 2))
    Y = np.eye(3)[labels]
    net = sbp.mlp([2, 8, 3], ["relu", "softmax"], "cross_entropy")
    _, history = train(net, X, Y, epochs=30, lr=0.1, batch_size=16, seed=0, accuracy=True)
    assert history.accuracy[-1] >= 0.95


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lr": 0.0}, "lr must be a finite number greater than 0"),
        ({"lr": float("nan")}, "lr must be"),
        ({"epochs": 0}, "epochs must be an integer of at least 1"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"batch_size": 0}, "batch_size must be an integer of at least 1"),
        ({"momentum": 1.0}, r"momentum must be a number in \[0, 1\)"),
        ({"momentum": -0.1}, "momentum must be"),
        ({"callback": "print"}, "callback must be a function"),
        ({"seed": "a"}, "seed must be an integer"),
        ({"accuracy": "yes"}, "accuracy must be True or False"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(sbp.SpecError, match=match):
        train(xor_net(), XOR_X, XOR_Y, **kwargs)


def test_bad_data_is_named():
    X = XOR_X.copy()
    X[2, 1] = np.nan
    with pytest.raises(sbp.SpecError, match="X holds a non-finite value .* row 2, column 1"):
        train(xor_net(), X, XOR_Y)
    with pytest.raises(sbp.SpecError, match=r"Y must have shape \(4, 1\)"):
        train(xor_net(), XOR_X, np.zeros((3, 1)))


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch):
    fake = _Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    train(xor_net(), XOR_X, XOR_Y, epochs=5, lr=0.5)
    assert "epoch 5/5" in fake.getvalue()
    fake = _Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    train(xor_net(), XOR_X, XOR_Y, epochs=5, lr=0.5, progress=False)
    assert fake.getvalue() == ""
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    train(xor_net(), XOR_X, XOR_Y, epochs=5, lr=0.5, progress=True)
    assert plain.getvalue() == ""


def test_divergence_with_several_batches_keeps_the_previous_steps_parameters():
    """Several arrays (kept in one flat buffer) and several batches per epoch: .params
    are those the previous step started from, so some step from them on one sample leads
    to parameters whose loss on some sample is not finite."""
    net = sbp.mlp([1, 2, 1], "identity", "quadratic")
    model = net.compile()
    X = np.array([[10.0], [-20.0], [15.0]])
    Y = np.array([[1.0], [2.0], [0.5]])
    with pytest.raises(TrainingDivergedError) as info:
        train(net, X, Y, epochs=1000, lr=2.0, batch_size=1, seed=4)
    good = info.value.params
    assert all(np.isfinite(v) for v in good.values())
    found = False
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(3):
            assert np.isfinite(model.loss(good, X[i : i + 1], Y[i : i + 1]))
            arrays = model.arrays(good)
            model.step(arrays, X[i : i + 1], Y[i : i + 1], 2.0)
            after = model.mapping(arrays)
            found |= any(not np.isfinite(model.loss(after, X[j : j + 1], Y[j : j + 1])) for j in range(3))
    assert found


def test_one_batch_holding_all_the_data_is_plain_gradient_descent():
    """batch_size ≥ n: every epoch is one step on the whole data, whatever the seed."""
    net = sbp.mlp([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    model = net.compile()
    p0 = net.init_params(seed=5)
    a, _ = train(net, XOR_X, XOR_Y, epochs=3, lr=0.4, batch_size=4, params=p0, seed=1)
    b, _ = train(net, XOR_X, XOR_Y, epochs=3, lr=0.4, batch_size=99, params=p0, seed=2)
    assert a == b
    w = p0
    for _ in range(3):
        g = model.gradient(w, XOR_X, XOR_Y)
        w = {p: w[p] - 0.4 * g[p] for p in net.params}
    for p in net.params:
        assert a[p] == pytest.approx(w[p], rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("outputs", [1, 2])
def test_sigmoid_accuracy_counts_a_sample_right_only_when_every_output_is(outputs):
    net = sbp.mlp([2, 3, outputs], ["tanh", "sigmoid"], "binary_cross_entropy")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 2))
    Y = (rng.random(size=(12, outputs)) > 0.5).astype(float)
    params, history = train(net, X, Y, epochs=1, lr=0.1, batch_size=12, seed=0, accuracy=True)
    A = net.compile().predict(params, X).reshape(12, outputs)
    right = [all((A[k, j] > 0.5) == (Y[k, j] == 1.0) for j in range(outputs)) for k in range(12)]
    assert history.accuracy == [sum(right) / 12]


def test_accuracy_is_opt_in_its_forward_pass_runs_only_when_asked_and_changes_nothing_else(monkeypatch):
    net = sbp.mlp([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    model = net.compile()  # the network keeps it: train uses this very model
    calls = []
    forward = model.forward
    kw = {"epochs": 5, "lr": 0.5, "batch_size": 2, "seed": 3}
    a, ha = train(net, XOR_X, XOR_Y, accuracy=True, **kw)
    monkeypatch.setattr(model, "forward", lambda *args: calls.append(1) or forward(*args))
    train(net, XOR_X, XOR_Y, accuracy=True, **kw)
    assert len(calls) == 5  # the patch is seen: the asking run did call it, once per epoch
    calls.clear()
    for b, hb in (train(net, XOR_X, XOR_Y, accuracy=False, **kw), train(net, XOR_X, XOR_Y, **kw)):
        assert a == b and ha.loss == hb.loss and ha.epochs == hb.epochs == 5
        assert len(ha.accuracy) == 5 and hb.accuracy == [] and calls == []
