"""The remote-control store's hints: a skipped query had nothing to find, restarts included."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from gateway.domain.delivery import PendingKind
from gateway.domain.remote import ReservationState
from gateway.storage.commands import Hints, SqlCommands, hints_for
from gateway.storage.sql import SqlStore
from tests.builders import T0
from tests.gateway.test_delivery_store import Sealer, a_transaction, commit
from tests.gateway.test_pending_sessions import opener
from tests.remote_site import a_command, a_reservation

REMOTE_TABLES = ("ocpi_command", "ocpi_reservation", "ocpi_pending_session")


class Queries:
    """Counts the statements that look for commands, reservations or pending sessions.

    The check that a new Session id is unused is not one of them.
    """

    def __init__(self, engine: Engine) -> None:
        self.seen: list[str] = []
        event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, _conn: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if (
            statement.lstrip().upper().startswith("SELECT")
            and any(t in statement for t in REMOTE_TABLES)
            and "session_id = " not in statement
        ):
            self.seen.append(statement)

    def count(self) -> int:
        return len(self.seen)


def open_store(path: Path) -> SqlStore:
    store = SqlStore(f"sqlite:///{path / 'gateway.db'}")
    store.open()
    store.delivery.sealer = Sealer()
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(tmp_path)
    yield s
    s.close()


def test_with_no_command_around_a_start_asks_nothing_of_the_remote_tables(store: SqlStore):
    """Once the hints are read, an RFID start costs no query for commands or reservations."""
    commands = SqlCommands(store.engine)
    assert commands.received_since(T0) == []  # reads the hints
    queries = Queries(store.engine)

    assert commands.received_since(T0 - timedelta(minutes=15)) == []
    assert commands.held_reservations() == []
    assert commands.with_token("emsp", "04A1B2C3") == []
    commit(store, a_transaction())

    assert queries.count() == 0
    record = store.delivery.session(1)
    assert record is not None
    assert record.seal.session_id == "AC-0001-7"


def test_a_recorded_command_is_found_at_once(store: SqlStore):
    """The hints move with the write: received_since and with_token see the new command."""
    commands = SqlCommands(store.engine)
    assert commands.received_since(T0) == []
    command = commands.record(a_command(id=0, received_at=T0 + timedelta(minutes=1)))

    assert commands.received_since(T0) == [command]
    assert commands.received_since(T0 + timedelta(minutes=2)) == []
    assert commands.with_token("emsp", command.token.uid if command.token else "") == [command]
    assert commands.with_token("other", "X") == []


def test_a_pending_session_recorded_before_a_restart_is_still_taken(tmp_path: Path):
    """The hints are read again from the database: a restarted gateway still claims."""
    before = open_store(tmp_path)
    SqlCommands(before.engine).record(a_command(id=0), opens=opener(PendingKind.START))
    before.close()

    after = open_store(tmp_path)
    try:
        commands = SqlCommands(after.engine)
        assert len(commands.received_since(T0)) == 1
        commit(after, a_transaction(tx_id="S1"))
        record = after.delivery.session(1)
        assert record is not None
        assert record.seal.session_id == "AC-0001-S1"
    finally:
        after.close()


def test_a_charger_without_pending_sessions_is_forgotten_once_checked(store: SqlStore):
    """After its pending session is taken, the next start at that charger asks nothing."""
    commands = SqlCommands(store.engine)
    commands.record(a_command(id=0), opens=opener(PendingKind.START))
    commit(store, a_transaction(tx_id="S1"))  # takes it
    commit(store, a_transaction(tx_id="S2"))  # finds nothing left: the charger is forgotten
    queries = Queries(store.engine)

    commit(store, a_transaction(tx_id="S3"))

    assert queries.count() == 0


def test_a_pending_session_opened_after_a_miss_is_taken(store: SqlStore):
    """A miss narrows the hint; the next command widens it again before it is stored."""
    commands = SqlCommands(store.engine)
    commit(store, a_transaction(tx_id="1"))
    commands.record(a_command(id=0), opens=opener(PendingKind.START))

    commit(store, a_transaction(tx_id="S1"))

    record = store.delivery.session(2)
    assert record is not None
    assert record.seal.session_id == "AC-0001-S1"


def test_held_reservations_follow_the_reservation_state(store: SqlStore):
    """Held while REQUESTED or ACTIVE; gone once it ends; held again when it is renewed."""
    commands = SqlCommands(store.engine)
    assert commands.held_reservations() == []
    reservation = commands.reserve(a_reservation(id=0))
    assert [r.id for r in commands.held_reservations()] == [reservation.id]

    commands.set_reservation_state(reservation.id, ReservationState.USED, now=T0)
    assert commands.held_reservations() == []
    queries = Queries(store.engine)
    assert commands.held_reservations() == []
    assert queries.count() == 0

    commands.set_reservation_state(reservation.id, ReservationState.ACTIVE, now=T0)
    assert [r.id for r in commands.held_reservations()] == [reservation.id]
    renewed = commands.reserve(a_reservation(id=0, reservation_id="R-2"))
    assert {r.id for r in commands.held_reservations()} == {reservation.id, renewed.id}


def test_a_reservation_opened_before_a_restart_is_still_held(tmp_path: Path):
    """Read again at start-up: a held reservation survives the restart."""
    before = open_store(tmp_path)
    stored = SqlCommands(before.engine).reserve(
        a_reservation(id=0), opens=opener(PendingKind.RESERVATION)
    )
    before.close()

    after = open_store(tmp_path)
    try:
        assert [r.id for r in SqlCommands(after.engine).held_reservations()] == [stored.id]
        commit(after, a_transaction(tx_id="9"))
        record = after.delivery.session(1)
        assert record is not None
        assert record.seal.session_id == f"AC-0001-R{stored.id}"
    finally:
        after.close()


def test_unread_hints_ask_the_database(store: SqlStore):
    """While a writer holds the hints' lock before they were read, every answer is "ask"."""
    hints = hints_for(store.engine)
    held = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with hints.writing():
            held.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(5)
    try:
        assert not hints.no_commands_since(T0)
        assert not hints.no_token("emsp", "X")
        assert not hints.none_held()
        with store.engine.connect() as conn:
            assert not hints.no_pending_at(conn, "AC-0001")
            hints.pending_seen(conn, "AC-0001")  # the lock is busy: nothing is forgotten
    finally:
        release.set()
        thread.join(5)
    assert hints.no_commands_since(T0)


def test_a_database_other_processes_write_is_always_asked(store: SqlStore):
    """Shared (PostgreSQL with several gateway instances): another instance may have
    recorded a command this one never saw, so no answer ever skips the query."""
    assert hints_for(store.engine).no_commands_since(T0)  # a SQLite file: this process's
    hints = Hints(store.engine, shared=True)
    assert not hints.no_commands_since(T0)
    assert not hints.no_token("emsp", "X")
    assert not hints.none_held()
    with store.engine.connect() as conn:
        assert not hints.no_pending_at(conn, "AC-0001")


def test_too_many_tokens_turn_the_token_hint_off(store: SqlStore, monkeypatch):
    """Beyond the limit the store stops remembering tokens and always asks."""
    monkeypatch.setattr("gateway.storage.commands.TOKEN_HINT_LIMIT", 1)
    commands = SqlCommands(store.engine)
    first = commands.record(a_command(id=0))
    commands.record(a_command(id=0, partner="other"))

    assert not commands.hints.no_token("emsp", "ANY")
    assert commands.with_token("emsp", first.token.uid if first.token else "") != []


def test_a_database_with_many_tokens_is_read_without_the_token_hint(tmp_path: Path, monkeypatch):
    """Read at start-up: more distinct tokens than the limit leave the hint off."""
    before = open_store(tmp_path)
    commands = SqlCommands(before.engine)
    commands.record(a_command(id=0))
    commands.record(a_command(id=0, partner="other"))
    before.close()
    monkeypatch.setattr("gateway.storage.commands.TOKEN_HINT_LIMIT", 1)

    after = open_store(tmp_path)
    try:
        assert not SqlCommands(after.engine).hints.no_token("emsp", "ANY")
    finally:
        after.close()


async def test_the_authoriser_answers_from_the_hints_and_still_sees_a_new_command(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
):
    """With no command lately a start is not vouched for (and asks no thread); a command
    recorded a moment later vouches for the next start at once."""
    from gateway.domain.authorization import AuthDecision, AuthStatus
    from gateway.domain.ids import ChargerId, EvseUid
    from gateway.domain.transactions import AuthToken
    from ocpi_bridge.commands import CommandAuthorizer

    class Inner:
        async def authorize(self, charger_id: Any, token: Any, evse_uid: Any) -> AuthDecision:
            return AuthDecision(status=AuthStatus.INVALID)

    commands = SqlCommands(store.engine)
    authorizer = CommandAuthorizer(Inner(), store=commands, clock=lambda: T0, hints=commands.hints)
    token = AuthToken(value=a_command().token.uid)  # type: ignore[union-attr]
    where = (ChargerId("AC-0001"), token, EvseUid("AC-0001-1"))
    assert (await authorizer.authorize(*where)).status is AuthStatus.INVALID  # reads the hints
    queries = Queries(store.engine)
    with monkeypatch.context() as patched:
        patched.setattr("ocpi_bridge.commands.asyncio.to_thread", None)  # must not be needed
        assert (await authorizer.authorize(*where)).status is AuthStatus.INVALID
    assert queries.count() == 0

    commands.record(a_command(received_at=T0 - timedelta(minutes=1)))
    decision = await authorizer.authorize(*where)
    assert (decision.status, decision.source) == (AuthStatus.ACCEPTED, "emsp")


def test_nothing_to_link_is_said_only_from_read_hints(store: SqlStore):
    """Never a query: unread hints say "ask"; once read, a command in the window or a held
    reservation each say "ask", and only an older command and no hold say "nothing"."""
    commands = SqlCommands(store.engine)
    hints = commands.hints
    queries = Queries(store.engine)
    assert not hints.nothing_to_link(T0)  # not read yet: the caller asks the store
    assert queries.count() == 0

    assert commands.received_since(T0) == []  # reads the hints
    assert hints.nothing_to_link(T0)
    commands.record(a_command(id=0, received_at=T0 + timedelta(minutes=1)))
    assert not hints.nothing_to_link(T0 + timedelta(minutes=1))
    assert hints.nothing_to_link(T0 + timedelta(minutes=2))

    reservation = commands.reserve(a_reservation(id=0))
    assert not hints.nothing_to_link(T0 + timedelta(minutes=2))
    commands.set_reservation_state(reservation.id, ReservationState.USED, now=T0)
    assert commands.held_reservations() == []  # the check clears the hold
    assert hints.nothing_to_link(T0 + timedelta(minutes=2))


def test_shared_hints_never_say_nothing_to_link(store: SqlStore):
    """Another instance may have recorded a command: the store is always asked."""
    hints = Hints(store.engine, shared=True)
    assert not hints.no_commands_since(T0)
    assert not hints.nothing_to_link(T0)
