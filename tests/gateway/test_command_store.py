"""The remote-control store, SQL and in memory alike: commands, reservations, session links."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from gateway.domain.ids import ChargerId
from gateway.domain.remote import (
    RemoteKind,
    RemoteState,
    ReservationState,
    SessionLink,
)
from gateway.domain.topology import ConnectorRef
from gateway.storage.commands import TABLES, MemoryCommands, SqlCommands
from gateway.storage.sql import SqlStore
from gateway.storage.tables import SCHEMA_VERSION
from tests.builders import T0
from tests.remote_site import LONG_UID, a_command, a_reservation, partner_token

LATER = T0 + timedelta(minutes=5)


@pytest.fixture(params=["sql", "memory"])
def store(request):
    if request.param == "memory":
        yield MemoryCommands()
        return
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SQLModel.metadata.create_all(engine, tables=list(TABLES))
    yield SqlCommands(engine)
    engine.dispose()


# --- commands ---------------------------------------------------------------------------------


def test_a_recorded_command_comes_back_whole_with_an_id(store):
    """Every field survives the store, the connector and the token included."""
    first = store.record(a_command(id=0, connector=ConnectorRef(evse=2, connector=1)))
    second = store.record(a_command(id=0, token=None, evse_uid=None, connector=None))
    assert (first.id, second.id) == (1, 2)
    assert store.command(first.id) == first
    assert store.command(second.id) == second
    assert store.command(99) is None


def test_the_first_result_wins_and_a_later_one_changes_nothing(store):
    """settle() only takes a PENDING command: exactly one result is ever delivered."""
    command = store.record(a_command(id=0))
    assert store.settle(
        command.id, {"result": "ACCEPTED"}, outcome="ACCEPTED", now=LATER, tx_id="t1"
    )
    assert not store.settle(command.id, {"result": "TIMEOUT"}, outcome="TIMEOUT", now=LATER)
    assert not store.settle(404, {"result": "TIMEOUT"}, outcome="TIMEOUT", now=LATER)
    settled = store.command(command.id)
    assert settled is not None
    assert (settled.state, settled.result, settled.outcome, settled.tx_id) == (
        RemoteState.ANSWERED,
        {"result": "ACCEPTED"},
        "ACCEPTED",
        "t1",
    )
    assert settled.finished_at == LATER


def test_unfinished_commands_are_pending_or_answered_until_delivery_ends(store):
    """What a restart must still deliver; DELIVERED and UNDELIVERABLE are done."""
    pending = store.record(a_command(id=0))
    answered = store.record(a_command(id=0))
    delivered = store.record(a_command(id=0))
    given_up = store.record(a_command(id=0))
    for c in (answered, delivered, given_up):
        store.settle(c.id, {"result": "ACCEPTED"}, outcome="ACCEPTED", now=LATER)
    store.finish(delivered.id, state=RemoteState.DELIVERED, attempts=1, now=LATER)
    store.finish(given_up.id, state=RemoteState.UNDELIVERABLE, attempts=3, now=LATER)
    store.finish(404, state=RemoteState.DELIVERED, attempts=1, now=LATER)
    assert [c.id for c in store.unfinished()] == [pending.id, answered.id]
    assert [c.state.open for c in store.unfinished()] == [True, True]
    done = store.command(given_up.id)
    assert done is not None
    assert (done.state, done.attempts, done.state.open) == (RemoteState.UNDELIVERABLE, 3, False)


def test_commands_are_found_by_time_session_and_token(store):
    """Recent commands, a session's commands, and a partner's commands by token prefix."""
    old = store.record(a_command(id=0, received_at=T0 - timedelta(hours=1)))
    new = store.record(a_command(id=0, token=partner_token(LONG_UID)))
    stop = store.record(
        a_command(RemoteKind.STOP_SESSION, id=0, session_id="AC-0001-7", token=None)
    )
    other = store.record(a_command(id=0, partner="other"))
    assert [c.id for c in store.received_since(T0)] == [new.id, stop.id, other.id]
    assert [c.id for c in store.for_session("AC-0001-7")] == [stop.id]
    assert [c.id for c in store.with_token("emsp", LONG_UID[:20].lower())] == [new.id]
    assert [c.id for c in store.with_token("emsp", "04a1b2c3d4")] == [old.id]
    assert store.with_token("nobody", "04A1B2C3D4") == []


# --- reservations -----------------------------------------------------------------------------


def test_a_repeated_reservation_replaces_the_first_and_keeps_its_charger_id(store):
    """Same partner role, reservation id and Location (any case): the same id for the charger."""
    first = store.reserve(a_reservation(id=0))
    again = store.reserve(
        a_reservation(id=0, reservation_id="r-1", location_id="loc-001", expires_at=LATER)
    )
    elsewhere = store.reserve(a_reservation(id=0, location_id="LOC-002"))
    assert first.id == again.id
    assert elsewhere.id != first.id
    assert first.updated_at == T0
    held = {r.id: r for r in store.held_reservations()}
    assert held[first.id].expires_at == LATER
    assert held[first.id].token == partner_token()


def test_a_reservation_is_found_while_it_holds(store):
    """By partner role and id (any case); the newest holding one; none once it is over."""
    first = store.reserve(a_reservation(id=0))
    second = store.reserve(a_reservation(id=0, location_id="LOC-002"))
    assert store.find_reservation("de", "ems", "r-1") == second
    store.set_reservation_state(second.id, ReservationState.CANCELLED, now=LATER)
    found = store.find_reservation("DE", "EMS", "R-1")
    assert found is not None
    assert found.id == first.id
    store.set_reservation_state(first.id, ReservationState.USED, now=LATER)
    store.set_reservation_state(404, ReservationState.USED, now=LATER)
    assert store.find_reservation("DE", "EMS", "R-1") is None
    assert store.held_reservations() == []
    assert store.find_reservation("FR", "OTH", "R-1") is None


@pytest.mark.parametrize(
    ("state", "holds"),
    [
        (ReservationState.REQUESTED, True),
        (ReservationState.ACTIVE, True),
        (ReservationState.REJECTED, False),
        (ReservationState.CANCELLED, False),
        (ReservationState.EXPIRED, False),
        (ReservationState.USED, False),
    ],
)
def test_only_requested_and_active_reservations_hold_their_evse(state, holds):
    """A reservation stops holding once rejected, cancelled, expired or used."""
    assert state.holds is holds


# --- session links ----------------------------------------------------------------------------


def a_link(**overrides):
    fields = {
        "charger_id": ChargerId("AC-0001"),
        "tx_id": "7",
        "session_id": "AC-0001-7",
        "partner": "emsp",
        "token": partner_token(),
        "authorization_reference": "AUTH-1",
        "command_id": 3,
        "reservation_id": None,
        "linked_at": T0,
        **overrides,
    }
    return SessionLink(**fields)


def test_a_transaction_keeps_its_first_link(store):
    """Linking twice (a replayed start, a restart) changes nothing."""
    assert store.link(a_link())
    assert not store.link(a_link(command_id=4))
    assert store.link_for("AC-0001", "7") == a_link()
    assert store.link_of_command(3) == a_link()
    assert store.link_for("AC-0001", "8") is None
    assert store.link_of_command(4) is None


# --- schema -----------------------------------------------------------------------------------


def test_a_version_4_database_gains_the_remote_control_tables(tmp_path):
    """An existing file migrates to this version with the command tables, data kept."""
    path = tmp_path / "gateway.db"
    SqlStore(f"sqlite:///{path}").open()
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        DROP TABLE ocpi_command; DROP TABLE ocpi_reservation; DROP TABLE ocpi_session_link;
        UPDATE schema_meta SET value = '4';
        """
    )
    conn.close()
    sql = SqlStore(f"sqlite:///{path}")
    sql.open()
    commands = SqlCommands(sql.engine)
    assert commands.record(a_command(id=0)).id == 1
    with sql.engine.connect() as c:
        assert c.exec_driver_sql("SELECT value FROM schema_meta").scalar() == str(SCHEMA_VERSION)
    sql.close()
