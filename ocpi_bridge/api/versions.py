"""Adapter: the versions and version-details endpoints (version_information_endpoint).

Configuration modules: any valid token reads them, Token A included, and their answers
carry no routing headers.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ocpi_bridge.api.deps import CallerDep, ContextDep
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.models.v211 import V211VersionDetails
from ocpi_bridge.models.versions import Version, VersionDetails

router = APIRouter(prefix="/ocpi", tags=["versions"])

#: (module identifier, our interface role) for each 2.2.1 module that works. The spec
#: advises SENDER for one's own credentials endpoint. Later modules add theirs here.
MODULES_221: tuple[tuple[str, str], ...] = (
    ("credentials", "SENDER"),
    ("locations", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tariffs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
    ("chargingprofiles", "RECEIVER"),
)
#: The 2.1.1 modules that work (2.1.1 endpoints have no role; ours are the CPO's).
MODULES_211: tuple[str, ...] = (
    "credentials",
    "locations",
    "sessions",
    "cdrs",
    "tariffs",
    "tokens",
    "commands",
)


@router.get("/versions", **documented(list[Version]))
def get_versions(ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return respond(
        [
            {"version": "2.2.1", "url": f"{ctx.base_url}/2.2.1"},
            {"version": "2.1.1", "url": f"{ctx.base_url}/2.1.1"},
        ]
    )


@router.get("/2.2.1", **documented(VersionDetails))
def get_version_details(ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return respond(
        {
            "version": "2.2.1",
            "endpoints": [
                {"identifier": module, "role": role, "url": f"{ctx.base_url}/2.2.1/{module}"}
                for module, role in MODULES_221
            ],
        }
    )


@router.get("/2.1.1", **documented(V211VersionDetails))
def get_version_details_211(ctx: ContextDep, caller: CallerDep) -> JSONResponse:
    return respond(
        {
            "version": "2.1.1",
            "endpoints": [
                {"identifier": module, "url": f"{ctx.base_url}/2.1.1/{module}"}
                for module in MODULES_211
            ],
        }
    )
