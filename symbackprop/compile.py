"""The compiler's public names, where they have always been imported from.

The compiler itself is the package :mod:`symbackprop.compiler` (plan, code generation,
backends, runtime model, stable forms; see its docstring and docs/how-it-works.md).
This module re-exports its public API, so that ``from symbackprop.compile import
compile_network`` and the other existing imports keep working.
"""

from __future__ import annotations

from .compiler import (
    BACKENDS,
    Backend,
    BackendName,
    CompiledModel,
    compile_network,
    numeric_derivative,
    output_forms,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendName",
    "CompiledModel",
    "compile_network",
    "numeric_derivative",
    "output_forms",
]
