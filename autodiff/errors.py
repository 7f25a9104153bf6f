"""Adding context to an error without changing what it is; refusing a switch that is not True or False."""

from __future__ import annotations

__all__ = ["add_context", "add_note", "check_switch"]

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
