"""Large networks: sizes counted before building, one parameter derived on its cone, refusals.

The cone of a parameter p (``build_cone``) holds only the neurons p reaches on its way to J;
a derivation on it must be the derivation on the full graph, word for word and value for
value. Large networks must answer one parameter without building the full graph, and
refuse what would be too large in one line naming the size and the way out.
"""

from __future__ import annotations

import subprocess
import tracemalloc

import numpy as np
import pytest
import sympy as sp
from bounded import run_cli, run_cli_many
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import close

import symbackprop as sbp
from symbackprop.derivation import Derivation
from symbackprop.derive import Backprop
from symbackprop.graph import (
    DEFAULT_MAX_GRAPH_EDGES,
    build_cone,
    build_graph,
    cone_size,
    graph_size,
)
from symbackprop.notation import real_symbol, symbol_name

HIDDEN = ["sigmoid", "tanh", "relu", "softplus", "identity", "arctan", "leaky_relu"]
# (output activation, loss): the elementwise pairs and softmax, which couples all outputs.
OUTPUTS = [
    ("sigmoid", "quadratic"),
    ("sigmoid", "binary_cross_entropy"),
    ("identity", "mse"),
    ("tanh", "quadratic"),
    ("softmax", "cross_entropy"),
    ("softmax", "quadratic"),
]


def _derivations(net: sbp.Network, p: sp.Symbol) -> tuple[Derivation, Derivation]:
    full = Derivation(Backprop(net, build_graph(net)), p)
    cone = Derivation(Backprop(net, build_cone(net, p)), p)
    return full, cone


def _sample(net: sbp.Network, seed: int) -> tuple[dict, list, list]:
    rng = np.random.default_rng(seed)
    params = {p.name: float(rng.uniform(-1, 1)) for p in net.params}
    x = [float(v) for v in rng.uniform(-1, 1, net.sizes[0])]
    y = rng.uniform(0, 1, net.sizes[-1])
    if not net.activations[-1].elementwise:
        y = y / y.sum()  # one distribution per sample, as cross-entropy expects
    return params, x, [float(v) for v in y]


def assert_same_derivation(net: sbp.Network, p: sp.Symbol, seed: int = 0) -> None:
    full, cone = _derivations(net, p)
    assert cone.n_paths == full.n_paths and cone.paths == full.paths
    assert cone.partials == full.partials and cone.deltas == full.deltas
    assert cone.delta_form == full.delta_form and cone.compact == full.compact
    assert cone.text() == full.text()
    assert cone.latex() == full.latex()
    assert cone.markdown() == full.markdown()
    assert cone.to_dict() == full.to_dict()
    size = full.backprop.expanded_size(full.compact)
    assert cone.backprop.expanded_size(cone.compact) == size
    if size <= 3000:
        assert cone.backprop.expanded(cone.compact, max_size=None) == full.backprop.expanded(
            full.compact, max_size=None
        )
    params, x, y = _sample(net, seed)
    full_at, cone_at = full.at(params, x, y), cone.at(params, x, y)
    assert cone_at.text() == full_at.text()
    for expr in [cone.compact, cone.delta_form, *(e for _, e in cone.deltas)]:
        assert cone_at.value(expr) == full_at.value(expr)


@st.composite
def networks_and_parameters(draw) -> tuple[sbp.Network, sp.Symbol]:
    n_layers = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 3), min_size=n_layers + 1, max_size=n_layers + 1))
    out_act, loss = draw(st.sampled_from(OUTPUTS))
    if out_act == "softmax":
        sizes[-1] = max(2, sizes[-1])
    acts = [draw(st.sampled_from(HIDDEN)) for _ in range(n_layers - 1)] + [out_act]
    net = sbp.mlp(sizes, activation=acts, loss=loss)
    kind = draw(st.sampled_from(["first-layer weight", "hidden bias", "output weight"]))
    L = n_layers
    if kind == "first-layer weight":
        p = net.w(1, draw(st.integers(1, sizes[1])), draw(st.integers(1, sizes[0])))
    elif kind == "hidden bias":
        layer = draw(st.integers(1, max(1, L - 1)))
        p = net.b(layer, draw(st.integers(1, sizes[layer])))
    else:
        p = net.w(L, draw(st.integers(1, sizes[L])), draw(st.integers(1, sizes[L - 1])))
    return net, p


@settings(max_examples=12, deadline=None)
@given(networks_and_parameters(), st.integers(0, 3))
def test_cone_derivation_is_the_full_graph_derivation(case, seed):
    net, p = case
    assert_same_derivation(net, p, seed)


@pytest.mark.parametrize("p", ["w1_1_1", "b1_2", "w2_1_1", "w3_2_1"])
def test_cone_equals_full_with_softmax_output(p):
    net = sbp.mlp([2, 3, 2, 3], activation=["tanh", "sigmoid", "softmax"], loss="cross_entropy")
    assert_same_derivation(net, net.parameter(p))


@pytest.mark.parametrize("p", ["w1_1_1", "w2_1_1"])
def test_cone_equals_full_when_layers_are_summarised(p):
    # 20 inputs to each z of layer 2 and 18 to layer 3: sums written with Σ; w1_1_1 reaches
    # 18 δ of layer 2: the list shows a few and says how many more.
    net = sbp.mlp([3, 20, 18, 2], activation="sigmoid", loss="quadratic")
    assert_same_derivation(net, net.parameter(p))
    text = net.derivation(p).text()
    if p == "w1_1_1":
        assert "⋮ 14 more of layer 2, δ⁽²⁾₄ … δ⁽²⁾₁₇" in text
        assert len(net.derivation(p).deltas) == 2 + 18 + 1  # every δ is still there
    else:
        assert "k = 1" in text and "w⁽²⁾₁ₖ" in text  # z⁽²⁾₁ = b + Σ_k a⁽¹⁾ₖ w⁽²⁾₁ₖ


def test_sizes_are_counted_exactly():
    for sizes, acts, loss in [
        ([2, 2, 1], "sigmoid", "quadratic"),
        ([3, 4, 2], ["relu", "softmax"], "cross_entropy"),
        ([1, 2, 3, 2], ["tanh", "tanh", "sigmoid"], "binary_cross_entropy"),
        ([2, 3, 3], ["identity", "softmax"], "quadratic"),
    ]:
        net = sbp.mlp(sizes, activation=acts, loss=loss)
        g = build_graph(net)
        assert graph_size(net) == (g.number_of_nodes(), g.number_of_edges())
        for p in net.params:
            cone = build_cone(net, p)
            assert cone_size(net, p) == (cone.number_of_nodes(), cone.number_of_edges())
            # The cone is p and everything p reaches, with every edge among them.
            import networkx as nx

            assert set(cone) == {p.name} | nx.descendants(g, p.name)
            assert set(cone.edges) == set(g.subgraph(cone).edges)


# --------------------------------------------------------------------- large networks
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


class NumpyNet:
    """A NumPy twin of an MLP (sigmoid or tanh hidden layers; sigmoid + quadratic or
    softmax + cross-entropy output) at one random sample: the independent oracle."""

    def __init__(self, sizes: list[int], hidden, softmax: bool, seed: int):
        rng = np.random.default_rng(seed)
        self.Ws = [rng.normal(0, 1 / np.sqrt(m), (n, m)) for m, n in zip(sizes, sizes[1:])]
        self.bs = [rng.normal(0, 0.1, n) for n in sizes[1:]]
        self.x = rng.uniform(-1, 1, sizes[0])
        y = rng.uniform(0, 1, sizes[-1])
        self.y = y / y.sum() if softmax else y
        self.hidden, self.softmax = hidden, softmax

    def forward(self) -> tuple[float, list[np.ndarray]]:
        acts = [self.x]
        for layer, (W, b) in enumerate(zip(self.Ws, self.bs), start=1):
            z = W @ acts[-1] + b
            if layer < len(self.Ws):
                acts.append(self.hidden(z))
            else:
                acts.append(_softmax(z) if self.softmax else _sigmoid(z))
        a = acts[-1]
        loss = -float(self.y @ np.log(a)) if self.softmax else 0.5 * float(np.sum((a - self.y) ** 2))
        return loss, acts

    def finite_difference(self, layer: int, at: tuple[int, ...], h: float = 1e-6) -> float:
        arr = self.Ws[layer - 1] if len(at) == 2 else self.bs[layer - 1]
        old = arr[at]
        arr[at] = old + h
        up, _ = self.forward()
        arr[at] = old - h
        down, _ = self.forward()
        arr[at] = old
        return (up - down) / (2 * h)

    def value_of(self, d: Derivation) -> float:
        """The derivation's compact ∂J/∂p, δ written out by its own recursion, at this sample."""
        from symbackprop.notation import parse_name

        _, acts = self.forward()
        expr, deltas = d.compact, dict(d.deltas)
        while expr.free_symbols & deltas.keys():
            expr = expr.xreplace(deltas)
        values = {}
        for s in expr.free_symbols:
            n = parse_name(s.name)
            i = n.index[0] - 1
            if n.head in ("x", "y"):
                values[s] = getattr(self, n.head)[i]
            elif n.head == "a":
                values[s] = acts[n.layer][i]
            elif n.head == "w":
                values[s] = self.Ws[n.layer - 1][i, n.index[1] - 1]
            else:
                assert n.head == "b", f"unexpected symbol {s} in the compact gradient"
                values[s] = self.bs[n.layer - 1][i]
        return float(expr.xreplace({s: sp.Float(float(v)) for s, v in values.items()}))


@pytest.mark.parametrize("sizes, acts, loss, hidden, softmax", [
    ([300, 300, 300], "sigmoid", "quadratic", _sigmoid, False),
    ([120, 400, 6], ["tanh", "softmax"], "cross_entropy", np.tanh, True),
])
def test_large_network_derives_one_parameter_without_the_full_graph(sizes, acts, loss, hidden, softmax):
    net = sbp.mlp(sizes, activation=acts, loss=loss)
    assert graph_size(net).edges > DEFAULT_MAX_GRAPH_EDGES
    twin = NumpyNet(sizes, hidden, softmax, seed=7)
    for layer, at in [(1, (0, 0)), (1, (1,)), (2, (2, 4))]:
        p = net.w(layer, at[0] + 1, at[1] + 1) if len(at) == 2 else net.b(layer, at[0] + 1)
        d = net.derivation(p)
        assert d.compact == net.grad(p)
        assert d.backprop.cone == p.name  # derived on p's cone ...
        assert d.backprop.graph.number_of_nodes() == cone_size(net, p).nodes < 1000
        assert d.text().startswith(f"∂J/∂{sbp.notation.text_name(p)} in the {'-'.join(map(str, sizes))}")
        # ... and right, against central differences of the NumPy twin's loss.
        assert close(twin.value_of(d), twin.finite_difference(layer, at), rtol=1e-5, atol=1e-9)
    assert "graph" not in net.__dict__ and "backprop" not in net.__dict__


def test_mlp_of_absurd_sizes_allocates_nothing_big():
    tracemalloc.start()
    net = sbp.mlp([100_000, 100_000], activation="sigmoid", loss="quadratic")
    net.describe(), repr(net), net.w(1, 5, 7), graph_size(net)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000
    assert "params" not in net.__dict__ and "graph" not in net.__dict__


def test_init_params_compile_and_train_never_build_the_graph():
    net = sbp.mlp([4, 20, 3], activation=["relu", "softmax"], loss="cross_entropy")
    params = net.init_params(seed=0)
    model = net.compile()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 4))
    Y = np.eye(3)[rng.integers(0, 3, 8)]
    model.gradient(params, X, Y)
    sbp.train(net, X, Y, epochs=2, lr=0.1, batch_size=4, seed=0, progress=False)
    assert "graph" not in net.__dict__ and "backprop" not in net.__dict__


# ---------------------------------------------------------------------------- refusals
def _one_line(text: str) -> str:
    assert "\n" not in text.strip() and "Traceback" not in text
    return text


def test_full_graph_of_a_large_network_is_refused_in_one_line():
    net = sbp.mlp([1000, 1000, 1000])
    for attempt in (lambda: net.graph, net.gradients, lambda: net.deltas, net.prepare_graph):
        with pytest.raises(sbp.GraphTooLargeError) as info:
            attempt()
        msg = _one_line(str(info.value))
        assert "4,006,000 edges" in msg and "limit 100,000" in msg
        assert "net.equations()" in msg and "max_edges=None" in msg
    assert "graph" not in net.__dict__
    # The way out the message names is real: the layer-level equations answer.
    assert "δ⁽¹⁾ⱼ" in net.equations().text()


def test_a_cone_too_large_is_refused_and_the_limit_can_be_raised():
    net = sbp.mlp([3, 2, 400, 400])  # w1_1_1 reaches all of layers 2 and 3: 160,000 edges
    with pytest.raises(sbp.GraphTooLargeError) as info:
        net.derivation("w1_1_1")
    msg = _one_line(str(info.value))
    # The loss over all 400 outputs is built too: counted with the cone.
    assert "that w1_1_1 reaches" in msg and f"{cone_size(net, net.w(1, 1, 1)).edges + 800:,} edges" in msg
    assert "graph" not in net.__dict__
    # An output weight's cone is small: answered under the same limit.
    assert net.grad("w3_1_1") == net.a(2, 1) * net.a(3, 1) * (1 - net.a(3, 1)) * (net.a(3, 1) - net.y(1))
    with sbp.graph_limit(10):
        with pytest.raises(sbp.GraphTooLargeError):
            sbp.mlp([2, 2, 1]).prepare_graph(max_edges=10)
    with pytest.raises(sbp.SpecError, match="max_edges must be a positive integer"):
        with sbp.graph_limit(0):
            pass


def test_cli_default_limit_is_the_library_default():
    from symbackprop.cli import derive

    assert derive.DEFAULT_MAX_GRAPH_EDGES == DEFAULT_MAX_GRAPH_EDGES


REFUSALS = [
    (["derive", "--layers", "1000,1000,1000", "--wrt", "all"], "4,006,000 edges"),
    (["derive", "--layers", "100000,100000", "--wrt", "w1_1_1"], "200,003 edges"),
    (["report", "--layers", "1000,1000,1000", "--out", "never.html"], "4,006,000 edges"),
    (["render", "--layers", "1000,1000,1000", "--what", "graph", "--out", "never.png"], "4,006,000 edges"),
]
DERIVE_1000 = ["derive", "--layers", "1000,1000,1000", "--wrt", "w1_1_1"]
CHECK_REFUSALS = [
    ["check", "--layers", "1000,1000,1000", "--wrt", "w1_1_1", "--formula", "delta1_1*x1"],
    ["check", "--layers", "1000,1000,1000", "--wrt", "w1_1_1", "--latex", r"\delta^{(1)}_1 x_1"],
    ["check", "--layers", "1000,1000,1000", "--file", "/no/such/file.txt"],
    ["check-layer", "--layers", "1000,1000,1000", "--wrt", "dW1", "--formula", "delta1 @ x.T"],
]
EQUATIONS = ["derive", "--layers", "100000,100000", "--equations"]


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Every command line of this module, each in its own forked child with bounded memory
    and time (bounded.run_cli_many, one interpreter importing SymPy once): a hang or blow-up
    fails, not waits. 3 GB of address space for the 1000-wide network's derivations; 768 MB
    for the refusals of check (the old check took 2.1 GB and 84 s) and the equations of a
    100000-100000 network. Returns (the run of an argv, the folder the --out files name)."""
    outs = tmp_path_factory.mktemp("never-written")
    big = [[*a[:-1], str(outs / a[-1])] if a[-2] == "--out" else a for a, _ in REFUSALS]
    big += [DERIVE_1000, [*DERIVE_1000, "--max-graph-edges", "1000"]]
    small = [*CHECK_REFUSALS, EQUATIONS]
    runs = dict(zip(map(tuple, big), run_cli_many(big, memory=3 << 30, timeout=300)))
    runs.update(zip(map(tuple, small), run_cli_many(small, timeout=120)))

    def run(args: list[str]) -> subprocess.CompletedProcess:
        if args[-2:-1] == ["--out"]:
            args = [*args[:-1], str(outs / args[-1])]
        return runs[tuple(args)]

    return run, outs


@pytest.mark.parametrize("args, needle", REFUSALS)
def test_cli_refuses_in_one_line_naming_size_and_way_out(args, needle, cli):
    run, outs = cli
    out = run(args)
    assert out.returncode == 2, out.stderr
    msg = _one_line(out.stderr)
    assert needle in msg and "--max-graph-edges" in msg and "equations" in msg
    assert "max_edges" not in msg  # flags, not Python arguments, for CLI users
    assert not any(outs.iterdir())


def test_cli_derives_one_weight_of_a_1000_wide_network(cli):
    run, _ = cli
    out = run(DERIVE_1000)
    assert out.returncode == 0, out.stderr
    assert "There are 1,000 paths" in out.stdout and "⋮ 996 more of layer 2" in out.stdout
    small = run([*DERIVE_1000, "--max-graph-edges", "1000"])
    assert small.returncode == 2 and "5,002 edges" in small.stderr and "that w1_1_1 reaches" in small.stderr


def test_a_typo_in_a_large_network_is_answered_without_listing_every_name():
    net = sbp.mlp([1000, 1000, 1000])
    tracemalloc.start()
    with pytest.raises(sbp.UnknownNameError, match="Did you mean 'w1_1_1000'"):
        net.derivation("w1_1_1001")
    with pytest.raises(sbp.UnknownNameError, match="Did you mean 'delta2_1000'"):
        net.symbol("delta2_1001")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000  # the two million parameter names are never made
    assert "params" not in net.__dict__


def test_wide_softmax_output_keeps_its_long_delta_and_stays_right():
    # 20 outputs: each output δ sums over all of them, too long to tidy (see TIDY_MAX_SIZE).
    net = sbp.mlp([2, 3, 20], activation=["tanh", "softmax"], loss="cross_entropy")
    for p in (net.w(1, 1, 1), net.w(2, 3, 2)):
        assert_same_derivation(net, p)
    twin = NumpyNet([2, 3, 20], np.tanh, softmax=True, seed=11)
    for layer, at in [(1, (0, 0)), (2, (2, 1)), (2, (4,))]:
        p = net.w(layer, at[0] + 1, at[1] + 1) if len(at) == 2 else net.b(layer, at[0] + 1)
        d = Derivation(Backprop(net, build_cone(net, p)), p)
        assert close(twin.value_of(d), twin.finite_difference(layer, at), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("what", ["formula", "expression"])
def test_cli_render_without_wrt_draws_w111_without_naming_every_parameter(what, tmp_path, monkeypatch, capsys):
    import symbackprop.cli.render as cli_render
    from symbackprop.cli import main

    made = []

    def network(args):
        made.append(sbp.mlp([3, 2, 1]))
        return made[-1]

    monkeypatch.setattr(cli_render, "network_from_args", network)
    monkeypatch.setattr(sbp.Network, "grad", lambda self, p, **kw: asked.append(p) or grad(self, p, **kw))
    monkeypatch.setattr(sbp.Network, "derivation", lambda self, p: asked.append(p) or derivation(self, p))
    asked: list = []
    out = tmp_path / "f.svg"
    assert main(["render", "--layers", "3,2,1", "--what", what, "--out", str(out)]) == 0
    assert out.exists() and asked[:1] == [made[0].w(1, 1, 1)]
    # net.params would name all parameters first (2 million of them take 20 s).
    assert "params" not in made[0].__dict__


grad, derivation = sbp.Network.grad, sbp.Network.derivation


# ---------------------------------------------------------------------------- check, size first
def test_check_refuses_a_large_network_before_any_work(tmp_path):
    net = sbp.mlp([1000, 1000, 1000])
    with pytest.raises(sbp.GraphTooLargeError) as info:
        sbp.check(net, "w1_1_1", "delta1_1*x1")
    msg = _one_line(str(info.value))
    assert msg.startswith("Checking a formula needs the scalar graph of the 1000-1000-1000 network")
    assert "4,006,000 edges" in msg and "max_edges=None" in msg
    # Refused from the sizes alone: no graph, no parameter list, no sampled point.
    assert "graph" not in net.__dict__ and "params" not in net.__dict__
    with pytest.raises(sbp.GraphTooLargeError):  # before the file is even opened
        sbp.check_file(net, tmp_path / "never-read.txt")


def test_check_max_edges_is_the_way_out_it_names():
    net = sbp.mlp([2, 2, 1])
    edges = graph_size(net).edges
    with pytest.raises(sbp.GraphTooLargeError, match=f"{edges} edges"):
        sbp.check(net, "w2_1_1", "delta2_1*a1_1", max_edges=edges - 1)
    with sbp.graph_limit(edges - 1):
        assert sbp.check(sbp.mlp([2, 2, 1]), "w2_1_1", "delta2_1*a1_1", max_edges=None, symbolic=False).ok
        assert sbp.check(sbp.mlp([2, 2, 1]), "w2_1_1", "delta2_1*a1_1", max_edges=edges, symbolic=False).ok
    with sbp.graph_limit(None):
        assert not sbp.check(sbp.mlp([2, 2, 1]), "w2_1_1", "delta2_1", symbolic=False).ok


@pytest.mark.parametrize("args", CHECK_REFUSALS)
def test_cli_check_refuses_a_large_network_in_one_line_within_bounds(args, cli):
    out = cli[0](args)  # 768 MB of address space (the old check took 2.1 GB and 84 s)
    assert out.returncode == 2, out.stderr
    msg = _one_line(out.stderr)
    assert "4,006,000 edges" in msg and "--max-graph-edges 4006000" in msg
    assert "symbackprop derive --equations" in msg and "max_edges" not in msg


def test_cli_check_max_graph_edges_bounds_and_raises(capsys):
    from symbackprop.cli import main

    small = ["check", "--layers", "2,2,1", "--wrt", "w2_1_1", "--formula", "delta2_1*a1_1", "--no-symbolic"]
    assert main([*small, "--max-graph-edges", "10"]) == 2
    err = capsys.readouterr().err
    assert "20 edges" in err and "--max-graph-edges 20" in err
    assert main([*small, "--max-graph-edges", "20"]) == 0


# ---------------------------------------------------------------------------- wide equations
def _line(eq, label: str):
    return next(line.expr for s in eq.sections() for line in s.lines if line.text == label)


@pytest.mark.parametrize("loss", ["quadratic", "mse", "binary_cross_entropy", "cross_entropy"])
def test_wide_output_equations_match_the_full_loss(loss):
    # 20 outputs (past equations.WIDE): J and ∇_a J come from the loss's term per output;
    # the oracle differentiates the loss built over all 20 outputs.
    net = sbp.mlp([2, 20], activation="sigmoid", loss=loss)
    eq = net.equations()
    J, full = _line(eq, "J"), net.loss(net.outputs, net.targets)
    generic = _line(eq, "∂J/∂a⁽¹⁾ⱼ")
    aj, yj = real_symbol(symbol_name("a", 1, "j")), real_symbol(symbol_name("y", None, "j"))
    assert isinstance(J, sp.Sum) and J.limits[0][2] == 20
    for j in (1, 7, 20):
        at = {aj: net.a(1, j), yj: net.y(j)}
        assert sp.simplify(generic.xreplace(at) - sp.diff(full, net.a(1, j))) == 0
    # J is the sum of its term over the outputs, term by term.
    term = J.function
    assert sp.expand(sum(term.xreplace({aj: a, yj: y}) for a, y in zip(net.outputs, net.targets)) - full) == 0


def test_wide_softmax_equations_delta_against_the_chain_rule():
    n, j = 20, 3
    net = sbp.mlp([2, n], activation="softmax", loss="cross_entropy")
    d = _line(net.equations(), "δ⁽¹⁾ⱼ")
    rng = np.random.default_rng(7)
    z, y = rng.normal(size=n), rng.dirichlet(np.ones(n))
    a = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    (i, lo, hi), = d.limits
    assert (lo, hi) == (1, n)
    ai, yi = real_symbol(symbol_name("a", 1, "i")), real_symbol(symbol_name("y", None, "i"))
    aj = real_symbol(symbol_name("a", 1, "j"))
    mine = sum(float(d.function.subs({ai: a[k], yi: y[k], aj: a[j - 1], i: k + 1, sp.Symbol("j"): j}))
               for k in range(n))
    zs, ys = sp.symbols(f"z1:{n + 1}"), sp.symbols(f"y1:{n + 1}")
    soft = [sp.exp(zk) / sum(sp.exp(zi) for zi in zs) for zk in zs]
    oracle = sp.diff(-sum(yk * sp.log(sk) for yk, sk in zip(ys, soft)), zs[j - 1])
    at = {**dict(zip(zs, z.tolist())), **dict(zip(ys, y.tolist()))}
    assert close(mine, float(oracle.subs(at)), rtol=1e-10, atol=1e-12)


def test_equations_the_way_out_of_a_refusal_answers_for_100000_outputs(cli):
    refused = run_cli("derive", "--layers", "100000,100000", "--wrt", "w1_1_1")  # its own interpreter
    assert refused.returncode == 2 and "--equations" in refused.stderr
    out = cli[0](EQUATIONS)  # 768 MB, bounded time
    assert out.returncode == 0, out.stderr
    assert "100000" in out.stdout and "δ⁽¹⁾ⱼ = a⁽¹⁾ⱼ⋅(1 - a⁽¹⁾ⱼ)⋅(a⁽¹⁾ⱼ - yⱼ)" in out.stdout
