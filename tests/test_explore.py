"""The explorer in a real headless Chromium, driven by Playwright: click, step, slide.

Skipped, with the reason, when Playwright for Python or Chromium is not installed
(``.ci/run`` installs both: ``pip install playwright`` and Debian's ``chromium``; Playwright's
own browser download is never used). Every state is saved as a screenshot in the test's
temporary folder; with ``SBP_EXPLORER_SHOTS=DIR`` a few are also copied to DIR (how the
pictures of docs/explorer.md are made).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from oracle import expanded_loss, value

import symbackprop as sbp

playwright = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright); "
    "the browser test of the explorer needs it")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


pytestmark = pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (Debian: "
                                "apt-get install chromium); the browser test of the explorer needs it")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAZUR = {"w1_1_1": 0.15, "w1_1_2": 0.20, "b1_1": 0.35, "w1_2_1": 0.25, "w1_2_2": 0.30, "b1_2": 0.35,
         "w2_1_1": 0.40, "w2_1_2": 0.45, "b2_1": 0.60, "w2_2_1": 0.50, "w2_2_2": 0.55, "b2_2": 0.60}
X0, Y0 = [0.05, 0.10], [0.01, 0.99]


@pytest.fixture
def browser(tmp_path):
    """A fresh Chromium profile; every request that is not the page's own file is refused
    and recorded (the page must need none)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=_chromium(), headless=True,
            args=FLAGS, viewport={"width": 1400, "height": 1000})
        outside, errors = [], []

        def route(r):
            if r.request.url.startswith(("file:", "data:", "about:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        context.on("request", lambda req: None if req.url.startswith(("file:", "data:", "about:"))
                   else outside.append(req.url))
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        yield page, outside, errors
        context.close()


def _shot(page, tmp_path: Path, name: str, doc: bool = False) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get("SBP_EXPLORER_SHOTS")
    if doc and folder:
        shutil.copy(path, Path(folder) / f"explorer-{name}.png")


def _number(text: str) -> float:
    m = re.search(r"[-\u2212]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)
    assert m, text
    return float(m.group(0).replace("\u2212", "-"))


def _click_edge(page, name: str, at: float = 0.3) -> None:
    """A real mouse click on a weight's line, ``at`` of the way from its source neuron."""
    x, y = page.evaluate("""([name, t]) => {
        const el = document.querySelector('.hit[data-p="' + name + '"]');
        const m = el.getScreenCTM(), a = el.x1.baseVal.value, b = el.y1.baseVal.value;
        const c = el.x2.baseVal.value, d = el.y2.baseVal.value;
        const p = new DOMPoint(a + t * (c - a), b + t * (d - b)).matrixTransform(m);
        return [p.x, p.y]; }""", [name, at])
    page.mouse.click(x, y)


def _visible_math_sizes(page, selector: str) -> list[list[float]]:
    return page.evaluate("""(sel) => Array.from(document.querySelectorAll(sel + ' math'))
        .filter(m => !m.closest('details:not([open])'))
        .map(m => { const r = m.getBoundingClientRect(); return [r.width, r.height]; })""", selector)


def test_click_a_weight_step_through_and_no_network(browser, tmp_path):
    page, outside, errors = browser
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    ex = sbp.explore(net, MAZUR, x=X0, y=Y0, lr=0.5)
    path = ex.save(tmp_path / "mazur.html")
    page.goto(path.resolve().as_uri())
    page.wait_for_function("document.body.getAttribute('data-ready') === 'yes'")
    _shot(page, tmp_path, "start")

    # Oracle: the loss composed from the definitions, differentiated by sympy.diff.
    point = {**{net.parameter(k): v for k, v in MAZUR.items()},
             **dict(zip(net.inputs, X0)), **dict(zip(net.targets, Y0))}
    loss = expanded_loss(net)
    grad = {p.name: value(sp.diff(loss, p), point) for p in net.params}

    # Click the weight w⁽¹⁾₁₁ on the diagram: its derivation opens, with the value Python computes.
    _click_edge(page, "w1_1_1")
    assert page.evaluate("document.body.getAttribute('data-selected')") == "w1_1_1"
    shown = page.inner_text("#grad-value")
    assert abs(_number(shown) - grad["w1_1_1"]) <= 1e-9 * max(1.0, abs(grad["w1_1_1"]))
    deriv = page.inner_text("#deriv")
    assert "Paths from" in deriv and "δ recursion" in deriv and "Local partial" in deriv
    # Its formula: ∂J/∂w⁽¹⁾₁₁ = δ⁽¹⁾₁ x₁, typeset (the δ and x₁ of the δ form are MathML).
    form = page.evaluate("""() => Array.from(document.querySelectorAll('#deriv .big math msubsup, #deriv .big math msub'))
        .map(e => e.textContent)""")
    assert "δ1(1)" in form and "x1" in form and "w11(1)" in form
    # Compact form always; the expanded one is past the size guard here, and the page says so.
    assert page.locator("#compact math").count() == 1 and page.locator("#expanded").count() == 0
    size = ex.data["content"]["params"]["w1_1_1"]["expanded_size"]
    assert f"about {size:,} operations" in page.inner_text("#expanded-note")
    # Its paths are highlighted on the diagram.
    assert "own" in page.get_attribute("#m-e-1-1-1", "class")
    assert "hl" in page.get_attribute("#m-e-2-1-1", "class") and "hl" in page.get_attribute("#m-e-2-2-1", "class")
    assert "hl" not in (page.get_attribute("#m-e-1-2-2", "class") or "")
    sizes = _visible_math_sizes(page, "#deriv")
    assert len(sizes) > 15 and all(w > 0 and h > 0 for w, h in sizes), sizes
    _shot(page, tmp_path, "weight", doc=True)

    # A neuron stands for its bias.
    page.click("#m-n-2-2")
    assert page.evaluate("document.body.getAttribute('data-selected')") == "b2_2"
    assert abs(_number(page.inner_text("#grad-value")) - grad["b2_2"]) <= 1e-9
    assert page.locator("#expanded math").count() == 1  # small enough to be shown expanded
    assert page.locator("#expanded-note").count() == 0

    # Steps: forward, layer 1 — the activations appear on the diagram.
    page.click("#b-next")
    assert page.evaluate("document.body.getAttribute('data-phase')") == "forward"
    a11 = value(1 / (1 + sp.exp(-(net.w(1, 1, 1) * net.x(1) + net.w(1, 1, 2) * net.x(2) + net.b(1, 1)))), point)
    assert _number(page.text_content("#m-v-1-1")) == pytest.approx(a11, abs=1e-6)  # 6 digits shown
    assert page.text_content("#m-v-2-1") == ""  # layer 2 is not computed yet
    sizes = _visible_math_sizes(page, "#step-box")
    assert len(sizes) == 4 and all(w > 0 and h > 0 for w, h in sizes)
    _shot(page, tmp_path, "forward")
    # Backward: every δ on the diagram.
    page.click("#b-backward")
    assert page.evaluate("document.body.getAttribute('data-phase')") == "backward"
    for l, j in ((1, 1), (2, 2)):
        d = sp.diff(loss, net.b(l, j))  # δ⁽ˡ⁾ⱼ = ∂J/∂z⁽ˡ⁾ⱼ = ∂J/∂b⁽ˡ⁾ⱼ
        assert _number(page.text_content(f"#m-v-{l}-{j}")) == pytest.approx(value(d, point), rel=2e-6, abs=1e-9)
    _shot(page, tmp_path, "backward", doc=True)
    # Update: the loss before and after the step.
    page.click("#b-update")
    after = dict(point)
    after.update({p: MAZUR[p.name] - 0.5 * grad[p.name] for p in net.params})
    before_shown, after_shown = _number(page.inner_text("#loss-before")), _number(page.inner_text("#loss-after"))
    assert before_shown == pytest.approx(value(loss, point), rel=1e-10)
    assert after_shown == pytest.approx(value(loss, after), rel=1e-10)
    assert after_shown < before_shown
    _shot(page, tmp_path, "update")
    page.click("#b-reset")
    assert page.evaluate("document.body.getAttribute('data-step')") == "0"
    # A presenter's remote: the arrow keys step too.
    page.locator("h1").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.body.getAttribute('data-step')") == "2"
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.body.getAttribute('data-step')") == "1"
    # The ring just outside a neuron takes the click for its bias too.
    x, y = page.evaluate("""() => { const c = document.getElementById('m-n-1-2'), m = c.getScreenCTM();
        const p = new DOMPoint(c.cx.baseVal.value, c.cy.baseVal.value + c.r.baseVal.value + 3).matrixTransform(m);
        return [p.x, p.y]; }""")
    page.mouse.click(x, y)
    assert page.evaluate("document.body.getAttribute('data-selected')") == "b1_2"

    assert outside == [], f"the page asked the network for {outside}"
    assert errors == []


def test_epoch_slider_and_decision_boundary(browser, tmp_path):
    page, outside, errors = browser
    net = sbp.mlp([2, 6, 1], activation=["tanh", "sigmoid"], loss="binary_cross_entropy")
    data = sbp.datasets.for_network(sbp.datasets.moons(n=80, seed=0), net)
    settings = dict(epochs=30, lr=0.5, batch_size=16, seed=1)
    ex = sbp.explore(net, data=data, snapshots=8, **settings)
    page.goto(ex.save(tmp_path / "moons.html").resolve().as_uri())
    page.wait_for_function("document.body.getAttribute('data-ready') === 'yes'")
    _shot(page, tmp_path, "trained", doc=True)
    epochs = ex.data["training"]["epochs"]
    model = net.compile()
    # Move the slider with the keyboard, as a person would: Home, then three steps right.
    page.focus("#epoch")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    e = epochs[3]
    assert page.evaluate("document.body.getAttribute('data-epoch')") == str(e)
    assert f"epoch {e} of 30" in page.inner_text("#epoch-out")
    # Oracle: train again for e epochs, and the loss of the whole set with those weights.
    params, history = sbp.train(net, data.X, data.Y, epochs=e, progress=False, **{
        k: settings[k] for k in ("lr", "batch_size", "seed")})
    expected = float(model.loss(params, data.X, data.Y))
    assert _number(page.inner_text("#epoch-loss")) == pytest.approx(expected, rel=1e-9)
    assert _number(page.inner_text("#epoch-mean")) == pytest.approx(history.loss[-1], rel=1e-9)
    # The weight lines follow the slider: the width of w⁽¹⁾₁₁ grows with |w| of that epoch.
    drawn = float(page.get_attribute("#t-e-1-1-1", "data-value"))
    assert drawn == pytest.approx(params[net.w(1, 1, 1)], rel=1e-3)
    # The decision boundary was drawn (several colours) and the loss dot sits on the curve.
    colours = page.evaluate("""() => { const c = document.getElementById('boundary-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, s = new Set();
        for (let i = 0; i < d.length; i += 4) s.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]); return s.size; }""")
    assert colours > 10
    box = page.locator("#boundary-canvas").bounding_box()
    assert box["width"] > 100 and box["height"] > 100
    assert page.locator("#loss-mark").is_visible()
    # Gradient flow of that epoch: layer 1's RMS δ norm, as sbp.gradient_flow records it.
    _, recorded = sbp.train(net, data.X, data.Y, epochs=30, progress=False, gradient_flow=True,
                            **{k: settings[k] for k in ("lr", "batch_size", "seed")})
    flow = sbp.gradient_flow(recorded)
    cells = page.locator("#flow-table tr").nth(1).locator("td").all_inner_texts()
    assert cells[0] == "1" and cells[1] == "1"  # layer 1, sup|tanh'| = 1
    assert _number(cells[2]) == pytest.approx(flow.delta_norm[e - 1][0], rel=1e-5)
    _shot(page, tmp_path, "epoch")
    assert outside == [] and errors == []


def test_the_jupyter_repr_runs_in_its_iframe(browser, tmp_path):
    page, outside, errors = browser
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy")
    ex = net.explore(x=[0.5, -0.5], y=[1.0])
    cell = tmp_path / "notebook-cell.html"
    cell.write_text(f"<!DOCTYPE html><html><body>{ex._repr_html_()}</body></html>", encoding="utf-8")
    page.goto(cell.resolve().as_uri())
    frame = page.frame_locator("iframe")
    frame.locator("body[data-ready='yes']").wait_for()
    frame.locator("#b-next").click()
    assert "Forward, layer 1" in frame.locator("#step-title").inner_text()
    assert outside == [] and errors == []
    _shot(page, tmp_path, "notebook")


def test_a_medium_network_renders_every_panel(browser, tmp_path):
    page, outside, errors = browser
    rng = np.random.default_rng(0)
    net = sbp.mlp([4, 8, 8, 3], activation=["relu", "relu", "softmax"], loss="cross_entropy")
    X = rng.normal(size=(40, 4))
    Y = np.eye(3)[rng.integers(0, 3, 40)]
    path = sbp.explore(net, data=(X, Y), epochs=10, lr=0.1).save(tmp_path / "medium.html")
    page.goto(path.resolve().as_uri())
    page.wait_for_function("document.body.getAttribute('data-ready') === 'yes'")
    model = net.compile()
    x, y = X[:1], Y[:1]
    compiled = model.gradient(net.init_params(0), x, y)
    for name in ("w1_3_2", "b2_5", "w3_2_8"):
        if name[0] == "w":
            _click_edge(page, name, at=0.37)
        else:
            page.click(f"#m-n-{name[1]}-{name.split('_')[1]}")
        assert page.evaluate("document.body.getAttribute('data-selected')") == name
        shown = _number(page.inner_text("#grad-value"))
        assert abs(shown - compiled[net.parameter(name)]) <= 1e-9 * max(1.0, abs(shown))
        sizes = _visible_math_sizes(page, "#deriv")
        assert sizes and all(w > 0 and h > 0 for w, h in sizes)
    # A first-layer weight has more paths than are listed: the page says so.
    _click_edge(page, "w1_1_1", at=0.37)
    assert "paths from" in page.inner_text("#deriv") and "the δ recursion below sums" in page.inner_text("#deriv")
    _shot(page, tmp_path, "medium")
    assert outside == [] and errors == []
