"""Received CALLs: meter lists are never judged by the schema, everything beside them is."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from ocpp_central.translate.rpc import OcppVersion
from ocpp_central.validation import METER_LISTS, Validators

V16, V201 = OcppVersion.V16, OcppVersion.V201

SAMPLE = {
    V16: {"timestamp": "2026-11-22T10:00:00Z", "sampledValue": [{"value": "12"}]},
    V201: {"timestamp": "2026-11-22T10:00:00Z", "sampledValue": [{"value": 12}]},
}
TX_INFO = {"transactionId": "tx-1"}
EVENT = {
    "eventType": "Updated",
    "timestamp": "2026-11-22T10:00:00Z",
    "triggerReason": "MeterValuePeriodic",
    "seqNo": 3,
    "transactionInfo": TX_INFO,
}
STOP = {"transactionId": 1, "meterStop": 10, "timestamp": "2026-11-22T10:00:00Z"}

CASES = [
    (V16, "MeterValues", {"connectorId": 1}),
    (V16, "MeterValues", {"connectorId": "1"}),
    (V16, "MeterValues", {"connectorId": 1, "transactionId": 1.5}),
    (V16, "StopTransaction", STOP),
    (V16, "StopTransaction", {**STOP, "meterStop": "10"}),
    (V16, "StopTransaction", {"transactionId": 1, "timestamp": "2026-11-22T10:00:00Z"}),
    (V201, "MeterValues", {"evseId": 1}),
    (V201, "MeterValues", {"evseId": -1}),
    (V201, "TransactionEvent", EVENT),
    (V201, "TransactionEvent", {**EVENT, "eventType": "Paused"}),
    (V201, "TransactionEvent", {**EVENT, "transactionInfo": {}}),
    (V201, "TransactionEvent", {k: v for k, v in EVENT.items() if k != "seqNo"}),
]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def stand_in(version: OcppVersion, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with well-formed meter data in the list's place."""
    return {**payload, METER_LISTS[action]: [SAMPLE[version]]}


@pytest.mark.parametrize(("version", "action", "rest"), CASES)
@settings(max_examples=25, deadline=None)
@given(meter=JSON)
def test_a_meter_list_never_decides_and_the_rest_is_judged_as_by_the_full_schema(
    version: OcppVersion, action: str, rest: dict[str, Any], meter: Any
) -> None:
    """Whatever the list holds, the answer is the full schema's for well-formed meter data."""
    validators = Validators(version)
    payload = {**rest, METER_LISTS[action]: meter}
    assert validators.check_call(action, payload) == validators.check_request(
        action, stand_in(version, action, rest)
    )


@pytest.mark.parametrize(("version", "action", "rest"), CASES)
def test_a_missing_meter_list_is_refused_where_the_schema_requires_one(
    version: OcppVersion, action: str, rest: dict[str, Any]
) -> None:
    """Without the list, the CALL is checked exactly as check_request checks it."""
    validators = Validators(version)
    assert validators.check_call(action, rest) == validators.check_request(action, rest)


def test_other_actions_and_unknown_ones_are_checked_as_requests() -> None:
    """Only the meter-carrying actions are lenient; an unknown action has no schema."""
    validators = Validators(V16)
    bad = {"connectorId": 1, "errorCode": "NoError", "status": "Bogus"}
    assert validators.check_call("StatusNotification", bad) == validators.check_request(
        "StatusNotification", bad
    )
    assert validators.check_call("StatusNotification", bad) is not None
    assert validators.check_call("Invented", {"meterValue": []}) == validators.check_request(
        "Invented", {"meterValue": []}
    )
    assert validators.check_call("Invented", {}) is not None


def test_an_action_without_schema_still_answers_with_a_meter_list_present() -> None:
    """A meter-list action this version does not define is refused, never compiled."""
    validators = Validators(V201)
    assert validators.check_call("StopTransaction", {"transactionData": []}) is not None


def test_warming_compiles_the_lenient_checks_too() -> None:
    """After warm() the first received meter message compiles nothing."""
    from ocpp_central import validation

    Validators(V16).warm(["MeterValues"])
    compiled = len(validation._COMPILED)
    assert Validators(V16).check_call("MeterValues", {"connectorId": 1, "meterValue": []}) is None
    assert len(validation._COMPILED) == compiled
