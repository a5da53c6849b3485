"""The store's transaction lookups on SQLite see every committed row, from any thread."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from gateway.domain.ids import ChargerId
from gateway.domain.state import ChargerState
from gateway.domain.transactions import Transaction
from gateway.ports import Change
from gateway.storage.sql import SqlStore
from tests.builders import T0
from tests.gateway.test_storage_transaction_rows import change_for

CP = ChargerId("AC-0001")


def test_a_lookup_sees_a_transaction_committed_after_the_previous_lookup(tmp_path: Path) -> None:
    """A lookup that found nothing does not keep the store from finding the next commit."""
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    store.open()
    assert store.find_transaction(CP, start_key="k-1") is None

    store.commit([change_for("start", "1", T0)])
    store.commit([change_for("meter", "1", T0 + timedelta(minutes=1))])

    found = store.find_transaction(CP, start_key="k-1")
    assert found is not None
    assert found.tx_id == "1"
    assert len(found.samples) == 1
    store.close()


def test_lookups_from_several_threads_find_the_same_transaction(tmp_path: Path) -> None:
    """Each thread reads on its own connection; closing the store closes them all."""
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    store.open()
    store.commit([change_for("start", "1", T0)])
    found: list[Transaction | None] = []

    def look() -> None:
        found.append(store.find_transaction(CP, tx_id="1"))

    threads = [threading.Thread(target=look) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(found) == 3
    assert all(tx is not None and tx.start_key == "k-1" for tx in found)
    store.close()


def test_a_store_in_memory_looks_up_on_its_own_connection() -> None:
    """An in-memory database exists on one connection only: its lookups use the pool's."""
    store = SqlStore("sqlite://")
    store.open()
    store.commit([Change(charger_id=CP, state=ChargerState(charger_id=CP), effects=(), at=T0)])

    assert store.find_transaction(CP, tx_id="1") is None
    store.close()
