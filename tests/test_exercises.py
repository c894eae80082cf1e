"""Generated exercises: reproducible, their numbers equal the compiled model's, their own
solutions grade 100 %, and their sheets render (KaTeX; a real LaTeX where installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop.errors import DataError, SpecError
from symbackprop.exercises.generate import Exercise

#: Seeds per level for the properties below: the first 20 in the quick suite, the other 180
#: in the slow one (about 20 s in all on one core).
N_SEEDS = 200
QUICK = 20
SEED_RANGES = [pytest.param(range(0, QUICK), id="quick"),
               pytest.param(range(QUICK, N_SEEDS), id="rest", marks=pytest.mark.slow)]


def test_reproducible_and_seed_dependent():
    for level in (1, 2, 3):
        a, b = sbp.exercise(seed=11, level=level), sbp.exercise(seed=11, level=level)
        assert a == b and a.to_json() == b.to_json()
        others = [sbp.exercise(seed=s, level=level).to_json() for s in range(12, 20)]
        assert a.to_json() not in others


def test_levels():
    for seed in range(30):
        one = sbp.exercise(seed=seed, level=1)
        assert len(one.sizes) == 2 and one.sizes[-1] == 1
        assert [q.kind for q in one.questions] == ["gradient", "delta", "value", "sgd_step"]
        two = sbp.exercise(seed=seed, level=2)
        assert len(two.sizes) == 3
        three = sbp.exercise(seed=seed, level=3)
        assert len(three.sizes) == 4 and three.activations[-1] == "softmax"
        assert three.loss == "cross_entropy" and three.activations[0] != three.activations[1]
        for ex in (two, three):
            assert {q.kind for q in ex.questions} == {"gradient", "delta", "value", "sgd_step", "layer"}
            # The hidden-layer questions need the δ recursion: a hidden layer is asked about.
            assert min(q.layer for q in ex.questions if q.kind == "gradient") < ex.network.n_layers
    # Hand-friendly numbers: tenths, never 0; a softmax target is one-hot.
    assert all(v != 0 and round(v, 1) == v for v in three.params.values())
    assert sorted(three.y) == [0.0] * (len(three.y) - 1) + [1.0]


def test_json_round_trip_and_bad_files(tmp_path):
    ex = sbp.exercise(seed=5, level=3)
    path = tmp_path / "exercise.json"
    path.write_text(ex.to_json())
    back = sbp.load_exercise(path)
    assert back == ex and back.answers() == ex.answers()
    data = json.loads(ex.to_json())
    for change, needle in [
        (lambda d: d.update(format="other"), "not a symbackprop-exercise file"),
        (lambda d: d.update(version=99), "format version 99"),
        (lambda d: d["params"].pop("b1_1"), "params do not match"),
        (lambda d: d.update(x="nope"), "x must be a list of numbers"),
        (lambda d: d["questions"].append({"id": "q9", "kind": "essay", "target": "w1_1_1"}), "unknown question kind"),
        (lambda d: d.pop("sizes"), "missing or malformed"),
    ]:
        broken = json.loads(json.dumps(data))
        change(broken)
        with pytest.raises(DataError, match=re.escape(needle)):
            Exercise.from_json(json.dumps(broken))
    with pytest.raises(DataError, match="not valid JSON"):
        Exercise.from_json("{")
    with pytest.raises(SpecError, match="level must be 1, 2 or 3"):
        sbp.exercise(seed=1, level=4)
    with pytest.raises(SpecError, match="seed must be an integer"):
        sbp.exercise(seed=-1, level=1)


def _layer_values(ex: Exercise, q, grads: dict) -> np.ndarray:
    """What the layer question's matrix is, from the compiled model (dW^(l), or δ^(l) = ∂J/∂b^(l))."""
    net, l = ex.network, ex.question(q.id).layer
    if q.target.startswith("dW"):
        return np.array([[grads[net.w(l, j, k)] for k in range(1, net.sizes[l - 1] + 1)]
                         for j in range(1, net.sizes[l] + 1)])
    return np.array([[grads[net.b(l, j)]] for j in range(1, net.sizes[l] + 1)])


@pytest.mark.parametrize("seeds", SEED_RANGES)
@pytest.mark.parametrize("level", [1, 2, 3])
def test_solution_numbers_equal_the_compiled_model_and_the_solution_scores_100(level, seeds):
    for seed in seeds:
        ex = sbp.exercise(seed=seed, level=level)
        net, model = ex.network, ex.network.compile()   # the compiled model: the independent oracle
        grads = model.gradient(ex.params, [ex.x], [ex.y])
        # The forward values the solution prints: the outputs and the loss.
        values = ex.sample_values
        outputs = [values[a] for a in net.outputs]
        assert np.allclose(outputs, model.predict(ex.params, [ex.x])[0], rtol=1e-9, atol=1e-12)
        assert values[net.J] == pytest.approx(model.loss(ex.params, [ex.x], [ex.y]), rel=1e-9, abs=1e-12)
        for q in ex.questions:
            if q.kind == "value":
                assert ex.value(q) == pytest.approx(grads[ex.network.parameter(q.target)], rel=1e-9, abs=1e-12)
            elif q.kind == "sgd_step":
                expected = ex.params[q.target] - ex.lr * grads[ex.network.parameter(q.target)]
                assert ex.value(q) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        g = sbp.grade(ex, ex.answers(), symbolic=False)
        assert g.score == g.total and g.total >= 4, (seed, g)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_solution_text_shows_those_numbers(level):
    for seed in range(8):
        ex = sbp.exercise(seed=seed, level=level)
        grads = ex.network.compile().gradient(ex.params, [ex.x], [ex.y])
        md, tex = ex.solution("markdown"), ex.solution("latex")
        for q in ex.questions:
            if q.answer_type == "number":
                assert ex.answer(q) in md and ex.answer(q) in tex   # the number, as printed
            if q.kind == "layer":
                shown = re.search(r"\\approx \\begin\{pmatrix\} (.*?) \\end\{pmatrix\}", md).group(1)
                numbers = [float(v) for v in re.split(r"\\\\|&", shown)]
                want = _layer_values(ex, q, grads).ravel()
                assert np.allclose(numbers, want, rtol=1e-5, atol=1e-9)
        # Every step of every derivation carries a value; the worksheet gives no answer away.
        assert "\\approx" in md
        sheet = ex.worksheet("markdown")
        assert all(ex.answer(q) not in sheet for q in ex.questions if q.answer_type != "matrix")


def test_symbolic_grading_of_the_solution_proves_it():
    for level in (1, 2, 3):
        ex = sbp.exercise(seed=3, level=level)
        g = sbp.grade(ex, ex.answers(), symbolic=True, timeout=20)
        assert g.score == g.total


# ------------------------------------------------------------------ rendering
KATEX_SCRIPT = r"""
const katex = require(process.argv[1]);
const items = JSON.parse(require("fs").readFileSync(0, "utf8"));
const failures = [];
for (const [name, tex] of items) {
  try { katex.renderToString(tex, {displayMode: true, throwOnError: true, strict: "error"}); }
  catch (e) { failures.push(name + ": " + e.message + " in " + tex.slice(0, 200)); }
}
console.log(JSON.stringify(failures));
"""


def _math_tex(text: str) -> list[str]:
    """Every math part of a LaTeX document: \\[...\\] blocks and $...$ inline."""
    blocks = re.findall(r"\\\[\n(.*?)\n\\\]", text, re.S)
    rest = re.sub(r"\\\[\n.*?\n\\\]", "", text, flags=re.S)
    rest = re.sub(r"\\texttt\{(?:[^{}]|\{[^{}]*\})*\}", "", rest)  # typed answers, not math
    return blocks + re.findall(r"(?<!\\)\$([^$\n]+?)(?<!\\)\$", rest)


def _math(text: str) -> list[str]:
    """Every math part of a Markdown sheet: $$...$$ blocks and $...$ inline."""
    blocks = re.findall(r"\$\$\n(.*?)\n\$\$", text, re.S)
    rest = re.sub(r"\$\$\n.*?\n\$\$", "", text, flags=re.S)
    rest = re.sub(r"`[^`]*`", "", rest)  # code spans show LaTeX as typed, not math
    return blocks + re.findall(r"\$([^$\n]+)\$", rest)


def test_sheets_math_renders_in_katex():
    from test_latex_renders import NODE, _katex

    module = _katex()
    items = []
    for level in (1, 2, 3):
        for seed in range(4):
            ex = sbp.exercise(seed=seed, level=level)
            for what in ("worksheet", "solution"):
                md, tex = getattr(ex, what)("markdown"), getattr(ex, what)("latex")
                items += [(f"{level}/{seed} {what}.md #{i}", m) for i, m in enumerate(_math(md))]
                from_tex = _math_tex(tex)
                assert len(from_tex) > 10
                items += [(f"{level}/{seed} {what}.tex #{i}", m) for i, m in enumerate(from_tex)]
    assert len(items) > 200
    result = subprocess.run([NODE, "-e", KATEX_SCRIPT, str(module)], input=json.dumps(items),
                            capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(result.stdout) == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex (apt-get install texlive-latex-base)")
def test_latex_documents_compile(tmp_path):
    for level in (1, 2, 3):
        ex = sbp.exercise(seed=level, level=level)
        for what in ("worksheet", "solution"):
            name = f"{what}{level}"
            (tmp_path / f"{name}.tex").write_text(getattr(ex, what)("latex"), encoding="utf-8")
            run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                                 cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stdout[-2000:]
            assert (tmp_path / f"{name}.pdf").stat().st_size > 1000


def test_write_files(tmp_path):
    ex = sbp.exercise(seed=2, level=2)
    paths = ex.write(tmp_path / "new" / "ex")
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "worksheet.md", "worksheet.tex", "solution.md", "solution.tex", "exercise.json"]
    assert sbp.load_exercise(tmp_path / "new" / "ex" / "exercise.json") == ex
    tex = (tmp_path / "new" / "ex" / "worksheet.tex").read_text()
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert tex.isascii()  # no Unicode a standard LaTeX could choke on
