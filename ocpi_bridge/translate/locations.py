"""Pure: configured Locations + live EVSE statuses -> OCPI 2.2.1 Location objects.

``last_updated`` follows mod_locations: a child's change moves its parent's time, so an
EVSE is as recent as its status or its configuration, and a Location as recent as the
most recent of its EVSEs or its own configuration. Connectors change only with the
configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from gateway.config import ConnectorSettings, EvseSettings, LocationSettings, OperatorSettings
from gateway.domain.ids import EvseUid
from gateway.domain.state import PublishedEvse
from gateway.domain.status import EvseStatus
from ocpi_bridge.models.locations import (
    BusinessDetails,
    Capability,
    Connector,
    ConnectorFormat,
    ConnectorType,
    Evse,
    Facility,
    GeoLocation,
    Location,
    ParkingType,
    PowerType,
    Status,
)

#: The gateway's EVSE status -> OCPI Status (DESIGN.md §3 last column).
STATUS: Mapping[EvseStatus, Status] = {
    EvseStatus.AVAILABLE: Status.AVAILABLE,
    EvseStatus.CHARGING: Status.CHARGING,
    EvseStatus.RESERVED: Status.RESERVED,
    EvseStatus.INOPERATIVE: Status.INOPERATIVE,
    EvseStatus.OUT_OF_ORDER: Status.OUTOFORDER,
    EvseStatus.UNKNOWN: Status.UNKNOWN,
    EvseStatus.PLANNED: Status.PLANNED,
    EvseStatus.REMOVED: Status.REMOVED,
}


def to_ocpi_status(published: PublishedEvse | None, evse: EvseSettings) -> Status:
    """A configured lifecycle wins; an EVSE never reported yet is UNKNOWN."""
    if evse.lifecycle == "removed":
        return Status.REMOVED
    if evse.lifecycle == "planned":
        return Status.PLANNED
    return Status.UNKNOWN if published is None else STATUS[published.status]


def to_ocpi_connector(conn: ConnectorSettings, *, last_updated: datetime) -> Connector:
    return Connector(
        id=conn.id,
        standard=ConnectorType(conn.standard.value),
        format=ConnectorFormat(conn.format),
        power_type=PowerType(conn.power_type),
        max_voltage=conn.max_voltage,
        max_amperage=conn.max_amperage,
        max_electric_power=conn.max_electric_power,
        tariff_ids=list(conn.tariff_ids) or None,
        last_updated=last_updated,
    )


def to_ocpi_evse(
    evse: EvseSettings, published: PublishedEvse | None, *, configured_at: datetime
) -> Evse:
    last_updated = max(configured_at, published.last_updated) if published else configured_at
    return Evse(
        uid=evse.uid,
        evse_id=evse.evse_id,
        status=to_ocpi_status(published, evse),
        capabilities=[Capability(c) for c in evse.capabilities] or None,
        connectors=[to_ocpi_connector(c, last_updated=configured_at) for c in evse.connectors],
        physical_reference=evse.physical_reference,
        floor_level=evse.floor_level,
        last_updated=last_updated,
    )


def to_ocpi_location(
    loc: LocationSettings,
    *,
    operator: OperatorSettings,
    statuses: Mapping[EvseUid, PublishedEvse],
    configured_at: Mapping[str, datetime],
) -> Location:
    """``configured_at`` maps ``location:<id>`` / ``evse:<uid>`` to its last config change."""
    loc_time = configured_at[f"location:{loc.id}"]
    evses = [
        to_ocpi_evse(
            e,
            statuses.get(EvseUid(e.uid)),
            configured_at=configured_at.get(f"evse:{e.uid}", loc_time),
        )
        for e in loc.evses
    ]
    return Location(
        country_code=operator.country_code,
        party_id=operator.party_id,
        id=loc.id,
        publish=loc.publish,
        name=loc.name,
        address=loc.address,
        city=loc.city,
        postal_code=loc.postal_code,
        state=loc.state,
        country=loc.country,
        coordinates=GeoLocation(latitude=loc.latitude, longitude=loc.longitude),
        parking_type=None if loc.parking_type is None else ParkingType(loc.parking_type),
        evses=evses or None,
        operator=BusinessDetails(name=operator.name, website=operator.website),
        facilities=[Facility(f) for f in loc.facilities] or None,
        time_zone=loc.time_zone,
        last_updated=max([loc_time, *(e.last_updated for e in evses)]),
    )
