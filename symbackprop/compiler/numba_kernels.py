"""The stable vocabulary of :mod:`.stable` as numba kernels, for the ``numba`` backend.

Importing this module imports numba (an optional extra: ``pip install "symbackprop[fast]"``);
only :mod:`.numba_backend` imports it, when a numba model is compiled. Each kernel computes
what its NumPy twin in :mod:`.stable` computes, with the same formulas (one exponential
e^(−|u|), log-space softmax pieces), written as loops or scalar ufuncs: numba compiles a
loop in a fraction of the time it takes for ``numpy.where`` or ``sum(axis=…)`` (measured:
3–4 s each on first use), and every kernel is cached on disk (``cache=True``) after its
first compilation.

The elementwise functions are ``numba.vectorize`` ufuncs for float64, so the generated
code calls them on arrays (``sigmoid(-Z2)``) as it calls the NumPy helpers.
"""

from __future__ import annotations

import math

import numpy as np

try:
    import numba
except ImportError:  # the extra is not installed: the functions stay plain Python, unused
    numba = None

__all__ = ["kernels"]


def _njit(fn):  # noqa: ANN001, ANN202
    return numba.njit(cache=True)(fn) if numba is not None else fn


def _vectorize(signatures):  # noqa: ANN001, ANN202
    return (lambda fn: numba.vectorize(signatures, cache=True)(fn)) if numba is not None else (lambda fn: fn)

_F1 = ["float64(float64)"]
_F3 = ["float64(float64, float64, float64)"]


@_vectorize(_F1)
def sigmoid(u):  # noqa: ANN001, ANN201 (numba signatures above)
    e = math.exp(-abs(u))
    return (1.0 if u >= 0 else e) / (e + 1.0)


@_njit
def _logaddexp0(x):  # noqa: ANN001, ANN202
    """log(1 + e^x) as numpy.logaddexp(0, x) computes it."""
    if x == 0.0:
        return math.log(2.0)
    if x > 0:
        return x + math.log1p(math.exp(-x))
    if x <= 0:
        return math.log1p(math.exp(x))
    return x  # NaN


@_vectorize(_F1)
def log_sigmoid(u):  # noqa: ANN001, ANN201
    return -_logaddexp0(-u)


@_vectorize(_F1)
def softplus(u):  # noqa: ANN001, ANN201
    return _logaddexp0(u)


@_vectorize(_F1)
def log_softplus(u):  # noqa: ANN001, ANN201
    # As stable._np_log_softplus: u + log(log1p(t)/t), t = e^u (kept ≥ e^−700), for u < −1.
    if u < -1.0:
        t = math.exp(max(u, -700.0))
        return u + math.log(math.log1p(t) / t)
    return math.log(_logaddexp0(u if u > -1.0 else -1.0))


@_vectorize(_F1)
def dsigmoid(u):  # noqa: ANN001, ANN201
    e = math.exp(-abs(u))
    d = e + 1.0
    return e / (d * d)


@_vectorize(_F1)
def sech2(u):  # noqa: ANN001, ANN201
    e = math.exp(-2.0 * abs(u))
    d = e + 1.0
    return 4.0 * e / (d * d)


@_vectorize(["float64(float64, float64)"])
def heaviside(x, h0):  # noqa: ANN001, ANN201 (numpy.heaviside, which numba does not have)
    if x != x:
        return x
    return 0.0 if x < 0 else (h0 if x == 0 else 1.0)


@_vectorize(_F3)
def a_minus_y(a, c, y):  # noqa: ANN001, ANN201
    # a − y exactly also where a rounds to 1: (1 − y) − σ(−z) there.
    return (1.0 - y) - c if a > 0.5 else a - y


@_vectorize(_F3)
def tanh_minus_y(a, z, y):  # noqa: ANN001, ANN201
    # tanh(z) − y exactly also where tanh(z) rounds to ±1: from 1 − |a| = 2e^(−2|z|)/(1 + e^(−2|z|)).
    if a > 0.9 or a < -0.9:  # (as stable.py: the plain difference is as exact below)
        e = math.exp(-2.0 * abs(z))
        c = 2.0 * e / (1.0 + e)
        return (1.0 - y) - c if a > 0.9 else c - (1.0 + y)
    return a - y


@_vectorize(_F1)
def log_tanh(u):  # noqa: ANN001, ANN201
    t = math.tanh(u)
    if t > 0.5:  # log1p(−2σ(−2u)), exact where tanh(u) rounds to 1
        e = math.exp(-2.0 * u)
        return math.log1p(-2.0 * e / (1.0 + e))
    return math.log(t) if t > 0 else (-math.inf if t == 0 else math.nan)


@_njit
def sigmoid_pair(u):  # noqa: ANN001, ANN201
    n, m = u.shape
    a, c = np.empty((n, m)), np.empty((n, m))
    for i in range(n):
        for j in range(m):
            x = u[i, j]
            e = math.exp(-abs(x))
            d = e + 1.0
            if x >= 0:
                a[i, j], c[i, j] = 1.0 / d, e / d
            else:
                a[i, j], c[i, j] = e / d, 1.0 / d
    return a, c


@_njit
def sigmoid_parts(u):  # noqa: ANN001, ANN201
    n, m = u.shape
    a, c, la, lc = np.empty((n, m)), np.empty((n, m)), np.empty((n, m)), np.empty((n, m))
    for i in range(n):
        for j in range(m):
            x = u[i, j]
            e = math.exp(-abs(x))
            d = e + 1.0
            l1p = math.log1p(e)
            if x >= 0:
                a[i, j], c[i, j] = 1.0 / d, e / d
            else:
                a[i, j], c[i, j] = e / d, 1.0 / d
            la[i, j] = min(x, 0.0) - l1p
            lc[i, j] = min(-x, 0.0) - l1p
    return a, c, la, lc


@_njit
def softmax_parts(Z):  # noqa: ANN001, ANN201
    """softmax, log softmax, 1 − softmax and the one-hot of each row's largest logit
    (as :func:`symbackprop.compiler.stable.softmax_parts`)."""
    n, m = Z.shape
    A, LSM, C = np.empty((n, m)), np.empty((n, m)), np.empty((n, m))
    TOP = np.zeros((n, m), dtype=np.bool_)
    E = np.empty(m)
    for i in range(n):
        top = 0
        for j in range(1, m):
            if Z[i, j] > Z[i, top]:
                top = j
        M = Z[i, top]
        rest = 0.0
        for j in range(m):
            E[j] = math.exp(Z[i, j] - M)
            if j != top:
                rest += E[j]
        S = 1.0 + rest
        lg = math.log1p(rest)
        for j in range(m):
            A[i, j] = E[j] / S
            LSM[i, j] = (Z[i, j] - M) - lg
            C[i, j] = rest / S if j == top else 1.0 - A[i, j]
        TOP[i, top] = True
    return A, LSM, C, TOP


@_njit
def log1m_softmax(Z):  # noqa: ANN001, ANN201
    """log(1 − softmax(Z)) without cancellation (as :func:`.stable.log1m_softmax`)."""
    n, m = Z.shape
    out = np.empty((n, m))
    for i in range(n):
        top = 0
        for j in range(1, m):
            if Z[i, j] > Z[i, top]:
                top = j
        M = Z[i, top]
        rest = 0.0
        M2 = -np.inf
        for j in range(m):
            if j != top:
                rest += math.exp(Z[i, j] - M)
                M2 = max(M2, Z[i, j])
        S2 = 0.0
        for j in range(m):
            if j != top:
                S2 += math.exp(Z[i, j] - M2)
        log_s = math.log1p(rest)
        for j in range(m):
            if j == top:
                out[i, j] = (M2 - M) + math.log(S2) - log_s
            else:
                out[i, j] = math.log1p(-math.exp(Z[i, j] - M) / (1.0 + rest))
    return out


@_njit
def sum_others(G, TOP):  # noqa: ANN001, ANN201
    """Σ_{j≠i} G_j for every column i, exact for the row's largest logit (as .stable)."""
    n, m = G.shape
    out = np.empty((n, m))
    for i in range(n):
        rest = 0.0
        at_top = 0.0
        for j in range(m):
            if TOP[i, j]:
                at_top += G[i, j]
            else:
                rest += G[i, j]
        for j in range(m):
            out[i, j] = rest if TOP[i, j] else at_top + (rest - G[i, j])
    return out


@_njit
def colsum(D):  # noqa: ANN001, ANN201
    """D.sum(axis=0) of a 2-D array (the bias gradients)."""
    n, m = D.shape
    out = np.zeros(m)
    for i in range(n):
        for j in range(m):
            out[j] += D[i, j]
    return out


def kernels() -> dict[str, object]:
    """The kernels by the names the generated code calls (as :func:`.stable.numpy_helpers`).

    Examples
    --------
    >>> sorted(kernels())[:4]
    ['a_minus_y', 'colsum', 'dsigmoid', 'heaviside']
    """
    return {
        "sigmoid": sigmoid,
        "log_sigmoid": log_sigmoid,
        "softplus": softplus,
        "log_softplus": log_softplus,
        "dsigmoid": dsigmoid,
        "sech2": sech2,
        "log_tanh": log_tanh,
        "softmax_parts": softmax_parts,
        "sigmoid_parts": sigmoid_parts,
        "sigmoid_pair": sigmoid_pair,
        "a_minus_y": a_minus_y,
        "tanh_minus_y": tanh_minus_y,
        "log1m_softmax": log1m_softmax,
        "sum_others": sum_others,
        "colsum": colsum,
        "heaviside": heaviside,
    }
