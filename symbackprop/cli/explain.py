"""``symbackprop explain``: any expression's computation graph and chain rule, step by step."""

from __future__ import annotations

import argparse
import json

from .common import for_cli, say

FORMATS = ("text", "latex", "markdown", "json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain",
        help="split an expression into elementary operations and show the chain rule",
        description="Split an expression into elementary operations (u1, u2, ... one function "
        "or binary operation each), print its computation graph, the local partials, every path "
        "from the variable to the result, the products, the chain-rule sum (with numbers at a "
        "point) and the check against sympy.diff.",
        epilog='example: symbackprop explain "sin(x*y) + exp(x**2)" --wrt x --at x=1,y=2',
    )
    p.add_argument("expression", help="the expression, e.g. 'sin(x*y) + exp(x**2)'")
    p.add_argument("--wrt", metavar="NAME", help="the variable (default: the first in the expression)")
    p.add_argument("--at", metavar="VALUES.json|x=1,y=2",
                   help="a value for every variable: JSON file {name: number} or name=number pairs")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..explaining import explain
    from ..notation import to_str
    from .computation_args import read_values

    at = read_values(args.at) if args.at is not None else None
    e = explain(args.expression, wrt=args.wrt, at=at)
    if args.format == "json":
        data = e.derivation.to_dict()
        data.update(expression=e.expression, direct=to_str(e.direct), agrees=e.agrees)
        say(for_cli(json.dumps(data, indent=2)))
    else:
        say({"text": e.text, "latex": e.latex, "markdown": e.markdown}[args.format]())
    return 0 if e.agrees else 2
