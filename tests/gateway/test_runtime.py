"""The runtime shell: ordered per charger, grouped commits, nothing applied that was not stored."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from gateway.domain.events import ChargerConnected, ChargerDisconnected
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.ports import CommitFailedError
from gateway.runtime import Runtime
from gateway.storage.memory import MemoryStore
from gateway.storage.sql import SqlStore
from tests.builders import FakeClock, a_settings, a_status

CP = ChargerId("AC-0001")


def a_runtime(store, clock=None, grace=90):
    settings = a_settings()
    return Runtime(
        store=store,
        topology=settings.topology(),
        clock=clock or FakeClock(),
        offline_grace=timedelta(seconds=grace),
        known_chargers=[ChargerId(c.id) for c in settings.chargers],
    )


async def test_start_publishes_every_configured_evse_as_unknown():
    """Before any charger connects, partners can already see every EVSE, as UNKNOWN."""
    store = MemoryStore()
    runtime = a_runtime(store)
    await runtime.start()

    assert {uid: p.status for uid, p in store.evse_statuses().items()} == {
        "AC-0001-1": EvseStatus.UNKNOWN,
        "AC-0001-2": EvseStatus.UNKNOWN,
        "DC-0001-1": EvseStatus.UNKNOWN,
    }
    await runtime.stop()


async def test_a_status_is_durable_before_submit_returns():
    """submit() returns only after the store holds the new status (ack after durable)."""
    store = MemoryStore()
    runtime = a_runtime(store)
    await runtime.start()
    await runtime.submit(ChargerConnected(charger_id=CP, at=FakeClock().now, protocol="ocpp1.6"))
    await runtime.submit(a_status(ConnectorStatus.AVAILABLE))

    assert store.evse_statuses()[EvseUid("AC-0001-1")].status is EvseStatus.AVAILABLE
    await runtime.stop()


async def test_a_failed_commit_raises_and_leaves_state_unchanged(caplog):
    """When the store fails the charger gets an error to retry, and memory keeps the old state."""
    store = MemoryStore()
    runtime = a_runtime(store)
    await runtime.start()
    await runtime.submit(ChargerConnected(charger_id=CP, at=FakeClock().now, protocol="ocpp1.6"))
    before = runtime.state(CP)
    store.fail_next = 1

    with pytest.raises(CommitFailedError):
        await runtime.submit(a_status(ConnectorStatus.FAULTED))

    assert runtime.state(CP) == before
    await runtime.submit(a_status(ConnectorStatus.FAULTED))  # the retry is applied afresh
    assert store.evse_statuses()[EvseUid("AC-0001-1")].status is EvseStatus.OUT_OF_ORDER
    assert "commit failed" in caplog.text
    caplog.clear()
    await runtime.stop()


async def test_concurrent_chargers_share_commits(tmp_path):
    """Events from many chargers arriving together are committed in far fewer transactions."""
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    store.open()
    runtime = a_runtime(store)
    await runtime.start()
    before = runtime.commit_batches
    ids = [ChargerId(f"CP-{i}") for i in range(200)]

    await asyncio.gather(
        *(
            runtime.submit(ChargerConnected(charger_id=i, at=FakeClock().now, protocol="ocpp1.6"))
            for i in ids
        )
    )

    assert set(store.load_chargers()) >= set(ids)
    assert runtime.commit_batches - before < len(ids) / 4
    await runtime.stop()
    store.close()


async def test_events_of_one_charger_are_applied_in_submission_order():
    """A slow commit for one event never lets a later event of the same charger overtake it."""
    store = MemoryStore()
    gate = threading.Event()
    original = store.commit

    def slow_commit(batch):
        gate.wait(2)
        original(batch)

    runtime = a_runtime(store)
    await runtime.start()
    store.commit = slow_commit  # type: ignore[method-assign]
    await_first = asyncio.create_task(
        runtime.submit(ChargerConnected(charger_id=CP, at=FakeClock().now, protocol="ocpp1.6"))
    )
    await asyncio.sleep(0.01)
    second = asyncio.create_task(runtime.submit(a_status(ConnectorStatus.OCCUPIED)))
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(await_first, second)

    assert store.evse_statuses()[EvseUid("AC-0001-1")].status is EvseStatus.CHARGING
    await runtime.stop()


async def test_a_restart_starts_the_grace_period_for_chargers_that_were_connected(tmp_path):
    """After a crash nobody is connected: those that were go UNKNOWN after the grace period."""
    path = f"sqlite:///{tmp_path / 'g.db'}"
    clock = FakeClock()
    store = SqlStore(path)
    store.open()
    runtime = a_runtime(store, clock)
    await runtime.start()
    await runtime.submit(ChargerConnected(charger_id=CP, at=clock.now, protocol="ocpp1.6"))
    await runtime.submit(a_status(ConnectorStatus.AVAILABLE))
    # no stop(): the process dies here
    store.close()

    store = SqlStore(path)
    store.open()
    restarted = a_runtime(store, clock)
    clock.advance(10)
    await restarted.start()
    assert not restarted.state(CP).connected
    assert store.evse_statuses()[EvseUid("AC-0001-1")].status is EvseStatus.AVAILABLE

    clock.advance(89)
    assert await restarted.expire_offline() == 0
    clock.advance(1)
    assert await restarted.expire_offline() == 1
    assert store.evse_statuses()[EvseUid("AC-0001-1")].status is EvseStatus.UNKNOWN
    await restarted.stop()
    store.close()


async def test_effects_reach_listeners_after_the_commit():
    """Listeners (the pusher, the UI) hear of a change only once it is stored."""
    store = MemoryStore()
    runtime = a_runtime(store)
    seen = []
    runtime.on_effect(lambda e: seen.append((e.uid, store.evse_statuses()[e.uid].status)))
    await runtime.start()
    seen.clear()
    await runtime.submit(ChargerConnected(charger_id=CP, at=FakeClock().now, protocol="ocpp1.6"))
    await runtime.submit(a_status(ConnectorStatus.OCCUPIED))

    assert (EvseUid("AC-0001-1"), EvseStatus.CHARGING) in seen
    await runtime.stop()


async def test_a_failing_listener_does_not_break_the_runtime(caplog):
    """A broken listener is logged; the state change stands."""
    store = MemoryStore()
    runtime = a_runtime(store)

    def broken(effect):
        raise RuntimeError("boom")

    runtime.on_effect(broken)
    await runtime.start()
    await runtime.submit(ChargerDisconnected(charger_id=CP, at=FakeClock().now))

    assert "effect listener failed" in caplog.text
    caplog.clear()
    await runtime.stop()


async def test_after_stop_nothing_more_is_accepted():
    """Once shut down, submissions fail instead of being silently lost."""
    runtime = a_runtime(MemoryStore())
    await runtime.start()
    await runtime.stop()

    with pytest.raises(CommitFailedError):
        await runtime.submit(
            ChargerConnected(charger_id=CP, at=FakeClock().now, protocol="ocpp1.6")
        )
