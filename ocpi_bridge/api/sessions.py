"""Adapter: the Sessions sender interface (mod_sessions §Sender Interface), CPO side.

A partner sees only the sessions of tokens it issued (R-PRIV-4), and ``X-Total-Count``
counts only those. ``date_from`` is required (mod_sessions: GET Method).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.deps import ContextDep, PageDep, PartyDep
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.api.pagination import page_headers
from ocpi_bridge.models.sessions import Session
from ocpi_bridge.status import InvalidParametersError

router = APIRouter(prefix="/ocpi/2.2.1/sessions", tags=["sessions"])


@router.get("", **documented(list[Session]))
def list_sessions(
    request: Request, ctx: ContextDep, party: PartyDep, page: PageDep
) -> JSONResponse:
    if page.date_from is None:
        raise InvalidParametersError("date_from is required for Sessions")
    owners = [(r.country_code, r.party_id) for r in party.roles]
    result = ctx.objects().sessions_page(owners, page)
    headers: dict[str, Any] = page_headers(request, ctx, result, page)  # type: ignore[arg-type]
    return respond(list(result.items), headers=headers)
