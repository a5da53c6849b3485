"""Pure: 2.1.1 command requests -> the 2.2.1 ones remote control runs; answers and results back.

2.1.1 commands (mod_commands 2.1.1) differ from 2.2.1 in their shapes only:

- the Token is a 2.1.1 Token (``auth_id``, no owner fields): it belongs to the sending
  partner's party (``translate.v211_tokens``);
- ``reservation_id`` is an int (kept as its decimal text); no ``authorization_reference``,
  no ``connector_id`` in START_SESSION, no CANCEL_RESERVATION;
- ids may be 39 characters where 2.2.1 allows 36. Such an id names nothing here, so the
  request is built without re-checking lengths and is refused as unknown, as any other
  unknown Location or EVSE is;
- one CommandResponse (``result`` only) is both the immediate answer and the result
  POSTed to ``response_url``: 2.2.1's richer CommandResultType folds into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocpi_bridge.models.commands import (
    CommandResponseType,
    CommandResultType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi_bridge.models.v211 import (
    V211CommandResponse,
    V211CommandResponseType,
    V211ReserveNow,
    V211StartSession,
    V211StopSession,
    V211UnlockConnector,
)
from ocpi_bridge.translate.v211_tokens import from_v211_token

RESPONSE: Mapping[CommandResponseType, V211CommandResponseType] = {
    CommandResponseType.ACCEPTED: V211CommandResponseType.ACCEPTED,
    CommandResponseType.NOT_SUPPORTED: V211CommandResponseType.NOT_SUPPORTED,
    CommandResponseType.REJECTED: V211CommandResponseType.REJECTED,
    CommandResponseType.UNKNOWN_SESSION: V211CommandResponseType.UNKNOWN_SESSION,
}
"""The immediate answer: the same four values exist in both versions."""

RESULT: Mapping[CommandResultType, V211CommandResponseType] = {
    CommandResultType.ACCEPTED: V211CommandResponseType.ACCEPTED,
    CommandResultType.NOT_SUPPORTED: V211CommandResponseType.NOT_SUPPORTED,
    CommandResultType.TIMEOUT: V211CommandResponseType.TIMEOUT,
    CommandResultType.REJECTED: V211CommandResponseType.REJECTED,
    # The Charge Point did not do it: 2.1.1 can only say REJECTED.
    CommandResultType.EVSE_OCCUPIED: V211CommandResponseType.REJECTED,
    CommandResultType.EVSE_INOPERATIVE: V211CommandResponseType.REJECTED,
    CommandResultType.FAILED: V211CommandResponseType.REJECTED,
    # Only CANCEL_RESERVATION gives these; 2.1.1 has no such command.
    CommandResultType.CANCELED_RESERVATION: V211CommandResponseType.REJECTED,
    CommandResultType.UNKNOWN_RESERVATION: V211CommandResponseType.REJECTED,
}
"""The charger's verdict, POSTed later."""


def from_v211_start(body: V211StartSession, *, country_code: str, party_id: str) -> StartSession:
    """A 2.1.1 START_SESSION from the partner ``country_code``/``party_id``."""
    return StartSession.model_construct(
        response_url=body.response_url,
        token=from_v211_token(body.token, country_code=country_code, party_id=party_id),
        location_id=body.location_id,
        evse_uid=body.evse_uid,
        connector_id=None,
        authorization_reference=None,
    )


def from_v211_stop(body: V211StopSession) -> StopSession:
    """A 2.1.1 STOP_SESSION (the same fields as 2.2.1)."""
    return StopSession.model_construct(response_url=body.response_url, session_id=body.session_id)


def from_v211_reserve(body: V211ReserveNow, *, country_code: str, party_id: str) -> ReserveNow:
    """A 2.1.1 RESERVE_NOW from the partner ``country_code``/``party_id``."""
    return ReserveNow.model_construct(
        response_url=body.response_url,
        token=from_v211_token(body.token, country_code=country_code, party_id=party_id),
        expiry_date=body.expiry_date,
        reservation_id=str(body.reservation_id),
        location_id=body.location_id,
        evse_uid=body.evse_uid,
        authorization_reference=None,
    )


def from_v211_unlock(body: V211UnlockConnector) -> UnlockConnector:
    """A 2.1.1 UNLOCK_CONNECTOR (the same fields as 2.2.1)."""
    return UnlockConnector.model_construct(
        response_url=body.response_url,
        location_id=body.location_id,
        evse_uid=body.evse_uid,
        connector_id=body.connector_id,
    )


def to_v211_response(response: CommandResponseType) -> V211CommandResponse:
    """The immediate 2.1.1 answer (no ``timeout``, no message)."""
    return V211CommandResponse(result=RESPONSE[response])


def to_v211_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A stored 2.2.1 CommandResult as the 2.1.1 CommandResponse POSTed to ``response_url``.

    A body that is not a CommandResult (it never is for a 2.1.1 command) goes as it is.
    """
    try:
        verdict = CommandResultType(str(result.get("result")))
    except ValueError:
        return dict(result)
    return {"result": RESULT[verdict].value}
