"""The one style of this project's matplotlib figures (the demos, the tutorial notebook, the docs), for slides.

Every figure is 6 inches wide, written at 150 dots per inch (900 pixels), with text
of at least 10 points: readable when a slide shows the figure at its width. Use it
with `matplotlib.pyplot.rcParams.update(FIGURE_STYLE)` (or `matplotlib.style.use`).
Nothing is imported here: the style is data.
"""

from __future__ import annotations

__all__ = ["FIGURE_STYLE", "FIGURE_WIDTH", "DPI", "SMALLEST_FONT"]

FIGURE_WIDTH = 6.0
"""Inches: every figure is this wide, so that its font sizes are the sizes a slide shows."""

DPI = 150
"""Dots per inch of every picture written (and of the notebook's inline figures)."""

SMALLEST_FONT = 10.0
"""Points: no text of a figure is smaller."""

FIGURE_STYLE: dict[str, object] = {
    "figure.figsize": (FIGURE_WIDTH, 4.0),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "figure.constrained_layout.use": True,
    "font.size": 11.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 11.0,
    "figure.titlesize": 12.5,
    "figure.titleweight": "bold",
    "xtick.labelsize": SMALLEST_FONT,
    "ytick.labelsize": SMALLEST_FONT,
    "legend.fontsize": SMALLEST_FONT,
    "legend.title_fontsize": SMALLEST_FONT,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.8,
    "lines.linewidth": 2.0,
    "lines.markersize": 6.0,
    "image.cmap": "Blues",
}
"""matplotlib rcParams: 6 x 4 inches, 150 dpi, text from 10 points, light grid, no top and right spines."""
