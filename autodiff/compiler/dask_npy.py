"""A `.npy` file as a Dask array whose tasks read their own rows from disk.

`dask.array.from_array(np.load(path, mmap_mode="r"))` works on threads, but a
memory map pickles as its whole contents: a distributed scheduler would ship the
dataset inside the task graph. `from_npy` hands Dask a small stand-in instead,
`NpyRows`, that pickles as the file's path and reads the rows a chunk needs where
the chunk is read. So each worker holds one chunk of the file at a time, and a
cluster whose workers see the same path (a shared disk) reads it where it runs.

The rows are read with ordinary file reads, not through a memory map: a file cut
short while a task reads it gives a short read (a ValueError naming the file), where
a memory map would kill the process with SIGBUS.
"""

from __future__ import annotations

import math
import numbers
import os
import stat
from typing import Any, BinaryIO

import numpy as np

__all__ = ["NpyRows", "from_npy"]


class NpyRows:
    """The array stored in a `.npy` file, read slice by slice from disk.

    Has the `shape`, `dtype`, `ndim` and `__getitem__` that `dask.array.from_array`
    needs; a slice comes back as an ordinary array in memory (a copy of those rows)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        _check_npy(self.path)
        with open(self.path, "rb") as f:
            self.shape, self.fortran_order, self.dtype, self.offset = _header(self.path, f)
        if self.dtype.hasobject:
            raise ValueError(f"from_npy: {self.path!r} holds Python objects ({self.dtype}), not numbers")
        if len(self.shape) == 0:
            raise ValueError(f"from_npy: {self.path!r} holds a single number ({self.dtype}), not rows")
        size = os.path.getsize(self.path)
        if size < self.offset + self._nbytes(self.shape[0]):
            raise ValueError(
                f"from_npy: {self.path!r} is cut short: its header says {self.dtype} {self.shape}, "
                f"{self._nbytes(self.shape[0])} bytes of data, and it holds {max(size - self.offset, 0)}"
            )
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if key and not isinstance(key[0], (slice, numbers.Integral)):
            raise TypeError(f"NpyRows: rows are taken by a slice or an int, got {key[0]!r}")
        rows = range(self.shape[0])[key[0]] if key else range(self.shape[0])  # an int, or a range of rows
        span = range(rows, rows + 1) if isinstance(rows, int) else rows
        first, last = (min(span[0], span[-1]), max(span[0], span[-1]) + 1) if len(span) else (0, 0)
        with open(self.path, "rb") as f:
            now = _header(self.path, f)
            if now != (self.shape, self.fortran_order, self.dtype, self.offset):
                raise ValueError(
                    f"{self.path}: the file changed since it was opened: now {now[2]} {now[0]}, "
                    f"was {self.dtype} {self.shape}"
                )
            block = self._read_rows(f, first, last)
        if isinstance(rows, int):
            inside: Any = 0
        elif span.step == 1 or len(span) <= 1:
            inside = slice(None)
        else:  # every other row, or backwards: the rows between, picked
            inside = np.asarray(span) - first
        return block[(inside, *key[1:])]

    def _read_rows(self, f: BinaryIO, first: int, last: int) -> np.ndarray:
        """Rows first..last-1 as an array in memory; a short read (a file cut while it is read) is a ValueError."""
        n, width = self.shape[0], math.prod(self.shape[1:])
        block = np.empty((last - first, width), dtype=self.dtype, order="F" if self.fortran_order else "C")
        if self.fortran_order:  # column k holds rows 0..n-1 of the trailing index k, one after the other
            for k in range(width):
                self._read_into(f, self.offset + (k * n + first) * self.dtype.itemsize, block[:, k])
        else:
            self._read_into(f, self.offset + first * width * self.dtype.itemsize, block)
        return block.reshape((last - first, *self.shape[1:]), order="F" if self.fortran_order else "C")

    def _read_into(self, f: BinaryIO, position: int, out: np.ndarray) -> None:
        f.seek(position)
        wanted = out.nbytes
        got = f.readinto(memoryview(out).cast("B")) if wanted else 0
        if got != wanted:
            raise ValueError(
                f"from_npy: {self.path!r} was cut short while being read: {got} of {wanted} bytes at byte {position}"
            )

    def _nbytes(self, rows: int) -> int:
        return rows * math.prod(self.shape[1:]) * self.dtype.itemsize

    def __reduce__(self) -> tuple:
        return _reopen, (self.path, self.shape, self.fortran_order, self.dtype, self.offset)

    def __repr__(self) -> str:
        return f"NpyRows({self.path!r}, shape={self.shape}, dtype={self.dtype})"


def _header(path: str, f: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, where the data starts) from the header of an open .npy file."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read(f)
    except (ValueError, EOFError, SyntaxError) as error:  # a truncated file or header
        raise ValueError(f"from_npy: {path!r}: cannot read the .npy header: {error}") from error
    return tuple(shape), bool(fortran_order), dtype, f.tell()


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


def _reopen(path: str, shape: tuple[int, ...], fortran_order: bool, dtype: np.dtype, offset: int) -> NpyRows:
    """Unpickling: the same file, without reading it (the worker may not have opened it yet)."""
    rows = NpyRows.__new__(NpyRows)
    rows.path, rows.shape, rows.fortran_order, rows.dtype, rows.offset = path, shape, fortran_order, dtype, offset
    rows.ndim = len(shape)
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
