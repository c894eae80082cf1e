"""Second order on computations: g.hessian(p, q), g.hessian_derivation(p, q), g.jacobian().

Oracles: ``sympy.hessian`` / ``sympy.diff`` of the fully substituted loss and outputs (each
definition written into the next here, in tests/test_compile_computation.py, not by the
library), evaluated at 30 digits with mpmath; central differences of the compiled gradient;
and the other level of the design, the compiled ``ComputationModel.hessian`` /
``input_jacobian`` (themselves checked against sympy in test_compile_computation*.py).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from test_compile_computation import CASES, build, substituted

import symbackprop as sbp
from symbackprop.computation_derivation import point_values
from symbackprop.computations import realize
from symbackprop.errors import ComputationError, ExpressionTooLargeError

SEED = 20261126


def sample(g, seed=SEED):
    rng = np.random.default_rng(seed)
    params = {p: float(rng.normal(0.0, 0.8)) for p in g.params}
    x = {s: float(rng.normal(0.0, 1.0)) for s in g.inputs}
    y = {s: float(rng.uniform(0.1, 0.9)) for s in g.targets}
    return params, x, y


def at_30_digits(exprs, g, values):
    """Each of ``exprs`` (a SymPy Matrix or list) at ``values``, computed at 30 digits."""
    symbols = [*g.params, *g.inputs, *g.targets]
    f = sp.lambdify(symbols, exprs, modules="mpmath", cse=True)
    with mpmath.workdps(30):
        out = f(*[mpmath.mpf(values[s]) for s in symbols])
        return np.array(out.tolist() if hasattr(out, "tolist") else out, dtype=float)


def symbolic_hessian(g, params, x, y):
    """Every ∂²J/∂p∂q from g.hessian_derivation(p, q).at(...), one derivation per q."""
    out = np.empty((len(g.params),) * 2)
    for j, q in enumerate(g.params):
        for i, p in enumerate(g.params):
            h = g.hessian_derivation(p, q).at({**params, **x, **y})
            out[i, j] = h.value(h.compact)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_compact_hessian_against_sympy_the_compiled_model_and_symmetry(name):
    g = build(name)
    params, x, y = sample(g)
    H = symbolic_hessian(g, params, x, y)
    want = at_30_digits(sp.hessian(substituted(g), g.params), g, {**params, **x, **y})
    np.testing.assert_allclose(H, want, rtol=1e-9, atol=1e-11)
    X = np.array([[x[s] for s in g.inputs]])
    Y = np.array([[y[s] for s in g.targets]])
    compiled = g.compile().hessian(params, X, Y if g.targets else None)
    np.testing.assert_allclose(H, compiled, rtol=1e-9, atol=1e-11)
    # ∂²J/∂p∂q and ∂²J/∂q∂p come from two different recursions (along q, along p)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["skip", "shared", "bce"])
def test_expanded_hessian_is_sympy_diff_of_the_substituted_loss_at_30_digits(name):
    g = build(name)
    J = substituted(g)
    leaves = [*g.params, *g.inputs, *g.targets]
    pairs = [(g.params[0], g.params[-1]), (g.params[1], g.params[1]), (g.params[-1], g.inputs[0])]
    for p, q in pairs:
        got = g.hessian(p, q, expand=True)
        assert got.free_symbols <= set(leaves)
        want = sp.diff(J, p, q)
        f = sp.lambdify(leaves, [got, want], modules="mpmath")
        with mpmath.workdps(30):
            for seed in (1, 2):
                params, x, y = sample(g, seed)
                values = {**params, **x, **y}
                a, b = f(*[mpmath.mpf(values[s]) for s in leaves])
                assert abs(a - b) <= mpmath.mpf("1e-25") * (1 + abs(b)), (p, q)


@pytest.mark.parametrize("name", ["skip", "shared", "mixed"])
def test_hessian_against_central_differences_of_the_compiled_gradient(name):
    g = build(name)
    params, x, y = sample(g)
    X = np.array([[x[s] for s in g.inputs]])
    Y = np.array([[y[s] for s in g.targets]])
    model = g.compile()
    H = symbolic_hessian(g, params, x, y)
    h = 1e-6
    for j, q in enumerate(g.params):
        up, down = dict(params), dict(params)
        up[q] += h
        down[q] -= h
        column = (np.array(list(model.gradient(up, X, Y).values()))
                  - np.array(list(model.gradient(down, X, Y).values()))) / (2 * h)
        np.testing.assert_allclose(H[:, j], column, rtol=1e-5, atol=1e-7)


def test_weight_sharing_sums_the_second_derivative_over_both_uses():
    g = sbp.computation("""
        h1 = tanh(w*x1)
        h2 = tanh(w*x2)
        J = (h1 + h2 - y)**2 / 2
    """, params="w", inputs="x1 x2", targets="y")
    h = g.hessian_derivation("w", "w")
    # w moves both hidden nodes: two tangents, and the loss's adjoints of both move
    assert set(h.tangent) == {sp.Symbol("vdot_h1", real=True), sp.Symbol("vdot_h2", real=True)}
    assert set(h.adjoint) == {sp.Symbol("deltadot_h1", real=True), sp.Symbol("deltadot_h2", real=True)}
    params, x, y = {"w": 0.7}, {"x1": 0.3, "x2": -1.2}, {"y": 0.4}
    want = at_30_digits([sp.diff(substituted(g), g.symbol("w"), 2)], g,
                        {g.symbol(k): v for k, v in {**params, **x, **y}.items()})[0]
    at = h.at({**params, **x, **y})
    assert at.value(at.compact) == pytest.approx(want, rel=1e-12)


def test_a_residual_node_reached_twice_gets_both_terms():
    g = sbp.computation("""
        a = w*x
        f = tanh(v*a)
        r = a + f
        J = (r - y)**2 / 2
    """, params="w v", inputs="x", targets="y")
    h = g.hessian_derivation("w", "v")
    # v moves f and r, not a: a's tangent is absent; δ_a (used by ∂J/∂w) moves through f and r
    assert [s.name for s in h.tangent] == ["vdot_f", "vdot_r"]
    assert sp.Symbol("deltadot_a", real=True) in h.adjoint
    params, x, y = sample(g)
    want = at_30_digits([sp.diff(substituted(g), g.symbol("w"), g.symbol("v"))], g, {**params, **x, **y})[0]
    at = h.at({**params, **x, **y})
    assert at.value(at.compact) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("sizes, acts, loss", [
    ([2, 2, 1], "sigmoid", "quadratic"),
    ([2, 2, 2], ["tanh", "softmax"], "cross_entropy"),
])
def test_an_mlp_as_a_computation_has_the_mlps_hessian(sizes, acts, loss):
    net = sbp.mlp(sizes, acts, loss)
    c = net.as_computation()
    rng = np.random.default_rng(SEED)
    params = {p: float(rng.normal(0.0, 0.8)) for p in net.params}
    x, y = rng.normal(size=sizes[0]), rng.uniform(0.1, 0.9, size=sizes[-1])
    named = {**params, **dict(zip(net.inputs, x)), **dict(zip(net.targets, y))}
    for p, q in [(net.params[0], net.params[-1]), (net.params[2], net.params[2]), (net.params[-2], net.params[1])]:
        mlp = net.hessian_derivation(p, q).at(params, x, y)
        comp = c.hessian_derivation(p, q).at(named)
        assert comp.value(comp.compact) == pytest.approx(mlp.value(mlp.compact), rel=1e-10, abs=1e-13)


@pytest.mark.parametrize("name", ["skip", "shared", "mixed"])
def test_jacobian_against_sympy_diff_of_the_outputs_and_the_compiled_model(name):
    g = build(name)
    params, x, y = sample(g)
    done: dict[sp.Symbol, sp.Expr] = {}
    for s, e in g.definitions:
        done[s] = e.xreplace(done)
    want = at_30_digits(sp.Matrix([[sp.diff(done[o], i) for i in g.inputs] for o in g.outputs]), g,
                        {**params, **x, **y})
    M = g.jacobian()
    assert M.shape == (len(g.outputs), len(g.inputs))
    values = point_values(g, {**params, **x, **y})
    compact = np.array([[float(sp.N(realize(e).xreplace(values), 20)) for e in row]
                        for row in M.tolist()])
    np.testing.assert_allclose(compact, want, rtol=1e-10, atol=1e-12)
    expanded = at_30_digits(g.jacobian(expand=True), g, {**params, **x, **y})
    np.testing.assert_allclose(expanded, want, rtol=1e-12, atol=1e-14)
    X = np.array([[x[s] for s in g.inputs]])
    np.testing.assert_allclose(g.compile().input_jacobian(params, X)[0], want, rtol=1e-9, atol=1e-11)


def test_derivation_prints_every_step_in_text_latex_markdown_and_json():
    g = build("skip")
    h = g.hessian_derivation("w1", "w2")
    text = h.text()
    assert text.splitlines()[0].startswith("∂²J/∂w₁∂w₂ in the computation J")
    assert "Forward tangent of w₂" in text and "v̇ₒ = " in text and "δ̇ₕ = " in text
    assert r"\dot{v}_{o}" in h.latex() and r"\dot{\delta}_{h}" in h.latex()
    assert h.markdown().startswith("### $")
    d = h.to_dict()
    assert d["compact"] == sbp.to_str(h.compact) and "vdot_o" in d["tangent"]
    params, x, y = sample(g)
    at = h.at({**params, **x, **y})
    lines = [line for sec in at.document().sections for line in sec.lines if line.expr is not None]
    assert all(line.value is not None for line in lines)  # every step has its number
    assert "with the value (≈) of every step at w₁ = " in at.text()
    # typeset in MathML (as the report and explorer do): well-formed, dotted heads as accents
    import xml.etree.ElementTree as ET

    page = sbp.printing.print_mathml(at.document())
    ET.fromstring(page)
    assert '<msub><mover accent="true"><mi>v</mi><mo>&#x2D9;</mo></mover><mi>o</mi></msub>' in page
    assert '<mover accent="true"><mi>δ</mi><mo>&#x2D9;</mo></mover><mi>h</mi>' in page
    assert "vdot" not in page and "deltadot" not in page
    mlp = sbp.printing.print_mathml(sbp.mlp([2, 2, 1]).hessian_derivation("w1_1_1", "w2_1_1").document())
    assert "dot" not in mlp  # the MLP's ż, ȧ, δ̇ too: '<mover accent="true"><mi>z</mi>...'
    assert '<msubsup><mover accent="true"><mi>δ</mi><mo>&#x2D9;</mo></mover><mn>1</mn><mn>(1)</mn></msubsup>' in mlp


def test_second_order_names_are_reserved_and_bad_variables_refused():
    with pytest.raises(ComputationError, match="vdot_"):
        sbp.computation("vdot_h = w*x\nJ = vdot_h**2", params="w", inputs="x")
    with pytest.raises(ComputationError, match="deltadot_"):
        sbp.computation("J = w*x", params="w deltadot_u", inputs="x")
    g = build("skip")
    with pytest.raises(ComputationError, match="'h' is a defined node; second derivatives"):
        g.hessian("h", "w1")
    with pytest.raises(Exception, match="Did you mean 'w1'"):
        g.hessian("w1", "ww1")


def test_expanded_form_is_refused_past_max_size_before_it_is_built():
    g = build("mixed")
    with pytest.raises(ExpressionTooLargeError, match=r"d2J/dadb .*limit 10\)"):
        g.hessian("a", "b", expand=True, max_size=10)


def test_activations_inside_a_formula_are_written_out_in_what_hessian_returns():
    g = sbp.computation("u = w*x\nJ = sigmoid(u)**2 + softplus(w)", params="w", inputs="x")
    H = g.hessian("w", "w")
    assert not H.atoms(sbp.computations.Applied)  # plain SymPy, as g.grad returns: lambdify works
    assert "softplus" in g.hessian_derivation("w", "w").text()  # printed as the function
    at = g.hessian_derivation("w", "w").at(w=0.3, x=-1.2)
    want = at_30_digits([sp.diff(substituted(g), g.symbol("w"), 2)], g,
                        {g.symbol("w"): 0.3, g.symbol("x"): -1.2})[0]
    assert at.value(H) == pytest.approx(want, rel=1e-12)
