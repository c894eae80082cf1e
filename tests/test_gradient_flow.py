"""Gradient flow: model.deltas, the recording during training, the bound, dead/saturated units.

Oracles: ∂J/∂b^(l) of ONE sample is δ^(l) of that sample, so per-sample δ is checked
against ``model.gradient`` on one-row batches and against central differences of the
compiled *loss* (no gradient code involved); the recorded norms against norms computed
here from those; the bound against a direct per-sample computation with NumPy's SVD.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.errors import SpecError, TrainingDivergedError
from symbackprop.flow import BOUND_TOLERANCE, SATURATED_SLOPE, TINY, Recorder, slope_bound

SEED = 20261126


def _data(n: int, n_in: int, n_out: int, seed: int = SEED, classes: bool = True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    if classes:
        Y = (rng.random((n, n_out)) < 0.5).astype(float)
    else:
        Y = rng.normal(size=(n, n_out))
    return X, Y


def _per_sample_deltas(net, model, params, X, Y):
    """δ^(l) of every sample from model.gradient on one-row batches (∂J/∂b = δ)."""
    L = net.n_layers
    out = [np.zeros((len(X), net.sizes[l])) for l in range(1, L + 1)]
    for k in range(len(X)):
        g = model.gradient(params, X[k : k + 1], Y[k : k + 1])
        for l in range(1, L + 1):
            for j in range(1, net.sizes[l] + 1):
                out[l - 1][k, j - 1] = g[net.b(l, j)]
    return out


NETS = [
    ([2, 3, 2, 1], ["sigmoid", "tanh", "sigmoid"], "binary_cross_entropy"),
    ([3, 4, 3], ["relu", "softmax"], "cross_entropy"),
    ([2, 3, 3, 2], ["leaky_relu", "arctan", "identity"], "quadratic"),
    ([2, 2, 2], ["softplus", "z/(1 + abs(z))"], "mse"),
]


@pytest.mark.parametrize("sizes, acts, loss", NETS)
def test_deltas_are_per_sample_bias_gradients(sizes, acts, loss):
    net = sbp.mlp(sizes, activation=acts, loss=loss)
    model = net.compile()
    params = net.init_params(seed=3)
    classes = loss in ("binary_cross_entropy",)
    X, Y = _data(6, sizes[0], sizes[-1], classes=classes)
    if loss == "cross_entropy":
        Y = np.eye(sizes[-1])[np.arange(6) % sizes[-1]]
    deltas = model.deltas(params, X, Y)
    assert [d.shape for d in deltas] == [(6, n) for n in sizes[1:]]
    for got, want in zip(deltas, _per_sample_deltas(net, model, params, X, Y)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_deltas_against_central_differences_of_the_loss():
    net = sbp.mlp([2, 3, 2, 1], activation=["tanh", "sigmoid", "sigmoid"], loss="binary_cross_entropy")
    model = net.compile()
    params = dict(net.init_params(seed=5))
    X, Y = _data(4, 2, 1, seed=1)
    deltas = model.deltas(params, X, Y)
    h = 1e-6
    for k in range(len(X)):
        for l in range(1, net.n_layers + 1):
            for j in range(1, net.sizes[l] + 1):
                b = net.b(l, j)
                up, down = dict(params), dict(params)
                up[b] += h
                down[b] -= h
                fd = (model.loss(up, X[k : k + 1], Y[k : k + 1]) - model.loss(down, X[k : k + 1], Y[k : k + 1])) / (2 * h)
                assert math.isclose(deltas[l - 1][k, j - 1], fd, rel_tol=1e-6, abs_tol=1e-9)


def _norms_at(net, params, X, Y):
    """What the recording must hold for params on (X, Y), computed independently."""
    model = net.compile()
    per = _per_sample_deltas(net, model, params, X, Y)
    g = model.gradient(params, X, Y)
    L = net.n_layers
    # math.hypot: exact scaling, no underflow of tiny entries (δ of a saturated net).
    gw = [math.hypot(*(g[net.w(l, j, k)] for j in range(1, net.sizes[l] + 1)
                       for k in range(1, net.sizes[l - 1] + 1))) for l in range(1, L + 1)]
    gb = [math.hypot(*(g[net.b(l, j)] for j in range(1, net.sizes[l] + 1))) for l in range(1, L + 1)]
    rms = [math.hypot(*(math.hypot(*row) for row in d)) / math.sqrt(len(d)) for d in per]
    W = [np.array([[params[net.w(l, j, k)] for k in range(1, net.sizes[l - 1] + 1)]
                   for j in range(1, net.sizes[l] + 1)]) for l in range(1, L + 1)]
    spectral = [float(np.linalg.svd(w, compute_uv=False).max()) for w in W]
    return per, rms, gw, gb, spectral


def test_recorded_norms_match_the_compiled_gradients():
    net = sbp.mlp([2, 4, 3, 1], activation=["tanh", "relu", "sigmoid"], loss="binary_cross_entropy")
    X, Y = _data(30, 2, 1)
    runs = {}
    for e in (1, 3):  # the same seed: an e-epoch run ends where the long run's epoch e does
        runs[e] = sbp.train(net, X, Y, epochs=e, lr=0.3, batch_size=7, seed=1, progress=False)[0]
    _, history = sbp.train(net, X, Y, epochs=3, lr=0.3, batch_size=7, seed=1, progress=False,
                           gradient_flow=True)
    flow = sbp.gradient_flow(history)
    assert flow.epochs == [1, 2, 3] and flow.eval_rows == 30 and flow.n_rows == 30
    for e, params in runs.items():
        _, rms, gw, gb, spectral = _norms_at(net, params, X, Y)
        np.testing.assert_allclose(flow.delta_norm[e - 1], rms, rtol=1e-10)
        np.testing.assert_allclose(flow.grad_w_norm[e - 1], gw, rtol=1e-10)
        np.testing.assert_allclose(flow.grad_b_norm[e - 1], gb, rtol=1e-10)
        np.testing.assert_allclose(flow.weight_norm[e - 1], spectral, rtol=1e-10)
        assert math.isclose(flow.loss[e - 1], net.compile().loss(params, X, Y), rel_tol=1e-12)


def test_evaluation_batch_is_evenly_spaced_rows_when_bounded():
    net = sbp.mlp([2, 3, 1], activation=["sigmoid", "sigmoid"], loss="quadratic")
    X, Y = _data(50, 2, 1)
    params, history = sbp.train(net, X, Y, epochs=1, lr=0.1, seed=2, progress=False, gradient_flow=7)
    flow = sbp.gradient_flow(history)
    assert (flow.eval_rows, flow.n_rows) == (7, 50)
    rows = np.linspace(0, 49, 7).round().astype(int)
    assert rows[0] == 0 and rows[-1] == 49
    _, rms, _, _, _ = _norms_at(net, params, X[rows], Y[rows])
    np.testing.assert_allclose(flow.delta_norm[0], rms, rtol=1e-10)


def _direct_ratios(net, params, X, Y):
    """max over samples of ‖δ^(l)‖ / (sup|f'|·‖W^(l+1)‖₂·‖δ^(l+1)‖), from per-sample bias gradients."""
    per, _, _, _, spectral = _norms_at(net, params, X, Y)
    out = []
    for l in range(net.n_layers - 1):
        s = slope_bound(net.activations[l]).value
        lhs = np.array([math.hypot(*row) for row in per[l]])
        rhs = s * spectral[l + 1] * np.array([math.hypot(*row) for row in per[l + 1]])
        assert np.all(lhs <= rhs * (1 + 1e-9) + 4 * TINY), (l + 1, lhs, rhs)
        big = rhs > TINY
        out.append(float(np.max(np.where(big, lhs / np.where(big, rhs, 1), 0.0))))
    return out


HIDDEN = ["sigmoid", "tanh", "relu", "arctan", "leaky_relu", "softplus", "identity"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hidden=st.lists(st.tuples(st.integers(1, 4), st.sampled_from(HIDDEN)), min_size=1, max_size=3),
    n_out=st.integers(1, 3),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
    seed=st.integers(0, 10_000),
)
# Found by hypothesis: a finite run whose norms overflow by the third epoch (loss 4e302).
@example(hidden=[(3, "relu"), (1, "identity"), (1, "identity")], n_out=2, scale=3.0, seed=2737)
def test_bound_holds_on_every_recorded_epoch(hidden, n_out, scale, seed):
    sizes = [2, *(n for n, _ in hidden), n_out]
    acts = [a for _, a in hidden] + ["sigmoid"]
    net = sbp.mlp(sizes, activation=acts, loss="binary_cross_entropy")
    params = {p: scale * v for p, v in net.init_params(seed).items()}
    X, Y = _data(12, 2, n_out, seed=seed)
    try:
        out, history = sbp.train(net, X, Y, epochs=3, lr=0.2, batch_size=5, seed=seed, params=params,
                                 progress=False, gradient_flow=True)
    except TrainingDivergedError as err:  # the epochs recorded before it must obey the bound too
        out, history = None, err.history
    flow = sbp.gradient_flow(history)
    assert flow.bound_holds
    # Where a run overflows on its way to diverging, a norm (and so its ratio) is NaN: no claim.
    ratio = flow.bound_ratio[:, :-1]
    assert np.all(ratio[~np.isnan(ratio)] <= 1 + BOUND_TOLERANCE)
    assert np.all(np.isnan(flow.bound_ratio[:, -1]))  # the output layer has no bound
    delta, bound = flow.delta_norm[:, :-1], flow.bound[:, :-1]
    known = ~np.isnan(delta) & ~np.isnan(bound)
    assert np.all(delta[known] <= bound[known] * (1 + BOUND_TOLERANCE) + 4 * TINY)
    sup = np.array([b.value for b in flow.slope_bounds], dtype=float)
    assert np.all(flow.max_slope <= sup * (1 + BOUND_TOLERANCE))  # no slope above its bound
    if out is None or not flow.epochs or not np.all(np.isfinite(flow.delta_norm[-1])):
        return  # no last epoch, or its norms overflowed: nothing to compare
    # The last epoch's ratios are those computed here directly.
    with np.errstate(over="ignore", invalid="ignore"):
        direct = _direct_ratios(net, out, X, Y)
    np.testing.assert_allclose(flow.bound_ratio[-1, :-1], direct, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "arctan", "relu", "leaky_relu", "softplus",
                                  "identity", "z/(1 + abs(z))", "z*sigmoid(z)", "sin(z)"])
def test_slope_bound_is_the_supremum(name):
    """An upper bound of |f'| on a dense grid (sympy.diff evaluated with mpmath), and attained."""
    import mpmath

    act = sbp.mlp([1, 1], activation=name).activations[0]
    d = sp.diff(act.expr, sp.Symbol("z", real=True)) if name != "relu" else None
    b = slope_bound(name)
    assert b.value is not None and b.method in ("symbolic", "numeric")
    zs = np.linspace(-12, 12, 24_001)
    if d is None:  # relu: 0 or 1
        values = (zs > 0).astype(float)
    else:
        z = next(iter(act.expr.free_symbols))
        f = sp.lambdify(z, sp.diff(act.expr, z), "mpmath")
        values = np.array([abs(float(f(mpmath.mpf(float(v))))) for v in zs[::6]])
    assert values.max() <= b.value * (1 + 1e-9)
    assert values.max() >= b.value * (1 - 1e-4)


def test_slope_bounds_from_the_registry():
    assert [slope_bound(n).exact for n in ("sigmoid", "tanh", "relu", "arctan")] == ["1/4", "1", "1", "1"]
    assert slope_bound("softmax").value is None
    # The registry's declared bounds are what SymPy works out from f' (tanh' takes seconds).
    from symbackprop.activations import get_activation
    from symbackprop.flow import _sup_abs

    for name in ("sigmoid", "arctan", "leaky_relu"):
        act = get_activation(name)
        assert _sup_abs(act.derivative()).exact == sp.sstr(act.max_slope)
    assert slope_bound("z**3").value is None and slope_bound("z**3").exact == "no bound"
    # A registered custom activation gets its bound from its formula.
    sbp.register_activation("bump_demo", "exp(-z**2)")
    try:
        b = slope_bound("bump_demo")
        assert b.method == "symbolic" and math.isclose(b.value, math.sqrt(2) * math.exp(-0.5), rel_tol=1e-12)
    finally:
        sbp.unregister_activation("bump_demo")


def test_dead_and_saturated_units_are_named():
    net = sbp.mlp([2, 3, 3, 1], activation=["relu", "sigmoid", "sigmoid"], loss="binary_cross_entropy")
    params = dict(net.init_params(seed=0))
    params[net.b(1, 2)] = -100.0  # z^(1)_2 < 0 on every sample: dead, and stays dead
    params[net.b(2, 3)] = 60.0  # σ'(z^(2)_3) ≈ e^-60: saturated but not zero
    X, Y = _data(40, 2, 1)
    _, history = sbp.train(net, X, Y, epochs=4, lr=0.05, seed=0, params=params, progress=False,
                           gradient_flow=True)
    flow = sbp.gradient_flow(history)
    assert [(u.name, u.text, u.since) for u in flow.dead] == [("a1_2", "a⁽¹⁾₂", 1)]
    assert [(u.name, u.text) for u in flow.saturated] == [("a2_3", "a⁽²⁾₃")]
    assert flow.saturated[0].share == 0.0  # its slope is tiny, never exactly 0
    # Independent check of the definitions on the final parameters.
    model = net.compile()
    out = sbp.train(net, X, Y, epochs=4, lr=0.05, seed=0, params=params, progress=False)[0]
    Z1 = X @ np.array([[out[net.w(1, j, k)] for k in (1, 2)] for j in (1, 2, 3)]).T + [out[net.b(1, j)] for j in (1, 2, 3)]
    assert np.all(Z1[:, 1] <= 0) and not np.all(Z1[:, [0, 2]] <= 0, axis=0).any()
    assert "a⁽¹⁾₂ (since epoch 1)" in flow.text()
    assert model.deltas(out, X, Y)[0][:, 1].tolist() == [0.0] * 40
    assert SATURATED_SLOPE * 0.25 > math.exp(-60)


def test_recording_off_changes_nothing(monkeypatch):
    net = sbp.mlp([2, 4, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    X, Y = _data(25, 2, 1)
    kw = dict(epochs=5, lr=0.4, batch_size=6, seed=4, progress=False, momentum=0.5)
    p_on, h_on = sbp.train(net, X, Y, gradient_flow=True, **kw)

    def boom(*args, **kwargs):
        raise AssertionError("recording ran although it is off")

    monkeypatch.setattr("symbackprop.flow.Recorder", boom)
    p_off, h_off = sbp.train(net, X, Y, **kw)
    p_default, h_default = sbp.train(net, X, Y, gradient_flow=False, **kw)
    assert h_off.gradient_flow is None and h_default.gradient_flow is None
    for p in net.params:  # bit-identical: recording reads the parameters, never moves them
        assert p_on[p] == p_off[p] == p_default[p]
    assert h_on.loss == h_off.loss and h_on.accuracy == h_off.accuracy
    assert (h_off.epochs, h_off.interrupted, h_off.stopped_early) == (5, False, False)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "yes", None])
def test_bad_setting_is_one_clear_error(bad):
    net = sbp.mlp([2, 1], activation="sigmoid", loss="quadratic")
    with pytest.raises(SpecError, match=r"^gradient_flow must be True, False or the most evaluation rows"):
        sbp.train(net, [[0.0, 1.0]], [[1.0]], epochs=1, progress=False, gradient_flow=bad)


def test_gradient_flow_of_a_history_without_recording():
    net = sbp.mlp([2, 1], activation="sigmoid", loss="quadratic")
    _, h = sbp.train(net, [[0.0, 1.0]], [[1.0]], epochs=1, progress=False)
    with pytest.raises(SpecError, match="gradient_flow=True"):
        sbp.gradient_flow(h)
    with pytest.raises(SpecError, match="no gradient-flow recording"):
        sbp.gradient_flow({"loss": [1.0]})


def test_to_dict_is_json_and_complete():
    net = sbp.mlp([2, 3, 3, 2], activation=["relu", "tanh", "softmax"], loss="cross_entropy")
    X, _ = _data(20, 2, 1)
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    _, history = sbp.train(net, X, Y, epochs=2, progress=False, gradient_flow=True)
    flow = sbp.gradient_flow(history)
    d = json.loads(json.dumps(flow.to_dict(), allow_nan=False))
    assert d["epochs"] == [1, 2] and d["sizes"] == [2, 3, 3, 2]
    assert d["delta_norm"] == flow.delta_norm.tolist()
    assert d["bound"][0][2] is None and d["slope_bounds"][2]["method"] == "softmax"
    assert d["bound_holds"] is True
    assert d["max_slope"][0][2] is None and 0 < d["max_slope"][0][1] <= 1
    assert "gradient_flow=FlowRecording(" in repr(history) and "records" not in repr(history)


def test_plot_is_written_atomically(tmp_path):
    net = sbp.mlp([2, 3, 3, 1], activation=["sigmoid", "relu", "sigmoid"], loss="binary_cross_entropy")
    X, Y = _data(20, 2, 1)
    _, history = sbp.train(net, X, Y, epochs=3, progress=False, gradient_flow=True)
    path = tmp_path / "flow.png"
    d = sbp.plot_gradient_flow(history, path)
    assert d.kind == "gradient-flow" and d.lines == ["|δ(1)|", "bound 1", "|δ(2)|", "bound 2", "|δ(3)|"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["flow.png"]  # no temporary file left
    assert sbp.plot_gradient_flow(sbp.gradient_flow(history)).lines == d.lines


def test_recorder_works_for_a_model_without_generated_flow():
    """A backend whose generator makes no ``flow`` falls back to the NumPy model's."""
    net = sbp.mlp([2, 3, 1], activation=["tanh", "sigmoid"], loss="quadratic")
    model = sbp.compile_network(net)
    model.flow = None
    X, Y = _data(10, 2, 1)
    rec = Recorder(model, X, Y, True)
    rec.record(model.arrays(net.init_params(0)), 1)
    assert rec.model is not model and rec.recording.epochs == [1]


def test_deltas_of_a_backend_without_them_is_a_clear_error():
    net = sbp.mlp([2, 1], activation="sigmoid", loss="quadratic")
    model = sbp.compile_network(net)
    model._deltas = None  # what a backend whose own generator makes no ``deltas`` leaves
    with pytest.raises(SpecError, match=r"^The numpy backend does not generate deltas; compile with"):
        model.deltas(net.init_params(0), [[0.0, 1.0]], [[1.0]])


def test_generated_source_shows_the_diagnostics():
    src = sbp.mlp([2, 3, 1], activation=["relu", "sigmoid"]).compile().source()
    assert "def deltas(P, X, Y):" in src and "def flow(P, X, Y):" in src
    assert src.index("def flow") > src.index("def step_momentum")  # appended: earlier code unchanged
