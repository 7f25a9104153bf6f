"""Edges of the engine that only a changed line would reveal: the largest float is finite, an op's
repr, how an op's number of inputs is found, and which inputs get no gradient by definition.

Each test here fails on a specific small change to the engine (a `<=` made `<`, a constant changed,
a condition negated): the mutation-testing run in the README's Development notes shows which.
"""

import pytest

import autodiff
from autodiff import Op, Value, ops
from autodiff.numerics import MAX_FLOAT


# --- the largest float is finite ----------------------------------------------------------------------
@pytest.mark.parametrize("big", [MAX_FLOAT, -MAX_FLOAT])
def test_a_gradient_of_exactly_the_largest_float_is_finite(big):
    x = Value(1.0)
    (x * big).backward()
    assert x.grad == big
    x.grad = big / 2.0
    (x * (big / 2.0)).backward()  # accumulated: big/2 + big/2
    assert x.grad == big
    y = Value(3.0)
    (y * 2.0).backward(gradient=big / 2.0)
    assert y.grad == big
    z = Value(1.0)
    (z * big).backward(create_graph=True)
    assert z.grad.data == big
    assert autodiff.jvp(lambda v: v * big, (1.0,), (1.0,)) == (big, big)
    assert autodiff.jvp(lambda v: v * 1.0, (1.0,), (big,)) == (1.0, big)
    with autodiff.detect_anomaly():
        w = Value(1.0)
        (w * big).backward()
    assert w.grad == big


@pytest.mark.parametrize("big", [MAX_FLOAT, -MAX_FLOAT])
def test_data_of_exactly_the_largest_float_is_finite(big):
    assert Value(big).data == big
    assert Value(int(big)).data == big
    assert (Value(1.0) * big).data == big
    assert (Value(big) * 1.0).data == big
    assert (Value(big) + Value(0.0)).data == big
    assert (Value(1.0) * int(big)).data == big
    assert autodiff.ops.ADD(big, 0.0) == big
    assert autodiff.sum([Value(big), 0.0]).data == big
    assert Value(1.0).clamp(big, big).data == big


def test_the_repr_of_an_op_names_it():
    assert repr(autodiff.ops.MUL) == "Op('*')"
    assert repr(autodiff.Op("softsign", lambda m, x: x, lambda m, out, x: (1.0,))) == "Op('softsign')"


def test_an_ops_number_of_inputs_comes_from_whichever_rule_fixes_it():
    by_partials = Op("f", lambda m, *xs: xs[0] * xs[1], lambda m, out, a, b: (b, a))
    by_forward = Op("g", lambda m, a, b: a * b, lambda m, out, *xs: (xs[1], xs[0]))
    assert by_partials.arity == 2 and by_forward.arity == 2
    for op in (by_partials, by_forward):
        with pytest.raises(TypeError, match=r"takes 2 operands, got 3"):
            op(Value(1.0), 2.0, 3.0)
    assert Op("h", lambda m, *xs: m.sum(xs), lambda m, out, *xs: (1.0,) * len(xs)).arity is None


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_value_given_as_a_slope_or_a_constant_exponent_gets_no_gradient(create_graph):
    # leaky_relu's slope and x ** c's exponent are parameters: their partial is 0 by definition.
    x, slope, exponent = Value(-2.0), Value(0.3), Value(3.0)
    y = ops.LEAKY_RELU(x, slope) + ops.POW_CONST(x, exponent)
    y.backward(create_graph=create_graph)
    assert float(x.grad.data if create_graph else x.grad) == 0.3 + 3.0 * 4.0
    for parameter in (slope, exponent):
        assert (parameter.grad.data if create_graph else parameter.grad) == 0.0


def test_the_remainders_quotient_is_the_floor_for_every_divisor():
    a, b = Value(2.5), Value(1.0)
    (a % b).backward()
    assert (a.grad, b.grad) == (1.0, -2.0)  # d(a % b)/db = -(a // b)
    a, b = Value(-2.5), Value(0.5)
    (a % b).backward()
    assert (a.grad, b.grad) == (1.0, 5.0)


def test_a_rule_that_divides_by_zero_with_floor_divide_gets_the_named_error():
    quotient = Op("quotient", lambda m, a, b: m.floor_divide(a, b), lambda m, out, a, b: (0.0, 0.0))
    assert quotient(7.0, 2.0) == 3.0
    with pytest.raises(ZeroDivisionError, match=r"^//: division by zero, got 7\.0 // 0\.0$"):
        quotient(7.0, 0.0)
