"""The ``numba`` backend's machinery: the generated NumPy code compiled by numba, whole
epochs at a time, cached on disk.

The generated module is the NumPy backend's (:mod:`.codegen`, the same layer-level lines:
``Z1 = X @ W1.T + b1``, ``D1 = D2 @ W2``, ...) with three changes, all visible in
``model.source()``, each a textual rewrite of lines the code generator printed:

- the stable helpers are numba kernels (:mod:`.numba_kernels`), activations are printed
  from their formulas (``numpy.maximum(0, Z1)``) rather than called from the registry;
- ``D.sum(axis=0)`` is ``colsum(D)`` (numba compiles a loop far faster), ``numpy.heaviside``
  a kernel and ``numpy.eye(k, dtype=bool)`` a comparison (numba has neither), and
  ``loss_and_grad`` returns a tuple (the gradients are arrays of different dimensions,
  which a numba list cannot hold);
- two more functions, ``epoch_sgd`` and ``epoch_momentum``, run a whole epoch of steps
  (shuffle, batches, the last-good copy, the losses) in compiled code, for the training
  loop's hook (:meth:`Backend.epoch_loop <symbackprop.compiler.backends.Backend.epoch_loop>`).

Every function is compiled with ``numba.njit(cache=True)``; for numba to cache it, the
module is written to a file named by the hash of its source, in :func:`cache_dir`. The first
run of an architecture compiles (5–60 s measured, depending on the machine's load); later
runs, in any process, load the machine code from there (about 0.1 s, plus numba's import).
Numba specialises on types, not sizes: one compilation serves every width and batch size of
the same depth, activations and loss. Matrix products are numba's, which call
the same BLAS as NumPy (through SciPy): the extra is ``pip install "symbackprop[fast]"``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import linecache
import math
import os
import re
import sys
import time
import types
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..spec import Spec

__all__ = ["EpochRunner", "available", "cache_dir", "finish", "is_cached", "module_path", "numba_source",
           "unsupported", "wrap"]

#: ``numpy.<name>`` the generated code may call, for numba (the printer emits these for the
#: registered activations and losses and the usual custom formulas); anything else falls back.
NUMPY_OK = frozenset({
    "abs", "arctan", "arcsin", "arccos", "arctanh", "arcsinh", "cos", "cosh", "exp", "expm1",
    "eye", "full_like", "greater", "greater_equal", "less", "less_equal", "log", "log1p",
    "log2", "log10", "maximum", "minimum", "power", "sign", "sin", "sinh", "sqrt", "tan",
    "tanh", "where", "exp2", "heaviside",  # heaviside: a kernel (numba_source)
})
#: Functions in the generated module, compiled by numba.
GENERATED = ("forward", "loss", "loss_and_grad", "step", "step_momentum", "epoch_sgd", "epoch_momentum")


@cache
def available() -> bool:
    """Whether numba and SciPy (numba's matrix products call BLAS through it) are installed.

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return all(importlib.util.find_spec(m) is not None for m in ("numba", "scipy"))


def cache_dir() -> Path | None:
    """Where the compiled modules are kept: ``$SYMBACKPROP_CACHE_DIR/numba``, else the user's
    cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``) ``/symbackprop/numba``; None when
    it cannot be written (then nothing is cached: each process compiles again).

    Examples
    --------
    >>> d = cache_dir()
    >>> d is None or d.name == "numba"
    True
    """
    root = os.environ.get("SYMBACKPROP_CACHE_DIR")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "symbackprop")
    path = Path(root) / "numba"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def unsupported(source: str) -> str | None:
    """The first call in the generated ``source`` numba cannot compile here, or None.

    Examples
    --------
    >>> unsupported("def f(Z):\\n    return numpy.tanh(Z) + numpy.select([Z > 0], [Z])")
    'numpy.select'
    >>> unsupported("def f(Z):\\n    return sigmoid(Z)") is None
    True
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in ("numpy", "scipy", "math") and node.attr not in NUMPY_OK | {"inf", "pi", "e"}:
                return f"{node.value.id}.{node.attr}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            return ast.unparse(node)  # numpy.linalg.x, scipy.special.x: not for numba here
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sum":
            axes = [k.value for k in node.keywords if k.arg == "axis"]
            if axes and not isinstance(axes[0], ast.Constant):  # numba needs a constant axis
                return f".sum(axis={ast.unparse(axes[0])})"
    return None


def _epoch(L: int, momentum: bool) -> list[str]:
    """A whole epoch of steps as one compiled function (the hook's ``run``)."""
    names = [f"{k}{l}" for l in range(1, L + 1) for k in ("W", "b")]
    if momentum:
        head, call = "epoch_momentum(P, V, S0, S1, t, X, Y, order, bs, lr, mu, losses)", "step_momentum(P, V, xb, yb, lr, mu)"
    else:
        head, call = "epoch_sgd(P, S0, S1, t, X, Y, order, bs, lr, losses)", "step(P, xb, yb, lr)"
    return [
        "",
        f"def {head}:",
        '    """One epoch of steps over the batches of X[order] (order empty: X as given).',
        "",
        "    Before step t (counted over the whole run) the parameters are copied into S0 (t even)",
        "    or S1 (t odd): the copy before the previous step is the last good one. Returns the",
        '    number of batches run; it stops after the first one whose loss is not finite."""',
        "    n = X.shape[0]",
        "    if order.shape[0] == n:",
        "        X = X[order]",
        "        Y = Y[order]",
        f"    {', '.join(names)}, = P",
        "    k = 0",
        "    for i in range(0, n, bs):",
        "        S = S0 if (t + k) % 2 == 0 else S1",
        f"        {', '.join('s' + m for m in names)}, = S",
        *[f"        s{m}[:] = {m}" for m in names],
        "        xb = X[i : i + bs]",
        "        yb = Y[i : i + bs]",
        f"        loss = {call}",
        "        losses[k] = loss",
        "        k += 1",
        "        if not isfinite(loss):",
        "            break",
        "    return k",
    ]


def numba_source(spec: Spec, source: str) -> str:
    """The numba module from the NumPy-style ``source`` the code generator printed."""
    source = re.sub(r"\b(\w+)\.sum\(axis=0\)", r"colsum(\1)", source)
    source = source.replace("numpy.heaviside(", "heaviside(")  # a kernel: numba has none
    source = re.sub(r"numpy\.eye\((\d+), dtype=bool\)", r"(numpy.eye(\1) > 0)", source)  # no dtype=bool
    # loss_and_grad's gradients (a list of arrays of different dimensions) become a tuple;
    # the other functions' lists hold arrays of one dimension, which numba takes as they are.
    source = re.sub(r"return loss, \[([^\]\n]*)\]$", r"return loss, (\1,)", source, flags=re.M)
    # Without the layer widths, the source (and so its compiled, cached code) is the same for
    # every width: numba specialises on array types, not sizes.
    source = re.sub(r"^# Generated by symbackprop for the [0-9-]+ network",
                    f"# Generated by symbackprop (numba backend) for a {spec.n_layers}-layer network",
                    source, count=1)
    source = source.replace(": symbackprop.stable (", ": numba kernels of symbackprop.stable's forms (", 1)
    return source + "\n".join(_epoch(spec.n_layers, False) + _epoch(spec.n_layers, True)) + "\n"


def module_path(source: str) -> Path | None:
    """The file the numba module ``source`` is compiled from (in :func:`cache_dir`, named by
    the hash of the source, the kernels and numba's version), or None without a cache."""
    folder = cache_dir()
    if folder is None:
        return None
    import importlib.metadata

    kernels = Path(__file__).with_name("numba_kernels.py").read_bytes()
    stamp = (source + importlib.metadata.version("numba")).encode() + kernels
    return folder / f"sbp_{hashlib.sha256(stamp).hexdigest()[:24]}.py"


def is_cached(path: Path | None, function: str = "epoch_sgd") -> bool:
    """Whether numba's cache holds ``function`` of the module at ``path`` (compiled before)."""
    return path is not None and any((path.parent / "__pycache__").glob(f"{path.stem}.{function}-*.nbi"))


def finish(spec: Spec, source: str, filename: str) -> tuple[str, str]:
    """The numba module from the NumPy-style ``source``, and the file it is compiled from
    (written to :func:`cache_dir`; ``filename`` when there is none)."""
    source = numba_source(spec, source)
    path = module_path(source)
    if path is None:
        return source, filename
    if not path.exists():  # never rewritten: numba's cache is keyed on the file's time stamp
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    return source, str(path)


def wrap(backend: Any, fns: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The generated functions compiled by numba, behind the model's calling convention
    (lists of arrays in, the steps update them in place, floats out)."""
    import numba

    from .numba_kernels import kernels

    code = fns["step"].__code__
    cached = os.path.isfile(code.co_filename)
    # numba's cache finds a function's globals by its module's name: the generated code
    # runs again in a module registered in sys.modules (named after its file, one per code).
    name = f"_symbackprop_numba_{Path(code.co_filename).stem if cached else id(fns)}"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__dict__.update(fns["step"].__globals__)
        module.__dict__.update(kernels())
        source = "".join(linecache.getlines(code.co_filename))
        exec(compile(source, code.co_filename, "exec"), module.__dict__)  # noqa: S102 (generated)
        if cached:
            sys.modules[name] = module
    namespace = module.__dict__
    for fn in GENERATED:  # replaced before any compiles: callers see the compiled callees
        if not isinstance(namespace[fn], numba.core.dispatcher.Dispatcher):
            namespace[fn] = numba.njit(cache=cached)(namespace[fn])
    backend.compiled = {fn: namespace[fn] for fn in GENERATED}
    backend.module_file = fns["step"].__code__.co_filename if cached else None
    c = backend.compiled

    def forward(P: Sequence[np.ndarray], X: np.ndarray) -> np.ndarray:
        return c["forward"](tuple(P), np.ascontiguousarray(X))

    def loss(P: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
        return c["loss"](tuple(P), np.ascontiguousarray(X), np.ascontiguousarray(Y))

    def loss_and_grad(P: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        value, grads = c["loss_and_grad"](tuple(P), np.ascontiguousarray(X), np.ascontiguousarray(Y))
        return value, list(grads)

    def step(P: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray, lr: float) -> float:
        return c["step"](tuple(P), np.ascontiguousarray(X), np.ascontiguousarray(Y), float(lr))

    def step_momentum(P: Sequence[np.ndarray], V: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray,
                      lr: float, mu: float) -> float:
        return c["step_momentum"](tuple(P), tuple(V), np.ascontiguousarray(X), np.ascontiguousarray(Y),
                                  float(lr), float(mu))

    return {"forward": forward, "loss": loss, "loss_and_grad": loss_and_grad, "step": step,
            "step_momentum": step_momentum}


_NO_ORDER = np.zeros(0, dtype=np.int64)


class EpochRunner:
    """The training loop's hook for the numba backend: :meth:`run` is one compiled epoch.

    One runner serves one training run (it keeps the two spare copies of the parameters
    and the step count, which say where the last good parameters are).
    """

    def __init__(self, backend: Any):
        self.backend = backend
        self.spare: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None = None
        self.t = 0

    def run(self, P: list[np.ndarray], V: list[np.ndarray], X: np.ndarray, Y: np.ndarray,
            order: np.ndarray | None, batch_size: int, lr: float, momentum: float
            ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, list[np.ndarray] | None]:
        """One epoch; returns (P, V, each batch's loss, the last good parameters or None)."""
        Pt = tuple(P)
        if self.spare is None:  # S1 is "before step −1": the starting parameters
            self.spare = (tuple(np.empty_like(p) for p in Pt), tuple(p.copy() for p in Pt))
        S0, S1 = self.spare
        X, Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
        order = _NO_ORDER if order is None else np.ascontiguousarray(order, dtype=np.int64)
        losses = np.empty(-(-X.shape[0] // batch_size))
        compiled = self.backend.compiled
        fn = compiled["epoch_momentum" if momentum else "epoch_sgd"]
        first = not fn.signatures
        t0 = time.perf_counter()
        if momentum:
            k = fn(Pt, tuple(V), S0, S1, self.t, X, Y, order, batch_size, float(lr), float(momentum), losses)
        else:
            k = fn(Pt, S0, S1, self.t, X, Y, order, batch_size, float(lr), losses)
        if first:  # compiled, or loaded from numba's cache: reported (the CLI prints it)
            self.backend.compile_seconds = time.perf_counter() - t0
            self.backend.from_cache = sum(fn.stats.cache_hits.values()) > 0
        elif self.backend.compile_seconds is None:  # compiled earlier in this process
            self.backend.compile_seconds, self.backend.from_cache = 0.0, True
        self.t += k
        losses = losses[:k]
        if k and not math.isfinite(losses[-1]):
            # Step g = t − 1 failed; the copy before step g − 1 is in S[(g − 1) % 2].
            return P, V, losses, list(self.spare[(self.t - 2) % 2])
        return P, V, losses, None
