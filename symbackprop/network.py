"""The :class:`Network` a user works with, and :func:`mlp` that builds one.

A Network is a :class:`~symbackprop.spec.Spec` (sizes, activations, loss, symbols) with
its scalar graph and symbolic gradients, both built on first use.

One producer, one path. The network's definitions are one list,
:func:`~symbackprop.graph.network_definitions`; its graph is built from that list by the
project's one graph builder (:func:`~symbackprop.graph.add_definition`) and differentiated
by its one reverse pass (:func:`~symbackprop.backprop.reverse_pass`), the builder and pass
every :class:`~symbackprop.computations.Computation` goes through too. What is the MLP's own
is the naming policy (δ^(l)_j = ∂J/∂z^(l)_j only, the textbook δ recursion) and the layer
structure it knows (cones, layer-level equations, compiled layer code).
:meth:`Network.as_computation` reads the same list.

Size first. Before the scalar graph is built, its size is counted from the layer sizes
(:func:`~symbackprop.graph.graph_size`); past ``max_edges`` (default
:data:`~symbackprop.graph.DEFAULT_MAX_GRAPH_EDGES`) it is refused with
:class:`~symbackprop.errors.GraphTooLargeError` rather than built for minutes. One
parameter's gradient or derivation of a large network does not need the whole graph: it is
derived on the parameter's cone (:func:`~symbackprop.graph.build_cone`), the neurons on
its paths to J, with the same result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import networkx as nx
import sympy as sp

from .backprop import DEFAULT_MAX_SIZE, Backprop
from .derivation import Derivation
from .equations import Equations
from .graph import (
    CURRENT_LIMIT,
    GraphSize,
    build_cone,
    build_graph,
    check_graph_size,
    cone_size,
    current_graph_limit,
    graph_size,
)
from .spec import ActivationSpec, LossSpec, Spec

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import Backend, CompiledModel
    from .computations import Computation
    from .hessian import HessianDerivation

__all__ = ["Network", "mlp"]

#: Networks whose full graph has at most this many edges build it even for one parameter
#: (about a second; later calls share it). Larger ones derive one parameter on its cone.
FULL_GRAPH_BELOW = 10_000
#: How many parameters' cones are kept for later calls.
CONES_KEPT = 8


class Network(Spec):
    """A fully connected network, its scalar graph and its symbolic gradients.

    Build one with :func:`mlp`. See :class:`~symbackprop.spec.Spec` for the symbols
    (``net.w(l, j, k)``, ``net.b(l, j)``, ``net.x(k)``, ...).
    """

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The scalar computation graph (see :mod:`symbackprop.graph`), built on first use.

        Refused (:class:`~symbackprop.errors.GraphTooLargeError`), before anything is built,
        past :func:`~symbackprop.graph.current_graph_limit` edges (100,000 unless changed
        with ``with sbp.graph_limit(n):``); :meth:`prepare_graph` takes the limit as an argument.

        Examples
        --------
        >>> net = mlp([2, 2, 1])
        >>> net.graph.number_of_nodes(), net.graph.nodes["a1_1"]["kind"]
        (19, 'a')
        """
        check_graph_size(graph_size(self), CURRENT_LIMIT, self._graph_what())
        return build_graph(self)

    @cached_property
    def backprop(self) -> Backprop:
        """Reverse mode over :attr:`graph`: every node's adjoint and every δ (built once)."""
        return Backprop(self, self.graph)

    def _graph_what(self) -> str:
        return f"The scalar graph of the {'-'.join(map(str, self.sizes))} network"

    def prepare_graph(self, max_edges: int | None | object = CURRENT_LIMIT) -> nx.DiGraph:
        """Build the full scalar graph and its reverse pass now, refusing past ``max_edges``.

        Parameters
        ----------
        max_edges : int or None
            The largest graph to build, in edges (default: the limit
            :func:`~symbackprop.graph.graph_limit` set, 100,000); None accepts any size.

        Examples
        --------
        >>> net = mlp([1000, 1000, 1000])
        >>> net.prepare_graph()
        Traceback (most recent call last):
        ...
        symbackprop.errors.GraphTooLargeError: The scalar graph of the 1000-1000-1000 network has 4,006,000 edges ...
        """
        if "backprop" not in self.__dict__:
            if "graph" not in self.__dict__:
                check_graph_size(graph_size(self), max_edges, self._graph_what())
                self.__dict__["graph"] = build_graph(self)
            self.__dict__["backprop"] = Backprop(self, self.__dict__["graph"])
        return self.graph

    def _backprop_for(self, p: sp.Symbol, max_edges: int | None) -> Backprop:
        """The reverse pass that answers for ``p``: the full one when it exists or is small,
        else the one over ``p``'s cone; refused when even the cone is past ``max_edges``."""
        if "backprop" in self.__dict__:
            return self.backprop
        limit = current_graph_limit() if max_edges is CURRENT_LIMIT else max_edges
        full = graph_size(self)
        if full.edges <= FULL_GRAPH_BELOW and (limit is None or full.edges <= limit):
            self.prepare_graph(None)
            return self.backprop
        cones: dict[str, Backprop] = self.__dict__.setdefault("_cones", {})
        done = cones.get(p.name)
        if done is None:
            # The loss is built over every output, whichever of them the cone reaches.
            cone, n = cone_size(self, p), self.sizes[-1]
            what = (f"The part of the {'-'.join(map(str, self.sizes))} network's scalar graph that "
                    f"{p} reaches, with the loss over its {n:,} output(s),")
            check_graph_size(GraphSize(cone.nodes + n, cone.edges + 2 * n), limit, what)
            done = Backprop(self, build_cone(self, p))
            while len(cones) >= CONES_KEPT:
                cones.pop(next(iter(cones)))
            cones[p.name] = done
        return done

    def grad(
        self,
        p: sp.Symbol | str,
        expand: bool = False,
        *,
        max_size: int | None = DEFAULT_MAX_SIZE,
        max_edges: int | None | object = CURRENT_LIMIT,
    ) -> sp.Expr:
        """∂J/∂p for one sample.

        Parameters
        ----------
        p : Symbol or str
            A weight or bias of this network (``net.w(1, 2, 1)`` or ``"w1_2_1"``).
        expand : bool
            False (default): the compact chain-rule form, in the intermediate symbols
            a, z and the next layer's δ (for an output-layer parameter: in a, y only).
            True: in the inputs x, targets y, weights and biases only.
        max_size : int or None
            With ``expand=True``, refuse (:class:`ExpressionTooLargeError`) an expanded
            expression of more tree nodes than this; None for no limit.
        max_edges : int or None
            Refuse (:class:`GraphTooLargeError`) when the part of the scalar graph this needs
            (p's cone, for a large network) has more edges (default: the limit
            :func:`~symbackprop.graph.graph_limit` set); None for no limit.

        Examples
        --------
        >>> net = mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
        >>> net.grad(net.w(2, 1, 1))
        a1_1*a2_1*(1 - a2_1)*(a2_1 - y1)
        >>> net.grad("w1_1_1")
        a1_1*x1*(1 - a1_1)*(delta2_1*w2_1_1 + delta2_2*w2_2_1)
        >>> net.grad("b2_1", expand=True).free_symbols <= set(net.params) | {net.x(1), net.x(2), net.y(1)}
        True
        """
        param = self.parameter(p)
        backprop = self._backprop_for(param, max_edges)
        compact = backprop.grad(param)
        if not expand:
            return compact
        return backprop.expanded(compact, max_size=max_size, what=f"dJ/d{param}")

    def gradients(self, expand: bool = False, *, max_edges: int | None | object = CURRENT_LIMIT) -> dict[sp.Symbol, sp.Expr]:
        """``{p: net.grad(p, expand)}`` for every parameter, in :attr:`params` order.

        Builds the whole scalar graph: refused past ``max_edges`` (see :meth:`prepare_graph`).

        Examples
        --------
        >>> len(mlp([2, 3, 1]).gradients())
        13
        """
        self.prepare_graph(max_edges)
        return {p: self.grad(p, expand) for p in self.params}

    def compact_gradients(self, *, max_edges: int | None | object = CURRENT_LIMIT) -> Iterator[tuple[sp.Symbol, sp.Expr]]:
        """``(p, ∂J/∂p)`` for every parameter, in :attr:`params` order, one at a time, from
        the layer structure: ∂J/∂w⁽ˡ⁾ⱼₖ = δ⁽ˡ⁾ⱼ·a⁽ˡ⁻¹⁾ₖ and ∂J/∂b⁽ˡ⁾ⱼ = δ⁽ˡ⁾ⱼ.

        A hidden layer's gradient is left in its δ (defined in :attr:`deltas`), so no
        scalar graph is built for it; the output layer's is written out in a, y as
        :meth:`grad` writes it (from each output bias's cone: ``max_edges`` as in
        :meth:`grad`). Substituting :attr:`deltas` gives :meth:`grad`'s form.
        Hidden products are unevaluated (``Mul(δ, a, evaluate=False)``): building
        26,000 evaluated ones would take a second.

        Examples
        --------
        >>> net = mlp([2, 2, 1], activation="sigmoid", loss="quadratic")
        >>> rows = dict(net.compact_gradients())
        >>> rows[net.w(1, 2, 1)], rows[net.b(1, 2)]
        (delta1_2*x1, delta1_2)
        >>> rows[net.w(2, 1, 2)] == net.grad("w2_1_2")
        True
        """
        last = self.n_layers
        for layer in range(1, last + 1):
            n_out, n_in = self.sizes[layer], self.sizes[layer - 1]
            inputs = [self.x(k) if layer == 1 else self.a(layer - 1, k) for k in range(1, n_in + 1)]
            if layer == last:
                deltas = [self.grad(self.b(layer, j), max_edges=max_edges) for j in range(1, n_out + 1)]
                weights = ((self.w(layer, j, k), inputs[k - 1] * deltas[j - 1])
                           for j in range(1, n_out + 1) for k in range(1, n_in + 1))
            else:
                deltas = [self.delta(layer, j) for j in range(1, n_out + 1)]
                weights = ((self.w(layer, j, k), sp.Mul(deltas[j - 1], inputs[k - 1], evaluate=False))
                           for j in range(1, n_out + 1) for k in range(1, n_in + 1))
            yield from weights
            yield from ((self.b(layer, j), deltas[j - 1]) for j in range(1, n_out + 1))

    @property
    def deltas(self) -> dict[sp.Symbol, sp.Expr]:
        """The δ recursion: each δ^(l)_j defined in the next layer's δ (output layer: in a, y).

        Examples
        --------
        >>> mlp([1, 1], activation="identity").deltas
        {delta1_1: a1_1 - y1}
        """
        return dict(sorted(self.backprop.delta.items(), key=lambda kv: kv[0].name))

    def derivation(self, p: sp.Symbol | str, *, max_edges: int | None | object = CURRENT_LIMIT) -> Derivation:
        """The chain-rule derivation of ∂J/∂p, step by step.

        For a large network it is derived on p's cone (the neurons on p's paths to J);
        ``max_edges`` bounds that as in :meth:`grad`.

        Examples
        --------
        >>> net = mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
        >>> d = net.derivation(net.w(1, 1, 1))
        >>> d.n_paths
        2
        >>> print(d.text().splitlines()[0])
        ∂J/∂w⁽¹⁾₁₁ in the 2-2-2 network (sigmoid, sigmoid; loss quadratic)
        """
        param = self.parameter(p)
        return Derivation(self._backprop_for(param, max_edges), param)

    def hessian_derivation(self, p: sp.Symbol | str, q: sp.Symbol | str, *,
                           max_edges: int | None | object = CURRENT_LIMIT) -> HessianDerivation:
        """∂²J/∂p∂q step by step: the forward tangent of q (ż, ȧ), the δ recursion, the
        second-order adjoint δ̇ and the result (see :mod:`symbackprop.hessian`).

        Builds the whole scalar graph: refused past ``max_edges`` (see :meth:`prepare_graph`).

        Examples
        --------
        >>> net = mlp([1, 1, 1], activation="identity", loss="quadratic")
        >>> h = net.hessian_derivation("w1_1_1", "w2_1_1")
        >>> h.adjoint
        {deltadot2_1: adot2_1, deltadot1_1: delta2_1 + deltadot2_1*w2_1_1}
        >>> h.compact
        deltadot1_1*x1
        """
        from .hessian import HessianDerivation

        self.prepare_graph(max_edges)
        return HessianDerivation(self.backprop, self.parameter(p), self.parameter(q))

    def hessian(
        self,
        p: sp.Symbol | str,
        q: sp.Symbol | str,
        expand: bool = False,
        *,
        max_size: int | None = DEFAULT_MAX_SIZE,
        max_edges: int | None | object = CURRENT_LIMIT,
    ) -> sp.Expr:
        """∂²J/∂p∂q for one sample.

        Compact (default): δ̇ⱼ aₖ + δⱼ ȧₖ for p = w⁽ˡ⁾ⱼₖ (δ̇ⱼ for a bias), in the named
        tangents ż = ∂z/∂q, ȧ = ∂a/∂q and the second-order adjoint δ̇ = ∂δ/∂q that
        :meth:`hessian_derivation` defines. ``expand=True``: in x, y, w and b only, refused
        past ``max_size`` tree nodes as in :meth:`grad`.

        Examples
        --------
        >>> net = mlp([1, 1], activation="identity", loss="quadratic")
        >>> net.hessian("w1_1_1", "b1_1"), net.hessian("w1_1_1", "b1_1", expand=True)
        (deltadot1_1*x1, x1)
        """
        h = self.hessian_derivation(p, q, max_edges=max_edges)
        return h.expanded(max_size=max_size) if expand else h.compact

    def jacobian(self, expand: bool = False, *, max_size: int | None = DEFAULT_MAX_SIZE,
                 max_edges: int | None | object = CURRENT_LIMIT) -> sp.Matrix:
        """∂a⁽ᴸ⁾ⱼ/∂xₖ, an (n_L, n_0) matrix: compact in a, z and w (the product of the
        layer Jacobians), or ``expand=True`` in x and the parameters (each entry refused
        past ``max_size`` tree nodes). The compiled counterpart is
        ``model.input_jacobian(params, X)``.

        Examples
        --------
        >>> mlp([2, 1], activation="identity").jacobian()
        Matrix([[w1_1_1, w1_1_2]])
        """
        from .hessian import input_jacobian

        self.prepare_graph(max_edges)
        M = input_jacobian(self.backprop)
        if not expand:
            return M
        return M.applyfunc(lambda e: self.backprop.expanded(e, max_size=max_size, what="the Jacobian entry"))

    def equations(self) -> Equations:
        """The layer-level backpropagation equations, filled in for this network.

        Examples
        --------
        >>> eq = mlp([2, 2, 2], activation="sigmoid", loss="quadratic").equations()
        >>> print(eq.text().splitlines()[0])
        Layer-level backpropagation for the 2-2-2 network (sigmoid, sigmoid; loss quadratic)
        """
        return Equations(self)

    def compile(self, backend: str | Backend = "numpy") -> CompiledModel:
        """The network compiled for ``backend`` (see :mod:`symbackprop.compiler`), kept:
        compiled on the first call per backend, the same model after.

        Examples
        --------
        >>> net = mlp([1, 1], activation="identity")
        >>> net.compile().gradient({"w1_1_1": 2.0, "b1_1": 0.0}, [[1.0]], [[1.0]])
        {w1_1_1: 1.0, b1_1: 1.0}
        >>> net.compile() is net.compile()
        True
        """
        from .compiler import compile_network

        models = self.__dict__.setdefault("_compiled", {})
        if backend == "auto":  # numpy or numba (symbackprop.compiler.auto), kept under that name
            from .compiler.auto import choose_backend

            backend = choose_backend(self)
        if not isinstance(backend, str):  # a Backend object: compiled for the caller, not kept
            return compile_network(self, backend=backend)
        if backend not in models:  # an unknown name fails in compile_network, never kept
            models[backend] = compile_network(self, backend=backend)
        return models[backend]

    def as_computation(self) -> Computation:
        """This network as a :class:`~symbackprop.computations.Computation`: the z, a and J of
        :func:`~symbackprop.graph.network_definitions`, the list :attr:`graph` is built from,
        as named definitions; its gradients equal :meth:`grad`'s (see docs/computations.md).

        Examples
        --------
        >>> net = mlp([2, 1])
        >>> net.as_computation().grad("b1_1", expand=True) == net.grad("b1_1", expand=True)
        True
        """
        from .computations import from_network

        return from_network(self)

    def init_params(self, seed: int | Any = 0) -> dict[sp.Symbol, float]:
        """Starting parameters, reproducible from ``seed`` (see :mod:`symbackprop.params`).

        Examples
        --------
        >>> p = mlp([2, 1]).init_params(seed=0)
        >>> list(p), p == mlp([2, 1]).init_params(seed=0)
        ([w1_1_1, w1_1_2, b1_1], True)
        """
        from .params import init_params

        return init_params(self, seed)

    def explore(self, *args: Any, **kwargs: Any):
        """The interactive explorer page of this network: :func:`symbackprop.explore`.

        Examples
        --------
        >>> mlp([1, 1], activation="identity").explore().size > 0
        True
        """
        from .explorer import explore

        return explore(self, *args, **kwargs)

    def _repr_latex_(self) -> str:
        return "$$" + self.equations().latex() + "$$"


def mlp(
    sizes: Sequence[int],
    activation: ActivationSpec | Sequence[ActivationSpec] = "sigmoid",
    loss: LossSpec = "quadratic",
) -> Network:
    """A fully connected network (multi-layer perceptron).

    Parameters
    ----------
    sizes : sequence of int
        Neurons per layer, inputs first: ``[2, 3, 1]``.
    activation : str, SymPy expression or Lambda, or a list of these
        One activation for all layers, or one per layer after the inputs. Names:
        relu, sigmoid, tanh, arctan, identity, softplus, leaky_relu, softmax (output
        layer only); or a formula in ``z`` such as ``"log(1 + exp(z))"``.
    loss : str or SymPy expression
        quadratic, mse, binary_cross_entropy, cross_entropy; or a formula in the
        output symbols and targets, such as ``"(y1 - a2_1)**2"``.

    Returns
    -------
    Network

    Examples
    --------
    >>> net = mlp([2, 3, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy")
    >>> net
    Network([2, 3, 1], activation=['relu', 'sigmoid'], loss='binary_cross_entropy')
    >>> net.grad("w2_1_1")
    a1_1*(a2_1 - y1)
    """
    return Network(sizes, activation, loss)
