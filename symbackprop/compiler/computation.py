"""Compile a computation (named scalar definitions) to array code over a batch of rows.

A computation (:mod:`symbackprop.computation`) is a list of definitions ``s = e`` in its
parameters, inputs, targets and earlier definitions, with a loss node. Compiled, every
input and target is a column (one value per row of the data), every definition an array
over the rows, every parameter a scalar; the loss and the gradient are means over the
rows. :func:`compile_computation` writes the Python source of ``forward``, ``loss``,
``loss_and_grad``, ``step`` and ``step_momentum`` (the functions a
:class:`~.model.CompiledModel` has, so that :func:`symbackprop.train` drives both the
same way) and hands it to a :class:`~.computation_model.ComputationModel`.

How it works
------------
This is the numeric level of the design, written independently of the symbolic reverse
pass (:mod:`symbackprop.backprop`), so that tests can compare the two:

1. Each definition is rewritten into the stable vocabulary (:func:`~.stable.stabilize`:
   the parser's σ(u) = 1/(1 + e^(−u)) becomes ``sigmoid(u)``, log(1 + e^u) ``softplus(u)``).
   The loss line is also rewritten *in its operands*: the definitions it uses directly are
   substituted into it first, so that ``J = -(y*log(o) + (1 - y)*log(1 - o))`` with
   ``o = sigmoid(z)`` becomes ``-y*log_sigmoid(z) - (1 - y)*log_sigmoid(-z)`` — the loss
   from the logits, never log of a rounded probability, never clipping. The rewrite is
   kept only when it brings such a stable function in.
2. Each definition's local partials are ``sympy.diff`` of its (rewritten) expression with
   respect to each symbol it uses, at the kink convention (docs/notation.md:
   :func:`~symbackprop.activations.at_kinks`) and in stable forms (σ' = ``dsigmoid``,
   tanh' = ``sech2``); where a partial holds a definition's own expression (e^u in
   ∂e^u/∂u), it reads that definition's array instead. Then, in the lines and the
   partials, a residual o − y of a node o = σ(u) or tanh(u) (y a target or a number) is
   computed from o's exact complement (``a_minus_y``, ``tanh_minus_y`` of :mod:`.stable`):
   σ(40) rounds to 1, σ(40) − 1 does not round to 0.
3. The reverse pass, in reverse order of the definitions: the loss's adjoint is 1 and
   every node's adjoint ``g_v`` is the sum over the definitions c that use v of
   ``g_c · ∂c/∂v``; a parameter's gradient ``d_p`` is that sum's mean over the rows
   (weight sharing and skip connections are the sums over several consumers).
4. The lines of each function are shared through ``sympy.cse`` (a subexpression used by
   the forward pass and by a partial is computed once), each shared temporary printed just
   before its first use, and printed by the backend's SymPy printer
   (:mod:`.backends`: NumPy, or JAX with ``jax.jit``).

The parameters travel as one flat float64 array ``theta`` in ``comp.params`` order (the
list ``P = [theta]``): the NumPy steps update it in place, the JAX steps return a new one.
"""

from __future__ import annotations

import keyword
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from ..errors import SpecError
from .backends import Backend, BackendName, get_backend
from .stable import a_minus_y, sigmoid, stabilize, tanh_minus_y
from .tangent import partial, tangent_lines

if TYPE_CHECKING:  # pragma: no cover
    from .computation_model import ComputationModel

__all__ = ["ComputationPlan", "compile_computation", "logsumexp", "plan_computation", "second_order_source"]

class logsumexp(sp.Function):  # noqa: N801 - the name printed into the generated code
    """log Σ_k e^(u_k), computed around the largest u_k (no overflow); a softmax
    e^(u_j)/Σ_k e^(u_k) is written e^(u_j − logsumexp(u)), and its log u_j − logsumexp(u).

    Examples
    --------
    >>> u, v = sp.symbols("u v", real=True)
    >>> sp.diff(logsumexp(u, v), u)
    exp(u - logsumexp(u, v))
    """

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.exp(self.args[argindex - 1] - self)

    def _numpycode(self, printer: Any) -> str:
        return f"logsumexp({', '.join(printer._print(a) for a in self.args)})"

    _jaxcode = _numpycode


def _np_logsumexp(*us: Any) -> Any:
    us = np.broadcast_arrays(*us)
    top = us[0]
    for u in us[1:]:
        top = np.maximum(top, u)
    top = np.where(np.isfinite(top), top, 0.0)  # all −inf (or an inf): no shift
    return top + np.log(sum(np.exp(u - top) for u in us))


def _jax_logsumexp(*us: Any) -> Any:
    import jax
    import jax.numpy as jnp

    return jax.nn.logsumexp(jnp.stack(jnp.broadcast_arrays(*us)), axis=0)


def _exponents(total: sp.Expr) -> list[sp.Expr] | None:
    """[u_k + log c_k] when ``total`` is Σ_k c_k e^(u_k) (c_k > 0, two terms or more), else None."""
    if not isinstance(total, sp.Add):
        return None
    out = []
    for term in total.args:
        c, f = term.as_coeff_Mul()
        if not isinstance(f, sp.exp) or not (c.is_number and c.is_positive):
            return None
        out.append(f.args[0] + (sp.log(c) if c != 1 else 0))
    return out


def _softmax_rule(e: sp.Expr) -> sp.Expr:
    if isinstance(e, sp.log):
        us = _exponents(e.args[0])
        return logsumexp(*us) if us else e
    if isinstance(e, sp.Mul):
        for f in e.args:
            if isinstance(f, sp.Pow) and f.exp == -1:
                us = _exponents(f.base)
                if us:
                    return sp.exp(-logsumexp(*us)) * (e / f)
    return e


def _logsumexp_forms(expr: sp.Expr) -> sp.Expr:
    """Sums of exponentials as :class:`logsumexp`: e^(u_j)/Σ_k e^(u_k) → e^(u_j − lse(u)),
    log Σ_k e^(u_k) → lse(u); then the stable vocabulary (:func:`~.stable.stabilize`)."""
    if not expr.has(sp.exp):
        return expr
    return stabilize(expr.replace(lambda e: isinstance(e, (sp.log, sp.Mul)), _softmax_rule))


@dataclass
class ComputationPlan:
    """What the generated code computes for one computation (no backend, no code in it).

    Attributes
    ----------
    forward : list of (Symbol, Expr)
        The definitions in order, stabilized; the loss line rewritten in its operands.
    partials : dict
        ``partials[c][u]`` = ∂(definition of c)/∂u for every symbol u that c uses.
    adjoints : list of (Symbol, Expr)
        ``(g_v, Σ_c g_c·∂c/∂v)`` in reverse order, for the nodes that reach the loss.
    grads : list of (Symbol, Expr, bool)
        ``(d_p, Σ_c g_c·∂c/∂p, rowwise)`` per parameter in ``params`` order; the gradient is
        the mean of the expression over the rows (``rowwise``: it varies with the row).
    rowwise : set of Symbol
        The symbols that hold one value per row (inputs, targets, and what depends on them).
    """

    params: tuple[sp.Symbol, ...]
    inputs: tuple[sp.Symbol, ...]
    targets: tuple[sp.Symbol, ...]
    outputs: tuple[sp.Symbol, ...]
    loss: sp.Symbol
    forward: list[tuple[sp.Symbol, sp.Expr]]
    partials: dict[sp.Symbol, dict[sp.Symbol, sp.Expr]]
    adjoints: list[tuple[sp.Symbol, sp.Expr]]
    adjoint_of: dict[sp.Symbol, sp.Expr]
    grads: list[tuple[sp.Symbol, sp.Expr, bool]]
    rowwise: set[sp.Symbol] = field(default_factory=set)

    def is_rowwise(self, expr: sp.Expr) -> bool:
        """Whether ``expr`` varies with the row (holds a rowwise symbol)."""
        return not self.rowwise.isdisjoint(expr.free_symbols)


def _tuple(comp: Any, name: str) -> tuple[sp.Symbol, ...]:
    value = getattr(comp, name, None)
    if value is None:
        raise SpecError(f"compile_computation needs a computation with .{name}; got {type(comp).__name__}.")
    return tuple(value)


def _stable_loss(raw: sp.Expr, forward: list[tuple[sp.Symbol, sp.Expr]], li: int) -> sp.Expr:
    """The loss line (``raw``, as written) in its operands' definitions where that makes it
    stable, else stabilized as it is."""
    J = stabilize(raw)
    defs = {s: e for s, e in forward[:li] if not e.is_Atom}
    operands = {s: defs[s] for s in raw.free_symbols if s in defs}
    if not operands:
        return J
    fused = _logsumexp_forms(stabilize(raw.xreplace(operands)))
    fused = fused.xreplace({e: s for s, e in operands.items()})  # what remains reads the arrays

    def logs(e: sp.Expr) -> int:  # logs of computed values: where precision is lost
        return sum(1 for f in sp.preorder_traversal(e) if isinstance(f, (sp.log, log1p)))

    return fused if logs(fused) < logs(J) else J


def _saturating(forward: Sequence[tuple[sp.Symbol, sp.Expr]]) -> dict[sp.Symbol, Callable[..., sp.Expr]]:
    """For every node o defined as σ(u) or tanh(u): ``(o, t) -> o − t`` from o's exact
    complement (:mod:`.stable`: ``a_minus_y`` with 1 − σ(u) = σ(−u), ``tanh_minus_y``)."""
    out: dict[sp.Symbol, Callable[..., sp.Expr]] = {}
    for s, e in forward:
        if isinstance(e, sigmoid):
            out[s] = lambda o, t, u=e.args[0]: a_minus_y(o, sigmoid(-u), t)
        elif isinstance(e, sp.tanh):
            out[s] = lambda o, t, u=e.args[0]: tanh_minus_y(o, u, t)
    return out


def _exact_residuals(expr: sp.Expr, residual: Mapping[sp.Symbol, Callable[..., sp.Expr]],
                     fixed: set[sp.Symbol]) -> sp.Expr:
    """``expr`` with every c·o + r (o a node of ``residual``; r in the ``fixed`` symbols —
    the targets — and numbers) written c·(o − t), t = −r/c, through o's exact complement.

    σ(40) and tanh(20) round to 1 in float64, so o − 1 would be 0; its exact value is
    −e^(−40)/(1 + e^(−40)) (−2/(e^40 + 1)). Applied to the lines after differentiation:
    the partials are still those of the definitions as written.
    """
    if not residual or not expr.has(*residual):
        return expr

    def rewrite(e: sp.Add) -> sp.Expr:
        for term in e.args:
            coeff, o = term.as_coeff_Mul()
            if o in residual:
                rest = sp.Add(*[a for a in e.args if a is not term])
                if rest.free_symbols <= fixed:
                    return coeff * residual[o](o, -rest / coeff)
        return e

    return expr.replace(lambda e: isinstance(e, sp.Add), rewrite)


def _kinked(comp: Any, s: sp.Symbol, expr: sp.Expr) -> sp.Expr:
    """``s``'s definition with the activations that have a kink convention (relu, leaky
    relu) kept unevaluated (the computation's ``shown`` form), the others written out."""
    graph = getattr(comp, "graph", None)
    node = graph.nodes.get(s.name) if graph is not None and hasattr(graph, "nodes") else None
    shown = node.get("shown") if node else None
    if shown is None:
        return expr
    from ..computations import Applied

    return shown.replace(lambda e: isinstance(e, Applied) and e.activation.kink is None,
                         lambda e: e.activation(e.args[0]))


def _written_out(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every unevaluated activation written out, in stable forms."""
    if any(hasattr(type(f), "activation") for f in expr.atoms(sp.Function)):
        from ..computations import realize

        expr = realize(expr)
    return _logsumexp_forms(stabilize(expr))


def plan_computation(comp: Any) -> ComputationPlan:
    """The :class:`ComputationPlan` of ``comp`` (see the module docstring, steps 1–3).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w, x, y, o, J = sp.symbols("w x y o J", real=True)
    >>> comp = SimpleNamespace(definitions=((o, 1 / (1 + sp.exp(-w * x))),
    ...                                     (J, -y * sp.log(o) - (1 - y) * sp.log(1 - o))),
    ...                        params=(w,), inputs=(x,), targets=(y,), loss=J, outputs=(o,))
    >>> plan = plan_computation(comp)
    >>> plan.forward
    [(o, sigmoid(w*x)), (J, -y*log_sigmoid(w*x) - (1 - y)*log_sigmoid(-w*x))]
    >>> plan.grads
    [(d_w, o*x*(1 - y) - x*y*sigmoid(-w*x), True)]
    """
    definitions = [(s, sp.sympify(e)) for s, e in _tuple(comp, "definitions")]
    params, inputs = _tuple(comp, "params"), _tuple(comp, "inputs")
    targets = tuple(getattr(comp, "targets", ()) or ())
    loss = comp.loss
    names = [s for s, _ in definitions]
    if loss not in names:
        raise SpecError(f"The loss {loss} is not one of the computation's definitions ({', '.join(map(str, names))}).")
    outputs = tuple(getattr(comp, "outputs", ()) or ())
    # Differentiated: activations with a kink convention of their own (relu'(0) = 0) kept
    # as functions, as the computation's symbolic reverse pass takes them; printed: written out.
    raw = [(s, _kinked(comp, s, e)) for s, e in definitions]
    kinked = [(s, _logsumexp_forms(stabilize(e))) for s, e in raw]
    li = names.index(loss)
    kinked[li] = (loss, _stable_loss(raw[li][1], kinked, li))
    forward = [(s, _written_out(e)) for s, e in kinked]

    rowwise = set(inputs) | set(targets)
    for s, e in forward:
        if not rowwise.isdisjoint(e.free_symbols):
            rowwise.add(s)
    # A partial that holds a definition's own expression reads that definition's array.
    reuse = {e: s for s, e in forward if not e.is_Atom}
    differentiable = set(params) | set(names)
    partials: dict[sp.Symbol, dict[sp.Symbol, sp.Expr]] = {}
    for s, e in kinked[: li + 1]:
        partials[s] = {
            u: _written_out(partial(e, u)).xreplace(reuse)
            for u in sorted(e.free_symbols & differentiable, key=sp.default_sort_key)
        }

    # o − y where o = σ(u) or tanh(u) rounds to ±1: from o's exact complement, in the lines
    # (the loss, a residual node) and the partials (∂J/∂o), after differentiation.
    residual = _saturating(forward)
    if residual:
        fixed = set(targets)
        forward = [(s, _exact_residuals(e, residual, fixed)) for s, e in forward]
        partials = {c: {u: _exact_residuals(d, residual, fixed) for u, d in parts.items()}
                    for c, parts in partials.items()}

    # The reverse pass: seed ∂J/∂J = 1; each node's adjoint sums over the nodes that use it.
    consumers: dict[sp.Symbol, list[sp.Symbol]] = {}
    for c, parts in partials.items():
        for u in parts:
            consumers.setdefault(u, []).append(c)
    adjoint_of: dict[sp.Symbol, sp.Expr] = {loss: sp.S.One}
    adjoints: list[tuple[sp.Symbol, sp.Expr]] = []

    def total(v: sp.Symbol) -> sp.Expr:
        return sp.Add(*[adjoint_of[c] * partials[c][v] for c in consumers.get(v, ()) if adjoint_of.get(c, 0) != 0])

    for s, _ in reversed(forward[:li]):
        g = total(s)
        if g == 0:
            continue
        if g.is_Atom:  # 1, or another node's adjoint: no line of its own
            adjoint_of[s] = g
            continue
        sym = sp.Symbol(f"g_{s.name}", real=True)
        adjoint_of[s] = sym
        adjoints.append((sym, g))
        if not rowwise.isdisjoint(g.free_symbols):
            rowwise.add(sym)
    grads = []
    for p in params:
        g = total(p)
        grads.append((sp.Symbol(f"d_{p.name}", real=True), g, not rowwise.isdisjoint(g.free_symbols)))
    return ComputationPlan(params, inputs, targets, outputs, loss, forward, partials, adjoints,
                           adjoint_of, grads, rowwise)


#: The stable vocabulary's one-argument functions (:mod:`.stable`).
_ELEMENTWISE = ("sigmoid", "log_sigmoid", "softplus", "log_softplus", "dsigmoid", "sech2")


def _scalar_safe(f: Any) -> Any:
    """``f`` (a NumPy helper that works in place on an array) also for a scalar argument."""
    ndim = np.ndim

    def call(u: Any) -> Any:
        if ndim(u) == 0:
            return f(np.reshape(np.asarray(u, dtype=np.float64), 1))[0]
        return f(u)

    call.__name__ = getattr(f, "__name__", "helper")
    return call


# ------------------------------------------------------------------ printing
_RESERVED = {"n", "s", "P", "V", "X", "Y", "lr", "mu", "loss", "theta", "Vtheta", "vtheta", "G", "numpy", "jax",
             "isfinite", "float", "abs", "range", "len", "sum", "min", "max"}


class _Names:
    """Python names for the symbols of the generated code: the user's where they are safe."""

    def __init__(self, taken: Iterable[str]):
        self.taken = set(_RESERVED) | set(taken)
        self.of: dict[sp.Symbol, sp.Symbol] = {}

    def add(self, sym: sp.Symbol, base: str | None = None) -> str:
        name = base if base is not None else sym.name
        ok = (name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
              and unicodedata.normalize("NFKC", name) == name)
        if not ok:
            name = "v_" + "".join(c if c.isalnum() and c.isascii() else "_" for c in name)
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        self.of[sym] = sp.Symbol(name, **sym.assumptions0)
        return name


def _renaming(printer: Any, names: dict[sp.Symbol, sp.Symbol]) -> Any:
    """A copy of the backend's ``printer`` that prints each symbol by its name in ``names``
    (renaming in the printer rebuilds no expression)."""

    class Renaming(type(printer)):  # type: ignore[misc]
        def _print_Symbol(self, expr: sp.Symbol, **kwargs: Any) -> str:
            new = names.get(expr)
            return new.name if new is not None else super()._print_Symbol(expr, **kwargs)

    out = Renaming.__new__(Renaming)
    out.__dict__.update(printer.__dict__)
    # Terms in their stored order: sorting them (SymPy's default, for people) costs a third
    # of the printing.
    out._settings = {**printer._settings, "order": "none"}
    return out


class _Writer:
    """Prints a :class:`ComputationPlan` through a backend into the generated module."""

    def __init__(self, plan: ComputationPlan, backend: Backend):
        self.plan, self.backend = plan, backend
        self.xp = backend.xp
        self.names = _Names(())
        for s in (*plan.params, *plan.inputs, *plan.targets, *(s for s, _ in plan.forward)):
            if s not in self.names.of:
                self.names.add(s)
        for g, _ in plan.adjoints:
            self.names.add(g)
        for d, _, _ in plan.grads:
            self.names.add(d)

        self.printer = _renaming(backend.printer, self.names.of)
        self._bodies: dict[tuple, list[str]] = {}

    def name(self, s: sp.Symbol) -> str:
        return self.names.of[s].name

    def code(self, expr: sp.Expr) -> str:
        return self.printer.doprint(sp.sympify(expr))

    def head(self, targets: bool) -> list[str]:
        p = self.plan
        lines = [f"    {', '.join(self.name(s) for s in p.params)}, = theta"] if p.params else []
        lines += [f"    {self.name(x)} = X[:, {i}]" for i, x in enumerate(p.inputs)]
        if targets:
            lines += [f"    {self.name(y)} = Y[:, {i}]" for i, y in enumerate(p.targets)]
        return lines

    def body(self, lines: Sequence[tuple[sp.Symbol, sp.Expr]]) -> list[str]:
        """Each assignment ``(target, expr)`` printed, their common subexpressions shared.

        A shared temporary is printed just before the first line that needs it: everything
        it reads is defined by then, since it is a part of that line's expression.
        """
        key = tuple(lines)
        if key in self._bodies:  # loss_and_grad and the steps share their lines
            return self._bodies[key]
        taken = {s.name for s in self.names.of.values()} | _RESERVED
        temps = (t for t in sp.numbered_symbols("t", real=True) if t.name not in taken)
        replacements, reduced = sp.cse([e for _, e in lines], symbols=temps, order="none", list=True)
        pending = dict(replacements)
        index = {t: i for i, (t, _) in enumerate(replacements)}
        out: list[str] = []

        def need(expr: sp.Expr) -> None:
            # The temporaries expr reads, and theirs; printed in the order cse made them
            # (a temporary reads only earlier ones).
            todo, found = [t for t in expr.free_symbols if t in pending], []
            while todo:
                t = todo.pop()
                if t in pending:
                    value = pending.pop(t)
                    found.append((t, value))
                    todo.extend(u for u in value.free_symbols if u in pending)
            for t, value in sorted(found, key=lambda tv: index[tv[0]]):
                out.append(f"    {t.name} = {self.code(value)}")

        for (target, _), expr in zip(lines, reduced):
            need(expr)
            out.append(f"    {self.name(target)} = {self.code(expr)}")
        self._bodies[key] = out
        return out

    def forward_lines(self, upto: sp.Symbol | None = None) -> list[tuple[sp.Symbol, sp.Expr]]:
        lines = []
        for s, e in self.plan.forward:
            lines.append((s, e))
            if s == upto:
                break
        return lines

    def loss_line(self) -> str:
        J = self.name(self.plan.loss)
        if self.plan.loss in self.plan.rowwise:
            return f"    loss = {J}.sum() / n"
        return f"    loss = {J}"

    def grad_lines(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        p = self.plan
        return [*p.adjoints, *((d, e) for d, e, _ in p.grads if not e.is_number)]

    def means(self) -> list[str]:
        """The gradients as means over the rows, then stacked in ``params`` order."""
        out = []
        for d, e, rowwise in self.plan.grads:
            if rowwise:
                out.append(f"    {self.name(d)} = {self.name(d)}.sum() / n")
            elif e.is_number:
                out.append(f"    {self.name(d)} = {float(e)!r}")
        names = ", ".join(self.name(d) for d, _, _ in self.plan.grads)
        out.append(f"    G = {self.xp}.stack([{names}])" if names else f"    G = {self.xp}.zeros(0)")
        return out

    def _rowwise(self, lines: Sequence[tuple[sp.Symbol, sp.Expr]]) -> set[sp.Symbol]:
        rowwise = set(self.plan.rowwise)
        for t, e in lines:
            if not rowwise.isdisjoint(e.free_symbols):
                rowwise.add(t)
        return rowwise

    def _mean(self, expr: sp.Expr, rowwise: set[sp.Symbol]) -> str:
        if expr.is_number:
            return repr(float(expr))
        code = self.code(expr)
        return f"({code}).sum() / n" if not rowwise.isdisjoint(expr.free_symbols) else code

    def second_order_module(self) -> str:
        p, xp = self.plan, self.xp
        program = self.forward_lines(p.loss) + self.grad_lines()
        seeds = {q: sp.Symbol(f"v_{q.name}", real=True) for q in p.params}
        r_lines, tangent = tangent_lines(program, seeds, "r_")
        for sym in (*seeds.values(), *(r for r, _ in r_lines)):
            self.names.add(sym)
        rowwise = self._rowwise(program + r_lines)
        hv = ", ".join(self._mean(tangent.get(d, sp.S.Zero) if not e.is_number else sp.S.Zero, rowwise)
                       for d, e, _ in p.grads)
        vhead = [f"    {', '.join(self.name(v) for v in seeds.values())}, = vtheta"] if seeds else []
        hvp = ["", "def hvp(P, V, X, Y):",
               '    """H·v: the Hessian of the mean loss times V, by the R-operator (forward over reverse)."""',
               "    n = X.shape[0]", "    theta, = P", "    vtheta, = V", *self.head(True), *vhead,
               *self.body(program + r_lines), f"    return {xp}.stack([{hv}])" if hv else f"    return {xp}.zeros(0)"]
        last_output = max((i for i, (s, _) in enumerate(p.forward) if s in p.outputs), default=-1)
        fwd = p.forward[: last_output + 1]
        lines, tangents = list(fwd), []
        for j, x in enumerate(p.inputs):
            t_lines, tan = tangent_lines(fwd, {x: sp.S.One}, f"dx{j}_")
            for t, _ in t_lines:
                self.names.add(t)
            lines += t_lines
            tangents.append(tan)
        rowwise = self._rowwise(lines)

        def column(e: sp.Expr) -> str:
            code = repr(float(e)) if e.is_number else self.code(e)
            return code if not rowwise.isdisjoint(e.free_symbols) else f"{xp}.full(n, {code}, dtype=float)"

        rows = []
        for o in p.outputs:
            cols = ", ".join(column(tan.get(o, sp.S.Zero)) for tan in tangents)
            rows.append(f"{xp}.stack([{cols}], axis=1)" if cols else f"{xp}.zeros((n, 0))")
        back = f"{xp}.stack([{', '.join(rows)}], axis=1)" if rows else f"{xp}.zeros((n, 0, {len(p.inputs)}))"
        jac = ["", "def input_jacobian(P, X):",
               '    """d outputs / d inputs for every row: shape (n, n_outputs, n_inputs), by forward mode."""',
               "    n = X.shape[0]", "    theta, = P", *self.head(False), *self.body(lines), f"    return {back}"]
        head = [f"# Second-order functions generated by symbackprop for the computation of {p.loss}:",
                "# r_v = the tangent of v in the direction V (so r_d_p = (H V)_p per row); dx<j>_v = dv/d(input j)."]
        return "\n".join(head + hvp + jac) + "\n"

    def module(self) -> str:
        p = self.plan
        b = self.backend
        used_loss = self.forward_lines(p.loss)
        last_output = max((i for i, (s, _) in enumerate(p.forward) if s in p.outputs), default=-1)
        fwd_lines = p.forward[: last_output + 1]
        outs = []
        for o in p.outputs:
            name = self.name(o)
            outs.append(name if o in p.rowwise else f"{self.xp}.full(n, {name}, dtype=float)")
        # Targets are read only when the lines that follow use them.
        fwd = ["", "def forward(P, X):", "    n = X.shape[0]", "    theta, = P", *self.head(False),
               *self.body(fwd_lines),
               f"    return {self.xp}.stack([{', '.join(outs)}], axis=1)" if outs else f"    return {self.xp}.zeros((n, 0))"]
        loss = ["", "def loss(P, X, Y):", "    n = X.shape[0]", "    theta, = P", *self.head(True),
                *self.body(used_loss), self.loss_line(), "    return loss"]
        full = used_loss + self.grad_lines()
        lag = ["", "def loss_and_grad(P, X, Y):", "    n = X.shape[0]", "    theta, = P", *self.head(True),
               *self.body(full), self.loss_line(), *self.means(), "    return loss, [G]"]
        guard, how = b.step_guard(), b.update_style
        step = ["", "def step(P, X, Y, lr):",
                f'    """One SGD step on the batch (X, Y), {how}; returns the loss before it."""',
                "    n = X.shape[0]", "    s = lr", "    theta, = P", *self.head(True),
                *self.body(full), self.loss_line(), *guard, *self.means(),
                *b.sgd_update("theta", "G"), b.step_return(["theta"])]
        mom = ["", "def step_momentum(P, V, X, Y, lr, mu):",
               f'    """One SGD step with momentum mu (velocity V), {how}."""',
               "    n = X.shape[0]", "    s = lr", "    theta, = P", "    Vtheta, = V", *self.head(True),
               *self.body(full), self.loss_line(), *guard, *self.means(),
               *b.momentum_update("theta", "G"), b.step_return(["theta", "Vtheta"])]
        head = [f"# Generated by symbackprop for the computation of {p.loss} "
                f"(parameters {', '.join(map(str, p.params)) or 'none'}).",
                "# One value per row: the inputs and targets (columns of X and Y) and what depends",
                "# on them; g_v = dJ/dv (adjoints), d_p = mean over the rows of dJ/dp."]
        return "\n".join(head + fwd + loss + lag + step + mom) + "\n"


def second_order_source(plan: ComputationPlan, backend: Backend) -> str:
    """The source of ``hvp(P, V, X, Y)`` and ``input_jacobian(P, X)`` (:mod:`.tangent`).

    ``hvp`` runs the forward and reverse lines of the gradient, then their tangents in the
    direction V (the R-operator): H·v, the mean over the rows, in ``params`` order.
    ``input_jacobian`` runs the forward lines and their tangents for each input: an array
    (n_rows, n_outputs, n_inputs) of ∂output/∂input per row.
    """
    w = _Writer(plan, backend)
    return w.second_order_module()


def compile_computation(comp: Any, backend: BackendName | Backend = "numpy") -> ComputationModel:
    """Compile ``comp``'s forward pass, loss and gradient over a batch of rows.

    Parameters
    ----------
    comp : Computation
        Anything with ``definitions``, ``params``, ``inputs``, ``targets``, ``loss`` and
        ``outputs`` (:class:`symbackprop.computation.Computation`).
        :meth:`Computation.compile` calls this once per backend and keeps the model.
    backend : {"numpy", "jax", "jax-sharded", "auto"} or Backend
        As for :func:`~symbackprop.compiler.compile_network`; "auto" is NumPy, and numba
        (layer kernels) is refused with a one-line :class:`~symbackprop.errors.SpecError`.

    Returns
    -------
    ComputationModel

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> w, b, x, y, o, J = sp.symbols("w b x y o J", real=True)
    >>> comp = SimpleNamespace(definitions=((o, sp.tanh(w * x + b)), (J, (o - y) ** 2 / 2)),
    ...                        params=(w, b), inputs=(x,), targets=(y,), loss=J, outputs=(o,))
    >>> model = compile_computation(comp)
    >>> g = model.gradient({"w": 0.5, "b": 0.0}, [[1.0], [2.0]], [[0.0], [1.0]])
    >>> {p: round(v, 6) for p, v in g.items()}
    {w: 0.081591, b: 0.131653}
    >>> print(model.source().split("def loss_and_grad")[1].split("loss = ")[0])
    (P, X, Y):
        n = X.shape[0]
        theta, = P
        w, b, = theta
        x = X[:, 0]
        y = Y[:, 0]
        t0 = b + w*x
        o = numpy.tanh(t0)
        t1 = tanh_minus_y(o, t0, y)
        J = (1/2)*t1**2
        g_o = t1
        t2 = g_o*sech2(t0)
        d_w = t2*x
        d_b = t2
    <BLANKLINE>
    """
    from .computation_model import ComputationModel

    if backend == "auto":  # the rule of compiler.auto: NumPy for a computation
        from .auto import choose_backend

        backend = choose_backend(comp)
    if backend == "numba" or getattr(backend, "name", None) == "numba":
        raise SpecError(
            "The numba backend compiles layered networks (sbp.mlp) only; compile a computation with "
            "backend='numpy' (what 'auto' picks), 'jax' or 'jax-sharded'."
        )
    target = get_backend(backend)
    plan = plan_computation(comp)
    try:
        source = _Writer(plan, target).module()
    except PrintMethodNotImplementedError as exc:
        what = str(exc).splitlines()[0].rpartition(": ")[2]
        raise SpecError(
            f"The computation uses a function the {target.name} backend has no form for ({what}); "
            "use the functions the formula parser knows (docs/notation.md)."
        ) from None
    namespace = dict(target.namespace)
    namespace["logsumexp"] = _np_logsumexp if target.name == "numpy" else _jax_logsumexp
    if target.name == "numpy":
        # A node constant over the rows is a NumPy scalar; the helpers work in place on arrays.
        for name in _ELEMENTWISE:
            namespace[name] = _scalar_safe(namespace[name])
    return ComputationModel(comp, plan, source, namespace, target)

