"""Adapter: the OCPI partner store (``ocpi_bridge.ports.PartnerStore``) on SQL and in memory.

``SqlPartners`` shares the gateway's engine (SQLite WAL by default, so the ``gateway
partners`` commands can work on the database while the gateway runs). Each method is
one transaction. ``MemoryPartners`` behaves the same in dictionaries, for tests.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

from gateway.domain.partners import (
    InvitationRecord,
    PartnerConflictError,
    PartnerEndpoint,
    PartnerLink,
    PartnerRecord,
    PartnerState,
    PartyRole,
    TokenEncoding,
    TokenMatch,
)
from gateway.storage.keys import KEY_BYTES, TokenKeys
from gateway.storage.partner_tables import (
    InvitationRow,
    IssuedTokenRow,
    PartnerRoleRow,
    PartnerRow,
)
from gateway.storage.writes import begin


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)  # noqa: S101 - SQLModel always sets a Table here
    return table


PARTNER = _table(PartnerRow)
ROLE = _table(PartnerRoleRow)
TOKEN = _table(IssuedTokenRow)
INVITATION = _table(InvitationRow)
TABLES = (PARTNER, ROLE, TOKEN, INVITATION)


# --- JSON columns -------------------------------------------------------------------


def _dump_roles(roles: Iterable[PartyRole]) -> str:
    return json.dumps(
        [
            {"role": r.role, "country_code": r.country_code, "party_id": r.party_id, "name": r.name}
            for r in roles
        ]
    )


def _load_roles(text: str) -> tuple[PartyRole, ...]:
    return tuple(PartyRole(**item) for item in json.loads(text))


def _dump_endpoints(endpoints: Iterable[PartnerEndpoint]) -> str:
    return json.dumps([{"module": e.module, "role": e.role, "url": e.url} for e in endpoints])


def _load_endpoints(text: str) -> tuple[PartnerEndpoint, ...]:
    return tuple(PartnerEndpoint(**item) for item in json.loads(text))


def _role_conflict(role: PartyRole) -> PartnerConflictError:
    return PartnerConflictError(f"{role.label} is already registered by another partner")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _announced(
    write: Callable[Concatenate[SqlPartners, _P], _R],
) -> Callable[Concatenate[SqlPartners, _P], _R]:
    """A write that changes who is a partner or where it is reached calls ``on_change``.

    Called whether or not the write succeeded: a listener that looks again costs little,
    one that misses a change serves a partner late.
    """

    @functools.wraps(write)
    def announcing(self: SqlPartners, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return write(self, *args, **kwargs)
        finally:
            if self.on_change is not None:
                self.on_change()

    return announcing


class SqlPartners:
    """``PartnerStore`` on SQLAlchemy Core."""

    def __init__(self, engine: Engine, keys: TokenKeys) -> None:
        self._engine = engine
        self._keys = keys
        #: Told when a partner registered, changed its endpoints or left (the OCPI pusher
        #: reads the partner list rarely). Runs in the writing thread, often a worker.
        self.on_change: Callable[[], None] | None = None

    # --- look-ups ---------------------------------------------------------------------

    def match_token(
        self, token: str, *, now: datetime, stale_before: datetime
    ) -> TokenMatch | None:
        prefix = self._keys.prefix(token)
        with begin(self._engine) as conn:
            for row in conn.execute(select(TOKEN).where(TOKEN.c.prefix == prefix)).all():
                if not self._keys.matches(token, row.digest):
                    continue
                partner = self._load(conn, row.partner_id)
                if partner is None or _abandoned(partner, stale_before):
                    return None
                if not row.confirmed:
                    self._confirm(conn, row.id, row.partner_id)
                return TokenMatch(partner=partner, token_id=row.id)
            open_invitations = select(INVITATION).where(
                INVITATION.c.prefix == prefix,
                INVITATION.c.used_at.is_(None),
                INVITATION.c.expires_at > now,
            )
            for row in conn.execute(open_invitations).all():
                if self._keys.matches(token, row.digest):
                    return TokenMatch(invitation=_invitation(row))
        return None

    def partner(self, name: str) -> PartnerRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(PARTNER.c.id).where(PARTNER.c.name == name)).first()
            return None if row is None else self._load(conn, row.id)

    def partners(self) -> list[PartnerRecord]:
        with self._engine.connect() as conn:
            ids = conn.execute(select(PARTNER.c.id).order_by(PARTNER.c.name)).scalars().all()
            return [p for pid in ids if (p := self._load(conn, pid)) is not None]

    def invitations(self, *, now: datetime) -> list[InvitationRecord]:
        query = (
            select(INVITATION)
            .where(INVITATION.c.used_at.is_(None), INVITATION.c.expires_at > now)
            .order_by(INVITATION.c.name, INVITATION.c.id)
        )
        with self._engine.connect() as conn:
            return [_invitation(row) for row in conn.execute(query).all()]

    # --- invitations --------------------------------------------------------------------

    def invite(
        self, name: str, token: str, *, now: datetime, expires_at: datetime
    ) -> InvitationRecord:
        with begin(self._engine) as conn:
            if conn.execute(select(PARTNER.c.id).where(PARTNER.c.name == name)).first():
                raise PartnerConflictError(f"a partner called {name!r} already exists")
            conn.execute(
                delete(INVITATION).where(INVITATION.c.name == name, INVITATION.c.used_at.is_(None))
            )
            new_id = conn.execute(
                insert(INVITATION).values(
                    name=name,
                    prefix=self._keys.prefix(token),
                    digest=self._keys.digest(token),
                    created_at=now,
                    expires_at=expires_at,
                )
            ).inserted_primary_key
        assert new_id is not None  # noqa: S101 - an insert always has one
        return InvitationRecord(id=new_id[0], name=name, created_at=now, expires_at=expires_at)

    def claim_invitation(
        self, invitation_id: int, *, now: datetime, stale_before: datetime
    ) -> bool:
        claim = (
            update(INVITATION)
            .where(
                INVITATION.c.id == invitation_id,
                INVITATION.c.used_at.is_(None),
                INVITATION.c.expires_at > now,
                INVITATION.c.claimed_at.is_(None) | (INVITATION.c.claimed_at < stale_before),
            )
            .values(claimed_at=now)
        )
        with begin(self._engine) as conn:
            return conn.execute(claim).rowcount == 1

    def release_invitation(self, invitation_id: int) -> None:
        with begin(self._engine) as conn:
            conn.execute(
                update(INVITATION)
                .where(INVITATION.c.id == invitation_id, INVITATION.c.used_at.is_(None))
                .values(claimed_at=None)
            )

    @_announced
    def register(
        self,
        invitation_id: int,
        link: PartnerLink,
        *,
        our_roles: tuple[PartyRole, ...],
        token: str,
        now: datetime,
    ) -> PartnerRecord:
        with self._conflicts(link.roles), begin(self._engine) as conn:
            inv = conn.execute(
                select(INVITATION).where(
                    INVITATION.c.id == invitation_id, INVITATION.c.used_at.is_(None)
                )
            ).first()
            if inv is None:
                raise PartnerConflictError("the invitation was used or revoked meanwhile")
            if conn.execute(select(PARTNER.c.id).where(PARTNER.c.name == inv.name)).first():
                raise PartnerConflictError(f"a partner called {inv.name!r} already exists")
            self._check_roles(conn, link.roles, partner_id=None)
            partner_id = conn.execute(
                insert(PARTNER).values(
                    name=inv.name,
                    state=PartnerState.REGISTERED.value,
                    our_roles=_dump_roles(our_roles),
                    created_at=now,
                    updated_at=now,
                    **self._link_values(link),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            self._write_roles(conn, partner_id, link.roles)
            self._insert_token(conn, partner_id, token, confirmed=True, now=now)
            conn.execute(
                update(INVITATION).where(INVITATION.c.id == invitation_id).values(used_at=now)
            )
            record = self._load(conn, partner_id)
        assert record is not None  # noqa: S101 - written just above
        return record

    # --- partners -------------------------------------------------------------------------

    @_announced
    def begin_connection(
        self, name: str, token: str, *, now: datetime, stale_before: datetime
    ) -> PartnerRecord:
        with begin(self._engine) as conn:
            invited = select(INVITATION.c.id).where(
                INVITATION.c.name == name, INVITATION.c.used_at.is_(None)
            )
            if conn.execute(invited).first() is not None:
                raise PartnerConflictError(f"an invitation for {name!r} is open")
            existing = conn.execute(select(PARTNER.c.id).where(PARTNER.c.name == name)).first()
            if existing is not None:
                before = self._load(conn, existing.id)
                if before is None or not _abandoned(before, stale_before):
                    raise PartnerConflictError(f"a partner called {name!r} already exists")
                self._delete(conn, existing.id)
            partner_id = conn.execute(
                insert(PARTNER).values(
                    name=name,
                    state=PartnerState.PENDING.value,
                    our_roles="[]",
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            self._insert_token(conn, partner_id, token, confirmed=False, now=now)
            record = self._load(conn, partner_id)
        assert record is not None  # noqa: S101 - written just above
        return record

    @_announced
    def complete_connection(
        self, partner_id: int, link: PartnerLink, *, our_roles: tuple[PartyRole, ...], now: datetime
    ) -> PartnerRecord:
        with self._conflicts(link.roles), begin(self._engine) as conn:
            self._check_roles(conn, link.roles, partner_id=partner_id)
            conn.execute(
                update(PARTNER)
                .where(PARTNER.c.id == partner_id)
                .values(
                    state=PartnerState.REGISTERED.value,
                    our_roles=_dump_roles(our_roles),
                    updated_at=now,
                    **self._link_values(link),
                )
            )
            self._write_roles(conn, partner_id, link.roles)
            conn.execute(
                update(TOKEN).where(TOKEN.c.partner_id == partner_id).values(confirmed=True)
            )
            record = self._load(conn, partner_id)
        if record is None:
            raise PartnerConflictError("the pending partner was removed meanwhile")
        return record

    @_announced
    def update_link(
        self,
        partner_id: int,
        link: PartnerLink,
        *,
        now: datetime,
        issue: str | None = None,
        confirm: int | None = None,
    ) -> int | None:
        with self._conflicts(link.roles), begin(self._engine) as conn:
            if conn.execute(select(PARTNER.c.id).where(PARTNER.c.id == partner_id)).first() is None:
                raise PartnerConflictError("the partner was removed meanwhile")
            self._check_roles(conn, link.roles, partner_id=partner_id)
            conn.execute(
                update(PARTNER)
                .where(PARTNER.c.id == partner_id)
                .values(updated_at=now, **self._link_values(link))
            )
            self._write_roles(conn, partner_id, link.roles)
            if confirm is not None:
                self._confirm(conn, confirm, partner_id)
            if issue is None:
                return None
            return self._replace_unconfirmed(conn, partner_id, issue, now=now)

    def add_token(self, partner_id: int, token: str, *, now: datetime) -> int:
        with begin(self._engine) as conn:
            return self._replace_unconfirmed(conn, partner_id, token, now=now)

    def confirm_token(self, token_id: int) -> None:
        with begin(self._engine) as conn:
            row = conn.execute(select(TOKEN.c.partner_id).where(TOKEN.c.id == token_id)).first()
            if row is not None:
                self._confirm(conn, token_id, row.partner_id)

    @_announced
    def remove(self, name: str) -> bool:
        with begin(self._engine) as conn:
            row = conn.execute(select(PARTNER.c.id).where(PARTNER.c.name == name)).first()
            if row is not None:
                self._delete(conn, row.id)
            invited = conn.execute(
                delete(INVITATION).where(INVITATION.c.name == name, INVITATION.c.used_at.is_(None))
            ).rowcount
        return row is not None or invited > 0

    # --- internals ----------------------------------------------------------------------

    def _link_values(self, link: PartnerLink) -> dict[str, Any]:
        return {
            "version": link.version,
            "versions_url": link.versions_url,
            "their_token": self._keys.seal(link.token),
            "token_encoding": link.encoding.value,
            "endpoints": _dump_endpoints(link.endpoints),
        }

    def _load(self, conn: Connection, partner_id: int) -> PartnerRecord | None:
        row = conn.execute(select(PARTNER).where(PARTNER.c.id == partner_id)).first()
        if row is None:
            return None
        link = None
        if row.their_token is not None:
            roles = conn.execute(
                select(ROLE).where(ROLE.c.partner_id == partner_id).order_by(ROLE.c.id)
            ).all()
            link = PartnerLink(
                version=row.version,
                versions_url=row.versions_url,
                token=self._keys.open(row.their_token),
                encoding=TokenEncoding(row.token_encoding),
                roles=tuple(
                    PartyRole(
                        role=r.role, country_code=r.country_code, party_id=r.party_id, name=r.name
                    )
                    for r in roles
                ),
                endpoints=_load_endpoints(row.endpoints),
            )
        return PartnerRecord(
            id=row.id,
            name=row.name,
            state=PartnerState(row.state),
            link=link,
            our_roles=_load_roles(row.our_roles),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def _check_roles(
        self, conn: Connection, roles: Iterable[PartyRole], *, partner_id: int | None
    ) -> None:
        for role in roles:
            owner = conn.execute(
                select(ROLE.c.partner_id).where(
                    ROLE.c.role == role.role,
                    ROLE.c.country_code == role.country_code,
                    ROLE.c.party_id == role.party_id,
                )
            ).first()
            if owner is not None and owner.partner_id != partner_id:
                raise _role_conflict(role)

    def _write_roles(self, conn: Connection, partner_id: int, roles: Iterable[PartyRole]) -> None:
        conn.execute(delete(ROLE).where(ROLE.c.partner_id == partner_id))
        for role in roles:
            conn.execute(
                insert(ROLE).values(
                    partner_id=partner_id,
                    role=role.role,
                    country_code=role.country_code,
                    party_id=role.party_id,
                    name=role.name[:100],
                )
            )

    def _insert_token(
        self, conn: Connection, partner_id: int, token: str, *, confirmed: bool, now: datetime
    ) -> int:
        key = conn.execute(
            insert(TOKEN).values(
                partner_id=partner_id,
                prefix=self._keys.prefix(token),
                digest=self._keys.digest(token),
                confirmed=confirmed,
                created_at=now,
            )
        ).inserted_primary_key
        assert key is not None  # noqa: S101 - an insert always has one
        return int(key[0])

    def _replace_unconfirmed(
        self, conn: Connection, partner_id: int, token: str, *, now: datetime
    ) -> int:
        conn.execute(
            delete(TOKEN).where(TOKEN.c.partner_id == partner_id, TOKEN.c.confirmed.is_(False))
        )
        return self._insert_token(conn, partner_id, token, confirmed=False, now=now)

    def _confirm(self, conn: Connection, token_id: int, partner_id: int) -> None:
        conn.execute(delete(TOKEN).where(TOKEN.c.partner_id == partner_id, TOKEN.c.id != token_id))
        conn.execute(update(TOKEN).where(TOKEN.c.id == token_id).values(confirmed=True))

    def _delete(self, conn: Connection, partner_id: int) -> None:
        conn.execute(delete(TOKEN).where(TOKEN.c.partner_id == partner_id))
        conn.execute(delete(ROLE).where(ROLE.c.partner_id == partner_id))
        conn.execute(delete(PARTNER).where(PARTNER.c.id == partner_id))

    def _conflicts(self, roles: Iterable[PartyRole]) -> _IntegrityAsConflict:
        return _IntegrityAsConflict(tuple(roles))


class _IntegrityAsConflict:
    """A unique-constraint race lost to a concurrent registration is a conflict too."""

    def __init__(self, roles: tuple[PartyRole, ...]) -> None:
        self._roles = roles

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, IntegrityError):
            labels = ", ".join(r.label for r in self._roles)
            raise PartnerConflictError(
                f"one of {labels} was registered by another partner meanwhile"
            ) from None


def _abandoned(partner: PartnerRecord, stale_before: datetime) -> bool:
    return partner.state is PartnerState.PENDING and partner.created_at < stale_before


def _invitation(row: Any) -> InvitationRecord:
    return InvitationRecord(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        expires_at=row.expires_at,
        claimed_at=row.claimed_at,
    )


# --- in memory --------------------------------------------------------------------------


class MemoryPartners:
    """``PartnerStore`` in dictionaries, with the same rules and the same token hashing."""

    def __init__(self, keys: TokenKeys | None = None) -> None:
        self._keys = keys or TokenKeys(secrets.token_bytes(KEY_BYTES))
        self._partners: dict[int, PartnerRecord] = {}
        self._tokens: dict[int, tuple[int, str, bool]] = {}  # id -> (partner, digest, confirmed)
        self._invitations: dict[int, tuple[InvitationRecord, str, datetime | None]] = {}
        self._next = 0

    def _id(self) -> int:
        self._next += 1
        return self._next

    def match_token(
        self, token: str, *, now: datetime, stale_before: datetime
    ) -> TokenMatch | None:
        for token_id, (partner_id, digest, confirmed) in list(self._tokens.items()):
            if self._keys.matches(token, digest):
                partner = self._partners[partner_id]
                if _abandoned(partner, stale_before):
                    return None
                if not confirmed:
                    self._confirm(token_id)
                return TokenMatch(partner=partner, token_id=token_id)
        for inv, digest, used_at in self._invitations.values():
            if used_at is None and inv.expires_at > now and self._keys.matches(token, digest):
                return TokenMatch(invitation=inv)
        return None

    def partner(self, name: str) -> PartnerRecord | None:
        return next((p for p in self._partners.values() if p.name == name), None)

    def partners(self) -> list[PartnerRecord]:
        return sorted(self._partners.values(), key=lambda p: p.name)

    def invitations(self, *, now: datetime) -> list[InvitationRecord]:
        return sorted(
            (
                inv
                for inv, _, used in self._invitations.values()
                if used is None and inv.expires_at > now
            ),
            key=lambda i: (i.name, i.id),
        )

    def invite(
        self, name: str, token: str, *, now: datetime, expires_at: datetime
    ) -> InvitationRecord:
        if self.partner(name) is not None:
            raise PartnerConflictError(f"a partner called {name!r} already exists")
        self._drop_invitations(name)
        inv = InvitationRecord(id=self._id(), name=name, created_at=now, expires_at=expires_at)
        self._invitations[inv.id] = (inv, self._keys.digest(token), None)
        return inv

    def claim_invitation(
        self, invitation_id: int, *, now: datetime, stale_before: datetime
    ) -> bool:
        entry = self._invitations.get(invitation_id)
        if entry is None:
            return False
        inv, digest, used_at = entry
        if used_at is not None or inv.expires_at <= now:
            return False
        if inv.claimed_at is not None and inv.claimed_at >= stale_before:
            return False
        self._invitations[invitation_id] = (replace(inv, claimed_at=now), digest, None)
        return True

    def release_invitation(self, invitation_id: int) -> None:
        entry = self._invitations.get(invitation_id)
        if entry is not None and entry[2] is None:
            self._invitations[invitation_id] = (replace(entry[0], claimed_at=None), entry[1], None)

    def register(
        self,
        invitation_id: int,
        link: PartnerLink,
        *,
        our_roles: tuple[PartyRole, ...],
        token: str,
        now: datetime,
    ) -> PartnerRecord:
        entry = self._invitations.get(invitation_id)
        if entry is None or entry[2] is not None:
            raise PartnerConflictError("the invitation was used or revoked meanwhile")
        inv = entry[0]
        if self.partner(inv.name) is not None:
            raise PartnerConflictError(f"a partner called {inv.name!r} already exists")
        self._check_roles(link.roles, partner_id=None)
        record = PartnerRecord(
            id=self._id(),
            name=inv.name,
            state=PartnerState.REGISTERED,
            link=link,
            our_roles=our_roles,
            created_at=now,
            updated_at=now,
        )
        self._partners[record.id] = record
        self._tokens[self._id()] = (record.id, self._keys.digest(token), True)
        self._invitations[invitation_id] = (inv, entry[1], now)
        return record

    def begin_connection(
        self, name: str, token: str, *, now: datetime, stale_before: datetime
    ) -> PartnerRecord:
        if any(inv.name == name and used is None for inv, _, used in self._invitations.values()):
            raise PartnerConflictError(f"an invitation for {name!r} is open")
        existing = self.partner(name)
        if existing is not None:
            if not _abandoned(existing, stale_before):
                raise PartnerConflictError(f"a partner called {name!r} already exists")
            self._delete(existing.id)
        record = PartnerRecord(
            id=self._id(),
            name=name,
            state=PartnerState.PENDING,
            link=None,
            our_roles=(),
            created_at=now,
            updated_at=now,
        )
        self._partners[record.id] = record
        self._tokens[self._id()] = (record.id, self._keys.digest(token), False)
        return record

    def complete_connection(
        self, partner_id: int, link: PartnerLink, *, our_roles: tuple[PartyRole, ...], now: datetime
    ) -> PartnerRecord:
        before = self._partners.get(partner_id)
        if before is None:
            raise PartnerConflictError("the pending partner was removed meanwhile")
        self._check_roles(link.roles, partner_id=partner_id)
        record = replace(
            before, state=PartnerState.REGISTERED, link=link, our_roles=our_roles, updated_at=now
        )
        self._partners[partner_id] = record
        for token_id, (owner, digest, _) in list(self._tokens.items()):
            if owner == partner_id:
                self._tokens[token_id] = (owner, digest, True)
        return record

    def update_link(
        self,
        partner_id: int,
        link: PartnerLink,
        *,
        now: datetime,
        issue: str | None = None,
        confirm: int | None = None,
    ) -> int | None:
        before = self._partners.get(partner_id)
        if before is None:
            raise PartnerConflictError("the partner was removed meanwhile")
        self._check_roles(link.roles, partner_id=partner_id)
        self._partners[partner_id] = replace(before, link=link, updated_at=now)
        if confirm is not None:
            self._confirm(confirm)
        return None if issue is None else self.add_token(partner_id, issue, now=now)

    def add_token(self, partner_id: int, token: str, *, now: datetime) -> int:
        for token_id, (owner, _, confirmed) in list(self._tokens.items()):
            if owner == partner_id and not confirmed:
                del self._tokens[token_id]
        token_id = self._id()
        self._tokens[token_id] = (partner_id, self._keys.digest(token), False)
        return token_id

    def confirm_token(self, token_id: int) -> None:
        self._confirm(token_id)

    def remove(self, name: str) -> bool:
        partner = self.partner(name)
        if partner is not None:
            self._delete(partner.id)
        return self._drop_invitations(name) or partner is not None

    def _confirm(self, token_id: int) -> None:
        entry = self._tokens.get(token_id)
        if entry is None:
            return
        owner = entry[0]
        for other, (partner_id, _, _) in list(self._tokens.items()):
            if partner_id == owner and other != token_id:
                del self._tokens[other]
        self._tokens[token_id] = (owner, entry[1], True)

    def _check_roles(self, roles: Iterable[PartyRole], *, partner_id: int | None) -> None:
        for role in roles:
            for other in self._partners.values():
                if other.id != partner_id and any(
                    (r.role, r.country_code, r.party_id)
                    == (role.role, role.country_code, role.party_id)
                    for r in other.roles
                ):
                    raise _role_conflict(role)

    def _delete(self, partner_id: int) -> None:
        del self._partners[partner_id]
        for token_id, (owner, _, _) in list(self._tokens.items()):
            if owner == partner_id:
                del self._tokens[token_id]

    def _drop_invitations(self, name: str) -> bool:
        gone = [
            i
            for i, (inv, _, used) in self._invitations.items()
            if inv.name == name and used is None
        ]
        for i in gone:
            del self._invitations[i]
        return bool(gone)
