"""The reverse pass: a topological order, then the chain rule from the root back, in one loop.

`chain_rule` is the whole of backpropagation:

    for node in reversed(order):            # the root first: each node after every node it feeds
        for parent, partial in zip(node.parents, local_partials(node)):
            parent.grad += node.grad * partial

A parent's grad collects one term per edge out of it, so it ends as the sum over every path
to the root: the total derivative. The local derivatives come from each op's `partials`
rule (autodiff/ops.py). Everything else reuses this loop with other arguments:

- `backward(create_graph=True)` runs it with the partials evaluated on Values, so the
  gradients are Values and can be differentiated again;
- `detect_anomaly()` runs it with a check after every step;
- the step-through page and `record_backward` (autodiff/graph/replay.py) run it on
  stand-ins of the nodes and record every `+=`.

A plain `backward()` runs the same steps through code generated from the same rules
(autodiff/specialize.py: for `*`, `x0.grad += grad * d1; x1.grad += grad * d0`), which
is faster than calling a rule per node; the tests check that both give the same floats.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from . import grad_mode, value
from .errors import add_context, check_switch, created_at, inputs_of, op_at
from .numerics import MAX_FLOAT
from .specialize import local_partials
from .value import Constant, Value

__all__ = ["topological_order", "backward", "chain_rule", "local_partials", "depth_first", "describe", "ZERO", "ONE"]


# --- the order: each node after its parents -----------------------------------------------
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
    depth_first(root, order.append, order.append, parents)
    return order


def depth_first(
    root: Value,
    on_node: Callable[[Value], Any],
    on_leaf: Callable[[Value], Any],
    parents_of: Callable[[Value], Sequence[Value]] | None = None,
) -> None:
    """Call on_leaf(node) for each node without parents, and on_node(node) for the others,
    each once, in topological order (the order of `topological_order`).

    One stack: a node is expanded when popped (marked seen, then pushed back under a
    FINISH mark with its unseen parents above it, the last parent on top), and finished
    when the mark comes off the stack, after everything above it. The stack holds only
    nodes and the mark, which the cyclic GC does not track, so a walk down a million-op
    chain does not make it scan the whole graph.
    """
    seen: set[Value] = set()
    mark = seen.add
    stack: list[Any] = [root]
    push, pop = stack.append, stack.pop
    while stack:
        node = pop()
        if node is _FINISH:
            on_node(pop())
            continue
        if node in seen:
            continue
        mark(node)
        op = node._op if parents_of is None else None
        if op is not None:
            # The usual walk, over `node.parents` as the node keeps them: one or two in its slots,
            # others in a tuple (the walk is most of a backward pass, so no tuple is made). The same
            # as the loop below.
            arity = op.arity
            if arity == 1 or arity == 2:
                push(node)
                push(_FINISH)
                parent = node._p0
                if parent not in seen:
                    push(parent)
                if arity == 2:
                    parent = node._p1
                    if parent not in seen:
                        push(parent)
                continue
            push(node)  # an op of any arity: its parents in a tuple (never empty: op() of no Value is a number)
            push(_FINISH)
            for parent in node._p0:
                if parent not in seen:
                    push(parent)
            continue
        parents = parents_of(node) if parents_of is not None else node.parents
        if parents:
            push(node)
            push(_FINISH)
            for parent in parents:
                if parent not in seen:
                    push(parent)
        else:
            on_leaf(node)


_FINISH = object()  # on depth_first's stack: the node under it has every parent listed; list it


# --- the chain rule -------------------------------------------------------------------------
def chain_rule(
    interior: Sequence[Any],
    local_partials: Callable[[Any], Sequence[Any]] = local_partials,
    after_step: Callable[[Any, Any, Sequence[Any]], None] | None = None,
) -> None:
    """Backpropagate: from the root back, each node adds grad × d(node)/d(parent) into each parent's grad.

    `interior` holds the nodes with parents in topological order, and the root's grad is
    its seed. Going through them backwards, a node's grad is complete (every node it feeds
    has added its share) when its turn comes, and passing it on is the chain rule:
    d root/d parent += d root/d node × d node/d parent. Constants (the 2 in `x * 2`) get
    no gradient.

    Args:
        interior: the nodes with parents, each after its parents; the root last.
        local_partials: node -> d(node)/d(parent_i) for each parent, from its op's rule
            (floats by default; Values for a pass that builds a graph).
        after_step: called as after_step(node, grad, partials) once a node has passed its grad
            on: anomaly mode's check, or a recording.
    """
    for node in reversed(interior):
        grad = node.grad
        if is_zero(grad):
            continue  # nothing flows back from here (and an undefined local derivative does not matter)
        try:
            partials = local_partials(node)
            for parent, partial in zip(node.parents, partials):
                if not parent.is_constant:
                    parent.grad += grad * partial
        except (ArithmeticError, ValueError) as error:
            add_context(
                error, f"{op_at(node)}: the derivative is not finite or undefined at inputs ({inputs_of(node)})"
            )
            raise
        if after_step is not None:
            after_step(node, grad, partials)


def _generated_chain_rule(interior: list[Value]) -> None:
    """`chain_rule` on floats, each step by its op's generated code (autodiff/specialize.py), as fast as Python goes."""
    node = None
    try:
        for node in reversed(interior):
            grad = node.grad
            if grad:  # a zero gradient contributes nothing (and skips an undefined local derivative)
                node._op._backward(node, grad)
    except (ArithmeticError, ValueError) as error:
        add_context(error, f"{op_at(node)}: the derivative is not finite or undefined at inputs ({inputs_of(node)})")
        raise


# --- gradients that are Values ----------------------------------------------------------------
class _Zero:
    """No gradient yet, in a pass that builds a graph: adding to it gives the other operand itself, and a
    zero local derivative times any gradient is it, so the gradients' graph holds no `0 + g` or `g * 0`."""

    __slots__ = ()

    def __add__(self, other: Any) -> Any:
        return other

    __radd__ = __add__

    def __rmul__(self, grad: Any) -> _Zero:
        return self

    def __repr__(self) -> str:
        return "ZERO"


class _One:
    """A local derivative of exactly 1, in a pass that builds a graph: grad * ONE is grad itself (no `g * 1`)."""

    __slots__ = ()

    def __rmul__(self, grad: Any) -> Any:
        return grad

    def __repr__(self) -> str:
        return "ONE"


ZERO, ONE = _Zero(), _One()


def is_zero(x: Any) -> bool:
    """Whether a gradient or partial is the number 0 (a Value whose data is 0 is not: its derivative may not be)."""
    return x is ZERO or (type(x) is float and x == 0.0)


def partials_on_values(node: Value) -> tuple:
    """d(node)/d(parent_i) as Values built from the same ops (ValueMath), a partial of 0 or 1 as ZERO or ONE."""
    return tuple(_as_factor(k, partial) for k, partial in enumerate(local_partials(node, on_values=True)))


def _as_factor(position: int, partial: Any) -> Any:
    if type(partial) is not float:
        return partial  # a Value (finite, as every Value is)
    if not -MAX_FLOAT <= partial <= MAX_FLOAT:  # the loop names the op and its inputs in front of this
        raise ValueError(f"d/d(input {position + 1}) = {partial!r}")
    return ONE if partial == 1.0 else ZERO if partial == 0.0 else partial


# --- backward() ---------------------------------------------------------------------------------
def backward(root: Value, gradient: float = 1.0, create_graph: bool = False) -> None:
    """Set every node's `grad` to gradient * d(root)/d(node), summed over every path.

    Leaves accumulate across calls, like PyTorch: each gets this pass's total added to
    what it held. The other nodes hold this pass only, and constants get nothing. If the
    pass fails or is interrupted (a derivative that is not finite, Ctrl-C), every leaf is
    left as it was.
    """
    seed = _checked_seed(gradient)
    check_switch("backward", "create_graph", create_graph)
    interior, leaves = _nodes_of(root)
    held = [leaf.grad for leaf in leaves]
    try:
        _start_pass(interior, leaves, ZERO if create_graph else 0.0)
        root.grad = seed
        if create_graph:
            with grad_mode.enable_grad():  # the gradients' graph is what was asked for, even inside no_grad()
                chain_rule(interior, partials_on_values)
        elif grad_mode.overridden and grad_mode.state.check_step is not None:  # detect_anomaly(): check each step
            chain_rule(interior, after_step=grad_mode.state.check_step)
        else:
            _generated_chain_rule(interior)
        for leaf, total in zip(leaves, _totals(root, leaves, held)):
            leaf.grad = total
    except BaseException:  # an error, or Ctrl-C at any point of the pass
        for leaf, before in zip(leaves, held):
            leaf.grad = before
        raise
    if create_graph:  # every gradient a Value, so that each can be differentiated again
        for node in (*interior, *leaves):
            if not isinstance(node.grad, Value):
                node.grad = Value(float(node.grad) if node.grad is not ZERO else 0.0)


def _nodes_of(root: Value) -> tuple[list[Value], list[Value]]:
    """The nodes with parents in topological order, and the leaves that get a gradient (not constants)."""
    interior: list[Value] = []
    leaves: list[Value] = []
    depth_first(root, interior.append, leaves.append)
    return interior, [leaf for leaf in leaves if type(leaf) is not Constant]


def _start_pass(interior: list[Value], leaves: list[Value], zero: Any) -> None:
    """Set every gradient to `zero` for this pass (the leaves' totals are added to what they held after it)."""
    for node in leaves:
        node.grad = zero
    for node in interior:
        node.grad = zero


def _totals(root: Value, leaves: list[Value], held: list[Any]) -> list[Any]:
    """Each leaf's new grad, this pass's total added to what it held; an error if one is not finite."""
    totals = []
    for leaf, before in zip(leaves, held):
        grad = leaf.grad
        if type(grad) is float and not -MAX_FLOAT <= grad <= MAX_FLOAT:
            raise _not_finite(root)
        if type(before) is float:  # what the leaf held before this pass (0.0: nothing, and the total keeps its sign)
            total = before + grad if before else grad
        else:
            total = grad if before is ZERO else before + grad
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


def describe(node: Value) -> str:
    """`'+' node 'h' (data=2.0)` or `leaf 'x' (data=1.0)`, for error messages; in anomaly mode with
    where the node was created."""
    name = f" {node.label!r}" if node.label else ""
    kind = f"{node.op!r} node" if node.op else "leaf"
    where = created_at(node)
    return f"{kind}{name} (data={node.data!r}){' ' + where if where else ''}"


value.hooks.backward = backward
