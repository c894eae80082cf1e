"""``symbackprop walkthrough``: one SGD step, every value beside its formula."""

from __future__ import annotations

import argparse
import re

from .common import (
    add_network_args,
    check_writable,
    for_cli,
    network_from_args,
    nonnegative_int,
    positive_float,
    positive_int,
    say,
)

FORMATS = ("text", "latex", "markdown", "html", "json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .computation_args import add_computation_file

    p = sub.add_parser(
        "walkthrough",
        help="walk through one SGD step: forward pass, every delta and gradient, the update",
        description="Walk through one step of gradient descent at given parameters: the forward "
        "pass (every z, a and J), the backward pass (every delta and every dJ/dw, dJ/db), the "
        "update w+ = w - lr*dJ/dw of every parameter and the loss after it, each value beside "
        "its formula. Several samples (--x and --y with ';' between samples) make a mini-batch: "
        "each sample's gradients, then their mean.",
        epilog="example: symbackprop walkthrough --layers 2,2,2 --activation sigmoid "
        "--loss quadratic --at examples/mazur.json --lr 0.5",
    )
    add_network_args(p)
    add_computation_file(p)  # --file model.txt: symbackprop.cli.computation_args.walkthrough_file
    p.add_argument("--at", metavar="PARAMS.json",
                   help="JSON file {name: number}: every parameter (w1_1_1, b1_1, ...), and "
                   "optionally the sample's inputs and targets (x1, ..., y1, ...)")
    p.add_argument("--seed", type=nonnegative_int, metavar="N",
                   help="instead of --at: parameters initialised from this seed")
    p.add_argument("--x", metavar="X1,X2,...[;X1,X2,...]",
                   help="the sample's inputs (';' between the samples of a mini-batch); "
                   "overrides x1, x2, ... of the --at file")
    p.add_argument("--y", metavar="Y1,Y2,...[;Y1,Y2,...]",
                   help="the sample's targets, as --x")
    p.add_argument("--lr", type=positive_float, default=0.1, metavar="ETA",
                   help="learning rate (default 0.1)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("--out", metavar="FILE",
                   help="write to FILE (replaced atomically) instead of standard output")
    p.add_argument("--max-params", type=positive_int, default=None, metavar="N",
                   help="refuse a network of more than N parameters (default 80: past it a "
                   "walkthrough is no longer readable)")
    p.add_argument("--max-samples", type=positive_int, default=None, metavar="N",
                   help="refuse a mini-batch of more than N samples (default 8)")
    p.set_defaults(func=run)


def _rows(text: str, flag: str) -> list[list[float]]:
    from ..errors import SpecError

    try:
        return [[float(v) for v in row.split(",")] for row in text.split(";")]
    except ValueError:
        raise SpecError(f"{flag} must be comma-separated numbers, with ';' between samples; got {text!r}.") from None


def _sample_from_file(values: dict[str, float], names: list[str], flag: str, path: str) -> list[list[float]] | None:
    """The inputs (or targets) the --at file gives, all of them or none."""
    from ..errors import SpecError

    given = [n for n in names if n in values]
    if not given:
        return None
    if len(given) != len(names):
        missing = [n for n in names if n not in values]
        raise SpecError(f"--at file {path!r} gives {', '.join(given)} but not {', '.join(missing)}; "
                        f"give all of them, or use {flag}.")
    return [[float(values[n]) for n in names]]


#: The library's size refusal names Python arguments; the command line has flags.
_LIMIT = re.compile(r"pass (max_params|max_samples)=(\d+) \(or None\) to build it anyway")


def _in_flags(message: str) -> str:
    return _LIMIT.sub(lambda m: f"give --{m.group(1).replace('_', '-')} {m.group(2)} to build it anyway",
                      message)


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from .computation_args import read_json_values

    if (args.at is None) == (args.seed is None):
        raise SpecError("Give the parameters with --at PARAMS.json or --seed N (one of them).")
    if args.out is not None:
        check_writable("--out", args.out)
    given = read_json_values(args.at) if args.at is not None else {}  # files first: a typo must not wait
    x = _rows(args.x, "--x") if args.x is not None else None
    y = _rows(args.y, "--y") if args.y is not None else None
    net = network_from_args(args)
    names = {s.name for s in (*net.params, *net.inputs, *net.targets)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise SpecError(f"--at file {args.at!r} names {', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}: "
                        f"not parameters, inputs or targets of the {'-'.join(map(str, net.sizes))} network (it has "
                        f"{net.params[0]}, ..., {net.inputs[0]}, ..., {net.targets[0]}, ...).")
    if x is None:
        x = _sample_from_file(given, [s.name for s in net.inputs], "--x", args.at)
    if y is None:
        y = _sample_from_file(given, [s.name for s in net.targets], "--y", args.at)
    if x is None or y is None:
        raise SpecError(f"Give the sample's {'inputs with --x' if x is None else 'targets with --y'} "
                        f"(or as {'x1, x2, ...' if x is None else 'y1, y2, ...'} in the --at file).")
    for flag, rows, n, what in (("--x", x, net.sizes[0], "input"), ("--y", y, net.sizes[-1], "output")):
        bad = [len(r) for r in rows if len(r) != n]
        if bad:
            raise SpecError(f"{flag} needs {n} number(s) per sample, one per {what} of the network; got {bad[0]}.")
    if len(x) != len(y):
        raise SpecError(f"--x gives {len(x)} sample(s) but --y {len(y)}; give one target row per input row.")
    params = {k: v for k, v in given.items() if k in {p.name for p in net.params}} if args.at else net.init_params(args.seed)
    return emit(args, net, params, x, y)


def emit(args: argparse.Namespace, model, params, x, y) -> int:
    """Walk ``model`` (a network or a computation) through one step within the command's
    limits, and print the chosen ``--format`` or write it to ``--out``."""
    from ..errors import SpecError
    from ..files import write_bytes
    from ..walkthroughs import MAX_PARAMS, MAX_SAMPLES, walkthrough

    try:
        w = walkthrough(model, params, x, y, lr=args.lr,
                        max_params=args.max_params or MAX_PARAMS, max_samples=args.max_samples or MAX_SAMPLES)
    except SpecError as exc:
        raise SpecError(_in_flags(for_cli(str(exc)))) from None
    out = {"text": w.text, "latex": w.latex, "markdown": w.markdown, "json": w.json,
           "html": lambda: w.html(page=True)}[args.format]()
    if args.out is None:
        say(out)
        return 0
    write_bytes(args.out, (out if out.endswith("\n") else out + "\n").encode("utf-8"), what="--out")
    say(f"wrote {args.out}")
    return 0


from .computation_args import walkthrough_file, with_file  # noqa: E402 - the wrapper, kept at the end

run = with_file(run, walkthrough_file, "walkthrough")
