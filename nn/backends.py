"""The step backends of `fit`: how one minibatch step runs, chosen once per call.

- `EagerSteps`: each example through the engine (`train_step`), on lists.
- `CompiledSteps`: the per-example loss traced once by `autodiff.compile`, each batch one numpy call.
- `DaskSteps` (in `nn.dask_train`): each batch one Dask computation over its chunks.

A backend checks its data (`checked_data`, `checked_validation`, before it exists), prepares itself
for a `Task` before the first step (every target checked, the loss traced), then gives each epoch's
batches, runs a step, counts a step's correct predictions and evaluates validation data.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import autodiff
from autodiff import Value
from autodiff.errors import add_context

from .checks import check_data, check_targets, is_dask
from .data import batches
from .losses import _mean
from .module import Module
from .optim import Optimizer
from .steps import StepResult, output_data, train_step

__all__ = ["Task", "Backend", "EagerSteps", "CompiledSteps", "evaluate_lists"]

Loss = Callable[[Any, Any], Value]
Classify = Callable[[Any], Any]


@dataclass(frozen=True)
class Task:
    """What `fit` trains, its arguments checked: `classify_rows` is the loss's decision rule on rows of
    outputs (numpy), used on Dask arrays when no `classify` was given."""

    model: Module
    loss: Loss
    optimizer: Optimizer
    classify: Classify | None
    classify_rows: Callable[[Any], Any] | None
    X: Any
    y: Any
    validation_data: tuple[Any, Any] | None


class Backend(Protocol):
    """How `fit` runs its steps; made from a Task before the first step."""

    def batches(self, batch_size: int | None, shuffle: bool, rng: random.Random) -> Iterable[tuple[Any, Any]]:
        """One epoch's minibatches (X_batch, y_batch); batch_size None for the whole dataset."""

    def step(self, X: Any, y: Any) -> StepResult:
        """One minibatch step: the batch's mean loss, then the optimizer's update."""

    def correct(self, result: StepResult, y: Any) -> int:
        """How many of a step's predictions equal their labels (when the task classifies)."""

    def evaluate(self, X: Any, y: Any) -> dict[str, float | None]:
        """{"loss": the mean loss, "accuracy": the fraction correct, or None} on (X, y)."""


class EagerSteps:
    """Each example through the engine: one graph per example, `train_step` per batch."""

    @staticmethod
    def checked_data(who: str, model: Module, X: Sequence[Any], y: Sequence[Any]) -> tuple[Any, Any]:
        check_data(who, model, X, y)
        return X, y

    @staticmethod
    def checked_validation(model: Module, X: Sequence[Any], y: Sequence[Any]) -> tuple[Any, Any]:
        if is_dask(X, y):
            raise ValueError("fit: validation_data holds dask arrays but X and y do not; give dask arrays for both")
        check_data("fit: validation_data", model, X, y)
        return X, y

    def __init__(self, task: Task) -> None:
        self.task = task
        check_targets(task.model, task.loss, task.X, task.y, task.validation_data)

    def batches(self, batch_size: int | None, shuffle: bool, rng: random.Random) -> Iterable[tuple[Any, Any]]:
        X, y = self.task.X, self.task.y  # the whole dataset in its order when batch_size is None
        return batches(X, y, batch_size or len(X), shuffle and batch_size is not None, rng)

    def step(self, X: Any, y: Any) -> StepResult:
        return train_step(self.task.model, self.task.loss, self.task.optimizer, X, y)

    def correct(self, result: StepResult, y: Any) -> int:
        classify = self.task.classify
        return sum(classify(out) == t for out, t in zip(result.outputs, y))

    def evaluate(self, X: Any, y: Any) -> dict[str, float | None]:
        return evaluate_lists(self.task.model, X, y, self.task.loss, self.task.classify)


class CompiledSteps(EagerSteps):
    """The per-example loss traced once (`nn.compiled`), each minibatch one numpy call."""

    def __init__(self, task: Task) -> None:
        super().__init__(task)
        from .compiled import compile_for_fit  # imported here: it needs numpy

        self.compiled_loss = compile_for_fit(task.model, task.loss, task.X, task.y, task.validation_data)

    def step(self, X: Any, y: Any) -> StepResult:
        return StepResult(*self.compiled_loss.step(self.task.optimizer, X, y))

    def evaluate(self, X: Any, y: Any) -> dict[str, float | None]:
        values, outputs, _ = self.compiled_loss.run(X, y)
        classify = self.task.classify
        correct = None if classify is None else sum(classify(o) == t for o, t in zip(outputs, y)) / len(y)
        return {"loss": float(values.mean()), "accuracy": correct}


def evaluate_lists(
    model: Module, X: Sequence[Any], y: Sequence[Any], loss: Loss, classify: Classify | None
) -> dict[str, float | None]:
    """The mean loss and the accuracy (None without `classify`) of `model` on checked lists, without a graph."""
    with autodiff.no_grad():
        outputs = [model(x) for x in X]
        per_example = []
        for i, (out, t) in enumerate(zip(outputs, y)):
            try:
                per_example.append(loss(out, t))
            except (TypeError, ValueError) as error:  # a target the loss refuses, named by its index
                add_context(error, f"evaluate: y[{i}]")
                raise
        mean_loss = _mean(per_example).data
    if classify is None:
        return {"loss": mean_loss, "accuracy": None}
    correct = sum(classify(output_data(out)) == t for out, t in zip(outputs, y))
    return {"loss": mean_loss, "accuracy": correct / len(X)}
