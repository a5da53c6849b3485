"""Adapter: one handler per inbound OCPP action: translate, submit, reply.

Each handler receives the connection's ``ChargerSession`` and the validated payload and
returns an awaitable of the CALLRESULT payload, ``None`` standing for the empty one.
Transaction messages are answered only after
``sink.submit`` returned, i.e. after the commit (DESIGN.md §2.1). Handlers never await
an outbound CALL (RELIABILITY.md R-OCPP-ORD-1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.config import ChargerSettings
from gateway.core.evolve import evolve
from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.events import ChargerReported, Signal
from gateway.domain.ids import ChargerId
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, TransactionEvent, TransactionStarted
from gateway.ports import Authorizer, Clock, EventSink
from ocpp_central.translate import v16, v201
from ocpp_central.translate.rpc import OcppVersion

log = logging.getLogger(__name__)

BOOT_STATUS = {"accept": "Accepted", "pending": "Pending", "reject": "Rejected"}

#: The longest an authorisation may take before the charger gets a cautious answer:
#: chargers wait about 30 s for a CALLRESULT, and a slow partner must not cost a session.
AUTHORIZE_BUDGET_S = 10.0


@dataclass(slots=True, kw_only=True)
class ChargerSession:
    """What the handlers of one connection share."""

    charger_id: ChargerId
    version: OcppVersion
    settings: ChargerSettings | None
    sink: EventSink
    authorizer: Authorizer
    clock: Clock
    heartbeat_interval_s: int
    boot_status: str | None = None  # the last BootNotification answer on this connection
    last_message_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def configured_boot(self) -> str:
        return BOOT_STATUS[self.settings.boot] if self.settings else "Accepted"

    def now(self) -> datetime:
        """When the frame being handled arrived; the clock when no frame was read yet.

        The connection reads the clock once per frame, and reads no other frame until
        this one is answered, so this is the current message's time throughout.
        """
        at = self.last_message_at
        return self.clock() if at is None else at

    def blocks(self, action: str) -> bool:
        """While a BootNotification is Pending or Rejected, only another boot may pass."""
        return action != "BootNotification" and self.boot_status in ("Pending", "Rejected")

    async def authorize(self, token: AuthToken, connector: ConnectorRef | None) -> AuthDecision:
        evse = self.sink.evse_for(self.charger_id, connector)
        try:
            async with asyncio.timeout(AUTHORIZE_BUDGET_S):
                return await self.authorizer.authorize(self.charger_id, token, evse)
        except TimeoutError:
            log.warning("authorisation timed out charger=%s", self.charger_id)
            return AuthDecision(status=AuthStatus.INVALID, source="timeout")

    async def note(
        self, kind: str, text: str, payload: Mapping[str, Any], signal: Signal | None = None
    ) -> None:
        await self.sink.submit(
            ChargerReported(
                charger_id=self.charger_id,
                at=self.now(),
                kind=kind,
                text=text,
                detail=payload,
                signal=signal,
            )
        )


Handler = Callable[[ChargerSession, dict[str, Any]], Awaitable[dict[str, Any] | None]]


# --- both versions ------------------------------------------------------------------


def _reported(
    kind: str,
    describe: Callable[[dict[str, Any]], str],
    signal: Callable[[dict[str, Any]], Signal | None] | None = None,
) -> Handler:
    """A message the operator should be able to read: store it, answer the empty result.

    ``signal``: what the message means to the rest of the gateway, if anything.
    """

    async def handle(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
        await s.note(kind, describe(payload), payload, None if signal is None else signal(payload))
        return {}

    return handle


async def _data_transfer(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    """No vendor extension is implemented; the data is kept and the vendor is unknown."""
    await s.note(
        "data_transfer",
        f"vendor {payload.get('vendorId')!r} message {payload.get('messageId')!r}",
        payload,
    )
    return {"status": "UnknownVendorId"}


# --- OCPP 1.6 -----------------------------------------------------------------------

# Plain handlers: those of the most frequent messages (StatusNotification,
# MeterValues) are plain functions returning the sink's coroutine, its ``None`` being the
# empty answer. A coroutine of their own would be one more frame to create and to resume
# when the commit completes, on most of what chargers send.


async def _boot_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    now = s.now()
    status = s.configured_boot
    await s.sink.submit(
        v16.from_boot_notification(s.charger_id, payload, accepted=status == "Accepted", at=now)
    )
    s.boot_status = status
    return v16.to_boot_notification_reply(status, interval_s=s.heartbeat_interval_s, now=now)


async def _heartbeat_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    return v16.to_heartbeat_reply(s.now())


def _status_v16(s: ChargerSession, payload: dict[str, Any]) -> Awaitable[None]:
    # A plain handler (see the note at the top of the 1.6 handlers).
    return s.sink.submit(v16.from_status_notification(s.charger_id, payload, at=s.now()))


async def _authorize_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    decision = await s.authorize(v16.token(payload["idTag"]), None)
    return {"idTagInfo": v16.to_id_tag_info(decision)}


async def _start_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    event = v16.from_start_transaction(s.charger_id, payload, at=s.now())
    assert event.token is not None  # noqa: S101 - StartTransaction always has an idTag
    # OCPP 1.6 §4.8: the CSMS verifies the idTag again (the charger may have started offline).
    decision = await s.authorize(event.token, event.connector)
    tx = await s.sink.start_transaction(
        evolve(
            event,
            auth_source=decision.source,
            auth_reference=decision.reference,
            auth_rejected=decision.status is not AuthStatus.ACCEPTED,
        )
    )
    return v16.to_start_transaction_reply(int(tx.tx_id), decision)


async def _stop_v16(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    event = v16.from_stop_transaction(s.charger_id, payload, at=s.now())
    await s.sink.submit(event)
    if event.token is None:
        return {}
    decision = await s.authorize(event.token, event.connector)
    return {"idTagInfo": v16.to_id_tag_info(decision)}


def _meter_values_v16(s: ChargerSession, payload: dict[str, Any]) -> Awaitable[None]:
    # A plain handler (see the note at the top of the 1.6 handlers).
    return s.sink.submit(v16.from_meter_values(s.charger_id, payload, at=s.now()))


# --- OCPP 2.0.1 / 2.1 ---------------------------------------------------------------


async def _boot_v201(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    now = s.now()
    status = s.configured_boot
    await s.sink.submit(
        v201.from_boot_notification(s.charger_id, payload, accepted=status == "Accepted", at=now)
    )
    s.boot_status = status
    return v201.to_boot_notification_reply(status, interval_s=s.heartbeat_interval_s, now=now)


async def _heartbeat_v201(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    return v201.to_heartbeat_reply(s.now())


def _status_v201(s: ChargerSession, payload: dict[str, Any]) -> Awaitable[None]:
    # A plain handler (see the note at the top of the 1.6 handlers).
    return s.sink.submit(v201.from_status_notification(s.charger_id, payload, at=s.now()))


async def _authorize_v201(s: ChargerSession, payload: dict[str, Any]) -> dict[str, Any]:
    token = v201.token(payload["idToken"])
    assert token is not None  # noqa: S101 - idToken is required by the schema
    decision = await s.authorize(token, None)
    return {"idTokenInfo": v201.to_id_token_info(decision)}


def _transaction_event_v201(
    s: ChargerSession, payload: dict[str, Any]
) -> Awaitable[dict[str, Any] | None]:
    event = v201.from_transaction_event(s.charger_id, payload, at=s.now())
    if event.token is None:
        # A plain handler for the usual event, an Updated carrying meter values (see the
        # note at the top of the 1.6 handlers); one with a token is authorised first.
        return s.sink.submit(event)
    return _authorized_event_v201(s, event)


async def _authorized_event_v201(s: ChargerSession, event: TransactionEvent) -> dict[str, Any]:
    assert event.token is not None  # noqa: S101 - only events with a token come here
    decision = await s.authorize(event.token, event.connector)
    if isinstance(event, TransactionStarted):
        event = evolve(
            event,
            auth_source=decision.source,
            auth_reference=decision.reference,
            auth_rejected=decision.status is not AuthStatus.ACCEPTED,
        )
    await s.sink.submit(event)
    return {"idTokenInfo": v201.to_id_token_info(decision)}


def _meter_values_v201(s: ChargerSession, payload: dict[str, Any]) -> Awaitable[None]:
    # A plain handler (see the note at the top of the 1.6 handlers).
    return s.sink.submit(v201.from_meter_values(s.charger_id, payload, at=s.now()))


def _status_text(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda p: str(p.get(key))


def _on_evse(payload: dict[str, Any]) -> str:
    evse = payload.get("evseId")
    return "the whole charger" if evse in (None, 0) else f"EVSE {evse}"


def _limit_set(payload: dict[str, Any]) -> str:
    limit = payload.get("chargingLimit") or {}
    critical = " (grid critical)" if limit.get("isGridCritical") else ""
    return f"limit set by {limit.get('chargingLimitSource')}{critical} on {_on_evse(payload)}"


def _limit_cleared(payload: dict[str, Any]) -> str:
    return f"limit by {payload.get('chargingLimitSource')} cleared on {_on_evse(payload)}"


V16: Mapping[str, Handler] = {
    "BootNotification": _boot_v16,
    "Heartbeat": _heartbeat_v16,
    "StatusNotification": _status_v16,
    "Authorize": _authorize_v16,
    "StartTransaction": _start_v16,
    "StopTransaction": _stop_v16,
    "MeterValues": _meter_values_v16,
    "DataTransfer": _data_transfer,
    "FirmwareStatusNotification": _reported("firmware_status", _status_text("status")),
    "DiagnosticsStatusNotification": _reported("diagnostics_status", _status_text("status")),
    "SecurityEventNotification": _reported("security_event", _status_text("type")),
    "LogStatusNotification": _reported("log_status", _status_text("status")),
    "SignedFirmwareStatusNotification": _reported("firmware_status", _status_text("status")),
}

V201: Mapping[str, Handler] = {
    "BootNotification": _boot_v201,
    "Heartbeat": _heartbeat_v201,
    "StatusNotification": _status_v201,
    "Authorize": _authorize_v201,
    "TransactionEvent": _transaction_event_v201,
    "MeterValues": _meter_values_v201,
    "DataTransfer": _data_transfer,
    "FirmwareStatusNotification": _reported("firmware_status", _status_text("status")),
    "LogStatusNotification": _reported("log_status", _status_text("status")),
    "SecurityEventNotification": _reported("security_event", _status_text("type")),
    "NotifyReport": _reported(
        "notify_report", lambda p: f"report {p.get('requestId')} part {p.get('seqNo')}"
    ),
    "NotifyEvent": _reported("notify_event", lambda p: f"{len(p.get('eventData', ()))} events"),
    "NotifyChargingLimit": _reported("charging_limit", _limit_set, v201.limit_changed),
    "ClearedChargingLimit": _reported("charging_limit", _limit_cleared, v201.limit_changed),
    "ReservationStatusUpdate": _reported(
        "reservation_status",
        lambda p: f"reservation {p.get('reservationId')}: {p.get('reservationUpdateStatus')}",
        v201.reservation_released,
    ),
}

HANDLERS: Mapping[OcppVersion, Mapping[str, Handler]] = {
    OcppVersion.V16: V16,
    OcppVersion.V201: V201,
    OcppVersion.V21: V201,
}
