"""The math namespace on mpmath numbers: the op table evaluated at 50 significant digits.

`MpmathMath` runs every op's rules on `mpf` numbers of a private mpmath context (its
precision is its own: mpmath's global `mp.dps` is never touched). The elementary functions
are mpmath's of the same name; only the helpers are written here, in their plainest form
(logsumexp as log(sum(exp)), softplus as log1p(exp)): at 50 digits and with mpmath's
unbounded exponents nothing overflows, so they are an independent reference for the
float formulas. A function whose result is not a real number (log(-1) is complex in
mpmath) is a ValueError naming it, as in the float engine.

Needs mpmath: the `oracles` extra (`pip install "autodiff[oracles]"`), also in `dev`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .namespace import Namespace, add_elementary, elementary

try:
    import mpmath
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError(
        "autodiff's 50-digit oracle (precision='high') needs mpmath: pip install 'autodiff[oracles]'"
    ) from None

__all__ = ["MpmathMath", "DIGITS", "CONTEXT", "mpf", "is_mpf"]

DIGITS = 50
CONTEXT = mpmath.MPContext()  # a context of our own: mpmath.mp keeps its precision
CONTEXT.dps = DIGITS
_ONE, _ZERO = CONTEXT.mpf(1), CONTEXT.mpf(0)


def mpf(x: Any) -> Any:
    """x as a 50-digit mpf (a float is taken exactly)."""
    return CONTEXT.mpf(x)


def is_mpf(x: Any) -> bool:
    return isinstance(x, CONTEXT.mpf)


def _real(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` refusing complex and infinite results, as the float engine refuses them."""

    def checked(*args: Any) -> Any:
        result = function(*args)
        if not isinstance(result, (CONTEXT.mpf, float, int)) or not CONTEXT.isfinite(result):
            shown = ", ".join(CONTEXT.nstr(a, 17) for a in args)
            raise ValueError(f"{name}: no real finite value at ({shown}) (mpmath gives {CONTEXT.nstr(result, 17)})")
        return result

    checked.__name__ = name
    return checked


class MpmathMath(metaclass=Namespace):
    """Rules evaluated on 50-digit mpf numbers; exp, log, sin, atan2, floor, ... are mpmath's (below the class)."""

    hypot = staticmethod(_real("hypot", CONTEXT.hypot))

    @staticmethod
    def sigmoid(x: Any) -> Any:
        return 1 / (1 + CONTEXT.exp(-x))

    @staticmethod
    def softplus(x: Any) -> Any:
        return CONTEXT.log1p(CONTEXT.exp(x))  # log1p: exact for large negative x, where 1 + e**x rounds to 1

    @staticmethod
    def logsumexp(xs: Sequence[Any]) -> Any:
        return CONTEXT.log(CONTEXT.fsum(CONTEXT.exp(x) for x in xs))

    @staticmethod
    def softmax(xs: Sequence[Any]) -> tuple[Any, ...]:
        exps = [CONTEXT.exp(x) for x in xs]
        total = CONTEXT.fsum(exps)
        return tuple(e / total for e in exps)

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        if b == 0:
            raise ZeroDivisionError(f"/: division by zero, got {a!r} / {b!r}")
        return CONTEXT.mpf(a) / b

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        if a == 0 and b < 0:
            raise ZeroDivisionError(f"**: 0 cannot be raised to a negative power, got exponent {b!r}")
        if a < 0 and not CONTEXT.isint(b):
            raise ValueError(f"**: a negative base needs an integer exponent, got {a!r} ** {b!r}")
        return CONTEXT.power(a, b)

    @staticmethod
    def pow_variable_exponent(a: Any, b: Any) -> Any:
        if a < 0:
            raise ValueError(f"**: the base must be >= 0 when the exponent is a Value, got base {a!r}")
        return MpmathMath.pow(a, b)

    @staticmethod
    def power_rule(x: Any, c: Any) -> Any:
        return c * MpmathMath.pow(x, c - 1) if c != 0 else _ZERO

    @staticmethod
    def log_or_zero(x: Any) -> Any:
        return _ZERO if x == 0 else _real("log", CONTEXT.log)(x)

    @staticmethod
    def floor_divide(a: Any, b: Any) -> Any:
        if b == 0:
            raise ZeroDivisionError(f"//: division by zero, got {a!r} // {b!r}")
        return CONTEXT.floor(CONTEXT.mpf(a) / b)

    @staticmethod
    def remainder(a: Any, b: Any) -> Any:
        """a - b floor(a / b): the sign of b, as Python's %."""
        if b == 0:
            raise ZeroDivisionError(f"%: division by zero, got {a!r} % {b!r}")
        return a - b * CONTEXT.floor(CONTEXT.mpf(a) / b)

    @staticmethod
    def step(a: Any, b: Any, tie: Any) -> Any:
        return _ONE if a > b else (CONTEXT.mpf(tie) if a == b else _ZERO)

    @staticmethod
    def sign(x: Any) -> Any:
        return _ONE if x > 0 else (-_ONE if x < 0 else _ZERO)

    @staticmethod
    def max(a: Any, b: Any) -> Any:
        return CONTEXT.mpf(a if a >= b else b)

    @staticmethod
    def min(a: Any, b: Any) -> Any:
        return CONTEXT.mpf(a if a <= b else b)

    @staticmethod
    def sum(xs: Sequence[Any]) -> Any:
        return CONTEXT.fsum(xs)

    @staticmethod
    def dot(ws: Sequence[Any], xs: Sequence[Any]) -> Any:
        return CONTEXT.fdot(ws, xs)

    @staticmethod
    def constant(c: Any) -> Any:
        return c


# The elementary functions: mpmath's of the same name, refusing complex results (log2 is log(x, 2) there).
add_elementary(
    MpmathMath,
    {name: _real(name, f) for name, f in elementary(CONTEXT, {"log2": lambda x: CONTEXT.log(x, 2)}).items()},
)
