"""The SQL store on a real SQLite file: durability settings, schema versions, round trips."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from types import MappingProxyType

import pytest

from gateway.core.effects import EvseChanged
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.state import BootInfo, ChargerState, ConnectorReport, PublishedEvse
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.ports import Change
from gateway.storage.memory import MemoryStore
from gateway.storage.sql import SqlStore, StoreError
from gateway.storage.tables import SCHEMA_VERSION
from tests.builders import T0

CP = ChargerId("AC-0001")


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "gateway.db"


@pytest.fixture
def store(db_path):
    s = SqlStore(f"sqlite:///{db_path}")
    s.open()
    yield s
    s.close()


def a_rich_state() -> ChargerState:
    report = ConnectorReport(
        status=ConnectorStatus.OCCUPIED, error_code="EVCommunicationError", info="x", at=T0
    )
    return ChargerState(
        charger_id=CP,
        connected=True,
        offline=False,
        since=T0,
        protocol="ocpp1.6",
        boot=BootInfo(vendor="V", model="M", serial_number="S", firmware_version="1.2", at=T0),
        station=ConnectorReport(status=ConnectorStatus.AVAILABLE, at=T0),
        connectors=MappingProxyType(
            {
                ConnectorRef(evse=None, connector=1): report,
                ConnectorRef(evse=2, connector=1): report,
            }
        ),
        evses=MappingProxyType(
            {EvseUid("E1"): PublishedEvse(status=EvseStatus.CHARGING, last_updated=T0)}
        ),
    )


def test_sqlite_runs_in_wal_mode_with_full_sync(store):
    """Every connection commits durably (synchronous=FULL) and readers never block the writer."""
    with store.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert (mode, sync, busy) == ("wal", 2, 5000)


def test_state_and_outbox_survive_a_reopen(db_path, store):
    """A committed charger state, EVSE status and outbox row are there after a restart."""
    effect = EvseChanged(
        uid=EvseUid("E1"), location_id=LocationId("L"), status=EvseStatus.CHARGING, last_updated=T0
    )
    store.commit([Change(charger_id=CP, state=a_rich_state(), effects=(effect,), at=T0)])
    store.close()

    again = SqlStore(f"sqlite:///{db_path}")
    again.open()
    assert again.load_chargers() == {CP: a_rich_state()}
    assert again.evse_statuses() == {
        EvseUid("E1"): PublishedEvse(status=EvseStatus.CHARGING, last_updated=T0)
    }
    assert again.outbox_size() == 1
    again.close()


def test_outbox_rows_coalesce_per_object(store):
    """Many changes of one EVSE leave one outbox row: the pusher sends the current state."""
    for i in range(5):
        at = T0 + timedelta(seconds=i)
        effect = EvseChanged(
            uid=EvseUid("E1"),
            location_id=LocationId("L"),
            status=EvseStatus.AVAILABLE,
            last_updated=at,
        )
        store.commit(
            [Change(charger_id=CP, state=ChargerState(charger_id=CP), effects=(effect,), at=at)]
        )

    assert store.outbox_size() == 1
    assert store.evse_statuses()[EvseUid("E1")].last_updated == T0 + timedelta(seconds=4)


def test_a_failing_batch_writes_nothing(store):
    """One transaction per batch: if any change fails, none of the batch is stored."""
    good = Change(charger_id=CP, state=ChargerState(charger_id=CP), effects=(), at=T0)
    bad = Change(
        charger_id=ChargerId("X"),
        state=ChargerState(charger_id=ChargerId("X")),
        effects=(),
        at=T0.replace(tzinfo=None),
    )
    with pytest.raises(Exception, match="naive"):
        store.commit([good, bad])

    assert store.load_chargers() == {}


def test_a_database_from_an_older_release_is_migrated(db_path):
    """A version-1 file (before configuration fingerprints) upgrades in place, data kept."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.executescript(
        """
        CREATE TABLE schema_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL);
        INSERT INTO schema_meta VALUES ('schema_version', '1');
        CREATE TABLE charger (id VARCHAR(48) PRIMARY KEY, state TEXT NOT NULL,
                              updated_at DATETIME NOT NULL);
        CREATE TABLE evse (uid VARCHAR(36) PRIMARY KEY, location_id VARCHAR(36) NOT NULL,
                           status VARCHAR(16) NOT NULL, last_updated DATETIME NOT NULL);
        INSERT INTO evse VALUES ('E1', 'L', 'available', '2026-11-22 10:00:00.000000');
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, kind VARCHAR(16) NOT NULL,
                             object_id VARCHAR(64) NOT NULL, changed_at DATETIME NOT NULL,
                             UNIQUE (kind, object_id));
        """
    )
    raw.commit()
    raw.close()

    store = SqlStore(f"sqlite:///{db_path}")
    store.open()

    assert store.evse_statuses() == {
        EvseUid("E1"): PublishedEvse(status=EvseStatus.AVAILABLE, last_updated=T0)
    }
    assert store.reconcile_config({"location:L": "abc"}, T0) == {"location:L": T0}
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT value FROM schema_meta").scalar() == str(SCHEMA_VERSION)
    store.close()


def test_a_database_from_a_newer_release_is_refused(db_path, store):
    """Running old code on a newer file would corrupt it: refuse with a clear message."""
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE schema_meta SET value = '999'")
    store.close()

    with pytest.raises(StoreError, match="schema version 999 is newer than this gateway"):
        SqlStore(f"sqlite:///{db_path}").open()


def test_a_corrupt_file_is_refused(db_path):
    """The integrity check at start-up stops the gateway before it serves bad data."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100 + b"garbage" * 1000)

    with pytest.raises(Exception, match=r"database|file"):
        SqlStore(f"sqlite:///{db_path}").open()


def test_configuration_times_move_only_when_an_object_changes(store):
    """A restart with the same config keeps each object's time; an edit moves only that one."""
    first = store.reconcile_config({"location:L": "a", "evse:E": "b"}, T0)
    later = T0 + timedelta(hours=1)
    second = store.reconcile_config({"location:L": "a", "evse:E": "changed"}, later)

    assert first == {"location:L": T0, "evse:E": T0}
    assert second == {"location:L": T0, "evse:E": later}


def test_the_memory_store_behaves_like_the_sql_store(store):
    """The in-memory store used in unit tests keeps the same contract."""
    mem = MemoryStore()
    effect = EvseChanged(
        uid=EvseUid("E1"), location_id=LocationId("L"), status=EvseStatus.CHARGING, last_updated=T0
    )
    change = Change(charger_id=CP, state=a_rich_state(), effects=(effect,), at=T0)
    for s in (mem, store):
        s.commit([change])

    assert mem.load_chargers() == store.load_chargers()
    assert mem.evse_statuses() == store.evse_statuses()
    assert mem.reconcile_config({"k": "v"}, T0) == store.reconcile_config({"k": "v"}, T0)
