"""Who issued a token, from ``config.toml`` (``TokenBook`` implementations).

The OCPI Tokens module answers this for tokens partners push to us; until it does (and
for partners that do not push tokens), ``[[ocpi.partner_tokens]]`` lists token uids and
the partner that issued them. ``NoTokenBook`` knows no token at all: every session is
then local and goes to no partner.
"""

from __future__ import annotations

from gateway.config import PartnerToken
from gateway.domain.transactions import AuthToken
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.ports import TokenBook
from ocpi_bridge.translate.sessions import TokenIdentity


class NoTokenBook:
    """No partner issued any token."""

    def identity(
        self, token: AuthToken, *, auth_source: str | None, auth_reference: str | None
    ) -> TokenIdentity | None:
        return None


class ConfiguredTokens:
    """Tokens listed in the configuration; uids compare case-insensitively (CiString)."""

    def __init__(self, tokens: tuple[PartnerToken, ...]) -> None:
        self._by_uid = {t.uid.upper(): t for t in tokens}

    def identity(
        self, token: AuthToken, *, auth_source: str | None, auth_reference: str | None
    ) -> TokenIdentity | None:
        listed = self._by_uid.get(token.value.upper())
        if listed is None:
            return None
        return TokenIdentity(
            country_code=listed.country_code,
            party_id=listed.party_id,
            uid=listed.uid,
            type=TokenType(listed.type),
            contract_id=listed.contract_id,
            auth_method=AuthMethod.WHITELIST,
            authorization_reference=auth_reference,
        )


class FirstTokenBook:
    """Asks several books in turn; the first that knows the token answers."""

    def __init__(self, *books: TokenBook) -> None:
        self._books = books

    def identity(
        self, token: AuthToken, *, auth_source: str | None, auth_reference: str | None
    ) -> TokenIdentity | None:
        for book in self._books:
            found = book.identity(token, auth_source=auth_source, auth_reference=auth_reference)
            if found is not None:
                return found
        return None
