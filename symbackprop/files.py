"""Reading and writing files safely: one atomic writer, one bounded reader, the size limits.

Writing (:func:`open_output`, :func:`write_bytes`, :func:`check_writable`):

- A regular file (or a new one) is written to a temporary file beside it, flushed,
  ``fsync``-ed and renamed over it, so a reader sees the old file or the new one, never a
  partial one. The new file keeps the old one's permission bits.
- A symbolic link is followed: the file it points to is replaced, the link stays.
- A FIFO, a character device (``/dev/null``, a terminal), ``/dev/stdout`` and ``-``
  (standard output) are written through, never replaced.
- Temporary files are named ``.<name>.symbackprop-tmp-<pid>-<random>``. If a process is
  killed while saving, its temporary file stays; the next save to the same place removes
  those of dead processes (and any older than :data:`STALE_AFTER` seconds).
- Anything that goes wrong is one :class:`~symbackprop.errors.OutputError` naming the path
  and the reason (a missing or read-only directory, a full disk).

Reading (:func:`open_input`, :func:`read_bytes`): only a regular file, or ``-`` for
standard input where the caller allows a stream. A FIFO or a device is refused at once
(opened without blocking, so a FIFO with no writer does not hang), and so is a file, or
a stream, larger than its limit.

Limits (:data:`LIMITS`): each has a default, an environment variable and a keyword
argument of the function that applies it; the argument wins over the variable, which wins
over the default. See docs/data-and-models.md for the table.

>>> limit("data_bytes") == LIMITS["data_bytes"].default    # unless SYMBACKPROP_MAX_DATA_BYTES is set
True
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO

from .errors import OutputError, SpecError, SymbackpropError

__all__ = [
    "LIMITS",
    "STALE_AFTER",
    "TEMP_TAG",
    "Limit",
    "check_writable",
    "limit",
    "open_input",
    "open_output",
    "read_bytes",
    "write_bytes",
]

#: What marks a temporary file of ours: ``.<name>.symbackprop-tmp-<pid>-<random>``.
TEMP_TAG = ".symbackprop-tmp-"
#: A temporary file of ours older than this (seconds) is stale even if its pid is alive
#: (pids are reused; the writer may run on another machine sharing the folder).
STALE_AFTER = 24 * 3600

MiB = 1 << 20


@dataclass(frozen=True)
class Limit:
    """A size limit: its default, the environment variable that overrides it, what it bounds."""

    default: int
    env: str
    what: str


#: Every size limit by name. Raise one with the function's keyword argument (named in the
#: error message) or the environment variable.
LIMITS: dict[str, Limit] = {
    "data_bytes": Limit(256 * MiB, "SYMBACKPROP_MAX_DATA_BYTES", "size of a data (CSV) file, in bytes"),
    "data_rows": Limit(10_000_000, "SYMBACKPROP_MAX_DATA_ROWS", "data rows of a CSV file"),
    "data_columns": Limit(100_000, "SYMBACKPROP_MAX_DATA_COLUMNS", "columns of a CSV file"),
    "data_cells": Limit(
        1 << 25, "SYMBACKPROP_MAX_DATA_CELLS",
        "numbers in X and Y together (rows × columns, one column per class), 256 MiB of float64",
    ),
    "model_bytes": Limit(
        64 * MiB, "SYMBACKPROP_MAX_MODEL_BYTES",
        "size of a model file, and the total size its arrays declare, in bytes",
    ),
    "model_spec_bytes": Limit(
        8 * MiB, "SYMBACKPROP_MAX_MODEL_SPEC_BYTES", "size of a model file's spec entry, in bytes",
    ),
    "text_bytes": Limit(16 * MiB, "SYMBACKPROP_MAX_TEXT_BYTES", "size of a formula file, in bytes"),
    # Exercises and grading (symbackprop.exercises).
    "roster_rows": Limit(5_000, "SYMBACKPROP_MAX_ROSTER_ROWS", "students in a roster or an answers file"),
    "answers_bytes": Limit(16 * MiB, "SYMBACKPROP_MAX_ANSWERS_BYTES", "size of an answers file (CSV or JSON), in bytes"),
    "answer_chars": Limit(2_000, "SYMBACKPROP_MAX_ANSWER_CHARS", "characters of one answer"),
}


def limit(name: str, given: int | None = None) -> int:
    """The limit ``name`` in force: ``given`` if not None, else its environment variable,
    else its default. Raises :class:`~symbackprop.errors.SpecError` for a value that is
    not a positive integer.

    Examples
    --------
    >>> limit("data_rows", 1000)
    1000
    >>> limit("data_rows", 0)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: The limit data_rows must be a positive integer; got 0.
    """
    entry = LIMITS[name]
    source = "The limit " + name
    if given is None:
        text = os.environ.get(entry.env, "").strip()
        if not text:
            return entry.default
        source = f"The environment variable {entry.env}"
        try:
            given = int(text.replace("_", ""))
        except ValueError:
            raise SpecError(f"{source} must be a positive integer; got {text!r}.") from None
    if isinstance(given, bool) or not isinstance(given, int) or given < 1:
        raise SpecError(f"{source} must be a positive integer; got {given!r}.")
    return given


def too_large(what: str, path: str, size: int | None, bound: int, name: str, argument: str | None) -> str:
    """The message for ``what`` at ``path`` of ``size`` over ``bound`` (the limit ``name``):
    how big it is and how to raise the limit.

    Examples
    --------
    >>> too_large("data file", "big.csv", 3 << 30, 256 << 20, "data_bytes", "max_bytes")
    'big.csv: the data file is 3 GiB, over the limit of 256 MiB; raise it with max_bytes=... or the environment variable SYMBACKPROP_MAX_DATA_BYTES.'
    """
    how = "larger than" if size is None else f"{_size(size)}, over"
    raise_it = f"{argument}=... or " if argument else ""
    return (
        f"{path}: the {what} is {how} the limit of {_size(bound)}; "
        f"raise it with {raise_it}the environment variable {LIMITS[name].env}."
    )


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


# ------------------------------------------------------------------ reading
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)"...), None for a regular file."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "not a regular file"


class _Bounded(io.RawIOBase):
    """A binary stream that raises ``error`` once more than ``max_bytes`` have been read."""

    def __init__(self, raw: BinaryIO, max_bytes: int, fail):
        self.raw, self.left, self.fail = raw, max_bytes, fail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # Read at most one byte past the limit: enough to know it is exceeded.
        view = memoryview(buffer)[: self.left + 1]
        n = self.raw.readinto(view) or 0
        self.left -= n
        if self.left < 0:
            raise self.fail()
        return n


@contextlib.contextmanager
def open_input(
    path: str | os.PathLike,
    *,
    what: str = "file",
    error: type[SymbackpropError] = SymbackpropError,
    limit_name: str = "data_bytes",
    max_bytes: int | None = None,
    argument: str | None = "max_bytes",
    stdin: bool = False,
) -> Iterator[BinaryIO]:
    """Open ``path`` for reading in binary, bounded by the limit ``limit_name``.

    Parameters
    ----------
    path : str or path-like
        A regular file; ``-`` is standard input when ``stdin`` is True. A FIFO, a device,
        a socket or a directory is refused (opened without blocking first, so that a FIFO
        nobody writes to does not hang).
    what : str
        What the file is, for messages ("data file", "model file").
    error : type
        The exception class to raise (all messages are one line naming ``path``).
    limit_name, max_bytes, argument : str, int or None, str
        The limit (see :data:`LIMITS`), its value from the caller (None: environment or
        default), and the caller's argument that raises it, for the message (None: only
        the environment variable does).
    stdin : bool
        Whether ``-`` means standard input.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = p.write_bytes(b"12345")
    >>> with open_input(p, what="text file", max_bytes=10) as fh:
    ...     fh.read()
    b'12345'
    >>> with open_input(p, what="text file", max_bytes=4) as fh:
    ...     fh.read()
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: ...a.txt: the text file is 5 bytes, over the limit of 4 bytes; raise it with max_bytes=... or the environment variable SYMBACKPROP_MAX_DATA_BYTES.
    >>> with open_input("/dev/null", what="data file") as fh:
    ...     pass
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: /dev/null is a character device, not a regular file: give a data file.
    """
    where = os.fspath(path)
    bound = limit(limit_name, max_bytes)

    def over(size: int | None):
        return lambda: error(too_large(what, where, size, bound, limit_name, argument))

    if stdin and where == "-":
        raw = sys.stdin.buffer
        with io.BufferedReader(_Bounded(raw, bound, over(None))) as fh:
            yield fh
        return
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(where, flags)
    except OSError as exc:
        raise error(f"Cannot read {what} {where!r}: {exc.strerror or exc}.") from None
    try:
        st = os.fstat(fd)
        kind = _kind(st.st_mode)
        if kind is not None:
            hint = ", or - to read standard input" if stdin else ""
            raise error(f"{where} is {kind}, not a regular file: give a {what}{hint}.")
        if st.st_size > bound:
            raise over(st.st_size)()
        if hasattr(os, "O_NONBLOCK"):  # back to blocking reads (no effect on a regular file)
            os.set_blocking(fd, True)
        raw = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    # The file may grow after fstat: the bound holds for what is read, not what was seen.
    with raw, io.BufferedReader(_Bounded(raw, bound, over(None))) as fh:
        yield fh


def read_bytes(path: str | os.PathLike, **options) -> bytes:
    """The content of ``path``, read through :func:`open_input` (same options).

    Examples
    --------
    >>> read_bytes("/no/such/file", what="formula file")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: Cannot read formula file '/no/such/file': No such file or directory.
    """
    with open_input(path, **options) as fh:
        return fh.read()


# ------------------------------------------------------------------ writing
def _is_stream(path: str) -> bool:
    """``-``, or a path that names a process's own descriptors (never replace those)."""
    return path == "-" or path.startswith(("/dev/fd/", "/dev/std", "/proc/"))


def _special(path: str) -> str | None:
    """What ``path`` is when it exists and is not a regular file (following links)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return _kind(mode)


def _directory_problem(directory: str, shown: str | None = None) -> str | None:
    """Why a file cannot be created in ``directory`` (named ``shown`` in the message, the
    way the user wrote it), or None when it can."""
    shown = shown or directory
    if not os.path.exists(directory):
        return f"the directory {shown!r} does not exist"
    if not os.path.isdir(directory):
        return f"{shown!r} is not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"the directory {shown!r} is not writable"
    return None


def _target(path: str) -> str:
    """The file an atomic write replaces: ``path`` with every symbolic link followed."""
    return os.path.realpath(path)


def check_writable(path: str | os.PathLike, *, what: str = "file") -> None:
    """Raise :class:`OutputError` now if ``path`` cannot be written, before any work is done.

    ``-``, a FIFO and a character device must be openable for writing; any other path must
    not be a directory, and its directory (after following symbolic links) must exist and
    be writable.

    Examples
    --------
    >>> check_writable("-")
    >>> check_writable("/no/such/folder/model.npz", what="model file")
    Traceback (most recent call last):
    ...
    symbackprop.errors.OutputError: Cannot write model file '/no/such/folder/model.npz': the directory '/no/such/folder' does not exist.
    """
    where = os.fspath(path)
    why = _why_not_writable(where)
    if why:
        raise OutputError(f"Cannot write {what} {where!r}: {why}.")


def _why_not_writable(where: str) -> str | None:
    if where == "-":
        return None
    kind = _special(where)
    if kind == "a directory":
        return "it is a directory"
    if kind in ("a FIFO (named pipe)", "a character device") or (kind is None and _is_stream(where)
                                                                  and os.path.exists(where)):
        return None if os.access(where, os.W_OK) else "it is not writable"
    if kind is not None:
        return f"it is {kind}; write to a regular file, a FIFO, a character device or -"
    target = _target(where)
    if os.path.isdir(target):
        return "it is a directory"
    directory = os.path.dirname(target) or "."
    given = os.path.dirname(where) or "."
    # Name the directory as the user wrote it unless a symbolic link led elsewhere.
    return _directory_problem(directory, given if os.path.realpath(given) == directory else None)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) is not a harmless probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        return True
    return True


def remove_stale(target: str) -> list[str]:
    """Remove the temporary files of ours beside ``target`` left by dead processes (or
    older than :data:`STALE_AFTER`); return their paths. Never raises.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / ".m.npz.symbackprop-tmp-999999999-abcd").write_bytes(b"x")   # no such pid
    >>> [pathlib.Path(p).name for p in remove_stale(str(d / "m.npz"))]
    ['.m.npz.symbackprop-tmp-999999999-abcd']
    """
    directory, name = os.path.split(target)
    prefix = f".{name}{TEMP_TAG}"
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(directory or "."))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        try:
            pid = int(pid_text)
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
        except (ValueError, OSError):
            continue
        if old or (pid != os.getpid() and not _alive(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed


@contextlib.contextmanager
def _through(where: str, mode: str, what: str) -> Iterator[IO]:
    """Write straight to a stream (``-``, a FIFO, a device): no temporary file, no rename."""
    kwargs = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
    if where == "-":
        out = sys.stdout if mode == "w" else sys.stdout.buffer
        yield out
        out.flush()
        return
    try:
        fh = open(where, mode, **kwargs)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise OutputError(f"Cannot write {what} {where!r}: {exc.strerror or exc}.") from None
    try:
        with _closing(fh):
            yield fh
    except OSError as exc:  # a full device (/dev/full), a FIFO whose reader left
        raise OutputError(f"Cannot write {what} {where!r}: {exc.strerror or exc}.") from None


@contextlib.contextmanager
def _closing(fh: IO) -> Iterator[IO]:
    """Close ``fh`` after the body; if the body failed, a second error from closing (the
    buffer's flush failing again) does not hide the first."""
    try:
        yield fh
    except BaseException:
        with contextlib.suppress(OSError):
            fh.close()
        raise
    fh.close()


@contextlib.contextmanager
def open_output(path: str | os.PathLike, mode: str = "wb", *, what: str = "file") -> Iterator[IO]:
    """Open ``path`` for writing: atomically for a file, straight through for a stream.

    For a regular file (or a new one), yields a temporary file beside the target (after
    following symbolic links); when the body ends, it is flushed, ``fsync``-ed and renamed
    over the target. If the body raises, the temporary file is removed and the target is
    left as it was. ``-``, a FIFO and a character device are written through.
    ``mode`` is ``"wb"`` or ``"w"`` (UTF-8 text, no newline translation).

    Raises
    ------
    OutputError
        Naming the path and the reason, for an ``OSError`` while writing.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with open_output(target, "w") as fh:
    ...     _ = fh.write("done\\n")
    >>> target.read_text()
    'done\\n'
    >>> with open_output("/dev/null", "w") as fh:    # written through, not replaced
    ...     _ = fh.write("gone")
    """
    if mode not in ("wb", "w"):
        raise SpecError(f"open_output mode must be 'wb' or 'w'; got {mode!r}.")
    where = os.fspath(path)
    kind = _special(where)
    if where == "-" or kind in ("a FIFO (named pipe)", "a character device") or (
        _is_stream(where) and os.path.exists(where)
    ):
        with _through(where, mode, what) as fh:
            yield fh
        return
    why = _why_not_writable(where)
    if why:
        raise OutputError(f"Cannot write {what} {where!r}: {why}.")
    target = _target(where)
    directory = os.path.dirname(target) or "."
    remove_stale(target)
    tmp = os.path.join(
        directory, f".{os.path.basename(target)}{TEMP_TAG}{os.getpid()}-{secrets.token_hex(4)}"
    )
    try:
        # O_EXCL: never open someone else's file; 0o666 minus the umask, as open() would.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise OutputError(f"Cannot write {what} {where!r}: {exc.strerror or exc}.") from None
    try:
        kwargs = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
        with _closing(os.fdopen(fd, mode, **kwargs)) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):  # keep the permission bits of the file replaced
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"Cannot write {what} {where!r}: {exc.strerror or exc}.") from None
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the rename durable (best effort: not every system can fsync a directory)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes, *, what: str = "file") -> None:
    """Write ``data`` to ``path`` with :func:`open_output`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> write_bytes(target, b"\\x00\\x01")
    >>> target.read_bytes()
    b'\\x00\\x01'
    """
    with open_output(path, "wb", what=what) as fh:
        fh.write(data)
