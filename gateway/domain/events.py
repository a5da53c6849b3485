"""Pure: what happened at a charger, in the gateway's own terms (past tense).

``ocpp_central`` turns OCPP messages into these; the runtime feeds them through
``gateway.core.step``. Every event carries ``at``: the instant the gateway received
it (UTC), which is what EVSE ``last_updated`` times are based on. Charger clocks are
kept separately where they matter, because they are often wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.domain.ids import ChargerId
from gateway.domain.status import ConnectorStatus
from gateway.domain.topology import ConnectorRef


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerConnected:
    """A websocket connection was established and authenticated."""

    charger_id: ChargerId
    at: datetime
    protocol: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerBooted:
    """The charger introduced itself (BootNotification) and was answered ``accepted`` or not."""

    charger_id: ChargerId
    at: datetime
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    accepted: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorStatusReported:
    """A connector's (or, with ``connector=None``, the whole charger's) status changed."""

    charger_id: ChargerId
    at: datetime
    connector: ConnectorRef | None
    status: ConnectorStatus
    error_code: str | None = None
    info: str | None = None
    reported_at: datetime | None = None  # the charger's own clock, for the record only


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerDisconnected:
    """The websocket connection closed (or was replaced by a newer one)."""

    charger_id: ChargerId
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineGraceElapsed:
    """The scheduler noticed a charger has stayed disconnected for the whole grace period."""

    charger_id: ChargerId
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitChanged:
    """A charging limit was set or cleared at the charger by someone else.

    An energy manager or the grid operator: the active charging profile of the sessions
    on ``evse`` (``None``: the whole charger) may have changed.
    """

    evse: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationReleased:
    """The charger ended a reservation itself: it no longer holds its EVSE.

    ``reservation_id`` is the id the gateway gave the charger; ``expired`` tells an
    expiry from a removal at the charger.
    """

    reservation_id: int
    expired: bool


Signal = LimitChanged | ReservationReleased
"""What a ``ChargerReported`` means beyond the operator's record, in the gateway's terms."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerReported:
    """Something the charger told that the operator should be able to read later.

    Firmware and diagnostics progress, security events, device reports, vendor data
    transfers: stored as they came, never interpreted for billing.
    """

    charger_id: ChargerId
    at: datetime
    kind: str
    text: str
    detail: Mapping[str, Any]
    signal: Signal | None = None


ChargerEvent = (
    ChargerConnected
    | ChargerBooted
    | ConnectorStatusReported
    | ChargerDisconnected
    | OfflineGraceElapsed
    | ChargerReported
)
