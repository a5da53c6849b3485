"""Adapter: the credentials endpoint (credentials.asciidoc), for 2.2.1 and 2.1.1 partners.

- GET: our credentials for the caller. Tokens we issue are stored only as keyed
  digests (R-OCPI-AUTH-2), so the ``token`` returned is the one the caller presented:
  it already knows it, and nothing else is ever readable back.
- POST (Token A only): register; HTTP 405 for a caller already registered.
- PUT (registered partners): fetch its endpoints again, take its new token, issue ours;
  the old token is retired once the answer has been handed to the still-connected
  client, or when the new token is first used (see ``ocpi_bridge.registrar``).
- DELETE (registered partners): unregister; HTTP 405 for anyone else.

Handshake failures answer HTTP 200 with OCPI 3001/3002/3003; nothing is stored then.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import CallerDep, ContextDep, read_body
from ocpi_bridge.api.envelope import documented, envelope, respond
from ocpi_bridge.models.credentials import Credentials
from ocpi_bridge.models.v211 import V211Credentials
from ocpi_bridge.parties import Caller, Invitee, Party
from ocpi_bridge.status import MethodNotAllowedError
from ocpi_bridge.translate.registration import (
    V211,
    V221,
    Offer,
    from_credentials,
    from_v211_credentials,
    to_credentials,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ocpi", tags=["credentials"])


class DeliveryConfirmingResponse(JSONResponse):
    """Runs ``on_delivered`` after the body was handed to a client that was still there.

    The server cannot know the bytes arrived; what it can know is that the client had not
    gone away (its connection closed) before the answer was sent, and that sending
    raised no error. Anything less leaves the partner's old token valid.
    """

    def __init__(self, content: Any, *, on_delivered: Callable[[], Awaitable[None]]) -> None:
        super().__init__(content)
        self._on_delivered = on_delivered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = await Request(scope, receive).is_disconnected()
        await super().__call__(scope, receive, send)
        if gone:
            log.warning("the client left before its new token was sent; the old one stays valid")
            return
        try:
            await self._on_delivered()
        except Exception:
            log.exception("could not retire the old token after a rotation; both stay valid")


async def _offer(request: Request, version: str) -> Offer:
    if version == V211:
        return from_v211_credentials(await read_body(request, V211Credentials))
    return from_credentials(await read_body(request, Credentials))


def _ours(ctx: OcpiContext, token: str, version: str) -> dict[str, Any]:
    return to_credentials(ctx.registrar.identity, token, version)


async def _get(ctx: OcpiContext, caller: Caller, version: str) -> JSONResponse:
    return respond(_ours(ctx, caller.token, version))


async def _post(request: Request, ctx: OcpiContext, caller: Caller, version: str) -> JSONResponse:
    if isinstance(caller, Party):
        raise MethodNotAllowedError(
            "already registered: PUT updates the credentials, DELETE unregisters"
        )
    offer = await _offer(request, version)
    token = await ctx.registrar.accept_registration(caller, offer, version=version)
    return respond(_ours(ctx, token, version))


def _registered(caller: Caller) -> Party:
    if isinstance(caller, Invitee) or not caller.registered or caller.record is None:
        raise MethodNotAllowedError("not registered: POST registers")
    return caller


async def _put(request: Request, ctx: OcpiContext, caller: Caller, version: str) -> JSONResponse:
    party = _registered(caller)
    offer = await _offer(request, version)
    token, token_id = await ctx.registrar.accept_update(party, offer, version=version)

    async def retire_old_token() -> None:
        await ctx.registrar.delivered(token_id)

    return DeliveryConfirmingResponse(
        envelope(_ours(ctx, token, version)), on_delivered=retire_old_token
    )


async def _delete(ctx: OcpiContext, caller: Caller) -> JSONResponse:
    await ctx.registrar.accept_unregister(_registered(caller))
    return respond()


# One set of handlers per version; only the Credentials object's shape differs.


@router.get("/2.2.1/credentials", **documented(Credentials))
async def get_221(ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _get(ctx, caller, V221)


@router.post("/2.2.1/credentials", **documented(Credentials, body=Credentials))
async def post_221(request: Request, ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _post(request, ctx, caller, V221)


@router.put("/2.2.1/credentials", **documented(Credentials, body=Credentials))
async def put_221(request: Request, ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _put(request, ctx, caller, V221)


@router.delete("/2.2.1/credentials", **documented())
async def delete_221(ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _delete(ctx, caller)


@router.get("/2.1.1/credentials", **documented(V211Credentials))
async def get_211(ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _get(ctx, caller, V211)


@router.post("/2.1.1/credentials", **documented(V211Credentials, body=V211Credentials))
async def post_211(request: Request, ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _post(request, ctx, caller, V211)


@router.put("/2.1.1/credentials", **documented(V211Credentials, body=V211Credentials))
async def put_211(request: Request, ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _put(request, ctx, caller, V211)


@router.delete("/2.1.1/credentials", **documented())
async def delete_211(ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return await _delete(ctx, caller)
