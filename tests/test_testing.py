"""autodiff.testing: the strategies draw what they promise, and the helper can fail."""

import pytest
from hypothesis import given

from autodiff import Value
from autodiff.testing import OPS, assert_gradients_match, expressions


@given(expressions())
def test_drawn_expressions_evaluate_at_their_point_and_are_bounded(expr):
    out = expr(*expr.point)
    assert isinstance(out, Value)
    assert abs(out.data) < 1e6


@given(expressions(max_inputs=1, max_ops=20, ops=["+", "*"]))
def test_expressions_use_only_the_requested_ops(expr):
    assert {op for op, _ in expr.steps} <= {"+", "*", "sum", "tanh"}


def test_expressions_share_subexpressions():
    reused = []

    @given(expressions(max_ops=12))
    def collect(expr):
        counts = {}
        for _, operands in expr.steps:
            for i in operands:
                counts[i] = counts.get(i, 0) + 1
        reused.append(any(c > 1 for c in counts.values()))

    collect()
    assert any(reused)


def test_unknown_op_names_are_refused():
    with pytest.raises(ValueError, match="unknown ops"):
        expressions(ops=["nope"])
    with pytest.raises(ValueError, match="max_ops must be an int >= 1, got 0"):
        expressions(max_ops=0)
    assert "dot" in OPS


def test_assert_gradients_match_raises_with_both_columns_on_a_wrong_derivative():
    with pytest.raises(AssertionError, match="analytic"):
        assert_gradients_match(lambda x: x * x.detach(), [2.0])
    assert_gradients_match(lambda x: x * x, [2.0])
