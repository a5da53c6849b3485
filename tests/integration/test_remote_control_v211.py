"""End to end with a 2.1.1 eMSP: it pushes a token, the charger authorises it, it commands.

The eMSP (``tests/emsp``, a real process) registers with 2.1.1 only and sends raw tokens.
It PUTs a 2.1.1 Token; a simulated 1.6 charger presents the card and the gateway asks the
eMSP's 2.1.1 Tokens endpoint in real time; then the eMSP sends 2.1.1 commands and gets
2.1.1 CommandResponses, at once and at its ``response_url``, and the Session it sees goes
PENDING -> ACTIVE under one id.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration import test_ocpi_platform as platform, test_remote_control as remote
from tests.integration.test_ocpi_platform import Emsp
from tests.integration.test_remote_control import AC, Site, Start
from tests.remote_site import UID, ocpi_token

pytestmark = pytest.mark.integration

emsp_process = platform.emsp_process
emsp = platform.emsp
start_site = remote.start_site
__all__ = ["emsp", "emsp_process", "start_site"]  # fixtures used below

TOKEN_211 = {
    "uid": UID,
    "type": "RFID",
    "auth_id": "DE-EMS-C12345678-X",
    "issuer": "Test eMSP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2026-11-22T09:00:00Z",
}


@pytest.fixture(autouse=True)
async def no_tokens_left(emsp: Emsp) -> AsyncIterator[None]:
    """The eMSP's Tokens sender starts and ends empty (other tests share the process)."""
    await emsp.post("/_control/tokens/reset")
    yield
    await emsp.post("/_control/tokens/reset")


async def registered_211(site: Site) -> str:
    """The eMSP registers with 2.1.1 (raw tokens); return the token it uses with us."""
    await site.emsp.control(raw_tokens=True, versions_offered=["2.1.1"])
    result = await site.emsp.register(site.cpo.versions_url, site.cpo.invite(), version="2.1.1")
    assert result["body"]["status_code"] == 1000, result
    token = result["body"]["data"]["token"]
    assert isinstance(token, str)
    return token


async def session_pushes(emsp_url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        received = (await client.get(f"{emsp_url}/_inspect")).json()["received"]
    return [r["body"] for r in received if (r["version"], r["module"]) == ("2.1.1", "sessions")]


async def until(check: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_2_1_1_emsp_pushes_a_token_starts_a_session_and_sees_it_pending_then_active(
    start_site: Start,
):
    """PUT 2.1.1 Token; real-time 2.1.1 authorisation; START_SESSION answered and resulted
    as 2.1.1 CommandResponses; the eMSP gets the PENDING Session, then ACTIVE, one id."""
    site = await start_site(register=False)
    token = await registered_211(site)
    await site.emsp.post("/_control/tokens", {"tokens": [ocpi_token()]})
    headers = {"Authorization": f"Token {token}"}

    put = await site.cpo.send("PUT", f"/ocpi/2.1.1/tokens/DE/EMS/{UID}", headers, json=TOKEN_211)
    assert (put.status_code, put.json()["status_code"]) == (201, 1000)

    async with site.charger(AC) as cp:
        await site.online(AC)
        authorized = await cp.call("Authorize", {"idTag": UID})
        assert authorized[2]["idTagInfo"]["status"] == "Accepted"
        asked = (await site.emsp.post("/_control/tokens"))["authorize_requests"]
        assert [(a["version"], a["uid"]) for a in asked] == [("2.1.1", UID)]

        sent = await site.command(
            "START_SESSION", token=TOKEN_211, location_id="LOC-001", evse_uid="AC-0001-1"
        )
        assert sent["body"]["data"] == {"result": "ACCEPTED"}
        assert "/ocpi/emsp/2.1.1/commands/" in sent["response_url"]
        assert await site.results(sent["response_url"]) == [{"result": "ACCEPTED"}]
        ((action, _),) = cp.received
        assert action == "RemoteStartTransaction"

        async def pending_seen() -> bool:
            return any(s.get("status") == "PENDING" for s in await session_pushes(site.emsp.url))

        await until(pending_seen)
        started = await cp.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": UID, "meterStart": 0, "timestamp": "2026-11-22T10:00:05Z"},
        )
        assert started[2]["idTagInfo"]["status"] == "Accepted"

        async def active_seen() -> bool:
            return any(s.get("status") == "ACTIVE" for s in await session_pushes(site.emsp.url))

        await until(active_seen)

    pushes = await session_pushes(site.emsp.url)
    first = pushes[0]
    assert (first["status"], first["auth_id"], first["kwh"]) == ("PENDING", "DE-EMS-C12345678-X", 0)
    assert [e["uid"] for e in first["location"]["evses"]] == ["AC-0001-1"]
    statuses = [s["status"] for s in pushes if "status" in s]
    assert statuses[: statuses.index("ACTIVE") + 1] == ["PENDING", "ACTIVE"]
    assert {s["id"] for s in pushes if "id" in s} == {first["id"]}
    served = await site.cpo.send(
        "GET", "/ocpi/2.1.1/sessions", headers, params={"date_from": "2020-01-01T00:00:00Z"}
    )
    assert [(s["id"], s["status"]) for s in served.json()["data"]] == [(first["id"], "ACTIVE")]


async def test_a_2_1_1_unlock_of_an_unknown_evse_is_rejected_at_once_without_a_charger_call(
    start_site: Start,
):
    """REJECTED as a 2.1.1 CommandResponse; nothing goes to the charger or the response_url;
    CANCEL_RESERVATION does not exist in 2.1.1 (404)."""
    site = await start_site(register=False)
    await registered_211(site)

    async with site.charger(AC) as cp:
        await site.online(AC)
        sent = await site.command(
            "UNLOCK_CONNECTOR", location_id="LOC-001", evse_uid="NO-SUCH-EVSE", connector_id="1"
        )
        cancel = await site.emsp.post(
            "/_control/command", {"command": "CANCEL_RESERVATION", "body": {"reservation_id": 1}}
        )
        await asyncio.sleep(0.2)

        assert sent["body"]["data"] == {"result": "REJECTED"}
        assert sent["body"]["status_code"] == 1000
        assert cancel["status"] == 404
        assert cp.received == []
    assert await site.received(sent["response_url"]) == []
