"""Pure: what the gateway knows about one charger and the EVSEs it publishes (frozen)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import Transaction

#: How many ended transaction ids a charger remembers, to recognise late or repeated events.
RECENT_ENDED = 32


def _empty() -> Mapping[object, object]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorReport:
    """The last status a charger reported for a connector."""

    status: ConnectorStatus
    error_code: str | None = None
    info: str | None = None
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedEvse:
    """An EVSE's status as partners see it, and when it last changed."""

    status: EvseStatus
    last_updated: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class BootInfo:
    """What the charger said about itself at boot."""

    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    at: datetime
    accepted: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerState:
    """One charger: connection, reported statuses and the EVSE statuses derived from them.

    ``offline`` is true for a charger never seen since it was configured and for one whose
    connection has been gone longer than the grace period; its EVSEs then show UNKNOWN.
    """

    charger_id: ChargerId
    connected: bool = False
    offline: bool = True
    since: datetime | None = None  # when ``connected`` last flipped
    protocol: str | None = None
    boot: BootInfo | None = None
    station: ConnectorReport | None = None  # connector 0 (1.6) or station-wide status
    connectors: Mapping[ConnectorRef, ConnectorReport] = field(
        default_factory=_empty  # type: ignore[arg-type]
    )
    evses: Mapping[EvseUid, PublishedEvse] = field(
        default_factory=_empty  # type: ignore[arg-type]
    )
    transactions: Mapping[str, Transaction] = field(
        default_factory=_empty  # type: ignore[arg-type]
    )
    recently_ended: tuple[str, ...] = ()  # newest last, at most RECENT_ENDED
