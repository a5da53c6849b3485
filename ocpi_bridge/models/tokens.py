"""Data: OCPI 2.2.1 Tokens module objects (mod_tokens): what eMSPs push to us and what we authorize.

``ProfileType`` belongs to the Sessions module in the spec; it is defined here because
``Token.default_profile_type`` needs it and Sessions depends on Tokens, and it is
re-exported from :mod:`ocpi_bridge.models.sessions`.
"""

from enum import StrEnum
from typing import Annotated

from ocpi_bridge.models.common import (
    Bool,
    CiString,
    CountryCode,
    DateTime,
    DisplayText,
    LanguageCode,
    OcpiModel,
    PartyId,
    String,
)


class TokenType(StrEnum):
    """Type of token (mod_tokens, TokenType enum)."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(StrEnum):
    """When the CPO may authorize a token without asking the eMSP (mod_tokens, WhitelistType)."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AllowedType(StrEnum):
    """Outcome of a real-time authorization (mod_tokens, AllowedType enum)."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class ProfileType(StrEnum):
    """Smart charging profile type chosen by a driver (mod_sessions, ProfileType enum)."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class EnergyContract(OcpiModel):
    """A driver's own energy supplier and contract (mod_tokens, EnergyContract class)."""

    supplier_name: Annotated[str, String(64)]
    contract_id: Annotated[str, String(64)] | None = None


class Token(OcpiModel):
    """A charging token owned by an eMSP (mod_tokens, Token object)."""

    country_code: CountryCode
    party_id: PartyId
    uid: Annotated[str, CiString(36)]
    type: TokenType
    contract_id: Annotated[str, CiString(36)]
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)]
    group_id: Annotated[str, CiString(36)] | None = None
    valid: Bool
    whitelist: WhitelistType
    language: LanguageCode | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class TokenPatch(OcpiModel):
    """Body of a Token PATCH from an eMSP: any Token field, and always ``last_updated``.

    mod_tokens, PATCH method: "Any request to the PATCH method SHALL contain the
    ``last_updated`` field."
    """

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    uid: Annotated[str, CiString(36)] | None = None
    type: TokenType | None = None
    contract_id: Annotated[str, CiString(36)] | None = None
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)] | None = None
    group_id: Annotated[str, CiString(36)] | None = None
    valid: Bool | None = None
    whitelist: WhitelistType | None = None
    language: LanguageCode | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    """The Location (and EVSEs) a real-time authorization is asked for (mod_tokens)."""

    location_id: Annotated[str, CiString(36)]
    evse_uids: list[Annotated[str, CiString(36)]] | None = None


class AuthorizationInfo(OcpiModel):
    """An eMSP's answer to a real-time authorization request (mod_tokens)."""

    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: Annotated[str, CiString(36)] | None = None
    info: DisplayText | None = None
