"""Adapter: the roaming token tables (schema version 5); only ``gateway.storage`` uses them.

Partners' tokens are keyed as OCPI keys them: (country_code, party_id, uid, type), the
uid in its canonical upper-case form. ``uid_head`` (the first 20 characters of that
form, the OCPP 1.6 idTag width) is indexed: a charger's idTag finds its candidates
through it, whole uids and 1.6-truncated ones alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Integer, String, Text
from sqlmodel import Field, SQLModel

from gateway.storage.tables import UtcDateTime


class RoamingTokenRow(SQLModel, table=True):
    """A token a partner pushed to us, or that we pulled from it."""

    __tablename__ = "roaming_token"
    country_code: str = Field(sa_column=Column(String(2), primary_key=True))  # upper-case
    party_id: str = Field(sa_column=Column(String(3), primary_key=True))  # upper-case
    uid_key: str = Field(sa_column=Column(String(36), primary_key=True))  # upper-case uid
    type: str = Field(sa_column=Column(String(16), primary_key=True))
    uid: str = Field(sa_column=Column(String(36), nullable=False))  # as sent
    uid_head: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    whitelist: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    valid: bool = Field(sa_column=Column(Boolean, nullable=False))
    last_updated: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    doc: str = Field(sa_column=Column(Text, nullable=False))  # the Token JSON
    stored_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class TokenPullRow(SQLModel, table=True):
    """When the last complete pull of a partner's tokens started (its next ``date_from``)."""

    __tablename__ = "roaming_token_pull"
    partner: str = Field(sa_column=Column(String(64), primary_key=True))
    pulled_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class LocalListRow(SQLModel, table=True):
    """A charger's local authorisation list: its version and the entries last accepted."""

    __tablename__ = "local_auth_list"
    charger_id: str = Field(sa_column=Column(String(48), primary_key=True))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    entries: str = Field(sa_column=Column(Text, nullable=False))  # JSON object
    in_sync: bool = Field(sa_column=Column(Boolean, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
