"""The commit path updates a running transaction's row by its remembered id, exactly as by key."""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example, given, settings, strategies as st
from sqlalchemy.exc import StatementError

from gateway.core.effects import EvseChanged, TransactionChanged
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.meter import Measurand, MeterSample, Reading
from gateway.domain.state import ChargerState
from gateway.domain.status import EvseStatus
from gateway.domain.transactions import Transaction, TransactionStatus
from gateway.ports import Change
from gateway.storage.sql import SqlStore
from tests.builders import T0
from tests.gateway.test_storage_plain_sql import a_transaction, dump

CP = ChargerId("AC-0001")

#: (what happens, to which transaction, whether its batch fails after writing it)
Step = tuple[str, str, bool]


def a_sample(at: datetime) -> MeterSample:
    reading = Reading(
        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, value=Decimal(7), unit="Wh", at=at
    )
    return MeterSample(at=at, readings=(reading,))


def the_transaction(tx_id: str) -> Transaction:
    return a_transaction(tx_id=tx_id, start_key=f"k-{tx_id}")


def change_for(kind: str, tx_id: str, at: datetime) -> Change:
    tx = the_transaction(tx_id)
    if kind == "start":
        effect = TransactionChanged(transaction=tx)
    elif kind == "meter":
        effect = TransactionChanged(
            transaction=tx, new_samples=(a_sample(at),), record_changed=False
        )
    elif kind == "update":
        effect = TransactionChanged(transaction=replace(tx, energy_wh=Decimal(at.minute)))
    else:
        ended = replace(tx, status=TransactionStatus.COMPLETED, stopped_at=at)
        effect = TransactionChanged(transaction=ended)
    return Change(
        charger_id=CP,
        state=ChargerState(charger_id=CP),
        effects=(effect,),
        at=at,
        state_changed=False,
    )


def failing(at: datetime) -> Change:
    """A change whose write fails (a naive time) after the batch's earlier rows were written."""
    effect = EvseChanged(
        uid=EvseUid("E"),
        location_id=LocationId("L"),
        status=EvseStatus.AVAILABLE,
        last_updated=at.replace(tzinfo=None),
    )
    return Change(
        charger_id=CP,
        state=ChargerState(charger_id=CP),
        effects=(effect,),
        at=at,
        state_changed=False,
    )


def play(path: Path, steps: list[Step], *, plain_sql: bool) -> SqlStore:
    store = SqlStore(f"sqlite:///{path}", plain_sql=plain_sql)
    store.open()
    for minute, (kind, tx_id, fails) in enumerate(steps):
        at = T0 + timedelta(minutes=minute)
        batch = [change_for(kind, tx_id, at)]
        if fails:
            # SQLAlchemy wraps the ValueError the plain path raises.
            with pytest.raises((ValueError, StatementError), match="naive"):
                store.commit([*batch, failing(at)])
        else:
            store.commit(batch)
    return store


def updated_at(path: Path, tx_id: str) -> str:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            'SELECT updated_at FROM "transaction" WHERE tx_id = ?', (tx_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None
    return str(row[0])


steps = st.lists(
    st.tuples(
        st.sampled_from(["start", "meter", "update", "end"]),
        st.sampled_from(["1", "2"]),
        st.booleans(),
    ),
    max_size=12,
)


# Each example builds two databases: few examples, and the telling one always.
@settings(max_examples=6, deadline=None)
@given(steps)
@example([("start", "1", True), ("start", "2", False), ("meter", "1", False), ("end", "2", False)])
def test_any_life_of_transactions_leaves_the_rows_sqlalchemy_leaves(plan: list[Step]) -> None:
    """Starts, meter values, updates, ends and failed batches in any order: identical tables."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = play(Path(tmp) / "plain.db", plan, plain_sql=True)
        built = play(Path(tmp) / "built.db", plan, plain_sql=False)
        plain.close()
        built.close()
        assert dump(Path(tmp) / "plain.db") == dump(Path(tmp) / "built.db")


def test_a_rolled_back_start_lends_its_row_id_to_no_later_write(tmp_path: Path) -> None:
    """A start undone by its batch's failure: its meter value does not touch the next row."""
    path = tmp_path / "g.db"
    store = play(path, [("start", "1", True), ("start", "2", False)], plain_sql=True)
    before = updated_at(path, "2")

    store.commit([change_for("meter", "1", T0 + timedelta(minutes=5))])

    assert updated_at(path, "2") == before
    assert store.find_transaction(CP, tx_id="1") is None
    store.close()


def test_a_meter_value_moves_the_running_transactions_time(tmp_path: Path) -> None:
    """Every meter value of a running transaction moves its row's time (its Session changed)."""
    path = tmp_path / "g.db"
    store = play(path, [("start", "1", False), ("meter", "1", False)], plain_sql=True)
    assert updated_at(path, "1") == "2026-11-22 10:01:00.000000"

    store.commit([change_for("meter", "1", T0 + timedelta(minutes=9))])

    assert updated_at(path, "1") == "2026-11-22 10:09:00.000000"
    store.close()


@pytest.mark.parametrize("kind", ["meter", "update", "end"])
def test_a_transaction_ended_by_another_writer_is_never_changed(tmp_path: Path, kind: str) -> None:
    """A row that ended behind the commit path's back stays as it is, whatever comes next."""
    path = tmp_path / "g.db"
    store = play(path, [("start", "1", False), ("meter", "1", False)], plain_sql=True)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("""UPDATE "transaction" SET status = 'completed'""")
    conn.close()
    before = dump(path)["transaction"]

    store.commit([change_for(kind, "1", T0 + timedelta(minutes=9))])

    assert dump(path)["transaction"] == before
    store.close()
