"""The runtime: :class:`CompiledModel`, the generated functions behind a checked API.

The generated module (:mod:`.codegen`) is run once; the backend (:mod:`.backends`) wraps
its functions (``jax.jit`` for JAX). The model converts parameters and checks data at
its edges (:meth:`CompiledModel.predict`, :meth:`~CompiledModel.loss`,
:meth:`~CompiledModel.gradient`), and hands the raw array-level functions to the
training loop, which does the conversion once.
"""

from __future__ import annotations

import linecache
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ..domain import check_values
from ..errors import SpecError
from ..params import FlatParameters, to_arrays
from ..spec import Spec
from .backends import FUNCTIONS, Backend, get_backend
from .second_order import (
    DEFAULT_MAX_HESSIAN_PARAMS,
    SecondOrder,
    as_mapping,
    check_hessian_size,
    direction,
    flatten,
)

__all__ = ["CompiledModel"]

#: Diagnostics the generated module also defines (a backend's own generator may not).
DIAGNOSTICS = ("deltas", "flow")


def _run_generated(source: str, filename: str, namespace: dict[str, Any]) -> None:
    """Run the generated module's source in ``namespace`` (what ``lambdify`` does too).

    The source is registered with :mod:`linecache` under ``filename``, so that tracebacks
    and :mod:`inspect` show the generated lines.
    """
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec")  # the builtin: source text to a code object
    exec(code, namespace)  # noqa: S102 (our own generated code, never user text)


class CompiledModel:
    """Forward pass, loss and gradient of a network, compiled for a backend (NumPy, JAX).

    Parameters go in as a mapping ``{Symbol: float}`` (or names, or per-layer
    ``[(W, b), ...]``); the array-level methods (:meth:`forward`, :meth:`loss_and_grad`,
    :meth:`step`) take the flat list ``[W1, b1, W2, b2, ...]`` of :meth:`arrays` and do
    no conversion or checking, for the training loop.

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    >>> model = net.compile()
    >>> p = net.init_params(seed=0)
    >>> X, Y = np.array([[0.0, 1.0]]), np.array([[1.0]])
    >>> model.predict(p, X).shape
    (1, 1)
    >>> g = model.gradient(p, X, Y)
    >>> bool(abs(g[net.b(2, 1)] - (model.predict(p, X)[0, 0] - 1)
    ...      * model.predict(p, X)[0, 0] * (1 - model.predict(p, X)[0, 0])) < 1e-12)
    True
    """

    def __init__(self, spec: Spec, source: str, namespace: dict[str, Any], backend: Backend | str = "numpy"):
        self.spec = spec
        self.backend = get_backend(backend)
        self._source = source
        filename = f"<symbackprop compiled {spec.describe()}>"
        source, filename = self.backend.finish(spec, source, filename)  # numba: a real file
        self._source = source
        _run_generated(source, filename, namespace)
        fns = self.backend.wrap({name: namespace[name] for name in FUNCTIONS}
                                | {name: namespace[name] for name in DIAGNOSTICS if name in namespace})
        self.forward = fns["forward"]
        self._loss = fns["loss"]
        self.loss_and_grad = fns["loss_and_grad"]
        self.step = fns["step"]
        self.step_momentum = fns["step_momentum"]
        # Array level, like loss_and_grad: flow(P, X, Y) -> (loss, grads, deltas, slopes).
        self._deltas, self.flow = fns.get("deltas"), fns.get("flow")

    # -------------------------------------------------------------- conversion
    def arrays(self, params: Mapping | Sequence) -> list[np.ndarray]:
        """Fresh flat list ``[W1, b1, W2, b2, ...]`` (float64, C order) from any parameters.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([2, 1])
        >>> [a.shape for a in net.compile().arrays(net.init_params(0))]
        [(1, 2), (1,)]
        """
        return [np.array(v, dtype=np.float64, order="C") for pair in to_arrays(self.spec, params) for v in pair]

    def mapping(self, arrays: Sequence[Any]) -> FlatParameters:
        """``{Symbol: float}`` from the flat list of :meth:`arrays` (NumPy or JAX arrays).

        A :class:`~symbackprop.params.FlatParameters`: one array behind the mapping, made
        without building a dict of every symbol (milliseconds at 26,000 parameters).

        Examples
        --------
        >>> import numpy as np, symbackprop as sbp
        >>> model = sbp.mlp([2, 1]).compile()
        >>> model.mapping([np.array([[1.0, 2.0]]), np.array([3.0])])
        {w1_1_1: 1.0, w1_1_2: 2.0, b1_1: 3.0}
        """
        arrays = [np.asarray(a) for a in arrays]
        pairs = [(arrays[i], arrays[i + 1]) for i in range(0, len(arrays), 2)]
        flat = np.concatenate([np.concatenate([W.ravel(), b.ravel()]) for W, b in to_arrays(self.spec, pairs)])
        return FlatParameters(self.spec, flat, copy=False)

    def check_data(self, X: Any, Y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        """X (and Y) as float64 arrays of shapes (n, n_0) and (n, n_L), or a clear error.

        A 1-D Y is accepted for a network with one output.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> sbp.mlp([2, 1]).compile().check_data([[1.0, 2.0, 3.0]])
        Traceback (most recent call last):
        ...
        symbackprop.errors.SpecError: X must have shape (n_samples, 2) for this 2-1 network; got (1, 3).
        """
        n0, nL = self.spec.sizes[0], self.spec.sizes[-1]
        sizes = "-".join(map(str, self.spec.sizes))
        Xa = _as_float(X, "X")
        if Xa.ndim != 2 or Xa.shape[1] != n0:
            raise SpecError(
                f"X must have shape (n_samples, {n0}) for this {sizes} network; got {Xa.shape}."
            )
        if Y is None:
            check_values(self.spec.loss, Xa)  # finite inputs (symbackprop.domain)
            return Xa, None
        Ya = _as_float(Y, "Y")
        if Ya.ndim == 1 and nL == 1:
            Ya = Ya.reshape(-1, 1)
        if Ya.shape != (Xa.shape[0], nL):
            raise SpecError(
                f"Y must have shape ({Xa.shape[0]}, {nL}) (one row per row of X, one column "
                f"per output) for this {sizes} network; got {Ya.shape}."
            )
        check_values(self.spec.loss, Xa, Ya)  # finite, targets in the loss's domain
        return Xa, Ya

    # ------------------------------------------------------------ the contract
    def predict(self, params: Mapping | Sequence, X: Any) -> np.ndarray:
        """Network outputs for the rows of X: shape (n_samples, n_outputs).

        Examples
        --------
        >>> import numpy as np, symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> net.compile().predict({"w1_1_1": 2.0, "b1_1": 1.0}, np.array([[3.0]]))
        array([[7.]])
        """
        Xa, _ = self.check_data(X)
        out = self.forward(self.arrays(params), Xa)
        return out if isinstance(out, np.ndarray) else np.array(out)  # a JAX array: to NumPy

    def loss(self, params: Mapping | Sequence, X: Any, Y: Any) -> float:
        """Mean of the per-sample loss J over the batch.

        Examples
        --------
        >>> import numpy as np, symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
        >>> net.compile().loss({"w1_1_1": 2.0, "b1_1": 1.0}, [[3.0], [0.0]], [[5.0], [1.0]])
        1.0
        """
        Xa, Ya = self.check_data(X, Y)
        return float(self._loss(self.arrays(params), Xa, Ya))

    def gradient(self, params: Mapping | Sequence, X: Any, Y: Any) -> FlatParameters:
        """∂(mean J)/∂p for every parameter p, as ``{Symbol: float}`` in ``net.params`` order.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
        >>> net.compile().gradient({"w1_1_1": 2.0, "b1_1": 1.0}, [[3.0]], [[5.0]])
        {w1_1_1: 6.0, b1_1: 2.0}
        """
        Xa, Ya = self.check_data(X, Y)
        _, grads = self.loss_and_grad(self.arrays(params), Xa, Ya)
        return self.mapping(grads)

    def deltas(self, params: Mapping | Sequence, X: Any, Y: Any) -> list[np.ndarray]:
        """δ^(l) = ∂J/∂z^(l) of every layer for every sample: one array (n, n_l) per layer.

        Row k of layer l's array is δ^(l) of sample k alone (not averaged over the batch):
        the same numbers :meth:`gradient` averages (∂J/∂b^(l) is the mean of the rows,
        ∂J/∂W^(l) the mean of δ^(l) a^(l−1)ᵀ). :mod:`symbackprop.flow` records their norms.

        Parameters
        ----------
        params : mapping or list of (W, b)
        X, Y : array_like
            Inputs (n, n_0) and targets (n, n_L), as for :meth:`gradient`.

        Returns
        -------
        list of numpy.ndarray
            ``[δ^(1), ..., δ^(L)]``, layer l of shape (n, n_l).

        Examples
        --------
        >>> import numpy as np, symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
        >>> model = net.compile()
        >>> model.deltas({"w1_1_1": 2.0, "b1_1": 1.0}, [[3.0], [0.0]], [[5.0], [0.0]])
        [array([[2.],
               [1.]])]
        >>> model.gradient({"w1_1_1": 2.0, "b1_1": 1.0}, [[3.0], [0.0]], [[5.0], [0.0]])[net.b(1, 1)]
        1.5
        """
        if self._deltas is None:
            raise SpecError(
                f"The {self.backend.name} backend does not generate deltas; compile with "
                'backend="numpy" or "jax" for per-sample δ.'
            )
        Xa, Ya = self.check_data(X, Y)
        return [np.asarray(d) for d in self._deltas(self.arrays(params), Xa, Ya)]
    # ------------------------------------------------------------ second order
    @cached_property
    def second_order(self) -> SecondOrder:
        """The generated ``hvp`` and ``input_jacobian`` (:mod:`.second_order`), built on first use."""
        return SecondOrder(self)

    def hvp(self, params: Mapping | Sequence, v: Mapping | Sequence, X: Any, Y: Any) -> Any:
        """H·v: the Hessian of the mean batch loss times the direction v (Pearlmutter's R-operator).

        ``v`` is a mapping over every parameter (the result is one too) or a flat vector
        in ``net.params`` order (the result is a NumPy vector). Costs a few gradients.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
        >>> net.compile().hvp({"w1_1_1": 2.0, "b1_1": 1.0}, [1.0, 0.0], [[3.0]], [[5.0]])
        array([9., 3.])
        """
        Xa, Ya = self.check_data(X, Y)
        V, as_map = direction(self.spec, v)
        out = flatten(self.second_order.hvp(self.arrays(params), self.backend.place(V), Xa, Ya))
        return as_mapping(self.spec, out) if as_map else out

    def hessian(self, params: Mapping | Sequence, X: Any, Y: Any, *,
                max_params: int | None = DEFAULT_MAX_HESSIAN_PARAMS) -> np.ndarray:
        """The dense Hessian of the mean batch loss, (n_params, n_params) in ``net.params`` order.

        Column i is :meth:`hvp` with the i-th unit vector. Refused past ``max_params``
        parameters (default 2,000: 32 MB); None for no limit.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
        >>> net.compile().hessian({"w1_1_1": 2.0, "b1_1": 1.0}, [[3.0], [1.0]], [[5.0], [0.0]])
        array([[5., 2.],
               [2., 1.]])
        """
        check_hessian_size(len(self.spec.params), max_params, f"the {'-'.join(map(str, self.spec.sizes))} network")
        Xa, Ya = self.check_data(X, Y)
        P, n = self.arrays(params), len(self.spec.params)
        H = np.empty((n, n))
        for i, unit in enumerate(np.eye(n)):
            V, _ = direction(self.spec, unit)
            H[:, i] = flatten(self.second_order.hvp(P, self.backend.place(V), Xa, Ya))
        return H

    def input_jacobian(self, params: Mapping | Sequence, X: Any) -> np.ndarray:
        """∂a^(L)_j/∂x_k for every row of X: shape (n_samples, n_outputs, n_inputs).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([2, 1], activation="identity")
        >>> net.compile().input_jacobian({"w1_1_1": 2.0, "w1_1_2": -1.0, "b1_1": 0.5}, [[0.0, 1.0]])
        array([[[ 2., -1.]]])
        """
        Xa, _ = self.check_data(X)
        return np.asarray(self.second_order.input_jacobian(self.arrays(params), Xa), dtype=np.float64)

    def source(self) -> str:
        """The generated code: ``forward``, ``loss``, ``loss_and_grad``, ``step``, ``step_momentum``
        (and the diagnostics ``deltas``, ``flow``).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> src = sbp.mlp([2, 1], activation="sigmoid", loss="quadratic").compile().source()
        >>> print(src[src.index("def step"):].split("def step_momentum")[0].strip())
        def step(P, X, Y, lr):
            \"\"\"One SGD step on the batch (X, Y), in place; returns the loss before it.\"\"\"
            n = X.shape[0]
            s = lr / n
            W1, b1, = P
            Z1 = X @ W1.T + b1
            A1, C1 = sigmoid_pair(Z1)  # σ(z), σ(−z)
            loss = ((1/2)*a_minus_y(A1, C1, Y)**2).sum() / n
            if not isfinite(loss):  # diverged: keep the last finite parameters
                return loss
            D1 = A1*C1*a_minus_y(A1, C1, Y)
            W1 -= s * (D1.T @ X)
            b1 -= s * D1.sum(axis=0)
            return loss
        """
        return self._source

    def __repr__(self) -> str:
        return f"CompiledModel({self.spec.describe()}, backend={self.backend.name!r})"



def _as_float(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name} must be an array of numbers: {exc}.") from None
