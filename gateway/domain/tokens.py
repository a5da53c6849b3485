"""Pure: roaming partners' tokens as the store keeps them, and chargers' local lists.

``ocpi_bridge`` (which speaks the Tokens module) and ``gateway.storage`` (which keeps
what it learned) agree on these records. The token itself travels as the OCPI JSON the
partner sent (``doc``); the columns beside it are what look-ups and the local
authorisation lists need without parsing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from gateway.domain.commands import LocalListEntry

#: OCPP 1.6 idTags (CiString20) are at most this long; longer uids are cut on the wire.
ID_TAG_WIDTH = 20


def uid_key(uid: str) -> str:
    """The canonical form of a token uid (a CiString): compared case-insensitively."""
    return uid.upper()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredToken:
    """One partner token: its key (owner, uid, type), what look-ups need, and the Token JSON."""

    country_code: str  # upper-case
    party_id: str  # upper-case
    uid: str  # as the partner sent it
    type: str  # OCPI TokenType
    whitelist: str  # OCPI WhitelistType
    valid: bool
    last_updated: datetime
    doc: str  # the Token object, JSON

    def __post_init__(self) -> None:
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())


def _no_entries() -> Mapping[str, LocalListEntry]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalListState:
    """What a charger's local authorisation list holds, as far as the gateway knows.

    ``in_sync`` is false after an update whose outcome is unknown (no answer, an error):
    the next update is then a full one.
    """

    charger_id: str
    version: int
    entries: Mapping[str, LocalListEntry] = field(default_factory=_no_entries)
    in_sync: bool = True
