"""Module: parameter order and names, zero_grad, state_dict and load_state_dict."""

import pytest

from autodiff import Value
from nn import MLP, Layer, Module, Neuron


def test_parameters_are_neuron_major_each_neurons_weights_then_its_bias():
    model = MLP(2, [3, 1], seed=0)
    expected = []
    for layer in model.layers:
        for neuron in layer.neurons:
            expected += [*neuron.w, neuron.b]
    assert model.parameters() == expected
    assert model.num_parameters() == (2 + 1) * 3 + (3 + 1) * 1


def test_parameter_names_follow_the_attribute_path():
    model = MLP(2, [3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:4] == [
        "layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b", "layers.0.neurons.1.w.0",
    ]  # fmt: skip
    assert names[-1] == "layers.1.neurons.0.b"
    assert [p for _, p in model.named_parameters()] == model.parameters()
    assert [name for name, _ in Layer(2, 2, seed=0).named_parameters()] == [
        "neurons.0.w.0", "neurons.0.w.1", "neurons.0.b", "neurons.1.w.0", "neurons.1.w.1", "neurons.1.b",
    ]  # fmt: skip
    assert [name for name, _ in Neuron(2, seed=0).named_parameters()] == ["w.0", "w.1", "b"]


def test_parameters_are_found_in_user_defined_modules_and_shared_ones_count_once():
    class Tied(Module):
        def __init__(self):
            self.encoder = Layer(2, 3, seed=0)
            self.scale = Value(2.0)
            self.heads = [Neuron(3, "linear", seed=1), Neuron(3, "linear", seed=2)]
            self.again = self.scale  # the same Value under a second name
            self._cache = Value(9.0)  # private attributes are not parameters
            self.note = "not a parameter"

        def forward(self, x):
            h = self.encoder(x)
            return [head(h) * self.scale for head in self.heads]

    model = Tied()
    names = [name for name, _ in model.named_parameters()]
    assert names[0] == "encoder.neurons.0.w.0"
    assert "scale" in names and "again" not in names and "_cache" not in names
    assert names[-1] == "heads.1.b"
    assert len(model.parameters()) == 9 + 1 + 8
    assert "18 parameters" in repr(model)


def test_a_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        Module()([1.0])


def test_zero_grad_resets_every_parameter_gradient():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 2.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_a_state_dict_round_trips_exactly_into_another_model():
    source, target = MLP(3, [4, 2], seed=1), MLP(3, [4, 2], seed=2)
    state = source.state_dict()
    assert list(state) == [name for name, _ in source.named_parameters()]
    target.load_state_dict(state)
    assert target.state_dict() == state
    assert target([0.1, 0.2, 0.3])[1].data == source([0.1, 0.2, 0.3])[1].data


def test_a_state_dict_is_a_copy_not_a_view():
    model = MLP(2, [1], seed=0)
    state = model.state_dict()
    model.parameters()[0].data += 1.0
    assert state["layers.0.neurons.0.w.0"] != model.parameters()[0].data


def assert_unchanged_after(model, bad_state, error, match):
    before = model.state_dict()
    with pytest.raises(error, match=match):
        model.load_state_dict(bad_state)
    assert model.state_dict() == before


def test_load_state_dict_names_a_missing_parameter_and_changes_nothing():
    model = MLP(2, [2, 1], seed=0)
    state = {name: 0.5 for name in model.state_dict()}
    del state["layers.1.neurons.0.b"]
    assert_unchanged_after(model, state, ValueError, r"parameter 'layers.1.neurons.0.b' is missing from the state")


def test_load_state_dict_names_an_unexpected_parameter_and_changes_nothing():
    model = MLP(2, [2, 1], seed=0)
    state = {name: 0.5 for name in model.state_dict()} | {"layers.2.neurons.0.b": 1.0}
    assert_unchanged_after(model, state, ValueError, r"the state has a parameter 'layers.2.neurons.0.b' that the model")


def test_load_state_dict_names_a_weight_list_of_the_wrong_size():
    model = MLP(3, [2, 1], seed=0)
    state = MLP(2, [2, 1], seed=0).state_dict()
    assert_unchanged_after(
        model, state, ValueError, r"parameter 'layers.0.neurons.0.w' has 2 entries in the state, 3 in the model"
    )


def test_load_state_dict_names_a_value_that_is_not_a_finite_number_and_changes_nothing():
    model = MLP(2, [2, 1], seed=0)
    state = {name: 0.5 for name in model.state_dict()}
    state["layers.1.neurons.0.w.1"] = float("inf")
    assert_unchanged_after(model, state, ValueError, r"parameter 'layers.1.neurons.0.w.1' must be finite, got inf")
    state["layers.1.neurons.0.w.1"] = "0.5"
    assert_unchanged_after(model, state, TypeError, r"parameter 'layers.1.neurons.0.w.1' must be a number, got str")
    state["layers.1.neurons.0.w.1"] = True
    assert_unchanged_after(model, state, TypeError, r"must be a number, got bool")
    assert_unchanged_after(model, [("w", 1.0)], TypeError, r"expected a mapping of parameter names to numbers, got")
