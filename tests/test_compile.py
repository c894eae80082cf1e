"""The compiled layer-level code against the scalar derivation and independent oracles."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import expanded_loss, network_for, random_point, value

import symbackprop as sbp
from symbackprop.activations import softmax_layer
from symbackprop.compile import output_forms
from symbackprop.derivation import sample_values

HIDDEN = [name for name, act in sbp.ACTIVATIONS.items() if act.elementwise]


def data(net, rng, n=3):
    """A batch: inputs around 0, targets in (0.1, 0.9) (valid for every loss)."""
    X = rng.normal(0.0, 1.0, size=(n, net.sizes[0]))
    Y = rng.uniform(0.1, 0.9, size=(n, net.sizes[-1]))
    return X, Y


def params_at(net, rng):
    return {p: float(rng.normal(0.0, 0.8)) for p in net.params}


def symbolic_gradient(net, params, X, Y):
    """Mean over the batch of the scalar-level compact gradient, evaluated per sample."""
    total = dict.fromkeys(net.params, 0.0)
    grads = net.gradients()
    for x, y in zip(X, Y):
        values = sample_values(net.backprop, params, list(x), list(y))
        subs = {s: sp.Float(v) for s, v in values.items()}
        for p, g in grads.items():
            total[p] += float(g.xreplace(subs)) / len(X)
    return total


def finite_differences(model, params, X, Y, h=1e-6):
    out = {}
    for p in params:
        up, down = dict(params), dict(params)
        up[p] += h
        down[p] -= h
        out[p] = (model.loss(up, X, Y) - model.loss(down, X, Y)) / (2 * h)
    return out


def assert_close(got, want, rtol=1e-7, atol=1e-9):
    for p in want:
        assert got[p] == pytest.approx(want[p], rel=rtol, abs=atol), p


@pytest.mark.parametrize("loss", list(sbp.LOSSES))
@pytest.mark.parametrize("activation", list(sbp.ACTIVATIONS))
def test_every_activation_and_loss_matches_the_scalar_derivation(activation, loss):
    net = network_for(activation, loss)
    rng = np.random.default_rng(zlib.crc32(f"{activation},{loss}".encode()))  # not hash(): it changes per process
    params = params_at(net, rng)
    X, Y = data(net, rng)
    model = net.compile()
    got = model.gradient(params, X, Y)
    assert list(got) == list(net.params)
    assert_close(got, symbolic_gradient(net, params, X, Y))
    assert_close(got, finite_differences(model, params, X, Y), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "sizes, activation, loss",
    [
        ([1, 1], "identity", "quadratic"),
        ([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy"),
        ([2, 2, 1, 2], ["relu", "arctan", "softmax"], "cross_entropy"),
        ([1, 2, 3], ["softplus", "softmax"], "binary_cross_entropy"),  # BCE after softmax: log(1 - a) from the logits
        ([2, 2, 2], ["sigmoid", "sigmoid"], "cross_entropy"),  # CE after sigmoid: log-sigmoid
        ([2, 2, 2], ["z**2/2 + z", "tanh"], "mse"),  # custom activation, lambdified
        ([2, 2], "sigmoid", "(a1_1 - y1)**2*a1_2 + y2*a1_1"),  # loss coupling the outputs
        ([2, 2, 2], "tanh", "a2_1**2/2 + a2_2**2/2"),  # ∇_a J = a itself: no aliasing of A
    ],
)
def test_architectures_match_sympy_diff_of_the_expanded_loss(sizes, activation, loss):
    net = sbp.mlp(sizes, activation, loss)
    model = net.compile()
    rng = np.random.default_rng(len(sizes) * 7 + sizes[0])
    point = random_point(net, rng)
    params = {p: point[p] for p in net.params}
    x = np.array([[point[s] for s in net.inputs]])
    y = np.array([[point[s] for s in net.targets]])
    J = expanded_loss(net)
    want = {p: value(sp.diff(J, p), point) for p in net.params}
    assert_close(model.gradient(params, x, y), want)
    assert model.loss(params, x, y) == pytest.approx(value(J, point), rel=1e-10)


@settings(max_examples=8, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    act=st.sampled_from(HIDDEN),
    n=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_random_architectures_match_finite_differences(sizes, act, n, seed):
    net = sbp.mlp(sizes, act, "quadratic")
    rng = np.random.default_rng(seed)
    params = params_at(net, rng)
    X, Y = data(net, rng, n)
    model = net.compile()
    assert_close(model.gradient(params, X, Y), finite_differences(model, params, X, Y), 1e-5, 1e-6)


def _composed(net):
    """J in the output logits z^(L)_j, composed from the registry definitions (no stable forms)."""
    L, act = net.n_layers, net.activations[-1]
    z = [net.z(L, j) for j in range(1, net.sizes[-1] + 1)]
    a = softmax_layer(z) if not act.elementwise else [act(zj) for zj in z]
    return net.loss(net.outputs, net.targets).xreplace(dict(zip(net.outputs, a))), z, a


@pytest.mark.parametrize("loss", [*sbp.LOSSES, "-y1*log(a1_1) + a1_2**2*y2", "(a1_1 - y1)**2*a1_2"])
@pytest.mark.parametrize("activation", ["sigmoid", "softmax", "tanh", "softplus"])
def test_output_forms_are_the_loss_and_its_sympy_derivative(activation, loss):
    """The compiled J and δ^(L) (stable forms, from the logits) equal J composed with the
    activation and its ``sympy.diff``, at random points evaluated to 30 digits."""
    net = sbp.mlp([1, 2], activation, loss)
    J, deltas, meaning = output_forms(net)
    want, z, a = _composed(net)
    rng = np.random.default_rng(11)
    for _ in range(3):
        point = {zj: sp.Float(rng.normal(0, 2), 30) for zj in z}
        point |= {yj: sp.Float(rng.uniform(0.1, 0.9), 30) for yj in net.targets}
        outputs = {aj: fa.xreplace(point) for aj, fa in zip(net.outputs, a)}
        defs = {s: e.xreplace(outputs) for s, e in meaning.items()}

        def at(expr, point=point, outputs=outputs, defs=defs):
            expr = expr.xreplace(defs).xreplace(outputs).xreplace(point).rewrite(sp.exp)
            return complex(expr.evalf(30)).real

        assert at(J) == pytest.approx(at(want), rel=1e-12)
        for zj, d in zip(z, deltas):
            assert at(d) == pytest.approx(at(sp.diff(want, zj)), rel=1e-10, abs=1e-14)


def test_softmax_cross_entropy_at_logits_of_1000_is_finite_and_exact():
    net = sbp.mlp([1, 3], "softmax", "cross_entropy")
    model = net.compile()
    params = [(np.array([[1000.0], [-1000.0], [999.0]]), np.zeros(3))]
    X, Y = np.array([[1.0], [-1.0]]), np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    loss = model.loss(params, X, Y)
    # Sample 1: logits (1000, -1000, 999), target 2 -> LSE - (-1000) = 2000 + log(1 + e^-1).
    # Sample 2: logits (-1000, 1000, -999), target 1 -> 2000 (+ e^-1999, below rounding).
    assert loss == pytest.approx(2000 + np.log1p(np.exp(-1.0)) / 2, rel=1e-14)
    grad = model.gradient(params, X, Y)
    assert all(np.isfinite(v) for v in grad.values())
    p1 = 1 / (1 + np.exp(-1.0))  # softmax of the largest logit
    assert grad[net.b(1, 1)] == pytest.approx((p1 + (-1)) / 2)


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "quadratic"])
def test_sigmoid_at_1e4_gives_no_overflow_warning(loss):
    net = sbp.mlp([1, 1], "sigmoid", loss)
    model = net.compile()
    params = {"w1_1_1": 1.0, "b1_1": 0.0}
    X, Y = np.array([[1e4], [-1e4]]), np.array([[0.0], [1.0]])
    # BCE from the logits: each sample is wrong by 1e4 nats; the slope is σ(z) − y = ±1.
    value_ = model.loss(params, X, Y)
    grad = model.gradient(params, X, Y)
    if loss == "binary_cross_entropy":
        assert value_ == pytest.approx(1e4)
        assert grad[net.w(1, 1, 1)] == pytest.approx(1e4)
        assert grad[net.b(1, 1)] == pytest.approx(0.0)
    else:
        assert value_ == pytest.approx(0.5)
        assert grad[net.w(1, 1, 1)] == pytest.approx(0.0)


def test_binary_cross_entropy_is_not_clipped_outside_the_sigmoid():
    """No clipping: inside (0, 1) the loss is exact; outside, log of a negative number is NaN."""
    net = sbp.mlp([1, 1], "identity", "binary_cross_entropy")
    model = net.compile()
    params = {"w1_1_1": 1.0, "b1_1": 0.0}
    a, y = 1e-30, 1.0  # a clipped to 1e-12 would give 27.6
    assert model.loss(params, [[a]], [[y]]) == pytest.approx(-np.log(a), rel=1e-14)
    assert model.gradient(params, [[a]], [[y]])[net.b(1, 1)] == pytest.approx(-1 / a, rel=1e-14)
    with pytest.warns(RuntimeWarning, match="invalid value"):
        assert np.isnan(model.loss(params, [[-5.0]], [[1.0]]))


def test_predict_matches_a_hand_written_forward_pass():
    net = sbp.mlp([2, 3, 2], ["relu", "softmax"], "cross_entropy")
    model = net.compile()
    rng = np.random.default_rng(1)
    params = net.init_params(seed=3)
    X = rng.normal(size=(5, 2))
    (W1, b1), (W2, b2) = sbp.to_arrays(net, params)
    Z = np.maximum(X @ W1.T + b1, 0) @ W2.T + b2
    want = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(params, X), want, rtol=1e-13)


def test_bad_shapes_name_the_expected_shape():
    model = sbp.mlp([2, 3, 2]).compile()
    params = sbp.init_params(model.spec)
    with pytest.raises(sbp.SpecError, match=r"X must have shape \(n_samples, 2\).*got \(4, 3\)"):
        model.predict(params, np.zeros((4, 3)))
    with pytest.raises(sbp.SpecError, match=r"Y must have shape \(4, 2\).*got \(4, 1\)"):
        model.loss(params, np.zeros((4, 2)), np.zeros((4, 1)))
    with pytest.raises(sbp.SpecError, match="array of numbers"):
        model.predict(params, [["a", "b"]])
    with pytest.raises(sbp.SpecError, match="lack"):
        model.predict({}, np.zeros((1, 2)))


def test_one_dimensional_targets_for_one_output():
    net = sbp.mlp([2, 1], "sigmoid", "quadratic")
    model, params = net.compile(), net.init_params(0)
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert model.loss(params, X, [1.0, 0.0]) == model.loss(params, X, [[1.0], [0.0]])


def test_backends():
    net = sbp.mlp([2, 1])
    with pytest.raises(sbp.UnknownNameError, match="Known: numpy, jax"):
        net.compile(backend="tensorflow")
    try:
        import jax  # noqa: F401
    except ImportError:
        with pytest.raises(sbp.SymbackpropError, match=r'pip install "symbackprop\[jax\]"'):
            net.compile(backend="jax")


def test_compiling_builds_no_scalar_graph():
    net = sbp.mlp([64, 128, 128, 10], ["relu", "relu", "softmax"], "cross_entropy")
    model = net.compile()
    assert "graph" not in vars(net) and "backprop" not in vars(net)
    assert model.predict(net.init_params(0), np.zeros((2, 64))).shape == (2, 10)


def test_source_is_the_code_that_runs():
    net = sbp.mlp([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    src = net.compile().source()
    for line in [
        "def step(P, X, Y, lr):",
        "    Z1 = X @ W1.T + b1",
        "    A1 = tanh(Z1)",
        "    A2, C2, LA2, LC2 = sigmoid_parts(Z2)  # σ(±z), log σ(±z)",
        "    loss = (-LA2*Y - LC2*(1 - Y)).sum() / n",
        "    D2 = A2*(1 - Y) - C2*Y",
        "    D1 = D2 @ W2",
        "    D1 *= sech2(Z1)",
    ]:
        assert line in src.splitlines()
    compile(src, "<generated>", "exec")


def test_relu_derivative_is_zero_at_zero():
    net = sbp.mlp([1, 1, 1], ["relu", "identity"], "quadratic")
    params = {"w1_1_1": 1.0, "b1_1": 0.0, "w2_1_1": 1.0, "b2_1": 0.0}
    grad = net.compile().gradient(params, [[0.0]], [[1.0]])
    assert grad[net.w(1, 1, 1)] == 0.0 and grad[net.b(1, 1)] == 0.0


def test_the_network_keeps_one_model_per_backend(monkeypatch):
    import symbackprop.compiler as compiler

    net = sbp.mlp([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    model = net.compile()
    assert net.compile() is model and net.compile(backend="numpy") is model
    assert sbp.mlp([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy").compile() is not model

    def refuse(*args, **kwargs):
        raise AssertionError("compiled again")

    # train() takes the network's model: no second compilation.
    monkeypatch.setattr(compiler, "compile_network", refuse)
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    params, _ = sbp.train(net, X, [1.0, 0.0], epochs=2, batch_size=2, progress=False)
    assert len(params) == len(net.params)
    with pytest.raises(AssertionError, match="compiled again"):
        sbp.mlp([2, 1]).compile()


def test_a_new_backend_is_one_object():
    from symbackprop.compiler.backends import NumPyBackend

    class Counting(NumPyBackend):
        """A target that differs only in how the functions are wrapped (counts the steps)."""

        name = "counting"

        def wrap(self, fns):
            self.steps = 0

            def step(*args):
                self.steps += 1
                return fns["step"](*args)

            return {**fns, "step": step}

    net = sbp.mlp([2, 3, 2], ["relu", "softmax"], "cross_entropy")
    target = Counting()
    model = sbp.compile_network(net, backend=target)
    assert model.backend is target and "counting" in repr(model)
    assert net.compile(backend=target) is not model  # objects are not kept by the network
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(4, 2)), np.eye(2)[[0, 1, 1, 0]]
    params = net.init_params(0)
    assert model.source() == net.compile().source()
    P = model.arrays(params)
    loss = model.step(P, X, Y, 0.1)
    assert target.steps == 1
    # Against the NumPy model (checked against sympy.diff above): one SGD step by hand.
    ref = net.compile()
    assert loss == pytest.approx(ref.loss(params, X, Y), rel=1e-12)
    grad = ref.gradient(params, X, Y)
    assert np.allclose(np.concatenate([a.ravel() for a in P]),
                       [params[p] - 0.1 * grad[p] for p in net.params], rtol=1e-12, atol=1e-15)


def test_old_module_paths_reexport_the_compiler():
    import symbackprop.compile as old
    import symbackprop.compiler as compiler
    import symbackprop.compiler.stable as stable
    import symbackprop.stable as old_stable

    for name in ("CompiledModel", "compile_network", "output_forms", "numeric_derivative"):
        assert getattr(old, name) is getattr(compiler, name)
    assert sbp.CompiledModel is compiler.CompiledModel and sbp.compile_network is compiler.compile_network
    assert all(getattr(old_stable, name) is getattr(stable, name) for name in stable.__all__)
