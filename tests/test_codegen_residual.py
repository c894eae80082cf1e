"""The residual form of the generated code: an identity output with a squared error computes
R = z − y once and reads the loss and δ^(L) from it. Oracles: the loss written out in NumPy,
and ``sympy.diff`` of the expanded per-sample loss (``net.grad(p, expand=True)``)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp


@pytest.mark.parametrize("loss,scale", [("mse", lambda k: 1 / k), ("quadratic", lambda k: 0.5)])
@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_identity_output_with_a_squared_error_shares_the_residual(loss, scale, backend):
    if backend == "jax":
        pytest.importorskip("jax")
    net = sbp.mlp([2, 3, 2], ["tanh", "identity"], loss)
    model = net.compile(backend)
    source = model.source()
    assert "R = Z2 - Y" in source and "D2 = " in source
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    p = net.init_params(seed=3)
    out = model.predict(p, X)
    expected = scale(2) * ((out - Y) ** 2).sum() / 5
    assert model.loss(p, X, Y) == pytest.approx(expected, rel=1e-14)
    g = model.gradient(p, X[:1], Y[:1])
    point = {net.x(1): X[0, 0], net.x(2): X[0, 1], net.y(1): Y[0, 0], net.y(2): Y[0, 1], **dict(p)}
    for q in net.params:
        exact = float(sp.N(net.grad(q, expand=True).subs(point), 30))
        assert g[q] == pytest.approx(exact, rel=1e-10, abs=1e-13)


@pytest.mark.parametrize("out,loss", [("tanh", "quadratic"), ("sigmoid", "binary_cross_entropy"),
                                      ("softmax", "cross_entropy"), ("identity", "(a2_1 - y1)**2*y2")])
def test_other_heads_keep_their_own_forms(out, loss):
    net = sbp.mlp([2, 3, 2], ["tanh", out], loss)
    assert "R = " not in net.compile().source()
