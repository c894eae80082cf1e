"""``symbackprop explore``: write the interactive explorer page (see :mod:`symbackprop.explorer`)."""

from __future__ import annotations

import argparse

from .common import (
    add_network_args,
    check_writable,
    momentum_value,
    network_from_args,
    nonnegative_int,
    positive_float,
    positive_int,
    say,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore",
        help="write an interactive HTML page: one training step walked through, every "
        "derivation a click away, the training run on a slider",
        description="Write one self-contained HTML file (no network access needed to open it) "
        "that shows the network as a diagram, walks one SGD step at one sample (forward, "
        "backward, update) with every value, opens the derivation of any weight or bias when "
        "it is clicked, and, with --data, trains and shows the loss, the weights and (for 2 "
        "inputs) the decision boundary on an epoch slider. Formulas are MathML, typeset by "
        "the browser.",
        epilog="examples:\n"
        "  symbackprop explore --layers 4,8,8,3 --activation relu,relu,softmax --loss cross_entropy \\\n"
        "      --data iris --out iris.html\n"
        "  symbackprop explore --layers 2,2,2 --activation sigmoid --loss quadratic \\\n"
        "      --x 0.05,0.10 --y 0.01,0.99 --lr 0.5 --out step.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_args(p)
    p.add_argument("--out", required=True, metavar="FILE.html", help="the page to write")
    sample = p.add_argument_group("the sample walked through")
    sample.add_argument("--x", metavar="X1,X2,...", help="its inputs (default: a row of --data, "
                        "else seeded numbers in [-1, 1])")
    sample.add_argument("--y", metavar="Y1,Y2,...", help="its target (with --x)")
    sample.add_argument("--sample", type=nonnegative_int, default=0, metavar="N",
                        help="with --data and no --x: the row to walk through (default 0)")
    sample.add_argument("--at", metavar="PARAMS.json",
                        help="JSON file {name: value} of every parameter to start from, and "
                        "optionally the sample (x1, ..., y1, ...) (default: initialised from --seed)")
    data = p.add_argument_group("training (with --data)")
    data.add_argument("--data", metavar="NAME|FILE.csv",
                      help="xor, moons, circles, spirals, iris, or a CSV file with a header row: "
                      "train on it and add the epoch slider")
    data.add_argument("--target", metavar="COLUMN[,COLUMN...]",
                      help="target column(s) of the CSV file (default: the last column)")
    data.add_argument("--epochs", type=positive_int, default=100, help="passes over the data (default 100)")
    data.add_argument("--lr", type=positive_float, default=0.1,
                      help="learning rate of the step shown and of training (default 0.1)")
    data.add_argument("--batch-size", type=positive_int, default=32, help="samples per step (default 32)")
    data.add_argument("--momentum", type=momentum_value, default=0.0, help="momentum in [0, 1) (default 0)")
    data.add_argument("--seed", type=nonnegative_int, default=0,
                      help="seed of the initial weights and the shuffling (default 0)")
    data.add_argument("--snapshots", type=positive_int, default=12,
                      help="about how many epochs to record the weights at (default 12)")
    data.add_argument("--no-gradient-flow", action="store_true",
                      help="leave out the gradient-flow section (its bound for tanh takes SymPy "
                      "several seconds)")
    p.set_defaults(func=run)


def _numbers(text: str | None, flag: str) -> list[float] | None:
    from ..errors import SpecError

    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise SpecError(f"{flag} must be comma-separated numbers; got {text!r}.") from None


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..explorer import explore

    check_writable("--out", args.out)  # every path and number first: a typo must not cost the run
    x, y = _numbers(args.x, "--x"), _numbers(args.y, "--y")
    if (x is None) != (y is None):
        raise SpecError("--x and --y go together (the sample and its target); give both or neither.")
    if args.target and not args.data:
        raise SpecError("--target names a column of the --data CSV file; add --data.")
    params = None
    if args.at:
        from .computation_args import read_json_values

        params = read_json_values(args.at)
    net = network_from_args(args)
    if params is not None and x is None:  # the sample may sit in the --at file (x1, ..., y1, ...)
        names = [s.name for s in (*net.inputs, *net.targets)]
        if all(n in params for n in names):
            x = [params[s.name] for s in net.inputs]
            y = [params[s.name] for s in net.targets]
    data = None
    if args.data:
        from ..datasets import for_network, load_data

        targets = None if args.target is None else [t.strip() for t in args.target.split(",") if t.strip()]
        data = for_network(load_data(args.data, targets), net)
    ex = explore(net, params, x=x, y=y, data=data, sample=args.sample, epochs=args.epochs,
                 lr=args.lr, batch_size=args.batch_size, momentum=args.momentum, seed=args.seed,
                 snapshots=args.snapshots, gradient_flow=not args.no_gradient_flow)
    ex.save(args.out)
    say(f"wrote {args.out}: {ex.size / 1e6:.2f} MB, built in {ex.seconds:.1f} s")
    return 0
