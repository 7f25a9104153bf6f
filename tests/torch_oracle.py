"""The PyTorch comparisons, counted: a pytest plugin (loaded by conftest.py) that says how many ran.

A PyTorch comparison is a test marked `torch` (a module's `pytestmark`, or the test's
own mark); without torch it skips, and so does a module that imports torch at its top.
The summary ends with one line, "PyTorch comparisons: N ran (torch 2.13.0+cpu)", or
what skipped and why. With AUTODIFF_REQUIRE_TORCH=1 (set by .ci/run when it was asked to
install torch, see docs/development-torch.md) the run fails when none ran or any skipped.
"""

from __future__ import annotations

import os
import sys

import pytest

REQUIRE = "AUTODIFF_REQUIRE_TORCH"
_count = {"ran": 0, "skipped": 0, "modules skipped": 0}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "torch: compares with PyTorch (counted at the end of the run)")


def _is_torch_skip(report: pytest.CollectReport | pytest.TestReport) -> bool:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return "'torch'" in reason


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "torch" not in report.keywords and not (report.skipped and _is_torch_skip(report)):
        return
    if report.when == "call" and not report.skipped:
        _count["ran"] += 1
    elif report.skipped:
        _count["skipped"] += 1


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped and _is_torch_skip(report):  # pytest.importorskip("torch") at a module's top
        _count["modules skipped"] += 1


def summary() -> str | None:
    """The line the run ends with, or None when it met no PyTorch comparison and none was required."""
    ran, skipped, modules = _count["ran"], _count["skipped"], _count["modules skipped"]
    required = os.environ.get(REQUIRE) == "1"
    if not (ran or skipped or modules or required):
        return None
    torch = sys.modules.get("torch")
    line = f"PyTorch comparisons: {ran} ran" + (f" (torch {torch.__version__})" if torch and ran else "")
    if skipped or modules:
        line += f"; skipped: {skipped} tests and {modules} modules, as torch did not import"
    if required and (not ran or skipped or modules):
        line += f"; {REQUIRE}=1 asked for all of them: FAILED"
    return line


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    ran, skipped = _count["ran"], _count["skipped"] + _count["modules skipped"]
    if os.environ.get(REQUIRE) == "1" and (not ran or skipped) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = summary()
    if line is not None:
        terminalreporter.write_line(line)
