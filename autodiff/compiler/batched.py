"""Run a Program on a batch of examples with numpy, one op for many nodes at once.

Every node that depends on the inputs is a row of a (rows x examples) array V.
Those nodes are scheduled by level (1 + the level of their deepest parent) and
grouped by op; a group's outputs are contiguous rows, so one numpy call applies
the op's rule (`autodiff/ops.py`) to every node of the group and every example at
once. The schedule is written once as lines of numpy (`batch_source.py`), in chunks
of a group each, and a call runs them chunk by chunk (`batch_steps.py`) per block of
examples, numpy calls writing into arrays kept from call to call.

Parameters and constants are shared by all examples: they enter as columns that
broadcast over the batch, and a parameter's gradient is summed over the examples
(or kept per example). Nodes that depend on parameters only, a regulariser say,
are scheduled the same way as rows of a column S, computed once per call; their
gradients arrive from the batch (summed, or per example) and go back to the
parameters after it.

One pattern gets a matrix product: the `dot` nodes of a dense layer (weights all
parameters, inputs the same rows) become W @ X, and their backward pass becomes
G @ X.T and W.T @ G. That is the dot rule (d/dw_i = x_i, d/dx_i = w_i) summed over
the examples and the layer's neurons; the fusion checks that the rule has that form.
A bias added to such a dot (and read by nothing else) joins the product, as
[W | b] @ [X; 1], + having partials 1 (checked too). Such a layer's weights sit next
to each other in the parameter vector, so W is a view of it and G @ X.T lands in the
gradient vector without a copy.

An example whose numbers are not finite goes to the eager engine. Rather than every
value, the check reads the rows that no consumer is known to carry an inf or nan
from (a consumer made of +, - and * alone, or a dense layer, always does).

Large batches run in blocks of examples, their arrays kept from call to call: blocks
of BLOCK_EXAMPLES examples while such a block stays in cache; for a program of
thousands of nodes, whose block streams from memory at any width, blocks as wide as
MAX_BLOCK_BYTES allows (up to LARGE_BLOCK_EXAMPLES), since every numpy call then does
more work for its fixed cost. A gradient has a row of G only from its first
contribution to its node's backward step, so G holds a few dozen rows on a long graph.
The schedule is made by the passes of `batch_passes.py`, one function each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..value import Value, constant
from .batch_passes import allocate, classify, fuse, group, lay_out_parameters, level, with_row_output
from .batch_source import CONST, PARAM, ROW, SHARED, Schedule, generate, write
from .batch_steps import binders
from .trace import Program

__all__ = ["BatchedProgram"]

BLOCK_EXAMPLES = 4096  # examples per block of a program whose block then stays in cache
LARGE_BLOCK_EXAMPLES = 16384  # of one whose block cannot: a wider block makes fewer numpy calls per example
CACHE_BYTES = 16 * 2**20  # a block of BLOCK_EXAMPLES examples at most this large stays in cache
MAX_BLOCK_BYTES = 768 * 2**20  # and every block's arrays under this, for a program of very many nodes
MAX_STATES = 8  # batch widths whose arrays and bound functions a thread keeps


class BatchedProgram:
    """A Program scheduled for numpy: build once, then `run` on batches.

    The schedule comes from the passes of `batch_passes.py` (classify, level, fuse, group,
    lay out the parameters, allocate the rows), run here once per program."""

    def __init__(self, program: Program) -> None:
        self.program = program = with_row_output(program)
        self.n_inputs = len(program.inputs)
        self.constants = np.array([c for _, c in program.constants], dtype=float)
        levelled = level(classify(program))
        grouped = group(levelled, fuse(levelled))
        param_index = lay_out_parameters(grouped)
        layout = allocate(grouped, param_index)
        self.groups, self.shared_groups, self.n_rows = layout.groups, layout.shared_groups, layout.n_rows
        self.ones_rows, self.checked_rows = layout.ones_rows, layout.checked_rows
        self.output_row, self.aux_sources = layout.output_row, layout.aux_sources
        self.shared_slots = layout.shared_slots
        self.param_slots = sorted(param_index, key=param_index.__getitem__)

        # Gradients go back to the program's parameter list: internal position i is parameter take[i].
        first: dict[int, int] = {}
        for j, k in enumerate(program.params):
            if k is not None:
                first.setdefault(k, j)
        self._param_take = np.array([first[k] for k in self.param_slots], dtype=np.intp)
        self._used = np.array([j for j, k in enumerate(program.params) if k is not None], dtype=np.intp)
        self._used_internal = np.array([param_index[program.params[j]] for j in self._used], dtype=np.intp)
        self._all_used = len(self._used) == len(program.params) == len(param_index)
        self._functions: dict[str, tuple[Callable[..., Any], ...]] = {}
        self._gradient_rows: dict[str, int] = {}
        self._local = threading.local()

    def source(self, mode: str) -> str:
        """The generated numpy source: mode "forward", "summed" or "per_example"."""
        return generate(self._schedule(), mode)[0]

    def _schedule(self) -> Schedule:
        assert self.output_row is not None  # the caller runs such programs in the eager engine
        return Schedule(
            self.groups,
            self.shared_groups,
            self.n_inputs,
            self.output_row,
            self.constants,
            len(self.param_slots),
            self.ones_rows,
        )

    def generated(self, mode: str) -> tuple[Callable[..., Any], ...]:
        """The binders of `mode` (see `batch_source.generate`), generated on first use."""
        functions = self._functions.get(mode)
        if functions is None:
            written = write(self._schedule(), mode)
            self._gradient_rows[mode] = written.gradient_rows
            functions = self._functions[mode] = binders(written)
        return functions

    def _column_rows(self, mode: str) -> int:
        """How many numbers a block's arrays hold per example in `mode`: V's rows, and G's."""
        self.generated(mode)
        return self.n_rows + (self._gradient_rows[mode] if mode != "forward" else 0)

    def _state(self, mode: str, width: int) -> _State:
        """The arrays and bound functions for blocks of `width` examples, kept from call to call in
        this thread (another thread gets its own: two calls at once must not share arrays)."""
        state = self._local.__dict__.get("states", {}).get((mode, width))
        if state is None:
            V, G = self._arrays(width, mode)  # first: new, wider arrays drop the states bound to the old ones
            states = self._local.__dict__.setdefault("states", {})
            if len(states) >= MAX_STATES:  # batch sizes seen long ago: let their arrays go
                del states[next(iter(states))]
            sizes = len(self.param_slots), len(self.shared_slots), self.checked_rows.stop - self.checked_rows.start
            state = states[mode, width] = _State(self.generated(mode), V, G, *sizes)
        return state

    def _arrays(self, width: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Values and gradients (rows x width), contiguous: the first numbers of the largest buffers
        this thread has needed (fresh arrays of this size cost more in page faults than the arithmetic
        on them). Arrays of different widths share the numbers: a call fills what it reads."""
        self.generated(mode)
        heights = self.n_rows, self._gradient_rows[mode] if mode != "forward" else 0
        buffers = getattr(self._local, "arrays", None)
        if buffers is None or any(b.size < h * width for b, h in zip(buffers, heights)):
            sizes = [max(h * width, b.size if buffers else 0) for b, h in zip(buffers or (None, None), heights)]
            buffers = self._local.arrays = (np.empty(sizes[0]), np.empty(sizes[1]))
            self._local.states = {}  # their views were of the old buffers
        return tuple(b[: h * width].reshape(h, width) for b, h in zip(buffers, heights))

    def _claim(self, state: _State) -> None:
        """Set `state`'s constant rows again if arrays of another width or mode (the same numbers) ran since."""
        if self._local.__dict__.get("owner") is not state:
            state.block.reset()
            self._local.owner = state

    # --- running ---------------------------------------------------------------------
    def forward(self, X: np.ndarray, params: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Values (n,) and aux values (n, aux) for the rows of X, without the backward pass.
        An example with a non-finite number anywhere in its forward pass gets the value nan
        (the caller replays it in the eager engine)."""
        n = X.shape[0]
        values, aux = np.empty(n), np.empty((n, len(self.aux_sources)))
        first = None
        for start, stop in self._blocks(n, self._column_rows("forward")):
            state = self._state("forward", stop - start)
            if first is None:
                first = state
                self._start(state.P1, state.S, state.shared_forward, params)
            elif state is not first:  # the last, narrower block
                state.take_parameters(first)
            self._claim(state)
            state.block(X[start:stop])
            self._outputs(state, values[start:stop], aux[start:stop])
        return values, aux

    def run(self, X: np.ndarray, params: Sequence[float], per_example: bool) -> tuple[Any, ...]:
        """Values (n,), aux values (n, aux), input gradients (n, inputs), parameter gradients
        per example (n, params) or summed (params,) for the rows of X, and whether every number
        computed is known to be finite. An example whose numbers are not finite needs the eager
        engine (the caller replays it); one with a non-finite intermediate value gets the value
        nan, even if its output came back finite."""
        if per_example:
            return (*self._run_per_example(X, params), False)
        n = X.shape[0]
        if 0 < n <= self._blocks(n, self._column_rows("summed"))[0][1]:  # one block: the common case, lean
            result = self._run_one_block(X, params)
            if result is not None:
                return result
        values, aux, inputs = np.empty(n), np.empty((n, len(self.aux_sources))), np.empty((n, self.n_inputs))
        blocks = self._blocks(n, self._column_rows("summed"))
        first = state = total = None
        for start, stop in blocks:
            state = self._state("summed", stop - start)
            if first is None:
                first = state
                self._start(state.P1, state.S, state.shared_forward, params)
                state.SG.fill(0.0)
            elif state is not first:  # the last, narrower block: the gradients into S go on adding up
                state.take_parameters(first)
            self._claim(state)
            state.block(X[start:stop])
            if len(blocks) > 1:
                total = state.GP.copy() if total is None else total + state.GP
            self._outputs(state, values[start:stop], aux[start:stop])
            inputs[start:stop] = state.G[: self.n_inputs].T
        if state is None:  # no examples
            return values, aux, inputs, np.zeros(len(self.program.params)), True
        if total is not None:
            state.GP[:] = total
        if len(state.S):
            state.shared_backward()
        return values, aux, inputs, self._to_param_list(state.GP, False), False

    def _run_one_block(self, X: np.ndarray, params: Sequence[float]) -> tuple[Any, ...] | None:
        """`run` on a batch of one block, checked by one sum of everything it computed: None when
        that sum is not finite (the caller then takes the general path, which says where)."""
        n = X.shape[0]
        state = self._local.__dict__.get("states", {}).get(("summed", n)) or self._state("summed", n)
        np.take(np.array(params, dtype=float), self._param_take, out=state.P1)
        S = state.S
        if len(S):
            state.SG.fill(0.0)
            state.shared_forward()
        self._claim(state)
        state.block(X)
        if len(S):
            state.shared_backward()
        V = state.V
        values = V[self.output_row].copy()
        inputs = state.G[: self.n_inputs].T.copy()
        grads = self._to_param_list(state.GP, False)
        aux = np.empty((n, len(self.aux_sources)))
        for j, (kind, index) in enumerate(self.aux_sources):
            aux[:, j] = {ROW: V, PARAM: state.P1, SHARED: S[:, 0], CONST: self.constants}[kind][index]
        add = np.add.reduce  # a sum is finite only if its terms are (or it overflows: a false alarm)
        total = state.ones @ (V[self.checked_rows] @ state.ones_n) + add(grads) + add(inputs, None) + add(S, None)
        if aux.size:
            total += add(aux, None)
        return (values, aux, inputs, grads, True) if np.isfinite(total) else None

    def _run_per_example(self, X: np.ndarray, params: Sequence[float]) -> tuple[np.ndarray, ...]:
        """`run` with the parameter gradients of every example, in arrays (params x n) made for this call."""
        n = X.shape[0]
        values, aux, inputs = np.empty(n), np.empty((n, len(self.aux_sources))), np.empty((n, self.n_inputs))
        bind_shared_forward, bind_block, bind_shared_backward = self.generated("per_example")
        P1, S = np.empty(len(self.param_slots)), np.empty((len(self.shared_slots), 1))
        self._start(P1, S, bind_shared_forward(P1, S), params)
        GP, SG = np.empty((len(P1), n)), np.zeros((len(S), n))
        for start, stop in self._blocks(n, self._column_rows("per_example") + len(GP) + len(SG)):
            V, G = self._arrays(stop - start, "per_example")
            self._local.owner = None  # binding sets the constant rows in these arrays, for no state
            bind_block(V, G, P1, S, GP[:, start:stop], SG[:, start:stop])(X[start:stop])
            ones = np.ones(self.checked_rows.stop - self.checked_rows.start)
            self._outputs(_Outputs(V, P1, S, ones), values[start:stop], aux[start:stop])
            inputs[start:stop] = G[: self.n_inputs].T
        if len(S):
            bind_shared_backward(P1, S, SG, GP)()
        return values, aux, inputs, self._to_param_list(GP, True)

    def block_width(self, n: int, mode: str = "summed") -> int:
        """How many examples of a batch of n each block holds in `mode` (the last block may hold fewer)."""
        return self._width(n, self._column_rows(mode))

    def _blocks(self, n: int, rows: int) -> list[tuple[int, int]]:
        """(start, stop) of each block of examples, for arrays of `rows` numbers per example: all as
        wide as the first but the last."""
        width = self._width(n, rows)
        return [(start, min(n, start + width)) for start in range(0, n, width)]

    @staticmethod
    def _width(n: int, rows: int) -> int:
        """Examples per block: BLOCK_EXAMPLES while such a block stays in cache; past that, where the block
        streams from memory whatever its width, the widest up to LARGE_BLOCK_EXAMPLES whose arrays stay under
        MAX_BLOCK_BYTES (each numpy call then does more work for its fixed cost)."""
        most = BLOCK_EXAMPLES if 8 * rows * BLOCK_EXAMPLES <= CACHE_BYTES else LARGE_BLOCK_EXAMPLES
        return max(1, min(n, most, MAX_BLOCK_BYTES // (8 * rows)))

    def _start(
        self, P1: np.ndarray, S: np.ndarray, shared_forward: Callable[[], None], params: Sequence[float]
    ) -> None:
        """A call's parameters into P1 (in the batch's order), and the parameter-only values into S.
        Where one of those is not finite (a domain error or an overflow), the eager engine computes
        them all: it raises its error, naming the op."""
        np.take(np.array(params, dtype=float), self._param_take, out=P1)
        if len(S):
            shared_forward()
            if not np.isfinite(S).all():
                nodes = self._shared_forward(P1)
                S[:, 0] = [nodes[k].data for k in self.shared_slots]

    def _shared_forward(self, P: np.ndarray) -> dict[int, Value]:
        """The nodes that depend on parameters only, once, in the eager engine."""
        nodes: dict[int, Value] = {k: Value(float(P[j])) for j, k in enumerate(self.param_slots)}
        for k, c in self.program.constants:
            nodes[k] = constant(c, "compile")
        for k in sorted(self.shared_slots):  # topological: the program's order
            nodes[k] = self.program.ops[k]._apply(*(nodes[j] for j in self.program.parents[k]))
        return nodes

    def _outputs(self, state: _State | _Outputs, values: np.ndarray, aux: np.ndarray) -> None:
        """The block's output values, nan for an example with a non-finite intermediate (1 / inf is 0.0:
        the output alone would not tell; a sum over the rows is finite only if every row is, or it
        overflows, a false alarm that costs a replay), and its aux values."""
        V = state.V
        values[:] = V[self.output_row]
        bad = ~np.isfinite(np.matmul(state.ones, V[self.checked_rows]))  # each column's sum, by BLAS
        if bad.any():
            values[bad] = np.nan
        for j, (kind, index) in enumerate(self.aux_sources):
            aux[:, j] = {ROW: V, PARAM: state.P1, SHARED: state.S[:, 0], CONST: self.constants}[kind][index]

    def _to_param_list(self, by_position: np.ndarray, per_example: bool) -> np.ndarray:
        """Gradients in the order of the program's parameter list (0 for an unused one), a new array."""
        if self._all_used:  # every parameter in the list is used, once: a reordering
            return by_position[self._used_internal].T if per_example else by_position[self._used_internal]
        n_params = len(self.program.params)
        if per_example:
            out = np.zeros((by_position.shape[1], n_params))
            out[:, self._used] = by_position[self._used_internal].T
        else:
            out = np.zeros(n_params)
            out[self._used] = by_position[self._used_internal]
        return out


class _Outputs(NamedTuple):
    V: np.ndarray
    P1: np.ndarray
    S: np.ndarray
    ones: np.ndarray


class _State:
    """One thread's arrays for blocks of `width` examples in one mode, and the generated functions
    bound to them: P1 the parameters, S the parameter-only values, V and G the values and
    gradients (views of the thread's widest), GP the summed parameter gradients, SG S's."""

    def __init__(
        self, binders: tuple, V: np.ndarray, G: np.ndarray, n_params: int, n_shared: int, checked: int
    ) -> None:
        bind_shared_forward, bind_block, bind_shared_backward = binders
        self.width = V.shape[1]
        self.V, self.G = V, G
        self.ones, self.ones_n = np.ones(checked), np.ones(V.shape[1])
        self.P1, self.GP = np.empty(n_params), np.empty(n_params)
        self.S, self.SG = np.empty((n_shared, 1)), np.zeros((n_shared, 1))
        self.shared_forward = bind_shared_forward(self.P1, self.S)
        self.block = bind_block(V, G, self.P1, self.S, self.GP, self.SG)
        self.shared_backward = bind_shared_backward and bind_shared_backward(self.P1, self.S, self.SG, self.GP)

    def take_parameters(self, other: _State) -> None:
        """The parameters, parameter-only values and gradients into those of another state's call."""
        self.P1[:], self.S[:], self.SG[:] = other.P1, other.S, other.SG
