"""Big irregular graphs, compiled and run thousands of times, against a flat tape in C.

    python -m demos.benchmark --graph            # about five minutes on a 2-core machine (JAX: two more)
    python -m demos.benchmark --graph --quick    # small graphs and batches: the cross-check, in seconds

The workload of "Fastest Autograd in the West" (A. Rogozhnikov, 2023; demos/graph_workload.py):
100 inputs, then ops cycling softplus(x[-10]), sum(x[-30:-10:5]), x[-20] * x[-10] and
softmax(x[-4:]) (4 outputs), the gradient of the last node with respect to every input; at
2,000 and 10,000 ops. The engines:

  C tape          a flat tape of records, forward then backward, in C (demos/graph_tape.c), built
                  here with the system C compiler (cc -O2) and called through ctypes, one row
                  after another; skipped, with a note, when there is no compiler;
  eager           our engine: build the graph of Values, then backward();
  compiled floats `autodiff.compile(...).value_and_grad(row)`;
  compiled batch  `batch_value_and_grad(X)` on B rows at once (numpy), B = 1,000 and 10,000;
  PyTorch eager   0-d float64 tensors, autograd (when torch is installed);
  jax.jit         `jax.jit(jax.value_and_grad(f))`, and `jax.jit(jax.vmap(...))` on B rows (when jax
                  is installed; at most --jax-max-ops ops: its compile time grows fast).

Before any timing, every engine's values and gradients are checked against the C tape's (our
eager engine's where there is no compiler) to 1e-9, relative to max(1, |value|). Each figure is
time per run (per row for a batch), median over interleaved rounds on one core (numpy, torch
and XLA on one thread), as a multiple of the C tape's. Compile time is split into tracing, code
generation and the first call (less the code generation it triggers); "compile + 10,000 runs"
is the compile time plus 10,000 times the time per run. Memory is the peak resident set size
that building the engine and its first call added to the process (the kernel's high-water mark,
reset before each engine). The cyclic GC stays on, as in a normal program; nothing calls
gc.collect() inside a timing. Last, in a fresh process: a batch of 100,000 rows at 10,000 ops,
its peak resident set size and time per row.
"""

from __future__ import annotations

from demos.bench_common import cap_thread_pools

cap_thread_pools()  # one thread for numpy, torch and jax: before they load

import argparse  # noqa: E402
import ctypes  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import autodiff  # noqa: E402
from autodiff import Value  # noqa: E402
from demos import bench_graph_memory  # noqa: E402
from demos.bench_common import gc_state, machine, one_core, peak_rss, print_table, thread_settings, time_rounds  # noqa: E402
from demos.graph_workload import (  # noqa: E402
    N_INPUTS,
    RECORD,
    TOLERANCE,
    AutodiffOps,
    largest_difference,
    record_tape,
    run_graph,
)

TAPE_SOURCE = Path(__file__).with_name("graph_tape.c")
CFLAGS = ("-O2", "-shared", "-fPIC")

Results = tuple[np.ndarray, np.ndarray]  # values (rows,) and input gradients (rows x inputs)


@dataclass
class Engine:
    """An engine ready to time: `call` runs it once on its rows (1, or B for a batch)."""

    name: str
    rows: int
    call: Callable[[], Results]
    trace: float | None = None  # seconds of each compile phase; None where the engine has none
    codegen: float | None = None
    first_call: float | None = None
    memory: int | None = 0  # bytes of peak RSS that building it and its first call added (None: not measured)
    result: Results | None = field(default=None, repr=False)

    @property
    def compile_seconds(self) -> float:
        return sum(t for t in (self.trace, self.codegen, self.first_call) if t is not None)


# --- the C tape ---------------------------------------------------------------------------------
class CTape:
    """demos/graph_tape.c, compiled with the system C compiler into a temporary folder and loaded."""

    def __init__(self, compiler: str) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="autodiff-tape-")
        library = Path(self._folder.name) / "graph_tape.so"
        start = time.perf_counter()
        subprocess.run([compiler, *CFLAGS, "-o", str(library), str(TAPE_SOURCE), "-lm"], check=True)
        self.build_seconds = time.perf_counter() - start
        self.library = ctypes.CDLL(str(library))
        self.library.tape_run.restype = None

    @classmethod
    def built_with(cls, compiler: str) -> CTape | None:
        """The tape built by `compiler`, or None if it fails to build it or to load what it built."""
        try:
            return cls(compiler)
        except (OSError, subprocess.CalledProcessError):
            return None

    @staticmethod
    def find_compiler() -> str | None:
        return shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")

    def runner(self, n_ops: int, X: np.ndarray) -> tuple[Callable[[], Results], float]:
        """A call computing every row of X on the tape of `n_ops` ops, and the seconds recording the tape took."""
        start = time.perf_counter()
        tape, n_slots, output = record_tape(n_ops)
        recorded = time.perf_counter() - start
        tape_array = np.array(tape, dtype=np.int32)
        X = np.ascontiguousarray(X, dtype=float)
        rows = X.shape[0]
        values, grads = np.empty(rows), np.empty((rows, N_INPUTS))
        v, g = np.empty(n_slots), np.empty(n_slots)

        def pointer(a: np.ndarray) -> Any:
            return a.ctypes.data_as(ctypes.c_void_p)

        args = (pointer(tape_array), len(tape) // RECORD, N_INPUTS, n_slots, output, rows)
        arrays = [pointer(a) for a in (X, values, grads, v, g)]

        def run() -> Results:
            self.library.tape_run(*args, *arrays)
            return values, grads

        return run, recorded


# --- the engines --------------------------------------------------------------------------------
def eager_engine(n_ops: int, x: np.ndarray) -> Engine:
    row = x.tolist()

    def run() -> Results:
        inputs = [Value(v) for v in row]
        out = run_graph(inputs, n_ops, AutodiffOps)
        out.backward()
        return np.array([out.data]), np.array([[v.grad for v in inputs]])

    return Engine("our eager (build + backward)", 1, run)


def compiled_function(n_ops: int, x: np.ndarray) -> tuple[autodiff.compiler.CompiledFunction, float]:
    start = time.perf_counter()
    f = autodiff.compile(lambda *xs: run_graph(list(xs), n_ops, AutodiffOps), x.tolist())
    return f, time.perf_counter() - start


def floats_engine(n_ops: int, x: np.ndarray) -> Engine:
    f, traced = compiled_function(n_ops, x)
    codegen = seconds(lambda: compile(f.source, "<float source>", "exec"))  # what the first call does first
    row = x.tolist()

    def run() -> Results:
        value, grads, _ = f.value_and_grad(row)
        return np.array([value]), np.array([grads])

    return Engine("our compiled floats", 1, run, traced, codegen, first_call(run, codegen))


def batch_engine(n_ops: int, X: np.ndarray) -> Engine:
    from autodiff.compiler.batched import BatchedProgram

    f, traced = compiled_function(n_ops, X[0])
    codegen = seconds(lambda: BatchedProgram(f.program).generated("summed"))  # what the first call does first

    def run() -> Results:
        values, grads, _ = f.batch_value_and_grad(X)
        return values, grads

    return Engine(f"our compiled batch, B = {len(X):,}", len(X), run, traced, codegen, first_call(run, codegen))


class TorchOps:
    def __init__(self, torch: Any) -> None:
        self.torch = torch
        self.softplus = torch.nn.functional.softplus
        self.mul = torch.mul

    def sum(self, xs: list) -> Any:
        return self.torch.stack(xs).sum()

    def softmax(self, xs: list) -> list:
        return list(self.torch.softmax(self.torch.stack(xs), 0).unbind())


def torch_engine(n_ops: int, x: np.ndarray) -> Engine | str:
    try:
        import torch
    except ImportError:
        return "PyTorch skipped: torch is not installed (pip install torch)"
    torch.set_num_threads(1)
    ops, row = TorchOps(torch), x.tolist()

    def run() -> Results:
        inputs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in row]
        out = run_graph(inputs, n_ops, ops)
        out.backward()
        return np.array([out.item()]), np.array([[0.0 if v.grad is None else v.grad.item() for v in inputs]])

    return Engine("PyTorch eager", 1, run)


def jax_engine(n_ops: int, X: np.ndarray, batched: bool) -> Engine | str:
    try:
        import jax
    except ImportError:
        return "JAX skipped: jax is not installed (pip install jax)"
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    ops = JaxOps(jax)

    def f(x: Any) -> Any:
        return run_graph([x[i] for i in range(N_INPUTS)], n_ops, ops)

    function = jax.value_and_grad(f)
    if batched:
        function = jax.vmap(function)
    data = jax.numpy.asarray(X if batched else X[0])
    start = time.perf_counter()
    lowered = jax.jit(function).lower(data)
    traced = time.perf_counter() - start
    compiled = lowered.compile()
    codegen = time.perf_counter() - start - traced

    def run() -> Results:
        value, grads = jax.block_until_ready(compiled(data))
        return np.asarray(value).reshape(-1), np.asarray(grads).reshape(-1, N_INPUTS)

    name = f"jax.jit(vmap(value_and_grad)), B = {len(X):,}" if batched else "jax.jit(value_and_grad)"
    return Engine(name, len(X) if batched else 1, run, traced, codegen, first_call(run))


class JaxOps:
    def __init__(self, jax: Any) -> None:
        self.jnp = jax.numpy
        self.softplus = jax.nn.softplus
        self.softmax_of = jax.nn.softmax

    def sum(self, xs: list) -> Any:
        return self.jnp.sum(self.jnp.stack(xs))

    @staticmethod
    def mul(a: Any, b: Any) -> Any:
        return a * b

    def softmax(self, xs: list) -> list:
        return list(self.softmax_of(self.jnp.stack(xs)))


def first_call(run: Callable[[], object], codegen: float = 0.0) -> float:
    """What the first call costs beyond a run (arrays made, pages touched, caches filled), less the code
    generation it triggers (measured apart): the first call's time minus the second's and `codegen`."""
    first = seconds(run)
    return max(first - seconds(run) - codegen, 0.0)


def seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


# --- memory ----------------------------------------------------------------------------------
def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process's resident set (Linux); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def resident() -> int:
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def measured(build: Callable[[], Engine | str]) -> Engine | str:
    """Build an engine and make its first call, noting the peak RSS that added; keep the first result."""
    before = resident()
    reset = reset_peak_rss()
    engine = build()
    if isinstance(engine, str):
        return engine
    engine.result = engine.call()
    engine.memory = max(0, peak_rss() - before) if reset else None  # None: the peak could not be reset
    return engine


# --- one graph size -------------------------------------------------------------------------
def engines_for(n_ops: int, X: np.ndarray, batches: tuple[int, ...], tape: CTape | None, jax_max_ops: int) -> tuple:
    """Every engine at `n_ops` ops, built one after the other (each measured alone), and notes on those skipped."""
    builders: list[Callable[[], Engine | str]] = []
    if tape is not None:

        def c_engine() -> Engine:
            run, recorded = tape.runner(n_ops, X[: max(batches)])
            return Engine("C tape", max(batches), run, recorded, tape.build_seconds, first_call(run))

        builders.append(c_engine)
    builders += [lambda: eager_engine(n_ops, X[0]), lambda: floats_engine(n_ops, X[0])]
    builders += [lambda b=b: batch_engine(n_ops, X[:b]) for b in batches]
    builders.append(lambda: torch_engine(n_ops, X[0]))
    if n_ops <= jax_max_ops:
        builders.append(lambda: jax_engine(n_ops, X[:1], batched=False))
        builders += [lambda b=b: jax_engine(n_ops, X[:b], batched=True) for b in batches]
    engines, notes = [], []
    for build in builders:
        engine = measured(build)
        if isinstance(engine, str):
            notes.append(engine)
        else:
            engines.append(engine)
    if n_ops > jax_max_ops:
        notes.append(f"JAX not run at {n_ops:,} ops (--jax-max-ops {jax_max_ops:,}; it compiles for minutes at 10,000)")
    return engines, list(dict.fromkeys(notes))


def cross_check(engines: list[Engine], n_ops: int) -> str:
    """Every engine's values and gradients against the C tape's (the eager engine's without it), on the
    rows each ran; ends the benchmark if one differs by more than TOLERANCE."""
    reference = engines[0]  # the C tape, or the eager engine
    values, grads = reference.result
    failures, worst = [], 0.0
    for engine in engines[1:]:
        ours, our_grads = engine.result
        rows = min(engine.rows, reference.rows)
        difference = largest_difference(ours[:rows], our_grads[:rows], values[:rows], grads[:rows])
        worst = max(worst, difference)
        if not difference <= TOLERANCE:
            failures.append(f"{engine.name} differs from the {reference.name} by {difference:.1e}")
    if failures:
        raise SystemExit(f"error: {n_ops:,} ops: " + "; ".join(failures))
    against = "the C tape" if reference.name == "C tape" else reference.name
    return (
        f"{n_ops:,} ops: all {len(engines)} engines agree with {against} on the value and the "
        f"{N_INPUTS} input gradients to {worst:.1e} (tolerance {TOLERANCE:.0e})"
    )


def report(n_ops: int, engines: list[Engine], per_run: dict[str, float]) -> None:
    """The table of one graph size."""
    floor = per_run.get("C tape")
    print(f"\n{n_ops:,} ops" + (f": C tape {floor * 1e6:.1f} us per run" if floor else ": no C tape"))
    header = ["engine", "per run", "/ C tape", "trace", "code gen", "first call", "compile", "memory",
              "compile + 10,000 runs"]  # fmt: skip
    rows = []
    for engine in engines:
        run = per_run[engine.name]
        rows.append([
            engine.name, show_seconds(run), f"{run / floor:.2f}x" if floor else "-", show_seconds(engine.trace),
            show_seconds(engine.codegen), show_seconds(engine.first_call), show_seconds(engine.compile_seconds),
            "-" if engine.memory is None else f"{engine.memory / 2**20:,.0f} MB",
            show_seconds(engine.compile_seconds + 10_000 * run),
        ])  # fmt: skip
    print_table(header, rows)


def show_seconds(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.1f} us"
    return f"{t * 1e3:.1f} ms" if t < 1.0 else f"{t:.2f} s"


def one_size(n_ops: int, args: argparse.Namespace, tape: CTape | None) -> float | None:
    """The engines at one graph size, checked, timed and reported; the C tape's time per run."""
    X = np.random.default_rng(args.seed).uniform(-1.0, 1.0, (max(args.batches), N_INPUTS))
    engines, notes = engines_for(n_ops, X, tuple(args.batches), tape, args.jax_max_ops)
    print(cross_check(engines, n_ops), flush=True)
    with one_core():
        medians = time_rounds({e.name: e.call for e in engines}, args.rounds, args.budget)
    per_run = {e.name: medians[e.name] / e.rows for e in engines}
    report(n_ops, engines, per_run)
    for note in notes:
        print(note)
    return per_run.get("C tape")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 and 300 ops, B = 100 and 1,000, 3 rounds")
    parser.add_argument("--ops", type=int, nargs="+", help="graph sizes in ops (default 2000 10000)")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes B (default 1000 10000)")
    parser.add_argument("--rounds", "--repeats", type=int, help="interleaved rounds (default 7; quick 3)")
    parser.add_argument("--jax-max-ops", type=int, help="run JAX up to this size (default 2000; quick 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        help="then the 100,000-row batch and the block widths, each in a process of its own (default: unless --ops)",
    )
    args = parser.parse_args(argv)
    args.memory = args.memory if args.memory is not None else args.ops is None
    args.ops = args.ops or ([100, 300] if args.quick else [2000, 10_000])
    args.jax_max_ops = args.jax_max_ops if args.jax_max_ops is not None else 100 if args.quick else 2000
    args.batches = args.batches or ([100, 1000] if args.quick else [1000, 10_000])
    args.rounds = args.rounds or (3 if args.quick else 7)
    args.budget = 0.02 if args.quick else 0.2
    print(f"machine: {machine()}")
    compiler = CTape.find_compiler()
    tape = CTape.built_with(compiler) if compiler else None
    if compiler is None:
        print("no C compiler (cc, gcc, clang): no C tape column")
    elif tape is None:
        print(f"{compiler} could not build demos/graph_tape.c (its error is above): no C tape column")
    else:
        print(f"C tape: {compiler} {' '.join(CFLAGS)}")
    print(f"{gc_state()}; {args.rounds} interleaved rounds of about {args.budget * 1e3:.0f} ms per engine, medians")
    c_per_run = {n_ops: one_size(n_ops, args, tape) for n_ops in args.ops}
    print(f"\nthreads: {thread_settings()}")
    if args.memory:
        memory_and_widths(args, c_per_run)


def memory_and_widths(args: argparse.Namespace, c_per_run: dict[int, float | None]) -> None:
    """A batch of 100,000 rows at 10,000 ops, and the automatic block width against fixed ones, each
    run in a process of its own (demos/bench_graph_memory.py)."""
    n_ops, rows = (300, 10_000) if args.quick else (10_000, 100_000)
    result = bench_graph_memory.measure(n_ops, rows, None, args.seed)
    floor = c_per_run.get(n_ops)
    versus = f", {result['per_row'] / floor:.2f}x the C tape" if floor else ""
    print(
        f"\n{rows:,} rows at {n_ops:,} ops, alone: peak RSS {result['peak_rss'] / 2**30:.2f} GB, "
        f"{result['per_row'] * 1e6:.1f} us per row{versus} (block width {result['width']:,}; first call "
        f"{result['first']:.2f} s), all finite: {result['finite']}"
    )
    sweeps = {300: (4096, [256, 1024])} if args.quick else {2000: (16_384, [1024, 2048, 4096, 8192, 16_384]),
                                                             10_000: (8192, [1024, 2048, 4096, 8192])}  # fmt: skip
    for n_ops, (rows, widths) in sweeps.items():
        bench_graph_memory.sweep(n_ops, rows, widths, args.seed, c_per_run.get(n_ops), 1 if args.quick else 3)


if __name__ == "__main__":
    main()
