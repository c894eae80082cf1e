"""sbp.walkthrough(g, ...) on a computation: one SGD step, every value beside its formula.

Oracles: ``sympy.diff`` of the fully substituted loss (tests/test_compile_computation.py)
at 30 digits, per sample; the compiled computation's loss and gradient (the other level
of the design) for the batch; the update rule by hand.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy as sp
from test_compile_computation import CASES, build, substituted

import symbackprop as sbp
from symbackprop.computation_walkthrough import SCHEMA, ComputationWalkthrough
from symbackprop.errors import SpecError

SEED = 20261126


def batch(g, n, seed=SEED):
    rng = np.random.default_rng(seed)
    params = {p: float(rng.normal(0.0, 0.8)) for p in g.params}
    return params, rng.normal(0.0, 1.0, (n, len(g.inputs))), rng.uniform(0.1, 0.9, (n, len(g.targets)))


@pytest.mark.parametrize("name", list(CASES))
def test_every_number_against_sympy_diff_and_the_compiled_model(name):
    g = build(name)
    params, X, Y = batch(g, 3)
    w = sbp.walkthrough(g, params, X, Y if g.targets else None, lr=0.1)
    assert isinstance(w, ComputationWalkthrough) and w.batch_size == 3
    J = substituted(g)
    for i in range(3):
        point = {p: sp.Float(v, 30) for p, v in params.items()}
        point.update({s: sp.Float(float(v), 30) for s, v in zip(g.inputs, X[i])})
        point.update({s: sp.Float(float(v), 30) for s, v in zip(g.targets, Y[i])})
        assert w.values[i][g.loss] == pytest.approx(float(J.xreplace(point).evalf(30)), rel=1e-12)
        for p in g.params:
            want = float(sp.diff(J, p).xreplace(point).evalf(30))
            assert w.sample_gradients[i][p] == pytest.approx(want, rel=1e-9, abs=1e-12)
    model = g.compile()
    Yc = Y if g.targets else None
    compiled = model.gradient(params, X, Yc)
    for p in g.params:
        assert w.gradient[p] == pytest.approx(compiled[p], rel=1e-10, abs=1e-13)
        assert w.updated[p] == params[p] - 0.1 * w.gradient[p]
    assert w.loss == pytest.approx(model.loss(params, X, Yc), rel=1e-12)
    assert w.loss_after == pytest.approx(model.loss(w.updated, X, Yc), rel=1e-12)


def test_one_sample_by_name_and_every_printer():
    g = build("skip")
    params = {"w1": 0.5, "b1": 0.1, "w2": -0.3, "w3": 0.8, "b2": 0.0}
    w = sbp.walkthrough(g, params, x={"x": 1.0}, y={"y": 0.0}, lr=0.5)
    # ∂J/∂x of docs/computations.md's example uses the same point: the same δ_o
    assert w.values[0][sp.Symbol("delta_o", real=True)] == pytest.approx(0.654501, abs=1e-6)
    text = w.text()
    assert text.splitlines()[1] == "at the sample x = 1, y = 0; learning rate η = 0.5"
    assert "δₕ = δₒ⋅o⋅w₂⋅(1 - o)  ≈ -0.0444006" in text
    assert f"w₃⁺ = 0.8 - 0.5⋅{w.gradient[g.symbol('w3')]:.6g} = {w.updated[g.symbol('w3')]:.6g}" in text
    assert r"\delta_{h}" in w.latex() and w.markdown().startswith("### ")
    for m in re.findall(r"<math\b.*?</math>", w.html(page=True), flags=re.S):
        ET.fromstring(m)
    d = json.loads(w.json())
    assert d["schema"] == SCHEMA and d["batch_size"] == 1
    assert [n["name"] for n in d["nodes"]] == ["h", "o", "J", "delta_o", "delta_h"]
    by_name = {p["name"]: p for p in d["parameters"]}
    assert by_name["w1"]["gradient"]["value"] == w.gradient[g.symbol("w1")]
    assert by_name["w1"]["updated"] == w.updated[g.symbol("w1")]
    assert d["loss"]["after"] == w.loss_after


def test_weight_sharing_shows_one_term_per_use():
    g = sbp.computation("""
        h1 = tanh(w*x1)
        h2 = tanh(w*x2)
        J = (h1 + h2 - y)**2 / 2
    """, params="w", inputs="x1 x2", targets="y")
    w = sbp.walkthrough(g, {"w": 0.5}, x=[1.0, 2.0], y=[0.3], lr=0.5)
    (line,) = [line for line in w.text().splitlines() if line.strip().startswith("∂J/∂w =")]
    assert "δₕ₁⋅x₁" in line and "δₕ₂⋅x₂" in line
    h1, h2 = np.tanh(0.5), np.tanh(1.0)
    assert w.gradient[g.symbol("w")] == pytest.approx((h1 + h2 - 0.3) * ((1 - h1**2) + 2 * (1 - h2**2)), rel=1e-14)


def test_bad_input_gets_one_line_errors():
    g = build("skip")
    params = {p.name: 0.1 for p in g.params}
    cases = [
        (dict(x=[1.0], lr=0.1), "the targets: y is missing"),
        (dict(x=[1.0, 2.0], y=[0.0], lr=0.1), r"x is one sample: 1 number\(s\), the inputs \(x\)"),
        (dict(X=[[1.0, 2.0]], Y=[[0.0]], lr=0.1), r"X must hold 1 value\(s\) per sample"),
        (dict(x={"z": 1.0}, y=[0.0], lr=0.1), "x by name must give exactly the inputs \\(x\\); unknown: z"),
        (dict(X=[[1.0]], Y=[[0.0], [1.0]], lr=0.1), "X has 1 sample\\(s\\) but Y has 2"),
        (dict(x=[1.0], y=[0.0], X=[[1.0]], lr=0.1), "not both"),
        (dict(x=[1.0], y=[0.0], lr=-1), "lr must be a positive finite number"),
        (dict(x=[float("nan")], y=[0.0], lr=0.1), "finite"),
        (dict(X=np.zeros((9, 1)), Y=np.zeros((9, 1)), lr=0.1), "max_samples=9"),
        (dict(x=[1.0], y=[0.0], lr=0.1, max_params=2), "max_params=5"),
    ]
    for kwargs, message in cases:
        X, Y = kwargs.pop("X", None), kwargs.pop("Y", None)
        with pytest.raises(SpecError, match=message):
            sbp.walkthrough(g, params, X, Y, **kwargs)
    with pytest.raises(SpecError, match="Unknown parameter"):
        sbp.walkthrough(g, {"w9": 1.0}, x=[1.0], y=[0.0], lr=0.1)
    with pytest.raises(SpecError, match="b1 is not"):
        sbp.walkthrough(g, {**params, "b1": float("inf")}, x=[1.0], y=[0.0], lr=0.1)


def test_cli_walkthrough_file(tmp_path, capsys):
    from test_compile_computation import SKIP

    from symbackprop.cli import main

    model = tmp_path / "model.txt"
    model.write_text("params: w1 b1 w2 w3 b2\ninputs: x\ntargets: y\n" + SKIP)
    at = "w1=0.5,b1=0.1,w2=-0.3,w3=0.8,b2=0,x=1,y=0"
    assert main(["walkthrough", "--file", str(model), "--at", at, "--lr", "0.5", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    g = sbp.load_computation(model)
    want = sbp.walkthrough(g, {"w1": 0.5, "b1": 0.1, "w2": -0.3, "w3": 0.8, "b2": 0.0}, x=[1.0], y=[0.0], lr=0.5)
    assert got == json.loads(want.json())
    # --seed and a mini-batch from --x/--y, written to a file
    out = tmp_path / "w.txt"
    assert main(["walkthrough", "--file", str(model), "--seed", "0", "--x", "1;2", "--y", "0;1", "--out", str(out)]) == 0
    batch_w = sbp.walkthrough(g, g.init_params(0), [[1.0], [2.0]], [[0.0], [1.0]], lr=0.1)
    assert out.read_text() == batch_w.text() + "\n"
    capsys.readouterr()
    for argv, message in [
        (["--seed", "0"], "Give the sample's inputs (x) with --x or by name in --at."),
        (["--at", "w1=1,x=1,y=0"], "No value for the parameter b1"),
        (["--at", at + ",z=3"], "--at names z: not parameters, inputs or targets"),
        (["--seed", "0", "--x", ";".join("1" * 9), "--y", ";".join("0" * 9)], "give --max-samples 9"),
        (["--seed", "0", "--x", "1", "--y", "0", "--layers", "1,1"], "cannot go with --layers"),
    ]:
        assert main(["walkthrough", "--file", str(model), *argv]) == 2
        assert message in capsys.readouterr().err
