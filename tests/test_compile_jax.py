"""The JAX backend against the NumPy backend and against JAX's own autodiff.

``net.compile(backend="jax")`` prints the same layer-level derivation with SymPy's JAX
printer. Two oracles: the NumPy backend (itself checked against the scalar derivation,
``sympy.diff`` and finite differences in test_compile.py), and ``jax.grad`` of the
generated loss, which differentiates the forward code by automatic differentiation and
so shares nothing with the symbolic backward pass.

The grid over every activation and loss runs eagerly (``jax.disable_jit``, one network
shape, so JAX compiles each operation once; tracing and compiling ~100 small functions
would dominate the suite); the list of architectures, which covers every code path of
the generator, and the random architectures run through ``jax.jit``.
"""

from __future__ import annotations

import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import network_for

import symbackprop as sbp

TOL = 1e-6  # the requirement; in practice the backends agree to ~1e-15
HIDDEN = [name for name, act in sbp.ACTIVATIONS.items() if act.elementwise]


@pytest.fixture(scope="module")
def jax():
    return pytest.importorskip("jax")


def batch(net, rng, n=5, scale=1.0):
    """Inputs around 0 (times ``scale``), targets in (0.1, 0.9): valid for every loss."""
    X = rng.normal(0.0, scale, size=(n, net.sizes[0]))
    Y = rng.uniform(0.1, 0.9, size=(n, net.sizes[-1]))
    return X, Y


def params_at(net, rng):
    return {p: float(rng.normal(0.0, 0.8)) for p in net.params}


def assert_backends_agree(net, params, X, Y):
    """predict, loss and gradient of the two backends agree to TOL; returns the JAX model."""
    mj, mn = net.compile(backend="jax"), net.compile()
    out = mj.predict(params, X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, mn.predict(params, X), rtol=TOL, atol=TOL)
    loss = mj.loss(params, X, Y)
    assert isinstance(loss, float) and np.isfinite(loss)
    assert loss == pytest.approx(mn.loss(params, X, Y), rel=TOL, abs=TOL)
    gj, gn = mj.gradient(params, X, Y), mn.gradient(params, X, Y)
    assert list(gj) == list(net.params) and all(type(v) is float for v in gj.values())
    for p in net.params:
        assert gj[p] == pytest.approx(gn[p], rel=TOL, abs=TOL), p
    return mj


def assert_autodiff_agrees(jax, model, params, X, Y):
    """The generated symbolic gradient equals jax.grad of the generated loss."""
    P = model.arrays(params)
    _, grads = model.loss_and_grad(P, X, Y)
    auto = jax.grad(model._loss)(P, X, Y)
    for got, want in zip(grads, auto):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", list(sbp.LOSSES))
@pytest.mark.parametrize("activation", list(sbp.ACTIVATIONS))
def test_every_activation_and_loss_matches_numpy_and_autodiff(jax, activation, loss):
    net = network_for(activation, loss)
    rng = np.random.default_rng(zlib.crc32(f"{activation},{loss}".encode()))  # not hash(): it changes per process
    params = params_at(net, rng)
    X, Y = batch(net, rng)
    with jax.disable_jit():
        model = assert_backends_agree(net, params, X, Y)
        assert_autodiff_agrees(jax, model, params, X, Y)


@pytest.mark.parametrize(
    "sizes, activation, loss",
    [
        ([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy"),  # fused, from the logits
        ([2, 2, 1, 3], ["relu", "arctan", "softmax"], "cross_entropy"),  # fused, log-sum-exp
        ([1, 2, 3], ["softplus", "softmax"], "binary_cross_entropy"),  # BCE after softmax: log(1 - a) from the logits
        ([2, 2, 2], ["sigmoid", "sigmoid"], "cross_entropy"),  # CE after sigmoid: log-sigmoid
        ([2, 3, 2], ["leaky_relu", "1/(1 + exp(-z))"], "binary_cross_entropy"),  # unfused
        ([2, 2, 2], ["z**2/2 + z", "tanh"], "mse"),  # custom activation
        ([2, 2], "sigmoid", "(a1_1 - y1)**2*a1_2 + y2*a1_1"),  # loss coupling the outputs
        ([2, 2, 2], "tanh", "a2_1**2/2 + a2_2**2/2"),  # ∇_a J = a itself
        ([2, 2], "tanh", "a1_1 + 2*a1_2"),  # constant ∇_a J
        ([3, 4, 4, 2], ["softplus", "relu", "identity"], "quadratic"),
    ],
)
def test_architectures(jax, sizes, activation, loss):
    net = sbp.mlp(sizes, activation, loss)
    rng = np.random.default_rng(sum(sizes))
    params = params_at(net, rng)
    X, Y = batch(net, rng, n=6)
    model = assert_backends_agree(net, params, X, Y)
    assert_autodiff_agrees(jax, model, params, X, Y)


@settings(max_examples=5, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(HIDDEN), min_size=3, max_size=3),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_random_architectures(jax, sizes, acts, n, seed):
    net = sbp.mlp(sizes, acts[: len(sizes) - 1], "quadratic")
    rng = np.random.default_rng(seed)
    assert_backends_agree(net, params_at(net, rng), *batch(net, rng, n))


@pytest.mark.parametrize(
    "sizes, activation, loss, scale",
    [
        ([2, 3], "softmax", "cross_entropy", 1000.0),  # logits of about ±1000
        ([1, 1], "sigmoid", "binary_cross_entropy", 1e4),  # |z| about 1e4
        ([1, 1], "softplus", "quadratic", 800.0),  # e^800 overflows float64
    ],
)
def test_large_inputs_stay_finite_and_match_numpy(jax, sizes, activation, loss, scale):
    net = sbp.mlp(sizes, activation, loss)
    params = {p: 1.0 for p in net.params}
    X, Y = batch(net, np.random.default_rng(1), n=4, scale=scale)
    Y = np.eye(sizes[-1])[[0, 1, 2, 0]] if activation == "softmax" else np.round(Y)
    model = assert_backends_agree(net, params, X, Y)
    assert all(np.isfinite(v) for v in model.gradient(params, X, Y).values())


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_steps_update_the_list_like_numpy(jax, momentum):
    net = sbp.mlp([2, 4, 3], ["tanh", "softmax"], "cross_entropy")
    mj, mn = net.compile(backend="jax"), net.compile()
    rng = np.random.default_rng(3)
    params = params_at(net, rng)
    X, Y = rng.normal(size=(8, 2)), np.eye(3)[rng.integers(0, 3, 8)]
    Pj, Pn = mj.arrays(params), mn.arrays(params)
    Vj, Vn = [np.zeros_like(p) for p in Pj], [np.zeros_like(p) for p in Pn]
    for _ in range(3):
        if momentum:
            lj, ln = mj.step_momentum(Pj, Vj, X, Y, 0.1, momentum), mn.step_momentum(Pn, Vn, X, Y, 0.1, momentum)
        else:
            lj, ln = mj.step(Pj, X, Y, 0.1), mn.step(Pn, X, Y, 0.1)
        assert isinstance(lj, float) and lj == pytest.approx(ln, rel=1e-12)
    for got, want in zip(Pj + Vj, Pn + Vn):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-14)


def test_a_non_finite_loss_leaves_the_parameters_alone(jax):
    net = sbp.mlp([1, 1], "identity", "quadratic")
    model = net.compile(backend="jax")
    P = model.arrays(net.init_params(0))
    before = list(P)
    assert np.isnan(model.step(P, np.array([[np.nan]]), np.array([[0.0]]), 0.1))
    assert all(p is q for p, q in zip(P, before))


def test_source_is_jax_code_and_float64_is_on(jax):
    net = sbp.mlp([2, 3, 1], ["relu", "sigmoid"], "binary_cross_entropy")
    model = net.compile(backend="jax")
    src = model.source()
    assert repr(model) == (
        "CompiledModel(2-3-1 network (relu, sigmoid; loss binary_cross_entropy), backend='jax')"
    )
    assert "jax.numpy.maximum(0, Z1)" in src and "sigmoid_parts(Z2)" in src  # stable helpers
    assert "D1 = D1 * (jax.numpy.greater(Z1, 0) * 1.0)" in src  # H(0) = 0, as a new float array
    assert "W1 = W1 - s * (D1.T @ X)" in src and "return loss, [W1, b1, W2, b2]" in src
    lines = src.splitlines()
    assert not any(" numpy." in line or "(numpy." in line or "-=" in line or "*=" in line for line in lines)
    assert jax.config.jax_enable_x64
    assert model.forward(model.arrays(net.init_params(0)), np.zeros((1, 2))).dtype == np.float64


def test_without_jax_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # `import jax` now raises ImportError
    with pytest.raises(sbp.SymbackpropError, match=r'pip install "symbackprop\[jax\]"') as info:
        sbp.mlp([2, 1]).compile(backend="jax")
    assert "\n" not in str(info.value)


def xor():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([[0.0], [1.0], [1.0], [0.0]])


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_training_with_jax_matches_numpy(jax, momentum):
    net = sbp.mlp([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    X, Y = xor()
    kw = dict(epochs=300, lr=0.5, batch_size=2, seed=0, momentum=momentum, progress=False, accuracy=True)
    pn, hn = sbp.train(net, X, Y, **kw)
    pj, hj = sbp.train(net, X, Y, backend="jax", **kw)
    assert all(type(v) is float for v in pj.values())
    assert [pj[p] for p in net.params] == pytest.approx([pn[p] for p in net.params], rel=TOL, abs=TOL)
    assert hj.loss == pytest.approx(hn.loss, rel=TOL, abs=TOL)
    assert hj.accuracy == hn.accuracy and hj.epochs == 300
    assert sbp.train(net, X, Y, backend="jax", **kw)[0] == pj  # same seed: bit-identical


def test_training_with_jax_keeps_the_last_good_parameters_on_divergence(jax):
    net = sbp.mlp([1, 1], "identity", "quadratic")
    X, Y = np.array([[1.0], [2.0]]), np.array([[0.0], [1.0]])
    errors = []
    for backend in ("numpy", "jax"):
        with pytest.raises(sbp.TrainingDivergedError) as info:
            sbp.train(net, X, Y, epochs=500, lr=100.0, batch_size=1, seed=0, progress=False, backend=backend)
        errors.append(info.value)
    assert str(errors[1]) == str(errors[0])
    assert errors[1].history.loss == pytest.approx(errors[0].history.loss, rel=TOL)
    for p in net.params:
        assert np.isfinite(errors[1].params[p])
        assert errors[1].params[p] == pytest.approx(errors[0].params[p], rel=TOL)


def test_training_with_an_unknown_backend_says_which_exist():
    X, Y = xor()
    with pytest.raises(sbp.UnknownNameError, match="Known: numpy, jax"):
        sbp.train(sbp.mlp([2, 1]), X, Y, backend=["jax"])
