"""Which nodes a drawing shows: node counts, depth, the max_nodes limit."""

import pytest
from graph_helpers import lecture_example

import autodiff
from autodiff import GraphTooLargeError, Value, draw_dot
from autodiff.graph.select import select_nodes


def chain(n: int) -> Value:
    x = Value(0.5, "x")
    for _ in range(n):
        x = x.sin()
    return x


def test_without_options_every_node_is_drawn_in_topological_order_first_input_first():
    f, _, _ = lecture_example()
    drawn = [d.node for d in select_nodes(f)]
    assert drawn == autodiff.topological_order(f, parents=lambda node: node.parents[::-1])
    assert [node.label or node.op for node in drawn] == ["x1", "log", "x2", "*", "+", "sin", "f"]


def test_depth_keeps_the_ops_nearest_the_root_and_cuts_the_rest():
    f, x1, x2 = lecture_example()
    drawn = {d.node.label or d.node.op: d.kind for d in select_nodes(f, depth=2)}
    # f's op and its inputs' ops are drawn; log and * lie 2 ops away: their inputs are cut
    assert drawn == {"f": "value", "+": "value", "sin": "value", "log": "cut", "*": "cut", "x2": "value"}
    assert [d.kind for d in select_nodes(f, depth=1)] == ["cut", "cut", "value"]


def test_depth_counts_the_shortest_path_to_the_root():
    x = Value(1.0, "x")
    far = x.sin().sin().sin()
    y = far + x  # x is one op from the root and three along the other path
    assert {d.node.label: d.kind for d in select_nodes(y, depth=1) if d.node.label} == {"x": "value"}


def test_a_graph_over_max_nodes_is_refused_with_its_size_and_the_ways_out():
    with pytest.raises(GraphTooLargeError) as raised:
        draw_dot(chain(600))
    message = str(raised.value)
    for words in ["601 nodes", "max_nodes=500", "depth=", "collapse_neurons=True", "max_nodes=None"]:
        assert words in message
    assert raised.value.n_nodes == 601 and isinstance(raised.value, ValueError)


def test_depth_or_a_higher_max_nodes_draws_a_big_graph():
    assert len(select_nodes(chain(600), depth=3)) == 4
    assert len(select_nodes(chain(600), max_nodes=None)) == 601
    assert draw_dot(chain(600), depth=3).source.count("shape=record") == 4


def test_a_deep_graph_is_walked_without_recursion():
    assert len(select_nodes(chain(20_000), max_nodes=None)) == 20_001
