"""autodiff.testing: the strategies draw what they promise, and the helper can fail."""

import pytest
from hypothesis import given, settings

import autodiff.testing
from autodiff import Value
from autodiff.testing import OPS, Expression, assert_gradients_match, deep_expressions, expressions


@given(expressions())
def test_drawn_expressions_evaluate_at_their_point_and_are_bounded(expr):
    out = expr(*expr.point)
    assert isinstance(out, Value)
    assert abs(out.data) < 1e6


@given(expressions(max_inputs=1, max_ops=20, ops=["+", "*"]))
def test_expressions_use_only_the_requested_ops(expr):
    assert {op for op, _ in expr.steps} <= {"+", "*", "sum", "atan"}


def reads(expr):
    """How many times each slot is read by the steps (twice by one step counts twice)."""
    counts = {}
    for _, operands in expr.steps:
        for i in operands:
            counts[i] = counts.get(i, 0) + 1
    return counts


def test_expressions_share_subexpressions():
    drawn = []

    @given(expressions(max_ops=12))
    @settings(max_examples=200, derandomize=True, database=None)
    def collect(expr):
        drawn.append(expr)

    collect()
    longer = [e for e in drawn if len(e.steps) >= 4]
    shared = [e for e in longer if any(count > 1 for count in reads(e).values())]
    assert len(longer) >= 40
    assert len(shared) >= 0.6 * len(longer)  # most programs of 4 steps or more reuse a result
    # and a shared result's gradient is the sum over its paths: x used twice by x + x gets 2
    expr = Expression(1, (("+", (0, 0)),), (0.5,))
    x = Value(0.5)
    expr(x).backward()
    assert reads(expr) == {0: 2} and x.grad == 2.0


@given(expressions(ops=["log", "sqrt", "asin", "%", "/"]))
def test_every_op_gets_operands_inside_its_domain(expr):
    values = list(expr.point)
    for op, operands in expr.steps:
        args = [values[i] for i in operands]
        if op == "log" or op == "sqrt":
            assert args[0] >= 0.2
        elif op == "asin":
            assert abs(args[0]) <= 0.95
        elif op in ("%", "/"):
            assert abs(args[1]) >= 0.2
        values.append(OPS[op][1](*map(Value, args)).data if op in OPS else None)


@given(deep_expressions())
@settings(max_examples=20)
def test_deep_expressions_draw_inputs_up_to_a_million_and_chain_their_ops(expr):
    assert all(0.05 <= abs(x) <= 1e6 for x in expr.point)
    assert expr.depth >= 1 and len(expr.steps) >= 16
    slots = [Value(x) for x in expr.point]
    for op, operands in expr.steps:
        slots.append(autodiff.testing._arity_and_rule(op)[1](*(slots[i] for i in operands)))
    drawn = slots[len(expr.point) : -1] if expr.steps[-1][0] == "sum" else slots[len(expr.point) :]
    assert all(abs(v.data) <= 1e7 for v in drawn)  # every drawn op's result within 10x the largest input


def test_depth_counts_the_longest_path_and_not_the_collecting_sum():
    chain = Expression(1, (("sin", (0,)), ("cos", (1,)), ("exp", (2,))), (0.5,))
    assert chain.depth == 3
    wide = Expression(2, (("sin", (0,)), ("cos", (1,)), ("sum", (2, 3))), (0.5, 0.7))
    assert wide.depth == 1  # the sum over the unused results is not one of the drawn ops
    summed = Expression(2, (("sin", (0,)), ("sum", (0, 1, 2))), (0.5, 0.7))
    assert summed.depth == 2  # this sum reads inputs: drawn, so counted


def test_unknown_op_names_are_refused():
    with pytest.raises(ValueError, match="unknown ops"):
        expressions(ops=["nope"])
    with pytest.raises(ValueError, match="max_ops must be an int >= 1, got 0"):
        expressions(max_ops=0)
    with pytest.raises(ValueError, match="min_ops must be <= max_ops, got 5 > 3"):
        expressions(min_ops=5, max_ops=3)
    with pytest.raises(ValueError, match="magnitude must be a number from 1 to 1e12, got 0.5"):
        expressions(magnitude=0.5)
    assert "dot" in OPS


def test_assert_gradients_match_raises_with_both_columns_on_a_wrong_derivative():
    with pytest.raises(AssertionError, match="analytic"):
        assert_gradients_match(lambda x: x * x.detach(), [2.0])
    assert_gradients_match(lambda x: x * x, [2.0])
