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

__all__ = ["Op", "OpDefinitionError", "OPS", "OPERATORS", "NAMED", "is_builtin"]

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

    An op holds its rules as given: a rule that reads a variable reads it when it
    runs, so the forward value and the gradient always come from the same rules.
    Change a rule's variables between uses and the op computes something else; to
    keep a parameter fixed, bind it when you make the op (`lambda m, x, s=s: x * s`).

    Args:
        name: the op's name in graphs, reprs and error messages.
        forward: forward(m, *inputs) -> out, computed with the math namespace `m`
            (`m.exp`, `m.log`, ...; see `autodiff.namespace`) and + - * / **.
        partials: partials(m, out, *inputs) -> a tuple with d out / d input_i for
            each input (`out` is forward's result, to reuse). Written with `m`'s
            functions and operators only, it also gives gradients of gradients
            (`backward(create_graph=True)`) and compiled code.
        doc: one line on what the op computes (the docstring of its Value method
            and `autodiff` function, for a built-in).
        domain: the inputs its forward accepts, as an error message says it ("> 0"
            for log); empty when every finite input is.
    """

    __slots__ = ("name", "forward", "partials", "arity", "doc", "domain", "_apply", "_backward", "_tangent",
                 "_generated", "__weakref__")  # fmt: skip

    # Set by the modules that build on the table (an op is plain data; they register themselves):
    # `applier(op, operands)` applies an op (autodiff/value.py), and `accelerator(op, role)`
    # returns the fast code of one role, "apply", "backward" or "tangent" (autodiff/specialize.py).
    applier: Callable[[Op, tuple], Any]
    accelerator: Callable[[Op, str], Callable[..., Any]]

    def __init__(
        self, name: str, forward: Callable[..., Any], partials: Callable[..., Any], *, doc: str = "", domain: str = ""
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"Op: name must be a str, got {type(name).__name__} ({name!r})")
        if not name.strip():
            raise ValueError(f"Op: name must not be empty, got {name!r}")
        if not name.isprintable():  # a NUL or a newline would break generated code, graphs and messages
            raise ValueError(f"Op: name must be printable text, got {name!r}")
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
        self.doc = doc
        self.domain = domain
        # The fast code of each role, made from the rules on first use; `_generated` holds more of it, by purpose.
        self._apply = _FirstUse(self, "apply")
        self._backward = _FirstUse(self, "backward")
        self._tangent = _FirstUse(self, "tangent")
        self._generated: dict = {}

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *operands: Any) -> Any:
        """Apply the op: a Value if any operand is a Value, else a float."""
        return Op.applier(self, operands)

    def __reduce__(self) -> tuple:
        # Built-in ops unpickle as themselves (the compiler and `is` checks rely on their identity).
        for key, op in OPS.items():
            if op is self:
                return (_builtin, (key,))
        return (_user_op, (self.name, self.forward, self.partials, self.doc, self.domain))


class _FirstUse:
    """An op's code for one role before it exists: the first call has it made, stored on the op, and run."""

    __slots__ = ("op", "role")

    def __init__(self, op: Op, role: str) -> None:
        self.op, self.role = op, role

    def __call__(self, *args: Any) -> Any:
        code = Op.accelerator(self.op, self.role)
        setattr(self.op, f"_{self.role}", code)
        return code(*args)


def _arity(rule: Callable[..., Any], leading: int) -> int | None:
    """How many inputs a rule takes after its `leading` arguments; None for *inputs or when unknown."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & _CO_VARARGS:
        return None
    return max(code.co_argcount - leading, 0)


def _builtin(key: str) -> Op:
    return OPS[key]


def _user_op(name: str, forward: Callable[..., Any], partials: Callable[..., Any], doc: str, domain: str) -> Op:
    return Op(name, forward, partials, doc=doc, domain=domain)


# fmt: off
# --- arithmetic: Python's operators ------------------------------------------------------
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
ABS = Op("abs", lambda m, x: abs(x),
                lambda m, out, x: (m.sign(x),))

# x ** c for a constant c: d/dx = c x^(c-1) (the power rule), and the exponent gets no gradient.
POW_CONST = Op("**", lambda m, x, c: m.pow(x, c),
                     lambda m, out, x, c: (m.power_rule(x, c), 0.0))
# a ** b for a Value exponent: d/db a^b = a^b ln(a) = out ln(a), so a must be > 0.
# At a = 0 (b > 0) the second partial is 0, as in PyTorch and autograd: 0^b is 0 for every b > 0.
POW = Op("**", lambda m, a, b: m.pow_variable_exponent(a, b),
               lambda m, out, a, b: (b * a ** (b - 1.0), out * m.log_or_zero(a)))
# a % b = a - b floor(a/b), with the sign of b (Python's % and torch.remainder):
# d/da = 1, d/db = -floor(a/b), the quotient Python's // gives.
REMAINDER = Op("%", lambda m, a, b: m.remainder(a, b),
                    lambda m, out, a, b: (1.0, -m.floor_divide(a, b)))

# --- functions: each is x.<name>(), autodiff.<name>(x) and <name>(x) in an expression --------
# A function named as one of Python's `math` module (exp, log, ...) is that function on floats, numpy's
# on arrays (autodiff/namespace.py); its `domain` is what the float error says when an input is outside it.
EXP = Op("exp", lambda m, x: m.exp(x),
                lambda m, out, x: (out,), doc="e**x.")
LOG = Op("log", lambda m, x: m.log(x),
                lambda m, out, x: (1.0 / x,), doc="The natural logarithm; x must be > 0.", domain="> 0")
SQRT = Op("sqrt", lambda m, x: m.sqrt(x),
                  lambda m, out, x: (0.5 / out,),                    # infinite at 0: an error
          doc="The square root; x must be >= 0 (its derivative is infinite at 0).", domain=">= 0")
SIN = Op("sin", lambda m, x: m.sin(x),
                lambda m, out, x: (m.cos(x),), doc="The sine, x in radians.")
COS = Op("cos", lambda m, x: m.cos(x),
                lambda m, out, x: (-m.sin(x),), doc="The cosine, x in radians.")
TANH = Op("tanh", lambda m, x: m.tanh(x),
                  lambda m, out, x: (1.0 - out * out,), doc="The hyperbolic tangent.")
# sigmoid' = s(x)(1 - s(x)) = s(x) s(-x): 1 - s(x) would cancel to 0 where s(x) rounds to 1 (x > 37), s(-x) does not.
SIGMOID = Op("sigmoid", lambda m, x: m.sigmoid(x),
                        lambda m, out, x: (out * m.sigmoid(-x),),
             doc="1 / (1 + e**-x), without overflow for large |x|.")
# softplus(x) = log(1 + e^x), whose derivative is the sigmoid; evaluated without overflow.
SOFTPLUS = Op("softplus", lambda m, x: m.softplus(x),
                          lambda m, out, x: (m.sigmoid(x),),
              doc="log(1 + e**x), a smooth relu, without overflow; its derivative is the sigmoid.")
TAN = Op("tan", lambda m, x: m.tan(x),
                lambda m, out, x: (1.0 + out * out,), doc="The tangent, x in radians.")  # sec^2 x = 1 + tan^2 x
ASIN = Op("asin", lambda m, x: m.asin(x),
                  lambda m, out, x: (1.0 / m.sqrt(1.0 - x * x),),   # infinite at +-1: an error
          doc="The arcsine; x must be in [-1, 1] (its derivative is infinite at +-1).", domain="in [-1, 1]")
ACOS = Op("acos", lambda m, x: m.acos(x),
                  lambda m, out, x: (-1.0 / m.sqrt(1.0 - x * x),),  # infinite at +-1: an error
          doc="The arccosine; x must be in [-1, 1] (its derivative is infinite at +-1).", domain="in [-1, 1]")
ATAN = Op("atan", lambda m, x: m.atan(x),
                  lambda m, out, x: (1.0 / (1.0 + x * x),), doc="The arctangent.")
# atan2(y, x), the angle of (x, y): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2); undefined at the origin.
ATAN2 = Op("atan2", lambda m, y, x: m.atan2(y, x),
                    lambda m, out, y, x: _atan2_partials(m, y, x),
           doc="The angle of the point (x, y), in [-pi, pi] (math.atan2's); its derivative is undefined at the origin.")


def _atan2_partials(m: Any, y: Any, x: Any) -> tuple:
    # x / r^2 as (x / r) / r with r = hypot(x, y): x^2 + y^2 underflows to 0 at 1e-200 and overflows at 1e200.
    r = m.hypot(x, y)
    return (x / r / r, -y / r / r)


SINH = Op("sinh", lambda m, x: m.sinh(x),
                  lambda m, out, x: (m.cosh(x),), doc="The hyperbolic sine.")
COSH = Op("cosh", lambda m, x: m.cosh(x),
                  lambda m, out, x: (m.sinh(x),), doc="The hyperbolic cosine.")
LOG1P = Op("log1p", lambda m, x: m.log1p(x),
                    lambda m, out, x: (1.0 / (1.0 + x),),
           doc="log(1 + x), accurate for small x; x must be > -1.", domain="> -1")
EXPM1 = Op("expm1", lambda m, x: m.expm1(x),
                    lambda m, out, x: (out + 1.0,), doc="e**x - 1, accurate for small x.")  # e^x = expm1(x) + 1
LOG2 = Op("log2", lambda m, x: m.log2(x),
                  lambda m, out, x: (1.0 / (x * _LN2),), doc="The base-2 logarithm; x must be > 0.", domain="> 0")
LOG10 = Op("log10", lambda m, x: m.log10(x),
                    lambda m, out, x: (1.0 / (x * _LN10),), doc="The base-10 logarithm; x must be > 0.", domain="> 0")

# Piecewise-constant: derivative 0 everywhere, at the jumps too (as PyTorch).
FLOOR = Op("floor", lambda m, x: m.floor(x),
                    lambda m, out, x: (0.0,), doc="The largest integer <= x, as a float; derivative 0.")
CEIL = Op("ceil", lambda m, x: m.ceil(x),
                  lambda m, out, x: (0.0,), doc="The smallest integer >= x, as a float; derivative 0.")

# Piecewise-linear. step(a, b, tie) is 1 where a > b, 0 where a < b, tie at a == b.
RELU = Op("relu", lambda m, x: m.max(x, 0.0),
                  lambda m, out, x: (m.step(x, 0.0, 0.0),), doc="max(x, 0), with relu'(0) = 0.")
# leaky_relu(x) = max(x, 0) + slope * min(x, 0), for a constant slope.
# d/dx = [x > 0] + slope [x <= 0]; the slope gets no gradient.
LEAKY_RELU = Op("leaky_relu", lambda m, x, slope: m.max(x, 0.0) + slope * m.min(x, 0.0),
                              lambda m, out, x, slope: (m.step(x, 0.0, 0.0) + m.constant(slope) * m.step(0.0, x, 1.0),
                                                        0.0),
                doc="x for x > 0, slope * x otherwise; the derivative at 0 is the slope.")
MAX = Op("max", lambda m, a, b: m.max(a, b),
                lambda m, out, a, b: (m.step(a, b, 0.5), m.step(b, a, 0.5)),
         doc="The larger input gets the whole gradient; tied inputs get half each.")
MIN = Op("min", lambda m, a, b: m.min(a, b),
                lambda m, out, a, b: (m.step(b, a, 0.5), m.step(a, b, 0.5)),
         doc="The smaller input gets the whole gradient; tied inputs get half each.")
# clamp(x, lo, hi) = min(max(x, lo), hi). Its gradient is PyTorch 2.13's torch.clamp rule (which 2.14 changed
# at ties: there x == lo gives (0.5, 0.5, 0)): x gets it where lo <= x <= hi, bounds included, lo where
# x < lo < hi, hi where x > hi or hi < lo (then the result is hi). We keep it: one input takes the whole gradient
# at a tie, as a clamp that is "off" at its bound passes x through.
CLAMP = Op("clamp", lambda m, x, lo, hi: m.min(m.max(x, lo), hi),
                    lambda m, out, x, lo, hi: (m.step(x, lo, 1.0) * m.step(hi, x, 1.0),
                                               m.step(lo, x, 0.0) * m.step(hi, lo, 0.0),
                                               m.max(m.step(x, hi, 0.0), m.step(lo, hi, 0.0))),
           doc="min(max(x, lo), hi); x gets the gradient where lo <= x <= hi, bounds included.")

# n-ary: one node for a whole sum, or a neuron's weighted sum w . x.
SUM = Op("sum", lambda m, *xs: m.sum(xs),
                lambda m, out, *xs: (1.0,) * len(xs), doc="x_1 + ... + x_n as one node.")
# logsumexp(x) = log(sum_i e^(x_i)); d/dx_i = e^(x_i - out), the softmax, computed from the
# differences x_i - max x (out itself is rounded: at x = (1e16, 1e16), e^(x_i - out) would be 1, not 0.5).
LOGSUMEXP = Op("logsumexp", lambda m, *xs: m.logsumexp(xs),
                            lambda m, out, *xs: m.softmax(xs),
               doc="log(e**x_1 + ... + e**x_n) as one node, without overflow; its gradient is the softmax.")
# dot's inputs are w_1..w_n then x_1..x_n; d(w . x)/dw_i = x_i and d(w . x)/dx_i = w_i.
DOT = Op("dot", lambda m, *wx: m.dot(wx[: len(wx) // 2], wx[len(wx) // 2 :]),
                lambda m, out, *wx: wx[len(wx) // 2 :] + wx[: len(wx) // 2],
         doc="w_1 * x_1 + ... + w_n * x_n as one node, whose parents are w_1..w_n, x_1..x_n.")
# fmt: on

OPS: dict[str, Op] = {key.lower(): op for key, op in globals().items() if isinstance(op, Op)}
"""Every primitive by a unique key, its name above in lower case ("add", "pow_const", "expm1")."""

OPERATORS: tuple[Op, ...] = (ADD, SUB, MUL, DIV, NEG, ABS, POW_CONST, POW, REMAINDER)
"""The ops Python writes as operators (a + b, -x, abs(x), a ** b, a % b)."""

NAMED: tuple[Op, ...] = tuple(op for op in OPS.values() if op not in OPERATORS)
"""The ops called by name: x.<name>(...) for those of one or two inputs, autodiff.<name>(...), and <name>(...)
in an expression typed for `autodiff graph`."""


def is_builtin(op: Op) -> bool:
    """True for the engine's own ops (their errors name them already), False for a user's."""
    return any(op is builtin for builtin in OPS.values())
