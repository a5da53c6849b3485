"""Data: OCPI 2.2.1 Sessions module objects (mod_sessions): what we push and serve about charges.

``SessionPatch`` is the PATCH body we send: every field optional except
``last_updated``. ``charging_periods`` in a PATCH are *added* to the receiver's list.
"""

from enum import StrEnum
from typing import Annotated

from ocpi_bridge.models.cdrs import AuthMethod, CdrToken, ChargingPeriod
from ocpi_bridge.models.common import (
    Bool,
    CiString,
    CountryCode,
    Currency,
    DateTime,
    Number,
    OcpiModel,
    PartyId,
    Price,
    String,
)
from ocpi_bridge.models.tokens import ProfileType

__all__ = [
    "ChargingPreferences",
    "ChargingPreferencesResponse",
    "ProfileType",
    "Session",
    "SessionPatch",
    "SessionStatus",
]


class SessionStatus(StrEnum):
    """State of a Session (mod_sessions, SessionStatus enum)."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class ChargingPreferencesResponse(StrEnum):
    """Answer to a PUT of ChargingPreferences (mod_sessions)."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class ChargingPreferences(OcpiModel):
    """A driver's charging preferences for a session (mod_sessions, ChargingPreferences)."""

    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: Bool | None = None


class Session(OcpiModel):
    """One charging session as the CPO reports it (mod_sessions, Session object).

    ``evse_uid`` and ``connector_id`` may be ``#NA`` for a reservation with no EVSE yet.
    """

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(36)]
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: Annotated[str, CiString(36)] | None = None
    location_id: Annotated[str, CiString(36)]
    evse_uid: Annotated[str, CiString(36)]
    connector_id: Annotated[str, CiString(36)]
    meter_id: Annotated[str, String(255)] | None = None
    currency: Currency
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class SessionPatch(OcpiModel):
    """Partial Session for a PATCH on ``.../sessions/{cc}/{party}/{session_id}``."""

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: Annotated[str, CiString(36)] | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    kwh: Number | None = None
    cdr_token: CdrToken | None = None
    auth_method: AuthMethod | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None
    location_id: Annotated[str, CiString(36)] | None = None
    evse_uid: Annotated[str, CiString(36)] | None = None
    connector_id: Annotated[str, CiString(36)] | None = None
    meter_id: Annotated[str, String(255)] | None = None
    currency: Currency | None = None
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus | None = None
    last_updated: DateTime
