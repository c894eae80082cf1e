"""The runtime of a compiled computation: :class:`ComputationModel`.

It mirrors :class:`~.model.CompiledModel`, so that :func:`symbackprop.train`,
:func:`symbackprop.gradcheck` and the model file drive both the same way: the checked,
converting methods (:meth:`~ComputationModel.predict`, :meth:`~ComputationModel.loss`,
:meth:`~ComputationModel.gradient`) and the raw array-level functions (``forward``,
``loss_and_grad``, ``step``, ``step_momentum``) on the list ``P = [theta]``, ``theta``
the parameters in ``comp.params`` order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..errors import SpecError
from ..params import Parameters
from .backends import FUNCTIONS, Backend, get_backend
from .columns import select
from .model import _run_generated
from .second_order import check_hessian_size
from .stable import sigmoid

__all__ = ["MAX_HESSIAN_PARAMS", "ComputationModel"]

#: model.hessian builds the dense matrix for at most this many parameters unless told
#: otherwise (as for networks: 2,000² float64 entries are 32 MB, and 2,000 products).
MAX_HESSIAN_PARAMS = 2000


class ComputationModel:
    """Forward pass, loss and gradient of a computation over a batch of rows (NumPy, JAX).

    Parameters go in as a mapping ``{Symbol or name: float}`` or a sequence of floats in
    ``comp.params`` order; data as described in :mod:`.columns` (named columns are matched
    to the inputs and targets by name, plain arrays by the declared order).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w, x, y, o, J = sp.symbols("w x y o J", real=True)
    >>> comp = SimpleNamespace(definitions=((o, w * x), (J, (o - y) ** 2 / 2)),
    ...                        params=(w,), inputs=(x,), targets=(y,), loss=J, outputs=(o,))
    >>> from symbackprop.compiler.computation import compile_computation
    >>> model = compile_computation(comp)
    >>> model.predict({"w": 2.0}, {"x": [1.0, 3.0]})
    array([[2.],
           [6.]])
    >>> model.loss([2.0], {"x": [1.0, 3.0], "y": [1.0, 5.0]})
    0.5
    >>> model.gradient([2.0], [[1.0], [3.0]], [[1.0], [5.0]])
    {w: 2.0}
    """

    def __init__(self, comp: Any, plan: Any, source: str, namespace: dict[str, Any],
                 backend: Backend | str = "numpy"):
        self.computation = comp
        self.plan = plan
        self.params = tuple(plan.params)
        self.backend = get_backend(backend)
        self._source = source
        self._namespace = dict(namespace)  # before it runs: the second-order code gets its own
        _run_generated(source, f"<symbackprop compiled computation of {plan.loss}>", namespace)
        fns = self.backend.wrap({name: namespace[name] for name in FUNCTIONS})
        self.forward = fns["forward"]
        self._loss = fns["loss"]
        self.loss_and_grad = fns["loss_and_grad"]
        self.step = fns["step"]
        self.step_momentum = fns["step_momentum"]

    # -------------------------------------------------------------- conversion
    def arrays(self, params: Mapping | Sequence) -> list[np.ndarray]:
        """``[theta]``: a fresh float64 array of the parameters in ``comp.params`` order.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> a, b, J = sp.symbols("a b J", real=True)
        >>> comp = SimpleNamespace(definitions=((J, (a - 1) ** 2 + b**2),), params=(a, b),
        ...                        inputs=(), targets=(), loss=J, outputs=())
        >>> from symbackprop.compiler.computation import compile_computation
        >>> compile_computation(comp).arrays({"b": 2.0, "a": 1.0})
        [array([1., 2.])]
        >>> compile_computation(comp).arrays({"a": 1.0})
        Traceback (most recent call last):
        ...
        symbackprop.errors.SpecError: No value for the parameter b; give every parameter of the computation (a, b).
        """
        names = ", ".join(p.name for p in self.params)
        if isinstance(params, Mapping):
            values = params if isinstance(params, Parameters) else Parameters(
                {(k if isinstance(k, sp.Symbol) else sp.Symbol(str(k))): v for k, v in params.items()}
            )
            known = {p.name for p in self.params}
            unknown = [str(getattr(k, "name", k)) for k in params if str(getattr(k, "name", k)) not in known]
            if unknown:
                raise SpecError(f"Unknown parameter(s) {', '.join(unknown)}; the computation's parameters are {names}.")
            out = []
            for p in self.params:
                if p not in values:
                    raise SpecError(f"No value for the parameter {p.name}; give every parameter of the computation ({names}).")
                out.append(values[p])
        else:
            out = list(np.asarray(params, dtype=np.float64).ravel()) if not isinstance(params, (str, bytes)) else None
            if out is None or len(out) != len(self.params):
                raise SpecError(
                    f"Parameters must be a mapping {{name: value}} or {len(self.params)} numbers in the order {names}."
                )
        try:
            theta = np.array(out, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"Parameter values must be numbers: {exc}.") from None
        return [theta.reshape(len(self.params))]

    def mapping(self, arrays: Sequence[Any]) -> Parameters:
        """``{Symbol: float}`` in ``comp.params`` order from ``[theta]`` (NumPy or JAX)."""
        (theta,) = arrays
        return Parameters(zip(self.params, (float(v) for v in np.asarray(theta))))

    def check_data(self, X: Any, Y: Any = None, *, need_targets: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """X (n, n_inputs) and Y (n, n_targets) as float64, matched to the computation's columns.

        Named columns (a :class:`~symbackprop.datasets.Dataset`, a mapping, a DataFrame)
        are matched by name, and a named X may hold the target columns too; plain arrays
        are matched by the declared order (see :mod:`.columns`). ``need_targets=False``:
        Y is None when neither Y nor the target columns are given.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> w, x, y, J = sp.symbols("w x y J", real=True)
        >>> comp = SimpleNamespace(definitions=((J, (w * x - y) ** 2),), params=(w,),
        ...                        inputs=(x,), targets=(y,), loss=J, outputs=())
        >>> from symbackprop.compiler.computation import compile_computation
        >>> compile_computation(comp).check_data({"x": [1.0], "t": [2.0]})
        Traceback (most recent call last):
        ...
        symbackprop.errors.DataError: The data has no column for y and column(s) t that are not an input or target (its columns: x, t; the computation's inputs: x; targets: y); name the columns after them.
        """
        p = self.plan
        return select(X, Y, [s.name for s in p.inputs], [s.name for s in p.targets], need_targets)

    # ------------------------------------------------------------ the contract
    def predict(self, params: Mapping | Sequence, X: Any) -> np.ndarray:
        """The outputs ``comp.outputs`` for the rows of X: shape (n_rows, n_outputs)."""
        Xa, _ = self.check_data(X, need_targets=False)
        return np.asarray(self.forward(self.arrays(params), Xa))

    def loss(self, params: Mapping | Sequence, X: Any, Y: Any = None) -> float:
        """Mean of the loss node over the rows."""
        Xa, Ya = self.check_data(X, Y)
        return float(self._loss(self.arrays(params), Xa, Ya))

    def gradient(self, params: Mapping | Sequence, X: Any, Y: Any = None) -> Parameters:
        """∂(mean loss)/∂p for every parameter p, as ``{Symbol: float}`` in ``comp.params`` order."""
        Xa, Ya = self.check_data(X, Y)
        _, grads = self.loss_and_grad(self.arrays(params), Xa, Ya)
        return self.mapping(grads)

    # ------------------------------------------------------------ second order
    def _second_order(self) -> dict[str, Callable[..., Any]]:
        """``hvp`` and ``input_jacobian``, generated and compiled on first use."""
        fns = self.__dict__.get("_second")
        if fns is None:
            from .computation import second_order_source

            source = second_order_source(self.plan, self.backend)
            namespace = dict(self._namespace)
            _run_generated(source, f"<symbackprop second order of {self.plan.loss}>", namespace)
            fns = {name: namespace[name] for name in ("hvp", "input_jacobian")}
            if self.backend.name == "jax":
                import jax

                fns = {name: jax.jit(fn) for name, fn in fns.items()}
            self._second_source = source
            self.__dict__["_second"] = fns
        return fns

    def _direction(self, v: Mapping | Sequence) -> np.ndarray:
        try:
            (flat,) = self.arrays(v)
        except SpecError as exc:
            raise SpecError(f"The direction v: {exc}") from None
        if not np.isfinite(flat).all():
            raise SpecError("The direction v must be finite; it has a NaN or infinite entry.")
        return flat

    def hvp(self, params: Mapping | Sequence, v: Mapping | Sequence, X: Any, Y: Any = None) -> Any:
        """H·v, the Hessian of the mean loss at ``params`` times the direction ``v``.

        ``v`` is a mapping over every parameter (by name or Symbol; the result is a
        ``{Symbol: float}`` in ``comp.params`` order) or a flat vector in ``comp.params``
        order (the result is a NumPy vector). Computed by the R-operator on the generated
        gradient code (forward over reverse, :mod:`.tangent`): a few gradients' cost.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> a, b, x, J = sp.symbols("a b x J", real=True)
        >>> comp = SimpleNamespace(definitions=((J, a**2 * b * x),), params=(a, b),
        ...                        inputs=(x,), targets=(), loss=J, outputs=())
        >>> from symbackprop.compiler.computation import compile_computation
        >>> model = compile_computation(comp)
        >>> model.hvp({"a": 1.0, "b": 3.0}, [1.0, 0.0], [[2.0]])
        array([12.,  4.])
        >>> model.hvp({"a": 1.0, "b": 3.0}, {"a": 1.0, "b": 0.0}, [[2.0]])
        {a: 12.0, b: 4.0}
        """
        Xa, Ya = self.check_data(X, Y)
        V = [self._direction(v)]
        out = np.asarray(self._second_order()["hvp"](self.arrays(params), V, Xa, Ya), dtype=np.float64)
        return self.mapping([out]) if isinstance(v, Mapping) else out

    def hessian(self, params: Mapping | Sequence, X: Any, Y: Any = None, *,
                max_params: int | None = MAX_HESSIAN_PARAMS) -> np.ndarray:
        """The dense Hessian of the mean loss, (k, k) in ``comp.params`` order.

        Column j is :meth:`hvp` with the j-th unit vector. Refused past ``max_params``
        parameters (default 2,000: 32 MB); None for no limit.

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> a, b, x, J = sp.symbols("a b x J", real=True)
        >>> comp = SimpleNamespace(definitions=((J, a**2 * b * x),), params=(a, b),
        ...                        inputs=(x,), targets=(), loss=J, outputs=())
        >>> from symbackprop.compiler.computation import compile_computation
        >>> compile_computation(comp).hessian({"a": 1.0, "b": 3.0}, [[2.0]])
        array([[12.,  4.],
               [ 4.,  0.]])
        """
        k = len(self.params)
        check_hessian_size(k, max_params, "the computation")
        Xa, Ya = self.check_data(X, Y)
        P = self.arrays(params)
        hvp = self._second_order()["hvp"]
        H = np.empty((k, k))
        for j, unit in enumerate(np.eye(k)):
            H[:, j] = np.asarray(hvp(P, [unit], Xa, Ya))
        return H

    def input_jacobian(self, params: Mapping | Sequence, X: Any) -> np.ndarray:
        """∂output/∂input for every row: shape (n_rows, n_outputs, n_inputs) (saliency).

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> w, x1, x2, o, J = sp.symbols("w x1 x2 o J", real=True)
        >>> comp = SimpleNamespace(definitions=((o, w * x1 * x2), (J, o**2)), params=(w,),
        ...                        inputs=(x1, x2), targets=(), loss=J, outputs=(o,))
        >>> from symbackprop.compiler.computation import compile_computation
        >>> compile_computation(comp).input_jacobian({"w": 2.0}, [[3.0, 5.0]])
        array([[[10.,  6.]]])
        """
        Xa, _ = self.check_data(X, need_targets=False)
        return np.asarray(self._second_order()["input_jacobian"](self.arrays(params), Xa))

    def accuracy_function(self, Y: np.ndarray) -> Callable[[np.ndarray], float] | None:
        """For :func:`symbackprop.train`: accuracy of the outputs against 0/1 targets when
        every output is a sigmoid and there is one output per target, else None."""
        p = self.plan
        defs = dict(p.forward)
        outs = [defs.get(o) for o in p.outputs]
        if not outs or len(outs) != Y.shape[1] or not all(isinstance(e, sigmoid) for e in outs):
            return None
        if not np.all((Y == 0) | (Y == 1)):
            return None
        truth = Y > 0.5
        return lambda A: float(((A > 0.5) == truth).all(axis=1).mean())

    def source(self) -> str:
        """The generated code: ``forward``, ``loss``, ``loss_and_grad``, ``step``, ``step_momentum``,
        and ``hvp`` and ``input_jacobian`` once second order has been used."""
        return self._source + ("\n" + self._second_source if "_second" in self.__dict__ else "")

    def __repr__(self) -> str:
        names = ", ".join(p.name for p in self.params)
        return f"ComputationModel(loss {self.plan.loss} in {names}, backend={self.backend.name!r})"

