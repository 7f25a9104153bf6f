"""The table of ops: each op's forward value beside its local derivatives.

Every op is two small rules, written once:

    forward(m, *inputs)          -> out
    partials(m, out, *inputs)    -> (d out / d input_1, d out / d input_2, ...)

`m` is a math namespace (`autodiff.numerics`): floats for the eager engine, Values
for differentiable gradients, numpy arrays and generated source in
`autodiff.compile`. The backward pass multiplies each partial by the gradient
arriving at `out` and adds it to the input's gradient (the chain rule, summed over
every path). `partials` receives the forward result `out`, so exp, tanh, sigmoid
and sqrt reuse it instead of recomputing.

Subgradients at kinks follow PyTorch: relu'(0) = 0 (as in the lecture notes),
abs'(0) = 0, leaky_relu'(0) = slope, and max/min split the gradient evenly
between tied inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Op", "OPS", "LEAF", "CONSTANT"]


class Op:
    """One primitive: its name in graphs and its forward and derivative rules."""

    __slots__ = ("name", "forward", "partials")

    def __init__(self, name: str, forward: Callable[..., Any] | None, partials: Callable[..., tuple] | None):
        self.name = name
        self.forward = forward
        self.partials = partials

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


# Leaves have no rules. A constant is a leaf made from a plain number inside an op
# (the 2 in `x * 2`); it is shown in graphs like any leaf, and marked so that rules
# can treat it as fixed.
LEAF = Op("", None, None)
CONSTANT = Op("", None, None)

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
POW = Op("**", lambda m, a, b: m.pow_variable_exponent(a, b),
               lambda m, out, a, b: (b * a ** (b - 1.0), out * m.log(a)))

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

# n-ary ops: one node for a whole sum, or a neuron's weighted sum w . x.
SUM = Op("sum", lambda m, *xs: m.sum(xs),
                lambda m, out, *xs: (1.0,) * len(xs))
# logsumexp(x) = log(sum_i e^(x_i)); d/dx_i = e^(x_i - out), the softmax.
LOGSUMEXP = Op("logsumexp", lambda m, *xs: m.logsumexp(xs),
                            lambda m, out, *xs: tuple(m.exp(x - out) for x in xs))
# dot's inputs are w_1..w_n then x_1..x_n; d(w . x)/dw_i = x_i and d(w . x)/dx_i = w_i.
DOT = Op("dot", lambda m, *wx: m.dot(wx[: len(wx) // 2], wx[len(wx) // 2 :]),
                lambda m, out, *wx: wx[len(wx) // 2 :] + wx[: len(wx) // 2])

OPS: dict[str, Op] = {
    "add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "neg": NEG, "pow_const": POW_CONST, "pow": POW,
    "exp": EXP, "log": LOG, "sqrt": SQRT, "sin": SIN, "cos": COS, "tanh": TANH, "sigmoid": SIGMOID,
    "softplus": SOFTPLUS, "relu": RELU, "leaky_relu": LEAKY_RELU, "abs": ABS, "max": MAX, "min": MIN,
    "sum": SUM, "logsumexp": LOGSUMEXP, "dot": DOT,
}
# fmt: on
"""Every primitive by a unique key (two ops share the display name "**")."""
