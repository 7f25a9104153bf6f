"""nn: neural networks on the autodiff engine.

>>> import nn
>>> X, y = nn.data.make_moons(200, noise=0.1, seed=0)
>>> model = nn.MLP(2, [16, 16, 1], seed=0)
>>> optimizer = nn.optim.Adam(model.parameters(), lr=0.05)
>>> history = nn.train.fit(model, X, y, loss="binary_cross_entropy", optimizer=optimizer,
...                        epochs=30, batch_size=20, seed=0, progress=False)

Modules: `nn.layers` (Neuron, Layer, MLP), `nn.module` (Module), `nn.losses`,
`nn.optim`, `nn.data`, `nn.train`, `nn.serialize` (save, load), `nn.gpt` (GPT, generate),
`nn.transformer` (its pieces), `nn.text` (the names dataset, a character tokenizer).
"""

from . import data, losses, optim, text, train
from .gpt import GPT, generate
from .layers import MLP, Layer, Neuron
from .module import Module
from .serialize import load, save

__all__ = ["Module", "Neuron", "Layer", "MLP", "GPT", "generate", "save", "load", "data", "losses", "optim", "text",
           "train"]  # fmt: skip
