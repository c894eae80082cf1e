"""Gradient flow on the JAX backend: the same generated ``deltas``/``flow``, the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

import symbackprop as sbp

pytest.importorskip("jax", reason="the JAX backend is optional (pip install 'symbackprop[jax]')")


def _data(n=16, seed=7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, np.eye(3)[rng.integers(0, 3, n)]


def test_jax_deltas_equal_numpy_deltas():
    net = sbp.mlp([2, 4, 3, 3], activation=["sigmoid", "relu", "softmax"], loss="cross_entropy")
    params = net.init_params(seed=1)
    X, Y = _data()
    ours = net.compile().deltas(params, X, Y)
    theirs = net.compile("jax").deltas(params, X, Y)
    assert all(isinstance(d, np.ndarray) for d in theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)


def test_jax_training_records_the_same_flow():
    net = sbp.mlp([2, 4, 3, 3], activation=["tanh", "relu", "softmax"], loss="cross_entropy")
    X, Y = _data(30)
    kw = dict(epochs=3, lr=0.2, batch_size=8, seed=2, progress=False, gradient_flow=True)
    a = sbp.gradient_flow(sbp.train(net, X, Y, **kw)[1])
    b = sbp.gradient_flow(sbp.train(net, X, Y, backend="jax", **kw)[1])
    for name in ("delta_norm", "grad_w_norm", "grad_b_norm", "weight_norm"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-9)
    assert b.bound_holds and [u.name for u in b.dead] == [u.name for u in a.dead]
