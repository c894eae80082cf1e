"""The wider scalar diagnosis: a bank of real slips, each the true derivation with one change.

Every slip is built from ``net.grad(p)`` (itself checked against ``sympy.diff`` of the
expanded loss in test_check.py) by one deliberate change; every one must be judged wrong,
and at least 90 % must get the intended diagnosis (the misses are listed on failure).
The bank is shared with test_check_layer.py, which adds the matrix-form slips and asserts
the rate over both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sympy as sp
from oracle import expanded_loss

import symbackprop as sbp
from symbackprop.notation import to_str

NETS = {
    "221 sigmoid quadratic": ([2, 2, 1], "sigmoid", "quadratic"),
    "222 sigmoid quadratic": ([2, 2, 2], "sigmoid", "quadratic"),
    "222 tanh quadratic": ([2, 2, 2], "tanh", "quadratic"),
    "221 tanh mse": ([2, 2, 1], "tanh", "mse"),
    "222 tanh mse": ([2, 2, 2], "tanh", "mse"),
    "233 sigmoid quadratic": ([2, 3, 3], "sigmoid", "quadratic"),
    "231 relu-identity quadratic": ([2, 3, 1], ["relu", "identity"], "quadratic"),
    "222 sigmoid bce": ([2, 2, 2], "sigmoid", "binary_cross_entropy"),
    "221 softplus quadratic": ([2, 2, 1], "softplus", "quadratic"),
    "222 sigmoid-softmax quadratic": ([2, 2, 2], ["sigmoid", "softmax"], "quadratic"),
    "23 softmax ce": ([2, 3], "softmax", "cross_entropy"),
    "223 tanh-softmax ce": ([2, 2, 3], ["tanh", "softmax"], "cross_entropy"),
}
_BUILT: dict[str, sbp.Network] = {}


def net_named(name: str) -> sbp.Network:
    if name not in _BUILT:
        sizes, act, loss = NETS[name]
        _BUILT[name] = sbp.mlp(sizes, activation=act, loss=loss)
    return _BUILT[name]


def swap(*pairs: tuple[str, str]) -> Callable[[sp.Expr], sp.Expr]:
    """Replace sub-expressions given as text (parsed with the network's names)."""
    def change(truth: sp.Expr, net) -> sp.Expr:
        for old, new in pairs:
            old, new = sbp.parse_formula(old, _names(net)), sbp.parse_formula(new, _names(net))
            if any(e == old for e in sp.preorder_traversal(truth)):
                truth = truth.xreplace({old: new})
            else:  # a factor of a flattened product (a2_1*(1 - a2_1) inside a1_1*a2_1*(1 - a2_1)*...)
                assert old.is_Mul, f"{old} is not in {truth}"
                truth = truth / old * new
        return truth
    return change


def times(text: str) -> Callable:
    return lambda truth, net: truth * sbp.parse_formula(text, _names(net))


def drop_terms_with(name: str, *more: str) -> Callable:
    names = {name, *more}
    return lambda truth, net: sp.Add(*[t for t in sp.Add.make_args(truth)
                                       if not {s.name for s in t.free_symbols} & names])


def _names(net) -> dict[str, sp.Symbol]:
    return {n: net.symbol(n) for n in net.symbol_names()}


def delta_as_error() -> Callable:
    """δ⁽ᴸ⁾ₖ written as ∂J/∂aₖ alone (the output f' dropped) inside a hidden gradient."""
    def change(truth, net_):
        L = net_.n_layers
        table = {net_.delta(L, k): sp.diff(net_.loss(net_.outputs, net_.targets), net_.a(L, k))
                 for k in range(1, net_.sizes[L] + 1)}
        return truth.xreplace(table)
    return change


@dataclass(frozen=True)
class Slip:
    net: str
    wrt: str
    change: Callable
    kind: str
    note: str

    def formula(self) -> tuple[sbp.Network, str]:
        net = net_named(self.net)
        truth = net.grad(self.wrt)
        wrong = self.change(truth, net)
        assert sp.simplify(wrong - truth) != 0, f"{self.note}: the change changed nothing"
        return net, to_str(wrong)


SCALAR_SLIPS = [
    # z written where a belongs: the three variants
    Slip("221 sigmoid quadratic", "w2_1_1", swap(("a1_1", "z1_1")), "z_for_a", "z for a: the input of the weight"),
    Slip("221 sigmoid quadratic", "w2_1_1", swap(("a2_1*(1 - a2_1)", "z2_1*(1 - z2_1)")), "z_for_a", "z for a: σ' = z(1 − z)"),
    Slip("221 sigmoid quadratic", "w2_1_1", swap(("a2_1 - y1", "z2_1 - y1")), "z_for_a", "z for a: z − y"),
    Slip("221 tanh mse", "w2_1_2", swap(("a1_2", "z1_2")), "z_for_a", "z for a, tanh, mse"),
    Slip("222 tanh quadratic", "b1_1", swap(("1 - a1_1**2", "1 - z1_1**2")), "z_for_a", "tanh' = 1 − z²"),
    # tanh' written as σ' (and the reverse)
    Slip("222 tanh quadratic", "w2_1_1", swap(("1 - a2_1**2", "a2_1*(1 - a2_1)")), "wrong_activation", "tanh' as σ', output"),
    Slip("222 tanh quadratic", "b1_1", swap(("1 - a1_1**2", "a1_1*(1 - a1_1)")), "wrong_activation", "tanh' as σ', hidden"),
    Slip("221 sigmoid quadratic", "b2_1", swap(("a2_1*(1 - a2_1)", "1 - a2_1**2")), "wrong_activation", "σ' as tanh'"),
    Slip("231 relu-identity quadratic", "w1_2_1", swap(("heaviside(z1_2)", "a1_2*(1 - a1_2)")), "wrong_activation", "ReLU' as σ'"),
    # W where the δ recursion needs Wᵀ
    Slip("222 sigmoid quadratic", "b1_1", swap(("w2_2_1", "w2_1_2")), "transposed_weights", "W for Wᵀ, 2-2-2"),
    Slip("222 tanh quadratic", "w1_2_1", swap(("w2_1_2", "w2_2_1")), "transposed_weights", "W for Wᵀ, tanh"),
    Slip("233 sigmoid quadratic", "b1_2", swap(("w2_1_2", "w2_2_1"), ("w2_3_2", "w2_2_3")), "transposed_weights", "W for Wᵀ, 2-3-3"),
    # ∂z/∂b written as b
    Slip("221 sigmoid quadratic", "b2_1", times("b2_1"), "param_partial", "∂z/∂b as b, output"),
    Slip("222 tanh quadratic", "b1_2", times("b1_2"), "param_partial", "∂z/∂b as b, hidden"),
    # the output σ' dropped inside a hidden δ
    Slip("222 sigmoid quadratic", "b1_1", delta_as_error(), "local_partial", "output σ' dropped, b1_1"),
    Slip("222 tanh mse", "w1_1_2", delta_as_error(), "local_partial", "output tanh' dropped, mse"),
    # the activation of the wrong layer
    Slip("221 sigmoid quadratic", "w2_1_1", swap(("a1_1", "a2_1")), "wrong_layer", "a2 for a1"),
    Slip("222 sigmoid quadratic", "w1_1_1", swap(("x1", "a1_1")), "wrong_layer", "a1 for x"),
    Slip("221 sigmoid quadratic", "w2_1_2", swap(("a1_2", "x2")), "wrong_layer", "x for a1"),
    # softmax treated without its Jacobian
    Slip("222 sigmoid-softmax quadratic", "b2_1", drop_terms_with("y2"), "softmax_jacobian", "softmax, quadratic"),
    Slip("23 softmax ce", "b1_1", drop_terms_with("y2", "y3"), "softmax_jacobian", "softmax, cross-entropy"),
    # the wrong target index
    Slip("222 sigmoid quadratic", "b2_1", swap(("a2_1 - y1", "a2_1 - y2")), "wrong_target", "y2 for y1"),
    Slip("222 sigmoid bce", "b2_2", swap(("y2", "y1")), "wrong_target", "y1 for y2, bce"),
    # a + y for a − y
    Slip("222 sigmoid quadratic", "b2_1", swap(("a2_1 - y1", "a2_1 + y1")), "target_sign", "a + y"),
    Slip("221 tanh mse", "w2_1_1", swap(("y1", "-y1")), "target_sign", "a + y, mse"),
    # two slips at once: wrong index and a missing factor
    Slip("222 sigmoid quadratic", "w2_1_1", swap(("a1_1", "a1_2"), ("a2_1*(1 - a2_1)", "1")), "wrong_index", "w2_1_2's gradient without σ'"),
    Slip("222 tanh quadratic", "w2_2_1", swap(("a2_2 - y2", "a2_1 - y1"), ("1 - a2_2**2", "1")), "wrong_index", "w2_1_1's gradient without tanh'"),
    # the kinds named before, across activations and losses
    Slip("221 softplus quadratic", "w2_1_1", times("-1"), "sign", "sign, softplus"),
    Slip("231 relu-identity quadratic", "w1_2_1", swap(("heaviside(z1_2)", "1")), "local_partial", "ReLU' forgotten"),
    Slip("222 sigmoid bce", "w2_1_1", times("2"), "constant_factor", "factor 2, bce"),
    Slip("223 tanh-softmax ce", "w1_1_1", swap(("delta2_3*w2_3_1", "0")), "missing_paths", "one path forgotten, softmax ce"),
]


def judge(slip: Slip) -> tuple[bool, str | None, str]:
    net, formula = slip.formula()
    r = sbp.check(net, slip.wrt, formula, symbolic=False)
    return r.ok, (r.diagnosis.kind if r.diagnosis else None), formula


@pytest.mark.parametrize("slip", SCALAR_SLIPS, ids=[s.note for s in SCALAR_SLIPS])
def test_every_scalar_slip_is_wrong(slip):
    ok, _, formula = judge(slip)
    assert not ok, f"{slip.note}: {formula} judged right"


def test_scalar_diagnosis_rate():
    misses = []
    for slip in SCALAR_SLIPS:
        _, kind, formula = judge(slip)
        if kind != slip.kind:
            misses.append(f"{slip.note}: {formula} -> {kind}, intended {slip.kind}")
    rate = 1 - len(misses) / len(SCALAR_SLIPS)
    assert rate >= 0.9, "misses:\n" + "\n".join(misses)


def test_messages_name_the_factor():
    net = net_named("222 tanh quadratic")
    r = sbp.check(net, "b1_1", "a1_1*(1 - a1_1)*(delta2_1*w2_1_1 + delta2_2*w2_2_1)", symbolic=False)
    assert r.diagnosis.kind == "wrong_activation"
    assert "σ'(z1_1)" in r.diagnosis.message and "tanh'(z1_1) = 1 - a1_1**2" in r.diagnosis.message
    r = sbp.check(net, "b1_1", "(1 - a1_1**2)*(delta2_1*w2_1_1 + delta2_2*w2_1_2)", symbolic=False)
    assert r.diagnosis.kind == "transposed_weights" and "(W⁽²⁾)ᵀδ⁽²⁾" in r.diagnosis.message
    r = sbp.check(net_named("221 sigmoid quadratic"), "w2_1_1", "delta2_1*z1_1", symbolic=False)
    assert r.diagnosis.kind == "z_for_a" and "z1_1" in r.diagnosis.message and "a1_1" in r.diagnosis.message
    assert r.diagnosis.details["edges"] == [["w2_1_1", "z2_1"]]


def test_right_rewritings_still_right():
    # The wider search never turns a right formula wrong: expanded, factored, σ written out.
    net = net_named("222 sigmoid quadratic")
    p = net.w(1, 1, 1)
    oracle = sp.diff(expanded_loss(net), p)
    for formula in (
        "x1*a1_1*(1 - a1_1)*(delta2_1*w2_1_1 + delta2_2*w2_2_1)",
        "x1*(a1_1 - a1_1**2)*delta2_1*w2_1_1 + x1*(a1_1 - a1_1**2)*delta2_2*w2_2_1",
        "x1*sigmoid(z1_1)*(1 - sigmoid(z1_1))*(delta2_1*w2_1_1 + delta2_2*w2_2_1)",
        "x1*sigmoid_prime(z1_1)*(delta2_1*w2_1_1 + delta2_2*w2_2_1)",
        to_str(oracle),
    ):
        assert sbp.check(net, p, formula, symbolic=False).ok, formula
