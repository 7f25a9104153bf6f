"""Gradients of gradients: backward(create_graph=True) against differences of gradients."""

import math

import pytest
from hypothesis import given

import autodiff
from autodiff import Value
from autodiff.testing import expressions


def second_derivative(f, x):
    v = Value(x)
    f(v).backward(create_graph=True)
    first = v.grad
    v.grad = 0.0
    first.backward()
    return first.data, v.grad


def test_the_second_derivative_of_x_cubed_at_2_is_12():
    assert second_derivative(lambda x: x**3, 2.0) == (12.0, 12.0)


@pytest.mark.parametrize("x", [-1.3, 0.2, 2.0])
def test_the_second_derivative_of_sin_is_minus_sin(x):
    first, second = second_derivative(lambda v: v.sin(), x)
    assert first == math.cos(x)
    assert second == pytest.approx(-math.sin(x), rel=1e-15)


@pytest.mark.parametrize(
    "f, x",
    [
        (lambda v: v.exp(), 0.3), (lambda v: v.log(), 1.7), (lambda v: v.sqrt(), 2.2), (lambda v: v.tanh(), 0.4),
        (lambda v: v.sigmoid(), -0.8), (lambda v: v.cos(), 1.1), (lambda v: 1 / v, 1.5), (lambda v: v**-2, -1.5),
        (lambda v: v**Value(2.5), 1.4), (lambda v: 3**v, 0.7), (lambda v: (v * v).relu(), 0.9),
        (lambda v: v.leaky_relu(0.3) * v, -0.9), (lambda v: abs(v) * v, -2.0), (lambda v: v.max(v * v), 0.5),
        # the primitives of forward mode's issue: each through create_graph
        (lambda v: v.tan(), 0.4), (lambda v: v.asin(), 0.3), (lambda v: v.acos(), -0.5), (lambda v: v.atan(), 1.2),
        (lambda v: (0.5 * v + 1.0).atan2(v), 0.8), (lambda v: v.atan2(-2.0), -0.6), (lambda v: v.sinh(), 0.7),
        (lambda v: v.cosh(), -0.6), (lambda v: v.log1p(), 0.5), (lambda v: v.expm1(), -0.3), (lambda v: v.log2(), 1.7),
        (lambda v: v.log10(), 2.5), (lambda v: v.floor() * v * v, 1.3), (lambda v: v.ceil() * v * v, -1.3),
        (lambda v: (v * v % 0.7) * v, 1.1), (lambda v: (2.0 % v) * v * v, 0.9), (lambda v: v.clamp(0.0, 1.0) * v, 0.6),
        (lambda v: (v * v).clamp(v, 2.0 * v) * v, 1.7), (lambda v: (v * v).clamp(v, 2.0 * v) * v, 0.8),
        (lambda v: (v * v).clamp(v, 2.0 * v) * v, 3.0), (lambda v: 0.0 ** v * v + v ** v, 1.3),
    ],
)  # fmt: skip
def test_second_derivatives_match_central_differences_of_the_gradient(f, x):
    first_derivative = autodiff.grad(f)
    eps = 1e-5
    numeric = (first_derivative(x + eps) - first_derivative(x - eps)) / (2 * eps)
    _, second = second_derivative(f, x)
    assert second == pytest.approx(numeric, rel=1e-6, abs=1e-8)


@given(expressions(max_inputs=2, max_ops=8))
def test_hessians_of_random_dags_match_differences_of_gradients(expr):
    n, point, eps = expr.n_inputs, list(expr.point), 1e-5
    gradient = autodiff.grad(lambda *xs: expr(*xs))
    for i in range(n):
        xs = [Value(x) for x in point]
        expr(*xs).backward(create_graph=True)
        g_i = xs[i].grad if isinstance(xs[i].grad, Value) else Value(xs[i].grad)  # x_i unused: 0.0
        for x in xs:
            x.grad = 0.0
        g_i.backward()
        for j in range(n):
            up = point.copy()
            down = point.copy()
            up[j] += eps
            down[j] -= eps
            g_up, g_down = gradient(*up), gradient(*down)
            g_up, g_down = (g_up, g_down) if n > 1 else ((g_up,), (g_down,))
            numeric = (g_up[i] - g_down[i]) / (2 * eps)
            assert float(xs[j].grad) == pytest.approx(numeric, rel=1e-4, abs=1e-5), (i, j)


def test_create_graph_gradients_are_values_even_when_constant():
    x = Value(1.0)
    (x + 2).backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 1.0


def test_create_graph_builds_no_nodes_for_paths_with_a_zero_local_derivative():
    x = Value(-2.0, "x")
    y = x.relu() * 3.0 + x * x
    y.backward(create_graph=True)
    assert x.grad.data == -4.0  # relu'(-2) = 0: only x*x contributes
    relu_node = y.parents[0].parents[0]
    assert relu_node.op == "relu" and relu_node.grad.data == 3.0
    assert len(autodiff.topological_order(x.grad)) < 8
    x.grad.backward()  # d/dx (2x) = 2 ... on the fresh graph of the gradient
    assert x.grad.data == -4.0 + 2.0


def test_create_graph_skips_an_undefined_local_derivative_whose_gradient_is_zero():
    x = Value(0.0)
    y = x.sqrt().relu() * 0.0 + x  # sqrt'(0) is infinite but only reached through relu'(0) = 0
    y.backward(create_graph=True)
    assert x.grad.data == 1.0


def test_create_graph_builds_the_gradients_graph_even_inside_no_grad():
    x = Value(2.0)
    y = x**3
    with autodiff.no_grad():
        y.backward(create_graph=True)
    assert x.grad.data == 12.0 and x.grad.parents  # 3 x^2, still a graph
    dy_dx = x.grad
    x.grad = 0.0
    dy_dx.backward()
    assert x.grad == 12.0  # 6 x
