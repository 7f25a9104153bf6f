"""autodiff.compile: traced programs equal the eager engine, on floats and on numpy batches."""

import importlib
import math
import random
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
from autodiff import Value
from autodiff.compiler import TracingError
from autodiff.testing import expressions


def eager(fn, xs, params=()):
    leaves = [Value(x) for x in xs]
    for p in params:
        p.grad = 0.0
    out = fn(*leaves)
    out.backward()
    return out.data, [x.grad for x in leaves], [p.grad for p in params]


def close(a, b, tol=1e-12):
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


@given(expressions(max_inputs=3, max_ops=15))
def test_compiled_floats_equal_the_eager_engine_on_random_dags(expr):
    compiled = autodiff.compile(expr, expr.point)
    value, grads, _ = eager(expr, expr.point)
    c_value, c_grads, c_params = compiled.value_and_grad(expr.point)
    assert close(c_value, value) and close(compiled(expr.point), value)
    assert all(close(a, b) for a, b in zip(c_grads, grads))
    assert c_params == []


@given(expressions(max_inputs=3, max_ops=15), st.lists(st.floats(-0.02, 0.02), min_size=3, max_size=3))
def test_compiled_batches_equal_the_eager_engine_example_by_example(expr, shift):
    rows = [list(expr.point), [x + s for x, s in zip(expr.point, shift)], [x - s for x, s in zip(expr.point, shift)]]
    compiled = autodiff.compile(expr, expr.point)
    expected = []
    for row in rows:
        try:
            expected.append(eager(expr, row))
        except (ArithmeticError, ValueError) as error:
            with pytest.raises(type(error)):
                compiled.batch_value_and_grad(rows)
            return
    values, input_grads, _ = compiled.batch_value_and_grad(rows)
    for i, (value, grads, _) in enumerate(expected):
        assert close(values[i], value)
        assert all(close(a, b) for a, b in zip(input_grads[i], grads))
    assert compiled.batch(rows).tolist() == values.tolist()


@given(expressions(max_inputs=4, max_ops=15), st.data())
def test_batches_with_parameters_equal_eager_per_example_and_summed(expr, data):
    n_params = data.draw(st.integers(0, expr.n_inputs - 1), label="parameters")
    n_in = expr.n_inputs - n_params
    params = [Value(x) for x in expr.point[n_in:]]
    compiled = autodiff.compile(lambda *xs: expr(*xs, *params), expr.point[:n_in], params=params)
    shifts = data.draw(st.lists(st.floats(-0.02, 0.02), min_size=2 * n_in, max_size=2 * n_in), label="shifts")
    rows = [list(expr.point[:n_in])] + [[x + s for x, s in zip(expr.point[:n_in], shifts[i::2])] for i in range(2)]
    expected = []
    for row in rows:
        try:
            expected.append(eager(lambda *xs: expr(*xs, *params), row, params))
        except (ArithmeticError, ValueError) as error:
            with pytest.raises(type(error)):
                compiled.batch_value_and_grad(rows)
            return
    values, input_grads, per_example = compiled.batch_value_and_grad(rows, per_example=True)
    _, _, summed = compiled.batch_value_and_grad(rows)
    for i, (value, grads, param_grads) in enumerate(expected):
        assert close(values[i], value)
        assert all(close(a, b) for a, b in zip(input_grads[i], grads))
        assert all(close(a, b) for a, b in zip(per_example[i], param_grads))
    for j in range(n_params):
        assert close(summed[j], sum(e[2][j] for e in expected), 1e-11)


def small_network(seed=0):
    rng = random.Random(seed)
    hidden = [([Value(rng.uniform(-1, 1)) for _ in range(2)], Value(rng.uniform(-0.5, 0.5))) for _ in range(4)]
    out_w = [Value(rng.uniform(-1, 1)) for _ in range(4)]
    params = [p for ws, b in hidden for p in (*ws, b)] + out_w

    def loss(x1, x2, target):
        h = [(autodiff.dot(ws, [x1, x2]) + b).tanh() for ws, b in hidden]
        score = autodiff.dot(out_w, h)
        return (1 - target * score).relu() + 1e-3 * autodiff.dot(params, params)

    return loss, params


def test_parameter_gradients_per_example_and_summed_equal_eager_backward():
    loss, params = small_network()
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    rng = random.Random(1)
    rows = [[rng.uniform(-2, 2), rng.uniform(-2, 2), rng.choice([-1.0, 1.0])] for _ in range(20)]
    values, input_grads, per_example = compiled.batch_value_and_grad(rows, per_example=True)
    _, _, summed = compiled.batch_value_and_grad(rows)
    total = [0.0] * len(params)
    for i, row in enumerate(rows):
        value, grads, param_grads = eager(loss, row, params)
        assert close(values[i], value)
        assert all(close(a, b) for a, b in zip(input_grads[i], grads))
        assert all(close(a, b) for a, b in zip(per_example[i], param_grads))
        total = [t + g for t, g in zip(total, param_grads)]
    assert all(close(a, b) for a, b in zip(summed, total))
    assert per_example.shape == (20, len(params)) and summed.shape == (len(params),)


def test_the_batch_gradient_of_the_mean_loss_is_the_mean_of_per_example_gradients():
    loss, params = small_network(3)
    compiled = autodiff.compile(loss, [0.0, 0.0, 1.0], params=params)
    rows = [[0.3, -1.2, 1.0], [1.5, 0.2, -1.0], [-0.7, 0.9, 1.0], [0.1, 0.1, -1.0]]
    _, _, per_example = compiled.batch_value_and_grad(rows, per_example=True)
    leaves = [[Value(x) for x in row] for row in rows]
    mean_loss = autodiff.sum([loss(*row) for row in leaves]) * (1 / len(rows))
    for p in params:
        p.grad = 0.0
    mean_loss.backward()
    assert np.allclose(per_example.mean(axis=0), [p.grad for p in params], rtol=1e-12, atol=1e-14)


def test_parameters_are_read_live_and_gradients_accumulate_on_request():
    w = Value(2.0)
    compiled = autodiff.compile(lambda x: w * x * x, [1.0], params=[w])
    assert compiled([3.0]) == 18.0
    w.data = 3.0
    assert compiled([3.0]) == 27.0
    compiled.value_and_grad([3.0], accumulate_grads=True)
    compiled.batch_value_and_grad([[1.0], [2.0]], accumulate_grads=True)
    assert w.grad == 9.0 + 1.0 + 4.0


def test_captured_leaves_are_found_when_params_are_not_given():
    a, b = Value(1.5, label="a"), Value(-0.5, label="b")
    compiled = autodiff.compile(lambda x: a * x + b, [2.0])
    assert set(compiled.params) == {a, b}
    _, _, grads = compiled.value_and_grad([2.0])
    assert dict(zip(compiled.params, grads)) == {a: 2.0, b: 1.0}


def _scaled_without_grad(x):
    with autodiff.no_grad():
        scale = x * 2
    return x * scale


@pytest.mark.parametrize(
    "fn, what",
    [
        (lambda x: x * 2 if x > 0 else -x, r"a comparison \(>\)"),
        (lambda x: x * 2 if x else x, "a truth test"),
        (lambda x: x * float(x), r"float\(\)"),
        (lambda x: max(x, x * x), "a comparison"),
        (lambda x: x * x.detach(), r"detach\(\)"),  # the detached copy would be a constant
        (lambda x: _scaled_without_grad(x), r"no_grad\(\)"),
    ],
)
def test_data_dependent_branches_are_refused_while_tracing(fn, what):
    with pytest.raises(TracingError, match=what) as raised:
        autodiff.compile(fn, [1.0])
    assert "test_compile.py" in str(raised.value)  # the message points at the user's line


def test_after_a_refused_trace_comparisons_work_again():
    with pytest.raises(TracingError):
        autodiff.compile(lambda x: x if x > 0 else -x, [1.0])
    assert Value(2.0) > Value(1.0)


def test_domain_errors_are_the_eager_engines_errors_naming_the_example():
    compiled = autodiff.compile(lambda x: x.log() * 2, [1.0])
    with pytest.raises(ValueError, match=r"log: input must be > 0, got -1\.0"):
        compiled([-1.0])
    with pytest.raises(ValueError, match=r"example 1: log: input must be > 0, got 0\.0"):
        compiled.batch([[1.0], [0.0], [2.0]])
    overflow = autodiff.compile(lambda x: x * x, [1.0])
    with pytest.raises(OverflowError, match=r"\*: result is not a finite float"):
        overflow([1e200])


def log_then_sqrt(x, y):
    return (x * y).log() + x.sqrt()  # at (-1, 2) both fail: eager meets log first


def sqrt_then_log(x, y):
    root = x.sqrt()  # made first: eager meets it first, though the sum reads it second
    return (x * y).log() + root


@pytest.mark.parametrize("fn, first", [(log_then_sqrt, "log: input must be > 0"), (sqrt_then_log, "sqrt")])
def test_a_compiled_error_is_the_first_one_eager_evaluation_meets(fn, first):
    with pytest.raises(ValueError) as eager_error:
        eager(fn, [-1.0, 2.0])
    assert str(eager_error.value).startswith(first)
    compiled = autodiff.compile(fn, [1.0, 2.0])
    for run in (compiled, compiled.value_and_grad):
        with pytest.raises(ValueError) as error:
            run([-1.0, 2.0])
        assert str(error.value) == str(eager_error.value)
    for run in (compiled.batch, compiled.batch_value_and_grad):
        with pytest.raises(ValueError) as error:
            run([[1.0, 2.0], [-1.0, 2.0]])
        assert str(error.value) == f"compiled {fn.__name__}, example 1: {eager_error.value}"


def slope_of_root(x, w):
    shifted = x * w
    return shifted.sqrt() + x  # sqrt's derivative at 0 is not finite


def test_in_anomaly_mode_a_compiled_error_names_the_line_of_the_traced_function_that_made_the_op():
    w = Value(1.0)
    w.grad = 5.0
    compiled = autodiff.compile(lambda x: slope_of_root(x, w), [1.0], params=[w])  # compiled outside the mode
    line = slope_of_root.__code__.co_firstlineno + 2
    site = rf"`sqrt` created at \S*test_compile\.py:{line} in slope_of_root: the derivative is not finite"
    with autodiff.detect_anomaly():
        with pytest.raises(ZeroDivisionError, match=f"^{site}"):
            compiled.value_and_grad([0.0])
        with pytest.raises(ZeroDivisionError, match=f"^compiled <lambda>, example 2: {site}"):
            compiled.batch_value_and_grad([[1.0], [4.0], [0.0]])
    assert w.grad == 5.0  # running the function again for its error left the parameter's gradient alone
    with pytest.raises(ZeroDivisionError, match="^sqrt: the derivative is not finite"):  # no site outside the mode
        compiled.value_and_grad([0.0])


def test_a_zero_gradient_into_an_undefined_derivative_gives_the_eager_result():
    compiled = autodiff.compile(lambda x: x.sqrt() * 0.0 + x, [1.0])
    assert compiled.value_and_grad([0.0])[:2] == (0.0, [1.0])
    values, grads, _ = compiled.batch_value_and_grad([[0.0], [4.0]])
    assert values.tolist() == [0.0, 4.0] and grads[:, 0].tolist() == [1.0, 1.0]


def test_kinks_keep_the_eager_subgradients_in_batches():
    compiled = autodiff.compile(lambda a, b: a.relu() + abs(b) + a.max(b) + a.leaky_relu(0.1), [1.0, 1.0])
    _, grads, _ = compiled.batch_value_and_grad([[0.0, 0.0], [1.0, -1.0], [-1.0, 2.0]])
    expected = [eager(lambda a, b: a.relu() + abs(b) + a.max(b) + a.leaky_relu(0.1), row)[1]
                for row in ([0.0, 0.0], [1.0, -1.0], [-1.0, 2.0])]  # fmt: skip
    assert grads.tolist() == expected


def new_primitives(x, y, z):
    """Every primitive of forward mode's issue, in one function."""
    return (x.tan() + y.asin() + y.acos() + x.atan() + y.atan2(x) + x.sinh() + z.cosh() + y.log1p() + x.expm1()
            + z.log2() + z.log10() + (x * 3.0).floor() + (x * 3.0).ceil() + z % y + 7.0 % z + x.clamp(y, z)
            + x.clamp(hi=0.2) + 0.0**z + x**z)  # fmt: skip


def test_the_new_primitives_compile_to_the_eager_results_on_floats_and_batches():
    rows = [[0.3, 0.4, 1.7], [0.2, 0.5, 2.5], [1.0 / 3.0, 0.5, 0.5], [0.25, 0.25, 1.5]]  # the last two: kinks
    compiled = autodiff.compile(new_primitives, rows[0])
    values, grads, _ = compiled.batch_value_and_grad(rows)
    for i, row in enumerate(rows):
        value, expected, _ = eager(new_primitives, row)
        assert close(compiled(row), value) and close(values[i], value)
        assert all(close(a, b) for a, b in zip(compiled.value_and_grad(row)[1], expected))
        assert all(close(a, b) for a, b in zip(grads[i], expected))


def test_the_new_primitives_domain_errors_are_the_eager_ones_in_batches():
    asin = autodiff.compile(lambda x: x.asin(), [0.5])
    with pytest.raises(ValueError, match=r"example 1: asin: input must be in \[-1, 1\], got 1\.5"):
        asin.batch([[0.5], [1.5]])
    with pytest.raises(ZeroDivisionError, match=r"example 1: asin: the derivative is not finite or undefined"):
        asin.batch_value_and_grad([[0.5], [1.0]])
    remainder = autodiff.compile(lambda a, b: a % b, [1.0, 2.0])
    with pytest.raises(ZeroDivisionError, match=r"%: division by zero, got 1\.0 % 0\.0"):
        remainder.value_and_grad([1.0, 0.0])
    power = autodiff.compile(lambda a, b: a**b, [1.0, 2.0])
    assert power.value_and_grad([0.0, 2.0])[:2] == (0.0, [0.0, 0.0])
    with pytest.raises(ZeroDivisionError, match=r"example 0: \*\*: 0\.0 cannot be raised to a negative power"):
        power.batch([[0.0, -1.0]])


def test_bad_inputs_get_clear_errors():
    compiled = autodiff.compile(lambda x, y: x * y, [1.0, 2.0])
    with pytest.raises(ValueError, match="expected 2 inputs, got 1"):
        compiled([1.0])
    with pytest.raises(TypeError, match=r"input 0 must be an int or float, got str \('a'\)"):
        compiled(["a", 1.0])
    with pytest.raises(ValueError, match=r"shape \(examples, 2\), got \(3,\)"):
        compiled.batch([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="example 1 is not finite"):
        compiled.batch([[1.0, 2.0], [math.nan, 1.0]])
    with pytest.raises(TypeError, match="must return a Value, got str"):
        autodiff.compile(lambda x: "x", [1.0])
    with pytest.raises(TypeError, match="params must be Values"):
        autodiff.compile(lambda x: x, [1.0], params=[1.0])


def test_the_generated_source_holds_slot_names_not_user_text():
    evil = Value(1.0, label="__import__('os').system('echo hacked')")
    compiled = autodiff.compile(lambda x: x * evil + 12345.678, [1.0])
    assert "import" not in compiled.source and "12345" not in compiled.source
    assert compiled([2.0]) == 2.0 + 12345.678


def test_a_gradient_passed_on_unchanged_is_named_not_copied():
    # d(a + b)/da = 1: a's and b's gradients are the sum's own, with no `g0 = g2` line each; c adds to a
    # sum's gradient, so it gets a line of its own.
    compiled = autodiff.compile(lambda a, b, c: (a + b) * c + c.exp(), [0.5, -1.5, 2.0])
    assert not re.search(r"^\s*g\d+ = g\d+$", compiled.source, re.MULTILINE), compiled.source
    value, grads, _ = compiled.value_and_grad([0.5, -1.5, 2.0])
    assert (value, grads) == ((0.5 - 1.5) * 2.0 + math.exp(2.0), [2.0, 2.0, -1.0 + math.exp(2.0)])
    assert len(re.findall(r"^\s*g\d+ = ", compiled.source, re.MULTILINE)) == 4  # seed, c's and a's twice
    total = autodiff.compile(lambda a, b: a + b, [1.0, 2.0])
    assert total.value_and_grad([1.0, 2.0])[1] == [1.0, 1.0]


# |x| by rules that branch on the input: the float program calls them instead of inlining them.
BRANCHING_ABS = autodiff.Op("branching_abs", lambda m, x: x if x >= 0.0 else -x,
                                             lambda m, out, x: (1.0 if x >= 0.0 else -1.0,))  # fmt: skip


@pytest.mark.parametrize(
    "fn, xs",
    [
        (lambda a, b, c: (a + b) * c + c.exp(), [0.5, -1.5, 2.0]),
        (lambda a, b, c: autodiff.logsumexp([a, b * c, c]) + autodiff.sum([a, b, c, a]), [0.3, -0.2, 1.1]),
        (lambda a, b: BRANCHING_ABS(a - b) * b.tanh(), [0.25, 1.5]),
    ],
)
def test_a_float_program_gives_its_results_without_the_eager_engine(monkeypatch, fn, xs):
    # The eager engine answers for a program that fails (domain errors), so a broken program would
    # still give right numbers: here it may not answer at all.
    compiled = autodiff.compile(fn, xs)
    compiled_module = importlib.import_module("autodiff.compiler.compiled")
    monkeypatch.setattr(compiled_module, "run_eagerly", lambda *args: pytest.fail("the eager engine ran"))
    value, grads, _ = compiled.value_and_grad(xs)
    e_value, e_grads, _ = eager(fn, xs)
    assert close(value, e_value) and all(close(a, b) for a, b in zip(grads, e_grads))
    assert compiled(xs) == value


def test_unchecked_float_math_is_maths_own_and_compiled_errors_stay_named():
    from autodiff.numerics import FloatMath, UncheckedFloatMath

    assert UncheckedFloatMath.exp is math.exp and UncheckedFloatMath.log is math.log
    assert UncheckedFloatMath.floor is FloatMath.floor and UncheckedFloatMath.floor(-0.5) == -1.0  # a float
    compiled = autodiff.compile(lambda x: (x - 1.0).log() + x.exp(), [2.0])
    assert compiled([2.0]) == math.log(1.0) + math.exp(2.0)
    with pytest.raises(OverflowError, match="exp: result overflows a float, got 1000.0"):
        compiled([1000.0])
    with pytest.raises(ValueError, match="log: input must be > 0, got -0.5"):
        compiled([0.5])


def test_a_function_of_a_thousand_inputs_compiles_and_matches():
    rng = random.Random(0)
    xs = [rng.uniform(-1, 1) for _ in range(1000)]

    def f(*values):
        return autodiff.sum([v.tanh() for v in values]) + autodiff.dot(values, values)

    compiled = autodiff.compile(f, xs)
    value, grads, _ = compiled.value_and_grad(xs)
    e_value, e_grads, _ = eager(f, xs)
    assert close(value, e_value) and all(close(a, b) for a, b in zip(grads, e_grads))


def test_aux_values_are_reported_beside_the_output_on_floats_and_batches():
    w = Value(0.5)

    def loss_and_outputs(x, y):
        h = (w * x).tanh()
        unrelated = (x * 3).exp()  # not an ancestor of the loss: still reported
        return (h - y) ** 2, [h, unrelated, w]

    compiled = autodiff.compile(loss_and_outputs, [1.0, 0.0], params=[w], has_aux=True)
    (value, aux), input_grads, (param_grad,) = compiled.value_and_grad([1.2, 0.3])
    h = math.tanh(0.6)
    assert close(value, (h - 0.3) ** 2)
    assert close(aux[0], h) and close(aux[1], math.exp(3.6)) and aux[2] == 0.5
    assert close(param_grad, 2 * (h - 0.3) * (1 - h * h) * 1.2)
    (values, aux_rows), _, _ = compiled.batch_value_and_grad([[1.2, 0.3], [-0.4, 0.1]])
    assert aux_rows.shape == (2, 3)
    assert close(aux_rows[0, 0], h) and close(aux_rows[1, 0], math.tanh(-0.2)) and aux_rows[1, 2] == 0.5
    assert close(values[0], value)


def test_a_single_aux_value_comes_back_unwrapped():
    compiled = autodiff.compile(lambda x: (x * x, x.sin()), [1.0], has_aux=True)
    value, aux = compiled([0.5])
    assert value == 0.25 and aux == math.sin(0.5)
    values, aux = compiled.batch([[0.5], [1.0]])
    assert aux.shape == (2,) and close(aux[1], math.sin(1.0))


def test_has_aux_needs_a_pair():
    with pytest.raises(TypeError, match=r"must return \(output, aux\)"):
        autodiff.compile(lambda x: x * x, [1.0], has_aux=True)


def test_the_users_line_is_told_apart_from_the_engines_on_windows_paths(monkeypatch):
    from autodiff import frames

    monkeypatch.setattr(frames, "PACKAGE", "C:\\work\\autodiff\\")
    assert not frames.is_engine_file(r"C:\work\autodiff_demo\train.py")  # a sibling folder, not the package
    assert frames.is_engine_file(r"C:\work\autodiff\value.py")
    assert frames.is_engine_file(r"C:\work\autodiff\compiler\trace.py")
    assert frames.is_engine_file("<autodiff: * apply>")  # the engine's generated code


def test_a_branch_error_names_the_users_file_and_line():
    def loss(x):
        if x > 0:  # the line the error must show
            return x
        return -x

    with pytest.raises(TracingError, match=r"test_compile\.py:\d+ \(if x > 0:"):
        autodiff.compile(loss, [1.0])


def test_a_parameter_listed_twice_is_refused_and_a_listed_captured_one_appears_once():
    w, b = Value(2.0, label="w"), Value(1.0, label="b")
    with pytest.raises(ValueError, match=r"params\[0\] and params\[2\] are the same Value .*label='w'"):
        autodiff.compile(lambda x: w * x + b, [1.0], params=[w, b, w])
    compiled = autodiff.compile(lambda x: w * x + b, [1.0], params=[b])  # w is captured, b listed
    assert compiled.params == (b, w)
    w.grad = b.grad = 0.0
    assert compiled.value_and_grad([3.0], accumulate_grads=True)[2] == [1.0, 3.0]
    assert (w.grad, b.grad) == (3.0, 1.0)


def test_compiled_gradients_inside_no_grad_equal_those_outside_even_in_the_eager_fallback():
    w = Value(0.7)

    def f(x):
        return x.sqrt() * 0.0 + x * w + (w * w).tanh()  # (w * w).tanh(): parameters only, run eagerly

    compiled = autodiff.compile(f, [1.0], params=[w])
    rows = [[0.0], [2.0]]  # at 0.0 the sqrt's undefined derivative sends the example to the eager engine

    def results():
        return (
            [compiled.value_and_grad(row) for row in rows],
            [a.tolist() for a in compiled.batch_value_and_grad(rows)],
            [a.tolist() for a in compiled.batch_value_and_grad(rows, per_example=True)],
            [a.tolist() for a in compiled.batch_value_and_grad([[2.0], [3.0]])],  # no fallback
        )

    outside = results()
    with autodiff.no_grad():
        inside = results()
    assert inside == outside
    (value, (x_grad,), (w_grad,)), _ = outside[0]
    assert close(value, math.tanh(0.49)) and x_grad == 0.7 and close(w_grad, 1.4 * (1 - math.tanh(0.49) ** 2))


def test_each_float_program_is_built_on_first_use(monkeypatch):
    compiled_module = importlib.import_module("autodiff.compiler.compiled")
    built = []
    build = compiled_module._build
    monkeypatch.setattr(
        compiled_module, "_build", lambda program, with_grad: built.append(with_grad) or build(program, with_grad)
    )
    compiled = autodiff.compile(lambda x, y: x * y + y.exp(), [1.0, 2.0])
    compiled.batch_value_and_grad([[1.0, 2.0]])
    assert built == []
    assert compiled([1.0, 2.0]) == compiled([1.0, 2.0]) == 2.0 + math.exp(2.0)
    assert built == [False]
    compiled.value_and_grad([1.0, 2.0])
    compiled.value_and_grad([1.0, 2.0])
    assert built == [False, True]


def test_bools_strings_and_non_finite_inputs_are_refused_naming_their_position():
    compiled = autodiff.compile(lambda x, y: x * y, [1.0, 2.0])
    with pytest.raises(TypeError, match=r"input 0 must be an int or float, got bool \(True\)"):
        compiled([True, 2.0])
    with pytest.raises(TypeError, match=r"input 0 must be an int or float, got str \('1.0'\)"):
        compiled.value_and_grad(["1.0", 2])
    with pytest.raises(TypeError, match=r"input 0 must be an int or float, got bool"):
        compiled(np.array([1.0, 2.0]) > 1.5)
    with pytest.raises(ValueError, match=r"input 1 is not finite: inf"):
        compiled([1.0, math.inf])
    with pytest.raises(ValueError, match=r"input 0 is not finite: nan"):
        compiled.value_and_grad([math.nan, 1.0])
    with pytest.raises(TypeError, match=r"inputs must be a sequence of numbers"):
        compiled("12")
    with pytest.raises(TypeError, match=r"example 0, input 0 must be an int or float, got str \('a'\)"):
        compiled.batch([["a", 1]])
    with pytest.raises(TypeError, match=r"example 1, input 1 must be an int or float, got bool \(False\)"):
        compiled.batch_value_and_grad([[1.0, 2.0], [3.0, False]])
    with pytest.raises(TypeError, match=r"must hold ints or floats, got an array of bool"):
        compiled.batch(np.ones((3, 2), dtype=bool))
    with pytest.raises(TypeError, match=r"must hold ints or floats, got an array of <U3"):
        compiled.batch(np.array([["1.0", "2.0"]]))
    # ints and numpy's numbers are numbers, as for Value
    assert compiled([2, np.float32(1.5)]) == 3.0 and compiled(np.array([2, 3])) == 6.0
    assert compiled.batch([[2, 3], np.array([1.5, 2.0])]).tolist() == [6.0, 3.0]
    assert compiled.batch(np.array([[2, 3]], dtype=np.int8)).tolist() == [6.0]


def test_an_int_too_large_for_a_float_in_a_batch_is_refused_naming_its_example():
    compiled = autodiff.compile(lambda x, y: x * y, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"example 1, input 0 is not finite as a float: 1000"):
        compiled.batch([[1, 2], [10**400, 2]])
    with pytest.raises(ValueError, match=r"example 0, input 1 is not finite as a float"):
        compiled.batch_value_and_grad(np.array([[1, -(10**400)]], dtype=object))


def test_compile_says_what_fn_and_params_should_be():
    w = Value(0.5)
    with pytest.raises(TypeError, match=r"compile: fn must be a function, got int \(3\)"):
        autodiff.compile(3, [1.0])
    with pytest.raises(TypeError, match=r"compile: params must be a list of Values, got one Value .*params=\[it\]"):
        autodiff.compile(lambda x: w * x, [1.0], params=w)
    with pytest.raises(TypeError, match=r"compile: params must be a list of Values, got float \(0.5\)"):
        autodiff.compile(lambda x: w * x, [1.0], params=0.5)


def test_an_undefined_gradient_into_a_parameter_only_node_gets_the_eager_result_or_error():
    w = Value(2.0)

    def f(x):
        return (x - w * 1.0).sqrt() * 0.0 + x  # w * 1.0 depends on parameters only

    compiled = autodiff.compile(f, [3.0], params=[w])
    rows = [[2.0], [3.0]]  # at x = w the sqrt's derivative is infinite, times a zero gradient
    values, input_grads, param_grads = compiled.batch_value_and_grad(rows)
    assert values.tolist() == [2.0, 3.0] and input_grads.tolist() == [[1.0], [1.0]] and param_grads.tolist() == [0.0]
    assert [eager(f, row, [w]) for row in rows] == [(2.0, [1.0], [0.0]), (3.0, [1.0], [0.0])]

    def g(x):
        return (x - w * 1.0).sqrt() + x

    compiled = autodiff.compile(g, [3.0], params=[w])
    with pytest.raises(ZeroDivisionError, match=r"example 0: sqrt: the derivative is not finite"):
        compiled.batch_value_and_grad(rows)
    with pytest.raises(ZeroDivisionError, match=r"sqrt: the derivative is not finite"):
        eager(g, rows[0], [w])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: 1 / (x * x),  # x * x overflows to inf, 1 / inf is 0.0
        lambda x: (x * x).tanh(),  # tanh(inf) is 1.0
        lambda x: (x * x).sigmoid() + x,
        lambda x: 1 / (x * 2.0).exp(),  # exp(inf) on numpy, an OverflowError on floats
    ],
)
def test_an_intermediate_overflow_raises_the_eager_error_even_when_the_output_is_finite(fn):
    with pytest.raises(OverflowError) as raised:
        eager(fn, [1e200])
    expected = re.escape(str(raised.value))
    compiled = autodiff.compile(fn, [1.0])
    with pytest.raises(OverflowError, match=expected):
        compiled([1e200])
    with pytest.raises(OverflowError, match=expected):
        compiled.value_and_grad([1e200])
    rows = [[1.0], [1e200], [2.0]]
    with pytest.raises(OverflowError, match="example 1: " + expected):
        compiled.batch(rows)
    with pytest.raises(OverflowError, match="example 1: " + expected):
        compiled.batch_value_and_grad(rows)
    with pytest.raises(OverflowError, match="example 1: " + expected):
        compiled.batch_value_and_grad(rows, per_example=True)


def test_a_finite_run_whose_check_sum_overflows_still_gets_the_eager_result():
    compiled = autodiff.compile(lambda x: x * 1e308 - x * 1e308 + x, [1.0])  # 1e308 + 1e308 overflows
    assert compiled.value_and_grad([1.5]) == eager(lambda x: x * 1e308 - x * 1e308 + x, [1.5])
    assert compiled([1.5]) == 1.5


def test_batch_runs_the_forward_pass_only():
    w = Value(0.5)
    compiled = autodiff.compile(lambda x: (x.sqrt() + w * w).tanh(), [1.0], params=[w])
    rows = [[0.0], [4.0]]  # sqrt's derivative is infinite at 0.0: only the gradient fails there
    with pytest.raises(ZeroDivisionError, match="example 0: sqrt: the derivative is not finite"):
        compiled.batch_value_and_grad(rows)
    assert compiled.batch(rows).tolist() == [math.tanh(0.25), math.tanh(2.25)] == [compiled(row) for row in rows]
    with pytest.raises(ValueError, match=r"example 1: sqrt: input must be >= 0, got -1\.0"):
        compiled.batch([[1.0], [-1.0]])


def test_parameter_only_nodes_follow_the_parameters_through_a_domain_error():
    w = Value(2.0)

    def f(x):
        return x * w.log() + (w * w).sqrt()  # log(w) and sqrt(w * w) depend on parameters only

    compiled = autodiff.compile(f, [1.0], params=[w])
    rows = [[0.5], [-1.5]]
    for data in [-1.0, 3.0, -2.0, 0.25]:  # the first batch call meets log(-1): nothing to trace the nodes at
        w.data = data
        if data < 0:
            with pytest.raises(ValueError, match=rf"log: input must be > 0, got {data}"):
                compiled.batch_value_and_grad(rows)
            continue
        values, _, (w_grad,) = compiled.batch_value_and_grad(rows)
        expected = [eager(f, row, [w]) for row in rows]
        assert all(close(v, e[0]) for v, e in zip(values, expected))
        assert close(w_grad, sum(e[2][0] for e in expected))
