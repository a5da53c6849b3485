"""End to end: a separate eMSP process commands simulated 1.6 and 2.0.1 chargers.

The eMSP (``tests/emsp``, a real process) registers with a running gateway, then sends
Commands and ChargingProfiles requests through its control API; the chargers are
``tests/sim`` websocket clients scripted to accept, refuse or stay silent. What the
eMSP receives at its ``response_url`` is read back from the eMSP process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.status import EvseStatus
from tests.builders import FakeClock, a_settings, shipped_config
from tests.integration.test_ocpi_platform import (  # noqa: F401 - fixtures
    Cpo,
    Emsp,
    emsp,
    emsp_process,
    free_port,
    registered,
)
from tests.remote_site import UID, ocpi_token, remote_locations
from tests.sim.charger import SimCharger, sim_charger, wait_until

pytestmark = pytest.mark.integration

AC, DC = ChargerId("AC-0001"), ChargerId("DC-0001")
VERSIONS = {AC: "ocpp1.6", DC: "ocpp2.0.1"}
EVSES = {AC: "AC-0001-1", DC: "DC-0001-1"}


def remote_settings(tmp_path: Path, port: int, *, call_timeout_s: float) -> Any:
    return a_settings(
        http={"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        storage={**shipped_config()["storage"], "data_dir": str(tmp_path / "data")},
        ocpp={"call_timeout_s": call_timeout_s},
        ocpi={"allow_private_partner_addresses": True, "partner_timeout_s": 2.0},
        locations=remote_locations(),
    )


class Site:
    """A running gateway, the eMSP registered with it, and shortcuts for both."""

    def __init__(self, cpo: Cpo, partner: Emsp) -> None:
        self.cpo = cpo
        self.emsp = partner

    @property
    def gateway(self) -> Gateway:
        return self.cpo.gateway

    async def command(self, name: str, **body: Any) -> dict[str, Any]:
        reply = await self.emsp.post("/_control/command", {"command": name, "body": body})
        assert reply["status"] == 200, reply
        return dict(reply)

    async def profile(self, method: str, session_id: str, **ask: Any) -> dict[str, Any]:
        reply = await self.emsp.post(
            "/_control/chargingprofile", {"method": method, "session_id": session_id, **ask}
        )
        assert reply["status"] == 200, reply
        return dict(reply)

    async def received(self, url: str | None = None) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=5) as client:
            items = (await client.get(f"{self.emsp.url}/_results")).json()
        return [i for i in items if url is None or i["url"] == url]

    async def results(self, url: str, count: int = 1, *, quiet_s: float = 0.05) -> list[Any]:
        """What arrived at ``url``: waits for ``count`` posts, then checks no more follow."""
        for _ in range(500):
            got = await self.received(url)
            if len(got) >= count:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(quiet_s)
        got = await self.received(url)
        assert len(got) == count, got
        return [g["body"] for g in got]

    def charger(self, charger_id: ChargerId) -> Any:
        return sim_charger(self.cpo.ws_url(charger_id), VERSIONS[charger_id])

    async def online(self, charger_id: ChargerId) -> None:
        await wait_until(lambda: self.gateway.link.connected(charger_id))


Start = Callable[..., Awaitable[Site]]


@pytest.fixture
async def start_site(tmp_path: Path, emsp: Emsp) -> AsyncIterator[Start]:  # noqa: F811
    running: list[Gateway] = []
    port = free_port()

    async def _start(*, call_timeout_s: float = 1.0, register: bool = True) -> Site:
        gateway = Gateway(
            remote_settings(tmp_path, port, call_timeout_s=call_timeout_s), clock=FakeClock()
        )
        await gateway.start()
        running.append(gateway)
        cpo = Cpo(gateway, gateway.clock)  # type: ignore[arg-type]
        if register:
            await registered(cpo, emsp)
        return Site(cpo, emsp)

    yield _start
    for gateway in running:
        await gateway.stop()


@pytest.fixture
async def site(start_site: Start) -> Site:
    return await start_site()


def start_body(charger: ChargerId, **overrides: Any) -> dict[str, Any]:
    return {
        "token": ocpi_token(),
        "location_id": "LOC-001",
        "evse_uid": EVSES[charger],
        "authorization_reference": "AUTH-1",
        **overrides,
    }


async def begin_transaction(cp: SimCharger, charger: ChargerId, remote_start_id: int) -> str:
    """The charger starts the remotely requested transaction; returns its id."""
    if charger == AC:
        authorized = await cp.call("Authorize", {"idTag": UID})
        assert authorized[2]["idTagInfo"]["status"] == "Accepted"  # vouched, not asked again
        started = await cp.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": UID, "meterStart": 0, "timestamp": "2026-11-22T10:00:05Z"},
        )
        assert started[2]["idTagInfo"]["status"] == "Accepted"
        return str(started[2]["transactionId"])
    event = {
        "eventType": "Started",
        "timestamp": "2026-11-22T10:00:05Z",
        "triggerReason": "RemoteStart",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "dc-tx-1", "remoteStartId": remote_start_id},
        "idToken": {"idToken": UID, "type": "ISO14443"},
        "evse": {"id": 1, "connectorId": 1},
    }
    reply = await cp.call("TransactionEvent", event)
    assert reply[2]["idTokenInfo"]["status"] == "Accepted"
    return "dc-tx-1"


def sealed_session(site: Site, charger: ChargerId, tx_id: str) -> str:
    """The Session id a transaction was sealed with (a START_SESSION's, when it took one)."""
    ids = site.gateway.remote_store.sealed_session_ids({(charger, tx_id)})
    return ids[(charger, tx_id)]


START_ACTION = {AC: "RemoteStartTransaction", DC: "RequestStartTransaction"}
STOP_ACTION = {AC: "RemoteStopTransaction", DC: "RequestStopTransaction"}


# --- START_SESSION / STOP_SESSION -------------------------------------------------------------


@pytest.mark.parametrize("charger", [AC, DC], ids=["1.6", "2.0.1"])
async def test_a_started_session_is_linked_to_its_command_and_can_be_stopped(
    site: Site, charger: ChargerId
):
    """ACCEPTED at once and as the result; the session carries the command's token and
    reference; the token is not authorised again; STOP_SESSION stops that transaction."""
    async with site.charger(charger) as cp:
        await site.online(charger)
        sent = await site.command("START_SESSION", **start_body(charger))
        assert sent["body"]["data"]["result"] == "ACCEPTED"
        assert await site.results(sent["response_url"]) == [{"result": "ACCEPTED"}]
        ((action, payload),) = cp.received
        assert action == START_ACTION[charger]
        remote_start_id = payload.get("remoteStartId", 0)
        tx_id = await begin_transaction(cp, charger, remote_start_id)

        tx = site.gateway.store.find_transaction(charger, tx_id=tx_id)
        assert tx is not None
        assert (tx.auth_source, tx.auth_reference) == ("emsp", "AUTH-1")
        store = site.gateway.remote_store
        await wait_until(lambda: store.link_for(charger, tx_id) is not None)
        link = store.link_for(charger, tx_id)
        assert link is not None
        assert (link.token.uid, link.token.contract_id) == (UID, "DE-EMS-C12345678-X")

        assert link.session_id == sealed_session(site, charger, tx_id)
        stop = await site.command("STOP_SESSION", session_id=link.session_id)
        assert stop["body"]["data"]["result"] == "ACCEPTED"
        assert await site.results(stop["response_url"]) == [{"result": "ACCEPTED"}]
        action, payload = cp.received[-1]
        assert action == STOP_ACTION[charger]
        assert str(payload["transactionId"]) == tx_id


@pytest.mark.parametrize("charger", [AC, DC], ids=["1.6", "2.0.1"])
async def test_a_charger_s_refusal_and_its_silence_are_the_results(site: Site, charger: ChargerId):
    """Rejected: REJECTED. No answer within the call timeout: TIMEOUT. One result each."""
    async with site.charger(charger) as cp:
        await site.online(charger)
        cp.answers[START_ACTION[charger]] = {"status": "Rejected"}
        refused = await site.command("START_SESSION", **start_body(charger))
        cp.answers["UnlockConnector"] = "silent"
        silent = await site.command(
            "UNLOCK_CONNECTOR", location_id="LOC-001", evse_uid=EVSES[charger], connector_id="1"
        )
        assert silent["body"]["data"]["result"] == "ACCEPTED"
        (rejected,) = await site.results(refused["response_url"])
        (timed_out,) = await site.results(silent["response_url"])
    assert rejected["result"] == "REJECTED"
    assert timed_out["result"] == "TIMEOUT"


async def test_a_command_for_an_offline_charger_is_rejected_at_once(site: Site):
    """No charger connected: REJECTED now, nothing recorded, no result later."""
    sent = await site.command("START_SESSION", **start_body(AC))
    assert sent["body"]["data"]["result"] == "REJECTED"
    assert sent["body"]["data"]["message"][0]["text"] == "the charger is offline"
    await asyncio.sleep(0.2)
    assert await site.received(sent["response_url"]) == []


async def test_a_session_starting_after_a_timeout_is_still_the_command_s(site: Site):
    """The charger starts charging after the result said TIMEOUT: the session is linked."""
    async with site.charger(AC) as cp:
        await site.online(AC)
        cp.answers["RemoteStartTransaction"] = "silent"
        sent = await site.command("START_SESSION", **start_body(AC))
        assert [r["result"] for r in await site.results(sent["response_url"])] == ["TIMEOUT"]
        tx_id = await begin_transaction(cp, AC, 0)
    store = site.gateway.remote_store
    await wait_until(lambda: store.link_for(AC, tx_id) is not None)


BAD_COMMANDS = [
    ("STOP_SESSION", {"session_id": "AC-0001-999"}, 1000, "UNKNOWN_SESSION"),
    ("START_SESSION", start_body(AC, location_id="LOC-404"), 2003, None),
    ("START_SESSION", start_body(AC, evse_uid="AC-0001-9"), 1000, "REJECTED"),
    ("START_SESSION", start_body(AC, evse_uid="AC-0001-4"), 1000, "REJECTED"),  # removed
    ("START_SESSION", start_body(AC, connector_id="7"), 1000, "REJECTED"),
    ("START_SESSION", start_body(AC, token=ocpi_token(party_id="OTH")), 1000, "REJECTED"),
    ("START_SESSION", start_body(AC, response_url="http://10.9.8.7/steal"), 2001, None),
    ("START_SESSION", start_body(AC, response_url="http://example.com/r"), 2001, None),
    ("START_SESSION", {"token": ocpi_token()}, 2001, None),
    ("UNLOCK_CONNECTOR", {"location_id": "LOC-001", "evse_uid": "AC-0001-1"}, 2001, None),
]


async def test_bad_commands_get_their_answer_and_no_charger_call(site: Site):
    """Unknown session, Location, EVSE or connector, a removed EVSE, another party's token,
    a private or foreign response_url, a malformed body: each has its defined answer, and
    the charger hears nothing."""
    async with site.charger(AC) as cp:
        await site.online(AC)
        for command, body, status_code, result in BAD_COMMANDS:
            reply = await site.emsp.post("/_control/command", {"command": command, "body": body})
            envelope = reply["body"]
            assert envelope["status_code"] == status_code, (command, body, envelope)
            if result is None:
                assert "data" not in envelope
            else:
                assert envelope["data"]["result"] == result
        await asyncio.sleep(0.1)
        assert cp.received == []
    assert await site.received() == []


# --- RESERVE_NOW / CANCEL_RESERVATION ---------------------------------------------------------


async def test_a_reservation_holds_the_evse_until_cancelled(site: Site):
    """ReserveNow under the gateway's own id; the charger reports Reserved; the partner's
    CANCEL_RESERVATION cancels that id; an unknown reservation is UNKNOWN_RESERVATION."""
    async with site.charger(AC) as cp:
        await site.online(AC)
        reserve = await site.command(
            "RESERVE_NOW",
            token=ocpi_token(),
            expiry_date="2026-11-22T10:30:00Z",
            reservation_id="RES-42",
            location_id="LOC-001",
            evse_uid="AC-0001-1",
        )
        assert await site.results(reserve["response_url"]) == [{"result": "ACCEPTED"}]
        ((action, payload),) = cp.received
        assert action == "ReserveNow"
        assert payload["reservationId"] != "RES-42"
        charger_id = payload["reservationId"]
        await cp.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Reserved"}
        )
        evse = EvseUid("AC-0001-1")
        assert site.gateway.store.evse_statuses()[evse].status is EvseStatus.RESERVED

        cancel = await site.command("CANCEL_RESERVATION", reservation_id="res-42")
        assert await site.results(cancel["response_url"]) == [{"result": "ACCEPTED"}]
        assert cp.received[-1] == ("CancelReservation", {"reservationId": charger_id})
        await cp.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        assert site.gateway.store.evse_statuses()[evse].status is EvseStatus.AVAILABLE

        again = await site.command("CANCEL_RESERVATION", reservation_id="RES-42")
        (unknown,) = await site.results(again["response_url"])
        assert unknown["result"] == "UNKNOWN_RESERVATION"
        assert len(cp.received) == 2


async def test_the_reserved_token_starting_on_a_2_0_1_charger_consumes_the_reservation(
    site: Site,
):
    """The start names the reservation: linked with the reservation's reference, now USED."""
    async with site.charger(DC) as cp:
        await site.online(DC)
        reserve = await site.command(
            "RESERVE_NOW",
            token=ocpi_token(),
            expiry_date="2026-11-22T10:30:00Z",
            reservation_id="RES-7",
            location_id="LOC-001",
            evse_uid="DC-0001-1",
            authorization_reference="RES-REF",
        )
        assert await site.results(reserve["response_url"]) == [{"result": "ACCEPTED"}]
        charger_id = cp.received[0][1]["id"]
        event = {
            "eventType": "Started",
            "timestamp": "2026-11-22T10:10:00Z",
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "dc-res-1"},
            "idToken": {"idToken": UID, "type": "ISO14443"},
            "evse": {"id": 1, "connectorId": 1},
            "reservationId": charger_id,
        }
        assert (await cp.call("TransactionEvent", event))[0] == 3
    store = site.gateway.remote_store
    await wait_until(lambda: store.link_for(DC, "dc-res-1") is not None)
    link = store.link_for(DC, "dc-res-1")
    assert link is not None
    assert (link.reservation_id, link.authorization_reference) == (charger_id, "RES-REF")
    await wait_until(lambda: store.held_reservations() == [])


# --- restarts ---------------------------------------------------------------------------------


async def test_a_result_lost_in_a_restart_is_posted_once_by_the_next_run(start_site: Start):
    """The gateway stops while the charger has not answered; the next start posts TIMEOUT,
    exactly once, and a third start posts nothing more."""
    first = await start_site(call_timeout_s=30)
    async with first.charger(AC) as cp:
        await first.online(AC)
        cp.answers["RemoteStartTransaction"] = "silent"
        sent = await first.command("START_SESSION", **start_body(AC))
        await wait_until(lambda: bool(cp.received))
        await first.gateway.stop()
    assert await first.received(sent["response_url"]) == []

    second = await start_site(register=False)
    (result,) = await second.results(sent["response_url"], quiet_s=0.3)
    assert result["result"] == "TIMEOUT"
    await second.gateway.stop()
    third = await start_site(register=False)
    await third.results(sent["response_url"], count=1, quiet_s=0.3)


# --- ChargingProfiles -------------------------------------------------------------------------

PROFILE = {
    "charging_rate_unit": "W",
    "min_charging_rate": 1400,
    "charging_profile_period": [
        {"start_period": 0, "limit": 11000},
        {"start_period": 1800, "limit": 7400.5},
    ],
}
COMPOSITE: dict[ChargerId, dict[str, Any]] = {
    AC: {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-11-22T10:00:00Z",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0}],
        },
    },
    DC: {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 900,
            "scheduleStart": "2026-11-22T10:00:00Z",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
        },
    },
}


@pytest.mark.parametrize("charger", [AC, DC], ids=["1.6", "2.0.1"])
async def test_charging_profiles_are_set_read_and_cleared_on_the_session(
    site: Site, charger: ChargerId
):
    """PUT -> SetChargingProfile (TxProfile on the transaction, the version's shape), result,
    and the new ActiveChargingProfile PUT to the partner; GET -> GetCompositeSchedule ->
    ActiveChargingProfileResult; DELETE -> ClearChargingProfile -> ClearProfileResult."""
    async with site.charger(charger) as cp:
        await site.online(charger)
        cp.answers["GetCompositeSchedule"] = COMPOSITE[charger]
        sent = await site.command("START_SESSION", **start_body(charger))
        await site.results(sent["response_url"])
        tx_id = await begin_transaction(cp, charger, cp.received[0][1].get("remoteStartId", 0))
        session = sealed_session(site, charger, tx_id)

        put = await site.profile("PUT", session, body={"charging_profile": PROFILE})
        assert put["body"]["data"]["result"] == "ACCEPTED"
        assert await site.results(put["response_url"]) == [{"result": "ACCEPTED"}]
        updates = await site.results(f"{site.emsp.url}/ocpi/emsp/2.2.1/chargingprofiles/{session}")
        assert updates[0]["charging_profile"]["charging_profile_period"] == [
            {"start_period": 0, "limit": 7400}
        ]
        action, payload = cp.received[1]
        assert action == "SetChargingProfile"
        if charger == AC:
            assert payload["connectorId"] == 1
            sent_profile = payload["csChargingProfiles"]
            assert sent_profile["transactionId"] == int(tx_id)
            schedule = sent_profile["chargingSchedule"]
        else:
            assert payload["evseId"] == 1
            sent_profile = payload["chargingProfile"]
            assert sent_profile["transactionId"] == tx_id
            (schedule,) = sent_profile["chargingSchedule"]
        assert sent_profile["chargingProfilePurpose"] == "TxProfile"
        assert schedule["chargingRateUnit"] == "W"
        assert schedule["minChargingRate"] == 1400
        assert schedule["chargingSchedulePeriod"] == [
            {"startPeriod": 0, "limit": 11000},
            {"startPeriod": 1800, "limit": 7400.5},
        ]

        get = await site.profile("GET", session, params={"duration": "900"})
        (active,) = await site.results(get["response_url"])
        assert active["result"] == "ACCEPTED"
        assert active["profile"]["start_date_time"] == "2026-11-22T10:00:00Z"
        assert cp.received[-1][0] == "GetCompositeSchedule"
        assert cp.received[-1][1]["duration"] == 900

        delete = await site.profile("DELETE", session)
        assert await site.results(delete["response_url"]) == [{"result": "ACCEPTED"}]
        clear = [p for a, p in cp.received if a == "ClearChargingProfile"]
        profile_id = sent_profile.get("chargingProfileId", sent_profile.get("id"))
        assert clear == [{"id": profile_id} if charger == AC else {"chargingProfileId": profile_id}]


async def test_a_limit_set_or_cleared_at_the_charger_reaches_the_partner_shaping_the_session(
    site: Site,
):
    """2.0.1 NotifyChargingLimit / ClearedChargingLimit (an EMS at the site): the partner
    whose profile runs on the session is PUT the charger's new ActiveChargingProfile, and
    the messages are kept for the operator."""
    charger = DC
    async with site.charger(charger) as cp:
        await site.online(charger)
        cp.answers["GetCompositeSchedule"] = COMPOSITE[charger]
        sent = await site.command("START_SESSION", **start_body(charger))
        await site.results(sent["response_url"])
        tx_id = await begin_transaction(cp, charger, cp.received[0][1].get("remoteStartId", 0))
        session = sealed_session(site, charger, tx_id)
        put = await site.profile("PUT", session, body={"charging_profile": PROFILE})
        assert await site.results(put["response_url"]) == [{"result": "ACCEPTED"}]
        updates_url = f"{site.emsp.url}/ocpi/emsp/2.2.1/chargingprofiles/{session}"
        await site.results(updates_url)

        schedule = {**COMPOSITE[charger]["schedule"]}
        schedule["chargingSchedulePeriod"] = [{"startPeriod": 0, "limit": 3680}]
        limited = {**COMPOSITE[charger], "schedule": schedule}
        cp.answers["GetCompositeSchedule"] = limited
        reply = await cp.call(
            "NotifyChargingLimit",
            {"chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": True}, "evseId": 1},
        )
        assert reply[0] == 3  # answered, not NotImplemented
        updates = await site.results(updates_url, count=2)
        assert updates[1]["charging_profile"]["charging_profile_period"] == [
            {"start_period": 0, "limit": 3680}
        ]

        cp.answers["GetCompositeSchedule"] = COMPOSITE[charger]
        await cp.call("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1})
        updates = await site.results(updates_url, count=3)
        assert updates[2]["charging_profile"]["charging_profile_period"] == [
            {"start_period": 0, "limit": 7400}
        ]
    texts = [text for kind, text in site.gateway.store.notes(charger) if kind == "charging_limit"]
    assert "limit set by EMS (grid critical) on EVSE 1" in texts
    assert "limit by EMS cleared on EVSE 1" in texts


async def test_profile_refusals_and_silence_are_rejected_and_bad_profiles_never_sent(site: Site):
    """A refusing or silent charger: REJECTED (profiles have no TIMEOUT); an offline one is
    REJECTED at once. A profile without periods, with a negative limit or in kW is 2001;
    an unknown session UNKNOWN_SESSION."""
    async with site.charger(AC) as cp:
        await site.online(AC)
        sent = await site.command("START_SESSION", **start_body(AC))
        await site.results(sent["response_url"])
        tx_id = await begin_transaction(cp, AC, 0)
        session = sealed_session(site, AC, tx_id)
        calls = len(cp.received)

        for bad in (
            {**PROFILE, "charging_profile_period": []},
            {**PROFILE, "charging_profile_period": [{"start_period": 0, "limit": -5}]},
            {**PROFILE, "charging_rate_unit": "kW"},
        ):
            reply = await site.profile("PUT", session, body={"charging_profile": bad})
            assert reply["body"]["status_code"] == 2001
        unknown = await site.profile("PUT", "AC-0001-999", body={"charging_profile": PROFILE})
        assert unknown["body"]["data"]["result"] == "UNKNOWN_SESSION"
        assert len(cp.received) == calls

        cp.answers["SetChargingProfile"] = {"status": "Rejected"}
        refused = await site.profile("PUT", session, body={"charging_profile": PROFILE})
        assert await site.results(refused["response_url"]) == [{"result": "REJECTED"}]
        cp.answers["GetCompositeSchedule"] = "silent"
        silent = await site.profile("GET", session, params={"duration": "60"})
        assert await site.results(silent["response_url"]) == [{"result": "REJECTED"}]
    await wait_until(lambda: not site.gateway.link.connected(AC))
    offline = await site.profile("DELETE", session)
    assert offline["body"]["data"] == {"result": "REJECTED", "timeout": 0}
