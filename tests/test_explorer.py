"""The explorer's data and page, without a browser (tests/test_explore.py opens it in one)."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy as sp
from oracle import expanded_loss, value

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.errors import SpecError

# The classic worked example (Mazur): 2-2-2 sigmoid, quadratic loss, one sample.
MAZUR = {"w1_1_1": 0.15, "w1_1_2": 0.20, "b1_1": 0.35, "w1_2_1": 0.25, "w1_2_2": 0.30, "b1_2": 0.35,
         "w2_1_1": 0.40, "w2_1_2": 0.45, "b2_1": 0.60, "w2_2_1": 0.50, "w2_2_2": 0.55, "b2_2": 0.60}
X0, Y0 = [0.05, 0.10], [0.01, 0.99]


def _mazur():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    return net, sbp.explore(net, MAZUR, x=X0, y=Y0, lr=0.5)


def _json_block(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="sbp-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_every_value_and_gradient_against_independent_oracles():
    net, ex = _mazur()
    c = ex.data["content"]
    point = {**{net.parameter(k): v for k, v in MAZUR.items()},
             **dict(zip(net.inputs, X0)), **dict(zip(net.targets, Y0))}
    loss = expanded_loss(net)  # composed from the definitions, no graph, no reverse mode
    # The published forward values and loss of the example.
    assert c["values"]["a1_1"] == pytest.approx(0.593269992, abs=1e-9)
    assert c["values"]["a2_2"] == pytest.approx(0.772928465, abs=1e-9)
    assert c["values"]["J"] == pytest.approx(0.298371109, abs=1e-9)
    assert c["values"]["J"] == pytest.approx(value(loss, point), rel=1e-12)
    for p in net.params:
        oracle = value(sp.diff(loss, p), point)
        assert c["params"][p.name]["grad"] == pytest.approx(oracle, rel=1e-10, abs=1e-14), p
        assert c["params"][p.name]["compiled"] == pytest.approx(oracle, rel=1e-10, abs=1e-14), p
    # Published: ∂E/∂w5 = 0.082167041 (w5 is w⁽²⁾₁₁), ∂E/∂w1 = 0.000438568 (w⁽¹⁾₁₁).
    assert c["params"]["w2_1_1"]["grad"] == pytest.approx(0.082167041, abs=1e-9)
    assert c["params"]["w1_1_1"]["grad"] == pytest.approx(0.000438568, abs=1e-9)
    # The update, and the loss after it (oracle: the expanded loss at the updated point).
    step = c["step"]
    after = dict(point)
    for p in net.params:
        assert step["grad"][p.name] == pytest.approx(value(sp.diff(loss, p), point), rel=1e-10, abs=1e-14)
        assert step["after"][p.name] == pytest.approx(MAZUR[p.name] - 0.5 * value(sp.diff(loss, p), point), rel=1e-12)
        after[p] = step["after"][p.name]
    assert step["loss_after"] == pytest.approx(value(loss, after), rel=1e-12)
    assert step["loss_after"] < step["loss"]


@pytest.mark.parametrize("sizes, act, loss", [
    ([2, 2, 2], "sigmoid", "quadratic"),
    ([2, 3, 3], ["relu", "softmax"], "cross_entropy"),
    ([1, 2, 2, 1], ["tanh", "leaky_relu", "sigmoid"], "binary_cross_entropy"),
])
def test_compact_form_the_page_composes_is_net_grad(sizes, act, loss):
    # The page writes ∂J/∂p as factor · (δ of p's neuron written out): it must be net.grad(p).
    net = sbp.mlp(sizes, activation=act, loss=loss)
    ex = sbp.explore(net)
    for p in net.params:
        r = ex.data["content"]["params"][p.name]
        delta = net.backprop.delta[sp.Symbol(r["delta"], real=True)]
        factor = sp.S.One if r["factor"] is None else net.backprop.adjoint[p.name].xreplace(
            {sp.Symbol(r["delta"], real=True): 1})
        assert sp.expand(factor * delta - net.grad(p)) == 0, p
        # Its value is the gradient: the δ value times the factor's value.
        values = ex.data["content"]["values"]
        fval = 1.0 if r["factor"] is None else float(factor.xreplace(
            {s: values[s.name] for s in factor.free_symbols}))
        assert fval * values[r["delta"]] == pytest.approx(r["grad"], rel=1e-12, abs=1e-15)


def _math_fragments(page: str, data: dict) -> list[str]:
    markup = page.split('<script type="application/json"')[0]
    out = re.findall(r"<math\b.*?</math>", markup, re.S)
    c = data["content"]
    out += list(c["defs"].values()) + list(c["assumed"].values())
    out += [p["expanded"] for p in c["params"].values() if p["expanded"]]
    # Pieces the script puts between <math> tags.
    out += [f"<math>{s}</math>" for s in c["symbols"].values()]
    out += [f"<math>{e[0]}</math>" for e in c["edges"].values()]
    out += [f"<math>{d[0]}</math>" for d in c["deltas"].values()]
    out += [f"<math>{p['form']}</math>" for p in c["params"].values()]
    out += [f"<math>{p['factor']}</math>" for p in c["params"].values() if p["factor"]]
    return out


def test_page_is_self_contained_and_its_mathml_well_formed():
    net = sbp.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    Y = np.eye(2)[(X[:, 0] > X[:, 1]).astype(int)]
    ex = sbp.explore(net, data=(X, Y), epochs=5, lr=0.5)
    page = ex.html()
    # Nothing to fetch: no URL, no external script, style, font or image.
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page, re.I)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "fetch(" not in page and "XMLHttpRequest" not in page and "@import" not in page
    # The embedded data is the explorer's data, intact.
    assert _json_block(page) == json.loads(json.dumps(ex.data))
    for fragment in _math_fragments(page, ex.data):
        ET.fromstring(fragment)  # well-formed XML
    assert ex.size == len(page.encode("utf-8"))


def test_training_record_matches_sbp_train_at_every_recorded_epoch():
    net = sbp.mlp([2, 3, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    data = sbp.datasets.for_network(sbp.datasets.moons(n=60, seed=1), net)
    ex = sbp.explore(net, data=data, epochs=20, lr=0.5, batch_size=8, seed=2, snapshots=6)
    t = ex.data["training"]
    model = net.compile()
    assert t["epochs"][0] == 0 and t["epochs"][-1] == 20 and len(t["epochs"]) == len(t["weights"])
    _, history = sbp.train(net, data.X, data.Y, epochs=20, lr=0.5, batch_size=8, seed=2, progress=False)
    assert t["loss"] == pytest.approx(history.loss, rel=1e-12)
    for e, weights, loss in zip(t["epochs"], t["weights"], t["snap_loss"]):
        params = net.init_params(2) if e == 0 else sbp.train(
            net, data.X, data.Y, epochs=e, lr=0.5, batch_size=8, seed=2, progress=False)[0]
        assert weights == pytest.approx([params[p] for p in net.params], rel=1e-3, abs=1e-12)
        assert loss == pytest.approx(float(model.loss(params, data.X, data.Y)), rel=1e-12)
    b = t["boundary"]
    assert len(b["rasters"]) == len(t["epochs"]) and len(b["points"]) == 60
    import base64

    cells = np.frombuffer(base64.b64decode(b["rasters"][-1]), dtype=np.uint8)
    assert cells.size == 2 * b["grid"] ** 2 and set(np.unique(cells[0::2])) <= {0, 1}


def test_gradient_flow_section_can_be_left_out():
    net = sbp.mlp([2, 2, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy")
    data = sbp.datasets.for_network(sbp.datasets.xor(), net)
    on = sbp.explore(net, data=data, epochs=3, lr=0.5)
    off = sbp.explore(net, data=data, epochs=3, lr=0.5, gradient_flow=False)
    assert on.data["training"]["flow"]["bound_holds"] is True and 'id="flow"' in on.html()
    assert off.data["training"]["flow"] is None and 'id="flow"' not in off.html()
    # Recording the flow changes no result.
    assert on.data["training"]["loss"] == off.data["training"]["loss"]
    assert on.data["training"]["weights"] == off.data["training"]["weights"]


def test_jupyter_repr_is_the_page_in_an_iframe():
    _, ex = _mazur()
    rep = ex._repr_html_()
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" title="[^"]*" style="[^"]*" sandbox="allow-scripts"></iframe>', rep)
    assert m, rep[:200]
    assert html.unescape(m.group(1)) == ex.html()
    assert "<" not in m.group(1) and '"' not in m.group(1)


def test_network_method_and_bad_input():
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy")
    ex = net.explore(x=[0.5, -0.5], y=[1.0])
    assert ex.data["sample"] == {"x": [0.5, -0.5], "y": [1.0]}
    with pytest.raises(SpecError, match=r"at most 1,000 parameters and 32 neurons per layer; the 2-40-1"):
        sbp.explore(sbp.mlp([2, 40, 1]))
    with pytest.raises(SpecError, match="x must be 2 finite"):
        net.explore(x=[1.0], y=[1.0])
    with pytest.raises(SpecError, match="both x and y"):
        net.explore(x=[1.0, 2.0])
    with pytest.raises(SpecError, match="binary_cross_entropy|target|domain|between"):
        net.explore(x=[1.0, 2.0], y=[3.0])
    with pytest.raises(SpecError, match="lr must be"):
        net.explore(lr=0)
    with pytest.raises(SpecError, match="data must be"):
        net.explore(data=[1, 2, 3])


def test_cli_writes_the_page(tmp_path, capsys):
    out = tmp_path / "e.html"
    assert main(["explore", "--layers", "2,2,2", "--activation", "sigmoid", "--loss", "quadratic",
                 "--x", "0.05,0.10", "--y", "0.01,0.99", "--lr", "0.5", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert re.match(r"wrote .*e\.html: \d+\.\d\d MB, built in \d+\.\d s", said)
    data = _json_block(out.read_text(encoding="utf-8"))
    assert data["sample"] == {"x": [0.05, 0.1], "y": [0.01, 0.99]}
    # The parameters and the sample from one --at file, as sbp.walkthrough's command reads it.
    at = tmp_path / "mazur.json"
    at.write_text(json.dumps({**MAZUR, "x1": 0.05, "x2": 0.10, "y1": 0.01, "y2": 0.99}))
    assert main(["explore", "--layers", "2,2,2", "--activation", "sigmoid", "--loss", "quadratic",
                 "--at", str(at), "--lr", "0.5", "--out", str(out)]) == 0
    capsys.readouterr()
    data = _json_block(out.read_text(encoding="utf-8"))
    assert data["sample"] == {"x": [0.05, 0.1], "y": [0.01, 0.99]}
    assert data["content"]["params"]["w1_1_1"]["grad"] == pytest.approx(0.000438568, abs=1e-9)
    assert main(["explore", "--layers", "2,2", "--x", "1", "--out", str(tmp_path / "f.html")]) == 2
    assert "--x and --y go together" in capsys.readouterr().err
    assert main(["explore", "--layers", "2,64,2", "--out", str(tmp_path / "g.html")]) == 2
    assert "at most 1,000 parameters and 32 neurons per layer" in capsys.readouterr().err
    assert not (tmp_path / "g.html").exists()
