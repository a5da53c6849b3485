"""Who is calling: the partners and Token A holders the platform knows, found by their token.

R-OCPI-AUTH-1: 2.2.1 sends ``Authorization: Token <base64(token)>``; 2.1.1 (and many 2.2
implementations) send the raw token. The header is parsed strictly: one space after
``Token``, Base64 without stray whitespace, and a decoded token of printable ASCII only,
so ``...Cg==`` (a token with a trailing newline) never matches a token without one.

Each registered partner is held to the encoding it registered with (remembered per
partner): a partner that sent Base64 gets 401 for the raw token, and the other way
round. Token A holders, partners whose registration with us is still running, and
partners listed in ``config.toml`` may use either.

A Token A opens only versions and credentials (the caller is an :class:`Invitee`); the
functional modules demand a registered :class:`Party` (``api.deps.PartyDep``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from gateway.config import StaticPartner
from gateway.domain.partners import (
    InvitationRecord,
    PartnerRecord,
    PartnerState,
    PartyRole,
    TokenEncoding,
)
from gateway.ports import Clock
from ocpi_bridge.ports import PartnerStore

_TOKEN = re.compile(r"^[\x21-\x7e]{1,64}$")  # credentials string(64), printable, no spaces
_PRESENTED = re.compile(r"^[\x21-\x7e]{1,88}$")  # 88: Base64 of 64 bytes

#: A registration that has not finished after this long was interrupted (a crash, a
#: lost connection): its pending state no longer blocks a new attempt.
PENDING_TTL = timedelta(minutes=5)


def generate_token() -> str:
    """A fresh credentials token: 43 URL-safe characters (256 bits of randomness).

    43 characters are never valid padded Base64, so a raw token can never be mistaken
    for an encoded one when a header is read both ways.
    """
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """An authenticated partner: the roles it may act as, and which of ours it may address."""

    name: str
    roles: tuple[PartyRole, ...]
    our_roles: tuple[PartyRole, ...]
    token: str = field(repr=False)  # the token this request presented
    record: PartnerRecord | None = None  # None for partners listed in config.toml
    token_id: int | None = None
    registered: bool = True  # False while we are registering with it

    @property
    def country_code(self) -> str:
        return self.roles[0].country_code

    @property
    def party_id(self) -> str:
        return self.roles[0].party_id

    def owns(self, country_code: str, party_id: str) -> bool:
        """Whether ``country_code``/``party_id`` is one of the caller's registered roles."""
        return any(r.is_party(country_code, party_id) for r in self.roles)


@dataclass(frozen=True, slots=True, kw_only=True)
class Invitee:
    """The holder of a Token A: it may read our versions and register, nothing else."""

    invitation: InvitationRecord
    encoding: TokenEncoding  # how it sent Token A: how it will send Token C
    token: str = field(repr=False)


Caller = Party | Invitee


class PartyDirectory(Protocol):
    """Finds who a request's ``Authorization`` header belongs to."""

    def authenticate(self, header: str | None) -> Caller | None: ...


def token_candidates(header: str | None) -> list[tuple[str, TokenEncoding]]:
    """The tokens an ``Authorization`` header may carry: decoded Base64 first, then raw."""
    if header is None or not header.startswith("Token ") or header.startswith("Token  "):
        return []
    presented = header[len("Token ") :]
    if not _PRESENTED.fullmatch(presented):
        return []
    candidates: list[tuple[str, TokenEncoding]] = []
    try:
        decoded = base64.b64decode(presented, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if _TOKEN.fullmatch(decoded):
        candidates.append((decoded, TokenEncoding.BASE64))
    if _TOKEN.fullmatch(presented):
        candidates.append((presented, TokenEncoding.RAW))
    return candidates


class StaticParties:
    """Partners whose tokens were exchanged out of band, listed in ``config.toml``."""

    def __init__(self, partners: Iterable[StaticPartner], *, us: PartyRole) -> None:
        self._partners = tuple(partners)
        self._us = us

    def authenticate(self, header: str | None) -> Party | None:
        for token, _ in token_candidates(header):
            party = self.by_token(token)
            if party is not None:
                return party
        return None

    def by_token(self, token: str) -> Party | None:
        found = None
        for p in self._partners:
            # Compare with every entry, so the time taken does not tell which one matched.
            if hmac.compare_digest(p.token.encode(), token.encode()) and found is None:
                found = Party(
                    name=p.name,
                    roles=(
                        PartyRole(
                            role="EMSP",
                            country_code=p.country_code,
                            party_id=p.party_id,
                            name=p.name,
                        ),
                    ),
                    our_roles=(self._us,),
                    token=token,
                )
        return found

    def claims(self, role: PartyRole) -> bool:
        """Whether a configured partner already is ``role``'s country and party."""
        return any(role.is_party(p.country_code, p.party_id) for p in self._partners)


class Directory:
    """Configured partners, then registered partners and open invitations from the store."""

    def __init__(
        self, store: PartnerStore, *, static: StaticParties, us: PartyRole, clock: Clock
    ) -> None:
        self._store = store
        self._static = static
        self._us = us
        self._clock = clock

    def authenticate(self, header: str | None) -> Caller | None:
        now = self._clock()
        for token, encoding in token_candidates(header):
            party = self._static.by_token(token)
            if party is not None:
                return party
            match = self._store.match_token(token, now=now, stale_before=now - PENDING_TTL)
            if match is None:
                continue
            if match.invitation is not None:
                return Invitee(invitation=match.invitation, encoding=encoding, token=token)
            partner = match.partner
            assert partner is not None  # noqa: S101 - a match is a partner or an invitation
            registered = partner.state is PartnerState.REGISTERED
            if registered and partner.link is not None and partner.link.encoding is not encoding:
                continue  # the right token in the wrong encoding for this partner
            return Party(
                name=partner.name,
                roles=partner.roles,
                our_roles=partner.our_roles or (self._us,),
                token=token,
                record=partner,
                token_id=match.token_id,
                registered=registered,
            )
        return None
