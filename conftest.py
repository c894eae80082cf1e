"""Doctest collection for the whole project (tests/conftest.py holds the test suite's own).

Docstring examples of the optional JAX backend need JAX, which the README's install command
does not bring: without it they are skipped with the reason, as the JAX test modules are.
"""

from __future__ import annotations

import importlib.util

import pytest

#: What an example's source holds when it runs on JAX.
_JAX_MARKERS = ('backend="jax', "JaxShardedBackend(", "import jax", "to_device(")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("jax") is not None:
        return
    skip = pytest.mark.skip(reason='the example runs on JAX, which is not installed (pip install "symbackprop[jax]")')
    for item in items:
        test = getattr(item, "dtest", None)  # a doctest item
        if test is not None and any(m in ex.source for ex in test.examples for m in _JAX_MARKERS):
            item.add_marker(skip)
