"""Random generators for `nn`: seeded per call, never the global `random` state."""

from __future__ import annotations

import numbers
import random

__all__ = ["Seed", "generator"]

Seed = int | random.Random | None


def generator(who: str, seed: Seed) -> random.Random:
    """A `random.Random` for `seed`: a generator is used as is, an int seeds a new one, None uses fresh entropy."""
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        return random.Random()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):  # numpy's ints too
        return random.Random(int(seed))
    raise TypeError(f"{who}: seed must be an int, a random.Random or None, got {type(seed).__name__} ({seed!r})")
