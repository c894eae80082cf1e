"""Test-suite configuration: the subprocess-heavy suites are marked ``slow``.

``python3 -m pytest`` runs everything (CI does); ``python3 -m pytest -m "not slow"`` skips
the suites that start interpreters, browsers or JAX compilations, for a quick loop while
developing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Each of these starts many subprocesses (doc shell sessions, example scripts, the report
# in Chromium) or compiles with JAX: together about half of the suite's time.
SLOW_MODULES = {
    "test_bounded.py",
    "test_compile_jax.py",
    "test_docs_commands.py",
    "test_examples.py",
    "test_fast_backend.py",  # numba compiles each architecture (seconds each, cached after)
    "test_report.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
