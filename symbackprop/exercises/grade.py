"""Grading one student's answers to an :class:`~.generate.Exercise`: :func:`grade`.

How it works
------------
Each answer gets one verdict: ``right``, ``wrong``, ``unreadable`` (with the reason:
the parse error, a number that is not one, an answer over the length limit), ``missing``,
or ``ungraded`` (a matrix answer while no matrix checker is installed).

- A formula (gradient, δ) is read by the network's safe parser, or by the LaTeX reader
  when written between ``$`` signs, and judged by :func:`~symbackprop.checking.check`
  (random points, then a time-bounded proof); a wrong one gets the checker's diagnosis.
  Since δ^(l)_j = ∂J/∂b^(l)_j, a δ question is checked as the gradient of that bias. An
  answer that uses the δ it is asked for (or one of its layer or an earlier one) is wrong:
  the question asks to work it out.
- A number is right within the exercise's relative tolerance (or an absolute 1e-6 near
  zero); an SGD step's new value, within that tolerance of the step η ∂J/∂p. A wrong one is compared with the usual slips: the wrong sign, a factor of 2,
  another parameter's gradient, and for the SGD step: the gradient added instead of
  subtracted, the learning rate forgotten, the gradient or the step given instead of the
  new value.
- A matrix formula goes to ``symbackprop.checking.check_layer`` when that exists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from ..errors import SymbackpropError
from ..files import LIMITS, limit
from ..notation import text_name
from .generate import ABSOLUTE_TOLERANCE, Exercise, Question

__all__ = ["VERDICTS", "Grade", "QuestionGrade", "Verdict", "grade", "read_number"]

Verdict = Literal["right", "wrong", "unreadable", "missing", "ungraded"]
VERDICTS: tuple[str, ...] = ("right", "wrong", "unreadable", "missing", "ungraded")

#: Slips of numeric answers: name -> how to say it (``{p}`` the parameter, ``{other}``).
NUMERIC_SLIPS = {
    "sign": "Your number has the wrong sign.",
    "constant_factor": "Your number is {factor} times the right one: a constant factor is off.",
    "wrong_index": "Your number is the value of ∂J/∂{other}, not of ∂J/∂{p}: check the indices.",
    "sgd_sign": "You added the gradient; gradient descent subtracts it: {p} − η ∂J/∂{p}.",
    "sgd_learning_rate": "You left out the learning rate: the step is η ∂J/∂{p}, with η = {lr}.",
    "sgd_gradient_only": "This is ∂J/∂{p}, not the new value {p} − η ∂J/∂{p}.",
    "sgd_step_only": "This is the change −η ∂J/∂{p}; the new value adds it to {p}.",
}


@dataclass(frozen=True)
class QuestionGrade:
    """The verdict on one answer.

    Attributes
    ----------
    question : Question
    answer : str
        The answer as given ("" when missing).
    verdict : str
        ``right``, ``wrong``, ``unreadable``, ``missing`` or ``ungraded``.
    slip : str
        For a wrong answer: the slip found (the checker's diagnosis kind such as
        ``local_partial``, or a numeric slip such as ``sgd_sign``), ``"other"`` when none
        explains it; for an unreadable one, ``"unreadable"``; else "".
    message : str
        The diagnosis or the reason, in a sentence.
    expected : str
        The reference answer as typed.
    """

    question: Question
    answer: str
    verdict: Verdict
    slip: str = ""
    message: str = ""
    expected: str = ""

    @property
    def ok(self) -> bool:
        """True when the verdict is ``right``."""
        return self.verdict == "right"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> sbp.grade(sbp.exercise(seed=1, level=1), {})["q1"].to_dict()["verdict"]
        'missing'
        """
        return {"question": self.question.id, "kind": self.question.kind, "target": self.question.target,
                "answer": self.answer, "verdict": self.verdict, "slip": self.slip,
                "message": self.message, "expected": self.expected}


@dataclass(frozen=True)
class Grade:
    """One student's graded exercise.

    Attributes
    ----------
    exercise : Exercise
    student : str
    questions : tuple of QuestionGrade
        In the exercise's order.
    notes : tuple of str
        Remarks about the answers as given (an unknown question id, a repeated answer).
    """

    exercise: Exercise
    student: str
    questions: tuple[QuestionGrade, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def score(self) -> int:
        """Right answers."""
        return sum(g.ok for g in self.questions)

    @property
    def total(self) -> int:
        """Graded questions (an ``ungraded`` one does not count)."""
        return sum(g.verdict != "ungraded" for g in self.questions)

    @property
    def percent(self) -> float:
        """``100 * score / total`` (100 when nothing was graded)."""
        return 100.0 * self.score / self.total if self.total else 100.0

    def __getitem__(self, qid: str) -> QuestionGrade:
        for g in self.questions:
            if g.question.id == qid:
                return g
        raise KeyError(qid)

    def feedback(self) -> str:
        """The feedback for the student, in Markdown: score, then each question's verdict,
        the answer as given, the diagnosis and the expected answer.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> g = sbp.grade(sbp.exercise(seed=1, level=1), {"q3": "-0.379884"}, student="ann")
        >>> print(g.feedback().splitlines()[0])
        # Feedback for ann: 0 of 4 right (0 %)
        """
        ex = self.exercise
        who = self.student or "you"
        lines = [
            f"# Feedback for {who}: {self.score} of {self.total} right ({self.percent:.0f} %)",
            "",
            f"Exercise: level {ex.level}, seed {ex.seed}, the {ex.network.describe()}. "
            f"Numbers count as right within {ex.tolerance:.0%} (relative).".replace("%", " %"),
        ]
        for note in self.notes:
            lines += ["", f"Note: {note}"]
        for g in self.questions:
            q = g.question
            head = f"## {q.id} ({q.kind.replace('_', ' ')}): {g.verdict}"
            if g.slip and g.verdict == "wrong":
                head += f" ({g.slip.replace('_', ' ')})"
            lines += ["", head, ""]
            if g.answer:
                lines += ["Your answer:", "", _fenced(g.answer), ""]
            if g.message:
                lines += [g.message, ""]
            if g.verdict != "right" and g.expected:
                lines += ["Expected:", "", _fenced(g.expected), ""]
            while lines[-1] == "":
                lines.pop()
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: score, total, percent, notes and every question's grade.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.grade(sbp.exercise(seed=1, level=1), {"q3": "0.379884"}).to_dict()
        >>> d["score"], d["total"], d["questions"][2]["verdict"]
        (1, 4, 'right')
        """
        return {"student": self.student, "score": self.score, "total": self.total,
                "percent": self.percent, "notes": list(self.notes),
                "questions": [g.to_dict() for g in self.questions]}

    def __repr__(self) -> str:
        verdicts = ", ".join(f"{g.question.id}: {g.verdict}" for g in self.questions)
        return f"<Grade {self.student or '(student)'}: {self.score}/{self.total} ({verdicts})>"


def _fenced(text: str) -> str:
    """``text`` as a Markdown code block: shown literally, whatever it holds."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"


def read_number(text: str) -> float:
    """A numeric answer: a decimal number (``−`` and a decimal comma are accepted).

    Examples
    --------
    >>> read_number(" −0,25 "), read_number("1e-3")
    (-0.25, 0.001)
    >>> read_number("about 3")
    Traceback (most recent call last):
    ...
    symbackprop.errors.FormulaError: 'about 3' is not a number; write a decimal number such as -0.0821.
    """
    from ..errors import FormulaError

    cleaned = text.strip().replace("−", "-").replace("\u2212", "-")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or cleaned.lower() in ("inf", "nan"):
        raise FormulaError(f"{text.strip()!r} is not a number; write a decimal number such as -0.0821.")
    return value


def allowed_error(ex: Exercise, q: Question) -> float:
    """How far a numeric answer may be from the reference: the relative tolerance of the
    value asked for, or for an SGD step, of the step η ∂J/∂p (the part that is computed).

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.exercise(seed=7, level=2)     # ∂J/∂w = -0.0101752, η = 0.1
    >>> round(allowed_error(ex, ex.question("q4")), 7), round(allowed_error(ex, ex.question("q5")), 8)
    (0.0001018, 1.018e-05)
    """
    t = ex.value(q)
    scale = abs(t) if q.kind == "value" else abs(ex.params[q.target] - t)
    return max(ex.tolerance * scale, ABSOLUTE_TOLERANCE)


def _near(u: float, t: float, error: float) -> bool:
    return abs(u - t) <= error


def _numeric_slip(ex: Exercise, q: Question, u: float, t: float) -> tuple[str, str]:
    """The slip that explains the wrong number ``u`` (reference ``t``), and its sentence."""
    tol = allowed_error(ex, q)
    p = q.target
    grads = _gradients(ex)
    g = grads[p]
    pn = text_name(sp.Symbol(p))
    candidates: list[tuple[str, float, dict]] = []
    if q.kind == "sgd_step":
        w0, lr = ex.params[p], ex.lr
        candidates += [("sgd_sign", w0 + lr * g, {}), ("sgd_gradient_only", g, {}),
                       ("sgd_step_only", -lr * g, {})]
        if lr != 1:
            candidates.append(("sgd_learning_rate", w0 - g, {}))
    else:
        candidates += [("sign", -t, {}), ("constant_factor", 2 * t, {"factor": 2}),
                       ("constant_factor", t / 2, {"factor": "1/2"})]
        candidates += [("wrong_index", v, {"other": text_name(sp.Symbol(o))})
                       for o, v in grads.items() if o != p]
    for slip, value, extra in candidates:
        if _near(u, value, tol) and not _near(value, t, tol):
            return slip, NUMERIC_SLIPS[slip].format(p=pn, lr=f"{ex.lr:g}", **extra)
    of = "the value" if q.kind == "value" else "the step η ∂J/∂p (give six decimals)"
    return "other", f"Your number {u:.6g} is off by more than {ex.tolerance:.0%} of {of}.".replace("%", " %")


def _gradients(ex: Exercise) -> dict[str, float]:
    """Every parameter's ∂J/∂p at the sample, from the compiled model (cached per exercise)."""
    if "gradients" not in ex._cache:
        from .generate import _compiled

        model = _compiled(ex.sizes, ex.activations, ex.loss)
        ex._cache["gradients"] = {s.name: float(v) for s, v in model.gradient(ex.params, [ex.x], [ex.y]).items()}
    return ex._cache["gradients"]


def _forbidden(ex: Exercise, q: Question, expr: sp.Expr) -> list[sp.Symbol]:
    """The δ of layer ≤ the question's layer that a formula uses (what it is asked to derive)."""
    from ..notation import parse_name

    out = []
    for s in sorted(expr.free_symbols, key=lambda s: s.name):
        info = parse_name(s.name)
        if s.name == "J" or (info is not None and info.kind == "delta" and info.layer <= q.layer):
            out.append(s)
    return out


def _read_formula(ex: Exercise, text: str, timeout: float) -> sp.Expr:
    from ..checking.verdict import read_formula

    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == "$" and stripped[-1] == "$":
        from ..checking.latex import parse_latex_formula

        return parse_latex_formula(stripped.strip("$"), ex.network, timeout=timeout)
    return read_formula(ex.network, stripped, what="answer")


def _grade_formula(ex: Exercise, q: Question, text: str, expected: str, symbolic: bool,
                   timeout: float) -> QuestionGrade:
    from ..checking import check

    try:
        expr = _read_formula(ex, text, timeout)
    except SymbackpropError as exc:
        return QuestionGrade(q, text, "unreadable", "unreadable", str(exc), expected)
    used = _forbidden(ex, q, expr)
    if used:
        names = ", ".join(text_name(s) for s in used)
        return QuestionGrade(q, text, "wrong", "circular",
                             f"Your answer uses {names}, which this question asks you to work out; "
                             f"write it in x, y, w, b, z, a and the δ of layers after layer {q.layer}.",
                             expected)
    result = check(ex.network, ex._param_of(q), expr, symbolic=symbolic, timeout=timeout)
    if result.ok:
        return QuestionGrade(q, text, "right", "", "", expected)
    if result.diagnosis is not None:
        message = result.diagnosis.message
        if q.kind == "delta":  # the checker speaks of the bias whose gradient the δ is
            bias = sp.Symbol(ex._param_of(q))
            message = f"(Checked as ∂J/∂{text_name(bias)} = {text_name(sp.Symbol(q.target))}.) {message}"
        return QuestionGrade(q, text, "wrong", result.diagnosis.kind, message, expected)
    message = "Your formula differs from the true one, and none of the usual slips explains it."
    cex = result.counterexample
    if cex is not None:
        message += (f" For example, at one random point your formula gives {cex.formula_value:.6g} "
                    f"where the true value is {cex.true_value:.6g}.")
    return QuestionGrade(q, text, "wrong", "other", message, expected)


def _grade_number(ex: Exercise, q: Question, text: str, expected: str) -> QuestionGrade:
    try:
        u = read_number(text)
    except SymbackpropError as exc:
        return QuestionGrade(q, text, "unreadable", "unreadable", str(exc), expected)
    t = ex.value(q)
    if _near(u, t, allowed_error(ex, q)):
        return QuestionGrade(q, text, "right", "", "", expected)
    slip, message = _numeric_slip(ex, q, u, t)
    return QuestionGrade(q, text, "wrong", slip, message, expected)


def _layer_checker():
    """``symbackprop.checking.check_layer``, the matrix-form checker, or None where it is absent."""
    try:
        from ..checking import check_layer
    except ImportError:
        return None
    return check_layer


#: Why a matrix answer is ``ungraded`` where no matrix checker is installed.
UNGRADED = "Matrix answers are graded by check_layer when it is available; this one was not graded."


def _grade_matrix(ex: Exercise, q: Question, text: str, expected: str) -> QuestionGrade:
    check_layer = _layer_checker()
    if check_layer is None:
        return QuestionGrade(q, text, "ungraded", "", UNGRADED, expected)
    try:
        result = check_layer(ex.network, q.target, text.strip())
    except SymbackpropError as exc:
        return QuestionGrade(q, text, "unreadable", "unreadable", str(exc), expected)
    if result.ok:
        return QuestionGrade(q, text, "right", "", "", expected)
    diagnosis = getattr(result, "diagnosis", None)
    if diagnosis is None:
        return QuestionGrade(q, text, "wrong", "other", "Your matrix formula is not right.", expected)
    return QuestionGrade(q, text, "wrong", getattr(diagnosis, "kind", "other"),
                         getattr(diagnosis, "message", str(diagnosis)), expected)


def grade(
    ex: Exercise,
    answers: Mapping[str, Any],
    *,
    student: str | None = None,
    symbolic: bool = True,
    timeout: float = 5.0,
    max_answer_chars: int | None = None,
    notes: tuple[str, ...] = (),
) -> Grade:
    """Grade one student's answers.

    Parameters
    ----------
    ex : Exercise
    answers : Mapping[str, str or float]
        Question id (``"q1"``) -> the answer: a formula in the network's names (or LaTeX
        between ``$`` signs), a number, or a matrix formula. A question without an answer
        is graded ``missing``; an id the exercise lacks is noted and ignored.
    student : str, optional
        Who answered (default: the exercise's student).
    symbolic : bool
        Also try a symbolic proof of formulas the random points find right.
    timeout : float
        Seconds that proof (and reading a LaTeX answer) may take.
    max_answer_chars : int, optional
        Longer answers are ``unreadable`` (default: ``SYMBACKPROP_MAX_ANSWER_CHARS``, else 2000).

    Returns
    -------
    Grade
        ``.score``, ``.total``, ``.questions`` (each with its verdict and diagnosis),
        ``.feedback()`` in Markdown.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.exercise(seed=1, level=1)
    >>> ex.answer("q1"), ex.answer("q3")
    ('x1*(1 - a1_1**2)*(a1_1 - y1)', '0.379884')
    >>> g = sbp.grade(ex, {"q1": "(a1_1 - y1)*x1", "q2": "(1 - a1_1**2)*(a1_1 - y1)",
    ...                    "q3": "-0.3799", "q4": "oops"})
    >>> g.score, g.total, [q.verdict for q in g.questions]
    (1, 4, ['wrong', 'right', 'wrong', 'unreadable'])
    >>> print(g["q1"].message)
    Your formula lacks the factor tanh'(z1_1) = 1 - a1_1**2 = ∂a⁽¹⁾₁/∂z⁽¹⁾₁, the local partial on the edge z⁽¹⁾₁ → a⁽¹⁾₁.
    >>> g["q3"].slip, g["q4"].message
    ('sign', "'oops' is not a number; write a decimal number such as -0.0821.")
    """
    if not isinstance(answers, Mapping):
        raise SymbackpropError(f"answers must be a mapping from question id to answer; got {type(answers).__name__}.")
    bound = limit("answer_chars", max_answer_chars)
    known = {q.id for q in ex.questions}
    extra = sorted(str(k) for k in answers if k not in known)
    all_notes = list(notes)
    if extra:
        all_notes.append(f"answers to unknown question(s) {', '.join(extra)} were ignored "
                         f"(this exercise has {', '.join(q.id for q in ex.questions)}).")
    out = []
    for q in ex.questions:
        expected = ex.answer(q)
        given = answers.get(q.id)
        if isinstance(given, (int, float)) and not isinstance(given, bool):
            given = repr(float(given))
        if q.answer_type == "matrix" and _layer_checker() is None:
            out.append(QuestionGrade(q, given if isinstance(given, str) else "", "ungraded", "", UNGRADED, expected))
            continue
        if given is None or (isinstance(given, str) and not given.strip()):
            out.append(QuestionGrade(q, "", "missing", "missing", "No answer was given.", expected))
            continue
        if not isinstance(given, str):
            out.append(QuestionGrade(q, repr(given), "unreadable", "unreadable",
                                     f"An answer must be text or a number; got {type(given).__name__}.", expected))
            continue
        if len(given) > bound:
            out.append(QuestionGrade(
                q, given[:80] + "...", "unreadable", "unreadable",
                f"The answer is {len(given)} characters long, over the limit of {bound}; raise it with "
                f"max_answer_chars=... (--max-answer-chars) or the environment variable "
                f"{LIMITS['answer_chars'].env}.", expected))
            continue
        if q.answer_type == "formula":
            out.append(_grade_formula(ex, q, given, expected, symbolic, timeout))
        elif q.answer_type == "number":
            out.append(_grade_number(ex, q, given, expected))
        else:
            out.append(_grade_matrix(ex, q, given, expected))
    return Grade(ex, ex.student if student is None else student, tuple(out), tuple(all_notes))

