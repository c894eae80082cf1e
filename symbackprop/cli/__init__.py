"""The ``symbackprop`` command line.

Each subcommand lives in its own module of this package with an ``add_parser(sub)``
function that registers it and sets ``func``, the function that runs it and returns the
exit code. Heavy imports (SymPy, NumPy, matplotlib) happen inside those functions, so
``symbackprop --help`` answers fast.

Exit codes: 0 success, 1 a negative answer (e.g. a gradient check that fails),
2 bad input (the message names what is accepted).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main", "COMMANDS"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("derive", "check", "train", "render")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Derive neural-network gradients symbolically, check them, train with them.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).add_parser(sub)
    return parser


def _version() -> str:
    from .. import __version__

    return f"symbackprop {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 negative answer, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..errors import SymbackpropError

    try:
        return int(args.func(args) or 0)
    except SymbackpropError as exc:
        print(f"symbackprop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"symbackprop {args.command}: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
