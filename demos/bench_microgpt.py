"""microgpt's training step on three engines, side by side in one run, with the cyclic GC as Python sets it.

    python -m demos.benchmark --microgpt            # 10-20 minutes on a 2-core machine (1,000-step runs)
    python -m demos.bench_microgpt --quick          # 4 names per step figure, 20-step runs
    python -m demos.bench_microgpt --steps 200      # shorter full runs

The same names in the same order, from the same initial weights (microgpt's, seed 42):

  gist / microgpt engine   the gist's per-scalar program (demos/microgpt_reference.py) on
                           `LocalGradValue`, an engine in microgpt's style: local
                           derivatives stored at forward time, a recursive topological sort;
  gist / autodiff.Value    the same program, op for op, on our Value (what a user gets by
                           swapping it into the gist);
  nn.GPT eager             `nn.GPT` with fused nodes (a `dot` per output, one `rms_scale`
                           node per RMSNorm, `logsumexp`), `nn.gpt_train.train_step`;
  nn.GPT compiled          the same loss through `autodiff.compile`, one program per length
                           padded to a power of two, compiled when first needed (in (c) only).

Sections:
  (a), (b) seconds per training step (forward, backward, Adam), the engines interleaved step
      by step (the order rotating), medians over the names; every engine's loss must equal the
      microgpt engine's to 1e-9 at every step. The collector keeps Python's default thresholds;
      what exists before the first step (the names, every engine's weights) is frozen out of it
      (gc.freeze), so that one engine's collections do not walk the other engines' weights, and
      an untimed gc.collect() before each step frees what the previous engine left (the
      microgpt engine's graph outlives its step: its recursive sort is a closure that refers to
      itself, a reference cycle only the collector frees). With the GC on, then off;
  where the time goes: each engine's phases (forward, backward, update), nodes and edges per
      step, and the collections (by generation) and seconds inside the collector per step;
  (c) a full run of --steps steps (default 1,000) of each engine, each in a fresh Python process
      as a user would run it (GC as Python sets it, nothing frozen or forced), the four processes
      taking turns 50 steps at a time; the compiled run includes its compilations. Its losses must
      equal the microgpt engine's to 1e-9 at every step.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import autodiff
import nn
from demos.bench_common import machine
from demos.common import int_between
from demos.microgpt_reference import LocalGradValue, ScalarGPT
from nn.gpt_train import CompiledSteps, microgpt_adam

CONFIG = {"n_embd": 16, "n_head": 4, "n_layer": 1, "block_size": 16}
TOLERANCE = 1e-9  # on every loss, against the microgpt engine's
VOCAB = 27  # a-z and BOS


@dataclass
class Engine:
    """One way to train: a step in three phases, and how to measure its graph."""

    name: str
    forward: Callable[[list[int]], Any]  # tokens -> the loss (a node, or a float when compiled)
    backward: Callable[[Any], None]
    update: Callable[[], None]
    parents: Callable[[Any], tuple] | None = None  # node -> its inputs, to count the graph
    losses: list[float] = field(default_factory=list)

    def step(self, tokens: list[int]) -> float:
        loss = self.forward(tokens)
        self.backward(loss)
        self.update()
        value = loss if isinstance(loss, float) else loss.data
        self.losses.append(value)
        return value


def gist_engine(name: str, value_type: type, weights: list[float], steps: int) -> Engine:
    """The gist's program on `value_type`, from `weights`, its learning rate decaying over `steps`."""
    model = ScalarGPT(value_type, VOCAB, **CONFIG, rng=random.Random(0), num_steps=steps)
    for p, w in zip(model.params, weights):
        p.data = w
    parents = (lambda node: node._children) if value_type is LocalGradValue else (lambda node: node.parents)
    return Engine(name, model.loss, lambda loss: loss.backward(), model.update, parents)


def nn_engine(name: str, weights: list[float], steps: int, compiled: bool = False) -> Engine:
    """nn.GPT from `weights`, with microgpt's Adam over `steps`: eager, or compiled per padded length."""
    model = nn.GPT(VOCAB, **CONFIG, seed=0)
    for p, w in zip(model.parameters(), weights):
        p.data = w
    optimizer = microgpt_adam(model.parameters(), num_steps=steps)
    if compiled:
        compiled_steps = CompiledSteps(model)
        compiling = [0.0]  # seconds of the steps that compiled a program (tracing, generating, the first run)

        def value_and_grad(tokens: list[int]) -> float:
            programs, started = len(compiled_steps.compiled), time.perf_counter()
            loss, grads = compiled_steps.value_and_grad(tokens)
            if len(compiled_steps.compiled) > programs:
                compiling[0] += time.perf_counter() - started
            for p, g in zip(compiled_steps.all_params, grads):
                p.grad = g
            return loss

        engine = Engine(name, value_and_grad, lambda loss: None, optimizer.step)
        engine.compiled, engine.compiling = compiled_steps, compiling  # type: ignore[attr-defined]
        return engine

    def backward(loss: autodiff.Value) -> None:
        optimizer.zero_grad()
        loss.backward()

    return Engine(name, model.loss, backward, optimizer.step, lambda node: node.parents)


# --- the collector's work, per engine ----------------------------------------------------
class CollectorLog:
    """Counts collections by generation and the seconds inside them, charged to the engine running."""

    def __init__(self) -> None:
        self.current = ""
        self.counts: dict[str, list[int]] = {}
        self.seconds: dict[str, float] = {}
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.counts.setdefault(self.current, [0, 0, 0])[info["generation"]] += 1
        self.seconds[self.current] = self.seconds.get(self.current, 0.0) + time.perf_counter() - self._started

    def __enter__(self) -> CollectorLog:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


# --- (a), (b): per step, interleaved ----------------------------------------------------------
@dataclass
class StepTimes:
    phases: dict[str, dict[str, list[float]]]  # engine -> phase -> seconds per step
    graph: dict[str, tuple[int, int]]  # engine -> (nodes, edges) of its first step
    collector: dict[str, tuple[list[int], float]]  # engine -> (collections by generation, seconds), totals


PHASES = ("forward", "backward", "update", "free")


def per_step(engines: list[Engine], names: list[list[int]], collect_on: bool) -> StepTimes:
    """Time each engine's steps on `names`, interleaved name by name, the order rotating; GC on or off."""
    phases = {e.name: {phase: [] for phase in (*PHASES, "step", "cpu")} for e in engines}
    sizes: dict[str, tuple[int, int]] = {}
    was_enabled = gc.isenabled()
    with CollectorLog() as log:
        try:
            for i, tokens in enumerate(names):
                for engine in engines[i % len(engines) :] + engines[: i % len(engines)]:
                    log.current = ""
                    gc.collect()  # what the previous engine left is not this one's cost
                    if not collect_on:
                        gc.disable()
                    log.current = engine.name
                    measure = i == 0 and engine.parents is not None
                    timings = timed_step(engine, tokens, collect_on, log, sizes if measure else None)
                    log.current = ""  # a collection that enabling the GC sets off is not the step's
                    for phase, seconds in timings.items():
                        phases[engine.name][phase].append(seconds)
                    if was_enabled:
                        gc.enable()
        finally:
            if was_enabled:
                gc.enable()
    collector = {e.name: (log.counts.get(e.name, [0, 0, 0]), log.seconds.get(e.name, 0.0)) for e in engines}
    return StepTimes(phases, sizes, collector)


def timed_step(
    engine: Engine, tokens: list[int], collect_on: bool, log: CollectorLog, sizes: dict | None
) -> dict[str, float]:
    """One step, phase by phase. "free" drops the graph and, with the GC on, ends with gc.collect(): freeing a
    step's graph is part of a training loop's cost (the microgpt engine's graph is freed only by a collection).
    That forced collection is timed in "free" but not counted in the log, which counts the collector's own."""
    cpu = time.process_time()
    t0 = time.perf_counter()
    loss = engine.forward(tokens)
    t1 = time.perf_counter()
    engine.backward(loss)
    t2 = time.perf_counter()
    engine.update()
    t3 = time.perf_counter()
    engine.losses.append(loss.data)
    if sizes is not None:  # counted outside the timing: the graph walk is not the engine's work
        walk = time.perf_counter()
        sizes[engine.name] = graph_size(loss, engine.parents)
        t3 += time.perf_counter() - walk
    del loss
    if collect_on:
        log.current = ""
        gc.collect()
    t4 = time.perf_counter()
    cpu = time.process_time() - cpu
    return {"forward": t1 - t0, "backward": t2 - t1, "update": t3 - t2, "free": t4 - t3, "step": t4 - t0, "cpu": cpu}


def graph_size(root: Any, parents: Callable[[Any], tuple]) -> tuple[int, int]:
    """(nodes, edges) of the graph under root, walked iteratively."""
    seen, stack, edges = {id(root)}, [root], 0
    while stack:
        node = stack.pop()
        for parent in parents(node):
            edges += 1
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return len(seen), edges


# --- (c): full runs, each in a process of its own ------------------------------------------------
ENGINES = {"microgpt": "gist / microgpt engine", "value": "gist / autodiff.Value", "eager": "nn.GPT eager",
           "compiled": "nn.GPT compiled"}  # fmt: skip


def make_engine(key: str, weights: list[float], steps: int) -> Engine:
    if key in ("microgpt", "value"):
        return gist_engine(ENGINES[key], LocalGradValue if key == "microgpt" else autodiff.Value, weights, steps)
    return nn_engine(ENGINES[key], weights, steps, compiled=key == "compiled")


CHUNK = 50  # steps a full run advances in its turn


def serve(key: str, weights: list[float], names: list[list[int]]) -> None:
    """A worker of (c): build one engine, then run the steps each line of stdin asks for ("start stop"), answering
    each with a JSON line: that chunk's wall-clock and CPU seconds and its losses. An empty line ends it."""
    engine = make_engine(key, weights, len(names))
    print(json.dumps({"ready": key}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        start, stop = map(int, line.split())
        cpu, started = time.process_time(), time.perf_counter()
        for tokens in names[start:stop]:
            engine.step(tokens)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        compiling = engine.compiling[0] if key == "compiled" else 0.0  # type: ignore[attr-defined]
        answer = {"seconds": seconds, "cpu": cpu, "losses": engine.losses[start:stop], "compiling": compiling}
        print(json.dumps(answer), flush=True)


def full_runs(steps: int, seed: int) -> dict[str, dict]:
    """Every engine's whole run, each in a Python process of its own (its GC sees only its own objects, as in a
    user's run), advanced CHUNK steps at a time in turn, so that a busy neighbour slows every engine alike."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where demos/ is importable
    workers = {
        key: subprocess.Popen([sys.executable, "-m", "demos.bench_microgpt", "--serve", key, "--steps", str(steps),
                               "--seed", str(seed)], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for key in ENGINES
    }  # fmt: skip
    runs = {key: {"seconds": 0.0, "cpu": 0.0, "losses": [], "compiling": 0.0} for key in ENGINES}
    try:
        for key, worker in workers.items():
            answer_of(key, worker)  # built its engine
        for start in range(0, steps, CHUNK):
            for key, worker in workers.items():
                worker.stdin.write(f"{start} {min(start + CHUNK, steps)}\n")
                worker.stdin.flush()
                answer = answer_of(key, worker)
                run = runs[key]
                run["seconds"] += answer["seconds"]
                run["cpu"] += answer["cpu"]
                run["losses"] += answer["losses"]
                run["compiling"] = answer["compiling"]
    finally:
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()
    return {ENGINES[key]: run for key, run in runs.items()}


def answer_of(key: str, worker: subprocess.Popen) -> dict:
    """The worker's next answer, or a one-line error if it ended without one (its error is on the terminal)."""
    line = worker.stdout.readline()
    if not line:
        raise SystemExit(
            f"error: the worker of {ENGINES[key]!r} ended (exit code {worker.wait()}); see its error above"
        )
    return json.loads(line)


def check_losses(losses: dict[str, list[float]], reference: str, what: str) -> float:
    """The largest |loss - the reference's loss| over every engine and step; an error past TOLERANCE."""
    worst = 0.0
    for name, engine_losses in losses.items():
        for step, (ours, theirs) in enumerate(zip(engine_losses, losses[reference])):
            worst = max(worst, abs(ours - theirs))
            if abs(ours - theirs) > TOLERANCE:
                raise SystemExit(f"{what}: {name} at step {step + 1}: loss {ours!r}, the microgpt engine's "
                                 f"{theirs!r}, differ by more than {TOLERANCE}")  # fmt: skip
    return worst


# --- reporting --------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def print_per_step(times: StepTimes, baseline: str, steps: int) -> None:
    median = {name: statistics.median(p["step"]) for name, p in times.phases.items()}
    cpu = {name: statistics.median(p["cpu"]) for name, p in times.phases.items()}
    print("| engine | median per step | microgpt engine / this | CPU time per step | microgpt engine / this |")
    print("| --- | --- | --- | --- | --- |")
    for name, seconds in median.items():
        print(f"| {name} | {ms(seconds)} | {median[baseline] / seconds:.2f}x | {ms(cpu[name])} | "
              f"{cpu[baseline] / cpu[name]:.2f}x |")  # fmt: skip
    print("\nwhere the time goes, medians per step (free: dropping the graph, and with the GC on a gc.collect());")
    print("the collector's own collections during the step, by generation, and their time, per step:")
    print("| engine | forward | backward | update | free | nodes | edges | collections gen 0/1/2 | in them |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, p in times.phases.items():
        nodes, edges = times.graph.get(name, (0, 0))
        counts, collector_seconds = times.collector[name]
        per = "/".join(f"{c / steps:.1f}" for c in counts)
        shown = " | ".join(ms(statistics.median(p[phase])) for phase in PHASES)
        print(f"| {name} | {shown} | {nodes:,} | {edges:,} | {per} | {ms(collector_seconds / steps)} |")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m demos.benchmark --microgpt", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--names", type=int_between(1, 1000), default=20, help="names timed step by step in (a), (b) (default 20)"
    )
    p.add_argument(
        "--steps", type=int_between(1, 100_000), default=1000, help="steps of each full run in (c) (default 1000)"
    )
    p.add_argument("--quick", action="store_true", help="4 names step by step, 20-step full runs")
    p.add_argument("--seed", type=int, default=42, help="shuffles the names and draws the weights (default 42)")
    p.add_argument("--serve", choices=ENGINES, help=argparse.SUPPRESS)  # a worker of (c), which starts it
    return p


def workload(seed: int) -> tuple[list[float], list[list[int]]]:
    """microgpt's initial weights and its names in order, as token lists cropped to block_size + 1."""
    rng = random.Random(seed)
    names = nn.text.load_names()
    rng.shuffle(names)
    tokenizer = nn.text.CharTokenizer(names)
    weights = [p.data for p in nn.GPT(tokenizer.vocab_size, **CONFIG, seed=rng).parameters()]
    return weights, [tokenizer.encode(name)[: CONFIG["block_size"] + 1] for name in names]


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; return its figures."""
    args = build_parser().parse_args(argv)
    n_names, steps = (4, 20) if args.quick else (args.names, args.steps)
    weights, sequences = workload(args.seed)
    if args.serve:
        serve(args.serve, weights, sequences[:steps])
        return {}
    print(f"machine: {machine()}")
    print(f"GC: {'on' if gc.isenabled() else 'OFF'}, thresholds {gc.get_threshold()} (Python's default: (700, 10, 10))")
    print(f"microgpt's configuration {CONFIG}, {len(weights):,} parameters, seed {args.seed}\n")

    results: dict = {}
    labels = [ENGINES[key] for key in ("microgpt", "value", "eager")]
    for collect_on in (True, False):
        engines = [make_engine(key, weights, steps) for key in ("microgpt", "value", "eager")]
        gc.freeze()  # the weights and names: live through the run, walked by no collection
        try:
            times = per_step(engines, sequences[:n_names], collect_on)
        finally:
            gc.unfreeze()
        worst = check_losses({e.name: e.losses for e in engines}, labels[0], "(a), (b)")
        state = "on" if collect_on else "off"
        print(f"(a), (b) {n_names} names, one step each, engines interleaved; GC {state}; "
              f"losses agree to {worst:.1e} (tolerance {TOLERANCE})")  # fmt: skip
        print_per_step(times, labels[0], n_names)
        print()
        results[f"gc {state}"] = {name: statistics.median(p["step"]) for name, p in times.phases.items()}

    print(f"(c) full runs of {steps} steps, each engine in a fresh process, {CHUNK} steps per turn", flush=True)
    runs = full_runs(steps, args.seed)
    worst = check_losses({name: run["losses"] for name, run in runs.items()}, labels[0], "(c)")
    final = runs[labels[0]]["losses"][-1]
    print(f"loss at step {steps}: {final:.6f} (every engine within {worst:.1e} of it at every step)")
    print("| engine | run | per step | microgpt engine / this | CPU time | microgpt engine / this |")
    print("| --- | --- | --- | --- | --- | --- |")
    base = runs[labels[0]]
    for name, run in runs.items():
        wall, cpu = run["seconds"], run["cpu"]
        print(f"| {name} | {wall:.1f} s | {ms(wall / steps)} | {base['seconds'] / wall:.2f}x | {cpu:.1f} s | "
              f"{base['cpu'] / cpu:.2f}x |")  # fmt: skip
    compiled, eager = runs[ENGINES["compiled"]], runs[ENGINES["eager"]]
    print(f"compiled: its first step at each new sequence length (tracing, generating and compiling the program) "
          f"took {compiled['compiling']:.1f} s of its {compiled['seconds']:.1f} s; compiled / eager nn.GPT: "
          f"{compiled['seconds'] / eager['seconds']:.2f} of the time")  # fmt: skip
    results["full runs"] = {name: run["seconds"] for name, run in runs.items()}
    results["full runs, CPU"] = {name: run["cpu"] for name, run in runs.items()}
    results["final loss"], results["compiling seconds"] = final, compiled["compiling"]
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
