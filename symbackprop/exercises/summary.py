"""The class summary: which slips were most common, as a CSV table and a bar chart.

A *slip* is what grading found wrong with an answer: a diagnosis of the checker
(``local_partial``, ``sign``, ``wrong_index``, ...), a numeric slip (``sgd_sign``, ...),
``circular`` (the answer uses the δ it should derive), ``other`` (wrong, no known slip),
``unreadable`` or ``missing``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from ..render.drawing import Drawing
    from .grade import Grade

__all__ = ["Slip", "draw_slips", "slips", "summary_csv"]


@dataclass(frozen=True)
class Slip:
    """One slip's count over the class, and the questions where it happened."""

    name: str
    count: int
    share: float
    questions: dict[str, int]


def slips(grades: list[Grade]) -> list[Slip]:
    """Every slip of the class, most common first (ties by name).

    ``share`` is the fraction of all graded answers with that slip.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.exercise(seed=1, level=1)
    >>> g1 = sbp.grade(ex, {"q1": "(a1_1 - y1)*x1"}, student="a")
    >>> g2 = sbp.grade(ex, {"q3": "-0.379884"}, student="b")
    >>> [(s.name, s.count, s.questions) for s in slips([g1, g2])][:2]
    [('missing', 6, {'q2': 2, 'q3': 1, 'q4': 2, 'q1': 1}), ('local_partial', 1, {'q1': 1})]
    """
    counts: Counter[str] = Counter()
    where: dict[str, Counter[str]] = {}
    answered = 0
    for g in grades:
        for q in g.questions:
            if q.verdict == "ungraded":
                continue
            answered += 1
            if q.verdict == "right":
                continue
            name = q.slip or q.verdict
            counts[name] += 1
            where.setdefault(name, Counter())[q.question.id] += 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Slip(name, n, n / answered if answered else 0.0, dict(where[name])) for name, n in ordered]


def summary_csv(grades: list[Grade]) -> str:
    """The slips as CSV: ``slip,count,share,questions`` (``q2:3 q5:1``), most common first.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.exercise(seed=1, level=1)
    >>> print(summary_csv([sbp.grade(ex, {"q1": "x1", "q2": "a1_1 - y1", "q3": "1", "q4": "1"})]))
    slip,count,share,questions
    other,3,0.750,q1:1 q3:1 q4:1
    local_partial,1,0.250,q2:1
    <BLANKLINE>
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["slip", "count", "share", "questions"])
    for s in slips(grades):
        where = " ".join(f"{q}:{n}" for q, n in sorted(s.questions.items(), key=lambda kv: (len(kv[0]), kv[0])))
        writer.writerow([s.name, s.count, f"{s.share:.3f}", where])
    return out.getvalue()


def draw_slips(items: list[Slip], *, n_students: int | None = None, ax: Axes | None = None) -> Drawing:
    """A horizontal bar chart of the slips' counts, most common on top.

    Examples
    --------
    >>> d = draw_slips([Slip("sign", 3, 0.3, {"q1": 3}), Slip("missing", 1, 0.1, {"q2": 1})])
    >>> d.kind, d.labels
    ('slips', {'sign': '3', 'missing': '1'})
    """
    from matplotlib.ticker import MaxNLocator

    from ..render.drawing import Drawing, new_axes

    fig, ax = new_axes(ax, (6.0, 0.6 + 0.4 * max(len(items), 2)))
    names = [s.name.replace("_", " ") for s in items]
    counts = [s.count for s in items]
    who = f" ({n_students} student{'s' if n_students != 1 else ''})" if n_students is not None else ""
    if items:
        ax.barh(range(len(items)), counts, color="#c0504d")
        ax.set_yticks(range(len(items)), names)
        ax.invert_yaxis()
        for i, n in enumerate(counts):
            ax.text(n, i, f" {n}", va="center")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts: whole numbers
        ax.set_xlabel("answers")
        ax.set_xlim(0, max(counts) * 1.15)
        ax.set_title("Most common slips" + who)
    else:
        ax.set_axis_off()
        ax.set_title("No slips: every graded answer is right" + who)
    return Drawing(fig, ax, "slips", labels={s.name: str(s.count) for s in items})
