"""Big irregular graphs in compiled batches: the step runner, recycled gradient rows, scratch rows and
stacked operands, each against the eager engine to 1e-12.

A long narrow graph (the graph benchmark's workload: softplus, sums, products and softmaxes, each
reading a few recent nodes) takes paths that a dense network does not: a group of a node or four,
operands scattered over V, one row read by every node of a group, operands read twice, n-ary ops
stacked in the block, gradient rows that come and go.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff
from autodiff import Value
from autodiff.compiler import batched
from autodiff.compiler.numpy_math import NumpyMath
from autodiff.numerics import FloatMath
from demos.graph_workload import N_INPUTS, AutodiffOps, run_graph


def eager(fn, row):
    """Value and input gradients of fn at one row, by the eager engine."""
    leaves = [Value(x) for x in row]
    out = fn(*leaves)
    out.backward()
    return out.data, [x.grad for x in leaves]


def assert_batch_equals_eager(compiled, fn, rows, tol=1e-12):
    """Summed, per-example and forward-only results equal the eager engine's, row by row."""
    expected = [eager(fn, row) for row in rows]
    values, grads, _ = compiled.batch_value_and_grad(rows)
    values_pe, grads_pe, _ = compiled.batch_value_and_grad(rows, per_example=True)
    forward = compiled.batch(rows)
    for actual in (values, values_pe, forward):
        np.testing.assert_allclose(actual, [e[0] for e in expected], rtol=tol, atol=tol)
    for actual in (grads, grads_pe):
        np.testing.assert_allclose(actual, [e[1] for e in expected], rtol=tol, atol=tol)


def workload(n_ops):
    return lambda *xs: run_graph(list(xs), n_ops, AutodiffOps)


def workload_rows(n, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, N_INPUTS))


@pytest.mark.parametrize("block", [1, 3, 4096])
def test_the_graph_benchmarks_workload_equals_eager_in_blocks_of_any_width(block, monkeypatch):
    monkeypatch.setattr(batched, "BLOCK_EXAMPLES", block)
    monkeypatch.setattr(batched, "LARGE_BLOCK_EXAMPLES", block)
    fn = workload(300)
    compiled = autodiff.compile(fn, workload_rows(1)[0].tolist())
    assert_batch_equals_eager(compiled, fn, workload_rows(7, seed=block))


def test_a_graph_too_large_for_the_cache_runs_in_wider_blocks_under_a_memory_bound(monkeypatch):
    small = autodiff.compile(lambda x, y: (x * y).tanh(), [0.5, 0.25])
    small.batch_value_and_grad([[0.5, 0.25]])
    assert small._batched.block_width(100_000) == batched.BLOCK_EXAMPLES
    large = autodiff.compile(workload(2000), workload_rows(1)[0].tolist())
    large.batch_value_and_grad(workload_rows(2))
    program = large._batched
    assert program.block_width(100) == 100 and program.block_width(10**6) == batched.LARGE_BLOCK_EXAMPLES
    monkeypatch.setattr(batched, "MAX_BLOCK_BYTES", 2**24)
    width, per_example = program.block_width(10**6), 8 * (program.n_rows + program._gradient_rows["summed"])
    assert width * per_example <= 2**24 < (width + 1) * per_example


def test_a_long_narrow_graph_needs_few_gradient_rows():
    fn = workload(2000)
    compiled = autodiff.compile(fn, workload_rows(1)[0].tolist())
    compiled.batch_value_and_grad(workload_rows(2))
    program = compiled._batched
    # one row of G per node would be program.n_rows; a gradient lives from its first contribution to
    # its node's backward step, a few dozen nodes later
    assert program._gradient_rows["summed"] < 200 < 5000 < program.n_rows
    assert_batch_equals_eager(compiled, fn, workload_rows(3, seed=5))


def test_batches_of_varying_widths_share_arrays_and_each_equal_eager():
    fn = workload(120)
    compiled = autodiff.compile(fn, workload_rows(1)[0].tolist())
    for n in [5, 2, 9, 5, 1]:  # narrower arrays are other views of the same numbers
        assert_batch_equals_eager(compiled, fn, workload_rows(n, seed=n))


def test_a_layers_row_of_ones_is_set_again_after_a_wider_batch_wrote_over_it():
    weights = [[Value(0.1 * (i - j) + 0.05) for j in range(3)] for i in range(4)]
    top, bias = [Value(w) for w in (0.5, -1.0, 2.0, 0.25)], Value(0.3)

    def fn(x, y):  # relu(W1 [x, y, x*y]) read by an affine layer: [W2 | b] @ [h; 1], a row of ones in V
        h = [autodiff.dot(w, [x, y, x * y]).relu() for w in weights]
        return autodiff.dot(top, h) + bias

    compiled = autodiff.compile(fn, [0.3, -0.2])
    compiled.batch_value_and_grad([[0.3, -0.2]])
    assert compiled._batched.ones_rows  # the case this test is about
    for n in [70, 40, 70, 40]:  # the 70-wide arrays cover the numbers of the 40-wide ones' row of ones
        rows = np.random.default_rng(n).uniform(-1.0, 1.0, (n, 2)).tolist()
        assert_batch_equals_eager(compiled, fn, rows)


# --- random irregular graphs --------------------------------------------------------------------
OPS = ["softplus", "sum", "mul", "softmax", "tanh", "sub"]


@st.composite
def irregular_graphs(draw):
    """A plan of ops reading recent nodes (or any earlier one), as the workload's do: (inputs, point,
    steps), each step (op, operand positions). Operands may repeat (sum(x, x, y), x * x); a value
    that grows past 4 in size is put through tanh, so that every value stays finite."""
    n_inputs = draw(st.integers(1, 5))
    point = draw(st.lists(st.floats(-1.0, 1.0), min_size=n_inputs, max_size=n_inputs))
    values = list(point)
    steps = []
    for _ in range(draw(st.integers(1, 30))):
        op = draw(st.sampled_from(OPS))
        recent = st.integers(max(0, len(values) - 6), len(values) - 1)
        pick = draw(st.one_of(recent, st.integers(0, len(values) - 1)))
        if op in ("sum", "softmax"):
            count = draw(st.integers(2, 5))
            picks = [draw(st.one_of(recent, st.just(pick))) for _ in range(count)]
        elif op in ("mul", "sub"):
            picks = [pick, draw(st.one_of(recent, st.just(pick)))]
        else:
            picks = [pick]
        outputs = _floats(op, [values[j] for j in picks])
        squash = [abs(y) > 4.0 for y in outputs]
        steps.append((op, picks, squash))
        values += [math.tanh(y) if s else y for y, s in zip(outputs, squash)]
    return n_inputs, point, steps


def _floats(op, xs):
    if op == "softplus":
        return [FloatMath.softplus(xs[0])]
    if op == "sum":
        return [sum(xs)]
    if op == "mul":
        return [xs[0] * xs[1]]
    if op == "sub":
        return [xs[0] - xs[1]]
    if op == "tanh":
        return [math.tanh(xs[0])]
    return list(FloatMath.softmax(tuple(xs)))


def apply(op, operands):
    """The outputs of one step on Values."""
    if op == "softmax":
        return AutodiffOps.softmax(operands)
    if op == "sum":
        return [autodiff.sum(operands)]
    x, y = operands[0], operands[-1]
    if op == "mul":
        return [x * y]
    if op == "sub":
        return [x - y]
    return [x.softplus() if op == "softplus" else x.tanh()]


def replay(steps):
    """The plan as a function of Values: its output, the sum of every node no other node reads."""

    def fn(*xs):
        values = list(xs)
        read = set()
        for op, picks, squash in steps:
            read.update(picks)
            operands = [values[j] for j in picks]
            outputs = apply(op, operands)
            values += [out.tanh() if s else out for out, s in zip(outputs, squash)]
        unread = [v for i, v in enumerate(values[len(xs) :], len(xs)) if i not in read]
        return autodiff.sum(unread) if len(unread) > 1 else unread[0]

    return fn


@settings(max_examples=60, deadline=None)
@given(irregular_graphs(), st.integers(1, 5), st.data())
def test_random_irregular_graphs_in_blocks_equal_eager(graph, block, data):
    n_inputs, point, steps = graph
    fn = replay(steps)
    compiled = autodiff.compile(fn, point)
    shifts = data.draw(st.lists(st.floats(-0.05, 0.05), min_size=4 * n_inputs, max_size=4 * n_inputs))
    rows = [list(point)] + [[x + s for x, s in zip(point, shifts[i::4])] for i in range(4)]
    saved = batched.BLOCK_EXAMPLES, batched.LARGE_BLOCK_EXAMPLES
    batched.BLOCK_EXAMPLES = batched.LARGE_BLOCK_EXAMPLES = block
    try:
        assert_batch_equals_eager(compiled, fn, rows)
    finally:
        batched.BLOCK_EXAMPLES, batched.LARGE_BLOCK_EXAMPLES = saved


# --- the numpy namespace's stable forms, against the eager engine's ---------------------------------
EDGES = [-800.0, -710.0, -40.0, -3.5, -1e-300, 0.0, 1e-300, 2.0, 40.0, 710.0, 800.0]


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_numpys_sigmoid_and_softplus_equal_the_eager_engines_across_their_range(name):
    x = np.array(EDGES)
    out = np.empty_like(x)
    with np.errstate(all="ignore"):
        ours = getattr(NumpyMath, name)(x, out=out)
    assert ours is out
    expected = [getattr(FloatMath, name)(v) for v in EDGES]
    # within a few units in the last place; below -709 the sigmoid is 0.0 where the true value is under 1e-308
    np.testing.assert_allclose(ours, expected, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("stacked", [True, False])
def test_numpys_logsumexp_softmax_and_sum_take_separate_rows_or_one_stack(stacked):
    rows = np.array([[1e3, -2.0, 0.5], [1e3, 3.0, -7.0], [-5.0, 3.0, 0.5], [0.0, -1e-3, 0.5]])
    xs = rows if stacked else tuple(rows)
    columns = [tuple(rows[:, j]) for j in range(rows.shape[1])]
    out = np.empty(3)
    assert NumpyMath.logsumexp(xs, out=out) is out
    np.testing.assert_allclose(out, [FloatMath.logsumexp(c) for c in columns], rtol=1e-15)
    softmax = NumpyMath.softmax(xs)
    assert isinstance(softmax, np.ndarray if stacked else tuple)  # as the operands came
    np.testing.assert_allclose(np.array(softmax), np.array([FloatMath.softmax(c) for c in columns]).T, rtol=1e-15)
    total = np.empty(3)
    assert NumpyMath.sum(xs, out=total) is total
    np.testing.assert_allclose(total, rows.sum(axis=0), rtol=1e-15)


def test_numpys_logsumexp_and_softmax_of_one_operand_are_it_and_one():
    x = np.array([3.5, -1e300, 0.0])
    np.testing.assert_array_equal(NumpyMath.logsumexp((x,)), x)
    (only,) = NumpyMath.softmax((x,))
    np.testing.assert_array_equal(only, [1.0, 1.0, 1.0])


# --- a function of the namespace writing over its own input --------------------------------------------
@pytest.mark.parametrize("name, call", [
    ("sigmoid", lambda x, out: NumpyMath.sigmoid(x, out=out)),
    ("softplus", lambda x, out: NumpyMath.softplus(x, out=out)),
    ("step", lambda x, out: NumpyMath.step(x, 0.0, 0.5, out=out)),
])  # fmt: skip
def test_a_function_that_takes_out_may_be_given_its_own_input_as_out(name, call):
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    expected = call(x.copy(), np.empty_like(x))
    assert call(x, x) is x
    np.testing.assert_array_equal(x, expected)


def test_a_user_op_with_nested_namespace_calls_gives_the_eager_values_and_gradients_in_a_batch():
    # the batch computes a * b into the row that softplus then writes: softplus must read its input first
    op = autodiff.Op("smooth_gap", lambda m, a, b: m.softplus(a * b) + m.step(a - b, 0.0, 0.5) * a,
                     lambda m, out, a, b: (m.sigmoid(a * b) * b + m.step(a - b, 0.0, 0.5),
                                           m.sigmoid(a * b) * a))  # fmt: skip

    def fn(a, b):
        return op(a, b)

    rows = [[1.5, 1.4178], [-2.0, 0.5], [0.3, 0.3], [2.0, -1.0], [-0.7, -0.2]]
    assert_batch_equals_eager(autodiff.compile(fn, rows[0]), fn, rows)
