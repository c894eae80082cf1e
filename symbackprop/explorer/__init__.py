"""The interactive explorer: one self-contained HTML page with a training step walked through.

``sbp.explore(net, ...)`` (or ``net.explore(...)``) computes, in Python, one SGD step at one
sample (every z, a, J, δ, ∂J/∂p and the update), the derivation of every parameter
(paths, local partials, δ recursion, compact and expanded forms, each with its value),
and, given data, a recorded training run; and writes it all into one HTML file with a
small inline script that shows it: the network as SVG, a click on a weight or bias opens
its derivation, step buttons walk forward -> backward -> update, a slider moves through
the recorded epochs. No file or URL outside the page is needed; formulas are MathML,
which the browser typesets itself. In Jupyter the same page shows inline (an iframe).
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp

from ..errors import SpecError

__all__ = ["explore", "Explorer", "MAX_PARAMS", "MAX_WIDTH"]

#: The explorer derives and draws every parameter: refused beyond this many (the page of a
#: 4-16-16-3 network, 403 parameters, is about 1 MB).
MAX_PARAMS = 1000
#: ... and every neuron, one circle each: refused beyond this many in one layer.
MAX_WIDTH = 32


class Explorer:
    """The explorer page of one network, built by :func:`explore`.

    Attributes
    ----------
    seconds : float
        How long building it took.
    data : dict
        Everything the page shows, as the plain data embedded in it.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> ex = sbp.explore(sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic"))
    >>> ex.size < 2_000_000, "<svg" in ex.html()
    (True, True)
    """

    def __init__(self, page: str, data: dict[str, Any], seconds: float, title: str):
        self._page = page
        self.data = data
        self.seconds = seconds
        self.title = title

    def html(self) -> str:
        """The whole page (a complete HTML document)."""
        return self._page

    @property
    def size(self) -> int:
        """The page's size in bytes (UTF-8)."""
        return len(self._page.encode("utf-8"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` (atomically) and return the path.

        Examples
        --------
        >>> import os, tempfile, symbackprop as sbp
        >>> ex = sbp.explore(sbp.mlp([1, 1], activation="identity"))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     ex.save(os.path.join(d, "e.html")).stat().st_size == ex.size
        True
        """
        from ..files import check_writable, write_bytes

        check_writable(path, what="explorer page")
        path = Path(path)
        write_bytes(path, self._page.encode("utf-8"), what="explorer page")
        return path

    def _repr_html_(self) -> str:
        # Notebooks sanitise or isolate a page's scripts; an iframe's srcdoc runs them
        # (JupyterLab and VS Code alike) and keeps the page's style to itself.
        return (f'<iframe srcdoc="{html.escape(self._page, quote=True)}" title="{html.escape(self.title)}" '
                'style="width: 100%; height: 860px; border: 1px solid #ddd;" '
                'sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return f"<Explorer: {self.title}, {self.size:,} bytes, built in {self.seconds:.1f} s>"


def _check_size(net) -> None:
    n, widest = len(net.params), max(net.sizes)
    shape = "-".join(map(str, net.sizes))
    if n > MAX_PARAMS or widest > MAX_WIDTH:
        raise SpecError(
            f"The explorer derives and draws every parameter and neuron: at most {MAX_PARAMS:,} "
            f"parameters and {MAX_WIDTH} neurons per layer; the {shape} network has {n:,} "
            f"parameters and {widest} neurons in its widest layer (symbackprop report summarises "
            "bigger networks).")


def _dataset(net, data: Any) -> tuple[np.ndarray, np.ndarray]:
    from ..datasets import Dataset, for_network, load_data

    if isinstance(data, str):
        data = load_data(data)
    if isinstance(data, Dataset):
        data = for_network(data, net)
        return data.X, data.Y
    if isinstance(data, tuple) and len(data) == 2:
        return net.compile().check_data(*data)
    raise SpecError("data must be a pair (X, Y) of inputs and targets, a Dataset, or the name "
                    "of a built-in data set or CSV file.")


def _vector(name: str, values: Any, n: int) -> list[float]:
    try:
        out = [float(v) for v in np.asarray(values, dtype=float).ravel()]
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be {n} number(s); got {values!r}.") from None
    if len(out) != n or not all(np.isfinite(out)):
        raise SpecError(f"{name} must be {n} finite number(s) for this network; got {values!r}.")
    return out


def _default_sample(net, seed: int) -> tuple[list[float], list[float]]:
    """A sample to walk through when none is given: seeded inputs in [-1, 1], target e₁."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    x = [round(float(v), 2) for v in rng.uniform(-1, 1, net.sizes[0])]
    y = [1.0] + [0.0] * (net.sizes[-1] - 1)
    return x, y


def _steps(net, lr: float) -> list[dict[str, Any]]:
    from ..notation import text_name

    L = net.n_layers

    def t(name: str) -> str:
        return text_name(sp.Symbol(name))

    steps: list[dict[str, Any]] = [{"phase": "start", "title": "Start: the weights, the sample at the inputs"}]
    for l in range(1, L + 1):
        prev = t("xk") if l == 1 else t(f"a{l - 1}_k")
        act = net.activations[l - 1].name
        steps.append({"phase": "forward", "layer": l, "title":
                      f"Forward, layer {l}: {t(f'z{l}_j')} = Σₖ {t(f'w{l}_j_k')} {prev} + {t(f'b{l}_j')}, "
                      f"{t(f'a{l}_j')} = {act}({t(f'z{l}_j')})"})
    steps.append({"phase": "loss", "title": f"Loss: J = {net.loss.name} of the outputs and the target y"})
    for l in range(L, 0, -1):
        steps.append({"phase": "backward", "layer": l, "title":
                      f"Backward, layer {l}: {t(f'delta{l}_j')} = ∂J/∂{t(f'z{l}_j')}, "
                      f"∂J/∂{t(f'w{l}_j_k')} and ∂J/∂{t(f'b{l}_j')}"})
    steps.append({"phase": "update", "title": f"Update: p⁺ = p − η ∂J/∂p for every weight and bias (η = {lr:g})"})
    return steps


def explore(
    net,
    params: Mapping | Sequence | None = None,
    *,
    x: Sequence[float] | None = None,
    y: Sequence[float] | None = None,
    data: Any = None,
    sample: int = 0,
    epochs: int = 100,
    lr: float = 0.1,
    batch_size: int = 32,
    momentum: float = 0.0,
    seed: int = 0,
    snapshots: int = 12,
    gradient_flow: bool = True,
    path: str | os.PathLike | None = None,
) -> Explorer:
    """Build the interactive explorer page of ``net``: one SGD step, every derivation, training.

    Parameters
    ----------
    net : Network
        At most :data:`MAX_PARAMS` parameters and :data:`MAX_WIDTH` neurons per layer.
    params : mapping or per-layer arrays, optional
        The parameters the step starts from (and training, given ``data``); default
        ``net.init_params(seed)``.
    x, y : sequence of float, optional
        The sample walked through; default the row ``sample`` of ``data``, or seeded
        inputs in [-1, 1] with target (1, 0, ..., 0).
    data : (X, Y), Dataset or str, optional
        Train on it (``epochs``, ``lr``, ``batch_size``, ``momentum``, ``seed``, as
        :func:`~symbackprop.train`) and add the epoch slider: loss curve, weights, and the
        decision boundary for 2 inputs.
    sample : int
        Which row of ``data`` is the walked-through sample (when ``x`` is not given).
    epochs, lr, batch_size, momentum, seed
        Training settings; ``lr`` is also the learning rate of the step shown.
    snapshots : int
        About how many epochs to record weights at (spaced geometrically).
    gradient_flow : bool
        Record and show the per-layer gradient flow (:func:`~symbackprop.gradient_flow`).
        Its bound needs sup|f'| of each activation from SymPy once per process: instant
        for relu and about a second for sigmoid, but several seconds for tanh.
    path : str or path, optional
        Also write the page there.

    Returns
    -------
    Explorer
        ``.html()``, ``.save(path)``, ``.size``, ``.seconds``; shows inline in Jupyter.

    Examples
    --------
    >>> import symbackprop as sbp
    >>> net = sbp.mlp([2, 2, 2], activation="sigmoid", loss="quadratic")
    >>> ex = sbp.explore(net, x=[0.05, 0.10], y=[0.01, 0.99], lr=0.5)
    >>> round(ex.data["content"]["values"]["J"], 12) == round(float(net.compile().loss(
    ...     net.init_params(0), [[0.05, 0.10]], [[0.01, 0.99]])), 12)
    True
    """
    from .. import __version__
    from ..params import to_mapping
    from .content import sample_content
    from .page import build_page
    from .record import record_training

    started = time.perf_counter()
    _check_size(net)
    if path is not None:
        from ..files import check_writable

        check_writable(path, what="explorer page")  # before the work, not after it
    for name, value in (("sample", sample), ("snapshots", snapshots)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise SpecError(f"{name} must be a non-negative integer; got {value!r}.")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (np.isfinite(lr) and lr > 0):
        raise SpecError(f"lr must be a finite number greater than 0; got {lr!r}.")
    start = dict(net.init_params(seed) if params is None else to_mapping(net, params))
    X = Y = None
    if data is not None:
        X, Y = _dataset(net, data)
        if x is None:
            if sample >= len(X):
                raise SpecError(f"sample must be a row of the data (0 to {len(X) - 1}); got {sample}.")
            x, y = X[sample], Y[sample]
    if x is None and y is None:
        x, y = _default_sample(net, seed)
    elif x is None or y is None:
        raise SpecError("Give both x and y (the sample and its target), or neither.")
    x = _vector("x", x, net.sizes[0])
    y = _vector("y", y, net.sizes[-1])
    net.compile().check_data([x], [y])  # targets in the loss's domain, as training checks them
    net.prepare_graph(None)  # bounded by MAX_PARAMS above
    content = sample_content(net, start, x, y, float(lr))
    data_out: dict[str, Any] = {
        "net": {"sizes": list(net.sizes), "describe": net.describe(),
                "params": [p.name for p in net.params]},
        "sample": {"x": x, "y": y},
        "content": content,
        "steps": _steps(net, float(lr)),
        "training": None,
    }
    if X is not None:
        data_out["training"] = record_training(
            net, X, Y, start, epochs=epochs, lr=float(lr), batch_size=batch_size, seed=seed,
            momentum=momentum, snapshots=max(1, snapshots), gradient_flow=bool(gradient_flow))
    title = f"symbackprop explorer: the {net.describe()}"
    sample_text = ", ".join(f"{v:g}" for v in x), ", ".join(f"{v:g}" for v in y)
    subtitle = (f"One step of SGD at the sample x = ({sample_text[0]}), y = ({sample_text[1]}), "
                f"learning rate η = {lr:g}; {len(net.params)} parameters.")
    seconds = time.perf_counter() - started
    footer = (f"Built by symbackprop {__version__} in {seconds:.1f} s. One file: it needs no "
              "network access; formulas are MathML, typeset by the browser.")
    page = build_page(net, data_out, title=title, subtitle=subtitle, footer=footer)
    ex = Explorer(page, data_out, time.perf_counter() - started, title)
    if path is not None:
        ex.save(path)
    return ex
