"""Data: OCPI 2.2.1 Charging Profiles module objects (mod_charging_profiles).

An eMSP/SCSP PUTs a ``SetChargingProfile`` (or GETs/DELETEs) for a session; we answer with
a ``ChargingProfileResponse`` and later POST the matching result object to its
``response_url``. Limits accept "at most one digit fraction (e.g. 8.1)".
"""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi_bridge.models.common import DateTime, Int, Number, OcpiModel, Url

OneDecimalNumber = Annotated[Number, Field(decimal_places=1)]
"""A ``number`` with at most one digit after the decimal point."""


class ChargingRateUnit(StrEnum):
    """Unit of a charging profile: total watts or amperes per phase (mod_charging_profiles)."""

    W = "W"
    A = "A"


class ChargingProfileResponseType(StrEnum):
    """The CPO's immediate answer to a charging profile request (mod_charging_profiles)."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(StrEnum):
    """What the EVSE made of a charging profile request (mod_charging_profiles)."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class ChargingProfilePeriod(OcpiModel):
    """A limit from ``start_period`` seconds after the profile start (mod_charging_profiles)."""

    start_period: Int
    limit: OneDecimalNumber


class ChargingProfile(OcpiModel):
    """Limits over time for a session (mod_charging_profiles, ChargingProfile class)."""

    start_date_time: DateTime | None = None
    duration: Int | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: OneDecimalNumber | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class ActiveChargingProfile(OcpiModel):
    """The profile a Charge Point computed at ``start_date_time`` (mod_charging_profiles)."""

    start_date_time: DateTime
    charging_profile: ChargingProfile


class SetChargingProfile(OcpiModel):
    """Body of a PUT on ``chargingprofiles/{session_id}`` (mod_charging_profiles)."""

    charging_profile: ChargingProfile
    response_url: Url


class ChargingProfileResponse(OcpiModel):
    """Synchronous answer with the seconds to wait for the result (mod_charging_profiles)."""

    result: ChargingProfileResponseType
    timeout: Int


class ActiveChargingProfileResult(OcpiModel):
    """Result of a GET ActiveChargingProfile, POSTed to ``response_url``.

    ``profile`` is given when ``result`` is ``ACCEPTED``.
    """

    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    """Result of a PUT SetChargingProfile, POSTed to ``response_url``."""

    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    """Result of a DELETE (clear) charging profile, POSTed to ``response_url``."""

    result: ChargingProfileResultType
