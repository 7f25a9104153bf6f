"""The math namespace on plain floats: the eager engine's numbers.

Every rule in `autodiff.ops` takes a math namespace `m` as its first argument and
calls `m.exp`, `m.log`, `m.step`, ... (the contract: `autodiff.namespace`). On
floats, this is also where domain and range errors are raised: the message names
the op and shows the offending value.
"""

from __future__ import annotations

import math
from operator import mul

from .namespace import Namespace

__all__ = ["FloatMath", "MAX_FLOAT"]

MAX_FLOAT = 1.7976931348623157e308


class FloatMath(metaclass=Namespace):
    """Rules evaluated on Python floats, with named domain and range errors."""

    @staticmethod
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            raise OverflowError(f"exp: result overflows a float, got {x!r}") from None

    @staticmethod
    def log(x: float) -> float:
        if x <= 0.0:
            raise ValueError(f"log: input must be > 0, got {x!r}")
        return math.log(x)

    @staticmethod
    def sqrt(x: float) -> float:
        if x < 0.0:
            raise ValueError(f"sqrt: input must be >= 0, got {x!r}")
        return math.sqrt(x)

    @staticmethod
    def tanh(x: float) -> float:
        return math.tanh(x)  # saturates to exactly +-1.0, never overflows

    @staticmethod
    def sigmoid(x: float) -> float:
        # 1 / (1 + e^-x), evaluated so that the exponent is never positive:
        # exact limits 1.0 and 0.0 for large |x| instead of an overflow.
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    @staticmethod
    def softplus(x: float) -> float:
        # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): the exponent is never positive.
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))

    @staticmethod
    def logsumexp(xs: tuple[float, ...]) -> float:
        # log(sum e^x_i) = m + log(sum e^(x_i - m)) with m = max x_i: no overflow, and the sum is >= 1.
        m = max(xs)
        return m + math.log(sum([math.exp(x - m) for x in xs], 0.0))

    @staticmethod
    def softmax(xs: tuple[float, ...]) -> tuple[float, ...]:
        # e^(x_i - m) / sum_j e^(x_j - m), m = max x_j: the differences are exact where x_i - log-sum-exp
        # is not (at x = (1e16, 1e16) the rounded log-sum-exp equals x_i, which would give 1.0, 1.0).
        m = max(xs)
        exps = [math.exp(x - m) for x in xs]
        total = sum(exps, 0.0)
        return tuple([e / total for e in exps])

    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    tan = staticmethod(math.tan)  # finite for every float: pi/2 is not one
    atan = staticmethod(math.atan)
    atan2 = staticmethod(math.atan2)

    @staticmethod
    def asin(x: float) -> float:
        if not -1.0 <= x <= 1.0:
            raise ValueError(f"asin: input must be in [-1, 1], got {x!r}")
        return math.asin(x)

    @staticmethod
    def acos(x: float) -> float:
        if not -1.0 <= x <= 1.0:
            raise ValueError(f"acos: input must be in [-1, 1], got {x!r}")
        return math.acos(x)

    @staticmethod
    def sinh(x: float) -> float:
        try:
            return math.sinh(x)
        except OverflowError:
            raise OverflowError(f"sinh: result overflows a float, got {x!r}") from None

    @staticmethod
    def cosh(x: float) -> float:
        try:
            return math.cosh(x)
        except OverflowError:
            raise OverflowError(f"cosh: result overflows a float, got {x!r}") from None

    @staticmethod
    def log1p(x: float) -> float:
        if x <= -1.0:
            raise ValueError(f"log1p: input must be > -1, got {x!r}")
        return math.log1p(x)

    @staticmethod
    def expm1(x: float) -> float:
        try:
            return math.expm1(x)
        except OverflowError:
            raise OverflowError(f"expm1: result overflows a float, got {x!r}") from None

    @staticmethod
    def log2(x: float) -> float:
        if x <= 0.0:
            raise ValueError(f"log2: input must be > 0, got {x!r}")
        return math.log2(x)

    @staticmethod
    def log10(x: float) -> float:
        if x <= 0.0:
            raise ValueError(f"log10: input must be > 0, got {x!r}")
        return math.log10(x)

    @staticmethod
    def log_or_zero(x: float) -> float:
        if x == 0.0:
            return 0.0
        return FloatMath.log(x)

    # math.floor and math.ceil return ints, which lose the sign of a zero result: floor(-0.0) and
    # ceil(-0.5) are -0.0 (IEEE 754, PyTorch, numpy), and atan2(-0.0, -1.0) is -pi, not pi.
    @staticmethod
    def floor(x: float) -> float:
        return float(math.floor(x)) or math.copysign(0.0, x)

    @staticmethod
    def ceil(x: float) -> float:
        return float(math.ceil(x)) or math.copysign(0.0, x)

    @staticmethod
    def remainder(a: float, b: float) -> float:
        if b == 0.0:
            raise ZeroDivisionError(f"%: division by zero, got {a!r} % {b!r}")
        return a % b

    @staticmethod
    def floor_divide(a: float, b: float) -> float:
        if b == 0.0:
            raise ZeroDivisionError(f"//: division by zero, got {a!r} // {b!r}")
        return a // b

    @staticmethod
    def div(a: float, b: float) -> float:
        if b == 0.0:
            raise ZeroDivisionError(f"/: division by zero, got {a!r} / {b!r}")
        return a / b

    @staticmethod
    def pow(a: float, b: float) -> float:
        if a == 0.0 and b < 0.0:
            raise ZeroDivisionError(f"**: 0.0 cannot be raised to a negative power, got exponent {b!r}")
        if a < 0.0 and not b.is_integer():
            raise ValueError(f"**: a negative base needs an integer exponent, got {a!r} ** {b!r}")
        try:
            return a**b
        except OverflowError:
            raise OverflowError(f"**: result overflows a float, got {a!r} ** {b!r}") from None

    @staticmethod
    def pow_variable_exponent(a: float, b: float) -> float:
        # d/db a^b = a^b ln(a) exists for a > 0; at a = 0 it is taken as 0 (0^b is constant for b > 0).
        if a < 0.0:
            raise ValueError(
                f"**: the base must be >= 0 when the exponent is a Value (d/db a**b = a**b * log(a)), "
                f"got base {a!r}; use a plain number as the exponent for a negative base"
            )
        return FloatMath.pow(a, b)

    @staticmethod
    def power_rule(x: float, c: float) -> float:
        """d/dx x^c = c x^(c-1); 0 for c = 0, where x^0 = 1 is constant even at x = 0."""
        return c * x ** (c - 1.0) if c != 0.0 else 0.0

    @staticmethod
    def step(a: float, b: float, tie: float) -> float:
        """1.0 where a > b, 0.0 where a < b, `tie` where a == b."""
        return 1.0 if a > b else (tie if a == b else 0.0)

    @staticmethod
    def sign(x: float) -> float:
        return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)

    max = staticmethod(max)
    min = staticmethod(min)

    @staticmethod
    def sum(xs: tuple[float, ...]) -> float:
        return sum(xs, 0.0)

    @staticmethod
    def dot(ws: tuple[float, ...], xs: tuple[float, ...]) -> float:
        return sum(map(mul, ws, xs), 0.0)

    @staticmethod
    def constant(c: float) -> float:
        return c
