"""What the compiled code computes, decided once from the spec: the plan.

The output layer's loss and δ^(L) are written in the logits through the stable forms of
:mod:`.stable` (:func:`output_forms`); every hidden layer multiplies by f'(z) in a stable
z form (:func:`numeric_derivative`); sigmoid layers get σ(−z) from the same exponential
as σ(z). Nothing here prints code or knows a backend: :mod:`.codegen` prints a
:class:`Plan` through a :class:`~.backends.Backend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from ..activations import A as A_SYM
from ..activations import Activation, at_kinks
from ..activations import Z as Z_SYM
from ..spec import Spec
from .stable import _Stable as _StableCall
from .stable import log_sigmoid, sigmoid, stabilize, tanh_residuals

__all__ = ["OutputPlan", "Plan", "make_plan", "numeric_derivative", "output_forms"]

# Generic per-element symbols of the output layer's forms: target, log-softmax, log(1 − softmax).
Y_SYM, LS_SYM, L1M_SYM, C_SYM = sp.symbols("y LS L1M C", real=True)


def numeric_derivative(act: Activation) -> sp.Expr:
    """f'(z) as the compiled code computes it: stable, in z (and in a = f(z) where f recurs).

    The registry's textbook output forms (σ' = a(1 − a), tanh' = 1 − a²,
    softplus' = 1 − e^(−a)) lose all relative precision where a rounds to 1 or e^(−a) to
    1; the z forms (:mod:`symbackprop.compiler.stable`) do not.

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
class OutputPlan:
    """The output layer's loss and δ^(L), from the logits.

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


@dataclass(frozen=True)
class Plan:
    """Everything the generated code computes, for one spec (no backend in it).

    ``sigmoid_layers``: layers whose forward pass makes σ(z) and σ(−z) from one exponential
    (σ' = A·C exactly); ``output_logs``: whether the output layer's loss or δ takes log σ(±z)
    (then the forward pass makes them too); ``fprime[l]``: f_l'(z) of hidden layer l in its
    stable form (:func:`numeric_derivative`).
    """

    spec: Spec
    output: OutputPlan
    sigmoid_layers: frozenset[int]
    output_logs: bool
    fprime: dict[int, sp.Expr]


def output_forms(spec: Spec) -> tuple[sp.Expr, list[sp.Expr], dict[sp.Symbol, sp.Expr]]:
    """J and every δ^(L)_j = ∂J/∂z^(L)_j of the output layer as the compiled code computes them.

    The loss is composed with the output activation and written in the logits z^(L)_j
    through the stable forms of :mod:`symbackprop.compiler.stable` (log σ(z) as
    log_sigmoid(z), log(1 − σ(z)) as log_sigmoid(−z), ...); δ is ``sympy.diff`` of that J,
    so the compiled gradient is the gradient of the compiled loss. After softmax, J is
    written in ``log_a_j`` = log a_j = z_j − log Σ_k e^(z_k) and ``log1m_a_j`` = log(1 − a_j),
    with ∂ log a_j/∂z_i = [i = j] − a_i and ∂ log(1 − a_j)/∂z_i = −a_j [i = j] +
    a_i a_j/(1 − a_j) [i ≠ j], products of a's taken as exponentials of sums of logs.

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
        if f == sp.tanh(Z_SYM):  # a − y where tanh(z) rounds to ±1: from 1 ∓ a = 2σ(∓2z)
            Jz, deltas = tanh_residuals(Jz, z), [tanh_residuals(d, z) for d in deltas]
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


def _output_plan(spec: Spec) -> OutputPlan:
    L = spec.n_layers
    a, y = spec.outputs, spec.targets
    n = len(a)
    z = [spec.z(L, j) for j in range(1, n + 1)]
    act = spec.activations[-1]
    softmax = not act.elementwise
    raw = spec.loss(a, y)
    # A separable loss is derived once, for one generic element: set-up stays linear in n_L.
    raw_elem = _elementwise(raw, [(a[j], y[j]) for j in range(n)], (A_SYM, Y_SYM))
    if raw_elem is not None and not softmax:
        ell, (delta,), _ = _forms(raw_elem, [A_SYM], [Z_SYM], act)
        return OutputPlan(False, ell, delta, None, None, ell, (), (), False)
    if raw_elem is not None:
        generic = {sp.Symbol("log_a", real=True): LS_SYM, sp.Symbol("log1m_a", real=True): L1M_SYM,
                   sp.Symbol("c_a", real=True): C_SYM}
        ell = _forms(raw_elem, [A_SYM], [Z_SYM], act, with_deltas=False)[0].xreplace(generic)
        full = ell.xreplace({A_SYM: sp.exp(LS_SYM)})
        g_elem = stabilize(sp.diff(full, LS_SYM)).xreplace({sp.exp(LS_SYM): A_SYM})
        h_elem = stabilize(sp.diff(full, L1M_SYM)).xreplace({sp.exp(LS_SYM): A_SYM})
        needs = any(e.has(L1M_SYM) for e in (ell, g_elem, h_elem))
        return OutputPlan(True, ell, None, g_elem, h_elem, ell, (), (), needs)
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
    return OutputPlan(softmax, None, None, None, None, J, tuple(deltas), columns, needs_l1m)


def make_plan(spec: Spec) -> Plan:
    """The :class:`Plan` of ``spec``: output forms, stable derivatives, fused sigmoid layers.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> p = make_plan(sbp.mlp([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy"))
    >>> sorted(p.sigmoid_layers), p.output_logs, p.fprime
    ([2], True, {1: sech2(z)})
    >>> p.output.loss_elem
    -y*log_sigmoid(z) - (1 - y)*log_sigmoid(-z)
    """
    output = _output_plan(spec)
    # Sigmoid layers get σ(−z) (and at the output log σ(±z)) from the same exponential
    # as σ(z): σ' = A·C exactly, the loss and δ from the logits without a second pass.
    sigmoid_layers = frozenset(
        layer for layer, act in enumerate(spec.activations, start=1) if stabilize(act.expr) == sigmoid(Z_SYM)
    )
    output_logs = any(e is not None and e.has(log_sigmoid) for e in (output.loss_elem, output.delta_elem))
    fprime = {l: numeric_derivative(spec.activations[l - 1]) for l in range(1, spec.n_layers)}
    return Plan(spec, output, sigmoid_layers, output_logs, fprime)
