"""Numerically stable forms for the compiled code: a small vocabulary and the rewrites into it.

The symbolic printouts stay textbook-shaped (σ(z) = 1/(1 + e^(−z)), softplus' = 1 − e^(−a));
only the numeric code uses these forms. A SymPy expression — a registered activation, a
user's formula, a loss composed with the output activation, or a derivative of one — is
rewritten by :func:`stabilize` into functions that float64 evaluates without overflow or
cancellation:

=================  ======================  =================================================
function           value                   NumPy form
=================  ======================  =================================================
``sigmoid(u)``     1/(1 + e^(−u))          through e^(−|u|), exact in each half
``log_sigmoid(u)`` log σ(u)                −logaddexp(0, −u)
``softplus(u)``    log(1 + e^u)            logaddexp(0, u)
``log_softplus``   log log(1 + e^u)        u + log(log1p(e^u)/e^u) for u < −1
``dsigmoid(u)``    σ(u) σ(−u) = σ'(u)      e^(−|u|)/(1 + e^(−|u|))²
``sech2(u)``       1 − tanh²(u)            4 e^(−2|u|)/(1 + e^(−2|u|))²
``log_tanh(u)``    log tanh(u)             log1p(−2σ(−2u)) where tanh(u) > ½
``log1p(u)``       log(1 + u)              numpy.log1p
=================  ======================  =================================================

Each function's derivative is written in the same vocabulary (σ' = σ(u)σ(−u),
(log σ)' = σ(−u), softplus' = σ(u), (log softplus)' = exp(log σ(u) − log softplus(u)),
(log tanh)' = sech2(u)/tanh(u)), so a
gradient taken by ``sympy.diff`` of a stabilized loss is stable too, and it is exactly the
derivative of the compiled loss.

The rewrites (:func:`stabilize`, applied bottom-up):

- (1 + e^u)^(−n) → σ(−u)^n, and e^(k u) σ(−u)^n → σ(u)^k σ(−u)^(n−k) (so e^u/(1 + e^u) → σ(u));
- σ(u) σ(−u) → dsigmoid(u); c − c σ(u) → c σ(−u); c − c tanh²(u) → c sech2(u);
  c ± c tanh(u) → 2c σ(±2u);
- log(1 + e^u) → softplus(u); log σ(u) → log_sigmoid(u); log softplus(u) → log_softplus(u);
  log tanh(u) → log_tanh(u); log e^u → u; log of a product or power of positive factors → sum of logs;
  log(1 + t) → log1p(t).

Softmax outputs are handled by the compiler through log-softmax arrays instead
(:func:`log1m_softmax` gives log(1 − softmax(z)_j) without cancellation).

The residual a − y of an output is taken from the exact complement of a where a is near
the end of its range: ``a_minus_y`` after sigmoid and softmax (1 − a = σ(−z)),
``tanh_minus_y`` after tanh (1 ∓ tanh z = 2σ(∓2z), put in by :func:`tanh_residuals`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p

__all__ = [
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "log_softplus",
    "dsigmoid",
    "sech2",
    "log_tanh",
    "tanh_minus_y",
    "tanh_residuals",
    "stabilize",
    "numpy_helpers",
    "jax_helpers",
    "softmax_parts",
    "sigmoid_parts",
    "sigmoid_pair",
    "log_softmax",
    "log1m_softmax",
    "sum_others",
]


class _Stable(sp.Function):
    """A vocabulary function: printed as a call of the helper of the same name."""

    nargs = 1

    def _numpycode(self, printer: Any) -> str:
        return f"{type(self).__name__}({printer._print(self.args[0])})"

    _jaxcode = _numpycode


class sigmoid(_Stable):  # noqa: N801 - the name printed into the generated code
    """σ(u) = 1/(1 + e^(−u)).

    Examples
    --------
    >>> u = sp.Symbol("u")
    >>> sp.diff(sigmoid(u), u)
    sigmoid(-u)*sigmoid(u)
    """

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return sigmoid(u) * sigmoid(-u)

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-u))


class log_sigmoid(_Stable):  # noqa: N801
    """log σ(u) = −log(1 + e^(−u))."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(-self.args[0])

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: Any) -> sp.Expr:
        return -sp.log(1 + sp.exp(-u))


class softplus(_Stable):  # noqa: N801
    """softplus(u) = log(1 + e^u)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log(1 + sp.exp(u))


class log_softplus(_Stable):  # noqa: N801
    """log softplus(u); its derivative σ(u)/softplus(u) is exp(log σ(u) − log softplus(u))."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return sp.exp(log_sigmoid(u) - log_softplus(u))

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log(sp.log(1 + sp.exp(u)))


class dsigmoid(_Stable):  # noqa: N801
    """σ'(u) = σ(u) σ(−u), with one exponential."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return dsigmoid(u) * (sigmoid(-u) - sigmoid(u))

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.exp(-u) / (1 + sp.exp(-u)) ** 2


class sech2(_Stable):  # noqa: N801
    """tanh'(u) = 1 − tanh²(u) = sech²(u), without the cancellation of 1 − tanh²."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return -2 * sp.tanh(u) * sech2(u)

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 4 / (sp.exp(u) + sp.exp(-u)) ** 2


class log_tanh(_Stable):  # noqa: N801
    """log tanh(u) (real for u > 0), exact also where tanh(u) rounds to 1.

    Examples
    --------
    >>> u = sp.Symbol("u")
    >>> sp.diff(log_tanh(u), u)
    sech2(u)/tanh(u)
    """

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        u = self.args[0]
        return sech2(u) / sp.tanh(u)

    def _eval_rewrite_as_exp(self, u: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log((sp.exp(u) - sp.exp(-u)) / (sp.exp(u) + sp.exp(-u)))


class _Residual(sp.Function):
    """a − y called as f(a, h, y), where h (the exact complement, or z) only says how to
    compute it: ∂/∂a = 1, ∂/∂h = 0, ∂/∂y = −1, so the second-order code and the R-operator
    of a compiled computation differentiate lines that hold it. Printed by its name."""

    nargs = 3

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return (sp.S.One, sp.S.Zero, sp.S.NegativeOne)[argindex - 1]

    def _numpycode(self, printer: Any) -> str:
        return f"{type(self).__name__}({', '.join(printer._print(a) for a in self.args)})"

    _jaxcode = _numpycode


class a_minus_y(_Residual):  # noqa: N801
    """a − y for an output a with exact complement c = 1 − a (σ(−z), or 1 − softmax):
    (1 − y) − c where a > ½, so that a − 1 at a = σ(40) is −e^(−40), not 0. Only printed."""


def _np_a_minus_y(a: Any, c: Any, y: Any, xp: Any = np) -> Any:
    return xp.where(a > 0.5, (1.0 - y) - c, a - y)


class tanh_minus_y(_Residual):  # noqa: N801
    """a − y for a = tanh(z), called as tanh_minus_y(a, z, y): where |a| > 0.9 it is
    (1 − y) − 2σ(−2z) (a > 0.9) or 2σ(2z) − (1 + y) (a < −0.9), with the exact complement
    1 − |a| = 2e^(−2|z|)/(1 + e^(−2|z|)); so tanh(20) − 1 is −2/(e^40 + 1), not 0. Only
    printed (put in after differentiation, by :func:`tanh_residuals`)."""

    def _eval_rewrite_as_exp(self, a: sp.Expr, z: sp.Expr, y: sp.Expr, **kwargs: Any) -> sp.Expr:
        return (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z)) - y  # from z, not from a


def _np_tanh_minus_y(a: Any, z: Any, y: Any, xp: Any = np) -> Any:
    # Where |a| > 0.9: (s − y) − s c with s = sign(a), c = 1 − |a| = 2e/(1 + e), e = e^(−2|z|)
    # (never overflows). Elsewhere the plain difference: there the rounding of c (≈ 2 ulp of
    # c) can exceed tanh's own (tests/test_extremes.py measures both).
    d = a - y
    big = xp.abs(a) > 0.9
    if xp is np and not big.any():  # nothing saturated: four calls, not fifteen, per step
        return d
    e = xp.exp(-2.0 * xp.abs(z))
    s = xp.sign(a)
    return xp.where(big, (s - y) - s * (2.0 * e / (1.0 + e)), d)


def tanh_residuals(expr: sp.Expr, logits: Any) -> sp.Expr:
    """``expr`` with every c tanh(z) + r (z one of ``logits``) written as c tanh_minus_y(tanh(z), z, −r/c).

    The loss and δ of a tanh output hold a − y = tanh(z) − y; where tanh(z) rounds to ±1
    that difference is 0 in float64 (at z = 20, y = 1) while its exact value is
    −2/(e^40 + 1). Applied after differentiation, so δ is still the derivative of the loss.

    Examples
    --------
    >>> z, y = sp.symbols("z y")
    >>> tanh_residuals((sp.tanh(z) - y) ** 2 / 2, [z])
    tanh_minus_y(tanh(z), z, y)**2/2
    >>> tanh_residuals(2 * (y - sp.tanh(z)) * sech2(z), [z])
    -2*sech2(z)*tanh_minus_y(tanh(z), z, y)
    """
    tanhs = {sp.tanh(u): u for u in logits}

    def residual(e: sp.Expr) -> sp.Expr:
        if not isinstance(e, sp.Add):
            return e
        for term in e.args:
            coeff, t = term.as_coeff_Mul()
            rest = e - term
            if t in tanhs and not rest.has(*tanhs):  # a − y: c tanh(z) + r = c (tanh(z) − (−r/c))
                return coeff * tanh_minus_y(t, tanhs[t], -rest / coeff)  # (SymPy distributes c over r)
        return e

    return expr.replace(lambda e: isinstance(e, sp.Add), residual)


_POSITIVE = (sigmoid, softplus, dsigmoid, sech2, sp.exp)


def _one_plus_exp(e: sp.Expr) -> sp.Expr | None:
    """u when ``e`` is 1 + e^u, else None."""
    if isinstance(e, sp.Add) and len(e.args) == 2 and sp.S.One in e.args:
        other = e.args[0] if e.args[1] == 1 else e.args[1]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _positive(e: sp.Expr) -> bool:
    if e.is_number:
        return bool(e.is_positive)
    if isinstance(e, sp.Pow):
        return _positive(e.base) and bool(e.exp.is_real)
    return isinstance(e, _POSITIVE)


def _log(arg: sp.Expr) -> sp.Expr:
    """log(arg), in the vocabulary where a rule applies."""
    u = _one_plus_exp(arg)
    if u is not None:
        return softplus(u)
    if isinstance(arg, sigmoid):
        return log_sigmoid(arg.args[0])
    if isinstance(arg, softplus):
        return log_softplus(arg.args[0])
    if isinstance(arg, sp.tanh):
        return log_tanh(arg.args[0])
    if isinstance(arg, sp.exp):
        return arg.args[0]
    if isinstance(arg, sp.Pow) and _positive(arg):
        return arg.exp * _log(arg.base)
    if isinstance(arg, sp.Mul) and all(_positive(f) for f in arg.args):
        return sp.Add(*[_log(f) for f in arg.args])
    if isinstance(arg, sp.Add):
        const, rest = arg.as_coeff_Add()
        if const == 1 and not rest.is_number:
            return log1p(rest)
    return sp.log(arg)


def _add(e: sp.Add) -> sp.Expr:
    """c − c σ(u) → c σ(−u); c − c tanh²(u) → c sech2(u); c ± c tanh(u) → 2c σ(±2u)."""
    const, rest = e.as_coeff_Add()
    if const == 0:
        return e
    for term in sp.Add.make_args(rest):
        coeff, f = term.as_coeff_Mul()
        new = None
        if coeff == -const and isinstance(f, sigmoid):
            new = const * sigmoid(-f.args[0])
        elif coeff == -const and isinstance(f, sp.Pow) and isinstance(f.base, sp.tanh) and f.exp == 2:
            new = const * sech2(f.base.args[0])
        elif abs(coeff) == abs(const) and isinstance(f, sp.tanh):
            sign = 1 if coeff == const else -1
            new = 2 * const * sigmoid(2 * sign * f.args[0])
        if new is not None:
            return new + (rest - term)
    return e


def _mul(e: sp.Mul) -> sp.Expr:
    """e^(k w) σ(−w)^n → σ(w)^k σ(−w)^(n−k); σ(u)^p σ(−u)^q → dsigmoid(u)^min(p, q) (rest kept)."""
    powers: dict[sp.Expr, sp.Expr] = {}
    exp_arg: sp.Expr = sp.S.Zero  # the exponentials, as one e^(exp_arg)
    for f in e.args:
        if isinstance(f, sp.exp):
            exp_arg += f.args[0]
        elif isinstance(f, sp.Pow) and isinstance(f.base, sp.exp):
            exp_arg += f.base.args[0] * f.exp
        else:
            base, ex = f.as_base_exp()
            powers[base] = powers.get(base, 0) + ex
    if exp_arg != 0:
        for s, n in list(powers.items()):
            if not isinstance(s, sigmoid) or not (n.is_Integer and n > 0):
                continue
            k = sp.cancel(exp_arg / -s.args[0])
            if k.is_Integer and 0 < k <= n:
                w = -s.args[0]
                powers[s] = n - k
                powers[sigmoid(w)] = powers.get(sigmoid(w), 0) + k
                exp_arg = sp.S.Zero
                break
    for s in list(powers):
        if isinstance(s, sigmoid) and s in powers:
            u = s.args[0]
            other = sigmoid(-u)
            p, q = powers.get(s, 0), powers.get(other, 0)
            if other in powers and p.is_Integer and q.is_Integer and p > 0 and q > 0:
                m = min(p, q)
                key = u if not u.could_extract_minus_sign() else -u
                powers[s], powers[other] = p - m, q - m
                powers[dsigmoid(key)] = powers.get(dsigmoid(key), 0) + m
    return sp.exp(exp_arg) * sp.Mul(*[b**x for b, x in powers.items()])


def _rule(e: sp.Expr) -> sp.Expr:
    if isinstance(e, sp.Pow) and e.exp.is_Integer and e.exp < 0:
        u = _one_plus_exp(e.base)
        if u is not None:
            return sigmoid(-u) ** (-e.exp)
    if isinstance(e, sp.log):
        return _log(e.args[0])
    if isinstance(e, sp.Add):
        return _add(e)
    if isinstance(e, sp.Mul):
        return _mul(e)
    return e


def stabilize(expr: sp.Expr) -> sp.Expr:
    """``expr`` rewritten into the stable vocabulary of this module (bottom-up, to a fixed point).

    Examples
    --------
    >>> z = sp.Symbol("z")
    >>> stabilize(sp.log(1 + sp.exp(z)))
    softplus(z)
    >>> stabilize(z / (1 + sp.exp(-z)))
    z*sigmoid(z)
    >>> stabilize(sp.diff(z / (1 + sp.exp(-z)), z))
    z*dsigmoid(z) + sigmoid(z)
    >>> stabilize(sp.log(1 - 1 / (1 + sp.exp(-z))))
    log_sigmoid(-z)
    >>> stabilize(1 - sp.tanh(z) ** 2)
    sech2(z)
    """
    memo: dict[sp.Basic, sp.Basic] = {}

    def walk(e: sp.Basic) -> sp.Basic:
        done = memo.get(e)
        if done is not None:
            return done
        if e.is_Atom or not e.args:
            out = e
        else:
            args = [walk(a) for a in e.args]
            out = e.func(*args) if args != list(e.args) else e
            if isinstance(out, sp.Expr):
                out = _rule(out)
        memo[e] = out
        return out

    for _ in range(5):  # a rule's result may enable another rule above it
        new = walk(expr)
        if new == expr:
            break
        expr = new
    return expr


# ----------------------------------------------------------------- numeric helpers
def _np_sigmoid(u: np.ndarray) -> np.ndarray:
    # exp of -|u| never overflows; each branch of the piecewise form is exact in its half.
    # (In-place steps: these run on every batch, where each temporary array costs.)
    e = np.abs(u)
    np.negative(e, out=e)
    np.exp(e, out=e)
    return np.where(u >= 0, 1.0, e) / (e + 1.0)


def sigmoid_parts(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """σ(u), σ(−u), log σ(u) and log σ(−u) from one exponential e^(−|u|), each exact.

    Examples
    --------
    >>> [float(v[0]) for v in sigmoid_parts(np.array([-1000.0]))]
    [0.0, 1.0, -1000.0, 0.0]
    """
    e = np.abs(u)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1.0
    up = u >= 0
    l1p = np.log1p(e)
    return (np.where(up, 1.0, e) / d, np.where(up, e, 1.0) / d,
            np.minimum(u, 0.0) - l1p, np.minimum(-u, 0.0) - l1p)


def sigmoid_pair(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """σ(u) and σ(−u) from one exponential (σ'(u) = their product, exact)."""
    e = np.abs(u)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1.0
    up = u >= 0
    return np.where(up, 1.0, e) / d, np.where(up, e, 1.0) / d


def _np_log_softplus(u: np.ndarray) -> np.ndarray:
    # For u < −1: log(log1p(t)) = u + log(log1p(t)/t), t = e^u, exact down to u = −inf
    # (t is kept ≥ e^−700 so it never underflows to 0; below that the correction is 0).
    t = np.exp(np.clip(u, -700.0, -1.0))
    low = u + np.log(np.log1p(t) / t)
    high = np.log(np.logaddexp(0.0, np.maximum(u, -1.0)))
    return np.where(u < -1.0, low, high)


def _np_dsigmoid(u: np.ndarray) -> np.ndarray:
    e = np.abs(u)
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1.0
    d *= d
    e /= d
    return e


def _np_sech2(u: np.ndarray) -> np.ndarray:
    e = np.abs(u)
    e *= -2.0
    np.exp(e, out=e)
    d = e + 1.0
    d *= d
    e *= 4.0
    e /= d
    return e


def _np_log_tanh(u: Any, xp: Any = np) -> Any:
    # tanh(u) > ½: log1p(−(1 − tanh u)) with 1 − tanh u = 2σ(−2u) exact (tanh(20) rounds to 1,
    # its log to 0, where the exact value is −2e^(−40)); below, log tanh(u) loses nothing.
    # For u > 0 neither branch warns; for u ≤ 0 both give what log(tanh u) gives (NaN, −inf).
    t = xp.tanh(u)
    e = xp.exp(-2.0 * xp.abs(u))
    c = xp.where(u >= 0, 2.0 * e, 2.0) / (1.0 + e)  # 2σ(−2u), through e^(−2|u|)
    return xp.where(t > 0.5, xp.log1p(-xp.minimum(c, 0.5)), xp.log(t))  # (c ≤ ½ there)


def _softmax_parts(Z: Any, xp: Any) -> tuple[Any, Any, Any, Any]:
    """The row maximum M, E = e^(Z − M), the one-hot of each row's largest entry, and
    Σ_{k ≠ top} E_k (so that Σ E = 1 + that sum, and log Σ E = log1p(that sum) exactly)."""
    i = xp.argmax(Z, axis=1)
    top = xp.arange(Z.shape[1]) == i[:, None]
    M = Z[xp.arange(Z.shape[0]), i][:, None]
    E = xp.exp(Z - M)
    rest = (E * ~top).sum(axis=1, keepdims=True)  # E ≤ 1 is finite: the product is exact
    return M, E, top, rest


def softmax_parts(Z: Any, xp: Any = np) -> tuple[Any, Any, Any, Any]:
    """softmax(Z), log softmax(Z), 1 − softmax(Z) and the one-hot of each row's largest
    logit, from one exponential: what the compiled output layer needs.

    1 − a_j is exact also for the largest logit (there it is Σ_{k≠j} e^(z_k − M) / Σ_k,
    not 1 minus a number that rounded to 1), and so is log a_j (see :func:`log_softmax`).

    Examples
    --------
    >>> A, LSM, C, TOP = softmax_parts(np.array([[40.0, -40.0]]))
    >>> float(A[0, 0]), TOP.tolist(), float(LSM[0, 1])
    (1.0, [[True, False]], -80.0)
    >>> [bool(abs(v / np.exp(-80.0) - 1) < 1e-15) for v in (A[0, 1], C[0, 0], -LSM[0, 0])]
    [True, True, True]
    """
    i = xp.argmax(Z, axis=1)
    top = xp.arange(Z.shape[1]) == i[:, None]
    ZM = Z - Z[xp.arange(Z.shape[0]), i][:, None]  # the row maximum, without a second reduction
    E = xp.exp(ZM)
    rest = (E * ~top).sum(axis=1, keepdims=True)  # E ≤ 1 is finite: the product is exact
    S = 1.0 + rest
    A = E / S
    return A, ZM - xp.log1p(rest), xp.where(top, rest / S, 1.0 - A), top


def log_softmax(Z: Any, xp: Any = np) -> Any:
    """log softmax(Z)_j = (z_j − M) − log1p(Σ_{k≠top} e^(z_k − M)), exact also for the largest
    logit (z_j − LSE would round log(1 + 1e-35) to 0).

    Examples
    --------
    >>> r = log_softmax(np.array([[40.0, -40.0]]))
    >>> bool(abs(r[0, 0] / -np.exp(-80.0) - 1) < 1e-15), float(r[0, 1])
    (True, -80.0)
    """
    M, _, _, rest = _softmax_parts(Z, xp)
    return (Z - M) - xp.log1p(rest)


def log1m_softmax(Z: Any, xp: Any = np) -> Any:
    """log(1 − softmax(Z)_j) for every row of Z, without cancellation (``xp``: numpy or jax.numpy).

    A column other than the row's largest has softmax ≤ ½, so log1p(−a_j) is exact; for
    the largest, 1 − a_j = Σ_{k≠j} e^(z_k) / Σ_k e^(z_k) is taken in log space around the
    second largest logit, so a gap of 2000 gives −2000, not log(0).

    Examples
    --------
    >>> log1m_softmax(np.array([[1000.0, -1000.0]])).tolist()
    [[-2000.0, -0.0]]
    """
    M, E, top, rest = _softmax_parts(Z, xp)
    others = xp.where(top, -xp.inf, Z)
    M2 = others.max(axis=1, keepdims=True)
    S2 = xp.exp(others - M2).sum(axis=1, keepdims=True)
    log_s = xp.log1p(rest)
    at_top = (M2 - M) + xp.log(S2) - log_s
    below = xp.log1p(-xp.where(top, 0.0, E) / (1.0 + rest))
    return xp.where(top, at_top, below)


def sum_others(G: Any, top: Any, xp: Any = np) -> Any:
    """Σ_{j≠i} G_j for every column i, exact for the column of the row's largest logit
    (``top``, from :func:`softmax_parts`).

    G.sum() − G_i would cancel there (softmax δ_i = g_i (1 − a_i) − a_i Σ_{j≠i} g_j is tiny
    when a_i ≈ 1); that column's sum is taken over the others directly instead.

    Examples
    --------
    >>> sum_others(np.array([[0.7, -1e-35]]), np.array([[True, False]])).tolist()
    [[-1e-35, 0.7]]
    """
    rest = xp.where(top, 0.0, G).sum(axis=1, keepdims=True)
    at_top = xp.where(top, G, 0.0).sum(axis=1, keepdims=True)
    return xp.where(top, rest, at_top + (rest - G))


def numpy_helpers() -> dict[str, Any]:
    """The NumPy implementations of the vocabulary, by the names the generated code calls.

    Examples
    --------
    >>> h = numpy_helpers()
    >>> float(h["softplus"](np.array(800.0))), float(h["log_sigmoid"](np.array(-1000.0)))
    (800.0, -1000.0)
    """
    return {
        "sigmoid": _np_sigmoid,
        "log_sigmoid": lambda u: -np.logaddexp(0.0, -u),
        "softplus": lambda u: np.logaddexp(0.0, u),
        "log_softplus": _np_log_softplus,
        "dsigmoid": _np_dsigmoid,
        "sech2": _np_sech2,
        "log_tanh": _np_log_tanh,
        "softmax_parts": softmax_parts,
        "sigmoid_parts": sigmoid_parts,
        "sigmoid_pair": sigmoid_pair,
        "a_minus_y": _np_a_minus_y,
        "tanh_minus_y": _np_tanh_minus_y,
        "log1m_softmax": log1m_softmax,
        "sum_others": sum_others,
    }


def jax_helpers() -> dict[str, Any]:
    """The same for JAX (``jax.nn``'s stable functions, differentiable by ``jax.grad``)."""
    import jax
    import jax.numpy as jnp

    def log_softplus(u: Any) -> Any:
        t = jnp.exp(jnp.clip(u, -700.0, -1.0))
        low = u + jnp.log(jnp.log1p(t) / t)
        high = jnp.log(jax.nn.softplus(jnp.maximum(u, -1.0)))
        return jnp.where(u < -1.0, low, high)

    def dsigmoid(u: Any) -> Any:
        return jax.nn.sigmoid(u) * jax.nn.sigmoid(-u)

    return {
        "sigmoid": jax.nn.sigmoid,
        "log_sigmoid": jax.nn.log_sigmoid,
        "softplus": jax.nn.softplus,
        "log_softplus": log_softplus,
        "dsigmoid": dsigmoid,
        "sech2": lambda u: 4.0 * dsigmoid(2.0 * u),
        "log_tanh": lambda u: _np_log_tanh(u, jnp),
        "softmax_parts": lambda Z: softmax_parts(Z, jnp),
        "sigmoid_parts": lambda u: (jax.nn.sigmoid(u), jax.nn.sigmoid(-u),
                                    jax.nn.log_sigmoid(u), jax.nn.log_sigmoid(-u)),
        "sigmoid_pair": lambda u: (jax.nn.sigmoid(u), jax.nn.sigmoid(-u)),
        "a_minus_y": lambda a, c, y: _np_a_minus_y(a, c, y, jnp),
        "tanh_minus_y": lambda a, z, y: _np_tanh_minus_y(a, z, y, jnp),
        "log1m_softmax": lambda Z: log1m_softmax(Z, jnp),
        "sum_others": lambda G, top: sum_others(G, top, jnp),
    }
