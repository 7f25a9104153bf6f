"""Rows of G for the gradients of a batch's nodes, each only while it is needed.

The block of a compiled batch (`batch_source.py`) keeps the values of its nodes in the rows of
V and their gradients in the rows of G. A node's gradient is needed from the first
contribution a consumer adds to it until its node's own backward step has read it; on a long
graph that is a few dozen nodes later. `GradientRows` hands out rows of G for that span and
takes them back, so that G holds a few dozen rows instead of one per node, and stays in cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["GradientRows"]


class GradientRows:
    """Rows of G for the gradients of V's rows, only while they are needed. A group's gradient takes a
    block of rows when a consumer first writes to it, and gives it back once the group's own backward
    step has read it (or the last group that took it as its own gradient, by aliasing, has): on a long
    graph G then holds a few dozen rows instead of one per node, and stays in cache. The inputs'
    gradients, which the caller reads, keep rows 0 to inputs - 1."""

    def __init__(self, groups: Sequence[Any], n_inputs: int) -> None:
        self.n_inputs = n_inputs
        self.group_of: dict[int, int] = {}  # V's row -> its group
        for i, group in enumerate(groups):
            self.group_of.update((row, i) for row in range(group.rows.start, group.rows.stop))
        self.start = {i: group.rows.start for i, group in enumerate(groups)}
        self.size = {i: group.rows.stop - group.rows.start for i, group in enumerate(groups)}
        self.block: dict[int, int] = {}  # group -> the first row of its block in G
        self.holders: dict[int, int] = {}  # block -> how many groups read their gradient from it
        self.free: dict[int, list[int]] = {}  # size -> blocks of that size no one holds
        self.fixed: dict[int, int] = {}  # rows of V in no group (none has a gradient): rows of their own
        self.height = self.n_inputs

    def row(self, r: int) -> int:
        """The row of G that holds V's row r now."""
        if r < self.n_inputs:
            return r
        i = self.group_of.get(r)
        if i is None:
            if r not in self.fixed:
                self.fixed[r], self.height = self.height, self.height + 1
            return self.fixed[r]
        if i not in self.block:
            free = self.free.get(self.size[i])
            if free:
                self.block[i] = free.pop()
            else:
                self.block[i], self.height = self.height, self.height + self.size[i]
            self.holders[self.block[i]] = 1
        return self.block[i] + r - self.start[i]

    def rows(self, rows: slice | np.ndarray) -> slice | np.ndarray:
        """The rows of G that hold V's rows `rows` now: a slice when they are consecutive."""
        if isinstance(rows, slice) and rows.stop <= self.n_inputs:
            return rows
        if isinstance(rows, slice):
            first, last = self.row(rows.start), self.row(rows.stop - 1)
            if last - first == rows.stop - 1 - rows.start and self.group_of.get(rows.start, -1) == self.group_of.get(
                rows.stop - 1, -2
            ):
                return slice(first, last + 1)  # within one group: its block
        index = range(rows.start, rows.stop) if isinstance(rows, slice) else rows.tolist()
        positions = [self.row(r) for r in index]
        return _as_slice(positions)

    def keep(self, r: int) -> None:
        """V's row r keeps its rows of G for good (the output's gradient, 1.0, is set once)."""
        self.holders[self.row(r) - (r - self.start[self.group_of[r]])] += 1

    def lend(self, borrower: int, lender: int) -> None:
        """Group `borrower` takes group `lender`'s gradient rows as its own (its gradient is a copy)."""
        block = self.block[lender]
        self.block[borrower] = block
        self.holders[block] += 1

    def release(self, i: int) -> None:
        """Group i's backward step is written: its rows are free once no other group holds them."""
        block = self.block.pop(i, None)
        if block is None:
            return
        self.holders[block] -= 1
        if not self.holders[block]:
            self.free.setdefault(self.size[i], []).append(block)


def _as_slice(positions: list[int]) -> slice | np.ndarray:
    """A slice for consecutive ascending positions, else an index array of them."""
    if positions and positions == list(range(positions[0], positions[0] + len(positions))):
        return slice(positions[0], positions[0] + len(positions))
    return np.array(positions, dtype=np.intp)
