"""An MLP's gradients equal the closed-form backprop equations, and a batch's gradient is the mean of per-example ones.

The reference is the vectorized BP1-BP4 of the forward/backprop notebook, written
in numpy over a whole batch, for the cost C = sum over examples of 1/2 ||a^L - y||^2:

    BP1  delta^L = (a^L - y) * sigma'(z^L)
    BP2  delta^l = (W^(l+1))^T delta^(l+1) * sigma'(z^l)
    BP3  dC/db^l = delta^l, summed over the batch
    BP4  dC/dW^l = delta^l (a^(l-1))^T   (the matrix product sums over the batch)
"""

import numpy as np
import pytest

import autodiff
import nn
from nn.train import train_step

SIGMA = {
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z: np.where(z > 0, 1.0, 0.01)),
    "linear": (lambda z: z, np.ones_like),
}


def weight_matrices(model):
    """W^l with row k = the weights into neuron k (the notebook's layout), and b^l as a column."""
    Ws = [np.array([[w.data for w in n.w] for n in layer.neurons]) for layer in model.layers]
    bs = [np.array([[n.b.data] for n in layer.neurons]) for layer in model.layers]
    return Ws, bs


def closed_form_gradients(model, X, Y):
    """dC/dW^l and dC/db^l by BP1-BP4, over the whole batch at once (examples are columns)."""
    Ws, bs = weight_matrices(model)
    acts = [layer.activation for layer in model.layers]
    a, zs, activations = X.T, [], [X.T]
    for W, b, act in zip(Ws, bs, acts):
        z = W @ a + b
        a = SIGMA[act][0](z)
        zs.append(z)
        activations.append(a)
    delta = (activations[-1] - Y.T) * SIGMA[acts[-1]][1](zs[-1])  # BP1
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for layer in reversed(range(len(Ws))):
        if layer < len(Ws) - 1:
            delta = (Ws[layer + 1].T @ delta) * SIGMA[acts[layer]][1](zs[layer])  # BP2
        dbs[layer] = delta.sum(axis=1)  # BP3
        dWs[layer] = delta @ activations[layer].T  # BP4
    return dWs, dbs


def engine_gradients(model):
    dWs = [np.array([[w.grad for w in n.w] for n in layer.neurons]) for layer in model.layers]
    dbs = [np.array([n.b.grad for n in layer.neurons]) for layer in model.layers]
    return dWs, dbs


def random_batch(nin, nout, n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, nin)), rng.uniform(size=(n, nout))


def max_difference(ours, theirs):
    return max(float(np.max(np.abs(o - t))) for o, t in zip(ours, theirs))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("output_activation", ["same", "linear"])
def test_mlp_gradients_equal_the_closed_form_backprop_equations_to_1e_10(activation, output_activation):
    out_act = activation if output_activation == "same" else output_activation
    model = nn.MLP(3, [5, 4, 2], activation=activation, output_activation=out_act, seed=7)
    for p in model.parameters():  # biases away from zero, so that the check covers them too
        p.data += 0.1
    X, Y = random_batch(3, 2, n=16, seed=1)

    cost = autodiff.sum(
        [0.5 * (out - t) ** 2 for x, y in zip(X, Y) for out, t in zip(model(list(x)), y)]
    )  # C = sum_x 1/2 ||a^L(x) - y(x)||^2
    model.zero_grad()
    cost.backward()

    expected_W, expected_b = closed_form_gradients(model, X, Y)
    got_W, got_b = engine_gradients(model)
    assert max(np.max(np.abs(g)) for g in expected_W) > 1e-3  # a real, non-vanishing gradient
    assert max_difference(got_W, expected_W) <= 1e-10
    assert max_difference(got_b, expected_b) <= 1e-10


def test_the_closed_form_check_fails_when_the_engine_is_off_by_a_little():
    model = nn.MLP(3, [4, 2], activation="tanh", output_activation="tanh", seed=3)
    X, Y = random_batch(3, 2, n=8, seed=2)
    cost = autodiff.sum([0.5 * (out - t) ** 2 for x, y in zip(X, Y) for out, t in zip(model(list(x)), y)])
    model.zero_grad()
    cost.backward()
    model.layers[0].neurons[2].w[1].grad *= 1 + 1e-8
    got_W, _ = engine_gradients(model)
    expected_W, _ = closed_form_gradients(model, X, Y)
    assert max_difference(got_W, expected_W) > 1e-10


def test_the_mean_squared_error_of_a_batch_has_the_closed_form_gradient_scaled_by_two_over_the_entries():
    model = nn.MLP(3, [5, 2], activation="sigmoid", output_activation="sigmoid", seed=11)
    X, Y = random_batch(3, 2, n=10, seed=4)
    loss = nn.losses.mse([model(list(x)) for x in X], [list(y) for y in Y])
    model.zero_grad()
    loss.backward()
    expected_W, expected_b = closed_form_gradients(model, X, Y)
    scale = 2 / Y.size  # mse = (2 / (N k)) * (1/2) sum (a - y)^2
    got_W, got_b = engine_gradients(model)
    assert max_difference(got_W, [scale * g for g in expected_W]) <= 1e-12
    assert max_difference(got_b, [scale * g for g in expected_b]) <= 1e-12


def per_example_gradients(model, loss, X, y):
    grads = []
    for x, t in zip(X, y):
        model.zero_grad()
        loss(model(x), t).backward()
        grads.append([p.grad for p in model.parameters()])
    return grads


@pytest.mark.parametrize(
    "loss, sizes, targets",
    [
        (nn.losses.binary_cross_entropy, [6, 1], lambda rng, n: [int(rng.integers(2)) for _ in range(n)]),
        (nn.losses.cross_entropy, [6, 3], lambda rng, n: [int(rng.integers(3)) for _ in range(n)]),
        (nn.losses.mse, [6, 2], lambda rng, n: [list(rng.normal(size=2)) for _ in range(n)]),
    ],
)
def test_a_training_step_follows_the_mean_of_the_per_example_gradients(loss, sizes, targets):
    # The Q&A on batch gradients: one gradient for a batch is the mean of the
    # per-example gradients. With lr = 1 and plain SGD, a step moves each parameter by exactly that mean.
    rng = np.random.default_rng(5)
    X = [list(x) for x in rng.normal(size=(12, 4))]
    y = targets(rng, 12)
    model = nn.MLP(4, sizes, activation="tanh", seed=2)
    expected = np.mean(per_example_gradients(model, loss, X, y), axis=0)
    before = np.array([p.data for p in model.parameters()])

    result = train_step(model, loss, nn.optim.SGD(model.parameters(), lr=1.0), X, y)

    assert np.max(np.abs([p.grad for p in model.parameters()] - expected)) <= 1e-14
    assert np.max(np.abs((before - [p.data for p in model.parameters()]) - expected)) <= 1e-14
    with autodiff.no_grad():
        model_before = nn.MLP(4, sizes, activation="tanh", seed=2)
        mean_loss = np.mean([loss(model_before(x), t).data for x, t in zip(X, y)])
    assert result.loss == pytest.approx(mean_loss, rel=1e-14)


@pytest.mark.torch
def test_mlp_outputs_and_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    for activation, torch_act in [
        ("relu", torch.relu),
        ("tanh", torch.tanh),
        ("sigmoid", torch.sigmoid),
        ("leaky_relu", lambda z: torch.nn.functional.leaky_relu(z, 0.01)),
    ]:
        model = nn.MLP(3, [6, 5, 3], activation=activation, seed=21)
        X, _ = random_batch(3, 3, n=9, seed=6)
        y = [0, 2, 1, 1, 0, 2, 2, 1, 0]
        loss = nn.losses.cross_entropy([model(list(x)) for x in X], y)
        model.zero_grad()
        loss.backward()

        Ws, bs = weight_matrices(model)
        tW = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in Ws]
        tb = [torch.tensor(b[:, 0], dtype=torch.float64, requires_grad=True) for b in bs]
        a = torch.tensor(X, dtype=torch.float64)
        for i, (W, b) in enumerate(zip(tW, tb)):
            a = a @ W.T + b
            a = torch_act(a) if i < len(tW) - 1 else a
        torch_loss = torch.nn.functional.cross_entropy(a, torch.tensor(y))
        torch_loss.backward()

        assert loss.data == pytest.approx(torch_loss.item(), rel=1e-13)
        got_W, got_b = engine_gradients(model)
        assert max_difference(got_W, [W.grad.numpy() for W in tW]) <= 1e-14
        assert max_difference(got_b, [b.grad.numpy() for b in tb]) <= 1e-14
