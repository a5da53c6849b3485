"""Pure: connector and EVSE availability in the gateway's own terms."""

from enum import StrEnum


class ConnectorStatus(StrEnum):
    """What a charger reported for one connector (or for itself, at connector 0)."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"  # plugged, preparing, charging, suspended or finishing
    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    FAULTED = "faulted"


class EvseStatus(StrEnum):
    """An EVSE as a driver would see it; OCPI's EVSE Status maps one to one."""

    AVAILABLE = "available"
    CHARGING = "charging"
    RESERVED = "reserved"
    INOPERATIVE = "inoperative"
    OUT_OF_ORDER = "out_of_order"
    UNKNOWN = "unknown"
    PLANNED = "planned"
    REMOVED = "removed"
