"""Compiled gradients over Dask: plain numpy, then Dask with 1 and 2 worker processes.

    pip install -e ".[bench,dask]"
    python -m demos.benchmark --dask       # or python -m demos.bench_dask; 5-10 minutes on 2 cores
    python -m demos.bench_dask --examples 1000000 --repeats 2    # a quick look

The workload: the gradient of the mean loss of the benchmark's moons MLP (2-16-16-1
ReLU, hinge loss + 1e-4 * L2, `MoonsMLP` in demos/bench_moons.py) over 10 million
noisy two-moons points, through one `autodiff.compile`d function:

  numpy       the whole dataset in memory, one `batch_value_and_grad` call;
  numpy loop  the same array, one call per chunk of 100,000 rows (Dask's chunks,
              without Dask), the gradients summed in a Python loop;
  Dask, k     the dataset read from a .npy file on disk (`from_npy`, chunks of
              100,000 rows), a `LocalCluster` of k worker processes with one
              thread each: one task per chunk, the gradients added up as a tree.

Every process computes with one BLAS thread (Dask's workers are started that way;
the numpy runs are limited to match), so one worker uses one core. Dask starts its
workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc map and unmap every big
numpy temporary (page faults on every chunk); the 1-worker run is made with that
default and again with glibc's own thresholds (MALLOC_TUNED below). The runs take
turns (a round of every run, repeated), so a busy moment of a shared machine slows
them alike; each figure is the median over the rounds, after a warm-up round, and the
CPU time counts every process doing the work. All runs must agree on the gradient to
1e-12. Peak memory is each worker's peak resident set size (VmHWM) over the runs,
against the dataset's size on disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autodiff
from autodiff.compiler.dask_npy import from_npy
from demos.bench_common import machine, peak_rss
from demos.bench_moons import MoonsMLP, mlp_weights


def moons_file(path: str, n: int, seed: int) -> None:
    """n noisy two-moons points with hinge labels (-1/+1), rows (x1, x2, label), saved as .npy
    (scikit-learn's definition of the moons, vectorised; written in blocks to keep memory small)."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=float, shape=(n, 3))
    for start in range(0, n, 1_000_000):
        m = min(1_000_000, n - start)
        label = rng.integers(0, 2, m)
        t = rng.uniform(0.0, np.pi, m)
        out[start : start + m, 0] = np.where(label == 0, np.cos(t), 1.0 - np.cos(t)) + rng.normal(0.0, 0.1, m)
        out[start : start + m, 1] = np.where(label == 0, np.sin(t), 0.5 - np.sin(t)) + rng.normal(0.0, 0.1, m)
        out[start : start + m, 2] = 2.0 * label - 1.0
    out.flush()
    del out


def cpu_seconds() -> float:
    """User + system CPU time of this process."""
    times = os.times()
    return times.user + times.system


# glibc's thresholds as they settle by themselves for big arrays (32 MB, trim at twice that). Dask starts
# its workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes the mmap threshold at 128 KB: every
# big numpy temporary is then mapped, faulted in page by page and unmapped again, chunk after chunk.
MALLOC_TUNED = {"MALLOC_TRIM_THRESHOLD_": 2**26, "MALLOC_MMAP_THRESHOLD_": 2**25}


@dataclass
class Runner:
    """One way to compute the gradient, timed in turns with the others."""

    name: str
    run: Callable[[], np.ndarray]
    cpu: Callable[[], float]  # CPU seconds used so far by the processes doing the work
    times: list[float] = field(default_factory=list)
    cpu_used: float = 0.0
    result: np.ndarray | None = None

    def timed(self) -> None:
        cpu_started, started = self.cpu(), time.perf_counter()
        self.result = self.run()
        self.times.append(time.perf_counter() - started)
        self.cpu_used += self.cpu() - cpu_started


@contextmanager
def cluster(workers: int, tuned: bool) -> Iterator[Any]:
    """A Client of a LocalCluster of `workers` processes, one thread each; `tuned`: the workers start
    with MALLOC_TUNED instead of Dask's MALLOC_TRIM_THRESHOLD_."""
    import dask
    from distributed import Client, LocalCluster

    for name in MALLOC_TUNED:  # a previous cluster's nanny left its setting here, which would win
        os.environ.pop(name, None)
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in MALLOC_TUNED.items()} if tuned else {}
    with dask.config.set(environ):  # read when the workers start; not left in force for the next cluster
        local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    with local, Client(local, set_as_default=False) as client:
        client.wait_for_workers(workers)
        yield client


def on_cluster(name: str, client: Any, f: autodiff.compiler.CompiledFunction, X: Any) -> Runner:
    """The gradient over the Dask array X on the cluster of `client`; CPU time of its workers and of this
    process (the client and the scheduler)."""
    import dask

    def run() -> np.ndarray:
        with dask.config.set(scheduler=client):
            return f.batch_value_and_grad(X)[2] / X.shape[0]

    return Runner(name, run, lambda: sum(client.run(cpu_seconds).values()) + cpu_seconds())


def in_memory(f: autodiff.compiler.CompiledFunction, X: np.ndarray, rows: int) -> list[Runner]:
    """The gradient with plain numpy on the dataset in memory: one call, and one call per chunk."""
    n = len(X)
    return [
        Runner("numpy, in memory", lambda: f.batch_value_and_grad(X)[2] / n, cpu_seconds),
        Runner(
            "numpy loop over chunks",
            lambda: sum(f.batch_value_and_grad(X[i : i + rows])[2] for i in range(0, n, rows)) / n,
            cpu_seconds,
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000_000, help="dataset rows (default 10,000,000)")
    parser.add_argument("--rows-per-chunk", type=int, default=100_000, help="rows per Dask chunk (default 100,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per setting (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    model = MoonsMLP(mlp_weights(args.seed))
    f = autodiff.compile(model.example_loss, [0.0, 0.0, 1.0], params=model.params)
    print(f"machine: {machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    idle: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "moons.npy")
        moons_file(path, args.examples, args.seed)
        size = os.path.getsize(path)
        print(f"dataset: {args.examples:,} rows x 3 float64, {size / 1e6:.0f} MB on disk; repeats: {args.repeats}\n")

        with ExitStack() as stack:
            runners = in_memory(f, np.load(path), args.rows_per_chunk)
            X = from_npy(path, rows_per_chunk=args.rows_per_chunk)
            clients = {}
            # The cluster with Dask's default environment starts last: its nanny leaves that in os.environ.
            for workers, tuned in ((1, True), (2, True), (1, False)):
                name = f"Dask, {workers} worker{'s' * (workers > 1)}{', malloc tuned' if tuned else ''}"
                clients[name] = stack.enter_context(cluster(workers, tuned))
                idle[name] = sorted(
                    clients[name].run(lambda: __import__("psutil").Process().memory_info().rss).values()
                )
                runners.append(on_cluster(name, clients[name], f, X))
            order = [0, 1, 4, 2, 3]  # as in the table: numpy, numpy loop, 1 worker default, tuned, 2 workers
            runners = [runners[i] for i in order]
            with threadpool_limits(limits=1, user_api="blas"):  # the numpy runs; the workers start that way
                for runner in runners:
                    runner.run()  # warm-up: generated code, buffers, the workers' copy of the program
                for _ in range(args.repeats):  # in turns, so that a busy moment slows every run alike
                    for runner in runners:
                        runner.timed()
            peaks = {name: sorted(client.run(peak_rss).values()) for name, client in clients.items()}
        results = {
            r.name: {"seconds": statistics.median(r.times), "cpu": r.cpu_used / args.repeats, "grads": r.result}
            for r in runners
        }
    expected = results["numpy, in memory"]["grads"]
    scale = np.abs(expected).max()
    for name, result in results.items():
        error = np.abs(result["grads"] - expected).max() / scale
        if error > 1e-12:
            raise SystemExit(f"{name} disagrees with numpy on the gradient: max relative difference {error:.3g}")

    base, loop, one_default, one, two = (results[k]["seconds"] for k in results)
    print("| run | time | per example | against numpy | CPU time, all processes |")
    print("| --- | --- | --- | --- | --- |")
    for name, result in results.items():
        s = result["seconds"]
        print(f"| {name} | {s:.2f} s | {s / args.examples * 1e6:.3f} us | {s / base:.2f}x | {result['cpu']:.2f} s |")
    print(f"\nspeedup of 2 workers over 1 (malloc tuned): {one / two:.2f}x (target >= 1.6x)")
    print(f"overhead of Dask at 1 worker against plain numpy: {one / base:.2f}x tuned (target <= 1.3x), ", end="")
    print(f"{one_default / base:.2f}x with Dask's default worker environment")
    print(f"overhead of Dask at 1 worker (tuned) against the numpy loop over the same chunks: {one / loop:.2f}x")
    print("all runs agree on the gradient to 1e-12 (relative to its largest entry)")
    mb = 1e6
    for name in list(results)[2:]:
        shown_idle = ", ".join(f"{x / mb:.0f}" for x in idle[name])
        peak = ", ".join(f"{x / mb:.0f}" for x in peaks[name])
        print(f"{name}: worker RSS idle {shown_idle} MB, peak {peak} MB (dataset {size / mb:.0f} MB)")
    print(f"the numpy process's peak RSS (whole dataset in memory): {peak_rss() / mb:.0f} MB")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
