"""The math namespace on plain floats: the eager engine's numbers.

Every rule in `autodiff.ops` takes a math namespace `m` as its first argument and
calls `m.exp`, `m.log`, `m.step`, ... (the contract: `autodiff.namespace`). On
floats, this is also where domain and range errors are raised: the message names
the op and shows the offending value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import mul

from .namespace import Namespace, add_elementary, elementary, op_named

__all__ = ["FloatMath", "UncheckedFloatMath", "MAX_FLOAT"]

MAX_FLOAT = 1.7976931348623157e308


def _named_errors(name: str, function: Callable[..., float], domain: str) -> Callable[..., float]:
    """math.<name> with errors that name the function and show the input: 'log: input must be > 0, got -2.0'."""

    def checked(*xs: float) -> float:
        try:
            return function(*xs)
        except OverflowError:
            raise OverflowError(f"{name}: result overflows a float, got {_shown(xs)}") from None
        except ValueError:
            raise ValueError(f"{name}: input must be {domain or 'in its domain'}, got {_shown(xs)}") from None

    checked.__name__ = checked.__qualname__ = name
    checked.__doc__ = function.__doc__
    return checked


def _shown(xs: tuple) -> str:
    return ", ".join(repr(x) for x in xs)


class FloatMath(metaclass=Namespace):
    """Rules evaluated on Python floats, with named domain and range errors.

    The elementary functions are `math`'s, wrapped so that their errors name them (and,
    for a domain error, say the domain that the op table gives); the rest are written here.
    """

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
        return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))

    @staticmethod
    def logsumexp(xs: tuple[float, ...]) -> float:
        # log(sum e^x_i) = m + log(sum e^(x_i - m)) with m = max x_i: no overflow, and the sum is >= 1.
        m = max(xs)
        total = 0.0
        for x in xs:  # a loop, not sum() of a list: one call fewer, the same additions in the same order
            total += math.exp(x - m)
        return m + math.log(total)

    @staticmethod
    def softmax(xs: tuple[float, ...]) -> tuple[float, ...]:
        # e^(x_i - m) / sum_j e^(x_j - m), m = max x_j: the differences are exact where x_i - log-sum-exp
        # is not (at x = (1e16, 1e16) the rounded log-sum-exp equals x_i, which would give 1.0, 1.0).
        m = max(xs)
        exps = [math.exp(x - m) for x in xs]
        total = sum(exps, 0.0)
        return tuple([e / total for e in exps])

    hypot = staticmethod(math.hypot)

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


_NAMED = {name: _named_errors(name, f, op_named(name).domain) for name, f in elementary(math).items()}
add_elementary(FloatMath, _NAMED)


class UncheckedFloatMath(FloatMath):
    """FloatMath with `math`'s own elementary functions, a call faster: their errors do not name the op.
    For code that catches every error and replays the computation in FloatMath for its message
    (`autodiff.compile`'s float programs)."""

    locals().update(
        {  # not those that FloatMath writes out itself (floor and ceil, which return floats)
            name: staticmethod(function)
            for name, function in elementary(math).items()
            if getattr(FloatMath, name) is _NAMED[name]
        }
    )
