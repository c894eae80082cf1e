"""Network specification: layer sizes, one activation per layer, a loss, and the symbols.

:class:`Spec` checks what the user asked for and hands out the network's SymPy symbols
in the fixed notation (``net.w(1, 2, 1)`` is ``w1_2_1``, see ``docs/notation.md``).
Symbols are made on demand, so a wide network costs nothing until its scalar graph is
asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import sympy as sp

from .activations import Activation, get_activation
from .errors import SpecError, unknown
from .losses import LOSSES, Loss, get_loss
from .notation import parse_name, real_symbol, symbol_name

__all__ = ["Spec", "ActivationSpec", "LossSpec"]

ActivationSpec = str | sp.Expr | sp.Lambda | Activation
LossSpec = str | sp.Expr | Loss


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
        raise SpecError(
            f"sizes must be a list of layer sizes such as [2, 3, 1]; got {sizes!r}."
        )
    if len(sizes) < 2:
        raise SpecError(
            f"sizes needs at least two entries (inputs and outputs), such as [2, 1]; got {list(sizes)}."
        )
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SpecError(
                f"Layer sizes must be positive integers; entry {i} of {list(sizes)} is {n!r}."
            )
    return tuple(int(n) for n in sizes)


class Spec:
    """What a network is: sizes, activations, loss; and its symbols.

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, inputs first: ``[2, 3, 1]`` has 2 inputs, one hidden layer
        of 3 and 1 output.
    activation : name, formula, SymPy expression/Lambda, or a list of these
        One for every layer, or a list with one per layer after the inputs.
    loss : name, formula or SymPy expression
        A registered loss name or a formula in the output symbols ``aL_j`` and the
        targets ``y_j``.

    Examples
    --------
    >>> spec = Spec([2, 3, 1], ["relu", "sigmoid"], "binary_cross_entropy")
    >>> spec.x(2), spec.y(1), spec.b(2, 1), spec.z(1, 3), spec.a(2, 1), spec.delta(1, 2)
    (x2, y1, b2_1, z1_3, a2_1, delta1_2)
    >>> len(spec.params), spec.symbol_names()[:3]
    (13, ['x1', 'x2', 'w1_1_1'])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: ActivationSpec | Sequence[ActivationSpec] = "sigmoid",
        loss: LossSpec = "quadratic",
    ):
        self.sizes: tuple[int, ...] = _check_sizes(sizes)
        n_layers = len(self.sizes) - 1
        if isinstance(activation, (list, tuple)):
            if len(activation) != n_layers:
                raise SpecError(
                    f"Got {len(activation)} activation{'s' * (len(activation) != 1)} for "
                    f"{n_layers} layer{'s' * (n_layers != 1)} "
                    f"(sizes {list(self.sizes)}); give one name, or one per layer after the inputs."
                )
            acts = [get_activation(a) for a in activation]
        else:
            acts = [get_activation(activation)] * n_layers
        for layer, act in enumerate(acts, start=1):
            if not act.elementwise and layer != n_layers:
                example = ", ".join(['"relu"'] * (n_layers - 1) + ['"softmax"'])
                raise SpecError(
                    f"{act.name} acts on a whole layer and is only allowed on the output layer "
                    f"(layer {n_layers}); layer {layer} is hidden. Pass one activation per "
                    f"layer, e.g. activation=[{example}]."
                )
            if not act.elementwise and self.sizes[layer] < 2:
                raise SpecError(
                    f"softmax on a layer of one neuron is the constant 1 and has no gradient; "
                    f"layer {layer} has 1 neuron. Use sigmoid for a single output."
                )
        self.activations: tuple[Activation, ...] = tuple(acts)
        # A registered loss needs no symbols yet: a 100000-wide output layer costs nothing.
        named = isinstance(loss, Loss) or (isinstance(loss, str) and loss.strip() in LOSSES)
        self.loss: Loss = get_loss(loss) if named else get_loss(loss, self.outputs, self.targets)
        self._activation_spec = activation
        self._loss_spec = loss

    # ----------------------------------------------------------------- structure
    @property
    def n_layers(self) -> int:
        """L, the number of layers after the inputs (the output layer is layer L)."""
        return len(self.sizes) - 1

    def describe(self) -> str:
        """A one-line summary, e.g. ``2-2-2 network (sigmoid, sigmoid; loss quadratic)``.

        Examples
        --------
        >>> Spec([2, 3, 1], ["relu", "sigmoid"], "binary_cross_entropy").describe()
        '2-3-1 network (relu, sigmoid; loss binary_cross_entropy)'
        """
        acts = ", ".join(a.name for a in self.activations)
        sizes = "-".join(map(str, self.sizes))
        return f"{sizes} network ({acts}; loss {self.loss.name})"

    # ------------------------------------------------------------------- symbols
    def _check(self, what: str, layer: int | None, *index: int) -> None:
        if layer is not None and not 1 <= layer <= self.n_layers:
            if not (what == "a" and layer == 0):
                raise SpecError(
                    f"{what}({layer}, ...): layer {layer} does not exist; "
                    f"layers are 1..{self.n_layers} (sizes {list(self.sizes)})."
                )
        sizes = {
            "x": (self.sizes[0],),
            "y": (self.sizes[-1],),
        }.get(what)
        if sizes is None:
            sizes = (self.sizes[layer],) if what != "w" else (self.sizes[layer], self.sizes[layer - 1])
        for pos, (i, n) in enumerate(zip(index, sizes)):
            if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= n:
                axis = "index" if len(index) == 1 else ("j", "k")[pos]
                raise SpecError(f"{what}: {axis} = {i!r} is out of range 1..{n}.")

    def x(self, k: int) -> sp.Symbol:
        """Input x_k (k from 1)."""
        self._check("x", None, k)
        return real_symbol(symbol_name("x", None, k))

    def y(self, j: int) -> sp.Symbol:
        """Target y_j (j from 1)."""
        self._check("y", None, j)
        return real_symbol(symbol_name("y", None, j))

    def w(self, layer: int, j: int, k: int) -> sp.Symbol:
        """Weight w^(l)_jk into neuron j of layer l from neuron k of layer l−1.

        Examples
        --------
        >>> Spec([2, 3, 1]).w(1, 3, 2)
        w1_3_2
        """
        self._check("w", layer, j, k)
        return real_symbol(symbol_name("w", layer, j, k))

    def b(self, layer: int, j: int) -> sp.Symbol:
        """Bias b^(l)_j."""
        self._check("b", layer, j)
        return real_symbol(symbol_name("b", layer, j))

    def z(self, layer: int, j: int) -> sp.Symbol:
        """Weighted input z^(l)_j."""
        self._check("z", layer, j)
        return real_symbol(symbol_name("z", layer, j))

    def a(self, layer: int, j: int) -> sp.Symbol:
        """Activation a^(l)_j; ``a(0, k)`` is the input x_k."""
        if layer == 0:
            return self.x(j)
        self._check("a", layer, j)
        return real_symbol(symbol_name("a", layer, j))

    def delta(self, layer: int, j: int) -> sp.Symbol:
        """δ^(l)_j = ∂J/∂z^(l)_j, as a named symbol."""
        self._check("delta", layer, j)
        return real_symbol(symbol_name("delta", layer, j))

    @property
    def J(self) -> sp.Symbol:
        """The loss of one sample, as a symbol."""
        return real_symbol("J")

    @property
    def inputs(self) -> tuple[sp.Symbol, ...]:
        """x_1..x_n0."""
        return tuple(self.x(k) for k in range(1, self.sizes[0] + 1))

    @property
    def targets(self) -> tuple[sp.Symbol, ...]:
        """y_1..y_nL."""
        return tuple(real_symbol(symbol_name("y", None, j)) for j in range(1, self.sizes[-1] + 1))

    @property
    def outputs(self) -> tuple[sp.Symbol, ...]:
        """a^(L)_1..a^(L)_nL."""
        L = len(self.sizes) - 1
        return tuple(real_symbol(symbol_name("a", L, j)) for j in range(1, self.sizes[-1] + 1))

    @cached_property
    def params(self) -> tuple[sp.Symbol, ...]:
        """All parameters in a fixed order: layer by layer, each layer's weights row by row
        (w^(l)_11, w^(l)_12, ..., w^(l)_21, ...) then its biases.

        This is the order of ``W.ravel()`` then ``b`` for the per-layer arrays
        W^(l) of shape (n_l, n_{l−1}) and b^(l) of shape (n_l,).

        Examples
        --------
        >>> Spec([2, 1]).params
        (w1_1_1, w1_1_2, b1_1)
        """
        out = []
        for layer in range(1, self.n_layers + 1):
            n, m = self.sizes[layer], self.sizes[layer - 1]
            out += [real_symbol(symbol_name("w", layer, j, k)) for j in range(1, n + 1) for k in range(1, m + 1)]
            out += [real_symbol(symbol_name("b", layer, j)) for j in range(1, n + 1)]
        return tuple(out)

    def symbol(self, name: str | sp.Symbol) -> sp.Symbol:
        """The network's symbol called ``name`` (``"w1_2_1"``, ``"delta2_1"``, ``"x1"``, ``"J"``).

        Raises a clear error, with the closest valid name, when there is no such symbol.

        Examples
        --------
        >>> Spec([2, 2, 1]).symbol("delta2_1")
        delta2_1
        >>> Spec([2, 2, 1]).symbol("w3_1_1")
        Traceback (most recent call last):
        ...
        symbackprop.errors.UnknownNameError: Unknown symbol 'w3_1_1'. Did you mean 'w2_1_1'? ...
        """
        key = name.name if isinstance(name, sp.Symbol) else str(name).strip()
        parsed = parse_name(key)
        if parsed is not None:
            try:
                if parsed.head == "J":
                    return self.J
                if parsed.layer is None:
                    return getattr(self, parsed.head)(*parsed.index)
                return getattr(self, parsed.head)(parsed.layer, *parsed.index)
            except SpecError:
                pass
        raise unknown("symbol", key, self._names_near(key) or self.symbol_names()) from None

    def symbol_names(self) -> list[str]:
        """Every symbol name of this network, inputs first, loss last."""
        names = [s.name for s in self.inputs] + [p.name for p in self.params]
        for layer in range(1, self.n_layers + 1):
            for j in range(1, self.sizes[layer] + 1):
                names += [symbol_name(h, layer, j) for h in ("z", "a", "delta")]
        return names + [s.name for s in self.targets] + ["J"]

    def parameter(self, p: str | sp.Symbol) -> sp.Symbol:
        """Resolve ``p`` (a Symbol or name) to one of this network's parameters.

        Examples
        --------
        >>> Spec([2, 1]).parameter("w1_1_3")
        Traceback (most recent call last):
        ...
        symbackprop.errors.UnknownNameError: Unknown parameter 'w1_1_3'. Did you mean 'w1_1_2'? ...
        """
        key = p.name if isinstance(p, sp.Symbol) else str(p).strip()
        parsed = parse_name(key)
        if parsed is not None and parsed.head in ("w", "b"):
            try:
                return self.symbol(key)
            except SpecError:
                pass
        raise unknown("parameter", key, self._names_near(key) or [q.name for q in self.params]) from None

    def _names_near(self, key: str) -> list[str]:
        """For a network of over 10,000 parameters, a few valid names near ``key`` (its indices
        brought into range) instead of every name: listing millions takes minutes."""
        s = self.sizes
        if sum(n * (m + 1) for m, n in zip(s, s[1:])) <= 10_000:
            return []
        L, near = self.n_layers, []
        parsed = parse_name(key)
        if parsed is not None and all(isinstance(i, int) for i in parsed.index):
            head = parsed.head if parsed.head in ("w", "b", "z", "a", "delta") else "w"
            layer = min(max(parsed.layer or 1, 1), L)
            index = [*parsed.index, 1, 1][: 2 if head == "w" else 1]
            limits = (s[layer], s[layer - 1])
            index = [min(max(i, 1), n) for i, n in zip(index, limits)]
            near.append(symbol_name(head, layer, *index))
        return near + [symbol_name("w", 1, 1, k) for k in range(1, min(s[0], 5) + 1)] + [
            symbol_name("b", layer, 1) for layer in range(1, L + 1)
        ]

    def __repr__(self) -> str:
        acts = [a.name for a in self.activations]
        act = repr(acts[0]) if len(set(acts)) == 1 else repr(acts)
        return f"{type(self).__name__}({list(self.sizes)}, activation={act}, loss={self.loss.name!r})"
