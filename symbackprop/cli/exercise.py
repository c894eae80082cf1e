"""``symbackprop exercise``: a backprop exercise (worksheet, worked solution, JSON), or one per
student of a roster."""

from __future__ import annotations

import argparse

from .common import nonnegative_int, positive_int, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exercise",
        help="generate a backprop exercise: worksheet, worked solution, exercise.json",
        description="Generate a backpropagation exercise, the same for the same --seed and "
        "--level: a random network with numbers, and questions (symbolic gradients, a δ, a "
        "numeric gradient, one SGD step, a layer-level equation). Writes worksheet.md and "
        "worksheet.tex, the worked solution (solution.md, solution.tex) and exercise.json "
        "(what 'symbackprop grade' reads) into --out. With --roster, one exercise per "
        "student, seeded by the student's id, in a subfolder named by the id.",
        epilog="examples:\n"
        "  symbackprop exercise --seed 7 --level 2 --out ex7/\n"
        "  symbackprop exercise --roster students.csv --level 2 --out sheets/\n"
        "      (students.csv: a header row with an 'id' column, then one student per row)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--level", type=int, choices=(1, 2, 3), default=1,
                   help="1: one neuron; 2: one hidden layer; 3: two hidden layers of mixed "
                   "activations and a softmax output (default 1)")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="the exercise's seed; with --roster, mixed into every student's seed (default 0)")
    p.add_argument("--roster", metavar="CSV", help="one exercise per student of this roster")
    p.add_argument("--out", metavar="FOLDER", required=True, help="the folder to write into (created if missing)")
    p.add_argument("--max-students", type=positive_int, metavar="N",
                   help="refuse a roster of more students (default 5000, or SYMBACKPROP_MAX_ROSTER_ROWS)")
    p.set_defaults(func=run)


def check_folder(flag: str, path: str) -> None:
    """Refuse, in one line, a folder path that names an existing file."""
    import os

    from ..errors import SpecError

    if not path.strip():
        raise SpecError(f"{flag} needs a folder name; got {path!r}.")
    if os.path.exists(path) and not os.path.isdir(path):
        raise SpecError(f"{flag} {path!r} is a file; give a folder (it is created if missing).")


def run(args: argparse.Namespace) -> int:
    import os

    from ..exercises import exercise
    from ..exercises.classroom import make_sheets, read_roster

    check_folder("--out", args.out)
    if args.roster is None:
        ex = exercise(seed=args.seed, level=args.level)
        for path in ex.write(args.out):
            say(path)
        return 0
    students = read_roster(args.roster, max_students=args.max_students)
    made = make_sheets(students, args.level, args.out, base_seed=args.seed)
    for ex in made:
        say(f"{ex.student}: {os.path.join(args.out, ex.student)} (seed {ex.seed})")
    say(f"{len(made)} exercise(s) of level {args.level}; {os.path.join(args.out, 'roster.csv')}")
    return 0
