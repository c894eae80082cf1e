"""Computations (named scalar definitions): gradients against independent oracles.

Each oracle composes the loss directly in SymPy (no parser, no graph, no reverse mode), takes
``sympy.diff`` of it and evaluates at 30 digits; central differences check the float64 values
of the derivation's steps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop.computations import adjoint_symbol
from symbackprop.derivation import MAX_PATHS

R = {n: sp.Symbol(n, real=True) for n in "w1 b1 w2 w3 b2 x y w v a b c x1 x2".split()}


def sig(t):
    return 1 / (1 + sp.exp(-t))


LECTURE = """
    h = tanh(w1*x + b1)
    o = sigmoid(w2*h + w3*x + b2)      # a skip connection: x reaches o twice

    J = (o - y)**2 / 2
"""


def lecture():
    return sbp.computation(LECTURE, params="w1 b1 w2 w3 b2", inputs="x", targets="y")


def lecture_oracle():
    w1, b1, w2, w3, b2, x, y = (R[n] for n in "w1 b1 w2 w3 b2 x y".split())
    return (sig(w2 * sp.tanh(w1 * x + b1) + w3 * x + b2) - y) ** 2 / 2


POINT = {"w1": 0.7, "b1": -0.2, "w2": -1.1, "w3": 0.4, "b2": 0.3, "x": 0.9, "y": 0.25}


def rational_point(names):
    return {R[n]: sp.Rational(str(POINT[n])) for n in names}


def at30(expr, point):
    return sp.N(expr.xreplace(point), 30)


def assert_grad_matches(g, oracle, names):
    point = rational_point(names)
    for p in g.params:
        got = at30(g.grad(p, expand=True), point)
        want = at30(sp.diff(oracle, R[p.name]), point)
        assert abs(got - want) <= sp.Float("1e-25", 30) * (1 + abs(want)), (p, got, want)


def central(f, point, name, h=1e-6):
    up, down = dict(point), dict(point)
    up[name] += h
    down[name] -= h
    return (f(up) - f(down)) / (2 * h)


def oracle_float(oracle):
    symbols = sorted(oracle.free_symbols, key=lambda s: s.name)
    fn = sp.lambdify(symbols, oracle, modules="math")
    return lambda pt: fn(*[pt[s.name] for s in symbols])


# ------------------------------------------------------------------ the example
def test_lecture_gradients_equal_sympy_diff_of_the_composed_loss():
    assert_grad_matches(lecture(), lecture_oracle(), POINT)


def test_lecture_compact_forms_are_in_named_nodes():
    g = lecture()
    h, o, x, y, w2 = (sp.Symbol(n, real=True) for n in "h o x y w2".split())
    d_o = adjoint_symbol("o")
    assert g.deltas[d_o] == o - y
    assert sp.expand(g.grad("w1") - d_o * w2 * o * (1 - o) * (1 - h**2) * x) == 0
    assert sp.expand(g.grad("w3") - (o - y) * o * (1 - o) * x) == 0
    assert set(g.gradients()) == set(g.params)


def test_graph_has_one_node_per_scalar_with_kinds_and_partials():
    g = lecture()
    kinds = {n: d["kind"] for n, d in g.graph.nodes(data=True)}
    assert kinds == {"w1": "param", "b1": "param", "w2": "param", "w3": "param", "b2": "param",
                     "x": "input", "y": "target", "h": "node", "o": "node", "J": "loss"}
    assert set(g.graph.predecessors("o")) == {"w2", "h", "w3", "x", "b2"}
    o, h, w2 = (sp.Symbol(n, real=True) for n in "o h w2".split())
    assert g.graph.edges["h", "o"]["partial"] == o * (1 - o) * w2
    assert g.outputs == (o,) and g.loss.name == "J"


def test_derivation_of_x_lists_both_paths_and_sums_them():
    g = lecture()
    d = g.derivation("x")
    assert d.n_paths == 2 and sorted(d.paths) == [["x", "h", "o", "J"], ["x", "o", "J"]]
    oracle = lecture_oracle()
    pt = rational_point(POINT)
    want = at30(sp.diff(oracle, R["x"]), pt)
    got = at30(g.expanded(d.chain_sum), pt)
    assert abs(got - want) < 1e-25
    text = d.text()
    assert "x → h → o → J" in text and "x → o → J" in text and "path 2" in text


def test_derivation_at_a_point_matches_central_differences():
    g = lecture()
    f = oracle_float(lecture_oracle())
    for var in ("w1", "b2", "x"):
        d = g.derivation(var).at({k: v for k, v in POINT.items() if k not in "xy"}, x=POINT["x"], y=POINT["y"])
        fd = central(f, POINT, var)
        assert math.isclose(d.value(d.compact), fd, rel_tol=1e-6, abs_tol=1e-9)
        assert math.isclose(d.value(d.chain_sum), fd, rel_tol=1e-6, abs_tol=1e-9)
        assert "≈" in d.text() and "≈" not in g.derivation(var).text()
    assert d.latex().startswith("\\begin{aligned}") and d.markdown().startswith("### ")


def test_at_names_what_is_missing_or_unknown():
    d = lecture().derivation("w1")
    with pytest.raises(sbp.SpecError, match="No value for .*b2"):
        d.at({"w1": 1.0, "b1": 0.0, "w2": 1.0, "w3": 1.0}, x=1.0, y=0.0)
    with pytest.raises(sbp.SpecError, match="'h'|h is not a parameter"):
        d.at(dict(POINT), h=1.0)


# ------------------------------------------------------------------ sharing and skips
def test_weight_sharing_sums_over_uses():
    g = sbp.computation("h1 = tanh(w*x1)\nh2 = tanh(w*x2)\nJ = (h1 + h2 - y)**2/2",
                        params="w", inputs="x1 x2", targets="y")
    w, x1, x2, y = (R[n] for n in "w x1 x2 y".split())
    oracle = (sp.tanh(w * x1) + sp.tanh(w * x2) - y) ** 2 / 2
    point = {w: sp.Rational(3, 5), x1: sp.Rational(-1, 2), x2: sp.Rational(6, 5), y: sp.Rational(1, 3)}
    assert abs(at30(g.grad("w", expand=True), point) - at30(sp.diff(oracle, w), point)) < 1e-25
    d = g.derivation("w")
    assert d.n_paths == 2 and len(d.products) == 2


def test_residual_a_plus_f_of_a():
    g = sbp.computation("a = w*x\nr = a + tanh(v*a)\nJ = (r - y)**2/2", params="w v", inputs="x", targets="y")
    w, v, x, y = (R[n] for n in "w v x y".split())
    oracle = (w * x + sp.tanh(v * w * x) - y) ** 2 / 2
    point = {w: sp.Rational(7, 10), v: sp.Rational(-3, 2), x: sp.Rational(1, 2), y: sp.Rational(1, 5)}
    for p in (w, v, x):
        assert abs(at30(g.grad(p.name, expand=True), point) - at30(sp.diff(oracle, p), point)) < 1e-25
    # one line using a twice is one edge whose partial holds both uses
    a = sp.Symbol("a", real=True)
    assert sp.expand(g.graph.edges["a", "r"]["partial"] - (1 + v * (1 - sp.tanh(v * a) ** 2))) == 0
    # the residual written as two nodes: two paths, summed
    g2 = sbp.computation("a = w*x\nf = tanh(v*a)\nr = a + f\nJ = (r - y)**2/2",
                         params="w v", inputs="x", targets="y")
    assert g2.derivation("a").n_paths == 2
    for p in (w, v, x):
        assert abs(at30(g2.grad(p.name, expand=True), point) - at30(sp.diff(oracle, p), point)) < 1e-25


def test_path_count_past_the_limit_is_summarised():
    lines, prev = [], "x"
    for i in range(10):  # each level doubles the paths: 2**10
        lines += [f"p{i} = sin(w*{prev})", f"q{i} = cos({prev})", f"u{i} = p{i} + q{i}"]
        prev = f"u{i}"
    g = sbp.computation("\n".join(lines + [f"J = {prev}"]), params="w", inputs="x")
    d = g.derivation("x")
    assert d.n_paths == 1024 > MAX_PATHS and d.paths is None and d.chain_sum is None
    assert "1,024 paths" in d.text()
    # the adjoint recursion still gives the gradient: against central differences
    x, w = R["x"], R["w"]
    e = x
    for _ in range(10):
        e = sp.sin(w * e) + sp.cos(e)
    f = sp.lambdify([x, w], e, "math")
    fd = (f(0.3 + 1e-6, 0.8) - f(0.3 - 1e-6, 0.8)) / 2e-6
    assert math.isclose(d.at(w=0.8, x=0.3).value(d.compact), fd, rel_tol=1e-6)


def test_expanded_form_is_size_guarded():
    lines, prev = [], "x"
    for i in range(30):
        lines.append(f"u{i} = tanh(w*{prev} + {prev}**2)")
        prev = f"u{i}"
    g = sbp.computation("\n".join(lines + [f"J = {prev}"]), params="w", inputs="x")
    with pytest.raises(sbp.ExpressionTooLargeError, match="expand=False"):
        g.grad("w", expand=True)
    assert g.grad("w").free_symbols  # the compact form is always there


# ------------------------------------------------------------------ the MLP as a computation
@pytest.mark.parametrize("sizes, act, loss", [
    ([2, 2, 1], "sigmoid", "quadratic"),
    ([2, 3, 2], "tanh", "mse"),
    ([1, 2, 1], ["softplus", "sigmoid"], "binary_cross_entropy"),
    ([2, 2, 2], ["tanh", "softmax"], "cross_entropy"),
])
def test_as_computation_gradients_equal_net_grad_and_the_compiled_model(sizes, act, loss):
    net = sbp.mlp(sizes, act, loss)
    g = net.as_computation()
    rng = np.random.default_rng(5)
    point = {p: sp.Rational(round(float(rng.normal(0, 0.8)), 3)) for p in net.params}
    point.update({s: sp.Rational(round(float(rng.normal()), 3)) for s in net.inputs})
    point.update({s: sp.Rational(round(float(rng.uniform(0.1, 0.9)), 3)) for s in net.targets})
    params = {p: float(point[p]) for p in net.params}
    X = np.array([[float(point[s]) for s in net.inputs]])
    Y = np.array([[float(point[s]) for s in net.targets]])
    compiled = net.compile().gradient(params, X, Y)
    for p in net.params:
        mine = at30(g.grad(p, expand=True), point)
        assert abs(mine - at30(net.grad(p, expand=True), point)) < 1e-25
        assert math.isclose(float(mine), compiled[p], rel_tol=1e-9, abs_tol=1e-12)


def test_as_computation_keeps_the_textbook_activation_partials():
    net = sbp.mlp([1, 1], "sigmoid")
    g = net.as_computation()
    a, z = net.a(1, 1), net.z(1, 1)
    assert g.graph.edges[z.name, a.name]["partial"] == a * (1 - a)
    soft = sbp.mlp([2, 3], "softmax", "cross_entropy")
    gs = soft.as_computation()
    _ = soft.backprop  # sets the partial of every edge of the MLP graph
    for u, v in [("z1_2", "a1_1"), ("z1_1", "a1_1")]:
        assert gs.graph.edges[u, v]["partial"] == soft.graph.edges[u, v]["partial"]


# ------------------------------------------------------------------ random computations
FUNCS = {
    "sin": sp.sin, "cos": sp.cos, "tanh": sp.tanh, "sigmoid": sig,
    "softplus": lambda t: sp.log(1 + sp.exp(t)), "": lambda t: t,
}
OPS = {"+": sp.Add, "*": sp.Mul, "-": lambda a, b: a - b}


@st.composite
def random_dags(draw):
    leaves = ["a", "b", "c", "x"]
    n = draw(st.integers(2, 6))
    lines, exprs = [], {name: R[name] for name in leaves}
    for i in range(1, n + 1):
        pool = leaves + [f"u{k}" for k in range(1, i)]
        op, fn = draw(st.sampled_from(sorted(OPS))), draw(st.sampled_from(sorted(FUNCS)))
        left = draw(st.sampled_from(pool))
        # u - u would cancel when the line is read, leaving a declared name unused
        right = draw(st.sampled_from([q for q in pool if q != left] if op == "-" else pool))
        body = f"{left} {op} {right}"
        lines.append(f"u{i} = {fn}({body})" if fn else f"u{i} = {body}")
        exprs[f"u{i}"] = FUNCS[fn](OPS[op](exprs[left], exprs[right]))
    lines.append("J = " + " + ".join(f"u{i}" for i in range(1, n + 1)))
    oracle = sp.Add(*[exprs[f"u{i}"] for i in range(1, n + 1)])
    used = sorted({name for line in lines for name in leaves if f"{name} " in line + " " or f"{name})" in line})
    return "\n".join(lines), oracle, used


@settings(max_examples=20, deadline=None)
@given(random_dags(), st.lists(st.integers(-9, 9), min_size=4, max_size=4))
def test_random_dags_match_sympy_diff(dag, values):
    source, oracle, used = dag
    params = [p for p in used if p != "x"]
    if not params:
        return
    g = sbp.computation(source, params=params, inputs="x" if "x" in used else "")
    point = {R[n]: sp.Rational(v, 10) for n, v in zip("abcx", values)}
    floats = {s.name: float(v) for s, v in point.items() if s.name in used}
    for var in [*params, *(["x"] if "x" in used else [])]:
        want = at30(sp.diff(oracle, R[var]), point)
        got = at30(g.grad(var, expand=True, max_size=None), point)
        assert abs(got - want) <= 1e-22 * (1 + abs(want)), (source, var)
        # the float64 adjoints of the derivation's .at, node by node
        d = g.derivation(var).at(floats)
        assert math.isclose(d.value(d.compact), float(want), rel_tol=1e-9, abs_tol=1e-12), (source, var)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("source, message", [
    ("h = tanh(w1*xx)\nJ = h", r"line 1 .*unknown name 'xx' \(did you mean 'x'\?\).*Allowed"),
    ("h = tanh(w1*x)\nh = 2*h\nJ = h", r"Line 2 defines 'h' again \(first defined on line 1\)"),
    ("h = w1*o\no = h*2\nJ = o", r"cycle, .*h .*o.*line"),
    ("h = w1*o\no = x*2\nJ = o + h", r"Line 1 \(h\) uses 'o' before its definition on line 2"),
    ("h = tahn(w1*x)\nJ = h", r"unknown function 'tahn' \(did you mean 'tanh'\?\)"),
    ("h = w1*x\nJ = x", r"'w1' never reach.*loss J"),
    ("x = w1\nJ = x", r"Line 1 defines 'x', which is declared as an input"),
    ("h + w1\nJ = 1", r"Line 1 .*is not a definition: write 'name = formula'"),
    ("exp = w1*x\nJ = exp", r"Line 1: 'exp' is a function of the formula parser"),
    ("delta_h = w1*x\nJ = delta_h", r"starts with 'delta_'"),
    ("# only a comment\n\n", r"no definitions"),
    ("h = w1*x**1000\nJ = h", r"max_exponent"),
])
def test_errors_name_the_line_the_problem_and_what_is_accepted(source, message):
    with pytest.raises(sbp.ComputationError, match=message) as info:
        sbp.computation(source, params="w1", inputs="x")
    assert "\n" not in str(info.value)


def test_declaration_errors():
    with pytest.raises(sbp.ComputationError, match="declared twice"):
        sbp.computation("J = w*x", params="w", inputs="w x")
    with pytest.raises(sbp.ComputationError, match="takes names"):
        sbp.computation("J = w*x", params=[1.5], inputs="x")
    with pytest.raises(sbp.ComputationError, match="outputs= names 'oo'.*did you mean 'o'"):
        sbp.computation("o = w*x\nJ = o", params="w", inputs="x", outputs="oo")
    with pytest.raises(sbp.UnknownNameError, match="Did you mean 'w1'"):
        lecture().grad("w11")


def test_line_limit_is_checked_before_reading():
    with pytest.raises(sbp.ComputationError, match="max_lines"):
        sbp.computation("J = w\n" * 20, params="w", limits=sbp.Limits(max_lines=10))


def test_never_evaluates_the_text():
    with pytest.raises(sbp.ComputationError, match="only calls of named functions"):
        sbp.computation("J = __import__('os').system('true')", params="w", inputs="x")


def test_a_long_chain_is_refused_cleanly_when_expanded_and_computed_when_compact():
    n = 1500
    lines = ["u0 = w*x", *(f"u{i} = tanh(u{i - 1})" for i in range(1, n)), f"J = u{n - 1}"]
    g = sbp.computation("\n".join(lines), params="w", inputs="x")
    assert g.grad("w") == adjoint_symbol("u1") * (1 - sp.Symbol("u1", real=True) ** 2) * R["x"]
    with pytest.raises(sbp.ExpressionTooLargeError, match="limit 100,000"):
        g.grad("w", expand=True)
    with pytest.raises(sbp.ExpressionTooLargeError, match="nested too deeply"):
        g.grad("w", expand=True, max_size=None)
    # the numbers come from the compiled program, node by node: against the chain rule by hand
    d = g.derivation("w").at(w=0.5, x=1.0)
    v, slope = 0.5, 1.0
    for _ in range(1, n):
        v = math.tanh(v)
        slope *= 1 - v * v
    assert math.isclose(d.value(d.compact), slope, rel_tol=1e-9)
