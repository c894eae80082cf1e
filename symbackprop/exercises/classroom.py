"""A class: a roster in, one exercise per student out; an answers file in, feedback out.

- :func:`read_roster` reads ``students.csv`` (a header with an ``id`` column);
  :func:`make_sheets` writes one folder of sheets per student, seeded by the student's id
  (:func:`~.generate.student_seed`), and ``roster.csv`` beside them.
- :func:`read_answers` reads ``answers.csv`` (columns ``student``, ``question``,
  ``answer``, optional ``format``: ``latex``) or a JSON file; a row it cannot use is
  reported, never fatal.
- :func:`grade_class` grades every student who has a sheet and writes ``<id>.md`` per
  student, ``scores.csv``, and the class summary (:mod:`.summary`).

Every file is read through :func:`symbackprop.files.open_input` (bounded size, no FIFO or
device) and written atomically; the roster size, the answers file's size and each
answer's length have limits (:data:`symbackprop.files.LIMITS`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError, OutputError
from ..files import LIMITS, limit, open_input, write_bytes
from .generate import Exercise, exercise, load_exercise, student_seed
from .grade import Grade, grade

__all__ = ["ClassResult", "grade_class", "make_sheets", "read_answers", "read_roster"]

#: A student id becomes a folder and a file name: letters, digits, ``.``, ``_``, ``-``.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _check_id(text: str, where: str) -> str:
    sid = text.strip()
    if not STUDENT_ID.fullmatch(sid):
        raise DataError(
            f"{where}: the student id {sid!r} is not usable as a file name; use 1 to 64 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit."
        )
    return sid


def _csv_rows(path: str | os.PathLike, what: str, limit_name: str, max_bytes: int | None):
    """``(line number, cells)`` of a CSV file read within its size limit; blank lines skipped."""
    where = os.fspath(path)
    try:
        with open_input(path, what=what, error=DataError, limit_name=limit_name,
                        max_bytes=max_bytes, stdin=False) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            rows = []
            for cells in reader:
                if any(c.strip() for c in cells):
                    rows.append((reader.line_num, cells))
            return rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{where}: not a readable UTF-8 CSV file ({exc}).") from None


def _header(where: str, cells: list[str], wanted: dict[str, tuple[str, ...]], optional=()) -> dict[str, int]:
    names = [c.strip().lower() for c in cells]
    out = {}
    for key, aliases in wanted.items():
        found = next((names.index(a) for a in aliases if a in names), None)
        if found is None and key not in optional:
            raise DataError(
                f"{where}: the header row needs a column {aliases[0]!r}; it has {', '.join(repr(c) for c in cells)}."
            )
        if found is not None:
            out[key] = found
    return out


def _too_many(where: str, what: str, bound: int) -> DataError:
    env = LIMITS["roster_rows"].env
    return DataError(f"{where}: more than {bound} {what}, the limit; raise it with --max-students "
                     f"(max_students=... in Python) or the environment variable {env}.")


def read_roster(path: str | os.PathLike, *, max_students: int | None = None,
                max_bytes: int | None = None) -> list[str]:
    """The student ids of a roster CSV (a header row with an ``id`` or ``student`` column).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "students.csv"
    >>> _ = p.write_text("id,name\\ns001,Ada\\ns002,Alan\\n")
    >>> read_roster(p)
    ['s001', 's002']
    >>> _ = p.write_text("id,name\\ns001,Ada\\n../x,Eve\\n")
    >>> read_roster(p)
    Traceback (most recent call last):
    ...
    symbackprop.errors.DataError: ...students.csv, line 3: the student id '../x' is not usable as a file name; use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    """
    where = os.fspath(path)
    bound = limit("roster_rows", max_students)
    rows = _csv_rows(path, "roster file", "text_bytes", max_bytes)
    if not rows:
        raise DataError(f"{where}: the roster is empty; it needs a header row with an 'id' column.")
    cols = _header(where, rows[0][1], {"id": ("id", "student")})
    ids: dict[str, int] = {}
    for line, cells in rows[1:]:
        if len(ids) >= bound:
            raise _too_many(where, "students", bound)
        if cols["id"] >= len(cells):
            raise DataError(f"{where}, line {line}: no id in this row.")
        sid = _check_id(cells[cols["id"]], f"{where}, line {line}")
        if sid in ids:
            raise DataError(f"{where}, line {line}: the id {sid!r} is already on line {ids[sid]}.")
        ids[sid] = line
    if not ids:
        raise DataError(f"{where}: the roster has a header but no students.")
    return list(ids)


def make_sheets(students: list[str], level: int, out: str | os.PathLike, *, base_seed: int = 0) -> list[Exercise]:
    """Write one exercise folder per student into ``out`` (``out/<id>/``), and ``out/roster.csv``.

    Each student's seed is :func:`~.generate.student_seed` of their id (and ``base_seed``),
    so the same roster gives the same sheets again.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> [ex.student for ex in make_sheets(["s001", "s002"], 1, d)]
    ['s001', 's002']
    >>> sorted(os.listdir(d))
    ['roster.csv', 's001', 's002']
    """
    out = os.fspath(out)
    made = []
    for sid in students:
        ex = exercise(seed=student_seed(sid, base_seed), level=level, student=_check_id(sid, "roster"))
        ex.write(os.path.join(out, sid))
        made.append(ex)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["id", "seed", "level"])
    writer.writerows([ex.student, ex.seed, ex.level] for ex in made)
    write_bytes(os.path.join(out, "roster.csv"), table.getvalue().encode(), what="roster")
    return made


@dataclass
class Answers:
    """What an answers file holds: ``answers[student][question]``, and remarks on it."""

    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def put(self, student: str, question: str, answer: str, where: str, seen: dict) -> None:
        key = (student, question)
        mine = self.answers.setdefault(student, {})
        if key in seen:
            self.notes.setdefault(student, []).append(
                f"{question} was answered more than once ({seen[key]} and {where}); the last answer counts.")
        seen[key] = where
        mine[question] = answer


def read_answers(path: str | os.PathLike, *, max_bytes: int | None = None,
                 max_students: int | None = None) -> Answers:
    """Read an answers file: CSV (``student,question,answer[,format]``) or JSON.

    JSON is either a list of ``{"student": ..., "question": ..., "answer": ...}`` or a
    mapping ``{student: {question: answer}}``. A ``format`` of ``latex`` marks a LaTeX
    answer (the same as writing it between ``$`` signs). Rows that cannot be used (a
    bad student id, missing cells) are listed in ``.problems`` and skipped.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "answers.csv"
    >>> _ = p.write_text('student,question,answer,format\\ns001,q1,"a1_1 - y1",\\n'
    ...                  's001,q2,"a^{(1)}_1 - y_1",latex\\n../x,q1,1,\\n')
    >>> a = read_answers(p)
    >>> a.answers, len(a.problems)
    ({'s001': {'q1': 'a1_1 - y1', 'q2': '$a^{(1)}_1 - y_1$'}}, 1)
    """
    where = os.fspath(path)
    bound = limit("roster_rows", max_students)
    out = Answers()
    seen: dict = {}

    def add(student: Any, question: Any, answer: Any, fmt: Any, at: str) -> None:
        try:
            sid = _check_id(str(student), f"{where}, {at}")
        except DataError as exc:
            out.problems.append(str(exc))
            return
        if sid not in out.answers and len(out.answers) >= bound:
            raise _too_many(where, "students in the answers", bound)
        text = "" if answer is None else answer if isinstance(answer, str) else json.dumps(answer)
        if str(fmt or "").strip().lower() == "latex" and text.strip() and not text.strip().startswith("$"):
            text = f"${text.strip()}$"
        out.put(sid, str(question).strip(), text, at, seen)

    if where.lower().endswith(".json"):
        with open_input(path, what="answers file", error=DataError, limit_name="answers_bytes",
                        max_bytes=max_bytes) as raw:
            data = raw.read()
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{where}: not valid JSON ({exc}).") from None
        if isinstance(doc, list):
            for i, row in enumerate(doc, start=1):
                if not isinstance(row, Mapping) or not {"student", "question"} <= set(row):
                    out.problems.append(f"{where}, entry {i}: needs 'student', 'question' and 'answer'.")
                    continue
                add(row["student"], row["question"], row.get("answer"), row.get("format"), f"entry {i}")
        elif isinstance(doc, Mapping):
            for student, mine in doc.items():
                if not isinstance(mine, Mapping):
                    out.problems.append(f"{where}, student {student!r}: expected a mapping question -> answer.")
                    continue
                for question, answer in mine.items():
                    add(student, question, answer, None, f"student {student!r}")
        else:
            raise DataError(f"{where}: expected a list of answers or a mapping student -> answers.")
        return out
    rows = _csv_rows(path, "answers file", "answers_bytes", max_bytes)
    if not rows:
        raise DataError(f"{where}: the answers file is empty; it needs a header row student,question,answer.")
    cols = _header(where, rows[0][1], {"student": ("student", "id"), "question": ("question",),
                                      "answer": ("answer",), "format": ("format",)}, optional=("format",))
    for line, cells in rows[1:]:
        if max(cols["student"], cols["question"]) >= len(cells):
            out.problems.append(f"{where}, line {line}: too few cells (needs student, question, answer).")
            continue
        answer = cells[cols["answer"]] if cols["answer"] < len(cells) else ""
        fmt = cells[cols["format"]] if "format" in cols and cols["format"] < len(cells) else ""
        add(cells[cols["student"]], cells[cols["question"]], answer, fmt, f"line {line}")
    return out


@dataclass
class ClassResult:
    """Every student's :class:`~.grade.Grade`, the problems met, the files written."""

    grades: list[Grade]
    problems: list[str]
    files: list[str]


def _sheets(folder: str) -> dict[str, Exercise] | Exercise:
    """The exercises of a sheets folder: one per student subfolder, or one for everyone."""
    single = os.path.join(folder, "exercise.json")
    if os.path.isfile(single):
        return load_exercise(single)
    if not os.path.isdir(folder):
        raise DataError(f"{folder!r} is not a folder of sheets (from 'symbackprop exercise --roster').")
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name, "exercise.json")
        if STUDENT_ID.fullmatch(name) and os.path.isfile(path):
            out[name] = load_exercise(path)
    if not out:
        raise DataError(f"{folder!r} holds no exercise.json, neither itself nor in a student's subfolder.")
    return out


def grade_class(
    sheets: str | os.PathLike,
    answers: str | os.PathLike,
    out: str | os.PathLike,
    *,
    symbolic: bool = True,
    timeout: float = 5.0,
    max_answer_chars: int | None = None,
    max_bytes: int | None = None,
    max_students: int | None = None,
) -> ClassResult:
    """Grade a class: feedback per student, ``scores.csv``, ``summary.csv``, ``summary.png``.

    Parameters
    ----------
    sheets : path
        The folder ``exercise --roster`` wrote (one subfolder per student), or one
        exercise's folder (every student answered the same exercise).
    answers : path
        The answers file (see :func:`read_answers`).
    out : path
        The folder for the feedback (created if missing).
    symbolic, timeout, max_answer_chars
        As for :func:`~.grade.grade`.
    max_bytes, max_students
        Limits of the answers file (see :func:`read_answers`).

    Examples
    --------
    >>> import tempfile, pathlib, symbackprop as sbp
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ex = sbp.exercise(seed=1, level=1)
    >>> _ = ex.write(d / "sheet")
    >>> _ = (d / "answers.csv").write_text("student,question,answer\\nann,q2,(1 - a1_1**2)*(a1_1 - y1)\\n")
    >>> result = grade_class(d / "sheet", d / "answers.csv", d / "feedback")
    >>> [(g.student, g.score, g.total) for g in result.grades]
    [('ann', 1, 4)]
    >>> sorted(p.name for p in (d / "feedback").iterdir())
    ['ann.md', 'scores.csv', 'summary.csv', 'summary.png']
    """
    from .summary import draw_slips, slips, summary_csv

    sheets, out = os.fspath(sheets), os.fspath(out)
    exercises = _sheets(sheets)
    given = read_answers(answers, max_bytes=max_bytes, max_students=max_students)
    problems = list(given.problems)
    if isinstance(exercises, Exercise):
        students = sorted(given.answers)
        lookup = dict.fromkeys(students, exercises)
    else:
        lookup = exercises
        students = sorted(exercises)
        for sid in sorted(set(given.answers) - set(exercises)):
            problems.append(f"{sid}: answers given but no sheet in {sheets!r}; not graded.")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the folder {out!r}: {exc.strerror or exc}.") from None
    grades, files = [], []
    for sid in students:
        ex = lookup[sid]
        g = grade(ex, given.answers.get(sid, {}), student=sid, symbolic=symbolic, timeout=timeout,
                  max_answer_chars=max_answer_chars, notes=tuple(given.notes.get(sid, ())))
        grades.append(g)
        path = os.path.join(out, f"{sid}.md")
        write_bytes(path, g.feedback().encode("utf-8"), what="feedback file")
        files.append(path)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    qids = sorted({q.question.id for g in grades for q in g.questions}, key=lambda s: (len(s), s))
    writer.writerow(["student", "score", "total", "percent", *qids])
    for g in grades:
        verdicts = {q.question.id: q.verdict for q in g.questions}
        writer.writerow([g.student, g.score, g.total, f"{g.percent:.1f}", *(verdicts.get(q, "") for q in qids)])
    for name, data in (("scores.csv", table.getvalue()), ("summary.csv", summary_csv(grades))):
        path = os.path.join(out, name)
        write_bytes(path, data.encode("utf-8"), what=name)
        files.append(path)
    files.append(str(draw_slips(slips(grades), n_students=len(grades)).save(os.path.join(out, "summary.png"))))
    return ClassResult(grades, problems, files)
