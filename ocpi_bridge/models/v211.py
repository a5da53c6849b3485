"""Data: OCPI 2.1.1 wire objects, for partners that negotiate 2.1.1 instead of 2.2.1.

Only the shapes that differ from 2.2.1 are defined here (prefixed ``V211``); where 2.1.1
equals 2.2.1 the 2.2.1 class is reused (``DisplayText``, ``Image``, ``BusinessDetails``,
``EnergySource``, ``ExceptionalPeriod``, ``RegularHours``, ``StatusSchedule`` and the
enums ``Status``, ``ConnectorFormat``, ``ImageCategory``, ``ParkingRestriction``,
``EnergySourceCategory``, ``EnvironmentalImpactCategory``, ``DayOfWeek``,
``TariffDimensionType``, ``WhitelistType``, ``AllowedType``, ``VersionNumber``).
Enums whose 2.1.1 value set is smaller get their own ``V211`` class, so a 2.2.1-only
value (say ``AC_2_PHASE`` or ``COMMAND``) cannot leak onto a 2.1.1 wire.

Main differences from 2.2.1: a single-role ``Credentials`` (``business_details``,
``party_id``, ``country_code`` at top level); endpoints without ``role``; Locations
without ``country_code``/``party_id``/``publish`` but with ``type``; connectors with
``voltage``/``amperage`` and one ``tariff_id``; coordinates with exactly six decimals;
Sessions and CDRs carrying ``auth_id`` and a whole ``location``; costs as plain numbers
excluding VAT; ``reservation_id`` an int; one ``CommandResponse`` serving as both the
immediate answer and the asynchronous result. 2.1.1 PATCH bodies need no
``last_updated``.

2.1.1 defines ``string`` as printable ASCII; identifiers are held to that, but
human-readable text accepts any printable UTF-8 as 2.2.1 does, because real 2.1.1
partners send city names such as "Köln".
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from ocpi_bridge.models.common import (
    Bool,
    CiString,
    Currency,
    DateTime,
    DisplayText,
    Int,
    LanguageCode,
    Number,
    OcpiModel,
    String,
    Url,
)
from ocpi_bridge.models.credentials import CredentialsToken
from ocpi_bridge.models.locations import (
    BusinessDetails,
    ConnectorFormat,
    EnergySource,
    EnvironmentalImpactCategory,
    ExceptionalPeriod,
    Image,
    ParkingRestriction,
    RegularHours,
    Status,
    StatusSchedule,
    TimeOfDay,
)
from ocpi_bridge.models.tariffs import DayOfWeek, TariffDimensionType
from ocpi_bridge.models.tokens import AllowedType, WhitelistType
from ocpi_bridge.models.versions import Version, VersionNumber

V211Version = Version
"""2.1.1 ``Version`` is the same as 2.2.1's."""

# --- enums that differ ---------------------------------------------------------------


class V211LocationType(StrEnum):
    """General type of a charge point location (2.1.1 LocationType; replaced by ParkingType)."""

    ON_STREET = "ON_STREET"
    PARKING_GARAGE = "PARKING_GARAGE"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class V211Capability(StrEnum):
    """What an EVSE can do (2.1.1 Capability)."""

    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class V211ConnectorType(StrEnum):
    """Plug/socket standard (2.1.1 ConnectorType)."""

    CHADEMO = "CHADEMO"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    IEC_60309_2_SINGLE_16 = "IEC_60309_2_single_16"
    IEC_60309_2_THREE_16 = "IEC_60309_2_three_16"
    IEC_60309_2_THREE_32 = "IEC_60309_2_three_32"
    IEC_60309_2_THREE_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class V211PowerType(StrEnum):
    """AC phases or DC (2.1.1 PowerType: no two-phase values)."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class V211Facility(StrEnum):
    """Facility a Location belongs to (2.1.1 Facility)."""

    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class V211AuthMethod(StrEnum):
    """How a session was authorized (2.1.1 AuthMethod: no ``COMMAND``)."""

    AUTH_REQUEST = "AUTH_REQUEST"
    WHITELIST = "WHITELIST"


class V211CdrDimensionType(StrEnum):
    """What a CdrDimension measures (2.1.1 CdrDimensionType)."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class V211SessionStatus(StrEnum):
    """State of a Session (2.1.1 SessionStatus: no ``RESERVATION``)."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"


class V211TokenType(StrEnum):
    """Type of token (2.1.1 TokenType)."""

    OTHER = "OTHER"
    RFID = "RFID"


class V211CommandType(StrEnum):
    """The command requested (2.1.1 CommandType: no ``CANCEL_RESERVATION``)."""

    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class V211CommandResponseType(StrEnum):
    """Answer to a command, both immediate and asynchronous (2.1.1 CommandResponseType)."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class V211ModuleID(StrEnum):
    """Module identifiers of version 2.1.1."""

    CDRS = "cdrs"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


# --- field types ---------------------------------------------------------------------

V211Latitude = Annotated[str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{6}$")]
"""``string(10)``, regex ``-?[0-9]{1,2}\\.[0-9]{6}``: exactly six decimals in 2.1.1."""

V211Longitude = Annotated[
    str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{6}$")
]
"""``string(11)``, regex ``-?[0-9]{1,3}\\.[0-9]{6}``: exactly six decimals in 2.1.1."""

_Id36 = Annotated[str, CiString(36)]
_Id39 = Annotated[str, CiString(39)]

# --- versions and credentials --------------------------------------------------------


class V211Endpoint(OcpiModel):
    """One module endpoint of version 2.1.1 (no ``role``: 2.1.1 roles are implied)."""

    identifier: Annotated[
        V211ModuleID | Annotated[str, CiString(255)], Field(union_mode="left_to_right")
    ]
    url: Url


class V211VersionDetails(OcpiModel):
    """The endpoints a party offers for one version, 2.1.1 shape."""

    version: VersionNumber
    endpoints: Annotated[list[V211Endpoint], Field(min_length=1)]


class V211Credentials(OcpiModel):
    """2.1.1 Credentials: one party, with its details at top level (no ``roles`` list)."""

    token: CredentialsToken
    url: Url
    business_details: BusinessDetails
    party_id: Annotated[str, CiString(3)]
    country_code: Annotated[str, CiString(2)]


# --- locations -----------------------------------------------------------------------


class V211GeoLocation(OcpiModel):
    """WGS 84 coordinates with exactly six decimals (2.1.1 GeoLocation)."""

    latitude: V211Latitude
    longitude: V211Longitude


class V211AdditionalGeoLocation(OcpiModel):
    """A related point, e.g. a parking entrance (2.1.1 AdditionalGeoLocation)."""

    latitude: V211Latitude
    longitude: V211Longitude
    name: DisplayText | None = None


class V211EnvironmentalImpact(OcpiModel):
    """Waste or CO2 per kWh; the category field is named ``source`` in 2.1.1."""

    source: EnvironmentalImpactCategory
    amount: Number


class V211EnergyMix(OcpiModel):
    """Energy mix of supplied energy (2.1.1 EnergyMix)."""

    is_green_energy: Bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[V211EnvironmentalImpact] | None = None
    supplier_name: Annotated[str, String(64)] | None = None
    energy_product_name: Annotated[str, String(64)] | None = None


class V211Hours(OcpiModel):
    """Opening hours: ``twentyfourseven`` true, or at least one ``regular_hours`` entry.

    2.1.1 calls it a choice of one of the two; its own example also sends
    ``"twentyfourseven": false`` next to ``regular_hours``, which is accepted.
    """

    regular_hours: list[RegularHours] | None = None
    twentyfourseven: Bool | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _one_of_two(self) -> Self:
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours must be absent when twentyfourseven is true")
        if not self.twentyfourseven and not self.regular_hours:
            raise ValueError("either twentyfourseven must be true or regular_hours given")
        return self


class V211Connector(OcpiModel):
    """A connector, 2.1.1 shape: ``voltage``/``amperage`` and a single ``tariff_id``."""

    id: _Id36
    standard: V211ConnectorType
    format: ConnectorFormat
    power_type: V211PowerType
    voltage: Int
    amperage: Int
    tariff_id: _Id36 | None = None
    terms_and_conditions: Url | None = None
    last_updated: DateTime


class V211Evse(OcpiModel):
    """An EVSE, 2.1.1 shape."""

    uid: _Id39
    evse_id: Annotated[str, CiString(48)] | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[V211Capability] | None = None
    connectors: Annotated[list[V211Connector], Field(min_length=1)]
    floor_level: Annotated[str, String(4)] | None = None
    coordinates: V211GeoLocation | None = None
    physical_reference: Annotated[str, String(16)] | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class V211Location(OcpiModel):
    """A Location, 2.1.1 shape: ``type`` instead of ``parking_type``, no owner party fields."""

    id: _Id39
    type: V211LocationType
    name: Annotated[str, String(255)] | None = None
    address: Annotated[str, String(45)]
    city: Annotated[str, String(45)]
    postal_code: Annotated[str, String(10)]
    country: Annotated[str, String(3)]
    coordinates: V211GeoLocation
    related_locations: list[V211AdditionalGeoLocation] | None = None
    evses: list[V211Evse] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[V211Facility] | None = None
    time_zone: Annotated[str, String(255)] | None = None
    opening_times: V211Hours | None = None
    charging_when_closed: Bool | None = None
    images: list[Image] | None = None
    energy_mix: V211EnergyMix | None = None
    last_updated: DateTime


class V211LocationPatch(OcpiModel):
    """Partial 2.1.1 Location for a PATCH; ``last_updated`` is optional in 2.1.1."""

    id: _Id39 | None = None
    type: V211LocationType | None = None
    name: Annotated[str, String(255)] | None = None
    address: Annotated[str, String(45)] | None = None
    city: Annotated[str, String(45)] | None = None
    postal_code: Annotated[str, String(10)] | None = None
    country: Annotated[str, String(3)] | None = None
    coordinates: V211GeoLocation | None = None
    related_locations: list[V211AdditionalGeoLocation] | None = None
    evses: list[V211Evse] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[V211Facility] | None = None
    time_zone: Annotated[str, String(255)] | None = None
    opening_times: V211Hours | None = None
    charging_when_closed: Bool | None = None
    images: list[Image] | None = None
    energy_mix: V211EnergyMix | None = None
    last_updated: DateTime | None = None


class V211EvsePatch(OcpiModel):
    """Partial 2.1.1 EVSE for a PATCH (typically ``status``)."""

    uid: _Id39 | None = None
    evse_id: Annotated[str, CiString(48)] | None = None
    status: Status | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[V211Capability] | None = None
    connectors: Annotated[list[V211Connector], Field(min_length=1)] | None = None
    floor_level: Annotated[str, String(4)] | None = None
    coordinates: V211GeoLocation | None = None
    physical_reference: Annotated[str, String(16)] | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime | None = None


class V211ConnectorPatch(OcpiModel):
    """Partial 2.1.1 Connector for a PATCH (e.g. a new ``tariff_id``)."""

    id: _Id36 | None = None
    standard: V211ConnectorType | None = None
    format: ConnectorFormat | None = None
    power_type: V211PowerType | None = None
    voltage: Int | None = None
    amperage: Int | None = None
    tariff_id: _Id36 | None = None
    terms_and_conditions: Url | None = None
    last_updated: DateTime | None = None


# --- tariffs -------------------------------------------------------------------------


class V211PriceComponent(OcpiModel):
    """How one dimension is priced, excluding VAT (2.1.1: no ``vat`` field)."""

    type: TariffDimensionType
    price: Number
    step_size: Int


class V211TariffRestrictions(OcpiModel):
    """When a TariffElement applies (2.1.1: no current or reservation restrictions)."""

    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: Annotated[str, String(10)] | None = None
    end_date: Annotated[str, String(10)] | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: Int | None = None
    max_duration: Int | None = None
    day_of_week: list[DayOfWeek] | None = None


class V211TariffElement(OcpiModel):
    """Price components sharing one set of restrictions (2.1.1 TariffElement)."""

    price_components: Annotated[list[V211PriceComponent], Field(min_length=1)]
    restrictions: V211TariffRestrictions | None = None


class V211Tariff(OcpiModel):
    """A tariff, 2.1.1 shape: no owner party fields, type, min/max price or validity dates."""

    id: _Id36
    currency: Currency
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: Url | None = None
    elements: Annotated[list[V211TariffElement], Field(min_length=1)]
    energy_mix: V211EnergyMix | None = None
    last_updated: DateTime


class V211TariffPatch(OcpiModel):
    """Partial 2.1.1 Tariff for a PATCH (2.1.1 tariffs may be patched; 2.2.1 ones not)."""

    id: _Id36 | None = None
    currency: Currency | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: Url | None = None
    elements: Annotated[list[V211TariffElement], Field(min_length=1)] | None = None
    energy_mix: V211EnergyMix | None = None
    last_updated: DateTime | None = None


# --- sessions and CDRs ---------------------------------------------------------------


class V211CdrDimension(OcpiModel):
    """One measured quantity of a charging period (2.1.1 CdrDimension)."""

    type: V211CdrDimensionType
    volume: Number


class V211ChargingPeriod(OcpiModel):
    """A period of a session with its dimensions (2.1.1: no ``tariff_id``)."""

    start_date_time: DateTime
    dimensions: Annotated[list[V211CdrDimension], Field(min_length=1)]


class V211Session(OcpiModel):
    """A session, 2.1.1 shape: ``start_datetime``, ``auth_id``, a whole ``location``.

    ``total_cost`` is a number excluding VAT.
    """

    id: _Id36
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: Number
    auth_id: _Id36
    auth_method: V211AuthMethod
    location: V211Location
    meter_id: Annotated[str, String(255)] | None = None
    currency: Currency
    charging_periods: list[V211ChargingPeriod] | None = None
    total_cost: Number | None = None
    status: V211SessionStatus
    last_updated: DateTime


class V211SessionPatch(OcpiModel):
    """Partial 2.1.1 Session for a PATCH."""

    id: _Id36 | None = None
    start_datetime: DateTime | None = None
    end_datetime: DateTime | None = None
    kwh: Number | None = None
    auth_id: _Id36 | None = None
    auth_method: V211AuthMethod | None = None
    location: V211Location | None = None
    meter_id: Annotated[str, String(255)] | None = None
    currency: Currency | None = None
    charging_periods: list[V211ChargingPeriod] | None = None
    total_cost: Number | None = None
    status: V211SessionStatus | None = None
    last_updated: DateTime | None = None


class V211Cdr(OcpiModel):
    """A CDR, 2.1.1 shape: ``stop_date_time``, ``auth_id``, ``location``, costs excl. VAT."""

    id: _Id36
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: _Id36
    auth_method: V211AuthMethod
    location: V211Location
    meter_id: Annotated[str, String(255)] | None = None
    currency: Currency
    tariffs: list[V211Tariff] | None = None
    charging_periods: Annotated[list[V211ChargingPeriod], Field(min_length=1)]
    total_cost: Number
    total_energy: Number
    total_time: Number
    total_parking_time: Number | None = None
    remark: Annotated[str, String(255)] | None = None
    last_updated: DateTime


# --- tokens --------------------------------------------------------------------------


class V211Token(OcpiModel):
    """A token, 2.1.1 shape: ``auth_id`` instead of ``contract_id``, no owner party fields."""

    uid: _Id36
    type: V211TokenType
    auth_id: _Id36
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)]
    valid: Bool
    whitelist: WhitelistType
    language: LanguageCode | None = None
    last_updated: DateTime


class V211TokenPatch(OcpiModel):
    """Partial 2.1.1 Token from an eMSP PATCH; ``last_updated`` is optional in 2.1.1."""

    uid: _Id36 | None = None
    type: V211TokenType | None = None
    auth_id: _Id36 | None = None
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)] | None = None
    valid: Bool | None = None
    whitelist: WhitelistType | None = None
    language: LanguageCode | None = None
    last_updated: DateTime | None = None


class V211LocationReferences(OcpiModel):
    """Location, EVSEs and connectors an authorization is asked for (2.1.1)."""

    location_id: _Id39
    evse_uids: list[_Id39] | None = None
    connector_ids: list[_Id36] | None = None


class V211AuthorizationInfo(OcpiModel):
    """An eMSP's answer to a real-time authorization (2.1.1: no token or reference)."""

    allowed: AllowedType
    location: V211LocationReferences | None = None
    info: DisplayText | None = None


# --- commands ------------------------------------------------------------------------


class V211CommandResponse(OcpiModel):
    """2.1.1 command answer: sent in the HTTP response and POSTed to ``response_url``."""

    result: V211CommandResponseType


class V211ReserveNow(OcpiModel):
    """Request to reserve, 2.1.1 shape (``reservation_id`` is an int)."""

    response_url: Url
    token: V211Token
    expiry_date: DateTime
    reservation_id: Int
    location_id: _Id39
    evse_uid: _Id39 | None = None


class V211StartSession(OcpiModel):
    """Request to start a session, 2.1.1 shape (no ``connector_id``)."""

    response_url: Url
    token: V211Token
    location_id: _Id39
    evse_uid: _Id39 | None = None


class V211StopSession(OcpiModel):
    """Request to stop a session (2.1.1)."""

    response_url: Url
    session_id: _Id36


class V211UnlockConnector(OcpiModel):
    """Request to unlock a connector (2.1.1)."""

    response_url: Url
    location_id: _Id39
    evse_uid: _Id39
    connector_id: _Id36


__all__ = [
    "V211AdditionalGeoLocation",
    "V211AuthMethod",
    "V211AuthorizationInfo",
    "V211Capability",
    "V211Cdr",
    "V211CdrDimension",
    "V211CdrDimensionType",
    "V211ChargingPeriod",
    "V211CommandResponse",
    "V211CommandResponseType",
    "V211CommandType",
    "V211Connector",
    "V211ConnectorPatch",
    "V211ConnectorType",
    "V211Credentials",
    "V211Endpoint",
    "V211EnergyMix",
    "V211EnvironmentalImpact",
    "V211Evse",
    "V211EvsePatch",
    "V211Facility",
    "V211GeoLocation",
    "V211Hours",
    "V211Latitude",
    "V211Location",
    "V211LocationPatch",
    "V211LocationReferences",
    "V211LocationType",
    "V211Longitude",
    "V211ModuleID",
    "V211PowerType",
    "V211PriceComponent",
    "V211ReserveNow",
    "V211Session",
    "V211SessionPatch",
    "V211SessionStatus",
    "V211StartSession",
    "V211StopSession",
    "V211Tariff",
    "V211TariffElement",
    "V211TariffPatch",
    "V211TariffRestrictions",
    "V211Token",
    "V211TokenPatch",
    "V211TokenType",
    "V211UnlockConnector",
    "V211Version",
    "V211VersionDetails",
]
