"""Printing a :class:`~.plan.Plan` into the Python source of the generated module.

The module defines ``forward``, ``loss``, ``loss_and_grad``, ``step`` and
``step_momentum`` over a batch, at the layer level (one line per layer and pass), and for
diagnostics ``deltas`` (every δ^(l), one row per sample) and ``flow`` (the loss, the
gradient, every δ^(l) and every f_l'(z^(l)): :mod:`symbackprop.flow` records it). The
layout of the code is the same for every target; what differs — the printer, in-place or
functional updates, what a step returns — is asked of the :class:`~.backends.Backend`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import sympy as sp

from ..activations import A as A_SYM
from ..activations import Z as Z_SYM
from .backends import Backend
from .plan import C_SYM, L1M_SYM, LS_SYM, Y_SYM, Plan, numeric_derivative
from .stable import _Stable as _StableCall
from .stable import a_minus_y, dsigmoid, log_sigmoid, numpy_helpers, sigmoid, stabilize

__all__ = ["generate"]

#: The residual z − y of an identity output (see :meth:`_Writer._residual_forms`).
R_SYM = sp.Symbol("R", real=True)


def generate(plan: Plan, backend: Backend) -> tuple[str, dict[str, Any]]:
    """The source of the generated module for ``plan``, and the namespace it runs in.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.compiler.backends import get_backend
    >>> from symbackprop.compiler.plan import make_plan
    >>> source, namespace = generate(make_plan(sbp.mlp([2, 1], "relu")), get_backend("numpy"))
    >>> print(source[source.index("def forward"):].split("def loss")[0].strip())
    def forward(P, X):
        W1, b1, = P
        Z1 = X @ W1.T + b1
        A1 = relu(Z1)
        return A1
    >>> namespace["relu"] is sbp.ACTIVATIONS["relu"].numpy
    True
    """
    writer = _Writer(plan, backend)
    return writer.module(), writer.namespace


class _Writer:
    """Builds the generated module: lines of Python, and the names it refers to."""

    def __init__(self, plan: Plan, backend: Backend):
        self.plan, self.spec, self.backend = plan, plan.spec, backend
        self.namespace: dict[str, Any] = dict(backend.namespace)
        self.np = backend.xp  # "numpy" or "jax.numpy" in the generated code
        self.act_names: dict[int, str] = {}
        self.residual = self._residual_forms()
        self._residual_ready = False  # whether the function being printed has set R yet
        for layer, act in enumerate(self.spec.activations, start=1):
            stable = stabilize(act.expr)
            if isinstance(stable, _StableCall) and stable.args == (Z_SYM,):
                continue  # printed as the stable helper itself: sigmoid(Z1), softplus(Z1)
            fn = backend.activation_callable(act)
            if fn is not None:
                name = act.name if act.name.isidentifier() else f"f{layer}"
                if self.namespace.get(name, fn) is not fn:
                    name = f"{name}_{layer}"
                self.namespace[name] = fn
                self.act_names[layer] = name

    # ------------------------------------------------------------------ pieces
    def _residual_forms(self) -> tuple[sp.Expr, sp.Expr] | None:
        """ℓ and δ^(L) as polynomials in R = z − y, when both depend on z and y only through
        z − y (an identity output with a squared error), else None. The step then computes
        the residual once, as hand-written code does (``R = Z3 - Y``), instead of printing
        ``(-Y + Z3)**2`` and ``-Y + Z3`` apart: about 4 µs less per step on small arrays."""
        p = self.plan.output
        if p.loss_elem is None or p.delta_elem is None:
            return None
        out = []
        for e in (p.loss_elem, p.delta_elem):
            if not e.free_symbols <= {Z_SYM, Y_SYM}:
                return None
            r = sp.expand(e.xreplace({Z_SYM: R_SYM + Y_SYM}))
            if r.free_symbols - {R_SYM} or not r.is_polynomial(R_SYM):
                return None
            out.append(r)
        return out[0], out[1]

    def _residual_line(self) -> list[str]:
        """``R = Z{L} - Y``, once per generated function (before the loss or δ^(L) reads it)."""
        if self._residual_ready:
            return []
        self._residual_ready = True
        return [f"    R = Z{self.spec.n_layers} - Y  # the residual z − y, shared by the loss and δ"]

    def _sigmoid_arrays(self, l: int) -> dict[sp.Expr, sp.Expr]:
        """σ(±z), log σ(±z), σ'(z) of a sigmoid layer as the arrays the forward pass made."""
        if l not in self.plan.sigmoid_layers:
            return {}
        c, la, lc = (sp.Symbol(f"{h}{l}", real=True) for h in ("C", "LA", "LC"))
        out = {sigmoid(Z_SYM): A_SYM, sigmoid(-Z_SYM): c, dsigmoid(Z_SYM): A_SYM * c}
        if l == self.spec.n_layers:
            out[A_SYM - Y_SYM] = a_minus_y(A_SYM, c, Y_SYM)
        if l == self.spec.n_layers and self.plan.output_logs:
            out |= {log_sigmoid(Z_SYM): la, log_sigmoid(-Z_SYM): lc}
        return out

    def code(self, expr: sp.Expr, names: Mapping[sp.Symbol, str] | None = None,
             arrays: Mapping[sp.Expr, sp.Expr] | None = None) -> str:
        """``expr`` printed for the backend, with symbols renamed to array names (after
        replacing the subexpressions ``arrays`` holds by the arrays already computed)."""
        expr = stabilize(expr).xreplace(dict(arrays or {}))
        expr = expr.xreplace({s: sp.Symbol(v) for s, v in (names or {}).items()})
        return self.backend.code(expr)

    def params_line(self) -> str:
        names = ", ".join(f"W{l}, b{l}" for l in range(1, self.spec.n_layers + 1))
        return f"    {names}, = P"

    def forward(self) -> list[str]:
        self._residual_ready = False  # every generated function starts with the forward pass
        lines, L = [], self.spec.n_layers
        sigmoid_layers = self.plan.sigmoid_layers
        for l, act in enumerate(self.spec.activations, start=1):
            prev = "X" if l == 1 else f"A{l - 1}"
            lines.append(f"    Z{l} = {prev} @ W{l}.T + b{l}")
            if not act.elementwise:  # softmax (output layer only): a, log a, 1 − a, argmax
                lines.append(f"    A{l}, LSM, C, TOP = softmax_parts(Z{l})")
            elif l in sigmoid_layers and l == L and self.plan.output_logs:
                lines.append(f"    A{l}, C{l}, LA{l}, LC{l} = sigmoid_parts(Z{l})  # σ(±z), log σ(±z)")
            elif l in sigmoid_layers:
                lines.append(f"    A{l}, C{l} = sigmoid_pair(Z{l})  # σ(z), σ(−z)")
            elif l in self.act_names:
                lines.append(f"    A{l} = {self.act_names[l]}(Z{l})")
            else:
                lines.append(f"    A{l} = {self.code(act.expr, {Z_SYM: f'Z{l}'})}")
        return lines

    def _generic(self) -> dict[sp.Symbol, str]:
        L = self.spec.n_layers
        return {Z_SYM: f"Z{L}", A_SYM: f"A{L}", Y_SYM: "Y", LS_SYM: "LSM", L1M_SYM: "L1M", C_SYM: "C"}

    def loss(self) -> list[str]:
        """Lines that set ``loss`` (mean over the batch), and what δ^(L) reads, from the logits."""
        p, L = self.plan.output, self.spec.n_layers
        lines = []
        if p.softmax:
            if p.needs_l1m:
                lines.append(f"    L1M = log1m_softmax(Z{L})  # log(1 - softmax), no cancellation")
        if self.residual is not None:
            coeff, rest = self.residual[0].as_coeff_Mul()
            return lines + self._residual_line() + [
                f"    loss = ({self.code(rest)}).sum() * {float(coeff)!r} / n"]
        if p.loss_elem is not None:
            exact = self._sigmoid_arrays(L) if not p.softmax else {A_SYM - Y_SYM: a_minus_y(A_SYM, C_SYM, Y_SYM)}
            ell = self.code(p.loss_elem, self._generic(), exact)
            return lines + [f"    loss = ({ell}).sum() / n"]  # the method: no dispatch layer
        lines += [f"    {sym.name} = {array}[:, {j}]" for sym, array, j in p.columns]
        return lines + [f"    loss = ({self.code(p.loss_expr)}).sum() / n"]

    def output_delta(self) -> list[str]:
        """Lines that set ``D{L}`` = δ^(L) = ∂J/∂z^(L) (one row per sample), from the logits."""
        p, L = self.plan.output, self.spec.n_layers
        names, xp = self._generic(), self.np
        if self.residual is not None:  # R is this function's own new array: δ may be R itself
            return self._residual_line() + [f"    D{L} = {self.code(self.residual[1])}"]
        if p.delta_elem is not None:
            d = self.code(p.delta_elem, names, self._sigmoid_arrays(L))
            if not p.delta_elem.free_symbols:
                d = f"{xp}.full_like(Z{L}, {float(p.delta_elem)!r})"
            elif p.delta_elem.is_Symbol:  # an array of the forward pass itself
                d = self.backend.fresh(d)
            return [f"    D{L} = {d}"]
        if p.g_elem is not None:
            # δ_i = g_i (1 − a_i) − a_i Σ_{j≠i} g_j − h_i a_i + Σ_{j≠i} h_j a_i a_j/(1 − a_j),
            # with g = ∂ℓ/∂log a, h = ∂ℓ/∂log(1 − a); the last sum in log space.
            g = self.code(p.g_elem, names, {A_SYM - Y_SYM: a_minus_y(A_SYM, C_SYM, Y_SYM)})
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
        """``D{l} *= f_l'`` (the plan's stable z form), or nothing when f_l' = 1."""
        expr = self.plan.fprime[l]
        if expr == 1:
            return []
        code = self.code(expr, {Z_SYM: f"Z{l}", A_SYM: f"A{l}"}, self._sigmoid_arrays(l))
        return [self.backend.scale(f"D{l}", code, expr)]

    def backward(self, mode: Literal["grad", "sgd", "momentum"]) -> list[str]:
        lines = self.output_delta()
        L = self.spec.n_layers

        def emit(l: int) -> None:
            prev = "X" if l == 1 else f"A{l - 1}"
            if mode == "grad":
                lines.append(f"    dW{l} = D{l}.T @ {prev} / n")
                lines.append(f"    db{l} = D{l}.sum(axis=0) / n")
                return
            update = self.backend.sgd_update if mode == "sgd" else self.backend.momentum_update
            lines.extend(update(f"W{l}", f"(D{l}.T @ {prev})"))
            lines.extend(update(f"b{l}", f"D{l}.sum(axis=0)"))

        for l in range(L - 1, 0, -1):
            lines.append(f"    D{l} = D{l + 1} @ W{l + 1}")
            lines += self._times_fprime(l)
            emit(l + 1)  # W^(l+1) is no longer needed: update it now
        emit(1)
        return lines

    def deltas(self) -> list[str]:
        """Lines that set every ``D{l}`` = δ^(l) (one row per sample), as the gradient has them."""
        lines = self.output_delta()
        for l in range(self.spec.n_layers - 1, 0, -1):
            lines.append(f"    D{l} = D{l + 1} @ W{l + 1}")
            lines += self._times_fprime(l)
        return lines

    def slopes(self) -> list[str]:
        """Lines that set ``F{l}`` = f_l'(z^(l)) of every elementwise layer (the plan's stable
        form; the output layer's from :func:`~.plan.numeric_derivative`), ``None`` for softmax."""
        lines = []
        for l, act in enumerate(self.spec.activations, start=1):
            if not act.elementwise:
                lines.append(f"    F{l} = None  # softmax: a Jacobian, no slope per unit")
                continue
            expr = self.plan.fprime[l] if l in self.plan.fprime else numeric_derivative(act)
            if not expr.free_symbols:  # a constant slope (identity): an array all the same
                lines.append(f"    F{l} = {self.np}.full_like(Z{l}, {float(expr)!r})")
                continue
            arrays = {k: v for k, v in self._sigmoid_arrays(l).items() if k != A_SYM - Y_SYM}
            lines.append(f"    F{l} = {self.code(expr, {Z_SYM: f'Z{l}', A_SYM: f'A{l}'}, arrays)}")
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
        guard, how = self.backend.step_guard(), self.backend.update_style
        step = ["", "def step(P, X, Y, lr):",
                f'    """One SGD step on the batch (X, Y), {how}; returns the loss before it."""',
                "    n = X.shape[0]", "    s = lr / n", self.params_line(),
                *self.forward(), *self.loss(), *guard, *self.backward("sgd"),
                self.backend.step_return([params])]
        mom = ["", "def step_momentum(P, V, X, Y, lr, mu):",
               f'    """One SGD step with momentum mu (velocities V), {how}."""',
               "    n = X.shape[0]", "    s = lr / n", self.params_line(), f"    {vel}, = V",
               *self.forward(), *self.loss(), *guard, *self.backward("momentum"),
               self.backend.step_return([params, vel])]
        ds = ", ".join(f"D{l}" for l in range(1, L + 1))
        fs = ", ".join(f"F{l}" for l in range(1, L + 1))
        deltas = ["", "def deltas(P, X, Y):",
                  '    """δ^(l) = ∂J/∂z^(l) of every layer, one row per sample (not averaged)."""',
                  "    n = X.shape[0]", self.params_line(), *self.forward(), *self.loss(),
                  *self.deltas(), f"    return [{ds}]"]
        flow = ["", "def flow(P, X, Y):",
                '    """The loss, the gradient, every δ^(l) and every f_l\'(z^(l)) (gradient-flow records)."""',
                "    n = X.shape[0]", self.params_line(), *self.forward(), *self.loss(),
                *self.backward("grad"), *self.slopes(), f"    return loss, [{grads}], [{ds}], [{fs}]"]
        body = "\n".join(fwd + loss + lag + step + mom + deltas + flow) + "\n"
        used = [h for h in numpy_helpers() if re.search(rf"\b{h}\(", body)]
        if used:
            head.append(f"# {', '.join(used)}: symbackprop.stable (no overflow, no cancellation)")
        return "\n".join(head) + "\n" + body
