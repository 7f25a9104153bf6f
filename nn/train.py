"""Minibatch training: `fit`, one step at a time, with `evaluate` and `accuracy`.

A batch's loss is the mean of its examples' losses, so each step follows the mean of
the per-example gradients (as the Q&A on batch gradients explains). One step is one
call of `train_step`, the seam where a compiled path can take over.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import autodiff
from autodiff import Value
from autodiff.errors import add_context, check_switch

from . import losses
from ._random import Seed, generator
from .data import _check_count, _check_same_length, batches
from .losses import _is_finite, _mean
from .module import Module
from .optim import Optimizer

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


class NonFiniteLossError(ArithmeticError):
    """Training met a loss, gradient or update that is not a finite number.

    Raised by `fit`, with `history` holding the epochs that finished.
    """

    history: History | None = None


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
        parts = [f"{self.epochs} epochs", f"loss {self.loss[0]:.4g} -> {self.loss[-1]:.4g}"]
        if self.accuracy:
            parts.append(f"accuracy {self.accuracy[0]:.3f} -> {self.accuracy[-1]:.3f}")
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4g}")
        if self.val_accuracy:
            parts.append(f"val_accuracy {self.val_accuracy[-1]:.3f}")
        return f"History({', '.join(parts)})"


@dataclass(frozen=True)
class StepResult:
    """One training step: the batch's mean loss and the model's outputs (as floats) before the update;
    for a batch in Dask arrays, no outputs but the number of correct predictions."""

    loss: float
    outputs: list[Any]
    correct: int | None = None


def train_step(model: Module, loss: Loss, optimizer: Optimizer, X: Sequence[Any], y: Sequence[Any]) -> StepResult:
    """One minibatch step: zero the gradients, mean loss of the batch, backward, optimizer step.

    Args:
        model: called on each example of X.
        loss: a per-example loss, loss(prediction, target) -> Value.
        optimizer: updates the parameters from their gradients.
        X: the batch's examples.
        y: their targets.

    Returns:
        A StepResult with the batch's mean loss and the outputs the model gave.
    """
    _check_same_length("train_step", X, y, "targets")
    optimizer.zero_grad()
    outputs = [model(x) for x in X]
    batch_loss = _mean([loss(out, t) for out, t in zip(outputs, y)])
    batch_loss.backward()
    optimizer.step()
    return StepResult(batch_loss.data, [_data(out) for out in outputs])


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
            as measured). A callback that returns True stops training.
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
    for name, flag in [("shuffle", shuffle), ("progress", progress), ("compiled", compiled)]:
        check_switch("fit", name, flag)
    loss_fn, loss_name = _loss_function(loss)
    default_rule = classify is None
    classify = _classifier(loss_fn, classify)
    on_dask = _is_dask(X, y)
    if on_dask:
        from . import dask_train  # imported here: it needs numpy and dask

        if not compiled:
            raise ValueError("fit: X or y is a dask array; train on it with compiled=True")
        X, y = dask_train.aligned("fit", model, X, y)
    else:
        _check_data("fit", model, X, y)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be an nn.optim optimizer, got {type(optimizer).__name__}")
    model_params = model.parameters()
    if model_params and not set(model_params) & set(optimizer.params):  # Values hash by identity
        raise ValueError(
            f"fit: the optimizer updates none of the model's {len(model_params)} parameters (made for another model?)"
        )
    _check_count("fit", "epochs", epochs, 0)
    if batch_size is not None:
        _check_count("fit", "batch_size", batch_size, 1)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("fit: validation_data must be a pair (X_val, y_val)")
        if on_dask:  # lists too become dask arrays
            validation_data = dask_train.aligned("fit: validation_data", model, *validation_data)
        elif _is_dask(*validation_data):
            raise ValueError("fit: validation_data holds dask arrays but X and y do not; give dask arrays for both")
        else:
            _check_data("fit: validation_data", model, *validation_data)
    if callable(callbacks) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"fit: callbacks must be a list of functions (epoch, logs), got {callbacks!r}")
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"fit: callbacks[{i}] must be a function (epoch, logs), got {callback!r}")
    rng = generator("fit", seed)
    n_steps = 1 if batch_size is None else math.ceil(len(X) / batch_size)
    history = History()
    try:  # before the first step, so that nothing changes if a target is bad or the loss overflows
        if on_dask:  # the same checks, on the first example and each distinct target (one pass over y)
            x0, t0 = dask_train.first_example(X, y)
            validation_y = None if validation_data is None else validation_data[1]
            targets = dask_train.check_targets(model, loss_fn, x0, y, validation_y)
            compiled_loss = _compile(
                model, loss_fn, [x0], [t0, *targets[0]], None if validation_y is None else ([x0], targets[1])
            )
        else:
            _check_targets(model, loss_fn, X, y, validation_data)
            compiled_loss = _compile(model, loss_fn, X, y, validation_data) if compiled and len(X) else None
    except NonFiniteLossError as error:
        error.history = history
        raise
    rows_rule = _CLASSIFY_ROWS.get(loss_fn) if default_rule else None
    if compiled_loss is not None:

        def step_fn(Xb: Any, yb: Any) -> StepResult:
            if on_dask:
                mean_loss, correct = dask_train.step(compiled_loss, optimizer, Xb, yb, classify, rows_rule)
                return StepResult(mean_loss, [], correct)
            return StepResult(*compiled_loss.step(optimizer, Xb, yb))

        def evaluate_fn(Xv: Any, yv: Any) -> dict[str, float | None]:
            if _is_dask(Xv):
                return dask_train.evaluate(compiled_loss, Xv, yv, classify, rows_rule)
            values, outputs, _ = compiled_loss.run(Xv, yv)
            correct = None if classify is None else sum(classify(o) == t for o, t in zip(outputs, yv)) / len(yv)
            return {"loss": float(values.mean()), "accuracy": correct}
    else:

        def step_fn(Xb: list, yb: list) -> StepResult:
            return train_step(model, loss_fn, optimizer, Xb, yb)

        def evaluate_fn(Xv: Sequence[Any], yv: Sequence[Any]) -> dict[str, float | None]:
            return evaluate(model, Xv, yv, loss=loss_fn, classify=classify)

    from tqdm import tqdm  # imported here: `import nn` stays light

    bar = tqdm(range(epochs), desc=f"fit ({loss_name})", unit="epoch", disable=True if not progress else None)
    for epoch in bar:
        started = time.perf_counter()
        total_loss, correct = 0.0, 0
        if on_dask:
            epoch_batches = dask_train.batches(X, y, batch_size, shuffle, rng)
        else:  # the whole dataset in its order when batch_size is None
            epoch_batches = batches(X, y, batch_size or len(X), shuffle and batch_size is not None, rng)
        for step, (Xb, yb) in enumerate(epoch_batches):
            try:
                result = _guarded_step(step_fn, Xb, yb, epoch, step, n_steps)
            except NonFiniteLossError as error:
                error.history = history  # the epochs that finished are not lost
                bar.close()
                raise
            total_loss += result.loss * len(Xb)
            if classify is not None and result.correct is not None:
                correct += result.correct
            elif classify is not None:
                correct += sum(classify(out) == t for out, t in zip(result.outputs, yb))
        logs: dict[str, float] = {"loss": total_loss / len(X)}
        if classify is not None:
            logs["accuracy"] = correct / len(X)
        if validation_data is not None:
            val = evaluate_fn(*validation_data)
            logs["val_loss"] = val["loss"]
            if val["accuracy"] is not None:
                logs["val_accuracy"] = val["accuracy"]
        history.seconds.append(time.perf_counter() - started)
        for key, value in logs.items():
            getattr(history, key).append(value)
        bar.set_postfix({key: f"{value:.4g}" for key, value in logs.items()}, refresh=False)
        if any([callback(epoch, dict(logs)) is True for callback in callbacks]):
            history.stopped_early = True
            break
    bar.close()
    return history


def _guarded_step(
    step_fn: Callable[[list, list], StepResult], Xb: list, yb: list, epoch: int, step: int, n_steps: int
) -> StepResult:
    where = f"epoch {epoch + 1}, step {step + 1} of {n_steps}"
    try:
        return step_fn(Xb, yb)
    except ArithmeticError as error:  # overflow in forward, backward or the update: nothing was updated
        raise _non_finite(where, error) from error
    except ValueError as error:
        raise ValueError(f"fit: at {where}: {error}") from error


def _non_finite(where: str, error: ArithmeticError, before: str = "this step") -> NonFiniteLossError:
    return NonFiniteLossError(
        f"fit: the loss is not finite at {where} ({type(error).__name__}: {error}); "
        f"the parameters keep their values from before {before}"
    )


def _check_targets(
    model: Module, loss: Loss, X: Sequence[Any], y: Sequence[Any], validation_data: tuple[Sequence, Sequence] | None
) -> None:
    """Run the loss on every distinct target (and validation target), with the model's prediction for X[0]: a
    target the loss refuses (a label 2 for binary cross-entropy, a class index out of range) is an error
    before the first step, naming where it is, and not at the step that meets it. A loss that overflows is an
    error here only for X[0] and its own target y[0]; for the other targets the steps will tell."""
    if not len(X):
        return
    first = "the first step"
    with autodiff.no_grad():
        try:
            prediction = model(X[0])
        except ArithmeticError as error:
            raise _non_finite("X[0], before the first step", error, first) from error
        except ValueError as error:  # a domain error of the model, as a step would report it
            add_context(error, "fit: X[0]")
            raise
        for name, targets in [("y", y), ("validation_data y", validation_data[1] if validation_data else [])]:
            try:
                _check_each_target(f"fit: {name}", loss, prediction, targets, overflow=name == "y")
            except ArithmeticError as error:
                raise _non_finite("X[0], before the first step", error, first) from error


def _check_each_target(who: str, loss: Loss, prediction: Any, targets: Sequence[Any], overflow: bool = False) -> None:
    """Run the loss on `prediction` with each distinct target: a target the loss refuses is an error naming its
    index (`who[i]: ...`). An overflow is raised for the first target when `overflow` is set, else ignored."""
    seen: set[Any] = set()
    for i, t in enumerate(targets):
        key = _key(t)
        if key is not None and key in seen:
            continue
        seen.add(key)
        try:
            loss(prediction, t)
        except ArithmeticError:  # the losses check a target before computing: t is valid
            if overflow and i == 0:
                raise
        except (TypeError, ValueError) as error:  # the loss's own message, and where the target is
            add_context(error, f"{who}[{i}]")
            raise


def _key(target: Any) -> Any:
    """A key for a target that tells apart what the loss may tell apart (1, 1.0 and True), or None."""
    if isinstance(target, (list, tuple)):
        keys = tuple(_key(t) for t in target)
        return None if None in keys else keys
    try:
        hash(target)
    except TypeError:
        return None
    return type(target), target


def _compile(
    model: Module, loss: Loss, X: Sequence[Any], y: Sequence[Any], validation_data: tuple[Sequence, Sequence] | None
) -> Any:
    """The loss compiled for `fit(compiled=True)`, traced at the first example."""
    from .compiled import CompiledLoss  # imported here: it needs numpy

    try:
        compiled_loss = CompiledLoss(model, loss, X[0], y[0])
        compiled_loss.check_targets(y)
        if validation_data is not None:
            compiled_loss.check_targets(validation_data[1])
    except ArithmeticError as error:  # the eager steps would meet it too: the same error as theirs
        where = "X[0], while fit(compiled=True) traces the loss, before the first step"
        raise _non_finite(where, error, "the first step") from error
    return compiled_loss


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
    if _is_dask(X, y):
        from . import dask_train
        from .compiled import CompiledLoss

        X, y = dask_train.aligned("evaluate", model, X, y)
        compiled_loss = CompiledLoss(model, loss_fn, *dask_train.first_example(X, y))
        compiled_loss.check_targets(dask_train.distinct_targets(y)[0])
        return dask_train.evaluate(compiled_loss, X, y, classify, rows_rule)
    _check_data("evaluate", model, X, y)
    with autodiff.no_grad():
        outputs = [model(x) for x in X]
        per_example = []
        for i, (out, t) in enumerate(zip(outputs, y)):
            try:
                per_example.append(loss_fn(out, t))
            except (TypeError, ValueError) as error:  # a target the loss refuses, named by its index
                add_context(error, f"evaluate: y[{i}]")
                raise
        mean_loss = _mean(per_example).data
    if classify is None:
        return {"loss": mean_loss, "accuracy": None}
    correct = sum(classify(_data(out)) == t for out, t in zip(outputs, y))
    return {"loss": mean_loss, "accuracy": correct / len(X)}


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
    if _is_dask(X, y):
        from . import dask_train

        X, y = dask_train.aligned("accuracy", model, X, y)
        return dask_train.accuracy(model, X, y, classify, rows_rule)
    _check_data("accuracy", model, X, y)
    if loss_fn is not None:  # a label the rule can never give (0 under hinge's -1/+1) would count as wrong, silently
        with autodiff.no_grad():
            _check_each_target("accuracy: y", loss_fn, model(X[0]), y)
    with autodiff.no_grad():
        correct = sum(classify(_data(model(x))) == t for x, t in zip(X, y))
    return correct / len(X)


def _data(out: Any) -> Any:
    if isinstance(out, Value):
        return out.data
    if isinstance(out, (list, tuple)):
        return [_data(o) for o in out]
    return out


def _is_dask(*data: Any) -> bool:
    """Whether any of `data` is a Dask collection (told without importing Dask)."""
    return any(type(d).__module__.startswith("dask.") for d in data)


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


def _check_data(who: str, model: Module, X: Sequence[Any], y: Sequence[Any]) -> None:
    _check_same_length(who, X, y, "targets")
    nin = getattr(model, "nin", None)
    if isinstance(nin, int):
        for i, x in enumerate(X):
            if not hasattr(x, "__len__") or len(x) != nin:
                shown = f"{len(x)} features" if hasattr(x, "__len__") else f"a {type(x).__name__}"
                raise ValueError(f"{who}: X[{i}] has {shown}; the model takes {nin}")
            for j, feature in enumerate(x):  # named here, before any step, rather than by the step that meets it
                if isinstance(feature, numbers.Real) and not _is_finite(feature):
                    raise ValueError(f"{who}: X[{i}][{j}] is {feature!r}; features must be finite numbers")
