"""Mini-batch stochastic gradient descent with the compiled network.

The classic loop: each epoch, shuffle the samples with the seeded generator, cut them
into mini-batches, and for each batch run the forward pass, the loss and the gradient
(the mean over the batch), then w ← w − η · mean_k ∂J_k/∂w (with momentum μ:
v ← μ v − η g, w ← w + v). The step itself is the generated NumPy code of
:meth:`CompiledModel.step`; this module only drives it.

- Starting parameters: ``params=`` or ``net.init_params(seed)`` (see :mod:`symbackprop.params`).
- ``History.loss[e]`` is the mean over epoch e's samples of the loss *during* the epoch
  (each batch's loss at the parameters before its update), as most libraries report it;
  ``History.accuracy[e]`` is the accuracy of the parameters at the *end* of epoch e on
  the whole training set, for classification (softmax output: argmax; sigmoid output with
  0/1 targets: every output on the right side of ½) when ``accuracy=True`` asks for it,
  else empty. It is opt-in because it costs a forward pass over all the data each epoch
  (at 64-128-128-10 on 1,000 rows, more than half again the run's time).
- Divergence (a non-finite batch loss) raises :class:`TrainingDivergedError`, which
  carries the last good parameters (those the previous step started from: their batch
  loss was finite; the starting parameters if the first step fails) and the history of
  the completed epochs. Keeping them costs one copy of the parameters per step (NumPy:
  the parameter arrays are views into one flat buffer, so that is one ``copyto``).
- When one batch holds all the data (``batch_size >= n``), the loop neither shuffles nor
  copies the data: every epoch is one gradient step on X as given.
- Ctrl-C returns the parameters trained so far, with ``history.interrupted = True``.
- The same seed gives bit-identical results.
- ``backend="jax"`` runs the same loop with the JAX-compiled step (see
  :func:`symbackprop.compiler.compile_network`); results agree with NumPy to rounding.
  A backend may run whole epochs itself (``Backend.epoch_loop``): JAX runs each epoch as
  one jitted ``lax.scan`` with one device sync (:mod:`symbackprop.compiler.jax_loop`).
  The model comes from ``net.compile(backend)``, which the network keeps: repeated
  calls do not compile again. Where the arrays live and how the last good parameters
  are kept is the backend's business (:mod:`symbackprop.compiler.backends`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SpecError, TrainingDivergedError

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import BackendName, CompiledModel
    from .flow import FlowRecording
    from .network import Network
    from .params import FlatParameters

__all__ = ["History", "TrainingDivergedError", "train"]


@dataclass
class History:
    """What happened during training.

    Attributes
    ----------
    loss : list of float
        Per epoch, the mean loss over the epoch's samples, each taken before its batch's update.
    accuracy : list of float
        Per epoch, the training-set accuracy at the end of the epoch (classification only,
        and only when ``train(..., accuracy=True)``, the default).
    epochs : int
        Number of epochs completed.
    interrupted : bool
        True when the run was stopped with Ctrl-C.
    stopped_early : bool
        True when the callback asked to stop.
    gradient_flow : FlowRecording or None
        With ``train(..., gradient_flow=True)``: per-layer δ and gradient norms at the end
        of every epoch (read them with :func:`symbackprop.gradient_flow`); else None.
    backend : str
        The backend that ran the steps (what ``backend="auto"`` chose).
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    epochs: int = 0
    interrupted: bool = False
    stopped_early: bool = False
    gradient_flow: FlowRecording | None = None
    backend: str = ""


def _check_number(name: str, value: Any, kind: type, low: float, low_ok: bool, rule: str) -> Any:
    ok_type = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if kind is int:
        ok_type = ok_type and float(value) == int(value)
    if not ok_type or not math.isfinite(float(value)) or (value < low if low_ok else value <= low):
        raise SpecError(f"{name} must be {rule}; got {value!r}.")
    return kind(value)


def _flat_views(arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """One flat copy of ``arrays`` and, in the same order and shapes, views into it."""
    flat = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    return flat, _split(flat, [a.shape for a in arrays])


def _split(flat: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Views of ``flat`` with the given shapes, one after the other."""
    views, at = [], 0
    for shape in shapes:
        size = math.prod(shape)
        views.append(flat[at : at + size].reshape(shape))
        at += size
    return views


def _copy_flat(flat: np.ndarray) -> Callable[[np.ndarray, Any], None]:
    """``save_into(spare, P)`` for parameters that are views of ``flat``: one copy."""
    copyto = np.copyto
    return lambda spare, _P: copyto(spare, flat)


def _classifier(model: CompiledModel, Y: np.ndarray) -> Callable[[np.ndarray], float] | None:
    """A function params-output -> accuracy, or None when accuracy makes no sense."""
    own = getattr(model, "accuracy_function", None)
    if own is not None:  # a computation's model (it has no layers): it knows its outputs
        return own(Y)
    out = model.spec.activations[-1]
    # Array methods rather than numpy functions: this runs once per epoch on all the data.
    if not out.elementwise:
        labels = Y.argmax(axis=1)
        return lambda A: float((A.argmax(axis=1) == labels).mean())
    if out.name == "sigmoid" and np.all((Y == 0) | (Y == 1)):
        truth = Y > 0.5
        if Y.shape[1] == 1:  # one output: right per sample is right per element
            return lambda A: float(((A > 0.5) == truth).mean())
        return lambda A: float(((A > 0.5) == truth).all(axis=1).mean())
    return None


class _Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.last = total, enabled, 0.0

    def update(self, epoch: int, loss: float, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.1):
            return
        self.last = now
        done = int(30 * epoch / self.total)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (30 - done)}] epoch {epoch}/{self.total} loss {loss:.6g}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _diverged(epoch: int, batch: int, loss: float, lr: float, good: dict, history: History) -> TrainingDivergedError:
    """The error for a non-finite loss in ``batch`` of ``epoch``, carrying the last good parameters."""
    return TrainingDivergedError(
        f"Training diverged in epoch {epoch}, batch {batch}: the loss is {loss}. Try a smaller "
        f"learning rate (lr={lr}); .params holds the last good parameters (those of the previous "
        "step, whose loss was finite).",
        good,
        history,
    )


def train(
    net: Network,
    X: Any,
    Y: Any = None,
    epochs: int = 100,
    lr: float = 0.1,
    batch_size: int = 32,
    seed: int | None = 0,
    params: Mapping | Sequence | None = None,
    momentum: float = 0.0,
    callback: Callable[[int, History], bool | None] | None = None,
    progress: bool | None = None,
    backend: BackendName = "auto",
    accuracy: bool = False,
    gradient_flow: bool | int = False,
) -> tuple[FlatParameters, History]:
    """Train ``net`` on (X, Y) with mini-batch SGD; return the parameters and the history.

    Parameters
    ----------
    net : Network or Computation
        The network or computation (compiled here with its ``compile`` method).
    X, Y : array_like
        Inputs of shape (n, n_0) and targets of shape (n, n_L) (1-D Y for one output).
        For a computation, columns are matched to its inputs and targets by name when the
        data names them (a CSV file's :class:`~symbackprop.datasets.Dataset`, a mapping
        ``{"x": column, ...}``, a DataFrame; then Y may be left out), else by declared
        order (docs/computations-training.md).
    epochs : int
        Passes over the data, at least 1.
    lr : float
        Learning rate η > 0.
    batch_size : int
        Samples per mini-batch, at least 1 (a batch larger than the data is the whole data).
    seed : int or None
        Seeds the initial parameters (when ``params`` is None) and the shuffling.
    params : mapping or list of (W, b), optional
        Starting parameters; they are copied, never modified.
    momentum : float
        Momentum μ in [0, 1); 0 is plain SGD.
    callback : callable, optional
        ``callback(epoch, history)`` after every epoch (epoch counts from 1); return
        True to stop.
    progress : bool or None
        False: never show a progress bar. Otherwise one is drawn on stderr when it is a
        terminal.
    backend : {"auto", "numpy", "numba", "jax", "jax-sharded"} or Backend
        Where the step runs. ``"auto"``: numba for a long enough run when it is installed
        (``symbackprop[fast]``), else NumPy (the rule: :mod:`symbackprop.compiler.auto`);
        ``"jax"`` needs the optional extra ``symbackprop[jax]`` and runs each epoch as one
        jitted program; ``"jax-sharded"`` splits each batch over all of JAX's devices (see
        docs/training.md).
    accuracy : bool
        True: record ``History.accuracy`` (classification), one forward pass over all the
        data per epoch. False (the default): nothing extra runs; ``History.accuracy``
        stays empty.
    gradient_flow : bool or int
        True: at the end of every epoch, record each layer's δ and gradient norms on the
        training data (at most 1024 rows of it, evenly spaced; an integer m: at most m
        rows) into ``History.gradient_flow``, one extra forward and backward pass per
        epoch; read them with :func:`symbackprop.gradient_flow`. False (the default):
        nothing is recorded and nothing extra runs.

    Returns
    -------
    params : Mapping
        ``{Symbol: float}`` in ``net.params`` order (for a network, a
        :class:`~symbackprop.params.FlatParameters`: a mapping over one array, which
        ``predict``, ``save`` and another ``train`` read back in one copy).
    history : History

    Raises
    ------
    TrainingDivergedError
        When the loss becomes NaN or infinite; it carries ``.params`` and ``.history``.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    >>> net = sbp.mlp([2, 4, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    >>> params, history = sbp.train(net, X, Y, epochs=1000, lr=0.5, batch_size=4, seed=0,
    ...                             accuracy=True)
    >>> history.epochs, history.accuracy[-1]
    (1000, 1.0)
    >>> net.compile().predict(params, X).round().ravel()
    array([0., 1., 1., 0.])
    """
    epochs = _check_number("epochs", epochs, int, 1, True, "an integer of at least 1")
    lr = _check_number("lr", lr, float, 0.0, False, "a finite number greater than 0")
    batch_size = _check_number("batch_size", batch_size, int, 1, True, "an integer of at least 1")
    momentum = _check_number("momentum", momentum, float, 0.0, True, "a number in [0, 1)")
    if momentum >= 1:
        raise SpecError(f"momentum must be a number in [0, 1); got {momentum!r}.")
    if callback is not None and not callable(callback):
        raise SpecError(f"callback must be a function callback(epoch, history); got {callback!r}.")
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise SpecError(f"seed must be an integer or None; got {seed!r}.")

    # Kept by the network: compiled once per backend ("auto" checks the data with NumPy's).
    model = net.compile(backend="numpy" if backend == "auto" else backend)
    # Shapes, finite values and targets in the loss's domain (symbackprop.domain).
    X, Y = model.check_data(X, Y)
    if Y is None:
        raise SpecError("train needs the targets Y (one row per row of X).")
    n = X.shape[0]
    if n == 0:
        raise SpecError("X has no rows: training needs at least one sample.")
    batch_size = min(batch_size, n)
    if backend == "auto":
        from .compiler.auto import choose_backend

        model = net.compile(backend=choose_backend(net, steps=epochs * -(-n // batch_size)))

    start = model.arrays(net.init_params(seed) if params is None else params)
    target = model.backend
    in_place = target.update_style == "in place"
    if in_place:
        # The arrays are views into one flat buffer each, so that keeping the last good
        # parameters is one copy of one buffer per step, not one copy per array.
        flat, P = _flat_views(start)
        V = _flat_views([np.zeros_like(p) for p in start])[1]
    else:
        P = target.place(start)
        V = target.place([np.zeros_like(p) for p in start])
    # Shuffling draws from its own stream, so it does not depend on how params were made.
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    if not isinstance(accuracy, bool):
        raise SpecError(f"accuracy must be True or False; got {accuracy!r}.")
    # The full-data forward per epoch runs only when accuracy is asked for and makes sense.
    accuracy = _classifier(model, Y) if accuracy else None
    history = History(backend=model.backend.name)
    recorder = None
    if gradient_flow is not False:  # opt-in: off costs nothing (symbackprop.flow)
        from .flow import Recorder

        recorder = Recorder(model, X, Y, gradient_flow)
        history.gradient_flow = recorder.recording
    bar = _Progress(epochs, progress is not False and sys.stderr.isatty())
    step, step_momentum, forward = model.step, model.step_momentum, model.forward
    starts = range(0, n, batch_size)
    # Two spare copies of the parameters, swapped rather than copied twice: ``before`` holds
    # the parameters a step starts from, ``good`` the last ones whose batch loss was finite.
    if in_place:
        good, before = flat.copy(), flat.copy()
        save_into = _copy_flat(flat)
        shapes = [p.shape for p in start]
        last_good = lambda: _split(good, shapes)  # noqa: E731
    else:
        good, before = list(P), list(P)  # steps that make new arrays never change these
        save_into = target.save_into
        last_good = lambda: good  # noqa: E731
    # One batch holds all the data: its order changes only the rounding of the mean, so
    # the loop neither permutes nor copies the data.
    one_batch = batch_size == n
    # A backend may run whole epochs itself (Backend.epoch_loop: JAX's jitted scan).
    runner = target.epoch_loop(model)
    if runner is not None:
        sizes = [min(batch_size, n - i) for i in starts]
        if accuracy is not None:
            X = target.place([X])[0]  # on the device once, for the runner and accuracy's forward
    # Overflow on the way to a non-finite loss is reported once, as TrainingDivergedError.
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(1, epochs + 1):
                total, batches = 0.0, starts
                if runner is not None:  # the whole epoch in one call, one sync
                    order = None if one_batch else rng.permutation(n)
                    P, V, losses, bad = runner.run(P, V, X, Y, order, batch_size, lr, momentum)
                    if bad is not None:
                        k = int(np.flatnonzero(~np.isfinite(losses))[0])
                        raise _diverged(epoch, k + 1, losses[k], lr, model.mapping(bad), history)
                    for loss, size in zip(losses.tolist(), sizes):
                        total += loss * size  # summed as the Python loop sums
                    batches = ()
                elif one_batch:
                    Xs, Ys = X, Y
                else:
                    perm = rng.permutation(n)
                    Xs, Ys = X[perm], Y[perm]
                for i in batches:
                    xb, yb = Xs[i : i + batch_size], Ys[i : i + batch_size]
                    save_into(before, P)
                    if momentum:
                        loss = step_momentum(P, V, xb, yb, lr, momentum)
                    else:
                        loss = step(P, xb, yb, lr)
                    if not math.isfinite(loss):
                        raise _diverged(epoch, i // batch_size + 1, loss, lr, model.mapping(last_good()),
                                        history)
                    # The parameters this step started from had a finite loss: keep them.
                    good, before = before, good
                    total += loss * len(xb)
                history.loss.append(float(total / n))
                if accuracy is not None:
                    history.accuracy.append(accuracy(np.asarray(forward(P, X))))
                if recorder is not None:
                    recorder.record(P, epoch)
                history.epochs = epoch
                bar.update(epoch, history.loss[-1], force=epoch == epochs)
                if callback is not None and callback(epoch, history):
                    history.stopped_early = True
                    break
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        bar.close()
    return model.mapping(P), history

