"""Neurons, layers of neurons, and multilayer perceptrons.

Weight layout as in the forward/backprop notebook: row k of a layer's weight matrix
W holds the weights into neuron k, so `layer.neurons[k].w[j]` is W[k][j], and a
layer computes a = activation(W x + b). `parameters()` is neuron-major: each
neuron's weights, then its bias.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence, Set
from typing import Any

import autodiff
from autodiff import Value
from autodiff.errors import add_context

from ._random import Seed, generator
from .module import Module

__all__ = ["Neuron", "Layer", "MLP", "ACTIVATIONS", "LEAKY_RELU_SLOPE"]

LEAKY_RELU_SLOPE = 0.01
"""The slope of "leaky_relu" for negative inputs (PyTorch's default)."""

_APPLY = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "leaky_relu": lambda z: z.leaky_relu(LEAKY_RELU_SLOPE),
    "linear": None,
}
ACTIVATIONS = tuple(_APPLY)

# Initial weights are drawn from N(0, (gain / sqrt(fan_in))^2), with the gains of
# torch.nn.init.calculate_gain: the variance of a layer's output then stays about the
# variance of its input, so deep relu and tanh stacks neither die out nor blow up.
_GAIN = {
    "relu": math.sqrt(2.0),
    "leaky_relu": math.sqrt(2.0 / (1.0 + LEAKY_RELU_SLOPE**2)),
    "tanh": 5.0 / 3.0,
    "sigmoid": 1.0,
    "linear": 1.0,
}

Inputs = Sequence[float | Value]


class Neuron(Module):
    """One neuron: activation(w . x + b).

    Args:
        nin: the number of inputs.
        activation: "relu", "tanh", "sigmoid", "leaky_relu" or "linear".
        seed: an int, a `random.Random` to draw from, or None for fresh entropy.
            The global `random` state is never used.
    """

    def __init__(self, nin: int, activation: str = "relu", seed: Seed = None) -> None:
        nin = _check_size("Neuron", "nin", nin)
        _check_activation("Neuron", "activation", activation)
        rng = generator("Neuron", seed)
        std = _GAIN[activation] / math.sqrt(nin)
        self.w = [Value(rng.gauss(0.0, std)) for _ in range(nin)]
        self.b = Value(0.0)
        self.activation = activation

    @property
    def nin(self) -> int:
        return len(self.w)

    def forward(self, x: Inputs) -> Value:
        """The neuron's output for one input list (floats or Values)."""
        return self._forward(_as_values(x, self.nin, "Neuron"))

    def _forward(self, xs: list[Value]) -> Value:
        z = autodiff.dot(self.w, xs) + self.b
        apply = _APPLY[self.activation]
        return z if apply is None else apply(z)

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "activation": self.activation}


class Layer(Module):
    """`nout` neurons that read the same inputs.

    Args:
        nin: the number of inputs.
        nout: the number of neurons (outputs).
        activation: the activation of every neuron (see `Neuron`).
        seed: an int, a `random.Random` to draw from, or None.
    """

    def __init__(self, nin: int, nout: int, activation: str = "relu", seed: Seed = None) -> None:
        nin = _check_size("Layer", "nin", nin)
        nout = _check_size("Layer", "nout", nout)
        _check_activation("Layer", "activation", activation)
        rng = generator("Layer", seed)
        self.neurons = [Neuron(nin, activation, rng) for _ in range(nout)]

    @property
    def nin(self) -> int:
        return self.neurons[0].nin

    @property
    def nout(self) -> int:
        return len(self.neurons)

    @property
    def activation(self) -> str:
        return self.neurons[0].activation

    def forward(self, x: Inputs) -> Value | list[Value]:
        """The layer's outputs: a Value when it has one neuron, else a list."""
        out = self._forward(_as_values(x, self.nin, "Layer"))
        return out[0] if len(out) == 1 else out

    def _forward(self, xs: list[Value]) -> list[Value]:
        return [neuron._forward(xs) for neuron in self.neurons]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nout": self.nout, "activation": self.activation}


class MLP(Module):
    """A multilayer perceptron: layers of the given sizes, each feeding the next.

    Args:
        nin: the number of inputs.
        sizes: the number of neurons of each layer; the last is the number of outputs.
        activation: the activation of the hidden layers.
        output_activation: the activation of the last layer ("linear" gives logits
            or scores, for the losses in `nn.losses`).
        seed: an int for reproducible initial weights, a `random.Random`, or None.

    Example:
        >>> model = MLP(2, [16, 16, 1], seed=0)
        >>> out = model([0.5, -1.0])    # one output: a Value, the last neuron's w . x + b
        >>> out.op, out.parents[0].op
        ('+', 'dot')
    """

    def __init__(
        self,
        nin: int,
        sizes: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        seed: Seed = None,
    ) -> None:
        nin = _check_size("MLP", "nin", nin)
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
            raise TypeError(f"MLP: sizes must be a non-empty list of layer sizes, got {sizes!r}")
        sizes = [_check_size("MLP", f"sizes[{i}]", size) for i, size in enumerate(sizes)]
        _check_activation("MLP", "activation", activation)
        _check_activation("MLP", "output_activation", output_activation)
        rng = generator("MLP", seed)
        fan_ins = [nin, *sizes[:-1]]
        last = len(sizes) - 1
        self.layers = [
            Layer(n_in, n_out, output_activation if i == last else activation, rng)
            for i, (n_in, n_out) in enumerate(zip(fan_ins, sizes))
        ]
        self._hidden_activation = activation

    @property
    def nin(self) -> int:
        return self.layers[0].nin

    @property
    def sizes(self) -> list[int]:
        return [layer.nout for layer in self.layers]

    def forward(self, x: Inputs) -> Value | list[Value]:
        """The network's outputs: a Value when the last layer has one neuron, else a list."""
        xs = _as_values(x, self.nin, "MLP")
        for layer in self.layers:
            xs = layer._forward(xs)
        return xs[0] if len(xs) == 1 else xs

    def config(self) -> dict[str, Any]:
        return {
            "nin": self.nin,
            "sizes": self.sizes,
            "activation": self._hidden_activation,
            "output_activation": self.layers[-1].activation,
        }

    def __repr__(self) -> str:
        lines = [f"{super().__repr__()}: {self.num_parameters()} parameters"]
        lines += [f"  (layers.{i}) {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)


def _as_values(x: object, nin: int, who: str) -> list[Value]:
    """The inputs as Values, made once per call and shared by every neuron."""
    # A dict would be read by its keys and a set in no fixed order: only ordered lists (and arrays) are inputs.
    if isinstance(x, (Value, str, bytes, Mapping, Set)) or not hasattr(x, "__len__") or not hasattr(x, "__iter__"):
        raise TypeError(f"{who}: expected a list of {nin} inputs (numbers or Values), got {type(x).__name__} ({x!r})")
    for i, v in enumerate(x):  # before the count: a batch of 3 for 2 inputs is a batch, not 3 inputs
        if isinstance(v, (list, tuple)) or getattr(v, "ndim", 0) >= 1:
            raise TypeError(
                f"{who}: input {i} is a {type(v).__name__} ({v!r}), not a number: a model takes one example at a time "
                f"(a list of {nin} numbers); for a batch, loop ([model(x) for x in X]) or compile the model: "
                "autodiff.compile(lambda *x: model(list(x)), X[0]).batch(X)"
            )
    if len(x) != nin:
        raise ValueError(f"{who}: expected {nin} inputs, got {len(x)}")
    xs = []
    for i, v in enumerate(x):
        if not isinstance(v, Value):
            try:
                v = Value(v)
            except (TypeError, ValueError) as error:
                add_context(error, f"{who}: input {i}")
                raise
        xs.append(v)
    return xs


def _check_size(who: str, name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{who}: {name} must be a positive int, got {type(n).__name__} ({n!r})")
    if n < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {n!r}")
    return int(n)


def _check_activation(who: str, name: str, activation: object) -> None:
    if not isinstance(activation, str) or activation not in _APPLY:
        raise ValueError(f"{who}: {name} must be one of {', '.join(map(repr, ACTIVATIONS))}; got {activation!r}")
