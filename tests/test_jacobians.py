"""jacobian and hessian: closed forms, forward against reverse mode, and differences of gradients."""

import math

import pytest
from hypothesis import given

import autodiff
from autodiff import Value, hessian, jacobian
from autodiff.forward_mode import call
from autodiff.jacobians import jacobian_of
from autodiff.testing import OPS, expressions


def polar(r, theta):
    return [r * theta.cos(), r * theta.sin()]


def test_the_jacobian_of_polar_coordinates_is_the_closed_form():
    r, theta = 2.0, 0.6
    assert jacobian(polar)(r, theta) == [
        [math.cos(theta), -r * math.sin(theta)],
        [math.sin(theta), r * math.cos(theta)],
    ]


def test_a_single_output_gives_one_row_as_a_plain_list():
    assert jacobian(lambda x, y: x * y.exp())(2.0, 0.5) == [math.exp(0.5), 2.0 * math.exp(0.5)]
    assert jacobian(lambda x: x**3)(2.0) == [12.0]


def test_more_outputs_than_inputs_uses_forward_mode_and_fewer_reverse(monkeypatch):
    from autodiff import jacobians

    calls = []
    original = jacobians.jacobian_of

    def spy(outputs, leaves, mode=None):
        calls.append(("forward" if len(leaves) < len(outputs) else "reverse") if mode is None else mode)
        return original(outputs, leaves, mode)

    monkeypatch.setattr(jacobians, "jacobian_of", spy)
    three_outputs = jacobian(lambda x, y: [x * y, x + y, y**2])(2.0, 3.0)
    one_output = jacobian(lambda x, y: x * y)(2.0, 3.0)
    assert calls == ["forward", "reverse"]
    assert three_outputs == [[3.0, 2.0], [1.0, 1.0], [0.0, 6.0]] and one_output == [3.0, 2.0]


def every_result(expr, *xs):
    """Every slot an expression computes, as the outputs of one function."""
    slots = list(xs)
    for op, operands in expr.steps:
        slots.append(OPS[op][1](*(slots[i] for i in operands)))
    return slots[expr.n_inputs :]


@given(expressions(max_inputs=3, max_ops=10))
def test_forward_and_reverse_jacobians_agree(expr):
    leaves = [Value(x) for x in expr.point]
    outputs, _ = call(lambda *xs: every_result(expr, *xs), leaves, "f")
    forward = jacobian_of(outputs, leaves, mode="forward")
    reverse = jacobian_of(outputs, leaves, mode="reverse")
    for row_f, row_r in zip(forward, reverse):
        assert row_f == pytest.approx(row_r, rel=1e-10, abs=1e-10)


def test_outputs_that_are_inputs_or_constants_have_unit_and_zero_rows():
    rows = jacobian(lambda x, y, z: [y, 5.0, x * 2.0])(1.0, 2.0, 3.0)
    assert rows == [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]


def test_jacobian_leaves_captured_values_alone():
    w = Value(3.0)
    w.grad = 7.0
    assert jacobian(lambda x: w * x)(2.0) == [3.0]
    assert jacobian(lambda x: [w * x, w + x])(2.0) == [[3.0], [1.0]]
    assert w.grad == 7.0


def test_a_list_argument_is_refused_with_the_way_to_pass_it():
    with pytest.raises(TypeError, match=r"jacobian: <lambda> takes one number per argument, got a list as argument 0"):
        jacobian(lambda xs: xs[0] * xs[1])([1.0, 2.0])


def test_an_unknown_mode_is_refused():
    x = Value(1.0)
    with pytest.raises(ValueError, match=r"mode must be 'forward', 'reverse' or None, got 'sideways'"):
        jacobian_of([x * 2.0], [x], mode="sideways")


# --- hessian -----------------------------------------------------------------------------
def test_the_hessian_of_x_squared_y_is_the_closed_form():
    assert hessian(lambda x, y: x**2 * y)(2.0, 3.0) == [[6.0, 4.0], [4.0, 0.0]]


def test_the_hessian_of_the_lecture_example():
    h = hessian(lambda x1, x2: x1.log() + x1 * x2 - x2.sin())(2.0, 5.0)
    assert h == [[-0.25, 1.0], [1.0, math.sin(5.0)]]


def test_an_unused_argument_has_a_zero_row_and_column():
    assert hessian(lambda x, y: x**3)(2.0, 7.0) == [[12.0, 0.0], [0.0, 0.0]]
    assert hessian(lambda x: x * 2.0 + 1.0)(3.0) == [[0.0]]


@given(expressions(max_inputs=3, max_ops=8))
def test_hessians_of_random_dags_are_symmetric_and_match_differences_of_gradients(expr):
    n, point, eps = expr.n_inputs, list(expr.point), 1e-5
    h = hessian(expr)(*point)
    gradient = autodiff.grad(lambda *xs: expr(*xs))
    for j in range(n):
        up, down = point.copy(), point.copy()
        up[j] += eps
        down[j] -= eps
        g_up, g_down = gradient(*up), gradient(*down)
        g_up, g_down = (g_up, g_down) if n > 1 else ((g_up,), (g_down,))
        for i in range(n):
            assert h[i][j] == pytest.approx((g_up[i] - g_down[i]) / (2 * eps), rel=1e-4, abs=1e-5), (i, j)
            assert h[i][j] == pytest.approx(h[j][i], rel=1e-9, abs=1e-12)


def test_hessian_needs_a_scalar_function():
    with pytest.raises(TypeError, match=r"hessian: <lambda> must return one Value \(a scalar\), got a list of 2"):
        hessian(lambda x: [x, x * x])(1.0)


def test_hessian_leaves_captured_values_alone():
    w = Value(3.0)
    w.grad = 7.0
    assert hessian(lambda x: w * x * x)(2.0) == [[6.0]]
    assert w.grad == 7.0


def test_an_infinite_second_derivative_is_the_usual_named_error():
    with pytest.raises(ZeroDivisionError, match=r"the derivative is not finite or undefined at inputs \(0\.0"):
        hessian(lambda x: x**1.5)(0.0)  # d/dx = 1.5 x^0.5, whose derivative is infinite at 0
