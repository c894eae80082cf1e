"""What the explorer shows about one sample: every value, every derivation, one SGD step.

Everything is computed here, in Python, and handed to the page as plain data (numbers and
MathML strings); the page's script only picks pieces and puts them on screen.

A derivation printed whole for every parameter would repeat itself: the 403 parameters of
a 4-16-16-3 network share 35 δ lines, 71 forward definitions and 818 local partials, and
printing each once per parameter made a 4 MB page in 13 s. So the pieces are printed once,
in pools keyed by name (``defs``, ``deltas``, ``edges``), and each parameter lists the
keys of its own pieces (its paths, its edges, its δ) plus the few lines that are its own
(the result: δ form, compact and, where the size guard allows, expanded form).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from xml.sax.saxutils import escape

import sympy as sp

from ..backprop import SUM_TO_ONE
from ..derivation import (
    MAX_PATHS,
    MAX_SHOWN_EXPANDED,
    SHOWN_DELTAS,
    Derivation,
    definition_line,
    sample_values,
)
from ..notation import latex_name, text_name
from ..printing import Line
from ..printing.mathml import line_mathml, rhs_mathml, symbol_mathml

__all__ = ["sample_content", "finite"]


def finite(value: Any) -> float | None:
    """``value`` as a float for JSON, or None when it is not a finite number.

    Examples
    --------
    >>> finite(0.5), finite(float("nan")), finite(sp.zoo)
    (0.5, None, None)
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _value(expr: sp.Expr, values: Mapping[sp.Symbol, float]) -> float | None:
    return finite(expr.xreplace(values))


def _line(lhs: sp.Symbol, expr: sp.Expr, value: float | None) -> str:
    return line_mathml(Line(text_name(lhs), latex_name(lhs), expr, value))


def sample_content(net, params: Mapping[sp.Symbol, float], x: Sequence[float],
                   y: Sequence[float], lr: float) -> dict[str, Any]:
    """The data of the walkthrough and the derivation panels, at one sample.

    Parameters
    ----------
    net : Network
        Its full scalar graph must be built (``net.prepare_graph()``).
    params : mapping Symbol -> float
    x, y : sequence of float
        The sample.
    lr : float
        The learning rate of the step shown.

    Returns
    -------
    dict
        ``symbols`` (name -> MathML), ``nodes`` (the graph's node names; paths index
        them), ``values`` (name -> float: x, y, z, a, J, δ, params), ``defs`` (z, a, J ->
        one ``<math>`` line with its value), ``deltas`` (δ -> [MathML of its right side,
        value, whether it is a sum]), ``assumed`` (the output δ = a − y under sum-to-one
        targets, as lines), ``edges`` ("u>v" -> [MathML of the local partial, value]),
        ``params`` (name -> value, gradient (symbolic and compiled), δ form, its δ and
        factor (∂J/∂p = factor·δ), paths, the δ it reaches, the expanded form's size and,
        within the size guard, its line), ``step`` (the SGD step, from
        :func:`~symbackprop.walkthrough`: the gradients, the parameters after, the loss
        before and after).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([1, 1], activation="identity", loss="quadratic")
    >>> net.prepare_graph()  # doctest: +ELLIPSIS
    <networkx...>
    >>> c = sample_content(net, {net.w(1, 1, 1): 2.0, net.b(1, 1): 0.5}, [3.0], [1.0], lr=0.1)
    >>> c["values"]["a1_1"], c["params"]["w1_1_1"]["grad"]   # a = 2·3 + 0.5; (a − y)·x
    (6.5, 16.5)
    """
    bp, g = net.backprop, net.graph
    values = sample_values(bp, params, x, y)
    symbols: dict[str, str] = {}
    for name in g.nodes:
        symbols[name] = symbol_mathml(name) or f"<mi>{escape(name)}</mi>"
    for d in bp.delta:
        symbols[d.name] = symbol_mathml(d.name)
    for s in net.targets:
        symbols[s.name] = symbol_mathml(s.name)

    # Forward definitions, in the order they are computed (layer by layer, then J).
    defs = {}
    for layer in range(1, net.n_layers + 1):
        for head in ("z", "a"):
            for j in range(1, net.sizes[layer] + 1):
                s = getattr(net, head)(layer, j)
                defs[s.name] = line_mathml(replace(definition_line(bp, s), value=finite(values[s])))
    defs["J"] = line_mathml(replace(definition_line(bp, net.J), value=finite(values[net.J])))

    # δ lines are put together by the page (name = right side ≈ value), which also builds
    # each parameter's compact form from them: ∂J/∂p = (its factor) · (δ written out).
    deltas = {d.name: [rhs_mathml(expr), _value(expr, values), isinstance(expr, sp.Add)]
              for d, expr in bp.delta.items()}
    assumed = {d.name: _line(d, expr, _value(expr, values)) for d, expr in bp.assumed.items()}

    names = list(g.nodes)
    index = {n: i for i, n in enumerate(names)}
    edges = {}
    for u, v, data in g.edges(data=True):
        partial = data.get("partial")
        if partial is not None:
            edges[f"{u}>{v}"] = [rhs_mathml(partial), _value(partial, values)]

    model = net.compile()
    compiled = model.gradient(params, [list(x)], [list(y)])
    per_param = {}
    for p in net.params:
        d = Derivation(bp, p, values=values)
        node = g.nodes[p.name]
        own = net.delta(node["layer"], node["index"][0])
        # ∂J/∂p = δ·(∂z/∂p) (Backprop names the adjoint of z by its δ), and the compact
        # form is that with δ written out one level: Backprop.grad does exactly this.
        factor = d.delta_form.xreplace({own: sp.S.One})
        expanded = None
        size = bp.expanded_size(d.compact)
        if size <= MAX_SHOWN_EXPANDED:
            full = bp.expanded(d.compact, max_size=None)
            expanded = line_mathml(Line(
                f"∂J/∂{text_name(p)} (expanded)",
                rf"\frac{{\partial J}}{{\partial {latex_name(p)}}}\;\text{{(expanded)}}",
                full, _value(full, values)))
        per_param[p.name] = {
            "value": finite(values[p]),
            "grad": finite(d.value(d.delta_form)),
            "compiled": finite(compiled[p]),
            "form": rhs_mathml(d.delta_form),
            "delta": own.name,
            "factor": None if factor == 1 else rhs_mathml(factor),
            "n_paths": d.n_paths,
            "paths": None if d.paths is None else [[index[n] for n in path] for path in d.paths],
            "deltas": [s.name for s, _ in d.deltas],
            "expanded": expanded,
            "expanded_size": size,
        }

    # The step itself is sbp.walkthrough's (the same numbers its text and JSON show).
    from ..walkthroughs import walkthrough

    walk = walkthrough(net, params, x=list(x), y=list(y), lr=lr, max_params=None)
    step = {
        "lr": lr,
        "loss": finite(walk.loss),
        "loss_after": finite(walk.loss_after),
        "grad": {p.name: finite(walk.gradient[p]) for p in net.params},
        "after": {p.name: finite(walk.updated[p]) for p in net.params},
    }
    vals = {s.name: finite(v) for s, v in values.items()}
    return {
        "symbols": symbols,
        "nodes": names,
        "values": vals,
        "defs": defs,
        "deltas": deltas,
        "assumed": assumed,
        "assumed_note": f"δ = a − y holds {SUM_TO_ONE}." if assumed else "",
        "edges": edges,
        "params": per_param,
        "step": step,
        "max_paths": MAX_PATHS,
        "shown_deltas": SHOWN_DELTAS,
        "max_expanded": MAX_SHOWN_EXPANDED,
    }
