"""Adapter: the remote-control tables (schema version 7); only ``gateway.storage`` uses them.

Partners' commands live from receipt until their result is delivered; reservations keep
the partner's id beside the one the charger knows (the row id); session links say which
command or reservation a transaction came from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.storage.tables import UtcDateTime


class RemoteCommandRow(SQLModel, table=True):
    """A partner's command or charging profile request, and its result once decided."""

    __tablename__ = "ocpi_command"
    __table_args__ = (
        Index("ix_ocpi_command_state", "state"),
        Index("ix_ocpi_command_received", "received_at"),
        Index("ix_ocpi_command_token", "partner", "token_key"),
        Index("ix_ocpi_command_session", "session_id"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    partner: str = Field(sa_column=Column(String(64), nullable=False))
    country_code: str = Field(sa_column=Column(String(2), nullable=False))
    party_id: str = Field(sa_column=Column(String(3), nullable=False))
    response_url: str = Field(sa_column=Column(Text, nullable=False))
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    evse_uid: str | None = Field(default=None, sa_column=Column(String(36)))
    connector_evse: int | None = Field(default=None, sa_column=Column(Integer))
    connector_id: int | None = Field(default=None, sa_column=Column(Integer))
    session_id: str | None = Field(default=None, sa_column=Column(String(36)))
    tx_id: str | None = Field(default=None, sa_column=Column(String(36)))
    token: str | None = Field(default=None, sa_column=Column(Text))  # JSON
    token_key: str | None = Field(default=None, sa_column=Column(String(20)))  # upper, cut at 20
    authorization_reference: str | None = Field(default=None, sa_column=Column(String(36)))
    reservation_id: int | None = Field(default=None, sa_column=Column(Integer))
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    deadline: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    result: str | None = Field(default=None, sa_column=Column(Text))  # JSON body to POST
    outcome: str | None = Field(default=None, sa_column=Column(String(24)))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class ReservationRow(SQLModel, table=True):
    """A partner's reservation; its row id is the reservation id the charger knows."""

    __tablename__ = "ocpi_reservation"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "reservation_key", "location_key"),
        Index("ix_ocpi_reservation_state", "state"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    partner: str = Field(sa_column=Column(String(64), nullable=False))
    country_code: str = Field(sa_column=Column(String(2), nullable=False))
    party_id: str = Field(sa_column=Column(String(3), nullable=False))
    reservation_id: str = Field(sa_column=Column(String(36), nullable=False))
    reservation_key: str = Field(sa_column=Column(String(36), nullable=False))  # upper-case
    location_id: str = Field(sa_column=Column(String(36), nullable=False))
    location_key: str = Field(sa_column=Column(String(36), nullable=False))  # upper-case
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    evse_uid: str | None = Field(default=None, sa_column=Column(String(36)))
    connector_evse: int | None = Field(default=None, sa_column=Column(Integer))
    connector_id: int | None = Field(default=None, sa_column=Column(Integer))
    token: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    authorization_reference: str | None = Field(default=None, sa_column=Column(String(36)))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    received_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    response_url: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class SessionLinkRow(SQLModel, table=True):
    """The command or reservation a transaction came from, and the token it runs on."""

    __tablename__ = "ocpi_session_link"
    __table_args__ = (
        UniqueConstraint("charger_id", "tx_id"),
        Index("ix_ocpi_session_link_session", "session_id"),
        Index("ix_ocpi_session_link_command", "command_id"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    tx_id: str = Field(sa_column=Column(String(36), nullable=False))
    session_id: str = Field(sa_column=Column(String(36), nullable=False))
    partner: str = Field(sa_column=Column(String(64), nullable=False))
    token: str = Field(sa_column=Column(Text, nullable=False))  # JSON
    authorization_reference: str | None = Field(default=None, sa_column=Column(String(36)))
    command_id: int | None = Field(default=None, sa_column=Column(Integer))
    reservation_id: int | None = Field(default=None, sa_column=Column(Integer))
    linked_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
