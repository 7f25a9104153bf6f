"""draw_dot: the DOT source of a computation graph (no rendering here)."""

import math
import re
import subprocess
import sys

import pytest
from graph_helpers import MLP, assert_snapshot, dot_edges, dot_nodes, lecture_example, value_ids

import autodiff
from autodiff import Value, draw_dot
from autodiff.graph.format import number
from autodiff.graph.style import GradScale


def test_the_lecture_example_has_a_record_per_value_and_a_node_per_op():
    f, x1, x2 = lecture_example()
    source = draw_dot(f).source
    nodes = dot_nodes(source)
    assert len(value_ids(source)) == 7  # x1, x2, log, *, sin, +, -
    ops = sorted(attrs.split("label=")[1].split(" ")[0] for i, attrs in nodes.items() if i.endswith("_op"))
    assert ops == ['"*"', '"+"', '"-"', "log", "sin"]
    assert 'label="x1 | data 2 | grad 5.5"' in source
    assert 'label="x2 | data 5 | grad 1.716"' in source
    assert 'label="f | data 11.65 | grad 1"' in source


def test_a_shared_node_is_drawn_once_with_an_edge_to_each_op_that_uses_it():
    f, x1, x2 = lecture_example()
    source = draw_dot(f).source
    x1_id = next(i for i, attrs in dot_nodes(source).items() if '"x1 |' in attrs)
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


def test_constants_are_drawn_as_their_number_in_a_small_box():
    x = Value(3.0, "x")
    y = x * 2 + x**2
    nodes = dot_nodes(draw_dot(y).source)
    constants = [attrs for attrs in nodes.values() if "shape=box" in attrs]
    assert len(constants) == 2 and all(attrs.startswith("label=2 ") for attrs in constants)
    assert all("height=0.22" in attrs and "fontsize=10" in attrs for attrs in constants)


def role_labels(root: Value) -> list[str]:
    """The label of each edge into an op node, in order ("" for none)."""
    edges = dot_edges(draw_dot(root).source)
    return [re.match(r"(?:label=(\S+))?", attrs)[1] or "" for _, head, attrs in edges if head.endswith("_op")]


def test_edges_name_the_operands_where_their_order_matters_in_their_labels_not_on_the_arrowheads():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    assert role_labels(a - b) == ["1", "2"] and role_labels(a * b) == ["", ""]
    w, x = [Value(0.5), Value(-1.0)], [Value(2.0, "x0"), Value(3.0, "x1")]
    assert role_labels(autodiff.dot(w, x)) == ["w0", "w1", "x0", "x1"]
    assert role_labels(a.leaky_relu(0.1)) == ["", "slope"]
    assert "label=0.1 " in draw_dot(a.leaky_relu(0.1)).source  # the slope, a constant
    assert "headlabel" not in draw_dot(a - b).source + draw_dot(a / b, show_contributions=True).source


def test_edges_into_the_new_ordered_ops_name_their_operands():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    for out in (a % b, a.atan2(b), a / b, a**b, a**2):
        assert role_labels(out) == ["1", "2"]
    assert role_labels(a.clamp(b, c)) == ["", "lo", "hi"]
    assert "label=clamp" in draw_dot(a.clamp(b, c)).source and 'label="%"' in draw_dot(a % b).source


# --- a user's op named like a built-in one (issue 25 #3) ------------------------------------------------------
def four_input_clamp() -> tuple[Value, list[Value]]:
    clamp = autodiff.Op("clamp", lambda m, a, b, c, d: a + 2 * b + 3 * c + 4 * d,
                        lambda m, out, a, b, c, d: (1.0, 2.0, 3.0, 4.0))  # fmt: skip
    xs = [Value(float(i), f"x{i}") for i in range(4)]
    y = clamp(*xs)
    y.backward()
    return y, xs


def test_a_user_op_named_like_a_built_in_one_is_drawn_as_a_user_op():
    y, _ = four_input_clamp()  # the built-in clamp has 3 operands: its roles would run out at the 4th
    assert role_labels(y) == ["1", "2", "3", "4"]  # a user's op: its operands' order may matter
    labels = [attrs for _, _, attrs in dot_edges(draw_dot(y, show_contributions=True).source)]
    assert [label.split(" tooltip")[0] for label in labels[:4]] == [
        'label="1: 1 × 1 = 1"', 'label="2: 1 × 2 = 2"', 'label="3: 1 × 3 = 3"', 'label="4: 1 × 4 = 4"',
    ]  # fmt: skip
    assert role_labels(autodiff.Op("sub", lambda m, a: a, lambda m, out, a: (1.0,))(Value(1.0))) == [""]
    neg = autodiff.Op("neg", lambda m, a, b: a * b, lambda m, out, a, b: (b, a))
    a, b = Value(2.0, "a"), Value(3.0, "b")
    assert role_labels(neg(a, b)) == ["1", "2"]
    assert 'label="neg(a, b) | data 6 | grad 0"' in draw_dot(neg(a, b)).source  # not "-a"


def test_a_user_op_called_relu_is_no_dead_relu():
    relu = autodiff.Op("relu", lambda m, x: 0.0 * x, lambda m, out, x: (0.0,))
    y = relu(Value(1.0, "x"))
    y.backward()
    assert "passes no gradient back" not in draw_dot(y, color_by_grad=True).source
    assert "passes no gradient back" in draw_dot(Value(-1.0).relu(), color_by_grad=True).source


# --- names a teacher can say ---------------------------------------------------------------------------------
def record_names(source: str) -> list[str]:
    """The first field of every record (a node's name, or its data where it has none), in order."""
    return [re.search(r'label="([^|]*?) \|', attrs)[1] for i, attrs in dot_nodes(source).items()
            if "shape=record" in attrs]  # fmt: skip


def test_intermediate_nodes_are_named_by_their_short_expression_or_v1_v2():
    f, _, _ = lecture_example()
    names = record_names(draw_dot(f).source)
    assert names == ["x1", "log(x1)", "x2", "x1 * x2", "v1", "sin(x2)", "f"]  # v1 = log(x1) + x1 * x2, 17 characters
    assert 'label="v1 | data 10.69 | grad 1"' in draw_dot(f).source


def test_the_names_compose_an_expression_uses_its_operands_names():
    x, y = Value(1.0, "x"), Value(2.0, "y")
    z = ((x * y).exp() + y * y * y).tanh() - (x - y)  # exp(x * y) + y * y * y is long: it becomes v1
    names = record_names(draw_dot(z).source)
    assert sorted(names) == sorted(["x", "y", "x * y", "exp(x * y)", "y * y", "y * y * y", "v1", "tanh(v1)", "x - y",
                                    "v2"])  # fmt: skip
    assert names[-1] == "v2"  # tanh(v1) - (x - y) is 18 characters


def test_an_expression_of_up_to_12_characters_is_a_name_a_longer_one_is_not():
    x1, x2 = Value(1.0, "x1"), Value(2.0, "x2")
    assert record_names(draw_dot((x1 * x2).exp()).source)[-1] == "exp(x1 * x2)"  # 12 characters
    assert record_names(draw_dot((x1 * x2).tanh()).source)[-1] == "v1"  # tanh(x1 * x2): 13


def test_the_operand_of_a_leaf_or_of_an_op_whose_operands_commute_has_no_name():
    from autodiff.graph.roles import operand_role

    a, b = Value(1.0, "a"), Value(2.0, "b")
    assert operand_role(a, 0) == "" and operand_role(a * b, 0) == "" and operand_role(a.exp(), 0) == ""
    assert operand_role(a - b, 1) == "2" and operand_role(a.clamp(0, 1), 0) == ""


def test_unlabelled_leaves_and_cut_nodes_get_v_names_that_skip_the_users_labels():
    a, b = Value(1.0), Value(2.0, "v1")
    assert record_names(draw_dot(a * b).source) == ["v2", "v1", "v2 * v1"]
    f, _, _ = lecture_example()
    cut = [attrs for attrs in dot_nodes(draw_dot(f, depth=1).source).values() if "style=dashed" in attrs]
    assert [attrs.split(" | data")[0] for attrs in cut] == ['label="… + | v1', 'label="… sin | v2']


def test_auto_names_false_leaves_intermediate_nodes_unnamed():
    f, _, _ = lecture_example()
    assert record_names(draw_dot(f, auto_names=False).source) == ["x1", "data 0.6931", "x2", "data 10",
                                                                  "data 10.69", "data -0.9589", "f"]  # fmt: skip


def test_a_title_goes_above_the_graph():
    f, _, _ = lecture_example()
    source = draw_dot(f, title="f = ln(x1) + x1·x2 − sin(x2)").source
    assert 'label="f = ln(x1) + x1·x2 − sin(x2)" labelloc=t' in source
    assert "labelloc" not in draw_dot(f).source
    assert 'label="<b>x</b>" labelloc=t' in draw_dot(f, title="<b>x</b>").source  # text, not an HTML label
    with pytest.raises(TypeError, match=r"draw_dot: title must be a str or None, got int \(3\)"):
        draw_dot(f, title=3)


# --- a drawing of part of a graph says where the rest of a gradient comes from -----------------------------------
def test_a_node_fed_by_nodes_not_drawn_says_how_much_of_its_grad_comes_from_them():
    x = Value(2.0, "x")
    h = (x * 3.0).relu()
    h.label = "h"
    other = x.sin()
    loss = h * h + other  # d loss / d h = 2h = 12; x also feeds sin, which is not in h's graph
    loss.backward()
    source = draw_dot(h, show_contributions=True).source
    term = 12.0 * 3.0
    assert x.grad == term + math.cos(2.0)
    assert f'label="x | data 2 | grad {number(x.grad)} | {number(math.cos(2.0))} via nodes not drawn"' in source
    assert 'label="h | data 6 | grad 12 | all via nodes not drawn"' in source  # the root: not the seed
    assert "via nodes not drawn" not in draw_dot(loss, show_contributions=True).source  # the whole graph
    assert "via nodes not drawn" not in draw_dot(h).source  # no terms drawn, nothing to add up


def test_show_grad_false_draws_data_only():
    f, _, _ = lecture_example()
    source = draw_dot(f, show_grad=False).source
    labels = [attrs.split("tooltip")[0] for attrs in dot_nodes(source).values()]
    assert not any("grad" in label for label in labels)
    assert 'label="x1 | data 2"' in source


def test_digits_sets_the_precision_of_the_numbers():
    f, _, _ = lecture_example()
    assert 'label="x2 | data 5 | grad 1.71634"' in draw_dot(f, digits=6).source


def test_rankdir_is_passed_to_graphviz():
    f, _, _ = lecture_example()
    assert "rankdir=TB" in draw_dot(f, rankdir="TB").source


def test_tooltips_carry_full_precision():
    f, _, _ = lecture_example()
    assert 'tooltip="x2: data=5.0, grad=1.7163378145367738"' in draw_dot(f).source


def test_gradients_that_are_values_after_create_graph_are_drawn_as_numbers():
    x = Value(2.0, "x")
    (x**3).backward(create_graph=True)
    assert 'label="x | data 2 | grad 12"' in draw_dot(x).source


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
    assert r'label="\{a\|b\}\<\"x\"\>\\N | data 1 | grad 0"' in source  # \\ is one literal backslash


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
    fills = [attrs for attrs in dot_nodes(source).values() if '"x1 |' in attrs]
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
    assert 'label="x | data 3 | grad 0"' in source


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


def test_a_whole_graph_with_zero_gradients_in_it_or_before_backward_has_nothing_from_elsewhere():
    x = Value(2.0, "x")
    dead = (x * -1.0).relu()  # relu at -2 passes nothing back: the edge from x into "*" carries 0 × -1
    loss = dead + x
    loss.backward()
    source = draw_dot(loss, show_contributions=True).source
    assert "via nodes not drawn" not in source
    assert 'label="0 × -1 = 0"' in source  # the edge from x into x * -1, whose grad is 0
    fresh = Value(1.0, "a") * Value(2.0, "b")  # backward() not run: every grad 0, the root's too
    assert "via nodes not drawn" not in draw_dot(fresh, show_contributions=True).source
