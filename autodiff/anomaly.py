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

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import grad_mode
from .errors import add_context
from .frames import user_site
from .numerics import MAX_FLOAT, FloatMath
from .ops import Op
from .value import Constant, Value

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
        grad_mode.state.__dict__.setdefault("anomaly_saved", []).append(grad_mode.state.anomaly)
        grad_mode.state.anomaly = True

    def __exit__(self, *exc_info: object) -> None:
        grad_mode.state.anomaly = grad_mode.state.anomaly_saved.pop()
        grad_mode.close_block()

    def __call__(self, fn: Callable) -> Callable:
        return grad_mode.in_block(fn, detect_anomaly)


def is_anomaly_enabled() -> bool:
    """True inside `detect_anomaly()` (in this thread)."""
    return bool(grad_mode.overridden and grad_mode.state.anomaly)


def located(out: Value, parents: tuple[Value, ...], op: Op) -> LocatedValue:
    """The node `out` of `op`, remade as one that knows where it was created (called by `value.record`)."""
    node = _new(LocatedValue)
    node.data = out.data
    node.grad = 0.0
    node.label = ""
    node.parents = parents
    node._op = op
    node.site = user_site()  # (file, line, function)
    return node


def creation_site(node: Value) -> traceback.FrameSummary | None:
    """Where a node made in anomaly mode was created (filename, lineno, name); None for other nodes."""
    import traceback

    site = getattr(node, "site", None)
    return None if site is None else traceback.FrameSummary(*site)


def op_at(node: Value) -> str:
    """The node's op for an error message: "`log` created at train.py:42 in loss" in anomaly mode, else "log"."""
    where = created_at(node)
    return f"`{node.op}` {where}" if where else node.op


def created_at(node: Value) -> str:
    """Where a node made in anomaly mode was created, "created at train.py:42 in loss"; "" for other nodes."""
    site = getattr(node, "site", None)
    if site is None:
        return ""
    filename, line, function = site
    return f"created at {_path(filename)}:{line} in {function}"


def _path(filename: str) -> str:
    """The file relative to the current folder when it is inside it, else as recorded."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive, on Windows
        return filename
    return filename if relative.startswith(os.pardir) else relative


def chain_rule_checked(interior: list[Value]) -> None:
    """backward's chain rule, checking each step: the first op whose local derivative is not finite,
    or whose contribution to a gradient is not, raises an error naming it (and where it was created)."""
    for node in reversed(interior):
        grad = node.grad
        if not grad:
            continue
        try:
            node._op._backward(node, grad)
        except (ArithmeticError, ValueError) as error:
            add_context(error, f"{op_at(node)}: the derivative is not finite or undefined at inputs ({inputs(node)})")
            raise
        for position, parent in enumerate(node.parents):
            g = parent.grad
            if type(parent) is not Constant and not -MAX_FLOAT <= g <= MAX_FLOAT:
                raise _not_finite_step(node, position, grad, g)


def _not_finite_step(node: Value, position: int, grad: float, total: float) -> OverflowError:
    """The error for a step whose contribution to input `position` made its gradient inf or nan."""
    try:
        partials = node._op.partials(FloatMath, node.data, *[p.data for p in node.parents])
        partial: Any = float(partials[position])
    except Exception:  # noqa: BLE001 - only for the message: the step itself has already failed
        partial = None
    if partial is not None and not -MAX_FLOAT <= partial <= MAX_FLOAT:
        return OverflowError(
            f"{op_at(node)}: the derivative is not finite at inputs ({inputs(node)}): "
            f"d/d(input {position + 1}) = {partial!r}"
        )
    shown = "" if partial is None else f" (its gradient {grad!r} times the local derivative {partial!r})"
    return OverflowError(
        f"{op_at(node)}: its share{shown} made the gradient of its input {position + 1} not finite ({total!r})"
    )


def inputs(node: Value) -> str:
    """The data of a node's first inputs, for error messages."""
    return ", ".join(repr(p.data) for p in node.parents[:4]) + (", ..." if len(node.parents) > 4 else "")


_new = object.__new__
