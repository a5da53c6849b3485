"""Pure: roaming partners as the store keeps them: who they are, how to reach them, their state.

These records are what ``ocpi_bridge`` (which runs the credentials handshake) and
``gateway.storage`` (which persists its outcome) agree on. Identifiers that OCPI calls
CiStrings (``country_code``, ``party_id``) are kept upper-case, their canonical form, so
equality here is the spec's case-insensitive comparison.

Tokens in these records are secrets: fields holding one are excluded from ``repr`` so a
record in a log line or a traceback never shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit


class TokenEncoding(StrEnum):
    """How a partner's ``Authorization: Token ...`` header carries the token."""

    BASE64 = "base64"  # OCPI 2.2.1 transport_and_format §Authorization header
    RAW = "raw"  # OCPI 2.1.1, and many 2.2 implementations


class PartnerState(StrEnum):
    """Where a partner is in its life: only ``REGISTERED`` partners reach functional modules."""

    PENDING = "pending"  # we are registering with them (their callbacks may use our token)
    REGISTERED = "registered"


class PartnerConflictError(Exception):
    """A partner name or role that another partner (or we ourselves) already holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PartyRole:
    """One role a platform plays under one ``country_code``/``party_id`` (canonical upper-case)."""

    role: str
    country_code: str
    party_id: str
    name: str = ""  # business name, for people reading ``partners list``

    def __post_init__(self) -> None:
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())

    def is_party(self, country_code: str, party_id: str) -> bool:
        return self.country_code == country_code.upper() and self.party_id == party_id.upper()

    @property
    def label(self) -> str:
        return f"{self.role} {self.country_code}/{self.party_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerEndpoint:
    """One module a partner offers; ``role`` is ``None`` for 2.1.1, which has no interface roles."""

    module: str
    role: str | None
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerLink:
    """Everything a credentials handshake learns about a partner, stored whole on each update."""

    version: str
    versions_url: str
    token: str = field(repr=False)  # the partner's token for calling it (their Token B or C)
    encoding: TokenEncoding
    roles: tuple[PartyRole, ...]
    endpoints: tuple[PartnerEndpoint, ...]

    def endpoint(self, module: str, role: str | None = None) -> PartnerEndpoint | None:
        """The partner's endpoint for ``module`` (and interface ``role`` when given and known)."""
        for ep in self.endpoints:
            if ep.module == module and (role is None or ep.role in (None, role)):
                return ep
        return None

    def hosts(self) -> frozenset[str]:
        """The hosts the partner registered: where we may send its token, and nowhere else."""
        urls = [self.versions_url, *(ep.url for ep in self.endpoints)]
        return frozenset(host for url in urls if (host := urlsplit(url).hostname))


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerRecord:
    """A partner as stored: its name, state, what we learned, and our roles it may address."""

    id: int
    name: str
    state: PartnerState
    link: PartnerLink | None  # None until a pending registration completes
    our_roles: tuple[PartyRole, ...]
    created_at: datetime
    updated_at: datetime

    @property
    def roles(self) -> tuple[PartyRole, ...]:
        return self.link.roles if self.link is not None else ()

    def owns(self, country_code: str, party_id: str) -> bool:
        """Whether the partner registered ``country_code``/``party_id`` as one of its roles."""
        return any(r.is_party(country_code, party_id) for r in self.roles)


@dataclass(frozen=True, slots=True, kw_only=True)
class InvitationRecord:
    """A Token A we issued: who it is for, until when, and whether a registration holds it."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None = None  # a registration is using it right now (or crashed)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenMatch:
    """What a presented token opened: a partner (through one of its tokens) or an invitation."""

    partner: PartnerRecord | None = None
    token_id: int | None = None
    invitation: InvitationRecord | None = None
