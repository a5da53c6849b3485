"""OCPP 1.6 and 2.0.1 payloads -> domain events, and answers back (pure translators)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.events import LimitChanged, ReservationReleased
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
from ocpp_central.translate import common, v16, v201
from tests.builders import T0

CP = ChargerId("CP-1")


def sample_v16(value: str = "1500", when: str = "2026-11-22T10:05:00Z") -> dict[str, Any]:
    return {"timestamp": when, "sampledValue": [{"value": value}]}


def sample_v201(value: float = 1500, when: str = "2026-11-22T10:05:00Z") -> dict[str, Any]:
    return {"timestamp": when, "sampledValue": [{"value": value}]}


# --- common -----------------------------------------------------------------------


def test_ocpp_datetimes_are_utc_with_z_and_milliseconds():
    """Every date-time sent to a charger is ...T..:..:..sssZ in UTC."""
    assert common.ocpp_datetime(T0) == "2026-11-22T10:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T10:00:00Z", T0),
        ("2026-11-22T11:00:00+01:00", T0),
        ("2026-11-22T10:00:00", T0),
        ("not a date", None),
        (None, None),
        (12, None),
    ],
)
def test_optional_datetimes_are_read_leniently(text, expected):
    """Status timestamps are for the record: unreadable ones become None, never an error."""
    assert common.optional_datetime(text) == expected


# --- 1.6 ----------------------------------------------------------------------------


def test_v16_boot_reads_vendor_model_and_serial():
    """chargeBoxSerialNumber stands in when chargePointSerialNumber is absent."""
    event = v16.from_boot_notification(
        CP,
        {
            "chargePointVendor": "V",
            "chargePointModel": "M",
            "chargeBoxSerialNumber": "S",
            "firmwareVersion": "1",
        },
        accepted=True,
        at=T0,
    )
    assert (event.vendor, event.model, event.serial_number, event.firmware_version) == (
        "V",
        "M",
        "S",
        "1",
    )
    assert v16.to_boot_notification_reply("Pending", interval_s=60, now=T0) == {
        "status": "Pending",
        "currentTime": "2026-11-22T10:00:00.000Z",
        "interval": 60,
    }
    assert v16.to_heartbeat_reply(T0) == {"currentTime": "2026-11-22T10:00:00.000Z"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Available", ConnectorStatus.AVAILABLE),
        ("Preparing", ConnectorStatus.OCCUPIED),
        ("Charging", ConnectorStatus.OCCUPIED),
        ("SuspendedEV", ConnectorStatus.OCCUPIED),
        ("SuspendedEVSE", ConnectorStatus.OCCUPIED),
        ("Finishing", ConnectorStatus.OCCUPIED),
        ("Reserved", ConnectorStatus.RESERVED),
        ("Unavailable", ConnectorStatus.UNAVAILABLE),
        ("Faulted", ConnectorStatus.FAULTED),
    ],
)
def test_v16_statuses_map_per_design(status, expected):
    """DESIGN.md §3, 1.6 column."""
    event = v16.from_status_notification(
        CP, {"connectorId": 1, "errorCode": "NoError", "status": status}, at=T0
    )
    assert event.status is expected
    assert event.connector == ConnectorRef(evse=None, connector=1)
    assert event.error_code is None


def test_v16_connector_zero_is_the_station_and_errors_are_kept():
    """Connector 0 reports about the whole charger; a real errorCode is kept."""
    event = v16.from_status_notification(
        CP,
        {
            "connectorId": 0,
            "errorCode": "GroundFailure",
            "status": "Faulted",
            "info": "x",
            "timestamp": "2026-11-22T10:00:00Z",
        },
        at=T0,
    )
    assert event.connector is None
    assert (event.error_code, event.info, event.reported_at) == ("GroundFailure", "x", T0)


def test_v16_start_transaction_becomes_a_start_with_a_content_key():
    """The key is the message content: a resent Start is recognised whatever its message id."""
    payload = {
        "connectorId": 1,
        "idTag": "04A1",
        "meterStart": 1234,
        "timestamp": "2026-11-22T10:00:00Z",
        "reservationId": 7,
    }
    event = v16.from_start_transaction(CP, payload, at=T0)

    assert isinstance(event, TransactionStarted)
    assert event.tx_id == ""
    assert event.meter_start_wh == Decimal(1234)
    assert event.token == AuthToken(value="04A1", kind=TokenKind.RFID)
    assert event.start_key == "1|04A1|1234|2026-11-22T10:00:00Z"
    assert event.reservation_id == 7
    assert not event.clock_suspect
    assert v16.from_start_transaction(CP, payload, at=T0).start_key == event.start_key


def test_v16_start_with_a_1970_clock_uses_the_receive_time_and_is_flagged():
    """Quirk #12: a charger clock never set is replaced by the receive time."""
    payload = {
        "connectorId": 1,
        "idTag": "04A1",
        "meterStart": 0,
        "timestamp": "1970-01-01T00:00:10Z",
    }
    event = v16.from_start_transaction(CP, payload, at=T0)

    assert event.started_at == T0
    assert event.clock_suspect
    assert event.problems


def test_v16_stop_transaction_carries_its_transaction_data():
    """meterStop, reason (default Local), idTag and transactionData samples are kept."""
    payload = {
        "transactionId": 12,
        "meterStop": 5000,
        "timestamp": "2026-11-22T11:00:00Z",
        "idTag": "04A1",
        "transactionData": [sample_v16("4000")],
    }
    event = v16.from_stop_transaction(CP, payload, at=T0.replace(hour=11))

    assert isinstance(event, TransactionStopped)
    assert (event.tx_id, event.meter_stop_wh, event.reason) == ("12", Decimal(5000), "Local")
    assert event.token == AuthToken(value="04A1")
    assert len(event.samples) == 1
    anonymous = v16.from_stop_transaction(
        CP, {k: v for k, v in payload.items() if k != "idTag"}, at=T0
    )
    assert anonymous.token is None


def test_v16_meter_values_with_and_without_a_transaction():
    """With transactionId they update the transaction; without, they are connector samples."""
    tx = v16.from_meter_values(
        CP, {"connectorId": 2, "transactionId": 5, "meterValue": [sample_v16()]}, at=T0
    )
    plain = v16.from_meter_values(CP, {"connectorId": 0, "meterValue": [sample_v16("x")]}, at=T0)

    assert isinstance(tx, TransactionUpdated)
    assert (tx.tx_id, tx.connector) == ("5", ConnectorRef(evse=None, connector=2))
    assert isinstance(plain, MeterValuesReported)
    assert plain.connector is None
    assert plain.samples == ()
    assert plain.problems


@pytest.mark.parametrize(
    ("status", "wire"),
    [
        (AuthStatus.ACCEPTED, "Accepted"),
        (AuthStatus.BLOCKED, "Blocked"),
        (AuthStatus.EXPIRED, "Expired"),
        (AuthStatus.INVALID, "Invalid"),
        (AuthStatus.CONCURRENT_TX, "ConcurrentTx"),
        (AuthStatus.UNKNOWN, "Invalid"),
    ],
)
def test_v16_id_tag_info(status, wire):
    """Every authorisation outcome has a 1.6 word; unknown tokens are Invalid."""
    assert v16.to_id_tag_info(AuthDecision(status=status)) == {"status": wire}


def test_v16_id_tag_info_carries_expiry_and_group():
    """Expiry and parent id tag are sent when known (parentIdTag is at most 20 chars)."""
    decision = AuthDecision(status=AuthStatus.ACCEPTED, expires_at=T0, group_id="G" * 30)
    assert v16.to_id_tag_info(decision) == {
        "status": "Accepted",
        "expiryDate": "2026-11-22T10:00:00.000Z",
        "parentIdTag": "G" * 20,
    }
    assert v16.to_start_transaction_reply(3, decision)["transactionId"] == 3


# --- 2.0.1 --------------------------------------------------------------------------


def test_v201_boot_and_status():
    """2.0.1 BootNotification nests the station; StatusNotification is per EVSE/connector."""
    boot = v201.from_boot_notification(
        CP,
        {
            "reason": "PowerUp",
            "chargingStation": {"model": "M", "vendorName": "V", "serialNumber": "S"},
        },
        accepted=False,
        at=T0,
    )
    assert (boot.vendor, boot.model, boot.serial_number, boot.accepted) == ("V", "M", "S", False)
    status = v201.from_status_notification(
        CP,
        {
            "timestamp": "2026-11-22T10:00:00Z",
            "connectorStatus": "Occupied",
            "evseId": 2,
            "connectorId": 1,
        },
        at=T0,
    )
    assert (status.connector, status.status) == (
        ConnectorRef(evse=2, connector=1),
        ConnectorStatus.OCCUPIED,
    )
    station = v201.from_status_notification(
        CP,
        {
            "timestamp": "2026-11-22T10:00:00Z",
            "connectorStatus": "Faulted",
            "evseId": 0,
            "connectorId": 0,
        },
        at=T0,
    )
    assert station.connector is None
    assert v201.to_boot_notification_reply("Accepted", interval_s=300, now=T0)["interval"] == 300
    assert v201.to_heartbeat_reply(T0) == {"currentTime": "2026-11-22T10:00:00.000Z"}


def tx_event(event_type: str, **extra) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "timestamp": "2026-11-22T10:00:00Z",
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {
            "transactionId": "abc-1",
            "remoteStartId": 9,
            "stoppedReason": "EVDisconnected",
        },
        "idToken": {"idToken": "04A1", "type": "ISO14443"},
        "evse": {"id": 1, "connectorId": 2},
        "meterValue": [sample_v201()],
        **extra,
    }


def test_v201_transaction_events_map_by_event_type():
    """Started / Updated / Ended become the three transaction events, keyed by seqNo."""
    start = v201.from_transaction_event(CP, tx_event("Started", reservationId=4), at=T0)
    update = v201.from_transaction_event(CP, tx_event("Updated", seqNo=1), at=T0)
    end = v201.from_transaction_event(CP, tx_event("Ended", seqNo=2), at=T0)

    assert isinstance(start, TransactionStarted)
    assert (start.tx_id, start.seq_no, start.remote_start_id, start.reservation_id) == (
        "abc-1",
        0,
        9,
        4,
    )
    assert start.connector == ConnectorRef(evse=1, connector=2)
    assert start.token == AuthToken(value="04A1", kind=TokenKind.RFID)
    assert start.meter_start_wh is None
    assert isinstance(update, TransactionUpdated)
    assert update.seq_no == 1
    assert isinstance(end, TransactionStopped)
    assert (end.reason, end.stopped_at) == ("EVDisconnected", T0)


def test_v201_event_without_evse_or_token():
    """An event may omit the EVSE and the token; an EVSE without connector is connector 0."""
    payload = tx_event("Updated")
    del payload["idToken"], payload["evse"]
    event = v201.from_transaction_event(CP, payload, at=T0)
    assert (event.token, event.connector) == (None, None)

    only_evse = v201.from_transaction_event(CP, tx_event("Updated", evse={"id": 3}), at=T0)
    assert only_evse.connector == ConnectorRef(evse=3, connector=0)


def test_v201_future_timestamps_are_replaced_and_flagged():
    """Quirk #12 on 2.0.1: a clock in the future is replaced by the receive time."""
    event = v201.from_transaction_event(
        CP, tx_event("Ended", timestamp="2099-01-01T00:00:00Z"), at=T0
    )
    assert isinstance(event, TransactionStopped)
    assert event.stopped_at == T0
    assert event.clock_suspect


@pytest.mark.parametrize(
    ("wire", "kind"),
    [
        ("ISO14443", TokenKind.RFID),
        ("ISO15693", TokenKind.RFID),
        ("Central", TokenKind.CENTRAL),
        ("eMAID", TokenKind.CONTRACT),
        ("KeyCode", TokenKind.KEY_CODE),
        ("Local", TokenKind.LOCAL),
        ("MacAddress", TokenKind.MAC_ADDRESS),
        ("NoAuthorization", TokenKind.NO_AUTHORIZATION),
        ("Vendor", TokenKind.OTHER),
    ],
)
def test_v201_token_kinds(wire, kind):
    """Each 2.0.1 IdTokenEnumType has a token kind; unknown ones are OTHER."""
    assert v201.token({"idToken": "x", "type": wire}) == AuthToken(value="x", kind=kind)


def test_v201_id_token_info():
    """2.0.1 keeps Unknown as a word of its own; expiry and group are sent when known."""
    assert v201.to_id_token_info(AuthDecision(status=AuthStatus.UNKNOWN)) == {"status": "Unknown"}
    full = v201.to_id_token_info(
        AuthDecision(
            status=AuthStatus.ACCEPTED, expires_at=datetime(2027, 1, 1, tzinfo=UTC), group_id="G1"
        )
    )
    assert full == {
        "status": "Accepted",
        "cacheExpiryDateTime": "2027-01-01T00:00:00.000Z",
        "groupIdToken": {"idToken": "G1", "type": "Central"},
    }


def test_v201_meter_values_are_connector_samples():
    """2.0.1 MeterValues carry no transaction; EVSE 0 is the station meter."""
    event = v201.from_meter_values(CP, {"evseId": 1, "meterValue": [sample_v201()]}, at=T0)
    station = v201.from_meter_values(CP, {"evseId": 0, "meterValue": [sample_v201()]}, at=T0)
    assert event.connector == ConnectorRef(evse=1, connector=0)
    assert station.connector is None
    assert len(event.samples) == 1


@pytest.mark.parametrize(
    ("payload", "evse"),
    [({"evseId": 2}, 2), ({"evseId": 0}, None), ({}, None)],
    ids=["one EVSE", "evse 0", "no evse"],
)
def test_a_charging_limit_names_its_evse_or_the_whole_charger(payload, evse):
    """NotifyChargingLimit / ClearedChargingLimit: evseId 0 or none is the whole charger."""
    assert v201.limit_changed(payload) == LimitChanged(evse=evse)


@pytest.mark.parametrize(
    ("status", "released"),
    [
        ("Expired", ReservationReleased(reservation_id=7, expired=True)),
        ("Removed", ReservationReleased(reservation_id=7, expired=False)),
        ("ScheduledRemoval", None),
    ],
)
def test_a_reservation_update_releases_only_when_it_ended(status, released):
    """ReservationStatusUpdate: Expired and Removed end the reservation; a removal only
    scheduled changes nothing yet."""
    payload = {"reservationId": 7, "reservationUpdateStatus": status}
    assert v201.reservation_released(payload) == released
