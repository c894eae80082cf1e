"""The HTML report: self-contained, complete, and it renders in a real browser."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.cli import main
from symbackprop.errors import SpecError


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.h2, self.h3, self.srcs, self.external = [], [], [], []
        self._tag = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._tag = tag
        if tag == "img":
            self.srcs.append(a.get("src", ""))
        for key in ("src", "href"):
            if a.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(a[key])

    def handle_data(self, data):
        if self._tag in ("h2", "h3") and data.strip():
            getattr(self, self._tag).append(data.strip())
            self._tag = None


def _parse(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_small_network_has_every_part(tmp_path):
    net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    out = sbp.report(net, tmp_path / "r.html")
    page = _parse(out)
    assert page.h2 == ["Network", "Layer-level equations", "Gradient paths", "Derivations"]
    # One derivation per parameter, in order.
    assert len(page.h3) == len(net.params) == 12
    assert not page.external, "the page must not need the network"
    assert len(page.srcs) == 2  # the diagram and the gradient paths; every formula is MathML
    for src in page.srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    text = out.read_text()
    for p in net.params:
        assert f'id="d-{p.name}"' in text
    # Every derivation is typeset: one MathML line per line of its document, none as text.
    lines = sum(len(sec.lines) for p in net.params for sec in net.derivation(p).document().sections)
    lines += sum(len(sec.lines) for sec in net.equations().document().sections)
    assert text.count('<div class="sbp-line"><math') == lines
    assert '<pre class="sbp-line"' not in text
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_report_big_network_is_summarised(tmp_path):
    net = sbp.mlp([3, 12, 2], activation=["relu", "softmax"], loss="cross_entropy")
    out = sbp.report(net, tmp_path / "big.html", max_params=10)
    page = _parse(out)
    assert len(page.h3) == 4  # first weight and bias of each layer
    assert "This network has 74 parameters" in out.read_text()


def test_report_with_data_trains_and_plots(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    Y = (X[:, :1] > X[:, 1:]).astype(float)
    net = sbp.mlp([2, 2, 1], activation="sigmoid", loss="binary_cross_entropy")
    out = sbp.report(net, tmp_path / "t.html", data=(X, Y), epochs=5, max_params=2)
    page = _parse(out)
    assert page.h2[-1] == "Training"
    text = out.read_text()
    loss = float(re.search(r"Mean loss on the 40 samples: <b>([^<]+)</b>", text).group(1))
    params, _ = sbp.train(net, X, Y, epochs=5, lr=0.5, seed=0, progress=False)
    # Oracle: NumPy forward pass and binary cross-entropy by hand.
    W1, b1 = (np.array([[params[net.w(1, j, k)] for k in (1, 2)] for j in (1, 2)]),
              np.array([params[net.b(1, j)] for j in (1, 2)]))
    W2, b2 = np.array([[params[net.w(2, 1, k)] for k in (1, 2)]]), np.array([params[net.b(2, 1)]])
    a1 = 1 / (1 + np.exp(-(X @ W1.T + b1)))
    a2 = 1 / (1 + np.exp(-(a1 @ W2.T + b2)))
    ref = np.mean(-(Y * np.log(a2) + (1 - Y) * np.log(1 - a2)).sum(axis=1))
    assert abs(loss - ref) < 1e-5 * max(1, abs(ref))
    assert len(page.srcs) == 4  # + loss curve and decision boundary


def test_report_rejects_bad_input(tmp_path):
    net = sbp.mlp([1, 1])
    with pytest.raises(SpecError, match="max_params"):
        sbp.report(net, tmp_path / "x.html", max_params=0)
    with pytest.raises(SpecError, match="pair"):
        sbp.report(net, tmp_path / "x.html", data=[1, 2, 3])


def test_cli_render_and_report(tmp_path, capsys):
    base = ["--layers", "2,3,2", "--activation", "relu,softmax", "--loss", "cross_entropy"]
    for what in ("network", "graph", "paths", "formula", "equations", "expression"):
        out = tmp_path / f"{what}.svg"
        assert main(["render", *base, "--what", what, "--wrt", "w1_2_1", "--out", str(out)]) == 0
        assert out.read_text().lstrip().startswith("<?xml")
    assert main(["render", *base, "--out", str(tmp_path / "n.gif")]) == 2
    assert ".png, .svg or .pdf" in capsys.readouterr().err
    assert main(["report", "--layers", "1,1", "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 1000


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars"]


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium); "
                    "the browser check of the HTML report needs it")
def test_report_renders_in_headless_chromium(tmp_path):
    net = sbp.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy")
    page = sbp.report(net, tmp_path / "report.html", max_params=4)
    browser = _chromium()
    url = page.resolve().as_uri()
    common = [browser, *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--virtual-time-budget=5000", "--dump-dom", url],
                         check=False, capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The inline script marks the body once every image decoded (naturalWidth > 0).
    m = re.search(r'data-images="(\w+)"', dom.stdout)
    assert m and m.group(1) == "ok", re.search(r"<body[^>]*>", dom.stdout)
    n_imgs = re.search(r'data-images-decoded="(\d+)/(\d+)"', dom.stdout)
    assert n_imgs and n_imgs.group(1) == n_imgs.group(2) == "2"
    # The script marks the body once every <math> was laid out with a non-zero size.
    m = re.search(r'data-mathml="(\w+)"', dom.stdout)
    assert m and m.group(1) == "ok", re.search(r"<body[^>]*>", dom.stdout)
    laid = re.search(r'data-mathml-laid-out="(\d+)/(\d+)"', dom.stdout)
    assert laid and laid.group(1) == laid.group(2) and int(laid.group(2)) > 20
    for heading in ("Network", "Layer-level equations", "Gradient paths", "Derivations"):
        assert f"<h2>{heading}</h2>" in dom.stdout
    shot = tmp_path / "shot.png"
    run = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,1600", url],
                         check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[:2] == (1600, 1200)
    # Not blank: a good share of the pixels are ink, in several colours.
    ink = (img[..., :3] < 0.85).any(axis=-1).mean()
    assert 0.02 < ink < 0.8, ink
    assert len(np.unique((img[..., :3] * 8).astype(int).reshape(-1, 3), axis=0)) > 10


def test_report_shows_a_trained_result_and_does_not_train(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    Y = (X[:, :1] > 0).astype(float)
    net = sbp.mlp([2, 1], activation="sigmoid", loss="binary_cross_entropy")
    # Data without params and without training settings: one line saying to train first.
    with pytest.raises(SpecError, match=r"train first.*params=params, history=history"):
        sbp.report(net, tmp_path / "x.html", data=(X, Y), max_params=1)
    assert not (tmp_path / "x.html").exists()
    params, history = sbp.train(net, X, Y, epochs=3, lr=0.5, seed=0, progress=False)
    out = sbp.report(net, tmp_path / "t.html", params=params, data=(X, Y), history=history,
                     note="Trained for the test.", max_params=1)
    text = out.read_text()
    assert "Trained for the test." in text and "Trained here" not in text
    # The page's loss is the loss of the params given (oracle: the logits by hand, BCE).
    z = X @ np.array([params[net.w(1, 1, 1)], params[net.w(1, 1, 2)]]) + params[net.b(1, 1)]
    ref = np.mean(np.logaddexp(0.0, z) - Y[:, 0] * z)
    loss = float(re.search(r"Mean loss on the 30 samples: <b>([^<]+)</b>", text).group(1))
    assert abs(loss - ref) < 1e-5 * max(1.0, abs(ref))
    assert len(_parse(out).srcs) == 4  # + loss curve and decision boundary


def test_cli_report_trains_before_reporting(tmp_path):
    out = tmp_path / "xor.html"
    assert main(["report", "--layers", "2,2,1", "--activation", "tanh,sigmoid", "--loss",
                 "binary_cross_entropy", "--data", "xor", "--epochs", "3", "--max-params", "1",
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert "Trained by symbackprop report: 3 epochs of SGD on xor" in text
    assert _parse(out).h2[-1] == "Training"
