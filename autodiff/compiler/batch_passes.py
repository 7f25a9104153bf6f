"""The passes that schedule a traced Program for numpy batches, each a function of the one before.

    with_row_output(program)     an output that is an input becomes output * 1.0, a node of the batch
    classify(program)            each slot's kind: a row of V (depends on the examples), a row of S
                                 (an op on parameters only), a parameter or a constant
    level(classified)            each op node's level and group key (same level, op and operand kinds)
    fuse(levelled)               a dense layer's bias added to its dot: one product [W | b] @ [X; 1]
    group(levelled, fused)       the nodes of each key together, in the order their readers read them
    lay_out_parameters(grouped)  the parameters' positions: a dense layer's weights consecutive
    allocate(grouped, params)    row numbers, and the Groups that `batch_source.generate` writes

`batched.BatchedProgram` runs them once per program.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..ops import ADD, DOT, MUL, Op
from .batch_source import CONST, PARAM, ROW, SHARED, Group, Operand, propagates
from .codegen import SourceMath, Sym
from .trace import Program

__all__ = [
    "Classified",
    "Levelled",
    "Grouped",
    "Layout",
    "with_row_output",
    "classify",
    "level",
    "fuse",
    "group",
    "lay_out_parameters",
    "allocate",
]

STACK_MIN = 8  # an op with this many operands of one kind reads them as one stacked array


def _dot_rule_swaps_weights_and_inputs() -> bool:
    syms = [Sym(f"a{i}") for i in range(4)]
    partials = DOT.partials(SourceMath, Sym("out"), *syms)
    return [p.src for p in partials] == ["a2", "a3", "a0", "a1"]


DENSE_FUSION = _dot_rule_swaps_weights_and_inputs()


def _add_rule_is_a_sum() -> bool:
    out = ADD.forward(SourceMath, Sym("a"), Sym("b"))
    return out.src == "(a + b)" and ADD.partials(SourceMath, Sym("out"), Sym("a"), Sym("b")) == (1.0, 1.0)


AFFINE_FUSION = DENSE_FUSION and _add_rule_is_a_sum()


# --- the forms between the passes ----------------------------------------------------------
@dataclass(frozen=True)
class Classified:
    """The program, and each slot's kind: ROW (it depends on the examples: an input or an op on one),
    SHARED (an op on parameters and constants only), PARAM or CONST."""

    program: Program
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Levelled:
    """Each slot's level (0 for a leaf, else 1 + its deepest parent's) and number of consumers (the
    output and aux count as one each), and each op node's group key: nodes with equal keys can be
    computed by one numpy call."""

    program: Program
    kinds: tuple[str, ...]
    levels: tuple[int, ...]
    keys: dict[int, tuple]
    consumers: tuple[int, ...]


@dataclass(frozen=True)
class Grouped:
    """The nodes of each space (True: rows of V, False: rows of S) by group key, each group's nodes
    in the order a reader reads them; the keys of each space by level; the affine nodes' dots."""

    levelled: Levelled
    fused: dict[int, int]
    buckets: dict[bool, dict[tuple, list[int]]]
    order: dict[bool, list[tuple]]

    def operands(self, k: int) -> tuple[int, ...]:
        """The slots node k's group reads: its parents, or for an affine node its dot's."""
        return self.levelled.program.parents[self.fused.get(k, k)]


@dataclass(frozen=True)
class Layout:
    """Where everything is: the Groups of V and S in order, V's height, its rows of ones and the rows
    the check for non-finite numbers reads, the output's row, the aux values' sources, S's slots."""

    groups: list[Group]
    shared_groups: list[Group]
    n_rows: int
    ones_rows: list[int]
    checked_rows: slice
    output_row: int | None
    aux_sources: list[tuple[str, int]]
    shared_slots: list[int]


# --- the passes ------------------------------------------------------------------------------
def with_row_output(program: Program) -> Program:
    """The program, its output made a node of the batch when it is an input: output * 1.0, the same
    numbers (x * 1.0 is x, its derivative 1.0), so that the batch need not replay it example by example."""
    if program.output not in program.inputs:
        return program
    one = len(program)  # a constant 1.0, then the product
    return dataclasses.replace(
        program,
        ops=(*program.ops, None, MUL),
        parents=(*program.parents, (), (program.output, one)),
        constants=(*program.constants, (one, 1.0)),
        output=one + 1,
    )


def classify(program: Program) -> Classified:
    """Which slots depend on the examples (rows of V); the others depend on parameters only (rows of S)."""
    per_example = [False] * len(program)
    for k in program.inputs:
        if k is not None:
            per_example[k] = True
    for k, op in enumerate(program.ops):
        if op is not None:
            per_example[k] = any(per_example[j] for j in program.parents[k])
    params = {k for k in program.params if k is not None}

    def kind(k: int) -> str:
        if per_example[k]:
            return ROW
        return SHARED if program.ops[k] is not None else PARAM if k in params else CONST

    return Classified(program, tuple(kind(k) for k in range(len(program))))


def level(classified: Classified) -> Levelled:
    """Each op node's level and group key, and each slot's number of consumers."""
    program, kinds = classified.program, classified.kinds
    levels = [0] * len(program)
    keys: dict[int, tuple] = {}
    consumers = [0] * len(program)
    for k in (program.output, *program.aux):
        consumers[k] += 1
    for k, op in enumerate(program.ops):
        if op is not None:
            parents = program.parents[k]
            levels[k] = 1 + max(levels[j] for j in parents)
            keys[k] = _group_key(op, levels[k], parents, tuple(kinds[j] for j in parents))
            for j in parents:
                consumers[j] += 1
    return Levelled(program, kinds, tuple(levels), keys, tuple(consumers))


def fuse(levelled: Levelled) -> dict[int, int]:
    """A dense layer's bias: w . x + b, the dot read by nothing else, is one product [W | b] @ [X; 1].
    Each such + node (an affine node), mapped to its dot."""
    if not AFFINE_FUSION:
        return {}
    program, kinds, keys = levelled.program, levelled.kinds, levelled.keys
    fused = {}
    for k, op in enumerate(program.ops):
        if op is not ADD or kinds[k] != ROW:
            continue
        dot, bias = program.parents[k]
        if kinds[bias] == PARAM and keys.get(dot, (0, ""))[1] == "dense" and levelled.consumers[dot] == 1:
            fused[k] = dot
    return fused


def group(levelled: Levelled, fused: dict[int, int]) -> Grouped:
    """The op nodes by space and key (an affine node takes its dot's place), the keys by level
    (stable), and each group's nodes in the order a consumer reads them."""
    program = levelled.program
    dots = set(fused.values())
    buckets: dict[bool, dict[tuple, list[int]]] = {True: {}, False: {}}
    for k, op in enumerate(program.ops):
        if op is None or k in dots:
            continue
        key = levelled.keys[k] if k not in fused else (levelled.levels[k], "affine", levelled.keys[fused[k]][2])
        buckets[levelled.kinds[k] == ROW].setdefault(key, []).append(k)
    order = {space: sorted(buckets[space], key=lambda key: key[0]) for space in buckets}
    reads = {k: program.parents[fused.get(k, k)] for k in levelled.keys}
    for space in buckets:
        _read_order(buckets[space], order[space], reads)
    return Grouped(levelled, fused, buckets, order)


def lay_out_parameters(grouped: Grouped) -> dict[int, int]:
    """The parameters' positions in the vector the batch reads: a dense layer's weights consecutive,
    row by row (its matrix is then a view), an affine layer's bias after each row, and each other
    group's in its node order; last, the parameters no group reads."""
    parents = grouped.levelled.program.parents
    param_index: dict[int, int] = {}

    def place(slots: Iterable[int]) -> None:
        for k in slots:
            param_index.setdefault(k, len(param_index))

    for space in (True, False):
        for key in grouped.order[space]:
            nodes = grouped.buckets[space][key]
            group_parents = [parents[k] for k in nodes]
            if key[1] == "dense":
                place(j for ps in group_parents for j in ps[: len(ps) // 2])
            elif key[1] == "affine":  # each neuron's weights, then its bias
                for k in nodes:
                    dot_parents = grouped.operands(k)
                    place([*dot_parents[: len(dot_parents) // 2], parents[k][1]])
            elif key[1] == "stack":
                if key[3] == PARAM:
                    place(ps[i] for i in range(key[4]) for ps in group_parents)
            else:
                for position, position_kind in enumerate(key[2]):
                    if position_kind == PARAM:
                        place(ps[position] for ps in group_parents)
    place(k for k in grouped.levelled.program.params if k is not None)  # read by no group
    return param_index


def allocate(grouped: Grouped, param_index: dict[int, int]) -> Layout:
    """Row numbers for the nodes of S (from 0) and of V (after the inputs), and the Groups over them.

    In V, the groups whose values the check for non-finite numbers must read come first (see
    `checked_keys`), and a group that is the whole input of an affine layer is followed by a row
    of ones, that layer's [X; 1]. Within a space, the Groups are in level order."""
    program, kinds = grouped.levelled.program, grouped.levelled.kinds
    rows: dict[str, dict[int, int]] = {
        ROW: {k: i for i, k in enumerate(program.inputs) if k is not None},
        SHARED: {},
        PARAM: param_index,
        CONST: {k: j for j, (k, _) in enumerate(program.constants)},
    }
    shared = (k for key in grouped.order[False] for k in grouped.buckets[False][key])
    rows[SHARED].update((k, row) for row, k in enumerate(shared))
    checked = checked_keys(grouped)
    checked_set = set(checked)
    placed = checked + [key for key in grouped.order[True] if key not in checked_set]
    affine_inputs = {key[2] for key in grouped.order[True] if key[1] == "affine"}
    ones_rows: list[int] = []
    checked_rows = slice(len(program.inputs), len(program.inputs))
    next_row = len(program.inputs)
    for key in placed:
        for k in grouped.buckets[True][key]:
            rows[ROW][k] = next_row
            next_row += 1
        if tuple(grouped.buckets[True][key]) in affine_inputs:
            ones_rows.append(next_row)
            next_row += 1
        if key in checked_set:
            checked_rows = slice(len(program.inputs), next_row)
    output = program.output
    return Layout(
        groups=[_group(grouped, True, key, rows) for key in grouped.order[True]],
        shared_groups=[_group(grouped, False, key, rows) for key in grouped.order[False]],
        n_rows=next_row,
        ones_rows=ones_rows,
        checked_rows=checked_rows,
        output_row=rows[ROW].get(output) if kinds[output] == ROW and program.ops[output] is not None else None,
        aux_sources=[(kinds[k], rows[kinds[k]][k]) for k in program.aux],
        shared_slots=sorted(rows[SHARED], key=rows[SHARED].__getitem__),
    )


def checked_keys(grouped: Grouped) -> list[tuple]:
    """The keys of V's groups, in level order, with a node that no consumer is known to carry an inf or
    nan from (the output, say): the rows the check for non-finite numbers must read. A consumer made of
    +, - and * alone carries them from every operand, and a dense layer's product W @ X from X."""
    program = grouped.levelled.program
    carries = functools.cache(propagates)  # per program: a module-wide cache would keep user ops alive
    covered = set()
    for space in (True, False):
        for key, nodes in grouped.buckets[space].items():
            for k in nodes:
                reads = grouped.operands(k)
                dot = grouped.fused.get(k, k)
                dense_from = len(reads) // 2 if key[1] in ("dense", "affine") else None  # W @ X carries X's inf
                for i, j in enumerate(reads):
                    if dense_from is not None and i >= dense_from or carries(program.ops[dot], len(reads), i):
                        covered.add(j)
    return [key for key in grouped.order[True] if not covered.issuperset(grouped.buckets[True][key])]


# --- helpers -----------------------------------------------------------------------------------
def _group_key(op: Op, level: int, parents: tuple[int, ...], kinds: tuple[str, ...]) -> tuple:
    """Nodes with equal keys form a group: same level and op, operands of the same kinds."""
    half = len(parents) // 2
    if DENSE_FUSION and op is DOT and all(k == PARAM for k in kinds[:half]) and all(k == ROW for k in kinds[half:]):
        return (level, "dense", parents[half:])
    if len(parents) >= STACK_MIN and len(set(kinds)) == 1:
        return (level, "stack", id(op), kinds[0], len(parents))
    return (level, id(op), kinds, len(parents))


def _read_order(buckets: dict[tuple, list[int]], order: list[tuple], parents: dict[int, tuple[int, ...]]) -> None:
    """Put each group's nodes in the order a consumer reads them (a dense layer's first), from the
    last level back, so that the consumer's operand is a run of rows (a view) rather than a gather."""
    readers: dict[int, list[tuple]] = {}
    for key in order:
        for k in buckets[key]:
            for j in parents[k]:
                readers.setdefault(j, []).append(key)
    for key in reversed(order):
        nodes = buckets[key]
        if len(nodes) == 1:  # one node, one order
            continue
        for reader in sorted(dict.fromkeys(readers.get(nodes[0], [])), key=lambda r: r[1] not in ("dense", "affine")):
            for sequence in _reads(reader, buckets[reader], parents):
                if len(sequence) == len(nodes) and set(sequence) == set(nodes):
                    buckets[key] = list(sequence)
                    break
            else:
                continue
            break


def _reads(key: tuple, nodes: list[int], parents: dict[int, tuple[int, ...]]) -> list[list[int]]:
    """The sequences of nodes a group reads, one per operand position (a dense layer: its inputs)."""
    if key[1] in ("dense", "affine"):
        return [list(key[2])]
    return [[parents[k][i] for k in nodes] for i in range(len(parents[nodes[0]]))]


def _group(grouped: Grouped, space: bool, key: tuple, rows: dict[str, dict[int, int]]) -> Group:
    """The Group of one key: its op, its rows, and where each operand position reads from (an affine
    node reads its dot's operands, then its bias)."""
    nodes = grouped.buckets[space][key]
    first = rows[ROW if space else SHARED][nodes[0]]
    span = slice(first, first + len(nodes))
    if key[1] in ("dense", "affine"):
        return _dense_group(grouped, key, nodes, span, rows)
    op = grouped.levelled.program.ops[nodes[0]]
    reads = [grouped.operands(k) for k in nodes]
    if key[1] == "stack":  # operand i of node n at i * nodes + n
        where = rows[key[3]]
        index = np.array([[where[parents[i]] for parents in reads] for i in range(key[4])])
        return Group(op, span, [Operand(key[3], index.ravel())], stack=index.shape)
    operands = [
        Operand(kind, np.array([rows[kind][parents[position]] for parents in reads]))
        for position, kind in enumerate(key[2])
    ]
    return Group(op, span, operands)


def _dense_group(grouped: Grouped, key: tuple, nodes: list[int], span: slice, rows: dict[str, dict[int, int]]) -> Group:
    """The Group of a dense (or affine) layer: its weights (nodes x k, and an affine layer's bias as
    column k + 1) and its inputs."""
    program, kinds = grouped.levelled.program, grouped.levelled.kinds
    operands_of = [[(kinds[j], rows[kinds[j]][j]) for j in grouped.operands(k)] for k in nodes]
    if key[1] == "affine":
        operands_of = [[*node, (PARAM, rows[PARAM][program.parents[k][1]])] for node, k in zip(operands_of, nodes)]
    half = len(operands_of[0]) // 2
    weights = np.array([[index for _, index in node[:half] + node[2 * half :]] for node in operands_of])
    inputs = np.array([index for _, index in operands_of[0][half : 2 * half]])
    operands = [Operand(PARAM, weights.ravel()), Operand(ROW, inputs)]
    return Group(DOT, span, operands, dense=True, weights_shape=weights.shape, augmented=key[1] == "affine")
