"""Explaining a wrong formula: which usual slip turns the true gradient into it.

Every test is numeric, on the values at the sample points (so it costs the same for a
deep network as for a small one), and exact up to a tolerance: the formula u must equal
c·(candidate) at *every* point, for one constant c.

- constant factor / sign: u = c·t (t the true gradient);
- wrong index: u equals the gradient of another parameter;
- missing paths: u equals the sum of the path products over a strict subset of the paths
  from p to J (the multivariate chain rule with some terms forgotten);
- local partial: u = c·t·P (an extra factor) or u·P = c·t (a missing one), P the local
  partial on one edge of the paths from p to J (σ'(z) = a(1 − a), a weight, a − y, ...);
- a local partial written wrong (:func:`substituted_partials`): the sum over the paths of
  the products of the local partials, with one partial (or one kind of partial across a
  layer) replaced by the usual wrong one: z for a, another activation's derivative
  (σ' for tanh'), w_jk for w_kj (W for Wᵀ), b for ∂z/∂b = 1, another layer's activation,
  another target y_k, a + y for a − y, the softmax without its off-diagonal Jacobian
  entries, an activation's derivative dropped on every neuron of a layer;
- two slips at once, where the search stays small: the gradient of another parameter of
  the same layer with one local partial missing or extra.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import sympy as sp

from ..activations import ACTIVATIONS, Z
from ..notation import parse_name, text_name, to_str
from .evaluate import evaluate
from .result import Diagnosis

__all__ = [
    "close",
    "constant_factor",
    "describe_factor",
    "diagnose_gradient",
    "fit_factor",
    "substituted_partials",
]

#: Relative and absolute tolerance of the numeric comparisons.
RTOL, ATOL = 1e-9, 1e-11
#: At most this many other parameters are tried as the "wrong index" (same layer first).
MAX_INDEX_CANDIDATES = 400
#: At most this many subsets of paths are tried as the "missing paths".
MAX_PATH_SUBSETS = 5000
#: At most this many wrong local partials are tried (:func:`substituted_partials`).
MAX_SUBSTITUTIONS = 3000
#: At most this many (other parameter, local partial) pairs are tried as two slips at once.
MAX_TWO_SLIPS = 2000
#: ... among at most this many other parameters.
MAX_TWO_SLIP_PARAMETERS = 24


def close(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Elementwise: u and v agree to the relative tolerance (both finite)."""
    with np.errstate(all="ignore"):
        return np.isfinite(u) & np.isfinite(v) & (np.abs(u - v) <= RTOL * (np.abs(u) + np.abs(v)) + ATOL)


def fit_factor(lhs: np.ndarray, rhs: np.ndarray) -> float | None:
    """The constant c with lhs = c·rhs at every point, or None.

    Examples
    --------
    >>> fit_factor(np.array([2.0, -4.0, 0.0]), np.array([1.0, -2.0, 0.0]))
    2.0
    >>> fit_factor(np.array([2.0, 4.0]), np.array([1.0, 1.0])) is None
    True
    """
    with np.errstate(all="ignore"):
        ok = np.isfinite(lhs) & np.isfinite(rhs)
        if ok.sum() < 3:
            return None
        lhs, rhs = lhs[ok], rhs[ok]
        i = int(np.argmax(np.abs(rhs)))
        if abs(rhs[i]) <= ATOL:
            return None
        c = float(lhs[i] / rhs[i])
        if c == 0 or not np.isfinite(c):
            return None
        return c if bool(close(lhs, c * rhs).all()) else None


def _nice(c: float) -> Fraction | None:
    frac = Fraction(c).limit_denominator(24)
    return frac if abs(float(frac) - c) <= 1e-6 * max(1.0, abs(c)) else None


def _fmt(c: float) -> str:
    frac = _nice(c)
    return str(frac) if frac is not None else f"{c:.6g}"


def constant_factor(u: np.ndarray, t: np.ndarray) -> Diagnosis | None:
    """A sign error or a constant factor: u = c·t with c ≠ 1.

    Examples
    --------
    >>> constant_factor(np.array([-1.0, -2.0, 3.0]), np.array([1.0, 2.0, -3.0])).kind
    'sign'
    """
    c = fit_factor(u, t)
    if c is None or abs(c - 1) <= 1e-6:
        return None
    if abs(c + 1) <= 1e-6:
        return Diagnosis("sign", "Sign error: your formula is the negative of the true derivative.",
                         {"factor": -1.0})
    hint = ""
    frac = _nice(c)
    if frac is not None and abs(frac) == 2:
        hint = (" A factor ½ is missing: e.g. the ½ of the quadratic loss ½(a − y)² was "
                "dropped, or the 2 from differentiating a square was not cancelled.")
    elif frac is not None and abs(frac) == Fraction(1, 2):
        hint = (" A factor 2 is missing: e.g. d/da (a − y)² = 2(a − y), or a ½ was "
                "applied twice.")
    sign = " (and the sign is wrong)" if c < 0 else ""
    return Diagnosis(
        "constant_factor",
        f"Your formula is {_fmt(c)} times the true derivative{sign}.{hint}",
        {"factor": c},
    )


def describe_factor(net, edge: tuple[str, str], partial: sp.Expr) -> str:
    """Words for the local partial on ``edge``: ``σ'(z2_1) = a2_1*(1 - a2_1) = ∂a⁽²⁾₁/∂z⁽²⁾₁``."""
    g = net.graph
    u, v = edge
    du, dv = g.nodes[u], g.nodes[v]
    d = f"∂{text_name(dv['symbol'])}/∂{text_name(du['symbol'])}"
    what = ""
    if dv["kind"] == "a" and du["kind"] == "z":
        act = net.activations[dv["layer"] - 1]
        name = act.text or (act.name if act.name.isidentifier() else "f")
        what = f"{name}'({to_str(du['symbol'])}) = " if act.elementwise else ""
    elif dv["kind"] == "z" and du["kind"] == "a" or dv["kind"] == "z" and du["kind"] == "x":
        what = "the weight "
    elif dv["kind"] == "z" and du["kind"] == "weight":
        what = "the input " if g.nodes[u]["layer"] == 1 else "the activation "
    return f"{what}{to_str(partial)} = {d}"


def _index_hint(p: sp.Symbol, q: sp.Symbol) -> str:
    sp_, sq = parse_name(p.name), parse_name(q.name)
    if sp_ and sq and sp_.head == sq.head == "w" and sp_.layer == sq.layer and sp_.index == sq.index[::-1]:
        return (" The indices of w^(l)_jk are swapped: j is the neuron the weight goes into, "
                "k the neuron of the previous layer it comes from.")
    return ""


def _wrong_index(net, p, u, values) -> list[Diagnosis]:
    layer = net.graph.nodes[p.name]["layer"]
    others = [q for q in net.params if q != p]
    # Same layer and kind first: that is where index slips happen.
    others.sort(key=lambda q: (net.graph.nodes[q.name]["layer"] != layer, q.name[0] != p.name[0]))
    for q in others[:MAX_INDEX_CANDIDATES]:
        tq = evaluate(net.grad(q), values)
        if bool(close(u, tq).all()):
            return [Diagnosis(
                "wrong_index",
                f"Your formula is the gradient of {q.name} ({text_name(q)}), not of "
                f"{p.name} ({text_name(p)}).{_index_hint(p, q)}",
                {"other": q.name},
            )]
    return []


def _path_text(net, path: list[str]) -> str:
    return " → ".join(text_name(net.graph.nodes[n]["symbol"]) for n in path)


def _missing_paths(net, p, u, values) -> list[Diagnosis]:
    d = net.derivation(p)
    if d.paths is None or len(d.paths) < 2:
        return []
    products = np.array([evaluate(e, values) for e in d.products])
    n = len(d.paths)
    tried = 0
    # Fewest missing paths first.
    for size in range(n - 1, 0, -1):
        for subset in itertools.combinations(range(n), size):
            tried += 1
            if tried > MAX_PATH_SUBSETS:
                return []
            if bool(close(u, products[list(subset)].sum(axis=0)).all()):
                missing = [i for i in range(n) if i not in subset]
                shown = "; ".join(f"path {i + 1}: {_path_text(net, d.paths[i])}" for i in missing)
                return [Diagnosis(
                    "missing_paths",
                    f"Your formula sums {size} of the {n} paths from {text_name(p)} to J "
                    f"(multivariate chain rule); missing: {shown}.",
                    {"missing": [d.paths[i] for i in missing], "n_paths": n},
                )]
    return []


def _local_partials(net, p, u, t, values) -> list[Diagnosis]:
    d = net.derivation(p)
    seen: set[sp.Expr] = set()
    found = []
    for edge, partial in d.partials.items():
        if partial.is_number or partial in seen:
            continue
        seen.add(partial)
        P = evaluate(partial, values)
        for extra in (True, False):
            c = fit_factor(u, t * P) if extra else fit_factor(u * P, t)
            if c is None:
                continue
            words = describe_factor(net, edge, partial)
            times = "" if abs(c - 1) <= 1e-6 else f" (and a constant factor {_fmt(c)})"
            message = (
                f"Your formula has an extra factor {words}{times}."
                if extra
                else f"Your formula lacks the factor {words}, the local partial on the edge "
                f"{_path_text(net, list(edge))}{times}."
            )
            found.append(Diagnosis(
                "local_partial", message,
                {"edge": list(edge), "factor": to_str(partial), "extra": extra, "constant": c},
            ))
    # A factor written with the right constant explains more than one that needs another.
    found.sort(key=lambda g: abs(g.details["constant"] - 1) > 1e-6)
    return found


_SUPER = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _node(net, name: str) -> dict:
    return net.graph.nodes[name]


def _sym(net, head: str, layer: int, j: int) -> sp.Symbol | None:
    """a⁽ˡ⁾_j (x_j for layer 0) or z⁽ˡ⁾_j, when the network has it."""
    if head == "a" and layer == 0:
        return net.x(j) if 1 <= j <= net.sizes[0] else None
    if 1 <= layer <= net.n_layers and 1 <= j <= net.sizes[layer]:
        return net.a(layer, j) if head == "a" else net.z(layer, j)
    return None


def _swaps(net, d) -> list[tuple[str, dict, str]]:
    """(kind, {edge: wrong partial}, what is wrong) for each usual way to write a partial wrong."""
    g = net.graph
    edges = list(d.partials)
    out: list[tuple[str, dict, str]] = []
    by_layer: dict[int, list] = {}
    for edge, partial in d.partials.items():
        u, v = edge
        du, dv = _node(net, u), _node(net, v)
        words = describe_factor(net, edge, partial)
        # a written as z (and the reverse), or as another layer's activation, in this factor.
        for s in sorted(partial.free_symbols, key=lambda s: s.name):
            if s.name not in g:
                continue
            ds = _node(net, s.name)
            if ds["kind"] not in ("a", "x"):
                continue
            layer, j = ds["layer"], ds["index"][0]
            z = _sym(net, "z", layer, j) if ds["kind"] == "a" else None
            if z is not None:
                out.append(("z_for_a", {edge: partial.xreplace({s: z})},
                            f"it uses {z.name} ({text_name(z)}) where {s.name} ({text_name(s)}) belongs, "
                            f"in the factor {words} (a = f(z) is the neuron's output, z its weighted input)"))
            for other_layer in (layer - 1, layer + 1):
                o = _sym(net, "a", other_layer, j)
                if o is not None:
                    out.append(("wrong_layer", {edge: partial.xreplace({s: o})},
                                f"it uses {o.name} ({text_name(o)}), the activation of the wrong layer, where "
                                f"{s.name} ({text_name(s)}) belongs, in the factor {words}"))
        if dv["kind"] == "a" and du["kind"] == "z":
            layer = dv["layer"]
            act = net.activations[layer - 1]
            by_layer.setdefault(layer, []).append(edge)
            if act.elementwise:
                zs, a_ = du["symbol"], dv["symbol"]
                for name, other in ACTIVATIONS.items():
                    if name in (act.name, "identity") or not other.elementwise:
                        continue
                    fname = other.text or name
                    for wrong in dict.fromkeys([other.local_partial(zs, a_), other.derivative().xreplace({Z: zs})]):
                        out.append(("wrong_activation", {edge: wrong},
                                    f"its factor {to_str(wrong)} is {fname}'({zs.name}), the derivative of "
                                    f"{fname}; this layer's activation is {act.text or act.name}, and the "
                                    f"factor is {words}"))
        if du["kind"] in ("bias", "weight") and dv["kind"] == "z":
            own = du["symbol"]
            out.append(("param_partial", {edge: own},
                        f"it has {own.name} where ∂{text_name(dv['symbol'])}/∂{text_name(own)} = "
                        f"{to_str(partial)} belongs (z = Σ w·a + b: the derivative of b is 1, of w its input)"))
        if dv["kind"] == "loss":
            ys = [s for s in partial.free_symbols if s in net.targets]
            for y in ys:
                out.append(("target_sign", {edge: partial.xreplace({y: -y})},
                            f"it has {text_name(du['symbol'])} + {text_name(y)} where the loss gives "
                            f"{text_name(du['symbol'])} − {text_name(y)}, in the factor {words}"))
                for other in net.targets:
                    if other != y:
                        out.append(("wrong_target", {edge: partial.xreplace({y: other})},
                                    f"it compares {text_name(du['symbol'])} with the target {other.name} "
                                    f"({text_name(other)}); output neuron j goes with its own target, "
                                    f"here {y.name}"))
    # The derivative of one kind of partial across a whole layer.
    for layer, layer_edges in sorted(by_layer.items()):
        sup = f"⁽{str(layer).translate(_SUPER)}⁾"
        act = net.activations[layer - 1]
        name = act.text or act.name
        if not act.elementwise:
            off = {e: sp.S.Zero for e in layer_edges if _node(net, e[0])["index"] != _node(net, e[1])["index"]}
            if off:
                out.append(("softmax_jacobian", off,
                            f"it treats the {name} of layer {layer} as if it acted neuron by neuron: "
                            f"it keeps only ∂a{sup}ⱼ/∂z{sup}ⱼ = a_j(1 − a_j) and drops the off-diagonal entries "
                            f"∂a_i/∂z_j = −a_i a_j of its Jacobian (every output depends on every z)"))
            continue
        if len(layer_edges) > 1:
            drop = {e: sp.S.One for e in layer_edges}
            out.append(("local_partial", drop,
                        f"it lacks the factor {name}'(z{sup}ₖ) on every path through layer {layer}: "
                        f"each δ of that layer needs its own activation's derivative "
                        f"({', '.join(describe_factor(net, e, d.partials[e]) for e in layer_edges)})"))
    # W where the δ recursion needs Wᵀ: every weight partial w_kj of a layer written w_jk.
    weights: dict[int, dict] = {}
    for edge in edges:
        du, dv = _node(net, edge[0]), _node(net, edge[1])
        if du["kind"] == "a" and dv["kind"] == "z":
            w = d.partials[edge]
            parsed = parse_name(w.name) if isinstance(w, sp.Symbol) else None
            if parsed is None:
                continue
            swapped = f"w{parsed.layer}_{parsed.index[1]}_{parsed.index[0]}"
            if swapped in g:
                weights.setdefault(parsed.layer, {})[edge] = _node(net, swapped)["symbol"]
            else:
                weights.setdefault(parsed.layer, {})[edge] = None
    for layer, swap in sorted(weights.items()):
        sup = f"⁽{str(layer).translate(_SUPER)}⁾"
        if swap and all(v is not None for v in swap.values()) and any(
                v != d.partials[e] for e, v in swap.items()):
            out.append(("transposed_weights", swap,
                        f"its δ recursion uses w{sup}_jk where it needs w{sup}_kj: the sum over "
                        f"the next layer is (W{sup})ᵀδ{sup}, over the weights out of the neuron, not "
                        f"W{sup}δ{sup}"))
    return out


def substituted_partials(net, p: sp.Symbol, u: np.ndarray, values) -> list[Diagnosis]:
    """A local partial written wrong: u equals the chain-rule sum with that partial replaced.

    Each path's product of local partials is recomputed with the usual wrong form of one
    partial (or of one kind of partial across a layer); see the module's notes for the
    list. Only while the paths from p to J are listed (at most ``MAX_PATHS``).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> from symbackprop.checking.evaluate import sample_points
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid")
    >>> v = sample_points(net, 16)
    >>> u = v[net.delta(2, 1)] * v[net.z(1, 1)]   # z1_1 written for a1_1
    >>> substituted_partials(net, net.w(2, 1, 1), u, v)[0].kind
    'z_for_a'
    """
    d = net.derivation(p)
    if d.paths is None:
        return []
    memo: dict[sp.Expr, np.ndarray] = {}

    def val(e: sp.Expr) -> np.ndarray:
        if e not in memo:
            memo[e] = evaluate(e, values)
        return memo[e]

    paths = [list(zip(path, path[1:])) for path in d.paths]
    found: dict[str, Diagnosis] = {}
    for i, (kind, swap, what) in enumerate(_swaps(net, d)):
        if i >= MAX_SUBSTITUTIONS:
            break
        if kind in found:
            continue
        total = sum(np.prod([val(swap.get(e, d.partials[e])) for e in path], axis=0) for path in paths)
        c = fit_factor(u, np.asarray(total, dtype=float))
        if c is None:
            continue
        times = "" if abs(c - 1) <= 1e-6 else f" (and a constant factor {_fmt(c)})"
        found[kind] = Diagnosis(kind, f"Your formula is the chain rule for {text_name(p)}, but {what}{times}.",
                                {"edges": [list(e) for e in swap], "wrong": [to_str(x) for x in swap.values()],
                                 "constant": c})
    return list(found.values())


def _two_slips(net, p, u, values) -> list[Diagnosis]:
    """Wrong index and a missing (or extra) local partial at once: same-layer parameters only."""
    node = _node(net, p.name)
    others = [q for q in net.params if q != p and _node(net, q.name)["layer"] == node["layer"]
              and _node(net, q.name)["kind"] == node["kind"]]
    # Nearest first (a weight sharing a row or a column: one index wrong), and few of them:
    # each costs a derivation.
    others.sort(key=lambda q: sum(a != b for a, b in zip(_node(net, q.name)["index"], node["index"])))
    tries = 0
    for q in others[:MAX_TWO_SLIP_PARAMETERS]:
        tq = evaluate(net.grad(q), values)
        d = net.derivation(q)
        for edge, partial in d.partials.items():
            if partial.is_number:
                continue
            tries += 1
            if tries > MAX_TWO_SLIPS:
                return []
            P = evaluate(partial, values)
            for extra in (False, True):
                c = fit_factor(u, tq * P) if extra else fit_factor(u * P, tq)
                if c is None or abs(c - 1) > 1e-6:
                    continue
                words = describe_factor(net, edge, partial)
                slip = f"has an extra factor {words}" if extra else f"lacks the factor {words}"
                return [Diagnosis(
                    "wrong_index",
                    f"Two slips: your formula is the gradient of {q.name} ({text_name(q)}), not of "
                    f"{p.name} ({text_name(p)}), and it {slip}.{_index_hint(p, q)}",
                    {"other": q.name, "edge": list(edge), "factor": to_str(partial), "extra": extra},
                )]
    return []


def diagnose_gradient(net, p: sp.Symbol, u: np.ndarray, t: np.ndarray, values) -> list[Diagnosis]:
    """Every usual slip that turns ∂J/∂p (values ``t``) into the formula (values ``u``).

    Parameters
    ----------
    net : Network
    p : Symbol
        The parameter.
    u, t : numpy.ndarray
        The formula's and the true gradient's values at the points ``values``.
    values : dict[Symbol, numpy.ndarray]
        Every symbol's value at the points (:func:`~.evaluate.sample_points`).

    Returns
    -------
    list of Diagnosis
        Most specific first; empty when none applies.
    """
    found: list[Diagnosis] = []
    const = constant_factor(u, t)
    if const is not None:
        found.append(const)
    found += _wrong_index(net, p, u, values)
    if const is None:
        found += substituted_partials(net, p, u, values)
    if not any(f.kind == "softmax_jacobian" for f in found):
        found += _missing_paths(net, p, u, values)
    if const is None:
        local = _local_partials(net, p, u, t, values)
        # A factor missing on one edge says more than the same factor missing layer-wide.
        if local:
            found = [f for f in found if f.kind != "local_partial"] + local
        if not found:
            found += _two_slips(net, p, u, values)
    return found
