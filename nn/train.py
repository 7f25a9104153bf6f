"""Minibatch training: `fit`, one step at a time, with `evaluate` and `accuracy`.

`fit` checks its arguments, chooses a step backend once (`nn.backends`: eager, compiled
or Dask), then loops over epochs and batches. A batch's loss is the mean of its
examples' losses, so each step follows the mean of the per-example gradients (as the
Q&A on batch gradients explains). `train_step` and `StepResult` live in `nn.steps`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import autodiff
from autodiff import Value
from autodiff.errors import check_switch

from . import losses
from ._random import Seed, generator
from .backends import Backend, CompiledSteps, EagerSteps, Task, evaluate_lists
from .checks import check_data, check_each_target, is_dask
from .data import _check_count
from .module import Module
from .optim import Optimizer
from .steps import NonFiniteLossError, StepResult, guarded_step, output_data, train_step

__all__ = ["fit", "train_step", "evaluate", "accuracy", "History", "NonFiniteLossError", "StepResult", "LOSSES"]

Loss = Callable[[Any, Any], Value]
Classify = Callable[[Any], Any]
Callback = Callable[[int, dict], Any]

LOSSES: dict[str, Loss] = {
    "mse": losses.mse,
    "binary_cross_entropy": losses.binary_cross_entropy,
    "hinge": losses.hinge,
    "cross_entropy": losses.cross_entropy,
}
"""The losses `fit` knows by name."""


def _argmax(xs: Sequence[float]) -> int:
    return max(range(len(xs)), key=xs.__getitem__)  # the first of tied maxima, as numpy.argmax


# The class a prediction (output data, as floats) stands for, under each classification loss.
_CLASSIFY: dict[Loss, Classify] = {
    losses.binary_cross_entropy: lambda logit: 1 if logit > 0 else 0,  # sigmoid(logit) > 1/2
    losses.hinge: lambda score: 1 if score > 0 else -1,
    losses.cross_entropy: _argmax,
}
# The same rules on a numpy array of outputs (rows x outputs), for data in Dask arrays.
_CLASSIFY_ROWS: dict[Loss, Callable[[Any], Any]] = {
    losses.binary_cross_entropy: lambda out: (out[:, 0] > 0).astype(int),
    losses.hinge: lambda out: (out[:, 0] > 0).astype(int) * 2 - 1,
    losses.cross_entropy: lambda out: out.argmax(axis=1),
}


@dataclass
class History:
    """What `fit` measured, one entry per epoch.

    `accuracy` is empty when the loss has no decision rule (mse) and no `classify`
    was given; the `val_` lists are empty without validation data.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def __repr__(self) -> str:
        if not self.loss:
            return "History(0 epochs)"
        epochs = f"{self.epochs} epoch" if self.epochs == 1 else f"{self.epochs} epochs"
        parts = [epochs, f"loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}"]
        if self.accuracy:
            parts.append(f"accuracy {self.accuracy[0]:.3f} -> {self.accuracy[-1]:.3f}")
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4g}")
        if self.val_accuracy:
            parts.append(f"val_accuracy {self.val_accuracy[-1]:.3f}")
        return f"History({', '.join(parts)})"


def fit(
    model: Module,
    X: Sequence[Any],
    y: Sequence[Any],
    *,
    loss: str | Loss,
    optimizer: Optimizer,
    epochs: int = 10,
    batch_size: int | None = 32,
    shuffle: bool = True,
    seed: Seed = None,
    validation_data: tuple[Sequence[Any], Sequence[Any]] | None = None,
    classify: Classify | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    compiled: bool = False,
) -> History:
    """Train `model` on (X, y) by minibatch steps; return the loss and accuracy of each epoch.

    Args:
        model: a Module (e.g. an MLP) mapping one example to its prediction.
        X: the training examples: a list, or a Dask array (examples x features, chunked
            along rows) with `compiled=True`.
        y: their targets: a list, or a Dask array with `compiled=True`.
        loss: a loss of `nn.losses` or its name ("mse", "binary_cross_entropy",
            "hinge", "cross_entropy"), or any function (prediction, target) -> Value
            for one example. A batch's loss is the mean over its examples.
        optimizer: e.g. `nn.optim.Adam(model.parameters(), lr=0.01)`.
        epochs: passes over the data.
        batch_size: examples per step (the last batch of an epoch may be smaller);
            None for the whole dataset in one step (full-batch gradient descent).
        shuffle: a new random order of the examples each epoch.
        seed: an int, a `random.Random`, or None: the shuffling order.
        validation_data: (X_val, y_val), evaluated after every epoch.
        classify: maps a prediction (floats) to a label, for accuracy; by default the
            decision rule of the loss (logit > 0, score > 0, argmax); mse has none.
        callbacks: functions called as callback(epoch, logs) after each epoch (epoch
            counts from 0; logs holds "loss", "accuracy", "val_loss", "val_accuracy"
            as measured). A callback returns None or False to go on, True to
            stop training (numpy's bools count as True and False); anything
            else is a TypeError naming the callback and what it returned.
        progress: show a progress bar (only when stderr is a terminal).
        compiled: trace the per-example loss once with `autodiff.compile` and run each
            minibatch as one numpy call (needs numpy); the same steps as eager
            training, to rounding, many times faster on big batches. The loss must
            not branch on the target's or the prediction's data. Needed for Dask
            arrays: each step is then a Dask computation over the batch's chunks.

    Returns:
        A History. The epoch's loss is the mean of the per-example losses seen
        during its steps, and its accuracy counts the predictions made in them.

    Raises:
        NonFiniteLossError: a loss, gradient or update was not finite; the message
            names the epoch and step, the parameters keep their values from before
            that step, and the error's `history` holds the epochs that finished.
            The first example's loss is computed before the first step (to check
            the targets, and to trace it when compiled), so an overflow there is
            this error too, before anything changes.
        ValueError, TypeError: a target the loss refuses, in y or validation_data
            (every target is checked before the first step), named by its index.
    """
    run = _checked(
        model, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
        seed=seed, validation_data=validation_data, classify=classify, callbacks=callbacks, progress=progress,
        compiled=compiled,
    )  # fmt: skip
    history = History()
    try:  # before the first step, so that nothing changes if a target is bad or the loss overflows
        backend = run.backend_type(run.task)
    except NonFiniteLossError as error:
        error.history = history
        raise
    return _train(run, backend, history)


@dataclass(frozen=True)
class _Run:
    """A call of `fit`, its arguments checked and its step backend chosen."""

    task: Task
    backend_type: Callable[[Task], Backend]
    loss_name: str
    epochs: int
    batch_size: int | None
    shuffle: bool
    rng: random.Random
    callbacks: Sequence[Callback]
    progress: bool


def _checked(model: Module, X: Any, y: Any, *, loss: str | Loss, optimizer: Optimizer, epochs: int,
             batch_size: int | None, shuffle: bool, seed: Seed, validation_data: Any, classify: Classify | None,
             callbacks: Sequence[Callback], progress: bool, compiled: bool) -> _Run:  # fmt: skip
    """`fit`'s arguments checked, in this order (the first wrong one is the error), and its backend chosen."""
    for name, flag in [("shuffle", shuffle), ("progress", progress), ("compiled", compiled)]:
        check_switch("fit", name, flag)
    loss_fn, loss_name = _loss_function(loss)
    classify_rows = _CLASSIFY_ROWS.get(loss_fn) if classify is None else None
    classify = _classifier(loss_fn, classify)
    backend_type = _backend_type(X, y, compiled)
    X, y = backend_type.checked_data("fit", model, X, y)
    _check_optimizer(model, optimizer)
    _check_count("fit", "epochs", epochs, 0)
    if batch_size is not None:
        _check_count("fit", "batch_size", batch_size, 1)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("fit: validation_data must be a pair (X_val, y_val)")
        validation_data = backend_type.checked_validation(model, *validation_data)
    _check_callbacks(callbacks)
    task = Task(model, loss_fn, optimizer, classify, classify_rows, X, y, validation_data)
    return _Run(task, backend_type, loss_name, epochs, batch_size, shuffle, generator("fit", seed), callbacks, progress)


def _backend_type(X: Any, y: Any, compiled: bool) -> Any:
    """The step backend for this data: Dask arrays need `compiled=True`."""
    if is_dask(X, y):
        from .dask_train import DaskSteps  # imported here: it needs numpy and dask

        if not compiled:
            raise ValueError("fit: X or y is a dask array; train on it with compiled=True")
        return DaskSteps
    return CompiledSteps if compiled else EagerSteps


def _check_optimizer(model: Module, optimizer: Optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be an nn.optim optimizer, got {type(optimizer).__name__}")
    model_params = model.parameters()
    if model_params and not set(model_params) & set(optimizer.params):  # Values hash by identity
        raise ValueError(
            f"fit: the optimizer updates none of the model's {len(model_params)} parameters (made for another model?)"
        )


def _check_callbacks(callbacks: Sequence[Callback]) -> None:
    if callable(callbacks) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"fit: callbacks must be a list of functions (epoch, logs), got {callbacks!r}")
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"fit: callbacks[{i}] must be a function (epoch, logs), got {callback!r}")


def _train(run: _Run, backend: Backend, history: History) -> History:
    """The epochs: the steps over each epoch's batches, then validation and the callbacks."""
    from tqdm import tqdm  # imported here: `import nn` stays light

    task, n = run.task, len(run.task.X)
    n_steps = 1 if run.batch_size is None else math.ceil(n / run.batch_size)
    hidden = None if run.progress else True  # None: shown only when stderr is a terminal
    bar = tqdm(range(run.epochs), desc=f"fit ({run.loss_name})", unit="epoch", disable=hidden)
    for epoch in bar:
        started = time.perf_counter()
        total_loss, correct = 0.0, 0
        for step, (Xb, yb) in enumerate(backend.batches(run.batch_size, run.shuffle, run.rng)):
            try:
                result = guarded_step(backend.step, Xb, yb, epoch, step, n_steps)
            except NonFiniteLossError as error:
                error.history = history  # the epochs that finished are not lost
                bar.close()
                raise
            total_loss += result.loss * len(Xb)
            if task.classify is not None:
                correct += backend.correct(result, yb)
        logs: dict[str, float] = {"loss": total_loss / n}
        if task.classify is not None:
            logs["accuracy"] = correct / n
        if task.validation_data is not None:
            val = backend.evaluate(*task.validation_data)
            logs.update({"val_" + key: value for key, value in val.items() if value is not None})
        history.seconds.append(time.perf_counter() - started)
        for key, value in logs.items():
            getattr(history, key).append(value)
        bar.set_postfix({key: f"{value:.4g}" for key, value in logs.items()}, refresh=False)
        if _callbacks_stop(run.callbacks, epoch, logs):
            history.stopped_early = True
            break
    bar.close()
    return history


def _callbacks_stop(callbacks: Sequence[Callback], epoch: int, logs: dict[str, float]) -> bool:
    """Call each callback with its own copy of the logs: whether one of them returned True (stop)."""
    stop = False
    for i, callback in enumerate(callbacks):
        answer = callback(epoch, dict(logs))
        if answer is not None and not _is_bool(answer):
            name = getattr(callback, "__name__", type(callback).__name__)
            raise TypeError(
                f"fit: callbacks[{i}] ({name}) returned {answer!r} at epoch={epoch}; "
                "a callback returns None or False to go on, True to stop"
            )
        stop = stop or bool(answer)
    return stop


def _is_bool(answer: Any) -> bool:
    """True or False, or numpy's (told without importing numpy); not 1, not "stop"."""
    kind = type(answer)
    return kind is bool or kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")


def evaluate(
    model: Module, X: Sequence[Any], y: Sequence[Any], loss: str | Loss, classify: Classify | None = None
) -> dict[str, float | None]:
    """The mean loss and the accuracy of `model` on (X, y), without building a graph.

    Args:
        model: the model to evaluate.
        X: the examples: a list, or a Dask array (the loss is then compiled and run
            chunk by chunk, see `fit`).
        y: their targets: a list, or a Dask array.
        loss: as in `fit`.
        classify: as in `fit`; by default the decision rule of the loss.

    Returns:
        {"loss": mean per-example loss, "accuracy": fraction correct, or None
        when there is no decision rule}.
    """
    loss_fn, _ = _loss_function(loss)
    rows_rule = _CLASSIFY_ROWS.get(loss_fn) if classify is None else None
    classify = _classifier(loss_fn, classify)
    if is_dask(X, y):
        from . import dask_train
        from .compiled import CompiledLoss

        X, y = dask_train.aligned("evaluate", model, X, y)
        compiled_loss = CompiledLoss(model, loss_fn, *dask_train.first_example(X, y))
        compiled_loss.check_targets(dask_train.distinct_targets(y)[0])
        return dask_train.evaluate(compiled_loss, X, y, classify, rows_rule)
    check_data("evaluate", model, X, y)
    return evaluate_lists(model, X, y, loss_fn, classify)


def accuracy(
    model: Module, X: Sequence[Any], y: Sequence[Any], loss: str | Loss | None = None, classify: Classify | None = None
) -> float:
    """The fraction of examples whose predicted class equals the label.

    The prediction is read by `classify` (a function of the output's floats), or
    by the decision rule of `loss`: logit > 0 for "binary_cross_entropy" (0/1
    labels), score > 0 for "hinge" (-1/+1 labels), argmax for "cross_entropy".

    Args:
        model: the model to evaluate.
        X: the examples: a list, or a Dask array (the model is then compiled and run
            chunk by chunk).
        y: their labels: a list, or a Dask array.
        loss: a classification loss (or its name) whose decision rule to use.
        classify: a function output -> label, instead of `loss`.
    """
    rows_rule = loss_fn = None
    if classify is None:
        if loss is None:
            raise TypeError("accuracy: give the loss the model was trained with, or a classify function")
        loss_fn = _loss_function(loss)[0]
        classify = _classifier(loss_fn, None)
        if classify is None:
            raise ValueError(f"accuracy: the loss {loss!r} has no decision rule; pass classify=")
        rows_rule = _CLASSIFY_ROWS.get(loss_fn)
    if is_dask(X, y):
        from . import dask_train

        X, y = dask_train.aligned("accuracy", model, X, y)
        return dask_train.accuracy(model, X, y, classify, rows_rule)
    check_data("accuracy", model, X, y)
    if loss_fn is not None:  # a label the rule can never give (0 under hinge's -1/+1) would count as wrong, silently
        with autodiff.no_grad():
            check_each_target("accuracy: y", loss_fn, model(X[0]), y)
    with autodiff.no_grad():
        correct = sum(classify(output_data(model(x))) == t for x, t in zip(X, y))
    return correct / len(X)


def _loss_function(loss: str | Loss) -> tuple[Loss, str]:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; the names are {', '.join(map(repr, LOSSES))}")
        return LOSSES[loss], loss
    if not callable(loss):
        raise TypeError(f"loss must be a loss name or a function (prediction, target) -> Value, got {loss!r}")
    return loss, getattr(loss, "__name__", "loss")


def _classifier(loss: Loss, classify: Classify | None) -> Classify | None:
    if classify is not None:
        if not callable(classify):
            raise TypeError(f"classify must be a function of a prediction, got {classify!r}")
        return classify
    return _CLASSIFY.get(loss)
