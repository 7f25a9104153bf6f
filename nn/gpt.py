"""`GPT`: a small GPT on scalar Values (microgpt's architecture), its loss and `generate`.

    >>> import nn
    >>> model = nn.GPT(vocab_size=27, n_embd=16, n_head=4, n_layer=1, block_size=16, seed=0)
    >>> loss = model.loss([26, 4, 12, 12, 0, 26])      # BOS e m m a BOS: predict each next token
    >>> loss.backward()                                 # gradients of every parameter
    >>> samples = nn.generate(model, 3, temperature=0.5, seed=0)    # lists of token ids

The architecture is GPT-2's with microgpt's simplifications: RMSNorm without a gain
instead of LayerNorm, ReLU instead of GELU, no biases, and an RMSNorm right after the
embeddings. The model reads one token at a time; attention finds the earlier ones in
a `KVCache`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import autodiff
from autodiff import Value

from ._random import Seed, generator
from .module import Module
from .transformer import WEIGHT_STD, Block, Embedding, KVCache, Linear, check_heads, rmsnorm

__all__ = ["GPT", "token_loss", "generate", "parameter_count"]


class GPT(Module):
    """A decoder-only transformer over a vocabulary of `vocab_size` tokens.

    Parameters, in this order (the order microgpt draws them): the token embeddings
    `wte`, the position embeddings `wpe`, the output projection `lm_head`, then each
    layer's attention (wq, wk, wv, wo) and MLP (fc1, fc2). Every weight starts as a draw
    from N(0, std^2).

    Args:
        vocab_size: the number of tokens.
        n_embd: the width of every vector; a multiple of n_head.
        n_head: the number of attention heads.
        n_layer: the number of transformer layers.
        block_size: the longest sequence the model reads (one position embedding each).
        std: the standard deviation of the initial weights.
        seed: an int, a `random.Random` to draw from, or None.
    """

    def __init__(self, vocab_size: int, n_embd: int = 16, n_head: int = 4, n_layer: int = 1, block_size: int = 16,
                 std: float = WEIGHT_STD, seed: Seed = None) -> None:  # fmt: skip
        for name, n in [("vocab_size", vocab_size), ("n_embd", n_embd), ("n_head", n_head), ("n_layer", n_layer),
                        ("block_size", block_size)]:  # fmt: skip
            if isinstance(n, bool) or not isinstance(n, numbers.Integral):
                raise TypeError(f"GPT: {name} must be a positive int, got {type(n).__name__} ({n!r})")
            if n < 1:
                raise ValueError(f"GPT: {name} must be a positive int, got {n!r}")
        check_heads("GPT", n_embd, n_head)
        if isinstance(std, bool) or not isinstance(std, numbers.Real) or not 0 <= std < math.inf:
            raise ValueError(f"GPT: std must be a finite number >= 0, got {std!r}")
        rng = generator("GPT", seed)
        self.wte = Embedding(vocab_size, n_embd, std, rng, what="token")
        self.wpe = Embedding(block_size, n_embd, std, rng, what="position")
        self.lm_head = Linear(n_embd, vocab_size, std, rng)
        self.layers = [Block(n_embd, n_head, std, rng) for _ in range(n_layer)]
        self._config = {"vocab_size": int(vocab_size), "n_embd": int(n_embd), "n_head": int(n_head),
                        "n_layer": int(n_layer), "block_size": int(block_size)}  # fmt: skip

    @property
    def vocab_size(self) -> int:
        """The number of tokens."""
        return self._config["vocab_size"]

    @property
    def block_size(self) -> int:
        """The longest sequence the model reads."""
        return self._config["block_size"]

    @property
    def n_embd(self) -> int:
        """The width of every vector."""
        return self._config["n_embd"]

    def config(self) -> dict[str, Any]:
        """The arguments that build this model again: vocab_size, n_embd, n_head, n_layer, block_size."""
        return dict(self._config)

    def new_cache(self) -> KVCache:
        """An empty cache, for a new sequence."""
        return KVCache(self._config["n_layer"], self._config["n_head"])

    def step(self, token: int, cache: KVCache) -> list[Value]:
        """The logits of the token that follows `token`, at the position after those in `cache`."""
        self._check_token(token, cache.positions)
        return self.step_embedding(self.wte(token), cache)

    def step_embedding(self, token_embedding: Sequence[Value], cache: KVCache) -> list[Value]:
        """`step` from the token's embedding vector rather than its id (a compiled step's inputs are vectors)."""
        if not isinstance(cache, KVCache) or len(cache.layers) != len(self.layers):
            raise ValueError(f"GPT: the cache must be a KVCache for n_layer={len(self.layers)} "
                             f"(model.new_cache()), got {cache!r:.80}")  # fmt: skip
        if len(token_embedding) != self.n_embd:
            raise ValueError(f"GPT: a token embedding has n_embd={self.n_embd} entries, got {len(token_embedding)}")
        position = cache.positions
        if position >= self.block_size:
            raise ValueError(f"GPT: a sequence longer than block_size={self.block_size} (at position {position})")
        x = rmsnorm([t + p for t, p in zip(token_embedding, self.wpe(position))])
        for layer, layer_cache in zip(self.layers, cache.layers):
            x = layer(x, layer_cache)
        return self.lm_head(x)

    def forward(self, tokens: Sequence[int]) -> list[list[Value]]:
        """The logits after each token of the sequence, one list per position."""
        self.check_sequence(tokens, len(tokens), crop=self.block_size)
        cache = self.new_cache()
        return [self.step(token, cache) for token in tokens]

    def loss(self, tokens: Sequence[int]) -> Value:
        """The mean cross-entropy of predicting tokens[1:] from the tokens before each."""
        self.check_sequence(tokens, len(tokens) - 1, crop=self.block_size + 1)
        if len(tokens) < 2:
            raise ValueError(f"GPT.loss: needs at least 2 tokens (an input and its next), got {list(tokens)!r}")
        cache = self.new_cache()
        losses = [token_loss(self.step(token, cache), target) for token, target in zip(tokens, tokens[1:])]
        return autodiff.sum(losses) / len(losses)

    def check_sequence(self, tokens: Sequence[int], positions: int, crop: int | None = None) -> None:
        """A one-line error unless `tokens` is a list of token ids that needs at most block_size positions
        (`crop`: how many tokens fit, for the error's hint; block_size + 1 for a loss)."""
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise TypeError(f"GPT: tokens must be a list of ints, got {type(tokens).__name__} ({tokens!r:.60})")
        if positions > self.block_size:
            raise ValueError(
                f"GPT: the sequence needs {positions} positions, more than block_size={self.block_size}; "
                f"crop it to tokens[:{crop if crop is not None else self.block_size + 1}]"
            )
        for i, token in enumerate(tokens):
            self._check_token(token, i)

    def _check_token(self, token: object, position: int) -> None:
        if isinstance(token, bool) or not isinstance(token, numbers.Integral):
            raise TypeError(f"GPT: token {token!r} at position {position} must be an int (a token id)")
        if not 0 <= token < self.vocab_size:
            raise ValueError(
                f"GPT: token {token!r} at position {position} is outside the vocabulary [0, {self.vocab_size})"
            )

    def __repr__(self) -> str:
        return f"{super().__repr__()}: {self.num_parameters():,} parameters"


def _sampling_weights(logits: Sequence[Value], temperature: float) -> list[float]:
    """softmax(logits / temperature) up to a factor, as microgpt computes it: e^(z/T - max z/T)."""
    scaled = [z.data / temperature for z in logits]
    top = max(scaled)
    if math.isfinite(top):
        return [math.exp(z - top) for z in scaled]
    best = max(z.data for z in logits)  # z / T overflowed (a tiny T): the same weights, shifted before dividing
    return [math.exp((z.data - best) / temperature) for z in logits]


def token_loss(logits: Sequence[Value], target: int) -> Value:
    """-log softmax(logits)[target] as two nodes: logsumexp(logits) - logits[target]."""
    return autodiff.logsumexp(logits) - logits[target]


def parameter_count(vocab_size: int, n_embd: int, n_layer: int, block_size: int) -> int:
    """How many parameters a GPT of this configuration has (n_head does not change it)."""
    return (2 * vocab_size + block_size) * n_embd + n_layer * 12 * n_embd * n_embd


def generate(
    model: GPT, n: int, temperature: float = 0.5, seed: Seed = None, bos: int | None = None
) -> list[list[int]]:
    """`n` samples, each a list of token ids: from `bos` on, draw each next token from softmax(logits / temperature)
    until the model gives `bos` again or the block is full.

    Args:
        model: the GPT to sample from.
        n: how many samples.
        temperature: > 0; below 1 the likely tokens become likelier.
        seed: an int, a `random.Random` to draw from, or None.
        bos: the token that begins and ends a sequence (default: the last one, vocab_size - 1).
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"generate: n must be an int >= 0, got {n!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not 0 < temperature < math.inf:
        raise ValueError(f"generate: temperature must be a finite number > 0, got {temperature!r}")
    bos = model.vocab_size - 1 if bos is None else bos
    model._check_token(bos, 0)
    rng = generator("generate", seed)
    tokens = range(model.vocab_size)
    samples = []
    with autodiff.no_grad():
        for _ in range(n):
            cache, token, sample = model.new_cache(), bos, []
            for _ in range(model.block_size):
                token = rng.choices(tokens, weights=_sampling_weights(model.step(token, cache), temperature))[0]
                if token == bos:
                    break
                sample.append(token)
            samples.append(sample)
    return samples
