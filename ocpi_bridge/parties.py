"""Who is calling: the partners the platform knows, found by the token they present.

R-OCPI-AUTH-1: 2.2.1 sends ``Authorization: Token <base64(token)>``; 2.1.1 (and many 2.2
implementations) send the raw token. The header is parsed strictly: one space after
``Token``, Base64 without stray whitespace, and a decoded token of printable ASCII only,
so ``...Cg==`` (a token with a trailing newline) never matches a token without one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gateway.config import StaticPartner

_TOKEN = re.compile(r"^[\x21-\x7e]{1,64}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """An authenticated caller: the roles it may act as, and how it encodes tokens."""

    name: str
    country_code: str
    party_id: str
    base64_tokens: bool = True

    def owns(self, country_code: str, party_id: str) -> bool:
        return (
            country_code.upper() == self.country_code.upper()
            and party_id.upper() == self.party_id.upper()
        )


class PartyDirectory(Protocol):
    """Finds the party a presented token belongs to."""

    def by_token(self, token: str) -> Party | None: ...


def token_candidates(header: str | None) -> list[str]:
    """The tokens an ``Authorization`` header may carry: decoded Base64 first, then raw."""
    if header is None or not header.startswith("Token ") or header.startswith("Token  "):
        return []
    presented = header[len("Token ") :]
    if not _TOKEN.fullmatch(presented):
        return []
    candidates: list[str] = []
    try:
        decoded = base64.b64decode(presented, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if _TOKEN.fullmatch(decoded):
        candidates.append(decoded)
    candidates.append(presented)
    return candidates


class StaticParties:
    """Partners whose tokens were exchanged out of band, listed in ``config.toml``."""

    def __init__(self, partners: Iterable[StaticPartner]) -> None:
        self._partners = tuple(partners)

    def by_token(self, token: str) -> Party | None:
        for p in self._partners:
            if hmac.compare_digest(p.token.encode(), token.encode()):
                return Party(name=p.name, country_code=p.country_code, party_id=p.party_id)
        return None
