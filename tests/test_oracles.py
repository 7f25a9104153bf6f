"""Every op and random deep DAGs against oracles that need no PyTorch: 50-digit numeric derivatives and SymPy.

The 50-digit references differentiate the recorded graph by central differences of its ops' forward rules
evaluated on mpmath numbers (autodiff/high_precision.py): no derivative rule is read. SymPy's come from
sympy.diff of `to_sympy`, evaluated at 30 digits. Both hold the engine to 1e-12 (relative to the chain
rule's sum of |terms|, see tests/oracle_helpers.py). The points of each op are inside its domain and away
from its kinks and jumps (autodiff.testing's domains), where SymPy's piecewise functions are smooth too.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from oracle_helpers import (
    ATOL,
    RTOL,
    engine_derivatives,
    op_points,
    recording,
    sympy_derivatives,
    within,
)

import autodiff
from autodiff import Value, gradcheck
from autodiff.testing import OPS, deep_expressions, expressions

OP_NAMES = sorted(OPS)  # the strategies' op list: every op the engine has, some several ways
FEWER = settings(max_examples=max(5, settings().max_examples // 5))  # the slow oracles draw a fifth as many


def applied(name):
    """The op `name` applied to Values, then used twice (out * atan(out)): the gradient reaching the op is not
    the seed 1.0, and two contributions meet at its result."""
    rule = OPS[name][1]

    def f(*xs):
        out = rule(*xs)
        return out * out.atan()

    f.__name__ = f"{name} then x * atan(x)"
    return f


@pytest.mark.parametrize("name", OP_NAMES)
def test_each_ops_gradient_matches_50_digit_differences_at_every_scale(name):
    for point in op_points(name):
        for f in (OPS[name][1], applied(name)):
            result = gradcheck(f, point, precision="high")
            assert result.ok, result


@pytest.mark.parametrize("name", OP_NAMES)
def test_each_ops_value_matches_50_digits_within_its_rounding(name):
    for point in op_points(name):
        replay = recording(OPS[name][1], point)
        exact = replay.value_at(replay.point)
        error = replay.along_float_path().value_error
        assert abs(replay.out.data - exact) <= ATOL + RTOL * abs(exact) + error, (point, replay.out.data, exact)


@pytest.mark.parametrize("name", OP_NAMES)
def test_each_ops_tangents_in_forward_mode_match_50_digit_differences(name):
    f = applied(name)
    for point in op_points(name):
        replay = recording(f, point)
        true, path = replay.gradient(), replay.along_float_path()
        resolution = replay.gradient_error(path)
        for i in range(len(point)):
            direction = [float(k == i) for k in range(len(point))]
            _, tangent = autodiff.jvp(f, point, direction)
            assert within(tangent, true[i], path.gradient[i], path.size[i], resolution[i]), (point, i, tangent)


@pytest.mark.parametrize("name", OP_NAMES)
def test_each_ops_compiled_gradient_matches_50_digit_differences(name):
    f = applied(name)
    points = op_points(name)
    compiled = autodiff.compile(f, points[0])
    for point in points:
        replay = recording(f, point)
        true, path = replay.gradient(), replay.along_float_path()
        resolution = replay.gradient_error(path)
        _, grads, _ = compiled.value_and_grad(point)
        for i, g in enumerate(grads):
            assert within(g, true[i], path.gradient[i], path.size[i], resolution[i]), (point, i, g, true[i])


@pytest.mark.parametrize("name", OP_NAMES)
def test_each_ops_first_and_second_derivatives_match_sympy(name):
    f = applied(name)
    for point in op_points(name, count=4):
        value, gradient, hessian = engine_derivatives(f, point)
        true_gradient, true_hessian, true_value = sympy_derivatives(f, point)
        path = recording(f, point).along_float_path(second_order=True)
        for i, g in enumerate(gradient):
            assert within(g, true_gradient[i], path.gradient[i], path.size[i]), (point, i, g, true_gradient[i])
        for i, row in enumerate(hessian):
            for j, h in enumerate(row):
                t, m, size = true_hessian[i][j], path.hessian[i][j], path.hessian_size[i][j]
                assert within(h, t, m, size), (point, i, j, h, t)


@given(deep_expressions())
@FEWER
def test_deep_random_dags_have_gradients_matching_50_digit_differences(expr):
    result = gradcheck(expr, expr.point, precision="high")
    assert result.ok, f"{result!r}\n{expr!r}"


@given(deep_expressions())
@FEWER
def test_deep_random_dags_have_tangents_matching_the_50_digit_chain_rule(expr):
    replay = recording(expr, expr.point)
    true, path = replay.gradient(), replay.along_float_path()
    resolution = replay.gradient_error(path)
    for i in range(expr.n_inputs):
        direction = [float(k == i) for k in range(expr.n_inputs)]
        _, tangent = autodiff.jvp(expr, expr.point, direction)
        assert within(tangent, true[i], path.gradient[i], path.size[i], resolution[i]), (i, tangent, true[i], expr)


@given(expressions(max_inputs=2, min_ops=6, max_ops=16, magnitude=1e6))
@FEWER
def test_random_dags_have_hessians_matching_50_digit_second_differences(expr):
    _, _, hessian = engine_derivatives(expr, expr.point)
    replay = recording(expr, expr.point)
    true, path = replay.hessian(), replay.along_float_path(second_order=True)
    resolution = replay.hessian_error(path)
    for i, row in enumerate(hessian):
        for j, h in enumerate(row):
            t, m, size = true[i][j], path.hessian[i][j], path.hessian_size[i][j]
            assert within(h, t, m, size, resolution[i][j]), (i, j, h, t, expr)


@given(expressions(max_inputs=2, min_ops=4, max_ops=10, magnitude=1e6))
@FEWER
def test_random_dags_have_first_and_second_derivatives_matching_sympy(expr):
    value, gradient, hessian = engine_derivatives(expr, expr.point)
    true_gradient, true_hessian, true_value = sympy_derivatives(expr, expr.point)
    replay = recording(expr, expr.point)
    path = replay.along_float_path(second_order=True)
    assert abs(value - true_value) <= ATOL + RTOL * abs(true_value) + path.value_error, (value, true_value, expr)
    numeric, resolution = replay.gradient(), replay.gradient_error(path)
    for i, g in enumerate(gradient):  # the two oracles agree with each other far beyond 1e-12
        assert abs(numeric[i] - true_gradient[i]) <= 1e-20 * (abs(true_gradient[i]) + path.size[i]) + resolution[i]
        assert within(g, true_gradient[i], path.gradient[i], path.size[i]), (i, g, true_gradient[i], expr)
    for i, row in enumerate(hessian):
        for j, h in enumerate(row):
            t, m, size = true_hessian[i][j], path.hessian[i][j], path.hessian_size[i][j]
            assert within(h, t, m, size), (i, j, h, t, expr)


def test_the_deep_strategy_reaches_depth_12_on_average_and_replaces_few_ops():
    drawn = []

    @given(deep_expressions())
    @settings(max_examples=60, database=None, derandomize=True)
    def collect(expr):
        drawn.append(expr)

    collect()
    depths = [e.depth for e in drawn]
    ops = sum(len(e.steps) for e in drawn)
    assert sum(depths) / len(depths) >= 12
    assert sum(e.replaced for e in drawn) <= 0.2 * ops
    assert sum(max(map(abs, e.point)) > 1e4 for e in drawn) >= len(drawn) // 4  # inputs reach +-1e6


def test_a_wrong_partial_fails_the_50_digit_check_and_a_right_one_passes():
    wrong_atan2 = autodiff.Op("atan2", lambda m, y, x: m.atan2(y, x),
                              lambda m, out, y, x: (x / (x * x + y * y), y / (x * x + y * y)))  # fmt: skip
    assert not gradcheck(lambda y, x: wrong_atan2(y, x), [0.3, -0.8], precision="high").ok
    assert gradcheck(lambda y, x: y.atan2(x), [0.3, -0.8], precision="high").ok
    assert math.isfinite(Value(1.0).data)


# logsumexp and its gradient, the softmax, at inputs whose exponentials overflow a float: exact at 50 digits.
HUGE = [(1e6, 1e6, 1e6), (800.0, 799.0, -5.0), (1000.5, 3.0, 2.0), (-1e6, 1e6, 0.0), (710.0, 710.0, 710.0)]


@pytest.mark.parametrize("point", HUGE)
def test_logsumexp_and_its_softmax_hold_where_the_exponentials_overflow(point):
    def lse(*xs):
        return autodiff.logsumexp(xs)

    replay = recording(lse, point)
    exact = replay.value_at(replay.point)
    assert abs(autodiff.logsumexp(list(point)) - exact) <= RTOL * abs(exact)  # on numbers
    value, gradient, hessian = engine_derivatives(lse, point)  # backward(create_graph=True), then again
    assert abs(value - exact) <= RTOL * abs(exact)
    result = gradcheck(lse, point, precision="high")  # plain backward
    assert result.ok, result
    true = replay.hessian()
    for i, row in enumerate(hessian):
        assert gradient[i] == pytest.approx(float(result.numeric[i]), rel=1e-12, abs=1e-300)
        for j, h in enumerate(row):
            assert abs(h - true[i][j]) <= RTOL * (abs(true[i][j]) + 1) + 1e-290, (i, j, h, true[i][j])


# A user's op whose derivative branches on its input (no formula): the engine's generic paths, not the generated ones.
SOFTSIGN = autodiff.Op(
    "softsign",
    lambda m, x: x / (1.0 + abs(x)),
    lambda m, out, x: ((1.0 / (1.0 + x) ** 2 if x > 0 else 1.0 / (1.0 - x) ** 2),),
)


@pytest.mark.parametrize("x", [-3.5, -0.4, 0.7, 250.0])
def test_a_branching_user_op_reused_along_several_paths_matches_50_digit_differences(x):
    def f(v):
        s = SOFTSIGN(v)
        return s * s + SOFTSIGN(s * v) * s

    result = gradcheck(f, [x], precision="high")
    assert result.ok, result
    replay = recording(f, [x])
    true, path = replay.gradient(), replay.along_float_path()
    _, tangent = autodiff.jvp(f, [x], [1.0])
    assert within(tangent, true[0], path.gradient[0], path.size[0], replay.gradient_error(path)[0])


@given(expressions(max_inputs=2, min_ops=8, max_ops=20, ops=["+", "*", "sin", "exp", SOFTSIGN], magnitude=1e3))
@FEWER
def test_random_dags_with_a_branching_user_op_match_50_digit_differences(expr):
    result = gradcheck(expr, expr.point, precision="high")
    assert result.ok, f"{result!r}\n{expr!r}"
