"""Adapter: the Tariffs sender interface (mod_tariffs §Sender Interface), CPO side.

Both versions share the handler; 2.1.1 gets the 2.1.1 form (``api.forms``), without the
tariffs 2.1.1 cannot express.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import ContextDep, PageDep, Party211Dep, PartyDep
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.api.forms import Form, Form211, Form221
from ocpi_bridge.api.pagination import page_headers
from ocpi_bridge.models.tariffs import Tariff
from ocpi_bridge.models.v211 import V211Tariff
from ocpi_bridge.translate.pagination import PageRequest, paginate

router = APIRouter(prefix="/ocpi/2.2.1/tariffs", tags=["tariffs"])
router_211 = APIRouter(prefix="/ocpi/2.1.1/tariffs", tags=["tariffs 2.1.1"])


def _list(request: Request, ctx: OcpiContext, page: PageRequest, form: Form) -> JSONResponse:
    result = paginate(ctx.objects().tariffs(), page, last_updated=lambda t: t.last_updated)
    headers: dict[str, Any] = page_headers(request, ctx, result, page)  # type: ignore[arg-type]
    return respond([d for t in result.items if (d := form.tariff(t)) is not None], headers=headers)


@router.get("", **documented(list[Tariff]))
def list_tariffs(request: Request, ctx: ContextDep, party: PartyDep, page: PageDep) -> JSONResponse:
    return _list(request, ctx, page, Form221(ctx.objects()))


@router_211.get("", **documented(list[V211Tariff]))
def list_tariffs_211(
    request: Request, ctx: ContextDep, party: Party211Dep, page: PageDep
) -> JSONResponse:
    return _list(request, ctx, page, Form211(ctx.objects()))
