"""Adapter: the versions and version-details endpoints (version_information_endpoint)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ocpi_bridge.api.deps import ContextDep, PartyDep
from ocpi_bridge.api.envelope import respond

router = APIRouter(prefix="/ocpi", tags=["versions"])

#: (module identifier, our role) for each module that works; later modules add theirs.
MODULES_221: tuple[tuple[str, str], ...] = (("locations", "SENDER"),)


@router.get("/versions")
def get_versions(ctx: ContextDep, party: PartyDep) -> JSONResponse:
    return respond([{"version": "2.2.1", "url": f"{ctx.base_url}/2.2.1"}])


@router.get("/2.2.1")
def get_version_details(ctx: ContextDep, party: PartyDep) -> JSONResponse:
    return respond(
        {
            "version": "2.2.1",
            "endpoints": [
                {"identifier": module, "role": role, "url": f"{ctx.base_url}/2.2.1/{module}"}
                for module, role in MODULES_221
            ],
        }
    )
