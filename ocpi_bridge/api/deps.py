"""Adapter: FastAPI dependencies: the context, the authenticated party, page parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.models.common import parse_datetime
from ocpi_bridge.parties import Party, token_candidates
from ocpi_bridge.status import InvalidParametersError, UnauthorizedError
from ocpi_bridge.translate.pagination import PageRequest


def get_context(request: Request) -> OcpiContext:
    ctx = request.app.state.ocpi
    assert isinstance(ctx, OcpiContext)  # noqa: S101 - set by create_app
    return ctx


ContextDep = Annotated[OcpiContext, Depends(get_context)]


def get_party(request: Request, ctx: ContextDep) -> Party:
    for token in token_candidates(request.headers.get("Authorization")):
        party = ctx.parties.by_token(token)
        if party is not None:
            request.state.party = party
            return party
    raise UnauthorizedError("missing, malformed or unknown credentials token")


PartyDep = Annotated[Party, Depends(get_party)]


def _when(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise InvalidParametersError(f"{name}: not an OCPI DateTime: {value!r}") from None


def get_page(
    ctx: ContextDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=1)] = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> PageRequest:
    cap = ctx.settings.ocpi.max_page_limit
    return PageRequest(
        offset=offset,
        limit=min(limit or cap, cap),
        date_from=_when("date_from", date_from),
        date_to=_when("date_to", date_to),
    )


PageDep = Annotated[PageRequest, Depends(get_page)]
