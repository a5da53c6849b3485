"""Pure: OCPP 2.0.1 / 2.1 payloads -> domain events, and answers -> OCPP payloads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.core.evolve import builder, constructor
from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.events import (
    ChargerBooted,
    ConnectorStatusReported,
    LimitChanged,
    ReservationReleased,
)
from gateway.domain.ids import ChargerId
from gateway.domain.status import ConnectorStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import (
    AuthToken,
    MeterValuesReported,
    TokenKind,
    TransactionEvent,
    TransactionStarted,
    TransactionStopped,
    TransactionUpdated,
)
from ocpp_central.translate.common import ocpp_datetime, optional_datetime
from ocpp_central.translate.meter import parse_timestamp, v201_samples

#: OCPP 2.0.1 ConnectorStatusEnumType -> the gateway's connector status (DESIGN.md §3).
STATUS: Mapping[str, ConnectorStatus] = {
    "Available": ConnectorStatus.AVAILABLE,
    "Occupied": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}


def from_boot_notification(
    charger_id: ChargerId, payload: Mapping[str, Any], *, accepted: bool, at: datetime
) -> ChargerBooted:
    station = payload["chargingStation"]
    return ChargerBooted(
        charger_id=charger_id,
        at=at,
        vendor=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        accepted=accepted,
    )


def to_boot_notification_reply(status: str, *, interval_s: int, now: datetime) -> dict[str, Any]:
    return {"status": status, "currentTime": ocpp_datetime(now), "interval": interval_s}


def to_heartbeat_reply(now: datetime) -> dict[str, Any]:
    return {"currentTime": ocpp_datetime(now)}


#: The events, built faster than by the classes' own __init__ (see `constructor`); those
#: of TransactionEvent Updated, MeterValues and StatusNotification, most of what chargers
#: send, positionally (see `builder`).
_new_started = constructor(TransactionStarted)
_new_stopped = constructor(TransactionStopped)
_status = builder(ConnectorStatusReported, "charger_id", "at", "connector", "status", "reported_at")
_updated = builder(
    TransactionUpdated,
    *("charger_id", "at", "tx_id", "connector", "token", "seq_no", "samples", "problems"),
)
_reported = builder(MeterValuesReported, "charger_id", "at", "connector", "samples", "problems")


def from_status_notification(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> ConnectorStatusReported:
    """EVSE id 0 addresses the station as a whole; it becomes a station report."""
    evse_id = int(payload["evseId"])
    return _status(
        charger_id,
        at,
        None if evse_id == 0 else _connector_ref(evse_id, int(payload["connectorId"])),
        STATUS[payload["connectorStatus"]],
        optional_datetime(payload.get("timestamp")),
    )


#: OCPP 2.0.1 IdTokenEnumType -> the gateway's token kind.
TOKEN_KIND: Mapping[str, TokenKind] = {
    "ISO14443": TokenKind.RFID,
    "ISO15693": TokenKind.RFID,
    "Central": TokenKind.CENTRAL,
    "eMAID": TokenKind.CONTRACT,
    "KeyCode": TokenKind.KEY_CODE,
    "Local": TokenKind.LOCAL,
    "MacAddress": TokenKind.MAC_ADDRESS,
    "NoAuthorization": TokenKind.NO_AUTHORIZATION,
}

#: The gateway's authorisation outcome -> OCPP 2.0.1 AuthorizationStatusEnumType.
AUTH_STATUS: Mapping[AuthStatus, str] = {
    AuthStatus.ACCEPTED: "Accepted",
    AuthStatus.BLOCKED: "Blocked",
    AuthStatus.EXPIRED: "Expired",
    AuthStatus.INVALID: "Invalid",
    AuthStatus.CONCURRENT_TX: "ConcurrentTx",
    AuthStatus.UNKNOWN: "Unknown",
}


def token(id_token: Mapping[str, Any] | None) -> AuthToken | None:
    if id_token is None:
        return None
    return AuthToken(
        value=id_token["idToken"], kind=TOKEN_KIND.get(id_token["type"], TokenKind.OTHER)
    )


def to_id_token_info(decision: AuthDecision) -> dict[str, Any]:
    info: dict[str, Any] = {"status": AUTH_STATUS[decision.status]}
    if decision.expires_at is not None:
        info["cacheExpiryDateTime"] = ocpp_datetime(decision.expires_at)
    if decision.group_id is not None:
        info["groupIdToken"] = {"idToken": decision.group_id[:36], "type": "Central"}
    return info


#: Connector references by (EVSE id, connector id). References are immutable and the same
#: few pairs arrive in nearly every message, so they are made once; others each time.
_CONNECTORS: Mapping[tuple[int, int], ConnectorRef] = {
    (e, c): ConnectorRef(evse=e, connector=c) for e in range(1, 9) for c in range(5)
}


def _connector_ref(evse_id: int, connector_id: int) -> ConnectorRef:
    return _CONNECTORS.get((evse_id, connector_id)) or ConnectorRef(
        evse=evse_id, connector=connector_id
    )


def _connector(evse: Mapping[str, Any] | None) -> ConnectorRef | None:
    """An EVSE without a connector id stands for the EVSE as a whole (connector 0)."""
    if evse is None:
        return None
    return _connector_ref(int(evse["id"]), int(evse.get("connectorId", 0)))


def from_transaction_event(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> TransactionEvent:
    """TransactionEvent Started / Updated / Ended, keyed by (charger, transactionId, seqNo)."""
    info = payload["transactionInfo"]
    when, problem = parse_timestamp(payload["timestamp"], received_at=at)
    samples, problems = v201_samples(payload.get("meterValue") or (), received_at=at)
    if problem is not None:
        problems = (problem, *problems)
    suspect = problem is not None and when == at
    tx_id = str(info["transactionId"])
    connector = _connector(payload.get("evse"))
    token_ = token(payload.get("idToken"))
    seq_no = int(payload["seqNo"])
    match payload["eventType"]:
        case "Started":
            return _new_started(
                charger_id=charger_id,
                at=at,
                tx_id=tx_id,
                connector=connector,
                token=token_,
                seq_no=seq_no,
                samples=samples,
                problems=problems,
                started_at=when,
                remote_start_id=info.get("remoteStartId"),
                reservation_id=payload.get("reservationId"),
                clock_suspect=suspect,
            )
        case "Ended":
            return _new_stopped(
                charger_id=charger_id,
                at=at,
                tx_id=tx_id,
                connector=connector,
                token=token_,
                seq_no=seq_no,
                samples=samples,
                problems=problems,
                stopped_at=when,
                reason=info.get("stoppedReason"),
                clock_suspect=suspect,
            )
        case _:
            return _updated(charger_id, at, tx_id, connector, token_, seq_no, samples, problems)


def from_meter_values(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> MeterValuesReported:
    """2.0.1 MeterValues carry no transaction: transaction data comes in TransactionEvent."""
    samples, problems = v201_samples(payload.get("meterValue") or (), received_at=at)
    evse_id = int(payload["evseId"])
    connector = None if evse_id == 0 else _connector_ref(evse_id, 0)
    return _reported(charger_id, at, connector, samples, problems)


def limit_changed(payload: Mapping[str, Any]) -> LimitChanged:
    """NotifyChargingLimit / ClearedChargingLimit: evseId 0 or none is the whole charger."""
    evse = payload.get("evseId")
    return LimitChanged(evse=evse if isinstance(evse, int) and evse > 0 else None)


def reservation_released(payload: Mapping[str, Any]) -> ReservationReleased | None:
    """ReservationStatusUpdate: only Expired and Removed end a reservation.

    The third status, ScheduledRemoval (a later removal announced), changes nothing yet.
    """
    status = payload.get("reservationUpdateStatus")
    if status not in ("Expired", "Removed"):
        return None
    return ReservationReleased(
        reservation_id=int(payload["reservationId"]), expired=status == "Expired"
    )
