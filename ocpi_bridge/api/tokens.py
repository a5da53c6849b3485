"""Adapter: the Tokens receiver interface (mod_tokens §Receiver Interface), CPO side.

``/ocpi/2.2.1/tokens/{country_code}/{party_id}/{token_uid}[?type=...]`` (type RFID when
omitted): GET what we hold, PUT a whole Token, PATCH some fields (always with
``last_updated``). The caller must own ``country_code``/``party_id`` (else HTTP 404), and
the ids in a body must be the URL's (else 2001). A push is the owner's latest word and
always applies; a PATCH of a token we do not hold is HTTP 404 / 2004, so the eMSP PUTs it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import ContextDep, PartyDep, read_body, require_owner, require_same_id
from ocpi_bridge.api.envelope import describe_errors, documented, respond
from ocpi_bridge.models.tokens import Token, TokenPatch, TokenType
from ocpi_bridge.status import InvalidParametersError, ServerError, UnknownTokenError
from ocpi_bridge.tokens import TokenCache
from ocpi_bridge.translate.tokens import patched

router = APIRouter(prefix="/ocpi/2.2.1/tokens", tags=["tokens"])

Country = Annotated[str, Path(min_length=2, max_length=2, pattern=r"^[\x21-\x7e]+$")]
Party = Annotated[str, Path(min_length=3, max_length=3, pattern=r"^[\x21-\x7e]+$")]
Uid = Annotated[str, Path(max_length=36, pattern=r"^[\x20-\x7e]+$")]


def _cache(ctx: OcpiContext) -> TokenCache:
    if ctx.tokens is None:
        raise ServerError("the tokens module is not available")
    return ctx.tokens


def _type(request: Request) -> TokenType:
    given = request.query_params.get("type")
    if given is None:
        return TokenType.RFID
    try:
        return TokenType(given)
    except ValueError:
        raise InvalidParametersError(f"type: not a TokenType: {given[:20]!r}") from None


def _check_ids(
    token: Token | TokenPatch, country_code: str, party_id: str, uid: str, type_: TokenType
) -> None:
    if token.country_code is not None:
        require_same_id("country_code", country_code, token.country_code)
    if token.party_id is not None:
        require_same_id("party_id", party_id, token.party_id)
    if token.uid is not None:
        require_same_id("uid", uid, token.uid)
    if token.type is not None and token.type is not type_:
        raise InvalidParametersError(
            f"type: {token.type.value} in the body, {type_.value} in the URL"
        )


def _dump(token: Token) -> object:
    return token.model_dump(mode="json", exclude_none=True)


@router.get("/{country_code}/{party_id}/{token_uid}", **documented(Token))
async def get_token(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    require_owner(party, country_code, party_id)
    token = await _cache(ctx).get(country_code, party_id, token_uid, _type(request).value)
    if token is None:
        raise UnknownTokenError(f"no token {token_uid!r} of that type")
    return respond(_dump(token))


@router.put("/{country_code}/{party_id}/{token_uid}", **documented(body=Token))
async def put_token(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    require_owner(party, country_code, party_id)
    type_ = _type(request)
    token = await read_body(request, Token)
    _check_ids(token, country_code, party_id, token_uid, type_)
    created = await _cache(ctx).put(token)
    return respond(http_status=201 if created else 200)


@router.patch("/{country_code}/{party_id}/{token_uid}", **documented(body=TokenPatch))
async def patch_token(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    require_owner(party, country_code, party_id)
    type_ = _type(request)
    patch = await read_body(request, TokenPatch)
    _check_ids(patch, country_code, party_id, token_uid, type_)
    cache = _cache(ctx)
    stored = await cache.get(country_code, party_id, token_uid, type_.value)
    if stored is None:
        raise UnknownTokenError(f"no token {token_uid!r} of that type; PUT it first")
    try:
        token = patched(stored, patch)
    except ValidationError as exc:
        raise InvalidParametersError(describe_errors(exc.errors())) from None
    await cache.put(token)
    return respond()
