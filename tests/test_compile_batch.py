"""autodiff.compile's numpy batches: the generated program's paths, each against the eager engine.

The paths: dense layers as matrix products, parameter-only nodes (a regulariser) computed once
per call, ops with many operands read as one stacked array, large batches in blocks, arrays kept
from call to call (and per thread), per-example gradients and aux values through all of them.
"""

import contextlib
import math
import random
import re
import sys
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
from autodiff import Op, Value
from autodiff.compiler import batched
from autodiff.testing import expressions


def eager(fn, row, params=()):
    """Value, input gradients and parameter gradients of fn at one row, by the eager engine."""
    leaves = [Value(x) for x in row]
    for p in params:
        p.grad = 0.0
    out = fn(*leaves)
    out = out[0] if isinstance(out, tuple) else out
    out.backward()
    return out.data, [x.grad for x in leaves], [p.grad for p in params]


def assert_close(actual, expected, tol=1e-12):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=tol, atol=tol)


def assert_batch_equals_eager(compiled, fn, rows, params):
    """Summed, per-example and forward-only results of `compiled` equal the eager engine's, row by row."""
    expected = [eager(fn, row, params) for row in rows]
    values, input_grads, summed = compiled.batch_value_and_grad(rows)
    values_pe, input_grads_pe, per_example = compiled.batch_value_and_grad(rows, per_example=True)
    forward = compiled.batch(rows)
    if compiled.has_aux:
        values, values_pe, forward = values[0], values_pe[0], forward[0]
    assert_close(values, [e[0] for e in expected])
    assert_close(values_pe, values)
    assert_close(forward, values)
    assert_close(input_grads, [e[1] for e in expected])
    assert_close(input_grads_pe, input_grads)
    assert_close(per_example, [e[2] for e in expected])
    assert_close(summed, np.sum([e[2] for e in expected], axis=0).reshape(-1), 1e-11)


@contextlib.contextmanager
def blocks_of(n):
    """Run batches in blocks of n examples."""
    saved = batched.BLOCK_EXAMPLES
    batched.BLOCK_EXAMPLES = n
    try:
        yield
    finally:
        batched.BLOCK_EXAMPLES = saved


def mlp(sizes, seed=0, activation="relu", l2=1e-3):
    """A per-example hinge loss of an MLP written with Values, with an L2 term over every parameter."""
    rng = random.Random(seed)
    layers = [
        [([Value(rng.uniform(-1, 1)) for _ in range(nin)], Value(rng.uniform(-0.5, 0.5))) for _ in range(nout)]
        for nin, nout in zip(sizes, sizes[1:])
    ]
    params = [p for layer in layers for ws, b in layer for p in (*ws, b)]

    def loss(*row):
        *xs, target = row
        activations = list(xs)
        for depth, layer in enumerate(layers):
            z = [autodiff.dot(ws, activations) + b for ws, b in layer]
            last = depth == len(layers) - 1
            activations = z if last else [getattr(zi, activation)() for zi in z]
        return (1 - target * activations[0]).relu() + l2 * autodiff.dot(params, params)

    return loss, params


def moons_rows(n, seed=0):
    rng = random.Random(seed)
    return [[rng.uniform(-1.5, 2.5), rng.uniform(-1, 1.5), rng.choice([-1.0, 1.0])] for _ in range(n)]


def test_a_dense_network_with_a_regulariser_equals_eager_in_one_block_and_in_several():
    loss, params = mlp([2, 5, 4, 1])
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    rows = moons_rows(11)
    assert_batch_equals_eager(compiled, loss, rows, params)
    with blocks_of(4):  # blocks of 4, 4 and 3 examples
        assert_batch_equals_eager(compiled, loss, rows, params)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu"])
def test_each_activation_of_a_dense_network_equals_eager(activation):
    loss, params = mlp([3, 6, 1], seed=2, activation=activation)
    compiled = autodiff.compile(loss, [0.0, 0.0, 0.0, 1.0], params=params)
    rng = random.Random(3)
    rows = [[rng.uniform(-2, 2) for _ in range(3)] + [rng.choice([-1.0, 1.0])] for _ in range(7)]
    assert_batch_equals_eager(compiled, loss, rows, params)


def test_the_layers_matrices_come_from_the_parameter_vector_without_copies_in_the_source():
    loss, params = mlp([2, 5, 4, 1])
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    compiled.batch_value_and_grad(moons_rows(3))
    source = compiled._batched.source("summed")
    # each layer one product [W | b] @ [X; 1], its matrix a view of the parameters, its gradient into theirs
    assert "P1[0:15].reshape(5, 3)" in source and "P1[15:39].reshape(4, 6)" in source
    assert re.search(r"np_matmul\(g\d+_\d+, v\d+_\d+\.T, out=gp15_39\.reshape\(4, 6\)\)", source)
    assert "np_add(" not in source.split("def block")[1].split("return block")[0].split("m_max")[0]  # no bias adds
    assert "m_dot(" in source  # the regulariser over all 43 parameters: one call on a stack


def test_dense_layers_whose_bias_cannot_join_the_product_still_equal_eager():
    w = [[Value(0.5), Value(-0.3)], [Value(0.2), Value(0.8)], [Value(-0.6), Value(0.1)]]
    b = [Value(0.1), Value(-0.2), Value(0.3)]
    params = [p for row in w for p in row] + b

    def f(x1, x2):
        z0 = autodiff.dot(w[0], [x1, x2])
        a = (z0 + b[0]).tanh() + z0 * 0.5  # the dot read twice: no fusion
        c = (b[1] + autodiff.dot(w[1], [x1, x2])).relu()  # the bias first
        d = autodiff.dot(w[2], [x2, x1]) + b[2]  # inputs in another order: its own [X; 1]
        return a * c + d, [z0]

    compiled = autodiff.compile(f, [0.0, 0.0], params=params, has_aux=True)
    rows = [[0.3, -1.2], [1.5, 0.2], [-0.7, 0.9]]
    assert_batch_equals_eager(compiled, f, rows, params)
    (_, aux), _, _ = compiled.batch_value_and_grad(rows)
    assert_close(aux[:, 0], [0.5 * x1 - 0.3 * x2 for x1, x2 in rows])


def test_results_are_new_arrays_that_later_calls_of_any_size_leave_alone():
    loss, params = mlp([2, 4, 1])
    compiled = autodiff.compile(lambda *row: (loss(*row), [row[0] * 2]), [0.0, 0.0, 1.0], params=params, has_aux=True)
    rows = moons_rows(9, seed=1)
    first = compiled.batch_value_and_grad(rows)
    (values, aux), input_grads, grads = first
    kept = [a.copy() for a in (values, aux, input_grads, grads)]
    per_example = compiled.batch_value_and_grad(rows, per_example=True)[2].copy()
    for n in [9, 5, 12, 9, 1, 9]:  # other sizes, then the same size again, in every mode
        other = moons_rows(n, seed=n + 10)
        compiled.batch_value_and_grad(other)
        compiled.batch_value_and_grad(other, per_example=True)
        compiled.batch(other)
    for a, b in zip((values, aux, input_grads, grads), kept):
        assert np.array_equal(a, b)
    assert np.array_equal(compiled.batch_value_and_grad(rows, per_example=True)[2], per_example)
    assert np.array_equal(compiled.batch_value_and_grad(rows)[2], grads)


def test_batches_of_varying_sizes_each_equal_eager():
    loss, params = mlp([2, 3, 1], seed=4)
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    for n in [4, 1, 7, 4, 2]:
        assert_batch_equals_eager(compiled, loss, moons_rows(n, seed=n), params)


def test_an_empty_batch_gives_empty_values_and_zero_gradients():
    loss, params = mlp([2, 3, 1])
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    values, input_grads, grads = compiled.batch_value_and_grad(np.zeros((0, 3)))
    assert values.shape == (0,) and input_grads.shape == (0, 3) and grads.tolist() == [0.0] * len(params)
    assert compiled.batch(np.zeros((0, 3))).shape == (0,)


def test_threads_running_one_compiled_function_at_once_do_not_share_arrays():
    loss, params = mlp([2, 8, 8, 1], seed=5)
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    batches = [np.array(moons_rows(1500 + i, seed=i)) for i in range(4)]  # big: BLAS lets go of the GIL
    expected = [compiled.batch_value_and_grad(b) for b in batches]
    failures = []

    def work(i):
        for _ in range(15):
            values, input_grads, grads = compiled.batch_value_and_grad(batches[i])
            if not (np.array_equal(values, expected[i][0]) and np.array_equal(grads, expected[i][2])):
                failures.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: between any two numpy calls
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


# --- parameter-only nodes ----------------------------------------------------------------
def test_parameter_only_chains_feed_the_batch_and_get_their_gradients():
    ws = [Value(0.1 * (i + 1)) for i in range(10)]
    scale = Value(0.7)

    def f(x, y):
        l2 = autodiff.sum([w * w for w in ws])  # a sum of 10 parameter-only products: one stack
        smooth = autodiff.logsumexp([w * scale for w in ws])  # a logsumexp over 10: partials by form
        return (x * ws[0] + y * ws[1]).tanh() * smooth + l2 * x + (scale * 2.0).exp()

    params = [*ws, scale]
    compiled = autodiff.compile(f, [0.0, 0.0], params=params)
    rows = [[0.3, -1.2], [1.5, 0.2], [-0.7, 0.9]]
    assert_batch_equals_eager(compiled, f, rows, params)
    source = compiled._batched.source("summed")
    assert "m_sum(" in source and "m_logsumexp(" in source


def test_a_parameter_used_twice_in_a_parameter_only_dot_gets_both_contributions():
    w = [Value(float(i) - 4.0) for i in range(9)]

    def f(x):
        repeated = [w[0]] * 5 + w[1:4]  # w[0] five times in one operand half
        return x * autodiff.dot(repeated, w[1:9]) + autodiff.dot(w, w)

    compiled = autodiff.compile(f, [1.0], params=w)
    assert_batch_equals_eager(compiled, f, [[0.5], [-2.0]], w)


def test_a_domain_error_in_parameter_only_nodes_is_the_eager_engines_error():
    w = Value(4.0)
    compiled = autodiff.compile(lambda x: x * (w * w).log() + w.sqrt(), [1.0], params=[w])
    w.data = -1.0
    with pytest.raises(ValueError, match=r"sqrt: input must be >= 0, got -1\.0"):
        compiled.batch_value_and_grad([[1.0], [2.0]])
    with pytest.raises(ValueError, match=r"sqrt: input must be >= 0, got -1\.0"):
        compiled.batch([[1.0]])
    w.data = 4.0
    assert_batch_equals_eager(compiled, lambda x: x * (w * w).log() + w.sqrt(), [[1.0], [2.0]], [w])


# --- ops with many operands, stacked -------------------------------------------------------
def test_wide_sums_dots_and_logsumexps_over_examples_equal_eager():
    n = 12
    weights = [Value(0.05 * i - 0.3) for i in range(n)]

    def f(*xs):
        squares = [x * x for x in xs]
        return (
            autodiff.logsumexp(list(xs))  # partials exp(x_i - out): one form for every operand
            + autodiff.sum(squares)
            + autodiff.dot(list(xs), squares)  # rows . rows: the partials reorder the stack
            + autodiff.dot(weights, list(xs))  # a one-neuron dense layer
            + autodiff.sum([xs[0]] * 3 + list(xs[1:]))  # an input three times in one sum
        )

    compiled = autodiff.compile(f, [0.0] * n, params=weights)
    rng = random.Random(7)
    rows = [[rng.uniform(-2, 2) for _ in range(n)] for _ in range(5)]
    assert_batch_equals_eager(compiled, f, rows, weights)
    with blocks_of(2):
        assert_batch_equals_eager(compiled, f, rows, weights)


# Two made-up ops of nine operands, public Ops: their rules run in the eager engine too.
# weighted(x) = sum_i (i + 1) x_i: the partials are numbers, one per operand.
WEIGHTED = Op("weighted", lambda m, *xs: m.sum(tuple(float(i + 1) * x for i, x in enumerate(xs))),
              lambda m, out, *xs: tuple(float(i + 1) for i in range(len(xs))))  # fmt: skip
# mixed(x) = x_0^2 / 2 + x_1 + ... + x_8: the partials (x_0, 1, ..., 1) have no common form.
MIXED = Op("mixed", lambda m, *xs: m.sum((0.5 * xs[0] * xs[0], *xs[1:])),
           lambda m, out, *xs: (xs[0], *[1.0] * (len(xs) - 1)))  # fmt: skip


@pytest.mark.parametrize("op", [WEIGHTED, MIXED], ids=["numbers", "no-common-form"])
def test_stacked_ops_whose_partials_are_numbers_or_of_mixed_forms_equal_eager(op):
    w = Value(0.3)

    def f(*xs):
        return op(*[x * w for x in xs])

    compiled = autodiff.compile(f, [0.0] * 9, params=[w])
    rows = [[0.1 * (i + j) - 0.4 for i in range(9)] for j in range(3)]
    assert_batch_equals_eager(compiled, f, rows, [w])


# --- the generated program against eager, at random ------------------------------------------
@given(expressions(max_inputs=4, max_ops=25), st.data())
def test_random_programs_in_blocks_equal_eager_per_example_and_summed(expr, data):
    n_params = data.draw(st.integers(0, expr.n_inputs - 1), label="parameters")
    n_in = expr.n_inputs - n_params
    params = [Value(x) for x in expr.point[n_in:]]
    fn = lambda *xs: expr(*xs, *params)  # noqa: E731
    compiled = autodiff.compile(fn, expr.point[:n_in], params=params)
    shifts = data.draw(st.lists(st.floats(-0.05, 0.05), min_size=4 * n_in, max_size=4 * n_in), label="shifts")
    rows = [list(expr.point[:n_in])] + [[x + s for x, s in zip(expr.point[:n_in], shifts[i::4])] for i in range(4)]
    try:
        expected = [eager(fn, row, params) for row in rows]
    except (ArithmeticError, ValueError) as error:
        with pytest.raises(type(error)):
            compiled.batch_value_and_grad(rows)
        return
    with blocks_of(2):
        values, input_grads, per_example = compiled.batch_value_and_grad(rows, per_example=True)
        _, _, summed = compiled.batch_value_and_grad(rows)
    for i, (value, grads, param_grads) in enumerate(expected):
        assert math.isclose(values[i], value, rel_tol=1e-12, abs_tol=1e-12)
        assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(input_grads[i], grads))
        assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(per_example[i], param_grads))
    for j in range(n_params):
        assert math.isclose(summed[j], sum(e[2][j] for e in expected), rel_tol=1e-11, abs_tol=1e-11)


# --- the internal entry points other backends build on ---------------------------------------
def test_run_batch_and_run_batch_forward_take_a_checked_array_and_parameter_floats():
    loss, params = mlp([2, 3, 1], seed=6)
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    X = compiled._check_batch(moons_rows(6))
    p = [q.data for q in compiled.params]
    values, aux, inputs, grads = compiled._run_batch(X, p, False)
    assert values.shape == (6,) and aux.shape == (6, 0) and inputs.shape == (6, 3) and grads.shape == (len(p),)
    _, _, _, per_example = compiled._run_batch(X, p, True)
    assert per_example.shape == (6, len(p))
    assert_close(per_example.sum(axis=0), grads, 1e-11)
    forward, _ = compiled._run_batch_forward(X, p)
    assert_close(forward, values)
    p[0] += 1.0  # the floats given, not the parameters' data
    assert not np.allclose(compiled._run_batch_forward(X, p)[0], values)


# --- element-wise chains, and which rows the check for non-finite numbers reads ----------------
def test_a_chain_of_element_wise_ops_is_computed_in_place_in_its_gradient_rows():
    loss, params = mlp([2, 4, 1], activation="tanh")
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    compiled.batch_value_and_grad(moons_rows(3))
    source = compiled._batched.source("summed")
    # tanh's partial 1 - out * out, times the gradient: three calls into one array, no temporary
    chain = re.search(r"np_multiply\((v\d+_\d+), \1, out=(g\d+_\d+)\)\n\s+np_subtract\(1\.0, \2, out=\2\)\n"
                      r"\s+np_multiply\(g\d+_\d+, \2, out=\2\)", source)  # fmt: skip
    assert chain is not None, source


@pytest.mark.parametrize(
    "name, propagating",
    [("add", True), ("sub", True), ("mul", True), ("neg", True), ("sum", True), ("dot", True),
     ("div", False), ("relu", False), ("tanh", False), ("exp", False), ("max", False), ("logsumexp", False)],
)  # fmt: skip
def test_only_ops_made_of_plus_minus_and_times_are_known_to_carry_an_inf_or_nan_through(name, propagating):
    from autodiff.compiler.batch_source import propagates
    from autodiff.ops import OPS

    n = 1 if name in ("neg", "relu", "tanh", "exp") else 4 if name in ("sum", "dot", "logsumexp") else 2
    assert [propagates(OPS[name], n, i) for i in range(n)] == [propagating] * n


def test_an_overflow_that_a_later_relu_hides_is_still_the_eager_error():
    w = [Value(-2.0), Value(-2.0)]
    v = Value(3.0)

    def f(x1, x2):  # for huge inputs the dot overflows to -inf, relu makes it 0: the output is finite
        hidden = (autodiff.dot(w, [x1, x2]) + 0.5).relu()
        return hidden * v + 1.0

    with pytest.raises(OverflowError) as raised:
        eager(f, [1e308, 1e308], [*w, v])
    compiled = autodiff.compile(f, [0.0, 0.0], params=[*w, v])
    rows = [[0.1, 0.2], [1e308, 1e308], [0.3, -0.1]]
    with pytest.raises(OverflowError, match="example 1: " + re.escape(str(raised.value))):
        compiled.batch_value_and_grad(rows)
    with pytest.raises(OverflowError, match="example 1: " + re.escape(str(raised.value))):
        compiled.batch(rows)
    assert_batch_equals_eager(compiled, f, [rows[0], rows[2]], [*w, v])


@pytest.mark.parametrize("flag, value", [("per_example", "yes"), ("accumulate_grads", [1]), ("per_example", None)])
def test_a_switch_that_is_not_true_or_false_is_refused(flag, value):
    w = Value(0.5)
    f = autodiff.compile(lambda x: w * x, [1.0], params=[w])
    message = rf"compiled <lambda>: {flag} must be True or False, got {re.escape(repr(value))}"
    with pytest.raises(TypeError, match=message):
        f.batch_value_and_grad([[1.0]], **{flag: value})
    with pytest.raises(TypeError, match="accumulate_grads must be True or False"):
        f.value_and_grad([1.0], accumulate_grads="no")
    assert f.batch_value_and_grad([[2.0]], per_example=np.bool_(True))[2].tolist() == [[2.0]]  # numpy's bools work
    assert w.grad == 0.0


# --- arrays of other libraries -------------------------------------------------------------
def test_a_registered_array_adapter_runs_the_batches_of_its_kind_and_no_others():
    from autodiff.compiler import compiled as compiled_module

    class Rows(list):
        """An array type of another library."""

    class Adapter:
        def batch(self, f, X):
            return ("batch", f.name, len(X))

        def batch_value_and_grad(self, f, X, per_example, accumulate_grads):
            return ("grad", per_example, accumulate_grads)

    find = lambda X: Adapter() if isinstance(X, Rows) else None  # noqa: E731
    compiled_module.register_array_adapter(find)
    try:
        f = autodiff.compile(lambda x: x * 2.0, [1.0])
        assert f.batch(Rows([[1.0], [2.0]])) == ("batch", "<lambda>", 2)
        assert f.batch_value_and_grad(Rows([[1.0]]), per_example=True) == ("grad", True, False)
        assert f.batch([[1.0], [2.0]]).tolist() == [2.0, 4.0]  # a list of rows is numpy's
    finally:
        compiled_module._adapter_finders.remove(find)


def test_user_ops_used_in_compiled_batches_are_freed_when_dropped():
    import gc

    def use_once(i):
        scale = float(i + 1)
        op = Op(f"leak-{i}", lambda m, x: x * scale, lambda m, out, x: (scale,))
        f = autodiff.compile(lambda x: op(x * x), [1.0])
        values, grads, _ = f.batch_value_and_grad([[1.0], [2.0]])
        assert values.tolist() == [scale, 4 * scale] and grads.ravel().tolist() == [2 * scale, 4 * scale]

    for i in range(30):
        use_once(i)
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) is Op and o.name.startswith("leak-")]  # type(): no proxy asked
    assert alive == []


def test_an_output_that_is_an_input_runs_in_the_batch_without_an_eager_replay(monkeypatch):
    from autodiff.compiler import compiled as compiled_module

    replays = []
    real = compiled_module.run_eagerly
    monkeypatch.setattr(compiled_module, "run_eagerly", lambda *args: replays.append(args) or real(*args))
    w = Value(3.0)
    identity = autodiff.compile(lambda x, y: (y, [x * w]), [1.0, 2.0], params=[w], has_aux=True)
    X = np.array([[1.0, -2.0], [0.5, -0.0], [4.0, 7.5]])
    with blocks_of(2):
        (values, aux), inputs, grads = identity.batch_value_and_grad(X)
        (_, _), _, per_example = identity.batch_value_and_grad(X, per_example=True)
        forward, forward_aux = identity.batch(X)
    assert values.tolist() == forward.tolist() == [-2.0, -0.0, 7.5]
    assert math.copysign(1.0, values[1]) == -1.0  # x * 1.0 keeps the sign of a zero
    assert aux.tolist() == forward_aux.tolist() == [[3.0], [1.5], [12.0]]
    assert inputs.tolist() == [[0.0, 1.0]] * 3
    assert grads.tolist() == [0.0] and per_example.tolist() == [[0.0]] * 3
    assert replays == []
    assert autodiff.compile(lambda x: x, [1.0]).batch_value_and_grad([[2.5]])[0].tolist() == [2.5]
    assert replays == []


NO_NUMPY = """
import sys
sys.modules["numpy"] = None  # as after a plain pip install: importing numpy fails
import autodiff, nn
from nn.optim import SGD
from nn.train import fit

f = autodiff.compile(lambda x, y: x * y, [1.0, 2.0])
assert f.value_and_grad([2.0, 3.0]) == (6.0, [3.0, 2.0], [])  # floats need no numpy
model = nn.MLP(2, [3, 1])
calls = {
    "batch": lambda: f.batch([[1.0, 2.0]]),
    "batch_value_and_grad": lambda: f.batch_value_and_grad([[1.0, 2.0]]),
    "fit": lambda: fit(model, [[1.0, 2.0]], [1.0], loss="mse", optimizer=SGD(model.parameters(), lr=0.1),
                       epochs=1, compiled=True, progress=False),
}
for name, call in calls.items():
    try:
        call()
    except ModuleNotFoundError as error:
        print(name, "|", error, "|", error.name, error.__cause__, error.__suppress_context__)
"""


def test_without_numpy_batches_and_compiled_fit_say_in_one_line_what_to_install():
    import subprocess

    out = subprocess.run([sys.executable, "-c", NO_NUMPY], capture_output=True, text=True, check=True).stdout
    install = (
        "need numpy, which a plain pip install leaves out: "
        'pip install numpy (or the "demos" extra, pip install "autodiff[demos]")'
    )
    assert out.splitlines() == [
        f"batch | compiled <lambda>: batches {install} | numpy None True",
        f"batch_value_and_grad | compiled <lambda>: batches {install} | numpy None True",
        f"fit | fit(compiled=True) and compiled evaluation {install} | numpy None True",
    ]
