"""Schema checks of transaction messages: meter data never rejects the CALL, the rest does."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ocpp_central.connection import ChargerConnection
from ocpp_central.handlers import ChargerSession
from ocpp_central.translate.rpc import ErrorCode, OcppVersion
from ocpp_central.validation import Validators
from tests.builders import T0

V16 = OcppVersion.V16
V201 = OcppVersion.V201

GOOD_SAMPLE = {
    "timestamp": "2026-11-22T10:00:00Z",
    "sampledValue": [{"value": "12", "measurand": "Energy.Active.Import.Register"}],
}
BAD_SAMPLE = {
    "timestamp": "2026-11-22T10:00:00Z",
    "sampledValue": [{"value": 12, "unit": "Whh", "measurand": "Bogus"}],
}


def connection(version: OcppVersion) -> ChargerConnection:
    session = ChargerSession(
        charger_id=cast(Any, "CP-1"),
        version=version,
        settings=None,
        sink=cast(Any, None),
        authorizer=cast(Any, None),
        clock=lambda: T0,
        heartbeat_interval_s=300,
    )
    return ChargerConnection(cast(Any, None), session, Validators(version))


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("MeterValues", {"connectorId": 1, "meterValue": [GOOD_SAMPLE]}),
        ("MeterValues", {"connectorId": 1, "meterValue": [BAD_SAMPLE, GOOD_SAMPLE]}),
        ("MeterValues", {"connectorId": 1, "meterValue": []}),
        ("MeterValues", {"connectorId": 1, "meterValue": "not a list"}),
        (
            "StopTransaction",
            {
                "transactionId": 1,
                "meterStop": 10,
                "timestamp": "2026-11-22T10:00:00Z",
                "transactionData": [BAD_SAMPLE],
            },
        ),
    ],
)
def test_meter_data_never_rejects_a_1_6_call(action: str, payload: dict[str, Any]) -> None:
    """Bad, empty or mistyped meter lists pass the schema check: the translator judges them."""
    assert connection(V16)._check(action, payload) is None


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"connectorId": "1", "meterValue": [BAD_SAMPLE]}, ErrorCode.TYPE_CONSTRAINT_VIOLATION),
        ({"connectorId": 1}, ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        ({"meterValue": [GOOD_SAMPLE]}, ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
    ],
)
def test_the_rest_of_a_meter_message_is_still_checked(
    payload: dict[str, Any], code: ErrorCode
) -> None:
    """A bad field beside the meter data, or a missing meter list, is refused as before."""
    violation = connection(V16)._check("MeterValues", payload)
    assert violation is not None
    assert violation.code is code


def test_a_2_0_1_transaction_event_is_checked_without_its_meter_values() -> None:
    """2.0.1 TransactionEvent: bad meter values pass, a bad eventType does not."""
    event = {
        "eventType": "Updated",
        "timestamp": "2026-11-22T10:00:00Z",
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "t-1"},
        "meterValue": [{"timestamp": "2026-11-22T10:00:00Z", "sampledValue": [{"value": "x"}]}],
    }
    conn = connection(V201)
    assert conn._check("TransactionEvent", event) is None
    violation = conn._check("TransactionEvent", {**event, "eventType": "Later"})
    assert violation is not None
    assert violation.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
