"""Compile a network's derivation to NumPy: forward pass, loss and gradient over a batch.

This is the one boundary between symbolic and numeric (STYLE.md, point 4). The compiled
code works at the layer level, over a whole batch X of shape (n, n_0)::

    Z^(l) = A^(l-1) @ W^(l).T + b^(l)          A^(l) = f_l(Z^(l))
    δ^(L) = ∇_a J ⊙ f_L'(·)                    δ^(l) = (δ^(l+1) @ W^(l+1)) ⊙ f_l'(·)
    ∂J/∂W^(l) = δ^(l).T @ A^(l-1) / n          ∂J/∂b^(l) = mean of δ^(l) over the batch

How it works
------------
Nothing is differentiated by hand, and nothing is clipped. The output layer's loss is
composed with its activation and written in the logits (:func:`output_forms`): the
loss J(f(z), y) goes through :func:`~symbackprop.stable.stabilize`, which writes
log σ(z) as ``log_sigmoid(z)``, log(1 − σ(z)) as ``log_sigmoid(-z)``, log(1 + e^z) as
``softplus(z)`` and so on; after softmax, J is written in log a_j (``log_softmax``) and
log(1 − a_j) (``log1m_softmax``). δ^(L) is ``sympy.diff`` of that J with respect to
the logits, so the compiled gradient is exactly the gradient of the compiled loss. An
activation with nothing to fuse (relu, leaky_relu, polynomials) stays a name a whose
derivative is f'(z): δ = ∂J/∂a · f'(z). When the loss is Σ_j ℓ(a_j, y_j) (all registered
losses), J and δ^(L) are emitted once as elementwise expressions over the (n, n_L)
arrays, else column by column. Hidden layers multiply by f'(z) in a stable z form
(:func:`numeric_derivative`: σ' = dsigmoid(z), tanh' = sech2(z), softplus' = σ(z)); the
registry's textbook forms in a = f(z) (σ' = a(1 − a), softplus' = 1 − e^(−a)) stay in
the printouts, where they belong, but lose all precision where a rounds to 1.

These SymPy expressions are printed with SymPy's NumPy printer (the printer
``sympy.lambdify`` uses, with ``Heaviside(z, 0)`` printed as ``numpy.greater(z, 0)``
so that H(0) = 0; the stable functions print as calls of their helpers) into the Python
source of a few small functions — ``forward``, ``loss``, ``loss_and_grad`` and the SGD
``step`` — which are compiled once with :func:`compile` (the same mechanism as
``lambdify``). ``model.source()`` shows that code. Set-up grows with the number of
layers and outputs, never with the number of weights: no scalar graph and no
per-weight symbol is built here.

``backend="jax"`` (optional) runs the same generator with SymPy's JAX printer: the
code calls ``jax.numpy`` and ``jax.nn``'s stable functions, activations are printed from
their stabilized SymPy definitions instead of the registry's NumPy callables, every
update makes a new array (JAX arrays are immutable) and the steps return the new
parameters; each function is ``jax.jit``-compiled. Float64 is switched on for the
process (``jax_enable_x64``).

Numerics (float64 throughout): every activation × loss pair is computed from the logits,
and custom formulas get the same stable forms (a user's ``log(1 + exp(z))`` is
``softplus``, ``z*sigmoid(z)`` differentiates to ``z*dsigmoid(z) + sigmoid(z)``);
softmax subtracts the row maximum. A loss outside its domain (binary cross-entropy of an
output above 1, log of a negative output) gives what the mathematics gives, NaN, with
NumPy's warning.
"""

from __future__ import annotations

import linecache
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sympy as sp
from sympy.printing.numpy import JaxPrinter, NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from .activations import A as A_SYM
from .activations import Activation
from .activations import Z as Z_SYM
from .activations import at_kinks
from .domain import check_values
from .errors import SpecError, SymbackpropError, unknown
from .params import to_arrays, to_mapping
from .spec import Spec
from .stable import _Stable as _StableCall
from .stable import a_minus_y, dsigmoid, jax_helpers, log_sigmoid, numpy_helpers, sigmoid, stabilize

__all__ = ["CompiledModel", "compile_network", "numeric_derivative", "output_forms"]

Backend = Literal["numpy", "jax"]
BACKENDS = ("numpy", "jax")

# Generic per-element symbols of the output layer's forms: target, log-softmax, log(1 − softmax).
_y, _ls, _lm, _c = sp.symbols("y LS L1M C", real=True)


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


def numeric_derivative(act: Activation) -> sp.Expr:
    """f'(z) as the compiled code computes it: stable, in z (and in a = f(z) where f recurs).

    The registry's textbook output forms (σ' = a(1 − a), tanh' = 1 − a²,
    softplus' = 1 − e^(−a)) lose all relative precision where a rounds to 1 or e^(−a) to
    1; the z forms (:mod:`symbackprop.stable`) do not.

    Examples
    --------
    >>> from symbackprop.activations import get_activation
    >>> [numeric_derivative(get_activation(n)) for n in ("sigmoid", "tanh", "softplus")]
    [dsigmoid(z), sech2(z), sigmoid(z)]
    >>> numeric_derivative(get_activation("z*sigmoid(z)"))  # swish
    z*dsigmoid(z) + sigmoid(z)
    """
    f = stabilize(act.expr)
    if f == act.expr:  # nothing to stabilize: the registry's own derivative (its conventions)
        d = stabilize(act.derivative())
    else:
        d = stabilize(at_kinks(sp.diff(f, Z_SYM)))
    return d if f.is_Symbol else d.xreplace({f: A_SYM})


def _opaque(derivative: sp.Expr) -> type[sp.Function]:
    """A function f of z known only by its derivative (in z and a = f(z))."""

    class f(sp.Function):  # noqa: N801
        nargs = 1

        def fdiff(self, argindex: int = 1) -> sp.Expr:
            return derivative.xreplace({Z_SYM: self.args[0], A_SYM: self})

    return f


def _elementwise(J: sp.Expr, per_j: Sequence[Sequence[sp.Symbol]], generic: Sequence[sp.Symbol]) -> sp.Expr | None:
    """ℓ in the ``generic`` symbols when J = Σ_j ℓ(per_j[j]) and nothing else, else None."""
    index = {s: j for j, syms in enumerate(per_j) for s in syms}
    groups: list[list[sp.Expr]] = [[] for _ in per_j]
    for term in sp.Add.make_args(J):
        owners = {index.get(s, -1) for s in term.free_symbols}
        if len(owners) != 1 or -1 in owners:
            return None
        groups[owners.pop()].append(term)
    forms = {sp.Add(*g).xreplace(dict(zip(per_j[j], generic))) for j, g in enumerate(groups)}
    if len(forms) == 1:
        (form,) = forms
        if form.free_symbols <= set(generic):
            return form
    return None


@dataclass(frozen=True)
class _Plan:
    """The output layer's loss and δ^(L), from the logits, decided once from the spec.

    Separable losses (J = Σ_j ℓ(a_j, y_j): every registered one) get one elementwise form
    over the (n, n_L) arrays; any other loss is written column by column (``columns``
    names each per-output symbol's array column).
    """

    softmax: bool
    loss_elem: sp.Expr | None  # ℓ per element (separable losses)
    delta_elem: sp.Expr | None  # elementwise output: ∂ℓ/∂z
    g_elem: sp.Expr | None  # softmax: ∂ℓ/∂log a
    h_elem: sp.Expr | None  # softmax: ∂ℓ/∂log(1 − a)
    loss_expr: sp.Expr  # J in the column symbols (fallback)
    delta_cols: tuple[sp.Expr, ...]  # δ_j in the column symbols (fallback)
    columns: tuple[tuple[sp.Symbol, str, int], ...]  # (symbol, array, column)
    needs_l1m: bool


def output_forms(spec: Spec) -> tuple[sp.Expr, list[sp.Expr], dict[sp.Symbol, sp.Expr]]:
    """J and every δ^(L)_j = ∂J/∂z^(L)_j of the output layer as the compiled code computes them.

    The loss is composed with the output activation and written in the logits z^(L)_j
    through the stable forms of :mod:`symbackprop.stable` (log σ(z) as log_sigmoid(z),
    log(1 − σ(z)) as log_sigmoid(−z), ...); δ is ``sympy.diff`` of that J, so the compiled
    gradient is the gradient of the compiled loss. After softmax, J is written in
    ``log_a_j`` = log a_j = z_j − log Σ_k e^(z_k) and ``log1m_a_j`` = log(1 − a_j), with
    ∂ log a_j/∂z_i = [i = j] − a_i and ∂ log(1 − a_j)/∂z_i = −a_j [i = j] + a_i a_j/(1 − a_j)
    [i ≠ j], products of a's taken as exponentials of sums of logs.

    Returns
    -------
    (J, deltas, meaning)
        ``meaning`` maps each symbol that is not a network symbol (``log_a2_1``,
        ``log1m_a2_1``, ``c_a2_1`` = 1 − a2_1) to its SymPy definition in the outputs.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> J, deltas, _ = output_forms(sbp.mlp([1, 1], "sigmoid", "binary_cross_entropy"))
    >>> J
    -y1*log_sigmoid(z1_1) - (1 - y1)*log_sigmoid(-z1_1)
    >>> deltas
    [a1_1*(1 - y1) - y1*sigmoid(-z1_1)]
    >>> output_forms(sbp.mlp([1, 2], "softmax", "cross_entropy"))[:2]
    (-log_a1_1*y1 - log_a1_2*y2, [a1_1*y2 - c_a1_1*y1, a1_2*y1 - c_a1_2*y2])
    """
    L = spec.n_layers
    a, y = spec.outputs, spec.targets
    z = [spec.z(L, j) for j in range(1, len(a) + 1)]
    return _forms(spec.loss(a, y), a, z, spec.activations[-1])


def _forms(
    J: sp.Expr, a: Sequence[sp.Symbol], z: Sequence[sp.Symbol], act: Activation, with_deltas: bool = True
) -> tuple[sp.Expr, list[sp.Expr], dict[sp.Symbol, sp.Expr]]:
    """:func:`output_forms` for the loss J in the outputs ``a`` with logits ``z``."""
    if act.elementwise:
        f = stabilize(act.expr)
        if not f.has(_StableCall, sp.exp, sp.log, sp.tanh) and not f.is_Symbol:
            # Nothing for the rewrites to fuse (relu, leaky_relu, polynomials): a stays a
            # name whose derivative is f'(z), as in the textbook δ = ∂J/∂a · f'(z).
            f = _opaque(numeric_derivative(act))(Z_SYM)
        Jz = stabilize(J.xreplace({aj: f.xreplace({Z_SYM: zj}) for aj, zj in zip(a, z)}))
        deltas = [stabilize(at_kinks(sp.diff(Jz, zj))) for zj in z] if with_deltas else []
        if not f.is_Symbol:  # reuse the forward pass's outputs where f(z) itself appears
            back = {f.xreplace({Z_SYM: zj}): aj for aj, zj in zip(a, z)}
            Jz, deltas = Jz.xreplace(back), [d.xreplace(back) for d in deltas]
        return Jz, deltas, {}
    ls = [sp.Symbol(f"log_{aj.name}", real=True) for aj in a]
    lm = [sp.Symbol(f"log1m_{aj.name}", real=True) for aj in a]
    cm = [sp.Symbol(f"c_{aj.name}", real=True) for aj in a]  # 1 − a_j, exact (softmax_parts)
    logs = {aj: lj for aj, lj in zip(a, ls)} | {1 - aj: mj for aj, mj in zip(a, lm)}
    # Softmax outputs are positive, so log of a product splits (force=True is valid here).
    Js = sp.expand_log(J, force=True).replace(
        lambda e: isinstance(e, sp.log) and e.args[0] in logs, lambda e: logs[e.args[0]]
    )
    Js = stabilize(Js.xreplace({aj: sp.exp(lj) for aj, lj in zip(a, ls)}))
    n = len(a)
    deltas = []
    for i in range(n if with_deltas else 0):
        total = []
        for j in range(n):
            d_ls = cm[i] if i == j else -sp.exp(ls[i])
            d_lm = -sp.exp(ls[j]) if i == j else sp.exp(ls[i] + ls[j] - lm[j])
            total += [sp.diff(Js, ls[j]) * d_ls, sp.diff(Js, lm[j]) * d_lm]
        deltas.append(stabilize(sp.Add(*total)))
    back = {sp.exp(lj): aj for aj, lj in zip(a, ls)}
    meaning = ({lj: sp.log(aj) for aj, lj in zip(a, ls)} | {mj: sp.log(1 - aj) for aj, mj in zip(a, lm)}
               | {cj: 1 - aj for aj, cj in zip(a, cm)})
    return Js.xreplace(back), [d.xreplace(back) for d in deltas], meaning


def _plan(spec: Spec) -> _Plan:
    L = spec.n_layers
    a, y = spec.outputs, spec.targets
    n = len(a)
    z = [spec.z(L, j) for j in range(1, n + 1)]
    act = spec.activations[-1]
    softmax = not act.elementwise
    raw = spec.loss(a, y)
    # A separable loss is derived once, for one generic element: set-up stays linear in n_L.
    raw_elem = _elementwise(raw, [(a[j], y[j]) for j in range(n)], (A_SYM, _y))
    if raw_elem is not None and not softmax:
        ell, (delta,), _ = _forms(raw_elem, [A_SYM], [Z_SYM], act)
        return _Plan(False, ell, delta, None, None, ell, (), (), False)
    if raw_elem is not None:
        generic = {sp.Symbol("log_a", real=True): _ls, sp.Symbol("log1m_a", real=True): _lm, sp.Symbol("c_a", real=True): _c}
        ell = _forms(raw_elem, [A_SYM], [Z_SYM], act, with_deltas=False)[0].xreplace(generic)
        full = ell.xreplace({A_SYM: sp.exp(_ls)})
        g_elem = stabilize(sp.diff(full, _ls)).xreplace({sp.exp(_ls): A_SYM})
        h_elem = stabilize(sp.diff(full, _lm)).xreplace({sp.exp(_ls): A_SYM})
        needs = any(e.has(_lm) for e in (ell, g_elem, h_elem))
        return _Plan(True, ell, None, g_elem, h_elem, ell, (), (), needs)
    J, deltas, _ = _forms(raw, a, z, act)
    if softmax:
        per_j = [tuple(sp.Symbol(f"{h}_{a[j].name}", real=True) for h in ("log", "log1m", "c")) + (a[j], y[j])
                 for j in range(n)]
        arrays = ("LSM", "L1M", "C", f"A{L}", "Y")
    else:
        per_j = [(z[j], a[j], y[j]) for j in range(n)]
        arrays = (f"Z{L}", f"A{L}", "Y")
    used = J.free_symbols.union(*(d.free_symbols for d in deltas))
    columns = tuple((per_j[j][k], arrays[k], j) for j in range(n) for k in range(len(arrays))
                    if per_j[j][k] in used)
    needs_l1m = softmax and any(s.name.startswith("log1m_") for s in used)
    return _Plan(softmax, None, None, None, None, J, tuple(deltas), columns, needs_l1m)


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
            self.namespace: dict[str, Any] = {"numpy": np, "isfinite": math.isfinite, **numpy_helpers()}
        else:
            import jax

            self.printer = _JaxPrinter({"fully_qualified_modules": True})
            self.namespace = {"jax": jax, **jax_helpers()}
        self.np = self.printer._module  # "numpy" or "jax.numpy" in the generated code
        self.act_names: dict[int, str] = {}
        # Sigmoid layers get σ(−z) (and at the output log σ(±z)) from the same exponential
        # as σ(z): σ' = A·C exactly, the loss and δ from the logits without a second pass.
        self.sigmoid_layers = {
            layer for layer, act in enumerate(spec.activations, start=1) if stabilize(act.expr) == sigmoid(Z_SYM)
        }
        for layer, act in enumerate(spec.activations, start=1):
            stable = stabilize(act.expr)
            if isinstance(stable, _StableCall) and stable.args == (Z_SYM,):
                continue  # printed as the stable helper itself: sigmoid(Z1), softplus(Z1)
            if self.inplace and act.elementwise and act.numpy is not None:
                name = act.name if act.name.isidentifier() else f"f{layer}"
                if self.namespace.get(name, act.numpy) is not act.numpy:
                    name = f"{name}_{layer}"
                self.namespace[name] = act.numpy
                self.act_names[layer] = name

    # ------------------------------------------------------------------ pieces
    def _sigmoid_arrays(self, l: int) -> dict[sp.Expr, sp.Expr]:
        """σ(±z), log σ(±z), σ'(z) of a sigmoid layer as the arrays the forward pass made."""
        if l not in self.sigmoid_layers:
            return {}
        c, la, lc = (sp.Symbol(f"{h}{l}", real=True) for h in ("C", "LA", "LC"))
        out = {sigmoid(Z_SYM): A_SYM, sigmoid(-Z_SYM): c, dsigmoid(Z_SYM): A_SYM * c}
        if l == self.spec.n_layers:
            out[A_SYM - _y] = a_minus_y(A_SYM, c, _y)
        if l == self.spec.n_layers and self._output_logs():
            out |= {log_sigmoid(Z_SYM): la, log_sigmoid(-Z_SYM): lc}
        return out

    def _output_logs(self) -> bool:
        """Whether the output layer's loss or δ takes log σ(±z) (then the forward pass makes them)."""
        p = self.plan
        return any(e is not None and e.has(log_sigmoid) for e in (p.loss_elem, p.delta_elem))

    def code(self, expr: sp.Expr, names: Mapping[sp.Symbol, str] | None = None,
             arrays: Mapping[sp.Expr, sp.Expr] | None = None) -> str:
        """``expr`` printed for this backend, with symbols renamed to array names (after
        replacing the subexpressions ``arrays`` holds by the arrays already computed)."""
        expr = stabilize(expr).xreplace(dict(arrays or {}))
        expr = expr.xreplace({s: sp.Symbol(v) for s, v in (names or {}).items()})
        return self.printer.doprint(expr)

    def scale(self, target: str, factor: sp.Expr, names: Mapping[sp.Symbol, str],
              arrays: Mapping[sp.Expr, sp.Expr] | None = None) -> str:
        """``target *= factor``, or ``target = target * factor`` for immutable arrays."""
        code = self.code(factor, names, arrays)
        if self.inplace:
            return f"    {target} *= {code}"
        if precedence(factor) < PRECEDENCE["Mul"]:
            code = f"({code})"
        return f"    {target} = {target} * {code}"

    def params_line(self) -> str:
        names = ", ".join(f"W{l}, b{l}" for l in range(1, self.spec.n_layers + 1))
        return f"    {names}, = P"

    def forward(self) -> list[str]:
        lines, L = [], self.spec.n_layers
        for l, act in enumerate(self.spec.activations, start=1):
            prev = "X" if l == 1 else f"A{l - 1}"
            lines.append(f"    Z{l} = {prev} @ W{l}.T + b{l}")
            if not act.elementwise:  # softmax (output layer only): a, log a, 1 − a, argmax
                lines.append(f"    A{l}, LSM, C, TOP = softmax_parts(Z{l})")
            elif l in self.sigmoid_layers and l == L and self._output_logs():
                lines.append(f"    A{l}, C{l}, LA{l}, LC{l} = sigmoid_parts(Z{l})  # σ(±z), log σ(±z)")
            elif l in self.sigmoid_layers:
                lines.append(f"    A{l}, C{l} = sigmoid_pair(Z{l})  # σ(z), σ(−z)")
            elif l in self.act_names:
                lines.append(f"    A{l} = {self.act_names[l]}(Z{l})")
            else:
                lines.append(f"    A{l} = {self.code(act.expr, {Z_SYM: f'Z{l}'})}")
        return lines

    def _generic(self) -> dict[sp.Symbol, str]:
        L = self.spec.n_layers
        return {Z_SYM: f"Z{L}", A_SYM: f"A{L}", _y: "Y", _ls: "LSM", _lm: "L1M", _c: "C"}

    def loss(self) -> list[str]:
        """Lines that set ``loss`` (mean over the batch), and what δ^(L) reads, from the logits."""
        p, L = self.plan, self.spec.n_layers
        lines = []
        if p.softmax:
            if p.needs_l1m:
                lines.append(f"    L1M = log1m_softmax(Z{L})  # log(1 - softmax), no cancellation")
        if p.loss_elem is not None:
            exact = self._sigmoid_arrays(L) if not p.softmax else {A_SYM - _y: a_minus_y(A_SYM, _c, _y)}
            ell = self.code(p.loss_elem, self._generic(), exact)
            return lines + [f"    loss = {self.np}.sum({ell}) / n"]
        lines += [f"    {sym.name} = {array}[:, {j}]" for sym, array, j in p.columns]
        return lines + [f"    loss = {self.np}.sum({self.code(p.loss_expr)}) / n"]

    def output_delta(self) -> list[str]:
        """Lines that set ``D{L}`` = δ^(L) = ∂J/∂z^(L) (one row per sample), from the logits."""
        p, L = self.plan, self.spec.n_layers
        names, xp = self._generic(), self.np
        if p.delta_elem is not None:
            d = self.code(p.delta_elem, names, self._sigmoid_arrays(L))
            if not p.delta_elem.free_symbols:
                d = f"{xp}.full_like(Z{L}, {float(p.delta_elem)!r})"
            elif p.delta_elem.is_Symbol and self.inplace:  # D is updated in place: never alias
                d = f"{d}.copy()"
            return [f"    D{L} = {d}"]
        if p.g_elem is not None:
            # δ_i = g_i (1 − a_i) − a_i Σ_{j≠i} g_j − h_i a_i + Σ_{j≠i} h_j a_i a_j/(1 − a_j),
            # with g = ∂ℓ/∂log a, h = ∂ℓ/∂log(1 − a); the last sum in log space.
            g = self.code(p.g_elem, names, {A_SYM - _y: a_minus_y(A_SYM, _c, _y)})
            if not p.g_elem.free_symbols:
                g = f"{xp}.full_like(Z{L}, {float(p.g_elem)!r})"
            lines = [f"    G = {g}",
                     f"    D{L} = G*C - A{L}*sum_others(G, TOP)"]
            if p.h_elem != 0:
                h = self.code(p.h_elem, names)
                if not p.h_elem.free_symbols:
                    h = f"{xp}.full_like(Z{L}, {float(p.h_elem)!r})"
                k = self.spec.sizes[-1]
                lines += [
                    f"    H = {h}",
                    "    T = LSM[:, :, None] + (LSM - L1M)[:, None, :]",
                    f"    T = {xp}.where({xp}.eye({k}, dtype=bool), -{xp}.inf, T)",
                    f"    D{L} = D{L} - H*A{L} + (H[:, None, :]*{xp}.exp(T)).sum(axis=2)",
                ]
            return lines
        # A constant column is printed as a float: an int column would make D an int array.
        cols = ", ".join(
            f"{xp}.broadcast_to({float(e) if e.is_number else self.code(e)}, n)" for e in p.delta_cols
        )
        lines = [] if p.loss_elem is None else [
            f"    {sym.name} = {array}[:, {j}]" for sym, array, j in p.columns
        ]
        return lines + [f"    D{L} = {xp}.stack([{cols}], axis=1)"]

    def _times_fprime(self, l: int) -> list[str]:
        """``D{l} *= f_l'`` (the stable z form, :func:`numeric_derivative`), or nothing when f_l' = 1."""
        expr = numeric_derivative(self.spec.activations[l - 1])
        if expr == 1:
            return []
        return [self.scale(f"D{l}", expr, {Z_SYM: f"Z{l}", A_SYM: f"A{l}"}, self._sigmoid_arrays(l))]

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
        body = "\n".join(fwd + loss + lag + step + mom) + "\n"
        used = [h for h in numpy_helpers() if re.search(rf"\b{h}\(", body)]
        if used:
            head.append(f"# {', '.join(used)}: symbackprop.stable (no overflow, no cancellation)")
        return "\n".join(head) + "\n" + body


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
            A1, C1 = sigmoid_pair(Z1)  # σ(z), σ(−z)
            loss = numpy.sum((1/2)*a_minus_y(A1, C1, Y)**2) / n
            if not isfinite(loss):  # diverged: keep the last finite parameters
                return loss
            D1 = A1*C1*a_minus_y(A1, C1, Y)
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
