"""Run a Program on a batch of examples with numpy, one op for many nodes at once.

Every node that depends on the inputs is a row of a (rows x examples) array.
Those nodes are scheduled by level (1 + the level of their deepest parent) and
grouped by op; a group's outputs are contiguous rows, so one numpy call applies
the op's rule (`autodiff/ops.py`, evaluated on `NumpyMath`) to every node of the
group and every example at once.

Parameters and constants are shared by all examples: they enter as columns that
broadcast over the batch, and a parameter's gradient is summed over the examples
(or kept per example). Nodes that depend on parameters only, a regulariser say,
are computed once per call rather than once per example: by their own compiled
float program, whose inputs are the parameters and the gradients arriving at
those nodes (or, for per-example gradients, by the eager engine).

One pattern gets a matrix product: the `dot` nodes of a dense layer (weights all
parameters, inputs the same rows) become W @ X, and their backward pass becomes
G @ X.T and W.T @ G. That is the dot rule (d/dw_i = x_i, d/dx_i = w_i) summed over
the examples and the layer's neurons; the fusion checks that the rule has that form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import functions
from ..grad_mode import enable_grad
from ..ops import DOT, Op
from ..value import Value, constant
from .codegen import SourceMath, Sym
from .compiled import CompiledFunction
from .numpy_math import NumpyMath
from .trace import Program, trace

__all__ = ["BatchedProgram"]

ROW, PARAM, CONST, SHARED = "row", "param", "const", "shared"
MAX_BLOCK_BYTES = 512 * 2**20  # split a batch so the value and gradient arrays stay under this


def _dot_rule_swaps_weights_and_inputs() -> bool:
    syms = [Sym(f"a{i}") for i in range(4)]
    partials = DOT.partials(SourceMath, Sym("out"), *syms)
    return [p.src for p in partials] == ["a2", "a3", "a0", "a1"]


DENSE_FUSION = _dot_rule_swaps_weights_and_inputs()


@dataclass
class Operand:
    """Where one operand position of a group reads from, by kind and index."""

    kind: str
    index: np.ndarray
    rows: slice | np.ndarray = field(init=False)
    unique: bool = field(init=False)

    def __post_init__(self) -> None:
        self.rows = _as_slice(self.index)
        self.unique = len(set(self.index.tolist())) == len(self.index)


@dataclass
class Group:
    """Nodes of one op at one level, computed together; outputs are rows `rows`."""

    op: Op
    rows: slice
    operands: list[Operand]
    dense: bool = False  # operands: weights (nodes x k, flattened) as PARAM, inputs (k) as ROW
    weights_shape: tuple[int, int] = (0, 0)


class BatchedProgram:
    """A Program scheduled for numpy: build once, then `run` on batches."""

    def __init__(self, program: Program) -> None:
        self.program = program
        ops, parents = program.ops, program.parents
        self.n_inputs = len(program.inputs)
        self.param_slots = sorted({k for k in program.params if k is not None})
        param_index = {k: j for j, k in enumerate(self.param_slots)}
        const_index = {k: j for j, (k, _) in enumerate(program.constants)}
        self.constants = np.array([c for _, c in program.constants], dtype=float)

        # Which nodes depend on the examples; the others are shared by the whole batch.
        per_example = [False] * len(program)
        for k in program.inputs:
            if k is not None:
                per_example[k] = True
        for k, op in enumerate(ops):
            if op is not None:
                per_example[k] = any(per_example[j] for j in parents[k])
        self.shared_slots = [k for k, op in enumerate(ops) if op is not None and not per_example[k]]
        used_by_batch = {j for k, op in enumerate(ops) if op is not None and per_example[k] for j in parents[k]}
        wanted = used_by_batch | set(program.aux)
        self.shared_outputs = [k for k in self.shared_slots if k in wanted]
        shared_index = {k: j for j, k in enumerate(self.shared_outputs)}

        row = {k: i for i, k in enumerate(program.inputs) if k is not None}

        def kind(j: int) -> str:
            if per_example[j]:
                return ROW
            return PARAM if j in param_index else SHARED if j in shared_index else CONST

        def source(j: int) -> int:
            index = {ROW: row, PARAM: param_index, SHARED: shared_index, CONST: const_index}[kind(j)]
            return index[j]

        level = [0] * len(program)
        buckets: dict[tuple, list[int]] = {}
        for k, op in enumerate(ops):
            if op is None or not per_example[k]:
                continue
            level[k] = 1 + max(level[j] for j in parents[k])
            kinds = tuple(kind(j) for j in parents[k])
            buckets.setdefault(self._group_key(op, level[k], parents[k], kinds), []).append(k)

        self.groups: list[Group] = []
        next_row = self.n_inputs
        for key in sorted(buckets, key=lambda key: key[0]):  # stable: by level, then first appearance
            slots = buckets[key]
            for k in slots:
                row[k] = next_row
                next_row += 1
            rows = slice(next_row - len(slots), next_row)
            group_parents = [parents[k] for k in slots]
            if key[1] == "dense":
                half = len(group_parents[0]) // 2
                weights = np.array([[param_index[j] for j in ps[:half]] for ps in group_parents])
                inputs = np.array([row[j] for j in group_parents[0][half:]])
                operands = [Operand(PARAM, weights.ravel()), Operand(ROW, inputs)]
                self.groups.append(Group(DOT, rows, operands, dense=True, weights_shape=weights.shape))
                continue
            operands = [
                Operand(kinds, np.array([source(ps[position]) for ps in group_parents]))
                for position, kinds in enumerate(key[2])  # the group key holds each position's kind
            ]
            self.groups.append(Group(ops[slots[0]], rows, operands))
        self.n_rows = next_row
        self.output_row = row.get(program.output) if per_example[program.output] and ops[program.output] else None
        self.aux_sources = [(kind(k), source(k)) for k in program.aux]
        # Scratch rows for a group's gradient contributions (or a dense layer's input gradients).
        self.scratch_rows = max([1] + [max(g.rows.stop - g.rows.start, g.weights_shape[1]) for g in self.groups])
        self._buffers: dict[str, np.ndarray] = {}
        self._shared_compiled: CompiledFunction | None = None

    @staticmethod
    def _group_key(op: Op, level: int, parents: tuple[int, ...], kinds: tuple[str, ...]) -> tuple:
        half = len(parents) // 2
        if DENSE_FUSION and op is DOT and all(k == PARAM for k in kinds[:half]) and all(k == ROW for k in kinds[half:]):
            return (level, "dense", parents[half:])
        return (level, id(op), kinds, len(parents))

    # --- running ---------------------------------------------------------------------
    def forward(self, X: np.ndarray, params: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Values (n,) and aux values (n, aux) for the rows of X, without the backward pass.
        An example with a non-finite number anywhere in its forward pass gets the value nan
        (the caller replays it in the eager engine)."""
        n = X.shape[0]
        chunk = self._chunk(with_grad=False)
        if n > chunk:
            values, aux = zip(*[self.forward(X[i : i + chunk], params) for i in range(0, n, chunk)])
            return np.concatenate(values), np.concatenate(aux)
        P = np.array([params[j] for j in self._param_positions()], dtype=float)
        columns = self._columns(P, self._shared_values(P))
        V = self._buffer("values", n, self.n_rows)
        self._forward(V, X, columns)
        return self._outputs(V, columns)

    def run(
        self, X: np.ndarray, params: Sequence[float], per_example: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Values (n,), aux values (n, aux), input gradients (n, inputs), and parameter gradients
        per example (n, params) or summed (params,), for the rows of X. An example whose
        numbers are not finite needs the eager engine (the caller replays it); one with a
        non-finite intermediate value gets the value nan, even if its output came back finite."""
        n = X.shape[0]
        chunk = self._chunk(with_grad=True)
        if n > chunk:
            parts = [self.run(X[i : i + chunk], params, per_example) for i in range(0, n, chunk)]
            values, aux, inputs, grads = zip(*parts)
            summed = np.concatenate(grads, axis=0) if per_example else np.sum(grads, axis=0)
            return np.concatenate(values), np.concatenate(aux), np.concatenate(inputs, axis=0), summed

        P = np.array([params[j] for j in self._param_positions()], dtype=float)
        shared = None if per_example else self._shared_program(P)
        if shared is None:  # the eager engine: per-example Jacobian rows, or nothing it could trace
            shared_nodes, shared_leaves = self._shared_forward(P)
            shared_values = [shared_nodes[k].data for k in self.shared_outputs]
        else:
            shared_values = self._compiled_shared_values(shared, P)
        columns = self._columns(P, shared_values)
        V, G = self._buffer("values", n, self.n_rows), self._buffer("grads", n, self.n_rows)
        gathered = self._forward(V, X, columns)

        G.fill(0.0)
        G[self.output_row] = 1.0
        scratch = self._buffer("scratch", n, self.scratch_rows)  # not a fresh array per group: page faults
        shape = (lambda m: (m, n)) if per_example else (lambda m: (m,))
        grads = {PARAM: np.zeros(shape(len(P))), SHARED: np.zeros(shape(len(columns[SHARED])))}
        for group, operands in zip(reversed(self.groups), reversed(gathered)):
            grad_out = G[group.rows]
            if group.dense:
                weights, inputs = operands
                _add(G, group.operands[1], np.matmul(weights.T, grad_out, out=scratch[: weights.shape[1]]))
                if per_example:
                    contribution = (grad_out[:, None, :] * inputs[None, :, :]).reshape(-1, n)
                else:
                    contribution = (grad_out @ inputs.T).ravel()
                _add(grads[PARAM], group.operands[0], contribution)
                continue
            partials = group.op.partials(NumpyMath, V[group.rows], *operands)
            for operand, partial in zip(group.operands, partials):
                if operand.kind == CONST or (type(partial) is float and partial == 0.0):
                    continue
                if type(partial) is float and partial == 1.0:
                    contribution = grad_out
                else:
                    contribution = np.multiply(grad_out, partial, out=scratch[: len(grad_out)])
                if operand.kind == ROW:
                    _add(G, operand, contribution)
                else:
                    _add(grads[operand.kind], operand, contribution if per_example else contribution.sum(axis=1))

        if shared is None:
            self._shared_backward(shared_nodes, shared_leaves, grads, per_example)
        elif self.shared_outputs:
            grads[PARAM] += self._shared_param_grads(shared, P, grads[SHARED])
        values, aux = self._outputs(V, columns)
        return values, aux, G[: self.n_inputs].T.copy(), self._to_param_list(grads[PARAM], per_example)

    def _chunk(self, with_grad: bool) -> int:
        """How many examples one block holds: the value (gradient, scratch) arrays stay under MAX_BLOCK_BYTES."""
        rows = 2 * self.n_rows + self.scratch_rows if with_grad else self.n_rows
        return max(1, MAX_BLOCK_BYTES // (8 * rows))

    def _columns(self, P: np.ndarray, shared_values: Sequence[float]) -> dict[str, np.ndarray]:
        """The numbers shared by every example, by kind: parameters, constants, parameter-only nodes."""
        return {PARAM: P, CONST: self.constants, SHARED: np.array(shared_values, dtype=float)}

    def _forward(self, V: np.ndarray, X: np.ndarray, columns: dict[str, np.ndarray]) -> list[list[np.ndarray]]:
        """Fill V with every node's value, group by group; return each group's operands."""
        V[: self.n_inputs] = X.T
        gathered = []
        for group in self.groups:
            operands = [V[o.rows] if o.kind == ROW else columns[o.kind][o.index][:, None] for o in group.operands]
            if group.dense:
                operands[0] = operands[0].reshape(group.weights_shape)
                np.matmul(operands[0], operands[1], out=V[group.rows])
            else:
                V[group.rows] = group.op.forward(NumpyMath, *operands)
            gathered.append(operands)
        return gathered

    def _outputs(self, V: np.ndarray, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The output's values, nan for an example with a non-finite intermediate (1 / inf is 0.0:
        the output alone would not tell), and the aux values."""
        values = V[self.output_row].copy()
        values[~np.isfinite(V).all(axis=0)] = np.nan
        aux = np.empty((V.shape[1], len(self.aux_sources)))
        for j, (kind, index) in enumerate(self.aux_sources):
            aux[:, j] = V[index] if kind == ROW else columns[kind][index]
        return values, aux

    def _buffer(self, name: str, n: int, rows: int) -> np.ndarray:
        """An array (rows x n) kept from the last call with a batch of n: fresh arrays of
        this size cost more in page faults than the arithmetic on them."""
        buffer = self._buffers.get(name)
        if buffer is None or buffer.shape[1] != n:
            buffer = self._buffers[name] = np.empty((rows, n))
        return buffer

    def _shared_values(self, P: np.ndarray) -> list[float]:
        """The values of the parameter-only nodes the batch reads."""
        shared = self._shared_program(P)
        if shared is not None:
            return self._compiled_shared_values(shared, P)
        nodes, _ = self._shared_forward(P)
        return [nodes[k].data for k in self.shared_outputs]

    def _compiled_shared_values(self, shared: CompiledFunction, P: np.ndarray) -> list[float]:
        """The aux of the compiled parameter-only nodes: their values (the seeds only weight the sum; zeros)."""
        return shared([*P.tolist(), *[0.0] * len(self.shared_outputs)])[1]

    def _shared_program(self, P: np.ndarray) -> CompiledFunction | None:
        """The parameter-only nodes as a compiled function of (parameters, seeds): its value is
        sum_o seed_o * output_o, its aux the outputs, so its input gradients are the parameters'
        share of a batch's gradient. Traced at the first call's parameters; None when that trace
        fails (a domain error there), and then the eager engine runs them."""
        if self._shared_compiled is None and self.shared_outputs:
            n_params = len(self.param_slots)

            def parameter_only_nodes(*args: Value) -> tuple[Value, list[Value]]:
                nodes: dict[int, Value] = dict(zip(self.param_slots, args[:n_params]))
                for k, c in self.program.constants:
                    nodes[k] = constant(c, "compile")
                for k in self.shared_slots:
                    nodes[k] = self.program.ops[k]._apply(*(nodes[j] for j in self.program.parents[k]))
                outputs = [nodes[k] for k in self.shared_outputs]
                return functions.dot(list(args[n_params:]), outputs), outputs

            name = "the parameter-only nodes"
            example = [*P.tolist(), *[1.0] * len(self.shared_outputs)]
            try:
                program, params, aux_is_list = trace(parameter_only_nodes, example, [], name, has_aux=True)
            except (ArithmeticError, ValueError):
                return None
            self._shared_compiled = CompiledFunction(program, params, name, True, aux_is_list)
        return self._shared_compiled

    def _shared_param_grads(self, shared: CompiledFunction, P: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """The gradient of sum_o seeds[o] * output_o with respect to the parameters; nan when a seed
        or the sum is not finite (the caller then asks again per example, to find which and replay it)."""
        if not np.isfinite(seeds).all():
            return np.full(len(P), np.nan)
        try:
            _, input_grads, _ = shared.value_and_grad([*P.tolist(), *seeds.tolist()])
        except OverflowError:
            return np.full(len(P), np.nan)
        return np.array(input_grads[: len(P)])

    def _shared_forward(self, P: np.ndarray) -> tuple[dict[int, Value], dict[int, Value]]:
        """The nodes that depend on parameters only, once, on fresh leaves of the eager engine
        (recording their graph even inside `no_grad()`, for `_shared_backward`)."""
        if not self.shared_slots:
            return {}, {}
        nodes: dict[int, Value] = {}
        leaves: dict[int, Value] = {}
        for j, k in enumerate(self.param_slots):
            nodes[k] = leaves[k] = Value(float(P[j]))
        for k, c in self.program.constants:
            nodes[k] = constant(c, "compile")
        with enable_grad():
            for k in self.shared_slots:
                nodes[k] = self.program.ops[k]._apply(*(nodes[j] for j in self.program.parents[k]))
        return nodes, leaves

    def _shared_backward(
        self, nodes: dict[int, Value], leaves: dict[int, Value], grads: dict[str, np.ndarray], per_example: bool
    ) -> None:
        """Carry the gradients arriving at shared nodes back to the parameters."""
        if not self.shared_outputs:
            return
        outputs = [nodes[k] for k in self.shared_outputs]
        position = {k: j for j, k in enumerate(self.param_slots)}
        if not per_example:  # one pass: the root sum_o seed_o * output_o
            root = _seeded_root(grads[SHARED], outputs)
            if root is None:  # not finite: the caller asks again per example, to find which and replay it
                grads[PARAM][:] = np.nan
                return
            root.backward()
            for k, leaf in leaves.items():
                grads[PARAM][position[k]] += leaf.grad
            return
        for o, out in enumerate(outputs):  # per example: gradient of each output, times its seeds
            for leaf in leaves.values():
                leaf.grad = 0.0
            out.backward()
            jacobian_row = np.array([leaves[k].grad for k in self.param_slots])
            grads[PARAM] += np.outer(jacobian_row, grads[SHARED][o])

    def _param_positions(self) -> list[int]:
        """For each unique parameter slot, one position in the program's parameter list."""
        first: dict[int, int] = {}
        for j, k in enumerate(self.program.params):
            if k is not None:
                first.setdefault(k, j)
        return [first[k] for k in self.param_slots]

    def _to_param_list(self, by_slot: np.ndarray, per_example: bool) -> np.ndarray:
        """Gradients in the order of the program's parameter list (0 for an unused one)."""
        position = {k: i for i, k in enumerate(self.param_slots)}
        n = by_slot.shape[1] if per_example else None
        out = np.zeros((n, len(self.program.params))) if per_example else np.zeros(len(self.program.params))
        for j, k in enumerate(self.program.params):
            if k is not None:
                if per_example:
                    out[:, j] = by_slot[position[k]]
                else:
                    out[j] = by_slot[position[k]]
        return out


def _seeded_root(seeds: np.ndarray, outputs: list[Value]) -> Value | None:
    """sum_o seeds[o] * outputs[o] on the eager engine, or None when a seed or the sum is not finite."""
    if not np.isfinite(seeds).all():
        return None
    try:
        with enable_grad():
            return functions.dot(seeds.tolist(), outputs)
    except OverflowError:
        return None


def _add(target: np.ndarray, operand: Operand, contribution: np.ndarray) -> None:
    if operand.unique:
        target[operand.rows] += contribution
    else:  # an index used twice in this position: add.at sums both contributions
        np.add.at(target, operand.index, np.broadcast_to(contribution, (len(operand.index), *target.shape[1:])))


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """A slice for consecutive ascending indices (a view, no copy), else the index array."""
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return slice(int(index[0]), int(index[0]) + len(index))
    return index
