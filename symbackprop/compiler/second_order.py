"""Second order, compiled: Hessian-vector products, dense Hessians and input Jacobians.

The Hessian-vector product H·v of the mean batch loss is Pearlmutter's R-operator,
R{·} = d/dε (·)(θ + εv) at ε = 0, applied to the layer-level forward and backward passes
and printed as generated code (``hvp``) through the same printer and backend as
:mod:`.codegen`. With v = (V_W^(l), V_b^(l)) per layer, over a batch of n rows::

    forward       Z^(l) = A^(l-1) W^(l)ᵀ + b^(l)          A^(l) = f_l(Z^(l))
    R-forward     R{Z^(l)} = R{A^(l-1)} W^(l)ᵀ + A^(l-1) V_W^(l)ᵀ + V_b^(l)   (R{A^(0)} = 0)
                  R{A^(l)} = f_l'(Z^(l)) ⊙ R{Z^(l)}
    backward      δ^(l) = (δ^(l+1) W^(l+1)) ⊙ f_l'(Z^(l))
    R-backward    R{δ^(L)} = ∇²_z ℓ · R{Z^(L)}   (the loss's Hessian in the logits, per row)
                  R{δ^(l)} = (R{δ^(l+1)} W^(l+1) + δ^(l+1) V_W^(l+1)) ⊙ f_l'
                             + (δ^(l+1) W^(l+1)) ⊙ f_l''(Z^(l)) ⊙ R{Z^(l)}
    result        R{∂J/∂W^(l)} = (R{δ^(l)}ᵀ A^(l-1) + δ^(l)ᵀ R{A^(l-1)}) / n
                  R{∂J/∂b^(l)} = mean of R{δ^(l)} over the batch

Nothing is differentiated by hand: f_l'' is ``sympy.diff`` of the plan's stable f_l'
(:func:`~.plan.numeric_derivative`), and the loss's second derivatives are ``sympy.diff``
of the plan's output forms (:mod:`.plan`), so they are stable where the first-order forms
are (σ'' = σ(z)σ(−z)(σ(−z) − σ(z)) from the forward pass's own arrays; relu'' = 0, the
kink convention of :func:`~symbackprop.activations.at_kinks`). After softmax, with
s = log a and u_j = dℓ/ds_j (every registered loss is Σ_j ℓ(a_j, y_j)),
δ_i = u_i − a_i Σ_j u_j and R{δ_i} = R{u_i} − a_i (R{s_i} Σ_j u_j + Σ_j R{u_j}) with
R{s} = R{Z} − Σ_k a_k R{Z_k} and R{u_j} = (du_j/ds_j) R{s_j}.

The input Jacobian ∂a^(L)_j/∂x_k of every row (``input_jacobian``) is forward mode
through the layers: T^(1) = f_1' ⊙ W^(1), T^(l) = f_l' ⊙ (W^(l) T^(l-1)), an
(n, n_l, n_0) array; after softmax, T^(L) = a ⊙ (U − Σ_i a_i U_i) with U = W^(L) T^(L-1).

The JAX backend prints the same ``input_jacobian``; its Hessian-vector product is
``jax.jvp`` of ``jax.grad`` of the compiled loss (JAX's own forward-over-reverse), so the
two backends check each other through independent engines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from ..activations import A as A_SYM
from ..activations import Z as Z_SYM
from ..activations import at_kinks
from ..errors import HessianTooLargeError, SpecError
from ..params import Parameters, to_arrays
from .codegen import _Writer
from .plan import C_SYM, L1M_SYM, LS_SYM, Y_SYM, make_plan, numeric_derivative
from .stable import stabilize

__all__ = ["DEFAULT_MAX_HESSIAN_PARAMS", "HessianTooLargeError", "SecondOrder", "second_derivative"]

#: model.hessian builds the dense matrix for at most this many parameters unless told
#: otherwise (2,000² float64 entries are 32 MB, and 2,000 Hessian-vector products).
DEFAULT_MAX_HESSIAN_PARAMS = 2000


def second_derivative(fprime: sp.Expr) -> sp.Expr:
    """f''(z) from f'(z) written in z and a = f(z) (the plan's stable form), in z and a.

    d/dz f'(z, a(z)) = ∂f'/∂z + ∂f'/∂a · f'(z, a); a step's derivative is 0 (the kink
    convention of :func:`~symbackprop.activations.at_kinks`).

    Examples
    --------
    >>> from symbackprop.activations import get_activation
    >>> [second_derivative(numeric_derivative(get_activation(n))) for n in ("sigmoid", "relu")]
    [(sigmoid(-z) - sigmoid(z))*dsigmoid(z), 0]
    """
    return _dz(fprime, fprime)


def _dz(expr: sp.Expr, fprime: sp.Expr) -> sp.Expr:
    """d/dz of ``expr`` in z and a = f(z), where f' = ``fprime``."""
    d = sp.diff(expr, Z_SYM) + sp.diff(expr, A_SYM) * fprime
    return stabilize(at_kinks(d))


def _ds(expr: sp.Expr) -> sp.Expr:
    """d/ds of a softmax output's ``expr`` in s = log a, a, c = 1 − a, log(1 − a)."""
    d = (sp.diff(expr, LS_SYM) + A_SYM * sp.diff(expr, A_SYM) - A_SYM * sp.diff(expr, C_SYM)
         - A_SYM / C_SYM * sp.diff(expr, L1M_SYM))
    return stabilize(d)


def _paren(code: str) -> str:
    """``code`` in parentheses unless it is one name or one call ``f(...)``."""
    if code.isidentifier():
        return code
    head, _, _ = code.partition("(")
    if head.replace(".", "_").isidentifier() and code.endswith(")"):
        depth = 0
        for i, ch in enumerate(code[len(head):], start=len(head)):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0:
                if i == len(code) - 1:
                    return code  # the first parenthesis closes at the end: one call
                break
    return f"({code})"


class _Writer2(_Writer):
    """The first-order writer, with the R-passes and the forward-mode input Jacobian."""

    def fprime(self, l: int) -> sp.Expr:
        if l in self.plan.fprime:
            return self.plan.fprime[l]
        return numeric_derivative(self.spec.activations[l - 1])

    def fcode(self, expr: sp.Expr, l: int) -> str:
        """``expr`` (in z, a of layer l) printed over the layer's arrays."""
        return self.code(expr, {Z_SYM: f"Z{l}", A_SYM: f"A{l}", Y_SYM: "Y"}, self._sigmoid_arrays(l))

    def times(self, expr: sp.Expr, l: int, array: str) -> str:
        """``expr ⊙ array`` as code (``array`` alone when expr = 1)."""
        if expr == 1:
            return array
        return f"{_paren(self.fcode(expr, l))} * {array}"

    # ------------------------------------------------------------ R-forward
    def r_forward(self) -> list[str]:
        lines, L = [], self.spec.n_layers
        for l in range(1, L + 1):
            terms = [] if l == 1 else [f"RA{l - 1} @ W{l}.T"]
            prev = "X" if l == 1 else f"A{l - 1}"
            terms += [f"{prev} @ VW{l}.T", f"Vb{l}"]
            lines.append(f"    RZ{l} = {' + '.join(terms)}")
            if l < L:
                lines.append(f"    RA{l} = {self.times(self.fprime(l), l, f'RZ{l}')}")
        return lines

    # ------------------------------------------------------------ R{δ^(L)}
    def output_rdelta(self) -> list[str]:
        p, L, xp = self.plan.output, self.spec.n_layers, self.np
        if p.delta_elem is not None:  # elementwise output, separable loss: a diagonal Hessian
            dd = _dz(p.delta_elem, self.fprime(L))
            if dd == 0:
                return [f"    RD{L} = {xp}.zeros_like(RZ{L})"]
            return [f"    RD{L} = {self.times(dd, L, f'RZ{L}')}"]
        if p.g_elem is not None:  # softmax, separable loss: through s = log a
            u = _ds(p.loss_elem)
            du = _ds(u)
            names = self._generic()
            ucode = self.code(u, names) if u.free_symbols else f"{xp}.full_like(Z{L}, {float(u)!r})"
            lines = []
            if (u.has(L1M_SYM) or du.has(L1M_SYM)) and not p.needs_l1m:
                lines.append(f"    L1M = log1m_softmax(Z{L})")
            lines += [self._rs(),
                      f"    U = {ucode}  # dℓ/d log a",
                      "    SU = U.sum(axis=1, keepdims=True)"]
            if du == 0:
                lines.append(f"    RD{L} = -A{L} * (RS * SU)")
            else:  # RU − A ΣRU, as C·RU − A Σ_{j≠i} RU_j: no cancellation where a_i ≈ 1
                lines += [f"    RU = {_paren(self.code(du, names))} * RS",
                          f"    RD{L} = C * RU - A{L} * (RS * SU + sum_others(RU, TOP))"]
            return lines
        return self._rdelta_columns()

    def _rs(self) -> str:
        """R{s} = R{log a} of a softmax output: R{Z_i} − Σ_k a_k R{Z_k}, written
        (1 − a_i) R{Z_i} − Σ_{k≠i} a_k R{Z_k} with the exact 1 − a (C) and
        :func:`~.stable.sum_others`, so that it does not cancel where a_i rounds to 1."""
        L = self.spec.n_layers
        return f"    RS = C * RZ{L} - sum_others(A{L} * RZ{L}, TOP)  # R{{log a}}"

    def _rdelta_columns(self) -> list[str]:
        """R{δ^(L)} of a loss that is not Σ_j ℓ(a_j, y_j), column by column."""
        p, L, xp, spec = self.plan.output, self.spec.n_layers, self.np, self.spec
        n_out = spec.sizes[-1]
        a = spec.outputs
        lines: list[str] = []
        if p.softmax:
            per_j = [{"log": sp.Symbol(f"log_{aj.name}", real=True), "log1m": sp.Symbol(f"log1m_{aj.name}", real=True),
                      "c": sp.Symbol(f"c_{aj.name}", real=True)} for aj in a]
            # w_ij = dδ_i/ds_j; R{δ_i} = Σ_j w_ij R{s_j}, R{s} = R{Z} − Σ_k a_k R{Z_k}
            lines.append(self._rs())
            table = [[stabilize(sp.diff(d, q["log"]) + a[j] * sp.diff(d, a[j]) - a[j] * sp.diff(d, q["c"])
                                - a[j] / q["c"] * sp.diff(d, q["log1m"])) for j, q in enumerate(per_j)]
                     for d in p.delta_cols]
            source = "RS"
            arrays = {}
            for j, q in enumerate(per_j):
                arrays |= {q["log"]: ("LSM", j), q["log1m"]: ("L1M", j), q["c"]: ("C", j), a[j]: (f"A{L}", j)}
        else:
            fp = self.fprime(L)
            z = [spec.z(L, j) for j in range(1, n_out + 1)]
            table = [[stabilize(at_kinks(sp.diff(d, z[k]) + sp.diff(d, a[k]) * fp.xreplace({Z_SYM: z[k], A_SYM: a[k]})))
                      for k in range(n_out)] for d in p.delta_cols]
            source = f"RZ{L}"
            arrays = {}
            for j in range(n_out):
                arrays |= {z[j]: (f"Z{L}", j), a[j]: (f"A{L}", j)}
        arrays |= {spec.y(j + 1): ("Y", j) for j in range(n_out)}
        used = set().union(*(e.free_symbols for row in table for e in row))
        if any(arrays.get(s, ("",))[0] == "L1M" for s in used) and not p.needs_l1m:
            lines.append(f"    L1M = log1m_softmax(Z{L})")
        lines += [f"    {s.name} = {arrays[s][0]}[:, {arrays[s][1]}]" for s in sorted(used, key=str) if s in arrays]
        cols = []
        for row in table:
            terms = [f"{_paren(self.code(e))} * {source}[:, {k}]" for k, e in enumerate(row) if e != 0]
            cols.append(" + ".join(terms) if terms else f"{xp}.zeros(n)")
        return lines + [f"    RD{L} = {xp}.stack([{', '.join(cols)}], axis=1)"]

    # ------------------------------------------------------------ R-backward
    def r_backward(self) -> list[str]:
        L = self.spec.n_layers
        p = self.plan.output
        lines = [f"    L1M = log1m_softmax(Z{L})"] if p.softmax and p.needs_l1m else []
        if p.loss_elem is None:  # the loss's lines (not emitted here) name δ's columns
            lines += [f"    {sym.name} = {array}[:, {j}]" for sym, array, j in p.columns]
        lines += self.output_delta() + self.output_rdelta()
        out: list[str] = []
        for l in range(L - 1, 0, -1):
            fp = self.fprime(l)
            fpp = second_derivative(fp)
            lines += [f"    PD{l} = D{l + 1} @ W{l + 1}  # ∂J/∂a^({l})",
                      f"    RPD{l} = RD{l + 1} @ W{l + 1} + D{l + 1} @ VW{l + 1}",
                      f"    D{l} = {self.times(fp, l, f'PD{l}')}"]
            rd = self.times(fp, l, f"RPD{l}")
            if fpp != 0:
                rd += f" + {self.times(fpp, l, f'PD{l}')} * RZ{l}"
            lines.append(f"    RD{l} = {rd}")
            out = [f"    HW{l + 1} = (RD{l + 1}.T @ A{l} + D{l + 1}.T @ RA{l}) / n",
                   f"    Hb{l + 1} = RD{l + 1}.sum(axis=0) / n"] + out
        out = ["    HW1 = RD1.T @ X / n", "    Hb1 = RD1.sum(axis=0) / n"] + out
        return lines + out

    # ------------------------------------------------------------ Jacobian
    def jacobian(self) -> list[str]:
        L, xp = self.spec.n_layers, self.np
        lines = []
        for l in range(1, L + 1):
            u = f"(W{l} @ T)" if l > 1 else f"{xp}.broadcast_to(W1, (X.shape[0],) + W1.shape)"
            act = self.spec.activations[l - 1]
            if not act.elementwise:  # softmax: ∂a_i/∂z_j = a_i ([i = j] − a_j)
                lines += [f"    U = {u}",  # a (U − Σ_i a_i U_i), without cancellation at a ≈ 1
                          f"    T = A{l}[:, :, None] * (C[:, :, None] * U - sum_others(A{l}[:, :, None] * U, "
                          "TOP[:, :, None]))"]
                continue
            fp = self.fprime(l)
            if fp == 1:
                lines.append(f"    T = {u} + 0.0" if l == 1 else f"    T = {u}")
            elif fp.is_number:
                lines.append(f"    T = {float(fp)!r} * {u}")
            else:
                lines.append(f"    T = {_paren(self.fcode(fp, l))}[:, :, None] * {u}")
        return lines

    def module(self) -> str:
        spec, L = self.spec, self.spec.n_layers
        vel = ", ".join(f"VW{l}, Vb{l}" for l in range(1, L + 1))
        hs = ", ".join(f"HW{l}, Hb{l}" for l in range(1, L + 1))
        hvp = ["def hvp(P, V, X, Y):",
               '    """H·V of the mean batch loss (Pearlmutter\'s R-operator, layer by layer)."""',
               "    n = X.shape[0]", self.params_line(), f"    {vel}, = V",
               *self.forward(), *self.r_forward(), *self.r_backward(), f"    return [{hs}]"]
        jac = ["", "def input_jacobian(P, X):",
               '    """∂a^(L)_j/∂x_k of every row: shape (n, n_L, n_0), forward mode through the layers."""',
               self.params_line(), *self.forward(), *self.jacobian(), "    return T"]
        head = [f"# Second order, generated by symbackprop for the {spec.describe()}.", ""]
        return "\n".join(head + hvp + jac) + "\n"


def generate_second_order(spec: Any, backend: Any) -> tuple[str, dict[str, Any]]:
    """The source of ``hvp`` and ``input_jacobian`` for ``spec``, and its namespace.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.compiler.backends import get_backend
    >>> src, _ = generate_second_order(sbp.mlp([1, 1, 1], ["tanh", "identity"]), get_backend("numpy"))
    >>> print(src[src.index("RZ1"):src.index("HW1")].strip())  # doctest: +NORMALIZE_WHITESPACE
    RZ1 = X @ VW1.T + Vb1
        RA1 = sech2(Z1) * RZ1
        RZ2 = RA1 @ W2.T + A1 @ VW2.T + Vb2
        R = Z2 - Y  # the residual z − y, shared by the loss and δ
        D2 = R
        RD2 = RZ2
        PD1 = D2 @ W2  # ∂J/∂a^(1)
        RPD1 = RD2 @ W2 + D2 @ VW2
        D1 = sech2(Z1) * PD1
        RD1 = sech2(Z1) * RPD1 + (-2*numpy.tanh(Z1)*sech2(Z1)) * PD1 * RZ1
    """
    writer = _Writer2(make_plan(spec), backend)
    return writer.module(), writer.namespace


class SecondOrder:
    """The second-order functions of one :class:`~.model.CompiledModel` (built on first use).

    ``hvp(P, V, X, Y)`` and ``input_jacobian(P, X)`` take the flat per-layer lists of
    :meth:`CompiledModel.arrays <symbackprop.compiler.model.CompiledModel.arrays>`, as the
    first-order array functions do.
    """

    def __init__(self, model: Any):
        from .model import _run_generated

        spec, backend = model.spec, model.backend
        self.source, namespace = generate_second_order(spec, backend)
        _run_generated(self.source, f"<symbackprop second order {spec.describe()}>", namespace)
        self.hvp: Callable[..., list[Any]] = namespace["hvp"]
        self.input_jacobian: Callable[..., Any] = namespace["input_jacobian"]
        if backend.name == "jax":
            import jax

            loss = model._loss

            def hvp(P: list[Any], V: list[Any], X: Any, Y: Any) -> list[Any]:
                grad = jax.grad(lambda Q: loss(Q, X, Y))  # noqa: B023
                return jax.jvp(grad, (P,), (V,))[1]

            self.hvp = jax.jit(hvp)
            self.input_jacobian = jax.jit(self.input_jacobian)


# --------------------------------------------------------------------- conversion
def direction(spec: Any, v: Mapping | Sequence | np.ndarray) -> tuple[list[np.ndarray], bool]:
    """The flat per-layer arrays of a direction v, and whether v was a mapping.

    v is a mapping ``{Symbol or name: float}`` over every parameter, or a flat vector of
    ``len(net.params)`` numbers in ``net.params`` order.
    """
    if isinstance(v, Mapping):
        pairs = to_arrays(spec, v)
        arrays = [np.array(a, dtype=np.float64) for pair in pairs for a in pair]
        if not all(np.isfinite(a).all() for a in arrays):
            raise SpecError("The direction v must be finite; it has a NaN or infinite entry.")
        return arrays, True
    n = len(spec.params)
    try:
        flat = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        flat = None
    if flat is None or flat.shape != (n,):
        shape = "something else" if flat is None else f"shape {flat.shape}"
        raise SpecError(
            f"v must be a mapping over the parameters or a flat vector of {n} numbers in "
            f"net.params order; got {shape}."
        )
    if not np.isfinite(flat).all():
        raise SpecError("The direction v must be finite; it has a NaN or infinite entry.")
    arrays, start = [], 0
    for layer in range(1, spec.n_layers + 1):
        rows, cols = spec.sizes[layer], spec.sizes[layer - 1]
        arrays.append(flat[start:start + rows * cols].reshape(rows, cols).copy())
        arrays.append(flat[start + rows * cols:start + rows * cols + rows].copy())
        start += rows * cols + rows
    return arrays, False


def flatten(arrays: Sequence[Any]) -> np.ndarray:
    """One flat float64 vector in ``net.params`` order from the per-layer arrays."""
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def as_mapping(spec: Any, flat: np.ndarray) -> Parameters:
    return Parameters(zip(spec.params, flat.tolist()))


def check_hessian_size(n: int, max_params: int | None, what: str) -> None:
    """Refuse a dense Hessian of ``n`` > ``max_params`` parameters (of ``what``: "the 2-2-1
    network", "the computation"), in one sentence."""
    if max_params is not None and n > max_params:
        raise HessianTooLargeError(
            f"The dense Hessian of {what} would be "
            f"{n:,} x {n:,} ({n * n * 8 / 1e6:,.0f} MB); model.hessian builds it for at most "
            f"max_params={max_params:,} parameters: pass max_params={n} (or None) to build it "
            f"anyway, or use model.hvp(params, v, X, Y) for products with it."
        )
