"""``symbackprop derive``: print the chain-rule derivation of ∂J/∂p."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from .common import add_network_args, for_cli, network_from_args, say
from .computation_args import add_computation_file, read_json_values, with_file

FORMATS = ("text", "latex", "markdown", "json")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "derive",
        help="derive dJ/dw symbolically and print the chain-rule steps",
        description="Derive dJ/dp for parameters of a network and print the derivation: "
        "paths, local partials, the sum over paths, the delta recursion, compact and "
        "expanded forms.",
        epilog="example: symbackprop derive --layers 2,2,2 --activation sigmoid "
        "--loss quadratic --wrt w1_1_1",
    )
    add_network_args(p)
    add_computation_file(p)
    add_graph_limit(p)
    p.add_argument(
        "--wrt", default="all", metavar="PARAM[,PARAM...]|all",
        help="parameter name(s) such as w1_2_1,b2_1, or all (default)",
    )
    p.add_argument("--full", action="store_true",
                   help="with --wrt all: every parameter's full derivation, printed as each is "
                   "ready (default: one table of the compact gradients)")
    p.add_argument("--expand", action="store_true",
                   help="print only the expanded gradient, in x, y, w, b")
    p.add_argument("--equations", action="store_true",
                   help="print the layer-level backprop equations instead")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("--at", metavar="PARAMS.json",
                   help="JSON file {name: value} of every parameter: show each step's value "
                   "at the sample --x, --y")
    p.add_argument("--x", metavar="X1,X2,...", help="one input (needs --at)")
    p.add_argument("--y", metavar="Y1,Y2,...", help="its target (needs --at)")
    p.set_defaults(func=run)


def _floats(text: str | None, flag: str) -> list[float]:
    from ..errors import SpecError

    if text is None:
        raise SpecError(f"--at needs {flag} too (comma-separated numbers).")
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise SpecError(f"{flag} must be comma-separated numbers; got {text!r}.") from None


def _too_large(exc: Exception) -> Exception:
    """The library's size refusal, with the way out in flags rather than Python arguments."""
    from ..errors import SpecError

    first = str(exc).split(";")[0].split(". ")[0].rstrip(".")
    return SpecError(f"{first}. Leave out --expand for the compact form, or use --equations.")


def run(args: argparse.Namespace) -> int:
    from ..errors import ExpressionTooLargeError, SpecError
    from ..notation import to_latex, to_str

    if args.at is None and (args.x is not None or args.y is not None):
        raise SpecError("--x and --y give the sample for --at PARAMS.json; add --at, or leave them out.")
    if args.at is not None and (args.equations or args.expand):
        raise SpecError("--at shows values in the step-by-step derivation; it cannot go with "
                        f"{'--equations' if args.equations else '--expand'}.")
    if args.at is not None:  # files and numbers first: a typo must not wait for a derivation
        at = read_json_values(args.at), _floats(args.x, "--x"), _floats(args.y, "--y")
    net = network_from_args(args)
    if args.at is not None:
        for flag, values, n, what in (("--x", at[1], net.sizes[0], "input"), ("--y", at[2], net.sizes[-1], "output")):
            if len(values) != n:
                raise SpecError(f"{flag} needs {n} number(s), one per {what} of the network; got {len(values)}.")
    if args.equations:
        eq = net.equations()
        out = {"text": eq.text, "latex": eq.latex, "markdown": eq.markdown}.get(args.format)
        say(out() if out else json.dumps({"latex": eq.latex(), "text": eq.text()}, indent=2))
        return 0
    wrt = net.params if args.wrt.strip() == "all" else [net.parameter(p) for p in args.wrt.split(",")]
    if args.expand:
        try:
            grads = {p: net.grad(p, expand=True) for p in wrt}
        except ExpressionTooLargeError as exc:
            raise _too_large(exc) from None
        if args.format == "json":
            say(json.dumps({p.name: {"expanded": to_str(g), "latex": to_latex(g)} for p, g in grads.items()}, indent=2))
        else:
            from ..derivation import partial_name

            print_gradients(((partial_name(net.J, p), g) for p, g in grads.items()), args.format)
        return 0
    if _table_only(args):
        _print_table(net, args.format)
        return 0
    derivations = (net.derivation(p) for p in wrt)  # lazy: each printed as soon as it is derived
    if args.at is not None:
        params, x, y = at
        derivations = (d.at(params, x, y) for d in derivations)
    return print_derivations(derivations, args.format)


def print_derivations(derivations: Iterable, fmt: str) -> int:
    """Print each derivation as soon as it is made, in ``fmt`` (text, latex, markdown, json)."""
    if fmt == "json":
        say(for_cli(json.dumps([d.to_dict() for d in derivations], indent=2)))
        return 0
    render = {"text": lambda d: d.text(), "latex": lambda d: d.latex(), "markdown": lambda d: d.markdown()}[fmt]
    for i, d in enumerate(derivations):
        say(("\n" if i else "") + for_cli(render(d)))
        sys.stdout.flush()
    return 0


def print_gradients(grads: Iterable, fmt: str) -> None:
    """Print each ``(name, gradient)`` as ``name = gradient`` in ``fmt`` (text, latex, markdown);
    ``name`` is a :class:`~symbackprop.printing.Line` holding ∂J/∂p in text and in LaTeX."""
    from ..notation import equation_text, to_latex

    for name, g in grads:
        if fmt == "text":
            say(equation_text(name.text, g))
        else:
            line = f"{name.latex} = {to_latex(g)}"
            say(f"$${line}$$" if fmt == "markdown" else line)


def _table_only(args: argparse.Namespace) -> bool:
    """``--wrt all`` without --full (or --at, which shows values in the derivations): the table."""
    return args.wrt.strip() == "all" and not (args.full or args.at is not None or args.expand or args.equations)


def _print_table(net, fmt: str) -> None:  # noqa: ANN001
    """One line per parameter, ∂J/∂p compact (:meth:`Network.compact_gradients`), as produced.

    A hidden row is δ times the layer's input and is printed from the two names, without
    SymPy's printer (26,000 pretty-printed products take seconds); output rows are printed
    as ``derive --wrt PARAM --expand`` prints a gradient.
    """
    from ..notation import equation_text, latex_name, text_name, to_latex, to_str

    last = net.n_layers
    output = {p.name for p in net.params[-(net.sizes[last] * (net.sizes[last - 1] + 1)):]}

    def text(e) -> str:  # noqa: ANN001
        return text_name(e) if e.is_Symbol else "⋅".join(text_name(f) for f in e.args)

    def latex(e) -> str:  # noqa: ANN001
        return latex_name(e) if e.is_Symbol else " ".join(latex_name(f) for f in e.args)

    rows = net.compact_gradients()
    if fmt == "json":
        say(json.dumps({p.name: {"compact": to_str(g) if p.name in output else str(g),
                                 "latex": to_latex(g) if p.name in output else latex(g)}
                        for p, g in rows}, indent=2))
        return
    note = (f"∂J/∂p for every parameter of the {net.describe()}, compact: a hidden layer's "
            "δ⁽ˡ⁾ⱼ is defined by the δ recursion (symbackprop derive --equations).")
    if fmt == "text":
        say(note)
    elif fmt == "markdown":
        say(f"{note}\n\n| parameter | ∂J/∂p |\n|---|---|")
    else:
        say("% " + note)
    for p, g in rows:
        if fmt == "text":
            say(equation_text(f"∂J/∂{text_name(p)}", g) if p.name in output
                else f"∂J/∂{text_name(p)} = {text(g)}")
            continue
        rhs = to_latex(g) if p.name in output else latex(g)
        if fmt == "markdown":
            say(f"| ${latex_name(p)}$ | ${rhs}$ |")
        else:
            say(rf"\frac{{\partial J}}{{\partial {latex_name(p)}}} = {rhs}")


# --- size first (kept together so the rest of this file stays as it was) -----------------


#: symbackprop.graph.DEFAULT_MAX_GRAPH_EDGES, not imported: --help must not load SymPy.
DEFAULT_MAX_GRAPH_EDGES = 100_000


def add_graph_limit(parser: argparse.ArgumentParser) -> None:
    """Add --max-graph-edges: the largest scalar graph (or cone) the command may build."""

    def limit(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
        return int(text)

    parser.add_argument(
        "--max-graph-edges", type=limit, default=DEFAULT_MAX_GRAPH_EDGES, metavar="N",
        help=f"refuse, before building it, a scalar graph of more than N edges (default "
        f"{DEFAULT_MAX_GRAPH_EDGES:,}); one parameter of a large network needs only its part",
    )


def _derives_all(args: argparse.Namespace) -> str:
    if args.wrt.strip() == "all" and not args.equations:
        return "Deriving every parameter (--wrt all) needs"
    return ""


def size_first(run, equations: str = "--equations", needs_graph=_derives_all):  # noqa: ANN001, ANN201
    """Run ``run(args)`` under the --max-graph-edges limit; a refusal speaks in flags.

    ``equations`` says how this command's user gets the layer-level equations instead.
    When ``needs_graph(args)`` says the command needs the whole scalar graph (``--wrt all``),
    its size is checked before any work starts.
    """
    import functools

    @functools.wraps(run)
    def wrapped(args: argparse.Namespace) -> int:
        from ..errors import GraphTooLargeError
        from ..graph import check_graph_size, graph_limit, graph_size

        try:
            with graph_limit(args.max_graph_edges):
                why = needs_graph(args)
                if why:
                    net = network_from_args(args)
                    check_graph_size(graph_size(net), args.max_graph_edges,
                                     f"{why} the scalar graph of the "
                                     f"{'-'.join(map(str, net.sizes))} network; it")
                return run(args)
        except GraphTooLargeError as exc:
            raise exc.in_flags(equations) from None

    return wrapped


run = with_file(size_first(run))
