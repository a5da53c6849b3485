"""Data: OCPI 2.2.1 version information and details (version_information_endpoint.asciidoc).

``Version.version`` and ``Endpoint.identifier`` accept values beyond the enums: a
partner may list versions we do not know (e.g. ``3.0``) or custom modules (e.g.
``nltnm-tokens``, which the spec allows), and that must not break version negotiation.
Known values come back as the enum member.
"""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ocpi_bridge.models.common import CiString, OcpiModel, Url


class VersionNumber(StrEnum):
    """Known OCPI versions (VersionNumber enum)."""

    V2_0 = "2.0"
    V2_1 = "2.1"
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"


class ModuleID(StrEnum):
    """Module identifiers of version 2.2.1 (ModuleID enum)."""

    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class InterfaceRole(StrEnum):
    """Which side of a module an endpoint implements (InterfaceRole enum)."""

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


AnyVersionNumber = Annotated[
    VersionNumber | Annotated[str, CiString(16)], Field(union_mode="left_to_right")
]
"""A :class:`VersionNumber`, or the raw string of a version we do not know."""

AnyModuleID = Annotated[ModuleID | Annotated[str, CiString(255)], Field(union_mode="left_to_right")]
"""A :class:`ModuleID`, or the raw string of a custom module."""


class Version(OcpiModel):
    """One entry of the versions list: a version and the URL of its details."""

    version: AnyVersionNumber
    url: Url


class Endpoint(OcpiModel):
    """One module endpoint of a version (Endpoint class)."""

    identifier: AnyModuleID
    role: InterfaceRole
    url: Url


class VersionDetails(OcpiModel):
    """The endpoints a party offers for one version (version details)."""

    version: VersionNumber
    endpoints: Annotated[list[Endpoint], Field(min_length=1)]
