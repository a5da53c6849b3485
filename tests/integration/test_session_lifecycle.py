"""End to end: the Session lifecycle a real eMSP process sees (DESIGN.md §4, mod_sessions).

A START_SESSION opens a PENDING Session that the transaction it leads to takes over (one
id: PENDING -> ACTIVE -> COMPLETED); a refused or unanswered one ends INVALID; a
RESERVE_NOW shows RESERVATION, then ACTIVE when the reserved token starts, or INVALID
when cancelled; a start whose token was refused is INVALID and never billed. Each time
the eMSP's final view equals what GET /sessions serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.app import Gateway
from gateway.domain.ids import ChargerId
from ocpi_bridge.translate.delivery import pushable_session
from tests.builders import FakeClock
from tests.integration.delivery import emsp_view, gateway_view, held
from tests.integration.test_ocpi_platform import (  # noqa: F401 - fixtures
    Cpo,
    Emsp,
    b64,
    emsp,
    emsp_process,
    free_port,
    registered,
)
from tests.integration.test_remote_control import (
    AC,
    DC,
    START_ACTION,
    Site,
    begin_transaction,
    remote_settings,
    sealed_session,
    start_body,
)
from tests.remote_site import UID, ocpi_token
from tests.sim.charger import SimCharger

pytestmark = pytest.mark.integration


class Lifecycle:
    """A running site whose eMSP registered, with the eMSP's Token C for GET /sessions."""

    def __init__(self, site: Site, token_c: str) -> None:
        self.site = site
        self.token_c = token_c

    async def log(self) -> list[dict[str, Any]]:
        return list((await held(self.site.emsp.url))["session_log"])

    async def converge(
        self, until: Callable[[dict[str, Any]], bool], timeout_s: float = 10
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Wait until the eMSP holds the Sessions and CDRs GET serves, and ``until`` holds.

        Returns what the eMSP holds and what the gateway serves.
        """
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            holding = await held(self.site.emsp.url)
            theirs = {k: v for k, v in emsp_view(holding).items() if k in ("sessions", "cdrs")}
            view = await gateway_view(self.site.cpo.http_url, self.token_c)
            # An ACTIVE Session's last period is still growing: it is pushed once closed.
            ours = {
                "sessions": {k: pushable_session(v) for k, v in view["sessions"].items()},
                "cdrs": view["cdrs"],
            }
            if theirs == ours and until(holding):
                return holding, ours
            if asyncio.get_running_loop().time() > deadline:
                assert theirs == ours
                assert until(holding), holding
            await asyncio.sleep(0.05)

    async def holds(self, status: str) -> str:
        """Wait until the eMSP holds a Session with ``status``; its id."""
        for _ in range(500):
            for entry in await self.log():
                if entry["status"] == status:
                    return str(entry["id"])
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {status} Session reached the eMSP: {await self.log()}")


@pytest.fixture
async def life(tmp_path: Path, emsp: Emsp) -> AsyncIterator[Lifecycle]:  # noqa: F811
    clock = FakeClock()
    # Long enough for a charger that answers only once the eMSP saw PENDING, on a busy
    # machine; short enough that a silent charger costs a test little.
    gateway = Gateway(remote_settings(tmp_path, free_port(), call_timeout_s=3.0), clock=clock)
    await gateway.start()
    assert gateway.commands is not None
    assert gateway.pusher is not None
    try:
        cpo = Cpo(gateway, clock)
        token_c = await registered(cpo, emsp)
        yield Lifecycle(Site(cpo, emsp), token_c)
    finally:
        await gateway.stop()


def statuses(log: list[dict[str, Any]], session_id: str) -> list[str]:
    """The statuses one Session went through at the eMSP, repeats folded."""
    seen: list[str] = []
    for entry in log:
        if entry["id"] == session_id and (not seen or seen[-1] != entry["status"]):
            seen.append(entry["status"])
    return seen


def status_is(session_id: str, status: str) -> Callable[[dict[str, Any]], bool]:
    def check(holding: dict[str, Any]) -> bool:
        return any(
            s["id"] == session_id and s["status"] == status for s in holding["sessions"].values()
        )

    return check


async def stop_transaction(cp: SimCharger, charger: ChargerId, tx_id: str) -> None:
    if charger == AC:
        await cp.call(
            "StopTransaction",
            {"transactionId": int(tx_id), "meterStop": 6000, "timestamp": "2026-11-22T11:00:00Z"},
        )
        return
    await cp.call(
        "TransactionEvent",
        {
            "eventType": "Ended",
            "timestamp": "2026-11-22T11:00:00Z",
            "triggerReason": "EVDeparted",
            "seqNo": 1,
            "transactionInfo": {"transactionId": tx_id, "stoppedReason": "EVDisconnected"},
            "evse": {"id": 1, "connectorId": 1},
        },
    )


@pytest.mark.parametrize("charger", [AC, DC], ids=["1.6", "2.0.1"])
async def test_a_start_session_is_one_session_from_pending_to_completed(
    life: Lifecycle, charger: ChargerId
):
    """PUT PENDING (the command's token, reference, EVSE, kwh 0), then PATCHes: ACTIVE once
    the transaction starts, COMPLETED at its end, under one id; the CDR names it."""
    site = life.site
    async with site.charger(charger) as cp:
        await site.online(charger)
        sent = await site.command("START_SESSION", **start_body(charger))
        assert await site.results(sent["response_url"]) == [{"result": "ACCEPTED"}]
        session_id = await life.holds("PENDING")
        _, ours = await life.converge(status_is(session_id, "PENDING"))
        pending = ours["sessions"][session_id]
        assert pending["kwh"] == 0
        assert pending["auth_method"] == "COMMAND"
        assert pending["authorization_reference"] == "AUTH-1"
        assert pending["cdr_token"]["uid"] == UID
        assert (pending["location_id"], pending["evse_uid"]) == ("LOC-001", f"{charger}-1")
        assert pending["currency"] == "EUR"

        tx_id = await begin_transaction(cp, charger, cp.received[0][1].get("remoteStartId", 0))
        assert sealed_session(site, charger, tx_id) == session_id
        await life.converge(status_is(session_id, "ACTIVE"))
        await stop_transaction(cp, charger, tx_id)
        holding, ours = await life.converge(
            lambda h: status_is(session_id, "COMPLETED")(h) and len(h["cdrs"]) == 1
        )

    assert list(ours["sessions"]) == [session_id]
    assert statuses(holding["session_log"], session_id) == ["PENDING", "ACTIVE", "COMPLETED"]
    methods = [e["method"] for e in holding["session_log"]]
    assert methods[0] == "PUT"
    assert set(methods[1:]) == {"PATCH"}
    (cdr,) = ours["cdrs"].values()
    assert cdr["session_id"] == session_id


@pytest.mark.parametrize("charger", [AC, DC], ids=["1.6", "2.0.1"])
async def test_a_start_session_the_charger_rejects_goes_pending_then_invalid(
    life: Lifecycle, charger: ChargerId
):
    """The charger refuses (after the eMSP saw PENDING): the Session is PATCHed INVALID,
    nothing is billed."""
    site = life.site
    async with site.charger(charger) as cp:
        await site.online(charger)

        async def refuse(_: dict[str, Any]) -> dict[str, Any]:
            await life.holds("PENDING")
            return {"status": "Rejected"}

        cp.answers[START_ACTION[charger]] = refuse
        sent = await site.command("START_SESSION", **start_body(charger))
        (result,) = await site.results(sent["response_url"])
        assert result["result"] == "REJECTED"
        session_id = await life.holds("PENDING")
        holding, ours = await life.converge(status_is(session_id, "INVALID"))

    assert statuses(holding["session_log"], session_id) == ["PENDING", "INVALID"]
    assert [e["method"] for e in holding["session_log"]] == ["PUT", "PATCH"]
    assert ours["sessions"][session_id]["status"] == "INVALID"
    assert ours["cdrs"] == {}


async def test_a_start_session_no_transaction_follows_ends_invalid_after_the_window(
    life: Lifecycle,
):
    """A silent charger (TIMEOUT) and no transaction within 15 minutes: INVALID."""
    site = life.site
    async with site.charger(AC) as cp:
        await site.online(AC)
        cp.answers[START_ACTION[AC]] = "silent"
        sent = await site.command("START_SESSION", **start_body(AC))
        (result,) = await site.results(sent["response_url"])
        assert result["result"] == "TIMEOUT"
        session_id = await life.holds("PENDING")
        commands = site.gateway.commands
        assert commands is not None
        await commands.expire_reservations()
        await life.converge(status_is(session_id, "PENDING"))

        site.cpo.clock.advance(16 * 60)
        await commands.expire_reservations()
        holding, _ours = await life.converge(status_is(session_id, "INVALID"))

    assert statuses(holding["session_log"], session_id) == ["PENDING", "INVALID"]


async def test_a_start_after_a_timeout_keeps_the_pending_session(life: Lifecycle):
    """TIMEOUT, then the 1.6 charger starts with the command's token at that EVSE anyway:
    the transaction takes the PENDING Session (EVSE + token within 15 minutes)."""
    site = life.site
    async with site.charger(AC) as cp:
        await site.online(AC)
        cp.answers[START_ACTION[AC]] = "silent"
        sent = await site.command("START_SESSION", **start_body(AC))
        await site.results(sent["response_url"])
        session_id = await life.holds("PENDING")
        tx_id = await begin_transaction(cp, AC, 0)
        holding, _ = await life.converge(status_is(session_id, "ACTIVE"))

    assert sealed_session(site, AC, tx_id) == session_id
    assert statuses(holding["session_log"], session_id) == ["PENDING", "ACTIVE"]


async def reserve(site: Site, charger: ChargerId, reservation_id: str) -> dict[str, Any]:
    sent = await site.command(
        "RESERVE_NOW",
        token=ocpi_token(),
        expiry_date="2026-11-22T10:30:00Z",
        reservation_id=reservation_id,
        location_id="LOC-001",
        evse_uid=f"{charger}-1",
        authorization_reference="RES-REF",
    )
    assert await site.results(sent["response_url"]) == [{"result": "ACCEPTED"}]
    return sent


@pytest.mark.parametrize("charger", [AC, DC], ids=["1.6", "2.0.1"])
async def test_a_reservation_shows_reservation_then_active_when_the_token_starts(
    life: Lifecycle, charger: ChargerId
):
    """RESERVE_NOW held by the charger: RESERVATION; the reserved token's start takes it
    (same id, ACTIVE)."""
    site = life.site
    async with site.charger(charger) as cp:
        await site.online(charger)
        await reserve(site, charger, "RES-1")
        session_id = await life.holds("RESERVATION")
        await life.converge(status_is(session_id, "RESERVATION"))
        tx_id = await begin_transaction(cp, charger, 0)
        holding, ours = await life.converge(status_is(session_id, "ACTIVE"))

    assert sealed_session(site, charger, tx_id) == session_id
    assert list(ours["sessions"]) == [session_id]
    assert statuses(holding["session_log"], session_id)[-2:] == ["RESERVATION", "ACTIVE"]
    assert ours["sessions"][session_id]["authorization_reference"] == "RES-REF"


async def test_a_cancelled_reservation_ends_invalid(life: Lifecycle):
    """CANCEL_RESERVATION: the RESERVATION Session becomes INVALID, nothing billed."""
    site = life.site
    async with site.charger(AC) as cp:
        await site.online(AC)
        await reserve(site, AC, "RES-2")
        session_id = await life.holds("RESERVATION")
        cancel = await site.command("CANCEL_RESERVATION", reservation_id="RES-2")
        assert await site.results(cancel["response_url"]) == [{"result": "ACCEPTED"}]
        assert cp.received[-1][0] == "CancelReservation"
        holding, ours = await life.converge(status_is(session_id, "INVALID"))

    assert statuses(holding["session_log"], session_id)[-2:] == ["RESERVATION", "INVALID"]
    assert ours["cdrs"] == {}


async def test_a_start_with_a_refused_token_is_invalid_and_never_billed(life: Lifecycle):
    """The eMSP's blocked card starts anyway: answered Blocked, the Session is INVALID from
    the start to the end, and no CDR is made."""
    site = life.site
    card = {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": "BLOCKED-9",
        "type": "RFID",
        "contract_id": "DE-EMS-BLOCKED-9",
        "issuer": "Test eMSP",
        "valid": False,
        "whitelist": "ALWAYS",
        "last_updated": "2026-11-22T09:00:00Z",
    }
    reply = await site.cpo.send(
        "PUT", "/ocpi/2.2.1/tokens/DE/EMS/BLOCKED-9", b64(life.token_c), json=card
    )
    assert reply.json()["status_code"] == 1000, reply.text
    async with site.charger(AC) as cp:
        await site.online(AC)
        started = await cp.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "BLOCKED-9",
                "meterStart": 0,
                "timestamp": "2026-11-22T10:00:05Z",
            },
        )
        assert started[2]["idTagInfo"]["status"] != "Accepted"
        tx_id = str(started[2]["transactionId"])
        session_id = sealed_session(site, AC, tx_id)
        await life.converge(status_is(session_id, "INVALID"))
        await stop_transaction(cp, AC, tx_id)
        await asyncio.sleep(0.2)
        holding, ours = await life.converge(status_is(session_id, "INVALID"))

    assert statuses(holding["session_log"], session_id) == ["INVALID"]
    assert "end_date_time" in ours["sessions"][session_id]
    assert "total_cost" not in ours["sessions"][session_id]
    assert ours["cdrs"] == {}


async def test_a_reservation_the_2_0_1_charger_removes_ends_invalid(life: Lifecycle):
    """ReservationStatusUpdate Removed (taken back at the charger): the reservation no
    longer holds the EVSE and its Session becomes INVALID, nothing billed."""
    site = life.site
    async with site.charger(DC) as cp:
        await site.online(DC)
        await reserve(site, DC, "RES-3")
        session_id = await life.holds("RESERVATION")
        (payload,) = [p for action, p in cp.received if action == "ReserveNow"]
        other = {"reservationId": payload["id"] + 1, "reservationUpdateStatus": "Removed"}
        assert (await cp.call("ReservationStatusUpdate", other))[2] == {}
        update = {"reservationId": payload["id"], "reservationUpdateStatus": "Removed"}
        assert (await cp.call("ReservationStatusUpdate", update))[2] == {}
        holding, ours = await life.converge(status_is(session_id, "INVALID"))

    assert statuses(holding["session_log"], session_id)[-2:] == ["RESERVATION", "INVALID"]
    assert site.gateway.remote_store.held_reservations() == []
    assert ours["cdrs"] == {}
