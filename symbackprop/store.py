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
The round trip is bit-exact. The file is written to a temporary file in the target
directory and renamed over the target, so a failed save never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .activations import ACTIVATIONS, A, Activation, Z
from .bounded import is_zero
from .errors import FormulaError, SpecError, SymbackpropError
from .losses import LOSSES, Loss
from .notation import to_str
from .params import to_arrays, to_mapping
from .parse import parse_formula

if TYPE_CHECKING:  # pragma: no cover
    from .network import Network
    from .spec import Spec

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "Saved", "atomic_write", "load", "save"]

#: The ``format`` field of the spec, telling a symbackprop model from another .npz.
FORMAT = "symbackprop.model"
#: The version of the file layout this module writes and reads.
FORMAT_VERSION = 1
_HISTORY_ARRAYS = ("loss", "accuracy")


class ModelFileError(SymbackpropError, ValueError):
    """A model file that cannot be read: missing, corrupt, of another format or version,
    or whose arrays do not match its network spec."""


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
@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    If the body raises, the temporary file is removed and ``path`` is left as it was.
    ``mode`` is ``"wb"`` or ``"w"`` (UTF-8 text, no newline translation).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target, "w") as fh:
    ...     _ = fh.write("done\\n")
    >>> target.read_text()
    'done\\n'
    """
    if mode not in ("wb", "w"):
        raise SpecError(f"atomic_write mode must be 'wb' or 'w'; got {mode!r}.")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        kwargs = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
        If ``params`` do not fit ``net``, ``meta`` is not JSON, or a custom formula cannot
        be read back by the formula parser.
    ModelFileError
        If the file cannot be written.

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
    arrays = to_arrays(net, params)
    spec = _spec_json(net, history, meta)
    try:
        text = json.dumps(spec, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"meta must be a JSON-serialisable mapping: {exc}.") from None
    data = {"spec": np.array(text)}
    for layer, (W, b) in enumerate(arrays, start=1):
        data[f"W{layer}"], data[f"b{layer}"] = W, b
    data.update(_history_arrays(history))
    try:
        with atomic_write(path) as fh:
            np.savez(fh, **data)
    except OSError as exc:
        raise ModelFileError(f"Cannot write model file {os.fspath(path)!r}: {exc.strerror or exc}.") from None


# ------------------------------------------------------------------ reading
def load(path: str | os.PathLike) -> Saved:
    """Load a network and its parameters saved with :func:`save`.

    Returns
    -------
    Saved
        Unpacks as ``net, params = load(path)``; ``.history`` and ``.meta`` hold the rest.

    Raises
    ------
    ModelFileError
        Naming what is wrong: the file is missing, not an ``.npz`` archive, truncated or
        corrupt, not a symbackprop model, of another format version, or its arrays do not
        match its network spec.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "notes.npz"
    >>> _ = bad.write_text("hello")
    >>> load(bad)
    Traceback (most recent call last):
    ...
    symbackprop.store.ModelFileError: ...notes.npz is not a symbackprop model file: not a NumPy .npz archive.
    """
    where = os.fspath(path)

    def fail(why: str) -> ModelFileError:
        return ModelFileError(f"{where} is not a symbackprop model file: {why}.")

    try:
        # Our own handle, so that it is closed even when NumPy fails half way.
        with open(path, "rb") as fh:
            magic = fh.read(6)
            fh.seek(0)
            if not magic:
                raise fail("the file is empty")
            if not magic.startswith((b"PK", b"\x93NUMPY")):
                raise fail("not a NumPy .npz archive")
            npz = np.load(fh, allow_pickle=False)
            if isinstance(npz, np.lib.npyio.NpzFile):
                with npz:
                    arrays = {key: npz[key] for key in npz.files}
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or exc.strerror:
            raise ModelFileError(f"Cannot read model file {where!r}: {exc.strerror or exc}.") from None
        raise fail("not a NumPy .npz archive") from None
    except ModelFileError:
        raise
    except (ValueError, EOFError) as exc:
        if "pickle" in str(exc):  # an object array: refused by allow_pickle=False
            raise fail("it holds pickled Python objects, which symbackprop never loads") from None
        raise fail(f"truncated or corrupt ({exc})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError) as exc:
        raise fail(f"truncated or corrupt ({exc})") from None
    except (zlib.error, struct.error, NotImplementedError, RuntimeError) as exc:
        # A damaged member: bad deflate data, a broken header, an unknown compression.
        raise fail(f"truncated or corrupt ({type(exc).__name__}: {exc})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise fail("it holds one NumPy array, not an .npz archive")

    if "spec" not in arrays:
        raise fail("it has no 'spec' entry")
    try:
        spec = json.loads(str(arrays.pop("spec")[()]))
    except (ValueError, TypeError, IndexError) as exc:
        raise fail(f"its spec is not valid JSON ({exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise fail(f"its spec does not say format {FORMAT!r}")
    if spec.get("version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{where} was written in model format version {spec.get('version')!r}; this "
            f"symbackprop reads version {FORMAT_VERSION}."
        )
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
    return Saved(net, params, history, meta if isinstance(meta, dict) else {})


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
