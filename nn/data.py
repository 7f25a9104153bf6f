"""Datasets (two moons, two circles, the notebook's step, iris) and minibatches.

Every dataset is returned as plain lists: X, a list of examples (each a list of
floats), and y, a list of labels. Randomness comes from `seed` (an int, a
`random.Random`, or None), never from the global `random` state.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

from ._random import Seed, generator

__all__ = [
    "make_moons", "make_circles", "toy_step", "load_iris", "IRIS_FEATURES", "IRIS_CLASSES",
    "batches", "train_test_split",
]  # fmt: skip

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
"""The four iris measurements, in cm, in the order of each row of X."""
IRIS_CLASSES = ("setosa", "versicolor", "virginica")
"""The iris species; label k of `load_iris` is IRIS_CLASSES[k]."""


def make_moons(
    n_samples: int = 100, noise: float | None = 0.1, seed: Seed = None, shuffle: bool = True
) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles, as scikit-learn's `make_moons` defines them.

    The outer moon (label 0) is (cos t, sin t) and the inner one (label 1) is
    (1 - cos t, 1 - sin t - 0.5), for n evenly spaced t in [0, pi]; then the points
    are shuffled and Gaussian noise of standard deviation `noise` is added.

    Args:
        n_samples: the number of points (the inner moon gets the odd one).
        noise: the standard deviation of the noise (0 or None: none).
        seed: an int, a `random.Random`, or None.
        shuffle: whether to shuffle the points (else all of label 0, then label 1).

    Returns:
        X, a list of [x1, x2], and y, a list of 0/1 labels.
    """
    _check_count("make_moons", "n_samples", n_samples, 2)
    _check_noise("make_moons", noise)
    rng = generator("make_moons", seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    X += [[1.0 - math.cos(t), 1.0 - math.sin(t) - 0.5] for t in _linspace(0.0, math.pi, n_in)]
    y = [0] * n_out + [1] * n_in
    return _shuffle_and_noise(X, y, noise, rng, shuffle)


def make_circles(
    n_samples: int = 100, noise: float | None = 0.1, factor: float = 0.5, seed: Seed = None, shuffle: bool = True
) -> tuple[list[list[float]], list[int]]:
    """A large circle (label 0) around a smaller one (label 1), as scikit-learn's `make_circles`.

    The outer circle is (cos t, sin t) and the inner one factor * (cos t, sin t),
    for n evenly spaced t in [0, 2 pi) (the end point left out); then the points
    are shuffled and Gaussian noise of standard deviation `noise` is added.

    Args:
        n_samples: the number of points (the inner circle gets the odd one).
        noise: the standard deviation of the noise (0 or None: none).
        factor: the inner circle's radius, in [0, 1).
        seed: an int, a `random.Random`, or None.
        shuffle: whether to shuffle the points (else all of label 0, then label 1).

    Returns:
        X, a list of [x1, x2], and y, a list of 0/1 labels.
    """
    _check_count("make_circles", "n_samples", n_samples, 2)
    _check_noise("make_circles", noise)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise TypeError(f"make_circles: factor must be a number in [0, 1), got {type(factor).__name__} ({factor!r})")
    if not 0 <= factor < 1:
        raise ValueError(f"make_circles: factor must be a number in [0, 1), got {factor!r}")
    rng = generator("make_circles", seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, 2 * math.pi, n_out, endpoint=False)]
    X += [[math.cos(t) * factor, math.sin(t) * factor] for t in _linspace(0.0, 2 * math.pi, n_in, endpoint=False)]
    y = [0] * n_out + [1] * n_in
    return _shuffle_and_noise(X, y, noise, rng, shuffle)


def toy_step(n_samples: int = 1000) -> tuple[list[list[float]], list[int]]:
    """The 1-D toy set of the forward/backprop notebook: points on [-5, 5] labelled by sign.

    n_samples evenly spaced x from -5 to 5 (both ends included); the label is +1
    where x > 0 and -1 elsewhere (ready for `nn.losses.hinge`; for 0/1 labels use
    `[(t + 1) // 2 for t in y]`).

    Returns:
        X, a list of [x], and y, a list of -1/+1 labels.
    """
    _check_count("toy_step", "n_samples", n_samples, 2)
    xs = _linspace(-5.0, 5.0, n_samples)
    return [[x] for x in xs], [1 if x > 0 else -1 for x in xs]


def load_iris() -> tuple[list[list[float]], list[int]]:
    """Fisher's iris data: 150 flowers, 4 measurements each, 3 species of 50.

    The columns of X are IRIS_FEATURES (cm); label k is the species IRIS_CLASSES[k].
    The data ship with the package (nn/datasets/iris.csv: Fisher's values, as in
    scikit-learn and R).

    Returns:
        X, a list of 150 [sepal_length, sepal_width, petal_length, petal_width], and
        y, a list of 150 labels 0, 1, 2.
    """
    text = resources.files("nn").joinpath("datasets", "iris.csv").read_text(encoding="utf-8")
    return _parse_iris(text, "nn/datasets/iris.csv")


def _parse_iris(text: str, where: str) -> tuple[list[list[float]], list[int]]:
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header != [*IRIS_FEATURES, "species"]:
        raise ValueError(
            f"{where}: line 1: expected the header {','.join([*IRIS_FEATURES, 'species'])}, got {header!r}"
        )
    X, y = [], []
    for line, row in enumerate(rows, start=2):
        if len(row) != 5:
            raise ValueError(f"{where}: line {line}: expected 5 fields, got {len(row)} ({row!r})")
        try:
            X.append([float(field) for field in row[:4]])
        except ValueError:
            raise ValueError(f"{where}: line {line}: a measurement is not a number: {row[:4]!r}") from None
        if row[4] not in IRIS_CLASSES:
            raise ValueError(f"{where}: line {line}: unknown species {row[4]!r}")
        y.append(IRIS_CLASSES.index(row[4]))
    return X, y


def batches(
    X: Sequence[Any], y: Sequence[Any], batch_size: int, shuffle: bool = True, seed: Seed = None
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Split (X, y) into minibatches (X_batch, y_batch) of `batch_size` examples (the last may be smaller).

    Args:
        X: the examples.
        y: their labels (as many as examples).
        batch_size: the number of examples per batch.
        shuffle: draw a random order first (else keep the given order).
        seed: an int, a `random.Random` (drawn from, so successive calls give new orders), or None.
    """
    _check_same_length("batches", X, y)
    _check_count("batches", "batch_size", batch_size, 1)
    order = list(range(len(X)))
    if shuffle:
        generator("batches", seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        yield [X[i] for i in chunk], [y[i] for i in chunk]


def train_test_split(
    X: Sequence[Any], y: Sequence[Any], test_size: float | int = 0.25, shuffle: bool = True, seed: Seed = None
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Split (X, y) into a training and a test set, as scikit-learn's `train_test_split`.

    Args:
        X: the examples.
        y: their labels (as many as examples).
        test_size: a fraction in (0, 1) (the test set gets ceil(test_size * n)
            examples) or a number of examples.
        shuffle: split a random order (else the test set is the last examples).
        seed: an int, a `random.Random`, or None.

    Returns:
        X_train, X_test, y_train, y_test.
    """
    _check_same_length("train_test_split", X, y)
    n = len(X)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"train_test_split: test_size must be a fraction or a count, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
    elif 0 < test_size < 1:
        n_test = math.ceil(test_size * n)
    else:
        raise ValueError(f"train_test_split: a fractional test_size must be in (0, 1), got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size={test_size!r} leaves {n_test} of {n} examples for testing; "
            "both sets must be non-empty"
        )
    order = list(range(n))
    if shuffle:
        generator("train_test_split", seed).shuffle(order)
        test, train = order[:n_test], order[n_test:]
    else:
        train, test = order[: n - n_test], order[n - n_test :]
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


def _shuffle_and_noise(
    X: list[list[float]], y: list[int], noise: float | None, rng: Any, shuffle: bool
) -> tuple[list[list[float]], list[int]]:
    if shuffle:
        order = list(range(len(X)))
        rng.shuffle(order)
        X, y = [X[i] for i in order], [y[i] for i in order]
    if noise:
        X = [[x1 + rng.gauss(0.0, noise), x2 + rng.gauss(0.0, noise)] for x1, x2 in X]
    return X, y


def _linspace(start: float, stop: float, n: int, endpoint: bool = True) -> list[float]:
    """n evenly spaced numbers, computed as numpy.linspace computes them."""
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1 if endpoint else n)
    values = [i * step + start for i in range(n)]
    if endpoint:
        values[-1] = stop  # the end point exactly, as numpy.linspace
    return values


def _check_count(who: str, name: str, n: object, minimum: int) -> None:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):  # numpy's ints pass
        raise TypeError(f"{who}: {name} must be an int >= {minimum}, got {type(n).__name__} ({n!r})")
    if n < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum}, got {n!r}")


def _check_noise(who: str, noise: object) -> None:
    if noise is None:
        return
    wanted = f"{who}: noise must be a finite number >= 0 (or None)"
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(f"{wanted}, got {type(noise).__name__} ({noise!r})")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"{wanted}, got {noise!r}")


def _check_same_length(who: str, X: Sequence[Any], y: Sequence[Any], labels: str = "labels") -> None:
    for name, data in (("X", X), ("y", y)):
        if isinstance(data, (str, bytes)) or not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
            raise TypeError(f"{who}: {name} must be a list, got {type(data).__name__}")
    if len(X) != len(y):
        raise ValueError(f"{who}: X has {len(X)} examples but y has {len(y)} {labels}")
    if len(X) == 0:
        raise ValueError(f"{who}: X and y are empty")
