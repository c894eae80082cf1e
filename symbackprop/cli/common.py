"""What every subcommand shares: the network options, checked option values, paths checked
before any work, and output that is safe for a terminal and a spreadsheet."""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..network import Network


def add_network_args(parser: argparse.ArgumentParser) -> None:
    """Add --layers, --activation and --loss to ``parser``."""
    group = parser.add_argument_group("network")
    group.add_argument(
        "--layers", required=True, metavar="N0,N1,...",
        help="layer sizes, inputs first, e.g. 2,3,1",
    )
    group.add_argument(
        "--activation", default="sigmoid", metavar="NAME[,NAME...]",
        help="one activation for all layers, or one per layer after the inputs "
        "(relu, sigmoid, tanh, arctan, identity, softplus, leaky_relu, softmax; "
        "or a formula in z). Default: sigmoid",
    )
    group.add_argument(
        "--loss", default="quadratic", metavar="NAME",
        help="quadratic, mse, binary_cross_entropy, cross_entropy, or a formula in the "
        "output and target symbols. Default: quadratic",
    )


def parse_layers(text: str) -> list[int]:
    """``"2,3,1"`` -> ``[2, 3, 1]``, with a clear error otherwise.

    Examples
    --------
    >>> parse_layers("2, 3,1")
    [2, 3, 1]
    >>> parse_layers("2,x")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: --layers must be comma-separated positive integers such as 2,3,1; got '2,x'.
    >>> parse_layers("2")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: --layers needs at least two sizes, the inputs and the outputs, such as 2,1; got '2'.
    """
    from ..errors import SpecError

    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise SpecError(
            f"--layers must be comma-separated positive integers such as 2,3,1; got {text!r}."
        )
    if len(parts) < 2:
        raise SpecError(
            f"--layers needs at least two sizes, the inputs and the outputs, such as 2,1; got {text!r}."
        )
    return [int(p) for p in parts]


def split_activations(text: str) -> list[str]:
    """Split ``"relu,sigmoid"`` at top-level commas (not those inside a formula's call).

    Examples
    --------
    >>> split_activations("relu,max(z, 0.1*z)")
    ['relu', 'max(z, 0.1*z)']
    """
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    parts.append(current.strip())
    return parts


def network_from_args(args: argparse.Namespace) -> Network:
    """Build the network the --layers/--activation/--loss options describe."""
    from ..network import mlp

    sizes = parse_layers(args.layers)
    acts = split_activations(args.activation)
    activation = acts[0] if len(acts) == 1 else acts
    return mlp(sizes, activation=activation, loss=args.loss.strip())


# --- option values, checked by argparse so that the message names the flag ----------------


def number(kind: type, rule: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse ``type`` that converts to ``kind`` and accepts values where ``ok`` holds.

    Examples
    --------
    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a positive integer; got '0'
    """
    import math

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}; got {text!r}")
        return value

    return convert


positive_int = number(int, "a positive integer", lambda v: v > 0)
nonnegative_int = number(int, "an integer >= 0", lambda v: v >= 0)
positive_float = number(float, "a positive number", lambda v: v > 0)
momentum_value = number(float, "a number in [0, 1)", lambda v: 0 <= v < 1)
precision_value = number(int, "an integer from 1 to 17", lambda v: 1 <= v <= 17)


# --- paths: checked before any work, so that a typo never costs a run --------------------


def check_writable(flag: str, path: str, *, stdout: bool = False) -> None:
    """:func:`symbackprop.files.check_writable` for the path given to ``flag``: refuse now,
    in one line naming the flag, a path that cannot be written.

    ``-`` means standard output only where ``stdout`` is true (elsewhere it is refused).

    Examples
    --------
    >>> check_writable("--out", "/no/such/folder/p.csv")
    Traceback (most recent call last):
    ...
    symbackprop.errors.OutputError: Cannot write --out '/no/such/folder/p.csv': the directory '/no/such/folder' does not exist.
    """
    from ..errors import SpecError
    from ..files import check_writable as writable

    if path == "-" and not stdout:
        raise SpecError(f"{flag} cannot write to standard output ('-'); give a file name.")
    if not path.strip():
        raise SpecError(f"{flag} needs a file name; got {path!r}.")
    writable(path, what=flag)


def check_picture(flag: str, path: str) -> None:
    """:func:`check_writable`, and the extension must name a picture format
    (:func:`symbackprop.render.drawing.picture_format`), said in terms of ``flag``.

    Examples
    --------
    >>> check_picture("--out", "net.gif")
    Traceback (most recent call last):
    ...
    symbackprop.errors.OutputError: --out must end in .png, .svg or .pdf (the picture format); got 'net.gif'.
    """
    from pathlib import Path

    from ..errors import OutputError
    from ..render.drawing import FORMATS, picture_format

    try:
        picture_format(Path(path).suffix)
    except OutputError:
        raise OutputError(
            f"{flag} must end in {', '.join('.' + f for f in FORMATS[:-1])} or .{FORMATS[-1]} "
            f"(the picture format); got {path!r}."
        ) from None
    check_writable(flag, path)


# --- messages: in flags, not Python arguments ---------------------------------------------

#: Library wording that names Python arguments, and what a command-line user types instead.
_PYTHON_WORDS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(?:net|g)\.grad\([pv], expand=True\) builds it"), "--expand prints it"),
    (re.compile(r" ?\(Pass symbols=\[\.\.\.\] to allow more names\.\)"), ""),
    (re.compile(r"^(epochs|lr|batch_size|momentum|seed|points|timeout|max_params) (?=must )"),
     lambda m: "--" + m.group(1).replace("_", "-") + " "),
]


def for_cli(text: str) -> str:
    """``text`` from the library, reworded where it names Python arguments.

    Examples
    --------
    >>> for_cli("batch_size must be a positive integer; got 0.")
    '--batch-size must be a positive integer; got 0.'
    """
    for pattern, replacement in _PYTHON_WORDS:
        text = pattern.sub(replacement, text)
    return text


# --- output: safe for a terminal and for a spreadsheet ------------------------------------

_KEEP = {"\n", "\t"}


def printable(text: str) -> str:
    r"""``text`` with control and format characters escaped (``\x1b`` for ESC), so that a
    name or formula echoed to a terminal cannot move the cursor, recolour or hide text.

    Examples
    --------
    >>> printable("red\x1b[31m\u202egnp.exe\nok")
    'red\\x1b[31m\\u202egnp.exe\nok'
    >>> printable("∂J/∂w⁽¹⁾₁₁")
    '∂J/∂w⁽¹⁾₁₁'
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in _KEEP or unicodedata.category(ch) not in ("Cc", "Cf"):
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def say(text: str = "", *, err: bool = False) -> None:
    """Print ``text`` (escaped by :func:`printable`) to stdout, or stderr with ``err``."""
    print(printable(text), file=sys.stderr if err else sys.stdout)


def csv_cell(name: str) -> str:
    """A user-supplied name made safe for a CSV cell opened in a spreadsheet.

    A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is read as
    a formula by spreadsheets; like spreadsheet-safe writers (OWASP's CSV injection advice),
    it gets a leading ``'``. Plain numbers such as ``-1`` are left as they are.

    Examples
    --------
    >>> csv_cell('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> csv_cell("-1"), csv_cell("setosa")
    ('-1', 'setosa')
    """
    if name[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(name)
        except ValueError:
            return "'" + name
    return name
