"""``symbackprop check``: is a hand-derived gradient right? Exit 0 right, 1 wrong, 2 bad input."""

from __future__ import annotations

import argparse
import json

from .common import add_network_args, network_from_args, nonnegative_int, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .derive import add_graph_limit

    p = sub.add_parser(
        "check",
        help="check a hand-derived gradient: right or wrong, where, and how",
        description="Check a formula you derived for dJ/dp (in the symbols x1, w1_2_1, b2_1, "
        "z2_1, a2_1, delta2_1, y1, ...) against the true gradient. Prints the verdict, a "
        "counterexample with both values, a diagnosis (sign, constant factor, wrong index, "
        "missing path, missing or extra local partial) and the true gradient. "
        "Exit code 0 right, 1 wrong, 2 bad input.",
        epilog="examples:\n"
        "  symbackprop check --layers 2,2,1 --wrt w2_1_1 --formula \"(a2_1 - y1)*a1_1\"\n"
        "      answers WRONG, on purpose: this formula misses the factor sigma'(z2_1); the\n"
        "      output shows a counterexample, names the missing factor and gives the true gradient\n"
        "  symbackprop check --layers 2,2,2 --file mine.txt   (lines 'w2_1_1: formula', # comments)\n"
        "  symbackprop check --function \"1/(1+exp(z))\" --formula \"sigmoid(z)*(1-sigmoid(z))\"",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_args(p)
    add_graph_limit(p)
    for action in p._actions:
        if action.dest == "layers":  # not needed with --function
            action.required = False
    p.add_argument("--wrt", metavar="PARAM", help="the parameter, e.g. w2_1_1 (or the variable with --function; default z)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--formula", metavar="FORMULA", help="your dJ/dp, in Python syntax (** for powers)")
    what.add_argument("--latex", metavar="LATEX",
                      help=r"your dJ/dp in LaTeX, e.g. '\sigma(z^{(2)}_1)(1-\sigma(z^{(2)}_1))a^{(1)}_1' "
                      "(needs the optional extra symbackprop[latex])")
    what.add_argument("--file", metavar="PATH", help="a file of 'name: formula' lines (# starts a comment)")
    p.add_argument("--computation", metavar="MODEL.txt",
                   help="a computation file (docs/computations.md) instead of --layers: check --formula "
                   "for d(loss)/d(--wrt), any node")
    p.add_argument("--function", metavar="F",
                   help="check --formula as the derivative of this scalar function of --wrt instead")
    p.add_argument("--json", action="store_true", help="print the result(s) as JSON")
    p.add_argument("--points", type=int, default=64, help="random points of the numeric test (default 64, at most 100000: "
                   "symbackprop.checking.evaluate.MAX_POINTS)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of those points (default 0)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for the symbolic proof (default 5)")
    p.add_argument("--no-symbolic", action="store_true", help="numeric test only")
    p.set_defaults(func=run)


def _emit(results: list, as_json: bool) -> None:
    if as_json:
        say(json.dumps([r.to_dict() for r in results] if len(results) != 1 else results[0].to_dict(),
                       indent=2, ensure_ascii=False))
    else:
        say("\n\n".join(str(r) for r in results))


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError

    options = {"points": args.points, "seed": args.seed, "timeout": args.timeout,
               "symbolic": not args.no_symbolic}
    if args.points < 1 or args.timeout <= 0:
        raise SpecError("--points must be a positive integer and --timeout a positive number of seconds.")
    if args.function is not None:
        from ..checking import check_derivative

        if args.formula is None:
            raise SpecError("--function needs --formula, its claimed derivative.")
        r = check_derivative(args.function, args.formula, wrt=args.wrt or "z", **options)
        _emit([r], args.json)
        return 0 if r.ok else 1
    if args.computation is not None:  # a computation file: one formula for one node
        from ..checking import check
        from ..computation_file import load_computation

        if args.layers is not None or args.file is not None or args.latex is not None or args.formula is None or args.wrt is None:
            raise SpecError("--computation checks one --formula for one --wrt (any node); it cannot go with "
                            "--layers, --file or --latex.")
        r = check(load_computation(args.computation), args.wrt, args.formula, **options)
        _emit([r], args.json)
        return 0 if r.ok else 1
    if args.layers is None:
        raise SpecError("check needs --layers (e.g. --layers 2,2,1), or --function for a scalar derivative.")
    net = network_from_args(args)
    if args.file is not None:
        from ..checking import check_file

        lines = check_file(net, args.file, **options)
        if args.json:
            say(json.dumps([line.to_dict() for line in lines], indent=2, ensure_ascii=False))
        else:
            blocks = []
            for line in lines:
                head = f"line {line.lineno} ({line.name}):"
                body = f"error: {line.error}" if line.error is not None else str(line.result)
                blocks.append(f"{head} {body}")
            right = sum(line.ok for line in lines)
            blocks.append(f"{right} of {len(lines)} formulas right.")
            say("\n\n".join(blocks))
        if any(line.error is not None for line in lines):
            return 2
        return 0 if all(line.ok for line in lines) else 1
    if args.wrt is None or (args.formula is None and args.latex is None):
        raise SpecError("check needs --wrt PARAM and --formula (or --latex), or --file.")
    from ..checking import check

    formula = args.formula
    if args.latex is not None:
        from ..checking.latex import parse_latex_formula

        formula = parse_latex_formula(args.latex, net, timeout=args.timeout)
    r = check(net, args.wrt, formula, **options)
    _emit([r], args.json)
    return 0 if r.ok else 1


from .derive import size_first  # noqa: E402 - the wrapper, kept at the end of the file


def _checks_a_network(args: argparse.Namespace) -> str:
    # Before the formula (or the LaTeX, or the file) is read: those need every symbol name.
    return "Checking a formula needs" if args.layers is not None and args.function is None else ""


run = size_first(run, "symbackprop derive --equations", _checks_a_network)
