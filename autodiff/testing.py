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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("autodiff.testing needs hypothesis: pip install hypothesis (or the 'dev' extra)") from error

from . import functions
from .gradcheck import gradcheck
from .ops import Op
from .value import Number, Value, no_grad

__all__ = ["Expression", "expressions", "assert_gradients_match", "OPS"]

# Each op: (how many operands it draws, how to apply it to Values).
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
    "exp": (1, lambda a: a.exp()),
    "log": (1, lambda a: a.log()),
    "sqrt": (1, lambda a: a.sqrt()),
    "sin": (1, lambda a: a.sin()),
    "cos": (1, lambda a: a.cos()),
    "tanh": (1, lambda a: a.tanh()),
    "sigmoid": (1, lambda a: a.sigmoid()),
    "softplus": (1, lambda a: a.softplus()),
    "relu": (1, lambda a: a.relu()),
    "leaky_relu": (1, lambda a: a.leaky_relu(0.1)),
    "max": (2, lambda a, b: a.max(b)),
    "min": (2, lambda a, b: a.min(b)),
    "tan": (1, lambda a: a.tan()),
    "asin": (1, lambda a: a.asin()),
    "acos": (1, lambda a: a.acos()),
    "atan": (1, lambda a: a.atan()),
    "atan2": (2, lambda a, b: a.atan2(b)),
    "sinh": (1, lambda a: a.sinh()),
    "cosh": (1, lambda a: a.cosh()),
    "log1p": (1, lambda a: a.log1p()),
    "expm1": (1, lambda a: a.expm1()),
    "log2": (1, lambda a: a.log2()),
    "log10": (1, lambda a: a.log10()),
    "floor": (1, lambda a: a.floor()),
    "ceil": (1, lambda a: a.ceil()),
    "%": (2, lambda a, b: a % b),
    "clamp": (3, lambda x, lo, hi: x.clamp(lo, hi)),
    "sum": (3, lambda *xs: functions.sum(xs)),
    "logsumexp": (3, lambda *xs: functions.logsumexp(xs)),
    "dot": (4, lambda w1, w2, x1, x2: functions.dot([w1, w2], [x1, x2])),
}

KINK_MARGIN = 0.05  # stay this far from kinks and domain edges, so central differences are exact enough
LIMIT = 100.0  # keep every intermediate result within +-LIMIT


OpName = str | Op  # a key of OPS, or a user's op


def _arity_and_rule(op: OpName) -> tuple[int, Callable[..., Value]]:
    return (op.arity, op) if isinstance(op, Op) else OPS[op]


def _well_posed(op: OpName, args: Sequence[float]) -> bool:
    """Is `op` at these inputs inside its domain, away from kinks, and not explosive?"""
    a = args[0]
    b = args[1] if len(args) > 1 else None
    if op == "/":
        return abs(b) >= 0.2
    if op in ("log", "sqrt", "**0.5", "log2", "log10"):
        return a >= 0.2
    if op == "**-1":
        return abs(a) >= 0.2
    if op == "**":
        return a >= 0.2 and abs(b) <= 3
    if op in ("exp", "2**"):
        return a <= 4
    if op in ("abs", "relu", "leaky_relu"):
        return abs(a) >= KINK_MARGIN
    if op in ("max", "min"):
        return abs(a - b) >= KINK_MARGIN
    if op in ("sinh", "cosh", "expm1"):
        return abs(a) <= 4
    if op == "tan":  # away from the poles at pi/2 + k pi
        return abs(math.cos(a)) >= 0.2
    if op in ("asin", "acos"):  # the derivative is infinite at +-1
        return abs(a) <= 0.95
    if op == "log1p":
        return a >= -0.8
    if op in ("floor", "ceil"):  # away from the jumps at the integers
        return abs(a - round(a)) >= KINK_MARGIN
    if op == "%":  # away from the jumps, where a / b is an integer
        r = abs(a % b) if abs(b) >= 0.2 else 0.0
        return abs(b) >= 0.2 and abs(a / b) <= 50 and KINK_MARGIN <= r <= abs(b) - KINK_MARGIN
    if op == "atan2":  # away from the origin and from the jump (pi to -pi) on the negative x axis
        return math.hypot(a, b) >= 0.2 and (abs(a) >= KINK_MARGIN or b > 0)
    if op == "clamp":  # x away from both bounds, and the bounds apart
        hi = args[2]
        return min(abs(a - b), abs(a - hi), abs(b - hi)) >= KINK_MARGIN
    return True


@dataclass(frozen=True)
class Expression:
    """A random expression: a straight-line program over `n_inputs` inputs.

    Slot i < n_inputs is input i; step k writes slot n_inputs + k. Call it with
    one Value (or float) per input; `point` is where it was drawn to be well-posed.
    """

    n_inputs: int
    steps: tuple[tuple[OpName, tuple[int, ...]], ...]
    point: tuple[float, ...]

    def __call__(self, *inputs: Value | Number) -> Value:
        if len(inputs) != self.n_inputs:
            raise TypeError(f"this expression takes {self.n_inputs} inputs, got {len(inputs)}")
        slots = [x if isinstance(x, Value) else Value(x) for x in inputs]
        for op, operands in self.steps:
            slots.append(_arity_and_rule(op)[1](*(slots[i] for i in operands)))
        return slots[-1]

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
) -> st.SearchStrategy[Expression]:
    """A strategy for random expression DAGs with shared subexpressions.

    Args:
        max_inputs: at most this many inputs (at least one).
        max_ops: at most this many ops before the final sum.
        ops: the ops to draw from: names (keys of `autodiff.testing.OPS`) and your own
            `autodiff.Op`s with a fixed number of inputs; all the named ones by default.
            A user op is used where it gives a finite result of at most 100 in size
            (elsewhere, tanh): keep its kinks away from the drawn points yourself.

    Every op reads any earlier slot, so results are reused; a last `sum` node
    collects every result nothing else used, so the whole program matters.
    """
    names = list(OPS) if ops is None else list(ops)
    unknown = [n for n in names if not isinstance(n, Op) and n not in OPS]
    if unknown or not names:
        raise ValueError(f"expressions: unknown ops {unknown!r}; choose from {sorted(OPS)!r} or pass an autodiff.Op")
    variadic = [n for n in names if isinstance(n, Op) and n.arity is None]
    if variadic:
        raise ValueError(f"expressions: {variadic[0]!r} takes any number of inputs; draw ops with a fixed number")
    for name, bound in [("max_inputs", max_inputs), ("max_ops", max_ops)]:
        if not isinstance(bound, int) or bound < 1:
            raise ValueError(f"expressions: {name} must be an int >= 1, got {bound!r}")
    return _expressions(max_inputs, max_ops, names)


@st.composite
def _expressions(draw: st.DrawFn, max_inputs: int, max_ops: int, names: list[OpName]) -> Expression:
    n_inputs = draw(st.integers(1, max_inputs))
    point = draw(
        st.lists(st.floats(-2.0, 2.0).filter(lambda x: abs(x) >= KINK_MARGIN), min_size=n_inputs, max_size=n_inputs)
    )
    values = list(point)
    steps: list[tuple[str, tuple[int, ...]]] = []
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(names))
        operands = tuple(draw(st.integers(0, len(values) - 1)) for _ in range(_arity_and_rule(op)[0]))
        result = _evaluate(op, [values[i] for i in operands])
        if result is None:  # not well-posed here: a bounded, smooth op instead
            op, operands = "tanh", operands[:1]
            result = math.tanh(values[operands[0]])
        steps.append((op, operands))
        values.append(result)
    used = {i for _, operands in steps for i in operands}
    unused = tuple(i for i in range(n_inputs, len(values)) if i not in used)
    if len(unused) > 1:
        steps.append(("sum", unused))
    return Expression(n_inputs, tuple(steps), tuple(point))


def _evaluate(op: OpName, args: list[float]) -> float | None:
    if not isinstance(op, Op) and not _well_posed(op, args):
        return None
    with no_grad():
        try:
            result = _arity_and_rule(op)[1](*map(Value, args)).data
        except (ArithmeticError, ValueError):
            if not isinstance(op, Op):
                raise
            return None  # outside the user op's domain
    return result if abs(result) <= LIMIT else None


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
