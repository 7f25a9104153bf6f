"""The workload of "Fastest Autograd in the West" (A. Rogozhnikov, 2023), once, for every engine.

A big irregular graph of scalars: 100 inputs, then ops cycling through

    softplus(x[-10]),  sum(x[-30:-10:5]),  x[-20] * x[-10],  softmax(x[-4:])  (4 outputs),

each appending its outputs to the list x; the output is the last node. `run_graph` replays it
with any engine's ops (a namespace with `softplus`, `sum`, `mul` and `softmax`), so the engines
of `demos/bench_graph.py` compute the same graph; `record_tape` replays it on positions, as the
flat tape of the C engine (`demos/graph_tape.c`).
"""

from __future__ import annotations

import operator
from typing import Any

import autodiff

N_INPUTS = 100

__all__ = [
    "N_INPUTS", "run_graph", "AutodiffOps", "record_tape", "SOFTPLUS", "SUM", "MUL", "SOFTMAX", "TOLERANCE",
    "largest_difference",
]  # fmt: skip


def run_graph(xs: list, n_ops: int, ops: Any) -> Any:
    """The graph of `n_ops` ops on the inputs `xs`, by the engine whose functions are `ops`; its last node."""
    xs = list(xs)
    for i in range(n_ops):
        kind = i % 4
        if kind == 0:
            xs.append(ops.softplus(xs[-10]))
        elif kind == 1:
            xs.append(ops.sum(xs[-30:-10:5]))
        elif kind == 2:
            xs.append(ops.mul(xs[-20], xs[-10]))
        else:
            xs.extend(ops.softmax(xs[-4:]))
    return xs[-1]


class AutodiffOps:
    """The workload on Values: softmax as exp(x_i - logsumexp(x)), which never overflows."""

    softplus = staticmethod(autodiff.softplus)
    sum = staticmethod(autodiff.sum)
    mul = staticmethod(operator.mul)

    @staticmethod
    def softmax(xs: list) -> list:
        lse = autodiff.logsumexp(xs)
        return [autodiff.exp(x - lse) for x in xs]


# --- the flat tape ------------------------------------------------------------------------------
SOFTPLUS, SUM, MUL, SOFTMAX = range(4)
RECORD = 7  # ints per record: op, first output slot, operand count, up to 4 operand slots


class _Recorder:
    """The workload's ops on slot numbers: each appends a record to the tape and returns its output slots."""

    def __init__(self) -> None:
        self.records: list[list[int]] = []
        self.n_slots = N_INPUTS

    def _record(self, op: int, operands: list[int], outputs: int) -> list[int]:
        first = self.n_slots
        self.n_slots += outputs
        self.records.append([op, first, len(operands), *operands, *[0] * (4 - len(operands))])
        return list(range(first, first + outputs))

    def softplus(self, x: int) -> int:
        return self._record(SOFTPLUS, [x], 1)[0]

    def sum(self, xs: list[int]) -> int:
        return self._record(SUM, xs, 1)[0]

    def mul(self, a: int, b: int) -> int:
        return self._record(MUL, [a, b], 1)[0]

    def softmax(self, xs: list[int]) -> list[int]:
        return self._record(SOFTMAX, xs, 4)


def record_tape(n_ops: int) -> tuple[list[int], int, int]:
    """The workload as a flat tape: records of RECORD ints (op, first output slot, operand count,
    operand slots), in order, without the records the output does not depend on; the number of
    value slots (inputs first); and the output's slot."""
    recorder = _Recorder()
    output = run_graph(list(range(N_INPUTS)), n_ops, recorder)
    needed = {output}
    kept = []
    for record in reversed(recorder.records):  # the output's ancestors only, as the compiled engines keep
        op, first, n = record[:3]
        if any(first + i in needed for i in range(4 if op == SOFTMAX else 1)):
            needed.update(record[3 : 3 + n])
            kept.append(record)
    kept.reverse()
    return [i for record in kept for i in record], recorder.n_slots, output


# --- checking the engines against each other -----------------------------------------------
TOLERANCE = 1e-9


def largest_difference(values: Any, grads: Any, reference_values: Any, reference_grads: Any) -> float:
    """The largest difference between an engine's values and gradients (rows, and rows x inputs)
    and the reference's, each relative to max(1, |reference|); nan counts as infinitely far."""
    import numpy as np

    worst = 0.0
    for ours, theirs in ((values, reference_values), (grads, reference_grads)):
        ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
        if ours.shape != theirs.shape:
            raise ValueError(f"shapes differ: {ours.shape} against the reference's {theirs.shape}")
        difference = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
        worst = max(worst, float(np.max(np.where(np.isnan(difference), np.inf, difference), initial=0.0)))
    return worst
