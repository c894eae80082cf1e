"""The loss registry: per-sample losses J(a, y) as SymPy expressions.

A loss is a function of the output activations a_1..a_n and targets y_1..y_n of one
sample; a batch's loss is the mean over its samples. Registered losses:

- ``quadratic``: ½ Σ_j (a_j − y_j)²
- ``mse``: (1/n) Σ_j (a_j − y_j)²
- ``binary_cross_entropy``: −Σ_j [y_j log a_j + (1 − y_j) log(1 − a_j)]
- ``cross_entropy``: −Σ_j y_j log a_j (categorical, after softmax)

A custom loss is a SymPy expression or a formula string in the output symbols
(``a2_1``...) and target symbols (``y1``...), parsed safely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from .errors import FormulaError, SpecError, unknown
from .limits import require_defined
from .notation import by_name, real_symbol
from .parse import parse_formula

__all__ = ["Loss", "LOSSES", "register_loss", "get_loss", "per_output_term"]

Builder = Callable[[Sequence[sp.Symbol], Sequence[sp.Symbol]], sp.Expr]


@dataclass(frozen=True)
class Loss:
    """A per-sample loss.

    Attributes
    ----------
    name : str
        Registry name, or the formula of a custom loss.
    build : callable
        ``build(a, y)`` returns J for the output symbols ``a`` and targets ``y``.
    latex : str
        The formula in LaTeX with generic a_j, y_j (for the layer-level equations).
    targets : (float, float, str) or None
        The domain of its targets: lowest and highest value (both included) and what they
        are, in words; data outside it is refused where it enters
        (:mod:`symbackprop.domain`). None: any finite target.
    """

    name: str
    build: Builder
    latex: str
    targets: tuple[float, float, str] | None = None

    def __call__(self, a: Sequence[sp.Symbol], y: Sequence[sp.Symbol]) -> sp.Expr:
        """J for output symbols ``a`` and target symbols ``y``.

        Examples
        --------
        >>> a, y = sp.symbols("a1 a2"), sp.symbols("y1 y2")
        >>> get_loss("quadratic")(a, y)
        (a1 - y1)**2/2 + (a2 - y2)**2/2
        """
        # A builder may hold symbols of its own (a formula read elsewhere): the ones named
        # like the outputs and targets passed in are these.
        table = {s.name: s for s in (*a, *y) if isinstance(s, sp.Symbol)}
        expr = self.build(a, y)
        swap = {s: table[s.name] for s in expr.free_symbols if s.name in table and s != table[s.name]}
        return expr.xreplace(swap) if swap else expr


LOSSES: dict[str, Loss] = {}


def register_loss(
    name: str,
    build: Builder,
    *,
    latex: str | None = None,
    targets: tuple[float, float, str] | None = None,
) -> Loss:
    """Add a loss to the registry.

    Parameters
    ----------
    name : str
        The name users will type.
    build : callable
        ``build(a, y)`` returns the per-sample loss for sequences of output and target
        symbols of equal length.
    latex : str, optional
        Its formula in LaTeX.
    targets : (float, float, str), optional
        The domain of its targets, ``(lowest, highest, "what they are")``; data outside it
        is refused with a message naming the value and where it is. Default: any finite
        target.

    Examples
    --------
    >>> loss = register_loss("l1_demo", lambda a, y: sum(sp.Abs(ai - yi) for ai, yi in zip(a, y)))
    >>> loss(sp.symbols("a1 a2"), sp.symbols("y1 y2"))
    Abs(a1 - y1) + Abs(a2 - y2)
    >>> del LOSSES["l1_demo"]
    """
    loss = Loss(name, build, latex or rf"\operatorname{{{name}}}(a, y)", targets)
    LOSSES[name] = loss
    return loss


register_loss(
    "quadratic",
    lambda a, y: sp.Add(*[sp.Rational(1, 2) * (ai - yi) ** 2 for ai, yi in zip(a, y)]),
    latex=r"\frac{1}{2} \sum_j (a_j - y_j)^2",
)
register_loss(
    "mse",
    lambda a, y: sp.Add(*[(ai - yi) ** 2 / len(a) for ai, yi in zip(a, y)]),
    latex=r"\frac{1}{n} \sum_j (a_j - y_j)^2",
)
register_loss(
    "binary_cross_entropy",
    lambda a, y: -sp.Add(*[yi * sp.log(ai) + (1 - yi) * sp.log(1 - ai) for ai, yi in zip(a, y)]),
    latex=r"-\sum_j \left[y_j \log a_j + (1 - y_j) \log(1 - a_j)\right]",
    # A probability's log-likelihood: outside [0, 1] it has no minimum (y = 2 drives a to 1
    # and J to −∞).
    targets=(0.0, 1.0, "probabilities in [0, 1] (0/1 labels)"),
)
register_loss(
    "cross_entropy",
    lambda a, y: -sp.Add(*[yi * sp.log(ai) for ai, yi in zip(a, y)]),
    latex=r"-\sum_j y_j \log a_j",
    # y_j is the probability of class j; y < 0 makes J unbounded below. Rows need not sum to
    # 1 (the softmax δ = a·Σy − y is exact for any row), but 2 or 5 is a class number given
    # where one output per class was meant.
    targets=(
        0.0, 1.0,
        "class probabilities in [0, 1] (one-hot rows: a column of class numbers needs one "
        "output per class)",
    ),
)


def per_output_term(loss: Loss, n: int, a: sp.Symbol, y: sp.Symbol) -> sp.Expr | None:
    """The summand T of a registered loss that is one term per output, J = Σ_j T(a_j, y_j)
    over ``n`` outputs, written in ``a`` and ``y``; None for any other loss.

    Built without the n-term sum (which takes minutes for 100,000 outputs): the loss of
    ``n`` copies of one output is n·T, which SymPy collects as it builds it. Whether the
    loss is such a sum is checked on three distinct outputs first.

    Examples
    --------
    >>> a, y = sp.symbols("a y", real=True)
    >>> per_output_term(get_loss("mse"), 100000, a, y)
    (a - y)**2/100000
    >>> per_output_term(get_loss("(a2_1 - y1)**2", sp.symbols("a2_1,"), sp.symbols("y1,")), 1, a, y) is None
    True
    """
    if LOSSES.get(loss.name) is not loss:  # a formula is tied to its own symbols
        return None
    a3, y3 = sp.symbols("a_1:4", real=True), sp.symbols("y_1:4", real=True)
    three = loss([a3[0]] * 3, [y3[0]] * 3) / 3
    parts = [three.xreplace({a3[0]: ai, y3[0]: yi}) for ai, yi in zip(a3, y3)]
    if sp.expand(loss(a3, y3) - sp.Add(*parts)) != 0:
        return None
    return loss([a] * n, [y] * n) / n


def custom_loss(
    spec: str | sp.Expr, a: Sequence[sp.Symbol], y: Sequence[sp.Symbol]
) -> Loss:
    """A loss given as a formula or expression in the output symbols ``a`` and targets ``y``.

    The result's ``build`` ignores its arguments: the formula is tied to these symbols.

    Examples
    --------
    >>> a, y = sp.symbols("a2_1 a2_2"), sp.symbols("y1 y2")
    >>> custom_loss("(y1 - a2_1)**2 + (y2 - a2_2)**2", a, y)(a, y)
    (-a2_1 + y1)**2 + (-a2_2 + y2)**2
    """
    names = {s.name: real_symbol(s.name) for s in [*a, *y]}
    if isinstance(spec, str):
        try:
            expr = parse_formula(spec, names, what="loss")
        except FormulaError as exc:
            raise FormulaError(
                f"{exc} (A loss is a name ({', '.join(LOSSES)}) or a formula in the "
                "output and target symbols.)"
            ) from None
    elif isinstance(spec, sp.Expr):
        stray = sorted(s.name for s in spec.free_symbols if s.name not in names)
        if stray:
            raise SpecError(
                f"A loss may only use the output and target symbols {', '.join(names)}; "
                f"it uses {', '.join(stray)}."
            )
        expr = by_name(spec, names)
    else:
        raise SpecError(
            "A loss must be a name, a formula string or a SymPy expression; "
            f"got {type(spec).__name__}."
        )
    expr = require_defined(expr, "loss")
    return Loss(spec if isinstance(spec, str) else str(expr), lambda _a, _y: expr, sp.latex(expr))


def get_loss(
    spec: str | sp.Expr | Loss, a: Sequence[sp.Symbol] = (), y: Sequence[sp.Symbol] = ()
) -> Loss:
    """Resolve a loss by name, or as a custom formula in the symbols ``a`` and ``y``.

    Examples
    --------
    >>> get_loss("cross_entropy").name
    'cross_entropy'
    >>> get_loss("quadratc")
    Traceback (most recent call last):
    ...
    symbackprop.errors.UnknownNameError: Unknown loss 'quadratc'. Did you mean 'quadratic'? ...
    """
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str) and spec.strip() in LOSSES:
        return LOSSES[spec.strip()]
    if isinstance(spec, str) and spec.strip().isidentifier() and spec.strip() not in {
        s.name for s in [*a, *y]
    }:
        raise unknown("loss", spec.strip(), LOSSES) from None
    return custom_loss(spec, a, y)
