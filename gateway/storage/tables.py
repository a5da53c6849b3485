"""Adapter: the table models. Nothing outside ``gateway.storage`` may import them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 2


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
