"""Pure: 2.1.1 Tokens <-> the 2.2.1 Tokens the token store keeps; 2.1.1 authorize answers.

The store keeps every partner's tokens in the 2.2.1 shape (``translate.tokens``). A 2.1.1
Token has no ``country_code``/``party_id`` (the URL or the partner's credentials name the
owner), ``auth_id`` where 2.2.1 has ``contract_id``, only the types RFID and OTHER, and a
PATCH may omit ``last_updated``. A 2.1.1 AuthorizationInfo carries neither the token nor
an ``authorization_reference``: the caller supplies the reference the decision is kept
under, so the Session still says the eMSP authorised it (AUTH_REQUEST).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ocpi_bridge.models.tokens import Token, TokenPatch, TokenType
from ocpi_bridge.models.v211 import (
    V211AuthorizationInfo,
    V211Token,
    V211TokenPatch,
    V211TokenType,
)
from ocpi_bridge.translate.authorization import Answered
from ocpi_bridge.translate.v211 import NotExpressibleError

TOKEN_TYPE: Mapping[V211TokenType, TokenType] = {
    V211TokenType.RFID: TokenType.RFID,
    V211TokenType.OTHER: TokenType.OTHER,
}
"""2.1.1 token types as stored; 2.2.1's APP_USER and AD_HOC_USER have no 2.1.1 form."""


def from_v211_token(token: V211Token, *, country_code: str, party_id: str) -> Token:
    """The stored form of a 2.1.1 Token owned by ``country_code``/``party_id``."""
    return Token(
        country_code=country_code,
        party_id=party_id,
        uid=token.uid,
        type=TOKEN_TYPE[token.type],
        contract_id=token.auth_id,
        visual_number=token.visual_number,
        issuer=token.issuer,
        valid=token.valid,
        whitelist=token.whitelist,
        language=token.language,
        last_updated=token.last_updated,
    )


def from_v211_patch(patch: V211TokenPatch, *, received_at: datetime) -> TokenPatch:
    """A 2.1.1 PATCH as a 2.2.1 one: only the fields it names; ``last_updated`` if absent.

    2.1.1 lets a PATCH leave ``last_updated`` out; the stored token then changed when the
    PATCH arrived, which keeps later pulls from overwriting it with an older state.
    """
    named = patch.model_dump(exclude_unset=True)
    fields: dict[str, object] = {
        ("contract_id" if name == "auth_id" else name): value for name, value in named.items()
    }
    if patch.type is not None:
        fields["type"] = TOKEN_TYPE[patch.type]
    if patch.last_updated is None:
        fields["last_updated"] = received_at
    return TokenPatch.model_validate(fields)


def to_v211_token(token: Token) -> V211Token:
    """A stored Token as 2.1.1 shows it; :class:`NotExpressibleError` for a 2.2.1-only type."""
    types = {stored: v211 for v211, stored in TOKEN_TYPE.items()}
    if token.type not in types:
        raise NotExpressibleError(f"token type {token.type.value} does not exist in 2.1.1")
    return V211Token(
        uid=token.uid,
        type=types[token.type],
        auth_id=token.contract_id,
        visual_number=token.visual_number,
        issuer=token.issuer,
        valid=token.valid,
        whitelist=token.whitelist,
        language=token.language,
        last_updated=token.last_updated,
    )


def read_v211_answer(data: object, *, reference: str) -> Answered | None:
    """A 2.1.1 authorize answer's ``data`` as an outcome kept under ``reference``.

    ``None`` when it is not an AuthorizationInfo.
    """
    try:
        info = V211AuthorizationInfo.model_validate(data)
    except ValueError:  # pydantic.ValidationError is a ValueError
        return None
    location = info.location
    evses = None if location is None or location.evse_uids is None else tuple(location.evse_uids)
    return Answered(allowed=info.allowed, authorization_reference=reference, evse_uids=evses)
