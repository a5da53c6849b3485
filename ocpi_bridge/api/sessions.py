"""Adapter: the Sessions sender interface (mod_sessions §Sender Interface), CPO side.

A partner sees only the sessions of tokens it issued (R-PRIV-4), and ``X-Total-Count``
counts only those. ``date_from`` is required (mod_sessions: GET Method, in both 2.2.1
and 2.1.1). Both versions share the handler; 2.1.1 gets the 2.1.1 form (``api.forms``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import ContextDep, PageDep, Party211Dep, PartyDep, owners_of
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.api.forms import Form, Form211, Form221
from ocpi_bridge.api.pagination import page_headers
from ocpi_bridge.models.sessions import Session
from ocpi_bridge.models.v211 import V211Session
from ocpi_bridge.parties import Party
from ocpi_bridge.status import InvalidParametersError
from ocpi_bridge.translate.pagination import PageRequest

router = APIRouter(prefix="/ocpi/2.2.1/sessions", tags=["sessions"])
router_211 = APIRouter(prefix="/ocpi/2.1.1/sessions", tags=["sessions 2.1.1"])


def _list(
    request: Request, ctx: OcpiContext, party: Party, page: PageRequest, form: Form
) -> JSONResponse:
    if page.date_from is None:
        raise InvalidParametersError("date_from is required for Sessions")
    result = form.sessions_page(owners_of(party), page)
    headers: dict[str, Any] = page_headers(request, ctx, result, page)  # type: ignore[arg-type]
    return respond(list(result.items), headers=headers)


@router.get("", **documented(list[Session]))
def list_sessions(
    request: Request, ctx: ContextDep, party: PartyDep, page: PageDep
) -> JSONResponse:
    return _list(request, ctx, party, page, Form221(ctx.objects()))


@router_211.get("", **documented(list[V211Session]))
def list_sessions_211(
    request: Request, ctx: ContextDep, party: Party211Dep, page: PageDep
) -> JSONResponse:
    return _list(request, ctx, party, page, Form211(ctx.objects()))
