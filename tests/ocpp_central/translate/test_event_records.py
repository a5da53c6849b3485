"""Translated events are the very records their classes build, shared references included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.domain.events import ConnectorStatusReported
from gateway.domain.ids import ChargerId
from gateway.domain.status import ConnectorStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import (
    AuthToken,
    MeterValuesReported,
    TokenKind,
    TransactionStarted,
    TransactionStopped,
    TransactionUpdated,
)
from ocpp_central.translate import v16, v201
from ocpp_central.translate.meter import from_v16_meter_values, from_v201_meter_values

CP = ChargerId("AC-0001")
AT = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)
STAMP = "2026-11-22T10:00:00Z"
WHEN = datetime(2026, 11, 22, 10, tzinfo=UTC)
METER_16 = [{"timestamp": STAMP, "sampledValue": [{"value": "12", "unit": "Wh"}]}]
METER_201 = [{"timestamp": STAMP, "sampledValue": [{"value": 12}]}]


@pytest.mark.parametrize("connector_id", [1, 2, 32, 33, 400])
def test_a_v16_meter_value_is_the_event_its_class_builds(connector_id: int) -> None:
    """With or without a transaction, on a usual or an unusual connector number."""
    samples = from_v16_meter_values(METER_16, received_at=AT).samples
    payload: dict[str, Any] = {"connectorId": connector_id, "meterValue": METER_16}
    ref = ConnectorRef(evse=None, connector=connector_id)
    assert v16.from_meter_values(CP, payload, at=AT) == MeterValuesReported(
        charger_id=CP, at=AT, connector=ref, samples=samples
    )
    assert v16.from_meter_values(CP, {**payload, "transactionId": 7}, at=AT) == (
        TransactionUpdated(charger_id=CP, at=AT, tx_id="7", connector=ref, samples=samples)
    )


@pytest.mark.parametrize(("evse", "connector"), [(1, 1), (8, 4), (9, 1), (1, 7)])
def test_v201_transaction_events_are_the_events_their_classes_build(
    evse: int, connector: int
) -> None:
    """Started, Updated and Ended carry exactly the fields the classes would hold."""
    samples = from_v201_meter_values(METER_201, received_at=AT).samples
    ref = ConnectorRef(evse=evse, connector=connector)
    token = AuthToken(value="04A1", kind=TokenKind.RFID)
    payload: dict[str, Any] = {
        "timestamp": STAMP,
        "seqNo": 3,
        "transactionInfo": {"transactionId": "T1", "remoteStartId": 9, "stoppedReason": "Local"},
        "idToken": {"idToken": "04A1", "type": "ISO14443"},
        "evse": {"id": evse, "connectorId": connector},
        "meterValue": METER_201,
    }
    common: dict[str, Any] = {
        "charger_id": CP,
        "at": AT,
        "tx_id": "T1",
        "connector": ref,
        "token": token,
        "seq_no": 3,
        "samples": samples,
    }
    started = {**payload, "eventType": "Started", "reservationId": 4}
    assert v201.from_transaction_event(CP, started, at=AT) == TransactionStarted(
        **common, started_at=WHEN, remote_start_id=9, reservation_id=4
    )
    updated = {**payload, "eventType": "Updated"}
    assert v201.from_transaction_event(CP, updated, at=AT) == TransactionUpdated(**common)
    ended = {**payload, "eventType": "Ended"}
    assert v201.from_transaction_event(CP, ended, at=AT) == TransactionStopped(
        **common, stopped_at=WHEN, reason="Local"
    )
    status = {"evseId": evse, "connectorId": connector, "connectorStatus": "Available"}
    assert v201.from_status_notification(CP, status, at=AT).connector == ref
    meter = {"evseId": evse, "meterValue": METER_201}
    assert v201.from_meter_values(CP, meter, at=AT) == MeterValuesReported(
        charger_id=CP, at=AT, connector=ConnectorRef(evse=evse, connector=0), samples=samples
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"connectorId": 0, "errorCode": "NoError", "status": "Available"},
            ConnectorStatusReported(
                charger_id=CP, at=AT, connector=None, status=ConnectorStatus.AVAILABLE
            ),
        ),
        (
            {
                "connectorId": 2,
                "errorCode": "GroundFailure",
                "status": "Faulted",
                "info": "RCD tripped",
                "timestamp": STAMP,
            },
            ConnectorStatusReported(
                charger_id=CP,
                at=AT,
                connector=ConnectorRef(evse=None, connector=2),
                status=ConnectorStatus.FAULTED,
                error_code="GroundFailure",
                info="RCD tripped",
                reported_at=WHEN,
            ),
        ),
    ],
)
def test_a_v16_status_is_the_event_its_class_builds(
    payload: dict[str, Any], expected: ConnectorStatusReported
) -> None:
    """The station or a connector, error code, info and the charger's own time."""
    got = v16.from_status_notification(CP, payload, at=AT)
    assert got == expected
    assert repr(got) == repr(expected)


@pytest.mark.parametrize("stamp", [None, STAMP])
def test_a_v201_status_is_the_event_its_class_builds(stamp: str | None) -> None:
    """With or without the charger's own time; no error code or info in 2.0.1."""
    payload: dict[str, Any] = {"evseId": 1, "connectorId": 1, "connectorStatus": "Occupied"}
    if stamp is not None:
        payload["timestamp"] = stamp
    got = v201.from_status_notification(CP, payload, at=AT)
    expected = ConnectorStatusReported(
        charger_id=CP,
        at=AT,
        connector=ConnectorRef(evse=1, connector=1),
        status=ConnectorStatus.OCCUPIED,
        reported_at=None if stamp is None else WHEN,
    )
    assert got == expected
    assert repr(got) == repr(expected)
