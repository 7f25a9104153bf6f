"""Colours for `draw_dot(color_by_grad=True)`: |grad| in decades below the largest, dead ReLUs in red."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .format import as_float, number

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["GradScale", "is_dead_relu", "DEAD_RELU_COLOR"]

# Blues, darkest for the largest gradients; light grey for exactly zero.
_FILLS = ("#6baed6", "#9ecae1", "#c6dbef", "#eff3ff")
_ZERO_FILL = "#e0e0e0"
# Significant digits of the bounds between colours. The bounds are rounded before use, so a node's fill
# follows the bound the legend shows, exactly.
_BOUND_DIGITS = 3
DEAD_RELU_COLOR = "#cb181d"


def is_dead_relu(node: Value) -> bool:
    """A relu whose output is 0: it passes no gradient back to its input (relu'(x) = 0 for x <= 0).

    The engine's relu, by identity: a user's op named "relu" may pass gradients back at 0.
    """
    from ..ops import OPS

    return node.primitive is OPS["relu"] and node.data == 0.0


@dataclass(frozen=True)
class GradScale:
    """Fill colours by |grad| relative to the largest |grad| drawn: >= 1/10 of it, >= 1/100, >= 1/1000, less, 0."""

    largest: float

    @classmethod
    def of(cls, nodes: Iterable[Value]) -> GradScale:
        return cls(max((abs(as_float(n.grad)) for n in nodes), default=0.0))

    def _bounds(self) -> tuple[float, ...]:
        return tuple(float(number(self.largest / 10**k, _BOUND_DIGITS)) for k in range(1, len(_FILLS)))

    def fill(self, grad: object) -> str:
        g = abs(as_float(grad))
        if g == 0.0:
            return _ZERO_FILL
        for fill, bound in zip(_FILLS, self._bounds()):
            if g >= bound:
                return fill
        return _FILLS[-1]

    def legend(self, dead_relus: bool = False) -> list[tuple[str, str, str]]:
        """(fill, border, text) rows that say what each colour means."""
        if self.largest == 0.0:  # nothing to scale by: typically backward() has not run
            rows = [(_ZERO_FILL, "black", "all gradients are 0 (run backward() first?)")]
        else:
            bounds = [number(b, _BOUND_DIGITS) for b in self._bounds()]
            rows = [(fill, "black", f"|grad| ≥ {b}") for fill, b in zip(_FILLS, bounds)]
            rows.append((_FILLS[-1], "black", f"0 < |grad| < {bounds[-1]}"))
            rows.append((_ZERO_FILL, "black", "grad = 0"))
        if dead_relus:
            rows.append(("white", DEAD_RELU_COLOR, "relu output 0: passes no gradient back"))
        return rows
