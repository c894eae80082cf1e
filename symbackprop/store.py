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
``classification``) must have the right types.
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
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "sizes": list(net.sizes),
        "activations": acts,
        "loss": loss,
        "history": _history_fields(history),
        "meta": dict(meta) if meta is not None else {},
    }


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
        arrays, its other scalar fields in the spec.
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
