"""Adapter: the pusher: outbox -> per-partner queues -> current objects PUT/PATCHed/POSTed.

DESIGN.md §2.3 and RELIABILITY.md §1.9 (R-OCPI-PUSH-2): failed messages are not replayed;
instead each partner has a queue of *objects* that changed, and what is sent is the
object as it stands when it is sent. Ten status flips of one EVSE while a partner was
away are one PATCH with the current status; an older state never follows a newer one
(the ledger remembers what each partner holds); a CDR is POSTed with the same id until
the partner acknowledges it.

States of a partner's lane::

    idle --wake--> draining --queue empty--> idle
                      |  partner down (unreachable, timeout, 5xx, 401, not OCPI)
                      v
                   backing off (1 s, 2 s, 4 s ... push_retry_max_s, with jitter) --> draining

An object the partner refuses (an OCPI client error) waits on its own backoff and does
not hold up the others. Each partner drains on its own: one that is down delays nobody.

2.2.1 and 2.1.1 partners are served alike; what differs is the *wire form* of the bodies
(``ocpi_bridge.api.forms``: 2.1.1 objects are converted from the 2.2.1 ones, and a 2.1.1
Session with new charging periods is PUT whole) and the headers (``push.client``: no
routing headers in 2.1.1). 2.1.1 endpoints have no role: the partner's ``locations``,
``tariffs``, ``sessions`` and ``cdrs`` endpoints are its receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from gateway.config import OcpiSettings
from gateway.domain.delivery import (
    Backlog,
    LedgerEntry,
    OutboxItem,
    PushItem,
    PushKind,
    PushOutcome,
    Sent,
)
from gateway.domain.partners import PartnerRecord, PartnerState, PartyRole
from gateway.ports import PartnerDelivery
from ocpi_bridge.api.forms import Form, form_of
from ocpi_bridge.catalog import SiteCatalog
from ocpi_bridge.models.common import parse_datetime
from ocpi_bridge.models.locations import Evse, Location
from ocpi_bridge.push.client import OcpiClient, Target
from ocpi_bridge.status import (
    PartnerError,
    PartnerRejectedError,
    PartnerResponseError,
    PartnerUnauthorizedError,
)
from ocpi_bridge.translate.delivery import (
    canonical,
    digest,
    evse_patch,
    is_older,
    object_url,
    retry_delay,
)

log = logging.getLogger(__name__)

OUTBOX_BATCH = 1000
#: Committed changes reach the partners' queues in one pass per this many seconds at most.
#: Chargers commit one by one at a site's steady pace; a pass per commit would cost a
#: database transaction each, while partners are promised a change within 100 ms.
DISTRIBUTE_EVERY_S = 0.02
#: With no partner to push to, a pass after ``nudge`` only drops outbox rows: one per
#: this many seconds is enough, where a pass per window would cost a database transaction
#: per commit or two. ``wake`` (a CDR may have been made: the operator sees whether it is
#: queued) and a registration in this process (``partners_changed``) end the wait at once.
IDLE_DISTRIBUTE_S = 1.0
#: Changes nobody is to hear of make the pusher read the partners again (someone may have
#: registered in another process), at most once per this many seconds: on a site without
#: partners that is every pass, and the read costs as much as the pass itself.
RECHECK_PARTNERS_S = 1.0
#: ``delivery()`` (monitoring, the partners page) is at most this old, in seconds.
REPORT_EVERY_S = 1.0
#: A Location is PUT whole instead of PATCHing its EVSEs when at least this many of them
#: (and at least one in BULK_SHARE of all) are due for a partner at once.
BULK_MIN = 3
BULK_SHARE = 4
_DELETED = "deleted"
#: The OCPI versions whose partners get pushes.
VERSIONS = ("2.2.1", "2.1.1")
_MODULE: Mapping[PushKind, str] = {
    PushKind.EVSE: "locations",
    PushKind.LOCATION: "locations",
    PushKind.TARIFF: "tariffs",
    PushKind.SESSION: "sessions",
    PushKind.CDR: "cdrs",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _end_nap(nap: asyncio.Future[None]) -> None:
    if not nap.done():
        nap.set_result(None)


class PushStore(Protocol):
    """What the pusher needs from the store (``gateway.storage.delivery.SqlDelivery``)."""

    def take_outbox(self, limit: int) -> list[OutboxItem]: ...

    def fan_out(
        self,
        routes: Sequence[tuple[OutboxItem, Sequence[int]]],
        *,
        now: datetime,
        initial: Mapping[int, Sequence[tuple[PushKind, str]]] = ...,
        partners: Collection[int] | None = ...,
    ) -> None: ...

    def synced_partners(self) -> set[int]: ...

    def due(
        self,
        partner_id: int,
        *,
        now: datetime,
        limit: int,
        kind: PushKind | None = ...,
        among: Collection[str] | None = ...,
    ) -> list[PushItem]: ...

    def record(
        self,
        outcomes: Sequence[PushOutcome],
        *,
        now: datetime,
        ledger: Sequence[LedgerEntry] = ...,
    ) -> None: ...

    def backlog(self, partners: Collection[int] | None = ...) -> dict[int, Backlog]: ...

    def build_cdr(self, row_id: int, *, at: datetime) -> bool: ...

    def retry_now(self, partner_id: int) -> int: ...


class PushMetrics(Protocol):
    """What the pusher records for monitoring (``gateway.metrics.Metrics`` has it)."""

    def pushed(self, partner: str, seconds: float, *, ok: bool) -> None: ...

    def cdr_created(self, partner: str) -> None: ...


class NoMetrics:
    """Records nothing."""

    def pushed(self, partner: str, seconds: float, *, ok: bool) -> None:
        return None

    def cdr_created(self, partner: str) -> None:
        return None


class PartnerSource(Protocol):
    """Registered partners (``ocpi_bridge.ports.PartnerStore`` has this method)."""

    def partners(self) -> list[PartnerRecord]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Receiver:
    """A registered partner (2.2.1 or 2.1.1) and its Receiver endpoints, by module."""

    partner: PartnerRecord
    endpoints: Mapping[str, str]

    @property
    def id(self) -> int:
        return self.partner.id

    @property
    def version(self) -> str:
        assert self.partner.link is not None  # noqa: S101 - receivers have links
        return self.partner.link.version

    def target(self, owner: tuple[str, str] | None = None) -> Target:
        assert self.partner.link is not None  # noqa: S101 - receivers have links
        role = None
        if owner is not None:
            role = next((r for r in self.partner.roles if r.is_party(*owner)), None)
        return Target.of(self.partner.link, to=role)


def receivers_of(partners: Sequence[PartnerRecord]) -> dict[int, Receiver]:
    """Partners we push to: registered, 2.2.1 or 2.1.1, with the Receiver endpoints we use.

    A 2.1.1 endpoint has no role (``PartnerLink.endpoint`` matches it for any role).
    """
    found: dict[int, Receiver] = {}
    for p in partners:
        link = p.link
        if p.state is not PartnerState.REGISTERED or link is None or link.version not in VERSIONS:
            continue
        endpoints = {
            module: ep.url
            for module in set(_MODULE.values())
            if (ep := link.endpoint(module, "RECEIVER")) is not None
        }
        found[p.id] = Receiver(partner=p, endpoints=endpoints)
    return found


@dataclass(slots=True, kw_only=True)
class _Call:
    method: str
    url: str
    body: Any = None


@dataclass(slots=True, kw_only=True)
class _Job:
    """What one due object needs: calls (the first, then fallbacks on 404) and the result."""

    item: PushItem
    order: str  # jobs with the same key are sent one after the other, in queue order
    module: str = ""
    owner: tuple[str, str] | None = None
    calls: list[_Call] = field(default_factory=list)
    sent: Sent | None = None
    ledger: list[LedgerEntry] = field(default_factory=list)
    error: str | None = None
    covers: list[tuple[PushItem, Sent]] = field(default_factory=list)  # delivered with it


class _PartnerDownError(Exception):
    """The partner as a whole did not answer usefully; its lane backs off."""


@dataclass(slots=True)
class _Lane:
    """One partner's drain loop state."""

    partner_id: int
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    failures: int = 0
    retry_at: float = 0.0  # monotonic
    task: asyncio.Task[None] | None = None
    last_error: str | None = None


class Pusher:
    """Delivers the site's objects to registered partners (see the module docstring)."""

    def __init__(
        self,
        *,
        store: PushStore,
        catalog: SiteCatalog,
        client: OcpiClient,
        partners: PartnerSource,
        settings: OcpiSettings,
        us: PartyRole,
        clock: Callable[[], datetime] = utc_now,
        wall: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        partner_ttl_s: float = 5.0,
        metrics: PushMetrics | None = None,
        distribute_every_s: float = DISTRIBUTE_EVERY_S,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._client = client
        self._partners = partners
        self._settings = settings
        self._us = us
        self._clock = clock  # the gateway's time: when changes happened, when delivered
        self._wall = wall  # real time: when to try again
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._partner_ttl_s = partner_ttl_s
        self._distribute_every_s = distribute_every_s
        self._distributed_at = -1e9  # monotonic
        self._metrics: PushMetrics = metrics or NoMetrics()
        self._receivers: dict[int, Receiver] = {}
        self._receivers_at = -1e9
        self._stale = True  # the partners must be read before the next pass
        self._urgent = True  # the next pass keeps the window pace even with nobody to tell
        self._built = False  # a pass built CDRs (in its worker thread)
        self._idle_nap: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._synced: set[int] | None = None
        self._lanes: dict[int, _Lane] = {}
        self._wakeup = asyncio.Event()
        self._sweep = False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._report: dict[str, PartnerDelivery] = {}
        self._reported_at = -1e9
        self._succeeded: dict[int, datetime] = {}
        self.rounds = 0

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="ocpi-pusher")
        self.sweep()

    async def stop(self) -> None:
        """Stop at once: what is in flight is sent again after a restart (same state)."""
        self._closing = True
        tasks = [t for t in (self._task, *(lane.task for lane in self._lanes.values())) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def wake(self) -> None:
        """Something was committed: hand new outbox rows to the partners' queues."""
        self._urgent = True
        self._wakeup.set()
        self._end_idle_nap()

    def nudge(self) -> None:
        """``wake`` for a change that matters only to partners receiving pushes.

        With none registered its outbox rows wait for the idle pace (IDLE_DISTRIBUTE_S).
        """
        self._wakeup.set()

    def _end_idle_nap(self) -> None:
        nap = self._idle_nap
        if nap is not None and not nap.done():
            nap.set_result(None)

    def sweep(self) -> None:
        """Look at every partner's queue (periodic: retries that came due, new partners)."""
        self._sweep = True
        self._stale = True
        self._wakeup.set()
        self._end_idle_nap()

    def partners_changed(self) -> None:
        """A partner registered, changed its endpoints or left: sweep at once (any thread)."""
        self._stale = True
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to sweep
            loop.call_soon_threadsafe(self.sweep)

    # --- reporting (gateway.ports.DeliveryView) ----------------------------------------

    def backlog(self) -> dict[str, Backlog]:
        """Per partner name: undelivered objects and the oldest one's change (blocking)."""
        names = {p.id: p.name for p in self._partners.partners()}
        return {names.get(pid, f"#{pid}"): b for pid, b in self._store.backlog().items()}

    def partner_down(self) -> dict[int, str]:
        """Partners whose lane is backing off, and why."""
        return {
            pid: lane.last_error or "" for pid, lane in self._lanes.items() if lane.failures > 0
        }

    def delivery(self) -> Mapping[str, PartnerDelivery]:
        """By partner name, as of the last round (never blocks: monitoring reads it often)."""
        return self._report

    async def retry_now(self, partner: str) -> str:
        """End a partner's backoff and deliver its backlog at once."""
        receiver = next((r for r in self._receivers.values() if r.partner.name == partner), None)
        if receiver is None:
            return f"{partner} receives no pushes (not registered, or no Receiver endpoints)."
        waiting = await asyncio.to_thread(self._store.retry_now, receiver.id)
        lane = self._lane(receiver.id)
        lane.failures, lane.retry_at = 0, 0.0
        lane.wakeup.set()
        if not waiting:
            return f"Nothing waits for {partner}."
        return f"Delivering {waiting} waiting change{'s' if waiting != 1 else ''} to {partner} now."

    async def _report_soon(self, *, force: bool = False) -> None:
        """Refresh ``delivery()`` at most once per ``REPORT_EVERY_S`` (it counts rows)."""
        if force or time.monotonic() - self._reported_at >= REPORT_EVERY_S:
            self._reported_at = time.monotonic()
            await asyncio.to_thread(self._refresh_report)

    def _refresh_report(self) -> None:
        """Recompute what ``delivery()`` says (in a worker thread)."""
        backlog = self._store.backlog(list(self._receivers))
        report = {}
        for pid, receiver in self._receivers.items():
            lane = self._lanes.get(pid)
            b = backlog.get(pid)
            report[receiver.partner.name] = PartnerDelivery(
                partner=receiver.partner.name,
                last_success_at=self._succeeded.get(pid),
                backlog=0 if b is None else b.count,
                oldest_pending_at=None if b is None else b.oldest,
                last_error=None if lane is None or not lane.failures else lane.last_error,
            )
        self._report = report

    # --- distributing the outbox -------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            await self._wakeup.wait()
            # What is committed meanwhile joins this pass (see DISTRIBUTE_EVERY_S).
            if self._receivers or self._stale or self._urgent:
                gap = self._distributed_at + self._distribute_every_s - time.monotonic()
                if gap > 0:
                    await asyncio.sleep(gap)
            else:
                gap = self._distributed_at + IDLE_DISTRIBUTE_S - time.monotonic()
                if gap > 0:
                    # Nobody to push to (see IDLE_DISTRIBUTE_S); a sweep ends the nap.
                    self._idle_nap = nap = loop.create_future()
                    timer = loop.call_later(gap, _end_nap, nap)
                    try:
                        await nap
                    finally:
                        timer.cancel()
                        self._idle_nap = None
            self._wakeup.clear()
            self._urgent = False
            self._distributed_at = time.monotonic()
            try:
                await self._distribute()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ocpi push: distributing changes failed; retried at the next sweep")

    def _receivers_now(self, *, fresh: bool = False) -> dict[int, Receiver]:
        if fresh or self._stale or time.monotonic() - self._receivers_at >= self._partner_ttl_s:
            # Cleared before the read: a change noted during it makes the next pass read again.
            self._stale = False
            self._receivers = receivers_of(self._partners.partners())
            self._receivers_at = time.monotonic()
        return self._receivers

    async def _distribute(self) -> None:
        sweep, self._sweep = self._sweep, False
        touched = await asyncio.to_thread(self._distribute_now, sweep)
        if self._built:
            self._built = False
            self.wake()
        await self._report_soon(force=sweep)
        receivers = self._receivers
        for pid in set(self._lanes) - set(receivers):
            lane = self._lanes.pop(pid)
            if lane.task is not None:
                lane.task.cancel()
        for pid in receivers:
            if sweep or pid in touched:
                self._lane(pid).wakeup.set()

    def _distribute_now(self, sweep: bool) -> set[int]:
        """Outbox rows -> partners' queues (in a worker thread); the partners touched."""
        receivers = self._receivers_now(fresh=sweep)
        if self._synced is None:
            self._synced = self._store.synced_partners()
        initial = {
            pid: self._everything(r) for pid, r in receivers.items() if pid not in self._synced
        }
        touched: set[int] = set(initial)
        first, refreshed = True, sweep
        while True:
            items = self._store.take_outbox(OUTBOX_BATCH)
            for item in items:
                # A CDR built here has its outbox row go in the next pass, without the idle
                # pace (a row that cannot be built yet waits for the pace: no busy loop).
                if item.kind is PushKind.CDR_BUILD and self._store.build_cdr(
                    int(item.object_id), at=self._wall()
                ):
                    self._built = True
            items = [i for i in items if i.kind is not PushKind.CDR_BUILD]
            routes = [(item, self._recipients(item, receivers)) for item in items]
            if (
                not refreshed
                and any(not r for _, r in routes)
                and time.monotonic() - self._receivers_at >= RECHECK_PARTNERS_S
            ):
                # Someone may have registered since the partners were read: read them again
                # before deciding that nobody is to hear of these changes.
                receivers = self._receivers_now(fresh=True)
                routes = [(item, self._recipients(item, receivers)) for item in items]
                refreshed = True
            for item, recipients in routes:
                touched.update(recipients)
                if item.kind is PushKind.CDR:
                    for pid in recipients:
                        self._metrics.cdr_created(receivers[pid].partner.name)
            if routes or (first and initial) or (first and sweep):
                self._store.fan_out(
                    routes,
                    now=self._clock(),
                    initial=initial if first else {},
                    partners=set(receivers) if first and sweep else None,
                )
                self._synced.update(initial)
            first = False
            if len(items) < OUTBOX_BATCH:
                return touched

    def _everything(self, receiver: Receiver) -> list[tuple[PushKind, str]]:
        objects: list[tuple[PushKind, str]] = []
        if "locations" in receiver.endpoints:
            objects += [(PushKind.LOCATION, i) for i in self._catalog.location_ids()]
        if "tariffs" in receiver.endpoints:
            objects += [(PushKind.TARIFF, i) for i in self._catalog.tariff_ids()]
        return objects

    def _recipients(self, item: OutboxItem, receivers: Mapping[int, Receiver]) -> list[int]:
        module = _MODULE[item.kind]
        found = [pid for pid, r in receivers.items() if module in r.endpoints]
        if item.kind in (PushKind.SESSION, PushKind.CDR):
            owner = item.owner
            if owner is None:
                return []
            found = [pid for pid in found if receivers[pid].partner.owns(*owner)]
        return found

    # --- one partner's lane ------------------------------------------------------------

    def _lane(self, partner_id: int) -> _Lane:
        lane = self._lanes.get(partner_id)
        if lane is None:
            lane = self._lanes[partner_id] = _Lane(partner_id)
            lane.task = asyncio.create_task(self._drain(lane), name=f"ocpi-push-{partner_id}")
        return lane

    async def _drain(self, lane: _Lane) -> None:
        batch = self._settings.push_batch
        while not self._closing:
            await lane.wakeup.wait()
            lane.wakeup.clear()
            while not self._closing:
                wait = lane.retry_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                receiver = self._receivers.get(lane.partner_id)
                if receiver is None:
                    return
                jobs, taken = await asyncio.to_thread(self._take, receiver, batch)
                if not taken:
                    break
                try:
                    down = await self._round(receiver, jobs)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug must not end the lane: back off and retry
                    log.exception("ocpi push to %s: round failed", receiver.partner.name)
                    down = f"internal error: {type(exc).__name__}"
                self.rounds += 1
                if down is not None:
                    self._back_off(lane, receiver, down)
                    await self._report_soon(force=lane.failures == 1)
                    continue
                self._succeeded[lane.partner_id] = self._clock()
                if lane.failures:
                    log.info("ocpi push to %s: delivering again", receiver.partner.name)
                lane.failures, lane.retry_at, lane.last_error = 0, 0.0, None
                if taken < batch:
                    await self._report_soon()
                    break

    def _back_off(self, lane: _Lane, receiver: Receiver, reason: str) -> None:
        lane.failures += 1
        delay = retry_delay(
            lane.failures,
            initial_s=self._settings.push_retry_initial_s,
            max_s=self._settings.push_retry_max_s,
            jitter=self._rng.random(),
        )
        lane.retry_at = time.monotonic() + delay
        lane.last_error = reason
        level = logging.WARNING if lane.failures == 1 else logging.INFO
        log.log(
            level,
            "ocpi push to %s failed (%s); attempt %d, next in %.1f s",
            receiver.partner.name,
            reason,
            lane.failures,
            delay,
        )

    def _take(self, receiver: Receiver, batch: int) -> tuple[list[_Job], int]:
        """The next due objects and what to send for them (in a worker thread).

        When EVSE status changes are due, the other due EVSEs of their Locations come
        along, so that a Location with many changes goes as one PUT.
        """
        now = self._wall()
        items = self._store.due(receiver.id, now=now, limit=batch)
        uids = {i.object_id for i in items if i.kind is PushKind.EVSE}
        if uids:
            siblings = self._catalog.evses_at_locations_of(uids) - uids
            if siblings:
                items += self._store.due(
                    receiver.id, now=now, limit=len(siblings), kind=PushKind.EVSE, among=siblings
                )
        return self._prepare(receiver, items), len(items)

    async def _round(self, receiver: Receiver, jobs: list[_Job]) -> str | None:
        """Send one batch; record what happened. Returns why the partner is down, if it is."""
        groups: dict[str, list[_Job]] = {}
        for job in jobs:
            groups.setdefault(job.order, []).append(job)
        limit = asyncio.Semaphore(self._settings.push_concurrency)
        outcomes: list[PushOutcome] = []
        ledger: list[LedgerEntry] = []
        down: list[str] = []

        async def run(group: list[_Job]) -> None:
            async with limit:
                for job in group:
                    if down:
                        return
                    try:
                        outcome = await self._execute(receiver, job)
                    except _PartnerDownError as exc:
                        down.append(str(exc))
                        return
                    outcomes.append(outcome)
                    for covered, sent in job.covers:
                        outcomes.append(
                            replace(
                                outcome,
                                kind=covered.kind,
                                object_id=covered.object_id,
                                seq=covered.seq,
                                sent=sent if outcome.done else None,
                            )
                        )
                    if outcome.done and job.calls:
                        ledger.extend(job.ledger)

        await asyncio.gather(*(run(g) for g in groups.values()))
        if outcomes or ledger:
            await asyncio.to_thread(self._store.record, outcomes, now=self._wall(), ledger=ledger)
        return down[0] if down else None

    async def _execute(self, receiver: Receiver, job: _Job) -> PushOutcome:
        item = job.item
        if job.error is not None:
            return self._failed(item, job.error)
        if not job.calls:
            return PushOutcome(
                partner_id=item.partner_id,
                kind=item.kind,
                object_id=item.object_id,
                seq=item.seq,
                done=True,
                sent=job.sent,
            )
        target = receiver.target(job.owner)
        for index, call in enumerate(job.calls):
            body = call.body
            if callable(body):  # built only when needed (the whole Location, after two 404s)
                body = await asyncio.to_thread(body)
            try:
                await self._call(receiver, target, job.module, call.method, call.url, body)
                break
            except PartnerRejectedError as exc:
                if exc.http_status == 404 and index + 1 < len(job.calls):
                    continue  # transport_and_format §PATCH: unknown there, PUT it whole
                if exc.status_code >= 3000 or exc.http_status >= 500:
                    raise _PartnerDownError(str(exc)) from None
                return self._failed(item, str(exc))
            except PartnerUnauthorizedError as exc:
                raise _PartnerDownError(str(exc)) from None
            except PartnerResponseError as exc:
                if exc.http_status == 404 and index + 1 < len(job.calls):
                    continue
                # No OCPI answer at all (an error page, HTML, a proxy): the partner as a
                # whole is not usable right now, whatever the object.
                raise _PartnerDownError(str(exc)) from None
            except PartnerError as exc:
                raise _PartnerDownError(str(exc)) from None
        return PushOutcome(
            partner_id=item.partner_id,
            kind=item.kind,
            object_id=item.object_id,
            seq=item.seq,
            done=True,
            sent=job.sent,
        )

    async def _call(
        self, receiver: Receiver, target: Target, module: str, method: str, url: str, body: Any
    ) -> None:
        started = time.monotonic()
        try:
            await self._client.request(target, method, url, module=module, body=body)
        except PartnerError:
            self._metrics.pushed(receiver.partner.name, time.monotonic() - started, ok=False)
            raise
        self._metrics.pushed(receiver.partner.name, time.monotonic() - started, ok=True)

    def _failed(self, item: PushItem, error: str) -> PushOutcome:
        delay = retry_delay(
            item.attempts + 1,
            initial_s=self._settings.push_retry_initial_s,
            max_s=self._settings.push_retry_max_s,
            jitter=self._rng.random(),
        )
        log.warning(
            "ocpi push: %s %s refused (%s); retried in %.0f s",
            item.kind,
            item.object_id,
            error,
            delay,
        )
        return PushOutcome(
            partner_id=item.partner_id,
            kind=item.kind,
            object_id=item.object_id,
            seq=item.seq,
            done=False,
            error=error,
            retry_at=self._wall() + timedelta(seconds=delay),
        )

    # --- what to send (in a worker thread: reads the store, builds objects) -----------

    def _whole_location(self, form: Form, location_id: str) -> dict[str, Any] | None:
        location = self._catalog.location(location_id)
        return None if location is None else form.location(location)

    def _prepare(self, receiver: Receiver, items: list[PushItem]) -> list[_Job]:
        form = form_of(receiver.version, self._catalog)  # the version's wire form
        evses = self._catalog.evses_by_uid(i.object_id for i in items if i.kind is PushKind.EVSE)
        by_location: dict[str, list[PushItem]] = {}
        for item in items:
            if item.kind is PushKind.EVSE and item.object_id in evses:
                by_location.setdefault(evses[item.object_id][0], []).append(item)
        # Many EVSEs of one Location due at once (a partner back from an outage, a site
        # coming online): one PUT of the Location carries them all (R-OCPI-PUSH-2).
        whole = {
            loc: due
            for loc, due in by_location.items()
            if len(due) >= max(BULK_MIN, self._catalog.evse_count(loc) // BULK_SHARE)
        }
        locations = self._catalog.locations_by_id(
            {i.object_id for i in items if i.kind is PushKind.LOCATION} | set(whole)
        )
        jobs = []
        for item in items:
            job = _Job(item=item, order=f"{item.kind}:{item.object_id}")
            job.module = _MODULE[item.kind]
            endpoint = receiver.endpoints.get(job.module)
            location_id = (
                evses[item.object_id][0]
                if item.kind is PushKind.EVSE and item.object_id in evses
                else None
            )
            bulk = None if location_id is None else whole.get(location_id)
            if bulk is not None and bulk[0] is not item:
                continue  # carried by the first of its Location
            try:
                if endpoint is not None and bulk is not None:
                    self._plan_bulk(job, endpoint, locations.get(location_id or ""), bulk, form)
                elif endpoint is not None:
                    self._plan(job, endpoint, locations, evses, form)
            except Exception as exc:  # one broken object must not stop the others
                log.exception("ocpi push: cannot build %s %s", item.kind, item.object_id)
                job.error = f"cannot build the object: {type(exc).__name__}"
            jobs.append(job)
        return jobs

    def _plan_bulk(
        self,
        job: _Job,
        endpoint: str,
        location: Location | None,
        due: list[PushItem],
        form: Form,
    ) -> None:
        """One Location PUT for several of its EVSEs; each EVSE's ledger says what it got."""
        us = (self._us.country_code, self._us.party_id)
        if location is None:
            return
        doc = form.location(location)
        sent = {
            e["uid"]: Sent(last_updated=_when(e["last_updated"]), digest=digest(evse_patch(e)))
            for e in doc.get("evses", [])
        }
        job.order = f"location:{location.id}"
        job.calls = [_Call(method="PUT", url=object_url(endpoint, *us, location.id), body=doc)]
        job.sent = sent.get(job.item.object_id)
        job.covers = [(i, sent[i.object_id]) for i in due[1:] if i.object_id in sent]
        job.ledger = [
            LedgerEntry(
                partner_id=job.item.partner_id,
                kind=PushKind.LOCATION,
                object_id=location.id,
                sent=Sent(last_updated=_when(doc["last_updated"]), digest=digest(doc)),
            )
        ]

    def _plan(
        self,
        job: _Job,
        endpoint: str,
        locations: Mapping[str, Location],
        evses: Mapping[str, tuple[str, Evse]],
        form: Form,
    ) -> None:
        item = job.item
        us = (self._us.country_code, self._us.party_id)
        if item.kind is PushKind.EVSE:
            found = evses.get(item.object_id)
            if found is None:
                return
            location_id, model = found
            job.order = f"location:{location_id}"
            evse = form.evse(model)
            if evse is None:
                return  # not in this version (2.1.1 lacks its connectors)
            patch = evse_patch(evse)
            if _unchanged(item.sent, patch, evse["last_updated"]):
                return
            url = object_url(endpoint, *us, location_id, item.object_id)
            job.calls = [
                _Call(method="PATCH", url=url, body=patch),
                _Call(method="PUT", url=url, body=evse),
                _Call(
                    method="PUT",
                    url=object_url(endpoint, *us, location_id),
                    body=partial(self._whole_location, form, location_id),
                ),
            ]
            job.sent = Sent(last_updated=_when(evse["last_updated"]), digest=digest(patch))
        elif item.kind is PushKind.LOCATION:
            location = locations.get(item.object_id)
            if location is None:
                return
            job.order = f"location:{location.id}"
            doc = form.location(location)
            if _unchanged(item.sent, doc, doc["last_updated"]):
                return
            job.calls = [_Call(method="PUT", url=object_url(endpoint, *us, location.id), body=doc)]
            job.sent = Sent(last_updated=_when(doc["last_updated"]), digest=digest(doc))
            for evse in doc.get("evses", []):
                patch = evse_patch(evse)
                job.ledger.append(
                    LedgerEntry(
                        partner_id=item.partner_id,
                        kind=PushKind.EVSE,
                        object_id=evse["uid"],
                        sent=Sent(last_updated=_when(evse["last_updated"]), digest=digest(patch)),
                    )
                )
        elif item.kind is PushKind.TARIFF:
            tariff = self._catalog.tariff(item.object_id)
            url = object_url(endpoint, *us, item.object_id)
            if tariff is None:
                if item.sent.digest in (None, _DELETED):
                    return  # never sent, or already deleted there
                job.calls = [_Call(method="DELETE", url=url)]
                job.sent = Sent(last_updated=item.sent.last_updated, digest=_DELETED)
                return
            body = form.tariff(tariff)
            if body is None or _unchanged(item.sent, body, body["last_updated"]):
                return
            job.calls = [_Call(method="PUT", url=url, body=body)]
            job.sent = Sent(last_updated=_when(body["last_updated"]), digest=digest(body))
        elif item.kind is PushKind.SESSION:
            if item.object_id.isdigit():
                session = form.session_by_row(int(item.object_id))
            else:  # a pending session (PENDING, RESERVATION, INVALID)
                session = form.session_by_key(item.object_id)
            if session is None or is_older(session["last_updated"], item.sent.last_updated):
                return
            held = None if item.sent.doc is None else json.loads(item.sent.doc)
            plan = form.session_plan(session, held)
            if plan.method is None:
                return
            job.owner = _owner(session)
            url = object_url(endpoint, *us, session["id"])
            job.calls = [_Call(method=plan.method, url=url, body=plan.body)]
            if plan.method == "PATCH":
                job.calls.append(_Call(method="PUT", url=url, body=plan.holds))
            job.sent = Sent(last_updated=_when(session["last_updated"]), doc=canonical(plan.holds))
        elif item.kind is PushKind.CDR:
            cdr = None if item.sent.acked else form.cdr(item.object_id)
            if cdr is None:
                return
            job.owner = _owner(cdr)
            job.calls = [_Call(method="POST", url=endpoint, body=cdr)]
            job.sent = Sent(last_updated=_when(cdr["last_updated"]), acked=True)


def _owner(doc: Mapping[str, Any]) -> tuple[str, str] | None:
    """The party a Session or CDR is addressed to (2.1.1 forms carry none: no routing)."""
    token = doc.get("cdr_token")
    return None if token is None else (token["country_code"], token["party_id"])


def _when(value: str) -> datetime:
    return parse_datetime(value)


def _unchanged(sent: Sent, doc: Any, last_updated: str) -> bool:
    """The partner holds this state already, or a newer one: nothing to send."""
    return is_older(last_updated, sent.last_updated) or sent.digest == digest(doc)
