"""What the benchmarks share: the machine, timing by interleaved repeats and medians, the GC state,
one core for the numeric libraries, peak memory, and markdown tables.

Every benchmark of `python -m demos.benchmark` times its engines in turns (a repeat of each, then
the next repeat), so that a noisy neighbour on a shared machine slows them alike, and reports
medians. This module imports no numeric library: `cap_thread_pools` must run before numpy,
torch or jax load to size their thread pools.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "THREAD_VARIABLES", "cap_thread_pools", "machine", "timed", "compare", "time_rounds", "gc_state", "peak_rss",
    "thread_settings", "one_core", "print_table",
]  # fmt: skip

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_numpy_loaded_first = False


def cap_thread_pools() -> None:
    """One thread for numpy's BLAS, torch and XLA: thread pools size themselves when their library
    loads, so this must run before numpy, torch or jax are imported (it remembers if numpy was)."""
    global _numpy_loaded_first
    _numpy_loaded_first = "numpy" in sys.modules
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


def machine() -> str:
    """The processor, its cores, and the Python version."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()} ({platform.system()})"


def gc_state() -> str:
    """Whether Python's cyclic garbage collector is on, with its thresholds."""
    return f"cyclic GC {'on' if gc.isenabled() else 'off'} (thresholds {gc.get_threshold()})"


# --- timing --------------------------------------------------------------------------------
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


def time_rounds(steps: dict[str, Callable[[], object]], rounds: int, budget: float) -> dict[str, float]:
    """Median seconds per step of each implementation over interleaved rounds; each round
    runs enough consecutive steps of each to take about `budget` seconds."""
    repeats = {}
    for name, step in steps.items():  # warm up (jit, buffers) and size the rounds
        step()
        start = time.perf_counter()
        step()
        repeats[name] = max(1, int(budget / max(time.perf_counter() - start, 1e-7)))
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            k = repeats[name]
            start = time.perf_counter()
            for _ in range(k):
                step()
            times[name].append((time.perf_counter() - start) / k)
    return {name: statistics.median(ts) for name, ts in times.items()}


# --- memory and threads ----------------------------------------------------------------------
def peak_rss() -> int:
    """This process's peak resident set size in bytes: VmHWM, which (unlike ru_maxrss) does not
    count the memory of the parent a worker process was forked from."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):  # not Linux: ru_maxrss (kilobytes here, bytes on macOS)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def thread_settings() -> str:
    """The thread variables, the cores this process may use, and the thread pools of the loaded libraries."""
    parts = [f"{name}={os.environ.get(name)}" for name in (*THREAD_VARIABLES, "XLA_FLAGS")]
    if hasattr(os, "sched_getaffinity"):
        parts.append(f"cores {sorted(os.sched_getaffinity(0))}")
    try:
        from threadpoolctl import threadpool_info

        parts += [f"{pool['internal_api']} threads {pool['num_threads']}" for pool in threadpool_info()]
    except ImportError:
        pass
    if "torch" in sys.modules:
        parts.append(f"torch threads {sys.modules['torch'].get_num_threads()}")
    return ", ".join(parts)


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """Run on one core (the first allowed) with numpy's BLAS on one thread, then restore both
    (`cap_thread_pools` caps the thread pools only if it ran before numpy loaded)."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(1))
        except ImportError:
            if _numpy_loaded_first:  # BLAS may run several threads: on one core they would wait on each other
                print("note: numpy loaded first and threadpoolctl is missing: not pinned to one core")
                cores = None
        if cores:
            os.sched_setaffinity(0, {min(cores)})
            stack.callback(os.sched_setaffinity, 0, cores)
        yield


# --- tables --------------------------------------------------------------------------------
def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A markdown table: the header, its rule, and one line per row."""
    print("| " + " | ".join(header) + " |")
    print("| --- " * len(header) + "|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
