"""Derivations: paths, local partials, the chain-rule sum, δ recursion, values, printers."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import sympy as sp
from oracle import close, expanded_loss, finite_difference, random_point

import symbackprop as sbp


def test_paths_and_chain_rule_sum():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    d = net.derivation(net.w(1, 1, 1))
    expected = sorted(map(tuple, nx.all_simple_paths(net.graph, "w1_1_1", "J")))
    assert sorted(map(tuple, d.paths)) == expected and d.n_paths == 2
    for (u, v), partial in d.partials.items():
        assert partial == net.graph.edges[u, v]["partial"]
    assert d.chain_sum == sp.Add(*d.products)
    # The sum over paths and the δ form are the same number at any sample.
    rng = np.random.default_rng(1)
    point = random_point(net, rng)
    at = d.at(point, x=[point[s] for s in net.inputs], y=[point[s] for s in net.targets])
    assert close(at.value(d.chain_sum), at.value(d.compact), rtol=1e-12)
    assert close(at.value(d.delta_form), at.value(d.compact), rtol=1e-12)


def test_at_fills_every_step_and_matches_finite_differences():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    # The classic worked example (Mazur's): inputs .05, .10, targets .01, .99.
    params = {
        "w1_1_1": 0.15, "w1_1_2": 0.20, "w1_2_1": 0.25, "w1_2_2": 0.30, "b1_1": 0.35, "b1_2": 0.35,
        "w2_1_1": 0.40, "w2_1_2": 0.45, "w2_2_1": 0.50, "w2_2_2": 0.55, "b2_1": 0.60, "b2_2": 0.60,
    }
    d = net.derivation("w2_1_1").at(params, x=[0.05, 0.10], y=[0.01, 0.99])
    assert round(d.values[net.a(2, 1)], 9) == 0.751365070
    assert round(d.value(d.compact), 9) == 0.082167041  # the value the walkthrough prints
    text = d.text()
    assert "≈ 0.082167" in text and "≈ 0.751365" in text
    point = {net.symbol(k): v for k, v in params.items()}
    point.update({net.x(1): 0.05, net.x(2): 0.10, net.y(1): 0.01, net.y(2): 0.99})
    for p in ("w1_1_1", "b1_2", "w2_2_1"):
        dp = net.derivation(p).at(params, x=[0.05, 0.10], y=[0.01, 0.99])
        fd = finite_difference(expanded_loss(net), net.symbol(p), point)
        assert close(dp.value(dp.compact), fd, rtol=1e-6)


def test_many_paths_are_summarised():
    net = sbp.mlp([1, 3, 3, 3, 3, 1], activation="tanh")
    d = net.derivation("w1_1_1")
    assert d.n_paths == 27 == len(list(nx.all_simple_paths(net.graph, "w1_1_1", "J")))
    assert d.paths is None and d.chain_sum is None
    text = d.text()
    assert "There are 27 paths" in text
    for layer in (2, 3, 4):  # every reached neuron's δ is defined, once
        assert sum(line.lstrip().startswith(f"δ⁽{layer}⁾".translate(str.maketrans("234", "²³⁴")))
                   for line in text.splitlines()) == 3


def test_printers():
    net = sbp.mlp([2, 2, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy")
    d = net.derivation("w1_2_1")
    text, latex, md = d.text(), d.latex(), d.markdown()
    assert text.startswith("∂J/∂w⁽¹⁾₂₁ in the 2-2-1 network")
    assert "H(z⁽¹⁾₂)" in text  # the ReLU step, value 0 at 0
    assert latex.startswith(r"\begin{aligned}") and latex.endswith(r"\end{aligned}")
    assert r"\frac{\partial J}{\partial w^{(1)}_{2 1}} &= \delta^{(1)}_{2} x_{1}" in latex
    assert latex.count(r"\begin") == latex.count(r"\end")
    assert d._repr_latex_().startswith("$$")
    assert md.startswith("### ") and "- $" in md
    data = json.loads(json.dumps(d.to_dict()))
    assert data["param"] == "w1_2_1" and data["n_paths"] == 1
    names = {n: net.symbol(n) for n in net.symbol_names()}
    assert sbp.parse_formula(data["compact"], names) == d.compact  # the printed form reads back


def test_equations_fill_in_the_network():
    eq = sbp.mlp([2, 3, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy").equations()
    text = eq.text()
    assert "δ⁽²⁾ⱼ = a⁽²⁾ⱼ - yⱼ" in text  # sigmoid + BCE: the textbook simplification
    assert "H(z⁽¹⁾ⱼ)" in text
    soft = sbp.mlp([2, 3], activation="softmax", loss="cross_entropy").equations()
    assert "δ⁽¹⁾₃" in soft.text() and r"\sum" in soft.latex()
    assert soft.markdown().startswith("### ")


def test_network_repr_and_latex():
    net = sbp.mlp([2, 3, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy")
    assert repr(net) == "Network([2, 3, 1], activation=['relu', 'sigmoid'], loss='binary_cross_entropy')"
    assert net._repr_latex_().startswith("$$\\begin{aligned}")
