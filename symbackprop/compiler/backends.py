"""Backends: one object per target owns everything that differs between targets.

A :class:`Backend` owns the SymPy printer that turns the plan's expressions into code,
the namespace the generated module runs in, how a parameter update is written (in place
for NumPy, as new arrays for JAX, whose arrays are immutable), what the steps return,
how the generated functions are wrapped (``jax.jit``), and where arrays live (device
placement). :mod:`.codegen` and :mod:`.model` only ask it; a new target (numba,
SymEngine, sharded JAX) is one new subclass registered in :data:`BACKENDS`.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import sympy as sp
from sympy.printing.numpy import JaxPrinter, NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from ..activations import Activation
from ..errors import SpecError, SymbackpropError, unknown
from ..numeric import KinkNumPyPrinter, UfuncPrinting
from .stable import jax_helpers, numpy_helpers

__all__ = ["BACKENDS", "Backend", "BackendName", "JaxBackend", "JaxShardedBackend", "NumbaBackend",
           "NumPyBackend", "get_backend"]

BackendName = Literal["auto", "numpy", "numba", "jax", "jax-sharded"]

#: What the generated module defines, in this order.
FUNCTIONS = ("forward", "loss", "loss_and_grad", "step", "step_momentum")


class _JaxPrinter(UfuncPrinting, JaxPrinter):
    """SymPy's JAX printer at the kink convention (the NumPy one, with the convention's
    printing methods, is :class:`symbackprop.numeric.KinkNumPyPrinter`: one printer for
    the compiled code and the evaluator)."""


class Backend(ABC):
    """A compilation target: its printer, namespace, update style, wrapping and placement.

    Subclasses set :attr:`name` and :attr:`update_style` and fill in the methods; the base
    class holds what every target shares.

    Examples
    --------
    >>> b = get_backend("numpy")
    >>> factor = sp.Symbol("A1") * sp.Symbol("C1")
    >>> b.name, b.xp, b.scale("D1", b.code(factor), factor)
    ('numpy', 'numpy', '    D1 *= A1*C1')
    >>> b.sgd_update("W1", "(D1.T @ X)")
    ['    W1 -= s * (D1.T @ X)']
    """

    name: str = ""
    #: Words for the generated steps' docstrings: "in place" or "as new arrays".
    update_style: str = ""

    def __init__(self, printer: NumPyPrinter, namespace: dict[str, Any]):
        self.printer = printer
        self.namespace = namespace

    @property
    def xp(self) -> str:
        """The array module's name in the generated code (``numpy``, ``jax.numpy``)."""
        return self.printer._module

    def code(self, expr: sp.Expr) -> str:
        """``expr`` printed for this target."""
        return self.printer.doprint(expr)

    def activation_callable(self, act: Activation) -> Callable[[Any], Any] | None:
        """A ready array function for ``act`` to call by name, or None to print its formula."""
        return None

    # ------------------------------------------------------------ generated code
    @abstractmethod
    def scale(self, target: str, code: str, factor: sp.Expr) -> str:
        """The line ``target ← target · factor`` (``code``: the factor printed)."""
        raise NotImplementedError

    @abstractmethod
    def fresh(self, code: str) -> str:
        """``code`` as an array the step may update without touching another name's array."""
        raise NotImplementedError

    @abstractmethod
    def sgd_update(self, p: str, g: str) -> list[str]:
        """Lines for p ← p − s·g (s = η/n)."""
        raise NotImplementedError

    @abstractmethod
    def momentum_update(self, p: str, g: str) -> list[str]:
        """Lines for v ← μ v − s·g, p ← p + v (velocity ``V{p}``)."""
        raise NotImplementedError

    def step_guard(self) -> list[str]:
        """Lines between the loss and the update (a divergence guard, where the target can)."""
        return []

    @abstractmethod
    def step_return(self, lists: Sequence[str]) -> str:
        """The step's return line; ``lists`` are the updated lists (parameters, velocities)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- runtime
    def wrap(self, fns: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
        """The generated functions as :class:`~.model.CompiledModel` calls them: every
        step updates the lists it is given and returns the loss as a float."""
        return fns

    def place(self, arrays: list[np.ndarray]) -> list[Any]:
        """Arrays where this target computes (a device); NumPy leaves them where they are."""
        return arrays

    @abstractmethod
    def save_into(self, spare: list[Any], P: Sequence[Any]) -> None:
        """Copy the current parameters ``P`` into ``spare`` (the training loop's last good)."""
        raise NotImplementedError

    def refuses(self, source: str) -> str | None:
        """What in the generated ``source`` this target cannot compile (then NumPy runs it), or None."""
        return None

    def finish(self, spec: Any, source: str, filename: str) -> tuple[str, str]:
        """The module's final source and the file name it is compiled under (numba: more
        functions, and a real file, which its on-disk cache needs)."""
        return source, filename

    def epoch_loop(self, model: Any) -> Any:
        """An object that runs whole epochs of ``model`` itself, or None (the default).

        None: :func:`symbackprop.train` calls ``model.step`` per batch in Python. Otherwise
        the object's ``run(P, V, X, Y, order, batch_size, lr, momentum)`` trains one epoch
        and returns ``(P, V, batch_losses, good)``: ``order`` is the epoch's permutation
        of the rows (None: as given), ``batch_losses`` a host NumPy array of each batch's
        loss (the mean over its rows, before its update), ``good`` None when every loss
        was finite, else the last good parameters as the Python loop keeps them (those
        the last step with a finite loss started from; the run's starting parameters when
        its first step fails). One object serves one :func:`~symbackprop.train` call.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> get_backend("numpy").epoch_loop(sbp.mlp([1, 1]).compile()) is None
        True
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NumPyBackend(Backend):
    """NumPy: the steps update the parameter arrays in place.

    Elementwise activations call the registry's stable NumPy form by name; a non-finite
    loss returns before the update, so that P keeps the last finite parameters.
    """

    name = "numpy"
    update_style = "in place"

    def __init__(self) -> None:
        super().__init__(KinkNumPyPrinter({"fully_qualified_modules": True}),
                         {"numpy": np, "isfinite": math.isfinite, **numpy_helpers()})

    def activation_callable(self, act: Activation) -> Callable[[Any], Any] | None:
        return act.numpy if act.elementwise else None

    def scale(self, target: str, code: str, factor: sp.Expr) -> str:
        # relu' = H(z, 0): multiply by the comparison's bool array itself, not by a float copy
        # of it (one pass over the layer fewer; x·True = x and x·False = x·0.0, bit for bit).
        step = re.fullmatch(r"\(numpy\.greater\((\w+), 0\) \* 1\.0\)", code)
        return f"    {target} *= {step[1]} > 0" if step else f"    {target} *= {code}"

    def fresh(self, code: str) -> str:
        return f"{code}.copy()"  # D is updated in place: never alias

    def sgd_update(self, p: str, g: str) -> list[str]:
        return [f"    {p} -= s * {g}"]

    def momentum_update(self, p: str, g: str) -> list[str]:
        return [f"    V{p} *= mu", f"    V{p} -= s * {g}", f"    {p} += V{p}"]

    def step_guard(self) -> list[str]:
        return ["    if not isfinite(loss):  # diverged: keep the last finite parameters",
                "        return loss"]

    def step_return(self, lists: Sequence[str]) -> str:
        return "    return loss"

    def save_into(self, spare: list[Any], P: Sequence[Any]) -> None:
        for b, p in zip(spare, P):
            np.copyto(b, p)


class JaxBackend(Backend):
    """JAX: SymPy's JAX printer, functional updates, each function ``jax.jit``-compiled.

    Activations are printed from their stabilized SymPy definitions (``jax.nn``'s stable
    functions); every update makes a new array and the steps return the new parameters,
    which :meth:`wrap` puts back into the caller's lists. Constructing it switches float64
    on for the process (``jax_enable_x64``): symbackprop computes in float64 everywhere.
    """

    name = "jax"
    update_style = "as new arrays"

    def __init__(self) -> None:
        try:
            import jax
        except ImportError:
            raise SymbackpropError(
                'The jax backend needs JAX: pip install "symbackprop[jax]" (or use backend="numpy").'
            ) from None
        jax.config.update("jax_enable_x64", True)  # JAX defaults to float32
        self._jax = jax
        # One jitted call moves a whole list (jax.device_put costs ~30 µs per array); no
        # device named: the default one (JAX_PLATFORMS, jax.default_device) takes them.
        from .jax_loop import shared, to_device

        self._place = to_device()
        # One namespace object per process (the helpers are made once), so that models
        # with the same code share their compiled functions (wrap).
        namespace = shared("namespace", lambda: {"jax": jax, **jax_helpers()})
        super().__init__(_JaxPrinter({"fully_qualified_modules": True}), dict(namespace))

    def scale(self, target: str, code: str, factor: sp.Expr) -> str:
        if precedence(factor) < PRECEDENCE["Mul"]:
            code = f"({code})"
        return f"    {target} = {target} * {code}"

    def fresh(self, code: str) -> str:
        return code  # immutable arrays cannot alias an update

    def sgd_update(self, p: str, g: str) -> list[str]:
        return [f"    {p} = {p} - s * {g}"]

    def momentum_update(self, p: str, g: str) -> list[str]:
        return [f"    V{p} = mu * V{p} - s * {g}", f"    {p} = {p} + V{p}"]

    def step_return(self, lists: Sequence[str]) -> str:
        # Traced by jax.jit: no Python branch on values; the caller checks the loss.
        return "    return loss, " + ", ".join(f"[{names}]" for names in lists)

    def wrap(self, fns: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
        """The functions ``jax.jit``-ted; shared by every model whose generated code is the
        same (a fresh network of an architecture already compiled in this process), so
        that XLA compiles each program once per process and shape, not once per network.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> a = sbp.mlp([2, 3, 1]).compile(backend="jax")
        >>> b = sbp.mlp([2, 3, 1]).compile(backend="jax")  # a new network, the same code
        >>> c = sbp.mlp([2, 3, 1], activation="relu").compile(backend="jax")
        >>> a.step is b.step, a.step is c.step
        (True, False)
        """
        from .jax_loop import shared

        # Equal code objects (the same source text, constants included) that see the same
        # objects under the global names they use: the same computation.
        key = ("wrap", *((name, fn.__code__, *_globals_used(fn)) for name, fn in fns.items()))
        return shared(key, lambda: self._jit(fns))

    def _jit(self, raw: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
        fns = {name: self._jax.jit(fn) for name, fn in raw.items()}
        # Same contract as NumPy: the steps update the lists P (and V), not the arrays.
        fns["step"] = _into_lists(fns["step"], 1)
        fns["step_momentum"] = _into_lists(fns["step_momentum"], 2)
        for name in ("step", "step_momentum"):  # for the epoch loop to trace into its scan
            fns[name].functional = raw[name]
        return fns

    def place(self, arrays: list[np.ndarray]) -> list[Any]:
        return list(self._place(list(arrays)))

    def save_into(self, spare: list[Any], P: Sequence[Any]) -> None:
        spare[:] = P  # immutable arrays: keeping the references is a copy

    def epoch_loop(self, model: Any) -> Any:
        """A :class:`~.jax_loop.JaxEpochLoop`: each epoch one jitted ``lax.scan`` over its batches.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> model = sbp.mlp([1, 1]).compile(backend="jax")
        >>> type(model.backend.epoch_loop(model)).__name__
        'JaxEpochLoop'
        """
        from .jax_loop import JaxEpochLoop

        return JaxEpochLoop(self.epoch_program(model))

    def epoch_program(self, model: Any) -> Any:
        """The model's :class:`~.jax_loop.EpochProgram`, made (and jitted) once: shared
        by the models whose steps are shared (:meth:`wrap`), on the same devices."""
        from .jax_loop import EpochProgram, shared

        mesh = self._mesh()
        devices = None if mesh is None else tuple(d.id for d in mesh.devices.flat)
        key = ("epoch", model.step.functional, model.step_momentum.functional, devices)
        return shared(key, lambda: EpochProgram(model.step.functional, model.step_momentum.functional, mesh))

    def _mesh(self) -> Any:
        """The device mesh the epoch loop splits batches over; None: one device."""
        return None


class JaxShardedBackend(JaxBackend):
    """JAX, data parallel: every training batch split over several devices.

    The same generated code as :class:`JaxBackend`; the epoch loop runs on a
    :class:`jax.sharding.Mesh` of ``devices`` devices with one axis, ``"batch"``: the data
    and the parameters are replicated on every device, each batch's rows are split over
    them, and XLA adds the devices' partial gradient sums (an all-reduce), so every
    device applies the mean over the whole batch: the parameters are those of one
    device, up to the order of the sums. ``batch_size`` must be a multiple of
    ``devices``; a ragged last batch that the devices do not divide runs unsplit.

    Parameters
    ----------
    devices : int or None
        How many of JAX's devices (``jax.devices()``: the GPUs, else the CPU devices) to
        use; None: all of them.

    Examples
    --------
    >>> JaxShardedBackend(devices=1)
    JaxShardedBackend(devices=1)
    >>> JaxShardedBackend(devices=10**6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: devices=1000000 asks for more devices than JAX sees (...
    """

    name = "jax-sharded"

    def __init__(self, devices: int | None = None) -> None:
        super().__init__()
        visible = self._jax.devices()
        if devices is None:
            devices = len(visible)
        if isinstance(devices, bool) or not isinstance(devices, (int, np.integer)) or devices < 1:
            raise SpecError(f"devices must be a whole number of at least 1 (or None: all); got {devices!r}.")
        if devices > len(visible):
            raise SpecError(
                f"devices={devices} asks for more devices than JAX sees ({len(visible)}: "
                f"{', '.join(map(str, visible))}); use at most {len(visible)}, or on CPU start Python with "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} set before jax is imported."
            )
        from jax.sharding import Mesh, NamedSharding
        from jax.sharding import PartitionSpec as Spec

        self.mesh = Mesh(np.array(visible[:devices]), ("batch",))
        self._replicated = NamedSharding(self.mesh, Spec())

    def place(self, arrays: list[np.ndarray]) -> list[Any]:
        return list(self._jax.device_put(list(arrays), self._replicated))

    def _mesh(self) -> Any:
        return self.mesh

    def __repr__(self) -> str:
        return f"{type(self).__name__}(devices={self.mesh.size})"


def _globals_used(fn: Callable[..., Any]) -> tuple[tuple[str, int], ...]:
    """(name, id of the object) for each global name ``fn``'s code refers to."""
    names = fn.__code__.co_names
    return tuple((name, id(fn.__globals__[name])) for name in names if name in fn.__globals__)


def _into_lists(step: Callable[..., Any], n_lists: int) -> Callable[..., float]:
    """A functional (JAX) step as an in-place one: its new arrays replace the lists'
    contents when the loss is finite (as the NumPy step leaves P alone when it is not)."""

    def in_place(*args: Any) -> float:
        loss, *new = step(*args)
        loss = float(loss)
        if math.isfinite(loss):
            for target, arrays in zip(args[:n_lists], new):
                target[:] = arrays
        return loss

    return in_place


class NumbaBackend(NumPyBackend):
    """numba: the NumPy backend's layer-level code compiled to machine code by numba,
    whole epochs included (:mod:`.numba_backend`; optional extra ``symbackprop[fast]``).

    The steps update the arrays in place, as NumPy's do; activations are printed from their
    formulas and the stable helpers are numba kernels (:mod:`.numba_kernels`). The compiled
    code is cached on disk: an architecture compiles once (seconds), later runs load it.
    """

    name = "numba"

    def __init__(self) -> None:
        from . import numba_backend

        if not numba_backend.available():
            raise SymbackpropError(
                'The numba backend needs numba and SciPy: pip install "symbackprop[fast]" '
                '(or use backend="numpy", or "auto", which falls back to NumPy).'
            )
        super().__init__()
        self._impl = numba_backend
        #: Seconds the first epoch took to compile (or load from the cache); None before.
        self.compile_seconds: float | None = None
        self.from_cache: bool | None = None

    def activation_callable(self, act: Activation) -> Callable[[Any], Any] | None:
        return None  # numba compiles the printed formula, not the registry's NumPy function

    def refuses(self, source: str) -> str | None:
        return self._impl.unsupported(source)

    def finish(self, spec: Any, source: str, filename: str) -> tuple[str, str]:
        return self._impl.finish(spec, source, filename)

    def wrap(self, fns: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
        return self._impl.wrap(self, fns)

    def epoch_loop(self, model: Any) -> Any | None:
        return self._impl.EpochRunner(self)


#: The targets by name; a new one is one more entry.
BACKENDS: dict[str, type[Backend]] = {"numpy": NumPyBackend, "jax": JaxBackend, "jax-sharded": JaxShardedBackend, "numba": NumbaBackend}


def get_backend(backend: str | Backend) -> Backend:
    """A fresh backend object for a name in :data:`BACKENDS` (an object is returned as is).

    Examples
    --------
    >>> get_backend("numpy")
    NumPyBackend()
    >>> get_backend("torch")
    Traceback (most recent call last):
    ...
    symbackprop.errors.UnknownNameError: Unknown backend 'torch'. Known: numpy, jax, jax-sharded, numba, auto.
    """
    if isinstance(backend, Backend):
        return backend
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise unknown("backend", str(backend), (*BACKENDS, "auto"))
    return BACKENDS[backend]()
