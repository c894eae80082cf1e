"""Data-parallel training, ``backend="jax-sharded"`` (compiler/backends.py, jax_loop.py).

XLA's CPU client shows one device unless ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
is set before jax is imported, so the multi-device runs happen in a child process
(tests/bounded.py) that sets it first. The oracle is one-device training
(``backend="jax"``, itself checked against the NumPy loop in test_train_jax.py): split
batches with the partial gradients summed over the devices must give the same parameters
up to the order of the sums (1e-12). The compiled epoch must contain an all-reduce, so
that the batch really was split.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from bounded import run_python

import symbackprop as sbp
from symbackprop.errors import SpecError

pytest.importorskip("jax")

CHILD = r'''
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"  # before jax is imported
import json
import numpy as np
import jax
import symbackprop as sbp
from symbackprop.compiler import JaxShardedBackend
from symbackprop.errors import SpecError

out = {"devices": len(jax.devices())}
rng = np.random.default_rng(0)
X = rng.normal(size=(38, 3))
Y = np.eye(3)[rng.integers(0, 3, size=38)]
cases = {  # name: (network, batch size, momentum); 38 rows: ragged last batches of 6 and 2
    "relu-softmax b8": (sbp.mlp([3, 8, 3], ["relu", "softmax"], "cross_entropy"), 8, 0.0),
    "tanh-sigmoid b4 momentum": (sbp.mlp([3, 5, 3], ["tanh", "sigmoid"], "binary_cross_entropy"), 4, 0.9),
}
for name, (net, batch, mu) in cases.items():
    one, hist1 = sbp.train(net, X, Y, epochs=8, lr=0.3, batch_size=batch, seed=1, momentum=mu, accuracy=True,
                           backend="jax", progress=False)
    for k in (2, 4):
        backend = "jax-sharded" if k == 4 else JaxShardedBackend(devices=k)
        many, hist = sbp.train(net, X, Y, epochs=8, lr=0.3, batch_size=batch, seed=1, momentum=mu, accuracy=True,
                               backend=backend, progress=False)
        out[f"{name} on {k}"] = {
            "params": max(abs(one[p] - many[p]) for p in one),
            "scale": max(abs(v) for v in one.values()),
            "loss": max(abs(a - b) for a, b in zip(hist1.loss, hist.loss)),
            "accuracy": hist1.accuracy == hist.accuracy,
            "moved": max(abs(one[p] - v) for p, v in net.init_params(0).items()),
        }

# The compiled epoch sums the partial gradients over the devices.
net = sbp.mlp([3, 8, 3], ["relu", "softmax"], "cross_entropy")
model = net.compile(backend="jax-sharded")
program = model.backend.epoch_program(model)
P = model.backend.place(model.arrays(net.init_params(0)))
hyper = program.put(np.array([0.1, 0.0]))
Xd, Yd = program.put([X, Y])
hlo = program.epoch.lower(P, [], Xd, Yd, np.arange(38), hyper, batch_size=8,
                          with_momentum=False).compile().as_text()
out["all-reduce"] = "all-reduce" in hlo

errors = []
try:
    JaxShardedBackend(devices=8)
except SpecError as exc:
    errors.append(str(exc))
try:
    sbp.train(net, X, Y, epochs=1, batch_size=6, backend="jax-sharded", progress=False)
except SpecError as exc:
    errors.append(str(exc))
out["errors"] = errors
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def child():
    # XLA reserves address space generously: the memory bound is loose, the timeout is the point.
    result = run_python(CHILD, memory=16 << 30, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_four_forced_host_devices(child):
    assert child["devices"] == 4


@pytest.mark.parametrize("name", ["relu-softmax b8", "tanh-sigmoid b4 momentum"])
@pytest.mark.parametrize("k", [2, 4])
def test_sharded_params_equal_one_device(child, name, k):
    r = child[f"{name} on {k}"]
    assert r["moved"] > 1e-3  # training changed the parameters: the comparison has teeth
    assert r["params"] <= 1e-12 * max(1.0, r["scale"])
    assert r["loss"] <= 1e-12 and r["accuracy"]


def test_the_batch_is_split_and_gradients_all_reduced(child):
    assert child["all-reduce"]


def test_clear_errors_for_devices_and_batch_size(child):
    too_many, indivisible = child["errors"]
    assert too_many.startswith("devices=8 asks for more devices than JAX sees (4:")
    assert "xla_force_host_platform_device_count=8" in too_many and "\n" not in too_many
    assert indivisible == ("batch_size=6 does not split evenly over 4 devices: use a multiple "
                           "of 4 (or fewer devices).")


def test_one_device_here_and_bad_device_counts():
    import jax

    from symbackprop.compiler import JaxShardedBackend

    n = len(jax.devices())
    with pytest.raises(SpecError, match=f"devices={n + 1} asks for more devices than JAX sees"):
        JaxShardedBackend(devices=n + 1)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(SpecError, match="devices must be a whole number of at least 1"):
            JaxShardedBackend(devices=bad)
    # One device: the sharded backend is the one-device loop on a mesh of one.
    net = sbp.mlp([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 2)), rng.integers(0, 2, size=(10, 1)).astype(float)
    a = sbp.train(net, X, Y, epochs=3, batch_size=4, backend="jax", progress=False)[0]
    b = sbp.train(net, X, Y, epochs=3, batch_size=4, backend=JaxShardedBackend(devices=1), progress=False)[0]
    np.testing.assert_allclose(list(b.values()), list(a.values()), rtol=1e-12, atol=1e-12)
