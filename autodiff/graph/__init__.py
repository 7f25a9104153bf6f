"""Computation graphs as pictures: DOT source, SVG, gradient explanations, a page that replays backward().

`import autodiff` stays light: the graphviz package and the embedded renderer are
imported inside the functions that use them.
"""

from .dot import RANKDIRS, draw_dot
from .explain import Explanation, Term, explain
from .html import save_html, show_backward, to_html
from .render import (
    RENDERERS,
    RendererError,
    RendererUnavailable,
    available_renderers,
    render_svg,
    save_svg,
    set_wasm_renderer,
    to_svg,
)
from .replay import BackwardRecord, record_backward
from .select import GraphTooLargeError

__all__ = [
    "draw_dot", "RANKDIRS", "GraphTooLargeError",
    "to_svg", "save_svg", "render_svg", "available_renderers", "RENDERERS", "RendererError", "RendererUnavailable",
    "set_wasm_renderer",
    "explain", "Explanation", "Term",
    "to_html", "save_html", "show_backward", "record_backward", "BackwardRecord",
]  # fmt: skip
