"""The moons training step of the benchmarks, by every implementation that times it.

One training step (forward, backward, SGD update) of a 2-16-16-1 ReLU MLP on two-moons
points, mean hinge loss + 1e-4 * L2, as in micrograd's demo: by the eager engine
(`autodiff_training_step`), by `autodiff.compile` on floats and on a numpy batch
(`compiled_training_steps`), by numpy matrices written by hand (`numpy_matrix_step`) and by
micrograd (`micrograd_training_step`). All start from the same weights (`mlp_weights`), so
they must agree on the first loss. `demos/bench_micrograd.py`, `bench_engine.py`,
`bench_compiled.py` and `bench_dask.py` time it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import autodiff
from autodiff import Value

try:
    import micrograd.engine
    import micrograd.nn
except ImportError:  # the bench extra is not installed
    micrograd = None


def mlp_weights(seed: int) -> list[list[tuple[list[float], float]]]:
    """Weights of a 2-16-16-1 MLP as micrograd initialises them: uniform(-1, 1), bias 0."""
    rng = random.Random(seed)
    sizes = [2, 16, 16, 1]
    return [
        [([rng.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)] for nin, nout in zip(sizes, sizes[1:])
    ]


class MoonsMLP:
    """The 2-16-16-1 ReLU MLP of workload (a), written with Values only: one `dot` node per neuron."""

    def __init__(self, weights) -> None:
        self.layers = [[([Value(w) for w in ws], Value(b)) for ws, b in layer] for layer in weights]
        self.params = [p for layer in self.layers for ws, b in layer for p in (*ws, b)]

    def score(self, x1: Value, x2: Value) -> Value:
        activations = [x1, x2]
        for depth, layer in enumerate(self.layers):
            z = [autodiff.dot(ws, activations) + b for ws, b in layer]
            activations = [zi.relu() for zi in z] if depth < len(self.layers) - 1 else z
        return activations[0]

    def example_loss(self, x1: Value, x2: Value, label: Value) -> Value:
        """Hinge loss of one example plus the L2 term: its mean over a batch is the loss of (a)."""
        return (1 - label * self.score(x1, x2)).relu() + 1e-4 * autodiff.dot(self.params, self.params)

    def sgd(self, grads, lr: float) -> None:
        for p, g in zip(self.params, grads):
            p.data -= lr * g


def autodiff_training_step(weights, X, y, lr=0.05) -> Callable[[], float]:
    model = MoonsMLP(weights)

    def step() -> float:
        losses = [(1 - label * model.score(*map(Value, xs))).relu() for xs, label in zip(X, y)]
        loss = autodiff.sum(losses) * (1.0 / len(losses)) + 1e-4 * autodiff.dot(model.params, model.params)
        for p in model.params:
            p.grad = 0.0
        loss.backward()
        model.sgd([p.grad for p in model.params], lr)
        return loss.data

    return step


def compiled_training_steps(weights, X, y, lr=0.05) -> dict[str, Callable[[], float]]:
    """The same step through `autodiff.compile`: per example on floats, and as one numpy batch."""
    import numpy as np

    floats_model, numpy_model = MoonsMLP(weights), MoonsMLP(weights)
    on_floats = autodiff.compile(floats_model.example_loss, [0.0, 0.0, 1.0], params=floats_model.params)
    on_numpy = autodiff.compile(numpy_model.example_loss, [0.0, 0.0, 1.0], params=numpy_model.params)
    rows = [[*xs, label] for xs, label in zip(X, y)]
    batch = np.array(rows)  # converted once, as the matrix version converts X once

    def floats_step() -> float:
        total, grads = 0.0, [0.0] * len(floats_model.params)
        for row in rows:
            value, _, example_grads = on_floats.value_and_grad(row)
            total += value
            grads = [g + e for g, e in zip(grads, example_grads)]
        floats_model.sgd([g / len(rows) for g in grads], lr)
        return total / len(rows)

    def numpy_step() -> float:
        values, _, grads = on_numpy.batch_value_and_grad(batch)
        numpy_model.sgd((grads / len(rows)).tolist(), lr)  # floats: Values hold floats
        return float(values.mean())

    return {"compiled floats": floats_step, "compiled numpy": numpy_step}


def numpy_matrix_step(weights, X, y, lr=0.05) -> Callable[[], float]:
    """The same network and loss by hand with numpy matrices: the backprop equations BP1-BP4."""
    import numpy as np

    Ws = [np.array([ws for ws, _ in layer]) for layer in weights]
    bs = [np.array([b for _, b in layer]) for layer in weights]
    A0, labels = np.array(X, dtype=float).T, np.array(y, dtype=float)

    def step() -> float:
        zs, activations = [], [A0]
        for depth, (W, b) in enumerate(zip(Ws, bs)):
            zs.append(W @ activations[-1] + b[:, None])
            activations.append(np.maximum(zs[-1], 0.0) if depth < len(Ws) - 1 else zs[-1])
        margins = 1.0 - labels * activations[-1][0]
        n = len(labels)
        loss = np.maximum(margins, 0.0).mean() + 1e-4 * sum((W * W).sum() + (b * b).sum() for W, b in zip(Ws, bs))
        delta = (-labels * (margins > 0.0) / n)[None, :]  # d loss / d z of the output layer
        for depth in range(len(Ws) - 1, -1, -1):
            grad_W = delta @ activations[depth].T + 2e-4 * Ws[depth]
            grad_b = delta.sum(axis=1) + 2e-4 * bs[depth]
            if depth:
                delta = (Ws[depth].T @ delta) * (zs[depth - 1] > 0.0)
            Ws[depth] -= lr * grad_W
            bs[depth] -= lr * grad_b
        return float(loss)

    return step


def micrograd_training_step(weights, X, y, lr=0.05) -> Callable[[], float]:
    model = micrograd.nn.MLP(2, [16, 16, 1])
    for layer, layer_weights in zip(model.layers, weights):
        for neuron, (ws, b) in zip(layer.neurons, layer_weights):
            for p, w in zip(neuron.w, ws):
                p.data = w
            neuron.b.data = b

    def step() -> float:  # micrograd's own demo loss
        inputs = [list(map(micrograd.engine.Value, xs)) for xs in X]
        scores = list(map(model, inputs))
        losses = [(1 + -label * score).relu() for label, score in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        loss = data_loss + reg_loss
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        return loss.data

    return step
