"""Adapter: the Commands receiver interface (mod_commands §Receiver Interface), CPO side.

``POST /ocpi/2.2.1/commands/{command}`` answers at once with a CommandResponse; the
charger's verdict is POSTed later to the command's ``response_url`` (see
``ocpi_bridge.commands``). An unknown Location is OCPI 2003 and a body that does not fit
is 2001, both with HTTP 200 (the request reached an existing resource).

``POST /ocpi/2.1.1/commands/{command}`` (no CANCEL_RESERVATION in 2.1.1) runs the same
way: the 2.1.1 body is turned into its 2.2.1 twin (``translate.v211_commands``), sent by
the partner's one party, and the answer is a 2.1.1 CommandResponse (``result`` only).
The result POSTed later takes the 2.1.1 shape too (``RemoteControl`` asks the partner's
version when it delivers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ocpi_bridge.api.deps import ContextDep, Party211Dep, PartyDep, Routing, read_body
from ocpi_bridge.api.envelope import documented, respond
from ocpi_bridge.commands import Accepted, RemoteControl, Reply, Sender
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
from ocpi_bridge.models.v211 import (
    V211CommandResponse,
    V211CommandType,
    V211ReserveNow,
    V211StartSession,
    V211StopSession,
    V211UnlockConnector,
)
from ocpi_bridge.parties import Party
from ocpi_bridge.status import NotFoundError
from ocpi_bridge.translate import v211_commands as v211
from ocpi_bridge.translate.commands import Refusal

router = APIRouter(prefix="/ocpi/2.2.1/commands", tags=["commands"])
router_211 = APIRouter(prefix="/ocpi/2.1.1/commands", tags=["commands 2.1.1"])

BODIES: dict[CommandType, type[OcpiModel]] = {
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}
BODIES_211: dict[V211CommandType, type[OcpiModel]] = {
    V211CommandType.START_SESSION: V211StartSession,
    V211CommandType.STOP_SESSION: V211StopSession,
    V211CommandType.RESERVE_NOW: V211ReserveNow,
    V211CommandType.UNLOCK_CONNECTOR: V211UnlockConnector,
}

#: A version's CommandResponse: (result, timeout, message) -> the answer's data.
Shape = Callable[[CommandResponseType, int, str | None], Any]


def sender_of(request: Request, party: Party) -> Sender:
    """The caller and the role it spoke as (checked by ``PartyDep``); results go back to it."""
    routing = request.state.routing
    assert isinstance(routing, Routing)  # noqa: S101 - PartyDep sets it
    return Sender(party=party, country_code=routing.to_country_code, party_id=routing.to_party_id)


def sender_211(party: Party) -> Sender:
    """A 2.1.1 caller: its credentials name one party, which sends and owns its tokens."""
    role = party.roles[0]
    return Sender(party=party, country_code=role.country_code, party_id=role.party_id)


def _dump(model: OcpiModel) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


def shape_221(result: CommandResponseType, timeout: int, message: str | None) -> Any:
    text = None if message is None else [DisplayText(language="en", text=message[:512])]
    return _dump(CommandResponse(result=result, timeout=timeout, message=text))


def shape_211(result: CommandResponseType, timeout: int, message: str | None) -> Any:
    return _dump(v211.to_v211_response(result))


def answer(reply: Reply, shape: Shape = shape_221) -> JSONResponse:
    match reply:
        case Accepted(timeout=timeout):
            return respond(shape(CommandResponseType.ACCEPTED, timeout, None))
        case Refusal(response=None):
            return respond(status_code=reply.status, message=reply.message)
    assert reply.response is not None  # noqa: S101 - matched above
    return respond(shape(reply.response, 0, reply.message), message=reply.message)


_UNAVAILABLE = Refusal(
    message="commands are not available", response=CommandResponseType.NOT_SUPPORTED
)


async def _run(control: RemoteControl, sender: Sender, body: OcpiModel) -> Reply:
    match body:
        case StartSession():
            return await control.start_session(sender, body)
        case StopSession():
            return await control.stop_session(sender, body)
        case ReserveNow():
            return await control.reserve_now(sender, body)
        case CancelReservation():
            return await control.cancel_reservation(sender, body)
        case UnlockConnector():
            return await control.unlock_connector(sender, body)
    raise AssertionError(f"no handler for {type(body).__name__}")  # pragma: no cover


@router.post("/{command}", **documented(CommandResponse))
async def post_command(
    request: Request, ctx: ContextDep, party: PartyDep, command: str
) -> JSONResponse:
    try:
        kind = CommandType(command)
    except ValueError:
        raise NotFoundError(f"no command {command[:40]!r}") from None
    if ctx.commands is None:
        return answer(_UNAVAILABLE)
    body = await read_body(request, BODIES[kind])
    return answer(await _run(ctx.commands, sender_of(request, party), body))


def _from_v211(body: OcpiModel, sender: Sender) -> OcpiModel:
    party = {"country_code": sender.country_code, "party_id": sender.party_id}
    match body:
        case V211StartSession():
            return v211.from_v211_start(body, **party)
        case V211StopSession():
            return v211.from_v211_stop(body)
        case V211ReserveNow():
            return v211.from_v211_reserve(body, **party)
        case V211UnlockConnector():
            return v211.from_v211_unlock(body)
    raise AssertionError(f"no 2.1.1 form for {type(body).__name__}")  # pragma: no cover


@router_211.post("/{command}", **documented(V211CommandResponse))
async def post_command_211(
    request: Request, ctx: ContextDep, party: Party211Dep, command: str
) -> JSONResponse:
    try:
        kind = V211CommandType(command)
    except ValueError:
        raise NotFoundError(f"no 2.1.1 command {command[:40]!r}") from None
    if ctx.commands is None:
        return answer(_UNAVAILABLE, shape_211)
    sender = sender_211(party)
    body = _from_v211(await read_body(request, BODIES_211[kind]), sender)
    return answer(await _run(ctx.commands, sender, body), shape_211)
