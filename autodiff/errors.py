"""Adding context to an error without changing what it is."""

from __future__ import annotations

__all__ = ["with_context"]

# Exceptions whose constructor takes just a message: the engine raises these itself, and may
# raise a copy that says more. Any other exception (a user's) keeps its identity and gets a note.
_MESSAGE_ONLY = (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError, AttributeError)


def with_context(error: BaseException, context: str) -> BaseException:
    """`error` with `context` in front of its message, to raise.

    A built-in error of the kinds the engine raises becomes a new error of the same
    type, "context: message", caused by the original. Any other exception is returned
    itself, with the context as a note (PEP 678; Python 3.10 keeps it in `__notes__`),
    so its type, arguments and attributes are exactly the user's.
    """
    if type(error) in _MESSAGE_ONLY:
        richer = type(error)(f"{context}: {error}")
        richer.__cause__ = error
        return richer
    note = f"(in {context})"
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        error.__notes__ = [*getattr(error, "__notes__", []), note]
    return error
