"""Former home of the reverse pass, kept so that old imports keep working.

The reverse pass (class :class:`~symbackprop.backprop.Backprop`) now lives in
:mod:`symbackprop.backprop`, named for what it holds, so that it is not confused with
:mod:`symbackprop.derivation` (the printed step-by-step derivation of one gradient).
``from symbackprop.derive import Backprop, SUM_TO_ONE, sum_to_one, tidy, tree_size``
keeps working; new code imports from :mod:`symbackprop.backprop`.

Examples
--------
>>> from symbackprop.derive import Backprop
>>> from symbackprop import backprop
>>> Backprop is backprop.Backprop
True
"""

from .backprop import (
    DEFAULT_MAX_SIZE,
    SUM_TO_ONE,
    TIDY_MAX_SIZE,
    Backprop,
    sum_to_one,
    tidy,
    tree_size,
)

__all__ = ["Backprop", "tree_size", "tidy", "DEFAULT_MAX_SIZE", "TIDY_MAX_SIZE", "SUM_TO_ONE", "sum_to_one"]
