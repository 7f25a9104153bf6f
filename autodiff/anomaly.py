"""Anomaly mode: nodes that know where they were created, so a failing backward names the line.

    with autodiff.detect_anomaly():
        loss = compute_loss(x)
        loss.backward()

Inside the block each new node records the innermost frame of your code that created it
(file, line and function, not the engine's: `autodiff.frames.user_site`), and `backward`
checks every step of the chain rule. The first op whose local derivative is not finite or
undefined, or whose share of a gradient overflows, raises its usual error, naming the op
and that place:

    OverflowError: `log` created at train.py:42 in loss: the derivative is not finite at inputs (5e-324)

PyTorch's anomaly mode is the model; on scalars it can say exactly which op. Outside the
block nothing is recorded or checked: creating a node does not reach this module while no
mode block is open in any thread (`grad_mode.overridden` is 0), so it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import grad_mode
from .errors import created_at, inputs_of, op_at
from .frames import user_site
from .numerics import MAX_FLOAT
from .ops import Op
from .value import Value, link

if TYPE_CHECKING:
    import traceback

__all__ = ["detect_anomaly", "is_anomaly_enabled", "creation_site", "created_at", "op_at", "LocatedValue"]


class LocatedValue(Value):
    """A node made in anomaly mode: a Value that also holds where your code created it."""

    __slots__ = ("site",)


class detect_anomaly:  # noqa: N801 - a context manager named as PyTorch's (and as no_grad)
    """Inside this block (in this thread), nodes record where they are created and backward checks
    each step, so an error names the op and the line of your code that made it.

    Also usable as a decorator (`@autodiff.detect_anomaly()`).
    """

    def __enter__(self) -> None:
        grad_mode.open_block()
        state = grad_mode.state
        state.__dict__.setdefault("anomaly_saved", []).append((state.on_new_node, state.check_step))
        state.on_new_node, state.check_step = located, check_step

    def __exit__(self, *exc_info: object) -> None:
        state = grad_mode.state
        state.on_new_node, state.check_step = state.anomaly_saved.pop()
        grad_mode.close_block()

    def __call__(self, fn: Callable) -> Callable:
        return grad_mode.in_block(fn, detect_anomaly)


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly()` (in this thread)."""
    return bool(grad_mode.overridden and grad_mode.state.on_new_node is located)


def located(out: Value, parents: tuple[Value, ...], op: Op) -> LocatedValue:
    """The node `out` of `op`, remade as one that knows where it was created (the node hook of `value.record`)."""
    node = _new(LocatedValue)
    node.data = out.data
    node.grad = 0.0
    node.label = ""
    link(node, parents, op)
    node.site = user_site()  # (file, line, function)
    return node


def creation_site(node: Value) -> traceback.FrameSummary | None:
    """Where a node made in anomaly mode was created (filename, lineno, name); None for other nodes."""
    import traceback

    site = getattr(node, "site", None)
    return None if site is None else traceback.FrameSummary(*site)


def check_step(node: Value, grad: float, partials: Any) -> None:
    """The check after each step of the chain rule in anomaly mode: the first op whose local derivative
    is not finite, or whose contribution made a gradient not finite, raises an error naming it (and
    where it was created)."""
    for position, (parent, partial) in enumerate(zip(node.parents, partials)):
        total = parent.grad
        if parent.is_constant or -MAX_FLOAT <= total <= MAX_FLOAT:
            continue
        if not -MAX_FLOAT <= partial <= MAX_FLOAT:
            raise OverflowError(
                f"{op_at(node)}: the derivative is not finite at inputs ({inputs_of(node)}): "
                f"d/d(input {position + 1}) = {partial!r}"
            )
        raise OverflowError(
            f"{op_at(node)}: its share (its gradient {grad!r} times the local derivative {partial!r}) made the "
            f"gradient of its input {position + 1} not finite ({total!r})"
        )


inputs = inputs_of  # the name earlier releases had
_new = object.__new__
