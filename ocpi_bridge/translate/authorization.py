"""Pure: the Tokens whitelist rules (mod_tokens WhitelistType) -> an authorisation verdict.

The adapter (``ocpi_bridge.authorization``) finds the token, asks the eMSP when these
rules say so, and feeds what happened back in here:

- ``ALWAYS``: decided from the stored token; real-time is not allowed.
- ``ALLOWED``, ``ALLOWED_OFFLINE``, ``NEVER``: the eMSP is asked first. When it gives no
  usable answer (unreachable, too slow, garbage, an error status), ``ALLOWED`` and
  ``ALLOWED_OFFLINE`` fall back to the stored token and ``NEVER`` refuses.
- ``valid = false`` does not skip real-time (RELIABILITY.md §1.10): the eMSP may have
  changed its mind. Without an answer, an invalid token is refused whatever its
  whitelist: the partner said so, and the site's internet being down does not undo it.

A token's uid is matched whole and case-insensitively; a 20-character value (the OCPP 1.6
idTag width) also matches a longer uid that begins with it, unless two such uids do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from gateway.config import LocationSettings
from gateway.domain.authorization import AuthStatus
from gateway.domain.ids import ChargerId
from gateway.domain.tokens import ID_TAG_WIDTH, uid_key
from gateway.domain.transactions import AuthToken, TokenKind
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.tokens import (
    AllowedType,
    AuthorizationInfo,
    LocationReferences,
    Token,
    TokenType,
    WhitelistType,
)

#: The OCPI token types a presented token most likely is, best first; others follow.
PREFERRED_TYPES: Mapping[TokenKind, tuple[TokenType, ...]] = {
    TokenKind.RFID: (TokenType.RFID, TokenType.OTHER),
    TokenKind.CENTRAL: (TokenType.APP_USER, TokenType.AD_HOC_USER, TokenType.OTHER),
}

#: An eMSP's real-time answer -> what the charger is told.
ALLOWED_STATUS: Mapping[AllowedType, AuthStatus] = {
    AllowedType.ALLOWED: AuthStatus.ACCEPTED,
    AllowedType.BLOCKED: AuthStatus.BLOCKED,
    AllowedType.EXPIRED: AuthStatus.EXPIRED,
    AllowedType.NO_CREDIT: AuthStatus.INVALID,
    AllowedType.NOT_ALLOWED: AuthStatus.INVALID,
}

#: How a partner's token type is presented at a charger (and sent in local lists).
TOKEN_KIND: Mapping[TokenType, TokenKind] = {
    TokenType.RFID: TokenKind.RFID,
    TokenType.APP_USER: TokenKind.CENTRAL,
    TokenType.AD_HOC_USER: TokenKind.CENTRAL,
    TokenType.OTHER: TokenKind.OTHER,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    """The eMSP answered the real-time request with an AuthorizationInfo."""

    allowed: AllowedType
    authorization_reference: str | None = None
    evse_uids: tuple[str, ...] | None = None  # where it may charge, when the eMSP says


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownToken:
    """The eMSP does not know the token (HTTP 404 / OCPI 2004): a definite no."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NoAnswer:
    """No usable answer: unreachable, too slow, garbage, or an error status."""

    reason: str


RealtimeOutcome = Answered | UnknownToken | NoAnswer


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What to tell the charger, and whether the eMSP decided it (``auth_method``)."""

    status: AuthStatus
    realtime: bool
    reference: str | None = None
    reason: str


def choose_token(candidates: Iterable[Token], presented: AuthToken) -> Token | None:
    """The stored token a presented value stands for, if exactly one fits best.

    Whole-uid matches win over 1.6-truncated ones; then the types the presented kind
    suggests, valid tokens, and the most recently updated. Truncated matches of two
    different uids are ambiguous: neither is chosen.
    """
    key = uid_key(presented.value)
    whole = [t for t in candidates if uid_key(t.uid) == key]
    if not whole:
        cut = [
            t
            for t in candidates
            if len(key) == ID_TAG_WIDTH
            and len(t.uid) > ID_TAG_WIDTH
            and uid_key(t.uid)[:ID_TAG_WIDTH] == key
        ]
        if len({uid_key(t.uid) for t in cut}) != 1:
            return None
        whole = cut
    preferred = PREFERRED_TYPES.get(presented.kind, ())

    def rank(t: Token) -> tuple[int, bool, datetime]:
        place = preferred.index(t.type) if t.type in preferred else len(preferred)
        return (-place, t.valid, t.last_updated)

    return max(whole, key=rank)


def needs_realtime(token: Token) -> bool:
    """Whether the eMSP is asked before deciding (every whitelist but ALWAYS)."""
    return token.whitelist is not WhitelistType.ALWAYS


def decide(token: Token, outcome: RealtimeOutcome | None, *, evse_uid: str | None) -> Verdict:
    """The verdict for ``token`` given the real-time outcome (``None``: none was asked)."""
    match outcome:
        case Answered(allowed=allowed, authorization_reference=reference, evse_uids=evses):
            status = ALLOWED_STATUS[allowed]
            reason = f"eMSP answered {allowed.value}"
            if (
                status is AuthStatus.ACCEPTED
                and evse_uid is not None
                and evses is not None
                and uid_key(evse_uid) not in {uid_key(e) for e in evses}
            ):
                status, reason = AuthStatus.INVALID, "eMSP allows other EVSEs only"
            return Verdict(status=status, realtime=True, reference=reference, reason=reason)
        case UnknownToken():
            return Verdict(status=AuthStatus.INVALID, realtime=True, reason="unknown to the eMSP")
        case NoAnswer(reason=why) if token.whitelist is WhitelistType.NEVER:
            return Verdict(status=AuthStatus.INVALID, realtime=False, reason=f"NEVER: {why}")
        case NoAnswer(reason=why):
            return _local(token, f"{token.whitelist.value} without an answer: {why}")
        case None:
            return _local(token, f"{token.whitelist.value}: whitelisted")
    assert_never(outcome)


def _local(token: Token, reason: str) -> Verdict:
    status = AuthStatus.ACCEPTED if token.valid else AuthStatus.BLOCKED
    return Verdict(status=status, realtime=False, reason=reason)


def read_answer(data: object) -> tuple[Answered, Token] | None:
    """An authorize answer's ``data`` as (outcome, the token it carries); ``None`` if unusable."""
    try:
        info = AuthorizationInfo.model_validate(data)
    except ValueError:  # pydantic.ValidationError is a ValueError
        return None
    location = info.location
    evses = None if location is None or location.evse_uids is None else tuple(location.evse_uids)
    answered = Answered(
        allowed=info.allowed, authorization_reference=info.authorization_reference, evse_uids=evses
    )
    return answered, info.token


def location_references(
    locations: Sequence[LocationSettings], charger_id: ChargerId, evse_uid: str | None
) -> LocationReferences | None:
    """Where the token is to be used: the EVSE, or every EVSE of the charger at its Location.

    Unpublished Locations are named too: the eMSP is expected to allow them (mod_tokens).
    """
    for location in locations:
        if evse_uid is not None:
            evses = [e.uid for e in location.evses if uid_key(e.uid) == uid_key(evse_uid)]
        else:
            evses = [e.uid for e in location.evses if e.charger == charger_id]
        if evses:
            return LocationReferences(location_id=location.id, evse_uids=evses)
    return None


def auth_method(auth_reference: str | None) -> AuthMethod:
    """How a session was authorised, as far as its transaction remembers.

    Only real-time answers carry an ``authorization_reference``; an answer without one
    is indistinguishable from a whitelist decision afterwards.
    """
    return AuthMethod.WHITELIST if auth_reference is None else AuthMethod.AUTH_REQUEST
