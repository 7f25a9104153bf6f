"""A graph as a SymPy expression of its leaves: `to_sympy`, through the math namespace on SymPy objects.

`SympyMath` evaluates the op table's rules on SymPy expressions: the elementary functions are
SymPy's of the same name (`ceil` is `ceiling`), and only the helpers are written here, as the
formulas they stand for (sigmoid as 1 / (1 + e**-x), logsumexp as log(sum(exp)), max as `Max`,
remainder as `Mod`, step as a `Piecewise`). `to_sympy` runs each node's forward rule on it, so
the expression is the graph the engine recorded, written as a formula:

    >>> from autodiff import Value, to_sympy
    >>> x, y = Value(2.0, "x"), Value(5.0, "y")
    >>> to_sympy(x.log() + x * y - y.sin())
    x*y + log(x) - sin(y)

A gradient built with `backward(create_graph=True)` is a graph too: `to_sympy(x.grad)` is the
derivative the engine computed, as a formula. Needs sympy: the `oracles` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .namespace import Namespace, add_elementary, elementary
from .value import Value

try:
    import sympy
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("autodiff.to_sympy needs sympy: pip install 'autodiff[oracles]'") from None

__all__ = ["SympyMath", "to_sympy", "exact", "diff_off_kinks"]

DYADIC_DENOMINATOR = 2**20  # a float that is k / 2**20 for an integer k is written as that fraction


def exact(x: Any) -> Any:
    """A number as SymPy holds it exactly: an Integer or a short dyadic Rational (0.5, 0.25) where the float
    is one, else a Float with the float's exact binary value (0.1 is 0.1000000000000000055...)."""
    if isinstance(x, sympy.Basic):
        return x
    x = float(x)
    if (x * DYADIC_DENOMINATOR).is_integer():
        return sympy.Rational(int(x * DYADIC_DENOMINATOR), DYADIC_DENOMINATOR)
    return sympy.Float(x)  # 53 bits: the float exactly


class SympyMath(metaclass=Namespace):
    """Rules evaluated on SymPy expressions; exp, log, sin, atan2, floor, ... are SymPy's (below the class)."""

    @staticmethod
    def hypot(x: Any, y: Any) -> Any:
        return sympy.sqrt(x**2 + y**2)

    @staticmethod
    def sigmoid(x: Any) -> Any:
        return 1 / (1 + sympy.exp(-x))

    @staticmethod
    def softplus(x: Any) -> Any:
        return sympy.log(1 + sympy.exp(x))

    @staticmethod
    def logsumexp(xs: Sequence[Any]) -> Any:
        return sympy.log(sympy.Add(*[sympy.exp(x) for x in xs]))

    @staticmethod
    def softmax(xs: Sequence[Any]) -> tuple[Any, ...]:
        total = sympy.Add(*[sympy.exp(x) for x in xs])
        return tuple(sympy.exp(x) / total for x in xs)

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        if exact(b) == 0:
            raise ZeroDivisionError(f"/: division by zero, got {a!r} / {b!r}")
        return exact(a) / exact(b)

    @staticmethod
    def pow(a: Any, b: Any) -> Any:
        return exact(a) ** exact(b)

    @staticmethod
    def pow_variable_exponent(a: Any, b: Any) -> Any:
        return exact(a) ** exact(b)

    @staticmethod
    def power_rule(x: Any, c: Any) -> Any:
        c = exact(c)
        return c * exact(x) ** (c - 1) if c != 0 else sympy.Integer(0)

    @staticmethod
    def log_or_zero(x: Any) -> Any:
        return sympy.Piecewise((0, sympy.Eq(x, 0)), (sympy.log(x), True))

    @staticmethod
    def floor_divide(a: Any, b: Any) -> Any:
        return sympy.floor(exact(a) / exact(b))

    @staticmethod
    def remainder(a: Any, b: Any) -> Any:
        return sympy.Mod(exact(a), exact(b))  # the sign of b, as Python's %

    @staticmethod
    def step(a: Any, b: Any, tie: Any) -> Any:
        a, b = exact(a), exact(b)
        return sympy.Piecewise((1, a > b), (exact(tie), sympy.Eq(a, b)), (0, True))

    @staticmethod
    def sign(x: Any) -> Any:
        return sympy.sign(x)

    @staticmethod
    def max(a: Any, b: Any) -> Any:
        return sympy.Max(exact(a), exact(b), evaluate=False)  # SymPy's comparisons of symbolic terms are slow

    @staticmethod
    def min(a: Any, b: Any) -> Any:
        return sympy.Min(exact(a), exact(b), evaluate=False)

    @staticmethod
    def sum(xs: Sequence[Any]) -> Any:
        return sympy.Add(*map(exact, xs))

    @staticmethod
    def dot(ws: Sequence[Any], xs: Sequence[Any]) -> Any:
        return sympy.Add(*[exact(w) * exact(x) for w, x in zip(ws, xs)])

    @staticmethod
    def constant(c: Any) -> Any:
        return exact(c)


def to_sympy(value: Value, leaves: Sequence[Value] | None = None) -> Any:
    """The graph that computed `value`, as a SymPy expression of its leaves.

    Each leaf is a real Symbol named by its label, or x0, x1, ... when it has none (numbered
    in the order of `leaves` when given, else in the order the expression reads them, first
    operand first); two leaves with the same label get _2, _3 suffixes. Constants are exact
    (see `exact`). A number (not a Value) is returned as an exact constant.

    Args:
        value: the output (any node of a graph: a loss, a gradient from create_graph=True).
        leaves: the leaves in the order to number the unlabelled ones (the inputs of a function,
            say); leaves of the graph not listed come after them.
    """
    if not isinstance(value, Value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return exact(value)
        raise TypeError(f"to_sympy: expected a Value, got {type(value).__name__} ({value!r})")
    from .backward import topological_order

    order = topological_order(value)
    expressions = _symbols_of(value, leaves)
    for node in order:
        if node in expressions:
            continue
        op = node.primitive
        if op is None:  # a constant
            expressions[node] = exact(node.data)
        else:
            expressions[node] = op.forward(SympyMath, *[expressions[p] for p in node.parents])
    return _exact_numbers(sympy.sympify(expressions[value]))


def _symbols_of(value: Value, leaves: Sequence[Value] | None) -> dict[Value, Any]:
    """A real Symbol for each leaf that is not a constant, named as `to_sympy` says."""
    ordered = list(leaves or []) + _leaves_in_reading_order(value)
    names: dict[Value, str] = {}
    taken: set[str] = set()
    for leaf in ordered:
        if leaf in names or leaf.is_constant or leaf.primitive is not None:
            continue
        base = leaf.label or f"x{len(names)}"
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        names[leaf] = name
    return {leaf: sympy.Symbol(name, real=True) for leaf, name in names.items()}


def _leaves_in_reading_order(value: Value) -> list[Value]:
    found: list[Value] = []
    seen: set[Value] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.parents:
            stack.extend(reversed(node.parents))  # the first operand is popped first
        else:
            found.append(node)
    return found


def _exact_numbers(expression: Any) -> Any:
    """Floats that a rule wrote (1.0, 0.5) as the Integers and Rationals they are."""
    floats = expression.atoms(sympy.Float)
    return expression.xreplace({f: exact(float(f)) for f in floats}) if floats else expression


class _Abs(sympy.Function):
    def fdiff(self, argindex: int = 1) -> Any:
        return _Sign(self.args[0])


class _PiecewiseConstant(sympy.Function):
    def fdiff(self, argindex: int = 1) -> Any:
        return sympy.Integer(0)  # away from its jumps


class _Sign(_PiecewiseConstant):
    pass


class _Step(_PiecewiseConstant):
    pass


class _Floor(_PiecewiseConstant):
    pass


class _Ceiling(_PiecewiseConstant):
    pass


class _Max(sympy.Function):
    def fdiff(self, argindex: int = 1) -> Any:  # 1 where argument i is the largest (no ties off the kinks)
        chosen = self.args[argindex - 1]
        return sympy.Mul(*[_Step(chosen - other) for k, other in enumerate(self.args) if k != argindex - 1])


class _Min(sympy.Function):
    def fdiff(self, argindex: int = 1) -> Any:
        chosen = self.args[argindex - 1]
        return sympy.Mul(*[_Step(other - chosen) for k, other in enumerate(self.args) if k != argindex - 1])


# SymPy's piecewise functions and their stand-ins, smooth away from the kinks whatever the arguments' assumptions
# (SymPy differentiates Abs(f) through re(f) and im(f) unless it knows f is real, and leaves floor's unevaluated).
_STAND_INS = {sympy.Abs: _Abs, sympy.sign: _Sign, sympy.Heaviside: _Step, sympy.floor: _Floor,
              sympy.ceiling: _Ceiling, sympy.Max: _Max, sympy.Min: _Min}  # fmt: skip


def diff_off_kinks(expression: Any, *symbols: Any) -> Any:
    """sympy.diff for points away from kinks and jumps, where every piecewise function is smooth.

    Abs, sign, Heaviside, floor, ceiling, Mod (as a - b floor(a / b)), Max and Min are
    differentiated as the pieces they are made of: d|u| = sign(u) du, floor and sign have
    derivative 0, Max's goes to its largest argument. That is what the engine's rules give
    away from the kinks, so compare only at such points. (SymPy's own diff leaves the derivative
    of floor unevaluated and differentiates Abs(u) through re(u) and im(u) unless u is known real.)
    """
    smooth = expression.replace(sympy.Mod, lambda a, b: a - b * sympy.floor(a / b))
    for function, stand_in in _STAND_INS.items():
        smooth = smooth.replace(function, stand_in)
    derivative = sympy.diff(smooth, *symbols)
    for function, stand_in in _STAND_INS.items():
        derivative = derivative.replace(stand_in, lambda *args, f=function: f(*args, evaluate=False))
    return derivative


# The elementary functions: SymPy's of the same name, or their definitions where SymPy has none.
SYMPY_NAMES = {
    "ceil": "ceiling",
    "log1p": lambda x: sympy.log(1 + x),
    "expm1": lambda x: sympy.exp(x) - 1,
    "log2": lambda x: sympy.log(x, 2),
    "log10": lambda x: sympy.log(x, 10),
}
add_elementary(SympyMath, elementary(sympy, SYMPY_NAMES))
