"""``python -m symbackprop``: the same as the ``symbackprop`` command."""

from .cli import run

run()
