"""Test-suite configuration: the subprocess-heavy suites are marked ``slow``.

``python3 -m pytest`` runs everything (CI does); ``python3 -m pytest -m "not slow"`` skips
the suites that start interpreters, browsers or JAX compilations, for a quick loop while
developing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Each of these starts many subprocesses (doc shell sessions, example scripts, the report
# and the explorer in Chromium) or compiles with JAX: together about half of the suite's time.
SLOW_MODULES = {
    "test_bounded.py",
    "test_cli_flow.py",
    "test_compile_jax.py",
    "test_compile_computation_jax.py",
    "test_computation_report.py",
    "test_cli_train_computation.py",
    "test_docs_commands.py",
    "test_examples.py",
    "test_explore.py",
    "test_gradient_flow_jax.py",
    "test_explain.py",
    "test_report.py",
    "test_second_order_jax.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
