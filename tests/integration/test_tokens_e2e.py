"""End to end: roaming drivers authorised at the charger by the whitelist rules.

A real eMSP process (``tests/emsp``, with its Tokens sender) registers with the running
gateway, pushes its tokens and answers real-time requests, or is slow, or broken, or
gone; simulated chargers present the cards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.config import AuthorizationSettings, SiteToken
from gateway.domain.ids import ChargerId
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.translate.sessions import TokenIdentity
from tests.builders import ROOT, FakeClock
from tests.integration.test_ocpi_platform import (  # the eMSP process and how it registers
    Cpo,
    Emsp,
    b64,
    emsp_process,  # noqa: F401 - a fixture
    free_port,
    platform_settings,
    registered,
)
from tests.sim.charger import SimCharger, sim_charger

pytestmark = pytest.mark.integration

AC = ChargerId("AC-0001")
STAFF = "STAFF-0001"
TIMEOUT_S = 0.5  # ocpi.realtime_authorization_timeout_s in these tests


def a_token(uid: str, whitelist: str, *, valid: bool = True, **overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"DE-EMS-{uid}"[:36],
        "issuer": "Test eMSP",
        "group_id": "DE-EMS-G1",
        "valid": valid,
        "whitelist": whitelist,
        "last_updated": "2026-11-22T09:00:00Z",
        **overrides,
    }


#: The eMSP's cards: one per whitelist, an invalidated NEVER card, and cards it refuses.
CARDS = {
    "ALWAYS-1": a_token("ALWAYS-1", "ALWAYS"),
    "ALLOWED-1": a_token("ALLOWED-1", "ALLOWED"),
    "OFFLINE-1": a_token("OFFLINE-1", "ALLOWED_OFFLINE"),
    "NEVER-1": a_token("NEVER-1", "NEVER"),
    "NEVER-INVALID": a_token("NEVER-INVALID", "NEVER", valid=False),
    "ALLOWED-INVALID": a_token("ALLOWED-INVALID", "ALLOWED", valid=False),
    "BLOCKED-1": a_token("BLOCKED-1", "NEVER"),
    "EXPIRED-1": a_token("EXPIRED-1", "ALLOWED"),
    "FORGOTTEN-1": a_token("FORGOTTEN-1", "NEVER"),  # we hold it, the eMSP no longer does
}
VERDICTS = {"BLOCKED-1": "BLOCKED", "EXPIRED-1": "EXPIRED", "NEVER-INVALID": "ALLOWED"}


@pytest.fixture
async def cpo(tmp_path: Path) -> AsyncIterator[Cpo]:
    settings = platform_settings(
        tmp_path, free_port(), realtime_authorization_timeout_s=TIMEOUT_S
    ).model_copy(
        update={"authorization": AuthorizationSettings(site_tokens=(SiteToken(uid=STAFF),))}
    )
    clock = FakeClock()
    gateway = Gateway(settings, clock=clock)
    await gateway.start()
    try:
        yield Cpo(gateway, clock)
    finally:
        await gateway.stop()


@pytest.fixture
async def emsp(emsp_process: Emsp) -> Emsp:  # noqa: F811 - the imported fixture
    await emsp_process.post("/_control/reset")
    await emsp_process.post("/_control/tokens/reset")
    return emsp_process


async def with_cards(cpo: Cpo, emsp: Emsp) -> str:
    """Register the eMSP, give it its cards, and let it push them to us; return its Token C."""
    token_c = await registered(cpo, emsp)
    served = [t for uid, t in CARDS.items() if uid != "FORGOTTEN-1"]
    await emsp.post("/_control/tokens", {"tokens": served, "verdicts": VERDICTS})
    for uid, token in CARDS.items():
        reply = await cpo.send("PUT", f"/ocpi/2.2.1/tokens/DE/EMS/{uid}", b64(token_c), json=token)
        assert reply.json()["status_code"] == 1000, reply.text
    return token_c


async def present(cp: SimCharger, uid: str) -> tuple[str, float]:
    """Authorize a card at the 1.6 charger: its status and how long the answer took."""
    started = time.monotonic()
    reply = await cp.call("Authorize", {"idTag": uid}, timeout_s=10)
    return reply[2]["idTagInfo"]["status"], time.monotonic() - started


async def statuses(cpo: Cpo, uids: list[str]) -> dict[str, str]:
    async with sim_charger(cpo.ws_url("AC-0001")) as cp:
        return {uid: (await present(cp, uid))[0] for uid in uids}


async def authorize_requests(emsp: Emsp) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        state = (await client.get(f"{emsp.url}/_control/tokens")).json()
    return list(state["authorize_requests"])


async def test_with_the_partner_up_it_decides_every_card_but_always(cpo: Cpo, emsp: Emsp):
    """ALWAYS is whitelisted; every other card is asked of the eMSP, whose answer stands:
    Accepted (an invalidated NEVER card the eMSP allows again too), Blocked, Expired, and
    Invalid for a card it does not know. Unknown cards and site cards never reach it."""
    await with_cards(cpo, emsp)

    seen = await statuses(cpo, [*CARDS, "NOBODY-1", STAFF])

    assert seen == {
        "ALWAYS-1": "Accepted",
        "ALLOWED-1": "Accepted",
        "OFFLINE-1": "Accepted",
        "NEVER-1": "Accepted",
        "NEVER-INVALID": "Accepted",
        "ALLOWED-INVALID": "Accepted",
        "BLOCKED-1": "Blocked",
        "EXPIRED-1": "Expired",
        "FORGOTTEN-1": "Invalid",
        "NOBODY-1": "Invalid",
        STAFF: "Accepted",
    }
    asked = await authorize_requests(emsp)
    assert [r["uid"] for r in asked] == [uid for uid in CARDS if uid != "ALWAYS-1"]
    assert asked[0]["query"] == {"type": "RFID"}
    assert asked[0]["body"] == '{"location_id":"LOC-001","evse_uids":["AC-0001-1","AC-0001-2"]}'
    assert asked[0]["headers"]["ocpi-to-party-id"] == "EMS"


async def test_a_real_time_authorisation_is_sealed_into_the_transaction(cpo: Cpo, emsp: Emsp):
    """The partner's name and authorization_reference go with the transaction, and the
    TokenBook gives the Session/CDR token: AUTH_REQUEST for real-time, WHITELIST for
    whitelisted cards, nothing for site cards."""
    await with_cards(cpo, emsp)
    book = cpo.platform.token_book

    async with sim_charger(cpo.ws_url("AC-0001")) as cp:
        for n, uid in enumerate(("NEVER-1", "ALWAYS-1", STAFF), start=1):
            reply = await cp.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": uid,
                    "meterStart": n,
                    "timestamp": "2026-11-22T10:00:00Z",
                },
            )
            assert (
                reply[2]["idTagInfo"] == {"status": "Accepted", "parentIdTag": "DE-EMS-G1"}
                or uid == STAFF
            )

    txs = {tx.token.value: tx for tx in cpo.gateway.store.transactions(charger_id=AC) if tx.token}
    assert (txs["NEVER-1"].auth_source, txs["NEVER-1"].auth_reference) == ("emsp", "REF-NEVER-1")
    assert (txs["ALWAYS-1"].auth_source, txs["ALWAYS-1"].auth_reference) == ("emsp", None)
    assert txs[STAFF].auth_source == "site"
    identities = {
        uid: book.identity(tx.token, auth_source=tx.auth_source, auth_reference=tx.auth_reference)
        for uid, tx in txs.items()
        if tx.token is not None
    }
    assert identities == {
        "NEVER-1": TokenIdentity(
            country_code="DE",
            party_id="EMS",
            uid="NEVER-1",
            type=TokenType.RFID,
            contract_id="DE-EMS-NEVER-1",
            auth_method=AuthMethod.AUTH_REQUEST,
            authorization_reference="REF-NEVER-1",
        ),
        "ALWAYS-1": TokenIdentity(
            country_code="DE",
            party_id="EMS",
            uid="ALWAYS-1",
            type=TokenType.RFID,
            contract_id="DE-EMS-ALWAYS-1",
            auth_method=AuthMethod.WHITELIST,
        ),
        STAFF: None,
    }


#: Without a usable answer: whitelisted cards charge, NEVER cards and invalidated ones do not.
WITHOUT_ANSWER = {
    "ALWAYS-1": "Accepted",
    "ALLOWED-1": "Accepted",
    "OFFLINE-1": "Accepted",
    "NEVER-1": "Invalid",
    "NEVER-INVALID": "Invalid",
    "ALLOWED-INVALID": "Blocked",
    STAFF: "Accepted",
}


async def test_a_slow_or_broken_partner_falls_back_to_the_whitelist_in_time(cpo: Cpo, emsp: Emsp):
    """A late, garbage or failing answer counts as none; the charger hears within the timeout."""
    await with_cards(cpo, emsp)

    for mode in ("slow", "garbage", "error"):
        await emsp.post("/_control/tokens", {"mode": mode, "slow_s": 3.0})
        async with sim_charger(cpo.ws_url("AC-0001")) as cp:
            seen = {uid: await present(cp, uid) for uid in WITHOUT_ANSWER}

        assert {uid: status for uid, (status, _) in seen.items()} == WITHOUT_ANSWER, mode
        assert max(took for _, took in seen.values()) < TIMEOUT_S + 1.0, mode


# --- the partner gone ------------------------------------------------------------------------


@pytest.fixture
def lone_emsp() -> Iterator[Emsp]:
    """An eMSP process of its own, for a test that kills it."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and test module
        [sys.executable, "-m", "tests.emsp", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/_inspect", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            assert process.poll() is None, "the eMSP stopped"
            assert time.monotonic() < deadline, "the eMSP did not start"
            time.sleep(0.05)
    try:
        yield Emsp(url, process)
    finally:
        process.kill()
        process.wait(10)


async def test_with_the_partner_down_whitelisted_cards_still_charge(cpo: Cpo, lone_emsp: Emsp):
    """The eMSP's process is gone: the same fallback as a silent partner, answered at once."""
    await with_cards(cpo, lone_emsp)
    lone_emsp.process.kill()
    await asyncio.to_thread(lone_emsp.process.wait, 10)

    async with sim_charger(cpo.ws_url("AC-0001")) as cp:
        seen = {uid: await present(cp, uid) for uid in WITHOUT_ANSWER}

    assert {uid: status for uid, (status, _) in seen.items()} == WITHOUT_ANSWER
    assert max(took for _, took in seen.values()) < TIMEOUT_S + 1.0


# --- pulling the partner's tokens -------------------------------------------------------------


async def test_tokens_are_pulled_page_by_page_then_only_what_changed(cpo: Cpo, emsp: Emsp):
    """The first pull asks for everything (following Link pages) and skips tokens of parties
    the partner does not own; when the interval has passed the next asks from the last pull."""
    pulled = [a_token(f"PULL-{n}", "ALWAYS") for n in range(5)]
    foreign = a_token("FOREIGN-1", "ALWAYS", country_code="NL", party_id="TNM")
    await emsp.post("/_control/tokens", {"tokens": [*pulled, foreign], "page_size": 2})
    token_c = await registered(cpo, emsp)
    puller = cpo.platform.puller

    assert await puller.pull_due() == 1
    assert await puller.pull_due() == 0  # not due again yet
    later = a_token("PULL-LATE", "ALWAYS", last_updated="2026-11-22T12:00:00Z")
    await emsp.post("/_control/tokens", {"tokens": [*pulled, foreign, later]})
    cpo.clock.advance(6 * 3600)
    assert await puller.pull_due() == 1

    async with httpx.AsyncClient(timeout=5) as client:
        lists = (await client.get(f"{emsp.url}/_control/tokens")).json()["list_requests"]
    assert [r.get("date_from") for r in lists] == [None, None, None, "2026-11-22T09:55:00Z"]
    assert [r.get("offset") for r in lists] == [None, "2", "4", None]
    for uid in ("PULL-0", "PULL-4", "PULL-LATE"):
        reply = await cpo.get(f"/ocpi/2.2.1/tokens/DE/EMS/{uid}", b64(token_c))
        assert reply.json()["data"]["uid"] == uid
    assert cpo.platform.tokens.store.tokens_for("FOREIGN-1") == []
