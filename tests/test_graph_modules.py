"""nn modules in drawings: parameter names, neurons collapsed to one node, clusters per layer and neuron.

The MLP here is a stand-in with nn's duck-typed contract (tests/graph_helpers.py).
"""

import re

import pytest
from graph_helpers import MLP, dot_edges, dot_nodes, value_ids

import autodiff
from autodiff import Value, draw_dot
from autodiff.graph.explain import neuron_partials
from autodiff.graph.modules import map_module


def forward(model, point=(0.5, -1.5)):
    x = [Value(point[0], "x1"), Value(point[1], "x2")]
    y = model(x)
    y.label = "y"
    y.backward()
    return y, x


def test_every_neuron_call_of_a_forward_pass_is_found():
    model = MLP(2, [4, 4, 1])
    y, _ = forward(model)
    calls = map_module(model, autodiff.topological_order(y)).calls
    assert sorted(c.name for c in calls.values()) == sorted(
        [f"layers.0.neurons.{j}" for j in range(4)]
        + [f"layers.1.neurons.{j}" for j in range(4)]
        + ["layers.2.neurons.0"]
    )
    assert {c.activation for c in calls.values()} == {"relu", "linear"}


def test_a_2_4_4_1_mlp_collapses_to_one_node_per_neuron():
    model = MLP(2, [4, 4, 1])
    y, _ = forward(model)
    full = draw_dot(y).source
    collapsed = draw_dot(y, module=model, collapse_neurons=True).source
    assert len(value_ids(full)) == 65  # 2 inputs, 37 parameters, 3 nodes per neuron call (2 for the linear one)
    assert len(value_ids(collapsed)) == 11  # 2 inputs and 9 neurons
    assert len(dot_edges(collapsed)) == 4 * 2 + 4 * 4 + 4  # each neuron has an edge from each of its inputs
    assert f"layers.2.neurons.0 | w·x + b | data {autodiff.graph.format.number(y.data)} | grad 1" in collapsed
    assert "layers.0.neurons.3 | relu(w·x + b)" in collapsed


def test_a_collapsed_neuron_shows_its_activations_data_and_grad():
    model = MLP(2, [4, 4, 1])
    y, x = forward(model)
    neuron = model.layers[1].neurons[2]
    h0 = [n(x) for n in model.layers[0].neurons]
    out = neuron(h0)  # the same arithmetic as inside y's graph
    collapsed = draw_dot(y, module=model, collapse_neurons=True).source
    shown = re.search(r"layers\.1\.neurons\.2 \| relu\(w·x \+ b\) \| data (\S+) \|", collapsed)
    assert shown[1] == autodiff.graph.format.number(out.data)


def test_parameters_are_named_after_the_module_when_it_is_given():
    model = MLP(2, [4, 4, 1])
    y, _ = forward(model)
    source = draw_dot(y, module=model).source
    assert '"layers.0.neurons.3.w.1 | data' in source and '"layers.2.neurons.0.b | data' in source


def test_a_drawing_of_one_neuron_names_its_parameters_without_the_path_they_share():
    model = MLP(2, [4, 4, 1])
    _, x = forward(model)
    h = model.layers[0].neurons[3](x)
    h.label = "h"
    source = draw_dot(h, module=model).source
    assert '"w.0 | data' in source and '"w.1 | data' in source and '"b | data' in source
    assert "layers.0.neurons.3" not in source
    y, _ = forward(model)  # the whole network: the parameters share no module, their names stay whole
    assert '"layers.0.neurons.3.w.1 | data' in draw_dot(y, module=model).source


def test_parameter_names_stay_whole_where_they_are_not_to_be_shortened():
    from autodiff.graph.names import node_names
    from autodiff.graph.select import select_nodes

    model = MLP(2, [4, 4, 1])
    _, x = forward(model)
    h = model.layers[0].neurons[3](x)
    drawn = select_nodes(h)
    modules = map_module(model, autodiff.topological_order(h))
    whole = node_names(drawn, modules, auto=True, shorten_parameters=False)
    short = node_names(drawn, modules, auto=True, shorten_parameters=True)
    w = model.layers[0].neurons[3].w[0]
    assert (whole[w], short[w]) == ("layers.0.neurons.3.w.0", "w.0")


def test_a_users_op_named_like_an_activation_or_dot_is_not_taken_for_a_neuron():
    model = MLP(2, [1, 1], activation="relu")
    neuron = model.layers[0].neurons[0]  # a relu neuron (the last layer's is linear)
    x = [Value(0.5, "x1"), Value(-1.5, "x2")]
    user_dot = autodiff.Op("dot", lambda m, *wx: m.sum(wx), lambda m, out, *wx: (1.0,) * len(wx))
    user_relu = autodiff.Op("relu", lambda m, z: m.tanh(z), lambda m, out, z: (1.0 - out * out,))
    for y in (user_relu(autodiff.dot(neuron.w, x) + neuron.b), autodiff.dot(neuron.w, x) + neuron.b):
        assert map_module(model, autodiff.topological_order(y)).calls == {}  # relu(...) by a user; no relu at all
    y = (user_dot(*neuron.w, *x) + neuron.b).relu()
    assert map_module(model, autodiff.topological_order(y)).calls == {}  # a user's dot is no weighted sum
    y = (autodiff.dot(neuron.w, x) + neuron.b).relu()
    assert len(map_module(model, autodiff.topological_order(y)).calls) == 1


def test_clusters_group_neurons_by_layer():
    model = MLP(2, [4, 4, 1])
    y, _ = forward(model)
    source = draw_dot(y, module=model, collapse_neurons=True, cluster_by_module=True).source
    assert re.findall(r'label="?([\w.]+)"? .*style=rounded', source) == ["layers.0", "layers.1", "layers.2"]
    assert "neurons.3 | relu(w·x + b)" in source  # named inside its layer's box


def test_without_collapsing_each_neuron_gets_a_box_inside_its_layers_box():
    model = MLP(2, [4, 4, 1])
    y, _ = forward(model)
    source = draw_dot(y, module=model, cluster_by_module=True).source
    assert source.count("subgraph cluster_") == 3 + 9
    assert '"w.1 | data' in source and '"b | data' in source  # names relative to the neuron's box


def test_a_neuron_whose_sum_is_used_elsewhere_is_not_collapsed():
    model = MLP(2, [2, 1])
    neuron = model.layers[0].neurons[0]  # a relu neuron
    x = [Value(1.0, "x1"), Value(2.0, "x2")]
    z = autodiff.dot(neuron.w, x) + neuron.b
    alone = z.relu() + 1.0
    shared = z.relu() + z * 2  # the sum feeds two ops: one node for the neuron would hide an edge
    for root in (alone, shared):
        root.backward()
    assert draw_dot(alone, module=model, collapse_neurons=True).source.count("| relu(w·x + b) |") == 1
    assert "w·x + b" not in draw_dot(shared, module=model, collapse_neurons=True).source


def test_parameters_used_outside_the_neurons_are_still_drawn():
    model = MLP(2, [2, 1])
    y, _ = forward(model)
    l2 = sum(p * p for p in model.parameters())
    loss = y + 1e-4 * l2
    loss.backward()
    source = draw_dot(loss, module=model, collapse_neurons=True, max_nodes=None).source
    assert source.count("| relu(w·x + b) |") == 2
    assert '"layers.0.neurons.1.w.0 | data' in source  # a leaf of the l2 term


def test_each_forward_pass_of_a_batch_is_its_own_set_of_nodes():
    model = MLP(2, [4, 4, 1])
    loss = sum((model([Value(a), Value(b)]) - t) ** 2 for a, b, t in [(0.1, 0.2, 1.0), (-0.3, 0.4, -1.0)])
    loss.backward()
    source = draw_dot(loss, module=model, collapse_neurons=True).source
    assert source.count("layers.1.neurons.2 | relu") == 2


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu"])
def test_other_activations_collapse_too(activation):
    model = MLP(2, [3, 1], activation=activation)
    y, _ = forward(model)
    source = draw_dot(y, module=model, collapse_neurons=True).source
    assert source.count(f"| {activation}(w·x + b) |") == 3 and len(value_ids(source)) == 2 + 4


def test_edges_into_a_collapsed_neuron_carry_its_terms_which_sum_to_the_input_grads():
    model = MLP(2, [4, 4, 1])
    y, x = forward(model)
    calls = map_module(model, autodiff.topological_order(y)).calls.values()
    for leaf in x:
        terms = [c.out.grad * p for c in calls for xi, p in zip(c.inputs, neuron_partials(c)) if xi is leaf]
        assert sum(terms) == pytest.approx(leaf.grad, rel=1e-12)
    source = draw_dot(y, module=model, collapse_neurons=True, show_contributions=True).source
    into_output = [attrs for _, head, attrs in dot_edges(source) if head == value_ids(source)[-1]]
    w = model.layers[2].neurons[0].w
    assert [a.split("× ")[1].split(" =")[0] for a in into_output] == [autodiff.graph.format.number(v.data) for v in w]


def test_dead_relu_neurons_are_marked_when_colouring():
    model = MLP(2, [4, 4, 1])
    model.layers[0].neurons[1].b.data = -100.0  # this neuron's relu is 0 for any small input
    y, _ = forward(model)
    source = draw_dot(y, module=model, collapse_neurons=True, color_by_grad=True).source
    dead = [a for a in dot_nodes(source).values() if "layers.0.neurons.1 |" in a]
    assert 'color="#cb181d"' in dead[0] and "| data 0 |" in dead[0]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_the_real_nn_mlp_collapses_to_one_node_per_neuron(activation):
    import nn

    model = nn.MLP(2, [4, 4, 1], activation=activation, seed=0)
    y = model([Value(0.5, "x1"), Value(-1.5, "x2")])
    y.backward()
    source = draw_dot(y, module=model, collapse_neurons=True, cluster_by_module=True).source
    assert len(value_ids(source)) == 11 and source.count("subgraph cluster_") == 3
    formula = "w·x + b" if activation == "linear" else f"{activation}(w·x + b)"
    assert source.count(f"neurons.3 | {formula} |") == 2  # in layers 0 and 1
