"""``symbackprop render`` (one picture) and ``symbackprop report`` (one HTML page)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .common import (
    add_network_args,
    check_picture,
    check_writable,
    network_from_args,
    nonnegative_int,
    positive_float,
    positive_int,
    say,
)

if TYPE_CHECKING:  # pragma: no cover
    import sympy as sp

    from ..network import Network

WHAT = ("network", "graph", "paths", "formula", "equations", "expression")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .computation_args import add_computation_file
    from .derive import add_graph_limit

    p = sub.add_parser(
        "render",
        help="draw the network, the computation graph, gradient paths or formulas",
        description="Draw one picture of a network and save it as PNG, SVG or PDF (by the "
        "extension of --out).",
        epilog="example: symbackprop render --layers 2,3,2 --activation relu,softmax "
        "--loss cross_entropy --what paths --wrt w1_2_1 --out paths.svg",
    )
    add_network_args(p)
    add_computation_file(p)
    add_graph_limit(p)
    p.add_argument("--what", choices=WHAT, default="network",
                   help="network diagram, computation graph, gradient paths of --wrt, "
                   "derivation of --wrt (formula), layer-level equations, or the expression "
                   "tree of dJ/d(--wrt). Default: network")
    p.add_argument("--wrt", metavar="PARAM",
                   help="parameter for paths/formula/expression, e.g. w1_2_1 (default: the first)")
    p.add_argument("--seed", type=nonnegative_int, metavar="N",
                   help="network: show parameter values initialised from this seed")
    p.add_argument("--path", type=positive_int, metavar="N",
                   help="paths: highlight only path N from --wrt to J (1 for the first, in the "
                   "order the derivation lists them), every edge labelled, the others pale")
    p.add_argument("--out", required=True, metavar="FILE.png|.svg|.pdf", help="output file")
    p.set_defaults(func=run_render)

    r = sub.add_parser(
        "report",
        help="write a self-contained HTML report: diagram, equations, derivations",
        description="Write one HTML file (images embedded, no network access needed to view "
        "it) with the network diagram, the layer-level equations, gradient paths and the "
        "derivation of every parameter (a chosen few for big networks).",
        epilog="example: symbackprop report --layers 2,2,2 --activation sigmoid "
        "--loss quadratic --out report.html",
    )
    add_network_args(r)
    add_computation_file(r)
    add_graph_limit(r)
    r.add_argument("--out", required=True, metavar="FILE.html", help="output file")
    r.add_argument("--max-params", type=positive_int, default=None, metavar="N",
                   help="derive every parameter up to N (default 24), else a chosen few")
    r.add_argument("--data", metavar="NAME",
                   help="a built-in data set (xor, moons, circles, spirals, iris): train on it "
                   "and add training pictures")
    r.add_argument("--epochs", type=positive_int, default=200, help="training epochs with --data (200)")
    r.add_argument("--lr", type=positive_float, default=0.5, help="learning rate with --data (0.5)")
    r.add_argument("--seed", type=nonnegative_int, default=0, help="seed with --data (0)")
    r.set_defaults(func=run_report)


def run_render(args: argparse.Namespace) -> int:
    check_picture("--out", args.out)  # before any work: a typo must not cost the drawing
    if args.path is not None and args.what != "paths":
        from ..errors import SpecError

        raise SpecError(f"--path chooses one of the gradient paths: give it with --what paths, "
                        f"not --what {args.what}.")
    net = network_from_args(args)
    # w1_1_1 is the first parameter; net.params[0] would build every parameter symbol first.
    wrt = net.parameter(args.wrt) if args.wrt else net.w(1, 1, 1)
    from .. import render

    if args.what == "network":
        params = net.init_params(args.seed) if args.seed is not None else None
        drawing = render.draw_network(net, params=params)
    elif args.what == "graph":
        drawing = render.draw_computation_graph(net)
    elif args.what == "paths":
        drawing = render.draw_gradient_paths(net, wrt, path=_path_number(args, net, wrt))
    elif args.what == "formula":
        drawing = render.draw_formula(net.derivation(wrt))
    elif args.what == "equations":
        drawing = render.draw_formula(net.equations())
    else:
        drawing = render.draw_expression(net.grad(wrt))
    say(str(drawing.save(args.out)))
    return 0


def _path_number(args: argparse.Namespace, net: Network, wrt: sp.Symbol) -> int | None:
    """``--path``, checked against the number of paths from ``wrt`` to J (counted, not listed)."""
    if args.path is None:
        return None
    from ..derivation import count_paths
    from ..errors import SpecError

    n = count_paths(net.graph, wrt.name, "J")
    if args.path > n:
        raise SpecError(f"--path must be a path number from 1 to {n:,} (the paths from {wrt.name} to J); "
                        f"got {args.path}.")
    return args.path


def run_report(args: argparse.Namespace) -> int:
    from ..reporting import MAX_PARAMS, report

    check_writable("--out", args.out)
    net = network_from_args(args)
    data = params = history = None
    note = ""
    if args.data:  # the report shows a trained result: train here, then draw it
        from ..datasets import for_network, load_data
        from ..training import train

        data = for_network(load_data(args.data), net)
        params, history = train(net, data.X, data.Y, epochs=args.epochs, lr=args.lr,
                                seed=args.seed, progress=False)
        note = (f"Trained by symbackprop report: {args.epochs} epochs of SGD on {args.data}, "
                f"learning rate {args.lr}, seed {args.seed}.")
    out = report(net, args.out, params=params, data=data, history=history, note=note,
                 max_params=args.max_params or MAX_PARAMS)
    say(str(out))
    return 0


from .computation_args import render_file, report_file, with_file  # noqa: E402 - the wrappers, kept at the end
from .derive import size_first  # noqa: E402 - the wrappers, kept at the end of the file


def _draws_graph(args: argparse.Namespace) -> str:
    return f"--what {args.what} draws" if args.what in ("network", "graph", "paths") else ""


run_render = with_file(size_first(run_render, "--what equations", _draws_graph), render_file, "render")
run_report = with_file(size_first(run_report, "symbackprop derive --equations", lambda args: ""), report_file, "report")
