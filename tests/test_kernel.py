"""The one chain-rule loop (`autodiff.backward.chain_rule`) and the code generated from the same rules.

A plain backward() runs each op's generated step (autodiff/specialize.py); anomaly mode, create_graph
and the step-through recording run the readable loop. These tests prove that both compute the same
floats, op by op and on random DAGs, and that each variation is that loop.
"""

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
from autodiff import Op, Value, topological_order
from autodiff.backward import ONE, ZERO, _generated_chain_rule, chain_rule, is_zero, partials_on_values
from autodiff.graph import record_backward
from autodiff.ops import OPS
from autodiff.testing import OPS as TEST_OPS
from autodiff.testing import expressions


def bits(x: float) -> bytes:
    """The float's bytes: equal bits, not only equal values (-0.0 and 0.0 differ)."""
    return struct.pack("<d", x)


def pass_by(run, root: Value) -> list[float]:
    """Every node's gradient after one pass from zero, by the loop `run` (readable or generated)."""
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    run([node for node in order if node.parents])
    return [node.grad for node in order]


def same_floats(root: Value) -> None:
    generated = pass_by(_generated_chain_rule, root)
    readable = pass_by(chain_rule, root)
    assert [bits(g) for g in generated] == [bits(g) for g in readable], (generated, readable)


@pytest.mark.parametrize("name", sorted(TEST_OPS))
@given(data=st.data())
def test_each_op_gives_the_same_floats_through_the_readable_loop_and_its_generated_step(name, data):
    expression = data.draw(expressions(max_inputs=3, max_ops=3, ops=[name]))
    same_floats(expression(*expression.point))


@given(expressions(max_inputs=4, max_ops=14))
def test_random_dags_give_the_same_floats_through_both_loops(expression):
    same_floats(expression(*expression.point))


def test_every_op_of_the_table_is_drawn_by_the_op_by_op_test():
    drawn = {op for name in TEST_OPS for op in ops_made_by(name)}
    assert set(OPS.values()) <= drawn


def ops_made_by(name: str) -> set:
    arity, rule = TEST_OPS[name]
    out = rule(*(Value(0.3 + 0.1 * i) for i in range(arity)))
    return {node.primitive for node in topological_order(out) if node.primitive is not None}


def test_the_loop_adds_into_each_parent_so_a_reused_node_sums_its_paths():
    x = Value(3.0)
    y = x * x + x  # x reaches y by three edges: 2x + 1
    order = topological_order(y)
    for node in order:
        node.grad = 0.0
    y.grad = 1.0
    chain_rule([node for node in order if node.parents])
    assert x.grad == 7.0


def test_the_loop_skips_a_node_whose_gradient_is_zero_even_where_its_derivative_is_undefined():
    x = Value(0.0)
    y = x.sqrt() * 0.0 + x  # sqrt'(0) is infinite, but its gradient is 0
    order = [node for node in topological_order(y) if node.parents]
    for node in topological_order(y):
        node.grad = 0.0
    y.grad = 1.0
    chain_rule(order)
    assert x.grad == 1.0


def test_after_step_sees_every_visited_node_with_its_gradient_and_partials():
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    seen = []
    order = topological_order(f)
    for node in order:
        node.grad = 0.0
    f.grad = 1.0
    chain_rule([n for n in order if n.parents], after_step=lambda node, grad, partials: seen.append((node.op, grad)))
    assert seen == [("-", 1.0), ("+", 1.0), ("log", 1.0), ("*", 1.0), ("sin", -1.0)]


def test_the_recording_behind_the_step_through_page_is_the_loop_on_stand_ins():
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    record = record_backward(f)
    f.backward()
    assert record.grads[x1] == x1.grad and record.grads[x2] == x2.grad
    terms = [(u.before, u.term, u.after) for u in record.terms(x1)]
    assert terms == [(0.0, 0.5, 0.5), (0.5, 5.0, 5.5)]
    assert x1.grad == 5.5  # recording changed no .grad: this is backward()'s own value


def test_gradients_that_are_values_come_from_the_same_loop_with_identities_for_0_and_1():
    assert is_zero(ZERO) and is_zero(0.0) and not is_zero(Value(0.0)) and not is_zero(1.0)
    g = Value(3.0)
    assert ZERO + g is g and g + ZERO is g and g * ZERO is ZERO and g * ONE is g and 2.0 * ONE == 2.0
    x = Value(2.0)
    y = x * 3.0 + x  # partials of + are 1: no `g * 1` nodes; one `*` node for the 3
    assert [type(p) for p in partials_on_values(y)] == [type(ONE), type(ONE)]
    y.backward(create_graph=True)
    assert x.grad.data == 4.0 and len(topological_order(x.grad)) <= 4


def test_create_graph_is_checked_as_a_switch():
    y = Value(2.0) * 3.0
    with pytest.raises(TypeError, match="backward: create_graph must be True or False, got 'no'"):
        y.backward(create_graph="no")


def test_an_interrupt_anywhere_in_backward_leaves_every_leaf_its_gradient(monkeypatch):
    import autodiff.backward as kernel

    xs = [Value(1.0) for _ in range(50)]
    y = autodiff.sum([x * 2.0 for x in xs])
    y.backward()
    assert all(x.grad == 2.0 for x in xs)

    def interrupted_start(interior, leaves, zero):
        for leaf in leaves[:25]:  # Ctrl-C lands halfway through zeroing the leaves
            leaf.grad = zero
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(kernel, "_start_pass", interrupted_start)
        with pytest.raises(KeyboardInterrupt):
            y.backward()
    assert all(x.grad == 2.0 for x in xs)

    def interrupted_totals(root, leaves, held):
        yield held[0] + leaves[0].grad  # the first leaf gets its new total, then Ctrl-C
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(kernel, "_totals", interrupted_totals)
        with pytest.raises(KeyboardInterrupt):
            y.backward()
    assert all(x.grad == 2.0 for x in xs)


def test_help_on_an_operator_shows_its_docstring():
    assert "d/dself = d/dother = 1" in Value.__add__.__doc__
    assert Value.exp.__doc__ == OPS["exp"].doc and autodiff.expm1.__doc__ == OPS["expm1"].doc


def test_the_named_methods_and_functions_come_from_the_table():
    for op in OPS.values():
        if op.arity == 1 and op.name.isidentifier() and op.name not in ("neg", "abs"):
            assert getattr(Value(0.5), op.name)().primitive is op
            assert getattr(autodiff, op.name)(Value(0.5)).primitive is op
            assert getattr(autodiff, op.name)(0.5) == op(0.5)


def test_atan2_at_tiny_and_huge_inputs_has_its_exact_finite_derivative():
    from fractions import Fraction

    for scale in (1e-200, 1e-160, 1e-20, 1e150, 1e200):
        y, x = Value(scale), Value(2.0 * scale)
        y.atan2(x).backward()
        fy, fx = Fraction(y.data), Fraction(x.data)
        exact_dy, exact_dx = fx / (fx * fx + fy * fy), -fy / (fx * fx + fy * fy)
        assert y.grad == pytest.approx(float(exact_dy), rel=1e-15), scale
        assert x.grad == pytest.approx(float(exact_dx), rel=1e-15), scale
    with pytest.raises(ZeroDivisionError, match="atan2: the derivative is not finite or undefined at inputs"):
        Value(0.0).atan2(Value(0.0)).backward()


def test_atan2_tiny_inputs_compile_and_run_forward_mode_too():
    import numpy as np

    f = autodiff.compile(lambda y, x: autodiff.atan2(y, x), [1.0, 2.0])
    value, grads, _ = f.value_and_grad([1e-200, 1e-200])
    assert grads == pytest.approx([5e199, -5e199], rel=1e-15)
    _, batch_grads, _ = f.batch_value_and_grad(np.array([[1e-200, 1e-200], [3e200, 4e200]]), per_example=True)
    assert np.allclose(batch_grads, [[5e199, -5e199], [4 / 25 * 1e-200, -3 / 25 * 1e-200]], rtol=1e-15, atol=0)
    _, tangent = autodiff.jvp(lambda y, x: autodiff.atan2(y, x), (1e-200, 1e-200), (1.0, 0.0))
    assert tangent == pytest.approx(5e199, rel=1e-15)


# --- a user's op: its rules are read at every use ------------------------------------------
def test_a_user_op_whose_rules_read_a_variable_uses_its_value_at_each_call():
    scale = {"s": 2.0}
    op = Op("s", lambda m, x: x * scale["s"], lambda m, out, x: (scale["s"],))
    op(Value(1.0))
    scale["s"] = 5.0
    x = Value(1.0)
    y = op(x)
    y.backward()
    assert (y.data, x.grad, op(1.0)) == (5.0, 5.0, 5.0)


s = 2.0  # a module variable that a rule reads


def test_a_user_op_reading_a_global_agrees_with_itself_after_the_global_changes():
    global s
    op = Op("s", lambda m, x: x * s, lambda m, out, x: (s,))
    try:
        op(Value(1.0))
        s = 5.0
        x = Value(1.0)
        y = op(x)
        y.backward()
        assert (y.data, x.grad, op(1.0)) == (5.0, 5.0, 5.0)
        _, tangent = autodiff.jvp(op, (1.0,), (1.0,))
        assert tangent == 5.0
    finally:
        s = 2.0


def test_a_user_op_with_its_parameter_bound_as_a_default_keeps_the_fast_path():
    from autodiff.specialize import reads_variables

    k = 3.0
    bound = Op("k", lambda m, x, k=k: x * k, lambda m, out, x, k=k: (k,))
    assert not reads_variables(bound.forward) and not reads_variables(bound.partials)
    assert reads_variables(lambda m, x: x * k)
    assert not reads_variables(lambda m, x: m.exp(x) * math.pi)  # a module's constant is no variable


@pytest.mark.parametrize(
    "partial, shown",
    [(2 + 0j, r"complex \(\(2\+0j\)\)"), ("2", r"str \('2'\)"), (None, r"NoneType \(None\)"), (True, "bool")],
)
def test_partials_that_are_not_real_numbers_are_refused_naming_the_op(partial, shown):
    from autodiff.ops import OpDefinitionError

    bad = Op("bad", lambda m, x: 2.0 * x, lambda m, out, x: (partial,))
    message = rf"bad: partials must be real numbers, got {shown}"
    with pytest.raises(OpDefinitionError, match=message):
        bad(Value(1.0)).backward()
    with pytest.raises(OpDefinitionError, match=message):
        autodiff.jvp(bad, (1.0,), (1.0,))
    with pytest.raises(OpDefinitionError, match=message):
        autodiff.gradcheck(bad, [1.0])


def test_a_complex_partial_from_a_formula_is_refused_too():
    from autodiff.ops import OpDefinitionError

    root = Op("root", lambda m, x: 2.0 * x, lambda m, out, x: (x**0.5,))  # complex at x < 0
    with pytest.raises(OpDefinitionError, match=r"root: partials must be real numbers, got complex"):
        root(Value(-1.0)).backward()


def test_a_nan_partial_under_create_graph_names_the_op():
    bad = Op("bad", lambda m, x: 2.0 * x, lambda m, out, x: (float("nan"),))
    with pytest.raises(ValueError, match=r"bad: the derivative is not finite or undefined at inputs \(1.0\)"):
        bad(Value(1.0)).backward(create_graph=True)


@pytest.mark.parametrize("name", ["op\x00", "two\nlines", "\x1b[31m"])
def test_an_op_name_that_cannot_be_printed_is_refused_at_definition(name):
    with pytest.raises(ValueError, match="Op: name must be printable text"):
        Op(name, lambda m, x: x, lambda m, out, x: (1.0,))


def test_clamp_at_a_tie_gives_x_the_whole_gradient_as_pytorch_2_13():
    x, lo, hi = Value(1.0), Value(1.0), Value(3.0)  # x == lo
    x.clamp(lo, hi).backward()
    assert (x.grad, lo.grad, hi.grad) == (1.0, 0.0, 0.0)
    x, lo, hi = Value(3.0), Value(1.0), Value(3.0)  # x == hi
    x.clamp(lo, hi).backward()
    assert (x.grad, lo.grad, hi.grad) == (1.0, 0.0, 0.0)
