"""Speed and memory of the autodiff engine against micrograd 0.1.0, side by side in one run.

    pip install -e ".[bench]"
    python -m demos.benchmark            # this module: about five minutes on a 2-core machine
    python -m demos.benchmark --quick    # smaller workloads, fewer repeats

The engines take turns (interleaved repeats) and each figure is a median, so a
noisy neighbour slows both alike.

Sections:
  (a) one training step (forward, backward, SGD update) of a 2-16-16-1 ReLU MLP on
      100 two-moons points, mean hinge loss + 1e-4 * L2, as in micrograd's demo, by
      the eager engine (demos/bench_moons.py), `autodiff.compile` (per example on floats, and as one numpy
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
import statistics
import subprocess
import sys
import tracemalloc
from collections.abc import Callable

import autodiff
from autodiff import Value
from demos.bench_common import compare, machine, timed
from demos.bench_engine import build_dag, dag_plan
from demos.bench_moons import (
    MoonsMLP,
    autodiff_training_step,
    compiled_training_steps,
    micrograd,
    micrograd_training_step,
    mlp_weights,
    numpy_matrix_step,
)
from nn.data import make_moons


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


def row(label: str, ours: float | None, theirs: float | None, unit: str = "ms") -> str:
    def show(x: float | None) -> str:
        if x is None:
            return "-"
        return f"{x * 1e3:.1f} ms" if unit == "ms" else f"{x:.0f} B"

    ratio = f"{theirs / ours:.1f}x" if ours and theirs else "-"
    return f"| {label} | {show(ours)} | {show(theirs)} | {ratio} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per engine (default 7)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads and 3 repeats")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    compiled_args = ["--seed", str(args.seed)] + (["--quick"] if args.quick else [])
    repeats = 3 if args.quick else args.repeats
    engine_args = ["--rounds", str(repeats), "--seed", str(args.seed)] + (["--quick"] if args.quick else [])
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


if __name__ == "__main__":
    main()
