"""Compile a network's derivation for a backend: forward pass, loss and gradient over a batch.

This is the one boundary between symbolic and numeric (STYLE.md, point 4). The compiled
code works at the layer level, over a whole batch X of shape (n, n_0)::

    Z^(l) = A^(l-1) @ W^(l).T + b^(l)          A^(l) = f_l(Z^(l))
    δ^(L) = ∇_a J ⊙ f_L'(·)                    δ^(l) = (δ^(l+1) @ W^(l+1)) ⊙ f_l'(·)
    ∂J/∂W^(l) = δ^(l).T @ A^(l-1) / n          ∂J/∂b^(l) = mean of δ^(l) over the batch

The package, one concern per module, in the order of the data flow:

- :mod:`.stable` — the stable numeric vocabulary (``log_sigmoid``, ``softplus``,
  ``dsigmoid``, ...) and :func:`~.stable.stabilize`, the rewrites into it;
- :mod:`.plan` — what to compute, decided once from the spec: the output layer's loss
  and δ^(L) from the logits (:func:`output_forms`), each hidden layer's f'(z) in a stable
  form (:func:`numeric_derivative`), which layers fuse σ(z) and σ(−z);
- :mod:`.backends` — one :class:`~.backends.Backend` object per target (NumPy, JAX):
  its SymPy printer and namespace, in-place or functional updates, ``jax.jit`` wrapping,
  device placement;
- :mod:`.codegen` — prints the plan into the Python source of ``forward``, ``loss``,
  ``loss_and_grad``, ``step`` and ``step_momentum`` through the backend (and of the
  diagnostics ``deltas`` and ``flow``, per-sample δ for :mod:`symbackprop.flow`);
- :mod:`.model` — :class:`CompiledModel`, the runtime: the generated functions behind
  checked, converting methods;
- :mod:`.jax_loop` — the JAX backends' training epochs, each one jitted ``lax.scan`` of
  the generated step (split over devices for ``"jax-sharded"``).
- :mod:`.numba_backend` and :mod:`.numba_kernels` — the optional numba target (the same
  code compiled, whole epochs included, cached on disk); :mod:`.auto` — which backend
  ``backend="auto"`` picks.

How it works
------------
Nothing is differentiated by hand, and nothing is clipped. The output layer's loss is
composed with its activation and written in the logits (:func:`output_forms`): the
loss J(f(z), y) goes through :func:`~.stable.stabilize`, which writes log σ(z) as
``log_sigmoid(z)``, log(1 − σ(z)) as ``log_sigmoid(-z)``, log(1 + e^z) as
``softplus(z)`` and so on; after softmax, J is written in log a_j (``log_softmax``) and
log(1 − a_j) (``log1m_softmax``). δ^(L) is ``sympy.diff`` of that J with respect to
the logits, so the compiled gradient is exactly the gradient of the compiled loss. An
activation with nothing to fuse (relu, leaky_relu, polynomials) stays a name a whose
derivative is f'(z): δ = ∂J/∂a · f'(z). When the loss is Σ_j ℓ(a_j, y_j) (all registered
losses), J and δ^(L) are emitted once as elementwise expressions over the (n, n_L)
arrays, else column by column. Hidden layers multiply by f'(z) in a stable z form
(:func:`numeric_derivative`: σ' = dsigmoid(z), tanh' = sech2(z), softplus' = σ(z)); the
registry's textbook forms in a = f(z) (σ' = a(1 − a), softplus' = 1 − e^(−a)) stay in
the printouts, where they belong, but lose all precision where a rounds to 1.

These SymPy expressions are printed with SymPy's NumPy printer (the printer
``sympy.lambdify`` uses, with ``Heaviside(z, 0)`` printed as ``numpy.greater(z, 0)``
so that H(0) = 0; the stable functions print as calls of their helpers) into the Python
source of a few small functions, which are turned into code once (the same mechanism as
``lambdify``). ``model.source()`` shows that code. Set-up grows with the number of
layers and outputs, never with the number of weights: no scalar graph and no
per-weight symbol is built here.

``backend="jax"`` (optional) runs the same generator with SymPy's JAX printer: the
code calls ``jax.numpy`` and ``jax.nn``'s stable functions, activations are printed from
their stabilized SymPy definitions instead of the registry's NumPy callables, every
update makes a new array (JAX arrays are immutable) and the steps return the new
parameters; each function is ``jax.jit``-compiled. Float64 is switched on for the
process (``jax_enable_x64``).

Numerics (float64 throughout): every activation × loss pair is computed from the logits,
and custom formulas get the same stable forms (a user's ``log(1 + exp(z))`` is
``softplus``, ``z*sigmoid(z)`` differentiates to ``z*dsigmoid(z) + sigmoid(z)``);
softmax subtracts the row maximum. A loss outside its domain (binary cross-entropy of an
output above 1, log of a negative output) gives what the mathematics gives, NaN, with
NumPy's warning.
"""

from __future__ import annotations

import warnings

from ..errors import BackendFallbackWarning
from ..spec import Spec
from .auto import choose_backend
from .backends import BACKENDS, Backend, BackendName, JaxShardedBackend, get_backend
from .codegen import generate
from .computation import compile_computation
from .computation_model import ComputationModel
from .model import CompiledModel
from .plan import make_plan, numeric_derivative, output_forms

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendName",
    "CompiledModel",
    "ComputationModel",
    "compile_computation",
    "JaxShardedBackend",
    "compile_network",
    "numeric_derivative",
    "output_forms",
]


def compile_network(net: Spec, backend: BackendName | Backend = "numpy") -> CompiledModel:
    """Compile ``net``'s forward pass, loss and gradient (see the package docstring).

    :meth:`Network.compile <symbackprop.network.Network.compile>` calls this once per
    backend and keeps the model; call that one, unless you want a fresh model.

    Parameters
    ----------
    net : Network or Spec
        The network.
    backend : {"numpy", "jax", "jax-sharded", "numba", "auto"} or Backend
        ``"numpy"``: the steps update the arrays in place. ``"jax"`` (optional extra:
        ``pip install "symbackprop[jax]"``): the same derivation printed with SymPy's JAX
        printer for ``jax.numpy``, each function ``jax.jit``-compiled, with float64
        switched on for the whole process (``jax.config.update("jax_enable_x64", True)``).
        Its generated steps return new arrays (JAX arrays are immutable); ``model.step``
        puts them into the list ``P``, so both backends are driven the same way.
        ``"jax-sharded"``: the same, with training batches split over all of JAX's
        devices (:class:`~.backends.JaxShardedBackend`).
        ``"numba"`` (optional extra ``pip install "symbackprop[fast]"``): the NumPy code
        compiled by numba, whole epochs included, cached on disk
        (:mod:`.numba_backend`); code it cannot compile falls back to NumPy with a
        :class:`~symbackprop.errors.BackendFallbackWarning`. ``"auto"``: numba when this
        architecture's numba code is already compiled (in the disk cache), else NumPy
        (:func:`.auto.choose_backend`).
        A :class:`~.backends.Backend` object is used as it is.

    Returns
    -------
    CompiledModel

    Examples
    --------
    >>> import symbackprop as sbp
    >>> compile_network(sbp.mlp([2, 3, 1]))
    CompiledModel(2-3-1 network (sigmoid, sigmoid; loss quadratic), backend='numpy')
    >>> compile_network(sbp.mlp([2, 1]), backend="torch")
    Traceback (most recent call last):
    ...
    symbackprop.errors.UnknownNameError: Unknown backend 'torch'. Known: numpy, jax, jax-sharded, numba, auto.
    """
    if backend == "auto":
        backend = choose_backend(net)
    target = get_backend(backend)  # an unknown name or a missing JAX fails here, first
    plan = make_plan(net)
    source, namespace = generate(plan, target)
    reason = target.refuses(source)
    if reason is not None:  # a formula this target cannot compile: NumPy computes it
        warnings.warn(f"The {target.name} backend cannot compile {reason} in the {net.describe()}; "
                      "using the numpy backend.", BackendFallbackWarning, stacklevel=2)
        target = get_backend("numpy")
        source, namespace = generate(plan, target)
    return CompiledModel(net, source, namespace, target)
