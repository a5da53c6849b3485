"""Adapter: the remote-control store (``ocpi_bridge.ports.RemoteStore``) on SQL and in memory.

``SqlCommands`` shares the gateway's engine; each method is one transaction. Settling a
command is a conditional update (only a PENDING command takes a result), so whoever
settles first wins and exactly one result is ever delivered. ``MemoryCommands`` behaves
the same in dictionaries, for tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import Table
from sqlmodel import SQLModel

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

#: How much of a token uid a 1.6 charger reports (CiString20), and what is indexed.
TOKEN_KEY_LENGTH = 20


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)  # noqa: S101 - SQLModel always sets a Table here
    return table


COMMAND = _table(RemoteCommandRow)
RESERVATION = _table(ReservationRow)
LINK = _table(SessionLinkRow)
TABLES = (COMMAND, RESERVATION, LINK)

_HOLDING = (ReservationState.REQUESTED.value, ReservationState.ACTIVE.value)
_OPEN = (RemoteState.PENDING.value, RemoteState.ANSWERED.value)


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


class SqlCommands:
    """``RemoteStore`` on SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- commands ---------------------------------------------------------------------

    def record(self, command: RemoteCommand) -> RemoteCommand:
        with self._engine.begin() as conn:
            new_id = conn.execute(
                insert(COMMAND).values(**_command_values(command)).returning(COMMAND.c.id)
            ).scalar_one()
        return replace(command, id=int(new_id))

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
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(COMMAND)
                .where(COMMAND.c.id == command_id, COMMAND.c.state == RemoteState.PENDING.value)
                .values(**values)
            ).rowcount
        return bool(changed)

    def finish(self, command_id: int, *, state: RemoteState, attempts: int, now: datetime) -> None:
        with self._engine.begin() as conn:
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
        return self._commands(
            select(COMMAND).where(COMMAND.c.received_at >= since).order_by(COMMAND.c.id)
        )

    def for_session(self, session_id: str) -> list[RemoteCommand]:
        return self._commands(
            select(COMMAND).where(COMMAND.c.session_id == session_id).order_by(COMMAND.c.id)
        )

    def with_token(self, partner: str, presented: str) -> list[RemoteCommand]:
        return self._commands(
            select(COMMAND)
            .where(COMMAND.c.partner == partner, COMMAND.c.token_key == token_key(presented))
            .order_by(COMMAND.c.id.desc())
            .limit(50)
        )

    # --- reservations -------------------------------------------------------------------

    def reserve(self, reservation: Reservation) -> Reservation:
        now = reservation.updated_at or reservation.received_at
        values = _reservation_values(reservation, now)
        key = (
            RESERVATION.c.country_code == reservation.country_code,
            RESERVATION.c.party_id == reservation.party_id,
            RESERVATION.c.reservation_key == values["reservation_key"],
            RESERVATION.c.location_key == values["location_key"],
        )
        with self._engine.begin() as conn:
            existing = conn.execute(select(RESERVATION.c.id).where(*key)).scalar()
            if existing is None:
                new_id = conn.execute(
                    insert(RESERVATION).values(**values).returning(RESERVATION.c.id)
                ).scalar_one()
                return replace(reservation, id=int(new_id), updated_at=now)
            conn.execute(update(RESERVATION).where(RESERVATION.c.id == existing).values(**values))
        return replace(reservation, id=int(existing), updated_at=now)

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
        with self._engine.begin() as conn:
            conn.execute(
                update(RESERVATION)
                .where(RESERVATION.c.id == reservation)
                .values(state=state.value, updated_at=now)
            )

    def held_reservations(self) -> list[Reservation]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(RESERVATION)
                .where(RESERVATION.c.state.in_(_HOLDING))
                .order_by(RESERVATION.c.id)
            ).all()
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
            with self._engine.begin() as conn:
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

    def record(self, command: RemoteCommand) -> RemoteCommand:
        stored = replace(command, id=len(self.commands) + 1)
        self.commands[stored.id] = stored
        return stored

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

    def reserve(self, reservation: Reservation) -> Reservation:
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
