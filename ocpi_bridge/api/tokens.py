"""Adapter: the Tokens receiver interface (mod_tokens §Receiver Interface), CPO side.

``/ocpi/{version}/tokens/{country_code}/{party_id}/{token_uid}[?type=...]`` (type RFID
when omitted): GET what we hold, PUT a whole Token, PATCH some fields. The caller must
own ``country_code``/``party_id`` (else HTTP 404), and the ids in a body must be the
URL's (else 2001). A push is the owner's latest word and always applies; a PATCH of a
token we do not hold is HTTP 404 / 2004, so the eMSP PUTs it.

2.2.1 and 2.1.1 share the handlers; a *token wire* (:class:`Wire221`, :class:`Wire211`)
reads and shows the version's shape. 2.1.1 Tokens are stored as 2.2.1 ones, owned by the
URL's party (``translate.v211_tokens``); a 2.1.1 PATCH needs no ``last_updated``.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import (
    ContextDep,
    Party211Dep,
    PartyDep,
    read_body,
    require_owner,
    require_same_id,
)
from ocpi_bridge.api.envelope import describe_errors, documented, respond
from ocpi_bridge.models.tokens import Token, TokenPatch, TokenType
from ocpi_bridge.models.v211 import V211Token, V211TokenPatch, V211TokenType
from ocpi_bridge.parties import Party as Partner
from ocpi_bridge.status import InvalidParametersError, ServerError, UnknownTokenError
from ocpi_bridge.tokens import TokenCache
from ocpi_bridge.translate.tokens import patched
from ocpi_bridge.translate.v211 import NotExpressibleError
from ocpi_bridge.translate.v211_tokens import (
    TOKEN_TYPE,
    from_v211_patch,
    from_v211_token,
    to_v211_token,
)

router = APIRouter(prefix="/ocpi/2.2.1/tokens", tags=["tokens"])
router_211 = APIRouter(prefix="/ocpi/2.1.1/tokens", tags=["tokens 2.1.1"])

Country = Annotated[str, Path(min_length=2, max_length=2, pattern=r"^[\x21-\x7e]+$")]
Party = Annotated[str, Path(min_length=3, max_length=3, pattern=r"^[\x21-\x7e]+$")]
Uid = Annotated[str, Path(max_length=36, pattern=r"^[\x20-\x7e]+$")]
_OBJECT = "/{country_code}/{party_id}/{token_uid}"


class TokenWire(Protocol):
    """One OCPI version's Token shape: read from a body, shown in a GET."""

    def type_of(self, given: str) -> TokenType: ...

    async def token(self, request: Request, country_code: str, party_id: str) -> Token: ...

    async def patch(self, request: Request, ctx: OcpiContext) -> TokenPatch: ...

    def show(self, token: Token) -> object: ...


class Wire221:
    """OCPI 2.2.1: Tokens as stored."""

    def type_of(self, given: str) -> TokenType:
        return TokenType(given)

    async def token(self, request: Request, country_code: str, party_id: str) -> Token:
        return await read_body(request, Token)

    async def patch(self, request: Request, ctx: OcpiContext) -> TokenPatch:
        return await read_body(request, TokenPatch)

    def show(self, token: Token) -> object:
        return token.model_dump(mode="json", exclude_none=True)


class Wire211:
    """OCPI 2.1.1: ``auth_id``, no owner fields, RFID and OTHER only."""

    def type_of(self, given: str) -> TokenType:
        return TOKEN_TYPE[V211TokenType(given)]

    async def token(self, request: Request, country_code: str, party_id: str) -> Token:
        body = await read_body(request, V211Token)
        return from_v211_token(body, country_code=country_code, party_id=party_id)

    async def patch(self, request: Request, ctx: OcpiContext) -> TokenPatch:
        return from_v211_patch(await read_body(request, V211TokenPatch), received_at=ctx.clock())

    def show(self, token: Token) -> object:
        try:
            return to_v211_token(token).model_dump(mode="json", exclude_none=True)
        except NotExpressibleError as exc:  # a 2.1.1 URL type cannot name one; kept safe
            raise UnknownTokenError(str(exc)) from None


def _cache(ctx: OcpiContext) -> TokenCache:
    if ctx.tokens is None:
        raise ServerError("the tokens module is not available")
    return ctx.tokens


def _type(request: Request, wire: TokenWire) -> TokenType:
    given = request.query_params.get("type")
    if given is None:
        return TokenType.RFID
    try:
        return wire.type_of(given)
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


async def _get(
    request: Request, ctx: OcpiContext, party: Partner, ids: tuple[str, str, str], wire: TokenWire
) -> JSONResponse:
    country_code, party_id, token_uid = ids
    require_owner(party, country_code, party_id)
    type_ = _type(request, wire)
    token = await _cache(ctx).get(country_code, party_id, token_uid, type_.value)
    if token is None:
        raise UnknownTokenError(f"no token {token_uid!r} of that type")
    return respond(wire.show(token))


async def _put(
    request: Request, ctx: OcpiContext, party: Partner, ids: tuple[str, str, str], wire: TokenWire
) -> JSONResponse:
    country_code, party_id, token_uid = ids
    require_owner(party, country_code, party_id)
    type_ = _type(request, wire)
    token = await wire.token(request, country_code, party_id)
    _check_ids(token, country_code, party_id, token_uid, type_)
    created = await _cache(ctx).put(token)
    return respond(http_status=201 if created else 200)


async def _patch(
    request: Request, ctx: OcpiContext, party: Partner, ids: tuple[str, str, str], wire: TokenWire
) -> JSONResponse:
    country_code, party_id, token_uid = ids
    require_owner(party, country_code, party_id)
    type_ = _type(request, wire)
    patch = await wire.patch(request, ctx)
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


# --- 2.2.1 ---------------------------------------------------------------------------


@router.get(_OBJECT, **documented(Token))
async def get_token(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    return await _get(request, ctx, party, (country_code, party_id, token_uid), Wire221())


@router.put(_OBJECT, **documented(body=Token))
async def put_token(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    return await _put(request, ctx, party, (country_code, party_id, token_uid), Wire221())


@router.patch(_OBJECT, **documented(body=TokenPatch))
async def patch_token(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    return await _patch(request, ctx, party, (country_code, party_id, token_uid), Wire221())


# --- 2.1.1 ---------------------------------------------------------------------------


@router_211.get(_OBJECT, **documented(V211Token))
async def get_token_211(
    request: Request,
    ctx: ContextDep,
    party: Party211Dep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    return await _get(request, ctx, party, (country_code, party_id, token_uid), Wire211())


@router_211.put(_OBJECT, **documented(body=V211Token))
async def put_token_211(
    request: Request,
    ctx: ContextDep,
    party: Party211Dep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    return await _put(request, ctx, party, (country_code, party_id, token_uid), Wire211())


@router_211.patch(_OBJECT, **documented(body=V211TokenPatch))
async def patch_token_211(
    request: Request,
    ctx: ContextDep,
    party: Party211Dep,
    country_code: Country,
    party_id: Party,
    token_uid: Uid,
) -> JSONResponse:
    return await _patch(request, ctx, party, (country_code, party_id, token_uid), Wire211())
