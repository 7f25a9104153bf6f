"""Checks of training data before the first step: the examples' shapes and features, and every
target the loss would refuse, each named by its index."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import autodiff
from autodiff import Value
from autodiff.errors import add_context

from .data import _check_same_length
from .losses import _is_finite
from .module import Module
from .steps import non_finite

__all__ = ["is_dask", "check_data", "check_targets", "check_each_target"]

Loss = Callable[[Any, Any], Value]


def is_dask(*data: Any) -> bool:
    """Whether any of `data` is a Dask collection (told without importing Dask)."""
    return any(type(d).__module__.startswith("dask.") for d in data)


def check_data(who: str, model: Module, X: Sequence[Any], y: Sequence[Any]) -> None:
    """X and y are lists of the same length, each example as wide as the model's input, its features finite."""
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


def check_targets(
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
            raise non_finite("X[0], before the first step", error, first) from error
        except ValueError as error:  # a domain error of the model, as a step would report it
            add_context(error, "fit: X[0]")
            raise
        for name, targets in [("y", y), ("validation_data y", validation_data[1] if validation_data else [])]:
            try:
                check_each_target(f"fit: {name}", loss, prediction, targets, overflow=name == "y")
            except ArithmeticError as error:
                raise non_finite("X[0], before the first step", error, first) from error


def check_each_target(who: str, loss: Loss, prediction: Any, targets: Sequence[Any], overflow: bool = False) -> None:
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
