"""Pure: what the gateway can ask a charger to do (imperative), and how it went.

Both OCPP versions have a message for each command; ``ocpp_central.translate.commands``
turns these into the version's CALL and its answer back into a ``CommandOutcome``.
Connectors are addressed as the charger numbers them (``ConnectorRef``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken


class RateUnit(StrEnum):
    """Unit of charging limits."""

    W = "W"
    A = "A"


class ProfilePurpose(StrEnum):
    """Which stack a charging profile belongs to."""

    TX = "tx"  # one transaction
    TX_DEFAULT = "tx_default"
    MAX = "max"  # the charger's ceiling


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulePeriod:
    """From ``start_s`` seconds after the schedule start, at most ``limit``."""

    start_s: int
    limit: Decimal
    phases: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingProfile:
    """A charging schedule in the gateway's terms (both OCPP versions can carry it)."""

    id: int
    stack_level: int = 0
    purpose: ProfilePurpose = ProfilePurpose.TX
    rate_unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    start: datetime | None = None  # absolute start; None = relative to the transaction
    duration_s: int | None = None
    min_rate: Decimal | None = None
    tx_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCharging:
    """Start a transaction for ``token`` (remote start)."""

    token: AuthToken
    connector: ConnectorRef | None
    remote_start_id: int
    profile: ChargingProfile | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StopCharging:
    """Stop a running transaction."""

    tx_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UnlockConnector:
    """Release the cable lock of one connector."""

    connector: ConnectorRef


@dataclass(frozen=True, slots=True, kw_only=True)
class ReserveNow:
    """Hold a connector (or an EVSE) for ``token`` until ``expires_at``."""

    reservation_id: int  # unique on the charger (never a partner's id as-is)
    connector: ConnectorRef | None
    token: AuthToken
    expires_at: datetime
    group_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelReservation:
    """Release a reservation made with ``ReserveNow``."""

    reservation_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetChargingProfile:
    """Install a charging profile on a connector (or EVSE)."""

    connector: ConnectorRef | None
    profile: ChargingProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearChargingProfile:
    """Remove profiles by id, or by connector and purpose."""

    profile_id: int | None = None
    connector: ConnectorRef | None = None
    purpose: ProfilePurpose | None = None
    stack_level: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCompositeSchedule:
    """Ask what limits apply over the next ``duration_s`` seconds."""

    connector: ConnectorRef | None
    duration_s: int
    rate_unit: RateUnit | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeAvailability:
    """Make a connector (or, with ``connector=None``, the charger) (in)operative."""

    connector: ConnectorRef | None
    operative: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Reset:
    """Restart the charger."""

    hard: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerMessage:
    """Ask the charger to send a message now (e.g. ``"StatusNotification"``)."""

    message: str
    connector: ConnectorRef | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadSettings:
    """Read configuration (1.6 keys, 2.0.1 ``Component.Variable`` names); empty = all."""

    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteSetting:
    """Change one configuration value."""

    key: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalListEntry:
    """One token of the charger's local authorisation list (``status=None`` removes it)."""

    token: AuthToken
    status: str | None = "accepted"
    expires_at: datetime | None = None
    group_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendLocalList:
    """Replace (``full``) or update the charger's local authorisation list."""

    version: int
    full: bool
    entries: tuple[LocalListEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetLocalListVersion:
    """Ask which local list version the charger holds."""


ChargerCommand = (
    StartCharging
    | StopCharging
    | UnlockConnector
    | ReserveNow
    | CancelReservation
    | SetChargingProfile
    | ClearChargingProfile
    | GetCompositeSchedule
    | ChangeAvailability
    | Reset
    | TriggerMessage
    | ReadSettings
    | WriteSetting
    | SendLocalList
    | GetLocalListVersion
)


class OutcomeStatus(StrEnum):
    """How a command went, as far as the gateway can tell."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"  # accepted as a message, but the action failed (e.g. UnlockFailed)
    NOT_SUPPORTED = "not_supported"
    OCCUPIED = "occupied"
    FAULTED = "faulted"
    UNAVAILABLE = "unavailable"
    UNKNOWN = "unknown"  # e.g. no such profile or reservation
    SCHEDULED = "scheduled"
    REBOOT_REQUIRED = "reboot_required"
    VERSION_MISMATCH = "version_mismatch"
    TIMEOUT = "timeout"  # the charger did not answer in time
    OFFLINE = "offline"  # the charger is not connected
    ERROR = "error"  # the charger answered with a CALLERROR


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandOutcome:
    """The charger's answer to one command.

    ``detail`` carries what the answer said beyond the status (a composite schedule,
    configuration values, a transaction id); ``error_code`` the CALLERROR code when
    ``status`` is ERROR.
    """

    status: OutcomeStatus
    detail: Mapping[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is OutcomeStatus.ACCEPTED
