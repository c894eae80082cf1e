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
from pathlib import Path
from typing import Any

from .common import add_network_args, network_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a network on a data set with mini-batch SGD",
        description="Train a network with mini-batch SGD on a built-in data set (xor, moons, "
        "circles, spirals, iris) or a CSV file with a header row, and print the final loss "
        "(and accuracy, for classification).",
        epilog="examples:\n"
        "  symbackprop train --layers 2,4,1 --activation tanh,sigmoid --loss binary_cross_entropy \\\n"
        "      --data xor --epochs 2000 --lr 0.5 --batch-size 4 --seed 0 --save xor-model.npz\n"
        "  symbackprop train --layers 4,8,3 --activation relu,softmax --loss cross_entropy \\\n"
        "      --data iris.csv --target species --epochs 200 --lr 0.05 --batch-size 16",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_args(p)
    data = p.add_argument_group("data")
    data.add_argument("--data", required=True, metavar="NAME|FILE.csv",
                      help="xor, moons, circles, spirals, iris, or a CSV file with a header row")
    data.add_argument("--target", metavar="COLUMN[,COLUMN...]",
                      help="target column(s) of the CSV file (default: the last column); a "
                      "column of class names becomes one output per class")
    opt = p.add_argument_group("training")
    opt.add_argument("--epochs", type=int, default=100, help="passes over the data (default 100)")
    opt.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    opt.add_argument("--batch-size", type=int, default=32, help="samples per step (default 32)")
    opt.add_argument("--momentum", type=float, default=0.0, help="momentum in [0, 1) (default 0)")
    opt.add_argument("--seed", type=int, default=0,
                     help="seed of the initial weights and the shuffling (default 0)")
    opt.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    opt.add_argument("--save", metavar="MODEL.npz", help="save the trained model to this file")
    opt.add_argument("--plot", metavar="FILE.png|.svg|.pdf",
                     help="save the loss (and accuracy) per epoch, with the decision boundary "
                     "beside it for two inputs")
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
    q.add_argument("--out", metavar="FILE.csv", help="write the CSV here instead of stdout")
    q.set_defaults(func=run_predict)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def run_train(args: argparse.Namespace) -> int:
    from ..datasets import for_network, load_data
    from ..training import train

    net = network_from_args(args)
    if args.plot:  # before training, not after: a typo must not cost the run
        from ..render.drawing import picture_format

        picture_format(Path(args.plot).suffix or "(no extension)")
    data = for_network(load_data(args.data, _split(args.target)), net)
    params, history = train(
        net, data.X, data.Y, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
        seed=args.seed, momentum=args.momentum, progress=False if args.no_progress else None,
    )
    print(f"{net.describe()} on {args.data}: {data.n_samples} samples")
    loss = float(net.compile().loss(params, data.X, data.Y))
    stopped = " (interrupted)" if history.interrupted else ""
    print(f"epoch {history.epochs}/{args.epochs}{stopped}: loss {loss:.6g}")
    accuracy = history.accuracy[-1] if history.accuracy else None
    if accuracy is not None:
        right = round(accuracy * data.n_samples)
        print(f"accuracy {100 * accuracy:.2f}% ({right}/{data.n_samples})")
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
        print(f"saved {args.save}")
    if args.plot:
        _plot(args.plot, net, params, history, data)
        print(f"saved {args.plot}")
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
    from ..store import atomic_write, load

    saved = load(args.model)
    net, params = saved
    meta = saved.meta
    X = _inputs(args.data, net.sizes[0], meta)
    P = net.compile().predict(params, X)
    header = _columns(P.shape[1], meta)
    predicted = _predicted(P, meta) if meta.get("classification") else None
    if predicted is not None:
        header.append("predicted")

    def write(fh) -> None:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        for i, row in enumerate(P.tolist()):
            out.writerow([repr(v) for v in row] + ([predicted[i]] if predicted else []))

    if args.out:
        with atomic_write(args.out, "w") as fh:
            write(fh)
        print(f"wrote {len(P)} predictions to {args.out}", file=sys.stderr)
    else:
        write(sys.stdout)
    return 0
