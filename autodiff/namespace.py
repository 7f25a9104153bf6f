"""The math namespace `m`: every function an op's rules may call, written down once.

An op's rules (`autodiff.Op`) compute with `+ - * / **`, unary `-`, `abs()` and
the functions below, called on `m`. Four namespaces implement all of them, each
on its own kind of number, so one rule runs everywhere:

    FloatMath   Python floats: the eager engine (autodiff/numerics.py)
    ValueMath   Values: gradients that are differentiable again, backward(create_graph=True)
    NumpyMath   numpy arrays, one element per example: autodiff.compile's batches
    SourceMath  symbols: the generated code of autodiff.compile and of the fast backward

A rule that sticks to this contract works in all four; a test checks that each
namespace has every function and that they agree numerically. Calling a function
that is not here is an `AttributeError` listing what is.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["MathNamespace", "FUNCTIONS", "Namespace", "MissingMathFunction"]

X = Any  # a float, a Value, a numpy array or a symbol, by namespace


class MathNamespace(Protocol):
    """The functions a rule may call on `m`."""

    @staticmethod
    def exp(x: X) -> X:
        """e**x; too large an x is an OverflowError naming exp."""

    @staticmethod
    def log(x: X) -> X:
        """The natural logarithm, for x > 0."""

    @staticmethod
    def sqrt(x: X) -> X:
        """The square root, for x >= 0."""

    @staticmethod
    def sin(x: X) -> X:
        """The sine, x in radians."""

    @staticmethod
    def cos(x: X) -> X:
        """The cosine, x in radians."""

    @staticmethod
    def tanh(x: X) -> X:
        """The hyperbolic tangent; saturates to exactly +-1."""

    @staticmethod
    def sigmoid(x: X) -> X:
        """1 / (1 + e**-x), reaching exactly 0 and 1 without overflow."""

    @staticmethod
    def softplus(x: X) -> X:
        """log(1 + e**x) without overflow."""

    @staticmethod
    def div(a: X, b: X) -> X:
        """a / b; b == 0 is a ZeroDivisionError naming /."""

    @staticmethod
    def pow(a: X, b: X) -> X:
        """a**b for a plain exponent b: a negative base needs an integer b, 0 a non-negative one."""

    @staticmethod
    def pow_variable_exponent(a: X, b: X) -> X:
        """a**b where b is differentiated too, so a must be > 0."""

    @staticmethod
    def power_rule(x: X, c: X) -> X:
        """d/dx x**c = c x**(c - 1), and 0 for c == 0."""

    @staticmethod
    def step(a: X, b: X, tie: float) -> X:
        """1 where a > b, 0 where a < b, `tie` where a == b: a piecewise-constant factor (no gradient)."""

    @staticmethod
    def sign(x: X) -> X:
        """-1, 0 or 1: a piecewise-constant factor (no gradient)."""

    @staticmethod
    def max(a: X, b: X) -> X:
        """The larger of a and b."""

    @staticmethod
    def min(a: X, b: X) -> X:
        """The smaller of a and b."""

    @staticmethod
    def sum(xs: tuple[X, ...]) -> X:
        """x_1 + ... + x_n."""

    @staticmethod
    def dot(ws: tuple[X, ...], xs: tuple[X, ...]) -> X:
        """w_1 x_1 + ... + w_n x_n."""

    @staticmethod
    def logsumexp(xs: tuple[X, ...]) -> X:
        """log(e**x_1 + ... + e**x_n) without overflow."""

    @staticmethod
    def softmax(xs: tuple[X, ...]) -> tuple[X, ...]:
        """e**x_i / sum_j e**x_j for every i, from the differences to the largest x: exact for huge x."""

    @staticmethod
    def constant(c: X) -> X:
        """c as a number that carries no gradient (a rule's fixed parameter, leaky_relu's slope)."""

    @staticmethod
    def tan(x: X) -> X:
        """The tangent, x in radians."""

    @staticmethod
    def asin(x: X) -> X:
        """The arcsine, for -1 <= x <= 1."""

    @staticmethod
    def acos(x: X) -> X:
        """The arccosine, for -1 <= x <= 1."""

    @staticmethod
    def atan(x: X) -> X:
        """The arctangent, in (-pi/2, pi/2)."""

    @staticmethod
    def atan2(y: X, x: X) -> X:
        """The angle of the point (x, y), in [-pi, pi], with the signs of both arguments (as math.atan2)."""

    @staticmethod
    def sinh(x: X) -> X:
        """The hyperbolic sine; too large an |x| is an OverflowError naming sinh."""

    @staticmethod
    def cosh(x: X) -> X:
        """The hyperbolic cosine; too large an |x| is an OverflowError naming cosh."""

    @staticmethod
    def log1p(x: X) -> X:
        """log(1 + x), accurate for small x, for x > -1."""

    @staticmethod
    def expm1(x: X) -> X:
        """e**x - 1, accurate for small x."""

    @staticmethod
    def log2(x: X) -> X:
        """The base-2 logarithm, for x > 0."""

    @staticmethod
    def log10(x: X) -> X:
        """The base-10 logarithm, for x > 0."""

    @staticmethod
    def log_or_zero(x: X) -> X:
        """log(x) for x > 0 and 0 at x == 0: the factor log(a) of d/db a**b, which is 0 at a == 0 (0**b is
        constant for b > 0), as PyTorch and autograd take it."""

    @staticmethod
    def floor(x: X) -> X:
        """The largest integer <= x, as a float."""

    @staticmethod
    def ceil(x: X) -> X:
        """The smallest integer >= x, as a float."""

    @staticmethod
    def remainder(a: X, b: X) -> X:
        """a - b * floor(a / b) with the sign of b (Python's % and torch.remainder); b == 0 is a
        ZeroDivisionError naming %."""

    @staticmethod
    def floor_divide(a: X, b: X) -> X:
        """The integer quotient that goes with `remainder` (Python's //), as a float: a piecewise-constant factor."""


FUNCTIONS: tuple[str, ...] = tuple(
    name for name, member in vars(MathNamespace).items() if isinstance(member, staticmethod)
)


class MissingMathFunction(AttributeError):
    """A rule called `m.<name>` for a name that is not part of the math namespace."""


class Namespace(type):
    """Metaclass of the math namespaces: a missing function is an error that lists the ones that exist."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise MissingMathFunction(
            f"the math namespace has no function {name!r} (m.{name}); a rule may call m.{', m.'.join(FUNCTIONS)}, "
            "and use + - * / ** and abs()"
        )
