"""Forward mode: `jvp`, the directional derivative of a function, pushed from the inputs forward.

Reverse mode (`backward`) goes from the output back and gives d out / d x for every
input at once; forward mode goes with the computation and gives the derivative along
one direction of the inputs (the tangents) for every output at once. Here both read
the same op table: the tangent of a node is

    tangent(out) = sum_i  d out / d input_i  x  tangent(input_i)

with the partials of the op's own rule (autodiff/ops.py), in topological order. So a
user's `Op` has forward mode for free, and there is no second copy of any derivative.
The function runs once on Values to record its graph; each sweep over that graph
costs about as much as a backward pass (`jacobian` makes one per input).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .backward import depth_first, describe
from .errors import add_context, inputs_of, op_at
from .functional import fresh_leaf, scalar_output
from .numerics import MAX_FLOAT
from .value import Value, enable_grad

__all__ = ["jvp", "push_forward", "graph_order"]


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """f's value at `primals` and its derivative in the direction `tangents`, as floats (JAX's jvp).

    Args:
        f: a function of positional Values returning a Value, or a list of Values.
        primals: the point, one number per argument of f.
        tangents: the direction, one number per argument: the result's tangent is
            sum_i d f / d x_i * tangents[i].

    Returns:
        (value, tangent): floats, or two lists of floats when f returns a list.

    Example:
        >>> jvp(lambda x, y: x * y + y, (2.0, 3.0), (1.0, 0.0))   # d/dx at (2, 3)
        (9.0, 3.0)
    """
    name = getattr(f, "__name__", repr(f))
    primals, tangents = _sequence(primals, "primals", name), _sequence(tangents, "tangents", name)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: primals and tangents must have the same length, got {len(primals)} and {len(tangents)}")
    leaves = [fresh_leaf(x, name, i) for i, x in enumerate(primals)]
    seeds = {leaf: _tangent(t, i) for i, (leaf, t) in enumerate(zip(leaves, tangents))}
    outputs, is_list = call(f, leaves, name)
    tangent = push_forward(graph_order(outputs), seeds)
    values = [out.data for out in outputs]
    dots = [tangent.get(out, 0.0) for out in outputs]
    return (values, dots) if is_list else (values[0], dots[0])


def call(f: Callable[..., Any], leaves: list[Value], name: str) -> tuple[list[Value], bool]:
    """Run f on the leaves, recording its graph; its outputs as a list of Values, and whether it returned a list."""
    with enable_grad():  # derivatives are asked for: record the graph even inside no_grad()
        out = f(*leaves)
    if isinstance(out, (list, tuple)):
        return [scalar_output(o, f"{name} (output {k})") for k, o in enumerate(out)], True
    return [scalar_output(out, name)], False


def graph_order(outputs: Sequence[Value]) -> list[Value]:
    """Every node the outputs depend on, each after its parents (the union of their topological orders)."""
    order: list[Value] = []
    seen: set[Value] = set()
    for out in outputs:
        if out not in seen:
            start = len(order)
            depth_first(out, order.append, order.append, lambda node: [p for p in node.parents if p not in seen])
            seen.update(order[start:])
    return order


def push_forward(order: Sequence[Value], seeds: dict[Value, float]) -> dict[Value, float]:
    """The tangent of every node of `order` (a topological order) whose tangent is not 0, given the
    tangents of some leaves: tangent(node) = sum_i partial_i * tangent(parent_i), by its op's rule."""
    tangent = {leaf: t for leaf, t in seeds.items() if t}
    get = tangent.get
    for node in order:
        parents = node.parents
        if not parents:
            continue
        ts = [get(p, 0.0) for p in parents]
        if not any(ts):  # no tangent reaches it (and an undefined local derivative does not matter)
            continue
        try:
            t = node._op._tangent(node, ts)
        except (ArithmeticError, ValueError) as error:
            add_context(
                error, f"{op_at(node)}: the derivative is not finite or undefined at inputs ({inputs_of(node)})"
            )
            raise
        if not -MAX_FLOAT <= t <= MAX_FLOAT:
            raise OverflowError(f"jvp: the tangent at {describe(node)} is not finite ({t!r})")
        if t:
            tangent[node] = t
    return tangent


def _sequence(xs: Any, what: str, name: str) -> list:
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
        raise TypeError(
            f"jvp: {what} must be a tuple or list with one number per argument of {name}, "
            f"got {type(xs).__name__} ({xs!r:.60}); for one argument write ({xs!r:.20},)"
        )
    return list(xs)


def _tangent(t: object, position: int) -> float:
    if isinstance(t, Value):
        t = t.data
    if isinstance(t, bool) or not isinstance(t, numbers.Real):
        raise TypeError(f"jvp: tangent {position} must be a number, got {type(t).__name__} ({t!r})")
    try:
        x = float(t)
    except OverflowError:  # an int beyond the float range
        x = float("inf")
    if not -MAX_FLOAT <= x <= MAX_FLOAT:
        raise ValueError(f"jvp: tangent {position} must be finite, got {t!r}")
    return x
