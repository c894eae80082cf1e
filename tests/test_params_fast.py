"""Parameter conversion without a lookup per key: ``FlatParameters`` (what ``train`` and
``model.gradient`` return) and the one-pass read of a mapping keyed by the network's own
symbols. The oracle is the by-name path (a plain dict keyed by names), and for gradients
``sympy.diff`` of the expanded loss."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.errors import SpecError
from symbackprop.params import FlatParameters, Parameters, to_arrays


def by_name(p) -> dict[str, float]:
    return {k.name: v for k, v in p.items()}


def flat(arrays) -> np.ndarray:
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in arrays])


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), seed=st.integers(0, 2**16))
def test_every_key_form_reads_the_same_arrays(sizes, seed):
    net = sbp.mlp(sizes)
    p = net.init_params(seed=seed)
    want = flat(to_arrays(net, by_name(p)))  # by name: the reference path
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(p))
    keys = list(p)
    shuffled = {keys[i]: p[keys[i]] for i in order}  # own symbols, another order
    plain = {sp.Symbol(k.name): v for k, v in p.items()}  # plain Symbols: by name
    mixed = {k: np.float64(v) if i % 3 == 0 else sp.Float(v) if i % 3 == 1 else v
             for i, (k, v) in enumerate(p.items())}  # values of other number types
    view = FlatParameters(net, want)
    for form in (p, shuffled, plain, mixed, view, dict(view)):
        assert np.array_equal(flat(to_arrays(net, form)), want)


def test_flat_parameters_is_a_mapping_like_the_dict():
    net = sbp.mlp([2, 3, 1])
    p = net.init_params(seed=1)
    view = FlatParameters(net, flat(to_arrays(net, p)))
    assert view == p and p == view and dict(view) == dict(p) and repr(view) == repr(p)
    assert list(view) == list(p) and list(view.values()) == list(p.values())
    assert list(view.items()) == list(p.items()) and len(view) == len(p)
    w = net.params[0]
    assert view["w1_1_1"] == view[sp.Symbol("w1_1_1")] == view[w] == p[w]
    assert "b2_1" in view and "b9_9" not in view and view.get("b9_9", "none") == "none"
    with pytest.raises(KeyError):
        view["b9_9"]
    assert pickle.loads(pickle.dumps(view)) == view
    other = view.copy()
    other[w] = 7.5  # a value written into the array; the copy is its own
    assert other[w] == 7.5 and view[w] == p[w] and other != view
    assert to_arrays(net, other)[0][0][0, 0] == 7.5
    del other[w]  # a removed key: a dict from then on, and to_arrays names what is missing
    assert w not in other and len(other) == len(p) - 1
    with pytest.raises(SpecError, match="lack 1 of this network's 13, e.g. w1_1_1"):
        to_arrays(net, other)
    other["w1_1_1"] = 1.0
    assert to_arrays(net, other)[0][0][0, 0] == 1.0


def test_bad_values_are_named_in_every_path():
    net = sbp.mlp([1, 1])
    for p in ({net.params[0]: 1.0, net.params[1]: "x"}, {"w1_1_1": 1.0, "b1_1": object()}):
        with pytest.raises(SpecError, match="Parameter values must be numbers"):
            to_arrays(net, p)
    with pytest.raises(SpecError, match="Expected 2 parameter values"):
        FlatParameters(net, np.zeros(3))


def test_train_and_gradient_return_views_that_round_trip():
    net = sbp.mlp([2, 3, 1], ["tanh", "identity"], "quadratic")
    X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.5, 2.0]])
    Y = np.array([[1.0], [-1.0], [0.5]])
    p, _ = sbp.train(net, X, Y, epochs=3, lr=0.1, batch_size=2, seed=3, progress=False)
    assert isinstance(p, FlatParameters)
    start = p.copy()
    a, _ = sbp.train(net, X, Y, epochs=3, lr=0.1, batch_size=2, seed=3, progress=False, params=p)
    b, _ = sbp.train(net, X, Y, epochs=3, lr=0.1, batch_size=2, seed=3, progress=False,
                     params=Parameters(p.items()))
    assert a == b and a != p and p == start  # the view and the dict start the same run; p untouched
    model = net.compile()
    g = model.gradient(p, X[:1], Y[:1])
    assert isinstance(g, FlatParameters)
    # The expanded dJ/dq (sympy.diff of the loss in x, y and the parameters), one sample.
    values = {**{net.x(j): X[0, j - 1] for j in (1, 2)}, net.y(1): Y[0, 0], **dict(p)}
    for q in net.params:
        exact = float(sp.N(net.grad(q, expand=True).subs(values), 30))
        assert g[q] == pytest.approx(exact, rel=1e-10, abs=1e-12)
