"""Every script in examples/ runs, prints, and writes the files it promises, into the folder
it is given or the current directory, never into the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: script -> (files it must write into the output folder, text its output must contain)
EXPECTED = {
    "single_neuron.py": (["single_neuron.png"], "a1_1*x1*(1 - a1_1)*(a1_1 - y1)"),
    "deep_composition.py": (["deep_composition.md"], "δ⁽¹⁾₁"),
    "network_222.py": (["equations_222.png", "derivation_w1_1_1.png"], "expanded: "),
    "check_homework.py": (["homework.json"], "Diagnosis (wrong index)"),
    "train_xor.py": (["xor_loss.png"], "accuracy 100%"),
    "train_moons.py": (["moons_boundary.png", "moons_loss.png"], "training accuracy"),
    "train_iris.py": (["iris_loss.png"], "classes setosa, versicolor, virginica"),
    "batch_and_lr.py": (["batch_and_lr.png"], "full batch"),
    "vanishing_gradient.py": (["vanishing_gradient.png"], "the first layer's δ is"),
    "lecture_composition.py": (["lecture_composition.md"], "dJ/dW1: chain rule"),
    "residual_block.py": (["residual_paths.png"], "paths from a to J: 2"),
    "shared_weights.py": (["shared_weights.md"], "Diagnosis (missing paths)"),
    "explain_calculus.py": (["explain_calculus.md"], "agrees with sympy.diff"),
    "hessian_221.py": ([], "Newton steps from there"),
}

#: Half the scripts get an output folder; the others write into the current directory.
WITH_FOLDER = {"single_neuron.py", "network_222.py", "train_xor.py", "train_iris.py", "residual_block.py",
               "explain_calculus.py"}


def checkout_files() -> set[Path]:
    """Every file of the checkout outside caches (what a run must leave as it was)."""
    skip = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    return {
        p.relative_to(ROOT)
        for p in ROOT.rglob("*")
        if p.is_file() and not any(
            part in skip or part.endswith(".egg-info") for part in p.relative_to(ROOT).parts
        )
    }


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script, tmp_path):
    files, text = EXPECTED[script]
    cwd, out = tmp_path / "cwd", tmp_path / "out"
    cwd.mkdir()
    out.mkdir()
    target = out if script in WITH_FOLDER else cwd
    argv = [str(out)] if script in WITH_FOLDER else []
    before = checkout_files()
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *argv],
        capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    assert text in result.stdout
    for name in files:
        path = target / name
        assert path.is_file() and path.stat().st_size > 100, name
    assert sorted(p.name for p in target.iterdir()) == sorted(files)
    assert checkout_files() - before == set(), "the example wrote into the checkout"
