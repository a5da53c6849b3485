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
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from gateway.core import Step, refresh, step, transactions
from gateway.core.effects import Effect
from gateway.core.evolve import constructor, evolve
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

#: Asked on the writer thread just before a change is committed: a transaction already
#: stored makes the change unnecessary (see ``Runtime.start_transaction``).
Guard = Callable[[], Transaction | None]

#: What became of one change: None committed, a Transaction its guard found (not
#: committed), or the error that refused it.
Outcome = Transaction | Exception | None


@dataclass(slots=True)
class _Pending:
    """One change waiting for its commit; the writer thread reads ``change`` and ``guard``."""

    change: Change
    guard: Guard | None
    done: asyncio.Future[Transaction | None]


@dataclass(slots=True)
class _Written:
    """What the writer thread did with one batch, for the loop to settle and count."""

    outcomes: list[Outcome]  # per change of the batch
    commit_seconds: list[float] = field(default_factory=list)  # one per committed transaction
    failures: int = 0  # transactions the store refused


#: ``Change(...)`` at about half the cost: one is made for every event a charger sends, and
#: the frozen dataclass's own ``__init__`` looks ``object.__setattr__`` up again per field.
_change = constructor(Change)


def _change_of(
    charger_id: ChargerId, state: ChargerState, result: Step, now: datetime, issued: int | None
) -> Change | None:
    """What to commit for ``result``; None when it changes nothing."""
    state_changed = result.state_changed
    if state_changed is None:
        # Identity first: an unchanged state is often the very same object, and comparing
        # two states field by field costs more than the rest of the step's bookkeeping.
        state_changed = result.state is not state and result.state != state
    if not state_changed and not result.effects:
        return None
    return _change(
        charger_id=charger_id,
        state=result.state,
        effects=result.effects,
        at=now,
        state_changed=state_changed,
        issued_tx_id=issued,
    )


class GroupCommitter:
    """Batches changes from many chargers into one store transaction at a time.

    A dedicated writer thread runs the commits: the event loop hands it everything queued
    since the previous commit, and is woken once when that batch is durable. While the
    thread writes, new changes queue up for the next batch, so the commit rate follows
    the disk's sync rate whatever the message rate.
    """

    def __init__(
        self, store: StateStore, *, max_batch: int = 512, metrics: Metrics | None = None
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._metrics = metrics or Metrics()
        self._queue: list[_Pending] = []
        self._in_flight: list[_Pending] = []
        self._writing = False
        # Made by ``close`` only: setting and clearing an event per batch costs the hot path.
        self._idle: asyncio.Event | None = None
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # The pendings themselves go to the writer, which reads only their change and guard.
        self._batches: queue.SimpleQueue[list[_Pending] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._writer, name="group-commit", daemon=True)
        self._thread.start()

    async def commit(self, change: Change, *, guard: Guard | None = None) -> Transaction | None:
        """Commit ``change``; None once it is durable.

        ``guard`` runs on the writer thread first: when it finds a transaction, that is
        returned and ``change`` is dropped. One writer round trip does both, where a
        lookup of its own would cost a worker-thread hop before the commit.
        """
        return await self.enqueue(change, guard=guard)

    def enqueue(
        self, change: Change, *, guard: Guard | None = None
    ) -> asyncio.Future[Transaction | None]:
        """``commit`` without its coroutine: the future it awaits (one frame less per event)."""
        if self._closing:
            raise CommitFailedError("the gateway is shutting down")
        loop = self._loop or asyncio.get_running_loop()
        done: asyncio.Future[Transaction | None] = loop.create_future()
        self._queue.append(_Pending(change, guard, done))
        if not self._writing:
            self._next_batch()
        return done

    async def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        self._closing = True
        if self._writing:
            if self._idle is None:
                self._idle = asyncio.Event()
            await self._idle.wait()
        if self._thread is not None:
            self._batches.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    # --- on the event loop -----------------------------------------------------------

    def _next_batch(self) -> None:
        queued = self._queue
        if not queued or self._thread is None:
            self._writing = False
            if self._idle is not None:
                self._idle.set()
            return
        if len(queued) <= self._max_batch:
            # Nearly always: the whole queue goes, and a fresh list takes the next changes.
            batch, self._queue = queued, []
        else:
            batch, self._queue = queued[: self._max_batch], queued[self._max_batch :]
        self._writing = True
        self._in_flight = batch
        self._batches.put(batch)

    def _written(self, written: _Written) -> None:
        batch, self._in_flight = self._in_flight, []
        metrics = self._metrics
        for _ in range(written.failures):
            metrics.commit_failures.inc()
        for seconds in written.commit_seconds:
            metrics.committed(seconds)
        self.batches += len(written.commit_seconds)
        for pending, outcome in zip(batch, written.outcomes, strict=True):
            done = pending.done
            if done.done():
                continue  # its submitter was cancelled; the change was written all the same
            if outcome is None:
                done.set_result(None)
            elif isinstance(outcome, Exception):
                done.set_exception(outcome)
            else:
                done.set_result(outcome)
        self._next_batch()

    # --- on the writer thread --------------------------------------------------------

    def _writer(self) -> None:
        while (changes := self._batches.get()) is not None:
            written = self._write(changes)
            loop = self._loop
            assert loop is not None  # noqa: S101 - set by start() before the thread runs
            try:
                loop.call_soon_threadsafe(self._written, written)
            except RuntimeError:  # the loop was closed without stop(): nobody is waiting
                return

    def _write(self, jobs: list[_Pending]) -> _Written:
        """Run the batch's guards, then commit the changes they let through."""
        if all(job.guard is None for job in jobs):
            return self._commit([job.change for job in jobs])
        outcomes: list[Outcome] = [None] * len(jobs)
        through: list[int] = []
        for i, job in enumerate(jobs):
            change, guard = job.change, job.guard
            if guard is not None:
                try:
                    outcomes[i] = guard()
                except Exception:
                    log.exception("lookup failed for charger %s", change.charger_id)
                    outcomes[i] = CommitFailedError("the store could not be read")
            if outcomes[i] is None:
                through.append(i)
        written = self._commit([jobs[i].change for i in through])
        for i, outcome in zip(through, written.outcomes, strict=True):
            outcomes[i] = outcome
        written.outcomes = outcomes
        return written

    def _commit(self, changes: list[Change]) -> _Written:
        if not changes:
            return _Written(outcomes=[])
        started = time.perf_counter()
        try:
            self._store.commit(changes)
        except Exception:
            if len(changes) == 1:
                log.exception("commit failed for charger %s", changes[0].charger_id)
                return _Written(
                    outcomes=[CommitFailedError("the store rejected the change")], failures=1
                )
            # One bad change must not fail its neighbours: retry them one by one.
            result = _Written(outcomes=[], failures=1)
            for change in changes:
                alone = self._commit([change])
                result.outcomes.extend(alone.outcomes)
                result.commit_seconds.extend(alone.commit_seconds)
                result.failures += alone.failures
            return result
        return _Written(
            outcomes=[None] * len(changes), commit_seconds=[time.perf_counter() - started]
        )


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
            guard: Guard | None = None
            if event.start_key:
                existing = transactions.find_by_start_key(state, event.start_key)
                if existing is not None:
                    return existing
                # A copy that already ended, maybe before a restart, is only in the store:
                # the writer looks for it just before committing this start (one round trip).
                guard = partial(self._store.find_transaction, charger_id, start_key=event.start_key)
            issued = None
            if not event.tx_id:
                # Issued in memory and stored with the transaction in the same commit: the
                # charger hears the id only after that commit, so a crash before it loses
                # nothing, and no second database round trip is needed per start.
                self._last_tx_id += 1
                issued = self._last_tx_id
                event = evolve(event, tx_id=str(issued))  # replace() at half the cost
            found = await self._apply(
                charger_id, state, event, self._clock(), issued=issued, guard=guard
            )
            if found is not None:
                if issued is not None and self._last_tx_id == issued:
                    self._last_tx_id -= 1  # never stored nor heard: the next start takes it
                return found
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
        lock = self._locks.get(charger_id) or self._lock(charger_id)
        # What ``async with lock`` does, without its two extra coroutine frames per event.
        await lock.acquire()
        try:
            # ``_apply`` inlined: every charger message comes this way, and each coroutine
            # in the chain is resumed again when the commit completes.
            now = self._clock()
            state = self._states.get(charger_id) or self.state(charger_id)
            result = step(state, event, bindings=self._topology.of_charger(charger_id), now=now)
            change = _change_of(charger_id, state, result, now, None)
            if change is not None:
                await self._committer.enqueue(change)
                self._applied(charger_id, result)
        finally:
            lock.release()

    async def _apply(
        self,
        charger_id: ChargerId,
        state: ChargerState,
        event: ChargerEvent | TransactionEvent | MeterValuesReported | None,
        now: datetime,
        *,
        issued: int | None = None,
        guard: Guard | None = None,
    ) -> Transaction | None:
        """Step and commit; a transaction ``guard`` found instead (nothing is applied)."""
        bindings = self._topology.of_charger(charger_id)
        if event is None:
            result = refresh(state, bindings=bindings, now=now)
        else:
            result = step(state, event, bindings=bindings, now=now)
        change = _change_of(charger_id, state, result, now, issued)
        if change is None:
            return None if guard is None else await asyncio.to_thread(guard)
        found = await self._committer.enqueue(change, guard=guard)
        if found is not None:
            return found
        self._applied(charger_id, result)
        return None

    def _applied(self, charger_id: ChargerId, result: Step) -> None:
        """The change is durable: make it the charger's state and tell the listeners."""
        self._states[charger_id] = result.state
        listeners = self._listeners
        for effect in result.effects:
            for listener in listeners:
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
