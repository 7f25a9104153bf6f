"""Pickling a compiled function: its program and its parameters' values, nothing built from them.

Dask ships a compiled function to its workers with cloudpickle, so it must pickle
small and come back working. What travels: the program, with each built-in op named
by its key in `autodiff.ops.OPS` (the worker gets back the very same `Op` objects,
so the numpy backend still recognises a dense layer's `dot` nodes), and the
parameters as fresh leaves holding their values at pickling time. What does not:
the generated code and the numpy buffers of the last batch (hundreds of MB after a
big one), which the copy rebuilds on first use.

A user's own `Op` travels as the object itself: plain `pickle` handles it when its
rules are module-level functions, cloudpickle also when they are lambdas.
"""

from __future__ import annotations

from ..ops import OPS
from ..value import Value
from .trace import Program

__all__ = ["pack", "unpack"]

_KEY_OF = {id(op): key for key, op in OPS.items()}


def pack(program: Program, params: tuple[Value, ...]) -> tuple:
    """What travels of a compiled function's program and parameters: plain data, and user ops."""
    ops = tuple(None if op is None else _KEY_OF.get(id(op), op) for op in program.ops)
    fields = (ops, program.parents, program.inputs, program.params, program.constants, program.output, program.aux)
    return fields, tuple((p.data, p.label) for p in params)


def unpack(packed: tuple) -> tuple[Program, tuple[Value, ...]]:
    """The program and fresh parameter leaves that `pack` describes."""
    (ops, *rest), params = packed
    program = Program(tuple(OPS[op] if isinstance(op, str) else op for op in ops), *rest)
    return program, tuple(Value(data, label=label) for data, label in params)
