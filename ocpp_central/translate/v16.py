"""Pure: OCPP 1.6 payloads -> domain events, and domain answers -> OCPP 1.6 payloads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from gateway.core.evolve import builder, constructor
from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.events import ChargerBooted, ConnectorStatusReported
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
from ocpp_central.translate.common import ocpp_datetime, optional_datetime
from ocpp_central.translate.meter import parse_timestamp, v16_samples

#: OCPP 1.6 ChargePointStatus -> the gateway's connector status (DESIGN.md §3).
STATUS: Mapping[str, ConnectorStatus] = {
    "Available": ConnectorStatus.AVAILABLE,
    "Preparing": ConnectorStatus.OCCUPIED,
    "Charging": ConnectorStatus.OCCUPIED,
    "SuspendedEVSE": ConnectorStatus.OCCUPIED,
    "SuspendedEV": ConnectorStatus.OCCUPIED,
    "Finishing": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}


#: 1.6 connectors by number. References are immutable and the same few numbers arrive in
#: nearly every message, so they are made once; a number beyond these is made each time.
_CONNECTORS: Mapping[int, ConnectorRef] = {
    n: ConnectorRef(evse=None, connector=n) for n in range(1, 33)
}


def _connector(connector_id: int) -> ConnectorRef:
    return _CONNECTORS.get(connector_id) or ConnectorRef(evse=None, connector=connector_id)


def from_boot_notification(
    charger_id: ChargerId, payload: Mapping[str, Any], *, accepted: bool, at: datetime
) -> ChargerBooted:
    return ChargerBooted(
        charger_id=charger_id,
        at=at,
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        serial_number=payload.get("chargePointSerialNumber")
        or payload.get("chargeBoxSerialNumber"),
        firmware_version=payload.get("firmwareVersion"),
        accepted=accepted,
    )


def to_boot_notification_reply(status: str, *, interval_s: int, now: datetime) -> dict[str, Any]:
    return {"status": status, "currentTime": ocpp_datetime(now), "interval": interval_s}


def to_heartbeat_reply(now: datetime) -> dict[str, Any]:
    return {"currentTime": ocpp_datetime(now)}


#: The events, built faster than by the classes' own __init__ (see `constructor`); those
#: of MeterValues and StatusNotification, most of what chargers send, positionally
#: (see `builder`).
_status = builder(
    ConnectorStatusReported,
    *("charger_id", "at", "connector", "status", "error_code", "info", "reported_at"),
)
_updated = builder(
    TransactionUpdated, "charger_id", "at", "tx_id", "connector", "samples", "problems"
)
_reported = builder(MeterValuesReported, "charger_id", "at", "connector", "samples", "problems")
_new_started = constructor(TransactionStarted)
_new_stopped = constructor(TransactionStopped)


def from_status_notification(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> ConnectorStatusReported:
    """Connector 0 is the charge point itself (OCPP 1.6 §4.9); it becomes a station report."""
    connector_id = int(payload["connectorId"])
    error_code = payload.get("errorCode")
    return _status(
        charger_id,
        at,
        None if connector_id == 0 else _connector(connector_id),
        STATUS[payload["status"]],
        None if error_code in (None, "NoError") else error_code,
        payload.get("info"),
        optional_datetime(payload.get("timestamp")),
    )


#: The gateway's authorisation outcome -> OCPP 1.6 AuthorizationStatus.
AUTH_STATUS: Mapping[AuthStatus, str] = {
    AuthStatus.ACCEPTED: "Accepted",
    AuthStatus.BLOCKED: "Blocked",
    AuthStatus.EXPIRED: "Expired",
    AuthStatus.INVALID: "Invalid",
    AuthStatus.CONCURRENT_TX: "ConcurrentTx",
    AuthStatus.UNKNOWN: "Invalid",
}


def token(id_tag: str) -> AuthToken:
    """1.6 idTags carry no type; almost all are RFID card UIDs."""
    return AuthToken(value=id_tag, kind=TokenKind.RFID)


def to_id_tag_info(decision: AuthDecision) -> dict[str, Any]:
    info: dict[str, Any] = {"status": AUTH_STATUS[decision.status]}
    if decision.expires_at is not None:
        info["expiryDate"] = ocpp_datetime(decision.expires_at)
    if decision.group_id is not None:
        info["parentIdTag"] = decision.group_id[:20]
    return info


def from_start_transaction(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> TransactionStarted:
    """``tx_id`` is left empty: the gateway issues it (RELIABILITY.md §2.4).

    The start key is the message's whole content, so the same StartTransaction resent
    (under the same or a new message id) is recognised and gets the same transactionId.
    """
    started_at, problem = parse_timestamp(payload["timestamp"], received_at=at)
    connector_id = int(payload["connectorId"])
    key = "|".join(
        (str(connector_id), payload["idTag"], str(payload["meterStart"]), str(payload["timestamp"]))
    )
    return _new_started(
        charger_id=charger_id,
        at=at,
        tx_id="",
        connector=_connector(connector_id),
        token=token(payload["idTag"]),
        started_at=started_at,
        meter_start_wh=Decimal(int(payload["meterStart"])),
        start_key=key,
        reservation_id=payload.get("reservationId"),
        problems=() if problem is None else (problem,),
        clock_suspect=problem is not None and started_at == at,
    )


def to_start_transaction_reply(transaction_id: int, decision: AuthDecision) -> dict[str, Any]:
    return {"transactionId": transaction_id, "idTagInfo": to_id_tag_info(decision)}


def from_stop_transaction(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> TransactionStopped:
    stopped_at, problem = parse_timestamp(payload["timestamp"], received_at=at)
    samples, problems = v16_samples(
        payload.get("transactionData") or (), received_at=at, field="transactionData"
    )
    id_tag = payload.get("idTag")
    if problem is not None:
        problems = (problem, *problems)
    return _new_stopped(
        charger_id=charger_id,
        at=at,
        tx_id=str(payload["transactionId"]),
        stopped_at=stopped_at,
        meter_stop_wh=Decimal(int(payload["meterStop"])),
        reason=payload.get("reason") or "Local",
        token=None if id_tag is None else token(id_tag),
        samples=samples,
        problems=problems,
        clock_suspect=problem is not None and stopped_at == at,
    )


def from_meter_values(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> TransactionUpdated | MeterValuesReported:
    samples, problems = v16_samples(payload.get("meterValue") or (), received_at=at)
    connector_id = int(payload["connectorId"])
    connector = None if connector_id == 0 else _connector(connector_id)
    tx_id = payload.get("transactionId")
    if tx_id is None:
        return _reported(charger_id, at, connector, samples, problems)
    return _updated(charger_id, at, str(tx_id), connector, samples, problems)
