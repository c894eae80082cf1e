"""Backprop exercises, one per (seed, level): a random network, numbers, and questions.

:func:`exercise` draws a network (level 1: one neuron; level 2: one hidden layer; level 3:
two hidden layers of different activations and a softmax output), parameters, one sample
and a learning rate, and asks five or six questions of five kinds:

- ``gradient``: ∂J/∂p of a named weight or bias, as a formula;
- ``delta``: one δ, as a formula;
- ``value``: the number ∂J/∂p at the given parameters and sample;
- ``sgd_step``: p after one step of SGD on that sample;
- ``layer``: a layer-level (matrix) equation, ∂J/∂W^(l) or δ^(l).

Everything is drawn from a NumPy Generator seeded with ``(level, seed)``, so the same pair
gives the same exercise on any machine. An :class:`Exercise` is plain data (it round-trips
through JSON); its reference answers come from the network's own derivation
(:meth:`~symbackprop.derivation.Derivation.at`), never from a second evaluator.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import DataError, SpecError

if TYPE_CHECKING:  # pragma: no cover
    import sympy as sp

    from ..derivation import Derivation
    from ..network import Network

__all__ = [
    "ANSWER_TYPES",
    "DEFAULT_TOLERANCE",
    "LEVELS",
    "Exercise",
    "Question",
    "QuestionKind",
    "exercise",
    "load_exercise",
    "student_seed",
]

QuestionKind = Literal["gradient", "delta", "value", "sgd_step", "layer"]
#: How each kind of question is answered: a formula, a number, or a matrix formula.
ANSWER_TYPES: dict[str, str] = {
    "gradient": "formula", "delta": "formula", "value": "number", "sgd_step": "number",
    "layer": "matrix",
}
LEVELS = (1, 2, 3)
#: Numeric answers within this relative error of the reference count as right (hand
#: arithmetic with four significant digits stays well inside it).
DEFAULT_TOLERANCE = 0.01
#: ... or within this absolute error, for a reference value of 0 (a switched-off ReLU).
ABSOLUTE_TOLERANCE = 1e-6
#: The JSON format's name and version, checked when a file is read.
FORMAT, VERSION = "symbackprop-exercise", 1

# Activations whose derivative a student writes in a (σ' = a(1 − a), tanh' = 1 − a²): the
# matrix-form δ question uses only these, so its answer needs no function of z.
_MATRIX_FPRIME = {"sigmoid": "{a} * (1 - {a})", "tanh": "(1 - {a}**2)", "identity": "1"}
# A z this close to 0 at the sample is redrawn: ReLU-type kinks sit there, and a student's
# hand arithmetic should not hinge on the sign of a rounding error.
_MIN_ABS_Z = 0.05
_MIN_FLOW = 0.01


@dataclass(frozen=True)
class Question:
    """One question of an exercise.

    Attributes
    ----------
    id : str
        ``"q1"``, ``"q2"``, ...: what an answers file names.
    kind : str
        ``"gradient"``, ``"delta"``, ``"value"``, ``"sgd_step"`` or ``"layer"``.
    target : str
        What is asked: a parameter (``"w2_1_1"``), a δ (``"delta1_2"``), or for ``layer``
        a layer quantity (``"dW2"``, ``"delta1"``).
    """

    id: str
    kind: QuestionKind
    target: str

    @property
    def answer_type(self) -> str:
        """``"formula"``, ``"number"`` or ``"matrix"``.

        Examples
        --------
        >>> Question("q4", "value", "w1_2_1").answer_type
        'number'
        """
        return ANSWER_TYPES[self.kind]

    @property
    def layer(self) -> int:
        """The layer of the target (``w2_1_1`` -> 2, ``dW2`` -> 2, ``delta1`` -> 1).

        Examples
        --------
        >>> Question("q3", "delta", "delta1_2").layer, Question("q6", "layer", "dW2").layer
        (1, 2)
        """
        head = self.target.split("_")[0]
        return int("".join(ch for ch in head if ch.isdigit()))

    def to_dict(self) -> dict[str, str]:
        """Plain data for JSON.

        Examples
        --------
        >>> Question("q1", "gradient", "w2_1_1").to_dict()
        {'id': 'q1', 'kind': 'gradient', 'target': 'w2_1_1'}
        """
        return {"id": self.id, "kind": self.kind, "target": self.target}


@lru_cache(maxsize=128)
def _network(sizes: tuple[int, ...], activations: tuple[str, ...], loss: str) -> Network:
    """One Network per architecture: exercises of one class share them (built once)."""
    from ..network import mlp

    return mlp(list(sizes), activation=list(activations), loss=loss)


@lru_cache(maxsize=128)
def _compiled(sizes: tuple[int, ...], activations: tuple[str, ...], loss: str):
    """The compiled model of an architecture (grading compares numbers with it)."""
    return _network(sizes, activations, loss).compile()


@dataclass(frozen=True, eq=False)
class Exercise:
    """A backprop exercise: the network, its numbers, its questions and their answers.

    Build one with :func:`exercise`; read one with :meth:`from_json` or
    :func:`load_exercise`.

    Attributes
    ----------
    seed, level : int
        What it was generated from.
    sizes : tuple of int
        Layer sizes, inputs first.
    activations : tuple of str
        One activation name per layer after the inputs.
    loss : str
        The loss name.
    params : dict[str, float]
        Every parameter's value, by name.
    x, y : tuple of float
        The sample and its target.
    lr : float
        Learning rate of the SGD question.
    questions : tuple of Question
    tolerance : float
        Relative tolerance of numeric answers.
    student : str
        The student it was made for (``exercise --roster``), else empty.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.exercise(seed=7, level=1)
    >>> ex == sbp.exercise(seed=7, level=1), [q.kind for q in ex.questions]
    (True, ['gradient', 'delta', 'value', 'sgd_step'])
    >>> Exercise.from_json(ex.to_json()) == ex
    True
    """

    seed: int
    level: int
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    params: dict[str, float]
    x: tuple[float, ...]
    y: tuple[float, ...]
    lr: float
    questions: tuple[Question, ...]
    tolerance: float = DEFAULT_TOLERANCE
    student: str = ""
    # Derivations at the sample and compiled gradients, computed once per exercise.
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Exercise) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  (mutable-looking: params is a dict)

    # ------------------------------------------------------------ the network
    @property
    def network(self) -> Network:
        """The :class:`~symbackprop.network.Network` of the exercise (one per architecture).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> sbp.exercise(seed=7, level=2).network
        Network([2, 3, 2], activation=['sigmoid', 'identity'], loss='quadratic')
        """
        return _network(self.sizes, self.activations, self.loss)

    def question(self, qid: str) -> Question:
        """The question with id ``qid``.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> sbp.exercise(seed=7, level=2).question("q3")
        Question(id='q3', kind='delta', target='delta1_3')
        """
        for q in self.questions:
            if q.id == qid:
                return q
        known = ", ".join(q.id for q in self.questions)
        raise SpecError(f"This exercise has no question {qid!r}; its questions are {known}.")

    def derivation(self, p: str) -> Derivation:
        """``net.derivation(p).at(params, x, y)``: every step with its value at the sample.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.exercise(seed=7, level=2).derivation("w1_3_1")
        >>> round(d.value(d.compact), 6)
        -0.010175
        """
        if p not in self._cache:
            self._cache[p] = self.network.derivation(p).at(self.params, self.x, self.y)
        return self._cache[p]

    @property
    def sample_values(self) -> dict:
        """Every symbol's value at the sample (x, y, parameters, z, a, J and every δ).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> ex = sbp.exercise(seed=7, level=2)
        >>> round(ex.sample_values[ex.network.J], 6)
        0.031049
        """
        return self.derivation(self._param_of(self.questions[0])).values

    def _param_of(self, q: Question) -> str:
        """The parameter whose derivation answers ``q`` (δ^(l)_j = ∂J/∂b^(l)_j)."""
        if q.kind == "delta":
            return "b" + q.target[len("delta"):]
        if q.kind == "layer":
            return f"b{q.layer}_1"
        return q.target

    def truth(self, q: Question | str) -> sp.Expr:
        """The true answer of a formula question, in compact form (``net.grad``).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> sbp.exercise(seed=7, level=2).truth("q1")
        a1_1*(a2_1 - y1)
        """
        q = q if isinstance(q, Question) else self.question(q)
        if q.answer_type != "formula":
            raise SpecError(f"Question {q.id} asks for a {q.answer_type}, not a formula.")
        return self.network.grad(self._param_of(q))

    def value(self, q: Question | str) -> float:
        """The reference number of a numeric question (from the derivation's values).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> ex = sbp.exercise(seed=7, level=2)
        >>> round(ex.value("q4"), 6), round(ex.value("q5"), 6)   # ∂J/∂w, then w − η ∂J/∂w
        (-0.010175, -0.698982)
        """
        q = q if isinstance(q, Question) else self.question(q)
        if q.answer_type != "number":
            raise SpecError(f"Question {q.id} asks for a {q.answer_type}, not a number.")
        d = self.derivation(q.target)
        g = d.value(d.compact)
        return g if q.kind == "value" else self.params[q.target] - self.lr * g

    def matrix_answer(self, q: Question | str) -> str:
        """The reference answer of a layer question, in matrix syntax (``delta2 @ a1.T``).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> sbp.exercise(seed=7, level=2).matrix_answer("q6"), sbp.exercise(seed=7, level=3).matrix_answer("q6")
        ('delta1 @ x.T', '(W2.T @ delta2) * (1 - a1**2)')
        """
        q = q if isinstance(q, Question) else self.question(q)
        l = q.layer
        if q.target.startswith("dW"):
            return f"delta{l} @ {'x' if l == 1 else f'a{l - 1}'}.T"
        fprime = _MATRIX_FPRIME[self.activations[l - 1]].format(a=f"a{l}")
        product = f"(W{l + 1}.T @ delta{l + 1})"
        return product if fprime == "1" else f"{product} * {fprime}"

    def answer(self, q: Question | str) -> str:
        """The reference answer as a student would type it (graded right by :func:`grade`).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> ex = sbp.exercise(seed=1, level=1)
        >>> ex.answer("q2"), ex.answer("q3")
        ('(1 - a1_1**2)*(a1_1 - y1)', '0.379884')
        """
        from ..notation import to_str

        q = q if isinstance(q, Question) else self.question(q)
        if q.answer_type == "formula":
            return to_str(self.truth(q))
        if q.kind == "sgd_step":  # six decimals: the step η ∂J/∂p may be small beside p
            return f"{self.value(q):.6f}"
        if q.answer_type == "number":
            return f"{self.value(q):.6g}"
        return self.matrix_answer(q)

    def answers(self) -> dict[str, str]:
        """Every reference answer, by question id (grading them scores 100 %).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> sorted(sbp.exercise(seed=7, level=1).answers())
        ['q1', 'q2', 'q3', 'q4']
        """
        return {q.id: self.answer(q) for q in self.questions}

    # ------------------------------------------------------------ the sheets
    def worksheet(self, fmt: Literal["markdown", "latex"] = "markdown") -> str:
        """The worksheet (questions and numbers) as Markdown or a complete LaTeX document.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> "## Questions" in sbp.exercise(seed=7, level=1).worksheet("markdown")
        True
        """
        from .sheets import worksheet

        return worksheet(self, fmt)

    def solution(self, fmt: Literal["markdown", "latex"] = "markdown") -> str:
        """The worked solution: each answer and its derivation with numbers on every step.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> r"\\approx" in sbp.exercise(seed=7, level=1).solution("latex")
        True
        """
        from .sheets import solution

        return solution(self, fmt)

    def write(self, folder: str) -> list[str]:
        """Write worksheet.md/.tex, solution.md/.tex and exercise.json into ``folder``.

        Examples
        --------
        >>> import symbackprop as sbp, tempfile
        >>> len(sbp.exercise(seed=7, level=1).write(tempfile.mkdtemp()))
        5
        """
        from .sheets import write_files

        return write_files(self, folder)

    # ------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Plain data (what :meth:`to_json` writes).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> d = sbp.exercise(seed=7, level=1).to_dict()
        >>> d["format"], d["level"], d["sizes"]
        ('symbackprop-exercise', 1, [3, 1])
        """
        return {
            "format": FORMAT, "version": VERSION,
            "seed": self.seed, "level": self.level, "student": self.student,
            "sizes": list(self.sizes), "activations": list(self.activations), "loss": self.loss,
            "params": dict(self.params), "x": list(self.x), "y": list(self.y), "lr": self.lr,
            "tolerance": self.tolerance,
            "questions": [q.to_dict() for q in self.questions],
        }

    def to_json(self) -> str:
        """The exercise as JSON text (read back with :meth:`from_json`).

        Examples
        --------
        >>> import symbackprop as sbp
        >>> json.loads(sbp.exercise(seed=7, level=1).to_json())["questions"][0]
        {'id': 'q1', 'kind': 'gradient', 'target': 'w1_1_1'}
        """
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, where: str = "exercise") -> Exercise:
        """An exercise from :meth:`to_dict`'s data, every field checked.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> Exercise.from_dict({"format": "symbackprop-exercise", "version": 1})
        Traceback (most recent call last):
        ...
        symbackprop.errors.DataError: exercise: a field is missing or malformed (KeyError: 'sizes'); is it an exercise.json written by symbackprop?
        """
        def bad(what: str) -> DataError:
            return DataError(f"{where}: {what}; is it an exercise.json written by symbackprop?")

        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise bad(f"not a {FORMAT} file")
        if data.get("version") != VERSION:
            raise bad(f"format version {data.get('version')!r}, this symbackprop reads {VERSION}")

        def num(v: Any, name: str) -> float:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(f"{name} must be a finite number, got {v!r}")
            return float(v)

        def nums(v: Any, name: str) -> tuple[float, ...]:
            if not isinstance(v, list):
                raise bad(f"{name} must be a list of numbers")
            return tuple(num(e, name) for e in v)

        try:
            sizes = tuple(int(s) for s in data["sizes"])
            activations = tuple(str(a) for a in data["activations"])
            params = {str(k): num(v, f"params[{k!r}]") for k, v in dict(data["params"]).items()}
            questions = []
            for entry in data["questions"]:
                kind = entry["kind"]
                if kind not in ANSWER_TYPES:
                    raise bad(f"unknown question kind {kind!r}")
                questions.append(Question(str(entry["id"]), kind, str(entry["target"])))
            ex = cls(
                seed=int(data["seed"]), level=int(data["level"]), sizes=sizes,
                activations=activations, loss=str(data["loss"]), params=params,
                x=nums(data["x"], "x"), y=nums(data["y"], "y"), lr=num(data["lr"], "lr"),
                questions=tuple(questions), tolerance=num(data.get("tolerance", DEFAULT_TOLERANCE), "tolerance"),
                student=str(data.get("student", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise
            raise bad(f"a field is missing or malformed ({type(exc).__name__}: {exc})") from None
        net = ex.network  # the spec checks sizes, activations and loss
        missing = sorted(p.name for p in net.params if p.name not in params)
        if missing or len(params) != len(net.params):
            raise bad("params do not match the network's parameters")
        for q in questions:  # each target names a parameter (or a layer) of the network
            if q.answer_type != "matrix":
                net.parameter(ex._param_of(q))
            elif not 1 <= q.layer <= net.n_layers:
                raise bad(f"question {q.id} asks about layer {q.layer}, which the network lacks")
        return ex

    @classmethod
    def from_json(cls, text: str | bytes, where: str = "exercise") -> Exercise:
        """An exercise from :meth:`to_json`'s text.

        Examples
        --------
        >>> import symbackprop as sbp
        >>> ex = sbp.exercise(seed=7, level=3)
        >>> Exercise.from_json(ex.to_json()).answers() == ex.answers()
        True
        """
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{where}: not valid JSON ({exc}).") from None
        return cls.from_dict(data, where)

    def __repr__(self) -> str:
        who = f", student={self.student!r}" if self.student else ""
        return f"<Exercise seed={self.seed} level={self.level}{who}: {self.network.describe()}, {len(self.questions)} questions>"


def load_exercise(path: str) -> Exercise:
    """Read an ``exercise.json`` (bounded by the formula-file size limit).

    Examples
    --------
    >>> import symbackprop as sbp, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "exercise.json"
    >>> _ = path.write_text(sbp.exercise(seed=3, level=2).to_json())
    >>> load_exercise(path) == sbp.exercise(seed=3, level=2)
    True
    """
    from ..files import read_bytes

    data = read_bytes(path, what="exercise file", error=DataError, limit_name="text_bytes", argument=None)
    return Exercise.from_json(data, where=str(path))


# ------------------------------------------------------------------ generation
def _rng(seed: int, level: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([20261126, level, seed]))


def student_seed(student: str, base: int = 0) -> int:
    """A seed from a student's id: SHA-256 of ``"base:id"`` (stable across runs and
    machines, unlike ``hash()``).

    Examples
    --------
    >>> student_seed("s001") == student_seed("s001"), student_seed("s001") == student_seed("s002")
    (True, False)
    """
    digest = hashlib.sha256(f"{base}:{student}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def _architecture(rng: np.random.Generator, level: int) -> tuple[tuple[int, ...], tuple[str, ...], str]:
    def pick(options):
        return options[int(rng.integers(len(options)))]

    if level == 1:
        act = pick(["sigmoid", "tanh", "identity"])
        loss = pick(["quadratic", "binary_cross_entropy"]) if act == "sigmoid" else "quadratic"
        return (pick([1, 2, 3]), 1), (act,), loss
    if level == 2:
        hidden = pick(["sigmoid", "tanh"])
        out = pick(["sigmoid", "identity", "tanh"])
        loss = pick(["quadratic", "binary_cross_entropy"]) if out == "sigmoid" else pick(["quadratic", "mse"])
        return (pick([1, 2]), pick([2, 3]), pick([1, 2])), (hidden, out), loss
    pool = ["relu", "tanh", "sigmoid", "leaky_relu", "softplus"]
    first = pick(pool)
    second = pick([a for a in pool if a != first])
    return (2, pick([2, 3]), pick([2, 3]), pick([2, 3])), (first, second, "softmax"), "cross_entropy"


def _numbers(rng: np.random.Generator, net: Network, loss: str):
    """Parameters, sample and target, in tenths, redrawn until no z is near a kink."""
    from ..derivation import sample_values

    for _ in range(100):
        params = {p.name: _tenth(rng) for p in net.params}
        x = tuple(_tenth(rng) for _ in range(net.sizes[0]))
        n_out = net.sizes[-1]
        if loss == "cross_entropy":
            hot = int(rng.integers(n_out))
            y = tuple(1.0 if j == hot else 0.0 for j in range(n_out))
        elif loss == "binary_cross_entropy":
            y = tuple(float(rng.integers(2)) for _ in range(n_out))
        else:
            y = tuple(round(float(rng.uniform(0, 1)), 1) for _ in range(n_out))
        values = sample_values(net.backprop, params, x, y)
        zs = [values[net.z(l, j)] for l in range(1, net.n_layers + 1) for j in range(1, net.sizes[l] + 1)]
        # ... and until some gradient reaches layer 1 (not every ReLU there switched off).
        flow = max(abs(values[net.delta(1, j)]) for j in range(1, net.sizes[1] + 1))
        if min(abs(z) for z in zs) >= _MIN_ABS_Z and flow >= _MIN_FLOW:
            return params, x, y, values
    raise SpecError("Could not draw numbers away from the kinks; try another seed.")  # pragma: no cover


def _tenth(rng: np.random.Generator) -> float:
    """A nonzero number in [−1, 1] with one decimal: easy to multiply by hand."""
    v = int(rng.integers(1, 11)) * (1 if rng.integers(2) else -1)
    return v / 10


def _questions(rng: np.random.Generator, net: Network, activations: tuple[str, ...],
               values: dict) -> tuple[Question, ...]:
    L = net.n_layers

    def param(layer: int, bias_share: float = 0.25, live: bool = False) -> str:
        neurons = list(range(1, net.sizes[layer] + 1))
        if live:  # a numeric question about a neuron whose δ is not 0 (a ReLU that is off)
            neurons = [j for j in neurons if abs(values[net.delta(layer, j)]) >= _MIN_FLOW] or neurons
        j = neurons[int(rng.integers(len(neurons)))]
        if rng.uniform() < bias_share:
            return f"b{layer}_{j}"
        k = int(rng.integers(1, net.sizes[layer - 1] + 1))
        return f"w{layer}_{j}_{k}"

    def delta(layer: int) -> str:
        return f"delta{layer}_{int(rng.integers(1, net.sizes[layer] + 1))}"

    if L == 1:
        numeric = param(1, 0.0) if rng.uniform() < 0.5 else "b1_1"  # one neuron: δ ≠ 0 unless a = y
        kinds = [("gradient", param(1, 0.0)), ("delta", "delta1_1"),
                 ("value", numeric), ("sgd_step", numeric)]
    else:
        hidden = int(rng.integers(1, L))  # a hidden layer: its gradients need the δ recursion
        numeric = param(1, live=True)
        kinds = [("gradient", param(L)), ("gradient", param(hidden, 0.0)), ("delta", delta(hidden)),
                 ("value", numeric), ("sgd_step", numeric)]
        matrix_deltas = [l for l in range(1, L) if activations[l - 1] in _MATRIX_FPRIME]
        if L >= 3 and matrix_deltas:
            kinds.append(("layer", f"delta{matrix_deltas[int(rng.integers(len(matrix_deltas)))]}"))
        else:
            kinds.append(("layer", f"dW{int(rng.integers(1, L + 1))}"))
    return tuple(Question(f"q{i}", kind, target) for i, (kind, target) in enumerate(kinds, start=1))


def exercise(seed: int = 0, level: int = 1, *, student: str = "") -> Exercise:
    """A backprop exercise, the same for the same ``(seed, level)`` on any machine.

    Parameters
    ----------
    seed : int
        Any integer >= 0.
    level : int
        1: one neuron (1 to 3 inputs; sigmoid, tanh or identity). 2: one hidden layer
        (sigmoid or tanh) and 1 or 2 outputs. 3: two hidden layers of two different
        activations (ReLU, leaky ReLU, tanh, sigmoid, softplus) and a softmax output with
        cross-entropy.
    student : str
        Recorded in the exercise (the worksheet names the student).

    Returns
    -------
    Exercise
        Questions ``q1``, ``q2``, ...: level 1 has four (a gradient, a δ, a numeric
        gradient and an SGD step); levels 2 and 3 add a second gradient and a
        layer-level equation.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.exercise(seed=7, level=2)
    >>> ex
    <Exercise seed=7 level=2: ... network (...), 6 questions>
    >>> [(q.id, q.kind) for q in ex.questions]   # doctest: +NORMALIZE_WHITESPACE
    [('q1', 'gradient'), ('q2', 'gradient'), ('q3', 'delta'), ('q4', 'value'),
     ('q5', 'sgd_step'), ('q6', 'layer')]
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"seed must be an integer >= 0; got {seed!r}.")
    if isinstance(level, bool) or level not in LEVELS:
        raise SpecError(f"level must be 1, 2 or 3; got {level!r}.")
    seed, level = int(seed), int(level)
    rng = _rng(seed, level)
    sizes, activations, loss = _architecture(rng, level)
    net = _network(sizes, activations, loss)
    params, x, y, values = _numbers(rng, net, loss)
    lr = float(rng.choice([0.1, 0.5, 1.0]))
    questions = _questions(rng, net, activations, values)
    return Exercise(seed, level, sizes, activations, loss, params, x, y, lr, questions,
                    DEFAULT_TOLERANCE, student)
