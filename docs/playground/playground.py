"""The playground's Python side, run in Pyodide by worker.js on the engine unpacked from engine.zip.

Each function takes plain values from the page and returns a dict for it (numbers, strings, lists):
an expression through the `autodiff graph` command line itself, a cell of the visitor's code, and
the moons MLP trained a few steps at a time. An error comes back as one line, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import traceback
from collections.abc import Callable

import tqdm

import autodiff
import nn
from autodiff.cli import main as autodiff_command
from autodiff.graph import set_wasm_renderer

# Pyodide has no threads: tqdm's monitor thread (started even for a disabled bar) would only warn that it cannot.
tqdm.tqdm.monitor_interval = 0

PAGE = "/tmp/backward.html"
CELL = "<cell>"


def lend_graphviz(render: Callable[[str], str]) -> None:
    """Draw with the page's Graphviz (WebAssembly, from npm): renderer="wasm" calls `render(dot_source)`."""
    set_wasm_renderer(lambda source: str(render(source)))


# --- an expression, as `autodiff graph` runs it --------------------------------------------------------------


def expression(text: str, inputs: str) -> dict:
    """Run `autodiff graph TEXT --at INPUTS --explain -o page.html`: its printed lines and its page, or its error.

    `inputs` is NAME=VALUE items separated by spaces or commas ("x1=2, x2=5"), the --at of the command line.
    """
    items = [item for item in re.split(r"[\s,;]+", inputs.strip()) if item]
    argv = ["graph", "--renderer", "wasm", "--explain", "-o", PAGE, *(["--at", *items] if items else []), "--", text]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = autodiff_command(argv)
    if code != 0:
        lines = err.getvalue().strip().splitlines() or [f"autodiff graph stopped with exit code {code}"]
        return {"error": lines[-1]}
    printed = [line for line in out.getvalue().splitlines() if line != f"wrote {PAGE}"]
    with open(PAGE, encoding="utf-8") as page:
        return {"lines": printed, "page": page.read()}


# --- a cell of the visitor's own code ------------------------------------------------------------------------


def run_cell(code: str) -> dict:
    """Run the visitor's code (their own, in their own browser); `show(value)` in it picks the graph to step through.

    Returns what it printed, the page of the last value shown, and its error as one line with the cell's line.
    """
    pages: list[str] = []

    def show(value: autodiff.Value, **options) -> None:
        """Step through value's backward pass below the cell (to_html's page; options as for to_html)."""
        pages.append(autodiff.to_html(value, renderer="wasm", **options))

    namespace = {"__name__": "__cell__", "show": show}
    output = io.StringIO()
    error = None
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            exec(compile(code, CELL, "exec"), namespace)  # the visitor's own program, as a notebook cell runs it
        except Exception as raised:  # noqa: BLE001 - any error of theirs becomes its line
            error = one_line(raised)
    return {"output": output.getvalue(), "error": error, "page": pages[-1] if pages else None}


def one_line(error: BaseException) -> str:
    """`line N: Type: message` for an error raised by a cell (N: the last line of the cell on its way)."""
    line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == CELL:
            line = frame.lineno
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    first = message.strip().splitlines()[0] if message.strip() else ""
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return f"line {line}: {text}" if line is not None else text


# --- the moons MLP, trained a few steps at a time -------------------------------------------------------------


class Moons:
    """An MLP learning make_moons by minibatch Adam on the binary cross-entropy, one train_step at a time."""

    def __init__(self, seed: int = 0, n: int = 200, noise: float = 0.15, hidden: tuple[int, ...] = (16, 16),
                 lr: float = 0.05, batch_size: int = 20) -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.X, self.y = nn.data.make_moons(n, noise=noise, seed=self.rng)
        self.model = nn.MLP(2, [*hidden, 1], activation="relu", seed=self.rng)
        self.optimizer = nn.optim.Adam(self.model.parameters(), lr=lr)
        self.batch_size = batch_size
        self.steps = 0
        self._batches: list = []
        # The model's output compiled once by the engine: reads the current parameters at every call.
        self.logit = autodiff.compile(lambda *x: self.model(list(x)), [0.0, 0.0], params=self.model.parameters())
        xs, ys = [p[0] for p in self.X], [p[1] for p in self.X]
        self.box = (min(xs) - 0.5, max(xs) + 0.5, min(ys) - 0.5, max(ys) + 0.5)

    def step(self, n: int = 1) -> dict:
        """Take n minibatch steps; returns each one's batch loss and the state after them."""
        losses = []
        for _ in range(n):
            if not self._batches:  # a new epoch, shuffled
                self._batches = list(nn.data.batches(self.X, self.y, self.batch_size, shuffle=True, seed=self.rng))
            Xb, yb = self._batches.pop(0)
            result = nn.train.train_step(self.model, nn.losses.binary_cross_entropy, self.optimizer, Xb, yb)
            losses.append(result.loss)
            self.steps += 1
        return {"batch_losses": losses, **self.state()}

    def state(self, size: int = 40) -> dict:
        """The step, the loss and accuracy on all points, and the boundary: sigmoid(logit) on a size × size grid."""
        scores = nn.train.evaluate(self.model, self.X, self.y, loss="binary_cross_entropy")
        x0, x1, y0, y1 = self.box
        grid = [
            self.logit([x0 + (x1 - x0) * (i + 0.5) / size, y1 - (y1 - y0) * (j + 0.5) / size])
            for j in range(size)
            for i in range(size)
        ]
        points = {"points": [list(p) for p in self.X], "labels": list(self.y), "box": list(self.box)}
        return {"step": self.steps, "loss": scores["loss"], "accuracy": scores["accuracy"], "grid": grid,
                "size": size, **points}  # fmt: skip
