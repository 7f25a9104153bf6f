"""The pieces of a GPT, on scalar Values: embeddings, RMSNorm, causal self-attention with a KV cache, the MLP.

Every vector is a list of Values and every matrix a list of rows, as in microgpt.
The pieces are written for few nodes: a matrix-vector product is one `dot` node per
output, RMSNorm's scale is one node (`RMS_SCALE`), and a softmax is one `logsumexp`
node plus two nodes per entry. Attention runs one position at a time, as when
sampling: the keys and values of earlier positions wait in a `KVCache`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import autodiff
from autodiff import Op, Value

from ._random import Seed, generator
from .module import Module

__all__ = [
    "RMS_SCALE", "RMSNORM_EPS", "WEIGHT_STD", "rmsnorm", "softmax", "Linear", "Embedding", "KVCache", "LayerCache",
    "CausalSelfAttention", "MLPBlock", "Block",
]  # fmt: skip

WEIGHT_STD = 0.08
"""The standard deviation of every initial weight (microgpt's)."""

RMSNORM_EPS = 1e-5
"""Added to the mean square before the square root, so that a zero vector stays finite."""

# rms_scale(x_1..x_n) = (mean(x^2) + eps)^(-1/2), the factor RMSNorm multiplies each x_i by, as ONE node.
# d scale / d x_i = -1/2 (mean(x^2) + eps)^(-3/2) * 2 x_i / n = -scale^3 x_i / n.
RMS_SCALE = Op("rms_scale",
               lambda m, *xs: m.pow(m.dot(xs, xs) / len(xs) + RMSNORM_EPS, -0.5),
               lambda m, out, *xs: tuple(-(out * out * out) / len(xs) * x for x in xs))  # fmt: skip


def rmsnorm(x: Sequence[Value]) -> list[Value]:
    """x / sqrt(mean(x^2) + eps): n + 1 nodes, the scale and one product per entry (no learned gain)."""
    scale = RMS_SCALE(*x)
    return [xi * scale for xi in x]


def softmax(z: Sequence[Value]) -> list[Value]:
    """exp(z_i - logsumexp(z)) for each i: one logsumexp node, then a difference and an exp per entry."""
    lse = autodiff.logsumexp(z)
    return [(zi - lse).exp() for zi in z]


class Linear(Module):
    """y = W x, without a bias: one `dot` node per output. Row o of `weight` holds the weights into output o.

    Args:
        nin, nout: the sizes of x and y.
        std: the standard deviation of the initial weights, drawn row by row.
        seed: an int, a `random.Random` to draw from, or None.
    """

    def __init__(self, nin: int, nout: int, std: float = WEIGHT_STD, seed: Seed = None) -> None:
        rng = generator("Linear", seed)
        self.weight = [tuple(Value(rng.gauss(0.0, std)) for _ in range(nin)) for _ in range(nout)]

    def forward(self, x: Sequence[Value]) -> list[Value]:
        """W x, one Value per row of W."""
        x = tuple(x)  # rows and x as tuples: dot takes them as they are, without copying
        return [autodiff.dot(row, x) for row in self.weight]


class Embedding(Module):
    """A table of learned vectors, one row per index; looking up index i gives row i, its parameters themselves.

    Args:
        num: the number of rows (a vocabulary's size, or a number of positions).
        dim: the length of each vector.
        std: the standard deviation of the initial entries.
        seed: an int, a `random.Random` to draw from, or None.
        what: what an index is, for error messages ("token", "position").
    """

    def __init__(self, num: int, dim: int, std: float = WEIGHT_STD, seed: Seed = None, what: str = "index") -> None:
        rng = generator("Embedding", seed)
        self.weight = [tuple(Value(rng.gauss(0.0, std)) for _ in range(dim)) for _ in range(num)]
        self._what = what

    def forward(self, i: int) -> tuple[Value, ...]:
        """Row i."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"Embedding: a {self._what} must be an int, got {type(i).__name__} ({i!r})")
        if not 0 <= i < len(self.weight):
            raise ValueError(f"Embedding: {self._what} {i!r} is outside the table [0, {len(self.weight)})")
        return self.weight[i]


def check_heads(who: str, n_embd: object, n_head: object) -> None:
    """A one-line error unless n_embd and n_head are positive ints and n_head divides n_embd."""
    for name, n in [("n_embd", n_embd), ("n_head", n_head)]:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"{who}: {name} must be a positive int, got {type(n).__name__} ({n!r})")
        if n < 1:
            raise ValueError(f"{who}: {name} must be a positive int, got {n!r}")
    if n_embd % n_head:
        raise ValueError(f"{who}: n_embd must be a multiple of n_head, got n_embd={n_embd} and n_head={n_head}")


class LayerCache:
    """One layer's keys and values of the positions seen so far, and each head's attention scores and weights.

    `scores[h][t][u]` is head h's score of position u when reading position t (u <= t), and
    `attention[h][t][u]` its softmax weight: kept for pictures, as the nodes themselves.
    """

    __slots__ = ("keys", "values", "scores", "attention")

    def __init__(self, n_head: int) -> None:
        self.keys: list[list[Value]] = []
        self.values: list[list[Value]] = []
        self.scores: list[list[list[Value]]] = [[] for _ in range(n_head)]
        self.attention: list[list[list[Value]]] = [[] for _ in range(n_head)]


class KVCache:
    """Every layer's `LayerCache`: what attention at the next position reads. One per sequence."""

    def __init__(self, n_layer: int, n_head: int) -> None:
        self.layers = [LayerCache(n_head) for _ in range(n_layer)]

    @property
    def positions(self) -> int:
        """How many positions have been run."""
        return len(self.layers[0].keys)


class CausalSelfAttention(Module):
    """Multi-head self-attention over this position and the earlier ones, which the cache holds.

    Head h reads entries h*d .. (h+1)*d - 1 of the queries, keys and values (d = n_embd / n_head):
    its scores are q . k_t / sqrt(d) for every position t so far, its weights their softmax, and its
    output the weighted sum of the values. The heads' outputs, concatenated, go through `wo`.
    """

    def __init__(self, n_embd: int, n_head: int, std: float = WEIGHT_STD, seed: Seed = None) -> None:
        check_heads("CausalSelfAttention", n_embd, n_head)
        rng = generator("CausalSelfAttention", seed)
        self.wq, self.wk, self.wv, self.wo = (Linear(n_embd, n_embd, std, rng) for _ in range(4))
        self.n_head = n_head

    def forward(self, x: Sequence[Value], cache: LayerCache) -> list[Value]:
        """This position's output; its key and value join the cache."""
        if len(cache.scores) != self.n_head:
            raise ValueError(
                f"CausalSelfAttention: a cache for {len(cache.scores)} heads, but this layer has {self.n_head}"
            )
        q, k, v = self.wq(x), self.wk(x), self.wv(x)
        cache.keys.append(k)
        cache.values.append(v)
        d = len(q) // self.n_head
        scale = 1.0 / math.sqrt(d)
        heads: list[Value] = []
        for h, head in enumerate(range(0, len(q), d)):
            q_h = [qi * scale for qi in q[head : head + d]]  # scaling q: d nodes, not one per position
            scores = [autodiff.dot(q_h, k_t[head : head + d]) for k_t in cache.keys]
            weights = softmax(scores)
            cache.scores[h].append(scores)
            cache.attention[h].append(weights)
            heads += [autodiff.dot(weights, [v_t[head + j] for v_t in cache.values]) for j in range(d)]
        return self.wo(heads)


class MLPBlock(Module):
    """fc2(relu(fc1 x)), through a hidden layer 4 times wider, without biases."""

    def __init__(self, n_embd: int, std: float = WEIGHT_STD, seed: Seed = None) -> None:
        rng = generator("MLPBlock", seed)
        self.fc1 = Linear(n_embd, 4 * n_embd, std, rng)
        self.fc2 = Linear(4 * n_embd, n_embd, std, rng)

    def forward(self, x: Sequence[Value]) -> list[Value]:
        return self.fc2([h.relu() for h in self.fc1(x)])


class Block(Module):
    """One transformer layer: x + attention(rmsnorm(x)), then x + mlp(rmsnorm(x)) (pre-norm residuals)."""

    def __init__(self, n_embd: int, n_head: int, std: float = WEIGHT_STD, seed: Seed = None) -> None:
        rng = generator("Block", seed)
        self.attn = CausalSelfAttention(n_embd, n_head, std, rng)
        self.mlp = MLPBlock(n_embd, std, rng)

    def forward(self, x: Sequence[Value], cache: LayerCache) -> list[Value]:
        x = [a + r for a, r in zip(self.attn(rmsnorm(x), cache), x)]
        return [m + r for m, r in zip(self.mlp(rmsnorm(x)), x)]
