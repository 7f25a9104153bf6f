"""Adding context to an error without changing what it is; naming a node in one; refusing a switch that is
not True or False."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["add_context", "add_note", "check_switch", "op_at", "created_at", "inputs_of"]

# Built-in errors whose only argument is their message: the engine raises these itself, and
# their message can say more. Any other exception (a user's) is left as it is and gets a note.
_MESSAGE_ONLY = (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError, AttributeError)


def add_context(error: BaseException, context: str) -> None:
    """Put `context` in front of `error`'s message, to re-raise it with a bare `raise`.

    The error keeps its type, its traceback and its cause. A built-in error of the
    kinds the engine raises reads "context: message"; any other exception keeps its
    arguments and attributes exactly and gets the context as a note (PEP 678; on
    Python 3.10, which does not print notes, it is kept in `__notes__`).
    """
    if type(error) in _MESSAGE_ONLY and len(error.args) == 1 and isinstance(error.args[0], str):
        error.args = (f"{context}: {error.args[0]}",)
        return
    if type(error) is OverflowError and len(error.args) == 2 and isinstance(error.args[1], str):
        error.args = (f"{context}: {error.args[1]}",)  # float ** float's (34, 'Numerical result out of range')
        return
    add_note(error, f"(in {context})")


def add_note(error: BaseException, note: str) -> None:
    """Attach `note` to `error` as `BaseException.add_note` does (PEP 678), on Python 3.10 too."""
    error.__notes__ = [*getattr(error, "__notes__", []), note]


def check_switch(who: str, name: str, flag: object) -> None:
    """Refuse a switch that is not True or False (numpy's bools, 0 and 1 pass): "no" would count as true."""
    if not (isinstance(flag, int) and flag in (0, 1) or type(flag).__name__ in ("bool", "bool_")):
        raise TypeError(f"{who}: {name} must be True or False, got {flag!r}")


def op_at(node: Any) -> str:
    """The node's op for an error message: "`log` created at train.py:42 in loss" in anomaly mode, else "log"."""
    where = created_at(node)
    return f"`{node.op}` {where}" if where else node.op


def created_at(node: Any) -> str:
    """Where a node made in anomaly mode was created, "created at train.py:42 in loss"; "" for other nodes.

    A node made in `detect_anomaly()` carries `site`, (file, line, function) (autodiff/anomaly.py)."""
    site = getattr(node, "site", None)
    if site is None:
        return ""
    filename, line, function = site
    return f"created at {_path(filename)}:{line} in {function}"


def inputs_of(node: Any) -> str:
    """The data of a node's first inputs, for error messages."""
    return ", ".join(repr(p.data) for p in node.parents[:4]) + (", ..." if len(node.parents) > 4 else "")


def _path(filename: str) -> str:
    """The file relative to the current folder when it is inside it, else as recorded."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive, on Windows
        return filename
    return filename if relative.startswith(os.pardir) else relative
