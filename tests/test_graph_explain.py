"""explain / Value.explain_grad: a grad as the sum of one term per edge out of the node."""

import math

import pytest
from graph_helpers import lecture_example
from hypothesis import given

import autodiff
from autodiff import Op, Value, explain
from autodiff.testing import expressions


def amounts(explanation):
    return sorted(t.amount for t in explanation.terms)


def test_the_lecture_examples_gradients_are_the_sums_over_both_paths():
    f, x1, x2 = lecture_example()
    e1, e2 = explain(x1, f), explain(x2, f)
    assert amounts(e1) == [0.5, 5.0]  # via log: 1/x1; via x1 * x2: x2
    assert e1.total == 5.5 == x1.grad and e1.matches
    assert amounts(e2) == pytest.approx([-math.cos(5.0), 2.0])  # via sin: -cos(x2); via x1 * x2: x1
    assert e2.total == pytest.approx(2.0 - math.cos(5.0)) and e2.matches


def test_plus_distributes_times_switches_and_max_routes():
    a, b = Value(3.0, "a"), Value(-2.0, "b")
    for out, partial_a, partial_b in [(a + b, 1.0, 1.0), (a * b, -2.0, 3.0), (a.max(b), 1.0, 0.0)]:
        out.backward()
        assert [t.partial for t in explain(a, out).terms] == [partial_a]
        assert [t.partial for t in explain(b, out).terms] == [partial_b]


def test_a_node_used_twice_by_one_op_has_a_term_per_operand():
    x = Value(3.0, "x")
    y = x * x
    y.backward()
    e = explain(x, y)
    assert [(t.position, t.amount) for t in e.terms] == [(0, 3.0), (1, 3.0)]
    assert "(operand 1)" in str(e) and "(operand 2)" in str(e)


def test_an_intermediate_node_gets_its_grad_from_every_consumer():
    x = Value(0.7, "x")
    h = x * 2
    h.label = "h"
    f = h.sin() + h * h
    f.backward()
    e = h.explain_grad(f)
    assert len(e.terms) == 3 and e.total == pytest.approx(h.grad) and e.matches


def test_the_text_lists_each_term_and_the_sum():
    f, x1, _ = lecture_example()
    text = str(x1.explain_grad(f))
    lines = text.splitlines()
    assert lines[0] == "grad of x1 = 5.5 = d(f)/d(x1), the sum over the 2 edges out of it:"
    assert any(line.split() == ["log(x1)", "1", "×", "0.5", "=", "0.5"] for line in lines)
    assert any(line.split() == ["x1", "*", "x2", "(operand", "1)", "1", "×", "5", "=", "5"] for line in lines)
    assert lines[-1].split() == ["sum", "=", "5.5"]
    assert repr(x1.explain_grad(f)) == text


def test_the_root_is_explained_as_the_seed():
    f, _, _ = lecture_example()
    assert str(explain(f, f)) == "f is the root: its grad is 1, the seed of backward()"


def test_a_leaf_grad_accumulated_over_calls_is_flagged():
    x = Value(2.0, "x")
    y = x * 3
    y.backward()
    y.backward()
    e = explain(x, y)
    assert e.total == 3.0 and x.grad == 6.0 and not e.matches
    assert "accumulates over backward() calls" in str(e)


def test_gradients_that_are_values_are_explained_as_numbers():
    x = Value(2.0, "x")
    y = x**3
    y.backward(create_graph=True)
    assert explain(x, y).total == 12.0


@given(expressions(max_inputs=3, max_ops=10))
def test_every_nodes_terms_sum_to_its_grad_in_random_graphs(expr):
    inputs = [Value(p) for p in expr.point]
    out = expr(*inputs)
    out.backward()
    for node in autodiff.topological_order(out)[:-1]:
        if node.parents or node in inputs:  # constants are leaves too, and explained the same way
            e = explain(node, out)
            assert e.total == pytest.approx(float(node.grad), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda f, x1: explain(Value(1.0), f), ValueError, "is not in the graph of root"),
        (lambda f, x1: explain(x1, 3.0), TypeError, "root must be a Value, got float"),
        (lambda f, x1: explain("x1", f), TypeError, "node must be a Value, got str"),
        (lambda f, x1: explain(x1, f, digits=0), ValueError, "digits must be an int from 1 to 17, got 0"),
    ],
)
def test_bad_arguments_are_named(call, error, words):
    f, x1, _ = lecture_example()
    with pytest.raises(error, match=words):
        call(f, x1)


def test_explaining_before_backward_says_to_run_it():
    x = Value(1.0, "x")
    with pytest.raises(ValueError, match=r"call root.backward\(\) first"):
        explain(x, x.sin())


@pytest.mark.parametrize("module", ["autodiff.graph.explain", "autodiff.graph.format"])
def test_the_docstring_examples_hold(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0


def test_explain_accepts_a_numpy_integer_for_digits():
    np = pytest.importorskip("numpy")
    f, x1, _ = lecture_example()
    assert str(explain(x1, f, digits=np.int64(3))) == str(explain(x1, f, digits=3))


def test_a_users_op_named_like_a_built_in_one_is_explained_with_its_own_rule_and_name():
    neg = Op("neg", lambda m, x, y: x * y, lambda m, out, x, y: (y, x))  # named "neg", computes a·b
    a, b = Value(2.0, "a"), Value(3.0, "b")
    z = neg(a, b)
    z.backward()
    text = str(explain(a, z))
    assert text.startswith("grad of a = 3 = d(neg(a, b))/d(a)")  # not d(-a)/d(a)
    assert "neg(a, b)  (operand 1)" in text and "-a" not in text
