"""Data: OCPI 2.2.1 Tariffs module objects (mod_tariffs): the prices we publish and put in CDRs."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from ocpi_bridge.models.common import (
    CiString,
    CountryCode,
    Currency,
    DateTime,
    DisplayText,
    Int,
    Number,
    OcpiModel,
    PartyId,
    Price,
    Url,
)
from ocpi_bridge.models.locations import EnergyMix, TimeOfDay


class DayOfWeek(StrEnum):
    """Day of the week (mod_tariffs, DayOfWeek enum)."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    """Marks a TariffElement as reservation pricing (mod_tariffs)."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TariffDimensionType(StrEnum):
    """What a PriceComponent prices (mod_tariffs, TariffDimensionType enum)."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class TariffType(StrEnum):
    """Which sessions a Tariff applies to (mod_tariffs, TariffType enum)."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


LocalDate = Annotated[
    str,
    StringConstraints(
        pattern=r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
    ),
]
"""``string(10)`` local date ``YYYY-MM-DD`` (TariffRestrictions.start_date/end_date)."""


class PriceComponent(OcpiModel):
    """How one dimension is priced (mod_tariffs, PriceComponent class).

    ``vat`` absent means no VAT applies, which differs from ``0``.
    """

    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: Int


class TariffRestrictions(OcpiModel):
    """When a TariffElement is active; all set fields must match (mod_tariffs)."""

    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: Int | None = None
    max_duration: Int | None = None
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    """Price components sharing one set of restrictions (mod_tariffs, TariffElement)."""

    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    """A CPO's tariff (mod_tariffs, Tariff object)."""

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(36)]
    currency: Currency
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: Url | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
