"""Where the user's code is: the innermost frame outside the autodiff package."""

from __future__ import annotations

import os
import sys
import traceback

__all__ = ["user_frame", "is_engine_file"]

PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep  # with the separator: not autodiff_extras/


def is_engine_file(filename: str) -> bool:
    """True for the engine's own files and the code it generates (`<autodiff: ...>`)."""
    return filename.startswith(PACKAGE) or filename.startswith("<autodiff")


def user_frame() -> traceback.FrameSummary | None:
    """The innermost calling frame outside the engine (file, line, function), or None."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if not is_engine_file(code.co_filename):
            return traceback.FrameSummary(code.co_filename, frame.f_lineno, code.co_name, lookup_line=False)
        frame = frame.f_back
    return None
