"""The LaTeX symbackprop prints renders: every derivation and equation set goes through KaTeX.

KaTeX (the renderer of JupyterLab's and many Markdown viewers' math) is strict about
syntax: an unbalanced brace, an unknown command or text-mode Unicode it cannot typeset
fails here. The test needs Node.js and the npm package ``katex``; ``.ci/run`` installs
it into ``$SYMBACKPROP_KATEX`` (default ``~/.cache/symbackprop-katex``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import symbackprop as sbp

KATEX_DIR = Path(os.environ.get("SYMBACKPROP_KATEX", Path.home() / ".cache" / "symbackprop-katex"))
NODE = shutil.which("node")

SCRIPT = r"""
const katex = require(process.argv[1]);
const items = JSON.parse(require("fs").readFileSync(0, "utf8"));
const failures = [];
for (const [name, tex] of items) {
  try {
    katex.renderToString(tex, {displayMode: true, throwOnError: true, strict: "error"});
  } catch (e) {
    failures.push(name + ": " + e.message);
  }
}
console.log(JSON.stringify(failures));
"""


def _katex() -> Path:
    module = KATEX_DIR / "node_modules" / "katex"
    if NODE is None or not module.is_dir():
        pytest.skip(
            "needs Node.js and the npm package katex "
            f"(npm install --prefix {KATEX_DIR} katex@0.16); .ci/run installs them"
        )
    return module


def test_every_printed_latex_renders_in_katex(tmp_path):
    module = _katex()
    nets = [
        sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic"),
        sbp.mlp([2, 3, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy"),
        sbp.mlp([2, 2, 3], activation=["leaky_relu", "softmax"], loss="cross_entropy"),
        sbp.mlp([1, 2, 1], activation=["softplus", "arctan"], loss="mse"),
        sbp.mlp([1, 3, 3, 3, 3, 1], activation="tanh"),
        sbp.mlp([2, 1], activation="z**3/3 + sin(z)", loss="(y1 - a1_1)**2"),
    ]
    items = []
    for net in nets:
        items.append((f"{net!r} equations", net.equations().latex()))
        for p in (net.params[0], net.params[-1]):
            d = net.derivation(p)
            items.append((f"{net!r} {p}", d.latex()))
        at = net.derivation(net.params[0]).at(net.init_params(seed=1), [0.5] * net.sizes[0], [0.5] * net.sizes[-1])
        items.append((f"{net!r} at", at.latex()))
    result = subprocess.run(
        [NODE, "-e", SCRIPT, str(module)], input=json.dumps(items),
        capture_output=True, text=True, check=True, timeout=120,
    )
    assert json.loads(result.stdout) == []
