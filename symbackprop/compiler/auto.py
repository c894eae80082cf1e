"""``backend="auto"``: NumPy or numba, chosen from what is installed, what is already
compiled, and how long the run is.

numba runs a small network's training step 2–9 times faster than NumPy (docs/performance.md), but
compiling an architecture takes seconds the first time (cached on disk after that: a few
tenths of a second to load). The rule, so that compiling never dominates a short run:

1. numba (and SciPy) not installed, a computation (:func:`symbackprop.computation`: the
   numba target compiles layered networks only), or the network's code holds a formula
   numba cannot compile here: **numpy**.
2. This network object already holds a numba model (``net.compile("numba")`` earlier in
   the process, or a long run): **numba** — nothing left to pay.
3. A training run of at least :data:`WARM_MIN_STEPS` steps whose numba code is in the disk
   cache, or of at least :data:`COLD_MIN_STEPS` steps: **numba**.
4. Otherwise (a short run; ``net.compile("auto")`` with nothing compiled yet): **numpy**.

The choice depends on the cache and on what the process compiled, so two identical calls
can run on different backends (their results agree to about 1e-15, not bit for bit):
pass ``backend="numba"`` or ``"numpy"`` for bit-identical reruns. ``History.backend``
says which one ran.
"""

from __future__ import annotations

from typing import Any

from . import numba_backend

__all__ = ["COLD_MIN_STEPS", "WARM_MIN_STEPS", "choose_backend"]

#: Steps from which a run uses numba when the architecture's code is in the disk cache
#: (loading it, with numba's import, takes 0.3–0.6 s; NumPy takes ≥ 40 µs a step).
WARM_MIN_STEPS = 5_000
#: Steps from which a run compiles with numba first (5–10 s here, once per architecture).
COLD_MIN_STEPS = 200_000


def choose_backend(net: Any, steps: int | None = None) -> str:
    """``"numba"`` or ``"numpy"`` for ``net`` (see the module docstring for the rule).

    Parameters
    ----------
    net : Network
        The network.
    steps : int, optional
        The run's number of steps (epochs × batches per epoch); None for ``net.compile``.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> choose_backend(sbp.mlp([2, 4, 1]), steps=10)  # a short run never compiles
    'numpy'
    >>> choose_backend(sbp.computation("J = (w*x - y)**2", params="w", inputs="x", targets="y"), steps=10**6)
    'numpy'
    """
    from ..spec import Spec

    if not numba_backend.available() or not isinstance(net, Spec):
        return "numpy"
    models = net.__dict__.get("_compiled", {})
    if "numba" in models:
        return "numba"
    probe = net.__dict__.get("_numba_probe")
    if probe is None:  # printing the code is milliseconds; numba is not imported here
        from .backends import NumbaBackend
        from .codegen import generate
        from .plan import make_plan

        source = generate(make_plan(net), NumbaBackend())[0]
        if numba_backend.unsupported(source) is not None:
            probe = (False, None)
        else:
            probe = (True, numba_backend.module_path(numba_backend.numba_source(net, source)))
        net.__dict__["_numba_probe"] = probe
    supported, path = probe
    if not supported or steps is None and not numba_backend.is_cached(path):
        return "numpy"
    if steps is None or steps >= COLD_MIN_STEPS:
        return "numba"
    return "numba" if steps >= WARM_MIN_STEPS and numba_backend.is_cached(path) else "numpy"
