"""Adapter: the OCPI delivery tables (schema version 8); only ``gateway.storage`` uses them.

- ``ocpi_tx_seal``: what applied to each transaction at its start (written with the start).
- ``ocpi_cdr``: every CDR, created once; its id is unique, so no replay mints a second one.
- ``ocpi_push``: per partner and object, whether a push is due and what was last sent.
- ``ocpi_push_partner``: partners that received the initial Locations/Tariffs push.
- ``ocpi_pending_session``: Sessions opened by a START_SESSION or RESERVE_NOW before
  their transaction exists (version 8).
- ``ocpi_config_snapshot``: the last configuration of each published object, so an EVSE
  removed from ``config.toml`` is still served, as REMOVED.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from gateway.storage.tables import UtcDateTime


class TxSealRow(SQLModel, table=True):
    """A transaction's seal: site, tariff and token identity as they were at its start."""

    __tablename__ = "ocpi_tx_seal"
    __table_args__ = (Index("ix_ocpi_tx_seal_owner", "owner_country", "owner_party"),)
    tx_row: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    session_id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    site: str | None = Field(default=None, sa_column=Column(Text))
    token: str | None = Field(default=None, sa_column=Column(Text))
    owner_country: str | None = Field(default=None, sa_column=Column(String(2)))
    owner_party: str | None = Field(default=None, sa_column=Column(String(3)))
    sealed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class CdrRow(SQLModel, table=True):
    """A CDR, stored whole as JSON; never updated."""

    __tablename__ = "ocpi_cdr"
    __table_args__ = (Index("ix_ocpi_cdr_owner", "owner_country", "owner_party"),)
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    cdr_id: str = Field(sa_column=Column(String(39), nullable=False, unique=True))
    tx_row: int | None = Field(default=None, sa_column=Column(Integer, unique=True))
    credit_of: str | None = Field(default=None, sa_column=Column(String(39), unique=True))
    owner_country: str = Field(sa_column=Column(String(2), nullable=False))
    owner_party: str = Field(sa_column=Column(String(3), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    doc: str = Field(sa_column=Column(Text, nullable=False))


class PushRow(SQLModel, table=True):
    """One object for one partner: due or not, and the ledger of what it was last sent."""

    __tablename__ = "ocpi_push"
    __table_args__ = (
        UniqueConstraint("partner_id", "kind", "object_id"),
        Index("ix_ocpi_push_due", "partner_id", "due", "due_since"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    partner_id: int = Field(sa_column=Column(Integer, nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    object_id: str = Field(sa_column=Column(String(64), nullable=False))
    due: bool = Field(sa_column=Column(Boolean, nullable=False))
    due_since: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_last_updated: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    sent_digest: str | None = Field(default=None, sa_column=Column(String(64)))
    sent_doc: str | None = Field(default=None, sa_column=Column(Text))
    acked: bool = Field(sa_column=Column(Boolean, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class PushPartnerRow(SQLModel, table=True):
    """A partner that was queued every Location and Tariff when it was first seen."""

    __tablename__ = "ocpi_push_partner"
    partner_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    synced_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ConfigSnapshotRow(SQLModel, table=True):
    """A published object's last configuration (JSON), and when it left the file."""

    __tablename__ = "ocpi_config_snapshot"
    key: str = Field(sa_column=Column(String(64), primary_key=True))
    parent: str | None = Field(default=None, sa_column=Column(String(36)))
    doc: str = Field(sa_column=Column(Text, nullable=False))
    changed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    removed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class PendingSessionRow(SQLModel, table=True):
    """A Session opened before its transaction: PENDING, RESERVATION, INVALID, or taken."""

    __tablename__ = "ocpi_pending_session"
    __table_args__ = (
        Index("ix_ocpi_pending_session_source", "kind", "source_id"),
        Index("ix_ocpi_pending_session_owner", "owner_country", "owner_party"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    session_id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    source_id: int = Field(sa_column=Column(Integer, nullable=False))
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    owner_country: str = Field(sa_column=Column(String(2), nullable=False))
    owner_party: str = Field(sa_column=Column(String(3), nullable=False))
    site: str = Field(sa_column=Column(Text, nullable=False))
    token: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    tx_row: int | None = Field(default=None, sa_column=Column(Integer, unique=True))
