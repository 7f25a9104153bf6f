"""The count of PyTorch comparisons: said at the end of a run, and a failure when they were required and skipped."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

COMPARISONS = """
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def test_one():
    assert torch.__version__


def test_two():
    pass
"""
ONE_MARKED = """
import pytest


@pytest.mark.torch
def test_against_torch():
    torch = pytest.importorskip("torch")
    assert torch.__version__


def test_plain():
    pass
"""


def run_pytest(tmp_path, torch, require):
    """pytest on a scratch folder with the plugin, where torch imports (a stand-in) or does not."""
    (tmp_path / "test_module_level.py").write_text(COMPARISONS)
    (tmp_path / "test_in_a_test.py").write_text(ONE_MARKED)
    stand_in = tmp_path / "site"
    stand_in.mkdir()
    missing = 'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n'  # as when not installed
    (stand_in / "torch.py").write_text('__version__ = "0.0+stand-in"\n' if torch else missing)
    env = {key: value for key, value in os.environ.items() if key != "AUTODIFF_REQUIRE_TORCH"}
    env["PYTHONPATH"] = os.pathsep.join([str(stand_in), str(TESTS)])
    if require:
        env["AUTODIFF_REQUIRE_TORCH"] = "1"
    argv = [sys.executable, "-m", "pytest", "-p", "torch_oracle", "-p", "no:cacheprovider", "-q", "-o", "addopts="]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PyTorch comparisons:")]
    return done.returncode, lines


@pytest.mark.slow
@pytest.mark.parametrize("require", [False, True], ids=["not-asked", "asked"])
def test_the_run_says_how_many_pytorch_comparisons_ran(tmp_path, require):
    code, lines = run_pytest(tmp_path, torch=True, require=require)
    assert code == 0 and lines == ["PyTorch comparisons: 3 ran (torch 0.0+stand-in)"]


@pytest.mark.slow
def test_without_torch_the_run_says_what_skipped_and_passes_when_not_asked_for_them(tmp_path):
    code, lines = run_pytest(tmp_path, torch=False, require=False)
    assert code == 0
    assert lines == ["PyTorch comparisons: 0 ran; skipped: 1 tests and 1 modules, as torch did not import"]


@pytest.mark.slow
def test_without_torch_the_run_fails_when_asked_for_the_comparisons(tmp_path):
    code, lines = run_pytest(tmp_path, torch=False, require=True)
    assert code == 1
    assert lines == [
        "PyTorch comparisons: 0 ran; skipped: 1 tests and 1 modules, as torch did not import; "
        "AUTODIFF_REQUIRE_TORCH=1 asked for all of them: FAILED"
    ]
