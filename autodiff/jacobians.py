"""`jacobian` and `hessian`: every first or second derivative of a function, as nested lists of floats.

A Jacobian needs one forward sweep per input (`push_forward`) or one backward pass per
output, over the same recorded graph: `jacobian` takes the cheaper side, forward mode
when there are fewer inputs than outputs. A Hessian is the Jacobian of the gradient:
`backward(create_graph=True)` builds the gradient as Values, then one forward sweep per
input over that graph gives one column (forward-over-reverse).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from .backward import backward, topological_order
from .forward_mode import call, graph_order, push_forward
from .functional import fresh_leaf, gradients_of
from .value import Value

__all__ = ["jacobian", "hessian", "jacobian_of"]


def jacobian(f: Callable[..., Any]) -> Callable[..., list]:
    """Turn `f` into a function returning its Jacobian at its arguments, as floats.

    `f` takes numbers (one per argument) and returns a Value or a list of Values.
    The result has one row per output, each a list of d output / d argument; for a
    single Value output, that one row as a plain list (as `grad` would give it as a
    tuple). Built with forward mode when f has fewer inputs than outputs, and with
    reverse mode otherwise.

    Example:
        >>> jacobian(lambda x, y: [x * y, x + y, y ** 2])(2.0, 3.0)
        [[3.0, 2.0], [1.0, 1.0], [0.0, 6.0]]
    """
    name = getattr(f, "__name__", repr(f))

    @functools.wraps(f)
    def wrapper(*args: Any) -> list:
        leaves = _leaves(args, name, "jacobian")
        outputs, is_list = call(f, leaves, name)
        rows = jacobian_of(outputs, leaves)
        return rows if is_list else rows[0]

    return wrapper


def hessian(f: Callable[..., Any]) -> Callable[..., list[list[float]]]:
    """Turn a scalar `f` into a function returning its Hessian at its arguments: the n x n nested list
    of d^2 f / d x_i d x_j, symmetric up to rounding.

    Example:
        >>> hessian(lambda x, y: x ** 2 * y)(2.0, 3.0)
        [[6.0, 4.0], [4.0, 0.0]]
    """
    name = getattr(f, "__name__", repr(f))

    @functools.wraps(f)
    def wrapper(*args: Any) -> list[list[float]]:
        leaves = _leaves(args, name, "hessian")
        outputs, is_list = call(f, leaves, name)
        if is_list:
            raise TypeError(f"hessian: {name} must return one Value (a scalar), got a list of {len(outputs)}")
        gradient = _gradient_as_values(outputs[0], leaves)
        return jacobian_of(gradient, leaves, mode="forward")

    return wrapper


def jacobian_of(outputs: Sequence[Value], leaves: Sequence[Value], mode: str | None = None) -> list[list[float]]:
    """d outputs[i] / d leaves[j] as rows i of columns j, over the recorded graph.

    Args:
        outputs: Values computed from the leaves.
        leaves: leaf Values.
        mode: "forward" (one sweep per leaf), "reverse" (one backward pass per output),
            or None for the one with fewer passes (forward when there are fewer leaves).
    """
    if mode is None:
        mode = "forward" if len(leaves) < len(outputs) else "reverse"
    if mode == "forward":
        order = graph_order(outputs)
        columns = []
        for leaf in leaves:
            tangent = push_forward(order, {leaf: 1.0})
            columns.append([tangent.get(out, 0.0) for out in outputs])
        return [[column[i] for column in columns] for i in range(len(outputs))]
    if mode == "reverse":
        return [gradients_of(out, list(leaves)) for out in outputs]
    raise ValueError(f"jacobian: mode must be 'forward', 'reverse' or None, got {mode!r}")


def _gradient_as_values(out: Value, leaves: list[Value]) -> list[Value]:
    """d out / d leaf for each leaf as Values (a graph of their own); every `.grad` is put back."""
    order = topological_order(out)
    saved = [node.grad for node in order]
    try:
        backward(out, create_graph=True)
        grads = [leaf.grad for leaf in leaves]
    finally:
        for node, old in zip(order, saved):
            node.grad = old
    return [g if isinstance(g, Value) else Value(g) for g in grads]  # a leaf out does not use: 0.0


def _leaves(args: tuple, name: str, what: str) -> list[Value]:
    for i, x in enumerate(args):
        if isinstance(x, (list, tuple)):
            raise TypeError(
                f"{what}: {name} takes one number per argument, got a {type(x).__name__} as argument {i}; "
                f"pass its numbers as separate arguments ({what}(f)(*xs), with f(*xs))"
            )
    return [fresh_leaf(x, name, i) for i, x in enumerate(args)]
