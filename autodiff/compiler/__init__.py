"""`autodiff.compile`: trace a scalar function once, replay it as straight-line code.

    f = autodiff.compile(fn, example_inputs, params=model.parameters())
    f(xs)                          # the value, on floats
    f.value_and_grad(xs)           # value, input gradients, parameter gradients
    f.batch_value_and_grad(X)      # the same for every row of X, with numpy

Like any tracing compiler, the program fixes the path taken through Python
control flow when it was traced; data-dependent branches are refused while
tracing (`TracingError`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..value import Value
from .compiled import CompiledFunction, register_array_adapter, run_eagerly
from .trace import Program, TracingError, trace

__all__ = ["compile", "CompiledFunction", "Program", "TracingError", "run_eagerly"]


def compile(
    fn: Callable[..., Value],
    example_inputs: Sequence[float],
    params: Sequence[Value] | None = None,
    has_aux: bool = False,
) -> CompiledFunction:
    """Trace `fn` once at `example_inputs` and compile it to straight-line code.

    Args:
        fn: called as fn(*values) with one Value per input; returns a Value. It may
            use Values captured from outside (a model's parameters): their `.data`
            is read at every call.
        example_inputs: one float per input, where the trace is taken.
        params: the captured Values whose gradients you want, in this order, each
            once; captured leaves not listed follow them. By default every captured
            leaf, in the order the graph reaches them (see `CompiledFunction.params`).
        has_aux: `fn` returns (output, aux), aux a Value or a list of Values (a model's
            outputs, say) whose values are reported beside the output's: results then
            carry (value, aux) where they carried the value.

    Raises:
        TracingError: `fn` branched on a Value's data (`if`, a comparison, `float()`).
        ValueError: `params` lists a Value twice (its gradient would have two positions).
    """
    if not callable(fn):
        raise TypeError(f"compile: fn must be a function, got {type(fn).__name__} ({fn!r:.60})")
    name = getattr(fn, "__name__", repr(fn))
    if isinstance(example_inputs, (int, float)) and not isinstance(example_inputs, bool):
        example_inputs = [example_inputs]
    program, all_params, aux_is_list = trace(fn, example_inputs, params, name, has_aux)
    return CompiledFunction(program, all_params, name, has_aux, aux_is_list, fn)


def _dask_arrays(X: Any) -> Any:
    """The adapter that runs a compiled function over a Dask array (`dask_batch`), told without importing
    Dask; None for anything else."""
    if not type(X).__module__.startswith("dask."):
        return None
    from . import dask_batch

    return dask_batch


register_array_adapter(_dask_arrays)
