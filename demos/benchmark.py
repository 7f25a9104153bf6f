"""The benchmarks of autodiff, one mode at a time: `python -m demos.benchmark [mode] [its options]`.

    pip install -e ".[bench]"
    python -m demos.benchmark              # the engine against micrograd, sections (a)-(e): about five minutes
    python -m demos.benchmark --quick      # the same, smaller workloads, fewer repeats
    python -m demos.benchmark --engine     # only the engine by phase, GC off and on (demos/bench_engine.py)
    python -m demos.benchmark --compiled   # only the compiled numpy batches (demos/bench_compiled.py)
    python -m demos.benchmark --parser     # only the expression parser of `autodiff graph` (seconds)
    python -m demos.benchmark --dask       # compiled gradients over Dask (demos/bench_dask.py)
    python -m demos.benchmark --graph      # big irregular graphs against a flat C tape (demos/bench_graph.py)
    python -m demos.benchmark --microgpt   # microgpt's GPT on three engines (demos/bench_microgpt.py)

benchmarks share (timing by interleaved repeats and medians, the GC state, tables) is in
demos/bench_common.py.
"""

from __future__ import annotations

import importlib
import sys

from demos.common import missing_extra_in_one_line

DEFAULT = "demos.bench_micrograd"
MODES = {
    "--engine": "demos.bench_engine",
    "--compiled": "demos.bench_compiled",
    "--parser": "demos.bench_parser",
    "--dask": "demos.bench_dask",
    "--graph": "demos.bench_graph",
    "--microgpt": "demos.bench_microgpt",
}
"""Each mode's flag and the module whose `main(argv)` runs it; without a flag, DEFAULT runs."""


@missing_extra_in_one_line("bench")
def main(argv: list[str] | None = None) -> None:
    """Run the mode named in argv (at most one) with the rest of argv as its options."""
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = [flag for flag in MODES if flag in argv]
    if len(chosen) > 1:
        raise SystemExit(f"error: choose one mode, got {' and '.join(chosen)}")
    if not chosen and argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    module = importlib.import_module(MODES[chosen[0]] if chosen else DEFAULT)
    module.main([arg for arg in argv if arg not in chosen])


if __name__ == "__main__":
    main()
