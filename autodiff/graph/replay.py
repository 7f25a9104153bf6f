"""A record of one backward pass: every node in the order backward() visits it, and every `+=` it makes.

The recorder runs backward()'s own loop, `autodiff.backward.chain_rule`, on stand-ins
of the nodes: each stand-in has a gradient of its own (so the graph's `.grad` stay as
they are) that notes every `+=` made to it. The loop starts every gradient at 0,
seeds the root with 1, visits the nodes in reverse topological order, and a visited
node with a nonzero gradient adds grad × local derivative to each parent's gradient
(constants, the numbers inside ops, get none), with the local derivatives of the op
table, as backward() does. So every number recorded is the float that backward()
computes, and the final gradients equal backward()'s exactly: for a leaf, those of one
pass from zero (a leaf's `.grad` also accumulates over several backward() calls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backward import chain_rule, topological_order
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
    added: list[tuple[float, float]] = []  # (before, after) of each `+=` of the step under way
    stand_in = {node: _StandIn(node, added) for node in order}
    for node in order:
        stand_in[node].parents = tuple(stand_in[parent] for parent in node.parents)
    stand_in[root].grad = 1.0
    added.clear()
    updates: dict[Value, tuple[Update, ...]] = {}

    def note_step(visited: _StandIn, grad: float, partials: tuple[float, ...]) -> None:
        steps = iter(added)
        updates[visited.node] = tuple(
            Update(parent.node, position, grad, partial, grad * partial, *next(steps))
            for position, (parent, partial) in enumerate(zip(visited.parents, partials))
            if not parent.is_constant
        )
        added.clear()

    try:
        chain_rule([stand_in[node] for node in order if node.parents], _checked_partials, after_step=note_step)
    except _NotFinite as error:
        raise OverflowError(
            f"backward: the gradient at {_name(error.args[0])} is not finite ({error.args[1]!r})"
        ) from None
    grads = {node: stand_in[node].grad for node in order}
    visits = tuple(Visit(node, grads[node], updates.get(node, ())) for node in reversed(order))
    for visit in visits:  # a leaf whose gradient is not finite: backward() refuses it too
        if not math.isfinite(visit.grad):
            raise OverflowError(f"backward: the gradient at {_name(visit.node)} is not finite ({visit.grad!r})")
    return BackwardRecord(root, tuple(order), visits, grads)


class _NotFinite(Exception):
    """A visited node's gradient is not finite (raised past the loop's own error handling, then reported)."""


class _StandIn:
    """A node's place in a recorded pass: the stand-ins of its parents, and a gradient of its own; each
    `+=` to that gradient notes (before, after) in the list `added`."""

    __slots__ = ("node", "parents", "is_constant", "_grad", "_added")

    def __init__(self, node: Value, added: list[tuple[float, float]]) -> None:
        self.node = node  # what an error names: its op, its inputs' data
        self.parents: tuple[_StandIn, ...] = ()
        self.is_constant = node.is_constant
        self._grad = 0.0
        self._added = added

    @property
    def grad(self) -> float:
        return self._grad

    @property
    def op(self) -> str:
        return self.node.op

    @property
    def data(self) -> float:
        return self.node.data

    @property
    def site(self) -> tuple | None:
        return getattr(self.node, "site", None)

    @grad.setter
    def grad(self, after: float) -> None:
        self._added.append((self._grad, after))
        self._grad = after


def _checked_partials(visited: _StandIn) -> tuple[float, ...]:
    """The local derivatives of a visited node, from the op table; an error where the pass cannot go on."""
    node, grad = visited.node, visited.grad
    if not math.isfinite(grad):
        raise _NotFinite(node, grad)
    partials = local_partials(node)
    for position, partial in enumerate(partials):
        if math.isnan(partial):  # the loop names the op and its inputs in front of this
            raise ValueError(f"d/d(input {position + 1}) is undefined")
    return partials


def _name(node: Value) -> str:
    kind = f"{node.op!r} node" if node.op else "leaf"
    return f"{kind} {describe(node)!r} (data={node.data!r})"
