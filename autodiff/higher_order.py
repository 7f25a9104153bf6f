"""Gradients that are Values: the rules evaluated on Values, so gradients can be differentiated again.

`backward(create_graph=True)` runs the chain rule (autodiff/backward.py) with the
local derivatives evaluated on `ValueMath`: each partial, and each product
grad * partial, is a node built from the same ops, so the gradients form a graph
of their own.
"""

from __future__ import annotations

from typing import Any

from . import ops
from .namespace import ELEMENTARY, Namespace, add_elementary, op_named
from .numerics import FloatMath

__all__ = ["ValueMath"]


def _data(x: Any) -> float:
    return x if isinstance(x, float) else x.data


class ValueMath(metaclass=Namespace):
    """The math namespace on Values (and floats): each elementary function is the op of the same name.

    Piecewise-constant factors (`step`, `sign`, `floor_divide`) and `constant` are plain floats: their
    derivative is zero wherever it exists, so they carry no graph.
    """

    sigmoid = staticmethod(ops.SIGMOID)
    softplus = staticmethod(ops.SOFTPLUS)
    div = staticmethod(ops.DIV)
    pow = staticmethod(ops.POW_CONST)
    pow_variable_exponent = staticmethod(ops.POW)
    max = staticmethod(ops.MAX)
    min = staticmethod(ops.MIN)
    remainder = staticmethod(ops.REMAINDER)

    @staticmethod
    def hypot(x: Any, y: Any) -> Any:
        # s * sqrt((x/s)^2 + (y/s)^2) with s = max(|x|, |y|), a plain number: the same value and derivatives
        # as sqrt(x^2 + y^2), without the underflow of x^2 at 1e-200.
        s = max(abs(_data(x)), abs(_data(y))) or 1.0
        return s * ops.SQRT((x / s) * (x / s) + (y / s) * (y / s))

    @staticmethod
    def log_or_zero(x: Any) -> Any:
        # At x == 0 the factor is the constant 0 (0**b is 0 for every b > 0, so no derivative flows).
        return 0.0 if _data(x) == 0.0 else ops.LOG(x)

    @staticmethod
    def floor_divide(a: Any, b: Any) -> float:
        return FloatMath.floor_divide(_data(a), _data(b))

    @staticmethod
    def power_rule(x: Any, c: Any) -> Any:
        c = _data(c)
        return c * x ** (c - 1.0) if c != 0.0 else 0.0

    @staticmethod
    def step(a: Any, b: Any, tie: float) -> float:
        a, b = _data(a), _data(b)
        return 1.0 if a > b else (tie if a == b else 0.0)

    @staticmethod
    def sign(x: Any) -> float:
        x = _data(x)
        return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)

    @staticmethod
    def sum(xs: tuple) -> Any:
        return ops.SUM(*xs)

    @staticmethod
    def dot(ws: tuple, xs: tuple) -> Any:
        return ops.DOT(*ws, *xs)

    @staticmethod
    def logsumexp(xs: tuple) -> Any:
        return ops.LOGSUMEXP(*xs)

    @staticmethod
    def softmax(xs: tuple) -> tuple:
        # Shifting every x by the same number leaves the softmax unchanged, so the largest x,
        # a plain float, is subtracted without a gradient of its own.
        top = max(_data(x) for x in xs)
        exps = [ops.EXP(x - top) for x in xs]
        total = ops.SUM(*exps)
        return tuple(e / total for e in exps)

    @staticmethod
    def constant(c: Any) -> float:
        return _data(c)


add_elementary(ValueMath, {name: op_named(name) for name in ELEMENTARY})
