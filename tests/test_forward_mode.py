"""jvp: forward mode through the op table, against reverse mode, closed forms and central differences."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
from autodiff import Op, Value, jvp
from autodiff.testing import expressions


def test_jvp_of_the_lecture_example_along_x1_is_d_f_d_x1():
    f = lambda x1, x2: x1.log() + x1 * x2 - x2.sin()  # noqa: E731
    value, tangent = jvp(f, (2.0, 5.0), (1.0, 0.0))
    assert value == 2.0 * 5.0 + math.log(2.0) - math.sin(5.0)
    assert tangent == 5.5  # 1/x1 + x2
    assert jvp(f, (2.0, 5.0), (0.0, 1.0))[1] == 2.0 - math.cos(5.0)


def test_the_tangent_is_the_gradient_dotted_with_the_direction():
    f = lambda x, y, z: (x * y).exp() + z.sin() * x  # noqa: E731
    point, direction = (0.3, -0.7, 1.1), (2.0, -1.5, 0.25)
    gradient = autodiff.grad(f)(*point)
    expected = sum(g * d for g, d in zip(gradient, direction))
    assert jvp(f, point, direction)[1] == pytest.approx(expected, rel=1e-14)


@given(expressions(max_inputs=3, max_ops=12), st.data())
def test_forward_and_reverse_mode_agree_on_random_dags(expr, data):
    direction = [data.draw(st.floats(-2.0, 2.0), label=f"t{i}") for i in range(expr.n_inputs)]
    value, tangent = jvp(expr, expr.point, direction)
    leaves = [Value(x) for x in expr.point]
    out = expr(*leaves)
    out.backward()
    assert value == out.data
    assert tangent == pytest.approx(sum(x.grad * t for x, t in zip(leaves, direction)), rel=1e-10, abs=1e-10)


@given(expressions(max_inputs=3, max_ops=12))
def test_jvp_matches_central_differences_on_random_dags(expr):
    direction = [1.0, -0.5, 0.25][: expr.n_inputs]
    eps = 1e-6
    up = expr(*[x + eps * t for x, t in zip(expr.point, direction)]).data
    down = expr(*[x - eps * t for x, t in zip(expr.point, direction)]).data
    numeric = (up - down) / (2 * eps)
    assert jvp(expr, expr.point, direction)[1] == pytest.approx(numeric, rel=1e-4, abs=1e-5)


def test_a_users_op_gets_forward_mode_from_its_partials():
    softsign = Op("softsign", lambda m, x: x / (1.0 + abs(x)), lambda m, out, x: (1.0 / (1.0 + abs(x)) ** 2,))
    assert jvp(lambda x: softsign(x) * 2.0, (3.0,), (1.0,)) == (1.5, 0.125)


def test_a_users_op_whose_rule_branches_gets_forward_mode_too():
    def partials(m, out, x):  # a branch on the input: no formula, the generic code evaluates it on floats
        return (2.0 * x,) if x > 0 else (-1.0,)

    bent = Op("bent", lambda m, x: m.max(x * x, -x), partials)
    assert jvp(lambda x: bent(x), (3.0,), (1.0,)) == (9.0, 6.0)
    assert jvp(lambda x: bent(x), (-0.5,), (2.0,)) == (0.5, -2.0)


def test_a_function_returning_a_list_gives_lists():
    values, tangents = jvp(lambda x, y: [x * y, x + y, y.exp()], (2.0, 3.0), (1.0, 1.0))
    assert values == [6.0, 5.0, math.exp(3.0)]
    assert tangents == [5.0, 2.0, math.exp(3.0)]


def test_outputs_that_do_not_depend_on_the_direction_have_tangent_zero():
    assert jvp(lambda x, y: [y * 2.0, 4.0, x], (1.0, 5.0), (1.0, 0.0)) == ([10.0, 4.0, 1.0], [0.0, 0.0, 1.0])


def test_zero_to_a_positive_power_has_tangent_zero():
    assert jvp(lambda y: 0.0**y, (2.5,), (1.0,)) == (0.0, 0.0)
    assert jvp(lambda x, y: x**y, (0.0, 2.0), (1.0, 1.0)) == (0.0, 0.0)  # d/dx = 2 x = 0, d/dy = 0


def test_an_infinite_derivative_along_the_direction_is_the_usual_named_error():
    with pytest.raises(ZeroDivisionError, match=r"sqrt: the derivative is not finite or undefined at inputs \(0\.0\)"):
        jvp(lambda x: x.sqrt(), (0.0,), (1.0,))
    with pytest.raises(ZeroDivisionError, match=r"asin: the derivative is not finite or undefined at inputs \(1\.0\)"):
        jvp(lambda x: x.asin(), (1.0,), (1.0,))


def test_an_undefined_derivative_off_the_direction_is_not_evaluated():
    # sqrt'(0) is infinite, but the direction only moves y: as backward skips a zero gradient.
    assert jvp(lambda x, y: x.sqrt() + y, (0.0, 1.0), (0.0, 1.0)) == (1.0, 1.0)


def test_a_tangent_that_overflows_names_the_node():
    with pytest.raises(OverflowError, match=r"jvp: the tangent at '\*' node .* is not finite \(inf\)"):
        jvp(lambda x: x * 1e300 * 1e10, (1e-300,), (1.0,))


def test_a_forward_error_is_the_ops_own():
    with pytest.raises(ValueError, match=r"log: input must be > 0, got -1\.0"):
        jvp(lambda x: x.log(), (-1.0,), (1.0,))


@pytest.mark.parametrize(
    "primals, tangents, error, message",
    [
        (2.0, (1.0,), TypeError, r"jvp: primals must be a tuple or list .* got float \(2\.0\); for one argument write"),
        ((2.0,), 1.0, TypeError, r"jvp: tangents must be a tuple or list"),
        ((2.0, 3.0), (1.0,), ValueError, r"jvp: primals and tangents must have the same length, got 2 and 1"),
        ((2.0,), ("1",), TypeError, r"jvp: tangent 0 must be a number, got str"),
        ((2.0,), (math.nan,), ValueError, r"jvp: tangent 0 must be finite, got nan"),
        (("x",), (1.0,), TypeError, r"f: argument 0: Value: data must be an int or float, got str"),
    ],
)
def test_bad_primals_and_tangents_are_named(primals, tangents, error, message):
    def f(x):
        return x * x

    with pytest.raises(error, match=message):
        jvp(f, primals, tangents)


def test_jvp_records_its_graph_inside_no_grad_and_reads_values_as_numbers():
    with autodiff.no_grad():
        assert jvp(lambda x: x**3, (Value(2.0),), (Value(1.0),)) == (8.0, 12.0)


def test_jvp_leaves_captured_values_alone():
    w = Value(3.0)
    w.grad = 7.0
    assert jvp(lambda x: w * x, (2.0,), (1.0,)) == (6.0, 3.0)
    assert w.grad == 7.0
