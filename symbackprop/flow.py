"""Gradient flow: how large δ^(l) and ∂J/∂W^(l) are, layer by layer, epoch by epoch.

Backpropagation multiplies δ by a weight matrix and an activation's slope at every layer,
δ^(l) = (W^(l+1))ᵀ δ^(l+1) ⊙ f_l'(z^(l)), so for every sample

    ‖δ^(l)‖ ≤ sup|f_l'| · ‖W^(l+1)‖₂ · ‖δ^(l+1)‖

(‖·‖ the Euclidean norm of one sample's vector, ‖W‖₂ the spectral norm, the largest
singular value). With σ' ≤ ¼ each sigmoid layer can shrink δ four-fold unless its
weights make up for it: the vanishing gradient. This module records the norms during
training (``sbp.train(..., gradient_flow=True)``), checks the bound on every sample of
every recorded epoch, and names the units that pass no gradient.

What is recorded, at the end of every epoch, on a fixed evaluation batch (the whole
training data when it has at most :data:`EVAL_ROWS` rows, else that many rows evenly
spaced through it; ``gradient_flow=m`` asks for at most m rows), with one extra forward
and backward pass (the generated ``flow`` function of the compiled model):

- ``delta_norm[l]``: the root mean square over the samples of ‖δ_k^(l)‖, the Euclidean
  norm of sample k's δ^(l) vector: √(mean_k ‖δ_k^(l)‖²);
- ``grad_w_norm[l]``, ``grad_b_norm[l]``: the Frobenius norm of ∂J/∂W^(l) and the
  Euclidean norm of ∂J/∂b^(l), the batch-mean gradient (what a full-batch step uses);
- ``weight_norm[l]``: ‖W^(l)‖₂;
- ``bound_ratio[l]`` (hidden layers with a finite sup|f_l'|): the largest over the samples
  of ‖δ_k^(l)‖ / (sup|f_l'| · ‖W^(l+1)‖₂ · ‖δ_k^(l+1)‖); at most 1, up to rounding
  (:data:`BOUND_TOLERANCE`). A sample whose right-hand side is below :data:`TINY` (2^-1000,
  where float64's subnormals have lost their relative precision) counts as 0 when its
  ‖δ^(l)‖ is below 2·TINY too, else as ∞. ``bound[l]`` is the same bound on
  ``delta_norm[l]``: sup|f_l'| · ‖W^(l+1)‖₂ · ``delta_norm[l+1]`` (it holds because the
  per-sample one does);
- per unit j of layer l, the share of the samples where f_l'(z^(l)_j) = 0 and where
  |f_l'(z^(l)_j)| < :data:`SATURATED_SLOPE` · sup|f_l'|.

A unit is **dead** when its slope is exactly 0 on every evaluation sample (a ReLU whose
z is never positive: no gradient reaches its incoming weights); **saturated** when it is
not dead and its slope is below :data:`SATURATED_SLOPE` · sup|f_l'| on at least
:data:`SATURATED_SHARE` of the samples (a sigmoid with |z| > 5.99 there, a tanh with
|z| > 2.99; for a ReLU, inactive on at least that share but not on all). Units of a layer
whose sup|f'| is unbounded are never called saturated; softmax outputs are never
classified. Units are named in the fixed notation by their activation, a⁽²⁾₃.

sup|f'| comes from the activation registry, not a table of names
(:func:`slope_bound`): f' is the registry's derivative, steps in it (relu, leaky_relu)
are split into their pieces, and the range of |f'| over the real line is asked of SymPy
(``function_range``); where SymPy cannot tell, |f'| is maximised numerically on a fine
grid (an estimate, so marked), and a slope that keeps growing has no bound.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .activations import Activation, get_activation
from .activations import Z as Z_SYM
from .errors import SpecError
from .notation import real_symbol, symbol_name, text_name

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import CompiledModel

__all__ = [
    "BOUND_TOLERANCE",
    "EVAL_ROWS",
    "SATURATED_SHARE",
    "SATURATED_SLOPE",
    "TINY",
    "FlowRecording",
    "GradientFlow",
    "SlopeBound",
    "Unit",
    "gradient_flow",
    "slope_bound",
]

#: The most rows of the evaluation batch with ``gradient_flow=True``.
EVAL_ROWS = 1024
#: A slope below this fraction of sup|f'| counts as saturated ...
SATURATED_SLOPE = 0.01
#: ... on at least this share of the evaluation samples.
SATURATED_SHARE = 0.9
#: How far above 1 a bound ratio may be from rounding alone (relative).
BOUND_TOLERANCE = 1e-9
#: Below this, float64 loses relative precision (subnormals start at 2.2e-308): a sample
#: whose bound is this small is not counted in the bound ratio unless its δ is larger.
TINY = 2.0**-1000
#: Derivatives of more operations than this are maximised numerically: SymPy's
#: function_range can spend many seconds before it gives up (mish's, 17 operations: 13 s).
_SYMBOLIC_OPS = 12


# ---------------------------------------------------------------- sup |f'|
@dataclass(frozen=True)
class SlopeBound:
    """sup over the real line of |f'(z)| for one activation.

    Attributes
    ----------
    value : float or None
        The bound; None when |f'| is unbounded or f is softmax (no slope per unit).
    exact : str
        The bound as SymPy writes it (``1/4``), ``≈1.09985`` for a numeric estimate,
        ``no bound``, or ``softmax`` (a Jacobian, not a slope).
    method : str
        ``"symbolic"``, ``"numeric"``, ``"none"`` (unbounded) or ``"softmax"``.
    """

    value: float | None
    exact: str
    method: str


def slope_bound(activation: str | Activation) -> SlopeBound:
    """sup |f'(z)| over all real z: the registry's ``max_slope``, else from f'.

    Steps in f' (``Heaviside``, ``sign``, the ``Max``/``Min`` of kinks) are split into
    their pieces; SymPy's ``function_range`` gives the range of each piece's |f'|, and
    the largest end is the bound. Where SymPy cannot tell (or the formula is large),
    |f'| is maximised on a fine grid of z in [−630, 630] (``method="numeric"``, an
    estimate); a slope that is largest far out (|z| ≥ 100) is taken as unbounded.

    Examples
    --------
    >>> [slope_bound(n).exact for n in ("sigmoid", "tanh", "relu", "arctan", "leaky_relu")]
    ['1/4', '1', '1', '1', '1']
    >>> slope_bound("z**2/2")
    SlopeBound(value=None, exact='no bound', method='none')
    >>> b = slope_bound("z*sigmoid(z)")   # swish: SymPy finds no closed form
    >>> b.method, round(b.value, 4)
    ('numeric', 1.0998)
    """
    act = get_activation(activation)
    if not act.elementwise:
        return SlopeBound(None, "softmax", "softmax")
    if act.max_slope is not None:  # the registry's entry: function_range takes seconds on tanh'
        return SlopeBound(float(act.max_slope), sp.sstr(act.max_slope), "symbolic")
    return _sup_abs(act.derivative())


@functools.lru_cache(maxsize=256)
def _sup_abs(d: sp.Expr) -> SlopeBound:
    if not d.has(Z_SYM):
        value = abs(sp.sympify(d))
        return SlopeBound(float(value), sp.sstr(value), "symbolic")
    exact = _symbolic_sup(d) if sp.count_ops(d) <= _SYMBOLIC_OPS else None
    if exact is not None:
        if exact is sp.oo:
            return SlopeBound(None, "no bound", "none")
        return SlopeBound(float(exact), sp.sstr(exact), "symbolic")
    return _numeric_sup(d)


def _pieces(d: sp.Expr) -> list[sp.Expr] | None:
    """f' with every step replaced by each of its values (None: too many steps)."""
    steps = sorted(d.atoms(sp.Heaviside, sp.sign, sp.Max, sp.Min), key=sp.default_sort_key)
    if len(steps) > 3:
        return None
    choices = []
    for s in steps:
        if isinstance(s, sp.Heaviside):
            choices.append([sp.S.Zero, sp.S.Half, sp.S.One])
        elif isinstance(s, sp.sign):
            choices.append([-sp.S.One, sp.S.Zero, sp.S.One])
        else:  # Max/Min of two or more expressions: one of them
            choices.append(list(s.args))
    return [d.xreplace(dict(zip(steps, pick))) for pick in itertools.product(*choices)]


def _symbolic_sup(d: sp.Expr) -> sp.Expr | None:
    """sup |d| over the reals as a SymPy number (``oo`` when unbounded), or None."""
    from sympy.calculus.util import function_range

    pieces = _pieces(d)
    if pieces is None:
        return None
    best: sp.Expr = sp.S.Zero
    for g in pieces:
        if not g.has(Z_SYM):
            best = sp.Max(best, abs(g))
            continue
        try:
            rng = function_range(sp.Abs(g), Z_SYM, sp.S.Reals)
        except Exception:  # noqa: BLE001 - SymPy raises many kinds here: ask numerically
            return None
        top = rng.sup if isinstance(rng, sp.Set) and rng is not sp.S.EmptySet else None
        if top is None or not (top.is_extended_real and top.is_comparable):
            return None
        if top is sp.oo:
            # A piece is unbounded over the whole line; it may hold only where it is bounded.
            return sp.oo if len(pieces) == 1 else None
        best = sp.Max(best, top)
    return best


def _numeric_sup(d: sp.Expr) -> SlopeBound:
    from .numeric import evaluate

    far = np.logspace(np.log10(30.0), np.log10(630.0), 400)
    grid = np.concatenate([-far[::-1], np.linspace(-30.0, 30.0, 120_001), far])
    with np.errstate(all="ignore"):
        values = np.abs(np.asarray(evaluate(d, {Z_SYM: grid}), dtype=float))
        values = np.where(np.isfinite(values), values, -1.0)  # undefined points: no evidence
    at = int(values.argmax())
    if values[at] < 0 or abs(grid[at]) >= 100:
        return SlopeBound(None, "no bound", "none")
    # Refine around the best grid point (the grid step is 5e-4).
    fine = np.linspace(grid[at] - 1e-3, grid[at] + 1e-3, 2001)
    with np.errstate(all="ignore"):
        near = np.abs(np.asarray(evaluate(d, {Z_SYM: fine}), dtype=float))
    top = float(np.nanmax(np.append(near, values[at])))
    return SlopeBound(top, f"≈{top:.6g}", "numeric")


# ------------------------------------------------------------- recording
@dataclass
class FlowRecording:
    """What ``train(..., gradient_flow=True)`` keeps in ``History.gradient_flow``.

    The network's sizes and activation names, sup|f_l'| of each layer, the number of
    evaluation rows, and per recorded epoch a dict of plain lists (see the module
    docstring). :func:`gradient_flow` turns it into a :class:`GradientFlow`.
    """

    sizes: list[int]
    activations: list[str]
    bounds: list[SlopeBound]
    eval_rows: int
    n_rows: int
    epochs: list[int] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)  # long: not in repr


def _eval_rows(n: int, setting: Any) -> np.ndarray | None:
    """Row indices of the evaluation batch: None for all rows, else evenly spaced ones."""
    if setting is not True and (isinstance(setting, bool) or not isinstance(setting, (int, np.integer))
                                or setting < 1):
        raise SpecError(
            "gradient_flow must be True, False or the most evaluation rows (a positive "
            f"integer); got {setting!r}."
        )
    most = EVAL_ROWS if setting is True else int(setting)
    if n <= most:
        return None
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


class Recorder:
    """Records one :class:`FlowRecording` entry per call of :meth:`record` (training uses it)."""

    def __init__(self, model: CompiledModel, X: np.ndarray, Y: np.ndarray, setting: Any):
        rows = _eval_rows(X.shape[0], setting)
        self.X, self.Y = (X, Y) if rows is None else (X[rows], Y[rows])
        spec = model.spec
        # A backend whose generator makes no ``flow`` (a fast path): the NumPy model has it.
        self.model = model
        if model.flow is None:
            from .compiler import compile_network

            self.model = compile_network(spec)
        self.on_host = self.model.backend.name == "numpy"
        self.recording = FlowRecording(
            sizes=list(spec.sizes),
            activations=[a.name for a in spec.activations],
            bounds=[slope_bound(a) for a in spec.activations],
            eval_rows=self.X.shape[0],
            n_rows=X.shape[0],
        )

    def record(self, P: Sequence[Any], epoch: int) -> None:
        """Run the extra forward/backward pass at parameters ``P`` and keep the norms."""
        if self.on_host:
            P = [np.asarray(p) for p in P]
        loss, grads, deltas, slopes = self.model.flow(P, self.X, self.Y)
        self.recording.epochs.append(epoch)
        self.recording.records.append(
            _measure(self.recording, [np.asarray(p) for p in P], float(loss),
                     [np.asarray(g) for g in grads], [np.asarray(d) for d in deltas],
                     [None if s is None else np.asarray(s, dtype=np.float64) for s in slopes])
        )


def _norms(D: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row; rows whose squares may underflow (or overflow) are
    scaled by their largest entry first, so a tiny δ does not come out as 0."""
    sq = np.einsum("ij,ij->i", D, D)
    out = np.sqrt(sq)
    redo = ~((sq > 1e-280) & (sq < 1e280))
    if redo.any():
        rows = D[redo]
        top = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(rows.shape[0])
        safe = np.where(top > 0, top, 1.0)
        out[redo] = top * np.sqrt(((rows / safe[:, None]) ** 2).sum(axis=1))
    return out


def _norm(a: np.ndarray) -> float:
    """Euclidean (Frobenius) norm of all of ``a``, without underflow."""
    return float(_norms(a.reshape(1, -1))[0]) if a.size else 0.0


def _rms(norms: np.ndarray) -> float:
    """√(mean of squares), without underflow."""
    return _norm(norms) / np.sqrt(norms.size) if norms.size else 0.0


def _measure(rec: FlowRecording, P: list[np.ndarray], loss: float, grads: list[np.ndarray],
             deltas: list[np.ndarray], slopes: list[np.ndarray | None]) -> dict[str, Any]:
    """The per-epoch numbers (plain lists of floats) from one ``flow`` call."""
    L = len(deltas)
    norms = [_norms(d) for d in deltas]  # per sample ‖δ_k^(l)‖
    weight = [float(np.linalg.norm(P[2 * l], 2)) for l in range(L)]
    ratio: list[float | None] = []
    for l in range(L):
        s = rec.bounds[l].value
        if l == L - 1 or s is None:
            ratio.append(None)
            continue
        rhs = s * weight[l + 1] * norms[l + 1]
        # Where the bound is below TINY, float64 has no relative precision left: such a
        # sample counts only if its δ is clearly larger (then the ratio is infinite).
        big = rhs > TINY
        r = np.where(big, norms[l] / np.where(big, rhs, 1.0), np.where(norms[l] > 2 * TINY, np.inf, 0.0))
        ratio.append(float(r.max()) if r.size else 0.0)
    zero_share, small_share, max_slope = [], [], []
    for l in range(L):
        f = slopes[l]
        if f is None:
            zero_share.append(None)
            small_share.append(None)
            max_slope.append(None)
            continue
        a = np.abs(f)
        zero_share.append((a == 0).mean(axis=0).tolist())
        s = rec.bounds[l].value
        small_share.append(None if not s else (a < SATURATED_SLOPE * s).mean(axis=0).tolist())
        max_slope.append(float(a.max()) if a.size else 0.0)
    return {
        "loss": loss,
        "delta_norm": [_rms(n) for n in norms],
        "grad_w_norm": [_norm(grads[2 * l]) for l in range(L)],
        "grad_b_norm": [_norm(grads[2 * l + 1]) for l in range(L)],
        "weight_norm": weight,
        "bound_ratio": ratio,
        "max_slope": max_slope,
        "zero_share": zero_share,
        "small_share": small_share,
    }


# ----------------------------------------------------------------- result
@dataclass(frozen=True)
class Unit:
    """A unit that passes (almost) no gradient: its name, layer, index and since when."""

    name: str  # the Python name of its activation, a2_3
    text: str  # the same in textbook notation, a⁽²⁾₃
    layer: int
    index: int
    share: float  # the share of evaluation samples with a zero (dead) or tiny (saturated) slope
    since: int  # the first epoch from which it stayed so to the last recorded one

    def to_dict(self) -> dict[str, Any]:
        """The unit as plain JSON values."""
        return {"name": self.name, "text": self.text, "layer": self.layer, "index": self.index,
                "share": self.share, "since": self.since}


@dataclass(frozen=True)
class GradientFlow:
    """Per-layer gradient norms over the recorded epochs, the bounds they obey, and what they show.

    Arrays are (epochs × layers), column l−1 for layer l; NaN where a value does not
    apply (no bound for the output layer or an unbounded slope). See :mod:`symbackprop.flow`
    for the exact definitions.

    Attributes
    ----------
    sizes, activations : list
        The network: layer sizes n_0..n_L and each layer's activation name.
    epochs : list of int
        The recorded epochs (1 = the end of the first).
    eval_rows, n_rows : int
        Rows of the evaluation batch, and of the training data.
    slope_bounds : list of SlopeBound
        sup|f_l'| of each layer.
    loss : numpy.ndarray
        The mean loss on the evaluation batch, per epoch.
    delta_norm, grad_w_norm, grad_b_norm, weight_norm, bound, bound_ratio : numpy.ndarray
    max_slope : numpy.ndarray
        The largest |f_l'(z)| over the evaluation batch (at most sup|f_l'|; NaN for softmax).
    dead, saturated : list of Unit
        The units dead or saturated at the last recorded epoch.
    """

    sizes: list[int]
    activations: list[str]
    epochs: list[int]
    eval_rows: int
    n_rows: int
    slope_bounds: list[SlopeBound]
    loss: np.ndarray
    delta_norm: np.ndarray
    grad_w_norm: np.ndarray
    grad_b_norm: np.ndarray
    weight_norm: np.ndarray
    bound: np.ndarray
    bound_ratio: np.ndarray
    max_slope: np.ndarray
    dead: list[Unit]
    saturated: list[Unit]

    @property
    def layers(self) -> list[int]:
        """Layer numbers 1..L."""
        return list(range(1, len(self.sizes)))

    @property
    def bound_holds(self) -> bool:
        """True when every per-sample bound of every recorded epoch holds (up to rounding)."""
        r = self.bound_ratio[~np.isnan(self.bound_ratio)]
        return bool(np.all(r <= 1 + BOUND_TOLERANCE))

    @property
    def worst_ratio(self) -> float:
        """The largest bound ratio recorded (NaN when no layer has a bound)."""
        r = self.bound_ratio[~np.isnan(self.bound_ratio)]
        return float(r.max()) if r.size else math.nan

    @property
    def vanishing(self) -> np.ndarray:
        """Per epoch, delta_norm of layer 1 over delta_norm of layer L: far below 1 when
        the gradient vanishes on its way back, far above when it explodes."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.delta_norm[:, 0] / self.delta_norm[:, -1]

    def text(self, every: int | None = None) -> str:
        """A table: per recorded epoch, each layer's delta_norm (and the bound ratio), then
        the slope bounds, the bound check and the dead and saturated units.

        Parameters
        ----------
        every : int, optional
            Show every ``every``-th epoch (and the last); default: about ten rows.
        """
        E, L = self.delta_norm.shape
        step = every or max(1, math.ceil(E / 10))
        shown = sorted(set(range(0, E, step)) | {E - 1}) if E else []
        head = f"{'epoch':>6}  " + "  ".join(f"{'|δ(' + str(l) + ')|':>10}" for l in self.layers)
        head += f"  {'|δ(1)|/|δ(L)|':>13}"
        lines = [
            f"Gradient flow of the {'-'.join(map(str, self.sizes))} network "
            f"({', '.join(self.activations)}), on {self.eval_rows} of {self.n_rows} rows:",
            "RMS over the samples of each sample's ‖δ^(l)‖ at the end of each epoch.",
            head,
        ]
        for e in shown:
            row = "  ".join(f"{v:10.3e}" for v in self.delta_norm[e])
            lines.append(f"{self.epochs[e]:>6}  {row}  {self.vanishing[e]:13.3e}")
        lines.append("")
        lines.append("Bounds ‖δ^(l)‖ ≤ sup|f_l'| · ‖W^(l+1)‖₂ · ‖δ^(l+1)‖, per sample:")
        for l in self.layers[:-1]:
            b = self.slope_bounds[l - 1]
            worst = self.bound_ratio[:, l - 1]
            how = "no bound" if b.value is None else (
                f"largest ratio {np.nanmax(worst):.3g} over {E} epochs" if E else "not recorded")
            lines.append(f"  layer {l} ({self.activations[l - 1]}): sup|f'| = {b.exact}; {how}")
        lines.append(f"  the bound holds on every recorded epoch: {'yes' if self.bound_holds else 'NO'}")
        for what, units in (("dead", self.dead), ("saturated", self.saturated)):
            names = ", ".join(f"{u.text} (since epoch {u.since})" for u in units) or "none"
            lines.append(f"{what.capitalize()} units at the last epoch: {names}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON values (lists, floats, None for NaN, strings).

        Examples
        --------
        >>> import json, numpy as np, symbackprop as sbp
        >>> net = sbp.mlp([2, 3, 1], activation="sigmoid", loss="quadratic")
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0]]); Y = np.array([[1.0], [0.0]])
        >>> _, h = sbp.train(net, X, Y, epochs=2, gradient_flow=True, progress=False)
        >>> d = sbp.gradient_flow(h).to_dict()
        >>> sorted(d)[:5], len(json.dumps(d)) > 100
        (['activations', 'bound', 'bound_holds', 'bound_ratio', 'dead'], True)
        """

        def table(a: np.ndarray) -> list[list[float | None]]:
            return [[None if not math.isfinite(v) else float(v) for v in row] for row in a.tolist()]

        return {
            "sizes": list(self.sizes),
            "activations": list(self.activations),
            "epochs": list(self.epochs),
            "eval_rows": self.eval_rows,
            "n_rows": self.n_rows,
            "slope_bounds": [{"value": b.value, "exact": b.exact, "method": b.method} for b in self.slope_bounds],
            "loss": [None if not math.isfinite(v) else float(v) for v in self.loss.tolist()],
            "delta_norm": table(self.delta_norm),
            "grad_w_norm": table(self.grad_w_norm),
            "grad_b_norm": table(self.grad_b_norm),
            "weight_norm": table(self.weight_norm),
            "bound": table(self.bound),
            "bound_ratio": table(self.bound_ratio),
            "bound_holds": self.bound_holds,
            "max_slope": table(self.max_slope),
            "vanishing": [None if not math.isfinite(v) else float(v) for v in self.vanishing.tolist()],
            "dead": [u.to_dict() for u in self.dead],
            "saturated": [u.to_dict() for u in self.saturated],
            "definitions": {
                "delta_norm": "sqrt(mean over samples of ||delta_k^(l)||^2)",
                "grad_w_norm": "Frobenius norm of the batch-mean dJ/dW^(l)",
                "grad_b_norm": "Euclidean norm of the batch-mean dJ/db^(l)",
                "weight_norm": "spectral norm of W^(l)",
                "bound": "sup|f_l'| * ||W^(l+1)||_2 * delta_norm[l+1]",
                "bound_ratio": "max over samples of ||delta_k^(l)|| / (sup|f_l'| ||W^(l+1)||_2 ||delta_k^(l+1)||)",
                "saturated": f"|f'| < {SATURATED_SLOPE} sup|f'| on at least {SATURATED_SHARE:.0%} of samples",
                "dead": "f' = 0 on every evaluation sample",
                "max_slope": "largest |f_l'(z)| over the evaluation batch",
                "vanishing": "delta_norm of layer 1 / delta_norm of layer L",
            },
        }


def _units(rec: FlowRecording, key: str, test: Any) -> list[Unit]:
    """Units for which ``test(share)`` holds at the last epoch, with the epoch it began."""
    if not rec.records:
        return []
    out = []
    last = rec.records[-1][key]
    for l, shares in enumerate(last, start=1):
        if shares is None:
            continue
        for j, share in enumerate(shares, start=1):
            if not test(share, rec.records[-1], l, j):
                continue
            since = len(rec.records) - 1
            while since > 0 and rec.records[since - 1][key][l - 1] is not None and test(
                    rec.records[since - 1][key][l - 1][j - 1], rec.records[since - 1], l, j):
                since -= 1
            name = symbol_name("a", l, j)
            out.append(Unit(name, text_name(real_symbol(name)), l, j, float(share), rec.epochs[since]))
    return out


def gradient_flow(history: Any) -> GradientFlow:
    """The gradient-flow table of a training run recorded with ``train(..., gradient_flow=True)``.

    Parameters
    ----------
    history : History or FlowRecording
        The history :func:`symbackprop.train` returned (or its ``.gradient_flow``).

    Returns
    -------
    GradientFlow
        Per-layer δ and gradient norms per epoch, the bound each layer obeys and its
        check, and the dead and saturated units (see :mod:`symbackprop.flow`).

    Examples
    --------
    >>> import numpy as np, symbackprop as sbp
    >>> X, Y = sbp.datasets.moons(n=64, noise=0.1, seed=0)
    >>> net = sbp.mlp([2, 4, 4, 1], activation="sigmoid", loss="binary_cross_entropy")
    >>> _, history = sbp.train(net, X, Y, epochs=3, gradient_flow=True, progress=False)
    >>> flow = sbp.gradient_flow(history)
    >>> flow.delta_norm.shape, flow.bound_holds, flow.slope_bounds[0].exact
    ((3, 3), True, '1/4')
    >>> bool(flow.delta_norm[-1, 0] < flow.delta_norm[-1, 2])   # smaller on the way back
    True
    >>> sbp.gradient_flow(sbp.train(net, X, Y, epochs=1, progress=False)[1])
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: This history has no gradient-flow recording: train with sbp.train(..., gradient_flow=True).
    """
    rec = history if isinstance(history, FlowRecording) else getattr(history, "gradient_flow", None)
    if not isinstance(rec, FlowRecording):
        raise SpecError(
            "This history has no gradient-flow recording: train with sbp.train(..., gradient_flow=True)."
        )
    L = len(rec.sizes) - 1

    def table(key: str) -> np.ndarray:
        rows = [[math.nan if v is None else v for v in r[key]] for r in rec.records]
        return np.array(rows, dtype=np.float64).reshape(len(rows), L)

    delta, weight = table("delta_norm"), table("weight_norm")
    bound = np.full_like(delta, math.nan)
    for l in range(L - 1):
        s = rec.bounds[l].value
        if s is not None:
            # A run on its way to diverging has norms near the float range: their product is
            # inf there, which is still a true upper bound.
            with np.errstate(over="ignore"):
                bound[:, l] = s * weight[:, l + 1] * delta[:, l + 1]

    def is_dead(share: float, _r: dict, _l: int, _j: int) -> bool:
        return share == 1.0

    def is_saturated(share: float | None, r: dict, l: int, j: int) -> bool:
        small = r["small_share"][l - 1]
        return small is not None and share < 1.0 and small[j - 1] >= SATURATED_SHARE

    return GradientFlow(
        sizes=list(rec.sizes),
        activations=list(rec.activations),
        epochs=list(rec.epochs),
        eval_rows=rec.eval_rows,
        n_rows=rec.n_rows,
        slope_bounds=list(rec.bounds),
        loss=np.array([r["loss"] for r in rec.records], dtype=np.float64),
        delta_norm=delta,
        grad_w_norm=table("grad_w_norm"),
        grad_b_norm=table("grad_b_norm"),
        weight_norm=weight,
        bound=bound,
        bound_ratio=table("bound_ratio"),
        max_slope=table("max_slope"),
        dead=_units(rec, "zero_share", is_dead),
        saturated=_units(rec, "zero_share", is_saturated),
    )
