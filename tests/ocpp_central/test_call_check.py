"""The compiled check the connection holds per action refuses exactly what check_call refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from ocpp_central.translate.rpc import OcppVersion
from ocpp_central.validation import InvalidPayload, Validators

V16, V201 = OcppVersion.V16, OcppVersion.V201

STAMP = "2026-11-22T10:00:00Z"
VALID = [
    (V16, "Heartbeat", {}),
    (V16, "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}),
    (V16, "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": STAMP}]}),
    (V16, "StopTransaction", {"transactionId": 1, "meterStop": 10, "timestamp": STAMP}),
    (
        V201,
        "StatusNotification",
        {"timestamp": STAMP, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    ),
    (V201, "MeterValues", {"evseId": 1, "meterValue": []}),
    (
        V201,
        "TransactionEvent",
        {
            "eventType": "Updated",
            "timestamp": STAMP,
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 3,
            "transactionInfo": {"transactionId": "tx-1"},
        },
    ),
]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def refuses(validators: Validators, action: str, payload: dict[str, Any]) -> bool:
    check = validators.call_check(action)
    assert check is not None
    try:
        check(payload)
    except InvalidPayload:
        return True
    return False


@pytest.mark.parametrize(("version", "action", "valid"), VALID)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_compiled_check_agrees_with_check_call(
    version: OcppVersion, action: str, valid: dict[str, Any], data: st.DataObject
) -> None:
    """Any field replaced, removed or added: refused exactly when check_call finds a fault."""
    validators = Validators(version)
    payload = dict(valid)
    drop: bool = data.draw(st.booleans())
    if payload and drop:
        del payload[data.draw(st.sampled_from(sorted(payload)))]
    name = data.draw(st.sampled_from([*sorted(valid), "meterValue", "transactionData", "x"]))
    if data.draw(st.booleans()):
        payload[name] = data.draw(JSON)
    violation = validators.check_call(action, payload)
    assert refuses(validators, action, payload) is (violation is not None)


@pytest.mark.parametrize(("version", "action", "valid"), VALID)
def test_a_valid_payload_passes_the_compiled_check(
    version: OcppVersion, action: str, valid: dict[str, Any]
) -> None:
    """The usual CALL needs no more than the one compiled check."""
    assert not refuses(Validators(version), action, valid)
    assert Validators(version).check_call(action, valid) is None


def test_an_unknown_action_has_no_compiled_check() -> None:
    """Names a version does not define are left to check_call and its NotImplemented."""
    assert Validators(V16).call_check("Invented") is None
    assert Validators(V201).call_check("StopTransaction") is None
