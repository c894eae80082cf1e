"""Network specification, the safe formula parser, and their error messages."""

from __future__ import annotations

import os

import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.notation import parse_name, to_latex, to_str, to_text


def test_symbols_follow_the_notation():
    net = sbp.mlp([2, 3, 1])
    # Every symbol is real (so abs(z)' = sign(z)); names follow the notation.
    assert net.w(1, 2, 1) == sp.Symbol("w1_2_1", real=True) and net.b(2, 1) == sp.Symbol("b2_1", real=True)
    assert net.a(0, 2) == net.x(2) and net.delta(1, 3).name == "delta1_3"
    assert net.params[:3] == (net.w(1, 1, 1), net.w(1, 1, 2), net.w(1, 2, 1))
    assert len(net.params) == 3 * 2 + 3 + 1 * 3 + 1
    assert set(net.symbol_names()) >= {"x1", "w2_1_3", "b1_3", "z1_2", "a2_1", "delta2_1", "y1", "J"}
    assert to_latex(net.w(1, 2, 1)) == "w^{(1)}_{2 1}"
    assert to_text(net.delta(2, 1)) == "δ⁽²⁾₁"
    assert to_text(sp.Symbol("w1_12_3")) == "w⁽¹⁾₁₂,₃"  # two-digit indices stay readable
    assert parse_name("w10_1_2").layer == 10


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sbp.mlp([2]), "at least two entries"),
        (lambda: sbp.mlp([2, 0]), "positive integers"),
        (lambda: sbp.mlp("2,3"), "list of layer sizes"),
        (lambda: sbp.mlp([2, 2], activation="sigmod"), "Did you mean 'sigmoid'"),
        (lambda: sbp.mlp([2, 2, 2], activation=["relu"]), "1 activation for 2 layers"),
        (lambda: sbp.mlp([2, 2, 2], activation="softmax"), "only allowed on the output layer"),
        (lambda: sbp.mlp([2, 1], activation="softmax"), "constant 1"),
        (lambda: sbp.mlp([2, 2], loss="quadratc"), "Did you mean 'quadratic'"),
        (lambda: sbp.mlp([2, 2], loss="(a2_1 - y1)**2"), "unknown name 'a2_1'"),
        (lambda: sbp.mlp([2, 2], activation=sp.Symbol("q") * sp.Symbol("z")), "only use the symbol"),
        (lambda: sbp.mlp([2, 2], activation="z ^ 2"), "use \\*\\* for powers"),
        (lambda: sbp.mlp([2, 2]).grad("w2_1_1"), "Unknown parameter 'w2_1_1'"),
        (lambda: sbp.mlp([2, 2]).grad("a1_1"), "Unknown parameter 'a1_1'"),
        (lambda: sbp.mlp([2, 2]).w(1, 3, 1), "out of range 1..2"),
        (lambda: sbp.mlp([2, 2]).b(2, 1), "layer 2 does not exist"),
    ],
)
def test_bad_specs_say_what_is_accepted(call, message):
    with pytest.raises(sbp.SymbackpropError, match=message):
        call()


def test_errors_are_also_builtin_exceptions():
    with pytest.raises(ValueError):
        sbp.mlp([2, 2], activation="relu(")
    with pytest.raises(KeyError):
        sbp.mlp([2, 2], loss="nope")


def test_activation_forms():
    z = sp.Symbol("z")
    for spec in ("log(1 + exp(z))", sp.log(1 + sp.exp(z)), sp.Lambda(z, sp.log(1 + sp.exp(z)))):
        act = sbp.mlp([1, 1], activation=spec).activations[0]
        assert act.expr == sp.log(1 + sp.exp(sp.Symbol("z", real=True)))
    # A Symbol("z") with other assumptions is matched by name.
    zp = sp.Symbol("z", positive=True)
    assert sbp.mlp([1, 1], activation=zp**2).activations[0].expr == sp.Symbol("z", real=True) ** 2


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch {marker}')",
        "z.__class__",
        "(lambda: 1)()",
        "z[0]",
        "[z for z in (1, 2)]",
        "open('{marker}', 'w')",
        "exp(z, base=2)",
        "'abc'",
        "z if z else 1",
        "9**9**9",
    ],
)
def test_hostile_formulas_are_refused_without_effect(tmp_path, text):
    marker = tmp_path / "marker"
    with pytest.raises(sbp.FormulaError, match="Cannot read activation"):
        sbp.mlp([1, 1], activation=text.format(marker=marker))
    assert not marker.exists()
    assert not os.path.exists("marker")


def test_parser_reads_back_printed_forms():
    net = sbp.mlp([2, 2, 1], activation=["relu", "sigmoid"])
    names = {n: net.symbol(n) for n in net.symbol_names()}
    for p in net.params:
        g = net.grad(p)
        assert sbp.parse_formula(to_str(g), names) == g
    assert sbp.parse_formula("0.5*x1", names) == net.x(1) / 2
    assert sbp.parse_formula("σ(z1_1)", names) == 1 / (1 + sp.exp(-net.z(1, 1)))


@pytest.mark.parametrize("name", sorted(sbp.ACTIVATIONS))
def test_every_registered_activation_is_defined_somewhere(name):
    # The "undefined everywhere" check must never refuse what the registry itself holds.
    from symbackprop.limits import require_defined

    act = sbp.ACTIVATIONS[name]
    assert require_defined(act.expr, "activation") == act.expr
    assert require_defined(act.derivative(), "derivative") == act.derivative()


@pytest.mark.parametrize("name", sorted(sbp.LOSSES))
def test_every_registered_loss_is_defined_somewhere(name):
    from symbackprop.limits import require_defined

    a, y = sp.symbols("a1 a2"), sp.symbols("y1 y2")
    J = sbp.LOSSES[name](a, y)
    assert require_defined(J, "loss") == J


def test_registering_a_formula_that_is_undefined_everywhere_is_refused():
    with pytest.raises(sbp.FormulaError, match="undefined everywhere"):
        sbp.register_activation("nowhere_demo", "log(-1 - z**2)")
    assert "nowhere_demo" not in sbp.ACTIVATIONS
