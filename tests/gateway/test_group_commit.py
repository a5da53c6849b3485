"""The group committer's writer thread: one thread, failures isolated, nothing lost at stop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from gateway.domain.ids import ChargerId
from gateway.domain.state import ChargerState
from gateway.metrics import Metrics
from gateway.ports import Change, CommitFailedError
from gateway.runtime import GroupCommitter
from gateway.storage.memory import MemoryStore
from tests.builders import T0


class RecordingStore(MemoryStore):
    """A memory store that remembers which thread wrote each batch and can refuse a charger."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()
        self.batch_sizes: list[int] = []
        self.refuse: set[str] = set()
        self.gate: threading.Event | None = None

    def commit(self, batch: Sequence[Change]) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        self.threads.add(threading.get_ident())
        if any(c.charger_id in self.refuse for c in batch):
            raise OSError("refused")
        self.batch_sizes.append(len(batch))
        super().commit(batch)


def a_change(name: str) -> Change:
    charger = ChargerId(name)
    return Change(charger_id=charger, state=ChargerState(charger_id=charger), effects=(), at=T0)


async def test_every_batch_is_written_by_one_long_lived_thread() -> None:
    """Batch after batch goes through the same writer thread, never the event loop's."""
    store = RecordingStore()
    committer = GroupCommitter(store)
    committer.start()
    for round_ in range(5):
        await asyncio.gather(*(committer.commit(a_change(f"CP-{round_}-{i}")) for i in range(20)))
    await committer.close()

    assert len(store.threads) == 1
    assert threading.get_ident() not in store.threads
    assert len(store.chargers) == 100
    assert committer.batches == len(store.batch_sizes) < 100


async def test_a_refused_change_fails_alone_and_its_neighbours_are_stored(caplog) -> None:
    """A batch the store refuses is retried change by change: only the bad one fails."""
    store = RecordingStore()
    metrics = Metrics()
    committer = GroupCommitter(store, metrics=metrics)
    committer.start()
    store.refuse = {"BAD"}
    store.gate = threading.Event()  # hold the writer so that all three share one batch
    first = asyncio.create_task(committer.commit(a_change("FIRST")))
    await asyncio.sleep(0.01)
    rest = [asyncio.create_task(committer.commit(a_change(n))) for n in ("A", "BAD", "B")]
    await asyncio.sleep(0.01)
    store.gate.set()
    await first
    results = await asyncio.gather(*rest, return_exceptions=True)
    await committer.close()

    assert results[0] is None
    assert isinstance(results[1], CommitFailedError)
    assert results[2] is None
    assert set(store.chargers) == {"FIRST", "A", "B"}
    assert metrics.commit_failures.value() == 2  # the batch, then the bad change alone
    assert "commit failed for charger BAD" in caplog.text
    caplog.clear()


async def test_close_writes_everything_queued_before_it_returns() -> None:
    """stop() drains: changes accepted before it are durable when it returns."""
    store = RecordingStore()
    committer = GroupCommitter(store)
    committer.start()
    store.gate = threading.Event()
    submitted = [asyncio.create_task(committer.commit(a_change(f"CP-{i}"))) for i in range(50)]
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(committer.close())
    await asyncio.sleep(0.01)
    assert not closing.done()

    store.gate.set()
    await closing

    assert all(t.done() and t.exception() is None for t in submitted)
    assert len(store.chargers) == 50
    with pytest.raises(CommitFailedError):
        await committer.commit(a_change("late"))


async def test_a_cancelled_submitter_does_not_stop_the_writer() -> None:
    """A charger that went away mid-commit leaves the batch and the next ones intact."""
    store = RecordingStore()
    committer = GroupCommitter(store)
    committer.start()
    store.gate = threading.Event()
    gone = asyncio.create_task(committer.commit(a_change("GONE")))
    await asyncio.sleep(0.01)
    gone.cancel()
    store.gate.set()
    await committer.commit(a_change("NEXT"))
    await committer.close()

    assert set(store.chargers) == {"GONE", "NEXT"}
