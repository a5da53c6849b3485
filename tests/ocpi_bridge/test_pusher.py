"""The pusher against a mock eMSP (``httpx.MockTransport``) and a real SQLite store.

Changes are committed to the store as the runtime would commit them; the pusher turns
them into calls. What each test scripts is the partner: its answers per call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from gateway.config import Settings
from gateway.core.effects import EvseChanged
from gateway.domain.delivery import LedgerEntry, PushKind, Sent
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.partners import PartnerEndpoint, PartnerLink, PartyRole, TokenEncoding
from gateway.domain.state import ChargerState
from gateway.domain.status import EvseStatus
from gateway.ports import Change
from gateway.storage.delivery import config_objects
from gateway.storage.partners import MemoryPartners
from gateway.storage.sql import SqlStore
from ocpi_bridge.api.forms import Form211, Form221
from ocpi_bridge.catalog import SiteCatalog
from ocpi_bridge.models.v211 import V211Location, V211Tariff
from ocpi_bridge.push.client import OcpiClient
from ocpi_bridge.push.pusher import Pusher
from ocpi_bridge.translate.delivery import pushable_session
from tests.builders import T0, a_settings

US = PartyRole(role="CPO", country_code="NL", party_id="CEG", name="Example Charging B.V.")
EMSP = "https://emsp.example/ocpi/2.2.1"
EVSE = EvseUid("AC-0001-1")
EVSE_URL = f"{EMSP}/locations/NL/CEG/LOC-001/AC-0001-1"


def ok(data: Any = None) -> httpx.Response:
    return httpx.Response(200, json={"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"})


@dataclass
class Partner:
    """The scripted eMSP: ``answer(request)`` decides; every request is kept."""

    answer: Callable[[httpx.Request], httpx.Response] = lambda _: ok()
    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, str(request.url), body))
        return self.answer(request)

    def to(self, url: str) -> list[tuple[str, Any]]:
        return [(m, b) for m, u, b in self.calls if u == url]


class Harness:
    def __init__(
        self, tmp_path: Path, settings: Settings, *, distribute_every_s: float = 0.02
    ) -> None:
        self.settings = settings
        self.store = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}")
        self.store.open()
        self.configured_at = self.store.reconcile_config(
            settings.fingerprints(), T0, objects=config_objects(settings)
        )
        self.partner = Partner()
        self.client = OcpiClient(settings.ocpi, us=US, transport=httpx.MockTransport(self.partner))
        self.partners = MemoryPartners()
        self.catalog = SiteCatalog(
            settings, site=self.store, configured_at=self.configured_at, records=self.store.delivery
        )
        self.pusher = Pusher(
            store=self.store.delivery,
            catalog=self.catalog,
            client=self.client,
            partners=self.partners,
            settings=settings.ocpi,
            us=US,
            distribute_every_s=distribute_every_s,
        )

    def register(self, *, modules: tuple[str, ...] = ("locations", "tariffs"), version="2.2.1"):
        inv = self.partners.invite("emsp", "token-a-123456", now=T0, expires_at=T0 + timedelta(1))
        endpoints = tuple(
            PartnerEndpoint(module=m, role="RECEIVER", url=f"{EMSP}/{m}") for m in modules
        )
        link = PartnerLink(
            version=version,
            versions_url="https://emsp.example/ocpi/versions",
            token="their-token",
            encoding=TokenEncoding.BASE64,
            roles=(PartyRole(role="EMSP", country_code="DE", party_id="EMS"),),
            endpoints=endpoints,
        )
        return self.partners.register(inv.id, link, our_roles=(US,), token="token-c-1234", now=T0)

    def status(self, status: EvseStatus, at: datetime, uid: EvseUid = EVSE) -> None:
        effect = EvseChanged(
            uid=uid, location_id=LocationId("LOC-001"), status=status, last_updated=at
        )
        cp = ChargerId("AC-0001")
        self.store.commit(
            [Change(charger_id=cp, state=ChargerState(charger_id=cp), effects=(effect,), at=at)]
        )
        self.pusher.wake()

    async def until(self, check: Callable[[], bool], timeout_s: float = 5) -> None:
        for _ in range(int(timeout_s / 0.01)):
            if check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"not reached; calls: {self.partner.calls}")

    def backlog(self) -> int:
        return sum(b.count for b in self.store.delivery.backlog().values())


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = a_settings(
        ocpi={
            "allow_private_partner_addresses": True,
            "push_retry_initial_s": 0.02,
            "push_retry_max_s": 0.05,
        }
    )
    harness = Harness(tmp_path, settings)
    harness.pusher.start()
    try:
        yield harness
    finally:
        await harness.pusher.stop()
        await harness.client.aclose()
        harness.store.close()


async def synced(h: Harness) -> int:
    """A registered partner that received its first full push; its id."""
    partner = h.register()
    h.pusher.sweep()
    await h.until(lambda: h.backlog() == 0 and len(h.partner.calls) >= 3)
    h.partner.calls.clear()
    assert isinstance(partner.id, int)
    return partner.id


async def test_a_new_partner_is_sent_every_location_and_tariff(h: Harness):
    """First seen: each published Location and each Tariff is PUT, whole."""
    h.register()
    h.pusher.sweep()
    await h.until(lambda: len(h.partner.calls) == 3 and h.backlog() == 0)

    assert sorted((m, u) for m, u, _ in h.partner.calls) == [
        ("PUT", f"{EMSP}/locations/NL/CEG/LOC-001"),
        ("PUT", f"{EMSP}/tariffs/NL/CEG/AC-STANDARD"),
        ("PUT", f"{EMSP}/tariffs/NL/CEG/DC-FAST"),
    ]


async def test_status_flips_while_the_partner_is_down_become_one_patch(h: Harness):
    """Ten flips during an outage: after it, one PATCH with the current status and time."""
    await synced(h)
    h.partner.answer = lambda _: httpx.Response(503, text="maintenance")
    for i in range(10):
        h.status(EvseStatus.CHARGING if i % 2 else EvseStatus.AVAILABLE, T0 + timedelta(seconds=i))
    await h.until(lambda: len(h.partner.calls) >= 2)
    assert h.backlog() == 1
    assert h.pusher.partner_down()

    h.partner.answer = lambda _: ok()
    refused = len(h.partner.calls)  # however many retries the outage saw
    await h.until(lambda: h.backlog() == 0)
    sent = [b for m, b in h.partner.to(EVSE_URL) if b is not None]
    assert sent[-1] == {"status": "CHARGING", "last_updated": "2026-11-22T10:00:09Z"}
    assert [c[0] for c in h.partner.calls[refused:]] == ["PATCH"]
    assert not h.pusher.partner_down()


async def test_changes_committed_within_one_distribution_window_leave_together(
    tmp_path: Path,
):
    """Commits arriving one by one are handed to partners in one pass per window.

    The first change after a quiet spell goes at once; three status changes of the same
    EVSE committed 30 ms apart within the next window become one PATCH with the latest.
    """
    settings = a_settings(ocpi={"allow_private_partner_addresses": True})
    h = Harness(tmp_path, settings, distribute_every_s=0.5)
    h.pusher.start()
    try:
        await synced(h)
        await asyncio.sleep(0.5)  # a quiet spell: the next change opens a window
        h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
        await h.until(lambda: len(h.partner.to(EVSE_URL)) == 1, timeout_s=0.4)
        for minute, status in enumerate([EvseStatus.AVAILABLE, EvseStatus.RESERVED], start=2):
            await asyncio.sleep(0.03)
            h.status(status, T0 + timedelta(minutes=minute))
        await asyncio.sleep(0.03)
        h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=4))
        await h.until(lambda: len(h.partner.to(EVSE_URL)) >= 2)
        await asyncio.sleep(0.6)  # nothing else follows

        sent = [body for _, body in h.partner.to(EVSE_URL)]
        assert sent == [
            {"status": "CHARGING", "last_updated": "2026-11-22T10:01:00Z"},
            {"status": "CHARGING", "last_updated": "2026-11-22T10:04:00Z"},
        ]
    finally:
        await h.pusher.stop()
        await h.client.aclose()
        h.store.close()


async def test_an_evse_the_partner_does_not_know_is_put_whole(h: Harness):
    """transport_and_format §PATCH: a PATCH answered 404 is followed by a PUT of the EVSE."""
    await synced(h)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(
                404, json={"status_code": 2003, "timestamp": "2026-01-01T00:00:00Z"}
            )
        return ok()

    h.partner.answer = answer
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    await h.until(lambda: h.backlog() == 0 and len(h.partner.calls) == 2)

    (patch, put) = h.partner.to(EVSE_URL)
    assert patch[0] == "PATCH"
    assert put[0] == "PUT"
    assert put[1]["uid"] == "AC-0001-1"
    assert put[1]["status"] == "CHARGING"
    assert put[1]["connectors"]


async def test_an_evse_of_a_location_the_partner_lacks_is_sent_with_its_location(h: Harness):
    """PATCH and EVSE PUT both 404 (no HTML error page either): the whole Location is PUT."""
    await synced(h)

    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) == EVSE_URL:
            return httpx.Response(404, text="not found")
        return ok()

    h.partner.answer = answer
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    await h.until(lambda: h.backlog() == 0 and len(h.partner.calls) == 3)

    method, url, body = h.partner.calls[-1]
    assert (method, url) == ("PUT", f"{EMSP}/locations/NL/CEG/LOC-001")
    assert [e["status"] for e in body["evses"] if e["uid"] == "AC-0001-1"] == ["CHARGING"]


async def test_an_older_state_is_never_sent_after_a_newer_one(h: Harness):
    """The ledger says the partner holds a newer state: nothing is sent, nothing is due."""
    pid = await synced(h)
    h.store.delivery.record(
        [],
        now=datetime.now(UTC),
        ledger=[
            LedgerEntry(
                partner_id=pid,
                kind=PushKind.EVSE,
                object_id=EVSE,
                sent=Sent(last_updated=T0 + timedelta(hours=1), digest="newer"),
            )
        ],
    )
    h.status(EvseStatus.OUT_OF_ORDER, T0 + timedelta(minutes=1))
    await h.until(lambda: h.backlog() == 0)
    await asyncio.sleep(0.05)

    assert h.partner.calls == []


async def test_the_same_state_is_not_sent_twice(h: Harness):
    """A state the partner already holds (same time, same content) is skipped."""
    pid = await synced(h)
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    await h.until(lambda: h.backlog() == 0 and len(h.partner.calls) == 1)
    h.store.delivery.fan_out([], now=datetime.now(UTC), initial={pid: [(PushKind.EVSE, EVSE)]})
    h.pusher.sweep()
    await h.until(lambda: h.backlog() == 0)
    await asyncio.sleep(0.05)

    assert len(h.partner.calls) == 1


async def test_an_object_the_partner_refuses_waits_alone(h: Harness):
    """OCPI 2001 for one EVSE: it is retried on its own backoff; the others get through."""
    pid = await synced(h)

    def answer(request: httpx.Request) -> httpx.Response:
        if str(request.url) == EVSE_URL:
            return httpx.Response(
                200, json={"status_code": 2001, "timestamp": "2026-01-01T00:00:00Z"}
            )
        return ok()

    h.partner.answer = answer
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1), uid=EvseUid("AC-0001-2"))
    await h.until(lambda: len(h.partner.to(f"{EMSP}/locations/NL/CEG/LOC-001/AC-0001-2")) == 1)
    await h.until(lambda: bool(h.store.delivery.failures(pid)))

    ((kind, object_id, attempts, error),) = h.store.delivery.failures(pid)
    assert (kind, object_id) == ("evse", "AC-0001-1")
    assert attempts >= 1
    assert "2001" in error
    assert not h.pusher.partner_down()


@pytest.mark.parametrize(
    "answer",
    [
        lambda _: httpx.Response(200, text="<html>hello</html>"),
        lambda _: httpx.Response(401, json={"status_code": 2000}),
        lambda _: httpx.Response(
            200, json={"status_code": 3000, "timestamp": "2026-01-01T00:00:00Z"}
        ),
    ],
    ids=["garbage", "unauthorized", "server-error"],
)
async def test_a_partner_answering_garbage_or_failing_is_backed_off(h: Harness, answer):
    """HTML instead of OCPI, 401, OCPI 3000: the partner backs off; nothing is dropped."""
    pid = await synced(h)
    h.partner.answer = answer
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    await h.until(lambda: len(h.partner.calls) >= 2)

    assert h.pusher.partner_down()
    assert h.backlog() == 1
    assert h.store.delivery.failures(pid) == []  # the object is fine; the partner is not


async def test_a_tariff_gone_from_the_configuration_is_deleted_at_the_partner(h: Harness):
    """A Tariff the partner holds but the configuration no longer lists: DELETE, once."""
    pid = await synced(h)
    h.store.delivery.record(
        [],
        now=datetime.now(UTC),
        ledger=[
            LedgerEntry(
                partner_id=pid, kind=PushKind.TARIFF, object_id="OLD", sent=Sent(digest="abc")
            )
        ],
    )
    for _ in range(2):
        h.store.delivery.fan_out(
            [], now=datetime.now(UTC), initial={pid: [(PushKind.TARIFF, "OLD")]}
        )
        h.pusher.sweep()
        await h.until(lambda: h.backlog() == 0)
        await asyncio.sleep(0.05)

    assert [(m, u) for m, u, _ in h.partner.calls] == [("DELETE", f"{EMSP}/tariffs/NL/CEG/OLD")]


@pytest.mark.parametrize("version", ["2.2.1", "2.1.1", "2.0"])
async def test_partners_without_receivers_or_on_other_versions_get_nothing(
    h: Harness, version: str
):
    """Only 2.2.1/2.1.1 partners with a Receiver endpoint for the module are pushed to."""
    h.register(modules=("credentials",) if version != "2.0" else ("locations",), version=version)
    h.pusher.sweep()
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    await asyncio.sleep(0.2)

    assert h.partner.calls == []
    assert h.backlog() == 0


async def test_the_backlog_says_how_many_objects_wait_and_since_when(h: Harness):
    """Per partner name: count of due objects and the first change still undelivered."""
    await synced(h)
    h.partner.answer = lambda _: httpx.Response(503)
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=2), uid=EvseUid("AC-0001-2"))
    await h.until(lambda: h.backlog() == 2)

    backlog = await asyncio.to_thread(h.pusher.backlog)
    assert backlog["emsp"].count == 2
    assert backlog["emsp"].oldest == T0 + timedelta(minutes=1)  # the oldest change waiting
    # The backlog is queued before the refused push is tried: wait for that attempt too.
    await h.until(
        lambda: (
            "emsp" in h.pusher.delivery()
            and h.pusher.delivery()["emsp"].backlog == 2
            and h.pusher.delivery()["emsp"].last_error is not None
        )
    )
    report = h.pusher.delivery()["emsp"]
    assert report.oldest_pending_at == T0 + timedelta(minutes=1)
    assert report.last_error is not None
    assert report.last_success_at is not None  # the first full push went through


async def test_retry_now_ends_the_backoff_of_a_partner(h: Harness):
    """The operator's "Retry now": the partner is tried at once, whatever its backoff."""
    await synced(h)
    h.pusher._settings = h.settings.ocpi.model_copy(update={"push_retry_initial_s": 60.0})
    h.partner.answer = lambda _: httpx.Response(503)
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    await h.until(lambda: bool(h.pusher.partner_down()))
    h.partner.answer = lambda _: ok()

    said = await h.pusher.retry_now("emsp")

    assert said == "Delivering 1 waiting change to emsp now."
    await h.until(lambda: h.backlog() == 0)
    assert await h.pusher.retry_now("emsp") == "Nothing waits for emsp."
    assert "receives no pushes" in await h.pusher.retry_now("nobody")


async def test_many_evses_of_one_location_due_at_once_go_as_one_location_put(h: Harness):
    """After an outage every EVSE of LOC-001 changed: one PUT of the Location carries all,
    and each EVSE's ledger records what the partner now holds (no PATCH follows)."""
    pid = await synced(h)
    h.partner.answer = lambda _: httpx.Response(503)
    for uid in ("AC-0001-1", "AC-0001-2", "DC-0001-1"):
        h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1), uid=EvseUid(uid))
    await h.until(lambda: h.backlog() == 3 and len(h.partner.calls) >= 1)
    h.partner.calls.clear()

    h.partner.answer = lambda _: ok()
    await h.until(lambda: h.backlog() == 0)
    await asyncio.sleep(0.05)

    ((method, url, body),) = h.partner.calls
    assert (method, url) == ("PUT", f"{EMSP}/locations/NL/CEG/LOC-001")
    assert {e["status"] for e in body["evses"]} == {"CHARGING"}
    ledger = h.store.delivery.ledger(pid)
    assert all(ledger[("evse", u)].digest for u in ("AC-0001-1", "AC-0001-2", "DC-0001-1"))
    h.store.delivery.fan_out(
        [], now=datetime.now(UTC), initial={pid: [(PushKind.EVSE, EvseUid("AC-0001-2"))]}
    )
    h.pusher.sweep()
    await h.until(lambda: h.backlog() == 0)
    await asyncio.sleep(0.05)
    assert len(h.partner.calls) == 1  # the partner holds it already: nothing more


# --- 2.1.1 partners ------------------------------------------------------------------------


async def test_a_2_1_1_partner_gets_2_1_1_locations_tariffs_and_status_patches(h: Harness):
    """Same objects, 2.1.1 form, URLs ``{endpoint}/{our cc}/{our party}/{id}``, no routing."""
    headers: list[httpx.Headers] = []

    def answer(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        return ok()

    h.partner.answer = answer
    h.register(version="2.1.1")
    h.pusher.sweep()
    await h.until(lambda: len(h.partner.calls) == 3 and h.backlog() == 0)

    puts = {u: b for m, u, b in h.partner.calls if m == "PUT"}
    location = puts[f"{EMSP}/locations/NL/CEG/LOC-001"]
    assert V211Location.model_validate(location).type.value == "PARKING_LOT"
    assert "country_code" not in location
    connector = location["evses"][0]["connectors"][0]
    assert (connector["voltage"], connector["tariff_id"]) == (230, "AC-STANDARD")
    tariff = puts[f"{EMSP}/tariffs/NL/CEG/AC-STANDARD"]
    assert V211Tariff.model_validate(tariff).id == "AC-STANDARD"
    assert all("vat" not in pc for e in tariff["elements"] for pc in e["price_components"])

    h.partner.calls.clear()
    h.status(EvseStatus.CHARGING, T0 + timedelta(minutes=1))
    await h.until(lambda: h.backlog() == 0 and len(h.partner.calls) == 1)
    assert h.partner.to(EVSE_URL) == [
        ("PATCH", {"status": "CHARGING", "last_updated": "2026-11-22T10:01:00Z"})
    ]
    assert not [n for hs in headers for n in hs if n.lower().startswith("ocpi-")]


def a_session(periods: int, status: str = "ACTIVE") -> dict[str, Any]:
    return {
        "id": "S1",
        "status": status,
        "kwh": periods,
        "charging_periods": [
            {
                "start_date_time": f"2026-11-22T10:0{i}:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 1}],
            }
            for i in range(periods)
        ],
        "last_updated": f"2026-11-22T10:0{periods}:00Z",
    }


def test_a_2_1_1_session_with_new_periods_is_put_whole():
    """2.1.1 does not say a PATCH appends periods: new periods go in a PUT; others PATCH."""
    form = Form211(cast(SiteCatalog, None))
    held = pushable_session(a_session(2, "COMPLETED"))

    with_periods = form.session_plan(a_session(3, "COMPLETED"), held)
    energy_only = form.session_plan({**a_session(2, "COMPLETED"), "kwh": 5}, held)

    assert (with_periods.method, with_periods.body) == ("PUT", with_periods.holds)
    assert (energy_only.method, energy_only.body) == (
        "PATCH",
        {"kwh": 5, "last_updated": "2026-11-22T10:02:00Z"},
    )
    twin = Form221(cast(SiteCatalog, None)).session_plan(a_session(3, "COMPLETED"), held)
    assert twin.method == "PATCH"
