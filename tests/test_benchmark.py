"""The benchmark's dispatch: one flag per mode, each mode a module with its own `main(argv)`."""

import importlib

import pytest

from demos import benchmark


@pytest.mark.parametrize("flag", sorted(benchmark.MODES))
def test_every_mode_of_the_benchmark_names_a_module_with_a_main(flag):
    pytest.importorskip("numpy")
    if flag == "--dask":
        pytest.importorskip("dask")
    module = importlib.import_module(benchmark.MODES[flag])
    assert callable(module.main)


def test_the_benchmark_passes_its_options_to_the_chosen_mode(monkeypatch):
    seen = []
    module = importlib.import_module(benchmark.MODES["--parser"])
    monkeypatch.setattr(module, "main", seen.append)
    benchmark.main(["--repeats", "2", "--parser", "--quick"])
    assert seen == [["--repeats", "2", "--quick"]]


def test_the_benchmark_refuses_two_modes_at_once():
    with pytest.raises(SystemExit, match="choose one mode, got --engine and --compiled"):
        benchmark.main(["--engine", "--compiled"])
