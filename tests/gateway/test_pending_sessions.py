"""Pending sessions in the SQL store: opened with their command, moved, taken, ended.

A scripted sealer (the one of ``test_delivery_store``) stands in for the OCPI side: it
takes the first open START_SESSION (else reservation) a transaction could answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from gateway.domain.delivery import (
    PendingKind,
    PendingSession,
    PendingStatus,
    PushKind,
    PushOutcome,
    Sent,
    SessionRecord,
)
from gateway.domain.remote import ReservationState
from gateway.storage.commands import SqlCommands, pending_key
from gateway.storage.sql import SqlStore
from tests.builders import T0
from tests.gateway.test_delivery_store import Sealer, a_transaction, commit, outbox
from tests.remote_site import a_command, a_reservation


@pytest.fixture
def store(tmp_path: Path):
    s = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}")
    s.open()
    s.delivery.sealer = Sealer()
    yield s
    s.close()


@pytest.fixture
def commands(store: SqlStore) -> SqlCommands:
    return SqlCommands(store.engine)


def opener(kind: PendingKind, session_id: str | None = None) -> Any:
    def opens(source: Any) -> PendingSession:
        return PendingSession(
            session_id=session_id or f"AC-0001-{kind.value[0].upper()}{source.id}",
            kind=kind,
            source_id=source.id,
            charger_id=source.charger_id,
            owner=("de", "ems"),
            site='"site"',
            token='"token"',
            started_at=source.received_at,
            updated_at=source.received_at,
        )

    return opens


def pendings(store: SqlStore) -> list[PendingSession]:
    _, records = store.delivery.all_sessions(
        owners=[("DE", "EMS")], date_from=None, date_to=None, offset=0, limit=50
    )
    return [r for r in records if isinstance(r, PendingSession)]


def test_a_start_session_opens_its_session_with_the_command_and_queues_it(
    store: SqlStore, commands: SqlCommands
):
    """Recorded together: PENDING, owner upper-case, in the outbox, listed for its owner."""
    command = commands.record(a_command(id=0), opens=opener(PendingKind.START))

    (pending,) = pendings(store)
    assert (pending.session_id, pending.status, pending.owner) == (
        f"AC-0001-S{command.id}",
        PendingStatus.PENDING,
        ("DE", "EMS"),
    )
    assert outbox(store) == [(PushKind.SESSION.value, pending_key(pending.id))]
    (item,) = store.delivery.take_outbox(10)
    assert item.owner == ("DE", "EMS")
    assert store.delivery.session_object(pending_key(pending.id)) == pending
    assert commands.pending_of_source(PendingKind.START, command.id) == [pending]


def test_a_session_id_in_use_is_never_given_twice(store: SqlStore, commands: SqlCommands):
    """A clash with an existing seal or pending session gets a hashed id of 36 characters."""
    commit(store, a_transaction(tx_id="S1"))  # sealed as AC-0001-S1
    commands.record(a_command(id=0), opens=opener(PendingKind.START))
    commands.record(a_command(id=0), opens=opener(PendingKind.START, "AC-0001-S1"))

    ids = [p.session_id for p in pendings(store)]
    assert len(set(ids)) == 2
    assert all(len(i) == 36 and i.startswith("S") for i in ids)


def test_a_transaction_takes_the_pending_session_and_its_ledger(
    store: SqlStore, commands: SqlCommands
):
    """Sealed with the pending id; the partner's ledger moves to the transaction's Session
    (so the next push is a PATCH); the pending one is no longer listed."""
    command = commands.record(a_command(id=0), opens=opener(PendingKind.START))
    (pending,) = pendings(store)
    key = pending_key(pending.id)
    store.delivery.fan_out(
        [(item, [1]) for item in store.delivery.take_outbox(10)], now=T0, partners=[1]
    )
    (due,) = store.delivery.due(1, now=T0, limit=10)
    sent = Sent(last_updated=T0, doc='{"status":"PENDING"}')
    store.delivery.record(
        [
            PushOutcome(
                partner_id=1,
                kind=PushKind.SESSION,
                object_id=key,
                seq=due.seq,
                done=True,
                sent=sent,
            )
        ],
        now=T0,
    )

    commit(store, a_transaction(received_at=T0 + timedelta(minutes=1)))

    total, records = store.delivery.all_sessions(
        owners=[("DE", "EMS")], date_from=None, date_to=None, offset=0, limit=50
    )
    (record,) = records
    assert total == 1
    assert isinstance(record, SessionRecord)
    assert record.seal.session_id == pending.session_id
    taken = store.delivery.session_object(key)
    assert isinstance(taken, PendingSession)
    assert taken.tx_row == record.row_id
    ledger = store.delivery.ledger(1)
    assert ledger[(PushKind.SESSION.value, str(record.row_id))].doc == sent.doc
    assert commands.end_pending(PendingKind.START, command.id, now=T0) is False
    assert commands.sealed_session_ids({("AC-0001", "7"), ("AC-0001", "8")}) == {
        ("AC-0001", "7"): pending.session_id
    }


@pytest.mark.parametrize("received_after", [timedelta(minutes=14), timedelta(minutes=16)])
def test_only_a_transaction_within_the_window_takes_a_start_session(
    store: SqlStore, commands: SqlCommands, received_after: timedelta
):
    """After 15 minutes the START_SESSION is no candidate: the transaction keeps its own id."""
    commands.record(a_command(id=0), opens=opener(PendingKind.START))
    commit(store, a_transaction(received_at=T0 + received_after))

    record = store.delivery.session_object("1")
    assert isinstance(record, SessionRecord)
    took = received_after < timedelta(minutes=15)
    assert (record.seal.session_id == "AC-0001-S1") is took
    assert (pendings(store) == []) is took


def test_an_ended_command_s_session_is_invalid_and_taken_by_no_transaction(
    store: SqlStore, commands: SqlCommands
):
    """INVALID is final: a later transaction gets its own id."""
    command = commands.record(a_command(id=0), opens=opener(PendingKind.START))
    assert commands.end_pending(PendingKind.START, command.id, now=T0) is True
    assert commands.end_pending(PendingKind.START, command.id, now=T0) is False
    commit(store, a_transaction())

    (pending,) = pendings(store)
    assert pending.status is PendingStatus.INVALID
    record = store.delivery.session_object("1")
    assert isinstance(record, SessionRecord)
    assert record.seal.session_id == "AC-0001-7"


def test_start_sessions_not_taken_within_the_window_expire(store: SqlStore, commands: SqlCommands):
    """Only START_SESSION sessions older than the cut become INVALID, once."""
    commands.record(a_command(id=0), opens=opener(PendingKind.START))
    commands.record(
        a_command(id=0, received_at=T0 + timedelta(minutes=10)), opens=opener(PendingKind.START)
    )
    commands.reserve(a_reservation(id=0), opens=opener(PendingKind.RESERVATION))

    cut = T0 + timedelta(minutes=5)
    assert commands.expire_pending(cut, now=cut) == 1
    assert commands.expire_pending(cut, now=cut) == 0
    assert [p.status for p in pendings(store)] == [
        PendingStatus.INVALID,
        PendingStatus.PENDING,
        PendingStatus.PENDING,
    ]


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (ReservationState.ACTIVE, PendingStatus.RESERVATION),
        (ReservationState.REJECTED, PendingStatus.INVALID),
        (ReservationState.CANCELLED, PendingStatus.INVALID),
        (ReservationState.EXPIRED, PendingStatus.INVALID),
        (ReservationState.USED, PendingStatus.INVALID),
        (ReservationState.REQUESTED, PendingStatus.PENDING),
    ],
)
def test_a_reservation_s_session_follows_its_state(
    store: SqlStore, commands: SqlCommands, state: ReservationState, status: PendingStatus
):
    """Held: RESERVATION; over without a transaction: INVALID."""
    reservation = commands.reserve(a_reservation(id=0), opens=opener(PendingKind.RESERVATION))
    commands.set_reservation_state(reservation.id, state, now=T0 + timedelta(minutes=1))

    (pending,) = pendings(store)
    assert pending.status is status


def test_a_replaced_reservation_keeps_its_open_session_or_opens_a_new_one(
    store: SqlStore, commands: SqlCommands
):
    """The same reservation id again: the open session stays; after it ended, a new one."""
    opens = opener(PendingKind.RESERVATION)
    first = commands.reserve(a_reservation(id=0), opens=opens)
    commands.reserve(a_reservation(id=0), opens=opens)
    assert len(pendings(store)) == 1
    commands.set_reservation_state(first.id, ReservationState.CANCELLED, now=T0)
    commands.reserve(a_reservation(id=0), opens=lambda r: replace(opens(r), session_id="X-2"))

    assert [p.status for p in pendings(store)] == [PendingStatus.INVALID, PendingStatus.PENDING]


def test_a_held_reservation_is_taken_by_the_reserved_token_s_transaction(
    store: SqlStore, commands: SqlCommands
):
    """RESERVATION, then the transaction is sealed with the reservation's session id."""
    reservation = commands.reserve(a_reservation(id=0), opens=opener(PendingKind.RESERVATION))
    commands.set_reservation_state(reservation.id, ReservationState.ACTIVE, now=T0)
    commit(store, a_transaction())

    record = store.delivery.session_object("1")
    assert isinstance(record, SessionRecord)
    assert record.seal.session_id == f"AC-0001-R{reservation.id}"
    commands.set_reservation_state(reservation.id, ReservationState.USED, now=T0)
    (taken,) = commands.pending_of_source(PendingKind.RESERVATION, reservation.id)
    assert taken.status is PendingStatus.RESERVATION
    assert taken.tx_row == record.row_id


def test_sessions_page_through_transactions_then_pending_sessions(
    store: SqlStore, commands: SqlCommands
):
    """Counted together; a page may hold both; offsets continue into the pending ones."""
    commit(store, a_transaction(tx_id="1"))
    commit(store, a_transaction(tx_id="2"))
    for _ in range(3):
        commands.record(
            a_command(id=0, charger_id="DC-0001"), opens=opener(PendingKind.START, None)
        )

    def page(offset: int, limit: int) -> tuple[int, list[str]]:
        total, records = store.delivery.all_sessions(
            owners=[("DE", "EMS")], date_from=None, date_to=None, offset=offset, limit=limit
        )
        return total, [
            r.seal.session_id if isinstance(r, SessionRecord) else r.session_id for r in records
        ]

    assert page(0, 3) == (5, ["AC-0001-1", "AC-0001-2", "AC-0001-S1"])
    assert page(3, 3) == (5, ["AC-0001-S2", "AC-0001-S3"])
    assert page(1, 1) == (5, ["AC-0001-2"])


def test_the_migration_to_version_8_adds_the_pending_sessions(tmp_path: Path):
    """A version 7 database gains the table and keeps its data."""
    path = tmp_path / "old.db"
    store = SqlStore(f"sqlite:///{path}")
    store.open()
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE ocpi_pending_session"))
        conn.execute(text("UPDATE schema_meta SET value = '7'"))
    store.close()

    again = SqlStore(f"sqlite:///{path}")
    again.open()
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM schema_meta")).scalar() == "8"
        assert conn.execute(text("SELECT count(*) FROM ocpi_pending_session")).scalar() == 0
    again.close()
