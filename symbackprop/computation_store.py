"""A computation and its trained parameters in a model file (:mod:`symbackprop.store`).

The file is the same no-pickle ``.npz`` archive as a network's; its ``spec`` says
``"kind": "computation"`` and holds the computation's source lines (``name = formula``,
as :meth:`Computation.source` writes them) and its declarations (``params``, ``inputs``,
``targets``, ``outputs``); the parameters are one float64 array ``theta`` in ``params``
order. Loading reads the lines back with :func:`symbackprop.computation` — the safe
parser, never ``eval`` — under its limits, checks ``theta`` against the declared
parameters, and gives the parameters back bit-identically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from .bounded import is_zero
from .errors import ModelFileError, SpecError, SymbackpropError

__all__ = ["KIND", "is_computation", "rebuild", "spec_and_arrays"]

#: The spec's ``kind`` for a computation (a network's spec has none).
KIND = "computation"


def is_computation(obj: Any) -> bool:
    """Whether ``obj`` is a computation (named definitions), not a layered network."""
    return hasattr(obj, "definitions") and hasattr(obj, "source") and not hasattr(obj, "sizes")


def _read_back(comp: Any) -> Any:
    """``comp`` rebuilt from its source and declarations (what loading will do)."""
    from .computations import computation

    return computation(
        comp.source(),
        params=[p.name for p in comp.params],
        inputs=[x.name for x in comp.inputs],
        targets=[y.name for y in comp.targets],
        outputs=[o.name for o in comp.outputs],
    )


def spec_and_arrays(comp: Any, params: Mapping | Any, history_fields: dict | None,
                    meta: Mapping | None) -> tuple[dict, dict[str, np.ndarray]]:
    """The spec (JSON-ready) and the arrays of a computation's model file.

    Raises
    ------
    SpecError
        When a parameter is missing or not finite, or the source does not read back as
        the same definitions.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> g = sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y")
    >>> spec, arrays = spec_and_arrays(g, {"w": 2.0}, None, None)
    >>> spec["source"], spec["params"], arrays["theta"]
    ('J = (w*x - y)**2', ['w'], array([2.]))
    """
    model = comp.compile()
    (theta,) = model.arrays(params)
    bad = np.flatnonzero(~np.isfinite(theta))
    if len(bad):
        p = comp.params[int(bad[0])]
        raise SpecError(f"Cannot save: parameter {p.name} is {theta[bad[0]]}; a model's parameters must be finite numbers.")
    try:
        back = _read_back(comp)
    except SymbackpropError as exc:
        raise SpecError(f"Cannot save the computation: its source does not read back ({exc}).") from None
    same = [s for (s, e), (s2, e2) in zip(comp.definitions, back.definitions)
            if s != s2 or (e != e2 and not is_zero([e - e2]))]
    if len(back.definitions) != len(comp.definitions) or same:
        what = ", ".join(s.name for s in same) or "the number of lines"
        raise SpecError(f"Cannot save the computation: its source does not read back as the same definitions ({what}).")
    spec = {
        "kind": KIND,
        "source": comp.source(),
        "params": [p.name for p in comp.params],
        "inputs": [x.name for x in comp.inputs],
        "targets": [y.name for y in comp.targets],
        "outputs": [o.name for o in comp.outputs],
        "history": history_fields,
        "meta": dict(meta) if meta is not None else {},
    }
    return spec, {"theta": theta}


def rebuild(where: str, spec: dict, arrays: dict[str, np.ndarray]) -> tuple[Any, dict[sp.Symbol, float]]:
    """The computation and its parameters from a model file's spec and arrays.

    ``theta`` is taken out of ``arrays``; what remains is for the caller to check.

    Raises
    ------
    ModelFileError
        Naming the file and what is wrong: a malformed spec, source lines the parser
        refuses, a missing or misshaped ``theta``, a parameter that is not finite.
    """
    from .computations import computation

    fields = {}
    for key in ("params", "inputs", "targets", "outputs"):
        value = spec.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ModelFileError(f"{where}: its computation's {key!r} must be a list of names.")
        fields[key] = value
    source = spec.get("source")
    if not isinstance(source, str):
        raise ModelFileError(f"{where}: its computation has no source lines.")
    try:
        comp = computation(source, **fields)
    except SymbackpropError as exc:
        raise ModelFileError(f"{where}: its computation cannot be read: {exc}") from None
    if "theta" not in arrays:
        raise ModelFileError(f"{where}: does not match its computation: array 'theta' is missing.")
    theta = arrays.pop("theta")
    k = len(comp.params)
    if theta.shape != (k,) or theta.dtype != np.float64:
        raise ModelFileError(
            f"{where}: does not match its computation: array 'theta' is {theta.dtype} of shape "
            f"{theta.shape}; {k} parameter(s) need float64 of shape ({k},)."
        )
    bad = np.flatnonzero(~np.isfinite(theta))
    if len(bad):
        raise ModelFileError(
            f"{where}: parameter {comp.params[int(bad[0])].name} is {theta[bad[0]]}; a model's parameters must be finite numbers."
        )
    return comp, comp.compile().mapping([theta])
