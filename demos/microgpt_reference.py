"""microgpt's per-scalar program and an engine in its style, the reference that the nn GPT is measured against.

In February 2026 Karpathy published microgpt, a GPT trained and sampled in about 200
lines of plain Python (gist 8627fe009c40f57531cb18360106ce95). Every number of the
model is one scalar node, and every step of the model is one of `+ * ** log exp relu`
on those nodes. This module rewrites that program so that it runs on any Value class:

- `LocalGradValue`: an engine in microgpt's style, written for the benchmark. Each op
  stores the local derivatives of its output with respect to its inputs when it runs
  (forward time); `backward()` sorts the graph with a recursive depth-first walk and
  multiplies each local derivative by the gradient arriving from the loss.
- `ScalarGPT`: the gist's model, loss and Adam step, op for op: the same sequence of
  scalar operations, with the same constants, in the same order. Built on
  `LocalGradValue` it is microgpt; built on `autodiff.Value` it is what a user gets
  by swapping our Value into the gist.

Its random numbers come from one `random.Random` in the gist's order (shuffle the
names, then draw the weights row by row), so `random.Random(42)` reproduces the
gist's run, which seeds the global generator with 42.
"""

from __future__ import annotations

import math
import random

__all__ = ["LocalGradValue", "ScalarGPT", "WEIGHT_STD", "BETAS", "EPS_ADAM", "LEARNING_RATE"]

WEIGHT_STD = 0.08  # the gist's initial weights: N(0, 0.08^2)
BETAS = (0.85, 0.99)
EPS_ADAM = 1e-8
LEARNING_RATE = 0.01  # decays linearly to 0 over the run


class LocalGradValue:
    """A scalar node that stores the local derivatives of its op at forward time (microgpt's autograd)."""

    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, LocalGradValue) else LocalGradValue(other)
        return LocalGradValue(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, LocalGradValue) else LocalGradValue(other)
        return LocalGradValue(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, exponent):  # a plain-number exponent
        return LocalGradValue(self.data**exponent, (self,), (exponent * self.data ** (exponent - 1),))

    def log(self):
        return LocalGradValue(math.log(self.data), (self,), (1 / self.data,))

    def exp(self):
        return LocalGradValue(math.exp(self.data), (self,), (math.exp(self.data),))

    def relu(self):
        return LocalGradValue(max(0, self.data), (self,), (float(self.data > 0),))

    # The rest are rewrites into the ops above, as in microgpt.
    def __neg__(self):  # -a = a * -1
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):  # a - b = a + (-b)
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):  # a / b = a * b**-1
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def backward(self):
        """Every node's grad = d(self)/d(node): a recursive topological sort, then the chain rule from self back."""
        order, visited = [], set()

        def visit(node):
            if node not in visited:
                visited.add(node)
                for child in node._children:
                    visit(child)
                order.append(node)

        visit(self)
        self.grad = 1
        for node in reversed(order):
            for child, local_grad in zip(node._children, node._local_grads):
                child.grad += local_grad * node.grad


class ScalarGPT:
    """microgpt's model, loss and Adam step on `value_type`, the gist's exact sequence of scalar ops.

    Args:
        value_type: the Value class to compute with (`LocalGradValue`, `autodiff.Value`).
        vocab_size, n_embd, n_head, n_layer, block_size: the gist's configuration.
        rng: draws the initial weights, N(0, 0.08^2), in the gist's order.
        num_steps: the length of the run, over which the learning rate decays to 0.
    """

    def __init__(self, value_type, vocab_size, n_embd=16, n_head=4, n_layer=1, block_size=16,
                 rng: random.Random | None = None, num_steps=1000):  # fmt: skip
        rng = rng or random.Random(42)
        self.value_type, self.n_head, self.n_layer = value_type, n_head, n_layer
        self.head_dim = n_embd // n_head
        self.block_size, self.num_steps = block_size, num_steps

        def matrix(nout, nin):
            return [[value_type(rng.gauss(0, WEIGHT_STD)) for _ in range(nin)] for _ in range(nout)]

        self.state_dict = {"wte": matrix(vocab_size, n_embd), "wpe": matrix(block_size, n_embd),
                           "lm_head": matrix(vocab_size, n_embd)}  # fmt: skip
        square = (n_embd, n_embd)
        shapes = {"attn_wq": square, "attn_wk": square, "attn_wv": square, "attn_wo": square,
                  "mlp_fc1": (4 * n_embd, n_embd), "mlp_fc2": (n_embd, 4 * n_embd)}  # fmt: skip
        for i in range(n_layer):
            for name, (nout, nin) in shapes.items():
                self.state_dict[f"layer{i}.{name}"] = matrix(nout, nin)
        self.params = [p for mat in self.state_dict.values() for row in mat for p in row]
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        self.steps = 0

    # --- the model: one position at a time, keys and values cached --------------------------
    def gpt(self, token_id, pos_id, keys, values):
        """The logits of the token after `token_id` at position `pos_id`."""
        sd = self.state_dict
        x = [t + p for t, p in zip(sd["wte"][token_id], sd["wpe"][pos_id])]
        x = rmsnorm(x)
        for li in range(self.n_layer):
            x_residual = x
            x = rmsnorm(x)
            q, k, v = (linear(x, sd[f"layer{li}.attn_{w}"]) for w in ("wq", "wk", "wv"))
            keys[li].append(k)
            values[li].append(v)
            x_attn = []
            for h in range(self.n_head):
                hs = h * self.head_dim
                q_h = q[hs : hs + self.head_dim]
                k_h = [ki[hs : hs + self.head_dim] for ki in keys[li]]
                v_h = [vi[hs : hs + self.head_dim] for vi in values[li]]
                attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(self.head_dim)) / self.head_dim**0.5
                               for t in range(len(k_h))]  # fmt: skip
                attn_weights = softmax(attn_logits)
                x_attn.extend(sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h))) for j in range(self.head_dim))
            x = [a + b for a, b in zip(linear(x_attn, sd[f"layer{li}.attn_wo"]), x_residual)]
            x_residual = x
            x = [xi.relu() for xi in linear(rmsnorm(x), sd[f"layer{li}.mlp_fc1"])]
            x = [a + b for a, b in zip(linear(x, sd[f"layer{li}.mlp_fc2"]), x_residual)]
        return linear(x, sd["lm_head"])

    def loss(self, tokens):
        """The mean of -log p(next token) over the first min(block_size, len(tokens) - 1) positions."""
        n = min(self.block_size, len(tokens) - 1)
        keys, values = [[] for _ in range(self.n_layer)], [[] for _ in range(self.n_layer)]
        losses = []
        for pos_id in range(n):
            probs = softmax(self.gpt(tokens[pos_id], pos_id, keys, values))
            losses.append(-probs[tokens[pos_id + 1]].log())
        return (1 / n) * sum(losses)

    def train_step(self, tokens) -> float:
        """Forward, backward and the gist's Adam update; the loss."""
        loss = self.loss(tokens)
        loss.backward()
        self.update()
        return loss.data

    def update(self) -> None:
        """The gist's Adam step, lr decaying linearly to 0 over num_steps; every gradient back to 0."""
        (beta1, beta2), step = BETAS, self.steps
        lr_t = LEARNING_RATE * (1 - step / self.num_steps)
        for i, p in enumerate(self.params):
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * p.grad
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * p.grad**2
            m_hat = self.m[i] / (1 - beta1 ** (step + 1))
            v_hat = self.v[i] / (1 - beta2 ** (step + 1))
            p.data -= lr_t * m_hat / (v_hat**0.5 + EPS_ADAM)
            p.grad = 0
        self.steps += 1


def linear(x, w):
    return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]


def softmax(logits):
    max_val = max(val.data for val in logits)
    exps = [(val - max_val).exp() for val in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x):
    ms = sum(xi * xi for xi in x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]
