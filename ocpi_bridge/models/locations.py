"""Data: OCPI 2.2.1 Locations module objects (mod_locations): what we serve and push about sites.

``LocationPatch``, ``EvsePatch`` and ``ConnectorPatch`` are the PATCH bodies we send to
eMSP receivers: every field optional except ``last_updated`` ("Any request to the PATCH
method SHALL contain the ``last_updated`` field").
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from gateway.domain.connectors import ConnectorStandard
from ocpi_bridge.models.common import (
    Bool,
    CiString,
    CountryCode,
    DateTime,
    DisplayText,
    Int,
    Number,
    OcpiModel,
    PartyId,
    String,
    Url,
)
from ocpi_bridge.models.tokens import TokenType

# --- enums ---------------------------------------------------------------------------


class Capability(StrEnum):
    """What an EVSE can do (mod_locations, Capability enum)."""

    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CHARGING_PREFERENCES_CAPABLE = "CHARGING_PREFERENCES_CAPABLE"
    CHIP_CARD_SUPPORT = "CHIP_CARD_SUPPORT"
    CONTACTLESS_CARD_SUPPORT = "CONTACTLESS_CARD_SUPPORT"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    DEBIT_CARD_PAYABLE = "DEBIT_CARD_PAYABLE"
    PED_TERMINAL = "PED_TERMINAL"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    START_SESSION_CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
    TOKEN_GROUP_CAPABLE = "TOKEN_GROUP_CAPABLE"  # noqa: S105 - an enum value, not a secret
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorFormat(StrEnum):
    """Socket or attached cable (mod_locations, ConnectorFormat enum)."""

    SOCKET = "SOCKET"
    CABLE = "CABLE"


#: Plug/socket standard (mod_locations, ConnectorType enum): the list the configuration
#: uses too.
ConnectorType = ConnectorStandard


class EnergySourceCategory(StrEnum):
    """Kind of energy source (mod_locations, EnergySourceCategory enum)."""

    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    """Kind of environmental impact (mod_locations, EnvironmentalImpactCategory enum)."""

    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


class Facility(StrEnum):
    """Facility a Location belongs to (mod_locations, Facility enum)."""

    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BIKE_SHARING = "BIKE_SHARING"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAM_STOP = "TRAM_STOP"
    METRO_STATION = "METRO_STATION"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    PARKING_LOT = "PARKING_LOT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class ImageCategory(StrEnum):
    """What an image shows (mod_locations, ImageCategory enum)."""

    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class ParkingRestriction(StrEnum):
    """Restriction on a parking spot (mod_locations, ParkingRestriction enum)."""

    EV_ONLY = "EV_ONLY"
    PLUGGED = "PLUGGED"
    DISABLED = "DISABLED"
    CUSTOMERS = "CUSTOMERS"
    MOTORCYCLES = "MOTORCYCLES"


class ParkingType(StrEnum):
    """General type of parking at a Location (mod_locations, ParkingType enum)."""

    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class PowerType(StrEnum):
    """AC phases or DC (mod_locations, PowerType enum)."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class Status(StrEnum):
    """Status of an EVSE (mod_locations, Status enum). ``UNKNOWN`` is also used when offline."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


# --- field types ---------------------------------------------------------------------

Latitude = Annotated[str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
"""``string(10)``, regex ``-?[0-9]{1,2}\\.[0-9]{5,7}`` (GeoLocation.latitude).

Both hold: the regex alone would admit 11 characters (``-51.0475991``), the length does not.
"""

Longitude = Annotated[str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
"""``string(11)``, regex ``-?[0-9]{1,3}\\.[0-9]{5,7}`` (GeoLocation.longitude)."""

TimeOfDay = Annotated[str, StringConstraints(pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")]
"""``string(5)``, 24h ``HH:MM`` with leading zeros, regex ``([0-1][0-9]|2[0-3]):[0-5][0-9]``."""

# --- classes -------------------------------------------------------------------------


class GeoLocation(OcpiModel):
    """WGS 84 coordinates, kept as the decimal strings the spec prescribes."""

    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(OcpiModel):
    """A related point, e.g. a parking entrance (mod_locations, AdditionalGeoLocation)."""

    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


class Image(OcpiModel):
    """Link to an image (mod_locations, Image class)."""

    url: Url
    thumbnail: Url | None = None
    category: ImageCategory
    type: Annotated[str, CiString(4)]
    width: Annotated[Int, Field(ge=0, le=99999)] | None = None
    height: Annotated[Int, Field(ge=0, le=99999)] | None = None


class BusinessDetails(OcpiModel):
    """Name, website and logo of an operator, owner or party (mod_locations)."""

    name: Annotated[str, String(100)]
    website: Url | None = None
    logo: Image | None = None


class EnergySource(OcpiModel):
    """Share of one energy source in a mix (mod_locations, EnergySource class)."""

    source: EnergySourceCategory
    percentage: Annotated[Number, Field(ge=0, le=100)]


class EnvironmentalImpact(OcpiModel):
    """Waste or CO2 per kWh (mod_locations, EnvironmentalImpact class)."""

    category: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(OcpiModel):
    """Energy mix and environmental impact of supplied energy (mod_locations, EnergyMix)."""

    is_green_energy: Bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: Annotated[str, String(64)] | None = None
    energy_product_name: Annotated[str, String(64)] | None = None


class ExceptionalPeriod(OcpiModel):
    """An exceptional opening or closing period, in UTC (mod_locations)."""

    period_begin: DateTime
    period_end: DateTime


class RegularHours(OcpiModel):
    """A weekly recurring opening period in local time (mod_locations, RegularHours)."""

    weekday: Annotated[Int, Field(ge=1, le=7)]
    period_begin: TimeOfDay
    period_end: TimeOfDay

    @model_validator(mode="after")
    def _end_after_begin(self) -> Self:
        # Zero-padded HH:MM strings order like the times they name.
        if self.period_end <= self.period_begin:
            raise ValueError("period_end must be later than period_begin")
        return self


class Hours(OcpiModel):
    """Opening and access hours of a Location (mod_locations, Hours class).

    ``regular_hours`` is "only to be used if ``twentyfourseven=false``, then this field
    needs to contain at least one RegularHours object".
    """

    twentyfourseven: Bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _regular_hours_iff_not_247(self) -> Self:
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours must be absent when twentyfourseven is true")
        if not self.twentyfourseven and not self.regular_hours:
            raise ValueError("regular_hours needs at least one entry when twentyfourseven is false")
        return self


class PublishTokenType(OcpiModel):
    """A token (or group) a non-published Location may be shown to (mod_locations).

    At least one of ``uid``, ``visual_number`` or ``group_id`` is set; ``uid`` comes with
    ``type`` and ``visual_number`` with ``issuer``.
    """

    uid: Annotated[str, CiString(36)] | None = None
    type: TokenType | None = None
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)] | None = None
    group_id: Annotated[str, CiString(36)] | None = None

    @model_validator(mode="after")
    def _identifies_a_token(self) -> Self:
        if self.uid is None and self.visual_number is None and self.group_id is None:
            raise ValueError("one of uid, visual_number or group_id must be set")
        if self.uid is not None and self.type is None:
            raise ValueError("type must be set when uid is set")
        if self.visual_number is not None and self.issuer is None:
            raise ValueError("issuer must be set when visual_number is set")
        return self


class StatusSchedule(OcpiModel):
    """A planned EVSE status for a period (mod_locations, StatusSchedule class)."""

    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class Connector(OcpiModel):
    """A socket or cable with plug on an EVSE (mod_locations, Connector object)."""

    id: Annotated[str, CiString(36)]
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: Int
    max_amperage: Int
    max_electric_power: Int | None = None
    tariff_ids: list[Annotated[str, CiString(36)]] | None = None
    terms_and_conditions: Url | None = None
    last_updated: DateTime


class Evse(OcpiModel):
    """One EVSE: the part that powers one EV at a time (mod_locations, EVSE object)."""

    uid: Annotated[str, CiString(36)]
    evse_id: Annotated[str, CiString(48)] | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: Annotated[str, String(4)] | None = None
    coordinates: GeoLocation | None = None
    physical_reference: Annotated[str, String(16)] | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class Location(OcpiModel):
    """A site with EVSEs, as a CPO publishes it (mod_locations, Location object)."""

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(36)]
    publish: Bool
    publish_allowed_to: list[PublishTokenType] | None = None
    name: Annotated[str, String(255)] | None = None
    address: Annotated[str, String(255)]
    city: Annotated[str, String(45)]
    postal_code: Annotated[str, String(10)] | None = None
    state: Annotated[str, String(45)] | None = None
    country: Annotated[str, String(3)]
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: ParkingType | None = None
    evses: list[Evse] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: Annotated[str, String(255)]
    opening_times: Hours | None = None
    charging_when_closed: Bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _publish_allowed_to_only_when_unpublished(self) -> Self:
        if self.publish and self.publish_allowed_to:
            raise ValueError("publish_allowed_to may only be used when publish is false")
        return self


# --- PATCH bodies we send ------------------------------------------------------------


class LocationPatch(OcpiModel):
    """Partial Location for a PATCH on ``.../locations/{cc}/{party}/{location_id}``."""

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: Annotated[str, CiString(36)] | None = None
    publish: Bool | None = None
    publish_allowed_to: list[PublishTokenType] | None = None
    name: Annotated[str, String(255)] | None = None
    address: Annotated[str, String(255)] | None = None
    city: Annotated[str, String(45)] | None = None
    postal_code: Annotated[str, String(10)] | None = None
    state: Annotated[str, String(45)] | None = None
    country: Annotated[str, String(3)] | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: ParkingType | None = None
    evses: list[Evse] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: Annotated[str, String(255)] | None = None
    opening_times: Hours | None = None
    charging_when_closed: Bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class EvsePatch(OcpiModel):
    """Partial EVSE for a PATCH on ``.../{location_id}/{evse_uid}`` (typically ``status``)."""

    uid: Annotated[str, CiString(36)] | None = None
    evse_id: Annotated[str, CiString(48)] | None = None
    status: Status | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)] | None = None
    floor_level: Annotated[str, String(4)] | None = None
    coordinates: GeoLocation | None = None
    physical_reference: Annotated[str, String(16)] | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class ConnectorPatch(OcpiModel):
    """Partial Connector for a PATCH on ``.../{location_id}/{evse_uid}/{connector_id}``."""

    id: Annotated[str, CiString(36)] | None = None
    standard: ConnectorType | None = None
    format: ConnectorFormat | None = None
    power_type: PowerType | None = None
    max_voltage: Int | None = None
    max_amperage: Int | None = None
    max_electric_power: Int | None = None
    tariff_ids: list[Annotated[str, CiString(36)]] | None = None
    terms_and_conditions: Url | None = None
    last_updated: DateTime
