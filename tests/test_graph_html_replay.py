"""record_backward and the page's steps: the recorded pass is backward()'s, float for float, in its order."""

import math

import pytest
from graph_helpers import MLP, lecture_example
from hypothesis import given

import autodiff
import nn
from autodiff import Value
from autodiff.graph.dot import draw_dot
from autodiff.graph.format import number
from autodiff.graph.modules import map_module
from autodiff.graph.replay import record_backward
from autodiff.graph.select import select_nodes
from autodiff.graph.stepping import plan_steps
from autodiff.testing import expressions


def grads_of_backward(root: Value) -> dict[Value, float]:
    """Every node's grad after one backward() from zero."""
    order = autodiff.topological_order(root)
    for node in order:
        node.grad = 0.0
    root.backward()
    return {node: node.grad for node in order}


def steps_of(root: Value, module=None, collapse_neurons=False, depth=None, digits=4):
    modules = map_module(module, autodiff.topological_order(root)) if module is not None else None
    drawn = select_nodes(root, depth, None, modules.calls if collapse_neurons else None)
    return drawn, plan_steps(record_backward(root), drawn, modules, digits)


# --- the record ---------------------------------------------------------------------------------------------


def test_the_lecture_example_is_visited_in_reverse_topological_order():
    f, x1, x2 = lecture_example()
    record = record_backward(f)
    assert [v.node for v in record.visits] == list(reversed(autodiff.topological_order(f)))
    assert record.order == tuple(autodiff.topological_order(f))


def test_x1_gets_a_half_from_the_log_then_five_from_the_product():
    f, x1, x2 = lecture_example()
    record = record_backward(f)
    terms = record.terms(x1)
    assert [(t.before, t.term, t.after) for t in terms] == [(0.0, 0.5, 0.5), (0.5, 5.0, 5.5)]
    assert [t.partial for t in terms] == [0.5, 5.0]  # d(log x1)/d(x1) = 1/x1, d(x1 * x2)/d(x1) = x2
    assert record.grads[x1] == 5.5 and record.grads[x2] == 2.0 - math.cos(5.0)
    by_x2 = record.terms(x2)
    assert [t.term for t in by_x2] == [2.0, -math.cos(5.0)]  # x1 * x2's edge first: it is visited before sin(x2)


def test_the_record_equals_backward_and_changes_no_grad():
    f, x1, x2 = lecture_example()
    before = {node: node.grad for node in autodiff.topological_order(f)}
    record = record_backward(f)
    assert {node: node.grad for node in autodiff.topological_order(f)} == before
    assert record.grads == grads_of_backward(f)


@given(expressions(max_inputs=3, max_ops=14))
def test_the_record_of_a_random_graph_equals_backward_exactly(expr):
    root = expr(*[Value(x) for x in expr.point])
    record = record_backward(root)
    assert record.grads == grads_of_backward(root)  # ==: the same floats, not close ones
    # Each visit's updates are the running sums: before + term = after, and the next update starts from after.
    last_seen: dict[Value, float] = {}
    for visit in record.visits:
        assert visit.grad == record.grads[visit.node]  # a node's grad is complete when it is visited
        for u in visit.updates:
            assert u.before == last_seen.get(u.parent, 0.0)
            assert u.term == u.upstream * u.partial and u.after == u.before + u.term
            last_seen[u.parent] = u.after


def test_a_node_with_zero_gradient_is_skipped_as_backward_skips_it():
    x = Value(-1.0, "x")
    y = x.relu() * 3.0 + x  # relu'(-1) = 0: the relu node's grad is 3, its input gets 0 through it
    dead = x * 0.0
    z = y + dead.exp() * 0.0  # dead.exp() gets grad 0: backward() visits it and passes nothing back
    record = record_backward(z)
    skipped = [v for v in record.visits if v.skipped]
    assert skipped and all(v.grad == 0.0 and v.updates == () for v in skipped)
    assert record.grads == grads_of_backward(z)


def test_a_leaf_shows_one_pass_even_after_backward_ran_twice():
    f, x1, x2 = lecture_example()  # backward() ran once
    f.backward()  # x1.grad is now 11: leaves accumulate
    assert x1.grad == 11.0
    assert record_backward(f).grads[x1] == 5.5


def test_the_record_refuses_what_backward_refuses():
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        record_backward(1.0)
    x = Value(0.0, "x")
    with pytest.raises(ValueError, match=r"sqrt: the derivative is not finite or undefined at inputs \(0.0\)"):
        record_backward(x.sqrt())
    tiny = Value(1e-200, "tiny")
    y = tiny * 1e200 * 1e200  # 1e200 forward; d(y)/d(tiny) = 1e400 overflows
    with pytest.raises(OverflowError):
        y.backward()
    with pytest.raises(OverflowError, match="not finite"):
        record_backward(y)


# --- the steps on the drawn graph ---------------------------------------------------------------------------


def test_the_lecture_steps_seed_then_visit_each_node():
    f, x1, x2 = lecture_example()
    drawn, stepping = steps_of(f)
    ids = {d.node: d.id for d in drawn}
    assert stepping.last == 8  # the start, the seed, then 7 nodes
    assert [s.node for s in stepping.steps] == [None, None] + [ids[n] for n in reversed(autodiff.topological_order(f))]
    assert stepping.steps[1].zero and stepping.steps[1].grads == [(ids[f], "1")]
    x1_texts = [(k, text) for k, s in enumerate(stepping.steps) for node, text in s.grads if node == ids[x1]]
    assert x1_texts == [(4, "0.5"), (5, "5.5")]
    assert "x1.grad = 0.5 + 1 × 5 = 5.5" in stepping.steps[5].text
    assert stepping.steps[6].text.startswith("Step 6 of 8: visit x1") and "d(f)/d(x1) = 5.5" in stepping.steps[6].text
    assert stepping.final == {ids[n]: number(n.grad) for n in ids}
    assert stepping.edge_labels["e1_0"] == "1 × 0.5 = 0.5"  # log's edge: upstream 1, d(log x1)/d(x1) = 0.5


def test_the_last_step_of_a_small_graph_shows_backwards_gradients():
    for seed in range(5):
        x = [Value(0.3 * (i + 1) * (-1) ** i, f"x{i}") for i in range(3)]
        y = ((x[0] * x[1]).tanh() + x[2] * x[0]) * (x[1] - x[2]).sigmoid() + x[0] ** 2 * seed
        drawn, stepping = steps_of(y, digits=6)
        grads = grads_of_backward(y)
        assert stepping.final == {d.id: number(grads[d.node], 6) for d in drawn if d.kind != "constant"}


@pytest.mark.parametrize("model", [MLP(2, [3, 2, 1], seed=3), nn.MLP(2, [4, 4, 1], seed=1)], ids=["stand-in", "nn"])
def test_an_mlp_with_collapsed_neurons_steps_neuron_by_neuron_to_backwards_gradients(model):
    x = [Value(0.3, "x0"), Value(-0.7, "x1")]
    out = model(x)
    loss = (out - 1.0) ** 2
    record = record_backward(loss)
    grads = grads_of_backward(loss)
    assert record.grads == grads
    drawn, stepping = steps_of(loss, module=model, collapse_neurons=True, digits=17)
    neurons = [d for d in drawn if d.kind == "neuron"]
    assert len(neurons) == sum(len(layer.neurons) for layer in model.layers)
    visited = [s.node for s in stepping.steps[2:]]
    assert all(visited.count(d.id) == 1 for d in neurons)  # one step per neuron
    for d in drawn:
        if d.kind != "constant":
            node = d.call.out if d.kind == "neuron" else d.node
            assert stepping.final[d.id] == number(grads[node], 17)  # 17 digits: the exact float
    # Every running sum shown for an input is one the engine made, in its order.
    x0_texts = [text for s in stepping.steps for node, text in s.grads if node == drawn[0].id]
    assert x0_texts == [number(u.after, 17) for u in record.terms(x[0])]


def test_a_dead_relu_neuron_passes_nothing_to_its_inputs():
    model = nn.MLP(2, [2, 1], seed=0)
    model.layers[0].neurons[0].b.data = -100.0  # relu(w·x - 100) = 0 for small x
    loss = model([Value(0.1, "x0"), Value(0.2, "x1")])
    drawn, stepping = steps_of(loss, module=model, collapse_neurons=True)
    dead = next(d for d in drawn if d.kind == "neuron" and d.call.name == "layers.0.neurons.0")
    step = next(s for s in stepping.steps if s.node == dead.id)
    assert step.grads == [] and "passes back 0" in step.text
    assert all(stepping.edge_labels[e].endswith("= 0: skipped") for e in step.edges)


def test_a_node_beyond_depth_that_adds_to_a_drawn_gradient_gets_a_step_of_its_own():
    x = Value(0.5, "x")
    far = x
    for _ in range(4):
        far = (far * 1.5).tanh()
    root = x.exp() + far  # x is at depth 2 via exp; the tanh chain reaches it from beyond depth 2
    drawn, stepping = steps_of(root, depth=2)
    x_id = next(d.id for d in drawn if d.node is x)
    hidden = [s for s in stepping.steps if s.node is None and any(n == x_id for n, _ in s.grads)]
    assert len(hidden) == 1 and "not drawn: beyond depth" in hidden[0].text
    assert stepping.final[x_id] == number(grads_of_backward(root)[x])


def test_the_note_says_why_the_graphs_own_gradients_differ():
    x = Value(2.0, "x")
    y = x * x
    assert "backward() has not run" in steps_of(y)[1].note
    y.backward()
    assert "last step shows the gradients the graph holds" in steps_of(y)[1].note
    y.backward()
    assert "x.grad is 8, where this pass gives 4: a leaf's .grad accumulates" in steps_of(y)[1].note
    z = y * 3
    z.backward()
    assert "y.grad" not in steps_of(y)[1].note and "backward() ran from another root" in steps_of(y)[1].note


def test_draw_dot_and_the_steps_pick_the_same_nodes():
    f, x1, x2 = lecture_example()
    drawn, _ = steps_of(f)
    source = draw_dot(f).source
    assert all(f"\t{d.id} [" in source for d in drawn)
