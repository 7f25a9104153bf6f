"""Speed and memory of the autodiff engine against micrograd 0.1.0, side by side in one run.

    pip install -e ".[bench]"
    python -m demos.benchmark            # about five minutes on a 2-core machine
    python -m demos.benchmark --quick    # smaller workloads, fewer repeats
    python -m demos.benchmark --engine   # only the engine section (demos/bench_engine.py)
    python -m demos.benchmark --compiled # only the compiled section (demos/bench_compiled.py)
    python -m demos.benchmark --parser   # only the expression parser of `autodiff graph` (seconds)
    python -m demos.benchmark --microgpt # microgpt's GPT on three engines (demos/bench_microgpt.py)

The engines take turns (interleaved repeats) and each figure is a median, so a
noisy neighbour slows both alike.

Sections:
  (a) one training step (forward, backward, SGD update) of a 2-16-16-1 ReLU MLP on
      100 two-moons points, mean hinge loss + 1e-4 * L2, as in micrograd's demo, by
      the eager engine, `autodiff.compile` (per example on floats, and as one numpy
      batch), numpy matrices written by hand and micrograd; all start from the same
      weights and must agree on the first loss. Every timing ends with gc.collect():
      freeing a step's graph is part of a training loop's real cost, and micrograd's
      closures make reference cycles that only the cycle collector frees;
  (b) the engine against micrograd phase by phase (build, backward, free), with the
      cyclic GC off and on: a 100,000-node DAG, a chain of 100,000 steps with numeric
      constants, and the step of (a) (demos/bench_engine.py);
  (c) build and backward of a chain of 1,000,000 ops (x -> x*1.0001 + 0.0001, 500,000 times);
  (d) bytes per node of (b)'s DAG, measured by tracemalloc;
  (e) the step of (a) through `autodiff.compile`'s numpy batches at 32 to 100,000
      points, per example, against numpy matrices, PyTorch and jax.jit on one core
      (demos/bench_compiled.py, in a process of its own).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import autodiff
from autodiff import Value
from demos import bench_engine
from demos.bench_engine import build_dag, dag_plan
from demos.common import missing_extra_in_one_line
from nn.data import make_moons

try:
    import micrograd.engine
    import micrograd.nn
except ImportError:  # the bench extra is not installed
    micrograd = None


# --- (a) a training step -------------------------------------------------------
def mlp_weights(seed: int) -> list[list[tuple[list[float], float]]]:
    """Weights of a 2-16-16-1 MLP as micrograd initialises them: uniform(-1, 1), bias 0."""
    rng = random.Random(seed)
    sizes = [2, 16, 16, 1]
    return [
        [([rng.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)] for nin, nout in zip(sizes, sizes[1:])
    ]


class MoonsMLP:
    """The 2-16-16-1 ReLU MLP of workload (a), written with Values only: one `dot` node per neuron."""

    def __init__(self, weights) -> None:
        self.layers = [[([Value(w) for w in ws], Value(b)) for ws, b in layer] for layer in weights]
        self.params = [p for layer in self.layers for ws, b in layer for p in (*ws, b)]

    def score(self, x1: Value, x2: Value) -> Value:
        activations = [x1, x2]
        for depth, layer in enumerate(self.layers):
            z = [autodiff.dot(ws, activations) + b for ws, b in layer]
            activations = [zi.relu() for zi in z] if depth < len(self.layers) - 1 else z
        return activations[0]

    def example_loss(self, x1: Value, x2: Value, label: Value) -> Value:
        """Hinge loss of one example plus the L2 term: its mean over a batch is the loss of (a)."""
        return (1 - label * self.score(x1, x2)).relu() + 1e-4 * autodiff.dot(self.params, self.params)

    def sgd(self, grads, lr: float) -> None:
        for p, g in zip(self.params, grads):
            p.data -= lr * g


def autodiff_training_step(weights, X, y, lr=0.05) -> Callable[[], float]:
    model = MoonsMLP(weights)

    def step() -> float:
        losses = [(1 - label * model.score(*map(Value, xs))).relu() for xs, label in zip(X, y)]
        loss = autodiff.sum(losses) * (1.0 / len(losses)) + 1e-4 * autodiff.dot(model.params, model.params)
        for p in model.params:
            p.grad = 0.0
        loss.backward()
        model.sgd([p.grad for p in model.params], lr)
        return loss.data

    return step


def compiled_training_steps(weights, X, y, lr=0.05) -> dict[str, Callable[[], float]]:
    """The same step through `autodiff.compile`: per example on floats, and as one numpy batch."""
    import numpy as np

    floats_model, numpy_model = MoonsMLP(weights), MoonsMLP(weights)
    on_floats = autodiff.compile(floats_model.example_loss, [0.0, 0.0, 1.0], params=floats_model.params)
    on_numpy = autodiff.compile(numpy_model.example_loss, [0.0, 0.0, 1.0], params=numpy_model.params)
    rows = [[*xs, label] for xs, label in zip(X, y)]
    batch = np.array(rows)  # converted once, as the matrix version converts X once

    def floats_step() -> float:
        total, grads = 0.0, [0.0] * len(floats_model.params)
        for row in rows:
            value, _, example_grads = on_floats.value_and_grad(row)
            total += value
            grads = [g + e for g, e in zip(grads, example_grads)]
        floats_model.sgd([g / len(rows) for g in grads], lr)
        return total / len(rows)

    def numpy_step() -> float:
        values, _, grads = on_numpy.batch_value_and_grad(batch)
        numpy_model.sgd((grads / len(rows)).tolist(), lr)  # floats: Values hold floats
        return float(values.mean())

    return {"compiled floats": floats_step, "compiled numpy": numpy_step}


def numpy_matrix_step(weights, X, y, lr=0.05) -> Callable[[], float]:
    """The same network and loss by hand with numpy matrices: the backprop equations BP1-BP4."""
    import numpy as np

    Ws = [np.array([ws for ws, _ in layer]) for layer in weights]
    bs = [np.array([b for _, b in layer]) for layer in weights]
    A0, labels = np.array(X, dtype=float).T, np.array(y, dtype=float)

    def step() -> float:
        zs, activations = [], [A0]
        for depth, (W, b) in enumerate(zip(Ws, bs)):
            zs.append(W @ activations[-1] + b[:, None])
            activations.append(np.maximum(zs[-1], 0.0) if depth < len(Ws) - 1 else zs[-1])
        margins = 1.0 - labels * activations[-1][0]
        n = len(labels)
        loss = np.maximum(margins, 0.0).mean() + 1e-4 * sum((W * W).sum() + (b * b).sum() for W, b in zip(Ws, bs))
        delta = (-labels * (margins > 0.0) / n)[None, :]  # d loss / d z of the output layer
        for depth in range(len(Ws) - 1, -1, -1):
            grad_W = delta @ activations[depth].T + 2e-4 * Ws[depth]
            grad_b = delta.sum(axis=1) + 2e-4 * bs[depth]
            if depth:
                delta = (Ws[depth].T @ delta) * (zs[depth - 1] > 0.0)
            Ws[depth] -= lr * grad_W
            bs[depth] -= lr * grad_b
        return float(loss)

    return step


def micrograd_training_step(weights, X, y, lr=0.05) -> Callable[[], float]:
    model = micrograd.nn.MLP(2, [16, 16, 1])
    for layer, layer_weights in zip(model.layers, weights):
        for neuron, (ws, b) in zip(layer.neurons, layer_weights):
            for p, w in zip(neuron.w, ws):
                p.data = w
            neuron.b.data = b

    def step() -> float:  # micrograd's own demo loss
        inputs = [list(map(micrograd.engine.Value, xs)) for xs in X]
        scores = list(map(model, inputs))
        losses = [(1 + -label * score).relu() for label, score in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        loss = data_loss + reg_loss
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= lr * p.grad
        return loss.data

    return step


# --- (c) a long chain, (d) memory --------------------------------------------------
def chain_build_and_backward(value_type, n: int) -> Callable[[], float]:
    """x -> x*1.0001 + 0.0001, n // 2 times: n op nodes, with numbers lifted into the graph at every step."""

    def run() -> float:
        x = value_type(0.5)
        y = x
        for _ in range(n // 2):
            y = y * 1.0001 + 0.0001
        y.backward()
        return x.grad

    return run


def bytes_per_node(value_type, inputs, layers) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        root = build_dag(value_type, inputs, layers)
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    nodes = len(inputs) * (len(layers) + 1) + len(inputs) - 1
    del root
    gc.collect()
    return retained / nodes


# --- timing -----------------------------------------------------------------------
def timed(run: Callable[[], object], collect: bool = True) -> tuple[float, object]:
    """Seconds for one run, freeing its garbage (gc.collect) inside the timing unless `collect` is off."""
    gc.collect()
    start = time.perf_counter()
    result = run()
    if collect:
        gc.collect()
    return time.perf_counter() - start, result


def compare(name: str, runs: dict[str, Callable[[], object]], repeats: int, collect: bool = True) -> dict[str, float]:
    """Median seconds per engine, the engines interleaved repeat by repeat."""
    times: dict[str, list[float]] = {engine: [] for engine in runs}
    failed: dict[str, str] = {}
    for _ in range(repeats):
        for engine, run in runs.items():
            if engine in failed:
                continue
            try:
                seconds, _ = timed(run, collect)
            except RecursionError:
                failed[engine] = "RecursionError"
                continue
            times[engine].append(seconds)
    medians = {engine: statistics.median(ts) for engine, ts in times.items() if ts}
    for engine, reason in failed.items():
        print(f"  {name}: {engine} failed with {reason} at recursion limit {sys.getrecursionlimit()}")
    return medians


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()} ({platform.system()})"


def row(label: str, ours: float | None, theirs: float | None, unit: str = "ms") -> str:
    def show(x: float | None) -> str:
        if x is None:
            return "-"
        return f"{x * 1e3:.1f} ms" if unit == "ms" else f"{x:.0f} B"

    ratio = f"{theirs / ours:.1f}x" if ours and theirs else "-"
    return f"| {label} | {show(ours)} | {show(theirs)} | {ratio} |"


@missing_extra_in_one_line("bench")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per engine (default 7)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads and 3 repeats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parser", action="store_true", help="time only the expression parser of `autodiff graph`")
    parser.add_argument("--compiled", action="store_true", help="only (e), the compiled section")
    parser.add_argument("--engine", action="store_true", help="only (b), the engine by phase, GC off and on")
    parser.add_argument("--dask", action="store_true", help="run demos/bench_dask.py instead, with its options")
    argv = sys.argv[1:] if argv is None else argv
    if "--dask" in argv:  # python -m demos.benchmark --dask --examples 1000000
        from demos import bench_dask

        return bench_dask.main([arg for arg in argv if arg != "--dask"])
    if "--microgpt" in argv:  # python -m demos.benchmark --microgpt --steps 200
        from demos import bench_microgpt

        return bench_microgpt.main([arg for arg in argv if arg != "--microgpt"])
    args = parser.parse_args(argv)
    if args.parser:
        parser_benchmark(args.repeats)
        return
    compiled_args = ["--seed", str(args.seed)] + (["--quick"] if args.quick else [])
    if args.compiled:
        from . import bench_compiled  # before numpy loads: it caps the thread pools at one thread

        bench_compiled.main(compiled_args)
        return
    repeats = 3 if args.quick else args.repeats
    engine_args = ["--rounds", str(repeats), "--seed", str(args.seed)] + (["--quick"] if args.quick else [])
    if args.engine:
        print(f"machine: {machine()}")
        bench_engine.main(engine_args)
        return
    width, depth, chain = (1000, 20, 100_000) if args.quick else (1000, 100, 1_000_000)

    engines = {"autodiff": Value}
    if micrograd is None:
        print('micrograd is not installed (pip install -e ".[bench]"): timing autodiff alone.')
    else:
        engines["micrograd"] = micrograd.engine.Value
    print(f"machine: {machine()}")
    print(f"repeats: {repeats}, medians, engines interleaved\n")

    X, y = make_moons(100, noise=0.1, seed=args.seed)
    labels = [2 * label - 1 for label in y]  # hinge loss labels -1 / +1
    weights = mlp_weights(args.seed)
    steps = {"autodiff": autodiff_training_step(weights, X, labels)}
    steps.update(compiled_training_steps(weights, X, labels))
    steps["numpy matrices"] = numpy_matrix_step(weights, X, labels)
    if micrograd is not None:
        steps["micrograd"] = micrograd_training_step(weights, X, labels)
    first = {name: step() for name, step in steps.items()}  # same weights: the same loss
    if any(abs(loss - first["autodiff"]) > 1e-12 * abs(first["autodiff"]) for loss in first.values()):
        raise SystemExit(f"the implementations disagree on the first loss: {first}")
    print(f"(a) all {len(steps)} implementations start at loss {first['autodiff']:.12f}")
    a = compare("(a)", steps, repeats)

    # (b) and (e) in processes of their own: a collection inside a timing scans the whole heap, which
    # here holds what (a) loaded; (e) also caps its thread pools before numpy loads.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where demos/ is importable
    print("\n(b) the engine by phase, GC off and on (demos/bench_engine.py)", flush=True)
    subprocess.run([sys.executable, "-m", "demos.bench_engine", *engine_args], check=True, cwd=root)

    inputs, layers = dag_plan(width, depth, args.seed)
    c = compare("(c)", {e: chain_build_and_backward(v, chain) for e, v in engines.items()}, max(1, repeats // 2))
    d = {engine: bytes_per_node(v, inputs, layers) for engine, v in engines.items()}

    model = MoonsMLP(weights)

    def compile_and_build() -> None:  # tracing, then the float program's generation on the first call
        autodiff.compile(model.example_loss, [0.0, 0.0, 1.0], model.params).value_and_grad([0.0, 0.0, 1.0])

    compile_time = statistics.median(timed(compile_and_build)[0] for _ in range(repeats))

    print("\n| workload | autodiff | micrograd 0.1.0 | micrograd / autodiff |")
    print("| --- | --- | --- | --- |")
    print(row("(a) MLP 2-16-16-1 training step, 100 moons points", a.get("autodiff"), a.get("micrograd")))
    print(row(f"(c) build + backward, chain of {chain:,} ops", c.get("autodiff"), c.get("micrograd")))
    print(row("(d) bytes per node of the DAG of (b)", d.get("autodiff"), d.get("micrograd"), unit="B"))

    print("\n| (a) training step, 100 points | time | micrograd / this |")
    print("| --- | --- | --- |")
    for name in ["autodiff", "compiled floats", "compiled numpy", "numpy matrices", "micrograd"]:
        if name in a:
            ratio = f"{a['micrograd'] / a[name]:.0f}x" if "micrograd" in a else "-"
            print(f"| {'autodiff eager' if name == 'autodiff' else name} | {a[name] * 1e3:.2f} ms | {ratio} |")

    saved = a["autodiff"] - a["compiled floats"]
    print(
        f"\ncompiling the per-example loss (tracing and generating its float program) takes "
        f"{compile_time * 1e3:.1f} ms; on floats it pays for itself "
        f"after {compile_time / saved:.1f} steps of 100 points"
        if saved > 0
        else ""
    )

    print("\n(e) the step of (a) through compiled numpy batches, one core (demos/bench_compiled.py)", flush=True)
    subprocess.run([sys.executable, "-m", "demos.bench_compiled", *compiled_args], check=True, cwd=root)


# --- the expression parser of `autodiff graph` ---------------------------------------
def parser_benchmark(repeats: int) -> None:
    """Parse, and parse + evaluate + backward, long expressions inside every documented limit.

    Parsing was once quadratic in the text's length (the text of every node was cut out of the whole text,
    in case an error message needed it): 11.6 s for the max of 4,997 arguments. It is linear now; this shows it.
    """
    from autodiff.expression import MAX_LENGTH, parse_expression

    texts = {
        "softplus(x) + softplus(x) + ..., 833 terms": "+".join(["softplus(x)"] * 833),
        "max(x, x, ...), 4,997 arguments": "max(" + ",".join(["x"] * 4997) + ")",
        "x * x * ..., 1,000 operators": "*".join(["x"] * 1001),
    }
    print(f"machine: {machine()}")
    print(f"repeats: {repeats}, medians; texts of at most {MAX_LENGTH:,} characters (the limit)\n")
    print("| expression | characters | parse | parse + evaluate + backward |")
    print("| --- | --- | --- | --- |")
    for label, text in texts.items():
        assert len(text) <= MAX_LENGTH, label

        def run_all(text: str = text) -> None:
            out, _ = parse_expression(text).evaluate({"x": 0.5})
            out.backward()

        parse = statistics.median(
            timed(lambda text=text: parse_expression(text), collect=False)[0] for _ in range(repeats)
        )
        total = statistics.median(timed(run_all, collect=False)[0] for _ in range(repeats))
        print(f"| {label} | {len(text):,} | {parse * 1e3:.1f} ms | {total * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
