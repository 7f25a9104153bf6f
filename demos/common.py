"""What every demo shares: its command line, an output folder, matplotlib without a display, printed checks.

The demos are literate programs; this module holds the plumbing they would
otherwise repeat, so that each demo file reads as its story.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "parser", "add_renderer_option", "int_between", "number_between", "positive_float", "output_folder", "pyplot",
    "figure", "plain_numbers", "save_png", "Checks", "grid", "model_logits", "one_line_errors",
    "missing_extra_in_one_line", "CLASS_COLORS", "REGION_COLORS",
]  # fmt: skip

Main = Callable[[list[str] | None], dict]
"""A demo's main(argv): it parses argv (None: the command line), runs the demo and returns its key numbers."""

CLASS_COLORS = ("tab:blue", "tab:red")
"""The colour of class 0 and of class 1 in every picture of a classifier."""

REGION_COLORS = ("#cfe0f3", "#f6d0cf")
"""Light shades of the class colours: the regions a classifier assigns to class 0 and to class 1."""


def parser(doc: str | None, seed: int = 0, seed_help: str = "seed of every random choice") -> argparse.ArgumentParser:
    """An argument parser with the options every demo has: --seed (default `seed`), --out and --quick.

    The description is the first paragraph of the demo's docstring; the rest of it
    is shown after the options.
    """
    summary, _, rest = (doc or "").strip().partition("\n\n")
    p = argparse.ArgumentParser(
        prog=f"python -m demos.{Path(sys.argv[0]).stem}",  # how it is run, not "moons.py"
        description=summary,
        epilog=rest or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seed", type=int, default=seed, help=f"{seed_help} (default: {seed})")
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for the pictures (default: out/)")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run (as the smoke tests run it)")
    return p


def add_renderer_option(p: argparse.ArgumentParser) -> None:
    """--renderer, for the demos that draw graphs as SVG: which Graphviz renders them."""
    p.add_argument(
        "--renderer",
        choices=("auto", "dot", "wasm"),
        default="auto",
        help="Graphviz for the SVG graphs: the system dot, the embedded wasm one, or auto: dot if it is on PATH, "
        "else wasm (default: auto; the gallery uses wasm, the same everywhere)",
    )


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an int from low to high, both included.

    Every count has an upper bound, so that a typo cannot start a run of hours.
    """

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or not low <= n <= high:
            raise argparse.ArgumentTypeError(f"must be an int from {low} to {high}, got {text!r}")
        return n

    return parse


def number_between(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number from low to high, both included."""
    return lambda text: _float(text, lambda x: low <= x <= high, f"a number from {low:g} to {high:g}")


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    return _float(text, lambda x: x > 0, "a positive number")


def _float(text: str, accept: Callable[[float], bool], wanted: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and accept(x)):
        raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
    return x


def output_folder(path: Path) -> Path:
    """Create the --out folder (and its parents) if needed and check that files can be written into it.

    A clear one-line error if either is impossible, before the demo does any work.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SystemExit(f"error: --out {str(path)!r} is a file, not a folder") from None
    except OSError as error:
        raise SystemExit(f"error: cannot create the --out folder {str(path)!r}: {error.strerror}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass  # created and removed: the pictures can be written here
    except OSError as error:
        raise SystemExit(f"error: cannot write into the --out folder {str(path)!r}: {error.strerror}") from None
    return path


EXTRA_PACKAGES = {"numpy": "numpy", "matplotlib": "matplotlib", "PIL": "Pillow"}
"""The modules the demos import from their extras, by top-level name, with the package that provides each."""


def missing_extra_in_one_line(extra: str) -> Callable[[Main], Main]:
    """Decorate a main(): an import of a module of `extra` that is not installed ends it in one line, not a traceback.

    The line names the missing package and the command that installs the extra,
    `pip install -e ".[<extra>]"` (the demos run from a clone). An import of any
    other missing module is a bug, and keeps its traceback.
    """

    def decorate(main: Main) -> Main:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> dict:
            try:
                return main(argv)
            except ModuleNotFoundError as error:
                package = EXTRA_PACKAGES.get((error.name or "").partition(".")[0])
                if package is None:
                    raise
                raise SystemExit(
                    f'error: this needs {package}, from the {extra} extra: pip install -e ".[{extra}]"'
                ) from None

        return run

    return decorate


def one_line_errors(main: Main) -> Main:
    """Decorate a demo's main(): a failure the user can fix ends it with one line, `error: ...`, not a traceback.

    Such failures are training that diverges (nn.train.NonFiniteLossError, most
    often a learning rate too large), files that cannot be written (OSError) and a
    missing numpy, matplotlib or Pillow (the demos extra is not installed).
    Anything else is a bug, and keeps its traceback.
    """

    @missing_extra_in_one_line("demos")
    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> dict:
        import nn

        try:
            return main(argv)
        except nn.train.NonFiniteLossError as error:
            raise SystemExit(f"error: {error} (a smaller --lr may help)") from None
        except OSError as error:
            raise SystemExit(f"error: {error}") from None

    return run


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed), in the project's figure style, imported on first use.

    The style (autodiff.graph.figures: 6 inches wide, 150 dpi, text from 10 points) is the one the
    tutorial notebook uses too.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autodiff.graph.figures import FIGURE_STYLE

    plt.rcParams.update(FIGURE_STYLE)
    return plt


def figure(height: float, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """A figure FIGURE_WIDTH (6) inches wide and `height` inches high, with plt.subplots(*args, **kwargs)'s axes."""
    from autodiff.graph.figures import FIGURE_WIDTH

    return pyplot().subplots(*args, figsize=(FIGURE_WIDTH, height), **kwargs)


def plain_numbers(*axes: Any, subs: tuple[float, ...] = (1.0, 2.0, 5.0)) -> None:
    """Ticks of log-scale axes as plain numbers at 1, 2 and 5 times the powers of 10 (0.05, 0.1, 0.2; `subs`
    sets which), not 10^-2 or 2 x 10^1; the other minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis in axes:
        axis.set_major_locator(LogLocator(base=10.0, subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def save_png(fig: Any, path: Path) -> Path:
    """Write a matplotlib figure as a PNG at 150 dots per inch (recorded in the file), close it, return the path.

    The picture is stored with a palette of 256 colours (Pillow, which matplotlib
    installs): plots use few colours, so it looks the same at a third of the size.
    """
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from autodiff.graph.figures import DPI

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    with Image.open(buffer) as image:
        quantized = image.convert("RGB").quantize(256, dither=Image.Dither.NONE)
        quantized.save(path, format="PNG", optimize=True, dpi=(DPI, DPI))
    return path


class Checks:
    """Printed comparisons of one quantity computed by two independent routes.

    Each check prints both numbers, their difference and the tolerance, and is
    remembered; `finish()` ends the demo with an error if any failed.
    """

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.count = 0

    def close(self, what: str, ours: float, theirs: float, tol: float, relative: bool = False) -> float:
        """Check |ours - theirs| <= tol (relative: divided by max(|ours|, |theirs|)); return the difference."""
        diff = abs(ours - theirs)
        if relative and diff:
            diff /= max(abs(ours), abs(theirs))
        kind = "relative difference" if relative else "|difference|"
        return self._report(f"{what}: {ours:.12g} vs {theirs:.12g}, {kind} {diff:.1e}", diff, tol)

    def small(self, what: str, diff: float, tol: float) -> float:
        """Check that an already computed difference (e.g. a max over many numbers) is <= tol."""
        return self._report(f"{what}: {diff:.1e}", diff, tol)

    def _report(self, text: str, diff: float, tol: float) -> float:
        self.count += 1
        ok = diff <= tol  # False for nan
        print(f"  check: {text} <= {tol:.0e}: {'ok' if ok else 'FAILED'}")
        if not ok:
            self.failed.append(text)
        return diff

    def finish(self) -> None:
        """Print a summary line; exit with an error naming the failed checks, if any."""
        if self.failed:
            raise SystemExit(f"error: {len(self.failed)} of {self.count} checks failed: {'; '.join(self.failed)}")
        print(f"all {self.count} checks passed")


def grid(X: Sequence[Sequence[float]], steps: int = 100, margin: float = 0.5) -> tuple[Any, Any, Any]:
    """A steps x steps grid of points covering the 2-D points X: (xx, yy, points), points as (steps^2, 2)."""
    import numpy as np

    data = np.asarray(X, dtype=float)
    lo, hi = data.min(axis=0) - margin, data.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], steps), np.linspace(lo[1], hi[1], steps))
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def model_logits(model: Any) -> Any:
    """The model's single output as a function of its inputs, compiled once: `f.batch(points)` is one numpy call.

    `autodiff.compile` reads the parameters' current values at every call, so the
    same compiled function follows the model through training.
    """
    import autodiff

    return autodiff.compile(lambda *x: model(list(x)), [0.0] * model.nin, params=model.parameters())
