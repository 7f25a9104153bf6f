"""Grad mode and data-read watching, per thread, as PyTorch's grad mode is thread-local.

`no_grad()` in one thread turns recording off in that thread only, and a tracer
(`autodiff.compile`) watching one thread's data reads does not see another's.

The engine asks `overridden` before it looks at the thread's own state: it counts
the mode blocks open in any thread, so while it is 0 (the usual case) every thread
records and nothing is watched, and creating a node reads one module attribute.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "no_grad", "enable_grad", "is_grad_enabled", "watching_data_reads", "data_read", "overridden", "state",
    "open_block", "close_block", "in_block",
]  # fmt: skip


class _ThreadState(threading.local):
    enabled = True  # record the graph
    on_data_read: Callable[[str], None] | None = None  # a tracer's callback
    # Hooks of `autodiff.detect_anomaly()` (autodiff/anomaly.py), None outside it: on_new_node(out, parents, op)
    # returns the node to record (one that knows where it was created), check_step(node, grad, partials) checks
    # each step of the backward pass.
    on_new_node: Callable[..., Any] | None = None
    check_step: Callable[..., None] | None = None


state = _ThreadState()
_CO_GENERATOR = 0x20  # inspect.CO_GENERATOR, without importing inspect
overridden = 0  # mode blocks open in any thread; while 0, every thread has the default state
_lock = threading.Lock()


def open_block() -> None:
    """Count a mode block opened in this thread (the engine then asks the thread's own state)."""
    global overridden
    with _lock:
        overridden += 1


def close_block() -> None:
    """Count a mode block closed."""
    global overridden
    with _lock:
        overridden -= 1


@contextmanager
def _overriding() -> Iterator[None]:
    open_block()
    try:
        yield
    finally:
        close_block()


class _GradMode:
    """A `with` block (or a decorator) that turns graph recording off or on in this thread, and restores it after."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        if not self.enabled:
            data_read("no_grad()")  # values computed here would be baked into a compiled program
        open_block()
        # A per-thread stack: one block object may be entered in several threads, or inside itself.
        state.__dict__.setdefault("saved", []).append(state.enabled)
        state.enabled = self.enabled

    def __exit__(self, *exc_info: object) -> None:
        state.enabled = state.saved.pop()
        close_block()

    def __call__(self, fn: Callable) -> Callable:
        """Use as a decorator: `fn` runs in this mode at every call."""
        return in_block(fn, lambda: _GradMode(self.enabled))


def in_block(fn: Callable, block: Callable[[], Any]) -> Callable:
    """`fn` run inside a fresh `block()` at every call. A generator function's body runs in the block
    step by step (as PyTorch's decorators do): the caller's code between two `yield`s stays outside it."""
    if not getattr(getattr(fn, "__code__", None), "co_flags", 0) & _CO_GENERATOR:

        @functools.wraps(fn)
        def in_mode(*args, **kwargs):
            with block():
                return fn(*args, **kwargs)

        return in_mode

    @functools.wraps(fn)
    def in_mode_steps(*args, **kwargs):
        with block():
            steps = fn(*args, **kwargs)
        step, sent = steps.send, None
        while True:
            try:
                with block():
                    item = step(sent)
            except StopIteration as end:
                return end.value
            try:
                sent, step = (yield item), steps.send
            except GeneratorExit:
                with block():
                    steps.close()
                raise
            except BaseException as error:  # thrown in by the caller: passed on to fn's body
                sent, step = error, steps.throw

    return in_mode_steps


def no_grad() -> _GradMode:
    """Inside this block, ops compute values but record no graph (results are leaves), in this thread."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Record the graph inside this block, even within an enclosing `no_grad()`."""
    return _GradMode(True)


def is_grad_enabled() -> bool:
    """False inside `no_grad()` (in this thread)."""
    return not overridden or state.enabled


@contextmanager
def watching_data_reads(callback: Callable[[str], None]) -> Iterator[None]:
    """Call `callback(what)` whenever this thread reads a Value's data as a number
    (a comparison, `bool()`, `float()`, `format()`, `detach()`, entering `no_grad()`), and
    record the graph throughout. `autodiff.compile` uses it to refuse data-dependent branches.
    """
    previous = state.on_data_read, state.enabled
    with _overriding():
        state.on_data_read, state.enabled = callback, True
        try:
            yield
        finally:
            state.on_data_read, state.enabled = previous


def data_read(what: str) -> None:
    """Tell this thread's watcher, if any, that a Value's data is being read through `what`."""
    if overridden and state.on_data_read is not None:
        state.on_data_read(what)
