"""Training and evaluation on Dask arrays: `fit(..., compiled=True)`, `evaluate` and `accuracy`
when X and y are `dask.array` arrays (install the `dask` extra).

Every pass over the data is one Dask computation: each chunk of rows builds its
compiled rows (features, then the encoded target) and runs the compiled loss in a
task, returning a few numbers (its loss sum, its correct count, its summed
parameter gradients), which a tree of tasks adds up. Nothing of size n comes back
to the client, so a dataset on disk is read one chunk at a time. A step of `fit`
is one such pass over its batch: with `batch_size=None`, the whole dataset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff
from autodiff.compiler import TracingError, dask_batch
from autodiff.errors import add_context

from .backends import Task
from .checks import is_dask
from .compiled import CompiledLoss, compile_for_fit
from .module import Module
from .optim import Optimizer
from .steps import StepResult

__all__ = [
    "DaskSteps",
    "is_dask",
    "aligned",
    "first_example",
    "distinct_targets",
    "check_targets",
    "batches",
    "step",
    "evaluate",
    "accuracy",
]

Classify = Callable[[Any], Any]
ClassifyRows = Callable[[np.ndarray], np.ndarray]


class DaskSteps:
    """The step backend of `fit(compiled=True)` on Dask arrays: each step one Dask computation over the
    batch's chunks, the loss compiled once (see `nn.backends`)."""

    @staticmethod
    def checked_data(who: str, model: Module, X: Any, y: Any) -> tuple[Any, Any]:
        return aligned(who, model, X, y)

    @staticmethod
    def checked_validation(model: Module, X: Any, y: Any) -> tuple[Any, Any]:
        return aligned("fit: validation_data", model, X, y)  # lists too become dask arrays

    def __init__(self, task: Task) -> None:
        self.task = task
        # the checks of lists, on the first example and each distinct target (one pass over y)
        x0, t0 = first_example(task.X, task.y)
        validation_y = None if task.validation_data is None else task.validation_data[1]
        targets, validation_targets = check_targets(task.model, task.loss, x0, task.y, validation_y)
        validation = None if validation_y is None else ([x0], validation_targets)
        self.compiled_loss = compile_for_fit(task.model, task.loss, [x0], [t0, *targets], validation)

    def batches(self, batch_size: int | None, shuffle: bool, rng: Any) -> Iterator[tuple[Any, Any]]:
        return batches(self.task.X, self.task.y, batch_size, shuffle, rng)

    def step(self, X: Any, y: Any) -> StepResult:
        task = self.task
        mean_loss, correct = step(self.compiled_loss, task.optimizer, X, y, task.classify, task.classify_rows)
        return StepResult(mean_loss, [], correct)

    def correct(self, result: StepResult, y: Any) -> int:
        return result.correct

    def evaluate(self, X: Any, y: Any) -> dict[str, float | None]:
        return evaluate(self.compiled_loss, X, y, self.task.classify, self.task.classify_rows)


def aligned(who: str, model: Module, X: Any, y: Any) -> tuple[Any, Any]:
    """X and y as Dask arrays with the same row chunks, X whole rows of the model's inputs."""
    import dask.array as da

    for name, data in (("X", X), ("y", y)):
        if is_dask(data) and not isinstance(data, da.Array):
            raise TypeError(f"{who}: {name} must be a dask.array.Array, got {type(data).__name__}")
    X = X if is_dask(X) else da.from_array(np.asarray(X), chunks=("auto", -1))
    y = y if is_dask(y) else da.from_array(np.asarray(y))
    for name, data in (("X", X), ("y", y)):
        if data.dtype.kind not in "fiu":
            raise TypeError(f"{who}: {name} must hold ints or floats, got an array of {data.dtype}")
    nin = getattr(model, "nin", None)
    if X.ndim != 2 or (isinstance(nin, int) and X.shape[1] != nin):
        raise ValueError(f"{who}: X must have shape (examples, {nin}), got {X.shape}")
    if any(np.isnan(X.chunks[0])):
        raise ValueError(f"{who}: X's row chunks have unknown sizes; call X.compute_chunk_sizes() first")
    if len(X.chunks[1]) > 1:
        raise ValueError(
            f"{who}: X is split along its columns (chunks {X.chunks[1]}); every chunk must hold whole rows: "
            "use X.rechunk({1: -1})"
        )
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"{who}: X has {X.shape[0]} examples but y has shape {y.shape}")
    y = y.rechunk({0: X.chunks[0]})
    if y.ndim == 2 and len(y.chunks[1]) > 1:
        y = y.rechunk({1: -1})
    if X.shape[0] == 0:
        raise ValueError(f"{who}: X and y are empty")
    return X, y


def first_example(X: Any, y: Any) -> tuple[list[float], Any]:
    """The first row and target as Python numbers: where the loss is traced."""
    import dask

    x0, t0 = dask.compute(X[0], y[0])
    return x0.tolist(), t0.tolist()


def distinct_targets(y: Any) -> tuple[list[Any], list[int]]:
    """Each distinct target once (a label per class, say) and the first row that holds it, in one pass
    over y; for rows of numbers, the first row only (their width is the shape's, finiteness is checked
    per chunk)."""
    import dask
    import dask.array as da

    if y.ndim == 1 and y.dtype.kind == "f":
        # Dask's unique fails on nan (with numpy's "zero-size array to reduction operation"): a non-finite target
        # is returned alone, by its first row, for the loss to refuse by name.
        finite = da.isfinite(y)
        unique = da.unique(da.where(finite, y, np.inf), return_index=True)
        values, rows, everywhere, first = dask.compute(*unique, finite.all(), finite.argmin())
        if not everywhere:
            return [y[int(first)].compute().item()], [int(first)]
        return values.tolist(), rows.tolist()
    if y.ndim == 1:
        values, rows = dask.compute(*da.unique(y, return_index=True))
        return values.tolist(), rows.tolist()
    return [y[0].compute().tolist()], [0]


def check_targets(model: Module, loss: Any, x0: list[float], y: Any, validation_y: Any) -> tuple[list, list]:
    """The loss's own checks on every distinct target of y (and of validation_y), with the model's
    prediction for x0, as `fit` checks lists: a bad target is named by a row that holds it.
    Returns the distinct targets of y and of validation_y (empty without it)."""
    with autodiff.no_grad():
        prediction = model(x0)
    found = []
    for name, targets in (("y", y), ("validation_data y", validation_y)):
        values, rows = ([], []) if targets is None else distinct_targets(targets)
        for t, i in zip(values, rows):
            try:
                loss(prediction, t)
            except ArithmeticError:  # the losses check a target before computing: t is valid
                pass
            except (TypeError, ValueError) as error:
                add_context(error, f"fit: {name}[{i}]")
                raise
        found.append(values)
    return found[0], found[1]


def batches(X: Any, y: Any, batch_size: int | None, shuffle: bool, rng: Any) -> Iterator[tuple[Any, Any]]:
    """The minibatches of `nn.data.batches` (the same order for the same generator), as Dask arrays;
    with `batch_size=None`, the whole dataset as it is."""
    n = X.shape[0]
    if batch_size is None:
        yield X, y
        return
    order = list(range(n))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, n, batch_size):
        index = np.array(order[start : start + batch_size])
        yield X[index], y[index]


@dataclass(frozen=True)
class _ChunkLoss:
    """What a task needs to turn a chunk of (X, y) into compiled rows and count correct predictions."""

    target_kind: str
    target_width: int
    classify: Classify | None
    classify_rows: ClassifyRows | None
    single_output: bool

    def rows(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Features, then the target encoded as `CompiledLoss` encodes it (class index as one-hot)."""
        X = np.asarray(X, dtype=float)
        if self.target_kind == "class":
            targets = (np.asarray(y)[:, None] == np.arange(self.target_width)).astype(float)
        else:
            targets = np.asarray(y, dtype=float).reshape(len(X), -1)
        return np.hstack([X, targets])

    def correct(self, outputs: np.ndarray, y: np.ndarray) -> int:
        """How many rows' predictions equal their labels (outputs: rows x model outputs)."""
        if self.classify_rows is not None:
            return int(np.sum(self.classify_rows(outputs) == np.asarray(y)))
        if self.classify is None:
            return 0
        shown = outputs[:, 0].tolist() if self.single_output else outputs.tolist()
        return sum(self.classify(o) == t for o, t in zip(shown, np.asarray(y).tolist()))


def _loss_chunk(
    f: Any, token: str, X: Any, y: Any, offset: int, p: Any, spec: _ChunkLoss, with_grad: bool
) -> np.ndarray:
    """One chunk's [loss sum, correct count, summed parameter gradients...] (in a task)."""
    rows = spec.rows(X, y)
    if with_grad:
        values, outputs, _, grads = dask_batch.run_chunk(f, token, rows, offset, p, with_grad=True)
        grads = grads.sum(axis=0) if grads.ndim == 2 else grads
    else:
        values, outputs = dask_batch.run_chunk(f, token, rows, offset, p, with_grad=False)
        grads = np.zeros(0)
    return np.concatenate([[values.sum(), spec.correct(outputs, y)], grads])


def _totals(
    compiled_loss: CompiledLoss, X: Any, y: Any, classify: Classify | None, rows: ClassifyRows | None, with_grad: bool
) -> tuple[float, float, np.ndarray]:
    """(sum of the losses, number correct, summed parameter gradients) over X and y, in one pass."""
    spec = _ChunkLoss(
        compiled_loss.target_kind, compiled_loss.target_width, classify, rows, compiled_loss.single_output
    )
    f = compiled_loss.compiled
    y = y.rechunk({0: X.chunks[0]})
    sums = dask_batch.sum_chunks(f, [X, y], _loss_chunk, (spec, with_grad))
    return float(sums[0]), float(sums[1]), sums[2:]


def step(
    compiled_loss: CompiledLoss,
    optimizer: Optimizer,
    X: Any,
    y: Any,
    classify: Classify | None,
    classify_rows: ClassifyRows | None,
) -> tuple[float, int]:
    """One step on the mean loss of the batch (X, y): (that mean loss, the correct predictions)."""
    n = X.shape[0]
    total, correct, grads = _totals(compiled_loss, X, y, classify, classify_rows, with_grad=True)
    optimizer.zero_grad()
    for p, g in zip(compiled_loss.params, grads):
        p.grad += float(g) / n
    optimizer.step()
    return total / n, int(correct)


def evaluate(
    compiled_loss: CompiledLoss, X: Any, y: Any, classify: Classify | None, classify_rows: ClassifyRows | None
) -> dict[str, float | None]:
    """{"loss": mean loss, "accuracy": fraction correct or None} over Dask arrays, in one pass."""
    n = X.shape[0]
    total, correct, _ = _totals(compiled_loss, X, y, classify, classify_rows, with_grad=False)
    return {"loss": total / n, "accuracy": None if classify is None else correct / n}


def accuracy(model: Module, X: Any, y: Any, classify: Classify, classify_rows: ClassifyRows | None) -> float:
    """The fraction of rows whose predicted class equals the label, with the model's outputs compiled."""
    x0, _ = first_example(X, y)
    with autodiff.no_grad():
        example = model(x0)
    single_output = not isinstance(example, list)

    def outputs(*x: Any) -> tuple[Any, list[Any]]:
        out = model(list(x))
        outs = [out] if single_output else out
        return outs[0], outs

    outputs.__name__ = f"outputs of {type(model).__name__}"
    try:
        f = autodiff.compile(outputs, x0, params=model.parameters(), has_aux=True)
    except (TracingError, TypeError, ValueError) as error:
        raise ValueError(f"accuracy: the model cannot be compiled to run on a dask array ({error})") from error
    spec = _ChunkLoss("number", 0, classify, classify_rows, single_output)
    sums = dask_batch.sum_chunks(f, [X, y.rechunk({0: X.chunks[0]})], _count_chunk, (spec,))
    return float(sums[0]) / X.shape[0]


def _count_chunk(f: Any, token: str, X: Any, y: Any, offset: int, p: Any, spec: _ChunkLoss) -> np.ndarray:
    """One chunk's number of correct predictions (in a task)."""
    _, outputs = dask_batch.run_chunk(f, token, X, offset, p, with_grad=False)
    return np.array([spec.correct(outputs, y)], dtype=float)
