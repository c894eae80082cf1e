"""Second order on the JAX backend against the NumPy backend.

JAX's Hessian-vector product is ``jax.jvp`` of ``jax.grad`` of the compiled loss (JAX's
own forward-over-reverse, sharing nothing with the generated R-operator code), so the two
backends agreeing to 1e-12 checks each against an independent engine. The input Jacobian
is the same generated code printed for ``jax.numpy``.
"""

from __future__ import annotations

import numpy as np
import pytest

import symbackprop as sbp

pytest.importorskip("jax")

SEED = 20261126
CASES = [
    ([2, 3, 2], "sigmoid", "quadratic"),
    ([2, 3, 3], ["tanh", "softmax"], "cross_entropy"),
    ([3, 4, 2], ["relu", "sigmoid"], "binary_cross_entropy"),
    ([2, 3, 2, 3], ["softplus", "leaky_relu", "softmax"], "quadratic"),
    ([2, 3, 2], ["arctan", "identity"], "mse"),
    ([2, 3, 2], ["tanh", "softmax"], "(a2_1 - y1)**2*(a2_2 + y2)**2"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_jax_and_numpy_agree(case):
    net = sbp.mlp(*case)
    rng = np.random.default_rng(SEED)
    params = {p: float(rng.normal(0.0, 0.8)) for p in net.params}
    X = rng.normal(size=(5, net.sizes[0]))
    Y = rng.uniform(0.1, 0.9, size=(5, net.sizes[-1]))
    v = rng.normal(size=len(net.params))
    mj, mn = net.compile(backend="jax"), net.compile()
    hv = mj.hvp(params, v, X, Y)
    assert isinstance(hv, np.ndarray) and hv.dtype == np.float64
    np.testing.assert_allclose(hv, mn.hvp(params, v, X, Y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mj.hessian(params, X, Y), mn.hessian(params, X, Y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mj.input_jacobian(params, X), mn.input_jacobian(params, X), rtol=1e-12, atol=1e-12)
    by_name = mj.hvp(params, dict(zip(net.params, v.tolist())), X, Y)
    assert list(by_name) == list(net.params)
