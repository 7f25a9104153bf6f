"""Label text: compact numbers, escaping for records, short names of nodes."""

import pytest

from autodiff import Op, Value
from autodiff.graph.format import describe, dot_string, number, record_field


@pytest.mark.parametrize(
    "x, digits, text",
    [
        (11.652071455223084, 4, "11.65"),
        (1.7163378145367738, 4, "1.716"),
        (1.7163378145367738, 5, "1.7163"),
        (5.5, 4, "5.5"),
        (2.0, 4, "2"),
        (-0.0, 4, "0"),
        (1e-7, 4, "1e-7"),
        (-2.5e20, 4, "-2.5e20"),
        (123456.0, 4, "1.235e5"),
    ],
)
def test_numbers_are_short_and_the_same_on_every_run(x, digits, text):
    assert number(x, digits) == text


def test_a_grad_that_is_a_value_is_shown_as_its_number():
    assert number(Value(0.25)) == "0.25"


def test_record_fields_show_braces_bars_angles_quotes_and_backslashes_literally():
    assert record_field('{a|b}<"x">') == r"\{a\|b\}\<\"x\"\>"
    assert record_field("a\\nb") == "a\\\\nb"  # a backslash stays a backslash, not a DOT line break


def test_control_characters_become_spaces():
    assert dot_string("a\nb\tc\x00") == "a b c "


def test_describe_uses_labels_and_writes_unlabelled_nodes_as_expressions():
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    assert describe(x1.log() + x1 * x2 - x2.sin()) == "log(x1) + x1 * x2 - sin(x2)"
    assert describe((x1 + x2) * x2) == "(x1 + x2) * x2"
    assert describe(x1 - (x2 - x1)) == "x1 - (x2 - x1)"
    assert describe(-(x1 * 3)) == "-(x1 * 3)"
    assert describe(x1 ** (x2**x1)) == "x1 ** x2 ** x1"
    assert describe((x1**x2) ** x1) == "(x1 ** x2) ** x1"
    assert describe(x1 % (x2 % x1)) == "x1 % (x2 % x1)" and describe(x1 * x2 % x1) == "x1 * x2 % x1"
    assert describe((x1 + x2) % 3) == "(x1 + x2) % 3"
    assert describe(x1.atan2(x2).clamp(0, 1)) == "clamp(atan2(x1, x2), 0, 1)"


def test_describe_cuts_deep_and_long_expressions():
    x = Value(1.0, "x")
    assert describe(x.sin().cos().exp().tanh().relu()) == "relu(tanh(exp(cos(…))))"
    assert len(describe(x + x + x + x + x + x + x + x + x + x + x + x, depth=20, width=20)) == 20


def test_describe_brackets_a_negative_constant_as_a_base_or_under_unary_minus():
    x = Value(1.0, "x")
    assert describe(Value(-2.0) ** 2) == "(-2) ** 2"  # -2 ** 2 would read as -(2 ** 2)
    assert describe(-Value(-2.0)) == "-(-2)"
    assert describe(x * -2) == "x * -2" and describe(x**-2) == "x ** -2"


def test_a_cut_expression_is_bracketed_once():
    x = Value(1.0, "x")
    assert describe((x + 1).tanh().tanh().tanh()) == "tanh(tanh(tanh(…)))"
    assert describe((x + 1) * x, depth=1) == "(…) * x"
    assert describe(x + 1, depth=0) == "…"


def test_a_users_op_named_like_a_built_in_one_is_written_as_a_call():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    neg = Op("neg", lambda m, x, y: x * y, lambda m, out, x, y: (y, x))  # a product, whatever its name
    plus = Op("+", lambda m, x, y: x - y, lambda m, out, x, y: (1.0, -1.0))
    assert describe(neg(a, b)) == "neg(a, b)"
    assert describe(plus(a, b) * a) == "+(a, b) * a"
    assert describe(-(a + b)) == "-(a + b)" and describe(a - b * 2) == "a - b * 2"  # the engine's own ops


def test_describe_calls_nodes_by_the_names_given():
    x = Value(1.0, "x")
    inner = (x + 1).exp()
    assert describe(inner * 2, names={inner: "v1"}) == "v1 * 2"
    assert describe((x + 2) * 2, names={}) == "(x + 2) * 2"
    outer = inner * 2
    outer.label = "y"
    assert describe(outer, names={inner: "v1"}) == "y"
    assert describe(outer, names={inner: "v1", outer: "v2"}, own_name=False) == "v1 * 2"  # what it computes
    assert describe(x, own_name=False) == "x"  # a leaf computes nothing: its name


def test_a_constant_power_binds_tighter_than_unary_minus_and_a_call_shows_four_operands():
    x, y = Value(1.0, "x"), Value(2.0, "y")
    assert describe(x ** (y**2)) == "x ** y ** 2" and describe(-(x**2)) == "-x ** 2"
    four = Op("f4", lambda m, a, b, c, d: a, lambda m, out, a, b, c, d: (1.0, 0.0, 0.0, 0.0))
    assert describe(four(x, y, x, y)) == "f4(x, y, x, y)"
    assert describe(x + y, width=5) == "x + y" and describe(x + y, width=4) == "x +…"
