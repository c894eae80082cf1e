"""A computation in a text file: header lines declaring the names, then the definitions.

The format (docs/computations.md)::

    # a tanh unit with a skip connection
    params: w1 b1 w2 w3 b2
    inputs: x
    targets: y
    h = tanh(w1*x + b1)
    o = sigmoid(w2*h + w3*x + b2)
    J = (o - y)**2 / 2

Header lines are ``params:``, ``inputs:``, ``targets:`` and ``outputs:`` followed by names
(space or comma separated); each may appear once, anywhere. Every other line is a definition
as :func:`~symbackprop.computations.computation` reads it, comments and blank lines allowed;
line numbers in error messages are the file's. The file is read with the bounded reader of
:mod:`symbackprop.files` (its size is limited; a FIFO or device is refused unread).
"""

from __future__ import annotations

import os
import re

from .computations import Computation, computation
from .errors import ComputationError, closest
from .limits import Limits

__all__ = ["load_computation", "read_computation", "HEADERS"]

#: The header keys of a computation file.
HEADERS = ("params", "inputs", "targets", "outputs")

_HEADER = re.compile(r"^\s*([A-Za-z_]\w*)\s*:(.*)$")


def read_computation(text: str, *, limits: Limits | None = None, where: str = "The computation") -> Computation:
    """A :class:`Computation` from the text of a computation file.

    Examples
    --------
    >>> g = read_computation("params: w\\ninputs: x\\ntargets: y\\nJ = (w*x - y)**2")
    >>> g.params, g.inputs, g.targets
    ((w,), (x,), (y,))
    >>> read_computation("parms: w\\nJ = w")
    Traceback (most recent call last):
    ...
    symbackprop.errors.ComputationError: The computation, line 1: unknown header 'parms:' (did you mean 'params'?); headers are params:, inputs:, targets:, outputs:.
    """
    declared: dict[str, str] = {}
    body = []
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line.split("#", 1)[0])
        if m is None:
            body.append(line)
            continue
        key = m.group(1)
        if key not in HEADERS:
            guess = closest(key, HEADERS)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise ComputationError(
                f"{where}, line {number}: unknown header {key + ':'!r}{hint}; headers are "
                f"{', '.join(h + ':' for h in HEADERS)}."
            )
        if key in declared:
            raise ComputationError(f"{where}, line {number}: a second {key}: header; declare each once.")
        declared[key] = m.group(2)
        body.append("")  # keeps the definitions' line numbers those of the file
    return computation("\n".join(body), params=declared.get("params", ""), inputs=declared.get("inputs", ""),
                       targets=declared.get("targets", ""), outputs=declared.get("outputs"), limits=limits)


def load_computation(path: str | os.PathLike, *, limits: Limits | None = None) -> Computation:
    """Read a computation file (see the module notes for its format).

    Examples
    --------
    >>> load_computation("/no/such/model.txt")
    Traceback (most recent call last):
    ...
    symbackprop.errors.ComputationError: Cannot read computation file '/no/such/model.txt': No such file or directory.
    """
    from .files import read_bytes

    raw = read_bytes(path, what="computation file", error=ComputationError, limit_name="text_bytes", argument=None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ComputationError(f"Computation file {str(path)!r} is not UTF-8 text.") from None
    return read_computation(text, limits=limits, where=f"Computation file {str(path)!r}")
