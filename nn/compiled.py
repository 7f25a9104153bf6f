"""Compiled training: a model's per-example loss traced once by `autodiff.compile`,
then run on each minibatch as one numpy call (`fit(..., compiled=True)`).

A row of the compiled function is one example's features followed by its target:
a number, a list of numbers (multi-output mse), or, for cross_entropy, the class
index as a one-hot vector, since a traced program cannot index a list by a number
it reads from its input. The loss is then logsumexp(z - one_hot . z), the same
numbers as cross_entropy's logsumexp(z - z[k]). The model's outputs ride along
(`has_aux`) for the accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import autodiff
from autodiff import Value
from autodiff.compiler import TracingError
from autodiff.compiler.compiled import require_numpy

from . import losses
from .module import Module
from .optim import Optimizer
from .steps import non_finite

__all__ = ["CompiledLoss", "compile_for_fit"]


class CompiledLoss:
    """A model and a per-example loss, compiled for minibatch steps and evaluation."""

    def __init__(self, model: Module, loss: Any, example_x: Sequence[Any], example_target: Any) -> None:
        require_numpy("fit(compiled=True) and compiled evaluation")
        self.model = model
        self.loss = loss
        self.params = model.parameters()
        self.nin = len(example_x)
        name = getattr(loss, "__name__", "loss")
        with autodiff.no_grad():
            example_out = model(list(example_x))
        self.n_outputs = len(example_out) if isinstance(example_out, list) else 1
        self.single_output = not isinstance(example_out, list)
        if loss is losses.cross_entropy:
            self.target_kind, self.target_width = "class", self.n_outputs
        elif isinstance(example_target, (list, tuple)):
            self.target_kind, self.target_width = "vector", len(example_target)
        else:
            self.target_kind, self.target_width = "number", 1
        self.check_targets([example_target])  # the loss's own error for a bad target, before encoding it
        example_row = [float(x) for x in example_x] + self._encode(example_target)

        def example_loss(*row: Value) -> tuple[Value, list[Value]]:
            return self._example_loss(*row)

        # compiled errors name it: "compiled 'mse' loss of MLP, example 3: ..."
        example_loss.__name__ = f"{name!r} loss of {type(model).__name__}"
        try:
            self.compiled = autodiff.compile(example_loss, example_row, params=self.params, has_aux=True)
        except (TracingError, TypeError, ValueError) as error:
            raise ValueError(
                f"fit(compiled=True): the loss {name!r} cannot be traced with Value targets ({error}); "
                "train with compiled=False"
            ) from error

    def _example_loss(self, *row: Value) -> tuple[Value, list[Value]]:
        x, target = list(row[: self.nin]), list(row[self.nin :])
        out = self.model(x)
        outs = [out] if self.single_output else out
        if self.target_kind == "class":
            target_logit = autodiff.dot(target, outs)
            loss = autodiff.logsumexp([z - target_logit for z in outs])
        elif self.target_kind == "vector":
            loss = self.loss(out, target)
        else:
            loss = self.loss(out, target[0])
        return loss, outs

    def _encode(self, target: Any) -> list[float]:
        if self.target_kind == "class":
            one_hot = [0.0] * self.target_width
            one_hot[target] = 1.0
            return one_hot
        if self.target_kind == "vector":
            return [float(t) for t in target]
        return [float(target)]

    def check_targets(self, y: Sequence[Any]) -> None:
        """Run the loss's own checks on every distinct target (the traced loss sees Values)."""
        dummy = Value(0.0) if self.single_output else [Value(0.0)] * self.n_outputs
        seen = set()
        with autodiff.no_grad():
            for t in y:
                key = tuple(t) if isinstance(t, (list, tuple)) else t
                if key not in seen:
                    seen.add(key)
                    self.loss(dummy, t)
                    if self.target_kind == "vector" and len(t) != self.target_width:
                        raise ValueError(f"fit: target {t!r} has {len(t)} entries; the first had {self.target_width}")

    def rows(self, X: Sequence[Any], y: Sequence[Any]) -> Any:
        """The compiled function's batch: each example's features (as float() reads them), then its
        encoded target, as one float array made by numpy rather than number by number."""
        import numpy as np

        features = np.asarray(X, dtype=float).reshape(len(X), self.nin)
        if self.target_kind == "class":  # check_targets has refused anything but a class index
            targets = np.eye(self.target_width)[np.asarray(y, dtype=np.intp)]
        else:
            targets = np.asarray(y, dtype=float).reshape(len(y), self.target_width)
        return np.concatenate([features, targets], axis=1)

    def run(self, X: Sequence[Any], y: Sequence[Any]) -> tuple[Any, list[Any], Any]:
        """Per-example losses, the model's outputs (floats) and the summed parameter gradients."""
        (values, outputs), _, grads = self.compiled.batch_value_and_grad(self.rows(X, y))
        shown = outputs[:, 0].tolist() if self.single_output else outputs.tolist()
        return values, shown, grads

    def step(self, optimizer: Optimizer, X: Sequence[Any], y: Sequence[Any]) -> tuple[float, list[Any]]:
        """One minibatch step on the batch's mean loss: the mean of the per-example gradients."""
        values, outputs, grads = self.run(X, y)
        optimizer.zero_grad()
        for p, g in zip(self.params, (grads / len(X)).tolist()):
            p.grad += g
        optimizer.step()
        return float(values.mean()), outputs


def compile_for_fit(
    model: Module, loss: Any, X: Sequence[Any], y: Sequence[Any], validation_data: tuple[Sequence, Sequence] | None
) -> CompiledLoss:
    """The loss compiled for `fit(compiled=True)`, traced at the first example, every target checked."""
    try:
        compiled_loss = CompiledLoss(model, loss, X[0], y[0])
        compiled_loss.check_targets(y)
        if validation_data is not None:
            compiled_loss.check_targets(validation_data[1])
    except ArithmeticError as error:  # the eager steps would meet it too: the same error as theirs
        where = "X[0], while fit(compiled=True) traces the loss, before the first step"
        raise non_finite(where, error, "the first step") from error
    return compiled_loss
