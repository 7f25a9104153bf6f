"""Module-level functions: unary ops that take a Value or a plain number, and the n-ary ops.

`autodiff.exp(v)` is `v.exp()` for a Value and a float for a number, so one
function body works on both (`autodiff.grad` passes Values, plain code floats).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import ops
from .ops import Op
from .value import Number, Value, clamp_operands, constant, constant_slope

__all__ = [
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "relu", "leaky_relu",
    "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "log1p", "expm1", "log2", "log10",
    "floor", "ceil", "remainder", "clamp",
    "sum", "logsumexp", "dot",
]  # fmt: skip

ValueOrNumber = Value | Number


def _unary(op: Op, x: ValueOrNumber) -> ValueOrNumber:
    return op(x)


def exp(x: ValueOrNumber) -> ValueOrNumber:
    """e**x."""
    return _unary(ops.EXP, x)


def log(x: ValueOrNumber) -> ValueOrNumber:
    """The natural logarithm; x must be > 0."""
    return _unary(ops.LOG, x)


def sqrt(x: ValueOrNumber) -> ValueOrNumber:
    """The square root; x must be >= 0 (its derivative is infinite at 0)."""
    return _unary(ops.SQRT, x)


def sin(x: ValueOrNumber) -> ValueOrNumber:
    """The sine, x in radians."""
    return _unary(ops.SIN, x)


def cos(x: ValueOrNumber) -> ValueOrNumber:
    """The cosine, x in radians."""
    return _unary(ops.COS, x)


def tanh(x: ValueOrNumber) -> ValueOrNumber:
    """The hyperbolic tangent."""
    return _unary(ops.TANH, x)


def sigmoid(x: ValueOrNumber) -> ValueOrNumber:
    """1 / (1 + e**-x), without overflow for large |x|."""
    return _unary(ops.SIGMOID, x)


def softplus(x: ValueOrNumber) -> ValueOrNumber:
    """log(1 + e**x), without overflow for large |x|."""
    return _unary(ops.SOFTPLUS, x)


def tan(x: ValueOrNumber) -> ValueOrNumber:
    """The tangent, x in radians."""
    return _unary(ops.TAN, x)


def asin(x: ValueOrNumber) -> ValueOrNumber:
    """The arcsine; x must be in [-1, 1] (its derivative is infinite at +-1)."""
    return _unary(ops.ASIN, x)


def acos(x: ValueOrNumber) -> ValueOrNumber:
    """The arccosine; x must be in [-1, 1] (its derivative is infinite at +-1)."""
    return _unary(ops.ACOS, x)


def atan(x: ValueOrNumber) -> ValueOrNumber:
    """The arctangent."""
    return _unary(ops.ATAN, x)


def atan2(y: ValueOrNumber, x: ValueOrNumber) -> ValueOrNumber:
    """The angle of the point (x, y), in [-pi, pi] (math.atan2's and torch.atan2's); its derivative
    is undefined at the origin."""
    return ops.ATAN2(y, x)


def sinh(x: ValueOrNumber) -> ValueOrNumber:
    """The hyperbolic sine."""
    return _unary(ops.SINH, x)


def cosh(x: ValueOrNumber) -> ValueOrNumber:
    """The hyperbolic cosine."""
    return _unary(ops.COSH, x)


def log1p(x: ValueOrNumber) -> ValueOrNumber:
    """log(1 + x), accurate for small x; x must be > -1."""
    return _unary(ops.LOG1P, x)


def expm1(x: ValueOrNumber) -> ValueOrNumber:
    """e**x - 1, accurate for small x."""
    return _unary(ops.EXPM1, x)


def log2(x: ValueOrNumber) -> ValueOrNumber:
    """The base-2 logarithm; x must be > 0."""
    return _unary(ops.LOG2, x)


def log10(x: ValueOrNumber) -> ValueOrNumber:
    """The base-10 logarithm; x must be > 0."""
    return _unary(ops.LOG10, x)


def floor(x: ValueOrNumber) -> ValueOrNumber:
    """The largest integer <= x, as a float; derivative 0."""
    return _unary(ops.FLOOR, x)


def ceil(x: ValueOrNumber) -> ValueOrNumber:
    """The smallest integer >= x, as a float; derivative 0."""
    return _unary(ops.CEIL, x)


def remainder(a: ValueOrNumber, b: ValueOrNumber) -> ValueOrNumber:
    """a % b with the sign of b (Python's % and torch.remainder); d/da = 1, d/db = -(a // b)."""
    return ops.REMAINDER(a, b)


def clamp(x: ValueOrNumber, lo: ValueOrNumber | None = None, hi: ValueOrNumber | None = None) -> ValueOrNumber:
    """min(max(x, lo), hi) with torch.clamp's gradient (x gets it where lo <= x <= hi, bounds included).

    A missing bound is none; at least one is needed. Bounds may be Values: they get gradients too.
    """
    return ops.CLAMP(*clamp_operands(x, lo, hi))


def relu(x: ValueOrNumber) -> ValueOrNumber:
    """max(x, 0), with relu'(0) = 0."""
    return _unary(ops.RELU, x)


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
