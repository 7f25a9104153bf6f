"""The backward pass: total derivatives over every path, accumulation semantics, deep graphs."""

import math

import pytest
from hypothesis import given

import autodiff
from autodiff import Value, topological_order
from autodiff.testing import assert_gradients_match, expressions


def test_a_node_used_twice_in_one_op_gets_both_contributions():
    x = Value(3.0)
    (x + x).backward()
    assert x.grad == 2.0
    y = Value(3.0)
    (y * y).backward()
    assert y.grad == 6.0


def test_a_reused_intermediate_sums_the_gradients_of_its_paths():
    x = Value(2.0)
    h = x * 3  # used by two paths below
    out = h * h + h.sin()
    out.backward()
    # d/dx (9x^2 + sin 3x) = 18x + 3 cos 3x
    assert x.grad == pytest.approx(18 * 2 + 3 * math.cos(6), rel=1e-14)
    assert h.grad == pytest.approx(2 * 6 + math.cos(6), rel=1e-14)


def test_the_lecture_notes_example_has_gradients_5_5_and_2_minus_cos_5():
    x1, x2 = Value(2.0), Value(5.0)
    f = x1.log() + x1 * x2 - x2.sin()
    f.backward()
    assert f.data == pytest.approx(math.log(2) + 10 - math.sin(5), rel=1e-15)
    assert x1.grad == 5.5
    assert x2.grad == pytest.approx(2 - math.cos(5), rel=1e-15)


def test_leaf_gradients_accumulate_across_backward_calls():
    x = Value(1.0)
    y = (x * 2) * 3
    y.backward()
    y.backward()
    assert x.grad == 12.0


def test_non_leaf_gradients_hold_the_latest_pass_only():
    x = Value(1.0)
    h = x * 2
    y = h * 3
    y.backward()
    y.backward()
    assert h.grad == 3.0 and y.grad == 1.0


def test_backward_on_a_leaf_seeds_its_own_gradient():
    x = Value(5.0)
    x.backward()
    assert x.grad == 1.0


@pytest.mark.slow
def test_a_chain_of_a_million_ops_backpropagates_without_recursion_error():
    x = Value(0.5)
    c = Value(1.0 + 1e-7)
    y = x
    for _ in range(1_000_000):
        y = y * c
    y.backward()
    assert x.grad == pytest.approx(c.data**1_000_000, rel=1e-9)
    assert c.grad == pytest.approx(1_000_000 * 0.5 * c.data**999_999, rel=1e-9)


@pytest.mark.slow
def test_a_chain_of_a_million_ops_with_numbers_at_every_step_backpropagates():
    x = Value(0.5)
    y = x
    for _ in range(500_000):
        y = y * 1.0001 + 0.0001  # two op nodes a step, and the two numbers shared as constants
    y.backward()
    assert x.grad == pytest.approx(1.0001**500_000, rel=1e-9)
    assert y.parents[1].grad == 0.0 and y.parents[0].parents[1].grad == 0.0  # constants get no gradient


def test_topological_order_puts_every_node_after_its_parents_once():
    x, y = Value(1.0), Value(2.0)
    a = x * y
    b = a + x
    out = (a * b).tanh()
    order = topological_order(out)
    assert order[-1] is out and len(order) == len(set(order)) == 6  # x, y, a, b, a*b, tanh: no duplicates
    position = {node: i for i, node in enumerate(order)}
    assert all(position[p] < position[n] for n in order for p in n.parents)


@given(expressions())
def test_random_dags_with_reuse_match_numeric_derivatives(expr):
    assert_gradients_match(expr, expr.point)


def test_n_ary_dot_with_a_repeated_parent_sums_its_contributions():
    w = Value(3.0)
    out = autodiff.dot([w, w], [w, Value(2.0)])  # w*w + w*2
    out.backward()
    assert w.grad == 2 * 3.0 + 2.0


def test_a_failed_backward_leaves_the_leaf_gradients_as_they_were():
    x, y = Value(0.0, "x"), Value(3.0, "y")
    x.grad, y.grad = 0.25, -1.5
    f = x.sqrt() + x * y  # sqrt'(0) is infinite; the backward pass reaches sqrt after x * y
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        f.backward()
    assert (x.grad, y.grad) == (0.25, -1.5)


def test_leaf_gradients_add_this_pass_total_to_what_they_held():
    x = Value(1.0)
    x.grad = 1e16
    (x * 1.0 + x * 1.0).backward()  # this pass gives 2.0; adding 1.0 twice to 1e16 would round to 1e16
    assert x.grad == 1e16 + 2.0


def test_an_accumulated_gradient_that_overflows_is_an_error_and_changes_no_leaf():
    x, y = Value(1e-300), Value(1.0)
    x.grad, y.grad = 1e308, 0.5
    with pytest.raises(OverflowError, match="accumulated gradient"):
        (y + x * 1e308).backward()  # this pass gives x 1e308 more, y 1.0 more
    assert (x.grad, y.grad) == (1e308, 0.5)


# --- backward(gradient=...): PyTorch's seed -----------------------------------------------
def test_a_seed_scales_every_gradient():
    x1, x2 = Value(2.0), Value(5.0)
    f = x1.log() + x1 * x2 - x2.sin()
    f.backward(gradient=-2.5)
    assert (f.grad, x1.grad, x2.grad) == (-2.5, -2.5 * 5.5, -2.5 * (2.0 - math.cos(5.0)))


def test_a_seed_is_the_gradient_of_a_larger_computation_at_this_output():
    # d(loss)/dx through an intermediate y: y.backward(gradient=dloss/dy) equals loss.backward()
    x = Value(0.7)
    y = x.tanh() * x
    dloss_dy = 2.0 * y.data  # loss = y ** 2
    y.backward(gradient=dloss_dy)
    seeded = x.grad
    x.grad = 0.0
    (y**2).backward()
    assert seeded == pytest.approx(x.grad, rel=1e-15)


def test_a_seed_with_create_graph_scales_the_gradient_graph():
    x = Value(2.0)
    (x**3).backward(gradient=0.5, create_graph=True)
    assert x.grad.data == 6.0  # 0.5 * 3 x^2
    g = x.grad
    x.grad = 0.0
    g.backward()
    assert x.grad == 6.0  # 0.5 * 6 x


@pytest.mark.parametrize(
    "seed, error, message",
    [
        ("1", TypeError, r"backward: gradient must be a number, got str"),
        (True, TypeError, r"backward: gradient must be a number, got bool .* pass create_graph=True by name"),
        (math.inf, ValueError, r"backward: gradient must be a finite number, got inf"),
        (10**400, ValueError, r"backward: gradient must be a finite number"),
    ],
)
def test_a_bad_seed_is_named(seed, error, message):
    x = Value(1.0)
    with pytest.raises(error, match=message):
        (x * 2.0).backward(seed)
    assert x.grad == 0.0


def test_an_int_seed_is_a_float():
    x = Value(1.0)
    (x * 2.0).backward(3)
    assert x.grad == 6.0 and type(x.grad) is float
