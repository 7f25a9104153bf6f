"""Tracing: run a function once on Values and flatten the graph it builds into a Program."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..backward import topological_order
from ..frames import user_frame
from ..grad_mode import watching_data_reads
from ..ops import Op
from ..value import Value, constant

__all__ = ["Program", "TracingError", "trace"]


class TracingError(RuntimeError):
    """The traced function did something a straight-line program cannot replay."""


@dataclass(frozen=True)
class Program:
    """A traced computation: slots in topological order, one op each.

    Slot k is a leaf (an input, a parameter or a constant) or `ops[k]` applied to
    the slots `parents[k]`. `inputs[i]` is the slot of input i and `params[j]` that
    of parameter j (None when the function does not use it).
    """

    ops: tuple[Op | None, ...]
    parents: tuple[tuple[int, ...], ...]
    inputs: tuple[int | None, ...]
    params: tuple[int | None, ...]
    constants: tuple[tuple[int, float], ...]
    output: int
    aux: tuple[int, ...] = ()  # slots reported beside the output, not differentiated

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def n_ops(self) -> int:
        return sum(op is not None for op in self.ops)


def trace(
    fn: Callable[..., Value],
    example_inputs: Sequence[float],
    params: Sequence[Value] | None,
    name: str,
    has_aux: bool = False,
) -> tuple[Program, tuple[Value, ...], bool]:
    """Run `fn` on one Value per example input; return its Program, the parameters, and
    whether the aux values came as a list.

    Leaves that `fn` captures from outside (neither inputs nor constants) are
    parameters: their `.data` is read at every call. With `params=None` they are
    found in the graph, in topological order; otherwise the given ones come first,
    in the given order (each once), and any other captured leaf follows them. With `has_aux`,
    `fn` returns (output, aux): aux is a Value or a list of Values to report too.
    """
    inputs = [Value(x, label=f"x{i}") for i, x in enumerate(example_inputs)]
    with watching_data_reads(_refuse_branch(name)):
        out = fn(*inputs)
    aux: list[Value] = []
    aux_is_list = False
    if has_aux:
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"compile: with has_aux, {name} must return (output, aux), got {out!r}")
        out, extra = out
        aux_is_list = isinstance(extra, (list, tuple))
        extra = extra if aux_is_list else [extra]
        aux = [x if isinstance(x, Value) else constant(x, "compile") for x in extra]
    if not isinstance(out, Value):
        raise TypeError(f"compile: {name} must return a Value, got {type(out).__name__} ({out!r})")

    order = topological_order(out)
    slot = {node: k for k, node in enumerate(order)}
    for node in aux:  # aux nodes the output does not depend on: their subgraphs come after
        for extra_node in topological_order(node):
            if extra_node not in slot:
                slot[extra_node] = len(order)
                order.append(extra_node)
    input_set = set(inputs)
    declared = [] if params is None else _listed(params)
    position: dict[Value, int] = {}
    for j, p in enumerate(declared):
        if not isinstance(p, Value):
            raise TypeError(f"compile: params must be Values, got {type(p).__name__} ({p!r})")
        if p.parents or p.is_constant:
            raise ValueError(f"compile: params must be leaves (Values without parents), got {p!r}")
        if p in position:  # which of the two positions would get its gradient?
            raise ValueError(f"compile: params[{position[p]}] and params[{j}] are the same Value ({p!r})")
        position[p] = j
    ops, parents, leaves = _flattened(order, slot)
    captured = [n for _, n in leaves if not n.is_constant and n not in input_set]
    known = set(declared)
    all_params = tuple(declared + [n for n in captured if n not in known])

    return (
        Program(
            ops=ops,
            parents=parents,
            inputs=tuple(slot.get(x) for x in inputs),
            params=tuple(slot.get(p) for p in all_params),
            constants=tuple((k, n.data) for k, n in leaves if n.is_constant),
            output=slot[out],
            aux=tuple(slot[x] for x in aux),
        ),
        all_params,
        aux_is_list,
    )


def _flattened(order: list[Value], slot: dict[Value, int]) -> tuple[tuple, tuple, list[tuple[int, Value]]]:
    """Each node's op and parents' slots, in one pass over the nodes; and the leaves with their slots."""
    ops, parents, leaves = [], [], []
    slot_of = slot.__getitem__
    for k, node in enumerate(order):
        node_parents = node.parents
        ops.append(node.primitive)
        parents.append(tuple(map(slot_of, node_parents)))
        if not node_parents:
            leaves.append((k, node))
    return tuple(ops), tuple(parents), leaves


def _listed(params: object) -> list:
    """`params` as a list, or a TypeError that says what it should be."""
    if isinstance(params, Value):
        raise TypeError(f"compile: params must be a list of Values, got one Value ({params!r}): pass params=[it]")
    try:
        return list(params)
    except TypeError:
        raise TypeError(f"compile: params must be a list of Values, got {type(params).__name__} ({params!r})") from None


def _refuse_branch(name: str) -> Callable[[str], None]:
    def refuse(what: str) -> None:
        frame = user_frame()
        where = f" at {frame.filename}:{frame.lineno} ({frame.line})" if frame else ""
        raise TracingError(
            f"compile: {name} reads a Value's data through {what}{where} while being traced. "
            "A compiled program replays the path taken now for every input, so a branch on data "
            "(or a value cut from the graph) would be silently baked in. Use Value.max/min/relu/abs "
            "for data-dependent choices, or run this function eagerly."
        )

    return refuse
