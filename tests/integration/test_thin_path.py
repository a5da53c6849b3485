"""End to end: a 1.6 charger's status reaches OCPI Locations through the running gateway."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.integration.conftest import Running

pytestmark = pytest.mark.integration


class RawCharger:
    """The smallest possible OCPP-J client: sends CALLs, returns what comes back."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.n = 0

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        self.n += 1
        await self.ws.send(json.dumps([2, f"m{self.n}", action, payload]))
        while True:
            reply: list[Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
            if reply[0] != 2:
                return reply
            # The gateway's own CALLs (an accepted charger is soon asked for its local list
            # version) are refused the way a charger without the feature would.
            await self.ws.send(json.dumps([4, reply[1], "NotImplemented", "", {}]))


async def evse_statuses(http: httpx.AsyncClient) -> dict[str, tuple[str, str]]:
    r = await http.get("/ocpi/2.2.1/locations")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status_code"] == 1000
    (loc,) = body["data"]
    return {e["uid"]: (e["status"], e["last_updated"]) for e in loc["evses"]}


async def test_status_notifications_become_ocpi_evse_statuses(running: Running, http):
    """Boot is accepted with the configured interval; each connector's status reaches OCPI."""
    before = await evse_statuses(http)
    assert {uid: s for uid, (s, _) in before.items()} == {
        "AC-0001-1": "UNKNOWN",
        "AC-0001-2": "UNKNOWN",
        "DC-0001-1": "UNKNOWN",
    }

    async with connect(running.ws_url("AC-0001"), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        assert ws.subprotocol == "ocpp1.6"
        cp = RawCharger(ws)
        boot = await cp.call(
            "BootNotification", {"chargePointVendor": "Example", "chargePointModel": "AC22"}
        )
        assert boot[0] == 3
        assert boot[2]["status"] == "Accepted"
        assert boot[2]["interval"] == 300
        running.clock.advance(5)
        for connector, status in ((0, "Available"), (1, "Available"), (2, "Charging")):
            reply = await cp.call(
                "StatusNotification",
                {"connectorId": connector, "errorCode": "NoError", "status": status},
            )
            assert reply == [3, f"m{cp.n}", {}]

        after = await evse_statuses(http)
        assert after["AC-0001-1"][0] == "AVAILABLE"
        assert after["AC-0001-2"][0] == "CHARGING"
        assert after["AC-0001-2"][1] > before["AC-0001-2"][1]
        assert after["DC-0001-1"] == before["DC-0001-1"]

        running.clock.advance(5)
        await cp.call(
            "StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Finishing"}
        )
        unchanged = await evse_statuses(http)
        assert unchanged["AC-0001-2"] == after["AC-0001-2"]  # still CHARGING: no news

        running.clock.advance(5)
        await cp.call(
            "StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Available"}
        )
        moved = await evse_statuses(http)
        assert moved["AC-0001-2"][0] == "AVAILABLE"
        assert moved["AC-0001-2"][1] > after["AC-0001-2"][1]

    location = (await http.get("/ocpi/2.2.1/locations/LOC-001")).json()["data"]
    assert location["last_updated"] == max(e["last_updated"] for e in location["evses"])


async def test_a_disconnected_charger_goes_unknown_after_the_grace_period(running: Running, http):
    """A blip keeps the last status; past ocpp.offline_grace_s the EVSEs show UNKNOWN."""
    async with connect(running.ws_url("AC-0001"), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        cp = RawCharger(ws)
        await cp.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
    for _ in range(100):
        if "AC-0001" not in running.gateway.ocpp.connections:
            break
        await asyncio.sleep(0.01)

    running.clock.advance(89)
    await running.gateway.runtime.expire_offline()
    assert (await evse_statuses(http))["AC-0001-1"][0] == "AVAILABLE"

    running.clock.advance(1)
    await running.gateway.runtime.expire_offline()
    assert (await evse_statuses(http))["AC-0001-1"][0] == "UNKNOWN"


async def test_the_2_0_1_charger_reports_per_evse_and_connector(running: Running, http):
    """A 2.0.1 StatusNotification (evseId, connectorId, Occupied) shows CHARGING."""
    async with connect(running.ws_url("DC-0001"), subprotocols=[Subprotocol("ocpp2.0.1")]) as ws:
        cp = RawCharger(ws)
        boot = await cp.call(
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "DC50", "vendorName": "Example"}},
        )
        assert boot[2]["status"] == "Accepted"
        reply = await cp.call(
            "StatusNotification",
            {
                "timestamp": "2026-11-22T10:00:00Z",
                "connectorStatus": "Occupied",
                "evseId": 1,
                "connectorId": 2,
            },
        )
        assert reply[0] == 3

    assert (await evse_statuses(http))["DC-0001-1"][0] == "CHARGING"


@pytest.mark.parametrize("charger_id", ["GHOST-1", "bad%3Aid", "a" * 49, "x%2Fy"])
async def test_unknown_or_malformed_identities_are_refused_with_404(running: Running, charger_id):
    """The handshake fails with HTTP 404 and nothing about the charger is stored."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(running.ws_url(charger_id), subprotocols=[Subprotocol("ocpp1.6")]):
            pass
    assert info.value.response.status_code == 404
    assert charger_id not in running.gateway.store.load_chargers()


async def test_an_unsupported_subprotocol_completes_the_handshake_then_closes(running: Running):
    """OCPP-J: with no common subprotocol the server answers without one and closes."""
    async with connect(running.ws_url("AC-0001"), subprotocols=[Subprotocol("ocpp1.5")]) as ws:
        assert ws.subprotocol is None
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 1002


async def test_a_charger_offering_the_wrong_version_is_not_given_another(running: Running):
    """A charger configured for 2.0.1 that offers only ocpp1.6 gets no subprotocol."""
    async with connect(running.ws_url("DC-0001"), subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        assert ws.subprotocol is None


async def test_ocpi_without_a_token_is_401_in_an_envelope(running: Running):
    """Missing or unknown tokens get HTTP 401 with the OCPI envelope (status_code 2000)."""
    async with httpx.AsyncClient(base_url=running.http_url) as anonymous:
        for headers in ({}, {"Authorization": "Token bm9wZQ=="}):
            r = await anonymous.get("/ocpi/2.2.1/locations", headers=headers)
            assert r.status_code == 401
            assert r.json()["status_code"] == 2000
            assert r.json()["timestamp"].endswith("Z")


async def test_health_reports_the_store_and_both_listeners(running: Running):
    """GET /healthz says whether the store answers, both listeners are up, backlogs are fresh."""
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["checks"] == {
        "store": "ok",
        "ocpp_listener": "ok",
        "http_listener": "ok",
        "chargers_connected": 0,
        "backlog": "ok",
    }


async def test_the_openapi_document_lists_ocpi_routes_and_models(running: Running):
    """GET /openapi.json names the OCPI routes and the OCPI models they carry."""
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        doc = (await client.get("/openapi.json")).json()

    paths = doc["paths"]
    for path in (
        "/ocpi/versions",
        "/ocpi/2.2.1",
        "/ocpi/2.2.1/credentials",
        "/ocpi/2.2.1/locations",
    ):
        assert path in paths, path
    schemas = doc["components"]["schemas"]
    assert {"Location", "Evse", "Connector", "Credentials", "VersionDetails"} <= set(schemas)
    post = paths["/ocpi/2.2.1/credentials"]["post"]
    assert "requestBody" in post
