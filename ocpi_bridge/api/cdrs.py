"""Adapter: the CDRs sender interface (mod_cdrs §Sender Interface), CPO side.

A partner sees only the CDRs of tokens it issued, credit CDRs included, in creation
order; ``last_updated`` of a CDR is its creation time.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.deps import ContextDep, PageDep, PartyDep
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.api.pagination import page_headers
from ocpi_bridge.models.cdrs import Cdr

router = APIRouter(prefix="/ocpi/2.2.1/cdrs", tags=["cdrs"])


@router.get("", **documented(list[Cdr]))
def list_cdrs(request: Request, ctx: ContextDep, party: PartyDep, page: PageDep) -> JSONResponse:
    owners = [(r.country_code, r.party_id) for r in party.roles]
    result = ctx.objects().cdrs_page(owners, page)
    headers: dict[str, Any] = page_headers(request, ctx, result, page)  # type: ignore[arg-type]
    return respond(list(result.items), headers=headers)
