"""Running the lines of `batch_source.write` as steps: no function of them all to compile.

Compiling one Python function of every line costs more than a thousand runs of it on a graph
of ten thousand nodes (Python compiles about 25,000 lines a second). The lines come in
chunks, one per group and pass, and a chunk differs from most others only in the arrays it
names: `np_multiply(g7_8, v3_4, out=g2_3)` and `np_multiply(g9_10, v5_6, out=g4_5)` are one
function of three arrays. So each chunk becomes a small function of the arrays it names,
compiled once per distinct text (and cached), and a call of the batch is a loop over such
functions, each bound once per set of arrays to its own (the views of rows of V and G): a
call passes nothing. A small program (a dense network, say) is one step: a call per chunk would cost
more than compiling its few lines together.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

from ..namespace import FUNCTIONS
from .batch_source import NUMPY_NAMES, Function, Written
from .numpy_math import NumpyMath

__all__ = ["binders"]

Step = tuple[Callable[..., Callable[[], None]], tuple[str, ...]]
WHOLE_LINES = 500  # a function of at most this many lines runs as one step: compiling it costs little

_NAME = re.compile(r"((?<![\w.])[A-Za-z_]\w*)")
_ASSIGNED = re.compile(r"([A-Za-z_]\w*) = ")
_GLOBALS: dict[str, Any] = {"np": np, "m": NumpyMath}
_GLOBALS.update({f"m_{name}": getattr(NumpyMath, name) for name in FUNCTIONS if hasattr(NumpyMath, name)})
_GLOBALS.update({name: eval(expression, {"np": np}) for name, expression in NUMPY_NAMES.items()})  # noqa: S307


def binders(written: Written) -> tuple[Any, Any, Any]:
    """(bind_shared_forward, bind_block, bind_shared_backward), as the source of `batch_source.generate`
    makes them: each takes a set of arrays and returns the function to call on them. The block function's
    `reset()` sets its constant rows again, after arrays of another width (the same numbers) ran."""
    bound = {f"k{i}": value for i, value in enumerate(written.bound)}
    shared_forward = _binder(written.shared_forward, bound)
    block = _binder(written.block, bound, inputs=written.inputs)
    shared_backward = written.shared_backward and _binder(written.shared_backward, bound)
    return shared_forward, block, shared_backward


def _binder(function: Function, bound: dict[str, Any], inputs: str | None = None) -> Callable[..., Any]:
    arrays = [name.strip() for name in function.arrays.split(",")]
    make_views = _views(function.views, function.arrays)
    reset = _views(function.resets, function.arrays)
    static = set(bound) | set(arrays) | set(function.slices) | _assigned(function.views)
    chunks = function.chunks
    if 1 < len(chunks) and sum(map(len, chunks)) <= WHOLE_LINES:  # a small program: one function, one call
        chunks = [[line for chunk in chunks for line in chunk]]
    steps = [_step(chunk, static) for chunk in chunks]

    def bind(*given: Any) -> Callable[..., None]:
        names = dict(bound)
        names.update(zip(arrays, given))
        names.update(make_views(*given))
        for view, (buffer, start, stop) in function.slices.items():
            names[view] = names[buffer][start:stop]
        calls = [make(*[names[name] for name in args]) for make, args in steps]
        if inputs is None:

            def run_steps() -> None:
                for run in calls:
                    run()

            return run_steps
        into = names[inputs]
        reset(*given)

        def block(X: np.ndarray) -> None:
            into[...] = X.T
            for run in calls:
                run()

        block.reset = functools.partial(reset, *given)  # type: ignore[attr-defined]
        return block

    return bind


def _views(lines: list[str], arrays: str) -> Callable[..., dict[str, Any]]:
    """A function of the arrays that runs the view lines and returns the names they make."""
    returned = ", ".join(f"{name!r}: {name}" for name in sorted(_assigned(lines)))
    source = "\n".join([f"def views({arrays}):", *(f"    {line}" for line in lines), f"    return {{{returned}}}"])
    namespace = dict(_GLOBALS)
    exec(compile(source, "<autodiff.compile batch views>", "exec"), namespace)
    return namespace["views"]


def _assigned(lines: list[str]) -> set[str]:
    return {match.group(1) for line in lines if (match := _ASSIGNED.match(line))}


def _step(chunk: list[str], static: set[str]) -> Step:
    """A chunk as a function of the arrays it names (in the order of their first mention), and those names."""
    local: dict[str, str] = {}
    for line in chunk:
        match = _ASSIGNED.match(line)
        if match and match.group(1) not in static:
            local.setdefault(match.group(1), f"l{len(local)}")

    args: dict[str, str] = {}
    parts = _NAME.split("\n".join(chunk))  # text, name, text, name, ..., text
    for i in range(1, len(parts), 2):
        name = parts[i]
        if name in static:
            renamed = args.get(name)
            if renamed is None:
                renamed = args[name] = f"a{len(args)}"
            parts[i] = renamed
        elif name in local:
            parts[i] = local[name]
    return _compiled("".join(parts), len(args)), tuple(args)


@functools.lru_cache(maxsize=4096)
def _compiled(body: str, n_args: int) -> Callable[..., Callable[[], None]]:
    """make(a0, a1, ...) -> step(): the chunk's lines over the arrays given once, so that a call passes none."""
    arguments = ", ".join(f"a{i}" for i in range(n_args))
    lines = [f"def make({arguments}):", "    def step():", textwrap.indent(body, " " * 8), "    return step"]
    namespace = dict(_GLOBALS)
    exec(compile("\n".join(lines), "<autodiff.compile batch step>", "exec"), namespace)
    return namespace["make"]
