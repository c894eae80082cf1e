"""Whole training epochs inside one ``jax.jit`` call: the JAX backend's epoch loop.

:func:`symbackprop.train` asks the backend for an epoch loop
(:meth:`~.backends.Backend.epoch_loop`); the JAX backends answer with a :class:`JaxEpochLoop`,
which runs each epoch as one compiled XLA program:

- the data go to the device once per run (the first epoch), never per batch;
- the epoch's permutation comes from the training loop's seeded NumPy generator (so a seed
  gives the same batches as the NumPy backend); on the device the permuted data are cut
  into ``n // batch_size`` full batches and ``jax.lax.scan`` runs the generated step
  (``model.source()``) over them; a ragged last batch is one more step in the same
  program, on its own rows, so its loss and gradient are the mean over exactly its
  samples;
- one transfer to the host per epoch: the array of the batches' losses;
- divergence is found from that array, without a sync per step, and costs nothing while
  the losses are finite: the scan carries only the parameters (a ``where(isfinite(loss),
  new, old)`` per step to keep the last good ones cost about a sixth of the step at
  64-128-128-10). When a loss is not finite, the last good parameters (those the last
  finite step started from, as the NumPy loop keeps them) are recomputed by running the
  steps before it again from the epoch's start (:meth:`EpochProgram.prefix`), or from
  the previous epoch's start when the first batch failed. The steps are deterministic,
  so the replay gives the parameters the epoch went through.

On several devices (:class:`~.backends.JaxShardedBackend`) the same program runs with the
data and parameters replicated on a :class:`jax.sharding.Mesh` and every batch split over
its ``"batch"`` axis; XLA sums the partial gradients over the devices (an all-reduce), so
the update is the mean over the whole batch, as on one device.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from ..errors import SpecError

__all__ = ["EpochProgram", "JaxEpochLoop", "shared", "to_device"]

#: Jitted functions and epoch programs by what they compute (see :func:`shared`).
_SHARED: OrderedDict[Hashable, Any] = OrderedDict()
#: How many are kept: the most recently used (each holds XLA executables).
SHARED_LIMIT = 64


def shared(key: Hashable, make: Callable[[], Any]) -> Any:
    """The object kept under ``key``, made by ``make()`` the first time.

    ``jax.jit`` caches what it compiles per Python function, and every compiled model runs
    its generated code afresh: without this, each new network (of an architecture the
    process has already trained) would be traced and compiled by XLA again, a second or
    more, where the training itself may take less. The :data:`SHARED_LIMIT` most recently
    used are kept.

    Examples
    --------
    >>> shared(("doc", 1), lambda: [1]) is shared(("doc", 1), lambda: [2])
    True
    """
    value = _SHARED.get(key)
    if value is None:
        value = _SHARED[key] = make()
        if len(_SHARED) > SHARED_LIMIT:
            _SHARED.popitem(last=False)
    else:
        _SHARED.move_to_end(key)
    return value


def to_device() -> Callable[[Any], Any]:
    """A jitted identity: its arguments come back on the default device (one call moves a
    whole list; ``jax.device_put`` costs about 30 µs per array).

    Examples
    --------
    >>> import numpy as np
    >>> type(to_device()([np.zeros(2)])[0]).__name__
    'ArrayImpl'
    """
    import jax

    return shared("to_device", lambda: jax.jit(lambda values: values))


class EpochProgram:
    """The jitted epoch of one compiled model: made once, shared by every training run.

    Parameters
    ----------
    step, step_momentum : callable
        The generated functional steps (``step(P, X, Y, lr) -> (loss, P)`` and
        ``step_momentum(P, V, X, Y, lr, mu) -> (loss, P, V)``), traced into the loop.
    mesh : jax.sharding.Mesh, optional
        Split every batch over this mesh's ``"batch"`` axis (data parallel); None: one device.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> model = sbp.mlp([1, 1]).compile(backend="jax")
    >>> program = model.backend.epoch_program(model)
    >>> program is model.backend.epoch_program(model), program.devices
    (True, 1)
    """

    def __init__(self, step: Callable[..., Any], step_momentum: Callable[..., Any], mesh: Any = None):
        import jax

        self._jax = jax
        self._step, self._step_momentum, self.mesh = step, step_momentum, mesh
        # Compiled once per (data shape, batch size, momentum or not); traced from here.
        static = ("batch_size", "with_momentum")
        self.epoch = jax.jit(self._epoch, static_argnames=static)
        self.prefix = jax.jit(self._prefix, static_argnames=static)
        # Moving arrays as the arguments of a jitted call costs a few µs, jax.device_put
        # about 30 µs per array; with no device named, the default device takes them
        # (JAX_PLATFORMS, jax.default_device).
        self._to_device = to_device()

    @property
    def devices(self) -> int:
        """How many devices each batch is split over."""
        return 1 if self.mesh is None else self.mesh.size

    def put(self, values: Any) -> Any:
        """``values`` (an array or a list of them) on the device, replicated over the mesh's
        devices if any."""
        if self.mesh is None:
            return self._to_device(values)
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as Spec

        return self._jax.device_put(values, NamedSharding(self.mesh, Spec()))

    def _split(self, rows: Any, axis: int) -> Any:
        """``rows`` split over the devices along ``axis`` (the batch axis); as is on one device,
        and replicated when the devices do not divide it (a ragged last batch)."""
        if self.mesh is None or rows.shape[axis] % self.mesh.size:
            return rows
        from jax.sharding import NamedSharding
        from jax.sharding import PartitionSpec as Spec

        spec = Spec(*([None] * axis), "batch")
        return self._jax.lax.with_sharding_constraint(rows, NamedSharding(self.mesh, spec))

    def _permute(self, X: Any, Y: Any, order: Any) -> tuple[Any, Any]:
        """The rows of X and Y in the epoch's order (as they are when ``order`` is None).

        ``jnp.take(..., mode="clip")``, not ``X[order]``: the order is a permutation, so
        every index is in range and clipping changes nothing, while indexing adds the
        negative-index and out-of-range handling: about 250 more ops per array in XLA's
        cost estimate, which at 2-4-1 / batch 4 lifts the whole epoch past the 1,000
        estimated flops under which XLA's CPU client runs a program inline on the calling
        thread instead of dispatching it to a worker thread (docs/performance.md,
        "Training on JAX").
        """
        if order is None:
            return X, Y
        take = self._jax.numpy.take
        return take(X, order, axis=0, mode="clip"), take(Y, order, axis=0, mode="clip")

    def _one(self, P: list[Any], V: list[Any], xb: Any, yb: Any, hyper: Any,
             with_momentum: bool) -> tuple[Any, list[Any], list[Any]]:
        """One generated step: (loss, new P, new V)."""
        if with_momentum:
            return self._step_momentum(P, V, xb, yb, hyper[0], hyper[1])
        loss, P = self._step(P, xb, yb, hyper[0])
        return loss, P, V

    def _epoch(self, P: list[Any], V: list[Any], X: Any, Y: Any, order: Any, hyper: Any, *,
               batch_size: int, with_momentum: bool) -> tuple[list[Any], list[Any], Any]:
        jax, jnp = self._jax, self._jax.numpy
        X, Y = self._permute(X, Y, order)
        full, rest = divmod(X.shape[0], batch_size)

        def body(carry: tuple[list[Any], list[Any]], batch: tuple[Any, Any]) -> tuple[Any, Any]:
            loss, P, V = self._one(*carry, *batch, hyper, with_momentum)
            return (P, V), loss

        carry, losses = (list(P), list(V)), []
        if full:
            shape = (full, batch_size)
            xs = self._split(X[: full * batch_size].reshape(shape + X.shape[1:]), 1)
            ys = self._split(Y[: full * batch_size].reshape(shape + Y.shape[1:]), 1)
            carry, losses_full = jax.lax.scan(body, carry, (xs, ys))
            losses.append(losses_full)
        if rest:  # the ragged last batch: its own step, the mean over its own rows
            tail = slice(full * batch_size, None)
            carry, last = body(carry, (self._split(X[tail], 0), self._split(Y[tail], 0)))
            losses.append(last[None])
        return carry[0], carry[1], jnp.concatenate(losses)

    def _prefix(self, P: list[Any], V: list[Any], X: Any, Y: Any, order: Any, hyper: Any, steps: Any,
                *, batch_size: int, with_momentum: bool) -> list[Any]:
        """The parameters after the epoch's first ``steps`` (full) batches: a replay."""
        jax = self._jax
        X, Y = self._permute(X, Y, order)

        def body(i: Any, carry: tuple[list[Any], list[Any]]) -> tuple[list[Any], list[Any]]:
            xb = self._split(jax.lax.dynamic_slice_in_dim(X, i * batch_size, batch_size), 0)
            yb = self._split(jax.lax.dynamic_slice_in_dim(Y, i * batch_size, batch_size), 0)
            return self._one(*carry, xb, yb, hyper, with_momentum)[1:]

        return jax.lax.fori_loop(0, steps, body, (list(P), list(V)))[0]


class JaxEpochLoop:
    """One training run's epochs, each a single call of the model's :class:`EpochProgram`.

    Keeps what lasts from one epoch to the next: the data on the device (copied on the
    first epoch) and the last good parameters.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
    >>> model = net.compile(backend="jax")
    >>> loop = model.backend.epoch_loop(model)
    >>> P = model.backend.place(model.arrays({"w1_1_1": 0.0, "b1_1": 0.0}))
    >>> X, Y = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [6.0]])
    >>> P, V, losses, good = loop.run(P, P, X, Y, np.array([2, 0, 1]), 2, 0.1, 0.0)
    >>> losses.round(12).tolist(), good is None  # rows (3, 1), then the ragged batch: row 2
    ([10.0, 1.28], True)
    """

    def __init__(self, program: EpochProgram):
        self.program = program
        self._data: tuple[Any, Any, Any, Any] | None = None  # host X, Y and their device copies
        self._hyper: tuple[float, float, Any] | None = None  # lr, mu and [lr, mu] on the device
        self._first: list[Any] | None = None  # the run's starting parameters
        self._previous: tuple[Any, ...] | None = None  # the previous epoch's P, V and order

    def _device_data(self, X: Any, Y: Any) -> tuple[Any, Any]:
        """X and Y on the device, copied on the first epoch only (same arrays after)."""
        if self._data is None or self._data[0] is not X or self._data[1] is not Y:
            self._data = (X, Y, *self.program.put([X, Y]))
        return self._data[2], self._data[3]

    def _device_hyper(self, lr: float, momentum: float) -> Any:
        if self._hyper is None or self._hyper[:2] != (lr, momentum):
            self._hyper = (lr, momentum, self.program.put(np.array([lr, momentum], dtype=np.float64)))
        return self._hyper[2]

    def run(self, P: Sequence[Any], V: Sequence[Any], X: Any, Y: Any,
            order: np.ndarray | None, batch_size: int, lr: float,
            momentum: float) -> tuple[list[Any], list[Any], np.ndarray, list[Any] | None]:
        """One epoch: ``(P, V, batch_losses, good)`` (see :meth:`~.backends.Backend.epoch_loop`).

        ``good`` is None when every batch loss was finite; else the last good parameters
        as the NumPy loop defines them: those the last step with a finite loss started
        from (the starting parameters when the first step of the run fails). The epoch
        runs without looking at its losses; only when one is not finite are the steps up
        to the last good parameters run again (from this or the previous epoch's start),
        so that a healthy run pays nothing for the check.
        """
        k = self.program.devices
        if batch_size % k:
            raise SpecError(
                f"batch_size={batch_size} does not split evenly over {k} devices: use a "
                f"multiple of {k} (or fewer devices)."
            )
        Xd, Yd = self._device_data(X, Y)
        hyper = self._device_hyper(lr, momentum)
        static = {"batch_size": batch_size, "with_momentum": bool(momentum)}
        P, velocities = list(P), list(V)
        V = velocities if momentum else []  # plain SGD: no velocities to carry
        if self._first is None:
            self._first = P
        # A NumPy argument goes to the device inside the jitted call, far cheaper than device_put.
        idx = None if order is None else np.asarray(order)
        newP, newV, losses = self.program.epoch(P, V, Xd, Yd, idx, hyper, **static)
        host = np.asarray(losses)  # the epoch's one sync
        # A finite sum means every loss is finite (a NaN or an infinity would carry into it):
        # cheaper than locating the bad ones, which only a failure needs. Python floats, so
        # that finite losses whose sum overflows give inf without a NumPy warning.
        if math.isfinite(sum(host.tolist())) or not (bad := np.flatnonzero(~np.isfinite(host))).size:
            self._previous = (P, V, idx)
            return newP, newV if momentum else velocities, host, None
        if bad[0] > 0:  # the start of step bad[0] - 1 of this epoch
            good = self.program.prefix(P, V, Xd, Yd, idx, hyper, int(bad[0]) - 1, **static)
        elif self._previous is not None:  # the start of the previous epoch's last step
            before, velocity, previous = self._previous
            good = self.program.prefix(before, velocity, Xd, Yd, previous, hyper, host.size - 1, **static)
        else:
            good = self._first
        return newP, newV if momentum else velocities, host, list(good)
