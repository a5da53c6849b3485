"""Shared fixtures: every test fails if an ERROR was logged that it did not expect."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

# CI runs the same examples every time, so a coverage gate can never flake on luck;
# developers' runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A test that expects errors clears them: ``caplog.clear()`` after asserting on them."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail(
            "unexpected ERROR logs:\n" + "\n".join(f"{r.name}: {r.getMessage()}" for r in errors)
        )
