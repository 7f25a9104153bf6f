"""Module-level functions: the op table's named ops, on a Value or a plain number, and the n-ary ops.

`autodiff.exp(v)` is `v.exp()` for a Value and a float for a number, so one
function body works on both (`autodiff.grad` passes Values, plain code floats).
The functions of one input are made from the table (autodiff/ops.py), one per op;
those with other signatures are written below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from . import ops
from .ops import Op
from .value import Number, Value, clamp_operands, constant, constant_slope

ValueOrNumber = Value | Number


def _function_of_one(op: Op) -> Callable[[ValueOrNumber], ValueOrNumber]:
    def function(x: ValueOrNumber) -> ValueOrNumber:
        if isinstance(x, Value):
            return op._apply(x)  # what op(x) does for a Value, two calls sooner
        return op(x)

    function.__name__ = function.__qualname__ = op.name
    function.__doc__ = op.doc
    function.__module__ = __name__
    return function


UNARY: dict[str, Callable[[ValueOrNumber], ValueOrNumber]] = {
    op.name: _function_of_one(op) for op in ops.NAMED if op.arity == 1
}
"""autodiff.<name>(x) for each named op of one input: exp, log, sqrt, ..."""
globals().update(UNARY)


def atan2(y: ValueOrNumber, x: ValueOrNumber) -> ValueOrNumber:
    """The angle of the point (x, y), in [-pi, pi] (math.atan2's and torch.atan2's); its derivative
    is undefined at the origin."""
    return ops.ATAN2(y, x)


def remainder(a: ValueOrNumber, b: ValueOrNumber) -> ValueOrNumber:
    """a % b with the sign of b (Python's % and torch.remainder); d/da = 1, d/db = -(a // b)."""
    return ops.REMAINDER(a, b)


def clamp(x: ValueOrNumber, lo: ValueOrNumber | None = None, hi: ValueOrNumber | None = None) -> ValueOrNumber:
    """min(max(x, lo), hi) with torch.clamp's gradient (x gets it where lo <= x <= hi, bounds included).

    A missing bound is none; at least one is needed. Bounds may be Values: they get gradients too.
    """
    return ops.CLAMP(*clamp_operands(x, lo, hi))


def leaky_relu(x: ValueOrNumber, slope: Number = 0.01) -> ValueOrNumber:
    """x for x > 0, slope * x otherwise."""
    return ops.LEAKY_RELU(x, constant_slope(slope))


def sum(values: Iterable[ValueOrNumber]) -> Value:
    """x_1 + ... + x_n as ONE node with n parents (the builtin `sum` makes n - 1 nodes)."""
    operands = _operands(values, "sum")
    return _n_ary(ops.SUM, operands) if operands else Value(0.0)


def logsumexp(values: Iterable[ValueOrNumber]) -> Value:
    """log(e**x_1 + ... + e**x_n) as ONE node, without overflow; its gradient is the softmax."""
    operands = _operands(values, "logsumexp")
    if not operands:
        raise ValueError("logsumexp: needs at least one value, got none")
    return _n_ary(ops.LOGSUMEXP, operands)


def dot(ws: Sequence[ValueOrNumber], xs: Sequence[ValueOrNumber]) -> Value:
    """w_1 * x_1 + ... + w_n * x_n as ONE node whose parents are w_1..w_n, x_1..x_n."""
    ws, xs = _operands(ws, "dot"), _operands(xs, "dot")
    if len(ws) != len(xs):
        raise ValueError(f"dot: ws and xs must have the same length, got {len(ws)} and {len(xs)}")
    return _n_ary(ops.DOT, ws + xs) if ws else Value(0.0)


def _operands(values: Iterable[ValueOrNumber], op_name: str) -> tuple:
    if isinstance(values, (Value, str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{op_name}: expected a list of Values or numbers, got {type(values).__name__} ({values!r})")
    return tuple(values)


def _n_ary(op: Op, operands: tuple) -> Value:
    """One node of `op` over the operands, numbers among them lifted to constants (all numbers too)."""
    out = op._apply(*operands)
    if out is NotImplemented:
        for x in operands:
            if not isinstance(x, Value):
                constant(x, op.name)  # raises the error that names the bad operand
    return out


__all__ = [*UNARY, "atan2", "remainder", "clamp", "leaky_relu", "sum", "logsumexp", "dot"]
