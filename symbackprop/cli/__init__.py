"""The ``symbackprop`` command line.

Each subcommand lives in its own module of this package with an ``add_parser(sub)``
function that registers it and sets ``func``, the function that runs it and returns the
exit code. Heavy imports (SymPy, NumPy, matplotlib) happen inside those functions, so
``symbackprop --help`` answers fast.

Exit codes (see docs/cli.md):

- 0: success (for ``check``: the formula is right);
- 1: ``check``'s and ``check-layer``'s negative answer (the formula is wrong), and nothing else;
- 2: bad input, or any other failure: one line on stderr, never a traceback. An unexpected
  error's line ends with a pointer to ``--debug``, which prints the traceback of any error;
- 130: interrupted (Ctrl-C);
- 141: standard output was closed early (``symbackprop predict ... | head -1``), quietly,
  as for a program stopped by SIGPIPE.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

__all__ = ["main", "COMMANDS", "EXIT_OK", "EXIT_WRONG", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_BROKEN_PIPE"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("derive", "check", "check_layer", "train", "render", "exercise", "grade", "walkthrough", "explore", "explain", "hessian")

EXIT_OK, EXIT_WRONG, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141

DEBUG_HELP = "on an error, print the Python traceback before the one-line message"


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line (usage goes to ``--help``)."""

    def error(self, message: str) -> NoReturn:
        from .common import printable

        self.exit(EXIT_BAD_INPUT, printable(
            f"{self.prog}: error: {message} ('{self.prog} --help' lists the flags)\n"))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = _Parser(
        prog="symbackprop",
        description="Derive neural-network gradients symbolically, check them, train with them.",
        epilog="exit codes: 0 success (check: right), 1 check: wrong, 2 bad input or any "
        "other failure (one line on stderr), 130 interrupted, 141 output closed early.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).add_parser(sub)
    for command in sub.choices.values():  # --debug also after the command's name
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _version() -> str:
    from .. import __version__

    return f"symbackprop {__version__}"


_NEGATIVE = re.compile(r"-\.?\d")


def _join_negative_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--layers -1,2`` -> ``--layers=-1,2``, so that a value starting with a minus sign
    reaches the option (and its own clear message) instead of looking like a flag to argparse."""
    takes_value = set()
    parsers = [parser]
    while parsers:
        p = parsers.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.option_strings and action.nargs is None and not isinstance(
                action, (argparse._StoreConstAction, argparse._VersionAction, argparse._HelpAction)
            ):
                takes_value.update(action.option_strings)
    out, i = [], 0
    while i < len(argv):
        if argv[i] in takes_value and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _one_line(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _stdout_to_devnull() -> None:
    """After a broken pipe: point stdout at /dev/null so that the interpreter's last flush
    stays quiet (the recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (captured by a test): nothing will be flushed to a pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see the module's notes)."""
    from .common import for_cli, printable

    parser = build_parser()
    argv = _join_negative_values(parser, list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in argv
    command = "symbackprop"

    def fail(message: str) -> int:
        if debug and sys.exc_info()[0] is not None:  # --debug: the traceback, then the line
            import traceback

            traceback.print_exc()
        print(printable(f"{command}: error: {_one_line(message)}"), file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version (0) or a usage error (2, one line)
            return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
        command, debug = f"symbackprop {args.command}", args.debug
        from ..errors import SymbackpropError

        try:
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
            return code
        except SymbackpropError as exc:
            return fail(for_cli(str(exc)))
        except OSError as exc:
            if isinstance(exc, BrokenPipeError) or exc.strerror is None:
                raise
            where = f"{exc.filename!r}: " if exc.filename else ""
            return fail(f"{where}{exc.strerror}.")
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug, or bad input nothing checked: one line, exit 2
        what = f"{type(exc).__name__}: {str(exc).rstrip('.')}" if str(exc) else type(exc).__name__
        hint = "" if debug else " (run again with --debug for the traceback)"
        return fail(f"unexpected {what}{hint}.")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
