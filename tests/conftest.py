"""Shared test setup: hypothesis profiles and seeded randomness.

HYPOTHESIS_PROFILE selects the profile: "dev" (fast, the default locally), "ci" (more
examples, derandomized; the default when CI is set), "nightly" (10x ci, random: new examples
each run, for a scheduled job; docs/oracles.md) or "mutation" (few examples, derandomized:
the same ones for every mutant of a mutation-testing run, see docs/development.md);
each also as "<name>-noshrink", which does not shrink a failing example (for counting failures).
"""

import os
import random

import pytest
from hypothesis import HealthCheck, Phase, settings
from torch_oracle import (  # noqa: F401  (hooks: counting the PyTorch comparisons)
    pytest_collectreport,
    pytest_configure,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

# No deadline and no too_slow health check: both fail a test by the clock, and a busy machine is not a bug.
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci",
    max_examples=250,
    deadline=None,
    derandomize=True,  # CI runs the same examples every time; locally, dev explores new ones
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "nightly",
    max_examples=2500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "mutation",
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Each profile without shrinking, for runs that only count failures (mutation testing of many mutants): the
# same examples pass or fail, and a failing example is not shrunk for minutes.
for _name in ("dev", "ci", "mutation"):
    settings.register_profile(
        f"{_name}-noshrink", settings.get_profile(_name), phases=[Phase.explicit, Phase.reuse, Phase.generate]
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def seeded_random():
    """Every test starts from the same global random state."""
    random.seed(1234)
