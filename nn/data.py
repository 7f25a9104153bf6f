"""Datasets: two moons (and, with the rest of `nn`, more to come)."""

from __future__ import annotations

import math
import random

__all__ = ["make_moons"]


def make_moons(
    n_samples: int = 100, noise: float | None = 0.1, seed: int | None = None, shuffle: bool = True
) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles, as scikit-learn's `make_moons` defines them.

    The outer moon (label 0) is (cos t, sin t) and the inner one (label 1) is
    (1 - cos t, 1 - sin t - 0.5), for n evenly spaced t in [0, pi]; then the points
    are shuffled and Gaussian noise of standard deviation `noise` is added.

    Returns:
        X, a list of [x1, x2], and y, a list of 0/1 labels.
    """
    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 2:
        raise ValueError(f"make_moons: n_samples must be an int >= 2, got {n_samples!r}")
    if noise is not None and not noise >= 0:
        raise ValueError(f"make_moons: noise must be >= 0, got {noise!r}")
    rng = random.Random(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    X += [[1.0 - math.cos(t), 1.0 - math.sin(t) - 0.5] for t in _linspace(0.0, math.pi, n_in)]
    y = [0] * n_out + [1] * n_in
    if shuffle:
        order = list(range(n_samples))
        rng.shuffle(order)
        X, y = [X[i] for i in order], [y[i] for i in order]
    if noise:
        X = [[x1 + rng.gauss(0.0, noise), x2 + rng.gauss(0.0, noise)] for x1, x2 in X]
    return X, y


def _linspace(start: float, stop: float, n: int) -> list[float]:
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1)
    return [start + i * step for i in range(n - 1)] + [stop]  # the end point exactly, as numpy.linspace
