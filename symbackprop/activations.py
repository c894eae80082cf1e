"""The activation registry: one entry per activation holds everything about it.

An entry (:class:`Activation`) is the formula f(z) as a SymPy expression in the real
symbol ``z``; its textbook derivative (in a = f(z) where textbooks write it so: σ' =
a(1 − a), tanh' = 1 − a²; else in z); its derivative at kinks (``kink``, see below); a
stable NumPy form (the JAX backend prints the SymPy formula); its LaTeX name; its
initialisation scheme (``"he"`` or ``"glorot"``, see :mod:`symbackprop.params`); for
softmax, which acts on a whole layer, its Jacobian. Registering an activation also makes
it a function of the formula parser: ``relu(z)``, ``sigmoid(z)``, and its textbook
derivative ``relu_prime(z)``, ``sigmoid_prime(z)``. The test suite checks every
registered textbook derivative against ``sympy.diff``.

Kinks follow one convention, PyTorch's (docs/notation.md): where f has a kink, f' there
is what ``torch.autograd`` gives. relu'(0) = 0 and leaky_relu'(0) = 0.01 are registered
(``kink``); ``abs'(0) = sign(0) = 0``; the derivative of ``max``/``min`` of two arguments
at a tie is ½ to each (``torch.maximum``), which is SymPy's own ``Heaviside(x)`` with
H(0) = ½; the derivative of a step (``heaviside``, ``sign``) is 0 everywhere:
:func:`at_kinks` removes the ``DiracDelta`` that ``sympy.diff`` produces for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sympy as sp

from .errors import FormulaError, SpecError, unknown
from .limits import require_defined
from .notation import by_name, real_symbol
from .parse import FUNCTIONS, Function, parse_formula

__all__ = [
    "Z",
    "A",
    "INIT_SCHEMES",
    "Activation",
    "ACTIVATIONS",
    "register_activation",
    "get_activation",
    "at_kinks",
    "step_at_zero",
]

#: The argument of every activation definition (real, so that abs(z)' = sign(z)).
Z = real_symbol("z")
#: The output a = f(z), in which derivative "output forms" are written.
A = real_symbol("a")

#: Initialisation schemes an activation may declare (implemented in :mod:`symbackprop.params`).
INIT_SCHEMES = ("glorot", "he")


def at_kinks(expr: sp.Expr) -> sp.Expr:
    """Apply the kink convention to a derivative: every ``DiracDelta`` term becomes 0.

    The derivative of a step (``heaviside``, ``sign``) is 0 away from its jump and
    PyTorch takes it as 0 at the jump too; ``sympy.diff`` writes it as a DiracDelta,
    which no number can stand for. Steps that ``sympy.diff`` produces from ``max`` and
    ``min`` keep H(0) = ½, the tie rule of ``torch.maximum``.

    Examples
    --------
    >>> at_kinks(sp.diff(Z * sp.Heaviside(Z, 0), Z))
    Heaviside(z, 0)
    >>> at_kinks(sp.diff(sp.sign(Z) * Z**2, Z))
    2*z*sign(z)
    """
    if not expr.has(sp.DiracDelta):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def _abs_products(expr: sp.Expr) -> sp.Expr:
    """``u*sign(u)`` written as ``|u|`` (equal everywhere, 0 included)."""

    def fold(e: sp.Mul) -> sp.Expr:
        factors = list(e.args)
        for f in e.args:
            if isinstance(f, sp.sign) and f in factors and f.args[0] in factors:
                factors.remove(f)
                factors.remove(f.args[0])
                factors.append(sp.Abs(f.args[0]))
        return sp.Mul(*factors)

    return expr.replace(
        lambda e: e.is_Mul and any(isinstance(f, sp.sign) and f.args[0] in e.args for f in e.args),
        fold,
    )


def textbook(expr: sp.Expr) -> sp.Expr:
    """``expr``, or a simpler equal form (u·sign(u) = |u|, then one fraction) when shorter.

    Examples
    --------
    >>> textbook(sp.diff(Z / (1 + sp.Abs(Z)), Z))
    (Abs(z) + 1)**(-2)
    """
    if not expr.has(sp.sign):
        return expr
    candidate = sp.factor(sp.together(_abs_products(expr)))
    return candidate if sp.count_ops(candidate) < sp.count_ops(expr) else expr


def step_at_zero(expr: sp.Expr) -> sp.Expr:
    """Rewrite every ``Heaviside(x)`` in ``expr`` to ``Heaviside(x, 0)`` (value 0 at 0).

    The step of ``relu'``: :func:`at_kinks` is the convention for derivatives; this is
    for forms that stand for relu' itself.

    Examples
    --------
    >>> step_at_zero(sp.Heaviside(Z))
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
    """An activation function f with everything symbackprop needs to know about it.

    Attributes
    ----------
    name : str
        The registry name (``"sigmoid"``) or, for a custom activation, its formula.
    expr : sympy.Expr
        f(z) in the symbol :data:`Z`. For softmax, the formula of one output
        (``exp(z)/Σ exp``) is built per layer (:meth:`layer`) and this is ``exp(z)``.
        Symbols named ``z`` are matched by name, so a plain ``Symbol("z")`` works.
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
    kink : sympy.Expr or None
        f'(z) in z where f has kinks and the textbook (PyTorch) convention there
        differs from what ``sympy.diff`` gives: relu' = ``Heaviside(z, 0)``.
    init : str
        Initialisation scheme of the weights into a layer with f: ``"he"`` (relu-like)
        or ``"glorot"``.
    jacobian : callable or None
        For a layer-wide f (softmax): ``jacobian(i, j, a)`` is ∂a_i/∂z_j (0-based) in the
        layer's outputs ``a``.
    outputs : callable or None
        For a layer-wide f: ``outputs(z)``, the layer's outputs from its pre-activations.
    text : str or None
        Unicode name of f in messages (``σ``); None: its name.
    text_derivative : str or None
        f'(u) in Unicode for messages, with ``{f}`` for the name and ``{u}`` for the
        argument (``{f}({u})(1−{f}({u}))``); None: ``{f}'({u})``.
    max_slope : sympy.Expr or None
        sup over real z of |f'(z)| (σ: 1/4), the bound gradient-flow diagnostics check
        (:func:`symbackprop.flow.slope_bound`); None: worked out from f' when asked for.
        tests/test_gradient_flow.py checks every registered value against f'.
    """

    name: str
    expr: sp.Expr
    latex: str
    output_derivative: sp.Expr | None = None
    numpy: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False)
    elementwise: bool = True
    kink: sp.Expr | None = None
    init: str = "glorot"
    jacobian: Callable[[int, int, Sequence[sp.Symbol]], sp.Expr] | None = field(
        default=None, compare=False
    )
    outputs: Callable[[Sequence[sp.Expr]], list[sp.Expr]] | None = field(default=None, compare=False)
    text: str | None = None
    text_derivative: str | None = None
    max_slope: sp.Expr | None = None

    def display(self, u: str) -> tuple[str, str]:
        """f(u) and f'(u) as Unicode text, for messages.

        Examples
        --------
        >>> get_activation("sigmoid").display("−z")
        ('σ(−z)', 'σ(−z)(1−σ(−z))')
        """
        f = self.text or self.name
        return f"{f}({u})", (self.text_derivative or "{f}'({u})").format(f=f, u=u)

    def __post_init__(self) -> None:
        # Entries built by hand (or read from a file) may hold plain symbols: make them ours.
        object.__setattr__(self, "expr", by_name(self.expr, {"z": Z}))
        for name, target in (("output_derivative", {"a": A}), ("kink", {"z": Z})):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, by_name(value, target))
        if self.init not in INIT_SCHEMES:
            raise SpecError(
                f"Unknown initialisation scheme {self.init!r} for activation {self.name!r}; "
                f"known: {', '.join(INIT_SCHEMES)}."
            )

    def derivative(self) -> sp.Expr:
        """f'(z) in z: the registered ``kink`` form, else ``sympy.diff`` with :func:`at_kinks`.

        Examples
        --------
        >>> get_activation("tanh").derivative()
        1 - tanh(z)**2
        >>> get_activation("relu").derivative()
        Heaviside(z, 0)
        """
        return self._derivative

    @cached_property
    def _derivative(self) -> sp.Expr:
        # Taken once per entry: derive asks for it on every edge z → a.
        if self.kink is not None:
            return self.kink
        return textbook(at_kinks(sp.diff(self.expr, Z)))

    def textbook_derivative(self, z: sp.Expr) -> sp.Expr:
        """f' at ``z`` in the textbook form: through a = f(z) where registered (σ(z)(1 − σ(z))).

        Examples
        --------
        >>> get_activation("sigmoid").textbook_derivative(Z)
        (1 - 1/(1 + exp(-z)))/(1 + exp(-z))
        """
        if self.output_derivative is not None:
            return self.output_derivative.xreplace({A: self(z)})
        return self.derivative().xreplace({Z: z})

    def local_partial(self, z: sp.Symbol, a: sp.Symbol) -> sp.Expr:
        """∂a/∂z for one neuron, in the textbook form: in ``a`` where known, else in ``z``.

        Examples
        --------
        >>> get_activation("sigmoid").local_partial(real_symbol("z1_1"), real_symbol("a1_1"))
        a1_1*(1 - a1_1)
        """
        if self.output_derivative is not None:
            return self.output_derivative.xreplace({A: a})
        return self.derivative().xreplace({Z: z})

    def layer(self, z: Sequence[sp.Expr]) -> list[sp.Expr]:
        """The outputs of a layer with pre-activations ``z``: f of each, or the layer-wide form.

        Examples
        --------
        >>> get_activation("softmax").layer(sp.symbols("z1 z2"))[1]
        exp(z2)/(exp(z1) + exp(z2))
        """
        if self.outputs is not None:
            return self.outputs(z)
        return [self(zi) for zi in z]

    def __call__(self, z: sp.Expr) -> sp.Expr:
        """f applied to ``z`` (a symbol or expression)."""
        return self.expr.xreplace({Z: z})


ACTIVATIONS: dict[str, Activation] = {}


def _to_parser(act: Activation, aliases: Sequence[str] = ()) -> None:
    """Make ``act`` a function of the formula parser, with its textbook derivative ``name_prime``."""
    if not act.elementwise or act.name == "identity":
        return
    kink = "" if act.kink is None else f"derivative {act.kink} at kinks"
    for name in (act.name, *aliases):
        held = FUNCTIONS.get(name)
        if held is None or isinstance(held.build, Activation):  # tanh stays SymPy's own
            FUNCTIONS[name] = Function(act, 1, kink=kink)
    FUNCTIONS[f"{act.name}_prime"] = Function(act.textbook_derivative, 1)


def _add(act: Activation, aliases: Sequence[str] = ()) -> Activation:
    ACTIVATIONS[act.name] = act
    if act.name.isidentifier():
        _to_parser(act, aliases)
    return act


def register_activation(
    name: str,
    expr: sp.Expr | str,
    *,
    latex: str | None = None,
    output_derivative: sp.Expr | str | None = None,
    numpy: Callable[[np.ndarray], np.ndarray] | None = None,
    init: str = "glorot",
    kink: sp.Expr | str | None = None,
    text: str | None = None,
) -> Activation:
    """Add an activation to the registry, so that ``mlp(..., activation=name)`` finds it.

    It also becomes a function of the formula parser (``name(z)`` and its derivative
    ``name_prime(z)``), for custom losses and the checker.

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
    init : {"glorot", "he"}
        How :func:`~symbackprop.params.init_params` draws the weights into a layer with f:
        ``"he"`` for relu-like f, ``"glorot"`` (the default) for the others.
    kink : sympy.Expr or str, optional
        f'(z) in ``z``, where its value at a kink must differ from ``sympy.diff``'s.
    text : str, optional
        Its Unicode name in messages; defaults to ``name``.

    Examples
    --------
    >>> act = register_activation("swish_demo", "z*sigmoid(z)", init="he")
    >>> act.derivative().equals(sp.diff(Z / (1 + sp.exp(-Z)), Z)), act.init
    (True, 'he')
    >>> unregister_activation("swish_demo")
    """
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"An activation's name must be a non-empty string; got {name!r}.")
    held = FUNCTIONS[name].build if name in FUNCTIONS else None
    if held is not None and not isinstance(held, Activation):
        raise SpecError(
            f"{name!r} is already a function of the formula parser; choose another name."
        )
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
        init=init,
        kink=None if kink is None else _as_expr(kink, {"z": Z}, "derivative"),
        text=text,
    )
    return _add(act)


def unregister_activation(name: str) -> None:
    """Remove a registered activation (and its parser functions).

    Examples
    --------
    >>> _ = register_activation("cube_demo", "z**3")
    >>> "cube_demo" in FUNCTIONS
    True
    >>> unregister_activation("cube_demo")
    >>> "cube_demo" in FUNCTIONS, "cube_demo" in ACTIVATIONS
    (False, False)
    """
    act = ACTIVATIONS.pop(name)
    for key, entry in list(FUNCTIONS.items()):
        if entry.build is act or getattr(entry.build, "__self__", None) is act:
            del FUNCTIONS[key]


def _as_expr(value: sp.Expr | str, names: dict[str, sp.Symbol], what: str) -> sp.Expr:
    if isinstance(value, str):
        return require_defined(parse_formula(value, names, what=what), what)
    if isinstance(value, sp.Lambda):
        if len(value.variables) != 1:
            raise SpecError(f"{'An' if what[:1] in 'aeiou' else 'A'} {what} Lambda must take one argument, got {len(value.variables)}.")
        value = value.expr.xreplace({value.variables[0]: next(iter(names.values()))})
    if not isinstance(value, sp.Expr):
        raise SpecError(
            f"{'An' if what[:1] in 'aeiou' else 'A'} {what} must be a name, a formula string or a SymPy expression; "
            f"got {type(value).__name__}."
        )
    # A user's Symbol("z") may carry other assumptions (or none): match symbols by name.
    allowed = set(names)
    stray = sorted(s.name for s in value.free_symbols if s.name not in allowed)
    if stray:
        raise SpecError(
            f"{'An' if what[:1] in 'aeiou' else 'A'} {what} may only use the symbol(s) {', '.join(sorted(allowed))}; "
            f"it uses {', '.join(stray)}."
        )
    return require_defined(by_name(value, names), what)


def softmax_layer(z: Sequence[sp.Expr]) -> list[sp.Expr]:
    """The softmax outputs exp(z_i) / Σ_k exp(z_k) of a layer with pre-activations ``z``.

    Examples
    --------
    >>> softmax_layer([sp.Symbol("z1"), sp.Symbol("z2")])[0]
    exp(z1)/(exp(z1) + exp(z2))
    """
    total = sp.Add(*[sp.exp(zk) for zk in z])
    return [sp.exp(zi) / total for zi in z]


def softmax_partial(i: int, j: int, a: Sequence[sp.Symbol]) -> sp.Expr:
    """∂a_i/∂z_j of softmax in the textbook form a_i (δ_ij − a_j) (0-based ``i``, ``j``).

    Examples
    --------
    >>> a = [sp.Symbol("a1"), sp.Symbol("a2")]
    >>> softmax_partial(0, 0, a), softmax_partial(0, 1, a)
    (a1*(1 - a1), -a1*a2)
    """
    return a[i] * (1 - a[j]) if i == j else -a[i] * a[j]


_add(Activation("identity", Z, r"\operatorname{id}", output_derivative=sp.Integer(1), text="id", max_slope=sp.S.One))
_add(
    Activation(
        "sigmoid",
        1 / (1 + sp.exp(-Z)),
        r"\sigma",
        output_derivative=A * (1 - A),
        numpy=_stable_sigmoid,
        text="σ",
        text_derivative="{f}({u})(1−{f}({u}))",
        max_slope=sp.Rational(1, 4),
    ),
    aliases=("σ",),
)
_add(
    Activation(
        "tanh",
        sp.tanh(Z),
        r"\tanh",
        output_derivative=1 - A**2,
        numpy=np.tanh,
        text_derivative="(1−{f}({u})²)",
        max_slope=sp.S.One,
    )
)
_add(Activation("arctan", sp.atan(Z), r"\arctan", numpy=np.arctan, max_slope=sp.S.One))
_add(
    Activation(
        "relu",
        sp.Max(0, Z),
        r"\operatorname{ReLU}",
        numpy=lambda z: np.maximum(z, 0.0),
        kink=sp.Heaviside(Z, 0),  # torch.relu: 0 at 0
        init="he",
        text="ReLU",
        max_slope=sp.S.One,
    )
)
_add(
    Activation(
        "leaky_relu",
        sp.Max(Z / 100, Z),
        r"\operatorname{LeakyReLU}",
        numpy=lambda z: np.where(z > 0, z, 0.01 * z),
        # torch.nn.functional.leaky_relu: the slope 0.01 at 0.
        kink=sp.Rational(1, 100) + sp.Rational(99, 100) * sp.Heaviside(Z, 0),
        init="he",
        text="LeakyReLU",
        max_slope=sp.S.One,
    )
)
_add(
    Activation(
        "softplus",
        sp.log(1 + sp.exp(Z)),
        r"\operatorname{softplus}",
        # σ(z) written in a = log(1 + e^z); unlike e^z/(e^z + 1) it cannot overflow.
        output_derivative=1 - sp.exp(-A),
        numpy=lambda z: np.logaddexp(0.0, z),
        max_slope=sp.S.One,
    )
)
_SOFTMAX = _add(
    Activation(
        "softmax",
        sp.exp(Z),
        r"\operatorname{softmax}",
        elementwise=False,
        jacobian=softmax_partial,
        outputs=softmax_layer,
    )
)


def get_activation(spec: str | sp.Expr | sp.Lambda | Activation) -> Activation:
    """Resolve an activation given by name, formula string in ``z``, SymPy expression or Lambda.

    Examples
    --------
    >>> get_activation("relu").derivative()
    Heaviside(z, 0)
    >>> get_activation("z**2/2").derivative()
    z
    >>> get_activation("abs(z)").derivative()
    sign(z)
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
