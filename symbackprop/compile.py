"""Compile a network's derivation to NumPy: forward pass, loss and gradient over a batch.

This is the one boundary between symbolic and numeric (STYLE.md, point 4). The compiled
code works at the layer level, over a whole batch X of shape (n, n_0)::

    Z^(l) = A^(l-1) @ W^(l).T + b^(l)          A^(l) = f_l(Z^(l))
    δ^(L) = ∇_a J ⊙ f_L'(·)                    δ^(l) = (δ^(l+1) @ W^(l+1)) ⊙ f_l'(·)
    ∂J/∂W^(l) = δ^(l).T @ A^(l-1) / n          ∂J/∂b^(l) = mean of δ^(l) over the batch

How it works
------------
Nothing is differentiated by hand. f' is the registry's ``output_derivative`` (written
in a = f(z), cheap and stable) where registered, else ``Activation.derivative()`` by
``sympy.diff``. ∇_a J is ``sympy.diff`` of the loss with respect to each output symbol;
when every ∂J/∂a_j is the same function of (a_j, y_j) (all registered losses), it is
emitted once as an elementwise expression over the (n, n_L) arrays, else column by
column. These SymPy expressions are printed with SymPy's NumPy printer (the printer
``sympy.lambdify`` uses, with ``Heaviside(z, 0)`` printed as ``numpy.greater(z, 0)``
so that H(0) = 0) into the Python source of a few small functions — ``forward``,
``loss``, ``loss_and_grad`` and the SGD ``step`` — which are compiled once with
:func:`compile` (the same mechanism as ``lambdify``). ``model.source()`` shows that code.
Set-up grows with the number of layers and outputs, never with the number of weights:
no scalar graph and no per-weight symbol is built here.

``backend="jax"`` (optional) runs the same generator with SymPy's JAX printer: the
code calls ``jax.numpy``, activations are printed from their SymPy definitions (softplus
as ``logaddexp(0, z)``) instead of the registry's NumPy callables, every update makes a
new array (JAX arrays are immutable) and the steps return the new parameters; each
function is ``jax.jit``-compiled. Float64 is switched on for the process
(``jax_enable_x64``).

Numerics (float64 throughout):

- softmax + ``cross_entropy``: through log-sum-exp. Per element ℓ_j = y_j (LSE − z_j)
  and the fused δ_j = softmax(z)_j Σ_k y_k − y_j (:data:`FUSED`; the tests check both
  against the SymPy derivation). Finite loss and gradient at logits of ±1000.
- sigmoid + ``binary_cross_entropy``: from the logits, ℓ = logaddexp(0, z) − y z and
  δ = σ(z) − y; no overflow at |z| = 1e4.
- ``binary_cross_entropy`` after another activation: a is clipped to [EPS, 1 − EPS];
  ``cross_entropy`` without softmax: a is clipped to [EPS, ∞). :data:`EPS` = 1e-12.
- activations use the registry's stable NumPy form (``Activation.numpy``) where given,
  softmax subtracts the row maximum.
"""

from __future__ import annotations

import linecache
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sympy as sp
from sympy.codegen.numpy_nodes import logaddexp
from sympy.printing.numpy import JaxPrinter, NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from .activations import A as A_SYM
from .activations import Z as Z_SYM
from .activations import at_kinks
from .domain import check_values
from .errors import SpecError, SymbackpropError, unknown
from .params import to_arrays, to_mapping
from .spec import Spec

__all__ = ["EPS", "FUSED", "CompiledModel", "compile_network"]

#: Clipping epsilon for the (binary) cross-entropy when it is not fused with its activation.
EPS = 1e-12

Backend = Literal["numpy", "jax"]
BACKENDS = ("numpy", "jax")

_y, _lse, _sy = sp.symbols("y LSE S_Y")
#: The fused output-layer forms, per element, as SymPy expressions in z (logit), a
#: (output), y (target), LSE (log Σ_k exp z_k) and S_Y (Σ_k y_k):
#: ``(activation, loss) -> (loss term ℓ, δ)``; J is the sum of ℓ over the outputs.
FUSED: dict[tuple[str, str], tuple[sp.Expr, sp.Expr]] = {
    ("softmax", "cross_entropy"): (_y * (_lse - Z_SYM), A_SYM * _sy - _y),
    ("sigmoid", "binary_cross_entropy"): (logaddexp(0, Z_SYM) - _y * Z_SYM, A_SYM - _y),
}


class _Step:
    """Steps and max/min as ufunc calls (mixed into SymPy's NumPy and JAX printers).

    Max/Min of any number of arguments become nested ``maximum``/``minimum`` calls (SymPy's
    own NumPy printer emits ``functools.reduce``, a name the generated code does not have).
    """

    _module: str

    def _print_Heaviside(self, expr: sp.Heaviside) -> str:
        x, m = self._print(expr.args[0]), self._module  # type: ignore[attr-defined]
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        # A comparison is three times faster than numpy.heaviside; "* 1.0" makes a step
        # that stands alone (an activation heaviside(z)) a float array, not a bool one.
        if at_zero == 0:
            return f"({m}.greater({x}, 0) * 1.0)"
        if at_zero == 1:
            return f"({m}.greater_equal({x}, 0) * 1.0)"
        return f"{m}.heaviside({x}, {float(at_zero)!r})"

    def _fold(self, expr: sp.Expr, ufunc: str) -> str:
        code = self._print(expr.args[0])  # type: ignore[attr-defined]
        for arg in expr.args[1:]:
            code = f"{self._module}.{ufunc}({code}, {self._print(arg)})"  # type: ignore[attr-defined]
        return code

    def _print_Max(self, expr: sp.Max) -> str:
        return self._fold(expr, "maximum")

    def _print_Min(self, expr: sp.Min) -> str:
        return self._fold(expr, "minimum")

    def doprint(self, expr: sp.Expr, *args: Any, **kwargs: Any) -> str:
        # The kink convention (docs/notation.md): a step's derivative (DiracDelta) is 0.
        return super().doprint(at_kinks(expr), *args, **kwargs)  # type: ignore[misc]


class _Printer(_Step, NumPyPrinter):
    """SymPy's NumPy printer (the one ``lambdify`` uses)."""


class _JaxPrinter(_Step, JaxPrinter):
    """SymPy's JAX printer."""


_w = sp.Wild("w")
# The NumPy backend uses the registry's stable NumPy forms of the activations; the JAX
# backend prints their SymPy definitions, with softplus log(1 + e^w) as logaddexp(0, w).
_STABLE = ((sp.log(1 + sp.exp(_w)), logaddexp(0, _w)),)


def _separable(exprs: Sequence[sp.Expr], a: Sequence[sp.Symbol], y: Sequence[sp.Symbol]) -> sp.Expr | None:
    """The common form g(a, y) when ``exprs[j]`` is g(a_j, y_j) for every j, else None."""
    forms = {e.xreplace({a[j]: A_SYM, y[j]: _y}) for j, e in enumerate(exprs)}
    if len(forms) == 1:
        (form,) = forms
        if form.free_symbols <= {A_SYM, _y}:
            return form
    return None


def _loss_terms(J: sp.Expr, a: Sequence[sp.Symbol], y: Sequence[sp.Symbol]) -> sp.Expr | None:
    """ℓ(a, y) when J = Σ_j ℓ(a_j, y_j) (plus nothing else), else None."""
    groups: list[list[sp.Expr]] = [[] for _ in a]
    index = {s: j for j, s in enumerate(a)} | {s: j for j, s in enumerate(y)}
    for term in sp.Add.make_args(J):
        owners = {index.get(s, -1) for s in term.free_symbols}
        if len(owners) != 1 or -1 in owners:
            return None
        groups[owners.pop()].append(term)
    return _separable([sp.Add(*g) for g in groups], a, y)


@dataclass(frozen=True)
class _Plan:
    """Everything the code generator needs, decided once from the spec."""

    fused: tuple[str, str] | None
    clip: tuple[float, float | None] | None
    loss_elem: sp.Expr | None  # ℓ(a, y) when separable
    grad_elem: sp.Expr | None  # ∂ℓ/∂a when separable
    loss_expr: sp.Expr  # J in the output/target symbols (fallback)
    grad_exprs: tuple[sp.Expr, ...]  # ∂J/∂a_j (fallback)


def _plan(spec: Spec) -> _Plan:
    a, y = spec.outputs, spec.targets
    out = spec.activations[-1]
    key = (out.name, spec.loss.name)
    J = spec.loss(a, y)
    if key in FUSED and spec.loss is _registered(spec.loss.name):
        return _Plan(key, None, None, None, J, ())
    grads = tuple(sp.diff(J, aj) for aj in a)
    clip = None
    if spec.loss is _registered("binary_cross_entropy"):
        clip = (EPS, 1.0 - EPS)
    elif spec.loss is _registered("cross_entropy"):
        clip = (EPS, None)
    return _Plan(None, clip, _loss_terms(J, a, y), _separable(grads, a, y), J, grads)


def _registered(name: str) -> Any:
    from .losses import LOSSES

    return LOSSES.get(name)


class _Source:
    """Builds the generated module: lines of Python, and the names it refers to.

    ``backend="numpy"`` updates arrays in place; ``backend="jax"`` (immutable arrays)
    writes every update as a new array and returns the new parameters from the steps.
    """

    def __init__(self, spec: Spec, backend: Backend = "numpy"):
        self.spec = spec
        self.plan = _plan(spec)
        self.inplace = backend == "numpy"
        if self.inplace:
            self.printer: NumPyPrinter = _Printer({"fully_qualified_modules": True})
            self.namespace: dict[str, Any] = {"numpy": np, "isfinite": math.isfinite}
        else:
            import jax

            self.printer = _JaxPrinter({"fully_qualified_modules": True})
            self.namespace = {"jax": jax}
        self.np = self.printer._module  # "numpy" or "jax.numpy" in the generated code
        self.act_names: dict[int, str] = {}
        for layer, act in enumerate(spec.activations, start=1):
            if self.inplace and act.elementwise and act.numpy is not None:
                name = act.name if act.name.isidentifier() else f"f{layer}"
                if self.namespace.get(name, act.numpy) is not act.numpy:
                    name = f"{name}_{layer}"
                self.namespace[name] = act.numpy
                self.act_names[layer] = name

    # ------------------------------------------------------------------ pieces
    def code(self, expr: sp.Expr, names: Mapping[sp.Symbol, str] | None = None) -> str:
        """``expr`` printed for this backend, with symbols renamed to array names."""
        expr = expr.xreplace({s: sp.Symbol(v) for s, v in (names or {}).items()})
        if not self.inplace:
            for pattern, stable in _STABLE:
                expr = expr.replace(pattern, stable)
        return self.printer.doprint(expr)

    def scale(self, target: str, factor: sp.Expr, names: Mapping[sp.Symbol, str]) -> str:
        """``target *= factor``, or ``target = target * factor`` for immutable arrays."""
        code = self.code(factor, names)
        if self.inplace:
            return f"    {target} *= {code}"
        if precedence(factor) < PRECEDENCE["Mul"]:
            code = f"({code})"
        return f"    {target} = {target} * {code}"

    def params_line(self) -> str:
        names = ", ".join(f"W{l}, b{l}" for l in range(1, self.spec.n_layers + 1))
        return f"    {names}, = P"

    def forward(self) -> list[str]:
        lines = []
        L = self.spec.n_layers
        for l, act in enumerate(self.spec.activations, start=1):
            prev = "X" if l == 1 else f"A{l - 1}"
            lines.append(f"    Z{l} = {prev} @ W{l}.T + b{l}")
            if not act.elementwise:  # softmax through log-sum-exp
                lines += [
                    f"    M = Z{l}.max(axis=1, keepdims=True)",
                    f"    E = {self.np}.exp(Z{l} - M)",
                    "    S = E.sum(axis=1, keepdims=True)",
                    f"    A{l} = E / S",
                ]
                if l == L:
                    lines.append(f"    LSE = M + {self.np}.log(S)")
            elif l in self.act_names:
                lines.append(f"    A{l} = {self.act_names[l]}(Z{l})")
            else:
                lines.append(f"    A{l} = {self.code(act.expr, {Z_SYM: f'Z{l}'})}")
        return lines

    def _columns(self, out: str) -> list[str]:
        a, y = self.spec.outputs, self.spec.targets
        lines = [f"    {aj.name} = {out}[:, {j}]" for j, aj in enumerate(a)]
        lines += [f"    {yj.name} = Y[:, {j}]" for j, yj in enumerate(y)]
        return lines

    def loss(self) -> list[str]:
        """Lines that set ``loss`` (mean over the batch) from the forward pass."""
        p, L = self.plan, self.spec.n_layers
        if p.fused == ("softmax", "cross_entropy"):
            ell = self.code(FUSED[p.fused][0], {_y: "Y", _lse: "LSE", Z_SYM: f"Z{L}"})
            return [f"    loss = ({ell}).sum() / n"]
        if p.fused == ("sigmoid", "binary_cross_entropy"):
            ell = self.code(FUSED[p.fused][0], {_y: "Y", Z_SYM: f"Z{L}"})
            return [f"    loss = ({ell}).sum() / n"]
        lines, out = [], f"A{L}"
        if p.clip is not None:
            lo, hi = p.clip
            lines.append(f"    Ac = {self.np}.clip(A{L}, {lo!r}, {hi!r})  # EPS keeps log finite")
            out = "Ac"
        if p.loss_elem is not None:
            ell = self.code(p.loss_elem, {A_SYM: out, _y: "Y"})
            return lines + [f"    loss = {self.np}.sum({ell}) / n"]
        lines += self._columns(out)
        return lines + [f"    loss = {self.np}.sum({self.code(p.loss_expr)}) / n"]

    def output_delta(self) -> list[str]:
        """Lines that set ``D{L}`` = δ^(L) (one row per sample)."""
        p, spec, L = self.plan, self.spec, self.spec.n_layers
        if p.fused == ("softmax", "cross_entropy"):
            d = self.code(FUSED[p.fused][1], {A_SYM: f"A{L}", _y: "Y", _sy: "Y.sum(axis=1, keepdims=True)"})
            return [f"    D{L} = {d}"]
        if p.fused == ("sigmoid", "binary_cross_entropy"):
            return [f"    D{L} = {self.code(FUSED[p.fused][1], {A_SYM: f'A{L}', _y: 'Y'})}"]
        out = "Ac" if p.clip is not None else f"A{L}"
        if p.grad_elem is not None:
            g = self.code(p.grad_elem, {A_SYM: out, _y: "Y"})
            if not p.grad_elem.free_symbols:
                g = f"{self.np}.full_like(A{L}, {g})"
            elif p.grad_elem.is_Symbol and self.inplace:  # D is updated in place: never alias A or Y
                g = f"{g}.copy()"
            lines = [f"    G = {g}"]
        else:
            # A constant column is printed as a float: an int column would make G an int array.
            cols = ", ".join(
                f"{self.np}.broadcast_to({float(e) if e.is_number else self.code(e)}, n)"
                for e in p.grad_exprs
            )
            lines = [] if p.loss_elem is None else self._columns(out)
            lines.append(f"    G = {self.np}.stack([{cols}], axis=1)")
        act = spec.activations[-1]
        if not act.elementwise:
            # δ_j = Σ_i g_i ∂a_i/∂z_j with ∂a_i/∂z_j = a_i(δ_ij − a_j) (softmax_partial).
            return lines + [f"    D{L} = A{L} * (G - (G * A{L}).sum(axis=1, keepdims=True))"]
        return lines + [f"    D{L} = G", *self._times_fprime(L)]

    def _times_fprime(self, l: int) -> list[str]:
        """``D{l} *= f_l'``, or nothing when f_l' = 1."""
        act = self.spec.activations[l - 1]
        if act.output_derivative is not None:
            expr, names = act.output_derivative, {A_SYM: f"A{l}"}
        else:
            expr, names = act.derivative(), {Z_SYM: f"Z{l}"}
        if expr == 1:
            return []
        return [self.scale(f"D{l}", expr, names)]

    def backward(self, mode: Literal["grad", "sgd", "momentum"]) -> list[str]:
        lines = self.output_delta()
        L = self.spec.n_layers

        def emit(l: int) -> None:
            prev = "X" if l == 1 else f"A{l - 1}"
            if mode == "grad":
                lines.append(f"    dW{l} = D{l}.T @ {prev} / n")
                lines.append(f"    db{l} = D{l}.sum(axis=0) / n")
            elif not self.inplace:  # new arrays; the step returns them
                for p, g in ((f"W{l}", f"(D{l}.T @ {prev})"), (f"b{l}", f"D{l}.sum(axis=0)")):
                    if mode == "sgd":
                        lines.append(f"    {p} = {p} - s * {g}")
                    else:
                        lines.append(f"    V{p} = mu * V{p} - s * {g}")
                        lines.append(f"    {p} = {p} + V{p}")
            elif mode == "sgd":
                lines.append(f"    W{l} -= s * (D{l}.T @ {prev})")
                lines.append(f"    b{l} -= s * D{l}.sum(axis=0)")
            else:
                lines.append(f"    VW{l} *= mu")
                lines.append(f"    VW{l} -= s * (D{l}.T @ {prev})")
                lines.append(f"    W{l} += VW{l}")
                lines.append(f"    Vb{l} *= mu")
                lines.append(f"    Vb{l} -= s * D{l}.sum(axis=0)")
                lines.append(f"    b{l} += Vb{l}")

        for l in range(L - 1, 0, -1):
            lines.append(f"    D{l} = D{l + 1} @ W{l + 1}")
            lines += self._times_fprime(l)
            emit(l + 1)  # W^(l+1) is no longer needed: update it now
        emit(1)
        return lines

    # --------------------------------------------------------------- functions
    def module(self) -> str:
        spec, L = self.spec, self.spec.n_layers
        head = [f"# Generated by symbackprop for the {spec.describe()}."]
        for layer, name in self.act_names.items():
            head.append(f"# {name}: the registry's stable NumPy form of {spec.activations[layer - 1].name}")
        fwd = ["", "def forward(P, X):", self.params_line(), *self.forward(), f"    return A{L}"]
        loss = ["", "def loss(P, X, Y):", "    n = X.shape[0]", self.params_line(),
                *self.forward(), *self.loss(), "    return loss"]
        grads = ", ".join(f"dW{l}, db{l}" for l in range(1, L + 1))
        lag = ["", "def loss_and_grad(P, X, Y):", "    n = X.shape[0]", self.params_line(),
               *self.forward(), *self.loss(), *self.backward("grad"), f"    return loss, [{grads}]"]
        params = ", ".join(f"W{l}, b{l}" for l in range(1, L + 1))
        vel = ", ".join(f"VW{l}, Vb{l}" for l in range(1, L + 1))
        if self.inplace:
            guard = ["    if not isfinite(loss):  # diverged: keep the last finite parameters",
                     "        return loss"]
            how, ret, ret_mom = "in place", "    return loss", "    return loss"
        else:  # traced by jax.jit: no Python branch on values; the caller checks the loss
            guard, how = [], "as new arrays"
            ret, ret_mom = f"    return loss, [{params}]", f"    return loss, [{params}], [{vel}]"
        step = ["", "def step(P, X, Y, lr):",
                f'    """One SGD step on the batch (X, Y), {how}; returns the loss before it."""',
                "    n = X.shape[0]", "    s = lr / n", self.params_line(),
                *self.forward(), *self.loss(), *guard, *self.backward("sgd"), ret]
        mom = ["", "def step_momentum(P, V, X, Y, lr, mu):",
               f'    """One SGD step with momentum mu (velocities V), {how}."""',
               "    n = X.shape[0]", "    s = lr / n", self.params_line(), f"    {vel}, = V",
               *self.forward(), *self.loss(), *guard, *self.backward("momentum"), ret_mom]
        return "\n".join(head + fwd + loss + lag + step + mom) + "\n"


class CompiledModel:
    """Forward pass, loss and gradient of a network, compiled to NumPy.

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

    def __init__(self, spec: Spec, source: str, namespace: dict[str, Any], backend: str = "numpy"):
        self.spec = spec
        self.backend = backend
        self._source = source
        filename = f"<symbackprop compiled {spec.describe()}>"
        # Registered with linecache so tracebacks and inspect show the generated lines.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (our own generated code)
        fns = {name: namespace[name] for name in ("forward", "loss", "loss_and_grad", "step", "step_momentum")}
        if backend == "jax":
            import jax

            fns = {name: jax.jit(fn) for name, fn in fns.items()}
            # Same contract as NumPy: the steps update the lists P (and V), not the arrays.
            fns["step"] = _into_lists(fns["step"], 1)
            fns["step_momentum"] = _into_lists(fns["step_momentum"], 2)
        self.forward = fns["forward"]
        self._loss = fns["loss"]
        self.loss_and_grad = fns["loss_and_grad"]
        self.step = fns["step"]
        self.step_momentum = fns["step_momentum"]

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

    def mapping(self, arrays: Sequence[Any]) -> dict[sp.Symbol, float]:
        """``{Symbol: float}`` from the flat list of :meth:`arrays` (NumPy or JAX arrays)."""
        arrays = [np.asarray(a) for a in arrays]
        pairs = [(arrays[i], arrays[i + 1]) for i in range(0, len(arrays), 2)]
        return to_mapping(self.spec, pairs)

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

    def gradient(self, params: Mapping | Sequence, X: Any, Y: Any) -> dict[sp.Symbol, float]:
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

    def source(self) -> str:
        """The generated NumPy code: ``forward``, ``loss``, ``loss_and_grad``, ``step``.

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
            A1 = sigmoid(Z1)
            loss = numpy.sum((1/2)*(A1 - Y)**2) / n
            if not isfinite(loss):  # diverged: keep the last finite parameters
                return loss
            G = A1 - Y
            D1 = G
            D1 *= A1*(1 - A1)
            W1 -= s * (D1.T @ X)
            b1 -= s * D1.sum(axis=0)
            return loss
        """
        return self._source

    def __repr__(self) -> str:
        return f"CompiledModel({self.spec.describe()}, backend={self.backend!r})"


def _into_lists(step: Any, n_lists: int) -> Any:
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


def _as_float(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name} must be an array of numbers: {exc}.") from None


def compile_network(net: Spec, backend: Backend = "numpy") -> CompiledModel:
    """Compile ``net``'s forward pass, loss and gradient (see the module docstring).

    Parameters
    ----------
    net : Network or Spec
        The network.
    backend : {"numpy", "jax"}
        ``"numpy"``: the steps update the arrays in place. ``"jax"`` (optional extra:
        ``pip install "symbackprop[jax]"``): the same derivation printed with SymPy's JAX
        printer for ``jax.numpy``, each function ``jax.jit``-compiled, with float64
        switched on for the whole process (``jax.config.update("jax_enable_x64", True)``).
        Its generated steps return new arrays (JAX arrays are immutable); ``model.step``
        puts them into the list ``P``, so both backends are driven the same way.

    Returns
    -------
    CompiledModel

    Examples
    --------
    >>> import symbackprop as sbp
    >>> compile_network(sbp.mlp([2, 3, 1]))
    CompiledModel(2-3-1 network (sigmoid, sigmoid; loss quadratic), backend='numpy')
    >>> compile_network(sbp.mlp([2, 1]), backend="torch")
    Traceback (most recent call last):
    ...
    symbackprop.errors.UnknownNameError: Unknown backend 'torch'. Known: numpy, jax.
    """
    if backend not in BACKENDS:
        raise unknown("backend", str(backend), BACKENDS)
    if backend == "jax":
        try:
            import jax
        except ImportError:
            raise SymbackpropError(
                'The jax backend needs JAX: pip install "symbackprop[jax]" (or use backend="numpy").'
            ) from None
        # JAX defaults to float32; symbackprop computes in float64 everywhere.
        jax.config.update("jax_enable_x64", True)
    src = _Source(net, backend)
    return CompiledModel(net, src.module(), src.namespace, backend)
