"""Property-based testing of gradients, for your functions as for ours.

    from hypothesis import given
    from autodiff.testing import assert_gradients_match, expressions

    @given(expressions())
    def test_random_expressions_have_correct_gradients(expr):
        assert_gradients_match(expr, expr.point)

`expressions()` draws random expression DAGs: straight-line programs over a few
inputs, where every op may reuse any earlier result (shared subexpressions, so
gradients must be summed over several paths), and whose drawn point keeps every
op inside its domain and away from its kinks. Your own ops (`autodiff.Op`) join
the draw with `expressions(ops=[..., my_op])`. Needs hypothesis (the `dev` extra).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("autodiff.testing needs hypothesis: pip install hypothesis (or the 'dev' extra)") from error

from . import functions
from .gradcheck import gradcheck
from .ops import LEAKY_RELU, NAMED, Op
from .value import Number, Value, no_grad

__all__ = ["Expression", "expressions", "deep_expressions", "assert_gradients_match", "OPS"]

# Each op: (how many operands it draws, how to apply it to Values). The operators and the power rule at a few
# exponents are written out; every function of the op table (autodiff/ops.py) follows from it, so that an op
# added there is drawn with no edit here (give it an entry in _DOMAINS below if it is not smooth everywhere).
OPS: dict[str, tuple[int, Callable[..., Value]]] = {
    "+": (2, lambda a, b: a + b),
    "-": (2, lambda a, b: a - b),
    "*": (2, lambda a, b: a * b),
    "/": (2, lambda a, b: a / b),
    "neg": (1, lambda a: -a),
    "abs": (1, lambda a: abs(a)),
    "**2": (1, lambda a: a**2),
    "**3": (1, lambda a: a**3),
    "**-1": (1, lambda a: a**-1),
    "**0.5": (1, lambda a: a**0.5),
    "**": (2, lambda a, b: a**b),
    "2**": (1, lambda a: 2**a),
    "%": (2, lambda a, b: a % b),
    **{name: (1, function) for name, function in functions.UNARY.items()},
    **{op.name: (2, op) for op in NAMED if op.arity == 2 and op is not LEAKY_RELU},  # atan2, max, min
    "leaky_relu": (1, lambda a: a.leaky_relu(0.1)),
    "clamp": (3, lambda x, lo, hi: x.clamp(lo, hi)),
    "sum": (3, lambda *xs: functions.sum(xs)),
    "logsumexp": (3, lambda *xs: functions.logsumexp(xs)),
    "dot": (4, lambda w1, w2, x1, x2: functions.dot([w1, w2], [x1, x2])),
}

KINK_MARGIN = 0.05  # stay this far from kinks and domain edges, so central differences are exact enough
LIMIT = 100.0  # keep every intermediate result within +-LIMIT (+-10 * magnitude for wider inputs)
FALLBACK = "atan"  # what an op with no well-posed operands becomes: smooth, bounded, and exact in floats everywhere
CHAIN = 7  # of 8 steps read the latest result first, so that expressions are deep rather than wide


OpName = str | Op  # a key of OPS, or a user's op


def _arity_and_rule(op: OpName) -> tuple[int, Callable[..., Value]]:
    return (op.arity, op) if isinstance(op, Op) else OPS[op]


# Where each op is well-posed: inside its domain, away from kinks and jumps, and where the engine's float
# formula for its derivative keeps 13 digits (1 - tanh**2 loses them as tanh saturates, expm1's out + 1
# for very negative x), so that 50-digit oracles can hold the engine to 1e-12. An op not listed is
# well-posed wherever its result is finite and within the limit.
_DOMAINS: dict[str, Callable[..., bool]] = {
    "/": lambda a, b: abs(b) >= 0.2,
    "log": lambda a: a >= 0.2,
    "sqrt": lambda a: a >= 0.2,
    "**0.5": lambda a: a >= 0.2,
    "log2": lambda a: a >= 0.2,
    "log10": lambda a: a >= 0.2,
    "**-1": lambda a: abs(a) >= 0.2,
    "**": lambda a, b: a >= 0.2 and abs(b) <= 3,
    "abs": lambda a: abs(a) >= KINK_MARGIN,
    "relu": lambda a: abs(a) >= KINK_MARGIN,
    "leaky_relu": lambda a: abs(a) >= KINK_MARGIN,
    "max": lambda a, b: abs(a - b) >= KINK_MARGIN,
    "min": lambda a, b: abs(a - b) >= KINK_MARGIN,
    "tanh": lambda a: abs(a) <= 4,
    "expm1": lambda a: a >= -5,
    "tan": lambda a: abs(math.cos(a)) >= 0.2,  # away from the poles at pi/2 + k pi
    "asin": lambda a: abs(a) <= 0.95,  # the derivative is infinite at +-1
    "acos": lambda a: abs(a) <= 0.95,
    "log1p": lambda a: a >= -0.8,
    "floor": lambda a: abs(a - round(a)) >= KINK_MARGIN,  # away from the jumps at the integers
    "ceil": lambda a: abs(a - round(a)) >= KINK_MARGIN,
    # away from the jumps, where a / b is an integer
    "%": lambda a, b: abs(b) >= 0.2 and KINK_MARGIN <= abs(a % b) <= abs(b) - KINK_MARGIN,
    # away from the origin and from the jump (pi to -pi) on the negative x axis
    "atan2": lambda a, b: math.hypot(a, b) >= 0.2 and (abs(a) >= KINK_MARGIN or b > 0),
    # x away from both bounds, and the bounds apart
    "clamp": lambda x, lo, hi: min(abs(x - lo), abs(x - hi), abs(lo - hi)) >= KINK_MARGIN,
}


def _well_posed(op: OpName, args: Sequence[float]) -> bool:
    """Is `op` at these inputs inside its domain, away from kinks, and accurate in floats? (see _DOMAINS)"""
    inside = _DOMAINS.get(op) if isinstance(op, str) else None
    return inside is None or inside(*args)


@dataclass(frozen=True)
class Expression:
    """A random expression: a straight-line program over `n_inputs` inputs.

    Slot i < n_inputs is input i; step k writes slot n_inputs + k. Call it with
    one Value (or float) per input; `point` is where it was drawn to be well-posed.
    `replaced` counts the drawn ops that had no well-posed operands and became atan.
    """

    n_inputs: int
    steps: tuple[tuple[OpName, tuple[int, ...]], ...]
    point: tuple[float, ...]
    replaced: int = 0

    def __call__(self, *inputs: Value | Number) -> Value:
        if len(inputs) != self.n_inputs:
            raise TypeError(f"this expression takes {self.n_inputs} inputs, got {len(inputs)}")
        slots = [x if isinstance(x, Value) else Value(x) for x in inputs]
        for op, operands in self.steps:
            slots.append(_arity_and_rule(op)[1](*(slots[i] for i in operands)))
        return slots[-1]

    @property
    def depth(self) -> int:
        """The number of ops on the longest path from an input to the result, the collecting sum not counted."""
        depths = [0] * self.n_inputs
        for _, operands in self.steps:
            depths.append(1 + max((depths[i] for i in operands), default=0))
        drawn = depths[self.n_inputs : -1] if self._ends_in_collecting_sum() else depths[self.n_inputs :]
        return max(drawn, default=0)

    def _ends_in_collecting_sum(self) -> bool:
        """Is the last step the sum that `expressions` appends over the results nothing else used?"""
        if len(self.steps) < 2 or self.steps[-1][0] != "sum":
            return False
        used = {i for _, operands in self.steps[:-1] for i in operands}
        return all(i >= self.n_inputs and i not in used for i in self.steps[-1][1])

    def __repr__(self) -> str:
        names = [f"x{i}" for i in range(self.n_inputs)]
        lines = [f"Expression at {', '.join(f'{n}={x!r}' for n, x in zip(names, self.point))}:"]
        for k, (op, operands) in enumerate(self.steps):
            name = f"v{self.n_inputs + k}"
            names.append(name)
            shown = op.name if isinstance(op, Op) else op
            lines.append(f"  {name} = {shown}({', '.join(names[i] for i in operands)})")
        return "\n".join(lines)


def expressions(
    max_inputs: int = 3,
    max_ops: int = 12,
    ops: Sequence[OpName] | None = None,
    *,
    min_ops: int = 1,
    magnitude: float = 2.0,
) -> st.SearchStrategy[Expression]:
    """A strategy for random expression DAGs with shared subexpressions.

    Args:
        max_inputs: at most this many inputs (at least one).
        max_ops: at most this many ops before the final sum.
        ops: the ops to draw from: names (keys of `autodiff.testing.OPS`) and your own
            `autodiff.Op`s with a fixed number of inputs; all the named ones by default.
            A user op is used where it gives a finite result of at most 100 in size
            (elsewhere, atan): keep its kinks away from the drawn points yourself.
        min_ops: at least this many ops.
        magnitude: the inputs are drawn within +-magnitude (from 0.05 in size up); above 2 they
            spread over every scale up to it, and intermediate results may reach 10 * magnitude.

    Every op reads any earlier slot, so results are reused, and most read the latest result
    first, so chains are long; a last `sum` node collects every result nothing else used, so the
    whole program matters. An op's operands are drawn among the earlier results where it is
    well-posed (inside its domain, away from kinks, accurate in floats); only an op for which
    no earlier result will do becomes atan.
    """
    names = list(OPS) if ops is None else list(ops)
    unknown = [n for n in names if not isinstance(n, Op) and n not in OPS]
    if unknown or not names:
        raise ValueError(f"expressions: unknown ops {unknown!r}; choose from {sorted(OPS)!r} or pass an autodiff.Op")
    variadic = [n for n in names if isinstance(n, Op) and n.arity is None]
    if variadic:
        raise ValueError(f"expressions: {variadic[0]!r} takes any number of inputs; draw ops with a fixed number")
    for name, bound in [("max_inputs", max_inputs), ("max_ops", max_ops), ("min_ops", min_ops)]:
        if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
            raise ValueError(f"expressions: {name} must be an int >= 1, got {bound!r}")
    if min_ops > max_ops:
        raise ValueError(f"expressions: min_ops must be <= max_ops, got {min_ops!r} > {max_ops!r}")
    if not isinstance(magnitude, (int, float)) or isinstance(magnitude, bool) or not 1 <= magnitude <= 1e12:
        raise ValueError(f"expressions: magnitude must be a number from 1 to 1e12, got {magnitude!r}")
    limit = max(LIMIT, 10.0 * magnitude)
    return _expressions(max_inputs, min_ops, max_ops, names, float(magnitude), limit)


def deep_expressions(max_inputs: int = 3, ops: Sequence[OpName] | None = None) -> st.SearchStrategy[Expression]:
    """Deep expressions over inputs up to +-1e6: 16 to 40 ops, most of them chained (their depth
    averages over 12); what the 50-digit and SymPy oracles check (docs/oracles.md)."""
    return expressions(max_inputs, max_ops=40, ops=ops, min_ops=16, magnitude=1e6)


@functools.lru_cache(maxsize=512)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    """st.integers(low, high), made once: a new strategy per draw costs more than the draw."""
    return st.integers(low, high)


def _inputs(magnitude: float) -> st.SearchStrategy[float]:
    """Numbers of size 0.05 to `magnitude`; above 2, spread evenly over the decades (1e6 is as likely as 1)."""
    if magnitude <= 2.0:
        return st.floats(-magnitude, magnitude).filter(lambda x: abs(x) >= KINK_MARGIN)
    top = math.floor(math.log10(magnitude))
    return st.builds(
        lambda sign, mantissa, exponent: math.copysign(min(mantissa * 10.0**exponent, magnitude), sign),
        st.sampled_from([1.0, -1.0]),
        st.floats(1.0, 10.0, exclude_max=True),
        st.integers(-1, top),
    ).filter(lambda x: abs(x) >= KINK_MARGIN)


@st.composite
def _expressions(
    draw: st.DrawFn, max_inputs: int, min_ops: int, max_ops: int, names: list[OpName], magnitude: float, limit: float
) -> Expression:
    n_inputs = draw(_integers(1, max_inputs))
    point = draw(st.lists(_inputs(magnitude), min_size=n_inputs, max_size=n_inputs))
    values = list(point)
    steps: list[tuple[OpName, tuple[int, ...]]] = []
    replaced = 0
    for _ in range(draw(_integers(min_ops, max_ops))):
        op = draw(st.sampled_from(names))
        chained = draw(_integers(0, CHAIN)) < CHAIN
        drawn = _draw_operands(draw, op, values, chained, limit)
        if drawn is None:  # no earlier result will do: a bounded, smooth op instead
            replaced += 1
            operand = len(values) - 1 if chained else draw(_integers(0, len(values) - 1))
            op, drawn = FALLBACK, ((operand,), math.atan(values[operand]))
        operands, result = drawn
        steps.append((op, operands))
        values.append(result)
    used = {i for _, operands in steps for i in operands}
    unused = tuple(i for i in range(n_inputs, len(values)) if i not in used)
    if len(unused) > 1:
        steps.append(("sum", unused))
    return Expression(n_inputs, tuple(steps), tuple(point), replaced)


def _draw_operands(
    draw: st.DrawFn, op: OpName, values: list[float], chained: bool, limit: float
) -> tuple[tuple[int, ...], float] | None:
    """Operands for `op` among the earlier results, and its result there; None if none will do.

    The first operand is the latest result when `chained` (else any), the middle ones are drawn
    freely, and the last one among the results that make the op well-posed. Up to four tries.
    """
    arity = _arity_and_rule(op)[0]
    latest = len(values) - 1
    for attempt in range(4):
        first = latest if chained and attempt == 0 else draw(_integers(0, latest))
        head = [first] + [draw(_integers(0, latest)) for _ in range(arity - 2)]
        if arity == 1:
            candidates = [head] if attempt == 0 else [[i] for i in range(latest + 1)]
        else:
            candidates = [head + [i] for i in range(latest + 1)]
        good = []
        for operands in candidates:
            result = _evaluate(op, [values[i] for i in operands], limit)
            if result is not None:
                good.append((tuple(operands), result))
        if good:
            return good[0] if len(good) == 1 else good[draw(_integers(0, len(good) - 1))]
    return None


def _evaluate(op: OpName, args: list[float], limit: float = LIMIT) -> float | None:
    if not _well_posed(op, args):
        return None
    with no_grad():
        try:
            result = _arity_and_rule(op)[1](*map(Value, args)).data
        except OverflowError:
            return None  # too large a result: not well-posed either
        except (ArithmeticError, ValueError):
            if not isinstance(op, Op):
                raise
            return None  # outside the user op's domain
    return result if abs(result) <= limit else None


def assert_gradients_match(
    fn: Callable[..., Value],
    xs: Sequence[Number],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> None:
    """Fail with analytic and numeric gradients side by side unless they agree.

    A thin wrapper over `autodiff.gradcheck`, for use inside tests.
    """
    result = gradcheck(fn, xs, eps=eps, atol=atol, rtol=rtol)
    if not result.ok:
        raise AssertionError(f"{result!r}\n{fn!r}" if isinstance(fn, Expression) else repr(result))
