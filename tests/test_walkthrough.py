"""The walkthrough of one SGD step: its numbers against the compiled model, an independent
oracle and the published 2-2-2 example; its printers, its JSON and its command."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from oracle import close, expanded_loss, finite_difference

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.notation import parse_name

ROOT = Path(__file__).resolve().parent.parent
MAZUR_FILE = ROOT / "examples" / "mazur.json"

# Matt Mazur, "A Step by Step Backpropagation Example" (2015): w1..w8 and the shared biases
# b1, b2 mapped onto w^(l)_jk (into neuron j of layer l from neuron k of layer l-1), b^(l)_j.
MAZUR = {
    "w1_1_1": 0.15, "w1_1_2": 0.20, "w1_2_1": 0.25, "w1_2_2": 0.30, "b1_1": 0.35, "b1_2": 0.35,
    "w2_1_1": 0.40, "w2_1_2": 0.45, "w2_2_1": 0.50, "w2_2_2": 0.55, "b2_1": 0.60, "b2_2": 0.60,
}
MAZUR_X, MAZUR_Y = [0.05, 0.10], [0.01, 0.99]
# His names -> ours, and the numbers he published (rounded to 8-9 digits).
PUBLISHED_FORWARD = {"a1_1": 0.593269992, "a1_2": 0.596884378, "z2_1": 1.105905967,
                     "a2_1": 0.75136507, "a2_2": 0.772928465, "J": 0.298371109}
PUBLISHED_GRADIENT = {"w2_1_1": 0.082167041, "w1_1_1": 0.000438568}
PUBLISHED_UPDATED = {
    "w2_1_1": 0.35891648, "w2_1_2": 0.408666186, "w2_2_1": 0.511301270, "w2_2_2": 0.561370121,
    "w1_1_1": 0.149780716, "w1_1_2": 0.19956143, "w1_2_1": 0.24975114, "w1_2_2": 0.29950229,
}
#: His error after the step; he updates the eight weights only, never the biases.
PUBLISHED_LOSS_AFTER_WEIGHTS_ONLY = 0.291027924

# sizes, activations, loss, targets' kind: networks whose every number is checked.
NETS = [
    ([2, 2, 2], "sigmoid", "quadratic", "real"),
    ([3, 4, 2], ["tanh", "sigmoid"], "binary_cross_entropy", "binary"),
    ([2, 3, 3], ["relu", "softmax"], "cross_entropy", "onehot"),
    ([2, 3, 2, 1], ["softplus", "arctan", "identity"], "mse", "real"),
]


def _mazur() -> tuple[sbp.Network, sbp.Walkthrough]:
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    return net, sbp.walkthrough(net, MAZUR, x=MAZUR_X, y=MAZUR_Y, lr=0.5)


def _data(net: sbp.Network, kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, net.sizes[0]))
    m = net.sizes[-1]
    if kind == "binary":
        Y = rng.integers(0, 2, size=(n, m)).astype(float)
    elif kind == "onehot":
        Y = np.eye(m)[rng.integers(0, m, size=n)]
    else:
        Y = rng.normal(size=(n, m))
    return X, Y


# ------------------------------------------------------------------ the published example
def test_mazur_published_numbers():
    net, w = _mazur()
    v = w.values[0]
    for name, published in PUBLISHED_FORWARD.items():
        assert abs(v[net.symbol(name)] - published) < 1e-8, name
    for name, published in PUBLISHED_GRADIENT.items():
        assert abs(w.gradient[net.symbol(name)] - published) < 1e-8, name
    for name, published in PUBLISHED_UPDATED.items():
        assert abs(w.updated[net.symbol(name)] - published) < 1e-8, name
    # His next error keeps the old biases: our updated weights with the old biases give it.
    weights_only = {p: (w.updated[p] if p.name.startswith("w") else w.params[p]) for p in net.params}
    model = net.compile()
    after = model.loss(weights_only, [MAZUR_X], [MAZUR_Y])
    # His eight published updated weights themselves give 0.2910277737 (in float64): the
    # published 0.291027924 is 1.5e-7 off that, so this one number is checked to 2e-7.
    published_weights = {**{p: w.params[p] for p in net.params}, **PUBLISHED_UPDATED}
    assert abs(model.loss(published_weights, [MAZUR_X], [MAZUR_Y]) - after) < 1e-8
    assert abs(after - PUBLISHED_LOSS_AFTER_WEIGHTS_ONLY) < 2e-7
    # SGD updates the biases too, and the loss falls further.
    assert w.loss_after < PUBLISHED_LOSS_AFTER_WEIGHTS_ONLY


def test_mazur_hidden_updates_use_the_old_output_weights():
    net, w = _mazur()
    # δ^(1)_1 by hand from the old w^(2): σ'(z) (δ^(2)_1 w^(2)_11 + δ^(2)_2 w^(2)_21).
    v = w.values[0]
    a = v[net.a(1, 1)]
    by_hand = a * (1 - a) * (v[net.delta(2, 1)] * MAZUR["w2_1_1"] + v[net.delta(2, 2)] * MAZUR["w2_2_1"])
    assert close(v[net.delta(1, 1)], by_hand, rtol=1e-14)


def test_mazur_example_file_is_the_published_one():
    data = json.loads(MAZUR_FILE.read_text())
    assert {k: v for k, v in data.items() if k[0] in "wb"} == MAZUR
    assert [data["x1"], data["x2"]] == MAZUR_X and [data["y1"], data["y2"]] == MAZUR_Y


# --------------------------------------------------------------- against the compiled model
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize(("sizes", "act", "loss", "kind"), NETS)
def test_every_number_matches_the_compiled_model(sizes, act, loss, kind, n):
    net = sbp.mlp(sizes, activation=act, loss=loss)
    params = net.init_params(seed=3)
    X, Y = _data(net, kind, n, seed=len(sizes) + n)
    w = sbp.walkthrough(net, params, X, Y, lr=0.3)
    model = net.compile()
    # Forward: every output activation of every sample, and the loss.
    out = model.predict(params, X)
    for i in range(n):
        for j, a in enumerate(net.outputs):
            assert close(w.values[i][a], out[i, j], rtol=1e-12, atol=1e-14)
    assert close(w.loss, model.loss(params, X, Y), rtol=1e-12)
    # Each sample's gradient is the model's gradient at that sample alone; their mean the batch's.
    for i in range(n):
        single = model.gradient(params, X[i:i + 1], Y[i:i + 1])
        for p in net.params:
            assert close(w.sample_gradients[i][p], single[p], rtol=1e-10, atol=1e-13), (i, p)
    batch = model.gradient(params, X, Y)
    for p in net.params:
        assert close(w.gradient[p], batch[p], rtol=1e-10, atol=1e-13), p
    # The update is the model's SGD step (the step training runs), in place on the arrays.
    arrays = model.arrays(params)
    model.step(arrays, X, Y, 0.3)
    stepped = model.mapping(arrays)
    for p in net.params:
        assert close(w.updated[p], stepped[p], rtol=1e-12, atol=1e-14), p
    assert close(w.loss_after, model.loss(stepped, X, Y), rtol=1e-10)


def test_gradients_match_finite_differences_of_the_expanded_loss():
    net = sbp.mlp([2, 2, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    params = net.init_params(seed=5)
    x, y = [0.3, -0.7], [1.0]
    w = sbp.walkthrough(net, params, x=x, y=y, lr=0.1)
    point = {**params, **dict(zip(net.inputs, x)), **dict(zip(net.targets, y))}
    loss = expanded_loss(net)
    for p in net.params:
        assert close(w.gradient[p], finite_difference(loss, p, point), rtol=1e-6, atol=1e-9), p


def test_a_one_row_batch_is_a_single_sample():
    net, w = _mazur()
    batch = sbp.walkthrough(net, MAZUR, [MAZUR_X], [MAZUR_Y], lr=0.5)
    assert batch.batch_size == 1 and batch.updated == w.updated and batch.text() == w.text()


def test_train_one_full_batch_epoch_lands_on_the_updated_parameters():
    net = sbp.mlp([2, 3, 2], activation="tanh", loss="mse")
    X, Y = _data(net, "real", 4, seed=9)
    start = net.init_params(seed=2)
    w = sbp.walkthrough(net, start, X, Y, lr=0.2)
    trained, history = sbp.train(net, X, Y, epochs=1, lr=0.2, batch_size=4, params=start, progress=False)
    for p in net.params:
        assert close(w.updated[p], trained[p], rtol=1e-12, atol=1e-14)
    assert close(history.loss[0], w.loss, rtol=1e-12)


# ------------------------------------------------------------------------------- printing
def test_text_shows_each_step_with_its_formula_and_value():
    net, w = _mazur()
    text = w.text()
    for piece in ("z⁽¹⁾₁ = b⁽¹⁾₁ + w⁽¹⁾₁₁⋅x₁ + w⁽¹⁾₁₂⋅x₂  ≈ 0.3775",
                  "= 0.35 + 0.15⋅0.05 + 0.2⋅0.1",
                  "δ⁽¹⁾₁ = a⁽¹⁾₁⋅(1 - a⁽¹⁾₁)⋅(δ⁽²⁾₁⋅w⁽²⁾₁₁ + δ⁽²⁾₂⋅w⁽²⁾₂₁)",
                  "∂J/∂w⁽²⁾₁₁ = a⁽¹⁾₁⋅δ⁽²⁾₁  ≈ 0.082167",
                  "w⁽²⁾₁₁⁺ = 0.4 - 0.5⋅0.082167 = 0.358916",
                  "w⁽²⁾₂₁⁺ = 0.5 - 0.5⋅(-0.0226025) = 0.511301",
                  f"J = 0.298371  →  {w.loss_after:.6g}"):
        assert piece in text, piece
    # Every δ the network's recursion defines is printed with it, output layer first.
    order = [text.index(f"  {sbp.notation.text_name(d)} = ") for d in w.deltas_order()]
    assert order == sorted(order)
    for d, expr in net.deltas.items():
        assert sbp.notation.equation_text(sbp.notation.text_name(d), expr) in text


def test_batch_text_shows_each_sample_and_the_mean():
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    X, Y = np.array([MAZUR_X, [1.0, -1.0]]), np.array([MAZUR_Y, [0.5, 0.5]])
    w = sbp.walkthrough(net, MAZUR, X, Y, lr=0.5)
    text = w.text()
    assert "Sample 1 of 2: Forward pass" in text and "Sample 2 of 2: Backward pass, layer 1" in text
    g = [s[net.w(2, 1, 1)] for s in w.sample_gradients]
    sign = "+" if g[1] >= 0 else "-"
    assert f"∂J/∂w⁽²⁾₁₁ = ({g[0]:.6g} {sign} {abs(g[1]):.6g})/2 = {(g[0] + g[1]) / 2:.6g}" in text
    assert "J = (1/2)·Σₛ Jₛ" in text


def test_latex_markdown_html():
    net, w = _mazur()
    latex = w.latex()
    assert latex.startswith(r"\begin{aligned}") and latex.endswith(r"\end{aligned}")
    assert r"{w^{(2)}_{1 1}}^{+} &= 0.4 - 0.5 \cdot 0.082167 = 0.358916" in latex
    md = w.markdown()
    assert md.startswith("### One step of gradient descent") and "$" in md
    frag = w.html()
    assert frag.startswith('<div class="sbp-walkthrough">') and "<script" not in frag
    assert "<math" in frag and "0.358916" in frag  # typeset in MathML, as the report is
    page = w.html(page=True)
    assert page.startswith("<!DOCTYPE html>") and frag in page and "http" not in page  # nothing fetched
    # Jupyter: a one-sample step displays the interactive explorer page of the same step.
    rep = w._repr_html_()
    assert rep.startswith("<iframe srcdoc=") and 'id="sbp-data"' in html.unescape(rep)
    assert "0.358916" in html.unescape(rep)


def test_jupyter_shows_the_typeset_walkthrough_where_the_explorer_does_not_apply():
    net = sbp.mlp([2, 2, 1], activation="sigmoid")
    X, Y = _data(net, "real", 2, seed=1)
    batch = sbp.walkthrough(net, net.init_params(seed=1), X, Y, lr=0.1)
    assert batch._repr_html_() == batch.html()
    wide = sbp.mlp([1, 34], activation="identity")  # 34 neurons: past the explorer's width
    one = sbp.walkthrough(wide, wide.init_params(seed=0), x=[1.0], y=[0.0] * 34, lr=0.1)
    assert one._repr_html_() == one.html()


def test_html_is_well_formed():
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.open, self.texts = [], []

        def handle_starttag(self, tag, attrs):
            if tag not in ("br", "meta"):
                self.open.append(tag)

        def handle_startendtag(self, tag, attrs):  # <br/>, <mspace/>: nothing left open
            pass

        def handle_endtag(self, tag):
            assert self.open.pop() == tag

        def handle_data(self, data):
            self.texts.append(data)

    net = sbp.mlp([2, 3, 3], activation=["relu", "softmax"], loss="cross_entropy")
    X, Y = _data(net, "onehot", 2, seed=4)
    w = sbp.walkthrough(net, net.init_params(seed=4), X, Y, lr=0.1)
    parser = Tags()
    page = w.html(page=True)
    parser.feed(page)
    assert parser.open == []
    # Every formula is well-formed MathML, one per line of the document, δ⁽²⁾₁'s among them.
    maths = re.findall(r"<math\b.*?</math>", page, flags=re.S)
    lines = page.count('<div class="sbp-line"><math')
    assert lines == sum(len(sec.lines) for sec in w.document().sections) and len(maths) >= lines
    for m in maths:
        ElementTree.fromstring(m)
    delta = [m for m in maths if "<mi>δ</mi><mn>1</mn><mn>(2)</mn>" in m]
    assert delta and "<mi>y</mi><mn>1</mn>" in delta[0]


# ----------------------------------------------------------------------------------- JSON
def test_json_schema_holds_every_value():
    net, w = _mazur()
    data = json.loads(w.json())
    assert data["schema"] == sbp.walkthroughs.SCHEMA and data["batch_size"] == 1 and data["lr"] == 0.5
    nodes = {n["name"]: n for n in data["nodes"]}
    assert set(nodes) == {s.name for s, _ in w._forward} | {d.name for d in w.deltas_order()}
    for name, node in nodes.items():
        s = net.symbol(name) if name != "J" else net.J
        assert node["value"] == w.values[0][s] and node["values"] == [w.values[0][s]]
        assert node["latex"] and node["formula_latex"] and node["formula"]
    assert nodes["delta1_1"]["formula"] == sbp.to_str(net.deltas[net.delta(1, 1)])
    params = {p["name"]: p for p in data["parameters"]}
    assert list(params) == [p.name for p in net.params]
    for p in net.params:
        entry = params[p.name]
        assert entry["value"] == MAZUR[p.name] and entry["updated"] == w.updated[p]
        assert entry["gradient"]["value"] == w.gradient[p] == entry["gradient"]["per_sample"][0]
        assert entry["gradient"]["formula"] == sbp.to_str(net.backprop.adjoint[p.name])
    assert data["loss"]["before"] == w.loss and data["loss"]["after"] == w.loss_after


def test_json_batch_has_per_sample_values_and_strict_numbers():
    net = sbp.mlp([2, 3, 3], activation=["relu", "softmax"], loss="cross_entropy")
    X, Y = _data(net, "onehot", 3, seed=1)
    w = sbp.walkthrough(net, net.init_params(seed=1), X, Y, lr=0.1)
    data = w.to_dict()
    node = next(n for n in data["nodes"] if n["name"] == "a2_1")
    assert node["value"] is None and node["values"] == [v[net.a(2, 1)] for v in w.values]
    assert next(n for n in data["nodes"] if n["name"] == "delta2_1")["textbook_formula"] == "a2_1 - y1"
    entry = data["parameters"][0]
    assert entry["gradient"]["per_sample"] == [g[net.params[0]] for g in w.sample_gradients]
    assert data["samples"][2] == {"x": X[2].tolist(), "y": Y[2].tolist()}
    # Non-finite numbers are null, so the JSON stays strict.
    big = sbp.mlp([1, 1], activation="identity", loss="quadratic")
    huge = sbp.walkthrough(big, {"w1_1_1": 1e300, "b1_1": 0.0}, x=[1e10], y=[0.0], lr=1.0)
    assert json.loads(huge.json())["loss"]["before"] is None


# ------------------------------------------------------------------------- limits, errors
def test_too_large_is_refused_early_and_the_limit_can_be_raised():
    net = sbp.mlp([4, 8, 8, 3])
    with pytest.raises(sbp.SpecError, match=r"139 parameters, more than the 80 .* max_params=139"):
        sbp.walkthrough(net, net.init_params(0), x=[0] * 4, y=[0] * 3, lr=0.1)
    assert "graph" not in net.__dict__  # refused before the scalar graph was built
    small = sbp.mlp([2, 2, 1])
    X = np.zeros((9, 2))
    with pytest.raises(sbp.SpecError, match=r"batch of 9 samples.*max_samples=9"):
        sbp.walkthrough(small, small.init_params(0), X, np.zeros((9, 1)), lr=0.1)
    w = sbp.walkthrough(small, small.init_params(0), X, np.zeros((9, 1)), lr=0.1, max_samples=None)
    assert w.batch_size == 9


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"x": [1.0, 2.0], "y": [1.0], "X": [[1.0, 2.0]]}, "not both"),
    ({"x": [1.0, 2.0]}, "y is missing"),
    ({"x": [1.0], "y": [1.0]}, r"x must hold 2 value\(s\) per sample"),
    ({"X": [[1.0, 2.0]] * 2, "Y": [[1.0]] * 3}, "X has 2 sample"),
    ({"x": [1.0, float("nan")], "y": [1.0]}, "finite|NaN|nan"),
    ({"x": [1.0, 2.0], "y": [1.0], "lr": 0.0}, "lr must be a positive"),
    ({"x": [1.0, 2.0], "y": [1.0], "lr": True}, "lr must be a positive"),
    ({"x": [1.0, 2.0], "y": [1.0], "params": {"w1_1_1": 1.0}}, "lack"),
    ({"x": [1.0, 2.0], "y": [1.0], "params": "inf"}, "finite"),
    ({"x": ["a", 2.0], "y": [1.0]}, "must be numbers"),
])
def test_bad_input_is_one_clear_error(kwargs, message):
    net = sbp.mlp([2, 1], activation="sigmoid", loss="quadratic")
    params = kwargs.pop("params", {"w1_1_1": 1.0, "w1_1_2": 2.0, "b1_1": 0.0})
    if params == "inf":
        params = {"w1_1_1": 1.0, "w1_1_2": float("inf"), "b1_1": 0.0}
    kwargs.setdefault("lr", 0.1)
    with pytest.raises(sbp.SpecError, match=message):
        sbp.walkthrough(net, params, **kwargs)


# ------------------------------------------------------------------------ command line
def test_cli_mazur_text(capsys):
    assert main(["walkthrough", "--layers", "2,2,2", "--activation", "sigmoid", "--loss", "quadratic",
                 "--at", str(MAZUR_FILE), "--lr", "0.5"]) == 0
    _, w = _mazur()
    assert capsys.readouterr().out == w.text() + "\n"


def test_cli_batch_json_to_file(tmp_path, capsys):
    out = tmp_path / "w.json"
    assert main(["walkthrough", "--layers", "2,2,2", "--at", str(MAZUR_FILE), "--x", "0.05,0.1;1,-1",
                 "--y", "0.01,0.99;0.5,0.5", "--lr", "0.5", "--format", "json", "--out", str(out)]) == 0
    net = sbp.mlp([2, 2, 2])
    w = sbp.walkthrough(net, MAZUR, [MAZUR_X, [1, -1]], [MAZUR_Y, [0.5, 0.5]], lr=0.5)
    assert json.loads(out.read_text()) == json.loads(w.json())
    assert [p.name for p in tmp_path.iterdir()] == ["w.json"]  # no temporary file left


@pytest.mark.parametrize("fmt", ["latex", "markdown", "html"])
def test_cli_formats(capsys, fmt):
    assert main(["walkthrough", "--layers", "2,2,2", "--at", str(MAZUR_FILE), "--lr", "0.5",
                 "--format", fmt]) == 0
    _, w = _mazur()
    expected = {"latex": w.latex(), "markdown": w.markdown(), "html": w.html(page=True)}[fmt]
    assert capsys.readouterr().out.rstrip("\n") == expected.rstrip("\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--layers", "4,8,8,3", "--seed", "0", "--x", "1,2,3,4", "--y", "0,0,1"],
     "139 parameters.*give --max-params 139"),
    (["--layers", "2,2,2"], "--at PARAMS.json or --seed N"),
    (["--layers", "2,2,2", "--seed", "1", "--x", "1,2"], "targets with --y"),
    (["--layers", "2,2,2", "--seed", "1", "--x", "1,2,3", "--y", "1,2"], "--x needs 2 number"),
    (["--layers", "2,2,2", "--seed", "1", "--x", "1,2;3,4", "--y", "1,2"], "2 sample.*--y 1"),
    (["--layers", "2,2,2", "--seed", "1", "--x", "1,a", "--y", "1,2"], "--x must be comma-separated"),
    (["--layers", "2,2", "--at", str(MAZUR_FILE)], "names b2_1, b2_2, .*: not parameters"),
    (["--layers", "2,2,2", "--seed", "1", "--x", "1,2", "--y", "1,2", "--out", "/no/such/dir/w.txt"],
     "does not exist"),
])
def test_cli_errors_are_one_line(capsys, args, message):
    import re

    assert main(["walkthrough", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


def test_docs_session_writes_the_example_file():
    page = (ROOT / "docs" / "walkthrough.md").read_text()
    written = page.split("$ cat > mazur.json <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    assert json.loads(written) == json.loads(MAZUR_FILE.read_text())


# ------------------------------------------------------------------ extreme inputs
# The textbook definitions evaluated at high precision are the oracle: 1 − σ(800) is
# e^(−800) ≈ 1e-348, so the working precision is 50 digits beyond the smallest quantity
# the definitions cancel down to (a logit gap of 1600 makes e^(−1600) ≈ 1e-695).
ORACLE_DIGITS = 50 + 700
#: Below this a float64 value has underflowed (or is subnormal): compared absolutely.
TINY = 1e-290


def _mp_program(program, values):
    import mpmath
    import sympy as sp

    for s, expr in program:
        syms = sorted(expr.free_symbols, key=lambda q: q.name)
        f = sp.lambdify(syms, expr, modules="mpmath")
        values[s] = mpmath.mpf(f(*(values[q] for q in syms)))
    return values


def _mp_walkthrough(net, params, X, Y, lr):
    """One SGD step from the textbook definitions, z, a, J, δ and ∂J/∂p as printed, in mpmath."""
    import mpmath

    bp = net.backprop
    forward = []
    for layer in range(1, net.n_layers + 1):
        forward += [(net.z(layer, j), bp.definition(net.z(layer, j))) for j in range(1, net.sizes[layer] + 1)]
        forward += [(net.a(layer, j), bp.definition(net.a(layer, j))) for j in range(1, net.sizes[layer] + 1)]
    forward.append((net.J, bp.definition(net.J)))
    deltas = [(d, bp.delta[d]) for layer in range(net.n_layers, 0, -1)
              for d in (net.delta(layer, j) for j in range(1, net.sizes[layer] + 1))]

    def point(p, i):
        v = {q: mpmath.mpf(float(val)) if not isinstance(val, mpmath.mpf) else val for q, val in p.items()}
        v.update({s: mpmath.mpf(float(X[i][k])) for k, s in enumerate(net.inputs)})
        v.update({s: mpmath.mpf(float(Y[i][j])) for j, s in enumerate(net.targets)})
        return v

    with mpmath.workdps(ORACLE_DIGITS):
        values, grads = [], []
        for i in range(len(X)):
            v = _mp_program([*forward, *deltas], point(params, i))
            values.append(v)
            grads.append({p: v[d] * (v[f] if f != 1 else 1) for p, (d, f) in _adjoint_factors(net).items()})
        n = len(X)
        gradient = {p: mpmath.fsum(g[p] for g in grads) / n for p in net.params}
        updated = {p: mpmath.mpf(float(params[p])) - mpmath.mpf(lr) * gradient[p] for p in net.params}
        after = [_mp_program(forward, point(updated, i))[net.J] for i in range(n)]
        return values, grads, gradient, updated, after


def _adjoint_factors(net):
    """∂J/∂w^(l)_jk = δ^(l)_j · a^(l−1)_k (x_k for l = 1), ∂J/∂b^(l)_j = δ^(l)_j: from the names."""
    out = {}
    for p in net.params:
        parsed = parse_name(p.name)
        layer, j = parsed.layer, parsed.index[0]
        if parsed.head == "w":
            k = parsed.index[1]
            out[p] = (net.delta(layer, j), net.inputs[k - 1] if layer == 1 else net.a(layer - 1, k))
        else:
            out[p] = (net.delta(layer, j), 1)
    return out


def _agree(got, true, what, scale=None):
    """float64 ``got`` against the high-precision ``true``: 1e-12 relative (of ``scale`` when a
    mean cancels), absolute where the true value has underflowed."""
    import mpmath

    scale = abs(true) if scale is None else scale
    assert math.isfinite(got), f"{what}: {got} is not finite (true {mpmath.nstr(true, 17)})"
    if scale < TINY:
        assert abs(got - true) <= TINY, f"{what}: {got} vs {mpmath.nstr(true, 17)}"
    else:
        assert abs(got - true) <= 1e-12 * scale, f"{what}: {got} vs {mpmath.nstr(true, 17)}"


# net, params set so that the logits are extreme, inputs, targets: each walks through logits
# at ±40 and ±800 (a rounds to 0 or 1, e^800 overflows, a saturated softmax's log is -inf).
def _extreme_cases():
    cases = []
    # sigmoid hidden layer saturated at z = ±40, sigmoid output at ±40 / ±800, binary targets.
    for out_z in (40.0, -40.0, 800.0, -800.0):
        for y in (0.0, 1.0):
            net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy")
            p = {"w1_1_1": 40.0, "w1_1_2": 0.5, "w1_2_1": -40.0, "w1_2_2": 0.25, "b1_1": 0.0, "b1_2": 0.0,
                 "w2_1_1": 1.5, "w2_1_2": -0.75, "b2_1": out_z - 1.5}
            cases.append((f"sigmoid-bce z={out_z:g} y={y:g}", net, p, [[1.0, 0.0]], [[y]]))
    # The same logits through the quadratic loss: δ = σ'(z)(a − y) with a − y = −e^(−40).
    for out_z in (40.0, -40.0):
        net = sbp.mlp([1, 2, 1], activation=["tanh", "sigmoid"], loss="quadratic")
        p = {"w1_1_1": 40.0, "w1_2_1": -0.5, "b1_1": 0.0, "b1_2": 0.0, "w2_1_1": 2.0, "w2_1_2": 1.0,
             "b2_1": out_z - 2.0}
        for y in (0.0, 1.0):
            cases.append((f"sigmoid-quadratic z={out_z:g} y={y:g}", net, p, [[1.0]], [[y]]))
    # Softmax + cross-entropy at logits (800, -800, 0) and (40, -40, 0), every target class:
    # saturated (J = 1600), nearly exact (J = e^-800) and in between; tanh hidden at ±40.
    for big in (800.0, 40.0):
        net = sbp.mlp([2, 2, 3], activation=["tanh", "softmax"], loss="cross_entropy")
        p = {"w1_1_1": 40.0, "w1_1_2": 0.0, "w1_2_1": -0.3, "w1_2_2": 0.2, "b1_1": 0.0, "b1_2": 0.0,
             "w2_1_1": 0.5, "w2_1_2": 0.25, "w2_2_1": -0.5, "w2_2_2": 0.75, "w2_3_1": 0.125, "w2_3_2": -1.0,
             "b2_1": big - 0.5, "b2_2": -big + 0.5, "b2_3": -0.125}
        for c in range(3):
            cases.append((f"softmax-ce logits +-{big:g} class {c + 1}", net, p, [[1.0, 0.0]],
                          [np.eye(3)[c].tolist()]))
    # Softmax + quadratic at ±40: δ from log a and 1 − a without cancellation.
    net = sbp.mlp([1, 3], activation="softmax", loss="quadratic")
    p = {"w1_1_1": 40.0, "w1_2_1": -40.0, "w1_3_1": 1.0, "b1_1": 0.0, "b1_2": 0.0, "b1_3": 0.0}
    cases.append(("softmax-quadratic logits +-40", net, p, [[1.0]], [[1.0, 0.0, 0.0]]))
    return cases


EXTREME = _extreme_cases()


@pytest.mark.parametrize(("name", "net", "params", "X", "Y"), EXTREME, ids=[c[0] for c in EXTREME])
def test_extreme_logits_every_number_is_finite_and_exact(name, net, params, X, Y):
    lr = 0.01
    w = sbp.walkthrough(net, params, X, Y, lr=lr)
    values, grads, gradient, updated, after = _mp_walkthrough(net, w.params, X, Y, lr)
    for s in (*(s for s, _ in w._forward), *w.deltas_order()):
        _agree(w.values[0][s], values[0][s], s.name)
    for p in net.params:
        _agree(w.sample_gradients[0][p], grads[0][p], f"dJ/d{p.name}")
        _agree(w.gradient[p], gradient[p], f"dJ/d{p.name}")
        _agree(w.updated[p], updated[p], f"{p.name}+")
    _agree(w.loss, values[0][net.J], "J")
    _agree(w.loss_after, after[0], "J after")
    # Every number shown is a number: no nan, no inf, in the text and in strict JSON.
    assert "nan" not in w.text() and "inf" not in w.text()
    json.loads(w.json())


def test_extreme_batch_mean_is_exact():
    # Two saturated samples in one batch: the mean of their gradients, the update, the loss.
    net = sbp.mlp([2, 2, 3], activation=["sigmoid", "softmax"], loss="cross_entropy")
    params = {**EXTREME[-2][2]}
    X, Y = [[1.0, 0.0], [-1.0, 2.0]], [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    lr = 0.01
    w = sbp.walkthrough(net, params, X, Y, lr=lr)
    values, grads, gradient, updated, after = _mp_walkthrough(net, w.params, X, Y, lr)
    for i in range(2):
        for s in (*(s for s, _ in w._forward), *w.deltas_order()):
            _agree(w.values[i][s], values[i][s], f"sample {i}: {s.name}")
        _agree(w.losses_after[i], after[i], f"sample {i}: J after")
    for p in net.params:
        # A mean of float64 values is exact to their size, not to a difference that cancels.
        scale = sum(abs(g[p]) for g in grads) / 2
        _agree(w.gradient[p], gradient[p], f"dJ/d{p.name}", scale)
        _agree(w.updated[p], updated[p], f"{p.name}+", max(abs(updated[p]), lr * scale))
    _agree(w.loss, sum(v[net.J] for v in values) / 2, "J")


@pytest.mark.parametrize(("name", "net", "params", "X", "Y"), EXTREME, ids=[c[0] for c in EXTREME])
def test_extreme_logits_match_the_compiled_model(name, net, params, X, Y):
    import mpmath

    lr = 0.01
    w = sbp.walkthrough(net, params, X, Y, lr=lr)
    model = net.compile()
    out = model.predict(w.params, X)
    for j, a in enumerate(net.outputs):
        _agree(w.values[0][a], mpmath.mpf(float(out[0, j])), a.name)
    _agree(w.loss, mpmath.mpf(model.loss(w.params, X, Y)), "J")
    g = model.gradient(w.params, X, Y)
    for p in net.params:
        _agree(w.gradient[p], mpmath.mpf(g[p]), f"dJ/d{p.name}")
    arrays = model.arrays(w.params)
    model.step(arrays, np.asarray(X), np.asarray(Y), lr)
    stepped = model.mapping(arrays)
    for p in net.params:
        _agree(w.updated[p], mpmath.mpf(stepped[p]), f"{p.name}+")
    _agree(w.loss_after, mpmath.mpf(model.loss(stepped, X, Y)), "J after")
