"""Shared by the second-derivative tests: every primitive as a function of Values, at the points to check it.

Each case is (function of Values, smooth points, special points). At a smooth point the function is
twice differentiable, so central differences of its gradient give its Hessian. The special points are
the edges: exponents 0, +-1 and 2, bases in (-1, 0], ties of max and min, kinks, jumps, bounds. There
the engine follows PyTorch's conventions (autodiff/ops.py), which `test_against_torch.py` compares.

A case's function is the op itself, applied to inputs that make its second derivatives non-trivial
where the op is linear or piecewise constant (floor(x) * x, say): the tests also run each one
inside sin(), so that the gradient reaching the op is a Value (a graph) and not the float seed.
"""

from __future__ import annotations

import autodiff

# name: (function, smooth points, special points); a point is a tuple with one number per input.
CASES = {
    "add": (lambda a, b: a + b, [(0.3, -1.2)], [(0.0, 0.0)]),
    "add a number": (lambda a: 2.5 + a, [(0.7,)], []),
    "sub": (lambda a, b: a - b, [(0.3, -1.2)], [(0.5, 0.5)]),
    "rsub": (lambda a: 2.0 - a, [(0.7,)], []),
    "mul": (lambda a, b: a * b, [(0.3, -1.2), (2.0, 0.5)], [(0.0, 0.0)]),
    "square by mul": (lambda a: a * a, [(-0.8,)], [(0.0,)]),
    "div": (lambda a, b: a / b, [(0.3, -1.2), (-2.0, 0.7)], []),
    "rdiv": (lambda a: 3.0 / a, [(0.6,), (-1.7,)], []),
    "neg": (lambda a: -a * a.exp(), [(0.4,)], []),
    "power 0": (lambda a: a**0, [(1.3,), (-0.6,)], [(0.0,)]),
    "power 1": (lambda a: a**1, [(1.3,), (-0.6,)], [(0.0,)]),
    "power -1": (lambda a: a**-1, [(1.3,), (-0.6,)], []),
    "power 2": (lambda a: a**2, [(1.3,), (-0.6,)], [(0.0,)]),
    "power 3": (lambda a: a**3, [(1.3,), (-0.6,)], [(0.0,)]),
    "power -2": (lambda a: a**-2, [(1.3,), (-0.6,)], []),
    "power 0.5": (lambda a: a**0.5, [(1.3,), (0.2,)], []),
    "power 2.5": (lambda a: a**2.5, [(1.3,)], [(0.0,)]),
    "value power": (lambda a, b: a**b, [(1.4, 2.5), (0.6, -1.3), (2.0, 0.0)], [(0.0, 2.0), (0.0, 3.5)]),
    "number power": (lambda b: 3.0**b, [(0.7,), (-1.1,)], []),
    "zero power": (lambda b: 0.0**b * b, [(1.5,), (2.0,)], []),
    "exp": (lambda a: a.exp(), [(0.3,), (-2.0,)], []),
    "log": (lambda a: a.log(), [(1.7,), (0.3,)], []),
    "sqrt": (lambda a: a.sqrt(), [(2.2,), (0.3,)], []),
    "sin": (lambda a: a.sin(), [(0.3,), (-2.0,)], [(0.0,)]),
    "cos": (lambda a: a.cos(), [(0.3,), (-2.0,)], [(0.0,)]),
    "tanh": (lambda a: a.tanh(), [(0.4,), (-1.5,)], [(0.0,)]),
    "sigmoid": (lambda a: a.sigmoid(), [(0.4,), (-1.5,)], [(0.0,)]),
    "softplus": (lambda a: a.softplus(), [(0.4,), (-1.5,)], [(0.0,)]),
    "tan": (lambda a: a.tan(), [(0.4,), (-1.2,)], [(0.0,)]),
    "asin": (lambda a: a.asin(), [(0.3,), (-0.8,)], [(0.0,)]),
    "acos": (lambda a: a.acos(), [(0.3,), (-0.8,)], [(0.0,)]),
    "atan": (lambda a: a.atan(), [(1.2,), (-0.4,)], [(0.0,)]),
    "atan2": (lambda y, x: y.atan2(x), [(0.8, 1.3), (-0.6, -2.0), (1.5, -0.5)], [(0.0, 1.0), (1.0, 0.0)]),
    "sinh": (lambda a: a.sinh(), [(0.7,), (-1.6,)], [(0.0,)]),
    "cosh": (lambda a: a.cosh(), [(0.7,), (-1.6,)], [(0.0,)]),
    "log1p": (lambda a: a.log1p(), [(0.5,), (-0.7,)], [(0.0,)]),
    "expm1": (lambda a: a.expm1(), [(0.5,), (-0.7,)], [(0.0,)]),
    "log2": (lambda a: a.log2(), [(1.7,), (0.3,)], [(1.0,)]),
    "log10": (lambda a: a.log10(), [(2.5,), (0.3,)], [(1.0,)]),
    "floor": (lambda a: a.floor() * a * a, [(1.3,), (-0.4,)], [(1.0,), (-2.0,)]),
    "ceil": (lambda a: a.ceil() * a * a, [(1.3,), (-0.4,)], [(1.0,), (-2.0,)]),
    "remainder": (lambda a, b: a % b, [(2.3, 0.7), (-1.1, 0.9), (1.3, -0.5)], [(1.4, 0.7), (0.0, 0.5)]),
    "rmod": (lambda b: 2.0 % b * b, [(0.9,), (-0.7,)], [(0.5,)]),
    "relu": (lambda a: a.relu() * a, [(0.9,), (-0.9,)], [(0.0,)]),
    "leaky_relu": (lambda a: a.leaky_relu(0.3) * a, [(0.9,), (-0.9,)], [(0.0,)]),
    "leaky_relu slope 2": (lambda a: a.leaky_relu(2.0) * a, [(0.9,), (-0.9,)], [(0.0,)]),
    "leaky_relu slope 1": (lambda a: a.leaky_relu(1.0) * a, [(0.9,), (-0.9,)], [(0.0,)]),
    "abs": (lambda a: abs(a) * a, [(0.8,), (-2.0,), (-0.5,)], [(0.0,)]),
    "max": (lambda a, b: a.max(b) * a, [(0.3, -1.2), (-1.2, 0.3)], [(0.5, 0.5), (0.0, 0.0)]),
    "min": (lambda a, b: a.min(b) * a, [(0.3, -1.2), (-1.2, 0.3)], [(0.5, 0.5), (0.0, 0.0)]),
    "max of x and x squared": (lambda a: a.max(a * a), [(0.5,), (1.5,)], [(1.0,), (0.0,)]),
    "min of x and x squared": (lambda a: a.min(a * a), [(0.5,), (1.5,)], [(1.0,), (0.0,)]),
    "clamp": (
        lambda x, lo, hi: x.clamp(lo, hi) * x,
        [(0.3, -1.0, 1.0), (-1.5, -1.0, 1.0), (1.5, -1.0, 1.0), (0.5, 1.0, -1.0)],
        [(-1.0, -1.0, 1.0), (1.0, -1.0, 1.0), (0.5, 0.5, 0.5), (0.5, 1.0, 1.0)],
    ),
    "clamp to numbers": (lambda x: x.clamp(0.0, 1.0) * x, [(0.6,), (-0.5,), (1.5,)], [(0.0,), (1.0,)]),
    "clamp between values": (lambda x: (x * x).clamp(x, 2.0 * x) * x, [(1.7,), (0.8,), (3.0,)], [(1.0,), (2.0,)]),
    "sum": (lambda a, b, c: autodiff.sum([a * b, b, c * c, 1.5]), [(0.3, -1.2, 0.8)], []),
    "logsumexp": (
        lambda a, b, c: autodiff.logsumexp([a, b * a, c]),
        [(0.3, -1.2, 0.8), (2.0, 1.0, -3.0)],
        [(0.5, 1.0, 0.5)],
    ),
    "dot": (lambda w1, w2, x1, x2: autodiff.dot([w1, w2 * x1], [x1 * x2, x2]), [(0.3, -1.2, 0.8, 1.1)], []),
    "sigmoid of a product": (lambda a, b: (a * b).sigmoid() * a, [(0.3, -1.2)], []),
}
"""Every primitive of autodiff/ops.py, some several ways (a Value or a number as each operand)."""
