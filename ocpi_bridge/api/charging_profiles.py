"""Adapter: the ChargingProfiles receiver interface (mod_charging_profiles), CPO side.

``PUT``, ``GET`` (``?duration=&response_url=``) and ``DELETE`` (``?response_url=``) on
``/ocpi/2.2.1/chargingprofiles/{session_id}`` answer at once with a
ChargingProfileResponse; the charger's answer is POSTed later to ``response_url`` as a
ChargingProfileResult, ActiveChargingProfileResult or ClearProfileResult. A profile that
cannot be sent (no periods, a negative limit, an unknown unit) or a missing parameter is
OCPI 2001 with HTTP 200.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.commands import sender_of
from ocpi_bridge.api.deps import ContextDep, PartyDep, read_body
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.commands import Accepted, Reply
from ocpi_bridge.models.charging_profiles import (
    ChargingProfileResponse,
    ChargingProfileResponseType,
    SetChargingProfile,
)
from ocpi_bridge.models.commands import CommandResponseType
from ocpi_bridge.status import InvalidParametersError
from ocpi_bridge.translate.commands import Refusal

router = APIRouter(prefix="/ocpi/2.2.1/chargingprofiles", tags=["chargingprofiles"])

SessionId = Annotated[str, Path(max_length=36, pattern=r"^[\x20-\x7e]+$")]
_URL = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,255}$")
_DURATION = re.compile(r"^[0-9]{1,9}$")


def answer(reply: Reply) -> JSONResponse:
    match reply:
        case Accepted(timeout=timeout):
            response = ChargingProfileResponse(
                result=ChargingProfileResponseType.ACCEPTED, timeout=timeout
            )
            return respond(response.model_dump(mode="json"))
        case Refusal(response=None):
            return respond(status_code=reply.status, message=reply.message)
    assert reply.response is not None  # noqa: S101 - matched above
    response = ChargingProfileResponse(
        result=ChargingProfileResponseType(reply.response.value), timeout=0
    )
    return respond(response.model_dump(mode="json"), message=reply.message)


def _response_url(value: str | None) -> str:
    if value is None or not _URL.fullmatch(value):
        raise InvalidParametersError("response_url: a URL of at most 255 characters is required")
    return value


def _unavailable() -> JSONResponse:
    return answer(
        Refusal(
            message="charging profiles are not available",
            response=CommandResponseType.NOT_SUPPORTED,
        )
    )


@router.put("/{session_id}", **documented(ChargingProfileResponse, body=SetChargingProfile))
async def put_profile(
    request: Request, ctx: ContextDep, party: PartyDep, session_id: SessionId
) -> JSONResponse:
    body = await read_body(request, SetChargingProfile)
    if ctx.commands is None:
        return _unavailable()
    return answer(await ctx.commands.set_profile(sender_of(request, party), session_id, body))


@router.get("/{session_id}", **documented(ChargingProfileResponse))
async def get_profile(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    session_id: SessionId,
    duration: str | None = None,
    response_url: str | None = None,
) -> JSONResponse:
    if duration is None or not _DURATION.fullmatch(duration):
        raise InvalidParametersError("duration: a whole number of seconds is required")
    url = _response_url(response_url)
    if ctx.commands is None:
        return _unavailable()
    return answer(
        await ctx.commands.get_profile(
            sender_of(request, party), session_id, duration_s=int(duration), response_url=url
        )
    )


@router.delete("/{session_id}", **documented(ChargingProfileResponse))
async def delete_profile(
    request: Request,
    ctx: ContextDep,
    party: PartyDep,
    session_id: SessionId,
    response_url: str | None = None,
) -> JSONResponse:
    url = _response_url(response_url)
    if ctx.commands is None:
        return _unavailable()
    return answer(
        await ctx.commands.clear_profile(sender_of(request, party), session_id, response_url=url)
    )
