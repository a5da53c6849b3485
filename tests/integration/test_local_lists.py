"""End to end: tokens reach chargers' local authorisation lists, full first, then changes.

A simulated charger answers the gateway's GetLocalListVersion and SendLocalList; tokens
arrive through the Tokens receiver from the partner configured in config.toml.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from tests.builders import FakeClock
from tests.integration.conftest import Running, auth, site_settings
from tests.sim.charger import SimCharger, sim_charger, wait_until

pytestmark = pytest.mark.integration

STAFF = "STAFF-0001"
BOOT_16 = {"chargePointVendor": "Example", "chargePointModel": "AC22"}
BOOT_201 = {"reason": "PowerUp", "chargingStation": {"model": "DC50", "vendorName": "Ex"}}


def a_token(uid: str, whitelist: str = "ALWAYS", **overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"DE-EMS-{uid}",
        "issuer": "Test eMSP",
        "valid": True,
        "whitelist": whitelist,
        "last_updated": "2026-11-22T09:00:00Z",
        **overrides,
    }


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Running]:
    settings = site_settings(tmp_path, authorization={"site_tokens": [{"uid": STAFF}]})
    gateway = Gateway(settings, clock=FakeClock())
    await gateway.start()
    try:
        yield Running(gateway, FakeClock())
    finally:
        await gateway.stop()


@pytest.fixture
async def partner(site: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"{site.http_url}/ocpi/2.2.1/tokens/DE/EMS", headers=auth(), timeout=5
    ) as client:
        yield client


def sent_lists(cp: SimCharger) -> list[dict[str, Any]]:
    return [payload for action, payload in cp.received if action == "SendLocalList"]


async def next_list(cp: SimCharger, count: int) -> dict[str, Any]:
    """Wait for the ``count``-th SendLocalList and return it."""
    await wait_until(lambda: len(sent_lists(cp)) >= count)
    return sent_lists(cp)[count - 1]


def v16_entries(payload: dict[str, Any]) -> dict[str, str | None]:
    return {
        e["idTag"]: e.get("idTagInfo", {}).get("status") for e in payload["localAuthorizationList"]
    }


async def test_a_1_6_charger_gets_its_list_in_full_then_each_change(site: Running, partner):
    """Site tokens and whitelistable partner tokens, never NEVER ones; a PATCH that invalidates
    a card sends it Blocked in a differential update with the next version."""
    for token in (
        a_token("ALWAYS-1"),
        a_token("ALLOWED-1", "ALLOWED"),
        a_token("OFFLINE-1", "ALLOWED_OFFLINE"),
        a_token("NEVER-1", "NEVER"),
    ):
        assert (await partner.put(f"/{token['uid']}", json=token)).status_code == 201

    async with sim_charger(site.ws_url("AC-0001")) as cp:
        cp.answers["GetLocalListVersion"] = {"listVersion": 0}
        await cp.call("BootNotification", BOOT_16)

        full = await next_list(cp, 1)
        assert (full["listVersion"], full["updateType"]) == (1, "Full")
        assert v16_entries(full) == {
            STAFF: "Accepted",
            "ALWAYS-1": "Accepted",
            "ALLOWED-1": "Accepted",
            "OFFLINE-1": "Accepted",
        }

        await partner.patch(
            "/ALWAYS-1", json={"valid": False, "last_updated": "2026-11-22T10:00:00Z"}
        )
        blocked = await next_list(cp, 2)
        assert (blocked["listVersion"], blocked["updateType"]) == (2, "Differential")
        assert v16_entries(blocked) == {"ALWAYS-1": "Blocked"}

        await partner.put("/NEVER-1", json=a_token("NEVER-1", "NEVER", valid=False))
        await partner.patch(
            "/ALLOWED-1", json={"whitelist": "NEVER", "last_updated": "2026-11-22T10:00:00Z"}
        )
        removed = await next_list(cp, 3)
        assert (removed["listVersion"], removed["updateType"]) == (3, "Differential")
        assert removed["localAuthorizationList"] == [{"idTag": "ALLOWED-1"}]
        assert [a for a, _ in cp.received].count("GetLocalListVersion") == 1


async def test_a_reconnecting_charger_with_the_same_version_gets_only_changes(
    site: Running, partner
):
    """On a new connection the charger's version is checked: the same one means no resend;
    a VersionMismatch answer to a differential update brings a full one at once."""
    await partner.put("/ALWAYS-1", json=a_token("ALWAYS-1"))
    async with sim_charger(site.ws_url("AC-0001")) as cp:
        cp.answers["GetLocalListVersion"] = {"listVersion": 0}
        await cp.call("BootNotification", BOOT_16)
        await next_list(cp, 1)

    async with sim_charger(site.ws_url("AC-0001")) as cp:
        cp.answers["GetLocalListVersion"] = {"listVersion": 1}
        cp.answers["SendLocalList"] = lambda p: {
            "status": "VersionMismatch" if p["updateType"] == "Differential" else "Accepted"
        }
        await wait_until(lambda: ("GetLocalListVersion", {}) in cp.received)
        await asyncio.sleep(0.3)
        assert sent_lists(cp) == []

        await partner.put("/ALWAYS-2", json=a_token("ALWAYS-2"))
        differential = await next_list(cp, 1)
        full = await next_list(cp, 2)

    assert (differential["listVersion"], differential["updateType"]) == (2, "Differential")
    assert (full["listVersion"], full["updateType"]) == (3, "Full")
    assert v16_entries(full) == {STAFF: "Accepted", "ALWAYS-1": "Accepted", "ALWAYS-2": "Accepted"}


async def test_a_2_0_1_charger_gets_typed_tokens_and_one_without_lists_is_left_alone(
    site: Running, partner
):
    """2.0.1 lists carry the idToken type; a charger refusing them (CALLERROR NotSupported) is
    not asked again on this connection, whatever changes."""
    await partner.put("/ALWAYS-1", json=a_token("ALWAYS-1"))
    async with sim_charger(site.ws_url("DC-0001"), "ocpp2.0.1") as cp:
        cp.answers["GetLocalListVersion"] = {"versionNumber": 0}
        cp.answers["SendLocalList"] = "error:NotSupported"
        await cp.call("BootNotification", BOOT_201)

        full = await next_list(cp, 1)
        await partner.put("/ALWAYS-2", json=a_token("ALWAYS-2"))
        await asyncio.sleep(0.5)

        assert len(sent_lists(cp)) == 1
    assert (full["versionNumber"], full["updateType"]) == (1, "Full")
    assert full["localAuthorizationList"] == [
        {"idToken": {"idToken": STAFF, "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}},
        {
            "idToken": {"idToken": "ALWAYS-1", "type": "ISO14443"},
            "idTokenInfo": {"status": "Accepted"},
        },
    ]
