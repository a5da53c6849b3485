"""Data: OCPI 2.2.1 Credentials object (credentials.asciidoc), exchanged in registration."""

from typing import Annotated, Self

from pydantic import Field, StringConstraints, model_validator

from ocpi_bridge.models.common import CountryCode, OcpiModel, PartyId, Role, Url
from ocpi_bridge.models.locations import BusinessDetails

CredentialsToken = Annotated[str, StringConstraints(max_length=64, pattern=r"^[\x21-\x7E]+$")]
"""``string(64)`` of printable non-whitespace ASCII (U+0021..U+007E), as the spec asks."""


class CredentialsRole(OcpiModel):
    """One role a platform plays, under one ``country_code``/``party_id`` (credentials)."""

    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(OcpiModel):
    """Token, versions URL and roles of a party (credentials, Credentials object).

    "Every role needs a unique combination of: ``role``, ``party_id`` and
    ``country_code``" (compared case-insensitively, as CiStrings are).
    """

    token: CredentialsToken
    url: Url
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]

    @model_validator(mode="after")
    def _roles_are_unique(self) -> Self:
        keys = [(r.role, r.party_id.upper(), r.country_code.upper()) for r in self.roles]
        if len(set(keys)) != len(keys):
            raise ValueError("roles must have unique (role, party_id, country_code) combinations")
        return self
