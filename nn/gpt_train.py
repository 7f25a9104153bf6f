"""Training a GPT on one sequence per step: eagerly, or through `autodiff.compile` once per padded length.

    optimizer = microgpt_adam(model.parameters(), num_steps=1000)
    loss = train_step(model, optimizer, tokens)            # eager: build the graph, backward, update

    steps = CompiledSteps(model)
    loss = steps.train_step(optimizer, tokens)             # the same step, as straight-line code

A compiled program fixes everything it traced, so `CompiledSteps` keeps one per
number of positions (1 to block_size) and feeds it the sequence as numbers: the
token embeddings (the rows of `wte` the tokens pick) and the targets as one-hot
vectors. No token id is baked into a trace; the gradients of the embedding inputs
are added back to the rows they came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import autodiff
from autodiff import Value

from .gpt import GPT
from .optim import Adam

__all__ = ["microgpt_adam", "train_step", "CompiledSteps"]


def microgpt_adam(params: Iterable[Value], num_steps: int, lr: float = 0.01) -> Adam:
    """Adam as microgpt sets it: betas (0.85, 0.99), eps 1e-8, lr decaying linearly to 0 over num_steps."""
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"microgpt_adam: num_steps must be a positive int, got {num_steps!r}")
    return Adam(params, lr=lr, betas=(0.85, 0.99), eps=1e-8, schedule=lambda t: lr * max(0.0, 1.0 - t / num_steps))


def train_step(model: GPT, optimizer: Adam, tokens: Sequence[int]) -> float:
    """One eager step on one sequence: its loss, backward, the optimizer's update. Returns the loss."""
    loss = model.loss(tokens)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.data


class CompiledSteps:
    """`model.loss` compiled once per padded length and reused, with the tokens as numeric inputs.

    A sequence of n positions runs in the program for L positions, L the smallest power of two
    >= n (at most block_size): 1, 2, 4, 8, 16. Attention is causal, so positions past n change
    nothing before them, and their losses are multiplied by a mask of 0.0, so they add exactly
    zero to the loss and to every gradient: the results are the eager step's, up to the order
    of the additions (1e-16). Compiling is most of a program's cost (about 0.1 s per position),
    so five programs serve every length up to 16; the names of microgpt's first 1,000 steps
    need three (4, 8 and 16 positions) where one per length took twelve.

    Args:
        model: the GPT to train; its parameters are read at every call, so the compiled
            programs follow it through training.
    """

    def __init__(self, model: GPT) -> None:
        self.model = model
        # wte enters as inputs (the rows the tokens pick); every other parameter is captured by the trace.
        self.all_params = model.parameters()
        self.params = self.all_params[model.vocab_size * model.n_embd :]
        self.compiled: dict[int, autodiff.compiler.CompiledFunction] = {}  # by padded number of positions

    def padded(self, n: int) -> int:
        """The number of positions of the program that runs a sequence of n positions."""
        return min(1 << (n - 1).bit_length(), self.model.block_size)

    def value_and_grad(self, tokens: Sequence[int]) -> tuple[float, list[float]]:
        """The loss of `tokens` (as `model.loss`) and its gradient, one float per `model.parameters()`."""
        model = self.model
        model.check_sequence(tokens, len(tokens) - 1)
        n = len(tokens) - 1
        if n < 1:
            raise ValueError(f"CompiledSteps: needs at least 2 tokens (an input and its next), got {list(tokens)!r}")
        width, vocab, length = model.n_embd, model.vocab_size, self.padded(n)
        inputs = [w.data for token in tokens[:-1] for w in model.wte(token)]
        inputs += [0.0] * (width * (length - n))  # the padding's embeddings: any numbers would do
        for target in tokens[1:]:
            one_hot = [0.0] * vocab
            one_hot[target] = 1.0
            inputs += one_hot
        inputs += [0.0] * (vocab * (length - n))
        inputs += [1.0] * n + [0.0] * (length - n) + [float(n)]  # the mask, and the number of positions
        f = self.compiled.get(length)
        if f is None:
            f = self.compiled[length] = autodiff.compile(self._loss_of(length), inputs, params=self.params)
        loss, input_grads, param_grads = f.value_and_grad(inputs)
        embedding_grads = [0.0] * (vocab * width)  # the rows of wte, flat; a token seen twice gets both positions'
        for i, token in enumerate(tokens[:-1]):
            for j in range(width):
                embedding_grads[token * width + j] += input_grads[i * width + j]
        return loss, embedding_grads + list(param_grads)

    def train_step(self, optimizer: Adam, tokens: Sequence[int]) -> float:
        """One compiled step: the loss and gradients of `tokens`, then the optimizer's update. Returns the loss."""
        loss, grads = self.value_and_grad(tokens)
        for p, g in zip(self.all_params, grads):
            p.grad = g
        optimizer.step()
        return loss

    def _loss_of(self, length: int):
        """The mean loss over the unmasked positions of `length`, as a function of the inputs that
        value_and_grad lays out: the token embeddings, the one-hot targets, the mask and its count."""
        model = self.model
        width, vocab = model.n_embd, model.vocab_size

        def loss(*inputs: Value) -> Value:
            cache = model.new_cache()
            targets, mask = length * width, length * (width + vocab)
            losses = []
            for i in range(length):
                logits = model.step_embedding(inputs[i * width : (i + 1) * width], cache)
                one_hot = inputs[targets + i * vocab : targets + (i + 1) * vocab]
                # token_loss, by a one-hot; times 1.0, or 0.0 past the sequence's end
                losses.append((autodiff.logsumexp(logits) - autodiff.dot(one_hot, logits)) * inputs[mask + i])
            return autodiff.sum(losses) / inputs[mask + length]

        loss.__name__ = f"gpt_loss_{length}_positions"
        return loss
