"""Grading: verdicts and diagnoses of answers with known slips, bad answers that never stop
the batch, the limits, and a class graded end to end through the command line."""

from __future__ import annotations

import csv
import json

import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.checking.latex import latex_available
from symbackprop.cli import main
from symbackprop.exercises.grade import _layer_checker
from symbackprop.notation import to_latex, to_str


def _q(ex, kind, nth=0):
    return [q for q in ex.questions if q.kind == kind][nth]


def test_formula_slips_get_verdict_and_diagnosis():
    ex = sbp.exercise(seed=1, level=1)   # one tanh neuron, quadratic loss
    q = _q(ex, "gradient")
    truth = ex.truth(q)
    answers = {
        "right, factored differently": (to_str(sp.expand(truth)), "right", ""),
        "sign": (to_str(-truth), "wrong", "sign"),
        "factor": (to_str(2 * truth), "wrong", "constant_factor"),
        "missing tanh'": ("(a1_1 - y1)*x1", "wrong", "local_partial"),
        "uses the δ asked for": ("delta1_1*x1", "wrong", "circular"),
        "syntax": ("(a1_1 - y1*x1", "unreadable", "unreadable"),
        "unknown name": ("a2_1*x1", "unreadable", "unreadable"),
        "missing": ("  ", "missing", "missing"),
    }
    for name, (text, verdict, slip) in answers.items():
        g = sbp.grade(ex, {q.id: text}, symbolic=False)[q.id]
        assert (g.verdict, g.slip) == (verdict, slip), name
        if verdict == "unreadable":
            assert g.message.startswith("Cannot read answer")
        if verdict != "right":
            assert g.message and g.expected == ex.answer(q)


def test_hidden_gradient_slips():
    ex = sbp.exercise(seed=7, level=2)
    net = ex.network
    q1, q2 = _q(ex, "gradient", 0), _q(ex, "gradient", 1)  # an output weight, a hidden one
    other = next(p for p in net.params if p.name != q1.target and p.name.startswith("w2"))
    g = sbp.grade(ex, {q1.id: to_str(net.grad(other)), q2.id: f"delta{q2.layer}_1*x1"}, symbolic=False)
    assert (g[q1.id].verdict, g[q1.id].slip) == ("wrong", "wrong_index")
    assert (g[q2.id].verdict, g[q2.id].slip) == ("wrong", "circular")
    assert "δ⁽¹⁾₁" in g[q2.id].message
    q3 = _q(ex, "delta")   # δ checked as ∂J/∂b of its neuron, in the next layer's δ
    assert sbp.grade(ex, {q3.id: ex.answer(q3)}, symbolic=False)[q3.id].ok


@pytest.mark.skipif(not latex_available(), reason="needs the optional LaTeX parser (antlr4)")
def test_latex_answers():
    ex = sbp.exercise(seed=7, level=2)
    q = _q(ex, "gradient", 1)
    g = sbp.grade(ex, {q.id: f"${to_latex(ex.truth(q))}$"}, symbolic=False)
    assert g[q.id].ok
    bad = sbp.grade(ex, {q.id: r"$\int x$"}, symbolic=False)[q.id]
    assert bad.verdict == "unreadable" and "LaTeX" in bad.message


def test_numeric_slips():
    ex = sbp.exercise(seed=7, level=2)   # learning rate 0.1
    assert ex.lr != 1
    qv, qs = _q(ex, "value"), _q(ex, "sgd_step")
    t, p = ex.value(qv), ex.params[qv.target]
    grads = {s.name: v for s, v in ex.network.compile().gradient(ex.params, [ex.x], [ex.y]).items()}
    other = next(name for name, v in grads.items()
                 if name != qv.target and abs(v - t) > 0.05 * abs(t) and abs(v + t) > 0.05 * abs(t) and abs(v) > 1e-3)
    cases = {
        qv.id: [(f"{t * 1.004:.6g}", "right", ""), (f"{-t:.4g}", "wrong", "sign"),
                (f"{2 * t:.5g}", "wrong", "constant_factor"), (f"{grads[other]:.6g}", "wrong", "wrong_index"),
                (f"{t * 1.03:.6g}", "wrong", "other"), ("0.1.2", "unreadable", "unreadable"),
                ("nan", "unreadable", "unreadable"), (f"{t:.4f}".replace(".", ","), "right", "")],
        qs.id: [(f"{p - ex.lr * t:.5g}", "right", ""), (f"{p + ex.lr * t:.6g}", "wrong", "sgd_sign"),
                (f"{p - t:.6g}", "wrong", "sgd_learning_rate"), (f"{t:.6g}", "wrong", "sgd_gradient_only"),
                (f"{-ex.lr * t:.6g}", "wrong", "sgd_step_only")],
    }
    for qid, items in cases.items():
        for text, verdict, slip in items:
            g = sbp.grade(ex, {qid: text}, symbolic=False)[qid]
            assert (g.verdict, g.slip) == (verdict, slip), (qid, text, g)
    assert sbp.grade(ex, {qv.id: -t})[qv.id].slip == "sign"   # a float, not text


def test_bad_answers_never_stop_the_grading():
    ex = sbp.exercise(seed=2, level=1)
    g = sbp.grade(ex, {"q1": "x" * 3000, "q2": ["a1_1"], "q3": None, "q9": "1"}, symbolic=False)
    assert [q.verdict for q in g.questions] == ["unreadable", "unreadable", "missing", "missing"]
    assert "over the limit of 2000" in g["q1"].message and "SYMBACKPROP_MAX_ANSWER_CHARS" in g["q1"].message
    assert "must be text or a number" in g["q2"].message
    assert g.notes and "q9" in g.notes[0]
    short = sbp.grade(ex, {"q1": "x1*(a1_1 - y1)"}, max_answer_chars=5)["q1"]
    assert short.verdict == "unreadable" and "limit of 5" in short.message
    with pytest.raises(sbp.SymbackpropError, match="mapping"):
        sbp.grade(ex, ["q1"])


def test_matrix_question_waits_for_check_layer():
    ex = sbp.exercise(seed=7, level=2)
    q = _q(ex, "layer")
    g = sbp.grade(ex, ex.answers(), symbolic=False)
    if _layer_checker() is None:
        assert g[q.id].verdict == "ungraded" and g.total == len(ex.questions) - 1
        assert "check_layer" in g[q.id].message
    else:  # the matrix checker is installed: the reference answer is right
        assert g[q.id].verdict == "right"


def test_feedback_markdown():
    ex = sbp.exercise(seed=1, level=1)
    g = sbp.grade(ex, {"q1": "(a1_1 - y1)*x1", "q2": ex.answer("q2"), "q3": "```evil```"}, student="ann")
    md = g.feedback()
    assert md.startswith("# Feedback for ann: 1 of 4 right (25 %)")
    assert "## q1 (gradient): wrong (local partial)" in md and "lacks the factor tanh'(z1_1)" in md
    assert "## q2 (delta): right" in md and "## q4 (sgd step): missing" in md
    assert "````\n```evil```\n````" in md   # an answer cannot break out of its code block


# ------------------------------------------------------------------ a class, end to end
def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _write_answers(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "question", "answer", "format"])
        w.writerows(rows)


def test_class_end_to_end(tmp_path, capsys):
    (tmp_path / "students.csv").write_text("id,name\ns01,Ada\ns02,Alan\ns03,Grace\ns04,Edsger\n")
    code, out, err = _cli(capsys, "exercise", "--roster", str(tmp_path / "students.csv"), "--level", "2",
                          "--out", str(tmp_path / "sheets"))
    assert code == 0, err
    assert out.count("(seed ") == 4
    sheets = {s: sbp.load_exercise(tmp_path / "sheets" / s / "exercise.json") for s in ("s01", "s02", "s03", "s04")}
    assert len({ex.to_json() for ex in sheets.values()}) == 4     # a different variant each
    assert all(ex.student == s for s, ex in sheets.items())
    again = sbp.exercise(seed=sheets["s01"].seed, level=2, student="s01")
    assert again == sheets["s01"]                                  # seeded by the id, reproducible

    rows = []
    right = sheets["s01"].answers()
    rows += [("s01", q, a, "") for q, a in right.items()]
    ex2 = sheets["s02"]
    q1, q3, q4, q5 = (_q(ex2, k).id for k in ("gradient", "delta", "value", "sgd_step"))
    slips2 = dict(ex2.answers())
    slips2[q1] = to_str(-ex2.truth(q1))                                         # sign
    slips2[q5] = f"{ex2.params[_q(ex2, 'sgd_step').target] + ex2.lr * ex2.value(q4):.6g}"  # added the gradient
    del slips2[q3]                                                               # missing
    rows += [("s02", q, a, "") for q, a in slips2.items()]
    ex3 = sheets["s03"]
    rows += [("s03", "q1", "a1_1*(", ""), ("s03", "q4", f"{ex3.value('q4'):.4f}".replace(".", ","), ""),
             ("s03", "q2", "x" * 500, "")]
    if latex_available():
        rows.append(("s03", "q3", to_latex(ex3.truth("q3")), "latex"))
    rows += [("s99", "q1", "1", ""), ("s01",)]                   # no sheet; a row too short
    _write_answers(tmp_path / "answers.csv", rows)

    code, out, err = _cli(capsys, "grade", str(tmp_path / "sheets"), str(tmp_path / "answers.csv"),
                          "--out", str(tmp_path / "feedback"), "--max-answer-chars", "300")
    assert code == 0, err
    assert "s99: answers given but no sheet" in err and "too few cells" in err
    graded = 5 if _layer_checker() is None else 6
    assert f"s01: {graded}/{graded} (100 %)" in out and f"s04: 0/{graded} (0 %)" in out
    fb = tmp_path / "feedback"
    assert sorted(p.name for p in fb.iterdir()) == [
        "s01.md", "s02.md", "s03.md", "s04.md", "scores.csv", "summary.csv", "summary.png"]

    s01 = (fb / "s01.md").read_text()
    assert s01.startswith(f"# Feedback for s01: {graded} of {graded} right (100 %)")
    assert "wrong" not in s01
    s02 = (fb / "s02.md").read_text()
    assert s02.startswith(f"# Feedback for s02: {graded - 3} of {graded} right")
    assert f"## {q1} (gradient): wrong (sign)" in s02 and "sign" in s02
    assert f"## {q5} (sgd step): wrong (sgd sign)" in s02 and "gradient descent subtracts it" in s02
    assert f"## {q3} (delta): missing" in s02
    s03 = (fb / "s03.md").read_text()
    assert "## q1 (gradient): unreadable" in s03 and "Cannot read answer 'a1_1*('" in s03
    assert "## q4 (value): right" in s03                         # a decimal comma is read
    assert "## q2 (gradient): unreadable" in s03 and "over the limit of 300" in s03
    if latex_available():
        assert "## q3 (delta): right" in s03
    s04 = (fb / "s04.md").read_text()
    assert s04.startswith(f"# Feedback for s04: 0 of {graded} right") and s04.count(": missing") == graded

    with open(fb / "scores.csv", newline="") as fh:
        scores = {row["student"]: row for row in csv.DictReader(fh)}
    assert scores["s01"]["score"] == str(graded) and scores["s04"]["score"] == "0"
    assert scores["s02"][q1] == "wrong" and scores["s02"][q3] == "missing"
    with open(fb / "summary.csv", newline="") as fh:
        summary = {row["slip"]: row for row in csv.DictReader(fh)}
    s03_missing = graded - (4 if latex_available() else 3)    # s03 answered q1 to q4 (q3 in LaTeX)
    assert int(summary["missing"]["count"]) == 1 + graded + s03_missing
    assert summary["sign"]["questions"] == f"{q1}:1" and summary["sgd_sign"]["count"] == "1"
    assert int(summary["unreadable"]["count"]) == 2
    counts = [int(row["count"]) for row in summary.values()]
    assert counts == sorted(counts, reverse=True)                # most common first
    assert (fb / "summary.png").read_bytes()[:4] == b"\x89PNG"


def test_class_sharing_one_exercise_and_json_answers(tmp_path, capsys):
    ex = sbp.exercise(seed=4, level=1)
    ex.write(tmp_path / "ex")
    answers = {"ann": ex.answers(), "bob": {"q1": "1", "q3": ex.answer("q3")}}
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    code, out, err = _cli(capsys, "grade", str(tmp_path / "ex"), str(tmp_path / "answers.json"),
                          "--out", str(tmp_path / "fb"), "--no-symbolic")
    assert code == 0, err
    assert "ann: 4/4 (100 %)" in out and "bob: 1/4 (25 %)" in out


def test_limits_and_bad_files_refused_in_one_line(tmp_path, capsys, monkeypatch):
    roster = tmp_path / "students.csv"
    roster.write_text("id\na\nb\nc\n")
    code, _, err = _cli(capsys, "exercise", "--roster", str(roster), "--out", str(tmp_path / "s"),
                        "--max-students", "2")
    assert code == 2 and err.count("\n") == 1
    assert "more than 2 students" in err and "--max-students" in err and "SYMBACKPROP_MAX_ROSTER_ROWS" in err
    roster.write_text("id\na\n../etc\n")
    code, _, err = _cli(capsys, "exercise", "--roster", str(roster), "--out", str(tmp_path / "s"))
    assert code == 2 and "line 3" in err and "not usable as a file name" in err
    roster.write_text("name\nann\n")
    code, _, err = _cli(capsys, "exercise", "--roster", str(roster), "--out", str(tmp_path / "s"))
    assert code == 2 and "needs a column 'id'" in err
    (tmp_path / "file").write_text("")
    code, _, err = _cli(capsys, "exercise", "--seed", "1", "--out", str(tmp_path / "file"))
    assert code == 2 and "is a file; give a folder" in err

    sbp.exercise(seed=1, level=1).write(tmp_path / "ex")
    _write_answers(tmp_path / "answers.csv", [("ann", "q1", "x1" * 100, "")])
    monkeypatch.setenv("SYMBACKPROP_MAX_ANSWERS_BYTES", "100")
    code, _, err = _cli(capsys, "grade", str(tmp_path / "ex"), str(tmp_path / "answers.csv"),
                        "--out", str(tmp_path / "fb"))
    assert code == 2 and err.count("\n") == 1
    assert "over the limit of 100 bytes" in err and "SYMBACKPROP_MAX_ANSWERS_BYTES" in err
    monkeypatch.delenv("SYMBACKPROP_MAX_ANSWERS_BYTES")
    code, _, err = _cli(capsys, "grade", str(tmp_path / "nothing"), str(tmp_path / "answers.csv"),
                        "--out", str(tmp_path / "fb"))
    assert code == 2 and "not a folder of sheets" in err
    code, _, err = _cli(capsys, "grade", str(tmp_path / "ex"), "/dev/zero", "--out", str(tmp_path / "fb"))
    assert code == 2 and "character device" in err


def test_roster_seeds_are_stable_and_mixed_with_the_base_seed(tmp_path):
    from symbackprop.exercises.classroom import make_sheets
    from symbackprop.exercises.generate import student_seed

    a = make_sheets(["s1", "s2"], 1, tmp_path / "a")
    b = make_sheets(["s1", "s2"], 1, tmp_path / "b", base_seed=5)
    assert [ex.seed for ex in a] == [student_seed("s1"), student_seed("s2")]
    assert a[0].seed != b[0].seed and b[0].seed == student_seed("s1", 5)
    assert (tmp_path / "a" / "roster.csv").read_text().splitlines() == [
        "id,seed,level", f"s1,{a[0].seed},1", f"s2,{a[1].seed},1"]
