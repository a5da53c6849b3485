"""Pure: OCPP 1.6 payloads -> domain events, and domain answers -> OCPP 1.6 payloads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.domain.events import ChargerBooted, ConnectorStatusReported
from gateway.domain.ids import ChargerId
from gateway.domain.status import ConnectorStatus
from gateway.domain.topology import ConnectorRef
from ocpp_central.translate.common import ocpp_datetime, optional_datetime

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


def from_status_notification(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> ConnectorStatusReported:
    """Connector 0 is the charge point itself (OCPP 1.6 §4.9); it becomes a station report."""
    connector_id = int(payload["connectorId"])
    error_code = payload.get("errorCode")
    return ConnectorStatusReported(
        charger_id=charger_id,
        at=at,
        connector=None if connector_id == 0 else ConnectorRef(evse=None, connector=connector_id),
        status=STATUS[payload["status"]],
        error_code=None if error_code in (None, "NoError") else error_code,
        info=payload.get("info"),
        reported_at=optional_datetime(payload.get("timestamp")),
    )
