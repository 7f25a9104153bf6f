"""The table of ops: each op's forward value beside its local derivatives.

Every op is two small rules, written once:

    forward(m, *inputs)          -> out
    partials(m, out, *inputs)    -> (d out / d input_1, d out / d input_2, ...)

`m` is a math namespace (the contract: `autodiff/namespace.py`): floats for the
eager engine, Values for differentiable gradients, numpy arrays and generated
source in `autodiff.compile`. The backward pass multiplies each partial by the
gradient arriving at `out` and adds it to the input's gradient (the chain rule,
summed over every path). `partials` receives the forward result `out`, so exp,
tanh, sigmoid and sqrt reuse it instead of recomputing.

Subgradients at kinks follow PyTorch: relu'(0) = 0 (as in the lecture notes),
abs'(0) = 0, leaky_relu'(0) = slope, max/min split the gradient evenly
between tied inputs, clamp gives x the whole gradient at either bound, and floor,
ceil and a % b (in a) have derivative 0 (1) at their jumps too.

The same partials give forward mode (`autodiff.jvp`): an output's tangent is the
sum of partial_i x tangent_i over the inputs.

`Op` is public: a user's op is made the same way and works everywhere a built-in does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["Op", "OpDefinitionError", "OPS", "is_builtin"]

_CO_VARARGS = 0x04  # inspect.CO_VARARGS, without importing inspect
_LN2, _LN10 = math.log(2.0), math.log(10.0)  # d/dx log_b(x) = 1 / (x ln b)


class OpDefinitionError(TypeError):
    """An op's rules do not fit together: partials return the wrong number of terms, say."""


class Op:
    """One primitive: its name in graphs, its forward rule and its local-derivative rule.

    Example, softsign(x) = x / (1 + |x|), whose derivative is 1 / (1 + |x|)**2:

        >>> from autodiff import Op, Value
        >>> softsign = Op("softsign", lambda m, x: x / (1.0 + abs(x)),
        ...                           lambda m, out, x: (1.0 / (1.0 + abs(x)) ** 2,))
        >>> y = softsign(Value(3.0))
        >>> y.backward()
        >>> y.data, y.parents[0].grad
        (0.75, 0.0625)

    Calling an op applies it: with any Value among the operands the result is a
    Value (plain numbers become constants), with numbers only it is a float.

    Args:
        name: the op's name in graphs, reprs and error messages.
        forward: forward(m, *inputs) -> out, computed with the math namespace `m`
            (`m.exp`, `m.log`, ...; see `autodiff.namespace`) and + - * / **.
        partials: partials(m, out, *inputs) -> a tuple with d out / d input_i for
            each input (`out` is forward's result, to reuse). Written with `m`'s
            functions and operators only, it also gives gradients of gradients
            (`backward(create_graph=True)`) and compiled code.
    """

    __slots__ = ("name", "forward", "partials", "arity", "_apply", "_backward", "_tangent", "_generated")

    def __init__(self, name: str, forward: Callable[..., Any], partials: Callable[..., Any]) -> None:
        if not isinstance(name, str):
            raise TypeError(f"Op: name must be a str, got {type(name).__name__} ({name!r})")
        if not name.strip():
            raise ValueError(f"Op: name must not be empty, got {name!r}")
        for role, rule in (("forward", forward), ("partials", partials)):
            if not callable(rule):
                raise TypeError(f"Op {name!r}: {role} must be callable, got {type(rule).__name__} ({rule!r})")
        forward_arity, partials_arity = _arity(forward, 1), _arity(partials, 2)
        if forward_arity is not None and partials_arity is not None and forward_arity != partials_arity:
            raise ValueError(
                f"Op {name!r}: forward takes {forward_arity} inputs after m, but partials takes "
                f"{partials_arity} after m and out"
            )
        arity = forward_arity if forward_arity is not None else partials_arity
        if arity == 0:
            raise ValueError(f"Op {name!r}: an op needs at least one input")
        self.name = name
        self.forward = forward
        self.partials = partials
        self.arity = arity  # None: any number of inputs
        self._apply = self._first_apply  # replaced by the generated code on first use
        self._backward = self._first_backward
        self._tangent = self._first_tangent
        self._generated: dict = {}  # the code of slower paths, by what it is for (autodiff/specialize.py)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *operands: Any) -> Any:
        """Apply the op: a Value if any operand is a Value, else a float."""
        return _value.apply(self, operands)

    def __reduce__(self) -> tuple:
        # Built-in ops unpickle as themselves (the compiler and `is` checks rely on their identity).
        for key, op in OPS.items():
            if op is self:
                return (_builtin, (key,))
        return (Op, (self.name, self.forward, self.partials))

    # The fast code of each op is generated from its rules when it is first needed (autodiff/specialize.py).
    def _first_apply(self, *operands: Any) -> Any:
        from .specialize import make_apply

        self._apply = make_apply(self)
        return self._apply(*operands)

    def _first_backward(self, node: Any, grad: float) -> None:
        from .specialize import make_backward

        self._backward = make_backward(self)
        self._backward(node, grad)

    def _first_tangent(self, node: Any, tangents: list[float]) -> float:
        from .specialize import make_tangent

        self._tangent = make_tangent(self)
        return self._tangent(node, tangents)


def _arity(rule: Callable[..., Any], leading: int) -> int | None:
    """How many inputs a rule takes after its `leading` arguments; None for *inputs or when unknown."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & _CO_VARARGS:
        return None
    return max(code.co_argcount - leading, 0)


def _builtin(key: str) -> Op:
    return OPS[key]


# fmt: off
ADD = Op("+", lambda m, a, b: a + b,
              lambda m, out, a, b: (1.0, 1.0))
SUB = Op("-", lambda m, a, b: a - b,
              lambda m, out, a, b: (1.0, -1.0))
MUL = Op("*", lambda m, a, b: a * b,
              lambda m, out, a, b: (b, a))
DIV = Op("/", lambda m, a, b: m.div(a, b),
              lambda m, out, a, b: (1.0 / b, -out / b))              # d(a/b)/db = -a/b^2 = -out/b
NEG = Op("neg", lambda m, x: -x,
                lambda m, out, x: (-1.0,))

# x ** c for a constant c: d/dx = c x^(c-1) (the power rule), and the exponent gets no gradient.
POW_CONST = Op("**", lambda m, x, c: m.pow(x, c),
                     lambda m, out, x, c: (m.power_rule(x, c), 0.0))
# a ** b for a Value exponent: d/db a^b = a^b ln(a) = out ln(a), so a must be > 0.
# At a = 0 (b > 0) the second partial is 0, as in PyTorch and autograd: 0^b is 0 for every b > 0.
POW = Op("**", lambda m, a, b: m.pow_variable_exponent(a, b),
               lambda m, out, a, b: (b * a ** (b - 1.0), out * m.log_or_zero(a)))

EXP = Op("exp", lambda m, x: m.exp(x),
                lambda m, out, x: (out,))
LOG = Op("log", lambda m, x: m.log(x),
                lambda m, out, x: (1.0 / x,))
SQRT = Op("sqrt", lambda m, x: m.sqrt(x),
                  lambda m, out, x: (0.5 / out,))                    # infinite at 0: an error
SIN = Op("sin", lambda m, x: m.sin(x),
                lambda m, out, x: (m.cos(x),))
COS = Op("cos", lambda m, x: m.cos(x),
                lambda m, out, x: (-m.sin(x),))
TANH = Op("tanh", lambda m, x: m.tanh(x),
                  lambda m, out, x: (1.0 - out * out,))
SIGMOID = Op("sigmoid", lambda m, x: m.sigmoid(x),
                        lambda m, out, x: (out * (1.0 - out),))
# softplus(x) = log(1 + e^x), whose derivative is the sigmoid; evaluated without overflow.
SOFTPLUS = Op("softplus", lambda m, x: m.softplus(x),
                          lambda m, out, x: (m.sigmoid(x),))

TAN = Op("tan", lambda m, x: m.tan(x),
                lambda m, out, x: (1.0 + out * out,))               # sec^2 x = 1 + tan^2 x
ASIN = Op("asin", lambda m, x: m.asin(x),
                  lambda m, out, x: (1.0 / m.sqrt(1.0 - x * x),))   # infinite at +-1: an error
ACOS = Op("acos", lambda m, x: m.acos(x),
                  lambda m, out, x: (-1.0 / m.sqrt(1.0 - x * x),))  # infinite at +-1: an error
ATAN = Op("atan", lambda m, x: m.atan(x),
                  lambda m, out, x: (1.0 / (1.0 + x * x),))
# atan2(y, x), the angle of (x, y): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2); undefined at the origin.
ATAN2 = Op("atan2", lambda m, y, x: m.atan2(y, x),
                    lambda m, out, y, x: (x / (x * x + y * y), -y / (x * x + y * y)))
SINH = Op("sinh", lambda m, x: m.sinh(x),
                  lambda m, out, x: (m.cosh(x),))
COSH = Op("cosh", lambda m, x: m.cosh(x),
                  lambda m, out, x: (m.sinh(x),))
LOG1P = Op("log1p", lambda m, x: m.log1p(x),
                    lambda m, out, x: (1.0 / (1.0 + x),))
EXPM1 = Op("expm1", lambda m, x: m.expm1(x),
                    lambda m, out, x: (out + 1.0,))                 # e^x = expm1(x) + 1
LOG2 = Op("log2", lambda m, x: m.log2(x),
                  lambda m, out, x: (1.0 / (x * _LN2),))
LOG10 = Op("log10", lambda m, x: m.log10(x),
                    lambda m, out, x: (1.0 / (x * _LN10),))

# Piecewise-constant ops: derivative 0 everywhere, at the jumps too (as PyTorch).
FLOOR = Op("floor", lambda m, x: m.floor(x),
                    lambda m, out, x: (0.0,))
CEIL = Op("ceil", lambda m, x: m.ceil(x),
                  lambda m, out, x: (0.0,))
# a % b = a - b floor(a/b), with the sign of b (Python's % and torch.remainder):
# d/da = 1, d/db = -floor(a/b), the quotient Python's // gives.
REMAINDER = Op("%", lambda m, a, b: m.remainder(a, b),
                    lambda m, out, a, b: (1.0, -m.floor_divide(a, b)))

# Piecewise-linear ops. step(a, b, tie) is 1 where a > b, 0 where a < b, tie at a == b.
RELU = Op("relu", lambda m, x: m.max(x, 0.0),
                  lambda m, out, x: (m.step(x, 0.0, 0.0),))
# leaky_relu(x) = max(x, 0) + slope * min(x, 0), for a constant slope.
# d/dx = [x > 0] + slope [x <= 0]; the slope gets no gradient.
LEAKY_RELU = Op("leaky_relu", lambda m, x, slope: m.max(x, 0.0) + slope * m.min(x, 0.0),
                              lambda m, out, x, slope: (m.step(x, 0.0, 0.0) + m.constant(slope) * m.step(0.0, x, 1.0),
                                                        0.0))
ABS = Op("abs", lambda m, x: abs(x),
                lambda m, out, x: (m.sign(x),))
MAX = Op("max", lambda m, a, b: m.max(a, b),
                lambda m, out, a, b: (m.step(a, b, 0.5), m.step(b, a, 0.5)))
MIN = Op("min", lambda m, a, b: m.min(a, b),
                lambda m, out, a, b: (m.step(b, a, 0.5), m.step(a, b, 0.5)))

# clamp(x, lo, hi) = min(max(x, lo), hi), with torch.clamp's gradient: x gets it where lo <= x <= hi
# (bounds included), lo where x < lo < hi, hi where x > hi or hi < lo (then the result is hi).
CLAMP = Op("clamp", lambda m, x, lo, hi: m.min(m.max(x, lo), hi),
                    lambda m, out, x, lo, hi: (m.step(x, lo, 1.0) * m.step(hi, x, 1.0),
                                               m.step(lo, x, 0.0) * m.step(hi, lo, 0.0),
                                               m.max(m.step(x, hi, 0.0), m.step(lo, hi, 0.0))))

# n-ary ops: one node for a whole sum, or a neuron's weighted sum w . x.
SUM = Op("sum", lambda m, *xs: m.sum(xs),
                lambda m, out, *xs: (1.0,) * len(xs))
# logsumexp(x) = log(sum_i e^(x_i)); d/dx_i = e^(x_i - out), the softmax, computed from the
# differences x_i - max x (out itself is rounded: at x = (1e16, 1e16), e^(x_i - out) would be 1, not 0.5).
LOGSUMEXP = Op("logsumexp", lambda m, *xs: m.logsumexp(xs),
                            lambda m, out, *xs: m.softmax(xs))
# dot's inputs are w_1..w_n then x_1..x_n; d(w . x)/dw_i = x_i and d(w . x)/dx_i = w_i.
DOT = Op("dot", lambda m, *wx: m.dot(wx[: len(wx) // 2], wx[len(wx) // 2 :]),
                lambda m, out, *wx: wx[len(wx) // 2 :] + wx[: len(wx) // 2])

OPS: dict[str, Op] = {
    "add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "neg": NEG, "pow_const": POW_CONST, "pow": POW,
    "exp": EXP, "log": LOG, "sqrt": SQRT, "sin": SIN, "cos": COS, "tanh": TANH, "sigmoid": SIGMOID,
    "softplus": SOFTPLUS, "tan": TAN, "asin": ASIN, "acos": ACOS, "atan": ATAN, "atan2": ATAN2, "sinh": SINH,
    "cosh": COSH, "log1p": LOG1P, "expm1": EXPM1, "log2": LOG2, "log10": LOG10, "floor": FLOOR, "ceil": CEIL,
    "remainder": REMAINDER, "relu": RELU, "leaky_relu": LEAKY_RELU, "abs": ABS, "max": MAX, "min": MIN,
    "clamp": CLAMP, "sum": SUM, "logsumexp": LOGSUMEXP, "dot": DOT,
}
# fmt: on
"""Every primitive by a unique key (two ops share the display name "**")."""


def is_builtin(op: Op) -> bool:
    """True for the engine's own ops (their errors name them already), False for a user's."""
    return any(op is builtin for builtin in OPS.values())


from . import value as _value  # noqa: E402  (value.py imports this module: bound once both exist)
