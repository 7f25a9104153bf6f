"""draw_dot: the DOT source of a computation graph (no rendering here)."""

import re
import subprocess
import sys

import pytest
from graph_helpers import MLP, assert_snapshot, dot_edges, dot_nodes, lecture_example, value_ids

import autodiff
from autodiff import Value, draw_dot
from autodiff.graph.style import GradScale


def test_the_lecture_example_has_a_record_per_value_and_a_node_per_op():
    f, x1, x2 = lecture_example()
    source = draw_dot(f).source
    nodes = dot_nodes(source)
    assert len(value_ids(source)) == 7  # x1, x2, log, *, sin, +, -
    ops = sorted(attrs.split("label=")[1].split(" ")[0] for i, attrs in nodes.items() if i.endswith("_op"))
    assert ops == ['"*"', '"+"', '"-"', "log", "sin"]
    assert 'label="{ x1 | data 2 | grad 5.5 }"' in source
    assert 'label="{ x2 | data 5 | grad 1.716 }"' in source
    assert 'label="{ f | data 11.65 | grad 1 }"' in source


def test_a_shared_node_is_drawn_once_with_an_edge_to_each_op_that_uses_it():
    f, x1, x2 = lecture_example()
    source = draw_dot(f).source
    x1_id = next(i for i, attrs in dot_nodes(source).items() if "{ x1 |" in attrs)
    heads = [head for tail, head, _ in dot_edges(source) if tail == x1_id]
    labels = sorted(dot_nodes(source)[h].split("label=")[1].split(" ")[0] for h in heads)
    assert labels == ['"*"', "log"]  # the two paths whose gradients add up to 5.5


def test_a_node_used_twice_by_one_op_has_two_edges_into_it():
    x = Value(3.0, "x")
    y = x * x
    y.backward()
    edges = dot_edges(draw_dot(y).source)
    assert edges.count(("n0", "n1_op", "")) == 2


def test_node_ids_follow_a_topological_order_first_input_first():
    f, _, _ = lecture_example()
    nodes = dot_nodes(draw_dot(f).source)
    order = autodiff.topological_order(f, parents=lambda node: node.parents[::-1])
    assert [node.label or node.op for node in order] == ["x1", "log", "x2", "*", "+", "sin", "f"]
    for i, node in enumerate(order):
        assert f"data {autodiff.graph.format.number(node.data)}" in nodes[f"n{i}"]


def test_the_same_expression_gives_the_same_source_every_time_and_in_another_process():
    first, second = lecture_example()[0], lecture_example()[0]
    assert draw_dot(first).source == draw_dot(second).source
    code = (
        "import sys; sys.path.insert(0, 'tests'); from graph_helpers import lecture_example; "
        "import autodiff; print(autodiff.draw_dot(lecture_example()[0]).source, end='')"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert other == draw_dot(first).source


def test_constants_are_drawn_as_their_number():
    x = Value(3.0, "x")
    y = x * 2 + x**2
    nodes = dot_nodes(draw_dot(y).source)
    constants = [attrs for attrs in nodes.values() if "shape=plaintext" in attrs]
    assert len(constants) == 2 and all("label=2 " in attrs for attrs in constants)


def test_edges_name_the_operands_where_their_order_matters():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    edges = dot_edges(draw_dot(a - b).source)
    assert [attrs for _, _, attrs in edges[:2]] == ["headlabel=1", "headlabel=2"]
    w, x = [Value(0.5), Value(-1.0)], [Value(2.0, "x0"), Value(3.0, "x1")]
    labels = [attrs for _, head, attrs in dot_edges(draw_dot(autodiff.dot(w, x)).source) if head.endswith("_op")]
    assert labels == ["headlabel=w0", "headlabel=w1", "headlabel=x0", "headlabel=x1"]
    slope = dot_edges(draw_dot(a.leaky_relu(0.1)).source)
    assert "headlabel=slope" in [attrs for _, _, attrs in slope]
    assert "label=0.1 " in draw_dot(a.leaky_relu(0.1)).source  # the slope, a constant


def test_edges_into_the_new_ordered_ops_name_their_operands():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    for out in (a % b, a.atan2(b)):
        assert [attrs for _, _, attrs in dot_edges(draw_dot(out).source)[:2]] == ["headlabel=1", "headlabel=2"]
    clamped = [attrs for _, head, attrs in dot_edges(draw_dot(a.clamp(b, c)).source) if head.endswith("_op")]
    assert clamped == ["", "headlabel=lo", "headlabel=hi"]
    assert "label=clamp" in draw_dot(a.clamp(b, c)).source and 'label="%"' in draw_dot(a % b).source


def test_show_grad_false_draws_data_only():
    f, _, _ = lecture_example()
    source = draw_dot(f, show_grad=False).source
    labels = [attrs.split("tooltip")[0] for attrs in dot_nodes(source).values()]
    assert not any("grad" in label for label in labels)
    assert 'label="{ x1 | data 2 }"' in source


def test_digits_sets_the_precision_of_the_numbers():
    f, _, _ = lecture_example()
    assert 'label="{ x2 | data 5 | grad 1.71634 }"' in draw_dot(f, digits=6).source


def test_rankdir_is_passed_to_graphviz():
    f, _, _ = lecture_example()
    assert "rankdir=TB" in draw_dot(f, rankdir="TB").source


def test_tooltips_carry_full_precision():
    f, _, _ = lecture_example()
    assert 'tooltip="x2: data=5.0, grad=1.7163378145367738"' in draw_dot(f).source


def test_gradients_that_are_values_after_create_graph_are_drawn_as_numbers():
    x = Value(2.0, "x")
    (x**3).backward(create_graph=True)
    assert 'label="{ x | data 2 | grad 12 }"' in draw_dot(x).source


def test_show_contributions_labels_each_edge_with_upstream_grad_times_local_derivative():
    f, x1, x2 = lecture_example()
    labels = [attrs for _, _, attrs in dot_edges(draw_dot(f, show_contributions=True).source)]
    assert 'label="1 × 5 = 5"' in " ".join(labels)  # x1 into x1 * x2: "*" switches
    assert 'label="1 × 0.5 = 0.5"' in " ".join(labels)  # x1 into log: 1 / x1
    assert 'label="-1 × 0.2837 = -0.2837"' in " ".join(labels)  # x2 into sin, whose grad is -1
    assert 'label="2: 1 × -1 = -1"' in " ".join(labels)  # the subtracted operand of "-"


def test_hostile_labels_are_escaped_not_interpreted():
    x = Value(1.0, label='{a|b}<"x">\\N')
    source = draw_dot(x * 2).source
    assert r'label="{ \{a\|b\}\<\"x\"\>\\N | data 1 | grad 0 }"' in source  # \\ is one literal backslash


def test_building_a_graph_writes_no_files_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("draw_dot ran a process")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    f, _, _ = lecture_example()
    assert draw_dot(f, color_by_grad=True, show_contributions=True).source.startswith("digraph")
    assert list(tmp_path.iterdir()) == []


def test_colour_by_grad_fills_nodes_and_adds_a_legend():
    f, _, _ = lecture_example()
    source = draw_dot(f, color_by_grad=True).source
    assert "subgraph cluster_legend" in source
    assert "|grad| ≥ 0.55" in source  # the largest |grad| is 5.5
    fills = [attrs for attrs in dot_nodes(source).values() if "{ x1 |" in attrs]
    assert 'fillcolor="#6baed6"' in fills[0] and "style=filled" in fills[0]
    assert "subgraph cluster_legend" not in draw_dot(f).source


def test_dead_relus_are_marked_red_and_zero_grads_grey():
    x = Value(-1.0, "x")
    y = x.relu() + x.sin()
    y.backward()
    source = draw_dot(y, color_by_grad=True).source
    relu = next(attrs for attrs in dot_nodes(source).values() if "shape=record" in attrs and "relu(x)" in attrs)
    assert 'color="#cb181d"' in relu and "penwidth=2" in relu
    assert "passes no gradient back" in source
    assert "grad = 0" in source


@pytest.mark.parametrize(
    "options, error, words",
    [
        (dict(rankdir="XY"), ValueError, ["rankdir", "'XY'", "'LR', 'TB', 'RL', 'BT'"]),
        (dict(max_nodes=0), ValueError, ["max_nodes", "0"]),
        (dict(depth=-1), ValueError, ["depth", "-1"]),
        (dict(depth=True), ValueError, ["depth", "True"]),
        (dict(digits=0), ValueError, ["digits", "0"]),
        (dict(collapse_neurons=True), ValueError, ["collapse_neurons=True needs module="]),
        (dict(cluster_by_module=True), ValueError, ["cluster_by_module=True needs module="]),
        (dict(module=object()), TypeError, ["draw_dot: module must be an nn module", "object"]),
    ],
)
def test_bad_options_name_the_option_and_the_value(options, error, words):
    f, _, _ = lecture_example()
    with pytest.raises(error) as raised:
        draw_dot(f, **options)
    for word in words:
        assert word in str(raised.value)


def test_the_root_must_be_a_value():
    with pytest.raises(TypeError, match=r"root must be a Value, got list"):
        draw_dot([1.0])


def test_a_leaf_alone_is_one_record_and_no_edges():
    source = draw_dot(Value(3.0, "x")).source
    assert value_ids(source) == ["n0"] and dot_edges(source) == []
    assert 'label="{ x | data 3 | grad 0 }"' in source


def test_the_lecture_example_matches_its_snapshot():
    f, _, _ = lecture_example()
    assert_snapshot(
        "lecture_example_colours_contributions.dot", draw_dot(f, color_by_grad=True, show_contributions=True).source
    )


def test_a_collapsed_clustered_mlp_matches_its_snapshot():
    model = MLP(2, [4, 4, 1])
    y = model([Value(0.5, "x1"), Value(-1.5, "x2")])
    y.backward()
    source = draw_dot(y, module=model, collapse_neurons=True, cluster_by_module=True, color_by_grad=True).source
    assert_snapshot("mlp_2_4_4_1_collapsed_clustered.dot", source)


def test_numpy_integers_are_accepted_as_counts():
    np = pytest.importorskip("numpy")
    f, _, _ = lecture_example()
    expected = draw_dot(f, max_nodes=100, depth=2, digits=3).source
    assert draw_dot(f, max_nodes=np.int64(100), depth=np.int32(2), digits=np.int64(3)).source == expected
    with pytest.raises(ValueError, match="max_nodes must be a positive int or None, got 100.0"):
        draw_dot(f, max_nodes=100.0)


def legend_rows(source: str) -> list[str]:
    nodes = dot_nodes(source)
    return [re.search(r'label="([^"]*)"', attrs)[1] for i, attrs in nodes.items() if i.startswith("legend_")]


def test_the_legend_before_backward_says_that_all_gradients_are_zero():
    source = draw_dot((Value(2.0) * 3).relu(), color_by_grad=True).source
    assert legend_rows(source) == ["all gradients are 0 (run backward() first?)"]


def test_the_legend_shows_the_bounds_the_fills_use():
    x = Value(1.069, "x")
    y = x * x / 2  # dy/dx = 1.069, so the bounds are 0.1069, 0.01069, 0.001069
    y.backward()
    rows = legend_rows(draw_dot(y, color_by_grad=True, rankdir="TB").source)
    assert rows[:4] == ["|grad| ≥ 0.107", "|grad| ≥ 0.0107", "|grad| ≥ 0.00107", "0 < |grad| < 0.00107"]
    scale = GradScale(1.069)
    assert scale.fill(0.107) == scale.fill(1.0) != scale.fill(0.1069)  # the fill follows the shown bound
