"""Adapter: the table models. Nothing outside ``gateway.storage`` may import them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 8


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps go in as aware UTC and come out aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the column type guarantees it
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SchemaMeta(SQLModel, table=True):
    """Key/value facts about the database itself (its schema version)."""

    __tablename__ = "schema_meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)


class ChargerRow(SQLModel, table=True):
    """A charger's whole state, as JSON: small, and always read and written whole."""

    __tablename__ = "charger"
    id: str = Field(primary_key=True, max_length=48)
    state: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class EvseRow(SQLModel, table=True):
    """An EVSE's published status: the read model behind OCPI Locations."""

    __tablename__ = "evse"
    uid: str = Field(primary_key=True, max_length=36)
    location_id: str = Field(max_length=36, index=True)
    status: str = Field(max_length=16)
    last_updated: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class OutboxRow(SQLModel, table=True):
    """An object that changed and must be pushed; one row per object (coalesced)."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("kind", "object_id"),)
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    object_id: str = Field(sa_column=Column(String(64), nullable=False))
    changed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ConfigRow(SQLModel, table=True):
    """A fingerprint of each configured object, to know when the configuration changed it."""

    __tablename__ = "config_object"
    key: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64)
    changed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class TransactionRow(SQLModel, table=True):
    """A charging transaction: open or ended (then never changed again)."""

    __tablename__ = "transaction"
    __table_args__ = (
        UniqueConstraint("charger_id", "tx_id"),
        Index("ix_transaction_start_key", "charger_id", "start_key"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    tx_id: str = Field(sa_column=Column(String(36), nullable=False))
    start_key: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    evse_uid: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    stopped_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    doc: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class MeterSampleRow(SQLModel, table=True):
    """One meter sample, of a transaction or (``tx_id`` empty) of a connector."""

    __tablename__ = "meter_sample"
    __table_args__ = (Index("ix_meter_sample_tx", "charger_id", "tx_id"),)
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    tx_id: str = Field(sa_column=Column(String(36), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    doc: str = Field(sa_column=Column(Text, nullable=False))


class ParkedEventRow(SQLModel, table=True):
    """A transaction event that matched nothing: kept for reconciliation and review."""

    __tablename__ = "parked_event"
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    tx_id: str = Field(sa_column=Column(String(36), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    doc: str = Field(sa_column=Column(Text, nullable=False))
    resolved: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))


class NoteRow(SQLModel, table=True):
    """Something about a charger the operator should see: meter problems, odd messages."""

    __tablename__ = "charger_note"
    __table_args__ = (Index("ix_charger_note_charger", "charger_id", "at"),)
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    charger_id: str = Field(sa_column=Column(String(48), nullable=False))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    doc: str = Field(sa_column=Column(Text, nullable=False))


class SequenceRow(SQLModel, table=True):
    """Named counters that survive restarts (the OCPP 1.6 transactionId)."""

    __tablename__ = "id_sequence"
    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))
