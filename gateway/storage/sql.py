"""Adapter: the SQL store. State and outbox rows are written in one transaction.

SQLite is the default (WAL, ``synchronous=FULL``, a busy timeout, an integrity check at
start-up); a PostgreSQL URL runs the same statements. The schema carries a version:
an older database is migrated forward at start-up, a newer one is refused.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from gateway.core.effects import (
    EvseChanged,
    NoteRecorded,
    SamplesRecorded,
    TransactionChanged,
    TransactionEventParked,
)
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import MeterProblem, MeterSample
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.status import EvseStatus
from gateway.domain.transactions import Transaction, TransactionStatus
from gateway.ports import Change
from gateway.storage import codec
from gateway.storage.codec import utc_text as utc_text, utc_text_of as utc_text_of
from gateway.storage.commands import PENDING as PENDING_SESSIONS, TABLES as COMMAND_TABLES
from gateway.storage.delivery import TABLES as DELIVERY_TABLES, ConfigObject, SqlDelivery
from gateway.storage.partners import TABLES as PARTNER_TABLES
from gateway.storage.tables import (
    SCHEMA_VERSION,
    ChargerRow,
    ConfigRow,
    EvseRow,
    MeterSampleRow,
    NoteRow,
    OutboxRow,
    ParkedEventRow,
    SchemaMeta,
    SequenceRow,
    TransactionRow,
)
from gateway.storage.tokens import TABLES as TOKEN_TABLES

log = logging.getLogger(__name__)


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)  # noqa: S101 - SQLModel always sets a Table here
    return table


CHARGER = _table(ChargerRow)
EVSE = _table(EvseRow)
OUTBOX = _table(OutboxRow)
META = _table(SchemaMeta)
CONFIG = _table(ConfigRow)
TRANSACTION = _table(TransactionRow)
SAMPLE = _table(MeterSampleRow)
PARKED = _table(ParkedEventRow)
NOTE = _table(NoteRow)
SEQUENCE = _table(SequenceRow)
ALL_TABLES = [META, CHARGER, EVSE, OUTBOX, CONFIG, TRANSACTION, SAMPLE, PARKED, NOTE, SEQUENCE]

#: A meter sample row for the plain insert: charger, transaction (or ""), time, document.
_SampleRow = tuple[str, str, str, str]

#: Transaction row ids a commit learned, by (charger, tx_id); None: the transaction ended.
_Learned = dict[tuple[str, str], int | None]

#: The OCPP 1.6 transactionId sequence; ids are positive 32-bit integers on the wire.
TX_SEQUENCE = "ocpp16_transaction"


def _v1_to_v2(conn: Connection) -> None:
    """Version 2 remembers when each configured object last changed."""
    SQLModel.metadata.create_all(conn, tables=[CONFIG])


def _v2_to_v3(conn: Connection) -> None:
    """Version 3 stores transactions, meter samples, parked events and operator notes."""
    SQLModel.metadata.create_all(conn, tables=[TRANSACTION, SAMPLE, PARKED, NOTE, SEQUENCE])


def _v3_to_v4(conn: Connection) -> None:
    """Version 4 remembers OCPI partners, the tokens they call us with, and invitations."""
    SQLModel.metadata.create_all(conn, tables=list(PARTNER_TABLES))


def _v4_to_v5(conn: Connection) -> None:
    """Version 5 keeps partners' tokens, when each was last pulled, and chargers' local lists."""
    SQLModel.metadata.create_all(conn, tables=list(TOKEN_TABLES))


def _v5_to_v6(conn: Connection) -> None:
    """Version 6 remembers partners' commands, reservations and the sessions they started."""
    SQLModel.metadata.create_all(conn, tables=list(COMMAND_TABLES))


def _v6_to_v7(conn: Connection) -> None:
    """Version 7 seals transactions, keeps CDRs, push queues and configuration snapshots."""
    SQLModel.metadata.create_all(conn, tables=list(DELIVERY_TABLES))


def _v7_to_v8(conn: Connection) -> None:
    """Version 8 keeps Sessions opened by a START_SESSION or RESERVE_NOW (PENDING)."""
    SQLModel.metadata.create_all(conn, tables=[PENDING_SESSIONS])


#: Forward migrations: ``MIGRATIONS[n]`` upgrades a version-``n`` database to ``n + 1``.
#: Each runs inside the start-up transaction, so a failed upgrade leaves the file as it was.
MIGRATIONS: Mapping[int, Callable[[Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
}


class SqlStore:
    """``StateStore`` and ``SiteView`` on SQLAlchemy Core."""

    def __init__(
        self, url: str, *, busy_timeout_ms: int = 5000, plain_sql: bool | None = None
    ) -> None:
        """Open nothing yet: ``open`` checks and migrates.

        ``plain_sql`` (default: on for SQLite) writes the commit path's statements as
        plain SQL on the driver's connection; off, SQLAlchemy builds them, as it does for
        PostgreSQL. Both write the same rows.
        """
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        use_plain = self.is_sqlite if plain_sql is None else plain_sql
        if use_plain and not self.is_sqlite:
            raise StoreError("plain SQL on the commit path is written for SQLite only")
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # One writer thread and several reader threads share the pool.
            connect_args = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        self.engine: Engine = create_engine(self.url, connect_args=connect_args)
        self._statements: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        #: Seals, CDRs and push queues; its ``sealer`` is set once the OCPI side is built.
        self.delivery = SqlDelivery(self.engine, plain=use_plain)
        self._documents = codec.DocumentCache()
        self._plain = PlainSqliteWriter(self.delivery, self._documents) if use_plain else None
        on_file = self.url.database not in (None, "", ":memory:") and (
            self.url.query.get("mode") != "memory"
        )
        self._readers = _ThreadReaders(self.engine, connect_args) if use_plain and on_file else None

    # --- lifecycle ---------------------------------------------------------------

    def open(self) -> None:
        """Check integrity and bring the schema to this code's version."""
        with self.engine.begin() as conn:
            if self.is_sqlite:
                result = conn.execute(text("PRAGMA integrity_check")).scalars().all()
                if result != ["ok"]:
                    raise StoreError(
                        f"database {self.url.database} failed its integrity check: "
                        f"{'; '.join(map(str, result[:5]))}; restore it from a backup"
                    )
            version = _schema_version(conn)
            if version is None:
                SQLModel.metadata.create_all(
                    conn,
                    tables=[
                        *ALL_TABLES,
                        *PARTNER_TABLES,
                        *TOKEN_TABLES,
                        *COMMAND_TABLES,
                        *DELIVERY_TABLES,
                    ],
                )
                _set_version(conn, SCHEMA_VERSION)
                return
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"database schema version {version} is newer than this gateway "
                    f"understands ({SCHEMA_VERSION}); run the newer gateway release or "
                    "restore a backup taken before the upgrade"
                )
            while version < SCHEMA_VERSION:
                log.info("migrating database schema from version %d", version)
                MIGRATIONS[version](conn)
                version += 1
                _set_version(conn, version)

    def close(self) -> None:
        if self._readers is not None:
            self._readers.close()
        self.delivery.close()
        self.engine.dispose()

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # --- StateStore --------------------------------------------------------------

    def load_chargers(self) -> dict[ChargerId, ChargerState]:
        """Every charger's state, with the stored samples of its open transactions."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(CHARGER.c.id, CHARGER.c.state)).all()
            open_txs = conn.execute(
                select(TRANSACTION.c.charger_id, TRANSACTION.c.tx_id).where(
                    TRANSACTION.c.status == TransactionStatus.ACTIVE.value
                )
            ).all()
            samples: dict[str, dict[str, tuple[MeterSample, ...]]] = {}
            for r in open_txs:
                samples.setdefault(r.charger_id, {})[r.tx_id] = self._samples(
                    conn, r.charger_id, r.tx_id
                )
        return {ChargerId(r.id): codec.load_state(r.id, r.state, samples.get(r.id)) for r in rows}

    def _samples(self, conn: Connection, charger_id: str, tx_id: str) -> tuple[MeterSample, ...]:
        rows = conn.execute(
            select(SAMPLE.c.doc)
            .where(SAMPLE.c.charger_id == charger_id, SAMPLE.c.tx_id == tx_id)
            .order_by(SAMPLE.c.id)
        ).scalars()
        return tuple(codec.sample_in(json.loads(doc)) for doc in rows)

    def last_transaction_id(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(SEQUENCE.c.value).where(SEQUENCE.c.name == TX_SEQUENCE)
            ).scalar()
        return 0 if value is None else int(value)

    def find_transaction(
        self, charger_id: str, *, tx_id: str | None = None, start_key: str | None = None
    ) -> Transaction | None:
        """A stored transaction by its id or by the key of the StartTransaction that began it."""
        if self._plain is not None:
            # Asked on every StartTransaction (its retry must find the first copy's id).
            if self._readers is not None:
                return self._plain.find_transaction(
                    self._readers.get(), charger_id, tx_id=tx_id, start_key=start_key
                )
            with self.engine.connect() as conn:
                return self._plain.find_transaction(
                    conn.connection.driver_connection, charger_id, tx_id=tx_id, start_key=start_key
                )
        query = select(TRANSACTION.c.doc).where(TRANSACTION.c.charger_id == charger_id)
        if tx_id is not None:
            query = query.where(TRANSACTION.c.tx_id == tx_id)
        if start_key is not None:
            query = query.where(TRANSACTION.c.start_key == start_key)
        with self.engine.connect() as conn:
            doc = conn.execute(query.limit(1)).scalar()
            if doc is None:
                return None
            tx = codec.transaction_in(json.loads(doc))
            return replace(tx, samples=self._samples(conn, charger_id, tx.tx_id))

    def transactions(self, *, charger_id: str | None = None) -> list[Transaction]:
        """Transactions, oldest first (without samples)."""
        query = select(TRANSACTION.c.doc).order_by(TRANSACTION.c.id)
        if charger_id is not None:
            query = query.where(TRANSACTION.c.charger_id == charger_id)
        with self.engine.connect() as conn:
            return [codec.transaction_in(json.loads(d)) for d in conn.execute(query).scalars()]

    def running_transactions(self) -> list[Transaction]:
        """Transactions still running, oldest first (without samples)."""
        query = (
            select(TRANSACTION.c.doc)
            .where(TRANSACTION.c.status == TransactionStatus.ACTIVE.value)
            .order_by(TRANSACTION.c.id)
        )
        with self.engine.connect() as conn:
            return [codec.transaction_in(json.loads(d)) for d in conn.execute(query).scalars()]

    def parked_events(self) -> list[tuple[str, str, str, str]]:
        """(charger, tx_id, kind, reason) of every parked transaction event, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    PARKED.c.charger_id, PARKED.c.tx_id, PARKED.c.kind, PARKED.c.reason
                ).order_by(PARKED.c.id)
            ).all()
        return [(r.charger_id, r.tx_id, r.kind, r.reason) for r in rows]

    def notes(self, charger_id: str) -> list[tuple[str, str]]:
        """(kind, text) of the operator notes about a charger, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(NOTE.c.kind, NOTE.c.text)
                .where(NOTE.c.charger_id == charger_id)
                .order_by(NOTE.c.id)
            ).all()
        return [(r.kind, r.text) for r in rows]

    def commit(self, batch: Sequence[Change]) -> None:
        if self._plain is not None:
            with self.delivery.charger_commit() as conn:
                learned = self._plain.commit(conn, batch)
            self._plain.keep(learned)  # only once the commit succeeded
            return
        with self.delivery.charger_commit() as conn:
            # One statement for every charger document of the batch (executemany).
            documents = [
                {"id": c.charger_id, "state": self._documents.state(c.state), "updated_at": c.at}
                for c in last_states(batch)
            ]
            if documents:
                conn.execute(self._upsert(CHARGER, ["id"]), documents)
            for change in batch:
                self._write(conn, change)
            issued = [c.issued_tx_id for c in batch if c.issued_tx_id is not None]
            if issued:
                conn.execute(
                    self._upsert(SEQUENCE, ["name"]), {"name": TX_SEQUENCE, "value": max(issued)}
                )

    def _write(self, conn: Connection, change: Change) -> None:
        for effect in change.effects:
            if isinstance(effect, TransactionChanged):
                self._write_transaction(conn, effect, change.at)
            elif isinstance(effect, TransactionEventParked):
                conn.execute(
                    PARKED.insert(),
                    {
                        "charger_id": effect.charger_id,
                        "tx_id": effect.tx_id[:36],
                        "kind": effect.kind,
                        "reason": effect.reason,
                        "at": effect.at,
                        "doc": codec.dumps(codec.event_out(effect.event)),
                        "resolved": False,
                    },
                )
            elif isinstance(effect, NoteRecorded):
                conn.execute(
                    NOTE.insert(),
                    {
                        "charger_id": effect.charger_id,
                        "at": effect.at,
                        "kind": effect.kind[:32],
                        "text": effect.text,
                        "doc": codec.dumps(dict(effect.detail)),
                    },
                )
            elif isinstance(effect, SamplesRecorded):
                self._write_samples(conn, effect.charger_id, "", effect.samples)
                self._write_problems(conn, effect.charger_id, effect.problems, change.at)
            elif isinstance(effect, EvseChanged):
                conn.execute(
                    self._upsert(EVSE, ["uid"]),
                    {
                        "uid": effect.uid,
                        "location_id": effect.location_id,
                        "status": effect.status.value,
                        "last_updated": effect.last_updated,
                    },
                )
                conn.execute(
                    self._upsert(OUTBOX, ["kind", "object_id"], skip={"id"}),
                    {"kind": "evse", "object_id": effect.uid, "changed_at": effect.last_updated},
                )

    def _write_transaction(
        self, conn: Connection, effect: TransactionChanged, at: datetime
    ) -> None:
        tx = effect.transaction
        if effect.record_changed:
            values = {
                "charger_id": tx.charger_id,
                "tx_id": tx.tx_id,
                "start_key": tx.start_key,
                "evse_uid": tx.evse_uid,
                "status": tx.status.value,
                "started_at": tx.started_at,
                "stopped_at": tx.stopped_at,
                "doc": self._documents.transaction(tx),
                "updated_at": at,
            }
            dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(TRANSACTION)
            # An ended transaction never changes (R-OCPP-TX-3): the update is conditional.
            stmt = stmt.on_conflict_do_update(
                index_elements=["charger_id", "tx_id"],
                set_={k: stmt.excluded[k] for k in values if k not in ("charger_id", "tx_id")},
                where=TRANSACTION.c.status != TransactionStatus.COMPLETED.value,
            ).returning(TRANSACTION.c.id)
            row_id = conn.execute(stmt, values).scalar()
        else:
            # Only samples were added: the record stays as it is, but the Session changed
            # (energy, cost), so its time moves.
            row_id = conn.execute(
                update(TRANSACTION)
                .where(
                    TRANSACTION.c.charger_id == tx.charger_id,
                    TRANSACTION.c.tx_id == tx.tx_id,
                    TRANSACTION.c.status != TransactionStatus.COMPLETED.value,
                )
                .values(updated_at=at)
                .returning(TRANSACTION.c.id)
            ).scalar()
        self._write_samples(conn, tx.charger_id, tx.tx_id, effect.new_samples)
        self._write_problems(conn, tx.charger_id, effect.problems, at)
        if row_id is not None:
            # Sealed at the start, its Session queued on every change, its CDR created at
            # the end: all in this transaction (DESIGN.md §2.3, §4).
            self.delivery.on_transaction(conn, row_id, tx, at)

    def _write_samples(
        self, conn: Connection, charger_id: str, tx_id: str, samples: Sequence[MeterSample]
    ) -> None:
        if samples:
            conn.execute(
                SAMPLE.insert(),
                [
                    {
                        "charger_id": charger_id,
                        "tx_id": tx_id,
                        "at": s.at,
                        "doc": codec.sample_text(s),
                    }
                    for s in samples
                ],
            )

    def _write_problems(
        self, conn: Connection, charger_id: str, problems: Sequence[MeterProblem], at: datetime
    ) -> None:
        if problems:
            conn.execute(
                NOTE.insert(),
                [
                    {
                        "charger_id": charger_id,
                        "at": at,
                        "kind": f"meter:{p.code.value}",
                        "text": p.text,
                        "doc": codec.dumps(codec.problem_out(p)),
                    }
                    for p in problems
                ],
            )

    def _insert_ignore(self, table: Table, keys: list[str]) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing(index_elements=keys)

    def _upsert(self, table: Table, keys: list[str], skip: set[str] | None = None) -> Any:
        # Statements are built once: constructing one costs more than executing it.
        cache_key = (table.name, tuple(keys), tuple(sorted(skip or ())))
        stmt = self._statements.get(cache_key)
        if stmt is None:
            stmt = self._statements[cache_key] = self._build_upsert(table, keys, skip)
        return stmt

    def _build_upsert(self, table: Table, keys: list[str], skip: set[str] | None) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table)
        excluded = stmt.excluded
        updates = {
            c.name: excluded[c.name]
            for c in table.columns
            if c.name not in keys and c.name not in (skip or set())
        }
        return stmt.on_conflict_do_update(index_elements=keys, set_=updates)

    def reconcile_config(
        self,
        fingerprints: Mapping[str, str],
        now: datetime,
        *,
        objects: Mapping[str, ConfigObject] | None = None,
    ) -> dict[str, datetime]:
        """Record configuration fingerprints; return when each object last changed.

        An object seen for the first time, or whose fingerprint differs from the stored
        one, changed ``now``; the others keep their recorded time, so a restart with the
        same ``config.toml`` does not make every Location look freshly updated. With
        ``objects`` (fingerprints and documents), changes are also queued for partners and
        objects that left the file are kept as removed (``SqlDelivery.reconcile``).
        """
        with self.delivery.begin() as conn:
            if objects is not None:
                return self.delivery.reconcile(conn, objects, now)
            stored = {
                r.key: (r.fingerprint, r.changed_at)
                for r in conn.execute(
                    select(CONFIG.c.key, CONFIG.c.fingerprint, CONFIG.c.changed_at)
                )
            }
            result: dict[str, datetime] = {}
            for key, fingerprint in fingerprints.items():
                before = stored.get(key)
                if before is not None and before[0] == fingerprint:
                    result[key] = before[1]
                    continue
                conn.execute(
                    self._upsert(CONFIG, ["key"]),
                    {"key": key, "fingerprint": fingerprint, "changed_at": now},
                )
                result[key] = now
        return result

    # --- SiteView ----------------------------------------------------------------

    def evse_statuses(self) -> dict[EvseUid, PublishedEvse]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(EVSE.c.uid, EVSE.c.status, EVSE.c.last_updated)).all()
        return {
            EvseUid(r.uid): PublishedEvse(status=EvseStatus(r.status), last_updated=r.last_updated)
            for r in rows
        }

    def outbox_size(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(OUTBOX.c.id)).all())


class PlainSqliteWriter:
    """The commit path on SQLite: prepared plain SQL on the driver's own connection.

    SQLAlchemy costs more per statement (compilation, cache keys, type processors) than
    SQLite takes to run it, and a commit is a few statements per message. These write
    exactly the rows the SQLAlchemy path writes (the store tests run both), in the same
    order and in the same database transaction: the SQLAlchemy connection and these
    cursors share one DB-API connection, so the delivery tables written through
    SQLAlchemy commit with them, or not at all.
    """

    def __init__(self, delivery: SqlDelivery, documents: codec.DocumentCache) -> None:
        self._delivery = delivery
        self._documents = documents
        #: The row id of each stored transaction not known to have ended, by (charger,
        #: tx_id). A running transaction's next write updates its row by id, which costs a
        #: fraction of finding it by its key and returning the id (a write per meter value).
        #: Only ids of committed rows: a rolled-back insert's id may go to another row.
        self._rows: dict[tuple[str, str], int] = {}
        #: What the commit in progress learned: an id, or None for a transaction that ended
        #: (or was found ended); kept by ``keep`` once the commit succeeded.
        self._learned: _Learned = {}

    def keep(self, learned: _Learned) -> None:
        """Remember the row ids a commit learned, now that it is durable."""
        rows = self._rows
        for key, row_id in learned.items():
            if row_id is None:
                rows.pop(key, None)
            else:
                rows[key] = row_id

    def commit(self, conn: Connection, batch: Sequence[Change]) -> _Learned:
        """Write ``batch``; returns the row ids learned, for ``keep`` once committed."""
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        learned: _Learned = {}
        self._learned = learned
        try:
            documents = [
                (c.charger_id, self._documents.state(c.state), utc_text(c.at))
                for c in last_states(batch)
            ]
            if documents:
                cur.executemany(_UPSERT_CHARGER, documents)
            # Samples are most of the rows: one statement for the whole batch. Only sample
            # rows take ids from their table, so they get the ids they would get one by one.
            samples: list[_SampleRow] = []
            for change in batch:
                self._write(conn, cur, change, samples)
            if samples:
                cur.executemany(_INSERT_SAMPLE, samples)
            issued = [c.issued_tx_id for c in batch if c.issued_tx_id is not None]
            if issued:
                cur.execute(_UPSERT_SEQUENCE, (TX_SEQUENCE, max(issued)))
        finally:
            cur.close()
            self._learned = {}
        return learned

    def _write(
        self,
        conn: Connection,
        cur: Any,
        change: Change,
        samples: list[_SampleRow],
    ) -> None:
        for effect in change.effects:
            if isinstance(effect, TransactionChanged):
                self._write_transaction(conn, cur, effect, change.at, samples)
            elif isinstance(effect, SamplesRecorded):
                _sample_rows(samples, effect.charger_id, "", effect.samples)
                _plain_problems(cur, effect.charger_id, effect.problems, change.at)
            elif isinstance(effect, EvseChanged):
                last_updated = utc_text(effect.last_updated)
                cur.execute(
                    _UPSERT_EVSE,
                    (effect.uid, effect.location_id, effect.status.value, last_updated),
                )
                cur.execute(_UPSERT_OUTBOX, ("evse", effect.uid, last_updated))
            elif isinstance(effect, TransactionEventParked):
                cur.execute(
                    _INSERT_PARKED,
                    (
                        effect.charger_id,
                        effect.tx_id[:36],
                        effect.kind,
                        effect.reason,
                        utc_text(effect.at),
                        codec.dumps(codec.event_out(effect.event)),
                        0,
                    ),
                )
            elif isinstance(effect, NoteRecorded):
                cur.execute(
                    _INSERT_NOTE,
                    (
                        effect.charger_id,
                        utc_text(effect.at),
                        effect.kind[:32],
                        effect.text,
                        codec.dumps(dict(effect.detail)),
                    ),
                )

    def _write_transaction(
        self,
        conn: Connection,
        cur: Any,
        effect: TransactionChanged,
        at: datetime,
        samples: list[_SampleRow],
    ) -> None:
        tx = effect.transaction
        key = (tx.charger_id, tx.tx_id)
        learned = self._learned
        row_id = learned[key] if key in learned else self._rows.get(key)
        when = utc_text(at)
        doc = self._documents.transaction(tx) if effect.record_changed else None
        # The record's columns, as both the update by id and the upsert by key write them.
        record = (
            ()
            if doc is None
            else (
                tx.start_key,
                tx.evse_uid,
                tx.status.value,
                utc_text(tx.started_at),
                utc_text(tx.stopped_at),
                doc,
            )
        )
        if row_id is not None:
            # The row is known: updated by its id, still only while it has not ended. A
            # meter value still moves ``updated_at``: it is the Session's last_updated and
            # the date_from/date_to window of the Sessions module (SqlDelivery).
            if doc is None:
                cur.execute(_TOUCH_TRANSACTION_ROW, (when, row_id))
            else:
                cur.execute(_UPDATE_TRANSACTION_ROW, (*record, when, row_id))
            if cur.rowcount != 1:
                row_id = None  # it ended meanwhile: the statements below say so exactly
        if row_id is None:
            if doc is None:
                cur.execute(_TOUCH_TRANSACTION, (when, tx.charger_id, tx.tx_id))
            else:
                cur.execute(_UPSERT_TRANSACTION, (tx.charger_id, tx.tx_id, *record, when))
            row = cur.fetchone()
            row_id = None if row is None else row[0]
        learned[key] = None if tx.status is TransactionStatus.COMPLETED else row_id
        _sample_rows(samples, tx.charger_id, tx.tx_id, effect.new_samples)
        _plain_problems(cur, tx.charger_id, effect.problems, at)
        if row_id is not None:
            self._delivery.on_transaction(conn, row_id, tx, at)

    def find_transaction(
        self, db: Any, charger_id: str, *, tx_id: str | None, start_key: str | None
    ) -> Transaction | None:
        """``SqlStore.find_transaction`` in plain SQL, on a DB-API connection the caller holds."""
        cur = db.cursor()
        try:
            sql, params = _FIND_TRANSACTION, [charger_id]
            if tx_id is not None:
                sql, params = f"{sql} AND tx_id = ?", [*params, tx_id]
            if start_key is not None:
                sql, params = f"{sql} AND start_key = ?", [*params, start_key]
            row = cur.execute(f"{sql} LIMIT 1", params).fetchone()
            if row is None:
                return None
            tx = codec.transaction_in(json.loads(row[0]))
            docs = cur.execute(_TRANSACTION_SAMPLES, (charger_id, tx.tx_id)).fetchall()
            return replace(tx, samples=tuple(codec.sample_in(json.loads(d)) for (d,) in docs))
        finally:
            cur.close()


class _ThreadReaders:
    """A DB-API connection of each thread's own for the plain lookups, outside the pool.

    Every StartTransaction asks ``find_transaction`` on the writer thread before its
    commit; checking a pooled connection out and back in (with its reset) costs several
    times the two SELECTs. Like a pooled connection outside a transaction, each runs
    every SELECT as its own read of the committed rows, and holds no lock between them.
    """

    def __init__(self, engine: Engine, connect_args: Mapping[str, Any]) -> None:
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._connect = partial(
            engine.dialect.loaded_dbapi.connect, *cargs, **{**cparams, **connect_args}
        )
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def get(self) -> Any:
        """This thread's connection, opened on first use."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
            with self._lock:
                self._opened.append(db)
        return db

    def close(self) -> None:
        """Close every thread's connection; a later lookup opens a new one."""
        with self._lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        for db in opened:
            db.close()


def _sample_rows(
    rows: list[_SampleRow],
    charger_id: str,
    tx_id: str,
    samples: Sequence[MeterSample],
) -> None:
    for s in samples:
        iso = s.at.isoformat()  # formatting a time is slow: once for the document and the column
        rows.append((charger_id, tx_id, utc_text_of(s.at, iso), codec.sample_text(s, iso)))


def _plain_problems(
    cur: Any, charger_id: str, problems: Sequence[MeterProblem], at: datetime
) -> None:
    if problems:
        when = utc_text(at)
        cur.executemany(
            _INSERT_NOTE,
            [
                (
                    charger_id,
                    when,
                    f"meter:{p.code.value}",
                    p.text,
                    codec.dumps(codec.problem_out(p)),
                )
                for p in problems
            ],
        )


def last_states(batch: Sequence[Change]) -> Iterable[Change]:
    """The last change of each charger whose state changed, in first-seen order.

    One row per charger is written, so only that state's document is built.
    """
    return {c.charger_id: c for c in batch if c.state_changed}.values()


def _insert_sql(table: Table, columns: Sequence[str]) -> str:
    # Built once at import from the table definitions: no value ever enters the text.
    return (
        f'INSERT INTO "{table.name}" ({", ".join(columns)}) '  # noqa: S608
        f"VALUES ({', '.join('?' for _ in columns)})"
    )


def _upsert_sql(table: Table, keys: Sequence[str], columns: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    return f"{_insert_sql(table, columns)} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"


_UPSERT_CHARGER = _upsert_sql(CHARGER, ["id"], ["id", "state", "updated_at"])
_UPSERT_SEQUENCE = _upsert_sql(SEQUENCE, ["name"], ["name", "value"])
_UPSERT_EVSE = _upsert_sql(EVSE, ["uid"], ["uid", "location_id", "status", "last_updated"])
_UPSERT_OUTBOX = _upsert_sql(OUTBOX, ["kind", "object_id"], ["kind", "object_id", "changed_at"])
_INSERT_PARKED = _insert_sql(
    PARKED, ["charger_id", "tx_id", "kind", "reason", "at", "doc", "resolved"]
)
_INSERT_NOTE = _insert_sql(NOTE, ["charger_id", "at", "kind", "text", "doc"])
_INSERT_SAMPLE = _insert_sql(SAMPLE, ["charger_id", "tx_id", "at", "doc"])
# An ended transaction never changes (R-OCPP-TX-3): both writes are conditional, and
# return no row when the transaction had already ended.
_UPSERT_TRANSACTION = (
    _upsert_sql(
        TRANSACTION,
        ["charger_id", "tx_id"],
        [
            "charger_id",
            "tx_id",
            "start_key",
            "evse_uid",
            "status",
            "started_at",
            "stopped_at",
            "doc",
            "updated_at",
        ],
    )
    + f" WHERE status != '{TransactionStatus.COMPLETED.value}' RETURNING id"
)
_FIND_TRANSACTION = f'SELECT doc FROM "{TRANSACTION.name}" WHERE charger_id = ?'  # noqa: S608
_TRANSACTION_SAMPLES = (
    f'SELECT doc FROM "{SAMPLE.name}" WHERE charger_id = ? AND tx_id = ? ORDER BY id'  # noqa: S608
)
_TOUCH_TRANSACTION = (
    f'UPDATE "{TRANSACTION.name}" SET updated_at = ? WHERE charger_id = ? AND tx_id = ? '  # noqa: S608
    f"AND status != '{TransactionStatus.COMPLETED.value}' RETURNING id"
)
# The same two writes to a row whose id is known (``PlainSqliteWriter._rows``).
_NOT_ENDED = f"status != '{TransactionStatus.COMPLETED.value}'"
_TOUCH_TRANSACTION_ROW = (
    f'UPDATE "{TRANSACTION.name}" SET updated_at = ? WHERE id = ? AND {_NOT_ENDED}'  # noqa: S608
)
_UPDATE_TRANSACTION_ROW = (
    f'UPDATE "{TRANSACTION.name}" SET start_key = ?, evse_uid = ?, status = ?, '  # noqa: S608
    f"started_at = ?, stopped_at = ?, doc = ?, updated_at = ? WHERE id = ? AND {_NOT_ENDED}"
)


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # WAL lets readers run beside the writer; FULL makes each commit survive power loss,
        # which is the promise behind acknowledging a StopTransaction.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return on_connect


def _schema_version(conn: Connection) -> int | None:
    has_meta = conn.dialect.has_table(conn, META.name)
    if not has_meta:
        return None
    row = conn.execute(select(META.c.value).where(META.c.key == "schema_version")).first()
    return None if row is None else int(row.value)


def _set_version(conn: Connection, version: int) -> None:
    conn.execute(META.delete().where(META.c.key == "schema_version"))
    conn.execute(META.insert().values(key="schema_version", value=str(version)))
