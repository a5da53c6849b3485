"""Adapter: the Commands receiver interface (mod_commands §Receiver Interface), CPO side.

``POST /ocpi/2.2.1/commands/{command}`` answers at once with a CommandResponse; the
charger's verdict is POSTed later to the command's ``response_url`` (see
``ocpi_bridge.commands``). An unknown Location is OCPI 2003 and a body that does not fit
is 2001, both with HTTP 200 (the request reached an existing resource).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.deps import ContextDep, PartyDep, Routing, read_body
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.commands import Accepted, Reply, Sender
from ocpi_bridge.models.commands import (
    CancelReservation,
    CommandResponse,
    CommandResponseType,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi_bridge.models.common import DisplayText, OcpiModel
from ocpi_bridge.parties import Party
from ocpi_bridge.status import NotFoundError
from ocpi_bridge.translate.commands import Refusal

router = APIRouter(prefix="/ocpi/2.2.1/commands", tags=["commands"])

BODIES: dict[CommandType, type[OcpiModel]] = {
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}


def sender_of(request: Request, party: Party) -> Sender:
    """The caller and the role it spoke as (checked by ``PartyDep``); results go back to it."""
    routing = request.state.routing
    assert isinstance(routing, Routing)  # noqa: S101 - PartyDep sets it
    return Sender(party=party, country_code=routing.to_country_code, party_id=routing.to_party_id)


def _dump(model: OcpiModel) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


def answer(reply: Reply) -> JSONResponse:
    match reply:
        case Accepted(timeout=timeout):
            return respond(
                _dump(CommandResponse(result=CommandResponseType.ACCEPTED, timeout=timeout))
            )
        case Refusal(response=None):
            return respond(status_code=reply.status, message=reply.message)
    assert reply.response is not None  # noqa: S101 - matched above
    return respond(
        _dump(
            CommandResponse(
                result=reply.response,
                timeout=0,
                message=[DisplayText(language="en", text=reply.message[:512])],
            )
        ),
        message=reply.message,
    )


@router.post("/{command}", **documented(CommandResponse))
async def post_command(
    request: Request, ctx: ContextDep, party: PartyDep, command: str
) -> JSONResponse:
    try:
        kind = CommandType(command)
    except ValueError:
        raise NotFoundError(f"no command {command[:40]!r}") from None
    control = ctx.commands
    if control is None:
        return answer(
            Refusal(
                message="commands are not available", response=CommandResponseType.NOT_SUPPORTED
            )
        )
    body = await read_body(request, BODIES[kind])
    sender = sender_of(request, party)
    match body:
        case StartSession():
            return answer(await control.start_session(sender, body))
        case StopSession():
            return answer(await control.stop_session(sender, body))
        case ReserveNow():
            return answer(await control.reserve_now(sender, body))
        case CancelReservation():
            return answer(await control.cancel_reservation(sender, body))
        case UnlockConnector():
            return answer(await control.unlock_connector(sender, body))
    raise AssertionError(f"no handler for {kind}")  # pragma: no cover - BODIES covers CommandType
