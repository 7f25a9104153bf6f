"""`Value`: one scalar node of a computation graph."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from . import grad_mode, ops
from .errors import add_context
from .grad_mode import data_read, enable_grad, is_grad_enabled, no_grad
from .numerics import MAX_FLOAT, FloatMath
from .ops import Op

__all__ = ["Value", "Constant", "no_grad", "enable_grad", "is_grad_enabled", "as_value", "apply"]

Number = int | float


class _FastMethod:
    """A Value method that applies one op of the table. At its first use it puts the op's generated forward
    code (autodiff/specialize.py) in its own place on the class, with this docstring, so that every later
    `x + y` is one call of that code."""

    def __init__(self, op: Op, doc: str, reflected: bool = False) -> None:
        self.op, self.reflected, self.__doc__ = op, reflected, doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner, self.name = owner, name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        fast = Op.accelerator(self.op, "apply_reflected" if self.reflected else "apply")
        if not self.reflected:
            self.op._apply = fast  # the same code: the op need not make it again
        fast.__doc__, fast.__name__, fast.__qualname__ = self.__doc__, self.name, f"Value.{self.name}"
        setattr(self.owner, self.name, fast)
        return fast if instance is None else fast.__get__(instance, owner)


class Value:
    """A scalar that remembers how it was computed.

    Attributes:
        data: the number (a float).
        grad: d(root)/d(this node) after `root.backward()`; 0.0 at creation.
        label: a name for graphs and reprs.
        op: the name of the op that made this node ("" for a leaf).
        parents: the Values it was computed from, in operand order.
    """

    # An op node keeps its parents in _p0 and _p1 (one or two inputs) or as a tuple in _p0 (any other
    # number): no tuple object per node, so the cyclic garbage collector has half as many objects to
    # track in a graph. `parents` gives them as a tuple.
    __slots__ = ("data", "grad", "label", "_op", "_p0", "_p1")

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__}")
        self.data = _checked_float(data)
        self.grad = 0.0
        self.label = label
        self._op: Op | None = None

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this node was computed from, in operand order; () for a leaf."""
        op = self._op
        if op is None:
            return ()
        arity = op.arity
        if arity == 2:
            return (self._p0, self._p1)
        if arity == 1:
            return (self._p0,)
        return self._p0

    @property
    def op(self) -> str:
        """The name of the op that made this node; "" for a leaf."""
        return self._op.name if self._op is not None else ""

    @property
    def primitive(self) -> Op | None:
        """The `Op` that made this node (its rules: `forward`, `partials`); None for a leaf."""
        return self._op

    @property
    def is_constant(self) -> bool:
        """True for a number used inside an op (the 2 in `x * 2`): a leaf that gets no gradient."""
        return False

    def __repr__(self) -> str:
        fields = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self._op is not None:
            fields.append(f"op={self._op.name!r}")
        if self.label:
            fields.append(f"label={self.label!r}")
        return f"Value({', '.join(fields)})"

    # --- arithmetic: a Value or a plain number on either side -----------------
    # Each operator applies its op of the table (autodiff/ops.py); an operand that is not a number gives
    # NotImplemented, so Python raises a TypeError naming both types. (`_FastMethod`, below the class,
    # puts the op's generated code in the method's place at its first use: one call per op.)
    __add__ = _FastMethod(ops.ADD, "self + other; d/dself = d/dother = 1.")
    __radd__ = _FastMethod(ops.ADD, "other + self.", reflected=True)
    __sub__ = _FastMethod(ops.SUB, "self - other; d/dself = 1, d/dother = -1.")
    __rsub__ = _FastMethod(ops.SUB, "other - self.", reflected=True)
    __mul__ = _FastMethod(ops.MUL, "self * other; d/dself = other, d/dother = self.")
    __rmul__ = _FastMethod(ops.MUL, "other * self.", reflected=True)
    __truediv__ = _FastMethod(ops.DIV, "self / other; other must not be 0.")
    __rtruediv__ = _FastMethod(ops.DIV, "other / self.", reflected=True)
    __mod__ = _FastMethod(ops.REMAINDER, "a % b with the sign of b (Python's and torch.remainder's); "
                                         "d/da = 1, d/db = -(a // b).")  # fmt: skip
    __rmod__ = _FastMethod(ops.REMAINDER, "other % self.", reflected=True)
    __rpow__ = _FastMethod(ops.POW, "other ** self, for other >= 0.", reflected=True)
    __neg__ = _FastMethod(ops.NEG, "-self; d/dself = -1.")
    __abs__ = _FastMethod(ops.ABS, "|self|; its derivative is the sign of self (0 at 0).")

    def __pow__(self, other: Value | Number) -> Value:
        """x ** c for a number c (the power rule); x ** y for a Value y needs x > 0 (d/dy = x**y log x)."""
        if isinstance(other, Value) and not other.is_constant:
            return ops.POW._apply(self, other)
        return ops.POW_CONST._apply(self, other)

    def __pos__(self) -> Value:
        """self itself."""
        return self

    # --- the table's named ops with a special signature; the others (x.exp(), x.atan2(y), ...) are ------
    # made from the table below the class, one method per op.
    def clamp(self, lo: Value | Number | None = None, hi: Value | Number | None = None) -> Value:
        """min(max(x, lo), hi) with torch.clamp's gradient: x gets it where lo <= x <= hi, bounds
        included. A missing bound is none (the largest float); a Value bound gets a gradient too."""
        return apply(ops.CLAMP, clamp_operands(self, lo, hi))

    def leaky_relu(self, slope: Number = 0.01) -> Value:
        """x for x > 0, slope * x otherwise; the derivative at 0 is `slope`."""
        return apply(ops.LEAKY_RELU, (self, constant_slope(slope)))

    # --- reading the data: comparisons, truth, float() record nothing -----------
    # No __eq__: Values compare and hash by identity, so they work in sets and dicts.
    # `autodiff.compile` watches these reads while tracing, to catch data-dependent branches.
    def __lt__(self, other: Value | Number) -> bool:
        data_read("a comparison (<)")
        return self.data < _data_of(other)

    def __le__(self, other: Value | Number) -> bool:
        data_read("a comparison (<=)")
        return self.data <= _data_of(other)

    def __gt__(self, other: Value | Number) -> bool:
        data_read("a comparison (>)")
        return self.data > _data_of(other)

    def __ge__(self, other: Value | Number) -> bool:
        data_read("a comparison (>=)")
        return self.data >= _data_of(other)

    def __bool__(self) -> bool:
        """True when data != 0, as for a float."""
        data_read("a truth test (if / and / or / bool())")
        return self.data != 0.0

    def __float__(self) -> float:
        data_read("float()")
        return self.data

    def __format__(self, spec: str) -> str:
        data_read("format() (an f-string)")
        return format(self.data, spec) if spec else repr(self)

    # --- gradients ---------------------------------------------------------------
    def backward(self, gradient: Number = 1.0, create_graph: bool = False) -> None:
        """Set `grad` on every node of the graph to gradient * d(self)/d(node).

        Leaf gradients accumulate across calls; the gradients of the other nodes
        hold this pass only; constants get none. With `create_graph=True` the
        gradients are Values built from the same ops, so they can be differentiated again.

        The pass is `backward` in autodiff/backward.py: the chain rule, one loop.

        Args:
            gradient: the seed, d(loss)/d(self) when self feeds a larger computation
                (PyTorch's `gradient`): every gradient is scaled by it.
            create_graph: build the gradients as differentiable Values.
        """
        hooks.backward(self, gradient, create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data and label, cut from this node's graph."""
        data_read("detach()")
        return Value(self.data, self.label)

    def explain_grad(self, root: Value) -> Any:
        """This node's grad (d root / d self, after `root.backward()`) as a sum of one term per edge out of it
        (`autodiff.explain`).

        Args:
            root: the output that `backward()` was called on.
        """
        return hooks.explain(self, root)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter shows a Value as the SVG of its graph (as text if it cannot be drawn)."""
        return hooks.mimebundle(self, include, exclude)


def _binary_method(op: Op) -> Callable[[Value, Value | Number], Value]:
    def method(self: Value, other: Value | Number) -> Value:
        return apply(op, (self, other))

    return method


# x.<name>() for each named op of one input, x.<name>(other) for two; sum, logsumexp and dot take lists
# (autodiff.sum, ...), and clamp and leaky_relu, written above, have defaults of their own.
for _op in ops.NAMED:
    if _op.arity == 1 and not hasattr(Value, _op.name):
        _fast = _FastMethod(_op, _op.doc)
        _fast.__set_name__(Value, _op.name)
        setattr(Value, _op.name, _fast)
    elif _op.arity == 2 and not hasattr(Value, _op.name):
        _method = _binary_method(_op)
        _method.__name__, _method.__qualname__, _method.__doc__ = _op.name, f"Value.{_op.name}", _op.doc
        setattr(Value, _op.name, _method)


class _Hooks:
    """What a Value's methods reach in modules above this one, which build on Value and so cannot be
    imported here: each module sets its function when it is imported (`import autodiff` imports all).

    backward(root, gradient, create_graph): the backward pass, set by autodiff/backward.py;
    explain(node, root) and mimebundle(value, include, exclude): a gradient's terms and the Jupyter
    picture, set by the package from autodiff/graph (the pictures draw on the engine).
    """

    @staticmethod
    def backward(root: Value, gradient: Number, create_graph: bool) -> None:
        raise RuntimeError("backward() needs autodiff.backward: import autodiff")

    @staticmethod
    def explain(node: Value, root: Value) -> Any:
        raise RuntimeError("explain_grad needs autodiff.graph: import autodiff")

    @staticmethod
    def mimebundle(value: Value, include: Any, exclude: Any) -> dict:
        return {"text/plain": repr(value)}


hooks = _Hooks()


class Constant(Value):
    """A plain number used inside an op (the 2 in `x * 2`): a leaf whose gradient is always 0.

    Like a Python number next to a tensor in PyTorch, it is not differentiated: the
    backward pass does not visit it. A constant cannot be changed, so the engine
    makes one per number and shares it (`x * 2` and `y * 2` hold the same 2.0):
    a loop that multiplies by 1.0001 a million times allocates it once.
    """

    __slots__ = ()

    # The same for every constant, so kept once on the class.
    label = ""
    parents = ()
    _op = None

    @property
    def grad(self) -> float:
        """Always 0.0: a constant is not differentiated."""
        return 0.0

    @property
    def is_constant(self) -> bool:
        return True

    def __setattr__(self, name: str, value: object) -> None:
        if name == "grad":  # what a pass writes to every node's grad: a constant has none to keep
            return
        raise AttributeError(f"a constant cannot be changed (it is shared by every op that uses {self.data!r})")

    def __copy__(self) -> Constant:
        """A constant of the same number that is not shared (a drawing shows each use on its own)."""
        fresh = _new(Constant)
        _set_data(fresh, self.data)
        return fresh

    def __reduce__(self) -> tuple:
        return (constant_of, (self.data,))


_set_data = Value.data.__set__  # the slot itself, past Constant.__setattr__
shared_constants: dict[float, Constant] = {}  # one constant per number, shared
_MAX_CONSTANTS = 4096  # when more numbers than this were seen, start over (a loop over data, say)


def constant_of(x: float) -> Constant:
    """The constant holding the finite float x (one per number: -0.0 and 0.0 are different numbers)."""
    node = shared_constants.get(x) if x else None  # 0.0 == -0.0 as keys: zeros are not shared
    if node is None:
        node = _new(Constant)
        _set_data(node, x)
        if x:
            if len(shared_constants) >= _MAX_CONSTANTS:
                shared_constants.clear()
            shared_constants[x] = node
    return node


def _checked_float(data: object) -> float:
    x = data
    if type(x) is not float:  # an int, or a number of another type (numpy's)
        # bool is an int subclass, and numpy's bools are not Real numbers: both are refused.
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"Value: data must be an int or float, got {type(data).__name__} ({data!r})")
        try:
            x = float(x)
        except OverflowError:  # an int beyond the float range
            raise ValueError("Value: data must be a finite number, got an int too large for a float") from None
    if -MAX_FLOAT <= x <= MAX_FLOAT:
        return x
    raise ValueError(f"Value: data must be a finite number, got {data!r}")


def operand_float(x: object, op_name: str) -> float:
    """A plain-number operand of the op `op_name` as a finite float, or an error naming the op."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{op_name}: expected a Value or a number, got {type(x).__name__} ({x!r})")
    try:
        return _checked_float(x)
    except ValueError:
        shown = "an int too large for a float" if isinstance(x, numbers.Integral) else repr(x)
        raise ValueError(f"{op_name}: operands must be finite numbers, got {shown}") from None


def constant(x: object, op_name: str) -> Constant:
    """A plain number used inside the op `op_name`, as a constant leaf."""
    return constant_of(operand_float(x, op_name))


def lift(x: object, op: Op) -> Value | Any:
    """An operand of `op` as a Value: a Value as is, a number as a constant, anything else NotImplemented."""
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return NotImplemented
    return constant(x, op.name)


def as_value(x: Value | Number) -> Value:
    """`x` itself if it is a Value, else a new leaf holding it."""
    return x if isinstance(x, Value) else Value(x)


def apply(op: Op, operands: tuple) -> Value | float:
    """`op` on `operands`: a new node if any of them is a Value (numbers become constants), else a float."""
    if op.arity is not None and len(operands) != op.arity:
        raise TypeError(f"{op.name}: takes {op.arity} operand{'s' * (op.arity != 1)}, got {len(operands)}")
    for x in operands:
        if isinstance(x, Value):
            out = op._apply(*operands)
            if out is NotImplemented:
                bad = next(x for x in operands if lift(x, op) is NotImplemented)
                raise TypeError(f"{op.name}: expected a Value or a number, got {type(bad).__name__} ({bad!r})")
            return out
    numbers_in = [operand_float(x, op.name) for x in operands]
    try:
        data = op.forward(FloatMath, *numbers_in)
    except (ArithmeticError, ValueError) as error:
        name_user_op(op, error, operands)
        raise
    return checked_result(op, data, operands)


def name_user_op(op: Op, error: BaseException, operands: tuple) -> None:
    """Put a user's op and its inputs in front of an error its forward rule raised ("float division
    by zero" alone does not say where); a built-in op's errors name it already."""
    if not ops.is_builtin(op):
        add_context(error, f"{op.name}: forward failed at inputs ({_shown(operands)})")


def checked_result(op: Op, data: object, operands: tuple) -> float:
    """An op's forward result as a finite float, or an error naming the op."""
    x = data
    if type(x) is not float:
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"{op.name}: forward must return a number, got {type(data).__name__} ({data!r})")
        try:
            x = float(x)
        except OverflowError:
            x = float("inf")
    if -MAX_FLOAT <= x <= MAX_FLOAT:
        return x
    raise not_finite(op, x, operands)


def not_finite(op: Op, data: float, operands: tuple) -> OverflowError:
    return OverflowError(f"{op.name}: result is not a finite float ({data!r}), inputs {_shown(operands)}")


def _shown(operands: tuple) -> str:
    return ", ".join(repr(_data_of(x)) for x in operands[:4]) + (", ..." if len(operands) > 4 else "")


def new_node(data: float, parents: tuple[Value, ...], op: Op) -> Value:
    """A node made by `op`, recorded in the graph unless this thread is in `no_grad()`."""
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    if grad_mode.overridden:
        return record(out, parents, op)
    link(out, parents, op)
    return out


def link(out: Value, parents: tuple[Value, ...], op: Op) -> None:
    """Make `out` a node of `op` with these parents (kept as `Value.parents` says)."""
    out._op = op
    if op.arity == 2:
        out._p0, out._p1 = parents
    elif op.arity == 1:
        out._p0 = parents[0]
    else:
        out._p0 = parents


def record(out: Value, parents: tuple[Value, ...], op: Op) -> Value:
    """Finish a new node when some thread is in a mode block: a leaf in `no_grad()`, or what the
    thread's node hook makes of it (in `detect_anomaly()`, a node that knows where it was created)."""
    if grad_mode.is_grad_enabled():
        hook = grad_mode.state.on_new_node
        if hook is not None:  # anomaly mode's: a node that knows where it was created
            return hook(out, parents, op)
        link(out, parents, op)
    else:
        out._op = None
    return out


def clamp_operands(x: object, lo: object, hi: object) -> tuple:
    """clamp's three operands; a missing bound is the largest float, which bounds every finite x (as inf would)."""
    if lo is None and hi is None:
        raise TypeError("clamp: give a lower bound lo, an upper bound hi, or both")
    return (x, -MAX_FLOAT if lo is None else lo, MAX_FLOAT if hi is None else hi)


def constant_slope(slope: object) -> object:
    """leaky_relu's slope, refused if it is a Value that would need a gradient (the op gives it none)."""
    if isinstance(slope, Value) and not slope.is_constant:
        raise TypeError(
            f"leaky_relu: slope must be a number, got {slope!r}; the slope gets no gradient "
            "(for a learned one write x.max(0.0) + slope * x.min(0.0))"
        )
    return slope


def _data_of(x: object) -> float:
    return x.data if isinstance(x, Value) else _checked_float(x)


_new = object.__new__
Op.applier = apply
