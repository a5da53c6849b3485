"""Builders for test inputs: realistic defaults, override what the test is about."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway import testing
from gateway.config import Settings
from gateway.domain.events import ConnectorStatusReported
from gateway.domain.ids import ChargerId
from gateway.domain.status import ConnectorStatus
from gateway.domain.topology import ConnectorRef
from tests import postgres

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = ROOT / "config.toml"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def shipped_config() -> dict[str, Any]:
    """The shipped ``config.toml`` as a dict, to modify per test."""
    return tomllib.loads(SHIPPED_CONFIG.read_text())


def a_settings(**sections: Any) -> Settings:
    """The shipped example site, on loopback ports the OS picks.

    A table given here overrides only the keys it names (``ocpp={"offline_grace_s": 5}``);
    an array of tables (``chargers=[...]``) replaces the shipped one.
    """
    raw = shipped_config()
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **copy.deepcopy(value)}  # tables: override keys
        else:
            raw[key] = copy.deepcopy(value)
    for listener in ("ocpp", "http"):
        # Only loopback in tests, on ports the OS picks, unless a test names its own.
        given = sections.get(listener, {})
        raw[listener] = {
            **raw[listener],
            "host": given.get("host", "127.0.0.1"),
            "port": given.get("port", 0),
        }
    storage = raw.get("storage", {})
    if "data_dir" in sections.get("storage", {}) and not storage.get("database_url"):
        # A test that gives its gateway a directory of its own may run on PostgreSQL.
        url = postgres.database_for(str(storage["data_dir"]))
        if url is not None:
            raw["storage"] = {**storage, "database_url": url}
    return Settings.model_validate(raw)


def a_status(
    status: ConnectorStatus = ConnectorStatus.AVAILABLE,
    *,
    charger: str = "AC-0001",
    connector: int | None = 1,
    evse: int | None = None,
    at: datetime = T0,
) -> ConnectorStatusReported:
    return ConnectorStatusReported(
        charger_id=ChargerId(charger),
        at=at,
        connector=None if connector is None else ConnectorRef(evse=evse, connector=connector),
        status=status,
    )


class FakeClock(testing.FakeClock):
    """The shipped fake clock, starting at the tests' reference instant."""

    def __init__(self, start: datetime = T0) -> None:
        super().__init__(start)
