"""Text for graph labels and explanations: compact numbers, escaped labels, short node names."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["as_float", "is_int", "number", "record_field", "dot_string", "describe", "infix"]

# Characters that structure a record label ({a | b}) or end a DOT string.
_RECORD_SPECIAL = set('{}|<>"')


def as_float(x: object) -> float:
    """A grad or data as a float (after `backward(create_graph=True)` a grad is a Value)."""
    return float(x)


def is_int(x: object) -> bool:
    """Whether `x` is a whole number type (int, numpy.int64, ...) and not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def number(x: object, digits: int = 4) -> str:
    """`x` in at most `digits` significant digits, the same text on every run: 11.65, 1e-7, -0.5."""
    text = f"{as_float(x):.{digits}g}"
    if "e" in text:  # 1e-07 -> 1e-7, 1e+20 -> 1e20
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return "0" if text == "-0" else text


def dot_string(text: str) -> str:
    """`text` as the literal content of a DOT string: backslashes kept, control characters as spaces."""
    text = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return text.replace("\\", "\\\\")


def record_field(text: str) -> str:
    """`text` as one field of a record label, its {, }, |, <, > and quotes shown literally."""
    return "".join("\\" + c if c in _RECORD_SPECIAL else c for c in dot_string(text))


def describe(
    node: Value, depth: int = 3, width: int = 40, names: Mapping[Value, str] | None = None, own_name: bool = True
) -> str:
    """A short name for a node: its label, else its op applied to short names of its parents.

    Only the engine's own + - * / % ** and unary minus are written between their operands; any
    other op, a user's `Op` too (whatever its name), is written as a call: name(operands).

    Args:
        node: the node to name.
        depth: how many ops deep to write the expression before "…".
        width: the most characters; a longer text is cut, ending in "…".
        names: names to use for some nodes (as a label is used), instead of their expressions.
        own_name: False writes `node` as the expression it computes even where it has a label or a name.

    >>> from autodiff import Value
    >>> x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    >>> describe(x1.log() + x1 * x2)
    'log(x1) + x1 * x2'
    """
    names = names or {}
    text = _expression(node, depth, names) if not own_name and node.parents else _describe(node, depth, names)
    return text if len(text) <= width else text[: width - 1] + "…"


def infix(node: Value) -> tuple[str, int] | None:
    """(symbol, binding strength) of the engine's infix ops ("+", 1); None for any other op or a leaf.

    Ops are recognised by identity, never by name: a user's Op("+", ...) is not addition.
    """
    return _infix_ops().get(node.primitive) if node.parents else None


@functools.cache
def _infix_ops() -> dict:
    from ..ops import OPS

    strengths = {"add": 1, "sub": 1, "mul": 2, "div": 2, "remainder": 2, "neg": 3, "pow_const": 4, "pow": 4}
    return {OPS[key]: (OPS[key].name, strength) for key, strength in strengths.items()}


def _describe(node: Value, depth: int, names: Mapping[Value, str]) -> str:
    if node in names:
        return names[node]
    if node.label:
        return node.label
    if not node.parents:
        return number(node.data, 6)
    return _expression(node, depth, names)


def _expression(node: Value, depth: int, names: Mapping[Value, str]) -> str:
    """The op of `node` applied to the short names of its parents."""
    op = infix(node)
    if depth == 0:  # "…" for a cut infix expression: _wrap brackets it where it is an operand
        return "…" if op is not None else f"{node.op}(…)"
    args = [_describe(p, depth - 1, names) for p in node.parents]
    if op is None:
        if len(args) > 4:
            args = args[:3] + ["…"]
        return f"{node.op}({', '.join(args)})"
    (symbol, strength), parents = op, node.parents
    if len(parents) == 1:  # unary minus
        return f"-{_wrap(args[0], parents[0], symbol, strength, False, names)}"
    # ** groups to the right, the others to the left: a - (b - c), (a ** b) ** c.
    left_tie, right_tie = (symbol == "**", symbol in ("-", "/", "%"))
    left = _wrap(args[0], parents[0], symbol, strength, left_tie, names)
    return f"{left} {symbol} {_wrap(args[1], parents[1], symbol, strength, right_tie, names)}"


def _wrap(text: str, operand: Value, symbol: str, strength: int, wrap_ties: bool, names: Mapping[Value, str]) -> str:
    """Parenthesise an operand that binds less tightly than the op (or as tightly, where order matters).

    A negative constant is bracketed as the base of ** and under unary minus: (-2) ** 2, not -2 ** 2.
    """
    if operand in names or operand.label:
        return text
    if not operand.parents:
        negative_base = symbol == "neg" or (symbol == "**" and wrap_ties)
        return f"({text})" if text.startswith("-") and negative_base else text
    inner = infix(operand)
    if inner is None:
        return text
    if text == "…":  # a cut expression: always bracketed as an operand
        return "(…)"
    return f"({text})" if inner[1] < strength or (inner[1] == strength and wrap_ties) else text
