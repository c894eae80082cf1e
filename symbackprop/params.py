"""Parameter values: initialisation, and conversion between the two representations.

Users see parameters as a mapping ``{Symbol: float}`` (names also accepted as keys);
the compiled code keeps one array per layer: W^(l) of shape (n_l, n_{l−1}) and b^(l) of
shape (n_l,). The order of :attr:`Spec.params` is ``W.ravel()`` then ``b``, layer by
layer, so conversion is a reshape.

Initialisation (``init_params``): biases 0; weights by the scheme each layer's activation
declares in its registry entry (``Activation.init``): ``"he"``, He-normal (std
√(2/n_{l−1})), for relu and leaky relu; ``"glorot"``, Glorot-uniform
(±√(6/(n_{l−1}+n_l))), for the others and by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from .errors import SpecError
from .spec import Spec

__all__ = ["LayerArrays", "Parameters", "init_arrays", "init_params", "to_arrays", "to_mapping"]

#: One (W, b) pair per layer.
LayerArrays = list[tuple[np.ndarray, np.ndarray]]



class Parameters(dict):
    """``{Symbol: float}`` that also answers to a parameter's name or a plain ``Symbol``.

    The network's symbols are real (``Symbol("w1_1_1", real=True)``), and SymPy tells a
    plain ``Symbol("w1_1_1")`` apart from them; this mapping matches such keys by name.

    Examples
    --------
    >>> import sympy as sp
    >>> p = init_params(Spec([2, 1]), seed=0)
    >>> p["b1_1"], p[sp.Symbol("b1_1")], sp.Symbol("w1_1_2") in p
    (0.0, 0.0, True)
    >>> w = sp.Symbol("w1_1_1", real=True)
    >>> del p[w]
    >>> "w1_1_1" in p, p.get("w1_1_1", "gone")
    (False, 'gone')
    >>> p[w] = 2.5
    >>> p["w1_1_1"]
    2.5
    """

    def _by_name(self, key: object) -> object:
        name = key if isinstance(key, str) else getattr(key, "name", None)
        if not isinstance(name, str):
            return None
        # An index name -> key, built on first use and again when it is stale: a scan per
        # lookup made reading 26,000 parameters by name take seconds.
        index = self.__dict__.get("_names")
        found = index.get(name) if index is not None and len(index) <= len(self) else None
        if found is not None and dict.__contains__(self, found):
            return found
        index = {}
        for k in reversed(list(self)):  # the first key of a name wins, as a scan would find it
            if isinstance(getattr(k, "name", None), str):
                index[k.name] = k
        self.__dict__["_names"] = index
        return index.get(name)

    def __missing__(self, key: object) -> float:
        found = self._by_name(key)
        if found is None:
            raise KeyError(key)
        return dict.__getitem__(self, found)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self._by_name(key) is not None

    def get(self, key: object, default: object = None) -> object:  # type: ignore[override]
        """The value for ``key`` (a Symbol or a name), or ``default``."""
        return self[key] if key in self else default


def _he(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))


def _glorot(rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_out, n_in))


#: The weight initialisers, one per scheme name of :data:`~symbackprop.activations.INIT_SCHEMES`.
INITIALISERS = {"he": _he, "glorot": _glorot}


def init_arrays(spec: Spec, seed: int | np.random.Generator | None = 0) -> LayerArrays:
    """Starting weights and biases as per-layer arrays, reproducible from ``seed``.

    Examples
    --------
    >>> [(W.shape, b.shape) for W, b in init_arrays(Spec([2, 3, 1]), seed=0)]
    [((3, 2), (3,)), ((1, 3), (1,))]
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    arrays = []
    for layer, act in enumerate(spec.activations, start=1):
        n_in, n_out = spec.sizes[layer - 1], spec.sizes[layer]
        arrays.append((INITIALISERS[act.init](rng, n_in, n_out), np.zeros(n_out)))
    return arrays


def init_params(spec: Spec, seed: int | np.random.Generator | None = 0) -> Parameters:
    """Starting parameters as ``{Symbol: float}`` (see the module docstring).

    Examples
    --------
    >>> p = init_params(Spec([2, 1]), seed=0)
    >>> list(p)
    [w1_1_1, w1_1_2, b1_1]
    >>> p == init_params(Spec([2, 1]), seed=0)
    True
    """
    return to_mapping(spec, init_arrays(spec, seed))


def to_arrays(spec: Spec, params: Mapping[sp.Symbol | str, float] | Sequence) -> LayerArrays:
    """Per-layer (W, b) float64 arrays from a parameter mapping (or from arrays, checked).

    Raises a clear error naming the missing parameters, or the layer whose array has the
    wrong shape.

    Examples
    --------
    >>> spec = Spec([2, 1])
    >>> to_arrays(spec, {"w1_1_1": 1.0, "w1_1_2": 2.0, "b1_1": 3.0})
    [(array([[1., 2.]]), array([3.]))]
    """
    if isinstance(params, Mapping):
        by_name = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in params.items()}
        try:
            flat = np.array([float(by_name[p.name]) for p in spec.params], dtype=np.float64)
        except KeyError:
            missing = [p.name for p in spec.params if p.name not in by_name]
            raise SpecError(
                f"The parameters lack {len(missing)} of this network's {len(spec.params)}, "
                f"e.g. {', '.join(missing[:5])}."
            ) from None
        except (TypeError, ValueError) as exc:
            raise SpecError(f"Parameter values must be numbers: {exc}.") from None
        arrays, start = [], 0
        for layer in range(1, spec.n_layers + 1):
            n, m = spec.sizes[layer], spec.sizes[layer - 1]
            W = flat[start : start + n * m].reshape(n, m)
            b = flat[start + n * m : start + n * m + n]
            arrays.append((W, b))
            start += n * m + n
        return arrays
    if len(params) != spec.n_layers:
        raise SpecError(f"Expected {spec.n_layers} (W, b) pairs, one per layer; got {len(params)}.")
    arrays = []
    for layer, pair in enumerate(params, start=1):
        W, b = (np.asarray(v, dtype=np.float64) for v in pair)
        want = (spec.sizes[layer], spec.sizes[layer - 1])
        if W.shape != want or b.shape != want[:1]:
            raise SpecError(
                f"Layer {layer}: W must have shape {want} and b shape {want[:1]}; "
                f"got {W.shape} and {b.shape}."
            )
        arrays.append((W, b))
    return arrays


def to_mapping(spec: Spec, arrays: LayerArrays) -> Parameters:
    """``{Symbol: float}`` in :attr:`Spec.params` order from per-layer (W, b) arrays.

    The result (:class:`Parameters`) also takes names and plain Symbols as keys.

    Examples
    --------
    >>> import numpy as np
    >>> to_mapping(Spec([1, 1]), [(np.array([[0.5]]), np.array([0.25]))])
    {w1_1_1: 0.5, b1_1: 0.25}
    """
    arrays = to_arrays(spec, arrays)
    flat = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in arrays])
    return Parameters(zip(spec.params, flat.tolist()))
