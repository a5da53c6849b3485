"""The SQLite commit path in plain SQL writes exactly the rows the SQLAlchemy path writes."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, strategies as st
from sqlalchemy.dialects import sqlite

from gateway.core.effects import (
    EvseChanged,
    NoteRecorded,
    SamplesRecorded,
    TransactionChanged,
    TransactionEventParked,
)
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.meter import (
    Measurand,
    MeterProblem,
    MeterProblemCode,
    MeterSample,
    Reading,
    SignedReading,
)
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import (
    AuthToken,
    Transaction,
    TransactionStatus,
    TransactionUpdated,
)
from gateway.ports import Change
from gateway.storage.sql import ALL_TABLES, SqlStore, StoreError, utc_text, utc_text_of
from gateway.storage.tables import UtcDateTime
from tests.builders import T0

CP = ChargerId("AC-0001")
OTHER = ChargerId("AC-0002")


def a_sample(at: datetime, wh: int) -> MeterSample:
    return MeterSample(
        at=at,
        readings=(
            Reading(
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                value=Decimal(wh),
                unit="Wh",
                at=at,
            ),
            Reading(
                measurand=Measurand.POWER_ACTIVE_IMPORT, value=Decimal("7200.5"), unit="W", at=at
            ),
        ),
        signed=(SignedReading(data="OCMF|{}", at=at),),
    )


PROBLEM = MeterProblem(
    code=MeterProblemCode.BAD_NUMBER,
    text="not a number",
    raw='"x"',
    path="meterValue[0]",
    dropped=True,
)


def a_transaction(**changes: Any) -> Transaction:
    tx = Transaction(
        charger_id=CP,
        tx_id="7",
        evse_uid=EvseUid("AC-0001-1"),
        connector=ConnectorRef(evse=None, connector=1),
        token=AuthToken(value="04A1B2C3"),
        started_at=T0,
        received_at=T0,
        meter_start_wh=Decimal(0),
        start_key="k-1",
    )
    return replace(tx, **changes)


def batches() -> list[list[Change]]:
    """Every kind of effect, a transaction's whole life, and a write to an ended one."""
    t1, t2, t3 = (T0 + timedelta(minutes=m) for m in (1, 2, 3))
    started = a_transaction()
    ended = replace(
        started,
        status=TransactionStatus.COMPLETED,
        stopped_at=t3,
        meter_stop_wh=Decimal(900),
        energy_wh=Decimal(900),
    )
    evse = EvseChanged(
        uid=EvseUid("AC-0001-1"),
        location_id=LocationId("L"),
        status=EvseStatus.CHARGING,
        last_updated=t1,
    )
    state = ChargerState(
        charger_id=CP,
        connected=True,
        since=T0,
        evses=MappingProxyType({evse.uid: PublishedEvse(status=evse.status, last_updated=t1)}),
    )
    parked = TransactionEventParked(
        charger_id=OTHER,
        tx_id="x" * 40,
        kind="updated",
        reason="unknown_transaction",
        at=t2,
        event=TransactionUpdated(charger_id=OTHER, at=t2, tx_id="x" * 40),
    )
    note = NoteRecorded(charger_id=OTHER, at=t2, kind="k" * 40, text="odd", detail={"a": 1})
    loose = SamplesRecorded(
        charger_id=OTHER, connector=None, samples=(a_sample(t2, 5),), problems=(PROBLEM,)
    )
    return [
        [
            Change(
                charger_id=CP,
                state=state,
                effects=(
                    TransactionChanged(transaction=started, new_samples=(a_sample(T0, 0),)),
                    evse,
                ),
                at=T0,
                issued_tx_id=7,
            ),
            Change(
                charger_id=OTHER,
                state=ChargerState(charger_id=OTHER),
                effects=(parked, note),
                at=t2,
            ),
        ],
        [
            Change(
                charger_id=CP,
                state=state,
                effects=(
                    TransactionChanged(
                        transaction=started,
                        new_samples=(a_sample(t1, 100), a_sample(t2, 200)),
                        problems=(PROBLEM,),
                        record_changed=False,
                    ),
                ),
                at=t2,
                state_changed=False,
            ),
            Change(
                charger_id=OTHER,
                state=ChargerState(charger_id=OTHER, connected=True),
                effects=(loose,),
                at=t2,
                issued_tx_id=8,
            ),
        ],
        [
            Change(
                charger_id=CP, state=state, effects=(TransactionChanged(transaction=ended),), at=t3
            )
        ],
        [
            # Writes to an ended transaction change nothing, whichever kind they are.
            Change(
                charger_id=CP,
                state=state,
                effects=(TransactionChanged(transaction=started),),
                at=t3,
            ),
            Change(
                charger_id=CP,
                state=state,
                effects=(TransactionChanged(transaction=started, record_changed=False),),
                at=t3,
                state_changed=False,
            ),
        ],
    ]


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table the commit path writes, in storage order."""
    conn = sqlite3.connect(path)
    try:
        return {
            t.name: conn.execute(f'SELECT * FROM "{t.name}" ORDER BY rowid').fetchall()  # noqa: S608
            for t in ALL_TABLES
        }
    finally:
        conn.close()


def run_batches(path: Path, *, plain_sql: bool) -> SqlStore:
    store = SqlStore(f"sqlite:///{path}", plain_sql=plain_sql)
    store.open()
    for batch in batches():
        store.commit(batch)
    return store


def test_both_commit_paths_store_the_same_rows(tmp_path: Path) -> None:
    """Plain SQL and SQLAlchemy leave byte-identical tables after the same batches."""
    plain = run_batches(tmp_path / "plain.db", plain_sql=True)
    built = run_batches(tmp_path / "built.db", plain_sql=False)
    plain.close()
    built.close()

    plain_rows = dump(tmp_path / "plain.db")
    assert plain_rows == dump(tmp_path / "built.db")
    assert len(plain_rows["meter_sample"]) == 4
    assert plain_rows["id_sequence"] == [("ocpp16_transaction", 8)]


def test_what_plain_sql_stored_reads_back_through_the_store(tmp_path: Path) -> None:
    """Transactions, samples, notes and parked events read back as they were written."""
    store = run_batches(tmp_path / "plain.db", plain_sql=True)

    tx = store.find_transaction(CP, start_key="k-1")
    assert tx is not None
    assert tx.ended
    assert tx.energy_wh == Decimal(900)
    assert [s.at for s in tx.samples] == [T0 + timedelta(minutes=m) for m in (0, 1, 2)]
    assert ("meter:bad_number", "not a number") in store.notes(CP)
    assert store.parked_events() == [(OTHER, "x" * 36, "updated", "unknown_transaction")]
    assert store.last_transaction_id() == 8
    store.close()


def test_a_naive_time_fails_the_whole_plain_batch(tmp_path: Path) -> None:
    """A naive datetime is refused, and nothing of its batch is stored."""
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    store.open()
    good = Change(charger_id=CP, state=ChargerState(charger_id=CP), effects=(), at=T0)
    bad = replace(good, charger_id=OTHER, at=T0.replace(tzinfo=None))

    with pytest.raises(ValueError, match="naive"):
        store.commit([good, bad])

    assert store.load_chargers() == {}
    store.close()


def test_plain_sql_is_refused_for_another_database() -> None:
    """The plain statements are SQLite's: asking for them on PostgreSQL is a configuration error."""
    with pytest.raises(StoreError, match="SQLite only"):
        SqlStore("postgresql://gw@localhost/gw", plain_sql=True)


@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
        ),
    )
)
def test_times_are_stored_as_sqlalchemy_stores_them(at: datetime) -> None:
    """Any aware time becomes the same UTC text SQLAlchemy's column type writes, and reads back."""
    dialect = sqlite.dialect()
    column_type = UtcDateTime()
    bind = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    expected = bind(column_type.process_bind_param(at, dialect))

    assert utc_text(at) == expected
    assert utc_text(None) is None


def test_the_store_reads_its_times_back_aware(tmp_path: Path) -> None:
    """An EVSE time written in another offset reads back as the same instant in UTC."""
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    store.open()
    at = datetime(2026, 11, 22, 11, 30, tzinfo=timezone(timedelta(hours=1)))
    effect = EvseChanged(
        uid=EvseUid("E"), location_id=LocationId("L"), status=EvseStatus.AVAILABLE, last_updated=at
    )
    store.commit(
        [Change(charger_id=CP, state=ChargerState(charger_id=CP), effects=(effect,), at=at)]
    )

    stored = store.evse_statuses()[EvseUid("E")].last_updated
    assert stored == at
    assert stored.tzinfo == UTC
    store.close()


@pytest.mark.parametrize(
    "query",
    [
        {"start_key": "k-1"},
        {"tx_id": "7"},
        {"tx_id": "7", "start_key": "k-1"},
        {"tx_id": "7", "start_key": "other"},
        {"tx_id": "8"},
        {"start_key": "missing"},
    ],
)
def test_both_paths_find_the_same_transaction(tmp_path: Path, query: dict[str, str]) -> None:
    """By id, by start key or both: the same transaction, with its samples, or none."""
    plain = run_batches(tmp_path / "plain.db", plain_sql=True)
    built = run_batches(tmp_path / "built.db", plain_sql=False)

    found = plain.find_transaction(CP, **query)
    assert found == built.find_transaction(CP, **query)
    if found is not None:
        assert found.samples == built.find_transaction(CP, **query).samples  # type: ignore[union-attr]
        assert len(found.samples) == 3
    assert plain.find_transaction(OTHER, **query) is None
    plain.close()
    built.close()


def test_rows_written_before_a_failure_in_the_batch_are_rolled_back(tmp_path: Path) -> None:
    """The plain statements share the batch's transaction: a later failure undoes them."""
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}")
    store.open()

    def evse_change(charger: ChargerId, uid: str, at: datetime) -> Change:
        effect = EvseChanged(
            uid=EvseUid(uid),
            location_id=LocationId("L"),
            status=EvseStatus.AVAILABLE,
            last_updated=at,
        )
        return Change(
            charger_id=charger, state=ChargerState(charger_id=charger), effects=(effect,), at=T0
        )

    with pytest.raises(ValueError, match="naive"):
        store.commit([evse_change(CP, "E1", T0), evse_change(OTHER, "E2", T0.replace(tzinfo=None))])

    assert store.evse_statuses() == {}
    assert store.outbox_size() == 0
    assert store.load_chargers() == {}
    store.commit([evse_change(CP, "E1", T0)])
    assert list(store.evse_statuses()) == [EvseUid("E1")]
    store.close()


@given(
    st.datetimes(
        min_value=datetime(1000, 1, 1),
        max_value=datetime(9998, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    ).flatmap(lambda at: st.sampled_from([at, at.replace(microsecond=0)]))
)
def test_a_time_cut_from_its_iso_text_is_the_stored_text(at: datetime) -> None:
    """With or without microseconds, in UTC or not: the same column text as ``utc_text``."""
    assert utc_text_of(at, at.isoformat()) == utc_text(at)


@pytest.mark.parametrize("plain_sql", [True, False], ids=["plain", "sqlalchemy"])
def test_a_charger_changed_twice_in_a_batch_keeps_its_last_state(
    tmp_path: Path, plain_sql: bool
) -> None:
    """One document per charger and batch: the last state that changed, not an earlier one."""
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}", plain_sql=plain_sql)
    store.open()
    first = Change(charger_id=CP, state=ChargerState(charger_id=CP), effects=(), at=T0)
    connected = ChargerState(charger_id=CP, connected=True, offline=False, since=T0)
    second = replace(first, state=connected, at=T0 + timedelta(seconds=1))
    unchanged = replace(first, state_changed=False, at=T0 + timedelta(seconds=2))
    other = Change(charger_id=OTHER, state=ChargerState(charger_id=OTHER), effects=(), at=T0)

    store.commit([first, other, second, unchanged])

    assert store.load_chargers() == {CP: connected, OTHER: ChargerState(charger_id=OTHER)}
    store.close()
