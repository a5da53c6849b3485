"""Pure: what partners asked the chargers to do, as the store keeps it until the answer is out.

A roaming partner's command (start, stop, reserve, cancel, unlock) or charging profile
request is recorded before anything is sent to a charger; its result is recorded once
decided and marked delivered once the partner has it, so a restart in between neither
loses nor repeats it. Reservations keep the partner's reservation id next to the id the
charger knows (unique across partners), and a transaction started by a partner's command
or reservation is linked to it: who the token belongs to and under which authorisation
reference.

These records are what ``ocpi_bridge`` (which runs the commands) and ``gateway.storage``
(which persists them) agree on. Partner identifiers (``country_code``, ``party_id``) are
kept upper-case, their canonical form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.topology import ConnectorRef


class RemoteKind(StrEnum):
    """What a partner asked for (OCPI CommandType, or a ChargingProfiles method)."""

    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    RESERVE_NOW = "RESERVE_NOW"
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
    SET_PROFILE = "SET_PROFILE"  # PUT chargingprofiles/{session_id}
    GET_PROFILE = "GET_PROFILE"  # GET chargingprofiles/{session_id}
    CLEAR_PROFILE = "CLEAR_PROFILE"  # DELETE chargingprofiles/{session_id}
    #: Not a request: the CPO cancelling a reservation tells the RESERVE_NOW response_url.
    RESERVATION_CANCELED = "RESERVATION_CANCELED"


class RemoteState(StrEnum):
    """Where a command is: waiting for the charger, decided, or told to the partner."""

    PENDING = "pending"  # recorded; the charger's answer is not known (yet)
    ANSWERED = "answered"  # the result is decided but the partner does not have it yet
    DELIVERED = "delivered"  # the partner acknowledged the result
    UNDELIVERABLE = "undeliverable"  # every attempt to deliver failed, or was refused

    @property
    def open(self) -> bool:
        return self in (RemoteState.PENDING, RemoteState.ANSWERED)


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerToken:
    """The token a partner gave in a command: owned by that partner, authorised by it."""

    uid: str
    type: str  # OCPI TokenType
    contract_id: str
    country_code: str
    party_id: str
    group_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteCommand:
    """One partner request and its fate. ``id`` is 0 until the store has assigned one.

    ``result`` is the body to POST to ``response_url`` (an OCPI CommandResult or
    ChargingProfile result) and ``outcome`` its ``result`` value, kept apart so the store
    can answer "which partners had a profile accepted on this session".
    """

    id: int = 0
    kind: RemoteKind
    partner: str
    country_code: str  # the partner role that sent it (and that the result is addressed to)
    party_id: str
    response_url: str = field(repr=False)
    charger_id: ChargerId
    evse_uid: EvseUid | None = None
    connector: ConnectorRef | None = None
    session_id: str | None = None
    tx_id: str | None = None  # the transaction it is about, or the one it started
    token: PartnerToken | None = field(default=None, repr=False)
    authorization_reference: str | None = None
    reservation_id: int | None = None  # the charger's reservation id
    received_at: datetime
    deadline: datetime
    state: RemoteState = RemoteState.PENDING
    result: Mapping[str, Any] | None = None
    outcome: str | None = None
    attempts: int = 0
    finished_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())


class ReservationState(StrEnum):
    """A reservation's life: asked for, held by the charger, then over one way or another."""

    REQUESTED = "requested"
    ACTIVE = "active"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    USED = "used"  # the reserved token started charging

    @property
    def holds(self) -> bool:
        """Whether the reservation may still hold its EVSE."""
        return self in (ReservationState.REQUESTED, ReservationState.ACTIVE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """A partner's reservation; ``id`` is the reservation id the charger knows (0 before stored).

    The partner's ``reservation_id`` is unique only per partner and Location (a second
    RESERVE_NOW with the same one replaces the first), so the charger gets our own id,
    unique across partners (mod_commands, ReserveNow: "SHALL NOT be sent directly").
    """

    id: int = 0
    partner: str
    country_code: str
    party_id: str
    reservation_id: str  # the partner's, as received
    location_id: str
    charger_id: ChargerId
    evse_uid: EvseUid | None
    connector: ConnectorRef | None
    token: PartnerToken = field(repr=False)
    authorization_reference: str | None = None
    expires_at: datetime
    state: ReservationState = ReservationState.REQUESTED
    received_at: datetime
    response_url: str = field(default="", repr=False)  # of the RESERVE_NOW that made it
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLink:
    """A transaction a partner's command or reservation led to, and whose token it runs on.

    The Sessions and CDRs modules read this to put the command's token and
    ``authorization_reference`` into the Session and CDR, with auth method COMMAND.
    """

    charger_id: ChargerId
    tx_id: str
    session_id: str
    partner: str
    token: PartnerToken = field(repr=False)
    authorization_reference: str | None = None
    command_id: int | None = None
    reservation_id: int | None = None
    linked_at: datetime
