"""Adapter: the delivery side of the store: seals, CDRs, push queues and ledger, snapshots.

Writes that belong to a charger's state change (the seal at a transaction's start, the
session outbox row on every change, the CDR at its end) run inside ``SqlStore.commit``'s
transaction, through ``on_transaction``: the state change and what must be delivered
about it are durable together (DESIGN.md §2.3). Everything else is one transaction per
method, called by the pusher and the OCPI endpoints (from a worker thread).

The outbox says *what changed*; ``fan_out`` turns each row into one push row per partner
that must hear of it (coalesced: one row per partner and object) and deletes the outbox
row, unless the object changed again meanwhile. A push row keeps what the partner was
last sent (the ledger), so an older state is never sent after a newer one and a state is
not sent twice.

A transaction that answers a partner's START_SESSION or reservation takes that pending
session when it is sealed (``Sealer.claim`` chooses, ``take_pending`` takes it in the
same commit): the seal gets the pending session's id, and the partners' ledger of the
pending session is copied to the transaction's Session, so the next push is a PATCH of
what changed (status, kwh, ...). Pending sessions no transaction took are served and
pushed as themselves (object id ``pending:<row id>``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from gateway.config import Settings
from gateway.domain.billing import CdrPush, StoredCdr, Unbilled
from gateway.domain.delivery import (
    PENDING_WINDOW,
    Backlog,
    CdrRecord,
    Claim,
    ConfigSnapshot,
    LedgerEntry,
    OutboxItem,
    Owner,
    PendingSession,
    PushItem,
    PushKind,
    PushOutcome,
    Seal,
    Sent,
    SessionRecord,
)
from gateway.domain.meter import MeterSample
from gateway.domain.remote import RemoteCommand, Reservation
from gateway.domain.state import PublishedEvse
from gateway.domain.status import EvseStatus
from gateway.domain.transactions import Transaction, TransactionStatus
from gateway.storage import codec
from gateway.storage.commands import (
    PENDING,
    claim_candidates,
    free_session_id,
    hints_for,
    pending_key,
    pending_of,
    pending_row_of,
    take_pending,
)
from gateway.storage.delivery_tables import (
    CdrRow,
    ConfigSnapshotRow,
    PushPartnerRow,
    PushRow,
    TxSealRow,
)
from gateway.storage.tables import (
    ConfigRow,
    EvseRow,
    MeterSampleRow,
    NoteRow,
    OutboxRow,
    TransactionRow,
    UtcDateTime,
)
from gateway.storage.writes import begin, write_lock

log = logging.getLogger(__name__)


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)  # noqa: S101 - SQLModel always sets a Table here
    return table


SEAL = _table(TxSealRow)
CDR = _table(CdrRow)
PUSH = _table(PushRow)
PUSH_PARTNER = _table(PushPartnerRow)
SNAPSHOT = _table(ConfigSnapshotRow)
TABLES = (SEAL, CDR, PUSH, PUSH_PARTNER, SNAPSHOT)

_TX = _table(TransactionRow)
_SAMPLE = _table(MeterSampleRow)
_NOTE = _table(NoteRow)
_OUTBOX = _table(OutboxRow)
_EVSE = _table(EvseRow)
_CONFIG = _table(ConfigRow)

#: The stored fingerprint of an object the configuration no longer lists.
REMOVED = "removed"

_NOBODY = "null"  # the token column when the token is known to belong to no partner


class Sealer(Protocol):
    """Builds seals and CDRs; implemented by the OCPI side, called inside the commit."""

    def seal(self, tx: Transaction) -> Seal:
        """What applies to ``tx`` now (its start): site, tariff, token identity."""
        ...

    def cdr(self, tx: Transaction, seal: Seal, *, at: datetime) -> CdrRecord | None:
        """The CDR of an ended transaction (``None`` when no partner is to be billed)."""
        ...

    def claim(
        self, tx: Transaction, starts: Sequence[RemoteCommand], reservations: Sequence[Reservation]
    ) -> Claim | None:
        """Which open START_SESSION or reservation (if any) a new transaction answers."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigObject:
    """A published object's configuration for ``reconcile``: fingerprint, parent, document."""

    fingerprint: str
    doc: str
    parent: str | None = None


class SqlDelivery:
    """Delivery state on the gateway's engine (see the module docstring)."""

    def __init__(self, engine: Engine, *, plain: bool = False) -> None:
        """``plain`` (SQLite only): the commit path's own statements are plain SQL."""
        self.engine = engine
        self.sealer: Sealer | None = None
        self._hints = hints_for(engine)
        self._plain = plain
        #: Committed seals of running transactions whose token is sealed too. Such a seal
        #: row never changes again (only a seal still waiting for its token is updated,
        #: and no seal is deleted), and every change of a running transaction needs its
        #: seal: remembering it spares a query per message.
        self._sealed: dict[int, Seal] = {}
        #: Seals learnt inside the charger commit in progress (this thread's), remembered
        #: only once that commit succeeded: a rolled-back seal must be written again.
        self._staging = threading.local()
        #: The charger commits' own connection, kept between commits: checking one out of
        #: the pool and returning it (with its reset) costs more CPU than a small commit.
        self._committer: Connection | None = None

    def close(self) -> None:
        """Give back the charger commits' connection (before the engine is disposed)."""
        committer, self._committer = self._committer, None
        if committer is not None:
            committer.close()

    def begin(self) -> AbstractContextManager[Connection]:
        """A write transaction, queued in-process behind the other writers (SQLite)."""
        return begin(self.engine)

    @contextmanager
    def charger_commit(self) -> Iterator[Connection]:
        """``begin`` for ``SqlStore.commit``: the seals it learns are kept once it committed."""
        staged: dict[int, Seal] = {}
        self._staging.seals = staged
        try:
            with write_lock(self.engine):
                if self._committer is None:
                    self._committer = self.engine.connect()
                conn = self._committer
                try:
                    with conn.begin():
                        yield conn
                except BaseException:
                    # The connection may be what failed (a lost PostgreSQL session, an I/O
                    # error): the next commit, such as the retry of each change alone,
                    # starts on a fresh one.
                    self.close()
                    raise
        finally:
            self._staging.seals = None
        self._sealed.update(staged)

    # --- dialect helpers ---------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _upsert_outbox(
        self, conn: Connection, kind: PushKind, object_id: str, at: datetime
    ) -> None:
        if self._plain:
            _driver_execute(conn, _UPSERT_OUTBOX, (kind.value, object_id, codec.utc_text(at)))
            return
        stmt = self._insert(_OUTBOX)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "object_id"], set_={"changed_at": stmt.excluded.changed_at}
        )
        conn.execute(stmt, {"kind": kind.value, "object_id": object_id, "changed_at": at})

    def _note(self, conn: Connection, charger_id: str, at: datetime, kind: str, text: str) -> None:
        conn.execute(
            _NOTE.insert(),
            {"charger_id": charger_id, "at": at, "kind": kind[:32], "text": text, "doc": "{}"},
        )

    # --- inside the charger's commit ---------------------------------------------------

    def on_transaction(self, conn: Connection, row_id: int, tx: Transaction, at: datetime) -> None:
        """Seal a new transaction, queue its Session, and create its CDR when it ended."""
        seal = self._sealed.get(row_id)
        if seal is not None and tx.status is TransactionStatus.ACTIVE:
            # Nearly every call: a running transaction, sealed with its token long ago.
            if seal.owner is not None and seal.site is not None:
                self._upsert_outbox(conn, PushKind.SESSION, str(row_id), at)
            return
        staged: dict[int, Seal] | None = getattr(self._staging, "seals", None)
        if seal is None and staged is not None:
            seal = staged.get(row_id)
        if seal is None:
            seal, final = self._seal_and_tell(conn, row_id, tx, at)
            if final and seal is not None and staged is not None:
                staged[row_id] = seal
        if tx.ended:  # nothing changes an ended transaction again
            self._sealed.pop(row_id, None)
            if staged is not None:
                staged.pop(row_id, None)
        if seal is None:
            if tx.ended:
                self._upsert_outbox(conn, PushKind.CDR_BUILD, str(row_id), at)
            return
        if seal.owner is not None and seal.site is not None:
            self._upsert_outbox(conn, PushKind.SESSION, str(row_id), at)
        if tx.ended:
            self._create_cdr(conn, row_id, tx, seal, at)

    def _seal_for(
        self, conn: Connection, row_id: int, tx: Transaction, at: datetime
    ) -> Seal | None:
        return self._seal_and_tell(conn, row_id, tx, at)[0]

    def _seal_and_tell(
        self, conn: Connection, row_id: int, tx: Transaction, at: datetime
    ) -> tuple[Seal | None, bool]:
        """The seal of ``tx``, sealed now if it must be; and whether its row is final.

        Final: the token is sealed too, so the row will never change again.
        """
        found = self._find_seal(conn, row_id)
        stored = None if found is None else _seal(found)
        token_known = found is not None and found.token is not None
        if stored is not None and (token_known or tx.token is None):
            return stored, token_known
        if self.sealer is None:
            return stored, False
        try:
            fresh = self.sealer.seal(tx)
        except Exception:
            log.exception("cannot seal transaction %s/%s", tx.charger_id, tx.tx_id)
            self._note(conn, tx.charger_id, at, "delivery:seal_failed", f"transaction {tx.tx_id}")
            return stored, False
        token = fresh.token if tx.token is not None else None
        owner = fresh.owner if tx.token is not None else None
        if stored is not None:
            # The token arrived after the start (2.0.1 events out of order): only the token
            # is sealed now; where and at what price stay as they were at the start.
            conn.execute(
                update(SEAL)
                .where(SEAL.c.tx_row == row_id)
                .values(
                    token=token or _NOBODY,
                    owner_country=None if owner is None else owner[0],
                    owner_party=None if owner is None else owner[1],
                )
            )
            return replace(stored, token=token, owner=owner), True
        session_id = self._session_id_for(conn, row_id, tx, fresh, at)
        values = {
            "tx_row": row_id,
            "session_id": session_id,
            "site": fresh.site,
            "token": None if tx.token is None else (token or _NOBODY),
            "owner_country": None if owner is None else owner[0],
            "owner_party": None if owner is None else owner[1],
            "sealed_at": at,
        }
        if self._plain:
            _driver_execute(conn, _INSERT_SEAL, (*list(values.values())[:-1], codec.utc_text(at)))
        else:
            conn.execute(SEAL.insert(), values)
        if fresh.problem:
            self._note(conn, tx.charger_id, at, "delivery:unsealed", fresh.problem)
        sealed = replace(fresh, session_id=session_id, token=token, owner=owner)
        return sealed, tx.token is not None

    def _session_id_for(
        self, conn: Connection, row_id: int, tx: Transaction, fresh: Seal, at: datetime
    ) -> str:
        """The pending session's id when ``tx`` takes one; else its own (made unique)."""
        claim = self._claim(conn, tx)
        taken = None if claim is None else take_pending(conn, claim, row_id, at)
        if taken is None:
            return free_session_id(conn, fresh.session_id, plain=self._plain)
        self._inherit_ledger(conn, row_id)
        return taken

    def _claim(self, conn: Connection, tx: Transaction) -> Claim | None:
        if self.sealer is None or self._hints.no_pending_at(conn, tx.charger_id):
            return None
        starts, reservations = claim_candidates(
            conn, tx.charger_id, tx.received_at - PENDING_WINDOW
        )
        if not starts and not reservations:
            self._hints.pending_seen(conn, tx.charger_id)
            return None
        try:
            return self.sealer.claim(tx, starts, reservations)
        except Exception:  # the charge is recorded regardless; its Session gets its own id
            log.exception("cannot match transaction %s/%s", tx.charger_id, tx.tx_id)
            return None

    def _find_seal(self, conn: Connection, row_id: int) -> Any:
        if not self._plain:
            return conn.execute(select(SEAL).where(SEAL.c.tx_row == row_id)).first()
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            row = cur.execute(_FIND_SEAL, (row_id,)).fetchone()
        finally:
            cur.close()
        return None if row is None else _SealColumns(*row)

    def _inherit_ledger(self, conn: Connection, row_id: int) -> None:
        """Partners hold the pending session already: the transaction's Session PATCHes it."""
        taken = conn.execute(
            select(PENDING.c.id).where(PENDING.c.tx_row == row_id)
        ).scalar_one_or_none()
        if taken is None:
            return
        held = conn.execute(
            select(PUSH).where(
                PUSH.c.kind == PushKind.SESSION.value,
                PUSH.c.object_id == pending_key(int(taken)),
                PUSH.c.sent_doc.is_not(None),
            )
        ).all()
        if not held:
            return
        stmt = self._insert(PUSH).on_conflict_do_nothing()
        conn.execute(
            stmt,
            [
                {
                    "partner_id": r.partner_id,
                    "kind": PushKind.SESSION.value,
                    "object_id": str(row_id),
                    "due": False,
                    "seq": 0,
                    "attempts": 0,
                    "acked": False,
                    "sent_last_updated": r.sent_last_updated,
                    "sent_digest": r.sent_digest,
                    "sent_doc": r.sent_doc,
                    "sent_at": r.sent_at,
                }
                for r in held
            ],
        )

    def _create_cdr(
        self, conn: Connection, row_id: int, tx: Transaction, seal: Seal, at: datetime
    ) -> None:
        if self.sealer is None or seal.site is None or seal.owner is None:
            return
        try:
            record = self.sealer.cdr(tx, seal, at=at)
        except Exception:
            log.exception("cannot build the CDR of %s/%s", tx.charger_id, tx.tx_id)
            self._note(conn, tx.charger_id, at, "delivery:cdr_failed", f"transaction {tx.tx_id}")
            self._upsert_outbox(conn, PushKind.CDR_BUILD, str(row_id), at)
            return
        if record is not None:
            self._insert_cdr(conn, replace(record, tx_row=row_id))

    def _insert_cdr(self, conn: Connection, record: CdrRecord) -> bool:
        stmt = self._insert(CDR).on_conflict_do_nothing()
        inserted = conn.execute(
            stmt,
            {
                "cdr_id": record.cdr_id,
                "tx_row": record.tx_row,
                "credit_of": record.credit_of,
                "owner_country": record.owner[0],
                "owner_party": record.owner[1],
                "created_at": record.created_at,
                "doc": record.doc,
            },
        ).rowcount
        if inserted:
            self._upsert_outbox(conn, PushKind.CDR, record.cdr_id, record.created_at)
        return bool(inserted)

    def build_cdr(self, row_id: int, *, at: datetime) -> bool:
        """Build a CDR the stop could not (a seal or builder failure); True if one exists."""
        with self.begin() as conn:
            if conn.execute(select(CDR.c.id).where(CDR.c.tx_row == row_id)).first():
                conn.execute(
                    delete(_OUTBOX).where(
                        _OUTBOX.c.kind == PushKind.CDR_BUILD.value,
                        _OUTBOX.c.object_id == str(row_id),
                    )
                )
                return True
            record = self._session(conn, row_id)
            if record is None or not record.transaction.ended:
                return False
            tx = record.transaction
            seal = self._seal_for(conn, row_id, tx, at)
            if seal is None or self.sealer is None or seal.site is None or seal.owner is None:
                conn.execute(
                    delete(_OUTBOX).where(
                        _OUTBOX.c.kind == PushKind.CDR_BUILD.value,
                        _OUTBOX.c.object_id == str(row_id),
                    )
                )
                return False
            built = self.sealer.cdr(tx, seal, at=record.updated_at)
            if built is None:
                return False
            self._insert_cdr(conn, replace(built, tx_row=row_id))
            conn.execute(
                delete(_OUTBOX).where(
                    _OUTBOX.c.kind == PushKind.CDR_BUILD.value,
                    _OUTBOX.c.object_id == str(row_id),
                )
            )
            return True

    def add_cdr(self, record: CdrRecord) -> bool:
        """Store a CDR made outside a stop (a credit CDR) and queue it; False if it exists."""
        with self.begin() as conn:
            return self._insert_cdr(conn, record)

    # --- configuration -----------------------------------------------------------------

    def reconcile(
        self, conn: Connection, objects: Mapping[str, ConfigObject], now: datetime
    ) -> dict[str, datetime]:
        """Record configuration changes and removals; queue what partners must be sent.

        Returns when each object (configured or removed) last changed. A changed
        Location or EVSE queues its Location (PUT whole), a changed Tariff itself; an EVSE
        that left the file becomes REMOVED and its Location is queued; a Tariff that left
        is queued for deletion at the partners.
        """
        stored = {
            r.key: (r.fingerprint, r.changed_at)
            for r in conn.execute(
                select(_CONFIG.c.key, _CONFIG.c.fingerprint, _CONFIG.c.changed_at)
            )
        }
        snapshots = {s.key: s for s in self._snapshots(conn)}
        result: dict[str, datetime] = {}
        for key, obj in objects.items():
            before = stored.get(key)
            snap = snapshots.get(key)
            if before is not None and before[0] == obj.fingerprint:
                result[key] = before[1]
                if snap is None:  # a database from before snapshots: keep one from now on
                    self._snapshot(conn, key, obj, before[1])
                continue
            self._set_config(conn, key, obj.fingerprint, now)
            self._snapshot(conn, key, obj, now)
            self._queue_config(conn, key, obj.parent, now)
            result[key] = now
        for key, (fingerprint, changed_at) in stored.items():
            if key in objects:
                continue
            snap = snapshots.get(key)
            if fingerprint != REMOVED:
                if snap is None:
                    log.warning("%s left the configuration before it was kept; not served", key)
                    continue
                self._set_config(conn, key, REMOVED, now)
                conn.execute(update(SNAPSHOT).where(SNAPSHOT.c.key == key).values(removed_at=now))
                self._queue_config(conn, key, snap.parent, now)
                if key.startswith("evse:"):
                    self._remove_evse(conn, key.removeprefix("evse:"), snap.parent or "", now)
                changed_at = now
            result[key] = changed_at
        return result

    def _set_config(self, conn: Connection, key: str, fingerprint: str, now: datetime) -> None:
        stmt = self._insert(_CONFIG)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"fingerprint": stmt.excluded.fingerprint, "changed_at": stmt.excluded.changed_at},
        )
        conn.execute(stmt, {"key": key, "fingerprint": fingerprint, "changed_at": now})

    def _snapshot(self, conn: Connection, key: str, obj: ConfigObject, at: datetime) -> None:
        stmt = self._insert(SNAPSHOT)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "parent": stmt.excluded.parent,
                "doc": stmt.excluded.doc,
                "changed_at": stmt.excluded.changed_at,
                "removed_at": None,
            },
        )
        conn.execute(stmt, {"key": key, "parent": obj.parent, "doc": obj.doc, "changed_at": at})

    def _queue_config(self, conn: Connection, key: str, parent: str | None, now: datetime) -> None:
        kind, _, ident = key.partition(":")
        if kind == "location":
            self._upsert_outbox(conn, PushKind.LOCATION, ident, now)
        elif kind == "evse" and parent:
            self._upsert_outbox(conn, PushKind.LOCATION, parent, now)
        elif kind == "tariff":
            self._upsert_outbox(conn, PushKind.TARIFF, ident, now)

    def _remove_evse(self, conn: Connection, uid: str, location_id: str, now: datetime) -> None:
        stmt = self._insert(_EVSE)
        stmt = stmt.on_conflict_do_update(
            index_elements=["uid"],
            set_={"status": stmt.excluded.status, "last_updated": stmt.excluded.last_updated},
        )
        conn.execute(
            stmt,
            {
                "uid": uid,
                "location_id": location_id,
                "status": EvseStatus.REMOVED.value,
                "last_updated": now,
            },
        )

    def snapshots(self) -> list[ConfigSnapshot]:
        with self.engine.connect() as conn:
            return self._snapshots(conn)

    def _snapshots(self, conn: Connection) -> list[ConfigSnapshot]:
        rows = conn.execute(select(SNAPSHOT).order_by(SNAPSHOT.c.key)).all()
        return [
            ConfigSnapshot(
                key=r.key,
                parent=r.parent,
                doc=r.doc,
                changed_at=r.changed_at,
                removed_at=r.removed_at,
            )
            for r in rows
        ]

    # --- reading objects ---------------------------------------------------------------

    def evse_statuses(self, uids: Iterable[str]) -> dict[str, PublishedEvse]:
        wanted = list(set(uids))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_EVSE.c.uid, _EVSE.c.status, _EVSE.c.last_updated).where(
                    _EVSE.c.uid.in_(wanted)
                )
            ).all()
        return {
            r.uid: PublishedEvse(status=EvseStatus(r.status), last_updated=r.last_updated)
            for r in rows
        }

    def session(self, row_id: int) -> SessionRecord | None:
        with self.engine.connect() as conn:
            return self._session(conn, row_id)

    def session_object(self, object_id: str) -> SessionRecord | PendingSession | None:
        """The Session a push object id names: a transaction's, or a pending session."""
        pending = pending_row_of(object_id)
        with self.engine.connect() as conn:
            if pending is None:
                return self._session(conn, int(object_id))
            row = conn.execute(select(PENDING).where(PENDING.c.id == pending)).first()
        return None if row is None else pending_of(row)

    def _session(self, conn: Connection, row_id: int) -> SessionRecord | None:
        row = conn.execute(
            select(_TX.c.id, _TX.c.doc, _TX.c.updated_at, SEAL)
            .join(SEAL, SEAL.c.tx_row == _TX.c.id)
            .where(_TX.c.id == row_id)
        ).first()
        return None if row is None else self._record(conn, row)

    def _record(self, conn: Connection, row: Any) -> SessionRecord:
        tx = codec.transaction_in(json.loads(row.doc))
        samples = _samples(conn, tx.charger_id, tx.tx_id)
        return SessionRecord(
            row_id=row.id,
            transaction=replace(tx, samples=samples),
            updated_at=row.updated_at,
            seal=_seal(row),
        )

    def sessions(
        self,
        *,
        owners: Collection[Owner],
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[SessionRecord]]:
        """A page of the transactions' Sessions ``owners`` may see, and how many match."""
        total, records = self._sessions(owners, date_from, date_to, offset, limit, pending=False)
        return total, [r for r in records if isinstance(r, SessionRecord)]

    def all_sessions(
        self,
        *,
        owners: Collection[Owner],
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[SessionRecord | PendingSession]]:
        """A page of every Session ``owners`` may see, pending ones included."""
        return self._sessions(owners, date_from, date_to, offset, limit, pending=True)

    def _sessions(
        self,
        owners: Collection[Owner],
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
        *,
        pending: bool,
    ) -> tuple[int, list[SessionRecord | PendingSession]]:
        """A page of the sessions ``owners`` may see, and how many match.

        Transactions' Sessions first (oldest first), then the pending sessions no
        transaction took (oldest first): a taken one is served as its transaction's.
        """
        where = [
            _owned(SEAL.c.owner_country, SEAL.c.owner_party, owners),
            SEAL.c.site.is_not(None),
            *_window(_TX.c.updated_at, date_from, date_to),
        ]
        pending_where = [
            _owned(PENDING.c.owner_country, PENDING.c.owner_party, owners),
            PENDING.c.tx_row.is_(None),
            *_window(PENDING.c.updated_at, date_from, date_to),
        ]
        joined = _TX.join(SEAL, SEAL.c.tx_row == _TX.c.id)
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(joined).where(*where)
            ).scalar_one()
            pending_total = (
                conn.execute(
                    select(func.count()).select_from(PENDING).where(*pending_where)
                ).scalar_one()
                if pending
                else 0
            )
            rows = conn.execute(
                select(_TX.c.id, _TX.c.doc, _TX.c.updated_at, SEAL)
                .select_from(joined)
                .where(*where)
                .order_by(_TX.c.id)
                .offset(offset)
                .limit(limit)
            ).all()
            records: list[SessionRecord | PendingSession] = [self._record(conn, r) for r in rows]
            room = limit - len(records)
            if pending and room > 0:
                opened = conn.execute(
                    select(PENDING)
                    .where(*pending_where)
                    .order_by(PENDING.c.id)
                    .offset(max(0, offset - int(total)))
                    .limit(room)
                ).all()
                records += [pending_of(r) for r in opened]
            return int(total) + int(pending_total), records

    def cdr(self, cdr_id: str) -> CdrRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(CDR).where(CDR.c.cdr_id == cdr_id)).first()
        return None if row is None else _cdr(row)

    def cdrs(
        self,
        *,
        owners: Collection[Owner],
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[CdrRecord]]:
        """A page of the CDRs ``owners`` may see, oldest first, and how many match."""
        where = [
            _owned(CDR.c.owner_country, CDR.c.owner_party, owners),
            *_window(CDR.c.created_at, date_from, date_to),
        ]
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(CDR).where(*where)).scalar_one()
            rows = conn.execute(
                select(CDR).where(*where).order_by(CDR.c.id).offset(offset).limit(limit)
            ).all()
        return int(total), [_cdr(r) for r in rows]

    # --- the outbox and the push queues ------------------------------------------------

    def take_outbox(self, limit: int) -> list[OutboxItem]:
        """The oldest outbox rows, with the owner of each session and CDR."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_OUTBOX.c.id, _OUTBOX.c.kind, _OUTBOX.c.object_id, _OUTBOX.c.changed_at)
                .order_by(_OUTBOX.c.id)
                .limit(limit)
            ).all()
            sessions = [
                int(r.object_id)
                for r in rows
                if r.kind == PushKind.SESSION.value and pending_row_of(r.object_id) is None
            ]
            pendings = [
                row
                for r in rows
                if r.kind == PushKind.SESSION.value
                and (row := pending_row_of(r.object_id)) is not None
            ]
            cdrs = [r.object_id for r in rows if r.kind == PushKind.CDR.value]
            owners: dict[tuple[str, str], Owner] = {}
            if sessions:
                for s in conn.execute(
                    select(SEAL.c.tx_row, SEAL.c.owner_country, SEAL.c.owner_party).where(
                        SEAL.c.tx_row.in_(sessions)
                    )
                ):
                    if s.owner_country is not None:
                        owners[(PushKind.SESSION.value, str(s.tx_row))] = (
                            s.owner_country,
                            s.owner_party,
                        )
            if pendings:
                for p in conn.execute(
                    select(PENDING.c.id, PENDING.c.owner_country, PENDING.c.owner_party).where(
                        PENDING.c.id.in_(pendings)
                    )
                ):
                    owners[(PushKind.SESSION.value, pending_key(p.id))] = (
                        p.owner_country,
                        p.owner_party,
                    )
            if cdrs:
                for c in conn.execute(
                    select(CDR.c.cdr_id, CDR.c.owner_country, CDR.c.owner_party).where(
                        CDR.c.cdr_id.in_(cdrs)
                    )
                ):
                    owners[(PushKind.CDR.value, c.cdr_id)] = (c.owner_country, c.owner_party)
        items = []
        for r in rows:
            try:
                kind = PushKind(r.kind)
            except ValueError:
                kind = None
            if kind is None:
                continue  # rows of kinds this release does not push stay for whoever does
            items.append(
                OutboxItem(
                    id=r.id,
                    kind=kind,
                    object_id=r.object_id,
                    changed_at=r.changed_at,
                    owner=owners.get((r.kind, r.object_id)),
                )
            )
        return items

    def fan_out(
        self,
        routes: Sequence[tuple[OutboxItem, Sequence[int]]],
        *,
        now: datetime,
        initial: Mapping[int, Sequence[tuple[PushKind, str]]] = {},
        partners: Collection[int] | None = None,
    ) -> None:
        """In one transaction: queue each item for its partners and drop its outbox row.

        A queued object is due since its change (the outbox row's time) unless it was due
        already. An outbox row whose object changed again since it was read stays (its new
        change is queued next time). ``initial``: partners seen for the first time, with
        every object they must be sent (due since ``now``). ``partners``: when given, push
        rows of any other partner (one that was removed) are dropped.
        """
        queued = [
            self._queue_row(pid, item.kind, item.object_id, item.changed_at)
            for item, partner_ids in routes
            for pid in partner_ids
        ]
        queued += [
            self._queue_row(pid, kind, object_id, now)
            for pid, objects in initial.items()
            for kind, object_id in objects
        ]
        taken = [{"b_id": item.id, "b_at": item.changed_at} for item, _ in routes]
        with self.begin() as conn:
            if queued:
                conn.execute(self._queue_statement(), queued)
            if taken:
                conn.execute(
                    delete(_OUTBOX).where(
                        _OUTBOX.c.id == bindparam("b_id"),
                        _OUTBOX.c.changed_at == bindparam("b_at"),
                    ),
                    taken,
                )
            if initial:
                conn.execute(
                    self._insert(PUSH_PARTNER).on_conflict_do_nothing(),
                    [{"partner_id": pid, "synced_at": now} for pid in initial],
                )
            if partners is not None:
                known = list(partners)
                conn.execute(delete(PUSH).where(PUSH.c.partner_id.not_in(known)))
                conn.execute(delete(PUSH_PARTNER).where(PUSH_PARTNER.c.partner_id.not_in(known)))

    def _queue_statement(self) -> Any:
        stmt = self._insert(PUSH)
        return stmt.on_conflict_do_update(
            index_elements=["partner_id", "kind", "object_id"],
            set_={
                "due": true(),
                "seq": PUSH.c.seq + 1,
                # The backlog's age is the age of the oldest change not yet delivered.
                "due_since": func.coalesce(PUSH.c.due_since, stmt.excluded.due_since),
                "attempts": 0,
                "next_attempt_at": None,
            },
        )

    @staticmethod
    def _queue_row(
        partner_id: int, kind: PushKind, object_id: str, now: datetime
    ) -> dict[str, Any]:
        return {
            "partner_id": partner_id,
            "kind": kind.value,
            "object_id": object_id,
            "due": True,
            "due_since": now,
            "seq": 1,
            "attempts": 0,
            "acked": False,
        }

    def synced_partners(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(PUSH_PARTNER.c.partner_id)).scalars())

    def due(
        self,
        partner_id: int,
        *,
        now: datetime,
        limit: int,
        kind: PushKind | None = None,
        among: Collection[str] | None = None,
    ) -> list[PushItem]:
        """A partner's due objects, oldest change first, except those waiting for a retry.

        ``kind`` and ``among`` narrow it to objects of one kind with these ids.
        """
        where = [
            PUSH.c.partner_id == partner_id,
            PUSH.c.due == true(),
            or_(PUSH.c.next_attempt_at.is_(None), PUSH.c.next_attempt_at <= now),
        ]
        if kind is not None:
            where.append(PUSH.c.kind == kind.value)
        if among is not None:
            where.append(PUSH.c.object_id.in_(list(among)))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(PUSH).where(*where).order_by(PUSH.c.due_since, PUSH.c.id).limit(limit)
            ).all()
        return [
            PushItem(
                partner_id=r.partner_id,
                kind=PushKind(r.kind),
                object_id=r.object_id,
                seq=r.seq,
                attempts=r.attempts,
                due_since=r.due_since or now,
                sent=Sent(
                    last_updated=r.sent_last_updated,
                    digest=r.sent_digest,
                    doc=r.sent_doc,
                    acked=r.acked,
                ),
            )
            for r in rows
        ]

    def record(
        self,
        outcomes: Sequence[PushOutcome],
        *,
        now: datetime,
        ledger: Sequence[LedgerEntry] = (),
    ) -> None:
        """Write a round's outcomes and extra ledger entries in one transaction."""
        sent = [
            {**_key(o.partner_id, o.kind, o.object_id), **_sent_params(o.sent, now)}
            for o in outcomes
            if o.sent is not None
        ]
        done = [
            {**_key(o.partner_id, o.kind, o.object_id), "b_seq": o.seq} for o in outcomes if o.done
        ]
        failed = [
            {
                **_key(o.partner_id, o.kind, o.object_id),
                "b_retry": o.retry_at,
                "b_error": (o.error or "")[:1000],
            }
            for o in outcomes
            if not o.done
        ]
        where = (
            PUSH.c.partner_id == bindparam("b_partner"),
            PUSH.c.kind == bindparam("b_kind"),
            PUSH.c.object_id == bindparam("b_object"),
        )
        with self.begin() as conn:
            if sent:
                conn.execute(update(PUSH).where(*where).values(**_SENT_BINDS), sent)
            if done:
                conn.execute(
                    update(PUSH)
                    .where(*where, PUSH.c.seq == bindparam("b_seq"))
                    .values(
                        due=False,
                        due_since=None,
                        attempts=0,
                        next_attempt_at=None,
                        last_error=None,
                    ),
                    done,
                )
            if failed:
                conn.execute(
                    update(PUSH)
                    .where(*where)
                    .values(
                        attempts=PUSH.c.attempts + 1,
                        next_attempt_at=bindparam("b_retry", type_=UtcDateTime()),
                        last_error=bindparam("b_error"),
                    ),
                    failed,
                )
            if ledger:
                stmt = self._insert(PUSH)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["partner_id", "kind", "object_id"],
                    set_={name: stmt.excluded[name] for name in _SENT_COLUMNS},
                )
                conn.execute(
                    stmt,
                    [
                        {
                            "partner_id": e.partner_id,
                            "kind": e.kind.value,
                            "object_id": e.object_id,
                            "due": False,
                            "seq": 0,
                            "attempts": 0,
                            **_sent_values(e.sent, now),
                        }
                        for e in ledger
                    ],
                )

    def backlog(self, partners: Collection[int] | None = None) -> dict[int, Backlog]:
        """Per partner: how many objects are due, and since when the oldest waits.

        With ``partners``, one indexed count per partner instead of a scan of all rows.
        """
        found: list[tuple[int, int, object]] = []
        with self.engine.connect() as conn:
            if partners is None:
                for r in conn.execute(
                    select(PUSH.c.partner_id, func.count(), func.min(PUSH.c.due_since))
                    .where(PUSH.c.due == true())
                    .group_by(PUSH.c.partner_id)
                ):
                    found.append((int(r[0]), int(r[1]), r[2]))
            else:
                for pid in partners:
                    count, oldest = conn.execute(
                        select(func.count(), func.min(PUSH.c.due_since)).where(
                            PUSH.c.partner_id == pid, PUSH.c.due == true()
                        )
                    ).one()
                    found.append((pid, int(count), oldest))
        return {pid: Backlog(count=n, oldest=_aware(at)) for pid, n, at in found if n}

    def retry_now(self, partner_id: int) -> int:
        """Make every due object of a partner due at once; how many there are."""
        with self.begin() as conn:
            conn.execute(
                update(PUSH)
                .where(PUSH.c.partner_id == partner_id, PUSH.c.due == true())
                .values(next_attempt_at=None)
            )
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(PUSH)
                    .where(PUSH.c.partner_id == partner_id, PUSH.c.due == true())
                ).scalar_one()
            )

    def failures(self, partner_id: int) -> list[tuple[str, str, int, str]]:
        """(kind, object id, attempts, last error) of a partner's objects that failed."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(PUSH.c.kind, PUSH.c.object_id, PUSH.c.attempts, PUSH.c.last_error)
                .where(PUSH.c.partner_id == partner_id, PUSH.c.due == true(), PUSH.c.attempts > 0)
                .order_by(PUSH.c.id)
            ).all()
        return [(r.kind, r.object_id, r.attempts, r.last_error or "") for r in rows]

    def ledger(self, partner_id: int) -> dict[tuple[str, str], Sent]:
        """What a partner was last sent of every object (for tests and the operator)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(PUSH).where(PUSH.c.partner_id == partner_id)).all()
        return {
            (r.kind, r.object_id): Sent(
                last_updated=r.sent_last_updated,
                digest=r.sent_digest,
                doc=r.sent_doc,
                acked=r.acked,
            )
            for r in rows
        }

    # --- the operator's CDR page -------------------------------------------------------

    def cdr_page(
        self, *, limit: int, offset: int = 0, below: int | None = None
    ) -> tuple[int, list[StoredCdr]]:
        """CDRs newest first, with their transaction and ledger entries; how many exist.

        ``below``: only CDRs stored before the one with that ``row``, a cursor that stays
        put while new CDRs arrive (a long download pages with it, not with ``offset``).
        """
        credited = CDR.alias("credited")
        tx_row = func.coalesce(CDR.c.tx_row, credited.c.tx_row)
        query = (
            select(CDR, _TX.c.charger_id.label("tx_charger"), _TX.c.tx_id.label("tx_tx"))
            .select_from(
                CDR.outerjoin(credited, credited.c.cdr_id == CDR.c.credit_of).outerjoin(
                    _TX, _TX.c.id == tx_row
                )
            )
            .order_by(CDR.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        if below is not None:
            query = query.where(CDR.c.id < below)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(CDR)).scalar_one()
            rows = conn.execute(query).all()
            ids = [r.cdr_id for r in rows]
            pushes: dict[str, list[CdrPush]] = {}
            queued: dict[str, datetime] = {}
            if ids:
                # Partner first, so the (partner_id, kind, object_id) index serves the read.
                for p in conn.execute(
                    select(PUSH)
                    .where(
                        PUSH.c.partner_id.in_(select(PUSH_PARTNER.c.partner_id)),
                        PUSH.c.kind == PushKind.CDR.value,
                        PUSH.c.object_id.in_(ids),
                    )
                    .order_by(PUSH.c.partner_id)
                ):
                    pushes.setdefault(p.object_id, []).append(
                        CdrPush(
                            partner_id=p.partner_id,
                            acked=p.acked,
                            sent_at=p.sent_at,
                            due_since=p.due_since if p.due else None,
                            attempts=p.attempts,
                            last_error=p.last_error,
                        )
                    )
                for o in conn.execute(
                    select(_OUTBOX.c.object_id, _OUTBOX.c.changed_at).where(
                        _OUTBOX.c.kind == PushKind.CDR.value, _OUTBOX.c.object_id.in_(ids)
                    )
                ):
                    queued[o.object_id] = o.changed_at
        return int(total), [
            StoredCdr(
                row=r.id,
                record=_cdr(r),
                charger_id=r.tx_charger,
                tx_id=r.tx_tx,
                pushes=tuple(pushes.get(r.cdr_id, ())),
                queued_since=queued.get(r.cdr_id),
            )
            for r in rows
        ]

    def unbilled(
        self, *, limit: int, offset: int = 0, below: int | None = None
    ) -> tuple[int, list[Unbilled]]:
        """Finished transactions no CDR bills, newest first, with their seals; how many.

        ``below``: only transactions stored before the one with that ``row``.
        """
        joined = _TX.outerjoin(SEAL, SEAL.c.tx_row == _TX.c.id).outerjoin(
            CDR, CDR.c.tx_row == _TX.c.id
        )
        where = (_TX.c.status == TransactionStatus.COMPLETED.value, CDR.c.id.is_(None))
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(joined).where(*where)
            ).scalar_one()
            rows = conn.execute(
                select(_TX.c.id.label("tx_row_id"), _TX.c.doc, SEAL)
                .select_from(joined)
                .where(*where, *([] if below is None else [_TX.c.id < below]))
                .order_by(_TX.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return int(total), [
            Unbilled(
                row=r.tx_row_id,
                transaction=codec.transaction_in(json.loads(r.doc)),
                seal=None if r.session_id is None else _seal(r),
            )
            for r in rows
        ]


# --- helpers -----------------------------------------------------------------------------


_SENT_COLUMNS = ("sent_last_updated", "sent_digest", "sent_doc", "acked", "sent_at")
_SENT_BINDS = {
    "sent_last_updated": bindparam("b_sent_last_updated", type_=UtcDateTime()),
    "sent_digest": bindparam("b_sent_digest"),
    "sent_doc": bindparam("b_sent_doc"),
    "acked": bindparam("b_acked"),
    "sent_at": bindparam("b_sent_at", type_=UtcDateTime()),
}


def _key(partner_id: int, kind: PushKind, object_id: str) -> dict[str, Any]:
    return {"b_partner": partner_id, "b_kind": kind.value, "b_object": object_id}


def _sent_params(sent: Sent, now: datetime) -> dict[str, Any]:
    return {f"b_{k}": v for k, v in _sent_values(sent, now).items()}


def _sent_values(sent: Sent, now: datetime) -> dict[str, Any]:
    return {
        "sent_last_updated": sent.last_updated,
        "sent_digest": sent.digest,
        "sent_doc": sent.doc,
        "acked": sent.acked,
        "sent_at": now,
    }


def _seal(row: Any) -> Seal:
    owner = None if row.owner_country is None else (row.owner_country, row.owner_party)
    token = None if row.token in (None, _NOBODY) else row.token
    return Seal(session_id=row.session_id, site=row.site, token=token, owner=owner)


def _cdr(row: Any) -> CdrRecord:
    return CdrRecord(
        cdr_id=row.cdr_id,
        owner=(row.owner_country, row.owner_party),
        created_at=row.created_at,
        doc=row.doc,
        tx_row=row.tx_row,
        credit_of=row.credit_of,
    )


def _samples(conn: Connection, charger_id: str, tx_id: str) -> tuple[MeterSample, ...]:
    docs = conn.execute(
        select(_SAMPLE.c.doc)
        .where(_SAMPLE.c.charger_id == charger_id, _SAMPLE.c.tx_id == tx_id)
        .order_by(_SAMPLE.c.id)
    ).scalars()
    return tuple(codec.sample_in(json.loads(doc)) for doc in docs)


def _owned(country: Any, party: Any, owners: Collection[Owner]) -> ColumnElement[bool]:
    if not owners:
        return false()
    return or_(*(and_(country == c.upper(), party == p.upper()) for c, p in owners))


def _window(
    column: Any, date_from: datetime | None, date_to: datetime | None
) -> list[ColumnElement[bool]]:
    where = []
    if date_from is not None:
        where.append(column >= date_from)
    if date_to is not None:
        where.append(column < date_to)
    return where


def _aware(value: object) -> datetime | None:
    """``min()`` over a SQLite column bypasses the column type: make it aware UTC again."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def config_objects(settings: Settings) -> dict[str, ConfigObject]:
    """Each published object of the configuration, keyed as ``Settings.fingerprints``."""
    fingerprints = settings.fingerprints()
    objects: dict[str, ConfigObject] = {}
    for loc in settings.locations:
        key = f"location:{loc.id}"
        objects[key] = ConfigObject(
            fingerprint=fingerprints[key], doc=loc.model_dump_json(exclude={"evses"})
        )
        for evse in loc.evses:
            key = f"evse:{evse.uid}"
            objects[key] = ConfigObject(
                fingerprint=fingerprints[key], doc=evse.model_dump_json(), parent=loc.id
            )
    for tariff in settings.tariffs:
        key = f"tariff:{tariff.id}"
        objects[key] = ConfigObject(fingerprint=fingerprints[key], doc=tariff.model_dump_json())
    return objects


# --- plain SQL on the commit path (SQLite) ---------------------------------------------------


class _SealColumns(NamedTuple):
    session_id: str
    site: str | None
    token: str | None
    owner_country: str | None
    owner_party: str | None


_SEAL_COLUMNS = ("tx_row", "session_id", "site", "token", "owner_country", "owner_party")
# Built once at import from the table definitions: no value ever enters the text.
_FIND_SEAL = f'SELECT {", ".join(_SEAL_COLUMNS[1:])} FROM "{SEAL.name}" WHERE tx_row = ?'  # noqa: S608
_INSERT_SEAL = (
    f'INSERT INTO "{SEAL.name}" ({", ".join(_SEAL_COLUMNS)}, sealed_at) '  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _SEAL_COLUMNS)}, ?)"
)
_UPSERT_OUTBOX = (
    f'INSERT INTO "{_OUTBOX.name}" (kind, object_id, changed_at) VALUES (?, ?, ?) '  # noqa: S608
    "ON CONFLICT (kind, object_id) DO UPDATE SET changed_at = excluded.changed_at"
)


def _driver_execute(conn: Connection, sql: str, params: Sequence[Any]) -> None:
    """One statement on the driver's connection: the same database transaction as ``conn``."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, params)
    finally:
        cur.close()
