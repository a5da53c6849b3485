"""Pure: fold connector reports and connectivity into the EVSE statuses partners see.

DESIGN.md §3: a connector's report maps to an EVSE status; an EVSE grouping several
connectors takes the first match in CHARGING, RESERVED, AVAILABLE, INOPERATIVE,
OUT_OF_ORDER, UNKNOWN; a station-wide Unavailable/Faulted applies to every EVSE; an
offline charger shows UNKNOWN (OCPI: "also used when offline"); configured lifecycles
REMOVED and PLANNED win over everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from gateway.core.effects import EvseChanged
from gateway.core.evolve import constructor, evolve
from gateway.domain.ids import EvseUid
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.domain.topology import EvseBinding

_FROM_CONNECTOR: Mapping[ConnectorStatus, EvseStatus] = {
    ConnectorStatus.AVAILABLE: EvseStatus.AVAILABLE,
    ConnectorStatus.OCCUPIED: EvseStatus.CHARGING,
    ConnectorStatus.RESERVED: EvseStatus.RESERVED,
    ConnectorStatus.UNAVAILABLE: EvseStatus.INOPERATIVE,
    ConnectorStatus.FAULTED: EvseStatus.OUT_OF_ORDER,
}

_PRECEDENCE: tuple[EvseStatus, ...] = (
    EvseStatus.CHARGING,
    EvseStatus.RESERVED,
    EvseStatus.AVAILABLE,
    EvseStatus.INOPERATIVE,
    EvseStatus.OUT_OF_ORDER,
    EvseStatus.UNKNOWN,
)

_LIFECYCLE: Mapping[str, EvseStatus] = {
    "removed": EvseStatus.REMOVED,
    "planned": EvseStatus.PLANNED,
}


#: Faster than the classes' own __init__; a status change builds both for each EVSE.
_new_published = constructor(PublishedEvse)
_new_evse_changed = constructor(EvseChanged)


def project(state: ChargerState, binding: EvseBinding) -> EvseStatus:
    """The status one EVSE shows, given everything known about its charger."""
    if fixed := _LIFECYCLE.get(binding.lifecycle):
        return fixed
    if state.offline:
        return EvseStatus.UNKNOWN
    if state.station is not None and state.station.status in (
        ConnectorStatus.UNAVAILABLE,
        ConnectorStatus.FAULTED,
    ):
        return _FROM_CONNECTOR[state.station.status]
    refs = binding.connectors
    if len(refs) == 1:
        # Most EVSEs have one connector: its status is the EVSE's, no precedence to apply.
        report = state.connectors.get(refs[0])
        return EvseStatus.UNKNOWN if report is None else _FROM_CONNECTOR[report.status]
    found = {
        _FROM_CONNECTOR[report.status]
        for ref in refs
        if (report := state.connectors.get(ref)) is not None
    }
    return next((s for s in _PRECEDENCE if s in found), EvseStatus.UNKNOWN)


def republish(
    state: ChargerState, bindings: tuple[EvseBinding, ...], *, now: datetime
) -> tuple[ChargerState, tuple[EvseChanged, ...]]:
    """Recompute every EVSE of the charger; report those whose status changed.

    An EVSE seen for the first time is always reported, so partners learn of it.
    """
    published: dict[EvseUid, PublishedEvse] | None = None  # copied at the first change
    changed: list[EvseChanged] = []
    for binding in bindings:
        status = project(state, binding)
        before = (state.evses if published is None else published).get(binding.uid)
        if before is not None and before.status is status:
            continue
        if published is None:
            published = dict(state.evses)
        published[binding.uid] = _new_published(status=status, last_updated=now)
        changed.append(
            _new_evse_changed(
                uid=binding.uid,
                location_id=binding.location_id,
                status=status,
                last_updated=now,
            )
        )
    if published is None:
        return state, ()
    return evolve(state, evses=MappingProxyType(published)), tuple(changed)
