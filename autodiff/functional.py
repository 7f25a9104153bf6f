"""`grad` and `value_and_grad`: derivatives of a Python function, as floats."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .backward import backward, topological_order
from .errors import add_context
from .value import Number, Value, enable_grad

__all__ = ["grad", "value_and_grad"]

Argument = Number | Value | Sequence[Number | Value]
Gradient = float | list


def value_and_grad(f: Callable[..., Value]) -> Callable[..., tuple[float, Any]]:
    """Turn `f` into a function returning (f(*args), gradient) as floats.

    Each argument is a number (its gradient is a float) or a list of numbers
    (its gradient is a list); Values are read for their data. With one argument
    the gradient is returned as is, with several as a tuple, one per argument.
    Gradients are computed on fresh leaves, and the `.grad` of any Value that `f`
    captures (a model's parameters, say) is left as it was.

    Example:
        >>> value_and_grad(lambda x, y: x * y + y)(2.0, 3.0)
        (9.0, (3.0, 3.0))
    """
    name = getattr(f, "__name__", repr(f))

    @functools.wraps(f)
    def wrapper(*args: Argument) -> tuple[float, Any]:
        leaves = [_fresh_leaves(arg, name, i) for i, arg in enumerate(args)]
        with enable_grad():  # the gradient is asked for, so record the graph even inside no_grad()
            out = f(*leaves)
        if isinstance(out, (int, float)) and not isinstance(out, bool):
            out = Value(out)  # a function that does not depend on its inputs
        if not isinstance(out, Value):
            raise TypeError(f"{name} must return a Value, got {type(out).__name__} ({out!r})")
        grads = _gradients(out, leaves)
        return out.data, grads[0] if len(grads) == 1 else tuple(grads)

    return wrapper


def grad(f: Callable[..., Value]) -> Callable[..., Any]:
    """Turn `f` into a function returning the gradient of f at its arguments, as floats.

    Same arguments and result shape as `value_and_grad`, without the value.

    Example:
        >>> grad(lambda x: x ** 3)(2.0)
        12.0
    """
    with_value = value_and_grad(f)

    @functools.wraps(f)
    def wrapper(*args: Argument) -> Any:
        return with_value(*args)[1]

    return wrapper


def _fresh_leaves(arg: Argument, name: str, position: int) -> Value | list[Value]:
    if isinstance(arg, (list, tuple)):
        return [_fresh_leaf(x, name, position) for x in arg]
    return _fresh_leaf(arg, name, position)


def _fresh_leaf(x: object, name: str, position: int) -> Value:
    if isinstance(x, Value):
        return Value(x.data, x.label)
    try:
        return Value(x)
    except (TypeError, ValueError) as error:
        add_context(error, f"{name}: argument {position}")
        raise


def _gradients(out: Value, leaves: list) -> list[Gradient]:
    # Run a normal backward pass, read the leaves, then put back every `.grad` it touched.
    order = topological_order(out)
    saved = [node.grad for node in order]
    try:
        backward(out)
        return [[x.grad for x in leaf] if isinstance(leaf, list) else leaf.grad for leaf in leaves]
    finally:
        for node, old in zip(order, saved):
            node.grad = old
