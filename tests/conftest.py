"""Test-suite configuration: the subprocess-heavy suites are marked ``slow``.

``python3 -m pytest`` runs everything (CI does); ``python3 -m pytest -m "not slow"`` skips
the suites that start interpreters, browsers or JAX compilations, for a quick loop while
developing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every machine and every run (a red CI is then a
# real failure, reproducible with the same command); HYPOTHESIS_PROFILE=explore draws fresh
# random examples, as a search for new failures.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# backend="auto" takes numba's on-disk cache into account: the tests start from an empty one,
# whatever the user's cache holds, so that auto picks the same backend on every machine.
_CACHE = None if "SYMBACKPROP_CACHE_DIR" in os.environ else tempfile.mkdtemp(prefix="symbackprop-test-cache-")
if _CACHE is not None:
    os.environ["SYMBACKPROP_CACHE_DIR"] = _CACHE


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CACHE is not None:
        shutil.rmtree(_CACHE, ignore_errors=True)

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
    "test_render_path_cli.py",
    "test_fast_backend.py",  # numba compiles each architecture (seconds each, cached after)
    "test_report.py",
    "test_second_order_jax.py",
    "test_sharding.py",
    "test_train_jax.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
