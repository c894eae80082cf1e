"""Targets outside the loss's domain and non-finite values are refused where data enters."""

from __future__ import annotations

import os

import numpy as np
import pytest
import sympy as sp
from bounded import run_cli

import symbackprop as sbp
from symbackprop.datasets import Dataset, for_network, load_csv
from symbackprop.domain import TARGET_DOMAINS, check_targets

X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def bce_net():
    return sbp.mlp([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy")


def ce_net():
    return sbp.mlp([2, 3, 3], ["tanh", "softmax"], "cross_entropy")


def test_every_domain_names_a_registered_loss():
    assert set(TARGET_DOMAINS) <= set(sbp.LOSSES)


def test_a_registered_loss_declares_its_domain_in_the_registry():
    loss = sbp.register_loss(
        "poisson_demo", lambda a, y: sp.Add(*[ai - yi * sp.log(ai) for ai, yi in zip(a, y)]),
        targets=(0.0, np.inf, "counts (y >= 0)"),
    )
    try:
        assert TARGET_DOMAINS["poisson_demo"] == (0.0, np.inf, "counts (y >= 0)")
        net = sbp.mlp([2, 1], "softplus", "poisson_demo")
        model = net.compile()
        params = net.init_params(0)
        assert np.isfinite(model.loss(params, X4, [[0.0], [3.0], [7.0], [1.0]]))
        with pytest.raises(sbp.DataError, match=r"row 1, column 0 .* holds -2.0, outside the domain of the loss 'poisson_demo': its targets are counts"):
            model.loss(params, X4, [[0.0], [-2.0], [7.0], [1.0]])
    finally:
        del sbp.LOSSES[loss.name]
    assert "poisson_demo" not in TARGET_DOMAINS


def test_the_refused_targets_make_the_loss_unbounded_below():
    """The oracle for the table: outside [0, 1], BCE (and CE for y < 0) has no minimum."""
    a, y = sp.symbols("a y")
    bce = sbp.LOSSES["binary_cross_entropy"]([a], [y])
    ce = sbp.LOSSES["cross_entropy"]([a], [y])
    assert sp.limit(bce.subs(y, 2), a, 1, "-") == -sp.oo
    assert sp.limit(bce.subs(y, -1), a, 0, "+") == -sp.oo
    assert sp.limit(ce.subs(y, -1), a, 0, "+") == -sp.oo
    # Inside [0, 1] the only stationary point is a = y, a finite minimum.
    assert sp.solve(sp.diff(bce, a), a) == [y]


@pytest.mark.parametrize(
    "net, Y, value, row, col",
    [
        (bce_net(), [[0.0], [1.0], [2.0], [0.0]], 2.0, 2, 0),
        (bce_net(), [[0.0], [-1.0], [1.0], [0.0]], -1.0, 1, 0),
        (ce_net(), [[1, 0, 0], [0, 0, 2], [0, 1, 0], [1, 0, 0]], 2.0, 1, 2),
        (ce_net(), [[1, 0, 0], [0, 1, 0], [5, 0, 0], [1, 0, 0]], 5.0, 2, 0),
        (ce_net(), [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, -1, 1]], -1.0, 3, 1),
    ],
)
def test_targets_outside_the_domain_are_refused_everywhere(net, Y, value, row, col):
    Y = np.array(Y, dtype=float)
    loss = net.loss.name
    match = (rf"Y at row {row}, column {col} \(counting from 0\) holds {value}, outside the "
             rf"domain of the loss '{loss}'")
    model = net.compile()
    params = net.init_params(0)
    with pytest.raises(sbp.DataError, match=match):
        sbp.train(net, X4, Y, epochs=1)
    with pytest.raises(sbp.DataError, match=match):
        model.loss(params, X4, Y)
    with pytest.raises(sbp.DataError, match=match):
        model.gradient(params, X4, Y)


def test_targets_inside_the_domain_are_accepted():
    soft = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0], [0.25, 0.25, 0.25], [1.0, 0.0, 0.0]])
    assert np.isfinite(ce_net().compile().loss(ce_net().init_params(0), X4, soft))  # rows need not sum to 1
    assert np.isfinite(bce_net().compile().loss(bce_net().init_params(0), X4, [0.0, 0.5, 1.0, 0.0]))
    quad = sbp.mlp([2, 1], "identity", "quadratic")
    assert np.isfinite(quad.compile().loss(quad.init_params(0), X4, [-7.0, 1e6, 0.0, 2.0]))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_inputs_are_refused_by_predict_loss_and_train(value):
    X = X4.copy()
    X[3, 1] = value
    model = bce_net().compile()
    params = bce_net().init_params(0)
    match = rf"X holds a non-finite value \({value}\) at row 3, column 1"
    with pytest.raises(sbp.DataError, match=match):
        model.predict(params, X)
    with pytest.raises(sbp.DataError, match=match):
        model.loss(params, X, np.zeros(4))
    with pytest.raises(sbp.SpecError, match=match):  # still a SpecError, as it was
        sbp.train(bce_net(), X, np.zeros(4))


def test_for_network_names_the_file_line_and_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x1,x2,y\n0,0,0\n\n0,1,1\n1,0,2\n")
    data = load_csv(path)
    with pytest.raises(sbp.DataError, match=r"d.csv, line 5, column 'y' holds 2.0, outside the domain of the loss 'binary_cross_entropy': its targets are probabilities in \[0, 1\]"):
        for_network(data, bce_net())
    # A dataset made in memory: the array's row and column.
    with pytest.raises(sbp.DataError, match=r"X holds a non-finite value \(inf\) at row 0"):
        for_network(Dataset(np.array([[np.inf, 0.0]]), np.zeros((1, 1)), ("a", "b"), ("y",)), bce_net())


def test_class_numbers_become_one_hot_and_pass():
    data = Dataset(X4, np.array([[0.0], [2.0], [1.0], [0.0]]), ("a", "b"), ("c",))
    assert for_network(data, ce_net()).Y.sum(axis=1).tolist() == [1.0] * 4


def test_check_targets_skips_custom_losses_and_empty_targets():
    check_targets("quadratic", np.array([[1e9]]))
    check_targets("binary_cross_entropy", np.empty((0, 1)))
    net = sbp.mlp([1, 1], "sigmoid", "-y1*log(a1_1)")  # a custom formula: domain unknown
    check_targets(net.loss, np.array([[3.0]]))


@pytest.mark.skipif(os.name != "posix", reason="resource limits")
def test_the_command_line_says_it_in_one_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x1,x2,y\n0,0,0\n0,1,5\n")
    out = run_cli("train", "--layers", "2,3,1", "--activation", "tanh,sigmoid",
                  "--loss", "binary_cross_entropy", "--data", str(path), "--epochs", "1")
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "d.csv, line 3, column 'y' holds 5.0, outside the domain of the loss 'binary_cross_entropy'" in out.stderr
