"""Adapter: the Tariffs sender interface (mod_tariffs §Sender Interface), CPO side."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.deps import ContextDep, PageDep, PartyDep
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.api.pagination import page_headers
from ocpi_bridge.models.tariffs import Tariff
from ocpi_bridge.translate.delivery import wire
from ocpi_bridge.translate.pagination import paginate

router = APIRouter(prefix="/ocpi/2.2.1/tariffs", tags=["tariffs"])


@router.get("", **documented(list[Tariff]))
def list_tariffs(request: Request, ctx: ContextDep, party: PartyDep, page: PageDep) -> JSONResponse:
    result = paginate(ctx.objects().tariffs(), page, last_updated=lambda t: t.last_updated)
    headers: dict[str, Any] = page_headers(request, ctx, result, page)  # type: ignore[arg-type]
    return respond([wire(t) for t in result.items], headers=headers)
