"""The eager engine against micrograd 0.1.0, phase by phase, with the cyclic GC off and on.

    python -m demos.benchmark --engine          # this section alone
    python -m demos.bench_engine --quick        # smaller workloads, fewer rounds

Each workload runs in rounds, the engines interleaved round by round, and every
figure is a median over the rounds. Two settings:

- GC off: `gc.disable()` around the timed work, so only the engine's own work is
  timed. "free" is the time of dropping the last reference to the graph (reference
  counting frees our graph; micrograd's reference cycles stay until a collection,
  which runs untimed after the round).
- GC on: the cyclic collector runs as in a normal program, and "free" includes the
  `gc.collect()` that reclaims whatever dropping the graph left behind: what a
  training loop pays to get its memory back.

Workloads:
  dag    build, backward and free a 100,000-node DAG of +, * and relu with heavy reuse
         (the plan of `dag_plan`: every node is read by about two others);
  chain  x -> x*1.0001 + 0.0001 for 100,000 steps, numeric constants lifted into the
         graph at every step (200,000 op nodes), timed as build + backward + free;
  moons  one eager training step of the 2-16-16-1 MLP on 100 moons points (forward,
         backward and SGD update; see `demos/bench_moons.py`).
  anomaly
         node creation (the chain's build, GC off) outside any mode block, with
         `detect_anomaly()` open in another thread, and inside `detect_anomaly()`
         (`python -m demos.bench_engine --anomaly` runs this one alone).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from autodiff import Value
from demos.bench_common import machine

try:
    import micrograd.engine
except ImportError:  # the bench extra is not installed
    micrograd = None

PHASES = ("forward", "backward", "free")


def dag_plan(width: int, depth: int, seed: int = 0) -> tuple[list[float], list[list[tuple[str, int, int]]]]:
    """A layered DAG as a plan both engines replay: node k of a layer reads node k of
    the layer below and one random node of it (so every node is reused ~twice).
    Ops are chosen on floats so that every value stays within +-4."""
    import random

    rng = random.Random(seed)
    inputs = [rng.uniform(-1, 1) for _ in range(width)]
    below, layers = inputs, []
    for _ in range(depth):
        layer, values = [], []
        for k in range(width):
            j = rng.randrange(width)
            a, b = below[k], below[j]
            candidates = {"+": a + b, "*": a * b, "relu": max(a, 0.0)}
            op = rng.choice(["+", "*", "*", "relu"])
            if abs(candidates[op]) > 4:
                op = "*" if abs(a * b) <= 4 else "relu"
            layer.append((op, k, j))
            values.append(candidates[op])
        layers.append(layer)
        below = values
    return inputs, layers


def build_dag(value_type, inputs, layers):
    below = [value_type(x) for x in inputs]
    for layer in layers:
        below = [below[k] + below[j] if op == "+" else below[k] * below[j] if op == "*" else below[k].relu()
                 for op, k, j in layer]  # fmt: skip
    while len(below) > 1:  # a balanced tree of + makes one root
        below = [below[i] + below[i + 1] for i in range(0, len(below) - 1, 2)] + below[len(below) // 2 * 2 :]
    return below[0]


def build_chain(value_type, n: int):
    x = value_type(0.5)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0001
    return y


def phases(build: Callable[[], object], gc_on: bool) -> dict[str, float]:
    """Seconds of each phase of one run: build the graph, backward, free it."""
    gc.collect()
    if not gc_on:
        gc.disable()
    try:
        start = time.perf_counter()
        root = build()
        built = time.perf_counter()
        root.backward()
        done = time.perf_counter()
        del root
        if gc_on:
            gc.collect()
        freed = time.perf_counter()
    finally:
        gc.enable()
    gc.collect()  # untimed: what GC off left behind
    return {"forward": built - start, "backward": done - built, "free": freed - done}


def compare_phases(builds: dict[str, Callable[[], object]], rounds: int, gc_on: bool) -> dict[str, dict[str, float]]:
    """Median seconds per engine and phase, the engines interleaved round by round."""
    times: dict[str, dict[str, list[float]]] = {name: {p: [] for p in PHASES} for name in builds}
    for _ in range(rounds):
        for name, build in builds.items():
            for phase, seconds in phases(build, gc_on).items():
                times[name][phase].append(seconds)
    return {name: {p: statistics.median(ts) for p, ts in by_phase.items()} for name, by_phase in times.items()}


def compare_steps(steps: dict[str, Callable[[], float]], rounds: int, gc_on: bool) -> dict[str, float]:
    """Median seconds of one training step per engine; with GC on, the step's garbage is collected inside it."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            gc.collect()
            if not gc_on:
                gc.disable()
            try:
                start = time.perf_counter()
                step()
                if gc_on:
                    gc.collect()
                times[name].append(time.perf_counter() - start)
            finally:
                gc.enable()
    return {name: statistics.median(ts) for name, ts in times.items()}


def report_phases(title: str, medians: dict[str, dict[str, float]], per: int, unit: str) -> None:
    print(f"\n{title}")
    print(f"| engine | forward | backward | free | total | per {unit} |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, by_phase in medians.items():
        total = sum(by_phase.values())
        cells = " | ".join(f"{by_phase[p] * 1e3:.1f} ms" for p in PHASES)
        print(f"| {name} | {cells} | {total * 1e3:.1f} ms | {total / per * 1e9:,.0f} ns |")
    if "micrograd" in medians:
        ours, theirs = medians["autodiff"], medians["micrograd"]
        ratios = [f"{p} {theirs[p] / ours[p]:.2f}x" for p in PHASES if ours[p] > 0]
        ratios.append(f"total {sum(theirs.values()) / sum(ours.values()):.2f}x")
        print(f"micrograd / autodiff: {', '.join(ratios)}")


def anomaly_overhead(rounds: int, n: int) -> dict[str, float]:
    """Median nanoseconds per node of building the chain of `n` steps (2n op nodes, GC off), in three
    settings interleaved round by round: outside any mode block (node creation never reaches the
    recording hook), with `detect_anomaly()` open in another thread (each node asks this thread's
    state), and inside `detect_anomaly()` (each node records where it was created)."""
    import threading

    import autodiff

    def build() -> float:
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            root = build_chain(Value, n)
            seconds = time.perf_counter() - start
        finally:
            gc.enable()
        del root
        return seconds / (2 * n) * 1e9

    def in_block() -> float:
        with autodiff.detect_anomaly():
            return build()

    def block_elsewhere() -> float:
        opened, done = threading.Event(), threading.Event()

        def hold() -> None:
            with autodiff.detect_anomaly():
                opened.set()
                done.wait()

        holder = threading.Thread(target=hold)
        holder.start()
        opened.wait()
        try:
            return build()
        finally:
            done.set()
            holder.join()

    settings = {
        "outside any block": build,
        "detect_anomaly() open in another thread": block_elsewhere,
        "inside detect_anomaly()": in_block,
    }
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(rounds):
        for name, measure in settings.items():
            times[name].append(measure())
    return {name: statistics.median(ts) for name, ts in times.items()}


def report_anomaly(rounds: int, n: int) -> None:
    medians = anomaly_overhead(rounds, n)
    base = medians["outside any block"]
    print(f"\nanomaly mode: node creation, chain of {n:,} steps ({2 * n:,} op nodes), GC off")
    print("| setting | per op node | / outside |")
    print("| --- | --- | --- |")
    for name, ns in medians.items():
        print(f"| {name} | {ns:,.0f} ns | {ns / base:.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", "--repeats", type=int, default=7, help="interleaved rounds per workload (default 7)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller workloads and 3 rounds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--anomaly", action="store_true", help="only the cost of anomaly mode on node creation")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    print(f"machine: {machine()}")
    if args.anomaly:
        report_anomaly(rounds, 20_000 if args.quick else 100_000)
        return
    run(rounds=rounds, quick=args.quick, seed=args.seed)


def run(rounds: int, quick: bool, seed: int) -> None:
    """Print the engine tables: DAG and chain by phase, and the moons step, GC off and on."""
    import sys

    from demos.bench_moons import autodiff_training_step, micrograd_training_step, mlp_weights
    from nn.data import make_moons

    engines = {"autodiff": Value}
    if micrograd is None:
        print("micrograd is not installed (pip install -e '.[bench]'): timing autodiff alone.")
    else:
        engines["micrograd"] = micrograd.engine.Value
    width, depth, chain = (1000, 20, 20_000) if quick else (1000, 100, 100_000)
    nodes = width * (depth + 2) - 1
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 10 * (depth + 2 * chain)))  # micrograd's topological sort recurses
    try:
        inputs, layers = dag_plan(width, depth, seed)
        dag_builds = {name: (lambda v=v: build_dag(v, inputs, layers)) for name, v in engines.items()}
        chain_builds = {name: (lambda v=v: build_chain(v, chain)) for name, v in engines.items()}
        for gc_on in (False, True):
            setting = "GC on" if gc_on else "GC off"
            report_phases(f"dag: {nodes:,} nodes, {setting}", compare_phases(dag_builds, rounds, gc_on), nodes, "node")
            report_phases(
                f"chain: x -> x*1.0001 + 0.0001, {chain:,} steps ({2 * chain:,} op nodes), {setting}",
                compare_phases(chain_builds, rounds, gc_on),
                2 * chain,
                "op node",
            )
    finally:
        sys.setrecursionlimit(old_limit)

    X, y = make_moons(100, noise=0.1, seed=seed)
    labels = [2 * label - 1 for label in y]
    weights = mlp_weights(seed)
    steps = {"autodiff": autodiff_training_step(weights, X, labels)}
    if micrograd is not None:
        steps["micrograd"] = micrograd_training_step(weights, X, labels)
    print("\nmoons: one eager training step, 2-16-16-1 MLP, 100 points")
    print("| engine | GC off | GC on |")
    print("| --- | --- | --- |")
    by_gc = {gc_on: compare_steps(steps, rounds, gc_on) for gc_on in (False, True)}
    for name in steps:
        print(f"| {name} | {by_gc[False][name] * 1e3:.1f} ms | {by_gc[True][name] * 1e3:.1f} ms |")
    if micrograd is not None:
        off, on = (by_gc[g]["micrograd"] / by_gc[g]["autodiff"] for g in (False, True))
        print(f"micrograd / autodiff: GC off {off:.1f}x, GC on {on:.1f}x")
    report_anomaly(rounds, chain)


if __name__ == "__main__":
    main()
