"""Saving a trained network to a file and loading it back: :func:`save`, :func:`load`.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays), with no pickled object in
it, so loading it never runs code (``allow_pickle=False``):

- ``spec``: one string, the network as JSON: ``format`` (``"symbackprop.model"``),
  ``version`` (:data:`FORMAT_VERSION`), ``sizes``, one ``{"name", "formula", "latex",
  "output_derivative"}`` per layer's activation, the loss ``{"name", "formula", "latex"}``,
  the scalar fields of the training history, and ``meta`` (any JSON object the caller
  gives, e.g. column and class names).
- ``W1, b1, W2, b2, ...``: the float64 weights (n_l, n_{l−1}) and biases (n_l,) per layer.
- ``history_loss``, ``history_accuracy``: the per-epoch history, when saved.
- ``flow_*``: the gradient-flow recording of ``train(..., gradient_flow=True)``, when the
  saved history has one (see :func:`_flow_arrays`): ``flow_epochs`` (int64), ``flow_loss``,
  one (epochs × layers) float64 table per norm, one (epochs × units) table per unit share,
  NaN where the recording has None; its sizes, activations, slope bounds and row counts go
  in the spec as ``gradient_flow``.

Formulas are written with :func:`symbackprop.notation.to_str` and read back with the safe
formula parser (never ``eval``): a registered activation or loss is found by name (and
must have the same formula as when saved); a custom one is rebuilt from its formula.
The round trip is bit-exact. The file is written with :func:`symbackprop.files.open_output`
(a temporary file in the target's directory, renamed over it: a failed save never leaves a
partial file; ``-``, a FIFO or a device are written through).

Loading is bounded before anything is inflated or built: the file's size, the number of
arrays in the archive, each array's declared size (zip directory and ``.npy`` header) and
their total against the limits in :data:`symbackprop.files.LIMITS` and the archive's real
size, and the declared shapes against the spec's layer sizes. Weights must be finite, and
the ``meta`` keys the command line reads (``features``, ``target``, ``classes``,
``classification``) must have the right types. A gradient-flow recording is checked entry
by entry (shapes against the layer sizes, shares in [0, 1], epochs increasing) before it
is rebuilt, and the Python lists it becomes are held to four times the file limit (their
size estimated first); a damaged one is refused naming what is wrong.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import reprlib
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .activations import ACTIVATIONS, A, Activation, Z
from .bounded import is_zero
from .computation_store import KIND as COMPUTATION
from .computation_store import is_computation
from .computation_store import rebuild as rebuild_computation
from .computation_store import spec_and_arrays as computation_spec
from .errors import FormulaError, ModelFileError, OutputError, SpecError, SymbackpropError
from .files import limit, open_input, open_output, too_large
from .losses import LOSSES, Loss
from .notation import to_str
from .params import to_arrays, to_mapping
from .parse import parse_formula

if TYPE_CHECKING:  # pragma: no cover
    from .network import Network
    from .spec import Spec

__all__ = [
    "FORMAT", "FORMAT_VERSION", "MAX_ARRAYS", "ModelFileError", "Saved", "atomic_write", "load", "save",
]

#: The ``format`` field of the spec, telling a symbackprop model from another .npz.
FORMAT = "symbackprop.model"
#: The version of the file layout this module writes and reads.
FORMAT_VERSION = 1
#: The most arrays a model file may hold (two per layer and three more), checked in the zip
#: end record before the archive's directory is read.
MAX_ARRAYS = 4096
#: The most bytes one entry of the zip directory may take (46 fixed + name + extras), so that
#: a directory crammed with tiny entries is refused before zipfile parses it.
_MAX_ENTRY = 1070
_HISTORY_ARRAYS = ("loss", "accuracy")


@dataclass(eq=False)
class Saved:
    """What :func:`load` returns; unpacks as ``net, params = load(path)``.

    Attributes
    ----------
    net : Network
        The network, rebuilt from the spec.
    params : dict
        ``{Symbol: float}`` in ``net.params`` order, bit-identical to what was saved.
    history : History or None
        The training history, when one was saved.
    meta : dict
        The ``meta`` object given to :func:`save` (empty when none was).
    """

    net: Network
    params: dict[sp.Symbol, float]
    history: Any = None
    meta: dict = dataclasses.field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.net, self.params))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index):
        return (self.net, self.params)[index]


# ------------------------------------------------------------------ writing
#: The shared atomic writer (:func:`symbackprop.files.open_output`), under its old name.
atomic_write = open_output


def _formula(expr: sp.Expr, names: Mapping[str, sp.Symbol], what: str) -> str:
    """``to_str(expr)``, checked to parse back to the same expression."""
    text = to_str(expr)
    try:
        back = parse_formula(text, names, what=what)
    except FormulaError as exc:
        raise SpecError(
            f"Cannot save the {what} {text!r}: the formula parser cannot read it back ({exc})."
        ) from None
    try:  # under the checker's time and memory bounds, as when loading
        same = back == expr or is_zero([back - expr])
    except SymbackpropError as exc:
        raise SpecError(f"Cannot save the {what} {text!r}: comparing it with its read-back failed: {exc}") from None
    if not same:
        raise SpecError(f"Cannot save the {what} {text!r}: it does not read back as the same formula.")
    return text


def _spec_json(net: Spec, history: Any, meta: Mapping | None) -> dict:
    acts = []
    for act in net.activations:
        od = act.output_derivative
        acts.append({
            "name": act.name,
            "formula": _formula(act.expr, {"z": Z}, "activation"),
            "latex": act.latex,
            "output_derivative": None if od is None else _formula(od, {"a": A}, "output derivative"),
        })
    symbols = {s.name: s for s in (*net.outputs, *net.targets)}
    loss = {
        "name": net.loss.name,
        "formula": _formula(net.loss(net.outputs, net.targets), symbols, "loss"),
        "latex": net.loss.latex,
    }
    out = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "sizes": list(net.sizes),
        "activations": acts,
        "loss": loss,
        "history": _history_fields(history),
        "meta": dict(meta) if meta is not None else {},
    }
    flow = _flow_of(history)
    if flow is not None:
        out["gradient_flow"] = _flow_spec(flow)
    return out


def _history_fields(history: Any) -> dict | None:
    """The scalar fields of a History (or mapping); the per-epoch lists go to arrays."""
    if history is None:
        return None
    items = history.items() if isinstance(history, Mapping) else (
        (f.name, getattr(history, f.name)) for f in dataclasses.fields(history)
    ) if dataclasses.is_dataclass(history) else vars(history).items()
    return {
        k: v for k, v in items
        if k not in _HISTORY_ARRAYS and isinstance(v, (bool, int, float, str, type(None)))
    }


def _history_arrays(history: Any) -> dict[str, np.ndarray]:
    if history is None:
        return {}
    out = {}
    for name in _HISTORY_ARRAYS:
        value = history.get(name) if isinstance(history, Mapping) else getattr(history, name, None)
        if value is not None:
            try:
                out[f"history_{name}"] = np.asarray(value, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise SpecError(f"history.{name} must be a list of numbers.") from None
    return out


def save(
    path: str | os.PathLike,
    net: Spec,
    params: Mapping | list,
    history: Any = None,
    *,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Save ``net`` and its ``params`` (and optionally the training ``history``) to ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to write, used as given (``.npz`` is the customary suffix). It is
        replaced atomically: a failed save leaves any earlier file intact.
    net : Network
        The network; its activations and loss are stored as names and formulas.
    params : mapping or list of (W, b)
        Every parameter of ``net`` (``{Symbol or name: float}``, or per-layer arrays).
    history : History or mapping, optional
        What :func:`symbackprop.train` returned; ``loss`` and ``accuracy`` are stored as
        arrays, its other scalar fields in the spec, and its ``gradient_flow`` recording
        (when trained with ``gradient_flow=True``) as arrays and a spec entry.
    meta : mapping, optional
        Any JSON-serialisable information to keep with the model (column names...).

    Raises
    ------
    SpecError
        If ``params`` do not fit ``net`` or are not finite, ``meta`` is not JSON (or its
        ``features``, ``target``, ``classes`` or ``classification`` have the wrong type), or
        a custom formula cannot be read back by the formula parser.
    ModelFileError
        If the file cannot be written (naming the path and why).

    Examples
    --------
    >>> import pathlib, tempfile, symbackprop as sbp
    >>> net = sbp.mlp([2, 3, 1], activation=["tanh", "z**2/2"], loss="quadratic")
    >>> params = net.init_params(seed=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
    >>> save(path, net, params)
    >>> net2, params2 = load(path)
    >>> net2, params2 == params
    (Network([2, 3, 1], activation=['tanh', 'z**2/2'], loss='quadratic'), True)
    """
    if is_computation(net):  # named definitions: source lines and one array theta
        spec, data = computation_spec(net, params, _history_fields(history), meta)
        _check_meta(meta, net, SpecError, "Cannot save: ")
        _write(path, {"format": FORMAT, "version": FORMAT_VERSION, **spec}, data, history)
        return
    arrays = to_arrays(net, params)
    for layer, pair in enumerate(arrays, start=1):
        for key, value in zip((f"W{layer}", f"b{layer}"), pair):
            bad = _non_finite(net, key, value)
            if bad:
                raise SpecError(f"Cannot save: {bad}; a model's weights must be finite numbers.")
    _check_meta(meta, net, SpecError, "Cannot save: ")
    data = {}
    for layer, (W, b) in enumerate(arrays, start=1):
        data[f"W{layer}"], data[f"b{layer}"] = W, b
    _write(path, _spec_json(net, history, meta), data, history)


def _write(path: str | os.PathLike, spec: dict, arrays: dict[str, np.ndarray], history: Any) -> None:
    try:
        text = json.dumps(spec, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"meta must be a JSON-serialisable mapping: {exc}.") from None
    data = {"spec": np.array(text), **arrays}
    data.update(_history_arrays(history))
    flow = _flow_of(history)
    if flow is not None:
        data.update(_flow_arrays(flow))
    try:
        with open_output(path, "wb", what="model file") as fh:
            np.savez(fh, **data)
    except OutputError as exc:
        raise ModelFileError(str(exc)) from None


# ------------------------------------------------------------------ reading
def load(path: str | os.PathLike, *, max_bytes: int | None = None) -> Saved:
    """Load a network and its parameters saved with :func:`save`.

    Parameters
    ----------
    path : str or path-like
        The model file (a regular file), or ``-`` for standard input.
    max_bytes : int, optional
        The most bytes the file, and the arrays it declares in total, may hold. Default:
        the environment variable ``SYMBACKPROP_MAX_MODEL_BYTES``, else 64 MiB (see
        :data:`symbackprop.files.LIMITS`).

    Returns
    -------
    Saved
        Unpacks as ``net, params = load(path)``; ``.history`` and ``.meta`` hold the rest.

    Raises
    ------
    ModelFileError
        Naming what is wrong: the file is missing, a FIFO or device, over a size limit, not
        an ``.npz`` archive, truncated or corrupt, not a symbackprop model, of another
        format version, its arrays do not match its network spec, a weight is not finite,
        or its meta has the wrong types.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "notes.npz"
    >>> _ = bad.write_text("hello")
    >>> load(bad)
    Traceback (most recent call last):
    ...
    symbackprop.errors.ModelFileError: ...notes.npz is not a symbackprop model file: not a NumPy .npz archive.
    """
    where = os.fspath(path)

    def fail(why: str) -> ModelFileError:
        return ModelFileError(f"{where} is not a symbackprop model file: {why}.")

    bound = limit("model_bytes", max_bytes)
    with open_input(path, what="model file", error=ModelFileError, limit_name="model_bytes",
                    max_bytes=bound, stdin=True) as fh:
        data = fh.read()
    if not data:
        raise fail("the file is empty")
    if data.startswith(b"\x93NUMPY"):
        raise fail("it holds one NumPy array, not an .npz archive")
    if not data.startswith(b"PK"):
        raise fail("not a NumPy .npz archive")
    try:
        declared = _declared(where, data, bound, fail)
        # Our own handle, so that it is closed even when NumPy fails half way.
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            spec = _read_spec(npz, where, fail)
            _check_declared(where, spec, declared)
            arrays = {key: npz[key] for key in npz.files if key != "spec"}
    except ModelFileError:
        raise
    except OSError as exc:
        raise fail(f"truncated or corrupt ({exc})") from None
    except (ValueError, EOFError) as exc:
        if "pickle" in str(exc):  # an object array: refused by allow_pickle=False
            raise fail("it holds pickled Python objects, which symbackprop never loads") from None
        raise fail(f"truncated or corrupt ({exc})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError) as exc:
        raise fail(f"truncated or corrupt ({exc})") from None
    except (zlib.error, struct.error, NotImplementedError, RuntimeError, MemoryError) as exc:
        # A damaged member: bad deflate data, a broken header, an unknown compression.
        raise fail(f"truncated or corrupt ({type(exc).__name__}: {exc})") from None

    if spec.get("kind") == COMPUTATION:
        net, params = rebuild_computation(where, spec, arrays)
    else:
        try:
            net = _network(spec)
        except (SymbackpropError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise ModelFileError(f"{where}: {exc}") from None
            raise ModelFileError(f"{where}: its network spec is invalid: {exc}") from None
        params = _params(where, net, arrays)
    history = _history(spec.get("history"), arrays)
    if "gradient_flow" in spec:
        recording = _flow(where, net, spec["gradient_flow"], arrays, history, bound)
        if isinstance(history, dict):  # no History class: a plain mapping
            history["gradient_flow"] = recording
        else:
            history.gradient_flow = recording
    if arrays:
        raise ModelFileError(
            f"{where}: does not match its network spec: unexpected array(s) {', '.join(sorted(arrays))}."
        )
    meta = spec.get("meta") or {}
    meta = meta if isinstance(meta, dict) else {}
    _check_meta(meta, net, ModelFileError, f"{where}: ")
    return Saved(net, params, history, meta)


def _zip_directory(data: bytes) -> tuple[int, int] | None:
    """(number of entries, size of the central directory) from the zip end record."""
    i = data.rfind(b"PK\x05\x06", max(0, len(data) - (65535 + 22)))
    if i < 0 or len(data) < i + 22:
        return None
    _sig, _d, _cd, _nd, entries, cd_size, cd_offset, _c = struct.unpack("<4s4H2LH", data[i:i + 22])
    if 0xFFFF in (entries,) or 0xFFFFFFFF in (cd_size, cd_offset):  # zip64: the real values
        locator = data[i - 20:i] if i >= 20 else b""
        if locator[:4] == b"PK\x06\x07":
            offset = struct.unpack("<4sLQL", locator)[2]
            record = data[offset:offset + 56]
            if record[:4] == b"PK\x06\x06" and len(record) == 56:
                fields = struct.unpack("<4sQ2H2L4Q", record)
                entries, cd_size = fields[7], fields[8]
    return entries, cd_size


def _declared(where: str, data: bytes, bound: int, fail) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Every array's declared shape and dtype, read from the zip directory and the ``.npy``
    headers only, each checked against the limits and the archive's real size."""
    found = _zip_directory(data)
    if found is None:
        raise fail("truncated or corrupt (no zip end record)")
    entries, cd_size = found
    if entries > MAX_ARRAYS or cd_size > min(len(data), MAX_ARRAYS * _MAX_ENTRY):
        raise fail(
            f"its zip directory declares {entries} entries in {cd_size} bytes; a model holds at "
            f"most {MAX_ARRAYS} arrays, and the file has {len(data)} bytes"
        )
    spec_bound = limit("model_spec_bytes")
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len(infos) > MAX_ARRAYS:
            raise fail(f"it holds {len(infos)} entries; a model holds at most {MAX_ARRAYS} arrays")
        total = sum(info.file_size for info in infos)
        if total > bound:
            raise ModelFileError(
                too_large("arrays it declares", where, total, bound, "model_bytes", "max_bytes")
            )
        for info in infos:
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if info.compress_size > len(data):
                raise fail(f"entry {key!r} declares {info.compress_size} compressed bytes, more than the file holds")
            if key == "spec" and info.file_size > spec_bound:
                raise ModelFileError(
                    too_large("spec entry", where, info.file_size, spec_bound, "model_spec_bytes", None)
                )
            if not info.filename.endswith(".npy"):
                out[key] = ((), None)  # not an array: NumPy reads its bytes (counted above)
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _fortran, dtype = read_header(member)
                header = member.tell()
            if dtype.hasobject:
                raise fail("it holds pickled Python objects, which symbackprop never loads")
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes != info.file_size - header:
                raise fail(
                    f"array {key!r} declares shape {shape} of {dtype} ({nbytes} bytes) but its "
                    f"entry holds {info.file_size - header} bytes"
                )
            out[key] = (shape, dtype)
    return out


def _read_spec(npz, where: str, fail) -> dict:
    if "spec" not in npz.files:
        raise fail("it has no 'spec' entry")
    try:
        spec = json.loads(str(npz["spec"][()]))
    except (ValueError, TypeError, IndexError, RecursionError) as exc:
        if "pickle" in str(exc):
            raise
        raise fail(f"its spec is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise fail(f"its spec does not say format {FORMAT!r}")
    if spec.get("version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{where} was written in model format version "
            f"{spec.get('version')!r}; this symbackprop reads version {FORMAT_VERSION}."
        )
    return spec


def _check_declared(where: str, spec: dict, declared: dict) -> None:
    """Check the declared W/b shapes against the spec's sizes before the network is built,
    so that a spec naming huge layers costs nothing. Sizes that are not positive integers
    are left for :func:`symbackprop.network.mlp` to explain."""
    sizes = spec.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes)):
        return
    for layer in range(1, len(sizes)):
        for key, shape in ((f"W{layer}", (sizes[layer], sizes[layer - 1])), (f"b{layer}", (sizes[layer],))):
            if key not in declared:
                raise ModelFileError(f"{where}: does not match its network spec: array {key!r} is missing.")
            got, dtype = declared[key]
            if dtype is None:
                continue  # not an .npy entry: reported with the arrays
            if tuple(got) != shape or dtype != np.float64:
                raise ModelFileError(
                    f"{where}: does not match its network spec: array {key!r} is "
                    f"{dtype} of shape {tuple(got)}; layer {layer} of "
                    f"{'-'.join(map(str, sizes))} needs float64 of shape {shape}."
                )


def _non_finite(net: Spec, key: str, value: np.ndarray) -> str | None:
    """``"parameter w1_2_1 (W1[1, 0]) is nan"`` for the first non-finite entry, else None."""
    bad = np.argwhere(~np.isfinite(value))
    if not len(bad):
        return None
    index = tuple(int(i) for i in bad[0])
    layer = int(key[1:])
    symbol = net.w(layer, index[0] + 1, index[1] + 1) if key[0] == "W" else net.b(layer, index[0] + 1)
    return f"parameter {symbol} ({key}[{', '.join(map(str, index))}]) is {value[index]}"


#: The meta keys the command line reads, and what each must be.
_META = {
    "features": "a list of column names, one per input of the network",
    "target": "a list of column names",
    "classes": "a list of class names, or null",
    "classification": "true or false",
}


def _check_meta(meta: Any, net: Spec, error: type[SymbackpropError], prefix: str) -> None:
    """Refuse a meta whose keys read by ``predict`` have the wrong type or length."""
    if not isinstance(meta, Mapping):
        return  # save reports a meta that is not a mapping; load treats it as empty
    for key, rule in _META.items():
        if key not in meta or meta[key] is None:
            continue
        value = meta[key]
        if key == "classification":
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        if key == "features":
            n_in = len(net.inputs) if is_computation(net) else net.sizes[0]
            ok = ok and len(value) == n_in
            rule = f"a list of {n_in} column names, one per input of the network"
        if not ok:
            raise error(f"{prefix}its meta {key!r} must be {rule}; got {reprlib.repr(value)}.")


def _same(registered: sp.Expr, found: sp.Expr, what: str) -> bool:
    """Whether the file's formula simplifies to the registered one, under the checker's
    time and memory bounds (:func:`symbackprop.bounded.is_zero`): a hostile file cannot hang."""
    try:
        return is_zero([registered - found])
    except SymbackpropError as exc:
        raise ModelFileError(f"the file's {what} could not be compared with the registered one: {exc}") from None


def _activation(entry: dict) -> Activation:
    name, formula = str(entry["name"]), str(entry["formula"])
    expr = parse_formula(formula, {"z": Z}, what="activation")
    registered = ACTIVATIONS.get(name)
    if registered is not None:
        if registered.expr != expr and not _same(registered.expr, expr, f"activation {name!r}"):
            raise ModelFileError(
                f"the file's activation {name!r} is {formula!r}, but {name!r} is registered "
                f"here as {to_str(registered.expr)!r}."
            )
        return registered
    od = entry.get("output_derivative")
    return Activation(
        name,
        expr,
        str(entry.get("latex") or rf"\left[{sp.latex(expr)}\right]"),
        output_derivative=None if od is None else parse_formula(str(od), {"a": A}, what="output derivative"),
    )


def _network(spec: dict) -> Network:
    from .network import mlp

    sizes = spec["sizes"]
    if not isinstance(sizes, list) or not isinstance(spec["activations"], list):
        raise ModelFileError("its spec's sizes and activations must be lists.")
    acts = [_activation(e) for e in spec["activations"]]
    entry = spec["loss"]
    name, formula = str(entry["name"]), str(entry["formula"])
    a_syms = [sp.Symbol(f"a{len(sizes) - 1}_{j}") for j in range(1, (sizes[-1] if sizes else 0) + 1)]
    y_syms = [sp.Symbol(f"y{j}") for j in range(1, (sizes[-1] if sizes else 0) + 1)]
    J = parse_formula(formula, {s.name: s for s in (*a_syms, *y_syms)}, what="loss")
    loss = LOSSES.get(name)
    if loss is not None:
        here = loss(a_syms, y_syms)
        if here != J and not _same(here, J, f"loss {name!r}"):
            raise ModelFileError(
                f"the file's loss {name!r} is {formula!r}, but {name!r} is registered here "
                f"as {to_str(here)!r}."
            )
    else:
        loss = Loss(name, lambda _a, _y: J, str(entry.get("latex") or sp.latex(J)))
    return mlp(sizes, activation=acts, loss=loss)


def _params(where: str, net: Network, arrays: dict[str, np.ndarray]) -> dict[sp.Symbol, float]:
    pairs = []
    for layer in range(1, net.n_layers + 1):
        pair = []
        for key, shape in (
            (f"W{layer}", (net.sizes[layer], net.sizes[layer - 1])),
            (f"b{layer}", (net.sizes[layer],)),
        ):
            if key not in arrays:
                raise ModelFileError(f"{where}: does not match its network spec: array {key!r} is missing.")
            value = arrays.pop(key)
            if value.shape != shape or value.dtype != np.float64:
                raise ModelFileError(
                    f"{where}: does not match its network spec: array {key!r} is "
                    f"{value.dtype} of shape {value.shape}; layer {layer} of "
                    f"{'-'.join(map(str, net.sizes))} needs float64 of shape {shape}."
                )
            bad = _non_finite(net, key, value)
            if bad:
                raise ModelFileError(f"{where}: {bad}; a model's weights must be finite numbers.")
            pair.append(value)
        pairs.append(tuple(pair))
    return to_mapping(net, pairs)


def _history(fields: Any, arrays: dict[str, np.ndarray]) -> Any:
    if fields is None:
        return None
    values = {name: arrays.pop(f"history_{name}").tolist() for name in _HISTORY_ARRAYS
              if f"history_{name}" in arrays}
    values.update(fields if isinstance(fields, dict) else {})
    try:
        from .training import History
    except ImportError:  # pragma: no cover - train is part of the package
        return values
    known = {f.name for f in dataclasses.fields(History)}
    return History(**{k: v for k, v in values.items() if k in known})


# ------------------------------------------------------- gradient-flow recording
#: Per-layer tables of a FlowRecording's records, stored as (epochs × layers) float64 arrays.
_FLOW_LAYER = ("delta_norm", "grad_w_norm", "grad_b_norm", "weight_norm", "bound_ratio", "max_slope")
#: Per-unit tables, stored as (epochs × units of layers 1..L) float64 arrays.
_FLOW_UNIT = ("zero_share", "small_share")
#: The entries that are None for some layers (the output layer's bound ratio, a softmax's
#: slopes, an unbounded slope's saturation): which layers, is kept in the spec.
_FLOW_OPTIONAL = ("bound_ratio", "max_slope", "zero_share", "small_share")
_SLOPE_METHODS = ("symbolic", "numeric", "none", "softmax")
#: Bytes of Python objects a recorded epoch's dict and lists take, and each number in them.
_RECORD_BYTES, _CELL_BYTES = 1100, 40


def _flow_of(history: Any) -> Any:
    """The history's gradient-flow recording, or None when it has none."""
    from .flow import FlowRecording

    if history is None:
        return None
    rec = history.get("gradient_flow") if isinstance(history, Mapping) else getattr(history, "gradient_flow", None)
    if rec is not None and not isinstance(rec, FlowRecording):
        raise SpecError(
            "Cannot save: history.gradient_flow must be the recording sbp.train(..., "
            f"gradient_flow=True) made, or None; got {type(rec).__name__}."
        )
    return rec


def _flow_present(rec: Any) -> dict[str, list[bool]]:
    """Per optional entry, the layers that have a value: the same in every record."""
    L = len(rec.sizes) - 1
    present = {key: [v is not None for v in rec.records[0][key]] if rec.records else [True] * L
               for key in _FLOW_OPTIONAL}
    for epoch, r in zip(rec.epochs, rec.records):
        for key in _FLOW_OPTIONAL:
            if [v is not None for v in r[key]] != present[key]:
                raise SpecError(
                    f"Cannot save the gradient-flow recording: its {key!r} of epoch {epoch} has "
                    "values for other layers than the first epoch's."
                )
    return present


def _flow_spec(rec: Any) -> dict:
    return {
        "sizes": [int(n) for n in rec.sizes],
        "activations": [str(a) for a in rec.activations],
        "bounds": [{"value": b.value, "exact": b.exact, "method": b.method} for b in rec.bounds],
        "eval_rows": int(rec.eval_rows),
        "n_rows": int(rec.n_rows),
        "present": _flow_present(rec),
    }


def _flow_arrays(rec: Any) -> dict[str, np.ndarray]:
    """The recording's numbers as float64 tables (NaN for None), and its epochs."""
    E, sizes = len(rec.records), list(rec.sizes)
    L, U = len(sizes) - 1, sum(sizes[1:])
    if len(rec.epochs) != E:
        raise SpecError(
            f"Cannot save the gradient-flow recording: it has {len(rec.epochs)} epochs but {E} records."
        )

    def cells(values: Any, n: int) -> list[float]:
        return [math.nan] * n if values is None else [math.nan if v is None else float(v) for v in values]

    try:
        out = {"flow_epochs": np.asarray(rec.epochs, dtype=np.int64).reshape(E),
               "flow_loss": np.asarray([float(r["loss"]) for r in rec.records], dtype=np.float64).reshape(E)}
        for key in _FLOW_LAYER:
            out[f"flow_{key}"] = np.asarray([cells(r[key], L) for r in rec.records],
                                            dtype=np.float64).reshape(E, L)
        for key in _FLOW_UNIT:
            out[f"flow_{key}"] = np.asarray(
                [[v for l, per in enumerate(r[key]) for v in cells(per, sizes[l + 1])] for r in rec.records],
                dtype=np.float64).reshape(E, U)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SpecError(f"Cannot save the gradient-flow recording: it is not what training records ({exc}).") from None
    return out


def _flow(where: str, net: Network, entry: Any, arrays: dict[str, np.ndarray], history: Any,
          bound: int) -> Any:
    """The FlowRecording a file holds, every entry checked first (see the module docstring).

    Its records are Python lists of floats, about :data:`_RECORD_BYTES` a recorded epoch
    and :data:`_CELL_BYTES` a number (measured with tracemalloc): many times the file's
    float64 tables, so their estimated size is held to four times the model-file limit
    ``bound`` before they are built."""
    from .flow import FlowRecording, SlopeBound

    def damaged(why: str) -> ModelFileError:
        return ModelFileError(f"{where}: its gradient-flow recording is damaged: {why}.")

    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    if history is None:
        raise damaged("the file has no training history for it to belong to")
    if not isinstance(entry, dict):
        raise damaged("its spec entry is not a JSON object")
    sizes, L = list(net.sizes), net.n_layers
    if entry.get("sizes") != sizes:
        raise damaged(f"it is of a {reprlib.repr(entry.get('sizes'))} network, the model's sizes are {sizes}")
    acts = entry.get("activations")
    if not (isinstance(acts, list) and len(acts) == L and all(isinstance(a, str) for a in acts)):
        raise damaged(f"'activations' must be {L} names; got {reprlib.repr(acts)}")
    bounds = []
    for b in entry.get("bounds") if isinstance(entry.get("bounds"), list) else [None]:
        value = b.get("value") if isinstance(b, dict) else None
        ok = (isinstance(b, dict) and isinstance(b.get("exact"), str) and b.get("method") in _SLOPE_METHODS
              and (value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)
                                     and math.isfinite(value) and value >= 0)))
        if not ok:
            raise damaged(f"a slope bound must be {{value: a number >= 0 or null, exact: text, method: "
                          f"one of {', '.join(_SLOPE_METHODS)}}}; got {reprlib.repr(b)}")
        bounds.append(SlopeBound(None if value is None else float(value), b["exact"], b["method"]))
    if len(bounds) != L:
        raise damaged(f"it has {len(bounds)} slope bounds for {L} layers")
    eval_rows, n_rows = entry.get("eval_rows"), entry.get("n_rows")
    if not (count(eval_rows) and count(n_rows) and eval_rows <= n_rows):
        raise damaged(f"'eval_rows' and 'n_rows' must be counts with eval_rows <= n_rows; got "
                      f"{reprlib.repr(eval_rows)} and {reprlib.repr(n_rows)}")
    present = entry.get("present")
    if not (isinstance(present, dict) and all(
            isinstance(present.get(k), list) and len(present[k]) == L
            and all(isinstance(v, bool) for v in present[k]) for k in _FLOW_OPTIONAL)):
        raise damaged(f"'present' must give {L} true/false values for each of {', '.join(_FLOW_OPTIONAL)}")

    def take(key: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
        name = f"flow_{key}"
        if name not in arrays:
            raise damaged(f"array {name!r} is missing")
        value = arrays.pop(name)
        if value.dtype != dtype or value.shape != shape:
            raise damaged(f"array {name!r} is {value.dtype} of shape {value.shape}; it must be "
                          f"{np.dtype(dtype)} of shape {shape}")
        return value

    epochs = arrays.get("flow_epochs")
    E = epochs.shape[0] if isinstance(epochs, np.ndarray) and epochs.ndim == 1 else 0
    epochs = take("epochs", np.int64, (E,))
    if E and (epochs[0] < 1 or np.any(np.diff(epochs) <= 0)):
        raise damaged("its epochs must be positive and increasing")
    cells = 1 + len(_FLOW_LAYER) * L + len(_FLOW_UNIT) * sum(sizes[1:])
    cost = E * (_RECORD_BYTES + _CELL_BYTES * cells)
    if cost > 4 * bound:
        raise ModelFileError(too_large(
            "gradient-flow recording, read into Python lists,", where, cost, 4 * bound,
            "model_bytes", "max_bytes").replace("the limit of", "four times the model-file limit,"))
    loss = take("loss", np.float64, (E,))
    # Where the spec says a layer has a value, the array has a number (NaN where it has none).
    units = np.repeat(np.arange(L), sizes[1:])  # the layer (0-based) of each unit column
    tables = {}
    for key in (*_FLOW_LAYER, *_FLOW_UNIT):
        a = take(key, np.float64, (E, L) if key in _FLOW_LAYER else (E, len(units)))
        has = np.array(present.get(key, [True] * L), dtype=bool)
        has = has if key in _FLOW_LAYER else has[units]
        if np.any(~np.isnan(a[:, ~has])):
            raise damaged(f"array 'flow_{key}' has numbers where its spec says there are none")
        with np.errstate(invalid="ignore"):
            if key in _FLOW_UNIT and not np.all((a[:, has] >= 0) & (a[:, has] <= 1)):
                raise damaged(f"array 'flow_{key}' holds shares outside [0, 1]")
            if key in _FLOW_LAYER and np.any(a < 0):
                raise damaged(f"array 'flow_{key}' holds negative norms")
        tables[key] = (a, has)

    def layer_row(key: str, e: int) -> list:
        a, has = tables[key]
        return [float(v) if h else None for v, h in zip(a[e].tolist(), has)]

    def unit_row(key: str, e: int) -> list:
        a, _ = tables[key]
        row, start, out = a[e].tolist(), 0, []
        for l, n in enumerate(sizes[1:]):
            out.append(row[start:start + n] if present.get(key, [True] * L)[l] else None)
            start += n
        return out

    records = [{"loss": float(loss[e]), **{k: layer_row(k, e) for k in _FLOW_LAYER},
                **{k: unit_row(k, e) for k in _FLOW_UNIT}} for e in range(E)]
    return FlowRecording(sizes=sizes, activations=list(acts), bounds=bounds, eval_rows=eval_rows,
                         n_rows=n_rows, epochs=[int(e) for e in epochs.tolist()], records=records)
