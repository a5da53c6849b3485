"""Schema checks of transaction messages: meter data never rejects the CALL, the rest does."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_central.translate.rpc import ErrorCode, OcppVersion
from ocpp_central.validation import Validators, Violation

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


def check(version: OcppVersion, action: str, payload: dict[str, Any]) -> Violation | None:
    """The check every CALL from a charger gets before its handler."""
    return Validators(version).check_call(action, payload)


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
    assert check(V16, action, payload) is None


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
    violation = check(V16, "MeterValues", payload)
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
    assert check(V201, "TransactionEvent", event) is None
    violation = check(V201, "TransactionEvent", {**event, "eventType": "Later"})
    assert violation is not None
    assert violation.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
