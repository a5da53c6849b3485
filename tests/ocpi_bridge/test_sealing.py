"""The OCPI sealer seals each start exactly as the pure ``seal_site`` would."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from gateway.config import load_settings
from gateway.domain.ids import EvseUid
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, Transaction
from ocpi_bridge.sealing import OcpiSealer
from ocpi_bridge.translate.delivery import seal_site
from tests.builders import SHIPPED_CONFIG, T0
from tests.ocpi_bridge.test_translate_sessions import a_transaction

SETTINGS = load_settings(SHIPPED_CONFIG)
ALL_DATED = {f"tariff:{t.id}": T0 - timedelta(days=1) for t in SETTINGS.tariffs}


class NoTokens:
    def identity(self, token: AuthToken, *, auth_source: str | None, auth_reference: str | None):
        return None


def starts() -> list[Transaction]:
    """Starts at different times, on both connectors of the DC EVSE and on the AC EVSE."""
    dc = SETTINGS.locations[0].evses[-1]
    return [
        a_transaction(),
        a_transaction(tx_id="18", started_at=T0 + timedelta(hours=3)),
        a_transaction(evse_uid=EvseUid(dc.uid), connector=ConnectorRef(evse=None, connector=2)),
        a_transaction(evse_uid=EvseUid(dc.uid), connector=ConnectorRef(evse=None, connector=1)),
        a_transaction(evse_uid=EvseUid(dc.uid), connector=None),
        a_transaction(evse_uid=None),
        a_transaction(evse_uid=EvseUid("NOT-CONFIGURED")),
    ]


@pytest.mark.parametrize("configured_at", [ALL_DATED, {}], ids=["tariffs dated", "undated"])
def test_every_seal_has_the_site_seal_site_gives(configured_at: dict[str, datetime]) -> None:
    """Sealed twice over, in any order: each start gets its own site document or problem."""
    sealer = OcpiSealer(SETTINGS, configured_at=configured_at, tokens=NoTokens())
    for tx in [*starts(), *reversed(starts())]:
        seal = sealer.seal(tx)
        assert (seal.site, seal.problem) == seal_site(tx, SETTINGS, configured_at=configured_at)


def test_a_tariff_without_a_recorded_time_is_dated_by_each_start() -> None:
    """Its document carries the start's time, so a later start is not given an earlier one."""
    sealer = OcpiSealer(SETTINGS, configured_at={}, tokens=NoTokens())
    first = sealer.seal(a_transaction())
    later = sealer.seal(replace(a_transaction(), started_at=T0 + timedelta(days=2)))
    assert first.site != later.site
