"""The stable numeric forms, where they have always been imported from.

They live in :mod:`symbackprop.compiler.stable` (the vocabulary, its rewrites and the
NumPy/JAX helpers); this module re-exports it, so that ``symbackprop.stable`` imports
and the generated code's ``# ...: symbackprop.stable`` note keep pointing somewhere.
"""

from __future__ import annotations

from .compiler.stable import *  # noqa: F403  (the whole public vocabulary, by its __all__)
from .compiler.stable import __all__ as __all__
