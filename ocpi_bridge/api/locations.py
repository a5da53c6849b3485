"""Adapter: the Locations sender interface (mod_locations §Sender Interface), CPO side.

One set of handlers serves both versions: ``/ocpi/2.2.1/locations`` and
``/ocpi/2.1.1/locations`` differ only in the wire form (``api.forms``) and in 2.1.1
having no routing headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import ContextDep, PageDep, Party211Dep, PartyDep
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.api.forms import Form, Form211, Form221
from ocpi_bridge.api.pagination import page_headers
from ocpi_bridge.models.common import ci_equal
from ocpi_bridge.models.locations import Connector, Evse, Location
from ocpi_bridge.models.v211 import V211Connector, V211Evse, V211Location
from ocpi_bridge.status import UnknownLocationError
from ocpi_bridge.translate.pagination import PageRequest, paginate

router = APIRouter(prefix="/ocpi/2.2.1/locations", tags=["locations"])
router_211 = APIRouter(prefix="/ocpi/2.1.1/locations", tags=["locations 2.1.1"])

Id36 = Annotated[str, Path(max_length=36, pattern=r"^[\x20-\x7e]+$")]
Id39 = Annotated[str, Path(max_length=39, pattern=r"^[\x20-\x7e]+$")]


# --- what both versions share ------------------------------------------------------------


def _list(request: Request, ctx: OcpiContext, page: PageRequest, form: Form) -> JSONResponse:
    """Every Location partners may see, in configuration order (stable across calls).

    EVSEs (and Locations) that left the configuration are still listed, as REMOVED.
    """
    result = paginate(ctx.objects().locations(), page, last_updated=lambda loc: loc.last_updated)
    return respond(
        [form.location(loc) for loc in result.items],
        headers=page_headers(request, ctx, result, page),  # type: ignore[arg-type]
    )


def _location(ctx: OcpiContext, location_id: str) -> Location:
    loc = ctx.objects().location(location_id)
    if loc is None:
        raise UnknownLocationError(f"unknown location {location_id!r}")
    return loc


def _evse(ctx: OcpiContext, location_id: str, evse_uid: str) -> Evse:
    for evse in _location(ctx, location_id).evses or ():
        if ci_equal(evse.uid, evse_uid):
            return evse
    raise UnknownLocationError(f"unknown EVSE {evse_uid!r} at location {location_id!r}")


def _connector(ctx: OcpiContext, location_id: str, evse_uid: str, connector_id: str) -> Connector:
    for conn in _evse(ctx, location_id, evse_uid).connectors:
        if ci_equal(conn.id, connector_id):
            return conn
    raise UnknownLocationError(
        f"unknown connector {connector_id!r} of EVSE {evse_uid!r} at location {location_id!r}"
    )


def _found(doc: object | None, what: str) -> JSONResponse:
    if doc is None:  # it exists, but this OCPI version cannot describe it
        raise UnknownLocationError(f"{what} cannot be described in this OCPI version")
    return respond(doc)


# --- 2.2.1 -------------------------------------------------------------------------------


@router.get("", **documented(list[Location]))
def list_locations(
    request: Request, ctx: ContextDep, party: PartyDep, page: PageDep
) -> JSONResponse:
    return _list(request, ctx, page, Form221(ctx.objects()))


@router.get("/{location_id}", **documented(Location))
def get_location(ctx: ContextDep, party: PartyDep, location_id: Id36) -> JSONResponse:
    return respond(Form221(ctx.objects()).location(_location(ctx, location_id)))


@router.get("/{location_id}/{evse_uid}", **documented(Evse))
def get_evse(ctx: ContextDep, party: PartyDep, location_id: Id36, evse_uid: Id36) -> JSONResponse:
    return respond(Form221(ctx.objects()).evse(_evse(ctx, location_id, evse_uid)))


@router.get("/{location_id}/{evse_uid}/{connector_id}", **documented(Connector))
def get_connector(
    ctx: ContextDep, party: PartyDep, location_id: Id36, evse_uid: Id36, connector_id: Id36
) -> JSONResponse:
    conn = _connector(ctx, location_id, evse_uid, connector_id)
    return respond(Form221(ctx.objects()).connector(conn))


# --- 2.1.1 -------------------------------------------------------------------------------


@router_211.get("", **documented(list[V211Location]))
def list_locations_211(
    request: Request, ctx: ContextDep, party: Party211Dep, page: PageDep
) -> JSONResponse:
    return _list(request, ctx, page, Form211(ctx.objects()))


@router_211.get("/{location_id}", **documented(V211Location))
def get_location_211(ctx: ContextDep, party: Party211Dep, location_id: Id39) -> JSONResponse:
    return respond(Form211(ctx.objects()).location(_location(ctx, location_id)))


@router_211.get("/{location_id}/{evse_uid}", **documented(V211Evse))
def get_evse_211(
    ctx: ContextDep, party: Party211Dep, location_id: Id39, evse_uid: Id39
) -> JSONResponse:
    evse = _evse(ctx, location_id, evse_uid)
    return _found(Form211(ctx.objects()).evse(evse), f"EVSE {evse_uid!r}")


@router_211.get("/{location_id}/{evse_uid}/{connector_id}", **documented(V211Connector))
def get_connector_211(
    ctx: ContextDep, party: Party211Dep, location_id: Id39, evse_uid: Id39, connector_id: Id36
) -> JSONResponse:
    conn = _connector(ctx, location_id, evse_uid, connector_id)
    return _found(Form211(ctx.objects()).connector(conn), f"connector {connector_id!r}")
