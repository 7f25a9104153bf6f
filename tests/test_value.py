"""The Value node: its public fields, repr, identity semantics and comparisons."""

import pytest

from autodiff import Value


def test_a_new_value_is_a_leaf_with_zero_grad():
    v = Value(2.5, label="x")
    assert (v.data, v.grad, v.label, v.op, v.parents) == (2.5, 0.0, "x", "", ())
    assert type(v.grad) is float


def test_an_op_records_its_name_and_parents_in_operand_order():
    a, b = Value(2.0), Value(3.0)
    for out, op in [(a - b, "-"), (b - a, "-"), (a / b, "/"), (a**b, "**"), (a.max(b), "max")]:
        assert out.op == op
    assert (a - b).parents == (a, b)
    assert (b - a).parents == (b, a)


def test_a_plain_number_becomes_a_constant_parent():
    x = Value(2.0)
    y = x * 3
    z = 3 * x
    assert y.parents[0] is x and y.parents[1].data == 3.0 and y.parents[1].op == ""
    assert z.parents[0].data == 3.0 and z.parents[1] is x


def test_repr_shows_data_grad_op_and_label():
    x = Value(2.0, label="x")
    y = x * x
    y.backward()
    assert repr(x) == "Value(data=2.0, grad=4.0, label='x')"
    assert repr(y) == "Value(data=4.0, grad=1.0, op='*')"


def test_values_compare_and_hash_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2
    assert {a: "a", b: "b"}[b] == "b"


def test_ordering_comparisons_read_the_data():
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= 1.0 and b > 1.5 and b >= b
    assert max([a, b]) is b


def test_float_and_format_read_the_data():
    v = Value(1.23456)
    assert float(v) == 1.23456
    assert f"{v:.2f}" == "1.23"


def test_detach_makes_a_leaf_with_the_same_data():
    x = Value(3.0, label="x")
    y = (x * 2).detach()
    assert (y.data, y.op, y.parents) == (6.0, "", ())
    (y * y).backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("number", [2, 2.0])
def test_ints_and_floats_work_on_either_side_of_every_binary_operator(number):
    x = Value(4.0)
    results = [x + number, number + x, x - number, number - x, x * number, number * x,
               x / number, number / x, x**number, number**x]  # fmt: skip
    assert [r.data for r in results] == [6.0, 6.0, 2.0, -2.0, 8.0, 8.0, 2.0, 0.5, 16.0, 16.0]
