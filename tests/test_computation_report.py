"""The HTML report of a computation: sbp.report(g, path) and `symbackprop report --file`."""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import sympy as sp
from test_compile_computation import SKIP, build, substituted
from test_report import _FLAGS, _chromium, _parse

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.computation_report import check_point
from symbackprop.errors import SpecError


def _table(text):
    """The compiled check's rows: name -> (symbolic, compiled, central difference, mark)."""
    rows = re.findall(r"<tr><td><code>(\w+)</code></td><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>"
                      r"<td>([^<]+)</td></tr>", text)
    return {name: (float(a), float(b), float(c), mark) for name, a, b, c, mark in rows}


@pytest.mark.parametrize("name", ["skip", "shared", "density"])
def test_report_of_a_computation_has_every_part_and_well_formed_mathml(tmp_path, name):
    g = build(name)
    out = sbp.report(g, tmp_path / "r.html")
    page = _parse(out)
    assert page.h2 == ["Definitions", "Computation graph", "Gradient paths", "Derivations", "Compiled check"]
    assert len(page.h3) == len(g.params)  # one derivation per parameter, in order
    assert not page.external
    assert len(page.srcs) == 2 and all(s.startswith("data:image/png;base64,") for s in page.srcs)
    text = out.read_text()
    maths = re.findall(r"<math\b.*?</math>", text, flags=re.S)
    for m in maths:
        ET.fromstring(m)  # each formula is well-formed XML
    # Every line typeset: the definitions, then each parameter's derivation, none as text
    point = check_point(g)
    values = {s.name: v for s, v in point.items()}
    lines = len(g.definitions) + sum(len(sec.lines) for p in g.params
                                     for sec in g.derivation(p).at(values).document().sections)
    assert text.count('<div class="sbp-line"><math') == lines
    for p in g.params:
        assert f'id="d-{p.name}"' in text
    assert f"All {len(g.params)} parameter(s) agree" in text


def test_the_compiled_check_shows_the_gradient_of_sympy_diff(tmp_path):
    g = build("skip")
    text = sbp.report(g, tmp_path / "r.html").read_text()
    rows = _table(text)
    assert list(rows) == [p.name for p in g.params]
    J = substituted(g)
    point = {s: sp.Float(v, 30) for s, v in check_point(g).items()}
    # the point the page names is the one the table is at
    assert f"x = {float(point[g.symbol('x')]):.6g}" in text
    for p in g.params:
        want = float(sp.diff(J, p).xreplace(point).evalf(30))
        symbolic, compiled, central, mark = rows[p.name]
        assert symbolic == pytest.approx(want, rel=1e-9)  # printed to 10 digits
        assert compiled == pytest.approx(want, rel=1e-9)
        assert central == pytest.approx(want, rel=1e-5, abs=1e-8)
        assert mark == "✓"


def test_report_with_trained_params_data_and_history(tmp_path):
    g = sbp.computation(SKIP, params="w1 b1 w2 w3 b2", inputs="x", targets="y")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 1))
    Y = (X > 0).astype(float)
    params, history = sbp.train(g, X, Y, epochs=3, lr=0.5, seed=0, progress=False)
    out = sbp.report(g, tmp_path / "t.html", params=params, data=(X, Y), history=history,
                     note="Trained for the test.", max_params=2)
    page = _parse(out)
    assert page.h2[-1] == "Training" and len(page.h3) == 2
    text = out.read_text()
    assert "Trained for the test." in text and "This computation has 5 parameters; shown are the first 2" in text
    # oracle: the forward pass by hand in NumPy
    v = {p.name: params[p] for p in g.params}
    h = np.tanh(v["w1"] * X + v["b1"])
    o = 1 / (1 + np.exp(-(v["w2"] * h + v["w3"] * X + v["b2"])))
    ref = float(np.mean((o - Y) ** 2 / 2))
    loss = float(re.search(r"Mean loss on the 30 samples: <b>([^<]+)</b>", text).group(1))
    assert loss == pytest.approx(ref, rel=1e-5)
    # the derivations and the check are at the trained parameters and the first row
    assert f"w1 = {v['w1']:.6g}" in text and f"x = {X[0, 0]:.6g}" in text
    assert len(page.srcs) == 3  # + the loss curve


def test_report_of_a_computation_refuses_bad_input(tmp_path):
    g = build("skip")
    with pytest.raises(SpecError, match="max_params"):
        sbp.report(g, tmp_path / "x.html", max_params=0)
    with pytest.raises(SpecError, match="train first"):
        sbp.report(g, tmp_path / "x.html", data=(np.zeros((2, 1)), np.zeros((2, 1))))
    with pytest.raises(SpecError, match="Unknown parameter"):
        sbp.report(g, tmp_path / "x.html", params={"w9": 1.0})
    with pytest.raises(sbp.GraphTooLargeError, match="A report draws the graph of the computation; it has 10 edges"):
        sbp.report(g, tmp_path / "x.html", max_edges=9)
    assert not (tmp_path / "x.html").exists()


def test_cli_report_file(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text("params: w1 b1 w2 w3 b2\ninputs: x\ntargets: y\n" + SKIP)
    out = tmp_path / "r.html"
    assert main(["report", "--file", str(model), "--out", str(out), "--max-params", "3"]) == 0
    assert len(_parse(out).h3) == 3 and "<h2>Compiled check</h2>" in out.read_text()
    assert main(["report", "--file", str(model), "--data", "xor", "--out", str(out)]) == 2
    assert "--data trains a network given by --layers" in capsys.readouterr().err
    assert main(["report", "--out", str(out)]) == 2
    assert "report needs --layers (a network) or --file (a computation file)" in capsys.readouterr().err


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium); "
                    "the browser check of the HTML report needs it")
def test_computation_report_renders_in_headless_chromium(tmp_path):
    page = sbp.report(build("shared"), tmp_path / "report.html")
    common = [_chromium(), *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
                         check=False, capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page's inline script: every image decoded, every <math> laid out with a size
    assert re.search(r'data-images="(\w+)"', dom.stdout).group(1) == "ok"
    assert re.search(r'data-mathml="(\w+)"', dom.stdout).group(1) == "ok"
    laid = re.search(r'data-mathml-laid-out="(\d+)/(\d+)"', dom.stdout)
    assert laid.group(1) == laid.group(2) and int(laid.group(2)) > 30
    for heading in ("Definitions", "Computation graph", "Derivations", "Compiled check"):
        assert f"<h2>{heading}</h2>" in dom.stdout
