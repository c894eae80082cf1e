"""``sbp.explain`` and the CLI of computations (explain, derive --file); check and pictures
on computations. Gradients against ``sympy.diff`` of the expression typed in SymPy directly."""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp
from bounded import run_cli

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.explaining import decompose

x, y, z = (sp.Symbol(n, real=True) for n in "xyz")

CASES = [  # typed, the same in SymPy, a point
    ("sin(x*y) + exp(x**2)", sp.sin(x * y) + sp.exp(x**2), {"x": 1, "y": 2}),
    ("x*y + x*y*z", x * y + x * y * z, {"x": 0.5, "y": -1.5, "z": 2}),
    ("tanh(x)**2 / (1 + x**2)", sp.tanh(x) ** 2 / (1 + x**2), {"x": 0.3}),
    ("sigmoid(x*y - 1) * log(1 + exp(y))", (1 / (1 + sp.exp(-(x * y - 1)))) * sp.log(1 + sp.exp(y)), {"x": 0.2, "y": 0.7}),
    ("sqrt(x**2 + y**2)", sp.sqrt(x**2 + y**2), {"x": 3, "y": 4}),
    ("-x + 2*x - x**3", -x + 2 * x - x**3, {"x": 1.5}),
]


@pytest.mark.parametrize("typed, expr, at", CASES)
def test_chain_rule_equals_sympy_diff_and_central_differences(typed, expr, at):
    for var in sorted({s.name for s in expr.free_symbols}):
        e = sbp.explain(typed, wrt=var, at=at)
        assert e.agrees
        point = {sp.Symbol(k, real=True): sp.Rational(str(v)) for k, v in at.items()}
        want = sp.N(sp.diff(expr, sp.Symbol(var, real=True)).xreplace(point), 30)
        total = e.derivation.chain_sum if e.derivation.chain_sum is not None else e.derivation.compact
        got = sp.N(e.computation.expanded(total).xreplace(point), 30)
        assert abs(got - want) < 1e-25
        f = sp.lambdify(sorted(expr.free_symbols, key=lambda s: s.name), expr, "math")
        names = sorted(s.name for s in expr.free_symbols)
        up = [at[n] + (1e-6 if n == var else 0) for n in names]
        down = [at[n] - (1e-6 if n == var else 0) for n in names]
        fd = (f(*up) - f(*down)) / 2e-6
        assert math.isclose(e.derivation.value(total), fd, rel_tol=1e-6, abs_tol=1e-9)


def test_decomposition_is_one_operation_per_node_in_evaluation_order_and_shares():
    lines, names = decompose("sin(x*y) + exp(x**2)")
    assert [f for _, f in lines] == ["x * y", "sin(u1)", "x ** 2", "exp(u3)", "u2 + u4"]
    assert names == ["x", "y"] and lines[-1][0] == "f"
    lines, _ = decompose("sin(x*y) + cos(x*y)")  # x*y computed once, used twice
    assert [f for _, f in lines] == ["x * y", "sin(u1)", "cos(u1)", "u2 + u3"]
    lines, _ = decompose("a + b + c")  # (a + b) + c, two binary nodes
    assert [f for _, f in lines] == ["a + b", "u1 + c"]
    lines, _ = decompose("x")
    assert lines == [("f", "x")]
    lines, _ = decompose("u1 * f")  # the user's names are not reused for nodes
    assert lines == [("F", "u1 * f")]


def test_paths_listed_for_a_shared_subexpression():
    e = sbp.explain("sin(x*y) + cos(x*y)", wrt="x")
    assert e.derivation.n_paths == 2
    text = e.text()
    assert "x → u₁ → u₂ → f" in text and "x → u₁ → u₃ → f" in text
    assert "agrees with sympy.diff" in text


def test_explain_errors():
    with pytest.raises(sbp.SpecError, match="not a variable of the expression.*Did you mean 'x'"):
        sbp.explain("sin(x)", wrt="xx")
    with pytest.raises(sbp.FormulaError, match="unknown function 'sinn'.*did you mean 'sin'"):
        sbp.explain("sinn(x)")
    with pytest.raises(sbp.ComputationError, match="no variable"):
        sbp.explain("2 + 3")
    with pytest.raises(sbp.FormulaError, match="only calls of named functions"):
        sbp.explain("__import__('os').getcwd()")


def test_formats():
    e = sbp.explain("x**2*y", wrt="y", at={"x": 2, "y": 1})
    assert e.latex().startswith(r"\begin{aligned}") and e.markdown().startswith("### ")
    assert "≈ 4" in e.text()


# ------------------------------------------------------------------ the command line
def test_cli_explain_text_and_json(capsys):
    assert main(["explain", "sin(x*y) + exp(x**2)", "--wrt", "x", "--at", "x=1,y=2"]) == 0
    out = capsys.readouterr().out
    assert "u₁ = x⋅y" in out and "Paths from x to f (2)" in out and "≈ 4.60427" in out
    assert main(["explain", "x*y", "--wrt", "y", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agrees"] is True and data["compact"] == "x"


def test_cli_explain_at_json_file(tmp_path, capsys):
    values = tmp_path / "v.json"
    values.write_text('{"x": 1, "y": 2}')
    assert main(["explain", "x*y", "--at", str(values)]) == 0
    assert "≈ 2" in capsys.readouterr().out


MODEL = """\
# a tanh unit with a skip connection
params: w1 b1 w2 w3 b2
inputs: x
targets: y

h = tanh(w1*x + b1)
o = sigmoid(w2*h + w3*x + b2)   # x reaches o twice
J = (o - y)**2 / 2
"""


def test_cli_derive_file_with_values(tmp_path):
    model, values = tmp_path / "model.txt", tmp_path / "values.json"
    model.write_text(MODEL)
    point = {"w1": 0.5, "b1": 0.1, "w2": -0.3, "w3": 0.8, "b2": 0.0, "x": 1.0, "y": 0.0}
    values.write_text(json.dumps(point))
    r = run_cli("derive", "--file", str(model), "--wrt", "w1", "--at", str(values))
    assert r.returncode == 0, r.stderr
    g = sbp.load_computation(model)
    want = g.derivation("w1").at(point).value(g.grad("w1"))
    assert "Paths from w₁ to J (1)" in r.stdout and f"≈ {want:.6g}" in r.stdout


def test_cli_derive_file_errors_name_the_file_line(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(MODEL.replace("o = sigmoid(w2*h", "o = sigmoid(w2*hh"))
    assert main(["derive", "--file", str(model), "--wrt", "w1"]) == 2
    err = capsys.readouterr().err
    assert "on line 7" in err and "did you mean 'h'" in err and "\n" not in err.strip()
    model.write_text("parms: w\nJ = w")
    assert main(["derive", "--file", str(model)]) == 2
    assert "unknown header 'parms:' (did you mean 'params'?)" in capsys.readouterr().err
    assert main(["derive", "--file", str(model), "--layers", "2,1"]) == 2
    assert main(["derive", "--wrt", "w1"]) == 2
    assert "--layers (a network) or --file" in capsys.readouterr().err


def test_cli_derive_file_expand_and_all(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(MODEL)
    assert main(["derive", "--file", str(model), "--expand", "--format", "json", "--wrt", "b2"]) == 0
    data = json.loads(capsys.readouterr().out)
    g = sbp.load_computation(model)
    assert sp.simplify(sp.sympify(data["b2"]["expanded"]) - g.grad("b2", expand=True).xreplace(
        {s: sp.Symbol(s.name) for s in g.grad("b2", expand=True).free_symbols})) == 0
    assert main(["derive", "--file", str(model)]) == 0
    assert capsys.readouterr().out.count("Paths from") == 5  # every parameter


# ------------------------------------------------------------------ check and pictures
def test_check_on_a_computation():
    g = sbp.computation(
        MODEL.split("\n\n", 1)[1], params="w1 b1 w2 w3 b2", inputs="x", targets="y")
    assert sbp.check(g, "w3", "(o - y)*o*(1 - o)*x").ok
    r = sbp.check(g, "x", "delta_h*w1*(1 - h**2)")
    assert not r.ok and r.diagnosis.kind == "missing_paths" and "x → o → J" in r.diagnosis.message
    r = sbp.check(g, "w1", "(o - y)*(1 - h**2)*x")
    assert r.diagnosis.kind == "local_partial" and "h → o" in r.diagnosis.message
    r = sbp.check(g, "b2", "2*(o - y)*o*(1 - o)")
    assert r.diagnosis.kind == "constant_factor"
    with pytest.raises(sbp.FormulaError, match="unknown name 'oo'"):
        sbp.check(g, "b2", "oo")


def test_pictures_of_a_computation():
    g = sbp.computation(MODEL.split("\n\n", 1)[1], params="w1 b1 w2 w3 b2", inputs="x", targets="y")
    d = sbp.draw_computation_graph(g)
    assert sorted(d.nodes) == sorted(g.graph.nodes) and len(d.edges) == g.graph.number_of_edges()
    d = sbp.draw_gradient_paths(g, "x")
    assert sorted(d.highlighted) == [("h", "o"), ("o", "J"), ("x", "h"), ("x", "o")]
    assert d.labels["o", "J"] == "$o - y$"


def test_layer_only_features_say_so_in_one_line():
    g = sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    with pytest.raises(sbp.SpecError, match="only for layered networks"):
        sbp.check_layer(g, "dW1", "delta1 @ x.T")
    with pytest.raises(sbp.SpecError, match="only for layered networks"):
        g.equations()


def test_explain_at_needs_every_variable(capsys):
    with pytest.raises(sbp.SpecError, match=r"No value for y: give a value for every variable \(x, y\)"):
        sbp.explain("x*y", at={"x": 1})
    assert main(["explain", "x*y", "--at", "x=1"]) == 2
    assert "No value for y" in capsys.readouterr().err


def test_cli_render_file(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(MODEL)
    for what in ("graph", "paths", "formula", "expression"):
        out = tmp_path / f"{what}.png"
        assert main(["render", "--file", str(model), "--what", what, "--wrt", "x", "--out", str(out)]) == 0
        assert out.stat().st_size > 1000
    assert main(["render", "--file", str(model), "--what", "equations", "--out", str(tmp_path / "e.png")]) == 2
    assert "only for layered networks" in capsys.readouterr().err


def test_draw_formula_takes_a_computation_derivation_and_an_explanation():
    g = sbp.computation("h = tanh(w*x)\nJ = (h - y)**2", params="w", inputs="x", targets="y")
    assert sbp.draw_formula(g.derivation("w")).kind
    assert sbp.draw_formula(sbp.explain("sin(x*y)", wrt="x")).kind


def test_subexpressions_equal_by_value_are_one_node():
    lines, _ = decompose("sin(x*y) + cos(y*x)")
    assert [f for _, f in lines] == ["x * y", "sin(u1)", "cos(u1)", "u2 + u3"]


def test_cli_check_a_computation_file(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(MODEL)
    assert main(["check", "--computation", str(model), "--wrt", "w3", "--formula", "(o - y)*o*(1 - o)*x"]) == 0
    assert "RIGHT" in capsys.readouterr().out
    assert main(["check", "--computation", str(model), "--wrt", "x", "--formula", "delta_h*w1*(1 - h**2)"]) == 1
    assert "missing: path 2: x → o → J" in capsys.readouterr().out
    assert main(["check", "--computation", str(model), "--wrt", "x"]) == 2


def test_cli_derive_file_json_and_latex(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(MODEL)
    assert main(["derive", "--file", str(model), "--wrt", "x", "--format", "json"]) == 0
    (data,) = json.loads(capsys.readouterr().out)
    assert data["variable"] == "x" and data["n_paths"] == 2 and len(data["products"]) == 2
    g = sbp.load_computation(model)
    # the compact form, read back by the safe parser in the computation's names, is grad(x)
    names = {n: g.symbol(n) for n in g.names} | {d.name: d for d in g.deltas}
    assert sbp.parse_formula(data["compact"], names) == g.grad("x")
    assert main(["derive", "--file", str(model), "--wrt", "w1,b1", "--format", "latex"]) == 0
    assert capsys.readouterr().out.count(r"\begin{aligned}") == 2


def test_a_long_sum_is_split_without_recursion():
    # a sum of 400 terms is a chain of 400 nested operations in Python's parse tree
    e = sbp.explain(" + ".join(f"sin({k}*x)" for k in range(1, 401)), wrt="x", at={"x": 0.3})
    assert len(e.computation.definitions) == 3 * 400 - 1 and e.agrees  # k*x, sin, and 399 sums
    assert e.derivation.n_paths == 400 and e.derivation.paths is None  # summarised past 16
    want = sum(k * math.cos(k * 0.3) for k in range(1, 401))
    assert math.isclose(e.derivation.value(e.derivation.compact), want, rel_tol=1e-9)
