"""Neuron, Layer, MLP: forward pass, graph shape, initialisation, seeds and input errors."""

import math
import random
import statistics

import pytest

import autodiff
from autodiff import Value
from nn import MLP, Layer, Neuron
from nn.layers import ACTIVATIONS

EXPECTED = {
    "relu": lambda z: max(z, 0.0),
    "tanh": math.tanh,
    "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "linear": lambda z: z,
}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_neuron_computes_its_activation_of_w_dot_x_plus_b(activation):
    neuron = Neuron(3, activation, seed=1)
    neuron.b.data = -0.3
    x = [0.5, -1.5, 2.0]
    z = sum(w.data * xi for w, xi in zip(neuron.w, x)) - 0.3
    assert neuron(x).data == pytest.approx(EXPECTED[activation](z), rel=1e-15, abs=1e-15)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_neuron_is_one_dot_node_then_a_plus_node_with_the_bias_then_the_activation(activation):
    neuron = Neuron(3, activation, seed=1)
    out = neuron([Value(1.0), Value(2.0), Value(3.0)])
    plus = out if activation == "linear" else out.parents[0]
    if activation != "linear":
        assert out.op == activation
    assert plus.op == "+"
    dot, bias = plus.parents
    assert bias is neuron.b
    assert dot.op == "dot" and dot.parents[:3] == tuple(neuron.w)


def test_a_layer_converts_float_inputs_to_values_once_and_shares_them_between_neurons():
    layer = Layer(2, 4, seed=0)
    outs = layer([1.0, 2.0])
    inputs = {id(p) for out in outs for p in out.parents[0].parents[0].parents[2:]}
    assert len(inputs) == 2


def test_a_layer_with_one_neuron_returns_a_value_and_otherwise_a_list():
    assert isinstance(Layer(3, 1, seed=0)([1, 2, 3]), Value)
    outs = Layer(3, 2, seed=0)([1, 2, 3])
    assert isinstance(outs, list) and len(outs) == 2
    assert isinstance(MLP(3, [4, 1], seed=0)([1, 2, 3]), Value)
    assert len(MLP(3, [4, 3], seed=0)([1, 2, 3])) == 3


def test_row_k_of_a_layers_weight_matrix_is_neuron_k():
    layer = Layer(3, 2, activation="linear", seed=4)
    W = [[w.data for w in neuron.w] for neuron in layer.neurons]
    b = [neuron.b.data for neuron in layer.neurons]
    x = [0.1, 0.2, 0.3]
    assert [out.data for out in layer(x)] == pytest.approx(
        [sum(W[k][j] * x[j] for j in range(3)) + b[k] for k in range(2)], rel=1e-15
    )


def test_an_mlp_feeds_each_layer_into_the_next():
    model = MLP(2, [3, 2], activation="tanh", output_activation="sigmoid", seed=9)
    x = [0.7, -0.2]
    hidden = [n(x).data for n in model.layers[0].neurons]
    expected = [n(hidden).data for n in model.layers[1].neurons]
    assert [o.data for o in model(x)] == expected
    assert [layer.activation for layer in model.layers] == ["tanh", "sigmoid"]


def test_an_mlp_with_a_one_neuron_hidden_layer_still_works():
    model = MLP(2, [1, 2], seed=0)
    assert len(model([1.0, 2.0])) == 2


def test_the_same_seed_gives_the_same_weights_and_different_seeds_different_ones():
    a, b, c = MLP(2, [4, 1], seed=5), MLP(2, [4, 1], seed=5), MLP(2, [4, 1], seed=6)
    assert a.state_dict() == b.state_dict()
    assert a.state_dict() != c.state_dict()
    assert MLP(2, [4, 1], seed=random.Random(5)).state_dict() == a.state_dict()


def test_initialisation_never_touches_the_global_random_state():
    random.seed(42)
    expected = random.random()
    random.seed(42)
    MLP(2, [8, 8, 1], seed=0)
    MLP(2, [8, 8, 1])  # no seed: fresh entropy, not the global generator
    assert random.random() == expected


def test_biases_start_at_zero_and_weights_have_a_spread_of_gain_over_root_fan_in():
    layer = Layer(50, 200, activation="relu", seed=0)
    weights = [w.data for n in layer.neurons for w in n.w]
    assert all(n.b.data == 0.0 for n in layer.neurons)
    assert statistics.fmean(weights) == pytest.approx(0.0, abs=0.01)
    assert statistics.pstdev(weights) == pytest.approx(math.sqrt(2 / 50), rel=0.03)
    tanh_weights = [w.data for n in Layer(50, 200, activation="tanh", seed=0).neurons for w in n.w]
    assert statistics.pstdev(tanh_weights) == pytest.approx((5 / 3) / math.sqrt(50), rel=0.03)


def pre_activation_spread(model, X):
    """The standard deviation of the last hidden layer's pre-activations over the inputs X."""
    last_hidden = model.layers[-2]
    values = []
    with autodiff.no_grad():
        for x in X:
            xs = [Value(v) for v in x]
            for layer in model.layers[:-2]:
                xs = layer._forward(xs)
            values += [autodiff.dot(n.w, xs).data + n.b.data for n in last_hidden.neurons]
    return statistics.pstdev(values)


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_signals_keep_their_scale_through_twelve_layers_at_initialisation(activation):
    # Deep stacks train only if activations neither die out nor blow up with depth. With weights
    # scaled by gain / sqrt(fan_in), the pre-activations 12 layers deep keep about the spread of the
    # input (1); unscaled N(0, 1) weights give ~1e7 (relu), and torch's uniform(+-1/sqrt(fan_in)) ~1e-4.
    rng = random.Random(0)
    X = [[rng.gauss(0, 1) for _ in range(16)] for _ in range(100)]
    spreads = [pre_activation_spread(MLP(16, [32] * 12 + [1], activation=activation, seed=s), X) for s in range(5)]
    assert 0.5 <= statistics.median(spreads) <= 2.0


def test_a_wrong_number_of_inputs_is_a_clear_error():
    with pytest.raises(ValueError, match=r"MLP: expected 2 inputs, got 3"):
        MLP(2, [3, 1], seed=0)([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"Layer: expected 3 inputs, got 1"):
        Layer(3, 2, seed=0)([1.0])
    with pytest.raises(ValueError, match=r"Neuron: expected 2 inputs, got 0"):
        Neuron(2, seed=0)([])


def test_inputs_that_are_not_a_list_of_numbers_are_clear_errors():
    with pytest.raises(TypeError, match=r"MLP: expected a list of 2 inputs .*got float \(1.5\)"):
        MLP(2, [1], seed=0)(1.5)
    with pytest.raises(TypeError, match=r"MLP: expected a list of 2 inputs .*got str"):
        MLP(2, [1], seed=0)("ab")
    with pytest.raises(TypeError, match=r"MLP: input 1: Value: data must be an int or float, got str \('x'\)"):
        MLP(2, [1], seed=0)([1.0, "x"])
    with pytest.raises(ValueError, match=r"Layer: input 0: Value: data must be a finite number, got nan"):
        Layer(1, 1, seed=0)([float("nan")])


@pytest.mark.parametrize(
    "model", [MLP(2, [3, 1], seed=0), Layer(2, 2, seed=0), Neuron(2, seed=0)], ids=["MLP", "Layer", "Neuron"]
)
@pytest.mark.parametrize("batch", [[[1, 2], [3, 4]], [[1, 2], [3, 4], [5, 6]], [(1, 2)]], ids=["2", "3", "tuple"])
def test_a_batch_is_refused_saying_a_model_takes_one_example_and_how_to_run_a_batch(model, batch):
    who = type(model).__name__
    with pytest.raises(TypeError) as info:
        model(batch)
    message = str(info.value)
    assert message.startswith(f"{who}: input 0 is a {type(batch[0]).__name__} ({batch[0]!r}), not a number: ")
    assert "a model takes one example at a time (a list of 2 numbers)" in message and "\n" not in message
    assert "[model(x) for x in X]" in message
    assert "autodiff.compile(lambda *x: model(list(x)), X[0]).batch(X)" in message


def test_the_compiled_batch_the_error_suggests_gives_each_examples_output():
    np = pytest.importorskip("numpy")
    import autodiff

    model, X = MLP(2, [3, 1], seed=0), [[1, 2], [3, 4], [-1, 0.5]]
    outputs = autodiff.compile(lambda *x: model(list(x)), X[0]).batch(X)
    assert np.allclose(outputs, [model(x).data for x in X], rtol=1e-12, atol=0)


def test_a_dict_or_a_set_of_inputs_is_refused_rather_than_read_by_its_keys_or_in_no_order():
    with pytest.raises(TypeError, match=r"MLP: expected a list of 2 inputs .*got dict \(\{0: 1.0, 1: 2.0\}\)"):
        MLP(2, [1], seed=0)({0: 1.0, 1: 2.0})
    with pytest.raises(TypeError, match=r"Neuron: expected a list of 2 inputs .*got set"):
        Neuron(2, seed=0)({1.0, 2.0})


def test_bad_constructor_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"MLP: activation must be one of 'relu', .*'linear'; got 'softmax'"):
        MLP(2, [3, 1], activation="softmax")
    with pytest.raises(ValueError, match=r"Layer: activation must be one of .*; got None"):
        Layer(2, 3, activation=None)
    with pytest.raises(ValueError, match=r"MLP: output_activation must be one of"):
        MLP(2, [1], output_activation="Tanh")
    with pytest.raises(ValueError, match=r"MLP: sizes\[1\] must be a positive int, got 0"):
        MLP(2, [3, 0])
    with pytest.raises(TypeError, match=r"MLP: sizes\[0\] must be a positive int, got float \(3.0\)"):
        MLP(2, [3.0])
    with pytest.raises(TypeError, match=r"MLP: sizes must be a non-empty list of layer sizes, got \[\]"):
        MLP(2, [])
    with pytest.raises(TypeError, match=r"MLP: sizes must be a non-empty list"):
        MLP(2, 3)
    with pytest.raises(ValueError, match=r"Neuron: nin must be a positive int, got -1"):
        Neuron(-1)
    with pytest.raises(TypeError, match=r"Neuron: nin must be a positive int, got bool"):
        Neuron(True)
    with pytest.raises(TypeError, match=r"Layer: seed must be an int, a random.Random or None, got str \('1'\)"):
        Layer(2, 2, seed="1")


def test_sizes_may_be_any_integers_such_as_numpy_ones():
    np = pytest.importorskip("numpy")
    assert MLP(np.int64(2), [np.int64(3), 1], seed=0).config()["sizes"] == [3, 1]


def test_the_forward_pass_depends_only_on_the_inputs_and_the_parameter_data():
    model = MLP(2, [4, 1], activation="tanh", seed=1)
    first = model([0.3, 0.4]).data
    model([5.0, -5.0]).backward()  # another call with a backward pass in between leaves no state
    assert model([0.3, 0.4]).data == first
    model.layers[0].neurons[0].w[0].data += 1.0
    assert model([0.3, 0.4]).data != first


def test_reprs_show_the_architecture():
    model = MLP(2, [16, 16, 1], seed=0)
    assert repr(model) == (
        "MLP(nin=2, sizes=[16, 16, 1], activation='relu', output_activation='linear'): 337 parameters\n"
        "  (layers.0) Layer(nin=2, nout=16, activation='relu')\n"
        "  (layers.1) Layer(nin=16, nout=16, activation='relu')\n"
        "  (layers.2) Layer(nin=16, nout=1, activation='linear')"
    )
    assert repr(Neuron(3, "tanh")) == "Neuron(nin=3, activation='tanh')"
