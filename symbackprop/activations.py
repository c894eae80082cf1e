"""The activation registry: each activation's SymPy definition, LaTeX label and NumPy form.

An activation is defined once, as a SymPy expression in the symbol ``z``. Its derivative
is always taken by :func:`sympy.diff`; where textbooks write the derivative in terms of
the output a = f(z) (σ' = a(1 − a), tanh' = 1 − a²), that form is registered too and the
test suite checks it against ``sympy.diff``. Softmax acts on a whole layer and has its own
entry.

ReLU convention: SymPy differentiates ``Max(0, z)`` to ``Heaviside(z)``, whose value at 0
is ½. symbackprop rewrites every step function that differentiation produces to
``Heaviside(z, 0)``: the derivative of ReLU at 0 is 0, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .errors import FormulaError, SpecError, unknown
from .limits import require_defined
from .parse import parse_formula

__all__ = [
    "Z",
    "A",
    "Activation",
    "ACTIVATIONS",
    "register_activation",
    "get_activation",
    "step_at_zero",
]

#: The argument of every activation definition.
Z = sp.Symbol("z")
#: The output a = f(z), in which derivative "output forms" are written.
A = sp.Symbol("a")


def step_at_zero(expr: sp.Expr) -> sp.Expr:
    """Rewrite every ``Heaviside(x)`` in ``expr`` to ``Heaviside(x, 0)`` (value 0 at 0).

    Examples
    --------
    >>> step_at_zero(sp.diff(sp.Max(0, Z), Z))
    Heaviside(z, 0)
    """
    return expr.replace(
        lambda e: isinstance(e, sp.Heaviside) and e.args[1:] != (0,),
        lambda e: sp.Heaviside(e.args[0], 0),
    )


def _stable_sigmoid(z: np.ndarray) -> np.ndarray:
    # exp of -|z| never overflows; each branch of the piecewise form is exact in its half.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass(frozen=True)
class Activation:
    """An activation function f with what symbackprop needs to know about it.

    Attributes
    ----------
    name : str
        The registry name (``"sigmoid"``) or, for a custom activation, its formula.
    expr : sympy.Expr
        f(z) in the symbol :data:`Z`. For softmax, the formula of one output
        (``exp(z)/Σ exp``) is built per layer instead and this is ``exp(z)``.
    latex : str
        LaTeX name of f (``\\sigma``).
    output_derivative : sympy.Expr or None
        f'(z) written in a = f(z) (symbol :data:`A`), the textbook form; None where f'
        is written in z.
    numpy : callable or None
        A numerically stable NumPy implementation of f, used by the compiled code
        instead of the lambdified ``expr`` where given.
    elementwise : bool
        False only for softmax, whose outputs each depend on the whole layer.
    """

    name: str
    expr: sp.Expr
    latex: str
    output_derivative: sp.Expr | None = None
    numpy: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False)
    elementwise: bool = True

    def derivative(self) -> sp.Expr:
        """f'(z), by ``sympy.diff``, with the step-at-zero convention.

        Examples
        --------
        >>> get_activation("tanh").derivative()
        1 - tanh(z)**2
        """
        return step_at_zero(sp.diff(self.expr, Z))

    def local_partial(self, z: sp.Symbol, a: sp.Symbol) -> sp.Expr:
        """∂a/∂z for one neuron, in the textbook form: in ``a`` where known, else in ``z``.

        Examples
        --------
        >>> get_activation("sigmoid").local_partial(sp.Symbol("z1_1"), sp.Symbol("a1_1"))
        a1_1*(1 - a1_1)
        """
        if self.output_derivative is not None:
            return self.output_derivative.xreplace({A: a})
        return self.derivative().xreplace({Z: z})

    def __call__(self, z: sp.Expr) -> sp.Expr:
        """f applied to ``z`` (a symbol or expression)."""
        return self.expr.xreplace({Z: z})


ACTIVATIONS: dict[str, Activation] = {}


def register_activation(
    name: str,
    expr: sp.Expr | str,
    *,
    latex: str | None = None,
    output_derivative: sp.Expr | str | None = None,
    numpy: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Activation:
    """Add an activation to the registry, so that ``mlp(..., activation=name)`` finds it.

    Parameters
    ----------
    name : str
        The name users will type.
    expr : sympy.Expr or str
        f(z), in the symbol ``z`` (a string is parsed safely).
    latex : str, optional
        LaTeX name of f; defaults to ``\\operatorname{name}``.
    output_derivative : sympy.Expr or str, optional
        f'(z) written in ``a`` = f(z). Check it with ``sympy.diff`` in your tests.
    numpy : callable, optional
        A stable NumPy implementation of f.

    Examples
    --------
    >>> act = register_activation("swish_demo", "z*sigmoid(z)")
    >>> act.derivative().equals(sp.diff(Z / (1 + sp.exp(-Z)), Z))
    True
    >>> del ACTIVATIONS["swish_demo"]
    """
    act = Activation(
        name=name,
        expr=_as_expr(expr, {"z": Z}, "activation"),
        latex=latex or rf"\operatorname{{{name}}}",
        output_derivative=(
            None
            if output_derivative is None
            else _as_expr(output_derivative, {"a": A}, "output derivative")
        ),
        numpy=numpy,
    )
    ACTIVATIONS[name] = act
    return act


def _as_expr(value: sp.Expr | str, names: dict[str, sp.Symbol], what: str) -> sp.Expr:
    if isinstance(value, str):
        return require_defined(parse_formula(value, names, what=what), what)
    if isinstance(value, sp.Lambda):
        if len(value.variables) != 1:
            raise SpecError(f"A {what} Lambda must take one argument, got {len(value.variables)}.")
        value = value.expr.xreplace({value.variables[0]: next(iter(names.values()))})
    if not isinstance(value, sp.Expr):
        raise SpecError(
            f"A {what} must be a name, a formula string or a SymPy expression; "
            f"got {type(value).__name__}."
        )
    # A user's Symbol("z") may carry assumptions; match symbols by name.
    allowed = set(names)
    stray = sorted(s.name for s in value.free_symbols if s.name not in allowed)
    if stray:
        raise SpecError(
            f"A {what} may only use the symbol(s) {', '.join(sorted(allowed))}; "
            f"it uses {', '.join(stray)}."
        )
    return require_defined(value.xreplace({s: names[s.name] for s in value.free_symbols}), what)


_SOFTMAX = Activation("softmax", sp.exp(Z), r"\operatorname{softmax}", elementwise=False)

for _act in [
    Activation("identity", Z, r"\operatorname{id}", output_derivative=sp.Integer(1)),
    Activation(
        "sigmoid",
        1 / (1 + sp.exp(-Z)),
        r"\sigma",
        output_derivative=A * (1 - A),
        numpy=_stable_sigmoid,
    ),
    Activation("tanh", sp.tanh(Z), r"\tanh", output_derivative=1 - A**2, numpy=np.tanh),
    Activation("arctan", sp.atan(Z), r"\arctan", numpy=np.arctan),
    Activation("relu", sp.Max(0, Z), r"\operatorname{ReLU}", numpy=lambda z: np.maximum(z, 0.0)),
    Activation(
        "leaky_relu",
        Z / 100 + sp.Rational(99, 100) * sp.Max(0, Z),
        r"\operatorname{LeakyReLU}",
        numpy=lambda z: np.where(z > 0, z, 0.01 * z),
    ),
    Activation(
        "softplus",
        sp.log(1 + sp.exp(Z)),
        r"\operatorname{softplus}",
        # σ(z) written in a = log(1 + e^z); unlike e^z/(e^z + 1) it cannot overflow.
        output_derivative=1 - sp.exp(-A),
        numpy=lambda z: np.logaddexp(0.0, z),
    ),
    _SOFTMAX,
]:
    ACTIVATIONS[_act.name] = _act


def softmax_layer(z: list[sp.Symbol]) -> list[sp.Expr]:
    """The softmax outputs exp(z_i) / Σ_k exp(z_k) of a layer with pre-activations ``z``.

    Examples
    --------
    >>> softmax_layer([sp.Symbol("z1"), sp.Symbol("z2")])[0]
    exp(z1)/(exp(z1) + exp(z2))
    """
    total = sp.Add(*[sp.exp(zk) for zk in z])
    return [sp.exp(zi) / total for zi in z]


def softmax_partial(i: int, j: int, a: list[sp.Symbol]) -> sp.Expr:
    """∂a_i/∂z_j of softmax in the textbook form a_i (δ_ij − a_j) (0-based ``i``, ``j``).

    Examples
    --------
    >>> a = [sp.Symbol("a1"), sp.Symbol("a2")]
    >>> softmax_partial(0, 0, a), softmax_partial(0, 1, a)
    (a1*(1 - a1), -a1*a2)
    """
    return a[i] * (1 - a[j]) if i == j else -a[i] * a[j]


def get_activation(spec: str | sp.Expr | sp.Lambda | Activation) -> Activation:
    """Resolve an activation given by name, formula string in ``z``, SymPy expression or Lambda.

    Examples
    --------
    >>> get_activation("relu").derivative()
    Heaviside(z, 0)
    >>> get_activation("z**2/2").derivative()
    z
    >>> get_activation("sigmod")
    Traceback (most recent call last):
    ...
    symbackprop.errors.UnknownNameError: Unknown activation 'sigmod'. Did you mean 'sigmoid'? ...
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.strip()
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]
        if key.isidentifier() and key != "z":
            raise unknown("activation", key, ACTIVATIONS) from None
        try:
            expr = _as_expr(key, {"z": Z}, "activation")
        except FormulaError as exc:
            raise FormulaError(
                f"{exc} (An activation is a name ({', '.join(ACTIVATIONS)}) or a formula in z.)"
            ) from None
        return Activation(key, expr, rf"\left[{sp.latex(expr)}\right]")
    expr = _as_expr(spec, {"z": Z}, "activation")
    return Activation(str(expr), expr, rf"\left[{sp.latex(expr)}\right]")
