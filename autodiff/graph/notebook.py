"""Jupyter display: a Value shows as the SVG of its graph, or as text when that cannot be drawn."""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..value import Value

__all__ = ["mimebundle"]

_SVG = "image/svg+xml"


def mimebundle(value: Value, include: Container[str] | None = None, exclude: Container[str] | None = None) -> dict:
    """{"text/plain": repr, "image/svg+xml": the graph} for IPython; only the text if drawing fails."""
    bundle = {"text/plain": repr(value)}
    if (include is not None and _SVG not in include) or (exclude is not None and _SVG in exclude):
        return bundle
    from .render import to_svg

    try:
        bundle[_SVG] = to_svg(value)
    except Exception as error:  # a display hook must not raise: say why there is no picture
        reason = str(error).split(". ")[0]
        bundle["text/plain"] += f"\n(graph not drawn: {type(error).__name__}: {reason})"
    return bundle
