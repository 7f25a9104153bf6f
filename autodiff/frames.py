"""Where the user's code is: the innermost frame outside the autodiff package."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import traceback

__all__ = ["user_frame", "user_site", "is_engine_file"]

PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep  # with the separator: not autodiff_extras/


def is_engine_file(filename: str) -> bool:
    """True for the engine's own files and the code it generates (`<autodiff: ...>`)."""
    return filename.startswith(PACKAGE) or filename.startswith("<autodiff")


def user_site() -> tuple[str, int, str] | None:
    """(file, line, function) of the innermost calling frame outside the engine, or None.
    Anomaly mode calls it for every node, so it is a plain loop over the frames."""
    engine = (PACKAGE, "<autodiff")
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if not code.co_filename.startswith(engine):
            return code.co_filename, frame.f_lineno, code.co_name
        frame = frame.f_back
    return None


def user_frame() -> traceback.FrameSummary | None:
    """The innermost calling frame outside the engine (file, line, function), or None."""
    import traceback

    site = user_site()
    return None if site is None else traceback.FrameSummary(*site)
