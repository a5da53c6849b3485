"""Adapter: the OCPI partner tables (schema version 4); only ``gateway.storage`` uses them.

Tokens we issued are stored as a lookup prefix and a keyed digest, never in clear; the
token a partner gave us is stored sealed (see ``gateway.storage.keys``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from gateway.storage.tables import UtcDateTime


class PartnerRow(SQLModel, table=True):
    """A roaming partner: registered, or pending while we register with it."""

    __tablename__ = "ocpi_partner"
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    version: str | None = Field(default=None, sa_column=Column(String(8)))
    versions_url: str | None = Field(default=None, sa_column=Column(String(255)))
    their_token: str | None = Field(default=None, sa_column=Column(Text))  # sealed
    token_encoding: str | None = Field(default=None, sa_column=Column(String(8)))
    endpoints: str | None = Field(default=None, sa_column=Column(Text))  # JSON list
    our_roles: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class PartnerRoleRow(SQLModel, table=True):
    """One role a partner registered; a (role, country, party) belongs to one partner only."""

    __tablename__ = "ocpi_partner_role"
    __table_args__ = (UniqueConstraint("role", "country_code", "party_id"),)
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    partner_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("ocpi_partner.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    role: str = Field(sa_column=Column(String(8), nullable=False))
    country_code: str = Field(sa_column=Column(String(2), nullable=False))  # upper-case
    party_id: str = Field(sa_column=Column(String(3), nullable=False))  # upper-case
    name: str = Field(sa_column=Column(String(100), nullable=False))


class IssuedTokenRow(SQLModel, table=True):
    """A token a partner may call us with; unconfirmed until the partner is known to have it."""

    __tablename__ = "ocpi_token"
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    partner_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("ocpi_partner.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    prefix: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    digest: str = Field(sa_column=Column(String(64), nullable=False))
    confirmed: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class InvitationRow(SQLModel, table=True):
    """A Token A: single use, expiring, claimed while a registration runs on it."""

    __tablename__ = "ocpi_invitation"
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    digest: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    used_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
