"""Memory and block width of compiled batches on big graphs, each measured in a process of its own.

    python -m demos.bench_graph_memory --ops 10000 --rows 100000       # one run, the automatic width
    python -m demos.bench_graph_memory --ops 2000 --rows 32768 --width 4096

A compiled batch runs its rows in blocks: the values of every node for a block of examples
are one array (nodes x width), so a wider block makes fewer numpy calls per example and
takes more memory. `demos/bench_graph.py` runs this module once per width, in a fresh
process each time so that the peak resident set size (VmHWM) is that run's alone: the
automatic width, which the compiled function chooses from the graph's size, and fixed
widths around it. Each run compiles the workload of `demos/graph_workload.py`, calls
`batch_value_and_grad` on all its rows twice (the first call makes the arrays), and prints
one line of JSON: the second call's seconds per row, the first call's seconds, the peak RSS
in bytes and the width used.
"""

from __future__ import annotations

from demos.bench_common import cap_thread_pools

cap_thread_pools()  # one thread for numpy: before it loads

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import autodiff  # noqa: E402
from autodiff.compiler import batched  # noqa: E402
from demos.bench_common import one_core, peak_rss, print_table  # noqa: E402
from demos.graph_workload import N_INPUTS, AutodiffOps, run_graph  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run_alone(n_ops: int, rows: int, width: int | None, seed: int) -> dict:
    """Compile the workload and run it on `rows` rows in blocks of `width` examples (None: the automatic
    width); the measurements, as `main` prints them."""
    if width is not None:
        batched.BLOCK_EXAMPLES = batched.LARGE_BLOCK_EXAMPLES = width
        batched.MAX_BLOCK_BYTES = 2**62
    X = np.random.default_rng(seed).uniform(-1.0, 1.0, (rows, N_INPUTS))
    f = autodiff.compile(lambda *xs: run_graph(list(xs), n_ops, AutodiffOps), X[0].tolist())
    with one_core():
        start = time.perf_counter()
        f.batch_value_and_grad(X)
        first = time.perf_counter() - start
        start = time.perf_counter()
        values, grads, _ = f.batch_value_and_grad(X)
        again = time.perf_counter() - start
    peak = peak_rss()
    program = batched.BatchedProgram(f.program)
    used = width or (program.block_width(rows) if hasattr(program, "block_width") else 0)
    finite = bool(np.isfinite(values).all() and np.isfinite(grads).all())
    return {"per_row": again / rows, "first": first, "peak_rss": peak, "width": used, "finite": finite}


def measure(n_ops: int, rows: int, width: int | None, seed: int) -> dict:
    """`run_alone` in a fresh process: its peak RSS is that run's alone."""
    command = [sys.executable, "-m", "demos.bench_graph_memory", "--ops", str(n_ops), "--rows", str(rows)]
    command += ["--seed", str(seed)] + (["--width", str(width)] if width else [])
    done = subprocess.run(command, check=True, cwd=ROOT, env={**os.environ}, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def sweep(n_ops: int, rows: int, widths: list[int], seed: int, c_per_run: float | None, rounds: int) -> None:
    """The automatic width against fixed ones: time per row (the median of `rounds` rounds, the widths
    taking turns in each) and peak RSS of each, in a table."""
    runs: dict[int | None, list[dict]] = {width: [] for width in [None, *widths]}
    for _ in range(rounds):
        for width, results in runs.items():
            results.append(measure(n_ops, rows, width, seed))
    results = {width: {**rs[0], "per_row": statistics.median(r["per_row"] for r in rs)} for width, rs in runs.items()}
    best = min(result["per_row"] for result in results.values())
    print(f"\n{n_ops:,} ops, {rows:,} rows: time per row by block width, each run in a fresh process, the widths")
    print(f"taking turns; medians of {rounds} rounds")
    table = []
    for width, result in results.items():
        name = f"automatic ({result['width']:,})" if width is None else f"{width:,}"
        cells = [name, f"{result['per_row'] * 1e6:.1f} us", f"{result['per_row'] / best:.2f}x"]
        cells.append(f"{result['per_row'] / c_per_run:.2f}x" if c_per_run else "-")
        table.append([*cells, f"{result['peak_rss'] / 2**30:.2f} GB", f"{result['first']:.2f} s"])
    print_table(["block width", "per row", "/ fastest", "/ C tape", "peak RSS", "first call"], table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, required=True, help="graph size in ops")
    parser.add_argument("--rows", type=int, required=True, help="rows of the batch")
    parser.add_argument("--width", type=int, help="examples per block (default: the automatic width)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(run_alone(args.ops, args.rows, args.width, args.seed)))


if __name__ == "__main__":
    main()
