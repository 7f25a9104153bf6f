"""Shared by the oracle tests: the engine's derivatives, the 50-digit and SymPy references, and the rule
that compares them.

The rule: an engine derivative a passes against the true derivative t when
    |a - t| <= ATOL + RTOL * (|t| + size) + |t - m| + resolution,
where size is the chain rule's sum of |terms| and m the derivative taken exactly along the engine's
float forward values (autodiff/high_precision.py): rounding in the chain rule is relative to size,
and |t - m| is the part that the rounded forward values alone account for. resolution is what the
reference itself cannot resolve (50-digit differences see nothing below ~1e-30 of the output's size).
"""

from __future__ import annotations

import random

import mpmath
import sympy

from autodiff import Value
from autodiff.high_precision import Recording
from autodiff.sympy_math import diff_off_kinks, to_sympy
from autodiff.testing import OPS, _evaluate

RTOL = 1e-12
ATOL = 1e-290  # below this, floats have fewer digits than 1e-12 asks for
DIGITS = 30  # SymPy's derivatives are evaluated at 30 digits, and more where that does not settle them
SCALES = [0.3, 0.7, 1.6, 2.9, 13.7, 123.4, 4567.8, 98765.4, 654321.9]  # every decade to 1e6
LIMIT = 1e7


def within(a, t, m, size, resolution=0) -> bool:
    """The comparison rule of this module (t the true derivative, m the float path's, size the sum of |terms|)."""
    return abs(a - t) <= ATOL + RTOL * (abs(t) + size) + abs(t - m) + resolution


def op_points(name: str, count: int = 10) -> list[tuple[float, ...]]:
    """`count` points where the op `name` of autodiff.testing.OPS is well-posed, spread over every scale
    up to 1e6 and both signs, chosen by a generator seeded with the name (the same points every run)."""
    arity = OPS[name][0]
    numbers = SCALES + [-x for x in SCALES]
    generator = random.Random(name)
    points: list[tuple[float, ...]] = []
    for _ in range(4000):
        point = tuple(generator.choice(numbers) for _ in range(arity))
        if point not in points and _evaluate(name, list(point), LIMIT) is not None:
            points.append(point)
            if len(points) == count:
                break
    return points


def engine_derivatives(fn, point) -> tuple[float, list[float], list[list[float]]]:
    """The engine's value, gradient (backward with create_graph=True) and Hessian (a backward pass
    through each gradient)."""
    leaves = [Value(x) for x in point]
    out = fn(*leaves)
    out.backward(create_graph=True)
    gradient = [leaf.grad for leaf in leaves]  # a Value, or 0.0 for an input the output does not use
    rows = []
    for g in gradient:
        for leaf in leaves:
            leaf.grad = 0.0
        if isinstance(g, Value):
            g.backward()
        rows.append([leaf.grad for leaf in leaves])
    return out.data, [g.data if isinstance(g, Value) else g for g in gradient], rows


def recording(fn, point) -> Recording:
    leaves = [Value(x) for x in point]
    return Recording(fn(*leaves), leaves)


def sympy_derivatives(fn, point, second: bool = True):
    """The gradient and Hessian of fn's graph at point, by sympy.diff of `to_sympy`, and its value, each
    evaluated until it is settled (`settled`)."""
    leaves = [Value(x) for x in point]
    expression = to_sympy(fn(*leaves), leaves)
    # Each Float as the exact fraction it holds: SymPy rounds arithmetic between Floats to their 53 bits
    # (d/dx (x + 0.1 * 2x) would be a rounded 1.2), and a reference must not round.
    expression = expression.xreplace({f: sympy.Rational(f) for f in expression.atoms(sympy.Float)})
    symbols = [sympy.Symbol(f"x{i}", real=True) for i in range(len(leaves))]
    firsts = [diff_off_kinks(expression, s) for s in symbols]
    seconds = [[diff_off_kinks(d, s) for s in symbols] for d in firsts] if second else []
    n = len(symbols)
    flat = settled([*firsts, *(h for row in seconds for h in row), expression], dict(zip(symbols, point)))
    return flat[:n], [flat[n + i * n : n + (i + 1) * n] for i in range(len(seconds))], flat[-1]


def settled(expressions: list, values: dict) -> list:
    """The expressions at the point: at DIGITS digits, then at twice as many, and so on until two
    precisions agree to DIGITS - 5 digits.

    One precision is not enough. At 30 digits log(1 + e^-90), softplus at -90, is 0, not 8.19e-40; and
    the second derivative e^x/(1 + e^x) - e^2x/(1 + e^x)^2 loses 31 digits to cancellation at x = 70.
    So a 0 computed at two precisions proves nothing (at 60 digits softplus(-180) is still 0): such a
    value goes on to 960 digits, where anything that a float can tell from 0 (above 1e-308) is resolved."""
    computed = [not e.is_Number for e in expressions]  # a number is exact at every precision
    digits = DIGITS
    last = [SympyAt(values, digits)(e) for e in expressions]
    while digits < 960:
        digits *= 2
        now = [SympyAt(values, digits)(e) for e in expressions]
        if all(_agree(a, b, DIGITS - 5) for a, b, c in zip(last, now, computed) if c):
            return now
        last = now
    return last


def _agree(a, b, digits: int) -> bool:
    return a != 0 and b != 0 and abs(a - b) <= max(abs(a), abs(b)) * mpmath.mpf(10) ** -digits


def _functions(c: mpmath.MPContext) -> dict:
    """SymPy's functions as the mpmath context `c` computes them."""
    return {
        sympy.exp: c.exp, sympy.log: c.log, sympy.sin: c.sin, sympy.cos: c.cos, sympy.tan: c.tan,
        sympy.asin: c.asin, sympy.acos: c.acos, sympy.atan: c.atan, sympy.atan2: c.atan2, sympy.sinh: c.sinh,
        sympy.cosh: c.cosh, sympy.tanh: c.tanh, sympy.Abs: c.fabs, sympy.sign: c.sign, sympy.floor: c.floor,
        sympy.ceiling: c.ceil,
        sympy.Heaviside: lambda x, *at_zero: c.mpf(1) if x > 0 else c.mpf(0) if x < 0 else c.mpf(0.5),
        sympy.Max: lambda *xs: max(xs), sympy.Min: lambda *xs: min(xs),
        sympy.Mod: lambda a, b: a - b * c.floor(a / b),
    }  # fmt: skip


class SympyAt:
    """Evaluates SymPy expressions at a point with mpmath numbers of `digits` digits, each distinct
    subexpression once (SymPy's evalf walks a tree, and these expressions share most of theirs)."""

    def __init__(self, values: dict, digits: int = DIGITS) -> None:
        self.context = mpmath.MPContext()
        self.context.dps = digits
        self.functions = _functions(self.context)
        self.cache = {symbol: self.context.mpf(x) for symbol, x in values.items()}

    def __call__(self, expression):
        if expression in self.cache:
            return self.cache[expression]
        value = self._evaluate(expression)
        if not isinstance(value, self.context.mpf):
            raise ValueError(f"{expression} is not real at the point: {value}")
        self.cache[expression] = value
        return value

    def _evaluate(self, e):
        if e.is_Rational:
            return self.context.mpf(e.p) / e.q
        if e.is_Float:
            return self.context.mpf(e._mpf_)
        if e is sympy.pi:
            return +self.context.pi
        if e is sympy.E:
            return +self.context.e
        args = [self(a) for a in e.args]
        if e.is_Add:
            return self.context.fsum(args)
        if e.is_Mul:
            return self.context.fprod(args)
        if e.is_Pow:
            base, exponent = args
            return self.context.power(base, int(exponent) if e.exp.is_Integer else exponent)
        function = self.functions.get(e.func) or getattr(self.context, e.func.__name__, None)  # erf: mpmath's own name
        if function is None:
            raise ValueError(f"no mpmath evaluation of SymPy's {e.func.__name__}")
        return function(*args)
