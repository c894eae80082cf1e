"""``python -m symbackprop``: the same as the ``symbackprop`` command."""

from .cli import run

if __name__ == "__main__":  # importing this module (a child process, a tool) runs nothing
    run()
