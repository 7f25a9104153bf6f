"""A `.npy` file as a Dask array whose tasks read their own rows from disk.

`dask.array.from_array(np.load(path, mmap_mode="r"))` works on threads, but a
memory map pickles as its whole contents: a distributed scheduler would ship the
dataset inside the task graph. `from_npy` hands Dask a small stand-in instead,
`NpyRows`, that pickles as the file's path and maps the file again where a chunk
is read. So each worker holds one chunk of the file at a time, and a cluster
whose workers see the same path (a shared disk) reads it where it runs.
"""

from __future__ import annotations

import numbers
import os
import stat
from typing import Any

import numpy as np

__all__ = ["NpyRows", "from_npy"]


class NpyRows:
    """The array stored in a `.npy` file, read slice by slice through a memory map.

    Has the `shape`, `dtype`, `ndim` and `__getitem__` that `dask.array.from_array`
    needs; a slice comes back as an ordinary array in memory (a copy of those rows)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        _check_npy(self.path)
        try:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)  # reads the header only; never unpickles
        except (ValueError, EOFError) as error:  # a truncated file or header, Python objects
            raise ValueError(f"from_npy: {self.path!r}: cannot map the .npy file: {error}") from error
        if mapped.ndim == 0:
            raise ValueError(f"from_npy: {self.path!r} holds a single number ({mapped.dtype}), not rows")
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


def _check_npy(path: str) -> None:
    """Refuse what is not a regular file starting with numpy's magic bytes, before numpy reads it: a FIFO would
    block the open, /dev/zero never end, and numpy takes any other file for a pickle (or an .npz archive)."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"from_npy: {path!r} is a directory, not a .npy file")
    if not stat.S_ISREG(mode):
        raise ValueError(f"from_npy: {path!r} is not a regular file (a FIFO, a device or a socket)")
    with open(path, "rb") as f:
        magic = f.read(len(np.lib.format.MAGIC_PREFIX))
    if magic != np.lib.format.MAGIC_PREFIX:
        raise ValueError(f"from_npy: {path!r} is not a .npy file (written by numpy.save): it starts with {magic!r}")


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
        IsADirectoryError: a directory.
        ValueError: not a regular `.npy` file, a truncated one, one that holds Python objects or a single number.
    """
    import dask.array as da

    if isinstance(rows_per_chunk, bool) or not isinstance(rows_per_chunk, numbers.Integral) or rows_per_chunk < 1:
        raise ValueError(f"from_npy: rows_per_chunk must be an int >= 1, got {rows_per_chunk!r}")
    rows_per_chunk = int(rows_per_chunk)  # numpy's ints too
    rows = NpyRows(path)
    chunks = (min(rows_per_chunk, max(rows.shape[0], 1)), *rows.shape[1:])  # Dask overflows past int64
    return da.from_array(rows, chunks=chunks, name=f"npy-{_token(rows)}")


def _token(rows: NpyRows) -> str:
    """Names the array by the file and its state, so that a rewritten file is not taken for the old one."""
    import dask.base

    stat = os.stat(rows.path)
    return dask.base.tokenize(os.path.abspath(rows.path), stat.st_mtime_ns, stat.st_size, rows.shape, str(rows.dtype))
