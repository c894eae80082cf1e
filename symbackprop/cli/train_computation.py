"""``symbackprop train --file model.txt --data data.csv``, and ``predict`` of such a model.

The computation file (docs/computations.md: ``params:``/``inputs:``/``targets:`` headers,
then lines ``name = formula``) replaces --layers/--activation/--loss. The data's columns
are matched to the computation's inputs and targets by name (a CSV header, or a built-in
data set's ``x1, x2, y``); a missing or extra column is a one-line error naming it.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import say

__all__ = ["add_file_argument", "run_train_file", "predict_computation"]


def add_file_argument(p: argparse.ArgumentParser) -> None:
    """--file: a computation file instead of --layers."""
    from .computation_args import add_computation_file

    add_computation_file(p, help="train a computation file (params:/inputs:/targets: headers, then lines "
                         "name = formula; docs/computations.md) instead of --layers; the data's columns "
                         "are matched to its inputs and targets by name")


def _dataset(source: str):
    """The data with every column named (a CSV file's header, a built-in set's names)."""
    from ..datasets import BUILTIN, load_data

    if source.strip() in BUILTIN:
        return load_data(source)
    return load_data(source, target=())  # every column by its header name


def run_train_file(args: argparse.Namespace, check_writable, check_picture) -> int:
    from ..computation_file import load_computation
    from ..errors import SpecError
    from ..training import TrainingDivergedError, train

    if args.layers is not None:
        raise SpecError("--file reads a computation; it cannot go with --layers.")
    if args.target is not None:
        raise SpecError("--target is for --layers networks; a computation file names its targets in its targets: header.")
    if args.save:
        check_writable("--save", args.save)
    if args.plot:
        check_picture("--plot", args.plot)
    g = load_computation(args.file)
    data = _dataset(args.data)
    model = g.compile()
    X, Y = model.check_data(data)  # by name: errors name a missing or extra column
    try:
        params, history = train(
            g, X, Y, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            seed=args.seed, momentum=args.momentum, progress=False if args.no_progress else None,
            accuracy=True,
        )
    except TrainingDivergedError as exc:
        first = str(exc).split(" Try a smaller")[0].split("; .params")[0]
        raise SpecError(f"{first} Try a smaller --lr (this run used --lr {args.lr:g}).") from None
    say(f"computation {g.loss.name} ({args.file}) on {args.data}: {X.shape[0]} samples")
    stopped = " (interrupted)" if history.interrupted else ""
    if history.loss:
        say(f"epoch {history.epochs}/{args.epochs}{stopped}: mean loss over the epoch {history.loss[-1]:.6g}")
    say(f"after training: loss {model.loss(params, X, Y):.6g} on the whole set")
    accuracy = history.accuracy[-1] if history.accuracy else None
    if accuracy is not None:
        say(f"accuracy {100 * accuracy:.2f}% ({round(accuracy * X.shape[0])}/{X.shape[0]})")
    say("parameters: " + ", ".join(f"{p.name}={v:.6g}" for p, v in params.items()))
    if args.save:
        from ..store import save

        meta = {
            "data": args.data,
            "features": [x.name for x in g.inputs],
            "target": [y.name for y in g.targets],
            "classification": accuracy is not None,
            "train": {"epochs": history.epochs, "lr": args.lr, "batch_size": args.batch_size,
                      "momentum": args.momentum, "seed": args.seed},
        }
        save(args.save, g, params, history, meta=meta)
        say(f"saved {args.save}")
    if args.plot:
        from matplotlib.figure import Figure

        from ..render import plot_history
        from ..render.drawing import save_figure

        fig = Figure(figsize=(6, 4.5), layout="constrained")
        plot_history(history, ax=fig.subplots())
        save_figure(fig, args.plot)
        say(f"saved {args.plot}")
    return 130 if history.interrupted else 0


def predict_computation(g: Any, params: Any, source: str) -> tuple[Any, list[str]]:
    """The outputs of ``g`` for the rows of ``source`` (inputs by name), and their names."""
    from ..datasets import BUILTIN, load_csv, load_data

    names = [x.name for x in g.inputs]
    if source.strip() in BUILTIN:
        X = load_data(source)  # its columns by name (x1, x2, y)
    else:
        X = load_csv(source, target=(), features=names)  # the inputs by name; other columns ignored
    return g.compile().predict(params, X), [o.name for o in g.outputs]
