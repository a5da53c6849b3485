"""Shared fixtures: every test fails if an ERROR was logged that it did not expect."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests import postgres

# Speed is measured in bench/, never in tests: Hypothesis's timing checks (the per-example
# deadline and the slow-generation health check) only fail a test because the machine
# was busy, which it is when the suite runs on both cores at once.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# CI runs the same examples every time, so a coverage gate can never flake on luck;
# developers' runs keep exploring new examples.
settings.register_profile("ci", settings.get_profile("default"), derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(autouse=True, scope="session")
def _postgres_databases() -> Iterator[None]:
    yield
    postgres.drop_created()


@pytest.fixture(autouse=True)
def _no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A test that expects errors clears them: ``caplog.clear()`` after asserting on them."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail(
            "unexpected ERROR logs:\n" + "\n".join(f"{r.name}: {r.getMessage()}" for r in errors)
        )
