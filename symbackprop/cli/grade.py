"""``symbackprop grade``: grade a class's answers: a feedback file per student, scores and the
most common slips."""

from __future__ import annotations

import argparse

from .common import positive_float, positive_int, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grade",
        help="grade answers to exercises: score, verdicts, diagnoses, feedback files",
        description="Grade the answers in ANSWERS (CSV with columns student,question,answer "
        "and optionally format (latex); or JSON) against the exercises in SHEETS (the folder "
        "'symbackprop exercise --roster' wrote, or one exercise's folder for a whole class). "
        "Formulas are checked like 'symbackprop check' (with its diagnosis), numbers within "
        "the exercise's relative tolerance. Writes FEEDBACK/<student>.md, scores.csv, "
        "summary.csv (the most common slips) and summary.png. A bad or missing answer is "
        "graded 'unreadable' or 'missing'; it never stops the batch.",
        epilog="example:\n  symbackprop grade sheets/ answers.csv --out feedback/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("sheets", metavar="SHEETS", help="folder of the exercises")
    p.add_argument("answers", metavar="ANSWERS", help="the answers file, .csv or .json")
    p.add_argument("--out", metavar="FOLDER", required=True, help="folder for the feedback (created if missing)")
    p.add_argument("--timeout", type=positive_float, default=5.0,
                   help="seconds for the symbolic proof of one formula (default 5)")
    p.add_argument("--no-symbolic", action="store_true", help="check formulas numerically only")
    p.add_argument("--max-answer-chars", type=positive_int, metavar="N",
                   help="longer answers are unreadable (default 2000, or SYMBACKPROP_MAX_ANSWER_CHARS)")
    p.add_argument("--max-students", type=positive_int, metavar="N",
                   help="refuse an answers file of more students (default 5000, or SYMBACKPROP_MAX_ROSTER_ROWS)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from ..exercises.classroom import grade_class
    from .exercise import check_folder

    check_folder("--out", args.out)
    result = grade_class(args.sheets, args.answers, args.out, symbolic=not args.no_symbolic,
                         timeout=args.timeout, max_answer_chars=args.max_answer_chars,
                         max_students=args.max_students)
    for problem in result.problems:
        say(f"warning: {problem}", err=True)
    for g in result.grades:
        verdicts = " ".join(f"{q.question.id}:{q.verdict}" for q in g.questions)
        say(f"{g.student}: {g.score}/{g.total} ({g.percent:.0f} %)  {verdicts}")
    say(f"feedback for {len(result.grades)} student(s) in {args.out}; "
        f"{os.path.join(args.out, 'summary.csv')}, {os.path.join(args.out, 'summary.png')}")
    return 0
