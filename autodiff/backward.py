"""The reverse pass: a topological order, then the chain rule from the root back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .numerics import MAX_FLOAT, FloatMath, ValueMath

if TYPE_CHECKING:
    from .value import Value

__all__ = ["topological_order", "backward"]


def topological_order(root: Value) -> list[Value]:
    """Every node `root` depends on, each after all of its parents; `root` is last.

    An iterative depth-first walk, so graphs of any depth are fine. A node stays
    on the stack until its parents are finished, first parent first; then it is
    appended. So `x1 * x2` lists x1's subgraph before x2's, and a neuron's inputs
    come in their order.
    """
    order = []
    expanded = set()
    finished = set()
    stack = [root]
    while stack:
        node = stack[-1]
        if node in expanded:
            stack.pop()
            if node not in finished:  # a node can be pushed by several children
                finished.add(node)
                order.append(node)
            continue
        expanded.add(node)
        for parent in reversed(node.parents):  # reversed: the first parent is finished first
            if parent not in expanded:
                stack.append(parent)
    return order


def backward(root: Value, create_graph: bool = False) -> None:
    """Set every node's `grad` to d(root)/d(node), summed over every path.

    Leaves accumulate (`+=`) across calls, like PyTorch; the other nodes are
    reset first, so they hold this pass only. If the pass fails (a derivative
    that is not finite), the leaves' gradients are left as they were before it.
    """
    order = topological_order(root)
    leaves = []
    for node in order:
        if not node.parents:
            leaves.append((node, node.grad))
        node.grad = 0.0
    root.grad = 1.0
    try:
        if create_graph:
            from .value import enable_grad

            with enable_grad():  # the gradients' graph is what was asked for, even inside no_grad()
                _backward_building_graph(order)
        else:
            _backward_floats(order)
        # This pass's total, added to what each leaf held before, as PyTorch accumulates.
        totals = [leaf.grad if _is_zero(previous) else previous + leaf.grad for leaf, previous in leaves]
        for (leaf, _), total in zip(leaves, totals):
            if isinstance(total, float) and not -MAX_FLOAT <= total <= MAX_FLOAT:
                raise OverflowError(f"backward: the accumulated gradient at {_describe(leaf)} is not finite")
    except BaseException:
        for leaf, previous in leaves:
            leaf.grad = previous
        raise
    for (leaf, _), total in zip(leaves, totals):
        leaf.grad = total


def _backward_floats(order: list[Value]) -> None:
    for node in reversed(order):
        grad = node.grad
        if not -MAX_FLOAT <= grad <= MAX_FLOAT:
            raise OverflowError(f"backward: the gradient at {_describe(node)} is not finite ({grad!r})")
        parents = node.parents
        if not parents or grad == 0.0:  # a zero gradient contributes nothing
            continue
        try:
            partials = node._op.partials(FloatMath, node.data, *[p.data for p in parents])
        except (ArithmeticError, ValueError) as error:
            raise _undefined_derivative(node, error) from error
        for parent, partial in zip(parents, partials):
            parent.grad += grad * partial


def _backward_building_graph(order: list[Value]) -> None:
    # The same rules, evaluated on Values: each contribution grad * partial is a new node.
    from .value import Value

    for node in reversed(order):
        parents = node.parents
        grad = node.grad
        if not parents or _is_zero(grad):  # a zero gradient contributes nothing
            continue
        try:
            partials = node._op.partials(ValueMath, node, *parents)
            for parent, partial in zip(parents, partials):
                if _is_zero(partial):  # relu below 0, the losing side of max: no path, no node
                    continue
                contribution = grad if _is_one(partial) else grad * partial
                previous = parent.grad
                parent.grad = contribution if _is_zero(previous) else previous + contribution
        except (ArithmeticError, ValueError) as error:
            raise _undefined_derivative(node, error) from error
    for node in order:
        if not isinstance(node.grad, Value):
            node.grad = Value(node.grad)


def _is_one(x: object) -> bool:
    return isinstance(x, float) and x == 1.0


def _is_zero(x: object) -> bool:
    return isinstance(x, float) and x == 0.0


def _describe(node: Value) -> str:
    name = f" {node.label!r}" if node.label else ""
    kind = f"{node.op!r} node" if node.op else "leaf"
    return f"{kind}{name} (data={node.data!r})"


def _undefined_derivative(node: Value, error: Exception) -> Exception:
    inputs = ", ".join(repr(p.data) for p in node.parents[:4]) + (", ..." if len(node.parents) > 4 else "")
    return type(error)(f"{node.op}: the derivative is not finite or undefined at inputs ({inputs}): {error}")
