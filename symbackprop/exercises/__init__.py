"""Exercises for a backprop class: generate one per student, grade the answers.

Modules, in the order they are used: :mod:`.generate` (:func:`exercise`, the
:class:`Exercise` and its JSON), :mod:`.sheets` (worksheet and worked solution, Markdown
and LaTeX), :mod:`.grade` (:func:`grade`: one student's answers), :mod:`.classroom` (a
roster, an answers file, per-student feedback files) and :mod:`.summary` (the class's
most common slips, as a table and a bar chart).
"""

from __future__ import annotations

from .generate import Exercise, Question, exercise, load_exercise, student_seed
from .grade import Grade, QuestionGrade, grade

__all__ = ["Exercise", "Grade", "Question", "QuestionGrade", "exercise", "grade", "load_exercise",
           "student_seed"]
