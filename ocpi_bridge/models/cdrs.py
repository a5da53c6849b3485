"""Data: OCPI 2.2.1 CDRs module objects (mod_cdrs): the sealed record we POST after a charge.

``CdrToken``, ``ChargingPeriod``, ``CdrDimension`` and ``AuthMethod`` are shared with
Sessions, as in the spec.
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from ocpi_bridge.models.common import (
    Bool,
    CiString,
    CountryCode,
    Currency,
    DateTime,
    Int,
    Number,
    OcpiModel,
    PartyId,
    Price,
    String,
)
from ocpi_bridge.models.locations import ConnectorFormat, ConnectorType, GeoLocation, PowerType
from ocpi_bridge.models.tariffs import Tariff
from ocpi_bridge.models.tokens import TokenType

_NON_CREDIT_CDR_ID_MAX_LENGTH = 36


class AuthMethod(StrEnum):
    """How a session was authorized (mod_cdrs, AuthMethod enum)."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    """What a CdrDimension measures (mod_cdrs, CdrDimensionType enum).

    ``CURRENT``, ``ENERGY_EXPORT``, ``ENERGY_IMPORT``, ``POWER`` and ``STATE_OF_CHARGE``
    are for Sessions only.
    """

    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


class CdrDimension(OcpiModel):
    """One measured quantity of a charging period (mod_cdrs, CdrDimension class)."""

    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    """A period of a session with its dimensions and tariff (mod_cdrs, ChargingPeriod)."""

    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: Annotated[str, CiString(36)] | None = None


class CdrToken(OcpiModel):
    """The token a session was started with, as stored in Sessions and CDRs (mod_cdrs)."""

    country_code: CountryCode
    party_id: PartyId
    uid: Annotated[str, CiString(36)]
    type: TokenType
    contract_id: Annotated[str, CiString(36)]


class CdrLocation(OcpiModel):
    """The Location, EVSE and Connector of a CDR as they were at the start (mod_cdrs).

    ``evse_uid``, ``evse_id`` and ``connector_id`` may be ``#NA`` for a reservation that
    never became a session.
    """

    id: Annotated[str, CiString(36)]
    name: Annotated[str, String(255)] | None = None
    address: Annotated[str, String(45)]
    city: Annotated[str, String(45)]
    postal_code: Annotated[str, String(10)] | None = None
    state: Annotated[str, String(20)] | None = None
    country: Annotated[str, String(3)]
    coordinates: GeoLocation
    evse_uid: Annotated[str, CiString(36)]
    evse_id: Annotated[str, CiString(48)]
    connector_id: Annotated[str, CiString(36)]
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    """One signed meter value with its plain data (mod_cdrs, SignedValue class)."""

    nature: Annotated[str, CiString(32)]
    plain_data: Annotated[str, String(5000)]
    signed_data: Annotated[str, String(5000)]


class SignedData(OcpiModel):
    """Signed meter data (e.g. German Eichrecht) of a session (mod_cdrs, SignedData class)."""

    encoding_method: Annotated[str, CiString(36)]
    encoding_method_version: Int | None = None
    public_key: Annotated[str, String(512)] | None = None
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    url: Annotated[str, String(512)] | None = None


class Cdr(OcpiModel):
    """Charge Detail Record (mod_cdrs, CDR object).

    ``id`` may be 39 characters only for a credit CDR (``credit`` true), which must then
    name the CDR it credits in ``credit_reference_id``.
    """

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(39)]
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: Annotated[str, CiString(36)] | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: Annotated[str, CiString(36)] | None = None
    cdr_location: CdrLocation
    meter_id: Annotated[str, String(255)] | None = None
    currency: Currency
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: Annotated[str, String(255)] | None = None
    invoice_reference_id: Annotated[str, CiString(39)] | None = None
    credit: Bool | None = None
    credit_reference_id: Annotated[str, CiString(39)] | None = None
    home_charging_compensation: Bool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _credit_rules(self) -> Self:
        if self.credit:
            if self.credit_reference_id is None:
                raise ValueError("credit_reference_id is required for a credit CDR")
        elif len(self.id) > _NON_CREDIT_CDR_ID_MAX_LENGTH:
            raise ValueError("id of a non-credit CDR must be at most 36 characters")
        return self
