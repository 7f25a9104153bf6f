"""Text for graph labels and explanations: compact numbers, escaped labels, short node names."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["as_float", "is_int", "number", "record_field", "dot_string", "describe"]

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


def describe(node: Value, depth: int = 3, width: int = 40) -> str:
    """A short name for a node: its label, else its op applied to short names of its parents.

    >>> from autodiff import Value
    >>> x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    >>> describe(x1.log() + x1 * x2)
    'log(x1) + x1 * x2'
    """
    text = _describe(node, depth)
    return text if len(text) <= width else text[: width - 1] + "…"


# Binding strength of the infix ops, for parentheses only where they are needed.
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "neg": 3, "**": 4}


def _describe(node: Value, depth: int) -> str:
    if node.label:
        return node.label
    if not node.parents:
        return number(node.data, 6)
    if depth == 0:  # "…" for a cut infix expression: _wrap brackets it where it is an operand
        return "…" if node.op in _PRECEDENCE else f"{node.op}(…)"
    args = [_describe(p, depth - 1) for p in node.parents]
    op = node.op
    if op in _PRECEDENCE and op != "neg":
        (a, b), (pa, pb) = args, node.parents
        # ** groups to the right, the others to the left: a - (b - c), (a ** b) ** c.
        left_tie, right_tie = (op == "**", op in ("-", "/", "%"))
        return f"{_wrap(a, pa, op, left_tie)} {op} {_wrap(b, pb, op, right_tie)}"
    if op == "neg":
        return f"-{_wrap(args[0], node.parents[0], op, False)}"
    if len(args) > 4:
        args = args[:3] + ["…"]
    return f"{op}({', '.join(args)})"


def _wrap(text: str, operand: Value, op: str, wrap_ties: bool) -> str:
    """Parenthesise an operand that binds less tightly than `op` (or as tightly, where order matters).

    A negative constant is bracketed as the base of ** and under unary minus: (-2) ** 2, not -2 ** 2.
    """
    if operand.label:
        return text
    if not operand.parents:
        return f"({text})" if text.startswith("-") and (op == "neg" or (op == "**" and wrap_ties)) else text
    if operand.op not in _PRECEDENCE:
        return text
    if text == "…":  # a cut expression: always bracketed as an operand
        return "(…)"
    inner, outer = _PRECEDENCE[operand.op], _PRECEDENCE[op]
    return f"({text})" if inner < outer or (inner == outer and wrap_ties) else text
