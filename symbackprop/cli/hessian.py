"""``symbackprop hessian``: second derivatives, symbolic (∂²J/∂p∂q) or numeric (the dense Hessian).

Symbolic: ``--layers ... --wrt P --and Q`` (or ``--file model.txt``) prints ∂²J/∂p∂q in the
named tangents and second-order adjoints; ``--steps`` the derivation (the forward tangent
of q, the δ recursion, the second-order adjoint δ̇, the result), ``--at`` its values at one
sample, ``--expand`` the expanded form. Numeric: ``--model trained.npz --data moons``
(or a network or computation file with ``--seed N``) prints the dense Hessian of the mean
loss over the data; ``--eigenvalues`` its spectrum and what it says about the curvature;
``--jacobian`` the input Jacobian ∂outputs/∂inputs instead (its mean absolute value).
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
from typing import Any

from .common import (
    add_network_args,
    for_cli,
    network_from_args,
    nonnegative_int,
    positive_int,
    precision_value,
    say,
)

FORMATS = ("text", "latex", "markdown", "json")

#: model.hessian's default limit (symbackprop.compiler.second_order.DEFAULT_MAX_HESSIAN_PARAMS),
#: not imported: --help must not load NumPy and SymPy.
DEFAULT_MAX_PARAMS = 2000

#: An eigenvalue within this fraction of the largest |λ| counts as zero (flat direction).
FLAT = 1e-10

#: Symbolic-mode flags and numeric-mode flags, with their defaults: a flag of one mode given
#: in the other is refused in one line rather than silently ignored.
_SYMBOLIC = {"wrt": None, "also": None, "steps": False, "expand": False, "at": None, "x": None, "y": None}
_NUMERIC = {"model": None, "data": None, "target": None, "seed": None, "eigenvalues": False,
            "jacobian": False, "max_params": None, "precision": None}
_FLAG = {"also": "--and", "max_params": "--max-params"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    from .derive import add_computation_file, add_graph_limit

    p = sub.add_parser(
        "hessian",
        help="second derivatives: d2J/dp dq step by step, or a trained model's Hessian and its eigenvalues",
        description=textwrap.fill("Symbolic (--wrt P --and Q): the second derivative d2J/dp dq of a network "
        "(--layers) or a computation (--file) in compact named form: the derivative along q "
        "of dJ/dp, written with the forward tangent of q (z-dot, a-dot) and the second-order "
        "adjoint (delta-dot); --steps prints their recursions, --at their values, --expand "
        "the result in x, y, w, b. Numeric (--data): the dense Hessian of the mean loss over "
        "a data set at a saved model's parameters (--model) or at initial ones (--seed), "
        "with --eigenvalues its eigenvalues and a one-line curvature summary.", 88),
        epilog="examples:\n"
        "  symbackprop hessian --layers 2,2,1 --activation sigmoid --wrt w1_1_1 --and w2_1_1 --steps\n"
        "  symbackprop hessian --file model.txt --wrt w1 --and w2 --at values.json\n"
        "  symbackprop hessian --model xor-model.npz --data xor --eigenvalues",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_args(p)
    add_computation_file(p)
    sym = p.add_argument_group("symbolic: d2J/dp dq")
    sym.add_argument("--wrt", metavar="P", help="the first parameter p (a name such as w1_1_1; "
                     "with --file any parameter, input or target)")
    sym.add_argument("--and", dest="also", metavar="Q", help="the second parameter q: d2J/dp dq "
                     "is dJ/dp differentiated along q")
    sym.add_argument("--steps", action="store_true",
                     help="print the step-by-step derivation (forward tangent of q, delta "
                     "recursion, second-order adjoint, result)")
    sym.add_argument("--expand", action="store_true",
                     help="print d2J/dp dq in x, y, w, b only (refused with the size when enormous)")
    sym.add_argument("--format", choices=FORMATS, default="text",
                     help="output format (default text; the numeric mode has text and json)")
    sym.add_argument("--at", metavar="VALUES.json",
                     help="the value of every step at one point: as for derive --at, a JSON file "
                     "{name: number} of every parameter (and, for a network, optionally the "
                     "sample's x1, ..., y1, ...); with --file also pairs w1=0.5,x=1,y=0")
    sym.add_argument("--x", metavar="X1,X2,...", help="the sample's inputs (a network, with --at)")
    sym.add_argument("--y", metavar="Y1,Y2,...", help="the sample's targets (a network, with --at)")
    add_graph_limit(p)
    num = p.add_argument_group("numeric: the dense Hessian of the mean loss over a data set")
    num.add_argument("--model", metavar="MODEL.npz",
                     help="a model saved with train --save (network or computation) and its parameters")
    num.add_argument("--data", metavar="NAME|FILE.csv",
                     help="xor, moons, circles, spirals, iris, or a CSV file with a header row")
    num.add_argument("--target", metavar="COLUMN[,COLUMN...]",
                     help="target column(s) of the CSV file for a network (default: the saved "
                     "model's, else the last column)")
    num.add_argument("--seed", type=nonnegative_int, metavar="N",
                     help="instead of --model: --layers or --file at its initial parameters from this seed")
    num.add_argument("--eigenvalues", action="store_true",
                     help="print the eigenvalues (ascending) and a one-line curvature summary")
    num.add_argument("--jacobian", action="store_true",
                     help="print the input Jacobian d(outputs)/d(inputs) instead: its mean "
                     "absolute value over the rows (saliency) and its mean")
    num.add_argument("--max-params", type=positive_int, metavar="N",
                     help=f"refuse a dense Hessian of more than N parameters (default {DEFAULT_MAX_PARAMS:,})")
    num.add_argument("--precision", type=precision_value, metavar="N",
                     help="significant digits of each printed number (default 6)")
    p.set_defaults(func=run)


def _flag(name: str) -> str:
    return _FLAG.get(name, "--" + name.replace("_", "-"))


def _given(args: argparse.Namespace, flags: dict[str, Any]) -> list[str]:
    return [_flag(k) for k, default in flags.items() if getattr(args, k) != default]


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError

    if args.layers is not None and args.file is not None:
        raise SpecError("Give the model with --layers (a network) or --file (a computation file), not both.")
    if args.data is not None or args.model is not None:
        wrong = _given(args, _SYMBOLIC)
        if wrong:
            raise SpecError(f"{wrong[0]} is for the symbolic mode (--wrt P --and Q); the numeric mode "
                            "(--data) prints the whole Hessian. Leave out the one or the other.")
        return run_numeric(args)
    wrong = _given(args, _NUMERIC)
    if wrong:
        raise SpecError(f"{wrong[0]} is for the numeric mode; give --data (a data set) and --model "
                        "(a saved model) or --seed N, or leave it out.")
    return _symbolic(args)


# --- symbolic ------------------------------------------------------------------------------


def run_symbolic(args: argparse.Namespace) -> int:
    """∂²J/∂p∂q of --layers or --file: compact, expanded, or step by step (with values)."""
    from ..errors import SpecError

    if args.layers is None and args.file is None:
        raise SpecError("hessian needs --layers (a network) or --file (a computation file), and "
                        "--wrt P --and Q; or --data with --model for a trained model's Hessian.")
    if args.wrt is None or args.also is None:
        have = f"--wrt {args.wrt}" if args.wrt is not None else f"--and {args.also}" if args.also else None
        raise SpecError(("d2J/dp dq needs two parameters: " + (f"{have} is one; " if have else ""))
                        + "give p with --wrt and q with --and (the same name twice for d2J/dp2).")
    if args.at is not None and args.expand:
        raise SpecError("--at shows values in the compact form and the steps; it cannot go with --expand.")
    if args.expand and args.steps:
        raise SpecError("--steps prints the derivation (whose result shows the expanded form while it "
                        "is short); --expand prints only the expanded form. Choose one.")
    if args.file is not None:
        if args.x is not None or args.y is not None:
            raise SpecError("With --file, give inputs and targets by name in --at (e.g. --at w1=0.5,x=1,y=0 "
                            "or a JSON file).")
        return _computation(args)
    if args.at is None and (args.x is not None or args.y is not None):
        raise SpecError("--x and --y give the sample for --at VALUES.json; add --at, or leave them out.")
    return _network(args)


def _network(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from .computation_args import read_json_values
    from .walkthrough import _rows, _sample_from_file

    given = read_json_values(args.at) if args.at is not None else None  # files first: a typo must not wait
    net = network_from_args(args)
    p, q = (_named(net.parameter, flag, text) for flag, text in (("--wrt", args.wrt), ("--and", args.also)))
    values = None
    if given is not None:
        names = {s.name for s in (*net.params, *net.inputs, *net.targets)}
        unknown = sorted(set(given) - names)
        if unknown:
            raise SpecError(f"--at file {args.at!r} names {', '.join(unknown[:5])}: not parameters, inputs or "
                            f"targets of the {'-'.join(map(str, net.sizes))} network (it has {net.params[0]}, ..., {net.inputs[0]}, "
                            f"..., {net.targets[0]}, ...).")
        missing = [s.name for s in net.params if s.name not in given]
        if missing:
            raise SpecError(f"--at file {args.at!r} lacks {len(missing)} parameter(s) of the "
                            f"{net.describe()}, e.g. {', '.join(missing[:5])}; give every parameter.")
        sample = []
        for flag, text, symbols, what in (("--x", args.x, net.inputs, "input"), ("--y", args.y, net.targets, "output")):
            rows = _rows(text, flag) if text is not None else _sample_from_file(
                given, [s.name for s in symbols], flag, args.at)
            if rows is None:
                raise SpecError(f"Give the sample's {'inputs' if flag == '--x' else 'targets'} with {flag} (or as {symbols[0].name}, ... in the --at file).")
            if len(rows) != 1 or len(rows[0]) != len(symbols):
                got = len(rows[0]) if len(rows) == 1 else f"{len(rows)} samples"
                raise SpecError(f"{flag} needs {len(symbols)} number(s), one per {what} of the network; got {got}.")
            sample.append(rows[0])
        values = ({s: given[s.name] for s in net.params}, *sample)
    h = net.hessian_derivation(p, q)
    if values is not None:
        h = h.at(*values)
    return _emit(args, h, lambda: h.expanded(), "J")


def _computation(args: argparse.Namespace) -> int:
    from ..computation_file import load_computation
    from ..errors import unknown
    from .computation_args import read_values

    values = read_values(args.at) if args.at is not None else None
    g = load_computation(args.file)
    leaves = {s.name: s for s in (*g.params, *g.inputs, *g.targets)}

    def leaf(name: str):  # noqa: ANN202
        if name in leaves or name not in g.names:  # a defined node gets the library's own message
            return leaves.get(name) or _raise(unknown("parameter, input or target of the computation",
                                                      name, list(leaves)))
        return g.symbol(name)

    p, q = (_named(leaf, flag, text) for flag, text in (("--wrt", args.wrt), ("--and", args.also)))
    h = g.hessian_derivation(p, q)
    if values is not None:
        h = h.at(values)
    return _emit(args, h, lambda: g.hessian(h.p, h.q, expand=True), g.loss)


def _named(lookup: Any, flag: str, text: str) -> Any:
    """``lookup(name)``, an unknown name's error prefixed with the flag that gave it."""
    from ..errors import UnknownNameError

    try:
        return lookup(text.strip())
    except UnknownNameError as exc:
        raise UnknownNameError(f"{flag} {text.strip()}: {exc}") from None


def _raise(exc: Exception) -> Any:
    raise exc


#: The derivation's note names the Python call; the command line has a flag.
_PYTHON_CALL = re.compile(r"(?:net|g)\.hessian\(p, q, expand=True\) builds it")


def _emit(args: argparse.Namespace, h: Any, expanded: Any, loss: Any) -> int:
    """Print ``h`` (a network's or a computation's Hessian derivation) as the flags ask."""
    from ..errors import ExpressionTooLargeError, SpecError
    from ..notation import equation_text, to_latex, to_str, to_text

    if args.steps:
        if args.format == "json":
            data = h.to_dict()
            if h.values is not None:
                data["value"] = h.value(h.compact)
            say(for_cli(json.dumps(data, indent=2)))
        else:
            out = {"text": h.text, "latex": h.latex, "markdown": h.markdown}[args.format]()
            say(_PYTHON_CALL.sub("--expand prints it", for_cli(out)))
        return 0
    if args.expand:
        try:
            rhs = expanded()
        except ExpressionTooLargeError as exc:
            first = str(exc).split(";")[0]
            raise SpecError(f"{first}. Leave out --expand for the compact form (--steps for its definitions).") from None
    else:
        rhs = h.compact
    J, p, q = (loss if not isinstance(loss, str) else None), h.p, h.q
    jt = to_text(J) if J is not None else "J"
    jl = to_latex(J) if J is not None else "J"
    lhs = f"∂²{jt}/∂{to_text(p)}²" if p == q else f"∂²{jt}/∂{to_text(p)}∂{to_text(q)}"
    llhs = (rf"\frac{{\partial^2 {jl}}}{{\partial {to_latex(p)}^2}}" if p == q
            else rf"\frac{{\partial^2 {jl}}}{{\partial {to_latex(p)}\, \partial {to_latex(q)}}}")
    value = h.value(h.compact) if h.values is not None else None
    if args.format == "json":
        key = "expanded" if args.expand else "compact"
        data = {"p": p.name, "q": q.name, key: to_str(rhs), "latex": to_latex(rhs)}
        if value is not None:
            data["value"] = value
        say(json.dumps(data, indent=2))
        return 0
    if args.format == "text":
        say(equation_text(lhs, rhs, f"  ≈ {value:.6g}" if value is not None else ""))
        if not args.expand and rhs.free_symbols - _leaves(h):
            if hasattr(h, "computation"):
                dots, leaves = "v̇ = ∂v/∂q", "the parameters, inputs and targets"
            else:
                dots, leaves = "ȧ = ∂a/∂q, ż = ∂z/∂q", "x, y, w, b"
            say(f"(δ̇ = ∂δ/∂q, {dots} along q = {to_text(q)}: --steps prints their recursions, "
                f"--expand the form in {leaves})")
        return 0
    line = f"{llhs} = {to_latex(rhs)}" + (rf" \approx {value:.6g}" if value is not None else "")
    say(f"$${line}$$" if args.format == "markdown" else line)
    return 0


def _leaves(h: Any) -> set:
    """The symbols a reader needs no definition for: parameters, inputs, targets."""
    owner = getattr(h, "computation", None)
    spec = owner if owner is not None else h.backprop.spec
    return {*spec.params, *spec.inputs, *spec.targets}


# --- numeric -------------------------------------------------------------------------------


def run_numeric(args: argparse.Namespace) -> int:
    """The dense Hessian (or the input Jacobian) of the mean loss over --data."""
    from ..errors import SpecError

    if args.data is None:
        raise SpecError("--model needs --data: the data set whose mean loss the Hessian is of.")
    if args.format not in ("text", "json"):
        raise SpecError(f"The numeric mode prints text or json; got --format {args.format}.")
    if args.model is not None:
        if args.layers is not None or args.file is not None or args.seed is not None:
            what = "--layers" if args.layers is not None else "--file" if args.file is not None else "--seed"
            raise SpecError(f"--model brings its own network and parameters; it cannot go with {what}.")
        from ..store import load

        saved = load(args.model)
        model, params = saved
        meta, where = saved.meta, f"the parameters of {args.model}"
    elif args.layers is not None or args.file is not None:
        if args.seed is None:
            raise SpecError("Give the parameters: --model MODEL.npz (a trained model), or --seed N "
                            "(the initial parameters of --layers or --file).")
        if args.file is not None:
            from ..computation_file import load_computation

            model = load_computation(args.file)
        else:
            model = network_from_args(args)
        params, meta, where = model.init_params(args.seed), {}, f"the initial parameters (seed {args.seed})"
    else:
        raise SpecError("--data needs --model MODEL.npz (a trained model), or --layers or --file with --seed N.")
    computation = hasattr(model, "definitions")
    names = [p.name for p in model.params]
    limit = args.max_params or DEFAULT_MAX_PARAMS
    if not args.jacobian and len(names) > limit:
        n = len(names)
        raise SpecError(f"The dense Hessian of {n:,} parameters would be {n:,} x {n:,} ({n * n * 8 / 1e6:,.0f} MB); "
                        f"hessian builds it for at most {limit:,} parameters: give --max-params {n} to "
                        "build it anyway.")
    X, Y = _data(args, model, meta, computation)
    compiled = model.compile()
    digits = args.precision or 6
    what = f"the {model.describe()}" if not computation else f"the computation {model.loss.name}"
    if args.jacobian:
        return _jacobian(args, model, compiled.input_jacobian(params, X), what, digits)
    import numpy as np

    H = compiled.hessian(params, X, Y, max_params=None)
    loss = compiled.loss(params, X, Y)
    grad = np.array(list(compiled.gradient(params, X, Y).values()))
    lam = np.linalg.eigvalsh((H + H.T) / 2) if args.eigenvalues else None
    if args.format == "json":
        data = {"params": names, "loss": loss, "gradient_norm": float(np.linalg.norm(grad)),
                "rows": int(X.shape[0]), "hessian": H.tolist()}
        if lam is not None:
            data["eigenvalues"] = lam.tolist()
            data["curvature"] = curvature(lam)
        say(json.dumps(data, indent=2))
        return 0
    say(f"Hessian of the mean loss of {what} over {X.shape[0]} rows of {args.data}, at {where}: "
        f"{len(names)} x {len(names)}, rows and columns in parameter order")
    say(f"loss {loss:.{digits}g}, gradient norm {np.linalg.norm(grad):.{digits}g}")
    say(_table(names, names, H, digits))
    if lam is not None:
        say("")
        say("eigenvalues (ascending): " + ", ".join(f"{v:.{digits}g}" for v in lam))
        say(curvature(lam))
    return 0


def _data(args: argparse.Namespace, model: Any, meta: dict, computation: bool) -> tuple[Any, Any]:
    """X, Y of --data for ``model``: by name for a computation, as train reads them for a network."""
    from ..datasets import BUILTIN, for_network, load_data
    from ..errors import SpecError

    if computation:
        if args.target is not None:
            raise SpecError("--target is for --layers networks; a computation names its targets in its targets: header.")
        from .train_computation import _dataset

        return model.compile().check_data(_dataset(args.data))
    target = args.target or meta.get("target")
    if args.data.strip() in BUILTIN:
        if args.target is not None:
            raise SpecError(f"--target is for CSV files; the built-in {args.data.strip()!r} has its own targets.")
        target = None
    elif isinstance(target, str):
        target = [t.strip() for t in target.split(",") if t.strip()]
    data = for_network(load_data(args.data, target), model)
    return data.X, data.Y


def curvature(lam: Any) -> str:
    """One sentence on what the eigenvalues ``lam`` of a Hessian say about the loss surface.

    An eigenvalue within ``FLAT`` (1e-10) of the largest |λ| counts as zero.

    Examples
    --------
    >>> curvature([-0.5, 0.001, 2.0])
    'curvature: 1 negative, 2 positive eigenvalue(s): a saddle region (the loss falls along 1 direction(s) of negative curvature; the most negative is -0.5)'
    >>> curvature([0.01, 1.0])
    'curvature: all 2 eigenvalues positive: locally convex, a minimum if the gradient is zero; condition number 100 (largest / smallest)'
    """
    import numpy as np

    lam = np.sort(np.asarray(lam, dtype=np.float64))
    n = lam.size
    top = float(np.abs(lam).max()) if n else 0.0
    if top == 0.0:
        return f"curvature: all {n} eigenvalues are zero: the loss is flat to second order here"
    tol = FLAT * top
    neg, flat = int((lam < -tol).sum()), int((np.abs(lam) <= tol).sum())
    pos = n - neg - flat
    if neg:
        return (f"curvature: {neg} negative, {pos} positive eigenvalue(s)"
                + (f", {flat} zero" if flat else "")
                + f": a saddle region (the loss falls along {neg} direction(s) of negative curvature; "
                f"the most negative is {lam[0]:.3g})")
    if flat:
        return (f"curvature: {pos} positive, {flat} zero eigenvalue(s) (|λ| <= {FLAT:g} x the largest): "
                f"positive semi-definite, flat along {flat} direction(s)")
    return (f"curvature: all {n} eigenvalues positive: locally convex, a minimum if the gradient is "
            f"zero; condition number {lam[-1] / lam[0]:.3g} (largest / smallest)")


def _table(rows: list[str], columns: list[str], M: Any, digits: int) -> str:
    """A labelled matrix, columns aligned."""
    cells = [[f"{v:.{digits}g}" for v in row] for row in M.tolist()]
    width = max(len(c) for c in [*columns, *(c for r in cells for c in r)])
    left = max(len(r) for r in rows)
    lines = [" " * left + "  " + " ".join(c.rjust(width) for c in columns)]
    lines += [name.ljust(left) + "  " + " ".join(c.rjust(width) for c in row) for name, row in zip(rows, cells)]
    return "\n".join(lines)


def _jacobian(args: argparse.Namespace, model: Any, Jx: Any, what: str, digits: int) -> int:
    """The mean |∂output/∂input| over the rows (saliency) and the mean ∂output/∂input."""
    import numpy as np

    outputs = [o.name for o in (model.outputs if hasattr(model, "definitions") else
                                [model.a(model.n_layers, j) for j in range(1, model.sizes[-1] + 1)])]
    inputs = [s.name for s in model.inputs]
    saliency, mean = np.abs(Jx).mean(axis=0), Jx.mean(axis=0)
    if args.format == "json":
        say(json.dumps({"outputs": outputs, "inputs": inputs, "rows": int(Jx.shape[0]),
                        "mean_abs": saliency.tolist(), "mean": mean.tolist()}, indent=2))
        return 0
    say(f"Input Jacobian d(output)/d(input) of {what} over {Jx.shape[0]} rows of {args.data}: "
        "one row per output, one column per input")
    say("mean |d(output)/d(input)| (saliency):")
    say(_table(outputs, inputs, saliency, digits))
    say("mean d(output)/d(input):")
    say(_table(outputs, inputs, mean, digits))
    return 0


def _symbolic(args: argparse.Namespace) -> int:
    """The symbolic mode under the --max-graph-edges limit (a refusal speaks in flags)."""
    from .derive import size_first

    return size_first(run_symbolic, equations="--data with --model or --seed (the compiled Hessian)",
                      needs_graph=lambda _: "")(args)
