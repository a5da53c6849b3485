"""Pure: OCPP 2.0.1 / 2.1 payloads -> domain events, and answers -> OCPP payloads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.domain.events import ChargerBooted, ConnectorStatusReported
from gateway.domain.ids import ChargerId
from gateway.domain.status import ConnectorStatus
from gateway.domain.topology import ConnectorRef
from ocpp_central.translate.common import ocpp_datetime, optional_datetime

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


def from_status_notification(
    charger_id: ChargerId, payload: Mapping[str, Any], *, at: datetime
) -> ConnectorStatusReported:
    """EVSE id 0 addresses the station as a whole; it becomes a station report."""
    evse_id = int(payload["evseId"])
    return ConnectorStatusReported(
        charger_id=charger_id,
        at=at,
        connector=None
        if evse_id == 0
        else ConnectorRef(evse=evse_id, connector=int(payload["connectorId"])),
        status=STATUS[payload["connectorStatus"]],
        reported_at=optional_datetime(payload.get("timestamp")),
    )
