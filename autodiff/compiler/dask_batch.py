"""A compiled function over a Dask array: one task per chunk of rows, the same numpy program in each.

`CompiledFunction.batch` and `batch_value_and_grad` come here when X is a Dask
array (examples x inputs) chunked along its rows only: `autodiff.compiler` registers
this module as the adapter for Dask arrays (the compiled function knows nothing of Dask). Each chunk runs the numpy
program an in-memory batch runs, in a task, on whatever runs Dask: its threads, a
`LocalCluster`, or a cluster's scheduler. So a dataset larger than memory is read
one chunk at a time, and the chunks are spread over the workers.

The parameters' values are read when the call is made and travel with its tasks,
so an optimizer step between two calls is always seen. Summed parameter gradients
are added up by a tree of tasks (8 chunks per addition) and come back as numpy; per-row
results (values, aux, input gradients, per-example gradients) stay Dask arrays
with X's row chunks, so nothing of size n is gathered unless the caller asks for
it. Computing them runs their chunks again, with the parameters of the call.

Every error names a row by its index in the whole array: each task knows where its
chunk starts. The compiled function travels once per worker (a key of its own, see
`pickling.py`); a worker thread keeps its own copy of it, because the numpy program
reuses its buffers from one chunk to the next.
"""

from __future__ import annotations

import math
import operator
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .compiled import CompiledFunction

__all__ = ["batch", "batch_value_and_grad", "check_array", "map_chunks", "run_chunk", "sum_chunks"]

_tokens: weakref.WeakKeyDictionary[CompiledFunction, str] = weakref.WeakKeyDictionary()
_local = threading.local()
SPLIT_EVERY = 8  # chunks' results added up by one task of the tree


# --- on the client: checks and task graphs ------------------------------------------
def check_array(f: CompiledFunction, X: Any) -> None:
    """Refuse a Dask array the chunks cannot run: the checks of a numpy batch, on its metadata."""
    import dask.array as da

    name = f"compiled {f.name}"
    if not isinstance(X, da.Array):
        raise TypeError(f"{name}: the batch must be a dask.array.Array (or numpy rows), got {type(X).__name__}")
    if X.ndim != 2 or X.shape[1] != f.n_inputs:
        raise ValueError(f"{name}: the batch must have shape (examples, {f.n_inputs}), got {X.shape}")
    if X.dtype.kind not in "fiu":
        raise TypeError(f"{name}: the batch must hold ints or floats, got an array of {X.dtype}")
    if len(X.chunks[1]) > 1:
        raise ValueError(
            f"{name}: the dask array is split along its columns (chunks {X.chunks[1]}); every chunk must "
            "hold whole rows: use X.rechunk({1: -1})"
        )
    if any(math.isnan(rows) for rows in X.chunks[0]):
        raise ValueError(f"{name}: the dask array's row chunks have unknown sizes; call X.compute_chunk_sizes() first")


def batch(f: CompiledFunction, X: Any) -> Any:
    """`f.batch(X)` for a Dask array X: values (and aux) as Dask arrays with X's row chunks."""
    check_array(f, X)
    parts = map_chunks(f, [X], _forward_chunk, (), "forward")
    values = _rows(parts, 0, X.chunks[0], None)
    aux = _rows(parts, 1, X.chunks[0], len(f.program.aux))
    return f._with_aux(values, aux)


def batch_value_and_grad(f: CompiledFunction, X: Any, per_example: bool, accumulate_grads: bool) -> tuple:
    """`f.batch_value_and_grad(X)` for a Dask array X: the summed parameter gradients as numpy
    (computed now), the per-row results as Dask arrays with X's row chunks."""
    check_array(f, X)
    parts = map_chunks(f, [X], _grad_chunk, (per_example,), "grad")
    values = _rows(parts, 0, X.chunks[0], None)
    aux = _rows(parts, 1, X.chunks[0], len(f.program.aux))
    inputs = _rows(parts, 2, X.chunks[0], f.n_inputs)
    if per_example:
        grads = _rows(parts, 3, X.chunks[0], len(f.params))
        summed = grads.sum(axis=0).compute() if accumulate_grads else None
    else:
        grads = summed = _tree_sum(parts, 3)
    if accumulate_grads:
        for param, g in zip(f.params, summed):
            param.grad += float(g)
    return f._with_aux(values, aux), inputs, grads


def sum_chunks(
    f: CompiledFunction, arrays: Sequence[Any], chunk_fn: Callable[..., np.ndarray], args: tuple
) -> np.ndarray:
    """The sum over the row chunks of chunk_fn(f, token, *blocks, offset, p, *args), a vector of
    the same length for every chunk, added up as a tree and computed now (one pass over the data)."""
    return _tree_sum(map_chunks(f, arrays, chunk_fn, args, "sum"), None)


def map_chunks(
    f: CompiledFunction, arrays: Sequence[Any], chunk_fn: Callable[..., Any], args: tuple, kind: str
) -> list:
    """One delayed task per row chunk: chunk_fn(f, token, *blocks, offset, p, *args).

    `arrays` share their row chunks and are not split along columns (the caller checks).
    The parameters' values `p` are read now, so the tasks never see stale ones."""
    import dask

    offsets = np.cumsum((0, *arrays[0].chunks[0][:-1])).tolist()
    blocks = [a.to_delayed().ravel() for a in arrays]
    shipped, token = _shipped(f)
    p = np.array([param.data for param in f.params], dtype=float)  # an array: Dask does not walk through it
    task = dask.delayed(chunk_fn, pure=False)
    call = f"autodiff-{kind}-{uuid.uuid4().hex}"
    return [
        task(shipped, token, *(b[i] for b in blocks), offset, p, *args, dask_key_name=(call, i))
        for i, offset in enumerate(offsets)
    ]


def _shipped(f: CompiledFunction) -> tuple[Any, str]:
    """f as a key of its own (sent to each worker once, not with every task), and its token."""
    import dask

    token = _tokens.get(f)
    if token is None:
        token = _tokens[f] = uuid.uuid4().hex
    return dask.delayed(f, name=f"autodiff-compiled-{token}", pure=True), token


def _rows(parts: list, k: int, row_chunks: tuple[int, ...], width: int | None) -> Any:
    """Item k of every chunk's result, as one Dask array with the input's row chunks
    (one graph layer of getitem tasks: cheaper to build than an array per chunk)."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    name = f"{parts[0].key[0]}-{k}"
    block = (lambda i: (name, i)) if width is None else (lambda i: (name, i, 0))
    layer = {block(i): (operator.getitem, part.key, k) for i, part in enumerate(parts)}
    graph = HighLevelGraph.from_collections(name, layer, dependencies=parts)
    chunks = (row_chunks,) if width is None else (row_chunks, (width,))
    return da.Array(graph, name, chunks, meta=np.empty((0,) * len(chunks)))


def _tree_sum(parts: list, k: int | None) -> np.ndarray:
    """The sum over the chunks of their results (item k of each, if given), added up as a tree
    of tasks with up to SPLIT_EVERY inputs each, computed now."""
    import dask

    level = [dask.delayed(_add, pure=False)(k, *parts[i : i + SPLIT_EVERY]) for i in range(0, len(parts), SPLIT_EVERY)]
    while len(level) > 1:
        level = [
            dask.delayed(_add, pure=False)(None, *level[i : i + SPLIT_EVERY]) for i in range(0, len(level), SPLIT_EVERY)
        ]
    (total,) = dask.compute(level[0])
    return np.asarray(total, dtype=float)


def _add(k: int | None, *results: Any) -> np.ndarray:
    """The sum of some chunks' results (of item k of each)."""
    return np.sum([result if k is None else result[k] for result in results], axis=0)


# --- in the tasks ----------------------------------------------------------------------
def run_chunk(
    f: CompiledFunction, token: str, block: Any, offset: int, p: Any, with_grad: bool, per_example: bool = False
) -> tuple:
    """Run f's numpy program on one chunk of rows (in a task): `_run_batch` or `_run_batch_forward`.

    `p` holds the parameters' values (an array, from `map_chunks`). The chunk's rows are
    checked as a numpy batch's are, and any error names the row by its index in the whole
    array (the chunk starts at row `offset`)."""
    X = _checked_chunk(f, block, offset)
    local = _local_copy(f, token)
    params = np.asarray(p, dtype=float).tolist()
    if with_grad:
        return local._run_batch(X, params, per_example, first_row=offset)
    return local._run_batch_forward(X, params, first_row=offset)


def _forward_chunk(f: CompiledFunction, token: str, block: Any, offset: int, p: Any) -> tuple:
    return run_chunk(f, token, block, offset, p, with_grad=False)


def _grad_chunk(f: CompiledFunction, token: str, block: Any, offset: int, p: Any, per_example: bool) -> tuple:
    values, aux, inputs, grads = run_chunk(f, token, block, offset, p, with_grad=True, per_example=per_example)
    if not per_example and grads.ndim == 2:  # some example was replayed eagerly: per-example rows came back
        grads = grads.sum(axis=0)
    return values, aux, inputs, grads


def _checked_chunk(f: CompiledFunction, block: Any, offset: int) -> np.ndarray:
    """The chunk as a float array of finite numbers; a bad row is named by its index in the whole array."""
    X = np.asarray(block, dtype=float)
    finite = np.isfinite(X)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise ValueError(f"compiled {f.name}: example {offset + row} is not finite: {X[row].tolist()!r}")
    return X


def _local_copy(f: CompiledFunction, token: str) -> CompiledFunction:
    """This thread's copy of f: the numpy program keeps buffers between calls, which two threads
    must not share. Kept for the next chunk (and the next call) of the same function."""
    cached = getattr(_local, "compiled", None)
    if cached is None or cached[0] != token:
        copy = CompiledFunction(f.program, f.params, f.name, f.has_aux, f._aux_is_list, f._fn)
        _local.compiled = cached = (token, copy)
    return cached[1]
