"""The package surface: every export resolves, whatever was imported before it."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import symbackprop as sbp


def test_every_export_resolves_even_after_importing_every_submodule():
    # Importing a submodule binds its name on the package; no submodule may share a
    # name with an exported function (it would replace sbp.train by a module, say).
    for info in pkgutil.walk_packages(sbp.__path__, "symbackprop."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in sbp.__all__:
        value = getattr(sbp, name)
        if name == "datasets":
            assert isinstance(value, types.ModuleType)
        else:
            assert not isinstance(value, types.ModuleType), name


def test_import_is_light():
    code = "import sys, symbackprop; print(sorted(m for m in ('sympy', 'numpy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_limits_are_exported():
    from symbackprop.checking.latex import LatexLimits
    from symbackprop.limits import Limits

    assert sbp.Limits is Limits and sbp.LatexLimits is LatexLimits
    assert {"Limits", "LatexLimits"} <= set(sbp.__all__) <= set(dir(sbp))
