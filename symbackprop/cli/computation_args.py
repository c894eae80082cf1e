"""Values for a computation on the command line, and ``derive --file`` (a computation file).

``--at`` takes a JSON file ``{name: number}`` or inline pairs ``x=1,y=2``; either gives
values by name for the parameters, inputs and targets.
"""

from __future__ import annotations

import argparse
import json
import os
import re

from .common import say

__all__ = ["read_values", "read_json_values", "add_computation_file", "run_file", "report_file", "walkthrough_file", "FORMATS"]

FORMATS = ("text", "latex", "markdown", "json")

_PAIRS = re.compile(r"^\s*[A-Za-z_]\w*\s*=\s*[^,=]+(\s*,\s*[A-Za-z_]\w*\s*=\s*[^,=]+)*\s*$")


def read_values(text: str, flag: str = "--at") -> dict[str, float]:
    """``x=1,y=2`` or the path of a JSON file ``{name: number}``, as ``{name: value}``.

    Examples
    --------
    >>> read_values("x=1, y=-2.5")
    {'x': 1.0, 'y': -2.5}
    >>> read_values("x=one")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: --at x=one: 'one' is not a number; write name=number pairs such as x=1,y=2, or give a JSON file {name: number}.
    """
    from ..errors import SpecError

    if _PAIRS.match(text) and not os.path.exists(text):
        out = {}
        for pair in text.split(","):
            name, value = (part.strip() for part in pair.split("="))
            try:
                out[name] = float(value)
            except ValueError:
                raise SpecError(f"{flag} {text}: {value!r} is not a number; write name=number pairs such as "
                                "x=1,y=2, or give a JSON file {name: number}.") from None
        return out
    return {str(k): float(v) for k, v in read_json_values(text, flag).items()}


def read_json_values(path: str, flag: str = "--at") -> dict[str, float]:
    """The JSON file ``{name: number}`` at ``path``, its numbers as written (int or float).

    Read bounded like a formula file; a FIFO or a device (/dev/zero) is refused unread.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    ...     _ = f.write('{"w1_1_1": 2, "b1_1": 0.5}')
    >>> read_json_values(f.name)
    {'w1_1_1': 2, 'b1_1': 0.5}
    >>> os.remove(f.name)
    """
    from ..errors import SpecError
    from ..files import read_bytes

    raw = read_bytes(path, what=f"{flag} file", error=SpecError, limit_name="text_bytes", argument=None)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"{flag} file {path!r} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in data.values()
    ):
        raise SpecError(f"{flag} file {path!r} must hold one JSON object {{name: number}}.")
    return data


def add_computation_file(p: argparse.ArgumentParser, help: str = "a computation file (params:/inputs:/targets: "
                         "headers, then lines name = formula) instead of --layers; --at then gives values "
                         "by name (JSON file or x=1,y=0)") -> None:
    """--file: a computation file instead of --layers (see docs/computations.md)."""
    for action in p._actions:
        if "--layers" in action.option_strings:
            action.required = False  # --file replaces it
    p.add_argument("--file", metavar="MODEL.txt", help=help)


def run_file(args: argparse.Namespace) -> int:
    """``symbackprop derive --file model.txt [--wrt w1,x] [--at values.json|x=1,...]``."""
    from ..computation_file import load_computation
    from ..derivation import partial_name
    from ..errors import ExpressionTooLargeError, SpecError
    from ..notation import to_latex, to_str, to_text
    from .derive import print_derivations, print_gradients

    if args.layers is not None or args.equations:
        what = "--layers" if args.layers is not None else "--equations (layer-level equations exist only for layered networks)"
        raise SpecError(f"--file reads a computation; it cannot go with {what}.")
    if args.x is not None or args.y is not None:
        raise SpecError("With --file, give inputs and targets by name in --at (e.g. --at x=1,y=0 or a JSON file).")
    values = read_values(args.at) if args.at is not None else None
    g = load_computation(args.file)
    if args.wrt.strip() == "all":
        wrt = list(g.params) or list(g.inputs)
    else:
        wrt = [g.symbol(name.strip()) for name in args.wrt.split(",")]
    if args.expand:
        if values is not None:
            raise SpecError("--at shows values in the step-by-step derivation; it cannot go with --expand.")
        try:
            grads = {p: g.grad(p, expand=True) for p in wrt}
        except ExpressionTooLargeError as exc:
            first = str(exc).split(";")[0]
            raise SpecError(f"{first}. Leave out --expand for the compact form.") from None
        if args.format == "json":
            for p, e in grads.items():
                say(json.dumps({p.name: {"expanded": to_str(e), "latex": to_latex(e)}}))
        else:
            print_gradients(((partial_name(g.loss, p, to_text, to_latex), e) for p, e in grads.items()), args.format)
        return 0
    derivations = (g.derivation(p) for p in wrt)
    if values is not None:
        derivations = (d.at(values) for d in derivations)
    return print_derivations(derivations, args.format)


def render_file(args: argparse.Namespace) -> int:
    """``symbackprop render --file model.txt --what graph|paths|formula|expression``."""
    from .. import render
    from ..computation_file import load_computation
    from ..errors import SpecError
    from .common import check_picture

    check_picture("--out", args.out)
    if args.layers is not None or args.what in ("network", "equations"):
        what = "--layers" if args.layers is not None else f"--what {args.what} (it exists only for layered networks)"
        raise SpecError(f"--file reads a computation; it cannot go with {what}. "
                        "Use --what graph, paths, formula or expression.")
    g = load_computation(args.file)
    wrt = g.symbol(args.wrt) if args.wrt else (g.params or g.inputs or (g.definitions[0][0],))[0]
    if args.what == "graph":
        drawing = render.draw_computation_graph(g)
    elif args.what == "paths":
        drawing = render.draw_gradient_paths(g, wrt)
    elif args.what == "formula":
        drawing = render.draw_formula(g.derivation(wrt))
    else:
        drawing = render.draw_expression(g.grad(wrt))
    say(str(drawing.save(args.out)))
    return 0


def report_file(args: argparse.Namespace) -> int:
    """``symbackprop report --file model.txt --out report.html``: the computation's page."""
    from ..computation_file import load_computation
    from ..errors import SpecError
    from ..reporting import MAX_PARAMS, report
    from .common import check_writable

    check_writable("--out", args.out)
    if args.layers is not None:
        raise SpecError("--file reads a computation; it cannot go with --layers.")
    if args.data:
        raise SpecError("--data trains a network given by --layers; a computation's report shows its "
                        "derivations and the compiled check at one point. Train a computation with "
                        "symbackprop train --file, or call sbp.report(g, path, params=..., data=...).")
    g = load_computation(args.file)
    say(str(report(g, args.out, max_params=args.max_params or MAX_PARAMS)))
    return 0


def walkthrough_file(args: argparse.Namespace) -> int:
    """``symbackprop walkthrough --file model.txt --at w1=0.5,...,x=1,y=0 --lr 0.1``."""
    from ..computation_file import load_computation
    from ..errors import SpecError
    from .common import check_writable
    from .walkthrough import _rows, emit

    if args.layers is not None:
        raise SpecError("--file reads a computation; it cannot go with --layers.")
    if (args.at is None) == (args.seed is None):
        raise SpecError("Give the parameters with --at (a JSON file {name: number} or pairs w1=0.5,x=1,...) "
                        "or --seed N (one of them).")
    if args.out is not None:
        check_writable("--out", args.out)
    given = read_values(args.at) if args.at is not None else {}
    rows = {"--x": _rows(args.x, "--x") if args.x is not None else None,
            "--y": _rows(args.y, "--y") if args.y is not None else None}
    g = load_computation(args.file)
    unknown = sorted(set(given) - {s.name for s in (*g.params, *g.inputs, *g.targets)})
    if unknown:
        raise SpecError(f"--at names {', '.join(unknown[:5])}: not parameters, inputs or targets of the "
                        f"computation (they are {', '.join(s.name for s in (*g.params, *g.inputs, *g.targets))}).")
    for flag, names in (("--x", g.inputs), ("--y", g.targets)):
        if rows[flag] is None and names:
            have = [s.name for s in names if s.name in given]
            if len(have) != len(names):
                raise SpecError(f"Give the sample's {'inputs' if flag == '--x' else 'targets'} "
                                f"({', '.join(s.name for s in names)}) with {flag} or by name in --at.")
            rows[flag] = [[given[s.name] for s in names]]
    params = {p.name: given[p.name] for p in g.params if p.name in given} if args.at is not None else g.init_params(args.seed)
    return emit(args, g, params, rows["--x"], rows["--y"])


def with_file(run, on_file=run_file, command: str = "derive"):  # noqa: ANN001, ANN201
    """``run`` for a network, or ``on_file`` when ``--file`` names a computation."""
    import functools

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        from ..errors import SpecError

        if getattr(args, "file", None) is not None:
            return on_file(args)
        if args.layers is None:
            raise SpecError(f"{command} needs --layers (a network) or --file (a computation file).")
        return run(args)

    return wrapped
