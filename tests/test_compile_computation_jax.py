"""Compiled computations on the JAX backend, against the NumPy backend and jax.grad.

Two oracles: the NumPy backend (checked against ``sympy.diff`` at 30 digits in
test_compile_computation.py) and ``jax.grad`` of the generated JAX loss, which
differentiates the forward code by automatic differentiation and so shares nothing with
the generated reverse pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_compile_computation import CASES, build, data, point

import symbackprop as sbp


@pytest.fixture(scope="module")
def jax():
    return pytest.importorskip("jax")


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_and_jax_agree_to_1e_12(jax, name):
    g = build(name)
    X, Y = data(g, 7, seed=21)
    params = point(g, seed=22)
    mj, mn = g.compile(backend="jax"), g.compile()
    out = mj.predict(params, X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, mn.predict(params, X), rtol=1e-12, atol=1e-12)
    assert mj.loss(params, X, Y) == pytest.approx(mn.loss(params, X, Y), rel=1e-12, abs=1e-12)
    gj, gn = mj.gradient(params, X, Y), mn.gradient(params, X, Y)
    assert list(gj) == list(g.params)
    for p in g.params:
        assert gj[p] == pytest.approx(gn[p], rel=1e-12, abs=1e-12), p


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_gradient_matches_jax_grad_of_the_generated_loss(jax, name):
    g = build(name)
    X, Y = data(g, 7, seed=23)
    model = g.compile(backend="jax")
    P = model.arrays(point(g, seed=24))
    auto = jax.grad(lambda theta: model._loss([theta], X, Y))(P[0])
    _, (G,) = model.loss_and_grad(P, X, Y)
    np.testing.assert_allclose(np.asarray(G), np.asarray(auto), rtol=1e-12, atol=1e-13)


def test_training_on_jax_matches_numpy(jax):
    g = build("skip")
    X, Y = data(g, 32, seed=25)
    pj, hj = sbp.train(g, X, Y, epochs=20, lr=0.1, batch_size=8, seed=1, backend="jax", progress=False)
    pn, hn = sbp.train(g, X, Y, epochs=20, lr=0.1, batch_size=8, seed=1, progress=False)
    np.testing.assert_allclose(hj.loss, hn.loss, rtol=1e-10)
    for p in g.params:
        assert pj[p] == pytest.approx(pn[p], rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_second_order_on_jax_matches_numpy_and_jvp_of_jax_grad(jax, name):
    g = build(name)
    X, Y = data(g, 6, seed=26)
    params = point(g, seed=27)
    mj, mn = g.compile(backend="jax"), g.compile()
    v = np.random.default_rng(28).normal(size=len(g.params))
    hj, hn = mj.hvp(params, v, X, Y), mn.hvp(params, v, X, Y)
    np.testing.assert_allclose(hj, hn, rtol=1e-12, atol=1e-12)
    (theta,) = mj.arrays(params)
    _, auto = jax.jvp(jax.grad(lambda t: mj._loss([t], X, Y)), (theta,), (v,))
    np.testing.assert_allclose(hj, np.asarray(auto), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(mj.hessian(params, X, Y), mn.hessian(params, X, Y), rtol=1e-12, atol=1e-12)
    if g.inputs and g.outputs:
        np.testing.assert_allclose(mj.input_jacobian(params, X), mn.input_jacobian(params, X), rtol=1e-12, atol=1e-12)
