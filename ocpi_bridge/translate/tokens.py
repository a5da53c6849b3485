"""Pure: OCPI Token objects <-> the records the token store keeps, and PATCH merging."""

from __future__ import annotations

import json
from typing import Any

from gateway.domain.tokens import StoredToken
from ocpi_bridge.models.tokens import Token, TokenPatch


def to_stored(token: Token) -> StoredToken:
    """The store's record of ``token``: its key, look-up columns and the JSON itself."""
    return StoredToken(
        country_code=token.country_code,
        party_id=token.party_id,
        uid=token.uid,
        type=token.type.value,
        whitelist=token.whitelist.value,
        valid=token.valid,
        last_updated=token.last_updated,
        doc=json.dumps(_json(token), separators=(",", ":")),
    )


def from_stored(stored: StoredToken) -> Token:
    return Token.model_validate_json(stored.doc)


def patched(token: Token, patch: TokenPatch) -> Token:
    """``token`` with the fields the PATCH names replaced (mod_tokens §PATCH).

    A field the PATCH sets to ``null`` is cleared; clearing a required field, or any
    other result that is not a valid Token, raises ``pydantic.ValidationError``.
    """
    merged = {**_json(token), **patch.model_dump(mode="json", exclude_unset=True)}
    return Token.model_validate({k: v for k, v in merged.items() if v is not None})


def _json(token: Token) -> dict[str, Any]:
    return token.model_dump(mode="json", exclude_none=True)
