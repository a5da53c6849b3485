"""The loop -> writer hand-off: nothing settles before its commit, no batch grows in flight."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from gateway.domain.ids import ChargerId
from gateway.domain.state import ChargerState
from gateway.ports import Change
from gateway.runtime import GroupCommitter
from gateway.storage.memory import MemoryStore
from tests.builders import T0


class GatedStore(MemoryStore):
    """Holds each commit until the test opens the gate; remembers every batch's chargers."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[str]] = []

    def commit(self, batch: Sequence[Change]) -> None:
        self.entered.set()
        self.gate.wait(5)
        self.batches.append([c.charger_id for c in batch])
        super().commit(batch)


def a_change(name: str) -> Change:
    charger = ChargerId(name)
    return Change(charger_id=charger, state=ChargerState(charger_id=charger), effects=(), at=T0)


async def test_a_commit_settles_only_after_the_store_returned() -> None:
    """While the store is still writing, the waiting future stays pending (ack after durable)."""
    store = GatedStore()
    committer = GroupCommitter(store)
    committer.start()
    done = committer.enqueue(a_change("CP-1"))
    await asyncio.to_thread(store.entered.wait, 5)
    await asyncio.sleep(0.02)

    assert not done.done()
    assert store.chargers == {}

    store.gate.set()
    assert await done is None
    assert "CP-1" in store.chargers
    await committer.close()


async def test_changes_queued_during_a_write_go_in_the_next_batch_together() -> None:
    """The batch being written is never extended; what queued meanwhile is one next batch."""
    store = GatedStore()
    committer = GroupCommitter(store)
    committer.start()
    first = committer.enqueue(a_change("FIRST"))
    await asyncio.to_thread(store.entered.wait, 5)
    later = [committer.enqueue(a_change(f"CP-{i}")) for i in range(3)]
    store.gate.set()
    await asyncio.gather(first, *later)
    await committer.close()

    assert store.batches == [["FIRST"], ["CP-0", "CP-1", "CP-2"]]


async def test_a_queue_longer_than_a_batch_is_written_in_order_across_batches() -> None:
    """``max_batch`` bounds each batch; every change is written once, in queue order."""
    store = GatedStore()
    committer = GroupCommitter(store, max_batch=2)
    committer.start()
    first = committer.enqueue(a_change("FIRST"))
    await asyncio.to_thread(store.entered.wait, 5)
    later = [committer.enqueue(a_change(f"CP-{i}")) for i in range(5)]
    store.gate.set()
    await asyncio.gather(first, *later)
    await committer.close()

    assert store.batches == [["FIRST"], ["CP-0", "CP-1"], ["CP-2", "CP-3"], ["CP-4"]]


async def test_close_waits_for_the_batch_in_flight() -> None:
    """``close`` returns only once what was queued is written, whoever else waits too."""
    store = GatedStore()
    committer = GroupCommitter(store)
    committer.start()
    done = committer.enqueue(a_change("CP-1"))
    await asyncio.to_thread(store.entered.wait, 5)
    closing = [asyncio.create_task(committer.close()) for _ in range(2)]
    await asyncio.sleep(0.02)
    assert not any(task.done() for task in closing)

    store.gate.set()
    await asyncio.gather(*closing)
    assert done.done()
    assert "CP-1" in store.chargers
