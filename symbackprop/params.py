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

from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, Sequence, ValuesView
from operator import itemgetter

import numpy as np
import sympy as sp

from .errors import SpecError
from .spec import Spec

__all__ = ["FlatParameters", "LayerArrays", "Parameters", "init_arrays", "init_params", "to_arrays", "to_mapping"]

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


def _indexes(spec: Spec) -> tuple[dict[sp.Symbol, int], dict[str, int], list[str]]:
    """{Symbol: position}, {name: position} and the names of :attr:`Spec.params`, built once
    per network."""
    found = spec.__dict__.get("_param_indexes")
    if found is None:
        symbols = spec.params
        names = [p.name for p in symbols]
        found = (dict(zip(symbols, range(len(symbols)))), dict(zip(names, range(len(names)))), names)
        spec.__dict__["_param_indexes"] = found
    return found


class _Values(ValuesView):
    def __iter__(self) -> Iterator[float]:
        return iter(self._mapping._flat.tolist())


class _Items(ItemsView):
    def __iter__(self) -> Iterator[tuple[sp.Symbol, float]]:
        return zip(self._mapping._symbols, self._mapping._flat.tolist())


class FlatParameters(MutableMapping):
    """``{Symbol: float}`` over one float64 array in :attr:`Spec.params` order: what
    :func:`symbackprop.train` and :meth:`CompiledModel.gradient
    <symbackprop.compiler.CompiledModel.gradient>` return.

    It behaves as :class:`Parameters` does (names and plain Symbols are keys too; it
    compares equal to a dict with the same items), but it is made without hashing every
    symbol into a new dict (2–3 ms at 26,000 parameters, on every ``train`` call), and
    :func:`to_arrays` reads it back in one copy. The first change that adds or removes a key
    turns it into a plain :class:`Parameters` inside (setting a value keeps the array).

    Examples
    --------
    >>> import numpy as np
    >>> spec = Spec([2, 1])
    >>> p = FlatParameters(spec, np.array([0.5, -1.0, 0.25]))
    >>> p
    {w1_1_1: 0.5, w1_1_2: -1.0, b1_1: 0.25}
    >>> p["b1_1"], p[spec.params[1]], list(p.values())
    (0.25, -1.0, [0.5, -1.0, 0.25])
    >>> p == {spec.params[0]: 0.5, spec.params[1]: -1.0, spec.params[2]: 0.25}
    True
    >>> p["w1_1_1"] = 2.0
    >>> to_arrays(spec, p)
    [(array([[ 2., -1.]]), array([0.25]))]
    """

    def __init__(self, spec: Spec, flat: np.ndarray, copy: bool = True):
        symbols = spec.params
        # A copy unless the caller hands its own new array over (copy=False).
        flat = np.array(flat, dtype=np.float64, copy=copy or None).ravel()
        if flat.shape != (len(symbols),):
            raise SpecError(f"Expected {len(symbols)} parameter values for this network; got {flat.size}.")
        self._spec, self._symbols, self._flat = spec, symbols, flat
        self._dict: Parameters | None = None  # set once a key is added or removed
        self._index: dict[sp.Symbol, int] | None = None  # the network's, on the first lookup

    def _position(self, key: object) -> int | None:
        by_symbol, by_name, _ = _indexes(self._spec)
        try:
            found = by_symbol.get(key)  # type: ignore[call-overload]
        except TypeError:  # an unhashable key
            return None
        if found is None:
            name = key if isinstance(key, str) else getattr(key, "name", None)
            found = by_name.get(name) if isinstance(name, str) else None
        return found

    def __getitem__(self, key: object) -> float:
        if self._dict is not None:
            return self._dict[key]
        index = self._index
        if index is None:
            index = self._index = _indexes(self._spec)[0]
        try:  # the network's own symbol: one lookup (dict(p) reads 26,000 keys this way)
            return self._flat.item(index[key])
        except (KeyError, TypeError):
            pass
        i = self._position(key)
        if i is None:
            raise KeyError(key)
        return self._flat.item(i)

    def __contains__(self, key: object) -> bool:
        return key in self._dict if self._dict is not None else self._position(key) is not None

    def __iter__(self) -> Iterator[sp.Symbol]:
        return iter(self._dict if self._dict is not None else self._symbols)

    def __len__(self) -> int:
        return len(self._dict) if self._dict is not None else len(self._symbols)

    def values(self) -> ValuesView:
        return self._dict.values() if self._dict is not None else _Values(self)

    def items(self) -> ItemsView:
        return self._dict.items() if self._dict is not None else _Items(self)

    def _as_dict(self) -> Parameters:
        if self._dict is None:
            self._dict = Parameters(zip(self._symbols, self._flat.tolist()))
        return self._dict

    def __setitem__(self, key: object, value: object) -> None:
        if self._dict is None:
            i = self._position(key)
            if i is not None and type(value) in (float, np.float64):
                self._flat[i] = value
                return
        self._as_dict()[key] = value  # type: ignore[index]

    def __delitem__(self, key: object) -> None:
        del self._as_dict()[key]

    def __eq__(self, other: object) -> bool:
        if (isinstance(other, FlatParameters) and self._dict is None and other._dict is None
                and other._symbols is self._symbols):
            return bool(np.array_equal(self._flat, other._flat))
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  (mutable, as a dict)

    def copy(self) -> FlatParameters | Parameters:
        """A copy (of the same kind)."""
        if self._dict is not None:
            return Parameters(self._dict)
        return FlatParameters(self._spec, self._flat)

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self) -> tuple:
        # Pickled (a child process, a copy) as the plain dict: the network does not pickle.
        return Parameters, (list(self.items()),)

    def flat(self) -> np.ndarray:
        """The values in :attr:`Spec.params` order, as a new float64 array.

        Examples
        --------
        >>> import numpy as np
        >>> FlatParameters(Spec([1, 1]), np.array([1.0, 2.0])).flat()
        array([1., 2.])
        """
        if self._dict is not None:
            return _flat_values(self._spec, self._dict)
        return self._flat.copy()


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


def init_params(spec: Spec, seed: int | np.random.Generator | None = 0) -> FlatParameters:
    """Starting parameters as ``{Symbol: float}`` (see the module docstring).

    A :class:`FlatParameters`: one array behind the mapping, which ``train``, ``predict``
    and ``compile().arrays`` read in one copy (26,000 parameters: well under a millisecond,
    where a dict of every symbol took milliseconds to build and to read back).

    Examples
    --------
    >>> p = init_params(Spec([2, 1]), seed=0)
    >>> list(p)
    [w1_1_1, w1_1_2, b1_1]
    >>> p == init_params(Spec([2, 1]), seed=0)
    True
    """
    arrays = init_arrays(spec, seed)
    return FlatParameters(spec, np.concatenate([np.concatenate([W.ravel(), b]) for W, b in arrays]), copy=False)


def _split_layers(spec: Spec, flat: np.ndarray) -> LayerArrays:
    """Per-layer (W, b) views of ``flat`` (in :attr:`Spec.params` order)."""
    arrays, start = [], 0
    for layer in range(1, spec.n_layers + 1):
        n, m = spec.sizes[layer], spec.sizes[layer - 1]
        arrays.append((flat[start : start + n * m].reshape(n, m), flat[start + n * m : start + n * m + n]))
        start += n * m + n
    return arrays


def _flat_values(spec: Spec, params: Mapping) -> np.ndarray:
    """The values of ``params`` in :attr:`Spec.params` order, as one float64 array.

    A mapping whose keys are this network's own symbols in order (what ``init_params``,
    ``train`` and the models return) is read in one pass without a lookup per key: the
    list comparison is by identity first, so it costs microseconds, where matching 26,000
    keys by name took milliseconds on every ``train`` call.
    """
    symbols = spec.params
    if isinstance(params, FlatParameters) and params._dict is None and params._symbols is symbols:
        return params._flat.copy()
    values = None
    if len(params) == len(symbols) and list(params) == list(symbols):
        values = list(params.values())
    if values is None:
        # By name, every lookup in C: a mapping keyed by names is used as it is.
        by_name = params if set(map(type, params)) <= {str} else dict(zip(
            [k.name if isinstance(k, sp.Symbol) else str(k) for k in params], params.values()))
        names = _indexes(spec)[2]
        try:
            values = [by_name[names[0]]] if len(names) == 1 else list(itemgetter(*names)(by_name))
        except KeyError:
            missing = [p.name for p in symbols if p.name not in by_name]
            raise SpecError(
                f"The parameters lack {len(missing)} of this network's {len(symbols)}, "
                f"e.g. {', '.join(missing[:5])}."
            ) from None
    try:
        if set(map(type, values)) <= {float, np.float64}:  # the usual case: converted in C
            return np.array(values, dtype=np.float64)
        return np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"Parameter values must be numbers: {exc}.") from None


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
        return _split_layers(spec, _flat_values(spec, params))
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
