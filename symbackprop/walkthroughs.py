"""One step of gradient descent, walked through: every number beside its formula.

:func:`walkthrough` takes a network, its parameters, one sample (or a mini-batch) and a
learning rate η, and returns a :class:`Walkthrough` of one SGD step:

- the forward pass: every z, a and J, each with its definition and its value;
- the backward pass, from the output layer back: every δ = ∂J/∂z by the recursion
  :attr:`Network.deltas <symbackprop.network.Network.deltas>` gives, and every ∂J/∂w and
  ∂J/∂b in δ form (∂J/∂w⁽ˡ⁾ⱼₖ = δ⁽ˡ⁾ⱼ·a⁽ˡ⁻¹⁾ₖ), with values;
- for a mini-batch, each sample's gradients and their mean (the batch loss is the mean of
  the samples' losses, so its gradient is the mean of theirs);
- the update w⁺ = w − η·∂J/∂w of every parameter, all taken at the parameters before the
  step (so a hidden layer's δ uses the old output weights, as SGD does);
- the loss after the step.

The numbers come from the symbolic definitions, written in the stable forms of
:mod:`symbackprop.compiler.stable` (so that they stay finite and exact at extreme logits,
where e^800 overflows and 1 − σ(40) rounds to 0) and run over the batch by the numeric
evaluator (:func:`symbackprop.numeric.run`), not by the compiled model: the tests hold the
two against each other, and against the textbook definitions at high precision. A walkthrough is meant to be read, so networks of
more than :data:`MAX_PARAMS` parameters and batches of more than :data:`MAX_SAMPLES`
samples are refused unless the limits are raised.

Examples
--------
>>> import symbackprop as sbp
>>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
>>> w = sbp.walkthrough(net, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0], lr=1 / 32)
>>> w.loss, w.gradient, w.updated, w.loss_after
(15.125, {w1_1_1: 16.5, b1_1: 5.5}, {w1_1_1: 1.484375, b1_1: 0.328125}, 7.14892578125)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .errors import SpecError
from .notation import latex_name, parse_name, text_name, to_latex, to_str
from .printing import MATHML_CSS, Document, HtmlPrintable, Line, Section

if TYPE_CHECKING:  # pragma: no cover
    from .explorer import Explorer
    from .network import Network

__all__ = ["MAX_PARAMS", "MAX_SAMPLES", "SCHEMA", "StepWalkthrough", "Walkthrough", "walkthrough"]

#: A walkthrough lists every parameter (its gradient, its update) for every sample; past
#: this many parameters it stops being readable. ``max_params=`` raises the limit.
MAX_PARAMS = 80
#: Samples of a mini-batch walked through one by one; ``max_samples=`` raises the limit.
MAX_SAMPLES = 8
#: The name and version of :meth:`Walkthrough.to_dict`'s layout (docs/walkthrough.md).
SCHEMA = "symbackprop.walkthrough/1"
#: A weighted sum of at most this many inputs is also shown with its numbers plugged in.
PLUGGED_SUMMANDS = 8
#: Significant digits of the numbers shown (JSON keeps full float64 precision).
DIGITS = 6

_CSS = """
.sbp-walkthrough { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; }
.sbp-walkthrough pre.sbp-line { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: .88em; }
"""


# --------------------------------------------------------------------------- numbers
def _num(v: float) -> str:
    """A value as shown: ``DIGITS`` significant digits (a zero never shows a sign)."""
    return f"{v + 0.0 if v == 0 else v:.{DIGITS}g}"


def _factor(v: float, latex: bool = False) -> str:
    """A value as a factor of a product: negative ones in parentheses."""
    s = _num(v)
    if v < 0 or s.startswith("-"):
        return rf"\left({s}\right)" if latex else f"({s})"
    return s


def _sum(values: Sequence[float]) -> str:
    """``a + b - c``: a sum of values, each later negative one as a subtraction."""
    out = _num(values[0])
    for v in values[1:]:
        out += f" - {_num(-v)}" if v < 0 else f" + {_num(v)}"
    return out


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


# ------------------------------------------------------------------------------ data
def _as_rows(value: Any, name: str, n: int, what: str) -> np.ndarray:
    """``value`` as float64 rows of ``n`` columns (one sample may be given flat)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name} must be numbers: {exc}.") from None
    if arr.ndim == 1 and arr.shape[0] == n:
        arr = arr.reshape(1, n)
    elif arr.ndim == 1 and n == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] < 1:
        raise SpecError(f"{name} must hold {n} value(s) per sample, one per {what} of this network "
                        f"(shape ({n},) for one sample, (n_samples, {n}) for a batch); got shape {arr.shape}.")
    return arr


def _data(net: Network, X: Any, Y: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    from .domain import check_values

    if (x is not None or y is not None) and (X is not None or Y is not None):
        raise SpecError("Give one sample as x=..., y=... or a batch as X, Y; not both.")
    first, second, names = (x, y, ("x", "y")) if x is not None or y is not None else (X, Y, ("X", "Y"))
    if first is None or second is None:
        missing = names[0] if first is None else names[1]
        raise SpecError(f"walkthrough needs inputs and targets: {missing} is missing "
                        "(x=..., y=... for one sample, or X, Y for a mini-batch).")
    Xa = _as_rows(first, names[0], net.sizes[0], "input")
    Ya = _as_rows(second, names[1], net.sizes[-1], "output")
    if Xa.shape[0] != Ya.shape[0]:
        raise SpecError(f"{names[0]} has {Xa.shape[0]} sample(s) but {names[1]} has {Ya.shape[0]}; "
                        "give one row of targets per row of inputs.")
    check_values(net.loss, Xa, Ya)
    return Xa, Ya


def _check_lr(lr: Any) -> float:
    ok = isinstance(lr, (int, float, np.floating, np.integer)) and not isinstance(lr, bool)
    if not ok or not math.isfinite(float(lr)) or float(lr) <= 0:
        raise SpecError(f"lr must be a positive finite number (the learning rate η); got {lr!r}.")
    return float(lr)


def _check_size(net: Network, n_samples: int, max_params: int | None, max_samples: int | None) -> None:
    """Refuse, before any work, a walkthrough too long to read (naming the way out)."""
    sizes = "-".join(map(str, net.sizes))
    n = len(net.params)
    if max_params is not None and n > max_params:
        raise SpecError(
            f"A walkthrough of the {sizes} network would list {n:,} parameters, more than the "
            f"{max_params:,} that stay readable; pass max_params={n} (or None) to build it anyway, "
            "or walk through a smaller network."
        )
    if max_samples is not None and n_samples > max_samples:
        raise SpecError(
            f"A walkthrough of a batch of {n_samples:,} samples would show each one's forward and "
            f"backward pass, more than the {max_samples:,} that stay readable; pass "
            f"max_samples={n_samples} (or None) to build it anyway, or use a smaller batch."
        )


def _layer_of(p: sp.Symbol) -> tuple[int, int, int | None]:
    parsed = parse_name(p.name)
    j = parsed.index[0]
    k = parsed.index[1] if parsed.head == "w" else None
    return parsed.layer, j, k


# ------------------------------------------------------------------- the values
class _StablePrograms:
    """The programs that compute a walkthrough's values: the textbook definitions in the
    stable forms of :mod:`symbackprop.compiler.stable`, run by :func:`symbackprop.numeric.run`.

    The definitions as printed (σ(z) = 1/(1 + e^(−z)), softmax = e^(z_j)/Σ e^(z_k),
    J = −Σ y log a, σ' = a(1 − a)) overflow or cancel at extreme logits: e^800 is inf,
    log of a softmax output that rounded to 0 is −inf, 1 − a at a = σ(40) is 0 where it is
    e^(−40). So the values are taken from the same quantities written stably: every
    activation through :func:`~symbackprop.compiler.stable.stabilize`; softmax, its logs
    and 1 − a from the logits (:func:`~symbackprop.compiler.stable.softmax_parts`); J and
    δ^(L) in the logits (:func:`~symbackprop.compiler.plan.output_forms`, with a − y at a
    sigmoid or softmax output from the exact complement 1 − a, at a tanh output from
    1 ∓ a = 2σ(∓2z) in the output forms themselves); a hidden δ as
    f'(z)·Σ w·δ with f' in its stable z form
    (:func:`~symbackprop.compiler.plan.numeric_derivative`). This shares the compiler's
    rewrite into stable forms, not its model: no generated code, no arrays of layers.
    """

    def __init__(self, net: Network, grad_symbols: Mapping[sp.Symbol, sp.Symbol]):
        from .activations import A as A_SYM
        from .activations import Z as Z_SYM
        from .compiler.plan import numeric_derivative, output_forms
        from .compiler.stable import a_minus_y, sigmoid, stabilize

        bp, L = net.backprop, net.n_layers
        out_act = net.activations[-1]
        self.net = net
        self.softmax = not out_act.elementwise
        zL = [net.z(L, j) for j in range(1, net.sizes[L] + 1)]
        forward: list[tuple[sp.Symbol, sp.Expr]] = []
        for layer, act in enumerate(net.activations, start=1):
            f = stabilize(act.expr) if act.elementwise else None
            for j in range(1, net.sizes[layer] + 1):
                z = net.z(layer, j)
                forward.append((z, bp.definition(z)))
            for j in range(1, net.sizes[layer] + 1):
                if f is not None:
                    forward.append((net.a(layer, j), f.xreplace({Z_SYM: net.z(layer, j)})))
        self.forward = tuple(forward)
        J, deltas, meaning = output_forms(net)
        # a − y where a rounds to 1 is 0 in float64; from the exact complement c = 1 − a
        # (σ(−z), or softmax's own) it is (1 − y) − c: −e^(−40) at a = σ(40), y = 1.
        exact: dict[sp.Expr, sp.Expr] = {}
        for a, y, z in zip(net.outputs, net.targets, zL):
            if self.softmax:
                c: sp.Expr | None = sp.Symbol(f"c_{a.name}", real=True)
            else:
                c = sigmoid(-z) if stabilize(out_act.expr) == sigmoid(Z_SYM) else None
            if c is not None:
                exact[a - y] = a_minus_y(a, c, y)
                exact[y - a] = -a_minus_y(a, c, y)
        J, deltas = J.xreplace(exact), [d.xreplace(exact) for d in deltas]
        # The softmax arrays the output forms read: log a_j, log(1 − a_j), 1 − a_j.
        self.columns = {s: (s.name.partition("_")[0], net.outputs.index(e.free_symbols.pop()))
                        for s, e in meaning.items()}
        self.needs_l1m = any(kind == "log1m" for kind, _ in self.columns.values())
        backward: list[tuple[sp.Symbol, sp.Expr]] = [(net.J, J)]
        backward += [(net.delta(L, j), d) for j, d in enumerate(deltas, start=1)]
        for layer in range(L - 1, 0, -1):
            fprime = numeric_derivative(net.activations[layer - 1])
            for j in range(1, net.sizes[layer] + 1):
                back = sp.Add(*(net.w(layer + 1, k, j) * net.delta(layer + 1, k)
                                for k in range(1, net.sizes[layer + 1] + 1)))
                local = fprime.xreplace({Z_SYM: net.z(layer, j), A_SYM: net.a(layer, j)})
                backward.append((net.delta(layer, j), local * back))
        grads = [(grad_symbols[p], bp.adjoint[p.name]) for p in net.params]
        self.loss = ((net.J, J),)
        self.backward = (*backward, *grads)

    def run(self, leaves: dict[sp.Symbol, Any], backward: bool) -> dict[sp.Symbol, np.ndarray]:
        """Every value from the leaves (x, y, parameters as arrays over the batch): the
        forward pass and J; with ``backward`` also every δ and gradient."""
        from . import numeric
        from .compiler.stable import log1m_softmax, softmax_parts

        values = numeric.run(self.forward, leaves)
        if self.softmax:
            net = self.net
            Z = np.column_stack([values[net.z(net.n_layers, j)] for j in range(1, net.sizes[-1] + 1)])
            with np.errstate(all="ignore"):
                A, LSM, C, _ = softmax_parts(Z)
                arrays = {"A": A, "log": LSM, "c": C}
                if self.needs_l1m:
                    arrays["log1m"] = log1m_softmax(Z)
            values.update({a: A[:, j] for j, a in enumerate(net.outputs)})
            values.update({s: arrays[kind][:, j] for s, (kind, j) in self.columns.items()})
        return numeric.run(self.backward if backward else self.loss, values)


# ------------------------------------------------------------------------ the object
class StepWalkthrough(HtmlPrintable):
    """What a walkthrough of one SGD step is, whatever it steps: its batch, its formats
    (:class:`~symbackprop.printing.HtmlPrintable` over its ``document()``) and its JSON.

    :class:`Walkthrough` (a network) and
    :class:`~symbackprop.computation_walkthrough.ComputationWalkthrough` (a computation) say
    what the step is; the samples are the rows of ``X`` and ``Y``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity")
    >>> isinstance(sbp.walkthrough(net, net.init_params(0), x=[1.0], y=[0.0], lr=0.1), StepWalkthrough)
    True
    """

    X: np.ndarray
    Y: np.ndarray
    _html_class = "sbp-walkthrough"
    _html_css = MATHML_CSS + _CSS

    @property
    def batch_size(self) -> int:
        """Number of samples walked through.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> sbp.walkthrough(net, net.init_params(0), [[1.0], [2.0]], [[0.0], [1.0]], lr=0.1).batch_size
        2
        """
        return int(self.X.shape[0])

    def _sample_prefix(self, i: int) -> str:
        return f"Sample {i + 1} of {self.batch_size}: " if self.batch_size > 1 else ""

    def to_dict(self) -> dict:
        """The walkthrough as plain data (each class documents its layout)."""
        raise NotImplementedError(f"{type(self).__name__} must define to_dict()")

    def json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (strict JSON: a non-finite number is ``null``).

        Examples
        --------
        >>> import json, symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> text = sbp.walkthrough(net, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0], lr=0.1).json()
        >>> json.loads(text)["loss"]["before"]
        15.125
        """
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)


class Walkthrough(StepWalkthrough):
    """One SGD step on a network, every value beside its formula (built by :func:`walkthrough`).

    Attributes
    ----------
    net : Network
        The network.
    lr : float
        The learning rate η.
    X, Y : numpy.ndarray
        The samples, shapes (n, n_0) and (n, n_L); n = 1 for a single sample.
    params : dict[Symbol, float]
        The parameters before the step, in ``net.params`` order.
    values : list of dict[Symbol, float]
        Per sample: every x, y, parameter, z, a, δ and J.
    sample_gradients : list of dict[Symbol, float]
        Per sample: ∂J/∂p of that sample's loss, for every parameter.
    gradient : dict[Symbol, float]
        ∂J/∂p of the batch loss (the mean of the samples' gradients), in ``net.params`` order.
    updated : dict[Symbol, float]
        The parameters after the step, p − η·∂J/∂p.
    loss, loss_after : float
        The batch loss (mean of the samples' J) before and after the step.
    losses_after : list of float
        Each sample's J after the step.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity")
    >>> w = sbp.walkthrough(net, {"w1_1_1": 1.0, "b1_1": 0.0}, [[1.0], [2.0]], [[0.0], [0.0]], lr=0.1)
    >>> [g[net.w(1, 1, 1)] for g in w.sample_gradients], w.gradient[net.w(1, 1, 1)]
    ([1.0, 4.0], 2.5)

    It prints as Unicode text (``text()``, ``str()``), one LaTeX ``aligned`` block
    (``latex()``), Markdown (``markdown()``) and HTML in MathML (``html()``), all from
    :meth:`document`:

    >>> w = sbp.walkthrough(net, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0], lr=0.1)
    >>> print(w.text())  # doctest: +ELLIPSIS
    One step of gradient descent on the 1-1 network (identity; loss quadratic)
    at the sample x₁ = 3, y₁ = 1; learning rate η = 0.1
    ...
      z⁽¹⁾₁ = b⁽¹⁾₁ + w⁽¹⁾₁₁⋅x₁  ≈ 6.5
            = 0.5 + 2⋅3
    ...
      w⁽¹⁾₁₁⁺ = 2 - 0.1⋅16.5 = 0.35
    ...
    >>> print(w.latex())  # doctest: +ELLIPSIS
    \\begin{aligned}
    ...
    {w^{(1)}_{1 1}}^{+} &= 2 - 0.1 \\cdot 16.5 = 0.35 \\\\
    ...
    \\end{aligned}
    >>> print(w.markdown().splitlines()[0])
    ### One step of gradient descent on the 1-1 network (identity; loss quadratic)
    >>> w.html().startswith('<div class="sbp-walkthrough">'), w.html(page=True).startswith("<!DOCTYPE html>")
    (True, True)
    """

    def __init__(self, net: Network, params: Mapping[sp.Symbol, float], X: np.ndarray, Y: np.ndarray, lr: float):
        self.net = net
        self.lr = lr
        self.X, self.Y = X, Y
        self.params = dict(params)
        self._forward = self._forward_program()
        self._grad_symbols = {p: sp.Symbol(f"_grad_{p.name}") for p in net.params}
        self._stable = _StablePrograms(net, self._grad_symbols)
        out = self._run(self.params, backward=True)
        n = X.shape[0]
        keep = [*net.inputs, *net.targets, *net.params, *(s for s, _ in self._forward), *self.deltas_order()]
        self.values = [{s: float(out[s][i]) for s in keep} for i in range(n)]
        self.sample_gradients = [{p: float(out[g][i]) for p, g in self._grad_symbols.items()} for i in range(n)]
        # The batch loss is the mean of the samples' losses, so its gradient is the mean of theirs.
        self.gradient = {p: float(np.mean(out[g])) for p, g in self._grad_symbols.items()}
        self.updated = {p: self.params[p] - lr * self.gradient[p] for p in net.params}
        self.loss = float(np.mean(out[net.J]))
        after = self._run(self.updated, backward=False)
        self.losses_after = [float(v) for v in after[net.J]]
        self.loss_after = float(np.mean(after[net.J]))

    # ---------------------------------------------------------------- computing
    def _forward_program(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        net, bp = self.net, self.net.backprop
        steps = []
        for layer in range(1, net.n_layers + 1):
            for head in (net.z, net.a):
                for j in range(1, net.sizes[layer] + 1):
                    s = head(layer, j)
                    steps.append((s, bp.definition(s)))
        steps.append((net.J, bp.definition(net.J)))
        return steps

    def deltas_order(self) -> list[sp.Symbol]:
        """Every δ in the order the backward pass computes them: output layer first.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 2, 1], activation="tanh")
        >>> sbp.walkthrough(net, net.init_params(0), x=[1.0], y=[0.0], lr=0.1).deltas_order()
        [delta2_1, delta1_1, delta1_2]
        """
        net = self.net
        return [net.delta(layer, j) for layer in range(net.n_layers, 0, -1)
                for j in range(1, net.sizes[layer] + 1)]

    def _run(self, params: Mapping[sp.Symbol, float], backward: bool) -> dict[sp.Symbol, np.ndarray]:
        net, n = self.net, self.X.shape[0]
        leaves: dict[sp.Symbol, Any] = {p: np.full(n, params[p]) for p in net.params}
        leaves.update({s: self.X[:, k] for k, s in enumerate(net.inputs)})
        leaves.update({s: self.Y[:, j] for j, s in enumerate(net.targets)})
        return self._stable.run(leaves, backward)

    # ---------------------------------------------------------------- document
    def _parameter_lines(self, params: Mapping[sp.Symbol, float]) -> tuple[Line, ...]:
        """One line per neuron: its incoming weights and its bias."""
        net, lines = self.net, []
        for layer in range(1, net.n_layers + 1):
            for j in range(1, net.sizes[layer] + 1):
                syms = [*(net.w(layer, j, k) for k in range(1, net.sizes[layer - 1] + 1)), net.b(layer, j)]
                lines.append(Line(
                    ", ".join(f"{text_name(s)} = {_num(params[s])}" for s in syms),
                    r",\quad ".join(f"{latex_name(s)} = {_num(params[s])}" for s in syms),
                ))
        return tuple(lines)

    def _plugged(self, lhs: str, expr: sp.Expr, v: Mapping[sp.Symbol, float]) -> Line | None:
        """``= 0.35 + 0.15⋅0.05 + ...``: a sum of products of symbols with their numbers in,
        in the order the formula is printed; None for any other shape, or a sum too long."""
        terms = expr.as_ordered_terms()
        if len(terms) > PLUGGED_SUMMANDS + 1:
            return None
        text, latex = [], []
        for term in terms:
            factors = term.as_ordered_factors()
            if not all(f in v for f in factors):
                return None
            text.append("⋅".join(_factor(v[f]) for f in factors))
            latex.append(r" \cdot ".join(_factor(v[f], True) for f in factors))
        if len(terms) == 1 and len(factors) == 1:
            return None  # the value says it all
        return Line(" " * len(lhs) + " = " + " + ".join(text), "&= " + " + ".join(latex))

    def _forward_section(self, i: int) -> Section:
        net, bp, v = self.net, self.net.backprop, self.values[i]
        lines: list[Line] = []
        for layer in range(1, net.n_layers + 1):
            for j in range(1, net.sizes[layer] + 1):
                z = net.z(layer, j)
                lines.append(Line(text_name(z), latex_name(z), bp.definition(z), v[z] + 0.0))
                plugged = self._plugged(text_name(z), bp.definition(z), v)
                if plugged is not None:
                    lines.append(plugged)
            for j in range(1, net.sizes[layer] + 1):
                a = net.a(layer, j)
                lines.append(Line(text_name(a), latex_name(a), bp.definition(a), v[a] + 0.0))
        lines.append(Line("J", "J", bp.definition(net.J), v[net.J] + 0.0))
        return Section(f"{self._sample_prefix(i)}Forward pass (z = Σ w·a + b, a = f(z), then the loss J)",
                       tuple(lines))

    def _backward_sections(self, i: int) -> list[Section]:
        net, bp, v, g = self.net, self.net.backprop, self.values[i], self.sample_gradients[i]
        out = []
        for layer in range(net.n_layers, 0, -1):
            lines: list[Line] = []
            for j in range(1, net.sizes[layer] + 1):
                d = net.delta(layer, j)
                lines.append(Line(text_name(d), latex_name(d), bp.delta[d], v[d] + 0.0))
            for p in net.params:
                if _layer_of(p)[0] != layer:
                    continue
                form = bp.adjoint[p.name]
                lhs_text, lhs_latex = f"∂J/∂{text_name(p)}", rf"\frac{{\partial J}}{{\partial {latex_name(p)}}}"
                lines.append(Line(lhs_text, lhs_latex, form, g[p] + 0.0))  # + 0.0: no -0
                plugged = self._plugged(lhs_text, form, v)
                if plugged is not None:
                    lines.append(plugged)
            where = "output layer" if layer == net.n_layers else "hidden layer"
            note = ""
            assumed = [d for d in bp.assumed if parse_name(d.name).layer == layer]
            if assumed:
                from .backprop import SUM_TO_ONE

                note = (f"{SUM_TO_ONE[0].upper()}{SUM_TO_ONE[1:]}, each output δ is the textbook "
                        "aⱼ - yⱼ; the lines above hold for any targets.")
            out.append(Section(
                f"{self._sample_prefix(i)}Backward pass, layer {layer} ({where}): "
                "δ = ∂J/∂z, then ∂J/∂w = δ·(the weight's input) and ∂J/∂b = δ",
                tuple(lines), note=note,
            ))
        return out

    def _mean_section(self) -> Section:
        n, lines = self.batch_size, []
        for p in self.net.params:
            lhs = f"∂J/∂{text_name(p)}"
            terms = [g[p] for g in self.sample_gradients]
            text_sum = latex_sum = _sum(terms)
            lines.append(Line(
                f"{lhs} = ({text_sum})/{n} = {_num(self.gradient[p])}",
                rf"\frac{{\partial J}}{{\partial {latex_name(p)}}} &= \frac{{1}}{{{n}}}\left({latex_sum}\right) "
                rf"= {_num(self.gradient[p])}",
            ))
        return Section(
            f"Gradient of the batch loss J = (1/{n})·Σₛ Jₛ: the mean of the {n} samples' gradients",
            tuple(lines),
            latex_title=rf"\textbf{{Gradient of the batch loss }} J = \frac{{1}}{{{n}}} \sum_s J_s"
                        rf"\textbf{{: the mean of the {n} samples' gradients}}",
        )

    def _update_section(self) -> Section:
        eta, lines = self.lr, []
        for p in self.net.params:
            g, new = self.gradient[p], self.updated[p]
            lines.append(Line(
                f"{text_name(p)}⁺ = {_num(self.params[p])} - {_num(eta)}⋅{_factor(g)} = {_num(new)}",
                rf"{{{latex_name(p)}}}^{{+}} &= {_num(self.params[p])} - {_num(eta)} \cdot {_factor(g, True)} "
                rf"= {_num(new)}",
            ))
        return Section(
            f"Update: p⁺ = p - η⋅∂J/∂p for every parameter, η = {_num(eta)}",
            tuple(lines),
            note="Every gradient was taken at the parameters before the step, so the hidden "
            "layers' δ used the old output weights; all parameters change at once.",
            latex_title=rf"\textbf{{Update: }} p^{{+}} = p - \eta \frac{{\partial J}}{{\partial p}}"
                        rf"\textbf{{ for every parameter, }} \eta = {_num(eta)}",
        )

    def _loss_section(self) -> Section:
        n = self.batch_size
        lines = []
        if n > 1:
            for i in range(n):
                lines.append(Line(
                    f"J{_sub(i + 1)} = {_num(self.values[i][self.net.J])}  →  {_num(self.losses_after[i])}",
                    rf"J_{{{i + 1}}} &= {_num(self.values[i][self.net.J])} \;\to\; {_num(self.losses_after[i])}",
                ))
        change = self.loss_after - self.loss
        what = "J" if n == 1 else f"J = (1/{n})·Σₛ Jₛ"
        what_latex = "J" if n == 1 else rf"J = \frac{{1}}{{{n}}} \sum_s J_s"
        lines.append(Line(
            f"{what} = {_num(self.loss)}  →  {_num(self.loss_after)}  (change {_num(change)})",
            rf"{what_latex} &= {_num(self.loss)} \;\to\; {_num(self.loss_after)} \quad "
            rf"\text{{(change {_num(change)})}}",
        ))
        return Section("Loss before → after the step", tuple(lines))

    def document(self) -> Document:
        """The walkthrough as a :class:`~symbackprop.printing.Document` (what every format prints).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> w = sbp.walkthrough(net, {"w1_1_1": 1.0, "b1_1": 0.0}, x=[1.0], y=[0.0], lr=0.1)
        >>> [s.title.split(" (")[0].split(":")[0] for s in w.document().sections]
        ['Parameters before the step', 'Forward pass', 'Backward pass, layer 1', 'Update', 'Loss before → after the step']
        """
        net = self.net
        sections = [Section("Parameters before the step", self._parameter_lines(self.params))]
        for i in range(self.batch_size):
            sections.append(self._forward_section(i))
            sections.extend(self._backward_sections(i))
        if self.batch_size > 1:
            sections.append(self._mean_section())
        sections.append(self._update_section())
        sections.append(self._loss_section())
        samples = [
            (", ".join(f"{text_name(s)} = {_num(val)}" for s, val in zip((*net.inputs, *net.targets), (*xr, *yr))),
             r",\quad ".join(f"{latex_name(s)} = {_num(val)}" for s, val in zip((*net.inputs, *net.targets), (*xr, *yr))))
            for xr, yr in zip(self.X, self.Y)
        ]
        if self.batch_size == 1:
            where = f"at the sample {samples[0][0]}"
        else:
            where = f"on the batch of {self.batch_size} samples below"
            sections.insert(0, Section("The batch", tuple(
                Line(f"sample {i}: {text}", rf"\text{{sample {i}: }} {latex}")
                for i, (text, latex) in enumerate(samples, start=1)
            )))
        return Document(
            f"One step of gradient descent on the {net.describe()}",
            tuple(sections),
            subtitle=f"{where}; learning rate η = {_num(self.lr)}",
        )

    # ---------------------------------------------------------------- printers
    def explore(self) -> Explorer:
        """The interactive explorer page (:func:`~symbackprop.explore`) of this step: the
        network, every derivation, and the step's forward, backward and update to click
        through. It walks through one sample, the first of a mini-batch.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> w = sbp.walkthrough(net, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0], lr=0.1)
        >>> w.explore().html().startswith("<!DOCTYPE html>")
        True
        """
        from .explorer import explore

        return explore(self.net, self.params, x=list(self.X[0]), y=list(self.Y[0]), lr=self.lr)

    def _repr_html_(self) -> str:
        # Jupyter shows the interactive page of a one-sample step (the explorer's iframe);
        # a mini-batch, or a network too big for the explorer, shows the typeset walkthrough.
        from .errors import SymbackpropError

        if self.batch_size == 1:
            try:
                return self.explore()._repr_html_()
            except SymbackpropError:
                pass
        return self.html()

    def __repr__(self) -> str:
        n = f"{self.batch_size} samples" if self.batch_size > 1 else "one sample"
        return (f"<Walkthrough of one SGD step on the {self.net.describe()}, {n}, η = {_num(self.lr)}: "
                f"J {_num(self.loss)} -> {_num(self.loss_after)}>")

    # ------------------------------------------------------------------- data
    def to_dict(self) -> dict:
        """The walkthrough as plain data (the layout :data:`SCHEMA`, described in docs/walkthrough.md).

        Every number is a float64 at full precision, or None where it is not finite.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> net = sbp.mlp([1, 1], activation="identity")
        >>> d = sbp.walkthrough(net, {"w1_1_1": 2.0, "b1_1": 0.5}, x=[3.0], y=[1.0], lr=1 / 32).to_dict()
        >>> d["schema"], [n["name"] for n in d["nodes"]]
        ('symbackprop.walkthrough/1', ['z1_1', 'a1_1', 'J', 'delta1_1'])
        >>> p = d["parameters"][0]
        >>> p["name"], p["value"], p["gradient"]["value"], p["updated"]
        ('w1_1_1', 2.0, 16.5, 1.484375)
        """
        net, bp, n = self.net, self.net.backprop, self.batch_size

        def values(s: sp.Symbol) -> list[float | None]:
            return [_finite_or_none(v[s]) for v in self.values]

        def node(s: sp.Symbol, kind: str, formula: sp.Expr, layer: int | None, index: int | None) -> dict:
            vals = values(s)
            out = {
                "name": s.name, "kind": kind, "layer": layer, "index": index,
                "text": text_name(s), "latex": latex_name(s),
                "formula": to_str(formula), "formula_latex": to_latex(formula),
                "value": vals[0] if n == 1 else None, "values": vals,
            }
            if s in bp.assumed:
                out["textbook_formula"] = to_str(bp.assumed[s])
                out["textbook_formula_latex"] = to_latex(bp.assumed[s])
            return out

        nodes = []
        for s, formula in self._forward:
            parsed = parse_name(s.name)
            kind = "loss" if s == net.J else parsed.head
            nodes.append(node(s, kind, formula, parsed.layer if kind != "loss" else None,
                              parsed.index[0] if kind != "loss" else None))
        for d in self.deltas_order():
            parsed = parse_name(d.name)
            nodes.append(node(d, "delta", bp.delta[d], parsed.layer, parsed.index[0]))
        parameters = []
        for p in net.params:
            layer, j, k = _layer_of(p)
            form = bp.adjoint[p.name]
            g = self.gradient[p]
            parameters.append({
                "name": p.name, "kind": "weight" if k is not None else "bias", "layer": layer,
                "index": [j, k] if k is not None else [j],
                "text": text_name(p), "latex": latex_name(p),
                "value": _finite_or_none(self.params[p]),
                "gradient": {
                    "formula": to_str(form), "formula_latex": to_latex(form),
                    "latex": rf"\frac{{\partial J}}{{\partial {latex_name(p)}}}",
                    "value": _finite_or_none(g),
                    "per_sample": [_finite_or_none(s[p]) for s in self.sample_gradients],
                },
                "updated": _finite_or_none(self.updated[p]),
                "update_latex": rf"{{{latex_name(p)}}}^{{+}} = {latex_name(p)} - \eta "
                                rf"\frac{{\partial J}}{{\partial {latex_name(p)}}}",
            })
        return {
            "schema": SCHEMA,
            "network": {
                "sizes": list(net.sizes), "activations": [a.name for a in net.activations],
                "loss": net.loss.name, "describe": net.describe(),
            },
            "lr": self.lr,
            "batch_size": n,
            "samples": [
                {"x": [float(v) for v in xr], "y": [float(v) for v in yr]} for xr, yr in zip(self.X, self.Y)
            ],
            "inputs": [{"name": s.name, "text": text_name(s), "latex": latex_name(s)} for s in net.inputs],
            "targets": [{"name": s.name, "text": text_name(s), "latex": latex_name(s)} for s in net.targets],
            "nodes": nodes,
            "parameters": parameters,
            "loss": {
                "formula": to_str(bp.definition(net.J)), "formula_latex": to_latex(bp.definition(net.J)),
                "batch_rule": "mean", "before": _finite_or_none(self.loss), "after": _finite_or_none(self.loss_after),
                "per_sample_before": values(net.J),
                "per_sample_after": [_finite_or_none(v) for v in self.losses_after],
            },
        }


_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sub(i: int) -> str:
    return str(i).translate(_SUBSCRIPT)


def walkthrough(
    net: Network,
    params: Mapping[sp.Symbol | str, float] | Sequence,
    X: Any = None,
    Y: Any = None,
    *,
    x: Sequence[float] | None = None,
    y: Sequence[float] | None = None,
    lr: float,
    max_params: int | None = MAX_PARAMS,
    max_samples: int | None = MAX_SAMPLES,
) -> Walkthrough:
    """One step of gradient descent on ``net``, walked through with every formula and value.

    Parameters
    ----------
    net : Network
        The network (:func:`~symbackprop.mlp`).
    params : mapping or list of (W, b)
        Every parameter's value before the step (``{"w1_1_1": 0.15, ...}``), as
        :meth:`CompiledModel.predict <symbackprop.compiler.CompiledModel.predict>` takes them.
    X, Y : array_like, optional
        A mini-batch: inputs (n, n_0) and targets (n, n_L). A single row walks through one sample.
    x, y : sequence of float, optional
        One sample (instead of X, Y): its inputs and its targets.
    lr : float
        The learning rate η > 0.
    max_params, max_samples : int or None
        Refuse, before any work, a network of more parameters or a batch of more samples
        (default :data:`MAX_PARAMS` and :data:`MAX_SAMPLES`: past them it is no longer
        readable); None for no limit.

    Returns
    -------
    Walkthrough

    Examples
    --------
    The classic 2-2-2 example (Matt Mazur, "A Step by Step Backpropagation Example"):

    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    >>> params = {"w1_1_1": .15, "w1_1_2": .20, "w1_2_1": .25, "w1_2_2": .30, "b1_1": .35, "b1_2": .35,
    ...           "w2_1_1": .40, "w2_1_2": .45, "w2_2_1": .50, "w2_2_2": .55, "b2_1": .60, "b2_2": .60}
    >>> w = sbp.walkthrough(net, params, x=[0.05, 0.10], y=[0.01, 0.99], lr=0.5)
    >>> round(w.loss, 9), round(w.gradient[net.w(2, 1, 1)], 9), round(w.updated[net.w(2, 1, 1)], 8)
    (0.298371109, 0.082167041, 0.35891648)
    >>> sbp.walkthrough(sbp.mlp([4, 8, 8, 3]), sbp.mlp([4, 8, 8, 3]).init_params(0), x=[0] * 4, y=[0] * 3, lr=0.1)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: A walkthrough of the 4-8-8-3 network would list 139 parameters, more than the 80 that stay readable; pass max_params=139 (or None) to build it anyway, or walk through a smaller network.
    """
    if hasattr(net, "definitions"):  # a Computation: symbackprop.computation_walkthrough
        from .computation_walkthrough import computation_walkthrough
        return computation_walkthrough(net, params, X, Y, x=x, y=y, lr=lr, max_params=max_params, max_samples=max_samples)
    from .network import Network
    from .params import to_arrays, to_mapping

    if not isinstance(net, Network):
        raise SpecError(f"walkthrough needs a Network (sbp.mlp(...)); got {type(net).__name__}.")
    Xa, Ya = _data(net, X, Y, x, y)
    rate = _check_lr(lr)
    _check_size(net, Xa.shape[0], max_params, max_samples)
    values = to_mapping(net, to_arrays(net, params))
    bad = [p.name for p in net.params if not math.isfinite(values[p])]
    if bad:
        raise SpecError(f"Parameter values must be finite numbers; {', '.join(bad[:5])} "
                        f"{'is' if len(bad) == 1 else 'are'} not.")
    return Walkthrough(net, {p: float(values[p]) for p in net.params}, Xa, Ya, rate)
