"""Checking a matrix-form (layer-level) answer: :func:`check_layer`.

A student writes the layer-level equations with the layer matrices and vectors:
``dW1 = delta1 @ x.T``, ``delta1 = (W2.T @ delta2) * a1 * (1 - a1)``. How it is checked:

1. The formula is read by the safe matrix parser (:mod:`.matrix`): nothing is executed.
2. Random draws: parameters (one set per draw), and one sample (column vectors) or, in
   batch form, ``batch`` samples (the columns of x, y, z, a, δ). Every layer quantity is
   computed from the network's own scalar graph (the forward values and the δ
   recursion of :func:`~.evaluate.forward_values`), and the true quantity from the scalar
   gradients ``net.grad(p)``, averaged over the batch: an oracle independent of any
   matrix formula.
3. The formula is evaluated on each draw with its shapes checked (``@`` needs the inner
   sizes to agree, ``*`` equal shapes): a shape that does not fit, a result of the wrong
   shape, or a value that differs makes the verdict *wrong*.
4. Diagnosis: the usual slips are undone one at a time on the formula's tree (a
   transpose added or removed, ``@`` and ``*`` exchanged, another layer's matrix, z for
   a, a factor f'(z) added, a function or a sign exchanged, a factor dropped), and the
   ratio to the truth is measured (sign, the batch size m: a missing average). A change
   that makes the formula right names the slip.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import numpy as np
import sympy as sp

from ..activations import ACTIVATIONS, at_kinks
from ..errors import SpecError, SymbackpropError, unknown
from ..notation import to_str
from ..parse import FUNCTIONS
from .diagnose import close, constant_factor, fit_factor
from .evaluate import KINK, _draw, evaluate, forward_values
from .layer_result import LayerCheckResult, LayerCounterexample
from .matrix import Node, ShapeError, evaluate_matrix, parse_matrix, shape_text
from .result import Diagnosis

__all__ = ["LAYER_QUANTITIES", "check_layer", "layer_names", "true_formula"]

#: What :func:`check_layer` can check, per layer l.
LAYER_QUANTITIES = ("dW", "db", "delta", "z", "a")
#: At most this many one-change variants of a formula are tried by the diagnosis.
MAX_VARIANTS = 2000
#: The diagnosis tries variants only of formulas up to this many nodes.
MAX_DIAGNOSED_NODES = 80

_SUPER = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_WRT = re.compile(r"^(?:dJ/d)?(dW|W|db|b|delta|δ|z|a)(\d+)$")
_NAME = re.compile(r"^(W|b|z|a|delta)(\d+)$")
_WHAT = {"W": "weight matrix", "b": "bias vector", "z": "weighted input", "a": "activation",
         "delta": "δ"}


def _target(net, wrt: str) -> tuple[str, int]:
    if not isinstance(wrt, str):
        raise SpecError(f"wrt must be a name such as 'dW1', 'db2', 'delta1'; got {type(wrt).__name__}.")
    m = _WRT.match(wrt.strip().replace(" ", ""))
    L = net.n_layers
    known = [f"{k}{layer}" for k in LAYER_QUANTITIES for layer in range(1, L + 1)]
    if m is None or not 1 <= int(m.group(2)) <= L:
        raise unknown("layer quantity", wrt, known)
    kind = {"W": "dW", "b": "db", "δ": "delta"}.get(m.group(1), m.group(1))
    return kind, int(m.group(2))


def layer_names(net, batch: int | None) -> list[str]:
    """The names a matrix formula may use for ``net``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> layer_names(sbp.mlp([2, 1]), None)
    ['x', 'y', 'a0', 'W1', 'b1', 'z1', 'a1', 'delta1']
    """
    names = ["x", "y", "a0"]
    for layer in range(1, net.n_layers + 1):
        names += [f"W{layer}", f"b{layer}", f"z{layer}", f"a{layer}", f"delta{layer}"]
    return names + (["m"] if batch else [])


def _fprime_text(net, layer: int) -> str | None:
    """f'(z^(l)) in the textbook form, as a factor (parenthesised when a sum)."""
    act = net.activations[layer - 1]
    if not act.elementwise:
        return None
    fp = act.local_partial(sp.Symbol(f"z{layer}", real=True), sp.Symbol(f"a{layer}", real=True))
    return f"({to_str(fp)})" if fp.is_Add else to_str(fp)


def _grad_a_text(net) -> str | None:
    """∇ₐJ as an elementwise formula in ``aL`` and ``y``, when every output has one form."""
    L = net.n_layers
    loss = net.loss(net.outputs, net.targets)
    A, Y = sp.Symbol(f"a{L}", real=True), sp.Symbol("y", real=True)
    forms = set()
    for j, a in enumerate(net.outputs):
        g = at_kinks(sp.diff(loss, a)).xreplace({a: A, net.targets[j]: Y})
        if not g.free_symbols <= {A, Y}:
            return None
        forms.add(g)
    return to_str(forms.pop()) if len(forms) == 1 else None


def _paren(text: str) -> str:
    return f"({text})" if any(c in text for c in "+-") else text


def true_formula(net, wrt: str, batch: int | None = None) -> str:
    """The true layer quantity as a matrix formula (in the syntax :func:`check_layer` reads).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 3, 2], activation="sigmoid", loss="quadratic")
    >>> true_formula(net, "delta1")
    '(W2.T @ delta2) * a1 * (1 - a1)'
    >>> true_formula(net, "delta2"), true_formula(net, "dW2", batch=4)
    ('(a2 - y) * a2 * (1 - a2)', '(delta2 @ a1.T) / m')
    """
    text = _true_text(net, wrt, batch)
    try:  # printed back by the matrix parser: the spacing of every formula the checker shows
        return str(parse_matrix(text, layer_names(net, batch)))
    except SymbackpropError:
        return text  # a description in words (a softmax output with a non-generic loss)


def _true_text(net, wrt: str, batch: int | None) -> str:
    kind, layer = _target(net, wrt)
    L = net.n_layers
    prev = "x" if layer == 1 else f"a{layer - 1}"
    act = net.activations[layer - 1]
    if kind == "dW":
        return f"delta{layer} @ {prev}.T" + (" / m" if batch else "")
    if kind == "db":
        return f"mean(delta{layer})" if batch else f"delta{layer}"
    if kind == "z":
        return f"W{layer} @ {prev} + b{layer}"
    if kind == "a":
        if not act.elementwise:
            return f"softmax(z{layer})"
        if act.name == "identity":
            return f"z{layer}"
        return f"{act.name}(z{layer})" if act.name in FUNCTIONS else f"f(z{layer})"
    fp = _fprime_text(net, layer)
    if layer < L:
        return f"(W{layer + 1}.T @ delta{layer + 1}) * {fp}" if fp else f"(W{layer + 1}.T @ delta{layer + 1}) ⊙ f'(z{layer})"
    g = _grad_a_text(net)
    if fp is not None and g is not None:
        return g if fp == "1" else f"{_paren(g)} * {fp}"
    if not act.elementwise and net.loss.name == "cross_entropy":
        return f"a{L} - y"
    if not act.elementwise and g is not None and not batch:
        return f"a{L} * ({g} - a{L}.T @ ({g}))"
    loss = net.loss(net.outputs, net.targets)
    grads = ", ".join(to_str(at_kinks(sp.diff(loss, a))) for a in net.outputs)
    if act.elementwise:
        return f"∇ₐJ * {fp}, where ∇ₐJ = ({grads}) (no one form for every output neuron)"
    return f"the softmax Jacobian applied to ∇ₐJ = ({grads}), column by column"


def _subject(kind: str, layer: int) -> str:
    sup = f"⁽{str(layer).translate(_SUPER)}⁾"
    return {"dW": f"∂J/∂W{sup}", "db": f"∂J/∂b{sup}", "delta": f"δ{sup}", "z": f"z{sup}", "a": f"a{sup}"}[kind]


# ------------------------------------------------------------------ random draws
def _stack(values, symbols) -> np.ndarray:
    return np.stack([np.asarray(values[s], dtype=float) for s in symbols])


def _env(net, values) -> dict[str, np.ndarray]:
    sizes, L = net.sizes, net.n_layers
    env = {"x": _stack(values, net.inputs), "y": _stack(values, net.targets)}
    env["a0"] = env["x"]
    for layer in range(1, L + 1):
        rows, cols = sizes[layer], sizes[layer - 1]
        env[f"W{layer}"] = np.array([[values[net.w(layer, j, k)][0] for k in range(1, cols + 1)]
                                     for j in range(1, rows + 1)], dtype=float)
        env[f"b{layer}"] = np.array([[values[net.b(layer, j)][0]] for j in range(1, rows + 1)], dtype=float)
        for head, sym in (("z", net.z), ("a", net.a), ("delta", net.delta)):
            env[f"{head}{layer}"] = _stack(values, [sym(layer, j) for j in range(1, rows + 1)])
    return env


def _truth(net, kind: str, layer: int, values) -> np.ndarray:
    rows = net.sizes[layer]
    if kind == "dW":
        cols = net.sizes[layer - 1]
        return np.array([[evaluate(net.grad(net.w(layer, j, k)), values).mean() for k in range(1, cols + 1)]
                         for j in range(1, rows + 1)])
    if kind == "db":
        return np.array([[evaluate(net.grad(net.b(layer, j)), values).mean()] for j in range(1, rows + 1)])
    sym = {"delta": net.delta, "z": net.z, "a": net.a}[kind]
    return _stack(values, [sym(layer, j) for j in range(1, rows + 1)])


def _draws(net, kind: str, layer: int, m: int, n: int, seed: int) -> list[tuple[dict, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(50 * n):
        if len(out) == n:
            break
        leaves = _draw(net, m, rng)
        for p in net.params:  # one parameter set per draw, shared by the batch's samples
            leaves[p] = np.full(m, leaves[p][0])
        values = forward_values(net, leaves)
        zs = [values[net.z(layer_, j)] for layer_ in range(1, net.n_layers + 1)
              for j in range(1, net.sizes[layer_] + 1)]
        if any(np.any(np.abs(z) <= KINK) for z in zs) or not all(np.all(np.isfinite(v)) for v in values.values()):
            continue  # a ReLU kink, or a value out of the loss's domain: draw again
        env = _env(net, values)
        if m > 1:
            env["m"] = np.asarray(float(m))
        out.append((env, _truth(net, kind, layer, values)))
    if len(out) < n:
        raise SymbackpropError(f"Could not draw {n} points where every z is away from 0 and the loss is finite.")
    return out


# ----------------------------------------------------------------- comparison
def _agree(u: np.ndarray, t: np.ndarray) -> bool:
    return np.shape(u) == np.shape(t) and bool(close(u, t).all())


def _right(tree: Node, draws) -> bool:
    try:
        return all(_agree(evaluate_matrix(tree, env), t) for env, t in draws)
    except ShapeError:
        return False


# ------------------------------------------------------------------ variants
def _walk(node: Node, path: tuple[int, ...] = (), parent: Node | None = None) -> Iterator[tuple[tuple[int, ...], Node, Node | None]]:
    yield path, node, parent
    for i, a in enumerate(node.args):
        yield from _walk(a, (*path, i), node)


def _replace(node: Node, path: tuple[int, ...], new: Node) -> Node:
    if not path:
        return new
    i = path[0]
    args = list(node.args)
    args[i] = _replace(args[i], path[1:], new)
    return Node(node.op, tuple(args), node.name, node.value)


def _rename(node: Node, old: str, new: str) -> Node:
    if node.op == "name":
        return Node("name", name=new) if node.name == old else node
    return Node(node.op, tuple(_rename(a, old, new) for a in node.args), node.name, node.value)


def _factors(node: Node) -> list[Node]:
    """The factors of an elementwise product, left to right."""
    if node.op == "*":
        return _factors(node.args[0]) + _factors(node.args[1])
    return [node]


def _product(factors: list[Node]) -> Node:
    out = factors[0]
    for f in factors[1:]:
        out = Node("*", (out, f))
    return out


def _show_name(name: str) -> str:
    return "x" if name == "a0" else name


def _variants(tree: Node, net, batch: int | None) -> Iterator[tuple[str, Node, str]]:
    """(kind, changed tree, what was wrong) for each single usual slip undone."""
    L = net.n_layers
    elementwise_acts = [n for n, a in ACTIVATIONS.items() if a.elementwise and n != "identity"]
    nodes = list(_walk(tree))
    for path, node, parent in nodes:
        if node.op == "name" and node.name != "m" and not (parent is not None and parent.op == "T"):
            v = _replace(tree, path, Node("T", (node,)))
            yield "missing_transpose", v, f"{_show_name(node.name)} needs a transpose"
        if node.op == "T":
            yield "extra_transpose", _replace(tree, path, node.args[0]), f"{node.args[0]} should not be transposed"
        if node.op == "@":
            v = _replace(tree, path, Node("*", node.args))
            yield "matmul_for_elementwise", v, f"{node} uses @ where the elementwise product ⊙ (*) belongs"
        if node.op == "*":
            left, right = node.args
            for new in (Node("@", node.args), Node("@", (left, Node("T", (right,)))),
                        Node("@", (Node("T", (left,)), right))):
                yield ("elementwise_for_matmul", _replace(tree, path, new),
                       f"{node} uses the elementwise * where a matrix product @ belongs")
        if node.op == "name":
            m = _NAME.match(node.name)
            if m is not None:
                head, layer = m.group(1), int(m.group(2))
                lowest = 0 if head == "a" else 1
                for other in range(lowest, L + 1):
                    if other != layer:
                        new = f"{head}{other}"
                        v = _replace(tree, path, Node("name", name=new))
                        yield ("wrong_layer", v, f"{node.name} is the wrong layer's {_WHAT[head]} "
                               f"(layer {layer}; {_show_name(new)} belongs here)")
                if head == "a" and layer >= 1:
                    yield ("z_for_a", _replace(tree, path, Node("name", name=f"z{layer}")),
                           f"a{layer} is written where z{layer} belongs (z is the weighted input, a = f(z) the output)")
                if head == "z":
                    yield ("z_for_a", _replace(tree, path, Node("name", name=f"a{layer}")),
                           f"z{layer} is written where a{layer} belongs (a = f(z) is the layer's output, z its weighted input)")
            if node.name == "x":
                for other in range(1, L + 1):
                    v = _replace(tree, path, Node("name", name=f"a{other}"))
                    yield "wrong_layer", v, f"x is the wrong layer's activation (a{other} belongs here)"
        if node.op == "call" and node.name in FUNCTIONS:
            base = node.name[:-6] if node.name.endswith("_prime") else node.name
            if base in elementwise_acts:
                for other in elementwise_acts:
                    if other != base:
                        new = other + node.name[len(base):]
                        if new in FUNCTIONS:
                            v = _replace(tree, path, Node("call", node.args, name=new))
                            yield ("wrong_activation", v, f"{node.name} is the wrong function: "
                                   f"this layer's is {new}")
        if node.op in "+-" and len(node.args) == 2:
            other = "-" if node.op == "+" else "+"
            v = _replace(tree, path, Node(other, node.args))
            yield "sign_term", v, f"{node} has {node.op} where {other} belongs"
        if node.op == "call" and node.name == "sum":
            yield ("missing_batch_average", _replace(tree, path, Node("call", node.args, name="mean")),
                   f"{node} sums over the batch where the gradient of the mean loss averages")
    # One name written for another everywhere it occurs (z1*(1 - z1) for a1*(1 - a1)).
    for name in sorted(tree.names()):
        m = _NAME.match(name)
        if m is None:
            continue
        head, layer = m.group(1), int(m.group(2))
        swaps = [(f"{'z' if head == 'a' else 'a'}{layer}", "z_for_a")] if head in "az" and layer >= 1 else []
        swaps += [(f"{head}{other}", "wrong_layer") for other in range(0 if head == "a" else 1, L + 1) if other != layer]
        for new, kind in swaps:
            what = (f"{name} is written where {new} belongs (a = f(z) is the layer's output, z its weighted input)"
                    if kind == "z_for_a" else f"{name} is the wrong layer's {_WHAT[head]} ({_show_name(new)} belongs here)")
            yield kind, _rename(tree, name, new), what
    # A missing f'(z^(l)) (⊙) on any part of the formula.
    names = layer_names(net, batch)
    for layer in range(1, L + 1):
        fp = _fprime_text(net, layer)
        if fp is None or fp == "1":
            continue
        factors = _factors(parse_matrix(fp, names))
        for path, node, _ in nodes:
            new = node
            for f in factors:
                new = Node("*", (new, f))
            yield ("missing_derivative", _replace(tree, path, new),
                   f"the factor f'(z{layer}) = {fp} (elementwise) is missing" + (f" from {node}" if path else ""))
    if batch:
        yield ("missing_batch_average", Node("call", (tree,), name="mean"),
               f"{tree} is per sample: the gradient of the batch's mean loss averages over the samples (the columns)")
    # An extra factor: one or two factors of a product dropped (σ' = a*(1 - a) is two).
    for path, node, parent in nodes:
        if node.op == "/" or node.op == "@":
            left, right = node.args
            yield "extra_factor", _replace(tree, path, left), f"the factor {right} does not belong in {node}"
            if node.op == "@":
                yield "extra_factor", _replace(tree, path, right), f"the factor {left} does not belong in {node}"
        if node.op == "*" and not (parent is not None and parent.op == "*"):
            factors = _factors(node)
            for size in (1, 2):
                for drop in itertools.combinations(range(len(factors)), size):
                    kept = [f for i, f in enumerate(factors) if i not in drop]
                    if not kept:
                        continue
                    new, dropped = _product(kept), _product([factors[i] for i in drop])
                    yield ("extra_factor", _replace(tree, path, new),
                           f"the factor{'s' if size > 1 else ''} {dropped} do{'' if size > 1 else 'es'} not belong in {node}")


_ORDER = ["transposed_result", "missing_batch_average", "sign", "constant_factor", "missing_transpose",
          "extra_transpose", "matmul_for_elementwise", "elementwise_for_matmul", "wrong_layer", "z_for_a",
          "missing_derivative", "wrong_activation", "sign_term", "extra_factor", "shape_mismatch"]


def _diagnose(tree: Node, net, draws, batch, subject: str, shape_problem: str | None,
              values: list[np.ndarray] | None) -> list[Diagnosis]:
    found: dict[str, Diagnosis] = {}
    lead = f"{shape_problem}. " if shape_problem else ""
    truths = [t for _, t in draws]
    if values is not None:
        if all(np.shape(u) == np.shape(t) for u, t in zip(values, truths)):
            u = np.concatenate([v.ravel() for v in values])
            t = np.concatenate([v.ravel() for v in truths])
            c = fit_factor(u, t)
            if batch and c is not None and abs(c - batch) <= 1e-6:
                found["missing_batch_average"] = Diagnosis(
                    "missing_batch_average",
                    f"Your formula is m = {batch} times the true value: the batch's loss is the mean "
                    f"over its m samples, so its gradient averages over them. Divide by m: "
                    f"{Node('/', (tree, Node('name', name='m')))}.",
                    {"factor": c})
            elif batch and c is not None and abs(c - 1 / batch) <= 1e-9:
                found["constant_factor"] = Diagnosis(
                    "constant_factor", f"Your formula is 1/m = 1/{batch} of the true value: it averages over "
                    "the batch twice (or averages δ, which is per sample).", {"factor": c})
            else:
                d = constant_factor(u, t)
                if d is not None:
                    found[d.kind] = d
        elif all(np.shape(u.T) == np.shape(t) and _agree(u.T, t) for u, t in zip(values, truths)):
            found["transposed_result"] = Diagnosis(
                "transposed_result",
                f"Your formula is the transpose of {subject}: it has shape "
                f"{shape_text(values[0])}, {subject} has {shape_text(truths[0])}. "
                f"({tree}).T is right.", {})
    if len(tree.nodes()) <= MAX_DIAGNOSED_NODES:
        for i, (kind, variant, what) in enumerate(_variants(tree, net, batch)):
            if i >= MAX_VARIANTS:
                break
            if kind in found or not _right(variant, draws[:1]) or not _right(variant, draws):
                continue
            what = what[0].upper() + what[1:] if what.startswith("the ") else what
            found[kind] = Diagnosis(kind, f"{lead}{what}: {variant} is right.",
                                    {"corrected": str(variant), **({"shapes": shape_problem} if shape_problem else {})})
    if shape_problem and not found:
        found["shape_mismatch"] = Diagnosis("shape_mismatch", f"{lead}Check the shapes: "
                                            f"{subject} has shape {shape_text(truths[0])}.", {"shapes": shape_problem})
    return sorted(found.values(), key=lambda d: _ORDER.index(d.kind))


def check_layer(
    net,
    wrt: str,
    formula: str,
    *,
    batch: int | None = None,
    draws: int = 4,
    seed: int = 0,
) -> LayerCheckResult:
    """Check a matrix-form (layer-level) answer: right or wrong, where, and which slip.

    Parameters
    ----------
    net : Network
        The network.
    wrt : str
        What the formula computes: ``"dW1"`` (∂J/∂W⁽¹⁾; also ``"dJ/dW1"``), ``"db1"``,
        ``"delta1"`` (δ⁽¹⁾), ``"z1"``, ``"a1"``.
    formula : str
        The answer, with ``@`` (matrix product), ``*`` (elementwise ⊙), ``+ - / **``,
        ``.T`` and the layer names ``W1, b1, z1, a1, delta1, ..., x (= a0), y``; the scalar
        functions (``sigmoid``, ``tanh``, ``exp``, ``sigmoid_prime``, ...) apply
        elementwise; ``mean``/``sum`` average/sum over the batch, ``m`` is its size.
        Read by a safe parser: nothing is executed.
    batch : int or None
        None: one sample (x, a, δ are column vectors). An integer m ≥ 2: a batch of m
        samples (the columns); gradients are of the batch's mean loss (dW = δ aᵀ / m),
        δ is per sample.
    draws : int
        Random draws of parameters and samples compared.
    seed : int
        Seed of the draws.

    Returns
    -------
    LayerCheckResult
        ``.ok`` (``.verdict`` "right"/"wrong"), ``.diagnosis`` (``.kind``, ``.message``),
        ``.counterexample``, ``.truth``; ``print`` it for the explanation.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 3, 2], activation="sigmoid", loss="quadratic")
    >>> sbp.check_layer(net, "dW1", "delta1 @ x.T").ok
    True
    >>> r = sbp.check_layer(net, "delta1", "(W2 @ delta2) * a1 * (1 - a1)")
    >>> r.verdict, r.diagnosis.kind
    ('wrong', 'missing_transpose')
    >>> print(r.diagnosis.message)
    W2 @ delta2 multiplies shapes (2×3) and (2×1), which cannot multiply (3 columns, 2 rows). W2 needs a transpose: (W2.T @ delta2) * a1 * (1 - a1) is right.
    """
    if not hasattr(net, "sizes"):  # a Computation: no layers, no matrices
        raise SpecError("check_layer checks layer-level (matrix) answers, which exist only for layered "
                        "networks (sbp.mlp); for a computation use sbp.check(g, v, formula).")
    kind, layer = _target(net, wrt)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 2):
        raise SpecError(f"The batch (--batch) must be a number of samples of at least 2 (leave it out "
                        f"for one sample); got {batch!r}.")
    if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= 100:
        raise SpecError(f"draws must be an integer from 1 to 100; got {draws!r}.")
    names = layer_names(net, batch)
    tree = parse_matrix(formula, names, what=f"matrix formula for {kind}{layer}")
    points = _draws(net, kind, layer, batch or 1, draws, seed)
    subject = _subject(kind, layer)
    truth_text = true_formula(net, wrt, batch)
    shape = tuple(int(s) for s in points[0][1].shape)
    common = dict(wrt=f"{kind}{layer}", formula=str(tree), truth=truth_text, shape=shape, subject=subject,
                  source=formula.strip(), batch=batch)
    try:
        values = [evaluate_matrix(tree, env) for env, _ in points]
    except ShapeError as exc:
        found = _diagnose(tree, net, points, batch, subject, exc.message, None)
        return LayerCheckResult(False, counterexample=None, diagnosis=found[0] if found else None,
                                diagnoses=tuple(found), outcomes={"shapes": exc.message}, **common)
    bad = [i for i, (u, (_, t)) in enumerate(zip(values, points)) if not _agree(u, t)]
    if not bad:
        return LayerCheckResult(True, outcomes={"numeric": f"agrees at all {len(points)} random draws"},
                                **common)
    i = bad[0]
    env, t = points[i]
    shape_problem = None
    if np.shape(values[i]) != np.shape(t):
        shape_problem = f"Your formula has shape {shape_text(values[i])}, {subject} has shape {shape_text(t)}"
    used = [n for n in names if n in tree.names() or re.search(rf"\b{n}\b", truth_text)]
    cex = LayerCounterexample({n: env[n] for n in used}, values[i], t)
    found = _diagnose(tree, net, points, batch, subject, shape_problem, values)
    outcome = (shape_problem if shape_problem else f"differs at {len(bad)} of {len(points)} random draws")
    return LayerCheckResult(False, counterexample=cex, diagnosis=found[0] if found else None,
                            diagnoses=tuple(found), outcomes={"numeric": outcome}, **common)

