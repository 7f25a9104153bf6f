"""The math namespace `m`: every function an op's rules may call, written down once.

An op's rules (`autodiff.Op`) compute with `+ - * / **`, unary `-`, `abs()` and
the functions called on `m`: the helpers of `MathNamespace` below, and the
elementary functions, which are the op table's functions named as Python's `math`
module names them (exp, log, sqrt, ...: `ELEMENTARY`). Each namespace takes the
elementary functions from its number type's library by that name (`math` for
floats, `numpy` for arrays, the ops themselves for Values), so a new op such as
erf needs no edit here. Four namespaces implement all of them, each on its own
kind of number, so one rule runs everywhere:

    FloatMath   Python floats: the eager engine (autodiff/numerics.py)
    ValueMath   Values: gradients that are differentiable again, backward(create_graph=True)
    NumpyMath   numpy arrays, one element per example: autodiff.compile's batches
    SourceMath  symbols: the generated code of autodiff.compile and of the fast backward

A rule that sticks to this contract works in all four; a test checks that each
namespace has every function and that they agree numerically. Calling a function
that is not here is an `AttributeError` listing what is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from .ops import NAMED, OPS, Op

__all__ = [
    "MathNamespace",
    "FUNCTIONS",
    "HELPERS",
    "ELEMENTARY",
    "Namespace",
    "MissingMathFunction",
    "elementary",
    "add_elementary",
    "op_named",
]

X = Any  # a float, a Value, a numpy array or a symbol, by namespace


class MathNamespace(Protocol):
    """The functions a rule may call on `m`."""

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
    def hypot(x: X, y: X) -> X:
        """sqrt(x**2 + y**2) without underflow or overflow on the way (the length of (x, y))."""

    @staticmethod
    def log_or_zero(x: X) -> X:
        """log(x) for x > 0 and 0 at x == 0: the factor log(a) of d/db a**b, which is 0 at a == 0 (0**b is
        constant for b > 0), as PyTorch and autograd take it."""

    @staticmethod
    def remainder(a: X, b: X) -> X:
        """a - b * floor(a / b) with the sign of b (Python's % and torch.remainder); b == 0 is a
        ZeroDivisionError naming %."""

    @staticmethod
    def floor_divide(a: X, b: X) -> X:
        """The integer quotient that goes with `remainder` (Python's //), as a float: a piecewise-constant factor."""


HELPERS: tuple[str, ...] = tuple(
    name for name, member in vars(MathNamespace).items() if isinstance(member, staticmethod)
)
"""The functions each namespace writes out: stable forms, piecewise factors and the n-ary reductions."""

ELEMENTARY: tuple[str, ...] = tuple(op.name for op in NAMED if hasattr(math, op.name) and op.name not in HELPERS)
"""The op table's functions named as Python's `math` module names them: m.<name> on floats is math.<name>."""

FUNCTIONS: tuple[str, ...] = tuple(
    dict.fromkeys([*(op.name for op in NAMED if op.name in (*HELPERS, *ELEMENTARY)), *HELPERS])
)
"""Every function a rule may call on `m`: the table's functions in its order, then the other helpers."""


def elementary(library: Any, aliases: dict[str, Any] | None = None) -> dict[str, Callable[..., Any]]:
    """The elementary functions of `library` (math, numpy, mpmath, sympy) by the op table's names. `aliases`
    maps a table name to the library's name where they differ (numpy's "arcsin" for asin), or to a function
    where the library has none (sympy's log(1 + x) for log1p). Names it lacks are left out."""
    aliases = aliases or {}
    found = {name: _lookup(library, aliases.get(name, name)) for name in ELEMENTARY}
    return {name: function for name, function in found.items() if function is not None}


def _lookup(library: Any, name_or_function: Any) -> Callable[..., Any] | None:
    if callable(name_or_function):
        return name_or_function
    return getattr(library, name_or_function, None)


def add_elementary(namespace: type, functions: dict[str, Callable[..., Any]]) -> None:
    """Give a namespace class each elementary function it does not write out itself."""
    for name, function in functions.items():
        if name not in vars(namespace):
            setattr(namespace, name, staticmethod(function))


def op_named(name: str) -> Op:
    """The op of the table whose name is `name` (the elementary function m.<name> on Values)."""
    return next(op for op in OPS.values() if op.name == name)


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
