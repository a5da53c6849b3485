"""Adapter: what the OCPI routers need from the rest of the process, injected at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.config import Settings
from gateway.ports import Clock, SiteView
from ocpi_bridge.catalog import SiteCatalog
from ocpi_bridge.commands import RemoteControl
from ocpi_bridge.parties import PartyDirectory
from ocpi_bridge.registrar import Registrar
from ocpi_bridge.tokens import TokenCache


@dataclass(frozen=True, slots=True, kw_only=True)
class OcpiContext:
    """What every OCPI request may use: settings, read model, partners, registrar, commands."""

    settings: Settings
    site: SiteView
    parties: PartyDirectory
    registrar: Registrar
    clock: Clock
    configured_at: Mapping[str, datetime]  # Location id / EVSE uid -> config change time
    tokens: TokenCache | None = None  # partners' tokens (the Tokens receiver)
    commands: RemoteControl | None = None  # Commands and ChargingProfiles receivers
    #: The objects partners see; by default the configured Locations and Tariffs only.
    catalog: SiteCatalog | None = None

    @property
    def base_url(self) -> str:
        return self.settings.http.public_url.rstrip("/") + "/ocpi"

    def objects(self) -> SiteCatalog:
        if self.catalog is not None:
            return self.catalog
        return SiteCatalog(self.settings, site=self.site, configured_at=self.configured_at)
