"""A record of one backward pass: every node in the order backward() visits it, and every `+=` it makes.

The recorder repeats the float pass of `Value.backward()` step for step, on a
dict of its own instead of the nodes' `.grad`: start every gradient at 0, seed
the root with 1, then visit the nodes in reverse topological order (the order of
`autodiff.topological_order`); a visited node with a nonzero gradient adds
grad × local derivative to each parent's gradient (constants, the numbers inside
ops, get none). Its local derivatives come
from the op table (`local_partials`), as backward()'s do, so every number it
records is the float that backward() computes, and its final gradients equal
backward()'s exactly: for a leaf, those of one pass from zero (a leaf's `.grad`
also accumulates over several backward() calls). Nothing in the graph changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backward import topological_order
from .explain import local_partials
from .format import describe

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["Update", "Visit", "BackwardRecord", "record_backward"]


@dataclass(frozen=True)
class Update:
    """One `parent.grad += grad * partial` of the pass: the term one edge adds to its parent's gradient."""

    parent: Value
    position: int  # which operand of the visited node the parent is (0-based)
    upstream: float  # the visited node's grad
    partial: float  # d(visited node)/d(operand `position`)
    term: float  # upstream * partial, the amount added
    before: float  # the parent's grad before the addition
    after: float  # ... and after it

    @property
    def edge(self) -> tuple[Value, int]:
        return self.parent, self.position


@dataclass(frozen=True)
class Visit:
    """backward() at one node: its gradient, now complete, and what it adds to its parents' gradients.

    A leaf has no parents, and a node whose gradient is 0 passes nothing back
    (backward() skips it): both have no updates.
    """

    node: Value
    grad: float
    updates: tuple[Update, ...]

    @property
    def skipped(self) -> bool:
        """Whether the node has parents but its gradient is 0, so backward() passes nothing back from it."""
        return bool(self.node.parents) and self.grad == 0.0


@dataclass(frozen=True)
class BackwardRecord:
    """One backward pass from `root`, from zero: the nodes in topological order and one visit per node."""

    root: Value
    order: tuple[Value, ...]  # each node after its parents; the root last
    visits: tuple[Visit, ...]  # in the order backward() visits the nodes: reversed(order)
    grads: dict[Value, float]  # every node's gradient at the end of the pass

    def terms(self, node: Value) -> list[Update]:
        """The additions to `node`'s gradient, in the order the pass made them (one per edge out of it)."""
        return [u for visit in self.visits for u in visit.updates if u.parent is node]


def record_backward(root: Value) -> BackwardRecord:
    """Record the float backward pass from `root`, as `root.backward()` computes it, without changing any `.grad`.

    Raises the errors backward() raises: OverflowError where a gradient is not
    finite, ValueError where a local derivative is undefined (e.g. sqrt at 0).
    """
    from ..value import Value

    if not isinstance(root, Value):
        raise TypeError(f"record_backward: root must be a Value, got {type(root).__name__} ({root!r:.60})")
    order = topological_order(root)
    grads = dict.fromkeys(order, 0.0)
    grads[root] = 1.0
    visits = []
    for node in reversed(order):
        grad = grads[node]
        if not math.isfinite(grad):
            raise OverflowError(f"backward: the gradient at {_name(node)} is not finite ({grad!r})")
        if not node.parents or grad == 0.0:  # as backward(): a zero gradient contributes nothing
            visits.append(Visit(node, grad, ()))
            continue
        partials = local_partials(node)
        if any(math.isnan(p) for p in partials):
            inputs = ", ".join(repr(p.data) for p in node.parents[:4]) + (", ..." if len(node.parents) > 4 else "")
            raise ValueError(f"{node.op}: the derivative is not finite or undefined at inputs ({inputs})")
        updates = []
        for position, (parent, partial) in enumerate(zip(node.parents, partials)):
            if parent.is_constant:  # as backward(): a number inside an op gets no gradient
                continue
            before = grads[parent]
            term = grad * partial
            grads[parent] = after = before + term  # backward()'s parent.grad += grad * partial
            updates.append(Update(parent, position, grad, partial, term, before, after))
        visits.append(Visit(node, grad, tuple(updates)))
    return BackwardRecord(root, tuple(order), tuple(visits), grads)


def _name(node: Value) -> str:
    kind = f"{node.op!r} node" if node.op else "leaf"
    return f"{kind} {describe(node)!r} (data={node.data!r})"
