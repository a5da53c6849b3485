"""Adapter: keeps each connected charger's local authorisation list up to date.

Chargers authorise from this list when they cannot reach the gateway, so a driver with
a whitelisted partner card (or a site card) can charge, and a card its eMSP blocked is
refused, even while the gateway itself is down (``translate/local_list.py`` says what
the list holds).

A background task (never an OCPP handler, R-OCPP-ORD-1) looks at the chargers when a
token changed and every ``poll_s`` seconds. A charger on a connection it has not seen
is asked ``GetLocalListVersion``: when its version is the one last accepted, a
differential update follows if anything changed, otherwise a full one. Later changes go
out as differential updates, each with the next version number. Answers:

- Accepted: the version and entries are remembered (per charger, in the store).
- VersionMismatch: a full update is sent at once.
- NotSupported (or list version -1, or a NotSupported/NotImplemented CALLERROR): the
  charger has no list; it is asked again on its next connection.
- Failed, no answer, an error: the list's content is unknown, so the next update is a
  full one, after a back-off that doubles from ``retry_s`` up to 15 minutes.

Chargers should have ``LocalPreAuthorize`` off (1.6; ``LocalPreAuthorize`` of
``AuthCtrlr`` in 2.0.1) so that, online, they still ask the gateway, which asks the eMSP
where the token's whitelist requires it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.config import Settings
from gateway.domain.commands import (
    CommandOutcome,
    GetLocalListVersion,
    LocalListEntry,
    OutcomeStatus,
    SendLocalList,
)
from gateway.domain.ids import ChargerId
from gateway.domain.state import ChargerState
from gateway.domain.tokens import LocalListState
from gateway.ports import ChargerLink, Clock
from ocpi_bridge.ports import TokenStore
from ocpi_bridge.tokens import readable
from ocpi_bridge.translate.local_list import Flavour, desired_list, flavour, plan_update

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 900.0
_CURRENT, _NO_LIST, _FAILED = "current", "no list", "failed"
_NOT_SUPPORTED_ERRORS = frozenset({"NotSupported", "NotImplemented"})


@dataclass(slots=True)
class _Charger:
    """What the task remembers about one charger while the process runs."""

    synced_connection: object | None = None  # the connection whose list is up to date
    synced_generation: int = -1  # the token generation that list reflects
    without_list: object | None = None  # a connection on which the charger has no list
    failures: int = 0
    failed_connection: object | None = None  # the connection the failures happened on
    retry_at: float = 0.0  # loop time
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class LocalLists:
    """Sends local authorisation lists to chargers; ``changed()`` after token changes."""

    def __init__(
        self,
        *,
        store: TokenStore,
        link: ChargerLink,
        chargers: Sequence[ChargerId],
        state_of: Callable[[ChargerId], ChargerState],
        connection_of: Callable[[ChargerId], object | None],
        settings: Settings,
        clock: Clock,
        poll_s: float = 2.0,
        retry_s: float = 30.0,
    ) -> None:
        self._store = store
        self._link = link
        self._chargers = tuple(chargers)
        self._state_of = state_of
        self._connection_of = connection_of
        self._site = settings.authorization.site_tokens
        self._limit = settings.authorization.local_list_max_entries
        self._clock = clock
        self._poll_s = poll_s
        self._retry_s = retry_s
        self._generation = 0
        self._desired: dict[Flavour, tuple[int, dict[str, LocalListEntry]]] = {}
        self._reading = asyncio.Lock()
        self._known: dict[ChargerId, _Charger] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._limit > 0 and self._chargers:
            self._task = asyncio.create_task(self._run(), name="local-lists")

    async def stop(self) -> None:
        tasks = [c.task for c in self._known.values() if c.task is not None]
        if self._task is not None:
            tasks.append(self._task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def changed(self) -> None:
        """Tokens changed: every list is brought up to date soon."""
        self._generation += 1
        self._wake.set()

    # --- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                self.look()
            except Exception:
                log.exception("local list round failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()

    def look(self) -> None:
        """Start an update for each connected charger whose list may be out of date."""
        # Runs every few seconds over every configured charger while messages flow: the
        # per-charger work is kept to lookups (no record made for a charger already known,
        # no state read for one without a connection).
        now = asyncio.get_running_loop().time()
        known_of, connection_of, state_of = self._known, self._connection_of, self._state_of
        generation = self._generation
        for charger_id in self._chargers:
            known = known_of.get(charger_id)
            if known is None:
                known = known_of[charger_id] = _Charger()
            connection = connection_of(charger_id)
            if connection is None:
                known.synced_connection = known.without_list = None
                continue
            state = state_of(charger_id)
            if not state.connected:
                known.synced_connection = known.without_list = None
                continue
            if known.failures and known.failed_connection is not connection:
                # A new connection deserves a fresh try.
                known.failures, known.retry_at = 0, 0.0
            boot = state.boot
            if boot is None or not boot.accepted:
                continue  # the charger has not been accepted (yet)
            if (
                known.synced_connection is connection and known.synced_generation == generation
            ) or known.without_list is connection:
                continue  # up to date, or without a list on this connection
            task = known.task
            if (task is not None and not task.done()) or now < known.retry_at:
                continue
            known.task = asyncio.create_task(
                self._sync(charger_id, connection, state, known), name=f"local-list-{charger_id}"
            )

    async def _sync(
        self, charger_id: ChargerId, connection: object, state: ChargerState, known: _Charger
    ) -> None:
        generation = self._generation
        try:
            result = await self._bring_up_to_date(charger_id, connection, state)
        except Exception:
            log.exception("local list update failed charger=%s", charger_id)
            result = _FAILED
        if result is _NO_LIST:
            known.without_list = connection
        if result is not _FAILED:
            known.synced_connection = connection
            known.synced_generation = generation
            known.failures = 0
            known.retry_at = 0.0
            if generation != self._generation:
                self._wake.set()
            return
        known.failures += 1
        known.failed_connection = connection
        backoff = min(MAX_BACKOFF_S, self._retry_s * 2 ** (known.failures - 1))
        known.retry_at = asyncio.get_running_loop().time() + backoff

    async def _bring_up_to_date(
        self, charger_id: ChargerId, connection: object, state: ChargerState
    ) -> str:
        """``_CURRENT``, ``_NO_LIST`` (the charger has none) or ``_FAILED``."""
        known = self._known[charger_id]
        desired = await self._desired_for(flavour(state.protocol))
        stored = await asyncio.to_thread(self._store.local_list, charger_id)
        version = 0 if stored is None else stored.version
        held = None if stored is None or not stored.in_sync else stored.entries
        if known.synced_connection is not connection:
            asked = await self._link.send(charger_id, GetLocalListVersion())
            if _not_supported(asked):
                log.info("charger %s has no local authorisation list", charger_id)
                return _NO_LIST
            if asked.status is not OutcomeStatus.ACCEPTED:
                log.info("charger %s did not tell its list version: %s", charger_id, asked.status)
                return _FAILED
            theirs = _list_version(asked.detail)
            if theirs is None or theirs < 0:
                log.info("charger %s has its local authorisation list disabled", charger_id)
                return _NO_LIST
            if theirs != version:
                held = None
            version = max(version, theirs)
        update = plan_update(desired, held, version=version)
        if update is None:
            return _CURRENT
        outcome = await self._link.send(charger_id, update)
        if outcome.status is OutcomeStatus.VERSION_MISMATCH and not update.full:
            log.info("charger %s reports a version mismatch; sending its full list", charger_id)
            update = plan_update(desired, None, version=update.version)
            assert update is not None  # noqa: S101 - a full update always exists
            outcome = await self._link.send(charger_id, update)
        return await self._settle(charger_id, update, desired, outcome, version)

    async def _settle(
        self,
        charger_id: ChargerId,
        update: SendLocalList,
        desired: Mapping[str, LocalListEntry],
        outcome: CommandOutcome,
        version: int,
    ) -> str:
        if _not_supported(outcome):
            log.info("charger %s does not support local authorisation lists", charger_id)
            return _NO_LIST
        accepted = outcome.status is OutcomeStatus.ACCEPTED
        state = LocalListState(
            charger_id=charger_id,
            version=update.version if accepted else max(version, update.version),
            entries=dict(desired) if accepted else {},
            in_sync=accepted,
        )
        await asyncio.to_thread(self._store.save_local_list, state, now=self._clock())
        kind = "full" if update.full else "differential"
        if accepted:
            log.info(
                "local list %s update v%d accepted charger=%s entries=%d",
                kind,
                update.version,
                charger_id,
                len(update.entries),
            )
        else:
            log.warning(
                "local list %s update v%d not applied charger=%s: %s %s",
                kind,
                update.version,
                charger_id,
                outcome.status.value,
                outcome.error_code or outcome.message or "",
            )
        return _CURRENT if accepted else _FAILED

    async def _desired_for(self, fl: Flavour) -> dict[str, LocalListEntry]:
        cached = self._desired.get(fl)
        if cached is not None and cached[0] == self._generation:
            return cached[1]
        # A site's chargers boot together: the first sync reads the tokens, the others
        # wait for it and take its list instead of each reading the same table again.
        async with self._reading:
            generation = self._generation
            cached = self._desired.get(fl)
            if cached is not None and cached[0] == generation:
                return cached[1]
            stored = await asyncio.to_thread(self._store.listable_tokens)
            desired = desired_list(readable(stored), self._site, flavour=fl, limit=self._limit)
            self._desired[fl] = (generation, desired)
            return desired


def _not_supported(outcome: CommandOutcome) -> bool:
    return outcome.status is OutcomeStatus.NOT_SUPPORTED or (
        outcome.status is OutcomeStatus.ERROR and outcome.error_code in _NOT_SUPPORTED_ERRORS
    )


def _list_version(detail: Mapping[str, object]) -> int | None:
    value = detail.get("listVersion", detail.get("versionNumber"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None
