"""Deciding whether a hand-derived ∂J/∂p is right: :func:`check` and :func:`check_file`.

How it works
------------
1. The formula is read with the safe parser (:func:`~symbackprop.parse.parse_formula`),
   its names being every symbol of the network (x, y, w, b, z, a, δ, J).
2. Numeric test (always): every symbol's value at many random points
   (:func:`~.evaluate.sample_points`: fixed seed, ReLU kinks avoided), the formula and
   the true gradient evaluated there and compared with a relative tolerance. A point
   where they differ is a counterexample, and the verdict is "wrong".
3. Symbolic test (when the numeric one found no difference): the difference written in
   z, w, x, y (expanded pieces folded back into z, a = f(z), δ unrolled), then fully
   expanded to x, y, w, b, is handed to ``simplify`` in a child process with a time limit
   (:func:`~.symbolic.prove_equal`). A proof makes the verdict certain; when no proof
   comes in time, the numeric test is authoritative.
4. For a wrong formula, :func:`~.diagnose.diagnose_gradient` looks for the usual slips.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import networkx as nx
import numpy as np
import sympy as sp

from ..activations import step_at_zero
from ..backprop import SUM_TO_ONE, sum_to_one
from ..errors import ExpressionTooLargeError, FormulaError, SymbackpropError
from ..graph import CURRENT_LIMIT, check_graph_size, graph_size
from ..notation import text_name
from ..parse import parse_formula
from .diagnose import close, diagnose_gradient
from .evaluate import evaluate, sample_points
from .result import CheckResult, Counterexample
from .symbolic import SYMBOLIC_MAX_SIZE, describe, prove_equal

__all__ = ["MIN_POINTS", "FileLine", "check", "check_file", "read_formula", "size_first"]

#: The numeric test decides only with at least this many valid points.
MIN_POINTS = 8


def read_formula(net, formula: str | sp.Expr, what: str = "formula") -> sp.Expr:
    """The formula as a SymPy expression in the network's own symbols (parsed safely).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> read_formula(sbp.mlp([2, 1]), "delta1_1*x2")
    delta1_1*x2
    >>> read_formula(sbp.mlp([2, 1]), "a2_1")
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: Cannot read formula 'a2_1': unknown name 'a2_1' (did you mean 'a1_1'?) at column 1 ('a2_1'). Allowed: ...
    """
    if isinstance(formula, str):
        names = {n: net.symbol(n) for n in net.symbol_names()}
        return parse_formula(formula, names, what=what)
    if isinstance(formula, (int, float)) and not isinstance(formula, bool):
        return sp.sympify(formula)
    if not isinstance(formula, sp.Expr):
        raise FormulaError(
            f"A {what} must be a string or a SymPy expression; got {type(formula).__name__}."
        )
    # Symbols are matched by name (a user's Symbol may carry assumptions).
    return formula.xreplace({s: net.symbol(s.name) for s in formula.free_symbols})


def size_first(net, max_edges: int | None | object = CURRENT_LIMIT) -> None:
    """Refuse, before any work, a network whose scalar graph is past ``max_edges`` (the
    symbolic test and the diagnosis walk that graph; the numeric test samples every
    parameter); build it otherwise.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> size_first(sbp.mlp([1000, 1000, 1000]))
    Traceback (most recent call last):
    ...
    symbackprop.errors.GraphTooLargeError: Checking a formula needs the scalar graph of the 1000-1000-1000 network; it has 4,006,000 edges ...
    """
    if "backprop" not in net.__dict__:
        sizes = "-".join(map(str, net.sizes))
        check_graph_size(graph_size(net), max_edges,
                         f"Checking a formula needs the scalar graph of the {sizes} network; it")
        net.prepare_graph(None)


def _leaves(net) -> list[sp.Symbol]:
    return [*net.inputs, *net.targets, *net.params]


def _counterexample(net, i: int, values, exprs, u, t) -> Counterexample:
    leaves = set(_leaves(net))
    point = {s.name: float(values[s][i]) for s in _leaves(net)}
    used = sorted(
        {s for e in exprs for s in e.free_symbols if s not in leaves}, key=lambda s: s.name
    )
    inter = {s.name: float(values[s][i]) for s in used if s in values}
    return Counterexample(point, inter, float(u[i]), float(t[i]))


def _delta_free(net) -> dict[sp.Symbol, sp.Expr]:
    """Each δ written in a, w and y only (the δ recursion unrolled), a and z kept."""
    out: dict[sp.Symbol, sp.Expr] = {}
    for layer in range(net.n_layers, 0, -1):
        for j in range(1, net.sizes[layer] + 1):
            d = net.delta(layer, j)
            out[d] = net.backprop.delta[d].xreplace(out)
    return out


def _z_level(net, expr: sp.Expr, free: dict[sp.Symbol, sp.Expr]) -> sp.Expr:
    """``expr`` in z, w, x, y: expanded pieces folded back into z, then a = f(z), δ unrolled.

    A formula typed fully expanded holds each z's weighted sum literally (or negated,
    inside exp(−z)); naming them again keeps ``simplify`` on small expressions.
    """
    g = net.graph
    for name in nx.topological_sort(g):
        node = g.nodes[name]
        if node["kind"] in ("z", "a"):
            expr = expr.xreplace({node["expr"]: node["symbol"], -node["expr"]: -node["symbol"]})
    expr = expr.xreplace(free)
    to_z = {g.nodes[n]["symbol"]: g.nodes[n]["expr"] for n in g if g.nodes[n]["kind"] == "a"}
    return expr.xreplace(to_z)


def _symbolic(net, p, expr, truth, timeout: float) -> str:
    free = _delta_free(net)
    # Proved equal almost everywhere, as the numeric test compares: a step's value at its
    # jump is a convention (docs/notation.md), so heaviside(z) and H½(z) count as one.
    diffs = [step_at_zero(_z_level(net, expr, free) - _z_level(net, truth, free))]
    if diffs[0] == 0:
        return "equal"
    assume = sum_to_one(net)
    if assume is not None:
        # Cross-entropy targets are probability vectors (the numeric test draws them so, and
        # softmax's textbook δ = a − y needs it): the proof uses y_n = 1 − Σ others too.
        diffs = [d.xreplace(assume) for d in diffs]
        if sp.expand(diffs[0]) == 0:
            return "equal"
    try:
        # Only as large as prove_equal would try (the size is measured before building).
        user = expr.xreplace({net.J: net.loss(net.outputs, net.targets)})
        expanded = (net.backprop.expanded(user, max_size=SYMBOLIC_MAX_SIZE)
                    - net.grad(p, expand=True, max_size=SYMBOLIC_MAX_SIZE))
        diffs.append(expanded if assume is None else expanded.xreplace(assume))
    except ExpressionTooLargeError:
        pass
    return prove_equal([step_at_zero(d) for d in diffs], timeout=timeout)


def check(
    net,
    wrt: sp.Symbol | str,
    formula: str | sp.Expr,
    *,
    points: int = 64,
    seed: int = 0,
    symbolic: bool = True,
    timeout: float = 5.0,
    max_edges: int | None | object = CURRENT_LIMIT,
) -> CheckResult:
    """Check a hand-derived ∂J/∂p: right or wrong, where it fails, and how it is wrong.

    Parameters
    ----------
    net : Network
        The network.
    wrt : Symbol or str
        The parameter p (``"w2_1_1"``).
    formula : str or sympy.Expr
        The derived ∂J/∂p, in any of the network's symbols: x, y, w, b, z, a, δ
        (``delta2_1``). A string is read by the safe parser; nothing is executed.
    points : int
        Random points of the numeric test.
    seed : int
        Seed of those points.
    symbolic : bool
        Also try a symbolic proof (when the numeric test finds no difference).
    timeout : float
        Seconds the symbolic proof may take.
    max_edges : int or None
        The largest scalar graph to build (default: the limit
        :func:`~symbackprop.graph.graph_limit` set, 100,000 edges); None accepts any size.
        A larger network is refused (:class:`~symbackprop.errors.GraphTooLargeError`)
        before any work.

    Returns
    -------
    CheckResult
        ``.ok``, ``.counterexample``, ``.diagnosis``, ``.truth``; ``print`` it for the
        explanation.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
    >>> sbp.check(net, "w2_1_1", "(a2_1 - y1)*a2_1*(1 - a2_1)*a1_1").ok
    True
    >>> r = sbp.check(net, "w2_1_1", "(a2_1 - y1)*a1_1")
    >>> r.ok, r.diagnosis.kind
    (False, 'local_partial')
    >>> print(r.diagnosis.message)
    Your formula lacks the factor σ'(z2_1) = a2_1*(1 - a2_1) = ∂a⁽²⁾₁/∂z⁽²⁾₁, the local partial on the edge z⁽²⁾₁ → a⁽²⁾₁.
    """
    if not hasattr(net, "sizes") and hasattr(net, "definitions"):  # a Computation
        from .computation_check import check_computation

        return check_computation(net, wrt, formula, points=points, seed=seed, symbolic=symbolic, timeout=timeout)
    p = net.parameter(wrt)
    size_first(net, max_edges)
    expr = read_formula(net, formula)
    source = formula.strip() if isinstance(formula, str) else ""
    truth = net.grad(p)
    values = sample_points(net, points, seed)
    u, t = evaluate(expr, values), evaluate(truth, values)
    valid = np.isfinite(t)
    agree = close(u, t)
    bad = np.flatnonzero(valid & ~agree)
    n_valid = int(valid.sum())
    outcomes: dict[str, str] = {}
    tests = ["numeric"]
    subject = f"∂J/∂{text_name(p)}"
    if bad.size:
        outcomes["numeric"] = f"differs at {bad.size} of {n_valid} random points"
        cex = _counterexample(net, int(bad[0]), values, (expr, truth), u, t)
        found = diagnose_gradient(net, p, u[valid], t[valid], {s: v[valid] for s, v in values.items()})
        outcomes["symbolic"] = "not needed (numeric counterexample)"
        return CheckResult(False, p, expr, truth, cex, found[0] if found else None, tuple(found),
                           tuple(tests), outcomes, subject, source)
    numeric_ok = n_valid >= MIN_POINTS
    outcomes["numeric"] = (
        f"agrees at all {n_valid} random points" if numeric_ok
        else f"inconclusive: only {n_valid} valid points"
    )
    if symbolic:
        tests.append("symbolic")
        outcome = _symbolic(net, p, expr, truth, timeout)
        outcomes["symbolic"] = describe(outcome, timeout)
        if outcome == "equal" and sum_to_one(net) is not None:
            outcomes["symbolic"] += f", {SUM_TO_ONE}"
        ok = outcome == "equal" or numeric_ok
    else:
        ok = numeric_ok
    return CheckResult(ok, p, expr, truth, None, None, (), tuple(tests), outcomes, subject, source)


@dataclass(frozen=True)
class FileLine:
    """One line of a formula file and its verdict (``result``) or its error."""

    lineno: int
    name: str
    text: str
    result: CheckResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the line was read and its formula is right."""
        return self.result is not None and self.result.ok

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        out = {"line": self.lineno, "wrt": self.name, "formula_text": self.text}
        if self.error is not None:
            return {**out, "error": self.error}
        return {**out, **self.result.to_dict()}


def parse_lines(text: str) -> list[tuple[int, str, str]]:
    """``(line number, name, formula)`` for each ``name: formula`` line; # starts a comment.

    Examples
    --------
    >>> parse_lines("# mine\\nw2_1_1: (a2_1 - y1)*a1_1  # first try\\n\\ndJ/db2_1 : a2_1 - y1")
    [(2, 'w2_1_1', '(a2_1 - y1)*a1_1'), (4, 'b2_1', 'a2_1 - y1')]
    """
    out = []
    for i, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, formula = line.partition(":")
        if not sep:
            raise FormulaError(f"Line {i}: expected 'name: formula' (e.g. 'w2_1_1: delta2_1*a1_1'); got {line!r}.")
        name = name.strip()
        if name.startswith("dJ/d"):
            name = name[4:].strip()
        out.append((i, name, formula.strip()))
    return out


def check_file(net, path: str | os.PathLike, **options) -> list[FileLine]:
    """Check every ``name: formula`` line of a text file; # starts a comment.

    A line that cannot be read gets an ``error`` and the others are still checked.

    Parameters
    ----------
    net : Network
    path : str or PathLike
        The file, UTF-8.
    **options
        Passed to :func:`check` (``points``, ``seed``, ``symbolic``, ``timeout``,
        ``max_edges``; a network past ``max_edges`` is refused before the file is read).

    Examples
    --------
    >>> import symbackprop as sbp, tempfile, pathlib
    >>> net = sbp.mlp([1, 1], activation="identity")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d, "mine.txt")
    ...     _ = f.write_text("b1_1: a1_1 - y1\\nw1_1_1: a1_1 - y1\\nw9: 1\\n")
    ...     [(line.lineno, line.ok, line.error is None) for line in sbp.check_file(net, f)]
    [(1, True, True), (2, False, True), (3, False, False)]
    """
    from ..files import read_bytes  # a regular file (or -) of bounded size: never /dev/zero

    size_first(net, options.get("max_edges", CURRENT_LIMIT))
    try:
        text = read_bytes(path, what="formula file", limit_name="text_bytes",
                          argument=None, stdin=True).decode("utf-8")
    except UnicodeDecodeError:
        raise SymbackpropError(f"Formula file {str(path)!r} is not UTF-8 text.") from None
    out = []
    for lineno, name, formula in parse_lines(text):
        try:
            out.append(FileLine(lineno, name, formula, check(net, name, formula, **options)))
        except SymbackpropError as exc:
            out.append(FileLine(lineno, name, formula, error=str(exc)))
    return out

