"""Adapter: the Locations sender interface (mod_locations §Sender Interface), CPO side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import ContextDep, PageDep, PartyDep
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.api.pagination import page_headers
from ocpi_bridge.models.common import ci_equal
from ocpi_bridge.models.locations import Connector, Evse, Location
from ocpi_bridge.status import UnknownLocationError
from ocpi_bridge.translate.pagination import paginate

router = APIRouter(prefix="/ocpi/2.2.1/locations", tags=["locations"])

Id36 = Annotated[str, Path(max_length=36, pattern=r"^[\x20-\x7e]+$")]
Id48 = Annotated[str, Path(max_length=48, pattern=r"^[\x20-\x7e]+$")]


def _published(ctx: OcpiContext) -> list[Location]:
    """Every Location partners may see, in configuration order (stable across calls).

    EVSEs (and Locations) that left the configuration are still listed, as REMOVED.
    """
    return ctx.objects().locations()


def _dump(obj: Location | object) -> object:
    dump = getattr(obj, "model_dump")  # noqa: B009 - every OCPI model has it
    return dump(mode="json", exclude_none=True)


@router.get("", **documented(list[Location]))
def list_locations(
    request: Request, ctx: ContextDep, party: PartyDep, page: PageDep
) -> JSONResponse:
    result = paginate(_published(ctx), page, last_updated=lambda loc: loc.last_updated)
    return respond(
        [_dump(loc) for loc in result.items],
        headers=page_headers(request, ctx, result, page),  # type: ignore[arg-type]
    )


def _location(ctx: OcpiContext, location_id: str) -> Location:
    loc = ctx.objects().location(location_id)
    if loc is None:
        raise UnknownLocationError(f"unknown location {location_id!r}")
    return loc


@router.get("/{location_id}", **documented(Location))
def get_location(ctx: ContextDep, party: PartyDep, location_id: Id36) -> JSONResponse:
    return respond(_dump(_location(ctx, location_id)))


@router.get("/{location_id}/{evse_uid}", **documented(Evse))
def get_evse(ctx: ContextDep, party: PartyDep, location_id: Id36, evse_uid: Id36) -> JSONResponse:
    for evse in _location(ctx, location_id).evses or ():
        if ci_equal(evse.uid, evse_uid):
            return respond(_dump(evse))
    raise UnknownLocationError(f"unknown EVSE {evse_uid!r} at location {location_id!r}")


@router.get("/{location_id}/{evse_uid}/{connector_id}", **documented(Connector))
def get_connector(
    ctx: ContextDep, party: PartyDep, location_id: Id36, evse_uid: Id36, connector_id: Id36
) -> JSONResponse:
    for evse in _location(ctx, location_id).evses or ():
        if ci_equal(evse.uid, evse_uid):
            for conn in evse.connectors:
                if ci_equal(conn.id, connector_id):
                    return respond(_dump(conn))
    raise UnknownLocationError(
        f"unknown connector {connector_id!r} of EVSE {evse_uid!r} at location {location_id!r}"
    )
