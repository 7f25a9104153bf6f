"""Which operand an edge of a drawing is, where the op cares: "1" and "2" for a - b, "w0" and "x0" for dot.

The engine's ops are recognised by identity (`node.primitive is OPS["sub"]`), never by
name: a user's `Op("clamp", ...)` with four inputs is drawn as any user op is.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["operand_role"]


def operand_role(node: Value, k: int) -> str:
    """The name of operand `k` (0-based) of `node` in a drawing, "" where the operands are interchangeable.

    1 and 2 for - / ** % atan2; w0, x0, w1, ... for dot (as nn names them); slope for leaky_relu's,
    lo and hi for clamp's bounds; 1, 2, 3, ... for a user's op with several inputs, whose order
    the drawing cannot know to be free.
    """
    from ..ops import OPS, is_builtin

    op = node.primitive
    if op is None:
        return ""
    if op is OPS["dot"]:
        n = len(node.parents) // 2
        return f"w{k}" if k < n else f"x{k - n}"
    if op in _ordered():
        return str(k + 1)
    if op is OPS["leaky_relu"]:
        return "slope" if k == 1 else ""
    if op is OPS["clamp"]:
        return ("", "lo", "hi")[k]
    if not is_builtin(op) and len(node.parents) > 1:
        return str(k + 1)
    return ""


@functools.cache
def _ordered() -> tuple:
    """The engine's two-operand ops whose operands are not interchangeable."""
    from ..ops import OPS

    return tuple(OPS[key] for key in ("sub", "div", "pow_const", "pow", "remainder", "atan2"))
