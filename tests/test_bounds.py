"""Hostile formulas, LaTeX and point counts: refused with one line, in bounded time and memory.

Each hostile command line runs in a child process whose address space is capped with
``resource.setrlimit(RLIMIT_AS)`` and whose run time is capped (generous, to stay
independent of the machine's load): forked, one per command line, from one interpreter that
imported SymPy once (``bounded.run_cli_many``); one runs in an interpreter of its own.
Nothing here measures wall-clock time in the test process itself. Before the bounds, these inputs ran for minutes, grew to
gigabytes, or ended in a traceback with exit code 1 (issue 10, items 1, 5 and 6).

The unit tests put each limit of :class:`~symbackprop.limits.Limits`,
:class:`~symbackprop.checking.latex.LatexLimits` and ``MAX_POINTS`` just under (accepted)
and just over (refused) its bound.
"""

from __future__ import annotations

import json
import math
import subprocess

import bounded
import numpy as np
import pytest
import sympy as sp

import symbackprop as sbp
from symbackprop.checking import evaluate as evaluate_module
from symbackprop.checking.evaluate import MAX_POINTS, check_points
from symbackprop.checking.latex import LatexLimits, latex_available, parse_latex_formula
from symbackprop.errors import FormulaError, SpecError
from symbackprop.limits import Limits
from symbackprop.parse import parse_formula

MEMORY = 1 << 30  # bytes of address space for each child (Python, NumPy and SymPy need ~0.5 GiB)
TIMEOUT = 60  # seconds; each case takes a second or two (mostly imports)
NET = ["--layers", "2,2,1"]
Z = sp.Symbol("z", real=True)  # as the network's own z (symbackprop.activations.Z)

needs_latex = pytest.mark.skipif(not latex_available(), reason="LaTeX parser (antlr4) not installed")


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    """Run ``symbackprop *argv`` in a child with capped memory and time (the limit is set by
    the child itself: a fork of this process, which may have loaded JAX, is never made)."""
    return bounded.run_cli(*argv, memory=MEMORY, timeout=TIMEOUT)


HOSTILE = [
    # item 1: tiny inputs that pinned CPU or memory
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "((9**999)**999)**999"], "float64's largest"),
    (["check", *NET, "--wrt", "w2_1_1", "--activation", "((2**999)**999)**999*0 + z", "--formula", "1"],
     "float64's largest"),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "delta2_1*a1_1", "--points", "200000000"], "MAX_POINTS"),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "exp(1000000*log(3))"], "float64's range"),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "(12345678901234567890/3)**(996/997)"], "max_root_digits"),
    # Each level doubles the formula: the size limit trips first, or on a loaded machine the
    # clock (building the last levels before the size check takes about a second here).
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "sigmoid_prime(" * 16 + "a1_1" + ")" * 16],
     ("max_size", "max_seconds")),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "0x" + "f" * 5000], "max_digits"),
    # item 6: tracebacks instead of FormulaError
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "log(0)"], "undefined"),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "1/0"], "division by zero"),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "sqrt(-1)"], "not a real number"),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "2**(0/0)*a1_1"], "0/0"),
    (["check", *NET, "--wrt", "w2_1_1", "--formula", "1e999*a1_1"], "float64's largest"),
    (["check", "--function", "z**2", "--formula", "max(z, 1/0)"], "division by zero"),
    (["check", "--function", "z**2", "--formula", "z**(9**999)"], "float64's largest"),
    (["derive", *NET, "--wrt", "w2_1_1", "--activation", "max(z, 1/0)"], "division by zero"),
    (["derive", *NET, "--wrt", "w2_1_1", "--activation", "z**(9**999)"], "float64's largest"),
    # item 5: activations undefined everywhere (they derived a gradient of 0, then train crashed)
    (["derive", *NET, "--wrt", "w2_1_1", "--activation", "1/0"], "division by zero"),
    (["derive", *NET, "--wrt", "w2_1_1", "--activation", "z**(0/0)"], "0/0"),
    (["train", *NET, "--activation", "1/0", "--data", "xor", "--epochs", "1"], "division by zero"),
    (["train", *NET, "--activation", "z**(0/0)", "--data", "xor", "--epochs", "1"], "0/0"),
    (["derive", *NET, "--wrt", "w2_1_1", "--activation", "sqrt(-1 - z**2)"], "undefined everywhere"),
    (["derive", *NET, "--wrt", "w2_1_1", "--loss", "log(-1 - (a2_1 - y1)**2)"], "undefined everywhere"),
]

HOSTILE_LATEX = [
    (["check", *NET, "--wrt", "w2_1_1", "--latex", "2^{2^{2^{2^{10}}}}"], "max_power_depth"),
    (["check", *NET, "--wrt", "w2_1_1", "--latex", "+".join(["1"] * 1001)], "max_tokens"),
    (["check", *NET, "--wrt", "w2_1_1", "--latex", "+".join(["a^{(2)}_1"] * 300)], "max_tokens"),
    (["check", *NET, "--wrt", "w2_1_1", "--latex", r"\sigma(" * 20 + "x_1" + ")" * 20], "max_depth"),
    (["check", *NET, "--wrt", "w2_1_1", "--latex", "9^{9^{9}}"], "float64's largest"),
    (["check", *NET, "--wrt", "w2_1_1", "--latex", r"\frac{1}{0}"], "division by zero"),
    (["check", *NET, "--wrt", "w2_1_1", "--latex", r"\sqrt{-1}"], "not a real number"),
    (["check", *NET, "--wrt", "w2_1_1", "--latex", r"\log(0)"], "undefined"),
]


def _assert_refused(result: subprocess.CompletedProcess, needle: str | tuple[str, ...]) -> None:
    """Refused in one line naming the limit (``needle``, or one of several that may trip first)."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("symbackprop "), result.stderr[-2000:]
    needles = (needle,) if isinstance(needle, str) else needle
    assert ": error: " in lines[0] and any(n in lines[0] for n in needles), lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def hostile_runs() -> dict[tuple[str, ...], subprocess.CompletedProcess]:
    """Every hostile command line, each in its own forked child with capped memory and time
    (bounded.run_cli_many: one interpreter imports SymPy once instead of thirty times)."""
    argvs = [argv for argv, _ in HOSTILE] + ([argv for argv, _ in HOSTILE_LATEX] if latex_available() else [])
    runs = bounded.run_cli_many(argvs, memory=MEMORY, timeout=TIMEOUT)
    return {tuple(argv): run for argv, run in zip(argvs, runs)}


@pytest.mark.parametrize("argv, needle", HOSTILE, ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else None)
def test_hostile_input_is_refused_in_bounded_time_and_memory(argv, needle, hostile_runs):
    _assert_refused(hostile_runs[tuple(argv)], needle)


@needs_latex
@pytest.mark.parametrize("argv, needle", HOSTILE_LATEX, ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else None)
def test_hostile_latex_is_refused_in_bounded_time_and_memory(argv, needle, hostile_runs):
    _assert_refused(hostile_runs[tuple(argv)], needle)


def test_a_hostile_command_in_a_fresh_interpreter():
    """The same bound with an interpreter of its own (run_cli), as a user's shell starts it."""
    _assert_refused(run_cli(*HOSTILE[0][0]), HOSTILE[0][1])


def test_derive_at_saturated_values_prints(tmp_path):
    # σ(2000) rounds to 1 in float64, so log(1 - a) is log(0): printed, not a TypeError.
    params = {p.name: 1000.0 for p in sbp.mlp([2, 2, 1]).params}
    path = tmp_path / "sat.json"
    path.write_text(json.dumps(params), encoding="utf-8")
    result = run_cli("derive", *NET, "--loss", "binary_cross_entropy", "--wrt", "w2_1_1",
                     "--at", str(path), "--x", "1000,1000", "--y", "0")
    assert result.returncode == 0 and result.stderr == ""
    assert "≈" in result.stdout


def test_derivation_values_at_saturation_are_float64_overflow():
    net = sbp.mlp([1, 1], activation="sigmoid", loss="binary_cross_entropy")
    d = net.derivation("w1_1_1").at({"w1_1_1": 1000.0, "b1_1": 0.0}, x=[1000.0], y=[0.0])
    # The oracle: NumPy's own float64 evaluation of the same quantities.
    with np.errstate(all="ignore"):
        a = 1 / (1 + np.exp(-1e6))
        J = -(0 * np.log(a) + (1 - 0) * np.log(1 - a))
    assert d.value(net.a(1, 1)) == a == 1.0
    assert d.value(net.J) == J == math.inf
    assert d.value(net.delta(1, 1)) == 1.0
    assert "≈" in d.text()


# ---------------------------------------------------------------- each limit, at its edge
def parse(text: str, **limits) -> sp.Expr:
    return parse_formula(text, {"z": Z}, limits=Limits(**limits) if limits else None)


def refused(text: str, needle: str, **limits) -> str:
    with pytest.raises(FormulaError) as info:
        parse(text, **limits)
    message = str(info.value)
    assert needle in message and "\n" not in message
    return message


def test_max_length():
    text = "z+" * 24 + "z"  # 49 characters
    assert parse(text, max_length=49) == 25 * Z
    refused(text, "max_length", max_length=48)


def test_max_digits_of_a_literal():
    assert parse("9" * 20, max_digits=20) == 10**20 - 1
    refused("1" + "0" * 20, "max_digits", max_digits=20)
    refused("0x" + "f" * 100, "max_digits", max_digits=20)


def test_max_digits_of_a_computed_number():
    assert parse("10**19", max_digits=20) == 10**19
    refused("10**20", "max_digits", max_digits=20)
    assert parse("2**100/3**40", max_digits=31) == sp.Rational(2**100, 3**40)
    refused("2**100/3**40", "max_digits", max_digits=30)  # 2**100 has 31 digits


def test_float64_range():
    assert parse("2**1023") == 2**1023
    refused("2**1024", "float64's largest")
    assert parse("exp(709)") == sp.exp(709)
    refused("exp(710)", "float64's largest")
    assert parse("1.7976931348623157e308") == sp.Rational(repr(1.7976931348623157e308))
    refused("1e309", "float64's largest")


def test_power_estimated_before_it_is_computed():
    # 9**324 is about 1.5e309: refused from its logarithm, before SymPy computes it.
    assert parse("9**323") == sp.Integer(9) ** 323  # about 1.7e308
    refused("9**324", "would be about 10^309")
    refused("((9**999)**999)**999", "9**999 would be about 10^953")
    refused("z**(9**999)", "9**999")


def test_max_exponent():
    assert parse("z**100") == Z**100
    assert parse("z**-100") == Z**-100
    refused("z**101", "max_exponent")
    refused("z**100.5", "max_exponent")
    assert parse("z**3", max_exponent=3) == Z**3
    refused("z**4", "max_exponent", max_exponent=3)


def test_max_exponent_inside_an_exponent():
    # SymPy turns exp(z - 10**20) into polynomials of degree 10**20 when asked whether a
    # tanh of it is real; a number inside a symbolic exponent is bounded like an exponent.
    assert parse("exp(z - 100)") == sp.exp(Z - 100)
    assert parse("exp(100*z)") == sp.exp(100 * Z)
    refused("exp(z - 101)", "max_exponent")
    refused("exp(101*z)", "max_exponent")
    refused("tanh(tanh(exp(z - 1e20)))", "max_exponent")
    refused("2**(z + 101)", "max_exponent")


def test_max_seconds():
    # Each Heaviside of a polynomial in a symbol without assumptions costs SymPy tens of
    # milliseconds (it asks for the imaginary part): 400 of them take far longer than half a
    # second on any machine. (The network's real z makes this formula cheap.)
    text = "+".join(f"heaviside({c}*z + z**99)" for c in range(1, 400))
    with pytest.raises(FormulaError, match="max_seconds"):
        parse_formula(text, {"z": sp.Symbol("z")}, limits=Limits(max_seconds=0.5))
    assert parse("heaviside(z**2 + 1)*z", max_seconds=0.5) == Z * sp.Heaviside(Z**2 + 1, 0)


def test_deadline_is_cooperative_and_holds_in_any_thread():
    """No timer and no signal: the clock is read after each checked operation, so the bound
    holds in a worker thread too, and its error never lands in someone else's callback (a
    signal's exception raised inside JAX's garbage-collection callback was lost)."""
    import signal
    import threading

    from symbackprop.limits import Arithmetic, deadline

    before = signal.getsignal(signal.SIGALRM)
    text = "+".join(f"heaviside({c}*z + z**99)" for c in range(1, 400))
    errors: list[str] = []

    def work() -> None:
        try:
            parse_formula(text, {"z": sp.Symbol("z")}, limits=Limits(max_seconds=0.3))
        except FormulaError as exc:
            errors.append(str(exc))

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(120)
    assert errors and "max_seconds" in errors[0]
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    with deadline(0.0), pytest.raises(FormulaError, match="max_seconds"):
        Arithmetic().check(sp.Integer(1))
    assert Arithmetic().check(sp.Integer(1)) == 1  # no deadline running: no clock


def test_max_root_digits():
    # digits of the number times (denominator of the exponent - 1)
    assert parse("1234567890**(1/3)", max_root_digits=20) == sp.Integer(1234567890) ** sp.Rational(1, 3)
    refused("12345678901**(1/3)", "max_root_digits", max_root_digits=20)
    refused("sqrt(12345678901)**(1/3)", "max_root_digits", max_root_digits=20)  # denominator 6


def test_exp_of_a_log_term():
    # SymPy rewrites exp(c*log(k)) to the exact k**c the moment it is built.
    assert parse("exp(1023*log(2))") == sp.Integer(2) ** 1023
    refused("exp(1025*log(2))", "float64's range")
    refused("exp(z + 1025*log(2))", "float64's range")


def test_max_size():
    text = "sigmoid_prime(sigmoid_prime(z))"
    n = sum(1 for _ in sp.preorder_traversal(parse(text)))
    assert parse(text, max_size=n) == parse(text)
    refused(text, "max_size", max_size=n - 1)
    # Doubles at each level; refused from its estimated size before the last level is built
    # (a generous clock: on a loaded machine the levels below the limit take seconds).
    refused("sigmoid_prime(" * 16 + "z" + ")" * 16, "max_size", max_seconds=120)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("log(0)", "undefined"),
        ("1/0", "division by zero"),
        ("1/(1 - 1)", "division by zero"),
        ("0**-1", "division by zero"),
        ("0/0", "0/0"),
        ("z**(0/0)", "0/0"),
        ("sqrt(-1)", "not a real number"),
        ("log(-2)*z", "not a real number"),
        ("(-8)**(1/3)", "not a real number"),
        ("1e999*z", "float64's largest"),
        ("max(z, 1/0)", "division by zero"),
        ("exp(exp(exp(10)))", "float64's largest"),
        ("exp(-800)*z", "float64's smallest"),
        ("sigmoid(1e300)", "float64's smallest"),
    ],
)
def test_undefined_or_complex_values_are_formula_errors(text, needle):
    message = refused(text, needle)
    assert message.startswith("Cannot read formula") and "at column" in message


@pytest.mark.parametrize("text", ["0**0", "sqrt(4)", "log(1)", "exp(-700)*z", "2**0.5", "atan(10**300)*z"])
def test_defined_numbers_are_accepted(text):
    e = parse(text)
    assert all(np.isfinite(complex(sp.N(a)).real) for a in sp.preorder_traversal(e) if a.is_number)


def test_activations_and_losses_undefined_everywhere():
    for activation in ["1/0", "z**(0/0)", "sqrt(-1 - z**2)", "log(-exp(z))"]:
        with pytest.raises(FormulaError):
            sbp.mlp([2, 1], activation=activation)
    with pytest.raises(FormulaError, match="undefined everywhere"):
        sbp.mlp([1, 1], loss="log(-1 - (a1_1 - y1)**2)")
    # Defined somewhere is enough: log(z) for z > 0, sqrt(z - 2) for z > 2.
    assert sbp.mlp([1, 1], activation="log(z)").activations[0].name == "log(z)"
    assert sbp.mlp([1, 1], activation="sqrt(z - 2)").activations[0].name == "sqrt(z - 2)"


def test_max_points():
    assert check_points(MAX_POINTS) == MAX_POINTS
    with pytest.raises(SpecError, match="MAX_POINTS"):
        check_points(MAX_POINTS + 1)
    net = sbp.mlp([1, 1], activation="identity")
    with pytest.raises(SpecError, match="MAX_POINTS"):
        sbp.check(net, "b1_1", "a1_1 - y1", points=MAX_POINTS + 1)
    with pytest.raises(SpecError, match="MAX_POINTS"):
        sbp.check_derivative("z**2", "2*z", points=MAX_POINTS + 1)


def test_max_points_can_be_raised(monkeypatch):
    monkeypatch.setattr(evaluate_module, "MAX_POINTS", 10)
    assert check_points(10) == 10
    with pytest.raises(SpecError, match="limit of 10"):
        check_points(11)


@needs_latex
def test_latex_limits():
    net = sbp.mlp([2, 2, 1])
    text = "x_1 + x_2 + 1"  # 5 tokens
    assert parse_latex_formula(text, net, latex_limits=LatexLimits(max_tokens=5)) == net.x(1) + net.x(2) + 1
    with pytest.raises(FormulaError, match="max_tokens"):
        parse_latex_formula(text, net, latex_limits=LatexLimits(max_tokens=4))
    # Each network symbol is one token, however it is written.
    assert parse_latex_formula(r"a^{(2)}_1 w^{(2)}_{1 2}", net, latex_limits=LatexLimits(max_tokens=2)) == (
        net.a(2, 1) * net.w(2, 1, 2))
    nested = r"\sigma(\sigma(x_1))"
    assert parse_latex_formula(nested, net, latex_limits=LatexLimits(max_depth=2)) is not None
    with pytest.raises(FormulaError, match="max_depth"):
        parse_latex_formula(nested, net, latex_limits=LatexLimits(max_depth=1))
    tower = "2^{2^{2}}"
    assert parse_latex_formula(tower, net, latex_limits=LatexLimits(max_power_depth=2)) == 16
    with pytest.raises(FormulaError, match="max_power_depth"):
        parse_latex_formula(tower, net, latex_limits=LatexLimits(max_power_depth=1))
    with pytest.raises(FormulaError, match="max_length"):
        parse_latex_formula(text, net, latex_limits=LatexLimits(max_length=len(text) - 1))


@needs_latex
def test_latex_values_go_through_the_same_limits():
    net = sbp.mlp([2, 2, 1])
    assert parse_latex_formula("2^{1023}", net) == 2**1023
    with pytest.raises(FormulaError, match="float64's largest"):
        parse_latex_formula("2^{1024}", net)
    with pytest.raises(FormulaError, match="max_digits"):
        parse_latex_formula("10^{20}", net, limits=Limits(max_digits=20))


@needs_latex
def test_latex_left_right_count_once():
    net = sbp.mlp([2, 2, 1])
    text = r"\left(1 - \left(x_1 + 1\right)\right)"
    assert parse_latex_formula(text, net, latex_limits=LatexLimits(max_depth=2)) == -net.x(1)
    with pytest.raises(FormulaError, match="max_depth"):
        parse_latex_formula(text, net, latex_limits=LatexLimits(max_depth=1))


def test_replacing_the_module_default_raises_a_limit_everywhere(monkeypatch):
    import symbackprop.limits as limits_module

    refused("z**101", "max_exponent")
    monkeypatch.setattr(limits_module, "LIMITS", Limits(max_exponent=200))
    assert parse("z**101") == Z**101
    assert sbp.mlp([1, 1], activation="z**101/101").activations[0].expr == Z**101 / 101
