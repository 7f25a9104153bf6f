"""`Value`: one scalar node of a computation graph."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import ops
from .numerics import MAX_FLOAT, FloatMath
from .ops import CONSTANT, LEAF, Op

if TYPE_CHECKING:
    from .graph.explain import Explanation

__all__ = ["Value", "no_grad", "enable_grad", "is_grad_enabled", "as_value"]

Number = int | float

_grad_enabled = True
_on_data_read: Callable[[str], None] | None = None


class Value:
    """A scalar that remembers how it was computed.

    Attributes:
        data: the number (a float).
        grad: d(root)/d(this node) after `root.backward()`; 0.0 at creation.
        label: a name for graphs and reprs.
        op: the name of the op that made this node ("" for a leaf).
        parents: the Values it was computed from, in operand order.
    """

    __slots__ = ("data", "grad", "label", "parents", "_op")

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__}")
        self.data = _checked_float(data)
        self.grad = 0.0
        self.label = label
        self.parents: tuple[Value, ...] = ()
        self._op = LEAF

    @property
    def op(self) -> str:
        return self._op.name

    def __repr__(self) -> str:
        fields = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self._op.name:
            fields.append(f"op={self._op.name!r}")
        if self.label:
            fields.append(f"label={self.label!r}")
        return f"Value({', '.join(fields)})"

    # --- arithmetic: a Value or a plain number on either side -----------------
    def __add__(self, other: Value | Number) -> Value:
        return _binary(ops.ADD, self, other)

    def __radd__(self, other: Number) -> Value:
        return _binary(ops.ADD, other, self)

    def __sub__(self, other: Value | Number) -> Value:
        return _binary(ops.SUB, self, other)

    def __rsub__(self, other: Number) -> Value:
        return _binary(ops.SUB, other, self)

    def __mul__(self, other: Value | Number) -> Value:
        return _binary(ops.MUL, self, other)

    def __rmul__(self, other: Number) -> Value:
        return _binary(ops.MUL, other, self)

    def __truediv__(self, other: Value | Number) -> Value:
        return _binary(ops.DIV, self, other)

    def __rtruediv__(self, other: Number) -> Value:
        return _binary(ops.DIV, other, self)

    def __pow__(self, other: Value | Number) -> Value:
        if isinstance(other, Value) and other._op is not CONSTANT:
            return apply(ops.POW, self, other)
        return _binary(ops.POW_CONST, self, other)

    def __rpow__(self, other: Number) -> Value:
        return _binary(ops.POW, other, self)

    def __pos__(self) -> Value:
        return self

    def __neg__(self) -> Value:
        return _unary(ops.NEG, self)

    def __abs__(self) -> Value:
        return _unary(ops.ABS, self)

    # --- functions -------------------------------------------------------------
    def exp(self) -> Value:
        return _unary(ops.EXP, self)

    def log(self) -> Value:
        return _unary(ops.LOG, self)

    def sqrt(self) -> Value:
        return _unary(ops.SQRT, self)

    def sin(self) -> Value:
        return _unary(ops.SIN, self)

    def cos(self) -> Value:
        return _unary(ops.COS, self)

    def tanh(self) -> Value:
        return _unary(ops.TANH, self)

    def sigmoid(self) -> Value:
        return _unary(ops.SIGMOID, self)

    def softplus(self) -> Value:
        """log(1 + e**x), a smooth relu; its derivative is the sigmoid."""
        return _unary(ops.SOFTPLUS, self)

    def relu(self) -> Value:
        """max(x, 0), with relu'(0) = 0."""
        return _unary(ops.RELU, self)

    def leaky_relu(self, slope: Number = 0.01) -> Value:
        """x for x > 0, slope * x otherwise; the derivative at 0 is `slope`."""
        return apply(ops.LEAKY_RELU, self, constant(slope, "leaky_relu"))

    def max(self, other: Value | Number) -> Value:
        """The larger input gets the whole gradient; tied inputs get half each."""
        return _method(ops.MAX, self, other)

    def min(self, other: Value | Number) -> Value:
        """The smaller input gets the whole gradient; tied inputs get half each."""
        return _method(ops.MIN, self, other)

    # --- reading the data: comparisons, truth, float() record nothing -----------
    # No __eq__: Values compare and hash by identity, so they work in sets and dicts.
    # `autodiff.compile` sets _on_data_read while tracing, to catch data-dependent branches.
    def __lt__(self, other: Value | Number) -> bool:
        if _on_data_read is not None:
            _on_data_read("a comparison (<)")
        return self.data < _data_of(other)

    def __le__(self, other: Value | Number) -> bool:
        if _on_data_read is not None:
            _on_data_read("a comparison (<=)")
        return self.data <= _data_of(other)

    def __gt__(self, other: Value | Number) -> bool:
        if _on_data_read is not None:
            _on_data_read("a comparison (>)")
        return self.data > _data_of(other)

    def __ge__(self, other: Value | Number) -> bool:
        if _on_data_read is not None:
            _on_data_read("a comparison (>=)")
        return self.data >= _data_of(other)

    def __bool__(self) -> bool:
        """True when data != 0, as for a float."""
        if _on_data_read is not None:
            _on_data_read("a truth test (if / and / or / bool())")
        return self.data != 0.0

    def __float__(self) -> float:
        if _on_data_read is not None:
            _on_data_read("float()")
        return self.data

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    # --- gradients ---------------------------------------------------------------
    def backward(self, create_graph: bool = False) -> None:
        """Set `grad` on every node of the graph to d(self)/d(node).

        Leaf gradients accumulate across calls; the gradients of the other nodes
        hold this pass only. With `create_graph=True` the gradients are Values
        built from the same ops, so they can be differentiated again.
        """
        from .backward import backward

        backward(self, create_graph=create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data and label, cut from this node's graph."""
        if _on_data_read is not None:
            _on_data_read("detach()")
        return Value(self.data, self.label)

    def explain_grad(self, root: Value) -> Explanation:
        """This node's grad (d root / d self, after `root.backward()`) as a sum of one term per edge out of it.

        Args:
            root: the output that `backward()` was called on.
        """
        from .graph.explain import explain

        return explain(self, root)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter shows a Value as the SVG of its graph (as text if it cannot be drawn)."""
        from .graph.notebook import mimebundle

        return mimebundle(self, include, exclude)


def _checked_float(data: object) -> float:
    if type(data) is float and -MAX_FLOAT <= data <= MAX_FLOAT:  # the common case, fast
        return data
    # bool is an int subclass, and numpy's bools are not Real numbers: both are refused.
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise TypeError(f"Value: data must be an int or float, got {type(data).__name__} ({data!r})")
    try:
        x = float(data)
    except OverflowError:  # an int beyond the float range
        raise ValueError("Value: data must be a finite number, got an int too large for a float") from None
    if not -MAX_FLOAT <= x <= MAX_FLOAT:
        raise ValueError(f"Value: data must be a finite number, got {x!r}")
    return x


def constant(x: object, op_name: str) -> Value:
    """A plain number used inside an op, as a constant leaf."""
    if type(x) is not float and (isinstance(x, bool) or not isinstance(x, numbers.Real)):
        raise TypeError(f"{op_name}: expected a Value or a number, got {type(x).__name__} ({x!r})")
    node = _new(Value)
    try:
        node.data = _checked_float(x)
    except ValueError:
        shown = "an int too large for a float" if isinstance(x, numbers.Integral) else repr(x)
        raise ValueError(f"{op_name}: operands must be finite numbers, got {shown}") from None
    node.grad = 0.0
    node.label = ""
    node.parents = ()
    node._op = CONSTANT
    return node


def as_value(x: Value | Number) -> Value:
    """`x` itself if it is a Value, else a constant leaf holding it."""
    return x if isinstance(x, Value) else constant(x, "as_value")


def _data_of(x: object) -> float:
    return x.data if isinstance(x, Value) else _checked_float(x)


def _binary(op: Op, a: object, b: object) -> Value:
    if type(a) is not Value:
        a = _operand(a, op)
        if a is NotImplemented:
            return a
    if type(b) is not Value:
        b = _operand(b, op)
        if b is NotImplemented:
            return b
    data = op.forward(FloatMath, a.data, b.data)
    if -MAX_FLOAT <= data <= MAX_FLOAT:
        return _node(data, (a, b), op)
    raise _not_finite(op, data, (a, b))


def _method(op: Op, a: Value, b: object) -> Value:
    # An operator can hand NotImplemented back to Python; a method call must raise itself.
    out = _binary(op, a, b)
    if out is NotImplemented:
        raise TypeError(f"{op.name}: expected a Value or a number, got {type(b).__name__} ({b!r})")
    return out


def _operand(x: object, op: Op) -> Value:
    if isinstance(x, Value):
        return x
    if type(x) is float or type(x) is int:
        return constant(x, op.name)
    # Python turns NotImplemented into "unsupported operand type(s)", naming both types.
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return NotImplemented
    return constant(x, op.name)


def _unary(op: Op, x: Value) -> Value:
    data = op.forward(FloatMath, x.data)
    if -MAX_FLOAT <= data <= MAX_FLOAT:
        return _node(data, (x,), op)
    raise _not_finite(op, data, (x,))


def apply(op: Op, *parents: Value) -> Value:
    """Run `op` forward on the parents' data and record the result as a new node."""
    data = op.forward(FloatMath, *[p.data for p in parents])
    if -MAX_FLOAT <= data <= MAX_FLOAT:
        return _node(data, parents, op)
    raise _not_finite(op, data, parents)


def _node(data: float, parents: tuple[Value, ...], op: Op) -> Value:
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    if _grad_enabled:
        out.parents = parents
        out._op = op
    else:
        out.parents = ()
        out._op = LEAF
    return out


_new = object.__new__


def _not_finite(op: Op, data: float, parents: tuple[Value, ...]) -> OverflowError:
    shown = ", ".join(repr(p.data) for p in parents[:4]) + (", ..." if len(parents) > 4 else "")
    return OverflowError(f"{op.name}: result is not a finite float ({data!r}), inputs {shown}")


class _GradMode:
    """A `with` block that turns graph recording off or on, and restores it after."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        global _grad_enabled
        if not self.enabled and _on_data_read is not None:
            _on_data_read("no_grad()")  # values computed here would be baked into a compiled program
        self.previous = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc_info: object) -> None:
        global _grad_enabled
        _grad_enabled = self.previous

    def __call__(self, fn: Callable) -> Callable:
        """Use as a decorator: `fn` runs in this mode at every call."""

        @functools.wraps(fn)
        def in_mode(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)

        return in_mode


def no_grad() -> _GradMode:
    """Inside this block, ops compute values but record no graph (results are leaves)."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Record the graph inside this block, even within an enclosing `no_grad()`."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    """False inside `no_grad()`."""
    return _grad_enabled
