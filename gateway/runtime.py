"""Shell: load, step, commit (state + outbox in one transaction), then let effects leave.

Events for one charger are applied strictly in order (one lock per charger); events
for different chargers proceed concurrently and their commits are grouped: one writer
thread commits whatever has queued up since its last commit, so a hundred chargers
acknowledging at once cost one fsync, not a hundred (DESIGN.md §2.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from gateway.core import refresh, step, transactions
from gateway.core.effects import Effect
from gateway.domain.events import ChargerDisconnected, ChargerEvent, OfflineGraceElapsed
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.state import ChargerState
from gateway.domain.topology import ConnectorRef, Topology
from gateway.domain.transactions import (
    MeterValuesReported,
    Transaction,
    TransactionEvent,
    TransactionStarted,
)
from gateway.metrics import Metrics
from gateway.ports import Change, Clock, CommitFailedError, StateStore

log = logging.getLogger(__name__)

EffectListener = Callable[[Effect], None]


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass(slots=True)
class _Pending:
    change: Change
    done: asyncio.Future[None] = field(default_factory=_future)


class GroupCommitter:
    """Batches changes from many chargers into one store transaction at a time."""

    def __init__(
        self, store: StateStore, *, max_batch: int = 512, metrics: Metrics | None = None
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._metrics = metrics or Metrics()
        self._queue: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def commit(self, change: Change) -> None:
        if self._closing:
            raise CommitFailedError("the gateway is shutting down")
        pending = _Pending(change)
        self._queue.append(pending)
        self._wakeup.set()
        await pending.done

    async def close(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._write(batch)
            if self._closing:
                return

    async def _write(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._store.commit, [p.change for p in batch])
        except Exception:
            self._metrics.commit_failures.inc()
            if len(batch) == 1:
                log.exception("commit failed for charger %s", batch[0].change.charger_id)
                _settle(batch[0], CommitFailedError("the store rejected the change"))
                return
            # One bad change must not fail its neighbours: retry them one by one.
            for pending in batch:
                await self._write([pending])
            return
        self._metrics.committed(time.perf_counter() - started)
        self.batches += 1
        for pending in batch:
            _settle(pending, None)


def _settle(pending: _Pending, error: Exception | None) -> None:
    if pending.done.done():
        return
    if error is None:
        pending.done.set_result(None)
    else:
        pending.done.set_exception(error)


class Runtime:
    """The one place where charger events become committed state and outgoing effects."""

    def __init__(
        self,
        *,
        store: StateStore,
        topology: Topology,
        clock: Clock,
        offline_grace: timedelta,
        known_chargers: Iterable[ChargerId] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._topology = topology
        self._clock = clock
        self._grace = offline_grace
        self._known = tuple(known_chargers)
        self._states: dict[ChargerId, ChargerState] = {}
        self._last_tx_id = 0
        self._locks: dict[ChargerId, asyncio.Lock] = {}
        self._committer = GroupCommitter(store, metrics=metrics)
        self._listeners: list[EffectListener] = []

    # --- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Load state and reconcile it with the configuration and with the restart itself."""
        self._states = await asyncio.to_thread(self._store.load_chargers)
        self._last_tx_id = await asyncio.to_thread(self._store.last_transaction_id)
        self._committer.start()
        now = self._clock()

        async def reconcile(charger_id: ChargerId) -> None:
            state = self.state(charger_id)
            if state.connected:
                # Nobody is connected to a process that just started: begin the grace period.
                await self.submit(ChargerDisconnected(charger_id=charger_id, at=now))
            else:
                # Publish EVSEs the configuration added or changed since the last run.
                await self._apply(charger_id, state, None, now)

        # Together, so that a site of a thousand chargers starts with a few grouped commits.
        await asyncio.gather(*(reconcile(cid) for cid in {*self._known, *self._states}))

    async def stop(self) -> None:
        await self._committer.close()

    def on_effect(self, listener: EffectListener) -> None:
        self._listeners.append(listener)

    # --- the write path ----------------------------------------------------------

    def state(self, charger_id: ChargerId) -> ChargerState:
        return self._states.get(charger_id) or ChargerState(charger_id=charger_id)

    def states(self) -> dict[ChargerId, ChargerState]:
        """Every charger's committed state: the configured ones and any other seen."""
        return {cid: self.state(cid) for cid in (*self._known, *self._states)}

    def evse_for(self, charger_id: ChargerId, connector: ConnectorRef | None) -> EvseUid | None:
        if connector is None:
            return None
        binding = self._topology.serving(charger_id, connector)
        return None if binding is None else binding.uid

    async def start_transaction(self, event: TransactionStarted) -> Transaction:
        """Record a start idempotently; issue the OCPP 1.6 transactionId when ``tx_id`` is empty.

        The same StartTransaction sent again (a retry after a lost answer, RELIABILITY.md
        §2.7 #11) finds the transaction its first copy started, open or already ended,
        and gets the same id back: one physical session is one transaction.
        """
        charger_id = event.charger_id
        async with self._lock(charger_id):
            state = self.state(charger_id)
            if event.start_key:
                existing = transactions.find_by_start_key(state, event.start_key)
                if existing is None:
                    existing = await asyncio.to_thread(
                        self._store.find_transaction, charger_id, start_key=event.start_key
                    )
                if existing is not None:
                    return existing
            issued = None
            if not event.tx_id:
                # Issued in memory and stored with the transaction in the same commit: the
                # charger hears the id only after that commit, so a crash before it loses
                # nothing, and no second database round trip is needed per start.
                self._last_tx_id += 1
                issued = self._last_tx_id
                event = replace(event, tx_id=str(issued))
            await self._apply(charger_id, state, event, self._clock(), issued=issued)
            started = self.state(charger_id).transactions.get(event.tx_id)
            if started is not None:
                return started
            ended = await asyncio.to_thread(
                self._store.find_transaction, charger_id, tx_id=event.tx_id
            )
            assert ended is not None  # noqa: S101 - the commit above stored it
            return ended

    def _lock(self, charger_id: ChargerId) -> asyncio.Lock:
        lock = self._locks.get(charger_id)
        if lock is None:
            lock = self._locks[charger_id] = asyncio.Lock()
        return lock

    async def submit(self, event: ChargerEvent | TransactionEvent | MeterValuesReported) -> None:
        """Apply ``event``; returns once the resulting state is durable.

        Raises ``CommitFailedError`` when the store could not commit; the in-memory state is
        left as it was, so the charger's retry is applied afresh.
        """
        charger_id = event.charger_id
        async with self._lock(charger_id):
            await self._apply(charger_id, self.state(charger_id), event, self._clock())

    async def _apply(
        self,
        charger_id: ChargerId,
        state: ChargerState,
        event: ChargerEvent | TransactionEvent | MeterValuesReported | None,
        now: datetime,
        *,
        issued: int | None = None,
    ) -> None:
        bindings = self._topology.of_charger(charger_id)
        if event is None:
            result = refresh(state, bindings=bindings, now=now)
        else:
            result = step(state, event, bindings=bindings, now=now)
        state_changed = result.state != state
        if not state_changed and not result.effects:
            return
        await self._committer.commit(
            Change(
                charger_id=charger_id,
                state=result.state,
                effects=result.effects,
                at=now,
                state_changed=state_changed,
                issued_tx_id=issued,
            )
        )
        self._states[charger_id] = result.state
        for effect in result.effects:
            for listener in self._listeners:
                try:
                    listener(effect)
                except Exception:
                    log.exception("effect listener failed for %r", effect)

    # --- the scheduler's entry points -------------------------------------------

    async def expire_offline(self) -> int:
        """Mark chargers offline whose connection has been gone for the grace period."""
        now = self._clock()
        due = [
            s.charger_id
            for s in self._states.values()
            if not s.connected
            and not s.offline
            and s.since is not None
            and now - s.since >= self._grace
        ]
        for charger_id in due:
            with contextlib.suppress(CommitFailedError):
                await self.submit(OfflineGraceElapsed(charger_id=charger_id, at=now))
        return len(due)

    @property
    def commit_batches(self) -> int:
        return self._committer.batches
