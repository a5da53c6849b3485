"""Adapter: the roaming token store (``ocpi_bridge.ports.TokenStore``) on SQL.

Shares the gateway's engine; each method is one short transaction, so the OCPI API, the
authoriser and the background jobs can call it from worker threads side by side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from gateway.domain.commands import LocalListEntry
from gateway.domain.tokens import ID_TAG_WIDTH, LocalListState, StoredToken, uid_key
from gateway.domain.transactions import AuthToken, TokenKind
from gateway.storage.token_tables import LocalListRow, RoamingTokenRow, TokenPullRow
from gateway.storage.writes import begin


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)  # noqa: S101 - SQLModel always sets a Table here
    return table


ROAMING_TOKEN = _table(RoamingTokenRow)
TOKEN_PULL = _table(TokenPullRow)
LOCAL_LIST = _table(LocalListRow)
TABLES = (ROAMING_TOKEN, TOKEN_PULL, LOCAL_LIST)

_NEVER = "NEVER"


def _token(row: Any) -> StoredToken:
    return StoredToken(
        country_code=row.country_code,
        party_id=row.party_id,
        uid=row.uid,
        type=row.type,
        whitelist=row.whitelist,
        valid=bool(row.valid),
        last_updated=row.last_updated,
        doc=row.doc,
    )


def _entries_out(entries: Mapping[str, LocalListEntry]) -> str:
    return json.dumps(
        {
            key: {
                "value": e.token.value,
                "kind": e.token.kind.value,
                "status": e.status,
                "expires_at": None if e.expires_at is None else e.expires_at.isoformat(),
                "group_id": e.group_id,
            }
            for key, e in entries.items()
        }
    )


def _entries_in(text: str) -> Mapping[str, LocalListEntry]:
    return MappingProxyType(
        {
            key: LocalListEntry(
                token=AuthToken(value=d["value"], kind=TokenKind(d["kind"])),
                status=d["status"],
                expires_at=None
                if d["expires_at"] is None
                else datetime.fromisoformat(d["expires_at"]),
                group_id=d["group_id"],
            )
            for key, d in json.loads(text).items()
        }
    )


class SqlTokens:
    """``TokenStore`` on SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert

    # --- tokens ---------------------------------------------------------------------

    def token(self, country_code: str, party_id: str, uid: str, type_: str) -> StoredToken | None:
        query = select(ROAMING_TOKEN).where(
            ROAMING_TOKEN.c.country_code == country_code.upper(),
            ROAMING_TOKEN.c.party_id == party_id.upper(),
            ROAMING_TOKEN.c.uid_key == uid_key(uid),
            ROAMING_TOKEN.c.type == type_,
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _token(row)

    def put_token(
        self, token: StoredToken, *, now: datetime, if_newer: bool = False
    ) -> bool | None:
        with begin(self._engine) as conn:
            return self._put(conn, token, now=now, if_newer=if_newer)

    def put_tokens(
        self, tokens: Sequence[StoredToken], *, now: datetime, if_newer: bool = False
    ) -> int:
        """Store a batch (a pulled page) in one transaction; return how many were written."""
        with begin(self._engine) as conn:
            return sum(self._put(conn, t, now=now, if_newer=if_newer) is not None for t in tokens)

    def _put(
        self, conn: Connection, token: StoredToken, *, now: datetime, if_newer: bool
    ) -> bool | None:
        key = uid_key(token.uid)
        values = {
            "country_code": token.country_code,
            "party_id": token.party_id,
            "uid_key": key,
            "type": token.type,
            "uid": token.uid,
            "uid_head": key[:ID_TAG_WIDTH],
            "whitelist": token.whitelist,
            "valid": token.valid,
            "last_updated": token.last_updated,
            "doc": token.doc,
            "stored_at": now,
        }
        where = (
            (ROAMING_TOKEN.c.country_code == token.country_code)
            & (ROAMING_TOKEN.c.party_id == token.party_id)
            & (ROAMING_TOKEN.c.uid_key == key)
            & (ROAMING_TOKEN.c.type == token.type)
        )
        before = conn.execute(select(ROAMING_TOKEN.c.last_updated).where(where)).first()
        if before is None:
            conn.execute(ROAMING_TOKEN.insert(), values)
            return True
        if if_newer and before.last_updated > token.last_updated:
            return None
        conn.execute(ROAMING_TOKEN.update().where(where).values(values))
        return False

    def tokens_for(self, presented: str) -> list[StoredToken]:
        key = uid_key(presented)
        query = select(ROAMING_TOKEN).where(ROAMING_TOKEN.c.uid_head == key[:ID_TAG_WIDTH])
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            _token(r)
            for r in rows
            if r.uid_key == key or (len(key) == ID_TAG_WIDTH and r.uid_key.startswith(key))
        ]

    def listable_tokens(self) -> list[StoredToken]:
        query = (
            select(ROAMING_TOKEN)
            .where(ROAMING_TOKEN.c.whitelist != _NEVER)
            .order_by(
                ROAMING_TOKEN.c.last_updated.desc(),
                ROAMING_TOKEN.c.country_code,
                ROAMING_TOKEN.c.party_id,
                ROAMING_TOKEN.c.uid_key,
                ROAMING_TOKEN.c.type,
            )
        )
        with self._engine.connect() as conn:
            return [_token(r) for r in conn.execute(query).all()]

    # --- pulls ----------------------------------------------------------------------

    def last_pull(self, partner: str) -> datetime | None:
        query = select(TOKEN_PULL.c.pulled_at).where(TOKEN_PULL.c.partner == partner)
        with self._engine.connect() as conn:
            value: datetime | None = conn.execute(query).scalar()
        return value

    def record_pull(self, partner: str, started_at: datetime) -> None:
        stmt = self._insert(TOKEN_PULL)
        stmt = stmt.on_conflict_do_update(
            index_elements=["partner"], set_={"pulled_at": stmt.excluded.pulled_at}
        )
        with begin(self._engine) as conn:
            conn.execute(stmt, {"partner": partner, "pulled_at": started_at})

    # --- local authorisation lists ---------------------------------------------------

    def local_list(self, charger_id: str) -> LocalListState | None:
        query = select(LOCAL_LIST).where(LOCAL_LIST.c.charger_id == charger_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return LocalListState(
            charger_id=row.charger_id,
            version=row.version,
            entries=_entries_in(row.entries),
            in_sync=bool(row.in_sync),
        )

    def save_local_list(self, state: LocalListState, *, now: datetime) -> None:
        stmt = self._insert(LOCAL_LIST)
        stmt = stmt.on_conflict_do_update(
            index_elements=["charger_id"],
            set_={k: stmt.excluded[k] for k in ("version", "entries", "in_sync", "updated_at")},
        )
        with begin(self._engine) as conn:
            conn.execute(
                stmt,
                {
                    "charger_id": state.charger_id,
                    "version": state.version,
                    "entries": _entries_out(state.entries),
                    "in_sync": state.in_sync,
                    "updated_at": now,
                },
            )
