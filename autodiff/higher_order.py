"""Gradients that are Values: the rules evaluated on Values, so gradients can be differentiated again.

`backward(create_graph=True)` runs the chain rule with `ValueMath`: each local
derivative, and each product grad * partial, is a node built from the same ops,
so the gradients form a graph of their own.
"""

from __future__ import annotations

from typing import Any

from . import ops
from .errors import add_context
from .grad_mode import enable_grad
from .namespace import Namespace
from .numerics import FloatMath
from .value import Constant, Value

__all__ = ["ValueMath", "chain_rule_building_graph"]


def _data(x: Any) -> float:
    return x if isinstance(x, float) else x.data


class ValueMath(metaclass=Namespace):
    """The math namespace on Values (and floats): each function is the op of the same name.

    Piecewise-constant factors (`step`, `sign`, `floor_divide`) and `constant` are plain floats: their
    derivative is zero wherever it exists, so they carry no graph.
    """

    exp = staticmethod(ops.EXP)
    log = staticmethod(ops.LOG)
    sqrt = staticmethod(ops.SQRT)
    sin = staticmethod(ops.SIN)
    cos = staticmethod(ops.COS)
    tanh = staticmethod(ops.TANH)
    sigmoid = staticmethod(ops.SIGMOID)
    softplus = staticmethod(ops.SOFTPLUS)
    div = staticmethod(ops.DIV)
    pow = staticmethod(ops.POW_CONST)
    pow_variable_exponent = staticmethod(ops.POW)
    max = staticmethod(ops.MAX)
    min = staticmethod(ops.MIN)
    tan = staticmethod(ops.TAN)
    asin = staticmethod(ops.ASIN)
    acos = staticmethod(ops.ACOS)
    atan = staticmethod(ops.ATAN)
    atan2 = staticmethod(ops.ATAN2)
    sinh = staticmethod(ops.SINH)
    cosh = staticmethod(ops.COSH)
    log1p = staticmethod(ops.LOG1P)
    expm1 = staticmethod(ops.EXPM1)
    log2 = staticmethod(ops.LOG2)
    log10 = staticmethod(ops.LOG10)
    floor = staticmethod(ops.FLOOR)
    ceil = staticmethod(ops.CEIL)
    remainder = staticmethod(ops.REMAINDER)

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


def chain_rule_building_graph(interior: list[Value], leaves: list[Value]) -> None:
    """The chain rule on Values, from the root back; every grad of `interior` and `leaves` ends a Value."""
    from .specialize import local_partials

    with enable_grad():  # the gradients' graph is what was asked for, even inside no_grad()
        for node in reversed(interior):
            grad = node.grad
            if _is_zero(grad):  # a zero gradient contributes nothing
                continue
            parents = node.parents
            try:
                # Input by input, constants skipped: a constant's partial may not exist (0 ** b, b < 1).
                for parent, partial in zip(parents, local_partials(node, on_values=True)):
                    if type(parent) is Constant or _is_zero(partial):  # no gradient for it, or no path
                        continue
                    contribution = grad if _is_one(partial) else grad * partial
                    before = parent.grad
                    parent.grad = contribution if _is_zero(before) else before + contribution
            except (ArithmeticError, ValueError) as error:
                from .anomaly import inputs, op_at

                where = op_at(node)
                add_context(error, f"{where}: the derivative is not finite or undefined at inputs ({inputs(node)})")
                raise
    for node in (*interior, *leaves):
        if not isinstance(node.grad, Value):
            node.grad = Value(node.grad)


def _is_one(x: object) -> bool:
    return isinstance(x, float) and x == 1.0


def _is_zero(x: object) -> bool:
    return isinstance(x, float) and x == 0.0
