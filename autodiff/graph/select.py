"""Which nodes a drawing shows: every node, the ops nearest the root, or neurons as single nodes.

The drawn graph is the computation graph with two changes: a neuron call can stand
for its dot, "+" and activation nodes (its inputs are then the x's), and with a
`depth` the nodes further from the root are left out. Its nodes come in
topological order (the same walk as `autodiff.topological_order`), which gives
them ids that depend only on the graph's structure.
"""

from __future__ import annotations

from collections import deque
from copy import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..backward import topological_order

if TYPE_CHECKING:
    from ..value import Value
    from .modules import NeuronCall

__all__ = ["DrawnNode", "GraphTooLargeError", "select_nodes"]


class GraphTooLargeError(ValueError):
    """A graph has more nodes than `max_nodes` allows."""

    def __init__(self, n_nodes: int, max_nodes: int) -> None:
        self.n_nodes, self.max_nodes = n_nodes, max_nodes
        super().__init__(
            f"draw_dot: the graph has {n_nodes} nodes, more than max_nodes={max_nodes}. "
            f"To draw it: pass depth=N to draw only the N ops nearest the root; for an nn model, "
            f"pass module=model, collapse_neurons=True to draw each neuron as one node; "
            f"or raise max_nodes (max_nodes=None for no limit; layout takes long past a few thousand nodes)."
        )


@dataclass
class DrawnNode:
    """One node of the drawing and the edges into it.

    kind is "value" (a node with its op, if any), "constant" (a number used inside
    an op), "neuron" (a whole neuron call) or "cut" (a node whose inputs lie beyond
    `depth`). `inputs` lists (parent, operand position) pairs; a parent used twice
    appears twice.
    """

    id: str
    node: Value
    kind: str
    inputs: list[tuple[Value, int]]
    call: NeuronCall | None = None


def select_nodes(
    root: Value,
    depth: int | None = None,
    max_nodes: int | None = None,
    calls: dict[Value, NeuronCall] | None = None,
) -> list[DrawnNode]:
    """The nodes to draw, each after the nodes it has edges from; the root last.

    Args:
        root: the output whose graph is drawn.
        depth: draw only the ops at most this many steps from the root (None: all).
        max_nodes: raise GraphTooLargeError if more nodes than this would be drawn.
        calls: neuron calls to draw as single nodes, by their output node.
    """
    calls = calls or {}
    drawn_inputs: dict[Value, tuple[Value, ...]] = {}

    def inputs(node: Value) -> tuple[Value, ...]:
        # The engine shares one constant per number; a drawing shows each use as its own number.
        if node not in drawn_inputs:
            call = calls.get(node)
            parents = call.inputs if call is not None else node.parents
            drawn_inputs[node] = tuple(copy(p) if p.is_constant else p for p in parents)
        return drawn_inputs[node]

    distance = _distances(root, inputs, depth) if depth is not None else None

    def expanded(node: Value) -> bool:
        return distance is None or distance[node] < depth

    # The walk takes parents last first; given them reversed, it lists inputs first first, so a
    # drawing shows x1 above x2 in x1 * x2, and a neuron's inputs in their order.
    order = topological_order(root, lambda node: inputs(node)[::-1] if expanded(node) else ())
    if max_nodes is not None and len(order) > max_nodes:
        raise GraphTooLargeError(len(order), max_nodes)
    drawn = []
    for i, node in enumerate(order):
        call = calls.get(node)
        if not node.parents:
            kind = "constant" if node.is_constant else "value"
        elif not expanded(node):
            kind = "cut"
        else:
            kind = "neuron" if call is not None else "value"
        edges = [(parent, k) for k, parent in enumerate(inputs(node))] if kind in ("value", "neuron") else []
        drawn.append(DrawnNode(f"n{i}", node, kind, edges, call if kind == "neuron" else None))
    return drawn


def _distances(root: Value, inputs, depth: int) -> dict[Value, int]:
    """The number of ops between each node and the root, up to `depth` (breadth-first)."""
    distance = {root: 0}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        d = distance[node]
        if d == depth:
            continue
        for parent in inputs(node):
            if parent not in distance:
                distance[parent] = d + 1
                queue.append(parent)
    return distance
