"""The numba backend against the NumPy backend, and backend="auto".

The oracle is the NumPy backend (itself tested against sympy.diff and finite differences in
test_compile.py): predictions, losses, gradients and whole training runs agree to 1e-12 for
every registered activation and loss, custom formulas and random architectures. numba
compiles each architecture once per session (into a temporary cache directory).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.compiler import auto, numba_backend
from symbackprop.errors import BackendFallbackWarning, SymbackpropError, TrainingDivergedError

needs_numba = pytest.mark.skipif(not numba_backend.available(),
                                 reason='numba and SciPy are not installed (pip install "symbackprop[fast]")')

HIDDEN = ["identity", "sigmoid", "tanh", "arctan", "relu", "leaky_relu", "softplus",
          "z*sigmoid(z)", "max(z, 0) + sin(z)"]  # custom formulas too (swish; a numpy.heaviside)
OUTPUTS = [  # output activation x loss: every registered loss, each output kind
    ("sigmoid", "binary_cross_entropy"),
    ("sigmoid", "quadratic"),
    ("identity", "mse"),
    ("tanh", "quadratic"),
    ("softplus", "mse"),
    ("softmax", "cross_entropy"),
    ("softmax", "quadratic"),
    ("softmax", "binary_cross_entropy"),
    ("log(1 + exp(z))", "quadratic"),  # a custom output formula (softplus, rewritten stable)
]


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """A fresh cache for the session: nothing compiled before, nothing left in ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SYMBACKPROP_CACHE_DIR", str(tmp_path_factory.mktemp("sbp-cache")))
    yield
    mp.undo()


def data(sizes: list[int], out: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    if out == "softmax":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=n)]
    else:
        Y = rng.uniform(0.05, 0.95, size=(n, sizes[-1]))  # inside every loss's domain
    return X, Y


def close(a, b, tol: float = 1e-12) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))))


def values(p: dict) -> np.ndarray:
    return np.array(list(p.values()))


#: numba compiles each architecture once, in about 6 s per layer here (a 9-hidden-layer net:
#: about a minute): by default one deep net holds every hidden activation, with one output
#: kind, and the other output kinds sit on one hidden layer each (their code is the output
#: layer's: the loss, δ^(L)); SYMBACKPROP_TEST_NUMBA_ALL=1 runs every output and loss pair
#: on the deep net (about 10 minutes on 2 cores).
EVERY_PAIR = os.environ.get("SYMBACKPROP_TEST_NUMBA_ALL") == "1"
SUITE = [(HIDDEN, "sigmoid", "binary_cross_entropy"), (["tanh"], "softmax", "cross_entropy"),
         (["max(z, 0) + sin(z)"], "log(1 + exp(z))", "quadratic"),
         (["relu"], "identity", "mse")]  # the residual form: R = Z - Y, shared by loss and δ
CASES = [(HIDDEN, out, loss) for out, loss in OUTPUTS] if EVERY_PAIR else SUITE


@needs_numba
@pytest.mark.parametrize("hidden,out,loss", CASES, ids=lambda v: f"{len(v)}-hidden" if isinstance(v, list) else v)
def test_agrees_with_numpy_for_every_activation_and_loss(hidden: list[str], out: str, loss: str):
    sizes = [3] + [3] * len(hidden) + [3]
    net = sbp.mlp(sizes, [*hidden, out], loss)
    fast, ref = net.compile("numba"), net.compile("numpy")
    assert fast.backend.name == "numba" and "def epoch_sgd" in fast.source()
    X, Y = data(sizes, out, 10, 1)
    p = net.init_params(seed=2)
    assert close(fast.predict(p, X), ref.predict(p, X))
    assert close(fast.loss(p, X, Y), ref.loss(p, X, Y))
    assert close(values(fast.gradient(p, X, Y)), values(ref.gradient(p, X, Y)))
    for momentum in (0.0, 0.9):
        a, ha = sbp.train(net, X, Y, epochs=3, lr=0.05, batch_size=4, params=p, momentum=momentum, accuracy=True,
                          backend="numba", progress=False)
        b, hb = sbp.train(net, X, Y, epochs=3, lr=0.05, batch_size=4, params=p, momentum=momentum, accuracy=True,
                          backend="numpy", progress=False)
        assert ha.backend == "numba" and hb.backend == "numpy"
        assert close(values(a), values(b)) and close(ha.loss, hb.loss) and ha.accuracy == hb.accuracy


@needs_numba
@settings(max_examples=12 if EVERY_PAIR else 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=2),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    family=st.sampled_from([("tanh", "sigmoid", "binary_cross_entropy"), ("relu", "softmax", "cross_entropy")]),
    n=st.integers(1, 20),
    batch=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_random_architectures_train_like_numpy(hidden, n_in, n_out, family, n, batch, seed):
    act, out, loss = family
    sizes = [n_in, *hidden, max(n_out, 2) if out == "softmax" else n_out]
    net = sbp.mlp(sizes, [act] * len(hidden) + [out], loss)
    X, Y = data(sizes, out, n, seed)
    if out == "sigmoid":
        Y = (Y > 0.5).astype(float)
    p = net.init_params(seed=seed)
    a, ha = sbp.train(net, X, Y, epochs=4, lr=0.1, batch_size=batch, params=p, seed=seed,
                      backend="numba", progress=False)
    b, hb = sbp.train(net, X, Y, epochs=4, lr=0.1, batch_size=batch, params=p, seed=seed,
                      backend="numpy", progress=False)
    assert close(values(a), values(b)) and close(ha.loss, hb.loss)
    g = net.compile("numba").gradient(a, X, Y)
    assert close(values(g), values(net.compile("numpy").gradient(a, X, Y)))


@needs_numba
def test_same_seed_gives_bit_identical_runs():
    net = sbp.mlp([2, 5, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    X, Y = data([2, 5, 1], "sigmoid", 30, 3)
    runs = [sbp.train(net, X, Y, epochs=20, lr=0.3, batch_size=7, seed=5, backend="numba",
                      momentum=0.5, progress=False) for _ in range(2)]
    assert runs[0][0] == runs[1][0] and runs[0][1].loss == runs[1][1].loss


@needs_numba
def test_divergence_reports_what_numpy_reports():
    """The same epoch, batch and last good parameters as the NumPy loop."""
    net = sbp.mlp([1, 2, 1], "identity", "quadratic")
    X = np.array([[10.0], [-20.0], [15.0]])
    Y = np.array([[1.0], [2.0], [0.5]])
    errors = []
    for backend in ("numba", "numpy"):
        with pytest.raises(TrainingDivergedError) as info:
            sbp.train(net, X, Y, epochs=1000, lr=2.0, batch_size=1, seed=4, backend=backend)
        errors.append(info.value)
    assert str(errors[0]).split(": the loss")[0] == str(errors[1]).split(": the loss")[0]
    assert close(values(errors[0].params), values(errors[1].params))
    assert errors[0].history.loss == pytest.approx(errors[1].history.loss, rel=1e-12)


@needs_numba
def test_code_numba_cannot_compile_falls_back_to_numpy_with_a_note():
    """A loss that is not a sum over the outputs is written column by column (numpy.stack)."""
    loss = "(a1_1 - y1)**2 * (a1_2 - y2)**2 + (a1_1 - y1)**2"
    net = sbp.mlp([2, 2], "sigmoid", loss)
    with pytest.warns(BackendFallbackWarning, match="numba backend cannot compile numpy.stack in the 2-2 "):
        model = net.compile("numba")
    assert model.backend.name == "numpy"
    assert auto.choose_backend(sbp.mlp([2, 2], "sigmoid", loss), steps=10**9) == "numpy"
    X, Y = data([2, 2], "sigmoid", 8, 0)
    assert sbp.train(net, X, Y, epochs=2, backend="numba", progress=False)[1].backend == "numpy"


@needs_numba
def test_auto_compiles_only_for_long_runs_or_when_compiled():
    net = sbp.mlp([2, 3, 1], ["relu", "sigmoid"], "binary_cross_entropy")
    assert auto.choose_backend(net, steps=auto.WARM_MIN_STEPS) == "numpy"  # nothing cached yet
    assert auto.choose_backend(net, steps=auto.COLD_MIN_STEPS) == "numba"
    assert net.compile("auto").backend.name == "numpy"
    X, Y = data([2, 3, 1], "sigmoid", 8, 0)
    Y = (Y > 0.5).astype(float)
    assert sbp.train(net, X, Y, epochs=2, progress=False)[1].backend == "numpy"  # short: auto
    sbp.train(net, X, Y, epochs=2, backend="numba", progress=False)  # compiles, into the cache
    assert sbp.train(net, X, Y, epochs=2, progress=False)[1].backend == "numba"  # held by net
    fresh = sbp.mlp([2, 3, 1], ["relu", "sigmoid"], "binary_cross_entropy")
    assert auto.choose_backend(fresh, steps=10) == "numpy"
    assert auto.choose_backend(fresh, steps=auto.WARM_MIN_STEPS) == "numba"  # in the disk cache
    assert fresh.compile("auto").backend.name == "numba"


def test_without_numba_auto_is_numpy_and_numba_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(numba_backend, "available", lambda: False)
    net = sbp.mlp([2, 2, 1])
    assert auto.choose_backend(net, steps=10**9) == "numpy"
    assert net.compile("auto").backend.name == "numpy"
    with pytest.raises(SymbackpropError, match=r'needs numba and SciPy: pip install "symbackprop\[fast\]"'):
        net.compile("numba")


def test_unsupported_names_the_call():
    assert numba_backend.unsupported("def f(Z):\n    return scipy.special.erf(Z)").startswith("scipy.special")
    assert numba_backend.unsupported("def f(D, k):\n    return D.sum(axis=k)") == ".sum(axis=k)"
    assert numba_backend.unsupported("def f(D):\n    return numpy.tanh(D).sum(axis=0)") is None


@needs_numba
def test_cli_trains_on_numba_and_says_what_compiling_cost():
    from bounded import run_cli

    result = run_cli("train", "--layers", "2,4,1", "--activation", "tanh,sigmoid", "--loss",
                     "binary_cross_entropy", "--data", "xor", "--epochs", "50", "--lr", "0.5",
                     "--batch-size", "2", "--backend", "numba", memory=4 << 30, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "mean loss over the epoch" in result.stdout
    assert re.search(r"backend numba: (compiled|loaded from the cache) in [0-9.]+ s \(cache: ", result.stderr)
