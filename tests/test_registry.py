"""The activation registry is the one home of each activation: parser, init, kinks, printing."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.activations import ACTIVATIONS, INIT_SCHEMES, Z
from symbackprop.checking.evaluate import evaluate
from symbackprop.errors import SpecError
from symbackprop.notation import to_latex, to_str, to_text
from symbackprop.params import INITIALISERS, init_arrays
from symbackprop.parse import FUNCTIONS, parse_formula

ELEMENTWISE = [n for n, a in ACTIVATIONS.items() if a.elementwise and n != "identity"]
AWAY_FROM_KINKS = np.array([-2.3, -0.7, -0.05, 0.05, 0.4, 1.9])


def _close_to_diff(expr: sp.Expr, f: sp.Expr) -> bool:
    """``expr`` equals d f/dz at points away from 0 (SymPy's diff, evaluated independently)."""
    truth = sp.lambdify(Z, sp.diff(f, Z), modules="mpmath")
    mine = evaluate(expr, {Z: AWAY_FROM_KINKS})
    return bool(np.allclose(mine, [float(truth(v)) for v in AWAY_FROM_KINKS], rtol=1e-12, atol=1e-14))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_activation_is_a_parser_function_with_its_textbook_derivative(name):
    act = ACTIVATIONS[name]
    z = sp.Symbol("z")  # plain: the parser hands back what it was given
    assert parse_formula(f"{name}(z)", {"z": z}) == act(z)
    prime = parse_formula(f"{name}_prime(z)", {"z": Z})
    assert _close_to_diff(prime, act.expr)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_registered_derivatives_are_sympy_diff_away_from_kinks(name):
    act = ACTIVATIONS[name]
    assert _close_to_diff(act.derivative(), act.expr)


def test_declared_init_scheme_is_used():
    spec_for = {}
    for scheme in INIT_SCHEMES:
        sbp.register_activation(f"demo_{scheme}", "z**3 + z", init=scheme)
        spec_for[scheme] = sbp.Spec([3, 4, 1], [f"demo_{scheme}", "identity"])
    try:
        W_he = init_arrays(spec_for["he"], seed=7)[0][0]
        W_glorot = init_arrays(spec_for["glorot"], seed=7)[0][0]
        rng = np.random.default_rng(7)
        assert np.array_equal(W_he, rng.normal(0.0, np.sqrt(2.0 / 3), size=(4, 3)))
        rng = np.random.default_rng(7)
        limit = np.sqrt(6.0 / 7)
        assert np.array_equal(W_glorot, rng.uniform(-limit, limit, size=(4, 3)))
    finally:
        for scheme in INIT_SCHEMES:
            sbp.unregister_activation(f"demo_{scheme}")
    assert set(INITIALISERS) == set(INIT_SCHEMES)
    assert ACTIVATIONS["relu"].init == ACTIVATIONS["leaky_relu"].init == "he"
    with pytest.raises(SpecError, match="Unknown initialisation scheme 'lecun'.*glorot, he"):
        sbp.register_activation("demo_bad", "z", init="lecun")
    assert "demo_bad" not in ACTIVATIONS and "demo_bad" not in FUNCTIONS


def test_register_and_unregister_feed_the_parser():
    sbp.register_activation("cube_demo", "z**3")
    try:
        assert parse_formula("cube_demo(2)", {}) == 8
        assert parse_formula("cube_demo_prime(z)", {"z": Z}) == 3 * Z**2
    finally:
        sbp.unregister_activation("cube_demo")
    assert "cube_demo" not in FUNCTIONS and "cube_demo_prime" not in FUNCTIONS
    with pytest.raises(SpecError, match="'exp' is already a function of the formula parser"):
        sbp.register_activation("exp", "z")


def test_softmax_entry_holds_its_layer_and_jacobian():
    soft = ACTIVATIONS["softmax"]
    z = sp.symbols("z1:4", real=True)
    outs = soft.layer(z)
    a = sp.symbols("a1:4", real=True)
    for i in range(3):
        for j in range(3):
            textbook = soft.jacobian(i, j, a).xreplace(dict(zip(a, outs)))
            assert sp.simplify(textbook - sp.diff(outs[i], z[j])) == 0


def test_plain_symbols_are_matched_by_name_at_the_edges():
    net = sbp.mlp([2, 2, 1], activation="abs(z)", loss="abs(a2_1 - y1)")
    plain = {sp.Symbol(p.name): 0.3 + 0.1 * i for i, p in enumerate(net.params)}
    assert net.grad(sp.Symbol("w2_1_1")) == net.grad("w2_1_1") == net.grad(net.w(2, 1, 1))
    X, Y = np.array([[0.5, -1.0], [1.5, 0.25]]), np.array([[0.2], [0.9]])
    model = net.compile()
    by_real = model.gradient({net.symbol(k.name): v for k, v in plain.items()}, X, Y)
    assert model.gradient(plain, X, Y) == by_real
    # Results answer to names and plain symbols too.
    assert by_real[sp.Symbol("w1_2_1")] == by_real["w1_2_1"] == by_real[net.w(1, 2, 1)]
    assert sp.Symbol("b2_1") in by_real and "b9_9" not in by_real
    with pytest.raises(KeyError):
        by_real[sp.Symbol("b9_9")]
    d = net.derivation(sp.Symbol("w1_1_1")).at(plain, x=X[0], y=Y[0])
    assert np.isfinite(d.value(d.compact))
    assert d.value(sp.Symbol("a2_1") - sp.Symbol("y1")) == d.value(net.a(2, 1) - net.y(1))
    a, y = sp.Symbol("a2_1"), sp.Symbol("y1")
    formula = sp.sign(a - y) * sp.sign(sp.Symbol("z2_1")) * sp.Abs(sp.Symbol("z1_1"))
    r = sbp.check(net, sp.Symbol("w2_1_1"), formula, symbolic=False)
    assert r.ok, str(r)
    loss = sbp.mlp([1, 1], activation="identity", loss=sp.Abs(sp.Symbol("a1_1") - sp.Symbol("y1")))
    assert loss.grad("b1_1") == sp.sign(loss.a(1, 1) - loss.y(1))


def test_notation_reaches_inside_functions():
    net = sbp.mlp([2, 2, 1], activation="leaky_relu")
    z1, z2 = net.z(1, 1), net.z(1, 2)
    assert to_text(sp.Max(0, z2)) == "max(0, z⁽¹⁾₂)"
    assert to_text(sp.Abs(z1)) == "|z⁽¹⁾₁|"
    assert to_text(sp.sign(z1)) == "sign(z⁽¹⁾₁)"
    assert to_text(sp.Min(z1, z2, 1)) == "min(1, z⁽¹⁾₁, z⁽¹⁾₂)"
    assert to_text(net.activations[0](z1)) == "max(0.01⋅z⁽¹⁾₁, z⁽¹⁾₁)"
    assert "a⁽¹⁾₁ = max(0.01⋅z⁽¹⁾₁, z⁽¹⁾₁)" in net.derivation("w1_1_1").text()
    assert to_latex(sp.Max(0, z2)) == r"\max\left(0, z^{(1)}_{2}\right)"
    assert to_latex(sp.sign(z1)) == r"\operatorname{sign}\left(z^{(1)}_{1}\right)"
    assert to_text(sp.Heaviside(z1, 0)) == "H(z⁽¹⁾₁)" and to_text(sp.Heaviside(z1)) == "H½(z⁽¹⁾₁)"
    assert to_str(sp.Max(0, z1) + sp.Abs(z2) + sp.Heaviside(z1)) == "abs(z1_2) + heaviside(z1_1, 1/2) + max(0, z1_1)"


@pytest.mark.parametrize(
    "formula",
    ["max(0, z)", "min(max(z, -1), 1)", "abs(z)*sign(z)", "z*heaviside(z)", "max(z, 0, z/2 - 1)"],
)
def test_one_line_form_reads_back(formula):
    act = sbp.activations.get_activation(formula)
    for expr in (act.expr, act.derivative()):
        assert parse_formula(to_str(expr), {"z": Z}) == expr


def test_heaviside_takes_its_value_at_zero_as_a_number():
    z = Z
    assert parse_formula("heaviside(z)", {"z": z}) == sp.Heaviside(z, 0)
    assert parse_formula("heaviside(z, 1/2)", {"z": z}) == sp.Heaviside(z)
    with pytest.raises(sbp.FormulaError, match="its value at 0, must be a number"):
        parse_formula("heaviside(z, z)", {"z": z})
    with pytest.raises(sbp.FormulaError, match="heaviside takes 1 or 2 argument"):
        parse_formula("heaviside(z, 0, 1)", {"z": z})
