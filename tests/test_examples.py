"""Every script in examples/ runs, prints, and writes the files it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

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
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script, tmp_path):
    files, text = EXPECTED[script]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert text in result.stdout
    for name in files:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 100, name
