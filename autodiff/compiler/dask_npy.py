"""A `.npy` file as a Dask array whose tasks read their own rows from disk.

`dask.array.from_array(np.load(path, mmap_mode="r"))` works on threads, but a
memory map pickles as its whole contents: a distributed scheduler would ship the
dataset inside the task graph. `from_npy` hands Dask a small stand-in instead,
`NpyRows`, that pickles as the file's path and maps the file again where a chunk
is read. So each worker holds one chunk of the file at a time, and a cluster
whose workers see the same path (a shared disk) reads it where it runs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["NpyRows", "from_npy"]


class NpyRows:
    """The array stored in a `.npy` file, read slice by slice through a memory map.

    Has the `shape`, `dtype`, `ndim` and `__getitem__` that `dask.array.from_array`
    needs; a slice comes back as an ordinary array in memory (a copy of those rows)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        mapped = np.load(self.path, mmap_mode="r")  # reads the header only; never unpickles
        self.shape: tuple[int, ...] = mapped.shape
        self.dtype = mapped.dtype
        self.ndim = mapped.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        mapped = np.load(self.path, mmap_mode="r")
        if mapped.shape != self.shape or mapped.dtype != self.dtype:
            raise ValueError(
                f"{self.path}: the file changed since it was opened: now {mapped.dtype} {mapped.shape}, "
                f"was {self.dtype} {self.shape}"
            )
        return np.array(mapped[key])

    def __reduce__(self) -> tuple:
        return _reopen, (self.path, self.shape, self.dtype)

    def __repr__(self) -> str:
        return f"NpyRows({self.path!r}, shape={self.shape}, dtype={self.dtype})"


def _reopen(path: str, shape: tuple[int, ...], dtype: np.dtype) -> NpyRows:
    """Unpickling: the same file, without reading it (the worker may not have opened it yet)."""
    rows = NpyRows.__new__(NpyRows)
    rows.path, rows.shape, rows.dtype, rows.ndim = path, shape, dtype, len(shape)
    return rows


def from_npy(path: str | os.PathLike, rows_per_chunk: int = 100_000) -> Any:
    """The array in the `.npy` file at `path` as a Dask array of `rows_per_chunk` rows per chunk
    (every column in each), read from disk by the task that needs the chunk.

    Args:
        path: a file written by `numpy.save` (not a pickled object array).
        rows_per_chunk: rows per chunk: what one task holds in memory at a time.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a `.npy` file, or one that holds Python objects.
    """
    import dask.array as da

    if isinstance(rows_per_chunk, bool) or not isinstance(rows_per_chunk, int) or rows_per_chunk < 1:
        raise ValueError(f"from_npy: rows_per_chunk must be an int >= 1, got {rows_per_chunk!r}")
    rows = NpyRows(path)
    chunks = (rows_per_chunk, *rows.shape[1:])
    return da.from_array(rows, chunks=chunks, name=f"npy-{_token(rows)}")


def _token(rows: NpyRows) -> str:
    """Names the array by the file and its state, so that a rewritten file is not taken for the old one."""
    import dask.base

    stat = os.stat(rows.path)
    return dask.base.tokenize(os.path.abspath(rows.path), stat.st_mtime_ns, stat.st_size, rows.shape, str(rows.dtype))
