"""Adapter: the remote-control store (``ocpi_bridge.ports.RemoteStore``) on SQL and in memory.

``SqlCommands`` shares the gateway's engine; each method is one transaction. Settling a
command is a conditional update (only a PENDING command takes a result), so whoever
settles first wins and exactly one result is ever delivered. ``MemoryCommands`` behaves
the same in dictionaries, for tests (it keeps no pending sessions).

Pending sessions (``gateway.domain.delivery.PendingSession``) live here too: opened in
the transaction that records their START_SESSION or reservation, moved with the
reservation's state (held: RESERVATION; rejected, cancelled, expired or used without
being taken: INVALID), ended INVALID by ``end_pending`` and ``expire_pending``, and taken
by a transaction's seal (``take_pending``, called by ``gateway.storage.delivery`` inside
the commit of the transaction). Every change queues the Session in the outbox in the
same database transaction, so it is durable before it is pushed. A status change is a
conditional update on a session no transaction has taken: whichever of "taken" and
"INVALID" commits first wins, and the other changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from gateway.domain.delivery import (
    Claim,
    PendingKind,
    PendingSession,
    PendingStatus,
    PushKind,
)
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.remote import (
    PartnerToken,
    RemoteCommand,
    RemoteKind,
    RemoteState,
    Reservation,
    ReservationState,
    SessionLink,
)
from gateway.domain.topology import ConnectorRef
from gateway.storage.commands_tables import RemoteCommandRow, ReservationRow, SessionLinkRow
from gateway.storage.delivery_tables import PendingSessionRow, TxSealRow
from gateway.storage.tables import OutboxRow, TransactionRow
from gateway.storage.writes import begin

#: How much of a token uid a 1.6 charger reports (CiString20), and what is indexed.
TOKEN_KEY_LENGTH = 20
#: Beyond this many distinct (partner, token) pairs in commands, ``with_token`` always asks.
TOKEN_HINT_LIMIT = 100_000


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)  # noqa: S101 - SQLModel always sets a Table here
    return table


COMMAND = _table(RemoteCommandRow)
RESERVATION = _table(ReservationRow)
LINK = _table(SessionLinkRow)

PENDING = _table(PendingSessionRow)
_SEAL = _table(TxSealRow)
_OUTBOX = _table(OutboxRow)
_TX = _table(TransactionRow)
TABLES = (COMMAND, RESERVATION, LINK, PENDING)

_HOLDING = (ReservationState.REQUESTED.value, ReservationState.ACTIVE.value)
_OPEN = (RemoteState.PENDING.value, RemoteState.ANSWERED.value)
_UNTAKEN = (PendingStatus.PENDING.value, PendingStatus.RESERVATION.value)
_MAX_SESSION_ID = 36
#: What a reservation's new state makes of its pending session, if no transaction took it.
_RESERVATION_SESSION = {
    ReservationState.ACTIVE: PendingStatus.RESERVATION,
    ReservationState.REJECTED: PendingStatus.INVALID,
    ReservationState.CANCELLED: PendingStatus.INVALID,
    ReservationState.EXPIRED: PendingStatus.INVALID,
    ReservationState.USED: PendingStatus.INVALID,
}

Opener = Callable[[Any], PendingSession | None]
"""Builds the pending session of a just stored command or reservation (``None``: none)."""


def token_key(uid: str) -> str:
    return uid.upper()[:TOKEN_KEY_LENGTH]


# --- columns <-> records -------------------------------------------------------------------


def _token_out(token: PartnerToken | None) -> str | None:
    if token is None:
        return None
    return json.dumps(
        {
            "uid": token.uid,
            "type": token.type,
            "contract_id": token.contract_id,
            "country_code": token.country_code,
            "party_id": token.party_id,
            "group_id": token.group_id,
        }
    )


def _token_in(text: str | None) -> PartnerToken | None:
    return None if text is None else PartnerToken(**json.loads(text))


def _must_token(text: str) -> PartnerToken:
    token = _token_in(text)
    assert token is not None  # noqa: S101 - a non-null column
    return token


def _connector_out(ref: ConnectorRef | None) -> dict[str, int | None]:
    if ref is None:
        return {"connector_evse": None, "connector_id": None}
    return {"connector_evse": ref.evse, "connector_id": ref.connector}


def _connector_in(evse: int | None, connector: int | None) -> ConnectorRef | None:
    return None if connector is None else ConnectorRef(evse=evse, connector=connector)


def _command_values(c: RemoteCommand) -> dict[str, Any]:
    return {
        "kind": c.kind.value,
        "partner": c.partner,
        "country_code": c.country_code,
        "party_id": c.party_id,
        "response_url": c.response_url,
        "charger_id": c.charger_id,
        "evse_uid": c.evse_uid,
        **_connector_out(c.connector),
        "session_id": c.session_id,
        "tx_id": c.tx_id,
        "token": _token_out(c.token),
        "token_key": None if c.token is None else token_key(c.token.uid),
        "authorization_reference": c.authorization_reference,
        "reservation_id": c.reservation_id,
        "received_at": c.received_at,
        "deadline": c.deadline,
        "state": c.state.value,
        "result": None if c.result is None else json.dumps(c.result),
        "outcome": c.outcome,
        "attempts": c.attempts,
        "finished_at": c.finished_at,
    }


def _command(row: Row[Any]) -> RemoteCommand:
    return RemoteCommand(
        id=row.id,
        kind=RemoteKind(row.kind),
        partner=row.partner,
        country_code=row.country_code,
        party_id=row.party_id,
        response_url=row.response_url,
        charger_id=ChargerId(row.charger_id),
        evse_uid=None if row.evse_uid is None else EvseUid(row.evse_uid),
        connector=_connector_in(row.connector_evse, row.connector_id),
        session_id=row.session_id,
        tx_id=row.tx_id,
        token=_token_in(row.token),
        authorization_reference=row.authorization_reference,
        reservation_id=row.reservation_id,
        received_at=row.received_at,
        deadline=row.deadline,
        state=RemoteState(row.state),
        result=None if row.result is None else json.loads(row.result),
        outcome=row.outcome,
        attempts=row.attempts,
        finished_at=row.finished_at,
    )


def _reservation_values(r: Reservation, now: datetime) -> dict[str, Any]:
    return {
        "partner": r.partner,
        "country_code": r.country_code,
        "party_id": r.party_id,
        "reservation_id": r.reservation_id,
        "reservation_key": r.reservation_id.upper(),
        "location_id": r.location_id,
        "location_key": r.location_id.upper(),
        "charger_id": r.charger_id,
        "evse_uid": r.evse_uid,
        **_connector_out(r.connector),
        "token": _token_out(r.token),
        "authorization_reference": r.authorization_reference,
        "expires_at": r.expires_at,
        "state": r.state.value,
        "received_at": r.received_at,
        "response_url": r.response_url,
        "updated_at": now,
    }


def _reservation(row: Row[Any]) -> Reservation:
    return Reservation(
        id=row.id,
        partner=row.partner,
        country_code=row.country_code,
        party_id=row.party_id,
        reservation_id=row.reservation_id,
        location_id=row.location_id,
        charger_id=ChargerId(row.charger_id),
        evse_uid=None if row.evse_uid is None else EvseUid(row.evse_uid),
        connector=_connector_in(row.connector_evse, row.connector_id),
        token=_must_token(row.token),
        authorization_reference=row.authorization_reference,
        expires_at=row.expires_at,
        state=ReservationState(row.state),
        received_at=row.received_at,
        response_url=row.response_url,
        updated_at=row.updated_at,
    )


def _link(row: Row[Any]) -> SessionLink:
    return SessionLink(
        charger_id=ChargerId(row.charger_id),
        tx_id=row.tx_id,
        session_id=row.session_id,
        partner=row.partner,
        token=_must_token(row.token),
        authorization_reference=row.authorization_reference,
        command_id=row.command_id,
        reservation_id=row.reservation_id,
        linked_at=row.linked_at,
    )


# --- pending sessions (shared with gateway.storage.delivery) ---------------------------------


PENDING_PREFIX = "pending:"


def pending_key(row_id: int) -> str:
    """The outbox / push object id of a pending session."""
    return f"{PENDING_PREFIX}{row_id}"


def pending_row_of(object_id: str) -> int | None:
    """The pending session row an object id names, or ``None`` (a transaction row id)."""
    if not object_id.startswith(PENDING_PREFIX):
        return None
    return int(object_id.removeprefix(PENDING_PREFIX))


def _insert_on(conn: Connection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def queue_session(conn: Connection, object_id: str, at: datetime) -> None:
    """Queue a Session in the outbox (coalesced with a change not yet fanned out)."""
    stmt = _insert_on(conn, _OUTBOX)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "object_id"], set_={"changed_at": stmt.excluded.changed_at}
    )
    conn.execute(stmt, {"kind": PushKind.SESSION.value, "object_id": object_id, "changed_at": at})


_SESSION_ID_TAKEN = (
    f'SELECT EXISTS (SELECT 1 FROM "{PENDING.name}" WHERE session_id = ?) '  # noqa: S608
    f'OR EXISTS (SELECT 1 FROM "{_SEAL.name}" WHERE session_id = ?)'
)


def session_id_taken(conn: Connection, session_id: str, *, plain: bool = False) -> bool:
    """Whether a transaction's seal or a pending session already uses ``session_id``.

    ``plain`` asks in plain SQL on the driver's connection (SQLite; same transaction).
    """
    if plain:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            return bool(cur.execute(_SESSION_ID_TAKEN, (session_id, session_id)).fetchone()[0])
        finally:
            cur.close()
    return bool(
        conn.execute(select(exists().where(PENDING.c.session_id == session_id))).scalar()
        or conn.execute(select(exists().where(_SEAL.c.session_id == session_id))).scalar()
    )


def free_session_id(conn: Connection, wanted: str, *, plain: bool = False) -> str:
    """``wanted``, or a variant no seal or pending session uses yet."""
    if len(wanted) <= _MAX_SESSION_ID and not session_id_taken(conn, wanted, plain=plain):
        return wanted
    n = 1
    while True:
        digest = hashlib.sha256(f"{wanted}\0{n}".encode()).hexdigest()
        candidate = f"S{digest[: _MAX_SESSION_ID - 1]}"
        if not session_id_taken(conn, candidate, plain=plain):
            return candidate
        n += 1


def open_pending(conn: Connection, pending: PendingSession) -> PendingSession:
    """Store a new pending session and queue it for its partner."""
    session_id = free_session_id(conn, pending.session_id)
    new_id = conn.execute(
        insert(PENDING)
        .values(
            session_id=session_id,
            kind=pending.kind.value,
            source_id=pending.source_id,
            charger_id=pending.charger_id,
            owner_country=pending.owner[0].upper(),
            owner_party=pending.owner[1].upper(),
            site=pending.site,
            token=pending.token,
            status=pending.status.value,
            started_at=pending.started_at,
            updated_at=pending.updated_at,
            tx_row=None,
        )
        .returning(PENDING.c.id)
    ).scalar_one()
    queue_session(conn, pending_key(int(new_id)), pending.updated_at)
    return replace(pending, id=int(new_id), session_id=session_id)


def _untaken(kind: PendingKind, source_id: int) -> list[Any]:
    return [
        PENDING.c.kind == kind.value,
        PENDING.c.source_id == source_id,
        PENDING.c.tx_row.is_(None),
        PENDING.c.status.in_(_UNTAKEN),
    ]


def move_pending(
    conn: Connection, kind: PendingKind, source_id: int, status: PendingStatus, now: datetime
) -> int:
    """Set the status of the untaken, open pending session of a command or reservation."""
    ids = list(conn.execute(select(PENDING.c.id).where(*_untaken(kind, source_id))).scalars())
    moved = 0
    for row_id in ids:
        moved += conn.execute(
            update(PENDING)
            .where(PENDING.c.id == row_id, PENDING.c.tx_row.is_(None), PENDING.c.status != status)
            .values(status=status.value, updated_at=now)
        ).rowcount
        queue_session(conn, pending_key(row_id), now)
    return moved


def take_pending(conn: Connection, claim: Claim, tx_row: int, at: datetime) -> str | None:
    """Give the claimed pending session to transaction ``tx_row``; its session id, if taken."""
    row = conn.execute(
        select(PENDING.c.id, PENDING.c.session_id)
        .where(*_untaken(claim.kind, claim.source_id))
        .order_by(PENDING.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    taken = conn.execute(
        update(PENDING)
        .where(PENDING.c.id == row.id, PENDING.c.tx_row.is_(None))
        .values(tx_row=tx_row, updated_at=at)
    ).rowcount
    if not taken:
        return None
    queue_session(conn, pending_key(int(row.id)), at)
    return str(row.session_id)


def claim_candidates(
    conn: Connection, charger_id: str, since: datetime
) -> tuple[list[RemoteCommand], list[Reservation]]:
    """START_SESSIONs since ``since`` and held reservations at a charger with an open session."""
    starts = conn.execute(
        select(COMMAND)
        .where(
            COMMAND.c.kind == RemoteKind.START_SESSION.value,
            COMMAND.c.charger_id == charger_id,
            COMMAND.c.received_at >= since,
            exists().where(*_untaken(PendingKind.START, COMMAND.c.id)),  # type: ignore[arg-type]
        )
        .order_by(COMMAND.c.id)
    ).all()
    held = conn.execute(
        select(RESERVATION)
        .where(
            RESERVATION.c.charger_id == charger_id,
            RESERVATION.c.state.in_(_HOLDING),
            exists().where(
                *_untaken(PendingKind.RESERVATION, RESERVATION.c.id)  # type: ignore[arg-type]
            ),
        )
        .order_by(RESERVATION.c.id)
    ).all()
    return [_command(r) for r in starts], [_reservation(r) for r in held]


def pending_session(conn: Connection, row_id: int) -> PendingSession | None:
    row = conn.execute(select(PENDING).where(PENDING.c.id == row_id)).first()
    return None if row is None else pending_of(row)


def pending_of(row: Any) -> PendingSession:
    return PendingSession(
        id=row.id,
        session_id=row.session_id,
        kind=PendingKind(row.kind),
        source_id=row.source_id,
        charger_id=row.charger_id,
        owner=(row.owner_country, row.owner_party),
        site=row.site,
        token=row.token,
        status=PendingStatus(row.status),
        started_at=row.started_at,
        updated_at=row.updated_at,
        tx_row=row.tx_row,
    )


class Hints:
    """What the remote-control tables cannot hold, so a query for it can be skipped.

    Shared by every ``SqlCommands`` and ``SqlDelivery`` on one engine (``hints_for``).
    Each answer errs only towards asking the database. ``shared``: other processes write
    the same database (PostgreSQL with several gateway instances, DESIGN.md §6), so what
    this process saw is not the whole truth and every answer is "ask".
    """

    def __init__(self, engine: Engine, *, shared: bool = False) -> None:
        # Weak: the hints are the value of a weak mapping keyed by this engine.
        self._engine = weakref.ref(engine)
        self._shared = shared
        #: Held by every write that may add a match, until it commits.
        self.lock = threading.RLock()
        self._loaded = False
        self._latest: datetime | None = None
        self._tokens: set[tuple[str, str]] | None = set()
        self._held = True
        self._pending: set[str] = set()

    def _load(self, conn: Connection | None = None) -> bool:
        """Read the hints once; False when they are not read yet (the caller asks instead).

        The lock is only tried: a commit must never wait for it (see ``pending_seen``).
        """
        if self._loaded:
            return True
        if self._shared or not self.lock.acquire(blocking=False):
            return False
        try:
            if not self._loaded:
                if conn is not None:
                    self._read(conn)
                else:
                    engine = self._engine()
                    if engine is None:
                        return False  # the engine is gone: nobody will ask again
                    with engine.connect() as own:
                        self._read(own)
                self._loaded = True
        finally:
            self.lock.release()
        return True

    def _read(self, conn: Connection) -> None:
        self._latest = conn.execute(select(func.max(COMMAND.c.received_at))).scalar()
        pairs = conn.execute(
            select(COMMAND.c.partner, COMMAND.c.token_key)
            .distinct()
            .where(COMMAND.c.token_key.is_not(None))
            .limit(TOKEN_HINT_LIMIT + 1)
        ).all()
        self._tokens = {(p, k) for p, k in pairs} if len(pairs) <= TOKEN_HINT_LIMIT else None
        self._held = bool(
            conn.execute(select(exists().where(RESERVATION.c.state.in_(_HOLDING)))).scalar()
        )
        self._pending = set(
            conn.execute(
                select(PENDING.c.charger_id)
                .distinct()
                .where(PENDING.c.tx_row.is_(None), PENDING.c.status.in_(_UNTAKEN))
            ).scalars()
        )

    # --- writers (call under ``writing``) ----------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock across a write that may add a match, through its commit."""
        with self.lock:
            yield

    def command_recorded(self, command: RemoteCommand) -> None:
        if self._latest is None or command.received_at > self._latest:
            self._latest = command.received_at
        if command.token is not None and self._tokens is not None:
            self._tokens.add((command.partner, token_key(command.token.uid)))
            if len(self._tokens) > TOKEN_HINT_LIMIT:
                self._tokens = None

    def may_hold(self) -> None:
        self._held = True

    def pending_opened(self, charger_id: str) -> None:
        self._pending.add(charger_id)

    # --- readers -------------------------------------------------------------------------

    def no_commands_since(self, since: datetime) -> bool:
        """True when no command was received at or after ``since``."""
        return self._load() and (self._latest is None or self._latest < since)

    def nothing_to_link(self, since: datetime) -> bool:
        """True when no command was received at or after ``since`` and no reservation holds.

        Never reads the database, so it may be asked on the event loop after every
        transaction start: until the hints have been read (by any other question), or
        when they are shared, the answer is False and the caller asks the store.
        """
        return self._loaded and not self._held and (self._latest is None or self._latest < since)

    def no_token(self, partner: str, key: str) -> bool:
        """True when no command of ``partner`` carries a token with ``key``."""
        if not self._load():
            return False
        tokens = self._tokens
        return tokens is not None and (partner, key) not in tokens

    def none_held(self) -> bool:
        """True when no reservation is REQUESTED or ACTIVE."""
        return self._load() and not self._held

    def held_seen(self, any_held: bool) -> None:
        """What a query made under ``lock`` found; clears the flag when nothing holds."""
        self._held = any_held

    def no_pending_at(self, conn: Connection, charger_id: str) -> bool:
        """True when ``charger_id`` has no pending session a transaction could take."""
        return self._load(conn) and charger_id not in self._pending

    def pending_seen(self, conn: Connection, charger_id: str) -> None:
        """Forget ``charger_id`` if it has no untaken pending session left.

        Called inside a commit: the lock is only tried, never waited for, because its
        holder may be waiting for this commit's database lock.
        """
        if not self.lock.acquire(blocking=False):
            return
        try:
            left = conn.execute(
                select(
                    exists().where(
                        PENDING.c.charger_id == charger_id,
                        PENDING.c.tx_row.is_(None),
                        PENDING.c.status.in_(_UNTAKEN),
                    )
                )
            ).scalar()
            if not left:
                self._pending.discard(charger_id)
        finally:
            self.lock.release()


_HINTS: weakref.WeakKeyDictionary[Engine, Hints] = weakref.WeakKeyDictionary()
_HINTS_LOCK = threading.Lock()


def hints_for(engine: Engine) -> Hints:
    """The engine's ``Hints`` (made on first use)."""
    with _HINTS_LOCK:
        found = _HINTS.get(engine)
        if found is None:
            # Only a SQLite file is this process's alone (one gateway per file).
            found = _HINTS[engine] = Hints(engine, shared=engine.dialect.name != "sqlite")
        return found


class SqlCommands:
    """``RemoteStore`` on SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.hints = hints_for(engine)

    # --- commands ---------------------------------------------------------------------

    def record(self, command: RemoteCommand, *, opens: Opener | None = None) -> RemoteCommand:
        """Store a command; ``opens`` builds its pending session, stored with it."""
        with self.hints.writing(), begin(self._engine) as conn:
            self.hints.command_recorded(command)
            new_id = conn.execute(
                insert(COMMAND).values(**_command_values(command)).returning(COMMAND.c.id)
            ).scalar_one()
            stored = replace(command, id=int(new_id))
            pending = None if opens is None else opens(stored)
            if pending is not None:
                self.hints.pending_opened(pending.charger_id)
                open_pending(conn, pending)
        return stored

    def end_pending(self, kind: PendingKind, source_id: int, *, now: datetime) -> bool:
        """The command or reservation will not lead to a transaction: its session is INVALID."""
        with begin(self._engine) as conn:
            return bool(move_pending(conn, kind, source_id, PendingStatus.INVALID, now))

    def expire_pending(self, started_before: datetime, *, now: datetime) -> int:
        """START_SESSION sessions no transaction took within the window become INVALID."""
        with begin(self._engine) as conn:
            sources = list(
                conn.execute(
                    select(PENDING.c.source_id).where(
                        PENDING.c.kind == PendingKind.START.value,
                        PENDING.c.started_at < started_before,
                        PENDING.c.tx_row.is_(None),
                        PENDING.c.status.in_(_UNTAKEN),
                    )
                ).scalars()
            )
            return sum(
                move_pending(conn, PendingKind.START, s, PendingStatus.INVALID, now)
                for s in sources
            )

    def pending_of_source(self, kind: PendingKind, source_id: int) -> list[PendingSession]:
        """The pending sessions a command or reservation opened, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(PENDING)
                .where(PENDING.c.kind == kind.value, PENDING.c.source_id == source_id)
                .order_by(PENDING.c.id)
            ).all()
        return [pending_of(r) for r in rows]

    def sealed_session_ids(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The sealed Session id of each (charger, transaction id) that has a seal."""
        if not keys:
            return {}
        wanted = or_(*(and_(_TX.c.charger_id == c, _TX.c.tx_id == t) for c, t in keys))
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_TX.c.charger_id, _TX.c.tx_id, _SEAL.c.session_id)
                .join(_SEAL, _SEAL.c.tx_row == _TX.c.id)
                .where(wanted)
            ).all()
        return {(r.charger_id, r.tx_id): r.session_id for r in rows}

    def settle(
        self,
        command_id: int,
        result: Mapping[str, Any],
        *,
        outcome: str,
        now: datetime,
        tx_id: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {
            "state": RemoteState.ANSWERED.value,
            "result": json.dumps(result),
            "outcome": outcome,
            "finished_at": now,
        }
        if tx_id is not None:
            values["tx_id"] = tx_id
        with begin(self._engine) as conn:
            changed = conn.execute(
                update(COMMAND)
                .where(COMMAND.c.id == command_id, COMMAND.c.state == RemoteState.PENDING.value)
                .values(**values)
            ).rowcount
        return bool(changed)

    def finish(self, command_id: int, *, state: RemoteState, attempts: int, now: datetime) -> None:
        with begin(self._engine) as conn:
            conn.execute(
                update(COMMAND)
                .where(COMMAND.c.id == command_id)
                .values(state=state.value, attempts=attempts, finished_at=now)
            )

    def command(self, command_id: int) -> RemoteCommand | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(COMMAND).where(COMMAND.c.id == command_id)).first()
        return None if row is None else _command(row)

    def _commands(self, query: Any) -> list[RemoteCommand]:
        with self._engine.connect() as conn:
            return [_command(row) for row in conn.execute(query).all()]

    def unfinished(self) -> list[RemoteCommand]:
        return self._commands(
            select(COMMAND).where(COMMAND.c.state.in_(_OPEN)).order_by(COMMAND.c.id)
        )

    def received_since(self, since: datetime) -> list[RemoteCommand]:
        if self.hints.no_commands_since(since):
            return []
        return self._commands(
            select(COMMAND).where(COMMAND.c.received_at >= since).order_by(COMMAND.c.id)
        )

    def for_session(self, session_id: str) -> list[RemoteCommand]:
        return self._commands(
            select(COMMAND).where(COMMAND.c.session_id == session_id).order_by(COMMAND.c.id)
        )

    def with_token(self, partner: str, presented: str) -> list[RemoteCommand]:
        if self.hints.no_token(partner, token_key(presented)):
            return []
        return self._commands(
            select(COMMAND)
            .where(COMMAND.c.partner == partner, COMMAND.c.token_key == token_key(presented))
            .order_by(COMMAND.c.id.desc())
            .limit(50)
        )

    # --- reservations -------------------------------------------------------------------

    def reserve(self, reservation: Reservation, *, opens: Opener | None = None) -> Reservation:
        """Store (or replace) a reservation; ``opens`` builds its pending session.

        A replaced reservation keeps the session it still has open; one whose session
        ended (or was taken) gets a new one.
        """
        now = reservation.updated_at or reservation.received_at
        values = _reservation_values(reservation, now)
        key = (
            RESERVATION.c.country_code == reservation.country_code,
            RESERVATION.c.party_id == reservation.party_id,
            RESERVATION.c.reservation_key == values["reservation_key"],
            RESERVATION.c.location_key == values["location_key"],
        )
        with self.hints.writing(), begin(self._engine) as conn:
            if reservation.state.holds:
                self.hints.may_hold()
            existing = conn.execute(select(RESERVATION.c.id).where(*key)).scalar()
            if existing is None:
                new_id = conn.execute(
                    insert(RESERVATION).values(**values).returning(RESERVATION.c.id)
                ).scalar_one()
                stored = replace(reservation, id=int(new_id), updated_at=now)
            else:
                conn.execute(
                    update(RESERVATION).where(RESERVATION.c.id == existing).values(**values)
                )
                stored = replace(reservation, id=int(existing), updated_at=now)
            still_open = conn.execute(
                select(exists().where(*_untaken(PendingKind.RESERVATION, stored.id)))
            ).scalar()
            pending = None if opens is None or still_open else opens(stored)
            if pending is not None:
                self.hints.pending_opened(pending.charger_id)
                open_pending(conn, pending)
        return stored

    def find_reservation(
        self, country_code: str, party_id: str, reservation_id: str
    ) -> Reservation | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(RESERVATION)
                .where(
                    RESERVATION.c.country_code == country_code.upper(),
                    RESERVATION.c.party_id == party_id.upper(),
                    RESERVATION.c.reservation_key == reservation_id.upper(),
                    RESERVATION.c.state.in_(_HOLDING),
                )
                .order_by(RESERVATION.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else _reservation(row)

    def set_reservation_state(
        self, reservation: int, state: ReservationState, *, now: datetime
    ) -> None:
        with self.hints.writing(), begin(self._engine) as conn:
            if state.holds:
                self.hints.may_hold()
            conn.execute(
                update(RESERVATION)
                .where(RESERVATION.c.id == reservation)
                .values(state=state.value, updated_at=now)
            )
            session = _RESERVATION_SESSION.get(state)
            if session is not None:
                move_pending(conn, PendingKind.RESERVATION, reservation, session, now)

    def held_reservations(self) -> list[Reservation]:
        if self.hints.none_held():
            return []
        # Under the lock no reservation is being written, so "none" is the truth.
        with self.hints.lock, self._engine.connect() as conn:
            rows = conn.execute(
                select(RESERVATION)
                .where(RESERVATION.c.state.in_(_HOLDING))
                .order_by(RESERVATION.c.id)
            ).all()
            self.hints.held_seen(bool(rows))
        return [_reservation(row) for row in rows]

    # --- session links --------------------------------------------------------------------

    def link(self, link: SessionLink) -> bool:
        values = {
            "charger_id": link.charger_id,
            "tx_id": link.tx_id,
            "session_id": link.session_id,
            "partner": link.partner,
            "token": _token_out(link.token),
            "authorization_reference": link.authorization_reference,
            "command_id": link.command_id,
            "reservation_id": link.reservation_id,
            "linked_at": link.linked_at,
        }
        try:
            with begin(self._engine) as conn:
                conn.execute(insert(LINK).values(**values))
        except IntegrityError:
            return False
        return True

    def link_for(self, charger_id: str, tx_id: str) -> SessionLink | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(LINK).where(LINK.c.charger_id == charger_id, LINK.c.tx_id == tx_id)
            ).first()
        return None if row is None else _link(row)

    def link_of_command(self, command_id: int) -> SessionLink | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(LINK).where(LINK.c.command_id == command_id)).first()
        return None if row is None else _link(row)


class MemoryCommands:
    """``RemoteStore`` in dictionaries, with the SQL store's rules."""

    def __init__(self) -> None:
        self.commands: dict[int, RemoteCommand] = {}
        self.reservations: dict[int, Reservation] = {}
        self.links: dict[tuple[str, str], SessionLink] = {}

    def record(self, command: RemoteCommand, *, opens: Opener | None = None) -> RemoteCommand:
        stored = replace(command, id=len(self.commands) + 1)
        self.commands[stored.id] = stored
        return stored

    def end_pending(self, kind: PendingKind, source_id: int, *, now: datetime) -> bool:
        return False

    def expire_pending(self, started_before: datetime, *, now: datetime) -> int:
        return 0

    def pending_of_source(self, kind: PendingKind, source_id: int) -> list[PendingSession]:
        return []

    def sealed_session_ids(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return {}

    def settle(
        self,
        command_id: int,
        result: Mapping[str, Any],
        *,
        outcome: str,
        now: datetime,
        tx_id: str | None = None,
    ) -> bool:
        c = self.commands.get(command_id)
        if c is None or c.state is not RemoteState.PENDING:
            return False
        self.commands[command_id] = replace(
            c,
            state=RemoteState.ANSWERED,
            result=dict(result),
            outcome=outcome,
            finished_at=now,
            tx_id=c.tx_id if tx_id is None else tx_id,
        )
        return True

    def finish(self, command_id: int, *, state: RemoteState, attempts: int, now: datetime) -> None:
        c = self.commands.get(command_id)
        if c is not None:
            self.commands[command_id] = replace(c, state=state, attempts=attempts, finished_at=now)

    def command(self, command_id: int) -> RemoteCommand | None:
        return self.commands.get(command_id)

    def unfinished(self) -> list[RemoteCommand]:
        return [c for c in self.commands.values() if c.state.open]

    def received_since(self, since: datetime) -> list[RemoteCommand]:
        return [c for c in self.commands.values() if c.received_at >= since]

    def for_session(self, session_id: str) -> list[RemoteCommand]:
        return [c for c in self.commands.values() if c.session_id == session_id]

    def with_token(self, partner: str, presented: str) -> list[RemoteCommand]:
        found = [
            c
            for c in self.commands.values()
            if c.partner == partner and token_key_of(c) == token_key(presented)
        ]
        return found[::-1][:50]

    def reserve(self, reservation: Reservation, *, opens: Opener | None = None) -> Reservation:
        now = reservation.updated_at or reservation.received_at
        for existing in self.reservations.values():
            if (
                existing.country_code == reservation.country_code
                and existing.party_id == reservation.party_id
                and existing.reservation_id.upper() == reservation.reservation_id.upper()
                and existing.location_id.upper() == reservation.location_id.upper()
            ):
                stored = replace(reservation, id=existing.id, updated_at=now)
                break
        else:
            stored = replace(reservation, id=len(self.reservations) + 1, updated_at=now)
        self.reservations[stored.id] = stored
        return stored

    def find_reservation(
        self, country_code: str, party_id: str, reservation_id: str
    ) -> Reservation | None:
        found = [
            r
            for r in self.reservations.values()
            if r.country_code == country_code.upper()
            and r.party_id == party_id.upper()
            and r.reservation_id.upper() == reservation_id.upper()
            and r.state.holds
        ]
        return max(found, key=lambda r: r.id, default=None)

    def set_reservation_state(
        self, reservation: int, state: ReservationState, *, now: datetime
    ) -> None:
        r = self.reservations.get(reservation)
        if r is not None:
            self.reservations[reservation] = replace(r, state=state, updated_at=now)

    def held_reservations(self) -> list[Reservation]:
        return [r for r in self.reservations.values() if r.state.holds]

    def link(self, link: SessionLink) -> bool:
        key = (link.charger_id, link.tx_id)
        if key in self.links:
            return False
        self.links[key] = link
        return True

    def link_for(self, charger_id: str, tx_id: str) -> SessionLink | None:
        return self.links.get((charger_id, tx_id))

    def link_of_command(self, command_id: int) -> SessionLink | None:
        return next((k for k in self.links.values() if k.command_id == command_id), None)


def token_key_of(command: RemoteCommand) -> str | None:
    return None if command.token is None else token_key(command.token.uid)
