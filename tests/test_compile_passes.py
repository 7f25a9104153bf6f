"""The passes that schedule a compiled batch (autodiff/compiler/batch_passes.py), each alone on a small
traced program: a two-neuron dense layer with biases and tanh, a one-neuron layer reading it in the
other order, and a parameter-only term.
"""

import pytest

import autodiff
from autodiff import Value
from autodiff.compiler.batch_passes import (
    allocate,
    checked_keys,
    classify,
    fuse,
    group,
    lay_out_parameters,
    level,
    with_row_output,
)
from autodiff.compiler.batch_source import CONST, PARAM, ROW, SHARED
from autodiff.ops import MUL


def two_layers():
    """A traced program and its parameters by name."""
    p = {
        "w00": Value(0.5), "w01": Value(-0.3), "w10": Value(0.2), "w11": Value(0.8),
        "b0": Value(0.1), "b1": Value(-0.2), "v0": Value(0.7), "v1": Value(-0.4), "c": Value(0.3), "s": Value(2.0),
    }  # fmt: skip

    def f(x1, x2):
        h0 = (autodiff.dot([p["w00"], p["w01"]], [x1, x2]) + p["b0"]).tanh()
        h1 = (autodiff.dot([p["w10"], p["w11"]], [x1, x2]) + p["b1"]).tanh()
        out = autodiff.dot([p["v0"], p["v1"]], [h1, h0]) + p["c"]  # reads the layer in the other order
        return out * out + (p["s"] * p["s"]) * 3.0  # s * s * 3: parameters and a constant only

    compiled = autodiff.compile(f, [0.0, 0.0], params=list(p.values()))
    program = compiled.program
    slot = {name: program.params[j] for j, name in enumerate(p)}
    return program, slot


def ops_named(program, name):
    """The slots of the program's nodes of op `name`, in program order."""
    return [k for k, op in enumerate(program.ops) if op is not None and op.name == name]


@pytest.fixture
def program_and_slots():
    return two_layers()


def test_classify_tells_example_rows_from_parameter_only_nodes_parameters_and_constants(program_and_slots):
    program, slot = program_and_slots
    kinds = classify(program).kinds
    assert [kinds[k] for k in program.inputs] == [ROW, ROW]
    assert {kinds[k] for k in slot.values()} == {PARAM}
    assert [kinds[k] for k, _ in program.constants] == [CONST]
    s_squared = next(k for k in ops_named(program, "*") if program.parents[k] == (slot["s"], slot["s"]))
    times_three = next(k for k in ops_named(program, "*") if program.parents[k][0] == s_squared)
    assert (kinds[s_squared], kinds[times_three]) == (SHARED, SHARED)
    for name in ("dot", "+", "tanh"):
        assert {kinds[k] for k in ops_named(program, name)} == {ROW}
    assert kinds[program.output] == ROW


def test_level_gives_each_op_node_its_depth_a_key_shared_by_its_kind_and_counts_consumers(program_and_slots):
    program, slot = program_and_slots
    levelled = level(classify(program))
    dot_of = {program.parents[k][0]: k for k in ops_named(program, "dot")}  # by first weight
    layer, dot_out = [dot_of[slot["w00"]], dot_of[slot["w10"]]], dot_of[slot["v0"]]
    assert [levelled.levels[k] for k in layer] == [1, 1]
    assert levelled.levels[dot_out] == 4  # dot, +, tanh below it
    assert levelled.levels[program.output] == 7
    assert levelled.keys[layer[0]] == levelled.keys[layer[1]] == (1, "dense", program.inputs)  # reads x1, x2
    tanhs = ops_named(program, "tanh")
    assert levelled.keys[tanhs[0]] == levelled.keys[tanhs[1]]
    assert all(levelled.levels[k] == 0 for k in [*slot.values(), *program.inputs])
    assert [levelled.consumers[k] for k in (*layer, dot_out)] == [1, 1, 1]
    square = next(k for k in ops_named(program, "*") if levelled.kinds[k] == ROW)
    assert levelled.consumers[program.parents[square][0]] == 2  # out * out
    assert levelled.consumers[program.output] == 1
    assert levelled.consumers[slot["s"]] == 2


def test_fuse_joins_each_dense_dot_to_the_bias_added_to_it(program_and_slots):
    program, _ = program_and_slots
    fused = fuse(level(classify(program)))
    dots = ops_named(program, "dot")
    assert fused == {k: program.parents[k][0] for k in ops_named(program, "+") if program.parents[k][0] in dots}
    assert sorted(fused.values()) == dots and len(fused) == 3


def test_fuse_leaves_a_dot_read_twice_or_a_bias_that_is_not_a_parameter():
    w, b = [Value(0.5), Value(-0.3)], Value(0.1)

    def f(x1, x2):
        z = autodiff.dot(w, [x1, x2])
        return (z + b) * z + (autodiff.dot(w, [x2, x1]) + x1)  # z read twice; x1 is no parameter

    program = autodiff.compile(f, [0.0, 0.0], params=[*w, b]).program
    assert fuse(level(classify(program))) == {}


def test_group_gathers_nodes_of_one_key_in_the_order_their_reader_reads_them(program_and_slots):
    program, slot = program_and_slots
    levelled = level(classify(program))
    grouped = group(levelled, fuse(levelled))
    assert [key[0] for key in grouped.order[True]] == [2, 3, 5, 6, 7]  # by level; the dots joined their +
    affine, tanh, _, _, _ = (grouped.buckets[True][key] for key in grouped.order[True])
    out_dot = next(k for k in ops_named(program, "dot") if program.parents[k][0] == slot["v0"])
    assert tanh == list(program.parents[out_dot][2:])  # h1 then h0, as the last layer reads them
    assert affine == [program.parents[k][0] for k in tanh]  # and the layer in the order tanh reads it
    assert [grouped.buckets[False][key] for key in grouped.order[False]] == [
        [k] for k in ops_named(program, "*") if levelled.kinds[k] == SHARED
    ]


def test_lay_out_parameters_puts_a_layers_weights_row_by_row_each_followed_by_its_bias(program_and_slots):
    program, slot = program_and_slots
    levelled = level(classify(program))
    positions = lay_out_parameters(group(levelled, fuse(levelled)))
    by_position = sorted(slot, key=lambda name: positions[slot[name]])
    # the layer in its group's order (neuron 1 first, as the last layer reads it), then that layer, then s
    assert by_position == ["w10", "w11", "b1", "w00", "w01", "b0", "v0", "v1", "c", "s"]


def test_allocate_puts_checked_rows_first_a_row_of_ones_after_a_layers_input_and_groups_in_level_order(
    program_and_slots,
):
    program, slot = program_and_slots
    levelled = level(classify(program))
    grouped = group(levelled, fuse(levelled))
    layout = allocate(grouped, lay_out_parameters(grouped))
    # rows 0-1 the inputs; checked first: the first layer (tanh does not carry an inf) and the output
    assert layout.checked_rows == slice(2, 5)
    assert layout.output_row == 4
    assert [g.op.name for g in layout.groups] == ["dot", "tanh", "dot", "*", "+"]
    assert [(g.rows.start, g.rows.stop) for g in layout.groups] == [(2, 4), (5, 7), (8, 9), (9, 10), (4, 5)]
    assert layout.ones_rows == [7]  # after the tanh rows: the last layer's [X; 1] is a view of V
    assert layout.n_rows == 10
    first_layer, _, last_layer, _, _ = layout.groups
    assert first_layer.augmented and first_layer.weights_shape == (2, 3)
    assert first_layer.operands[0].index.tolist() == [0, 1, 2, 3, 4, 5]
    assert last_layer.operands[1].index.tolist() == [5, 6]
    assert [g.op.name for g in layout.shared_groups] == ["*", "*"]
    assert [(g.rows.start, g.rows.stop) for g in layout.shared_groups] == [(0, 1), (1, 2)]
    assert layout.shared_slots == [k for k in ops_named(program, "*") if levelled.kinds[k] == SHARED]
    assert checked_keys(grouped) == [grouped.order[True][0], grouped.order[True][-1]]


def test_with_row_output_makes_an_output_that_is_an_input_a_product_by_one_and_leaves_others_alone(
    program_and_slots,
):
    program, _ = program_and_slots
    assert with_row_output(program) is program
    w = Value(2.0)
    identity = autodiff.compile(lambda x, y: (x, [y * w]), [1.0, 2.0], params=[w], has_aux=True).program
    rewritten = with_row_output(identity)
    n = len(identity)
    assert rewritten.ops == (*identity.ops, None, MUL)
    assert rewritten.parents[n:] == ((), (identity.inputs[0], n))
    assert rewritten.constants == ((n, 1.0),) and rewritten.output == n + 1
    assert (rewritten.inputs, rewritten.params, rewritten.aux) == (identity.inputs, identity.params, identity.aux)


def schedule(program):
    levelled = level(classify(program))
    grouped = group(levelled, fuse(levelled))
    return levelled, grouped, lay_out_parameters(grouped)


def test_a_dense_layer_without_bias_gets_its_weights_row_by_row_and_plain_groups_theirs_in_node_order():
    w = [[Value(0.5), Value(-0.3)], [Value(0.2), Value(0.8)]]
    v = [Value(1.5), Value(2.5)]

    def f(x1, x2):
        z = [autodiff.dot(row, [x1, x2]) for row in w]  # read twice below: no bias joins them
        return (z[0] * z[1] + z[0]) + (x1 * v[1] + x2 * v[0])  # a group of two products, v[1]'s first

    listed = {"w11": w[1][1], "v1": v[1], "w00": w[0][0], "v0": v[0], "w10": w[1][0], "w01": w[0][1]}  # mixed up
    program = autodiff.compile(f, [0.0, 0.0], params=list(listed.values())).program
    slot = dict(zip(listed, program.params))
    levelled, grouped, positions = schedule(program)
    assert grouped.fused == {}
    dense = next(key for key in grouped.order[True] if key[1] == "dense")
    first, second = (program.parents[k][0] for k in grouped.buckets[True][dense])
    rows = [["w00", "w01"], ["w10", "w11"]] if first == slot["w00"] else [["w10", "w11"], ["w00", "w01"]]
    assert second in (slot["w00"], slot["w10"]) and second != first
    start = positions[slot[rows[0][0]]]
    assert [positions[slot[name]] for name in [*rows[0], *rows[1]]] == list(range(start, start + 4))  # a view
    products = next(key for key in grouped.order[True] if key[1] != "dense" and PARAM in key[2])
    in_group = [program.parents[k][1] for k in grouped.buckets[True][products]]
    first = positions[in_group[0]]
    assert [positions[k] for k in in_group] == [first, first + 1]  # in the group's node order


def test_ops_of_eight_operands_or_more_of_one_kind_are_stacked_and_of_seven_are_not():
    def f(*xs):
        return autodiff.sum(list(xs[:8])) * autodiff.sum(list(xs[:7]))

    program = autodiff.compile(f, [0.0] * 8).program
    levelled = level(classify(program))
    by_operands = {len(program.parents[k]): key for k, key in levelled.keys.items() if program.ops[k].name == "sum"}
    assert by_operands[8][1] == "stack" and by_operands[8][3:] == (ROW, 8)
    assert by_operands[7][1] != "stack" and by_operands[7][2] == (ROW,) * 7


def tanh_group_order(dense_reads, exp_reads):
    """The order (by input) the group of three tanh nodes gets when a dense layer reads `dense_reads` of
    them, and a group of exp nodes, one per tanh, is read by another dense layer in the order `exp_reads`;
    and the tanh nodes' order in the program."""
    w = [Value(0.5), Value(-0.3), Value(0.2)]
    v = [Value(0.7), Value(0.1), Value(-0.4)]

    def f(x1, x2, x3):
        t = [x1.tanh(), x2.tanh(), x3.tanh()]
        e = [ti.exp() for ti in t]
        return autodiff.dot(w[: len(dense_reads)], [t[i] for i in dense_reads]) * autodiff.dot(
            v, [e[i] for i in exp_reads]
        )

    program = autodiff.compile(f, [0.0, 0.0, 0.0], params=[*w, *v]).program
    _, grouped, _ = schedule(program)
    key = next(key for key in grouped.order[True] if program.ops[grouped.buckets[True][key][0]].name == "tanh")
    tanhs = [k for k in range(len(program)) if program.ops[k] is not None and program.ops[k].name == "tanh"]
    position = {k: program.inputs.index(program.parents[k][0]) for k in tanhs}
    return [position[k] for k in grouped.buckets[True][key]], [position[k] for k in tanhs]


@pytest.mark.parametrize("exp_reads", [[1, 2, 0], [0, 2, 1]])
def test_a_group_read_whole_by_a_dense_layer_and_by_another_group_takes_the_dense_layers_order(exp_reads):
    assert tanh_group_order([2, 0, 1], exp_reads)[0] == [2, 0, 1]


@pytest.mark.parametrize("exp_reads", [[1, 2, 0], [0, 2, 1], [2, 0, 1]])
def test_a_group_that_no_dense_layer_reads_whole_takes_the_order_of_a_group_that_reads_it_whole(exp_reads):
    order, _ = tanh_group_order([2, 0], exp_reads)  # the first reader reads two of three
    assert order == exp_reads  # the exp group's order, which it took from its dense reader
