"""save/load: bit-exact round trips, custom formulas, and every kind of bad file."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile

import numpy as np
import pytest
import sympy as sp
from bounded import deflate_bomb, npy_header, run_cli, run_python
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.activations import ACTIVATIONS, Z, register_activation
from symbackprop.errors import SpecError
from symbackprop.params import to_arrays
from symbackprop.store import FORMAT, FORMAT_VERSION, ModelFileError, Saved, load, save

NETS = [
    ([2, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy"),
    ([3, 5, 4, 2], ["relu", "leaky_relu", "softmax"], "cross_entropy"),
    ([2, 3, 2], ["z**2/2", "softplus"], "quadratic"),
    ([1, 2, 1], [sp.Lambda(Z, Z * sp.atan(Z)), sp.Max(0, Z) - Z / 4], "mse"),
    ([2, 2, 2], "arctan", "(a2_1 - y1)**2 + abs(a2_2 - y2)"),
    ([2, 2], "identity", sp.Symbol("a1_1") ** 2 * sp.Symbol("y2") + sp.log(1 + sp.Symbol("a1_2"))),
]


def bits(params):
    """The exact bit patterns of the parameter values, in order."""
    return np.array(list(params.values()), dtype=np.float64).view(np.int64).tolist()


def awkward_params(net, seed=0):
    """Values that a lossy format would alter: huge, tiny, subnormal, negative zero."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=len(net.params)) * 10.0 ** rng.integers(-300, 300, len(net.params))
    values[:3] = [-0.0, 5e-324, np.nextafter(1.0, 2.0)][: len(values)]
    return dict(zip(net.params, values.tolist()))


def same_network(a, b):
    assert a.sizes == b.sizes
    assert [x.name for x in a.activations] == [x.name for x in b.activations]
    assert [x.expr for x in a.activations] == [x.expr for x in b.activations]
    assert a.loss.name == b.loss.name
    assert sp.simplify(a.loss(a.outputs, a.targets) - b.loss(b.outputs, b.targets)) == 0
    # The rebuilt network derives the same gradients.
    for p in (a.params[0], a.params[-1]):
        assert sp.simplify(a.grad(p) - b.grad(p)) == 0


@pytest.mark.parametrize("sizes, act, loss", NETS)
def test_round_trip_is_bit_exact(tmp_path, sizes, act, loss):
    net = sbp.mlp(sizes, activation=act, loss=loss)
    params = awkward_params(net)
    path = tmp_path / "m.npz"
    save(path, net, params)
    saved = load(path)
    assert isinstance(saved, Saved) and saved.history is None and saved.meta == {}
    net2, params2 = saved
    assert list(params2) == list(net2.params) == list(net.params)
    assert bits(params2) == bits(params)
    same_network(net, net2)
    # Saving the loaded model again gives the same arrays and spec.
    save(tmp_path / "again.npz", net2, params2)
    with np.load(path) as one, np.load(tmp_path / "again.npz") as two:
        assert one.files == two.files
        for key in one.files:
            assert np.array_equal(one[key], two[key])


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    acts=st.lists(st.sampled_from(["relu", "tanh", "sigmoid", "identity", "z**3 - z"]), min_size=3, max_size=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_property(tmp_path_factory, sizes, acts, seed):
    net = sbp.mlp(sizes, activation=acts[: len(sizes) - 1], loss="quadratic")
    params = awkward_params(net, seed)
    path = tmp_path_factory.mktemp("p") / "m.npz"
    save(path, net, to_arrays(net, params))  # per-layer arrays are accepted too
    net2, params2 = load(path)
    assert net2.sizes == net.sizes and bits(params2) == bits(params)
    assert [a.expr for a in net2.activations] == [a.expr for a in net.activations]


def test_history_and_meta_round_trip(tmp_path):
    from symbackprop.training import History

    net = sbp.mlp([2, 1], "sigmoid", "binary_cross_entropy")
    history = History(loss=[0.7, 0.5, 0.1 + 0.2], accuracy=[0.5, 0.75, 1.0], epochs=3, interrupted=True)
    meta = {"features": ["x1", "x2"], "classes": None, "note": "ünïcode"}
    save(tmp_path / "h.npz", net, net.init_params(1), history, meta=meta)
    saved = load(tmp_path / "h.npz")
    assert saved.history == history and saved.meta == meta
    assert saved.history.loss[2] == 0.1 + 0.2
    assert load(tmp_path / "h.npz")[:2][1] == net.init_params(1)


def test_registered_custom_activation_survives_a_new_session(tmp_path):
    act = register_activation("cube_demo", "z**3", output_derivative="3*a**(2/3)")
    try:
        net = sbp.mlp([1, 1], activation="cube_demo", loss="quadratic")
        save(tmp_path / "c.npz", net, net.init_params(0))
    finally:
        del ACTIVATIONS["cube_demo"]
    net2, _ = load(tmp_path / "c.npz")  # not registered any more: rebuilt from the file
    assert net2.activations[0] == act
    # Registered again, but differently: the file and the registry disagree.
    register_activation("cube_demo", "z**2")
    try:
        with pytest.raises(ModelFileError, match=r"activation 'cube_demo' is 'z\*\*3'.*registered here as 'z\*\*2'"):
            load(tmp_path / "c.npz")
    finally:
        del ACTIVATIONS["cube_demo"]


def test_save_refuses_what_load_could_not_read(tmp_path):
    net = sbp.mlp([1, 1], activation=sp.sinh(Z), loss="quadratic")
    with pytest.raises(SpecError, match="Cannot save the activation 'sinh.z.'"):
        save(tmp_path / "s.npz", net, net.init_params(0))
    assert os.listdir(tmp_path) == []


def test_save_checks_params_and_meta(tmp_path):
    net = sbp.mlp([2, 1])
    with pytest.raises(SpecError, match="lack 1 of this network's 3"):
        save(tmp_path / "m.npz", net, {"w1_1_1": 1.0, "w1_1_2": 2.0})
    with pytest.raises(SpecError, match="meta must be a JSON-serialisable"):
        save(tmp_path / "m.npz", net, net.init_params(0), meta={"x": object()})
    with pytest.raises(ModelFileError, match="Cannot write model file"):
        save(tmp_path / "no" / "such" / "dir.npz", net, net.init_params(0))
    assert os.listdir(tmp_path) == []


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    net = sbp.mlp([2, 1])
    path = tmp_path / "m.npz"
    save(path, net, net.init_params(0))
    before = path.read_bytes()

    def broken(fh, **arrays):
        fh.write(b"PK half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(ModelFileError, match="No space left on device"):
        save(path, net, net.init_params(1))
    with pytest.raises(ModelFileError):
        save(tmp_path / "new.npz", net, net.init_params(1))
    assert os.listdir(tmp_path) == ["m.npz"] and path.read_bytes() == before
    monkeypatch.undo()
    # Interrupted (not an OSError): also cleaned up, and not swallowed.
    monkeypatch.setattr(np, "savez", lambda fh, **a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        save(path, net, net.init_params(1))
    assert os.listdir(tmp_path) == ["m.npz"] and path.read_bytes() == before


# ------------------------------------------------------------------ bad files
@pytest.fixture
def good(tmp_path):
    net = sbp.mlp([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
    path = tmp_path / "good.npz"
    save(path, net, net.init_params(0))
    return path


def rewrite(path, change):
    """Rewrite the archive at ``path`` with ``change(arrays)`` applied (a dict of arrays)."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    out = path.with_name("changed.npz")
    np.savez(out, **arrays)
    return out


def edit_spec(**fields):
    def change(arrays):
        spec = json.loads(str(arrays["spec"][()]))
        spec.update(fields)
        arrays["spec"] = np.array(json.dumps(spec))
    return change


def test_empty_file(good):
    good.write_bytes(b"")
    with pytest.raises(ModelFileError, match="good.npz is not a symbackprop model file: the file is empty"):
        load(good)


@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file(good, fraction):
    data = good.read_bytes()
    good.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ModelFileError, match="good.npz is not a symbackprop model file: truncated or corrupt"):
        load(good)


def test_flipped_byte_is_caught(good):
    data = bytearray(good.read_bytes())
    data[len(data) // 3] ^= 0xFF
    good.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load(good)


def test_files_that_are_not_models(tmp_path):
    cases = {
        "text.npz": lambda p: p.write_text("W1,b1\n1,2\n"),
        "one.npy": lambda p: np.save(p, np.zeros(3)),
        "plain.npz": lambda p: np.savez(p, x=np.zeros(2)),
        "zip.npz": lambda p: zipfile.ZipFile(p, "w").writestr("readme.txt", "hi"),
    }
    expected = {
        "text.npz": "not a NumPy .npz archive",
        "one.npy": "holds one NumPy array",
        "plain.npz": "has no 'spec' entry",
        "zip.npz": "has no 'spec' entry",
    }
    for name, make in cases.items():
        path = tmp_path / name
        make(path)
        with pytest.raises(ModelFileError, match=expected[name]) as info:
            load(path)
        assert "\n" not in str(info.value)
    with pytest.raises(ModelFileError, match="Cannot read model file .*missing.npz.*No such file"):
        load(tmp_path / "missing.npz")


def test_pickled_content_is_never_loaded(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    path = tmp_path / "pickled.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("spec.npy", buf.getvalue())
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        load(path)


def test_spec_problems(good):
    bad_json = rewrite(good, lambda a: a.__setitem__("spec", np.array("{not json")))
    with pytest.raises(ModelFileError, match="spec is not valid JSON"):
        load(bad_json)
    other = rewrite(good, edit_spec(format="something.else"))
    with pytest.raises(ModelFileError, match=f"does not say format '{FORMAT}'"):
        load(other)
    future = rewrite(good, edit_spec(version=FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match=f"format version {FORMAT_VERSION + 1}; this symbackprop reads version {FORMAT_VERSION}"):
        load(future)
    nonsense = rewrite(good, edit_spec(sizes=[2, 0, 1]))
    with pytest.raises(ModelFileError, match="network spec is invalid: Layer sizes must be positive"):
        load(nonsense)
    evil = rewrite(good, edit_spec(activations=[
        {"name": "x", "formula": "__import__('os').system('echo hi')"}, {"name": "sigmoid", "formula": "1/(1 + exp(-z))"},
    ]))
    with pytest.raises(ModelFileError, match="network spec is invalid"):
        load(evil)
    wrong_loss = rewrite(good, edit_spec(loss={"name": "binary_cross_entropy", "formula": "(a2_1 - y1)**2"}))
    with pytest.raises(ModelFileError, match="loss 'binary_cross_entropy' is"):
        load(wrong_loss)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda a: a.__setitem__("W1", np.zeros((2, 3))), r"array 'W1' is float64 of shape \(2, 3\); layer 1 of 2-3-1 needs float64 of shape \(3, 2\)"),
        (lambda a: a.__setitem__("b2", np.zeros(1, dtype=np.float32)), "array 'b2' is float32"),
        (lambda a: a.pop("b2"), "array 'b2' is missing"),
        (lambda a: a.__setitem__("W3", np.zeros((1, 1))), r"unexpected array\(s\) W3"),
        (lambda a: a.__setitem__("history_loss", np.zeros(3)), r"unexpected array\(s\) history_loss"),
    ],
)
def test_arrays_that_do_not_match_the_spec(good, change, match):
    with pytest.raises(ModelFileError, match="does not match its network spec: " + match):
        load(rewrite(good, change))


def test_public_names():
    assert sbp.save is save and sbp.load is load


# ------------------------------------------------------------------ hostile files
posix = pytest.mark.skipif(os.name != "posix", reason="resource limits, FIFOs and /dev/zero")


def load_in_child(path) -> str:
    """``load(path)`` in a child with bounded memory: the error it gives, as one line."""
    out = run_python(
        "import symbackprop as sbp\n"
        f"try:\n    sbp.load({str(path)!r})\nexcept sbp.ModelFileError as exc:\n"
        "    print('ModelFileError:', exc)\n"
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


@posix
def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    bomb = tmp_path / "bomb.npz"
    head = npy_header((2**28,))  # 2 GiB of float64
    deflate_bomb(bomb, "W1.npy", head, 2**31)
    assert bomb.stat().st_size < 4 << 20
    said = load_in_child(bomb)
    assert said.startswith("ModelFileError:") and "the arrays it declares is" in said
    assert "over the limit of 64 MiB; raise it with max_bytes=... or the environment variable SYMBACKPROP_MAX_MODEL_BYTES" in said


@posix
@pytest.mark.parametrize("where", ["npy", "npz"])
def test_a_header_claiming_2_to_the_40_elements_is_refused(tmp_path, where):
    path = tmp_path / f"huge.{where}"
    head = npy_header((2**40,))
    if where == "npy":
        path.write_bytes(head + bytes(64))
        expected = "holds one NumPy array, not an .npz archive"
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("W1.npy", head + bytes(64))
        expected = r"array 'W1' declares shape (1099511627776,) of float64 (8796093022208 bytes) but its entry holds 64 bytes"
    said = load_in_child(path)
    assert said.startswith("ModelFileError:") and expected in said


def test_declared_sizes_and_counts_are_checked(good, tmp_path, monkeypatch):
    with pytest.raises(ModelFileError, match="the model file is .* over the limit of 100 bytes; raise it with max_bytes="):
        load(good, max_bytes=100)
    monkeypatch.setenv("SYMBACKPROP_MAX_MODEL_SPEC_BYTES", "64")
    with pytest.raises(ModelFileError, match="the spec entry is .* over the limit of 64 bytes; raise it with the environment variable SYMBACKPROP_MAX_MODEL_SPEC_BYTES"):
        load(good)
    monkeypatch.delenv("SYMBACKPROP_MAX_MODEL_SPEC_BYTES")
    many = tmp_path / "many.npz"
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(4097):
            archive.writestr(f"x{i}.npy", b"")
    with pytest.raises(ModelFileError, match="declares 4097 entries .* at most 4096 arrays"):
        load(many)


def test_a_spec_with_huge_layers_is_refused_before_the_network_is_built(good):
    # 10⁶ × 10⁶ weights would take hours to build; the declared arrays say otherwise.
    huge = rewrite(good, edit_spec(sizes=[10**6, 10**6, 1]))
    with pytest.raises(ModelFileError, match=r"array 'W1' is float64 of shape \(3, 2\); layer 1 of 1000000-1000000-1 needs"):
        load(huge)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused_naming_the_parameter(good, value):
    def change(arrays):
        arrays["W2"] = arrays["W2"].copy()
        arrays["W2"][0, 2] = value
    with pytest.raises(ModelFileError, match=rf"parameter w2_1_3 \(W2\[0, 2\]\) is {value}; a model's weights must be finite"):
        load(rewrite(good, change))
    net = sbp.mlp([2, 1])
    with pytest.raises(SpecError, match=rf"Cannot save: parameter b1_1 \(b1\[0\]\) is {value}"):
        save(good.with_name("x.npz"), net, {"w1_1_1": 0.0, "w1_1_2": 0.0, "b1_1": value})


@pytest.mark.parametrize(
    "meta, match",
    [
        ({"features": 5}, "its meta 'features' must be a list of 2 column names, one per input of the network; got 5"),
        ({"features": ["a", "b", "c"]}, "its meta 'features' must be a list of 2 column names"),
        ({"target": "y"}, "its meta 'target' must be a list of column names; got 'y'"),
        ({"classes": [0, 1]}, "its meta 'classes' must be a list of class names, or null"),
        ({"classification": "yes"}, "its meta 'classification' must be true or false"),
    ],
)
def test_meta_of_the_wrong_type_is_refused(good, meta, match):
    with pytest.raises(ModelFileError, match=re.escape(match)):
        load(rewrite(good, edit_spec(meta=meta)))
    net = sbp.mlp([2, 3, 1])
    with pytest.raises(SpecError, match="Cannot save: " + re.escape(match)):
        save(good.with_name("x.npz"), net, net.init_params(0), meta=meta)


@posix
def test_predict_with_a_bad_model_is_one_line_and_exit_2(good, tmp_path):
    nan = rewrite(good, lambda a: a.__setitem__("b1", np.full(3, np.nan))).rename(tmp_path / "nan.npz")
    five = rewrite(good, edit_spec(meta={"features": 5, "classification": True}))
    for model, said in ((nan, "parameter b1_1 (b1[0]) is nan"), (five, "its meta 'features' must be")):
        out = run_cli("predict", str(model), "--data", "xor")
        assert out.returncode == 2 and out.stdout == ""
        assert out.stderr.count("\n") == 1 and said in out.stderr


@posix
def test_a_fifo_or_device_as_the_model_is_refused_at_once(tmp_path, good):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)  # nobody writes to it: open() for reading would hang
    assert "is a FIFO (named pipe), not a regular file" in load_in_child(fifo)
    assert "/dev/zero is a character device, not a regular file" in load_in_child("/dev/zero")
    out = run_cli("predict", str(fifo), "--data", "xor", timeout=60)
    assert out.returncode == 2 and "is a FIFO (named pipe)" in out.stderr
    # An explicit stream is fine: - reads the model from standard input.
    with open(good, "rb") as fh:
        out = run_python("import symbackprop as sbp\nprint(sbp.load('-').net)", stdin=fh)
    assert out.stdout.strip() == "Network([2, 3, 1], activation=['tanh', 'sigmoid'], loss='binary_cross_entropy')"


def test_a_spec_nested_too_deep_or_a_crammed_zip_directory_is_refused(good, tmp_path):
    deep = rewrite(good, lambda a: a.__setitem__("spec", np.array("[" * 200_000 + "]" * 200_000)))
    with pytest.raises(ModelFileError, match="its spec is not valid JSON"):
        load(deep)
    # The end record says one entry; the directory holds 5,000 with 1,000-character names,
    # 5.2 MB, past 4,096 arrays' worth (zipfile would parse them all). Long names make the
    # directory large with few entries (100,000 short names took seconds to write).
    crammed = tmp_path / "crammed.npz"
    with zipfile.ZipFile(crammed, "w") as archive:
        for i in range(5_000):
            archive.writestr(f"{i:0>1000}", b"")
    data = bytearray(crammed.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = (1).to_bytes(2, "little") * 2
    crammed.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="its zip directory declares 1 entries in .* bytes; a model holds at most 4096 arrays"):
        load(crammed)


# ------------------------------------------------------- the gradient-flow recording
FLOW_NET = ([2, 3, 3, 2], ["relu", "z**3", "softmax"], "cross_entropy")


@pytest.fixture
def flow_run(tmp_path):
    """A recorded run whose layers cover every kind of entry: a bounded slope (relu), an
    unbounded one (z³: no bound ratio, no saturation share) and softmax (no slopes)."""
    net = sbp.mlp(*FLOW_NET)
    rng = np.random.default_rng(20261126)
    X = rng.normal(size=(40, 2))
    Y = np.eye(2)[rng.integers(0, 2, 40)]
    params, history = sbp.train(net, X, Y, epochs=4, lr=0.05, batch_size=8, seed=3,
                                gradient_flow=16, progress=False)
    path = tmp_path / "flow.npz"
    save(path, net, params, history)
    return path, net, params, history


def test_gradient_flow_round_trip_is_exact(flow_run, tmp_path):
    path, net, params, history = flow_run
    rec = history.gradient_flow
    assert rec.records[0]["bound_ratio"][1:] == [None, None] and rec.records[0]["small_share"][1] is None
    saved = load(path)
    back = saved.history.gradient_flow
    assert saved.history == history and back == rec
    # Bit for bit, every recorded number.
    for a, b in zip(rec.records, back.records):
        for key, value in a.items():
            assert json.dumps(value) == json.dumps(b[key], default=float), key
    assert sbp.gradient_flow(saved.history).to_dict() == sbp.gradient_flow(history).to_dict()
    # Saving what was loaded writes the same arrays and spec again.
    save(tmp_path / "again.npz", saved.net, saved.params, saved.history)
    with np.load(path) as one, np.load(tmp_path / "again.npz") as two:
        assert sorted(one.files) == sorted(two.files) and any(k.startswith("flow_") for k in one.files)
        for key in one.files:
            assert np.array_equal(one[key], two[key], equal_nan=key != "spec"), key


def test_a_history_without_recording_writes_no_flow_entries(tmp_path):
    net = sbp.mlp([2, 2, 1])
    _, history = sbp.train(net, np.eye(2), np.ones((2, 1)), epochs=2, progress=False)
    save(tmp_path / "plain.npz", net, net.init_params(0), history)
    with np.load(tmp_path / "plain.npz") as npz:
        assert not [k for k in npz.files if k.startswith("flow_")]
        assert "gradient_flow" not in json.loads(str(npz["spec"][()]))
    assert load(tmp_path / "plain.npz").history.gradient_flow is None


def test_save_refuses_a_recording_that_is_not_one(tmp_path):
    net = sbp.mlp([2, 1])
    with pytest.raises(SpecError, match="history.gradient_flow must be the recording .* got dict"):
        save(tmp_path / "x.npz", net, net.init_params(0), {"loss": [1.0], "gradient_flow": {"sizes": [2, 1]}})
    assert not (tmp_path / "x.npz").exists()


def _set(key, fn):
    def change(arrays):
        arrays[key] = fn(arrays[key].copy())
    return change


def _at(index, value):
    def fn(a):
        a[index] = value
        return a
    return fn


def _edit_flow(**fields):
    def change(arrays):
        spec = json.loads(str(arrays["spec"][()]))
        spec["gradient_flow"].update(fields)
        arrays["spec"] = np.array(json.dumps(spec))
    return change


@pytest.mark.parametrize("change, match", [
    (lambda a: a.pop("flow_loss"), "array 'flow_loss' is missing"),
    (_set("flow_delta_norm", lambda v: v[:, :2]),
     r"array 'flow_delta_norm' is float64 of shape \(4, 2\); it must be float64 of shape \(4, 3\)"),
    (_set("flow_epochs", lambda v: v.astype(np.float64)), "array 'flow_epochs' is float64 of shape"),
    (_set("flow_epochs", lambda v: v[::-1].copy()), "its epochs must be positive and increasing"),
    (_set("flow_zero_share", _at((1, 0), 1.5)), r"array 'flow_zero_share' holds shares outside \[0, 1\]"),
    (_set("flow_small_share", _at((0, 4), 0.5)), "array 'flow_small_share' has numbers where its spec says there are none"),
    (_set("flow_bound_ratio", _at((2, 2), 0.5)), "array 'flow_bound_ratio' has numbers where its spec says there are none"),
    (_set("flow_weight_norm", _at((3, 0), -1.0)), "array 'flow_weight_norm' holds negative norms"),
    (_edit_flow(sizes=[2, 3, 2]), r"it is of a \[2, 3, 2\] network, the model's sizes are \[2, 3, 3, 2\]"),
    (_edit_flow(activations=["relu"]), "'activations' must be 3 names"),
    (_edit_flow(bounds=[{"value": "1", "exact": "1", "method": "symbolic"}] * 3), "a slope bound must be"),
    (_edit_flow(bounds=[{"value": 1, "exact": "1", "method": "symbolic"}]), "it has 1 slope bounds for 3 layers"),
    (_edit_flow(eval_rows=41), "'eval_rows' and 'n_rows' must be counts with eval_rows <= n_rows; got 41 and 40"),
    (_edit_flow(present={"bound_ratio": [True]}), "'present' must give 3 true/false values"),
    (edit_spec(gradient_flow="junk"), "its spec entry is not a JSON object"),
    (edit_spec(history=None), "the file has no training history for it to belong to"),
])
def test_a_damaged_recording_is_refused_in_one_line(flow_run, change, match):
    path = flow_run[0]
    with pytest.raises(ModelFileError, match="changed.npz: its gradient-flow recording is damaged: " + match) as info:
        load(rewrite(path, change))
    assert "\n" not in str(info.value)


def test_flow_arrays_without_their_spec_entry_are_unexpected(flow_run):
    def drop(arrays):
        spec = json.loads(str(arrays["spec"][()]))
        del spec["gradient_flow"]
        arrays["spec"] = np.array(json.dumps(spec))
    with pytest.raises(ModelFileError, match=r"unexpected array\(s\) flow_bound_ratio, flow_delta_norm"):
        load(rewrite(flow_run[0], drop))


@posix
def test_a_zip_bomb_posing_as_a_flow_table_is_refused_before_it_is_inflated(tmp_path):
    bomb = tmp_path / "bomb.npz"
    deflate_bomb(bomb, "flow_delta_norm.npy", npy_header((2**27, 2)), 2**31)
    said = load_in_child(bomb)
    assert said.startswith("ModelFileError:") and "the arrays it declares is" in said


def test_a_recording_too_large_to_read_into_lists_is_refused_before_it_is_built(tmp_path):
    # 5000 epochs of a 1-1 network: 80 bytes an epoch in the file, about 1460 as the
    # Python lists of a FlowRecording (the store's estimate): 7 MB, more than four times
    # a 1 MiB limit that the 0.4 MB file itself is well within.
    net = sbp.mlp([1, 1])
    _, history = sbp.train(net, np.ones((2, 1)), np.ones((2, 1)), epochs=1, gradient_flow=True, progress=False)
    rec = history.gradient_flow
    rec.epochs, rec.records = list(range(1, 5001)), rec.records * 5000
    path = tmp_path / "long.npz"
    save(path, net, net.init_params(0), history)
    assert path.stat().st_size < 1 << 19
    with pytest.raises(ModelFileError, match=r"long.npz: the gradient-flow recording, read into Python lists, is "
                       r"6.96 MiB, over four times the model-file limit, 4 MiB; raise it with max_bytes="):
        load(path, max_bytes=1 << 20)
    assert load(path).history.gradient_flow == rec  # within the default limit
