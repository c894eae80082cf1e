"""``symbackprop check-layer``: is a matrix-form (layer-level) answer right? Exit 0 right, 1 wrong, 2 bad input."""

from __future__ import annotations

import argparse
import json

from .common import add_network_args, network_from_args, nonnegative_int, say


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .derive import add_graph_limit

    p = sub.add_parser(
        "check-layer",
        help="check a matrix-form answer (delta1 = (W2.T @ delta2) * a1 * (1 - a1), dW1 = delta1 @ x.T)",
        description="Check a layer-level formula written with the layer matrices and vectors "
        "(W1, b1, z1, a1, delta1, ..., x, y), @ (matrix product), * (elementwise), .T "
        "(transpose) and elementwise functions (sigmoid, tanh, sigmoid_prime, ...), against "
        "the true quantity with shapes. Prints the verdict, a counterexample, the named slip "
        "(missing transpose, @ where * belongs or the reverse, shapes that cannot multiply, a "
        "missing f'(z), the wrong layer, a missing batch average) and the true formula. "
        "Exit code 0 right, 1 wrong, 2 bad input.",
        epilog="examples:\n"
        "  symbackprop check-layer --layers 2,3,2 --wrt delta1 --formula \"(W2 @ delta2) * a1 * (1 - a1)\"\n"
        "      answers WRONG, on purpose: W2 needs a transpose (W2.T @ delta2)\n"
        "  symbackprop check-layer --layers 2,3,2 --wrt dW1 --formula \"delta1 @ x.T / m\" --batch 4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_args(p)
    add_graph_limit(p)
    p.add_argument("--wrt", metavar="QUANTITY", required=True,
                   help="what the formula computes: dW1, db1, delta1, z1, a1 (any layer)")
    p.add_argument("--formula", metavar="FORMULA", required=True,
                   help="your formula, e.g. \"delta1 @ x.T\" (** for powers)")
    p.add_argument("--batch", type=int, default=None, metavar="M",
                   help="batch form: x, a, z, delta have M columns (samples) and the gradients "
                   "average over them; m is M in the formula (default: one sample)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--draws", type=int, default=4, help="random draws compared (default 4)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the draws (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..checking import check_layer

    net = network_from_args(args)
    r = check_layer(net, args.wrt, args.formula, batch=args.batch, draws=args.draws, seed=args.seed)
    say(json.dumps(r.to_dict(), indent=2, ensure_ascii=False) if args.json else str(r))
    return 0 if r.ok else 1


from .derive import size_first  # noqa: E402 - the wrapper, kept at the end of the file

# Every layer quantity is computed from the scalar graph: its size is checked first.
run = size_first(run, "symbackprop derive --equations", lambda args: "Checking a layer-level formula needs")
