"""The math namespace on numpy arrays: one element per example of a batch.

The formulas mirror `FloatMath` (the same stable forms for sigmoid, softplus and
logsumexp; relu, abs, max and min exact through comparisons and `numpy.where`,
with the same subgradients). Domain errors are not raised here: they show up as
nan or inf, and the compiled function replays those examples in the eager
engine, which raises its usual error (or, where a zero gradient makes an
undefined local derivative irrelevant, gives the eager result).

The n-ary functions (sum, dot, logsumexp) take a sequence of arrays or one array
stacked along its first axis (operands x ...), which they reduce in one call,
adding the operands in order as the float versions do.
"""

from __future__ import annotations

import functools
import math
from operator import mul

import numpy as np

from ..namespace import Namespace, add_elementary, elementary

__all__ = ["NumpyMath"]

# Where numpy names an elementary function differently from Python's math module.
NUMPY_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2"}


class NumpyMath(metaclass=Namespace):
    """The math namespace on numpy arrays. Its elementary functions are numpy's of the same name (or of
    the name in NUMPY_NAMES); one that numpy lacks (erf, say) is math's, applied element by element.

    A function that takes `out` may be given an `out` that is also one of its inputs (the compiled
    batch computes an inner call into the array the outer one writes to): it reads each input
    before it writes over it."""

    sign = staticmethod(np.sign)
    max = staticmethod(np.maximum)
    min = staticmethod(np.minimum)
    hypot = staticmethod(np.hypot)
    remainder = staticmethod(np.remainder)  # Python's % (the sign of b); nan where b == 0
    floor_divide = staticmethod(np.floor_divide)  # Python's //

    @staticmethod
    def log_or_zero(x):
        return np.where(x == 0.0, 0.0, np.log(np.where(x == 0.0, 1.0, x)))

    @staticmethod
    def sigmoid(x, out=None):
        # 1 / (1 + e^-x): within a few units in the last place of FloatMath's stable form, in four calls.
        # Below x = -709, e^-x overflows to inf and the result is 0.0, where the true value is below 1e-308.
        e = np.exp(np.negative(x, out=out), out=out)
        return np.divide(1.0, np.add(e, 1.0, out=e), out=e)

    @staticmethod
    def softplus(x, out=None):
        # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), as FloatMath: the exponent is never positive
        positive = np.maximum(x, 0.0)  # before out is written: out may be x
        e = np.abs(x, out=out)
        np.exp(np.negative(e, out=e), out=e)
        return np.add(np.log1p(e, out=e), positive, out=e)

    @staticmethod
    def logsumexp(xs, out=None):
        # log(sum e^x_i) = m + log(sum e^(x_i - m)), m = max x_i, as FloatMath
        if isinstance(xs, np.ndarray):
            m = np.maximum.reduce(xs, axis=0)
            shifted = np.subtract(xs, m)
            total = np.add.reduce(np.exp(shifted, out=shifted), axis=0, out=out)
        else:  # operand by operand, into two arrays
            m = functools.reduce(np.maximum, xs)
            total = np.exp(np.subtract(xs[0], m), out=out)
            term = np.empty_like(total)
            for x in xs[1:]:
                np.add(total, np.exp(np.subtract(x, m, out=term), out=term), out=total)
        return np.add(np.log(total, out=total), m, out=total)

    @staticmethod
    def softmax(xs):
        # as FloatMath: from the differences to the largest x. Stacked operands give one stacked array
        # (operands x ...), separate ones a tuple (its items are the rows of one array)
        if isinstance(xs, np.ndarray):
            e = np.subtract(xs, np.maximum.reduce(xs, axis=0))
            np.exp(e, out=e)
            return np.divide(e, np.add.reduce(e, axis=0), out=e)
        m = functools.reduce(np.maximum, xs)
        e = np.empty((len(xs), *np.broadcast_shapes(*(np.shape(x) for x in xs))))
        for i, x in enumerate(xs):
            np.exp(np.subtract(x, m, out=e[i]), out=e[i])
        return tuple(np.divide(e, np.add.reduce(e, axis=0), out=e))

    @staticmethod
    def div(a, b):
        return a / b

    @staticmethod
    def pow(a, b):
        return np.power(a, b)

    @staticmethod
    def pow_variable_exponent(a, b):
        return np.where(a > 0.0, np.power(np.abs(a), b), np.nan)  # the eager engine refuses a <= 0

    @staticmethod
    def power_rule(x, c):
        return np.where(c != 0.0, c * np.power(x, c - 1.0), 0.0)  # c may differ from node to node

    @staticmethod
    def step(a, b, tie, out=None):
        """1.0 where a > b, 0.0 where a < b, `tie` where a == b; into the float array `out` if given."""
        ties = tie * np.equal(a, b) if tie != 0.0 else None  # before out is written: out may be a or b
        out = np.greater(a, b).astype(float) if out is None else np.greater(a, b, out=out)
        if ties is not None:
            out += ties
        return out

    @staticmethod
    def sum(xs, out=None):
        if isinstance(xs, np.ndarray):
            return np.add.reduce(xs, axis=0, out=out)
        total = sum(xs, 0.0)
        if out is None:
            return total
        out[...] = total
        return out

    @staticmethod
    def dot(ws, xs):
        if isinstance(ws, np.ndarray) and isinstance(xs, np.ndarray):
            return np.add.reduce(ws * xs, axis=0)
        return sum(map(mul, ws, xs), 0.0)

    @staticmethod
    def constant(c):
        return c


def _element_by_element(name: str) -> np.vectorize:
    """math.<name> applied to each element, nan outside its domain as numpy's functions give: slower
    than a numpy function, and exactly the eager engine's numbers."""
    function = getattr(math, name)

    def at(*xs: float) -> float:
        try:
            return function(*xs)
        except (ValueError, OverflowError):
            return math.nan

    return np.vectorize(at, otypes=[float])


add_elementary(NumpyMath, elementary(np, NUMPY_NAMES))
add_elementary(NumpyMath, {name: _element_by_element(name) for name in elementary(math)})
