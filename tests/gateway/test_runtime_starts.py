"""Runtime 1.6 starts: a repeated StartTransaction gets its first id back, restarts included."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.domain.ids import ChargerId
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, TransactionStarted, TransactionStopped
from gateway.ports import CommitFailedError
from gateway.runtime import Runtime
from gateway.storage.sql import SqlStore
from tests.builders import FakeClock
from tests.gateway.test_runtime import a_runtime

CP = ChargerId("AC-0001")


def a_start(meter: int = 100, connector: int = 1) -> TransactionStarted:
    clock = FakeClock()
    return TransactionStarted(
        charger_id=CP,
        at=clock.now,
        tx_id="",
        connector=ConnectorRef(evse=None, connector=connector),
        token=AuthToken(value="04A1B2C3"),
        started_at=clock.now,
        meter_start_wh=Decimal(meter),
        start_key=f"{connector}|04A1B2C3|{meter}|2026-11-22T10:00:00Z",
    )


def a_stop(tx_id: str) -> TransactionStopped:
    at = FakeClock().now + timedelta(minutes=30)
    return TransactionStopped(
        charger_id=CP, at=at, tx_id=tx_id, stopped_at=at, meter_stop_wh=Decimal(5_000)
    )


def open_store(path: Path) -> SqlStore:
    store = SqlStore(f"sqlite:///{path / 'g.db'}")
    store.open()
    return store


async def started(store: SqlStore) -> Runtime:
    runtime: Runtime = a_runtime(store)
    await runtime.start()
    return runtime


@pytest.mark.parametrize("restart", [False, True], ids=["same process", "after a restart"])
async def test_a_start_repeated_after_its_transaction_ended_gets_the_same_id(
    tmp_path: Path, restart: bool
):
    """Found in the store, not in memory: the same id comes back, nothing new is stored,
    and the id the repeat was about to take goes to the next new start."""
    store = open_store(tmp_path)
    runtime = await started(store)
    first = await runtime.start_transaction(a_start())
    await runtime.submit(a_stop(first.tx_id))
    if restart:
        await runtime.stop()
        store.close()
        store = open_store(tmp_path)
        runtime = await started(store)

    again = await runtime.start_transaction(a_start())
    other = await runtime.start_transaction(a_start(meter=7, connector=2))

    assert again.tx_id == first.tx_id
    assert again.ended
    assert int(other.tx_id) == int(first.tx_id) + 1
    assert len(store.transactions(charger_id=CP)) == 2
    assert first.tx_id not in runtime.state(CP).transactions
    await runtime.stop()
    store.close()


async def test_a_start_whose_lookup_fails_is_refused_for_a_retry(tmp_path: Path, caplog):
    """The store cannot be read: the charger is told to retry, and nothing is applied."""
    store = open_store(tmp_path)
    runtime = await started(store)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk gone")

    store.find_transaction = broken  # type: ignore[method-assign]
    with pytest.raises(CommitFailedError):
        await runtime.start_transaction(a_start())

    assert runtime.state(CP).transactions == {}
    assert store.transactions(charger_id=CP) == []
    assert "lookup failed" in caplog.text
    caplog.clear()
    await runtime.stop()
    store.close()
