"""Pure: 2.1.1 command requests as the 2.2.1 ones remote control runs; 2.1.1 answers back."""

from __future__ import annotations

from typing import Any

import pytest

from ocpi_bridge.models.commands import CommandResponseType, CommandResultType
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.models.v211 import (
    V211CommandResponseType,
    V211ReserveNow,
    V211StartSession,
    V211StopSession,
    V211UnlockConnector,
)
from ocpi_bridge.translate.v211_commands import (
    from_v211_reserve,
    from_v211_start,
    from_v211_stop,
    from_v211_unlock,
    to_v211_response,
    to_v211_result,
)

URL = "https://emsp.example/ocpi/emsp/2.1.1/commands/START_SESSION/1"
TOKEN = {
    "uid": "012345678",
    "type": "RFID",
    "auth_id": "DE8ACC12E46L89",
    "issuer": "TheNewMotion",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2015-06-29T22:39:09Z",
}
LONG = "L" * 39  # a 2.1.1 id longer than any 2.2.1 id


def test_a_2_1_1_start_session_is_the_partner_s_2_2_1_start_session():
    """The token becomes the partner's own; no connector, no authorization_reference."""
    body = V211StartSession.model_validate(
        {"response_url": URL, "token": TOKEN, "location_id": "LOC-001", "evse_uid": "E1"}
    )

    start = from_v211_start(body, country_code="DE", party_id="EMS")

    assert (start.location_id, start.evse_uid, start.connector_id) == ("LOC-001", "E1", None)
    assert start.response_url == URL
    assert (start.token.country_code, start.token.party_id) == ("DE", "EMS")
    assert start.token.contract_id == "DE8ACC12E46L89"
    assert start.token.type is TokenType.RFID
    assert start.authorization_reference is None


def test_a_2_1_1_reserve_now_keeps_its_int_reservation_id_as_text():
    """reservation_id 42 is "42"; the token is the partner's own."""
    body = V211ReserveNow.model_validate(
        {
            "response_url": URL,
            "token": TOKEN,
            "expiry_date": "2026-11-22T12:00:00Z",
            "reservation_id": 42,
            "location_id": "LOC-001",
        }
    )

    reserve = from_v211_reserve(body, country_code="DE", party_id="EMS")

    assert reserve.reservation_id == "42"
    assert (reserve.location_id, reserve.evse_uid) == ("LOC-001", None)
    assert reserve.expiry_date == body.expiry_date
    assert reserve.token.party_id == "EMS"
    assert reserve.authorization_reference is None


def test_stop_and_unlock_carry_their_fields_and_long_ids_through():
    """Same fields as 2.2.1; a 39-character id passes through (it then names nothing)."""
    stop = from_v211_stop(V211StopSession.model_validate({"response_url": URL, "session_id": "S"}))
    unlock = from_v211_unlock(
        V211UnlockConnector.model_validate(
            {"response_url": URL, "location_id": LONG, "evse_uid": LONG, "connector_id": "1"}
        )
    )

    assert (stop.response_url, stop.session_id) == (URL, "S")
    assert (unlock.location_id, unlock.evse_uid, unlock.connector_id) == (LONG, LONG, "1")


@pytest.mark.parametrize("response", list(CommandResponseType))
def test_every_immediate_answer_has_its_2_1_1_namesake(response: CommandResponseType):
    """ACCEPTED, REJECTED, NOT_SUPPORTED, UNKNOWN_SESSION: only ``result`` is sent."""
    answer = to_v211_response(response)

    assert answer.result.value == response.value
    assert answer.model_dump(exclude_none=True) == {"result": answer.result}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (CommandResultType.ACCEPTED, "ACCEPTED"),
        (CommandResultType.TIMEOUT, "TIMEOUT"),
        (CommandResultType.NOT_SUPPORTED, "NOT_SUPPORTED"),
        (CommandResultType.REJECTED, "REJECTED"),
        (CommandResultType.EVSE_OCCUPIED, "REJECTED"),
        (CommandResultType.EVSE_INOPERATIVE, "REJECTED"),
        (CommandResultType.FAILED, "REJECTED"),
        (CommandResultType.CANCELED_RESERVATION, "REJECTED"),
        (CommandResultType.UNKNOWN_RESERVATION, "REJECTED"),
    ],
)
def test_every_charger_verdict_folds_into_a_2_1_1_command_response(
    result: CommandResultType, expected: str
):
    """What 2.1.1 cannot name is REJECTED; the message is dropped (2.1.1 has none)."""
    body: dict[str, Any] = {"result": result.value, "message": [{"language": "en", "text": "x"}]}

    assert to_v211_result(body) == {"result": expected}
    assert V211CommandResponseType(expected)


@pytest.mark.parametrize("body", [{"result": "SOMETHING"}, {}])
def test_a_body_that_is_not_a_command_result_goes_as_it_is(body: dict[str, Any]):
    """Nothing is invented for a body that is not a CommandResult."""
    assert to_v211_result(body) == body
