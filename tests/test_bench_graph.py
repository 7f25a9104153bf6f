"""The graph benchmark (demos/bench_graph.py): its engines agree before anything is timed.

The timings themselves are the benchmark's business, never a test's."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff
from demos.graph_workload import N_INPUTS, AutodiffOps, largest_difference, record_tape, run_graph

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def graph_benchmark(*args: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "demos.benchmark", "--graph", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done


def test_the_quick_graph_benchmark_checks_every_engine_against_the_c_tape_before_timing():
    done = graph_benchmark("--quick")
    checks = re.findall(
        r"^(\d+) ops: all (\d+) engines agree with (.+?) on the value .* to (\S+) \(", done.stdout, re.M
    )
    assert [size for size, *_ in checks] == ["100", "300"]
    for _, count, reference, difference in checks:
        assert reference == ("the C tape" if "C tape: " in done.stdout else "our eager (build + backward)")
        assert int(count) >= 4 and float(difference) <= 1e-9  # eager, floats, two batches; C, PyTorch, JAX if there
    assert "our compiled batch, B = 1,000 |" in done.stdout
    assert re.search(r"10,000 rows at 300 ops, alone: peak RSS .* all finite: True", done.stdout)
    assert "automatic (" in done.stdout


def test_without_a_c_compiler_the_graph_benchmark_says_so_and_checks_against_the_eager_engine():
    done = graph_benchmark("--ops", "60", "--batches", "10", "--rounds", "1", "--jax-max-ops", "0", PATH="")
    assert "no C compiler (cc, gcc, clang): no C tape column" in done.stdout
    engines = 3 + (importlib.util.find_spec("torch") is not None)  # eager, floats, a batch; PyTorch where installed
    expected = f"60 ops: all {engines} engines agree with our eager (build + backward)"
    assert expected in done.stdout.replace("\n", " ")


def test_the_flat_tape_keeps_only_the_ops_the_output_depends_on():
    tape, n_slots, output = record_tape(300)
    assert output == n_slots - 1 and len(tape) % 7 == 0
    compiled = autodiff.compile(lambda *xs: run_graph(list(xs), 300, AutodiffOps), [0.5] * N_INPUTS)
    softmax_records = sum(1 for i in range(0, len(tape), 7) if tape[i] == 3)
    others = len(tape) // 7 - softmax_records
    # each softmax record is the compiled program's logsumexp node; every other record one node
    ops = [op.name for op in compiled.program.ops if op is not None]
    assert ops.count("logsumexp") == softmax_records
    assert ops.count("softplus") + ops.count("sum") + ops.count("*") == others


def test_the_cross_check_catches_a_wrong_gradient_and_a_nan():
    values, grads = np.array([0.5, 2.0]), np.array([[1.0, -3.0], [0.0, 1e-3]])
    assert largest_difference(values, grads, values, grads) == 0.0
    wrong = grads.copy()
    wrong[1, 1] += 1e-8
    assert largest_difference(values, wrong, values, grads) == pytest.approx(1e-8)
    assert largest_difference(np.array([0.5, np.nan]), grads, values, grads) == np.inf
    with pytest.raises(ValueError, match="shapes differ"):
        largest_difference(values[:1], grads, values, grads)
