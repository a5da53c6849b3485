"""Data: OCPI 2.2.1 Hub Client Info object (mod_hub_client_info): who is connected to a Hub."""

from enum import StrEnum

from ocpi_bridge.models.common import CountryCode, DateTime, OcpiModel, PartyId, Role


class ConnectionStatus(StrEnum):
    """Connection state of a party behind a Hub (mod_hub_client_info)."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class ClientInfo(OcpiModel):
    """A party connected to a Hub and its connection status (mod_hub_client_info)."""

    party_id: PartyId
    country_code: CountryCode
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
