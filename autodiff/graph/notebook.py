"""Jupyter display: a Value shows as the SVG of its graph, or as text when that cannot be drawn."""

from __future__ import annotations

import re
from collections.abc import Container
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["mimebundle"]

_SVG = "image/svg+xml"
# The end of a sentence: a full stop, space(s), then a capital letter, the stop not ending "e.g." or "i.e.".
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.\s+(?=[A-Z])")


def mimebundle(value: Value, include: Container[str] | None = None, exclude: Container[str] | None = None) -> dict:
    """{"text/plain": repr, "image/svg+xml": the graph} for IPython; only the text if drawing fails."""
    bundle = {"text/plain": repr(value)}
    if (include is not None and _SVG not in include) or (exclude is not None and _SVG in exclude):
        return bundle
    from .render import to_svg

    try:
        bundle[_SVG] = to_svg(value)
    except Exception as error:  # a display hook must not raise: say why there is no picture
        reason = first_sentence(str(error))
        bundle["text/plain"] += f"\n(graph not drawn: {type(error).__name__}: {reason})"
    return bundle


def first_sentence(text: str) -> str:
    """`text` up to the end of its first sentence (without the full stop), for a short reason."""
    return _SENTENCE_END.split(text, maxsplit=1)[0]
