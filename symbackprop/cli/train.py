"""``symbackprop train`` and ``symbackprop predict``: fit a network to data, and use it.

``train`` builds the network from --layers/--activation/--loss, reads --data (a built-in
data set or a CSV file with --target columns), runs mini-batch SGD and prints the final
loss (and accuracy, for classification); ``--save`` writes the model (see
:mod:`symbackprop.store`), with the column and class names, so that ``predict`` can pick
the same columns from a new file and print class names.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from .common import (
    add_network_args,
    check_picture,
    check_writable,
    csv_cell,
    momentum_value,
    network_from_args,
    nonnegative_int,
    positive_float,
    positive_int,
    precision_value,
    printable,
    say,
)
from .train_computation import add_file_argument, predict_computation, run_train_file


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a network on a data set with mini-batch SGD",
        description="Train a network with mini-batch SGD on a built-in data set (xor, moons, "
        "circles, spirals, iris) or a CSV file with a header row, and print the loss: the mean "
        "over the last epoch (what --plot draws, one point per epoch) and the loss of the whole "
        "set after training (and the accuracy, for classification).",
        epilog="examples:\n"
        "  symbackprop train --layers 2,4,1 --activation tanh,sigmoid --loss binary_cross_entropy \\\n"
        "      --data xor --epochs 2000 --lr 0.5 --batch-size 4 --seed 0 --save xor-model.npz\n"
        "  symbackprop train --layers 4,8,3 --activation relu,softmax --loss cross_entropy \\\n"
        "      --data iris --epochs 200 --lr 0.05 --batch-size 16\n"
        "  how large δ stays on its way back, per layer and epoch, and which units pass none:\n"
        "  symbackprop train --layers 2,6,6,1 --activation relu,relu,sigmoid --loss binary_cross_entropy \\\n"
        "      --data moons --epochs 10 --lr 0.5 --batch-size 20 --gradient-flow --flow-plot flow.png\n"
        "  your own CSV file: a header row, numeric feature columns and a target column, e.g.\n"
        "  printf 'x1,x2,label\\n0,0,no\\n0,1,yes\\n1,0,yes\\n1,1,no\\n' > mine.csv\n"
        "  symbackprop train --layers 2,4,2 --activation tanh,softmax --loss cross_entropy \\\n"
        "      --data mine.csv --target label --epochs 2000 --lr 0.5 --batch-size 4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_args(p)
    add_file_argument(p)  # a computation file instead (symbackprop.cli.train_computation)
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, metavar="NAME|FILE.csv",
                      help="xor, moons, circles, spirals, iris, or a CSV file with a header row")
    data.add_argument("--target", metavar="COLUMN[,COLUMN...]",
                      help="target column(s) of the CSV file (default: the last column); a "
                      "column of class names becomes one output per class")
    opt = p.add_argument_group("training")
    opt.add_argument("--epochs", type=positive_int, default=100, help="passes over the data (default 100)")
    opt.add_argument("--lr", type=positive_float, default=0.1, help="learning rate (default 0.1)")
    opt.add_argument("--batch-size", type=positive_int, default=32, help="samples per step (default 32)")
    opt.add_argument("--momentum", type=momentum_value, default=0.0, help="momentum in [0, 1) (default 0)")
    opt.add_argument("--seed", type=nonnegative_int, default=0,
                     help="seed of the initial weights and the shuffling (default 0)")
    opt.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    opt.add_argument("--backend", choices=("auto", "numpy", "numba", "jax"), default="auto",
                     help="where the steps run (default auto: numba for long runs when it is "
                     "installed, else numpy; see docs/performance.md)")
    opt.add_argument("--save", metavar="MODEL.npz", help="save the trained model to this file")
    opt.add_argument("--plot", metavar="FILE.png|.svg|.pdf",
                     help="save the loss (and accuracy) per epoch, with the decision boundary "
                     "beside it for two inputs")
    flow = p.add_argument_group("gradient flow")
    flow.add_argument("--gradient-flow", nargs="?", const=True, default=False, type=positive_int,
                      metavar="ROWS",
                      help="record each layer's δ and gradient norms at the end of every epoch, "
                      "on at most ROWS rows of the data (default 1024, evenly spaced), and print "
                      "them per layer after training, with the bound each layer obeys and the "
                      "dead and saturated units")
    flow.add_argument("--flow-plot", metavar="FILE.png|.svg|.pdf",
                      help="save the per-layer δ norms per epoch, log scale, bounds dashed "
                      "(implies --gradient-flow)")
    p.set_defaults(func=run_train)

    q = sub.add_parser(
        "predict",
        help="print a saved model's predictions for a data set",
        description="Load a model saved by 'symbackprop train --save' and print its outputs "
        "for each row of --data as CSV: one column per output (per class, for a class "
        "target) and, for classification, the predicted class.",
        epilog="example: symbackprop predict xor-model.npz --data new.csv --out predictions.csv",
    )
    q.add_argument("model", metavar="MODEL.npz", help="a model saved with train --save")
    q.add_argument("--data", required=True, metavar="NAME|FILE.csv",
                   help="a built-in data set or a CSV file with a header row; the columns the "
                   "model was trained on are used, found by name (or all columns, in order)")
    q.add_argument("--out", metavar="FILE.csv",
                   help="write the CSV here instead of standard output ('-' also means standard "
                   "output; a FIFO or device is written through)")
    q.add_argument("--precision", type=precision_value, default=6, metavar="N",
                   help="significant digits of each output (default 6; 17 prints every float "
                   "exactly)")
    q.set_defaults(func=run_predict)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _compile_note(net: Any, backend: str) -> None:
    """One line on stderr when numba ran: what compiling (or loading it) cost, and where."""
    seconds = getattr(net.compile(backend).backend, "compile_seconds", None) if backend == "numba" else None
    if seconds is not None:
        from ..compiler.numba_backend import cache_dir

        how = "loaded from the cache" if net.compile(backend).backend.from_cache else "compiled"
        print(f"backend numba: {how} in {seconds:.2f} s (cache: {cache_dir() or 'none'})", file=sys.stderr)


def run_train(args: argparse.Namespace) -> int:
    from ..datasets import for_network, load_data
    from ..training import TrainingDivergedError, train

    if args.file is not None:
        return run_train_file(args, check_writable, check_picture)
    if args.layers is None:
        from ..errors import SpecError

        raise SpecError("train needs --layers (a network) or --file (a computation file).")
    # Every path first: a typo must not cost the run.
    if args.save:
        check_writable("--save", args.save)
    if args.plot:
        check_picture("--plot", args.plot)
    if args.flow_plot:
        check_picture("--flow-plot", args.flow_plot)
    record = args.gradient_flow if args.gradient_flow is not False else bool(args.flow_plot)
    net = network_from_args(args)
    data = for_network(load_data(args.data, _split(args.target)), net)
    try:
        params, history = train(
            net, data.X, data.Y, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            seed=args.seed, momentum=args.momentum, progress=False if args.no_progress else None,
            gradient_flow=record,
            backend=args.backend, accuracy=True,
        )
    except TrainingDivergedError as exc:
        from ..errors import SpecError

        first = str(exc).split(" Try a smaller")[0].split("; .params")[0]
        raise SpecError(f"{first} Try a smaller --lr (this run used --lr {args.lr:g}).") from None
    say(f"{net.describe()} on {args.data}: {data.n_samples} samples")
    _compile_note(net, history.backend)
    stopped = " (interrupted)" if history.interrupted else ""
    if history.loss:  # the number --plot draws for this epoch
        say(f"epoch {history.epochs}/{args.epochs}{stopped}: mean loss over the epoch "
            f"{history.loss[-1]:.6g}")
    else:
        say(f"epoch 0/{args.epochs}{stopped}")
    loss = float(net.compile().loss(params, data.X, data.Y))
    say(f"after training: loss {loss:.6g} on the whole set")
    accuracy = history.accuracy[-1] if history.accuracy else None
    if accuracy is not None:
        right = round(accuracy * data.n_samples)
        say(f"accuracy {100 * accuracy:.2f}% ({right}/{data.n_samples})")
    if record is not False:
        _flow(history, args.flow_plot)
    if args.save:
        from ..store import save

        meta = {
            "data": args.data,
            "features": list(data.features),
            "target": list(data.target),
            "classes": list(data.classes) if data.classes else None,
            "classification": accuracy is not None,
            "train": {"epochs": history.epochs, "lr": args.lr, "batch_size": args.batch_size,
                      "momentum": args.momentum, "seed": args.seed},
        }
        save(args.save, net, params, history, meta=meta)
        say(f"saved {args.save}")
    if args.plot:
        _plot(args.plot, net, params, history, data)
        say(f"saved {args.plot}")
    return 130 if history.interrupted else 0


def _plot(path: str, net, params, history, data) -> None:
    """The training curves, and the decision boundary beside them for 2-D inputs."""
    from matplotlib.figure import Figure

    from ..render import plot_decision_boundary, plot_history
    from ..render.drawing import save_figure

    boundary = data.X.shape[1] == 2
    fig = Figure(figsize=(11 if boundary else 6, 4.5), layout="constrained")
    axes = fig.subplots(1, 2 if boundary else 1, squeeze=False)[0]
    plot_history(history, ax=axes[0])
    if boundary:
        plot_decision_boundary(net, params, data.X, data.Y, ax=axes[1])
    save_figure(fig, path)


def _flow(history, plot: str | None) -> None:
    """Print the gradient-flow table (and save its picture) of a recorded run."""
    from ..flow import gradient_flow

    flow = gradient_flow(history)
    say("")
    if not flow.epochs:  # interrupted before the first epoch ended
        say("Gradient flow: no epoch was completed, nothing was recorded.")
        return
    say(flow.text())
    if plot:
        from ..render.flow import plot_gradient_flow

        plot_gradient_flow(flow, plot)
        say(f"saved {plot}")


def _inputs(source: str, n_inputs: int, meta: dict[str, Any]):
    """The input matrix of ``source`` for a model of ``n_inputs`` inputs (see predict's help)."""
    from ..datasets import BUILTIN, DataError, load_csv, load_data

    if source.strip() in BUILTIN:
        X = load_data(source).X
    else:
        features = meta.get("features") or None
        try:
            return load_csv(source, target=(), features=features).X
        except DataError as exc:
            if features is None or "Unknown feature column" not in str(exc):
                raise
            missing = exc
        # The columns are named differently: take them all, in order, if they fit.
        try:
            X = load_csv(source, target=()).X
        except DataError:
            raise missing from None
    if X.shape[1] != n_inputs:
        named = f" ({', '.join(meta['features'])})" if meta.get("features") else ""
        raise DataError(
            f"{source} has {X.shape[1]} columns, but the model takes {n_inputs} inputs{named}."
        )
    return X


def _columns(n_out: int, meta: dict[str, Any]) -> list[str]:
    classes, target = meta.get("classes"), meta.get("target") or []
    if classes and len(classes) == n_out:
        return [str(c) for c in classes]
    if classes and len(classes) == 2 and n_out == 1:
        return [str(classes[1])]
    if len(target) == n_out:
        return [str(t) for t in target]
    return [f"y{j}" for j in range(1, n_out + 1)]


def _predicted(P, meta: dict[str, Any]) -> list[str]:
    classes = meta.get("classes")
    if P.shape[1] == 1:
        index = (P[:, 0] >= 0.5).astype(int)
    else:
        index = P.argmax(axis=1)
    if classes and len(classes) == max(P.shape[1], 2):
        return [str(classes[i]) for i in index]
    return [str(i) for i in index]


def run_predict(args: argparse.Namespace) -> int:
    from ..store import load

    if args.out is not None:
        check_writable("--out", args.out, stdout=True)
    saved = load(args.model)
    net, params = saved
    meta = saved.meta
    if hasattr(net, "definitions"):  # a computation: its inputs by name, its outputs' names
        P, names = predict_computation(net, params, args.data)
    else:
        X = _inputs(args.data, net.sizes[0], meta)
        P = net.compile().predict(params, X)
        names = _columns(P.shape[1], meta)
    # Names come from the user's data: safe for a spreadsheet (and, below, a terminal).
    header = [csv_cell(c) for c in names]
    predicted = _predicted(P, meta) if meta.get("classification") else None
    if predicted is not None:
        header.append("predicted")
        predicted = [csv_cell(c) for c in predicted]
    digits = args.precision

    def write(fh, terminal: bool) -> None:
        out = csv.writer(fh, lineterminator="\n")
        rows = ([f"{v:.{digits}g}" for v in row] + ([predicted[i]] if predicted else [])
                for i, row in enumerate(P.tolist()))
        if terminal:
            rows = ([printable(c) for c in row] for row in rows)
            out.writerow([printable(c) for c in header])
        else:
            out.writerow(header)
        out.writerows(rows)

    if args.out is None or args.out == "-":
        write(sys.stdout, terminal=True)
    else:
        from ..files import open_output

        with open_output(args.out, "w", what="--out") as fh:
            write(fh, terminal=False)
        say(f"wrote {len(P)} predictions to {args.out}", err=True)
    return 0
