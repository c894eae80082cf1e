"""Options shared by subcommands: the network (--layers, --activation, --loss)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..network import Network


def add_network_args(parser: argparse.ArgumentParser) -> None:
    """Add --layers, --activation and --loss to ``parser``."""
    group = parser.add_argument_group("network")
    group.add_argument(
        "--layers", required=True, metavar="N0,N1,...",
        help="layer sizes, inputs first, e.g. 2,3,1",
    )
    group.add_argument(
        "--activation", default="sigmoid", metavar="NAME[,NAME...]",
        help="one activation for all layers, or one per layer after the inputs "
        "(relu, sigmoid, tanh, arctan, identity, softplus, leaky_relu, softmax; "
        "or a formula in z). Default: sigmoid",
    )
    group.add_argument(
        "--loss", default="quadratic", metavar="NAME",
        help="quadratic, mse, binary_cross_entropy, cross_entropy, or a formula in the "
        "output and target symbols. Default: quadratic",
    )


def parse_layers(text: str) -> list[int]:
    """``"2,3,1"`` -> ``[2, 3, 1]``, with a clear error otherwise.

    Examples
    --------
    >>> parse_layers("2, 3,1")
    [2, 3, 1]
    >>> parse_layers("2,x")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SpecError: --layers must be comma-separated positive integers such as 2,3,1; got '2,x'.
    """
    from ..errors import SpecError

    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise SpecError(
            f"--layers must be comma-separated positive integers such as 2,3,1; got {text!r}."
        )
    return [int(p) for p in parts]


def split_activations(text: str) -> list[str]:
    """Split ``"relu,sigmoid"`` at top-level commas (not those inside a formula's call).

    Examples
    --------
    >>> split_activations("relu,max(z, 0.1*z)")
    ['relu', 'max(z, 0.1*z)']
    """
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    parts.append(current.strip())
    return parts


def network_from_args(args: argparse.Namespace) -> Network:
    """Build the network the --layers/--activation/--loss options describe."""
    from ..network import mlp

    sizes = parse_layers(args.layers)
    acts = split_activations(args.activation)
    activation = acts[0] if len(acts) == 1 else acts
    return mlp(sizes, activation=activation, loss=args.loss.strip())
