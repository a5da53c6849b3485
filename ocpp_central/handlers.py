"""Adapter: one handler per inbound OCPP action: translate, submit, reply.

Each handler receives the connection's ``ChargerSession`` and the validated payload and
returns the CALLRESULT payload. Handlers never await an outbound CALL (RELIABILITY.md
R-OCPP-ORD-1): whatever must be sent to the charger afterwards is scheduled as a task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.config import ChargerSettings
from gateway.domain.ids import ChargerId
from gateway.ports import Clock, EventSink
from ocpp_central.translate import v16, v201
from ocpp_central.translate.rpc import OcppVersion

BOOT_STATUS = {"accept": "Accepted", "pending": "Pending", "reject": "Rejected"}


@dataclass(slots=True, kw_only=True)
class ChargerSession:
    """What the handlers of one connection share."""

    charger_id: ChargerId
    version: OcppVersion
    settings: ChargerSettings | None
    sink: EventSink
    clock: Clock
    heartbeat_interval_s: int
    boot_status: str | None = None  # the last BootNotification answer on this connection
    last_message_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def configured_boot(self) -> str:
        return BOOT_STATUS[self.settings.boot] if self.settings else "Accepted"

    def blocks(self, action: str) -> bool:
        """While a BootNotification is Pending or Rejected, only another boot may pass."""
        return action != "BootNotification" and self.boot_status in ("Pending", "Rejected")


Handler = Callable[[ChargerSession, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _boot_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    now = s.clock()
    status = s.configured_boot
    await s.sink.submit(
        v16.from_boot_notification(s.charger_id, payload, accepted=status == "Accepted", at=now)
    )
    s.boot_status = status
    return v16.to_boot_notification_reply(status, interval_s=s.heartbeat_interval_s, now=now)


async def _heartbeat_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    return v16.to_heartbeat_reply(s.clock())


async def _status_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    await s.sink.submit(v16.from_status_notification(s.charger_id, payload, at=s.clock()))
    return {}


async def _boot_v201(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    now = s.clock()
    status = s.configured_boot
    await s.sink.submit(
        v201.from_boot_notification(s.charger_id, payload, accepted=status == "Accepted", at=now)
    )
    s.boot_status = status
    return v201.to_boot_notification_reply(status, interval_s=s.heartbeat_interval_s, now=now)


async def _heartbeat_v201(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    return v201.to_heartbeat_reply(s.clock())


async def _status_v201(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    await s.sink.submit(v201.from_status_notification(s.charger_id, payload, at=s.clock()))
    return {}


V16: Mapping[str, Handler] = {
    "BootNotification": _boot_v16,
    "Heartbeat": _heartbeat_v16,
    "StatusNotification": _status_v16,
}

V201: Mapping[str, Handler] = {
    "BootNotification": _boot_v201,
    "Heartbeat": _heartbeat_v201,
    "StatusNotification": _status_v201,
}

HANDLERS: Mapping[OcppVersion, Mapping[str, Handler]] = {
    OcppVersion.V16: V16,
    OcppVersion.V201: V201,
    OcppVersion.V21: V201,
}
