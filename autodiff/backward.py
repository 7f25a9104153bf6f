"""The reverse pass: a topological order, then the chain rule from the root back."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from . import grad_mode
from .errors import add_context
from .numerics import MAX_FLOAT
from .value import Constant, Value

__all__ = ["topological_order", "backward"]


_PARENTS = attrgetter("parents")


def topological_order(root: Value, parents: Callable[[Value], Sequence[Value]] | None = None) -> list[Value]:
    """Every node `root` depends on, each after all of its parents; `root` is last.

    A depth-first walk, iterative, so graphs of any depth are fine. A node is listed
    once all its parents are, and the parents are walked last one first: `x1 * x2`
    lists x2's subgraph before x1's. So backward(), which goes through this list from
    the end, reads an expression from the root the way it is written, first operand
    first: in ln(x1) + x1*x2 it visits ln(x1) before x1*x2.

    Args:
        root: the output.
        parents: the edges to follow, `node -> its parents` (default: `node.parents`); the
            graph drawing walks a neuron call's inputs, and stops where a drawing is cut.
    """
    order: list[Value] = []
    depth_first(root, order.append, order.append, parents or _PARENTS)
    return order


def depth_first(
    root: Value,
    on_node: Callable[[Value], Any],
    on_leaf: Callable[[Value], Any],
    parents_of: Callable[[Value], Sequence[Value]] = _PARENTS,
) -> None:
    """Call on_leaf(node) for each node without parents, and on_node(node) for the others,
    each once, in topological order (the order of `topological_order`).

    A node is popped twice: first to expand it (it goes back on the stack, finishing
    this time, with its parents above it, the last parent on top), then to finish it.
    The stack holds only nodes and booleans, which the cyclic GC does not track, so a
    walk down a million-op chain does not make it scan the whole graph.
    """
    seen: set[Value] = set()
    mark = seen.add
    stack = [root]
    push, pop = stack.append, stack.pop
    expanding = [True]
    push_mode, pop_mode = expanding.append, expanding.pop
    while stack:
        node = pop()
        if not pop_mode():
            on_node(node)
        elif node not in seen:
            mark(node)
            parents = parents_of(node)
            if parents:
                push(node)
                push_mode(False)
                for parent in parents:
                    if parent not in seen:
                        push(parent)
                        push_mode(True)
            else:
                on_leaf(node)


def backward(root: Value, gradient: float = 1.0, create_graph: bool = False) -> None:
    """Set every node's `grad` to gradient * d(root)/d(node), summed over every path.

    Leaves accumulate across calls, like PyTorch: each gets this pass's total added to
    what it held. The other nodes hold this pass only, and constants get nothing. If the
    pass fails (a derivative that is not finite), every leaf is left as it was.
    """
    seed = _checked_seed(gradient)
    interior, leaves = _nodes_of(root)
    held = _start_pass(interior, leaves)
    root.grad = seed
    try:
        if create_graph:
            from .higher_order import chain_rule_building_graph

            chain_rule_building_graph(interior, leaves)
        elif grad_mode.overridden and grad_mode.state.anomaly:  # detect_anomaly(): check every step
            from .anomaly import chain_rule_checked

            chain_rule_checked(interior)
        else:
            _chain_rule(interior)
        totals = _totals(root, leaves, held)
    except BaseException:
        for leaf, before in zip(leaves, held):
            leaf.grad = before
        raise
    for leaf, total in zip(leaves, totals):
        leaf.grad = total


def _nodes_of(root: Value) -> tuple[list[Value], list[Value]]:
    """The nodes with parents in topological order, and the leaves that get a gradient (not constants)."""
    interior: list[Value] = []
    leaves: list[Value] = []
    depth_first(root, interior.append, leaves.append)
    return interior, [leaf for leaf in leaves if type(leaf) is not Constant]


def _start_pass(interior: list[Value], leaves: list[Value]) -> list[Any]:
    """Set every gradient to 0 for this pass; return what the leaves held, to add to (or restore)."""
    held = [leaf.grad for leaf in leaves]
    for node in leaves:
        node.grad = 0.0
    for node in interior:
        node.grad = 0.0
    return held


def _chain_rule(interior: list[Value]) -> None:
    """From the root back: each node adds grad * d(node)/d(parent) to each parent's grad (its op's backward step)."""
    node = None
    try:
        for node in reversed(interior):
            grad = node.grad
            if grad:  # a zero gradient contributes nothing (and skips an undefined local derivative)
                node._op._backward(node, grad)
    except (ArithmeticError, ValueError) as error:
        from .anomaly import inputs, op_at

        add_context(error, f"{op_at(node)}: the derivative is not finite or undefined at inputs ({inputs(node)})")
        raise


def _totals(root: Value, leaves: list[Value], held: list[Any]) -> list[Any]:
    """Each leaf's new grad, this pass's total added to what it held; an error if one is not finite."""
    totals = []
    for leaf, before in zip(leaves, held):
        grad = leaf.grad
        if type(grad) is float and not -MAX_FLOAT <= grad <= MAX_FLOAT:
            raise _not_finite(root)
        total = grad if _is_zero(before) else before + grad
        if isinstance(total, float) and not -MAX_FLOAT <= total <= MAX_FLOAT:
            raise OverflowError(f"backward: the accumulated gradient at {describe(leaf)} is not finite")
        totals.append(total)
    return totals


def _not_finite(root: Value) -> OverflowError:
    """The error for a pass whose gradients overflowed: it names the first node, from the root back,
    whose gradient was not finite (every node after it in the pass got a non-finite share of it)."""
    node = next(
        node
        for node in reversed(topological_order(root))
        if isinstance(node.grad, float) and not -MAX_FLOAT <= node.grad <= MAX_FLOAT
    )  # there is one: the leaf whose total was found not finite (a constant's grad is always 0.0)
    return OverflowError(f"backward: the gradient at {describe(node)} is not finite ({node.grad!r})")


def _checked_seed(gradient: object) -> float:
    if isinstance(gradient, bool):  # backward(True) meant create_graph=True, which comes second
        raise TypeError(f"backward: gradient must be a number, got bool ({gradient!r}); pass create_graph=True by name")
    if not isinstance(gradient, numbers.Real):
        raise TypeError(f"backward: gradient must be a number, got {type(gradient).__name__} ({gradient!r})")
    try:
        seed = float(gradient)
    except OverflowError:
        seed = math.inf
    if not -MAX_FLOAT <= seed <= MAX_FLOAT:
        raise ValueError(f"backward: gradient must be a finite number, got {gradient!r}")
    return seed


def _is_zero(x: object) -> bool:
    return isinstance(x, float) and x == 0.0


def describe(node: Value) -> str:
    """`'+' node 'h' (data=2.0)` or `leaf 'x' (data=1.0)`, for error messages; in anomaly mode with
    where the node was created."""
    from .anomaly import created_at

    name = f" {node.label!r}" if node.label else ""
    kind = f"{node.op!r} node" if node.op else "leaf"
    where = created_at(node)
    return f"{kind}{name} (data={node.data!r}){' ' + where if where else ''}"
