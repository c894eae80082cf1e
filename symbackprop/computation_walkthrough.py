"""One step of gradient descent on a computation, walked through: every number beside its formula.

The computation's counterpart of :mod:`symbackprop.walkthroughs` (which walks an MLP
through a step); :func:`symbackprop.walkthrough` dispatches here when given a
:class:`~symbackprop.computations.Computation`. For one sample (or each sample of a
mini-batch):

- the forward pass: every definition, in order, with its value;
- the backward pass, from the loss back: every adjoint δ_v = ∂J/∂v (the sum over the
  definitions c that use v of δ_c·∂c/∂v), then every parameter's ∂J/∂p in the δ of the
  nodes that use it (a shared parameter: one term per use), with values;
- for a mini-batch, the mean of the samples' gradients;
- the update p⁺ = p − η·∂J/∂p of every parameter, all at the parameters before the step;
- the loss after the step.

The numbers come from the definitions as written and the adjoint recursion, run over the
batch by the numeric evaluator (:func:`symbackprop.numeric.run`), not from the compiled
model: the tests hold the two against each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from .errors import SpecError
from .notation import to_latex, to_str, to_text
from .printing import Document, Line, Section
from .walkthroughs import (
    MAX_PARAMS,
    MAX_SAMPLES,
    StepWalkthrough,
    _check_lr,
    _factor,
    _finite_or_none,
    _num,
    _sub,
    _sum,
)

if TYPE_CHECKING:  # pragma: no cover
    from .computations import Computation

__all__ = ["ComputationWalkthrough", "computation_walkthrough", "SCHEMA"]

#: The name and version of :meth:`ComputationWalkthrough.to_dict`'s layout.
SCHEMA = "symbackprop.computation-walkthrough/1"
#: Parameters per line of the "Parameters before the step" section.
PER_LINE = 4


def _grad_name(J: sp.Symbol, p: sp.Symbol) -> tuple[str, str]:
    return f"∂{to_text(J)}/∂{to_text(p)}", rf"\frac{{\partial {to_latex(J)}}}{{\partial {to_latex(p)}}}"


class ComputationWalkthrough(StepWalkthrough):
    """One SGD step on a computation, every value beside its formula (see :func:`computation_walkthrough`).

    Attributes
    ----------
    computation : Computation
    lr : float
        The learning rate η.
    X, Y : numpy.ndarray
        The samples: inputs (n, n_inputs) and targets (n, n_targets), columns in declared order.
    params : dict[Symbol, float]
        The parameters before the step, in ``g.params`` order.
    values : list of dict[Symbol, float]
        Per sample: every leaf, defined node, adjoint δ_v and the loss.
    sample_gradients : list of dict[Symbol, float]
        Per sample: ∂J/∂p for every parameter.
    gradient, updated : dict[Symbol, float]
        ∂J/∂p of the batch loss (the mean of the samples'), and p − η·∂J/∂p.
    loss, loss_after : float
        The batch loss (mean of the samples' J) before and after the step.
    losses_after : list of float
        Each sample's J after the step.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = sbp.computation("u = w*x\\nJ = (u - y)**2/2", params="w", inputs="x", targets="y")
    >>> w = sbp.walkthrough(g, {"w": 2.0}, x=[3.0], y=[1.0], lr=0.01)
    >>> w.loss, w.gradient, w.updated
    (12.5, {w: 15.0}, {w: 1.85})

    It prints as :class:`~symbackprop.walkthroughs.Walkthrough` does (``text()``, ``latex()``,
    ``markdown()``, ``html()``, ``json()``), from :meth:`document`:

    >>> print(w.text())  # doctest: +ELLIPSIS
    One step of gradient descent on the computation J (2 definition(s); params w)
    at the sample x = 3, y = 1; learning rate η = 0.01
    ...
      u = w⋅x  ≈ 6
    ...
      δᵤ = u - y  ≈ 5
      ∂J/∂w = δᵤ⋅x  ≈ 15
    ...
      w⁺ = 2 - 0.01⋅15 = 1.85
    ...
    """

    def __init__(self, g: Computation, params: Mapping[sp.Symbol, float], X: np.ndarray, Y: np.ndarray, lr: float):
        from .computations import realize

        self.computation, self.lr, self.X, self.Y = g, lr, X, Y
        self.params = dict(params)
        self._forward = [(s, e) for s, e in g.definitions]
        self._backward = [(d, realize(e)) for d, e in g.deltas.items()]
        self._grad_symbols = {p: sp.Symbol(f"_grad_{p.name}") for p in g.params}
        grads = [(self._grad_symbols[p], realize(g.adjoints[p.name])) for p in g.params]
        out = self._run([*self._forward, *self._backward, *grads], self.params)
        n = X.shape[0]
        keep = [*g.inputs, *g.targets, *g.params, *(s for s, _ in self._forward), *(d for d, _ in self._backward)]
        self.values = [{s: float(out[s][i]) for s in keep} for i in range(n)]
        self.sample_gradients = [{p: float(out[s][i]) for p, s in self._grad_symbols.items()} for i in range(n)]
        self.gradient = {p: float(np.mean(out[s])) for p, s in self._grad_symbols.items()}
        self.updated = {p: self.params[p] - lr * self.gradient[p] for p in g.params}
        self.loss = float(np.mean(out[g.loss]))
        after = self._run(self._forward, self.updated)
        self.losses_after = [float(v) for v in after[g.loss]]
        self.loss_after = float(np.mean(after[g.loss]))

    def _run(self, program: list, params: Mapping[sp.Symbol, float]) -> dict[sp.Symbol, np.ndarray]:
        from . import numeric

        g, n = self.computation, self.X.shape[0]
        leaves: dict[sp.Symbol, Any] = {p: np.full(n, params[p]) for p in g.params}
        leaves.update({s: self.X[:, k] for k, s in enumerate(g.inputs)})
        leaves.update({s: self.Y[:, j] for j, s in enumerate(g.targets)})
        return numeric.run(program, leaves)

    # ---------------------------------------------------------------- document
    def _parameter_lines(self) -> tuple[Line, ...]:
        ps = list(self.computation.params)
        chunks = [ps[i:i + PER_LINE] for i in range(0, len(ps), PER_LINE)]
        return tuple(Line(", ".join(f"{to_text(p)} = {_num(self.params[p])}" for p in chunk),
                          r",\quad ".join(f"{to_latex(p)} = {_num(self.params[p])}" for p in chunk))
                     for chunk in chunks)

    def _forward_section(self, i: int) -> Section:
        g, v = self.computation, self.values[i]
        lines = tuple(Line(to_text(s), to_latex(s), g.graph.nodes[s.name]["shown"], v[s] + 0.0)
                      for s, _ in g.definitions)
        return Section(f"{self._sample_prefix(i)}Forward pass (each definition in order; the last is the loss)", lines)

    def _backward_section(self, i: int) -> Section:
        g, v, grads = self.computation, self.values[i], self.sample_gradients[i]
        lines = [Line(to_text(d), to_latex(d), e, v[d] + 0.0) for d, e in g.deltas.items()]
        for p in g.params:
            text, latex = _grad_name(g.loss, p)
            lines.append(Line(text, latex, g.adjoints[p.name], grads[p] + 0.0))  # + 0.0: no -0
        J = to_text(g.loss)
        return Section(
            f"{self._sample_prefix(i)}Backward pass, from {J} back: δ_v = ∂{J}/∂v = Σ over the uses c of v "
            f"of δ_c⋅∂c/∂v, then ∂{J}/∂p the same way for every parameter",
            tuple(lines),
        )

    def _mean_section(self) -> Section:
        g, n, lines = self.computation, self.batch_size, []
        for p in g.params:
            text, latex = _grad_name(g.loss, p)
            terms = _sum([s[p] for s in self.sample_gradients])
            lines.append(Line(f"{text} = ({terms})/{n} = {_num(self.gradient[p])}",
                              rf"{latex} &= \frac{{1}}{{{n}}}\left({terms}\right) = {_num(self.gradient[p])}"))
        return Section(f"Gradient of the batch loss (1/{n})·Σₛ Jₛ: the mean of the {n} samples' gradients",
                       tuple(lines))

    def _update_section(self) -> Section:
        eta, lines = self.lr, []
        for p in self.computation.params:
            grad, new = self.gradient[p], self.updated[p]
            lines.append(Line(
                f"{to_text(p)}⁺ = {_num(self.params[p])} - {_num(eta)}⋅{_factor(grad)} = {_num(new)}",
                rf"{{{to_latex(p)}}}^{{+}} &= {_num(self.params[p])} - {_num(eta)} \cdot {_factor(grad, True)} "
                rf"= {_num(new)}",
            ))
        return Section(f"Update: p⁺ = p - η⋅∂J/∂p for every parameter, η = {_num(eta)}", tuple(lines),
                       note="Every gradient was taken at the parameters before the step; all "
                       "parameters change at once.")

    def _loss_section(self) -> Section:
        J, n, lines = self.computation.loss, self.batch_size, []
        if n > 1:
            for i in range(n):
                lines.append(Line(f"{to_text(J)}{_sub(i + 1)} = {_num(self.values[i][J])}  →  {_num(self.losses_after[i])}",
                                  rf"{to_latex(J)}_{{{i + 1}}} &= {_num(self.values[i][J])} \;\to\; "
                                  rf"{_num(self.losses_after[i])}"))
        change = self.loss_after - self.loss
        lines.append(Line(f"{to_text(J)} = {_num(self.loss)}  →  {_num(self.loss_after)}  (change {_num(change)})",
                          rf"{to_latex(J)} &= {_num(self.loss)} \;\to\; {_num(self.loss_after)} \quad "
                          rf"\text{{(change {_num(change)})}}"))
        return Section("Loss before → after the step", tuple(lines))

    def _sample(self, i: int) -> tuple[str, str]:
        g = self.computation
        pairs = list(zip((*g.inputs, *g.targets), (*self.X[i], *self.Y[i])))
        return (", ".join(f"{to_text(s)} = {_num(v)}" for s, v in pairs),
                r",\quad ".join(f"{to_latex(s)} = {_num(v)}" for s, v in pairs))

    def document(self) -> Document:
        """The walkthrough as a :class:`~symbackprop.printing.Document` (what every format prints).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> g = sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
        >>> w = sbp.walkthrough(g, {"w": 1.0}, x=[1.0], y=[0.0], lr=0.1)
        >>> [s.title.split(" (")[0].split(",")[0] for s in w.document().sections]
        ['Parameters before the step', 'Forward pass', 'Backward pass', 'Update: p⁺ = p - η⋅∂J/∂p for every parameter', 'Loss before → after the step']
        """
        sections = [Section("Parameters before the step", self._parameter_lines())]
        for i in range(self.batch_size):
            sections += [self._forward_section(i), self._backward_section(i)]
        if self.batch_size > 1:
            sections.append(self._mean_section())
            sections.insert(0, Section("The batch", tuple(
                Line(f"sample {i + 1}: {t}", rf"\text{{sample {i + 1}: }} {tex}")
                for i, (t, tex) in enumerate(self._sample(i) for i in range(self.batch_size)))))
            where = f"on the batch of {self.batch_size} samples below"
        else:
            where = f"at the sample {self._sample(0)[0]}" if self._sample(0)[0] else "(no inputs or targets)"
        sections += [self._update_section(), self._loss_section()]
        return Document(f"One step of gradient descent on the {self.computation.describe()}", tuple(sections),
                        subtitle=f"{where}; learning rate η = {_num(self.lr)}")

    def __repr__(self) -> str:
        n = f"{self.batch_size} samples" if self.batch_size > 1 else "one sample"
        return (f"<ComputationWalkthrough of one SGD step on the {self.computation.describe()}, {n}, "
                f"η = {_num(self.lr)}: J {_num(self.loss)} -> {_num(self.loss_after)}>")

    def to_dict(self) -> dict:
        """The walkthrough as plain data (layout :data:`SCHEMA`): full float64 numbers, None
        where not finite.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> g = sbp.computation("u = w*x\\nJ = (u - y)**2/2", params="w", inputs="x", targets="y")
        >>> d = sbp.walkthrough(g, {"w": 2.0}, x=[3.0], y=[1.0], lr=0.01).to_dict()
        >>> d["schema"], [(n["name"], n["kind"], n["value"]) for n in d["nodes"]]
        ('symbackprop.computation-walkthrough/1', [('u', 'node', 6.0), ('J', 'loss', 12.5), ('delta_u', 'adjoint', 5.0)])
        """
        g, n = self.computation, self.batch_size

        def node(s: sp.Symbol, kind: str, formula: sp.Expr) -> dict:
            vals = [_finite_or_none(v[s]) for v in self.values]
            return {"name": s.name, "kind": kind, "text": to_text(s), "latex": to_latex(s),
                    "formula": to_str(formula), "formula_latex": to_latex(formula),
                    "value": vals[0] if n == 1 else None, "values": vals}

        nodes = [node(s, "loss" if s == g.loss else "node", g.graph.nodes[s.name]["shown"]) for s, _ in g.definitions]
        nodes += [node(d, "adjoint", e) for d, e in g.deltas.items()]
        parameters = [{
            "name": p.name, "text": to_text(p), "latex": to_latex(p), "value": _finite_or_none(self.params[p]),
            "gradient": {"formula": to_str(g.adjoints[p.name]), "formula_latex": to_latex(g.adjoints[p.name]),
                         "value": _finite_or_none(self.gradient[p]),
                         "per_sample": [_finite_or_none(s[p]) for s in self.sample_gradients]},
            "updated": _finite_or_none(self.updated[p]),
        } for p in g.params]
        return {
            "schema": SCHEMA,
            "computation": {"source": g.source(), "describe": g.describe(),
                            "params": [p.name for p in g.params], "inputs": [s.name for s in g.inputs],
                            "targets": [s.name for s in g.targets], "loss": g.loss.name},
            "lr": self.lr, "batch_size": n,
            "samples": [{"x": [float(v) for v in xr], "y": [float(v) for v in yr]} for xr, yr in zip(self.X, self.Y)],
            "nodes": nodes, "parameters": parameters,
            "loss": {"before": _finite_or_none(self.loss), "after": _finite_or_none(self.loss_after),
                     "per_sample_before": [_finite_or_none(v[g.loss]) for v in self.values],
                     "per_sample_after": [_finite_or_none(v) for v in self.losses_after]},
        }


def _rows(value: Any, names: Sequence[sp.Symbol], what: str, flag: str, single: bool) -> np.ndarray:
    """One sample (a sequence, or a mapping by name) or a batch, as float64 rows."""
    n = len(names)
    if isinstance(value, Mapping):
        given = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in value.items()}
        wrong = sorted(set(given) - {s.name for s in names})
        missing = [s.name for s in names if s.name not in given]
        if wrong or missing:
            raise SpecError(f"{flag} by name must give exactly the {what} ({', '.join(s.name for s in names) or 'none'}); "
                            + (f"unknown: {', '.join(wrong)}" if wrong else f"missing: {', '.join(missing)}") + ".")
        value = [given[s.name] for s in names]
    try:
        arr = np.asarray(value if value is not None else [], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{flag} must be numbers: {exc}.") from None
    if single and arr.shape != (n,):  # x=, y=: one sample, n numbers
        raise SpecError(f"{flag} is one sample: {n} number(s), the {what} "
                        f"({', '.join(s.name for s in names)}) in order, or a mapping by name; got shape {arr.shape} "
                        "(a batch goes in X, Y).")
    if arr.ndim == 1 and arr.shape[0] == n:
        arr = arr.reshape(1, n)
    elif arr.ndim == 1 and n == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] < 1:
        raise SpecError(f"{flag} must hold {n} value(s) per sample, the {what} "
                        f"({', '.join(s.name for s in names) or 'none'}) in order, or a mapping by name; "
                        f"got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise SpecError(f"{flag} must be finite numbers; it has a NaN or infinite value.")
    return arr


def computation_walkthrough(
    g: Computation,
    params: Mapping[sp.Symbol | str, float] | Sequence,
    X: Any = None,
    Y: Any = None,
    *,
    x: Sequence[float] | Mapping | None = None,
    y: Sequence[float] | Mapping | None = None,
    lr: float,
    max_params: int | None = MAX_PARAMS,
    max_samples: int | None = MAX_SAMPLES,
) -> ComputationWalkthrough:
    """One step of gradient descent on the computation ``g``, every formula with its value.

    Called by :func:`symbackprop.walkthrough` (same arguments). ``x``/``y`` give one sample
    (its inputs and targets in declared order, or mappings by name); ``X``/``Y`` a batch
    (rows; columns in declared order). A computation without targets needs no ``y``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = sbp.computation("J = (x - m)**2/2", params="m", inputs="x")
    >>> sbp.walkthrough(g, {"m": 0.0}, X=[[1.0], [3.0]], lr=0.5).updated
    {m: 1.0}
    >>> sbp.walkthrough(g, {"m": 0.0}, x={"z": 1.0}, lr=0.5)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: x by name must give exactly the inputs (x); unknown: z.
    """
    if (x is not None or y is not None) and (X is not None or Y is not None):
        raise SpecError("Give one sample as x=..., y=... or a batch as X, Y; not both.")
    one = x is not None or y is not None
    first, second, names = (x, y, ("x", "y")) if one else (X, Y, ("X", "Y"))
    if first is None and g.inputs:
        raise SpecError(f"walkthrough needs the inputs: {names[0]} is missing "
                        "(x=..., y=... for one sample, or X, Y for a mini-batch).")
    if second is None and g.targets:
        raise SpecError(f"walkthrough needs the targets: {names[1]} is missing "
                        "(x=..., y=... for one sample, or X, Y for a mini-batch).")
    Xa = _rows(first, g.inputs, "inputs", names[0], one) if g.inputs else None
    Ya = _rows(second, g.targets, "targets", names[1], one) if g.targets else None
    n = Xa.shape[0] if Xa is not None else (Ya.shape[0] if Ya is not None else 1)
    if Xa is not None and Ya is not None and Xa.shape[0] != Ya.shape[0]:
        raise SpecError(f"{names[0]} has {Xa.shape[0]} sample(s) but {names[1]} has {Ya.shape[0]}; "
                        "give one row of targets per row of inputs.")
    Xa = Xa if Xa is not None else np.zeros((n, 0))
    Ya = Ya if Ya is not None else np.zeros((n, 0))
    rate = _check_lr(lr)
    k = len(g.params)
    if max_params is not None and k > max_params:
        raise SpecError(f"A walkthrough of this computation would list {k:,} parameters, more than the "
                        f"{max_params:,} that stay readable; pass max_params={k} (or None) to build it anyway.")
    if max_samples is not None and n > max_samples:
        raise SpecError(f"A walkthrough of a batch of {n:,} samples would show each one's forward and backward "
                        f"pass, more than the {max_samples:,} that stay readable; pass max_samples={n} (or None) "
                        "to build it anyway, or use a smaller batch.")
    model = g.compile()
    values = model.mapping(model.arrays(params))  # every parameter, by name or Symbol, checked
    bad = [p.name for p in g.params if not math.isfinite(values[p])]
    if bad:
        raise SpecError(f"Parameter values must be finite numbers; {', '.join(bad[:5])} "
                        f"{'is' if len(bad) == 1 else 'are'} not.")
    return ComputationWalkthrough(g, {p: float(values[p]) for p in g.params}, Xa, Ya, rate)
