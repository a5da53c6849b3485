"""Configured site + live EVSE statuses -> OCPI Locations (pure), and list pagination."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.config import load_settings
from gateway.domain.ids import EvseUid
from gateway.domain.state import PublishedEvse
from gateway.domain.status import EvseStatus
from ocpi_bridge.models.locations import Location, Status
from ocpi_bridge.translate.locations import STATUS, to_ocpi_location
from ocpi_bridge.translate.pagination import PageRequest, paginate
from tests.builders import SHIPPED_CONFIG, T0

SETTINGS = load_settings(SHIPPED_CONFIG)
LOC = SETTINGS.locations[0]
CONFIGURED = {"location:LOC-001": T0, **{f"evse:{e.uid}": T0 for e in LOC.evses}}


def location(statuses=None, configured=None, loc=LOC) -> Location:
    return to_ocpi_location(
        loc,
        operator=SETTINGS.operator,
        statuses=statuses or {},
        configured_at=configured or CONFIGURED,
    )


def test_the_example_site_becomes_a_valid_ocpi_location():
    """Identity, address, coordinates, EVSEs and connectors come from config.toml."""
    loc = location()

    assert (loc.country_code, loc.party_id, loc.id) == ("NL", "CEG", "LOC-001")
    assert loc.coordinates.latitude == "52.089444"
    assert [e.uid for e in loc.evses or ()] == ["AC-0001-1", "AC-0001-2", "DC-0001-1"]
    dc = (loc.evses or [])[2]
    assert [c.standard.value for c in dc.connectors] == ["IEC_62196_T2_COMBO", "CHADEMO"]
    assert dc.connectors[0].tariff_ids == ["DC-FAST"]
    assert loc.operator is not None
    assert loc.operator.name == "Example Charging B.V."
    dumped = loc.model_dump(mode="json", exclude_none=True)
    assert dumped["last_updated"] == "2026-11-22T10:00:00Z"


def test_evses_never_reported_are_unknown():
    """Without a published status, an EVSE is UNKNOWN."""
    assert {e.status for e in location().evses or ()} == {Status.UNKNOWN}


@pytest.mark.parametrize("status", list(EvseStatus))
def test_each_gateway_status_has_its_ocpi_status(status):
    """The mapping is total: no gateway status lacks an OCPI word."""
    statuses = {EvseUid("AC-0001-1"): PublishedEvse(status=status, last_updated=T0)}
    assert (location(statuses).evses or [])[0].status is STATUS[status]


def test_a_childs_change_moves_its_parents_last_updated():
    """EVSE status time > config time: the EVSE and the Location show the later time."""
    later = T0 + timedelta(minutes=5)
    statuses = {EvseUid("AC-0001-2"): PublishedEvse(status=EvseStatus.CHARGING, last_updated=later)}
    loc = location(statuses)

    evses = {e.uid: e for e in loc.evses or ()}
    assert evses["AC-0001-2"].last_updated == later
    assert evses["AC-0001-1"].last_updated == T0
    assert loc.last_updated == later
    assert all(c.last_updated == T0 for c in evses["AC-0001-2"].connectors)


@pytest.mark.parametrize(
    ("lifecycle", "expected"), [("removed", Status.REMOVED), ("planned", Status.PLANNED)]
)
def test_configured_lifecycles_win(lifecycle, expected):
    """An EVSE marked removed or planned shows so whatever its last status was."""
    evses = (LOC.evses[0].model_copy(update={"lifecycle": lifecycle}), *LOC.evses[1:])
    statuses = {EvseUid("AC-0001-1"): PublishedEvse(status=EvseStatus.CHARGING, last_updated=T0)}
    loc = location(statuses, loc=LOC.model_copy(update={"evses": evses}))

    assert (loc.evses or [])[0].status is expected


def test_a_location_without_evses_or_optional_fields():
    """Optional fields are absent, not null, in what partners receive."""
    bare = LOC.model_copy(update={"evses": (), "parking_type": None, "facilities": ()})
    dumped = location(loc=bare).model_dump(mode="json", exclude_none=True)

    assert "evses" not in dumped
    assert "parking_type" not in dumped
    assert "facilities" not in dumped


ITEMS = [T0 + timedelta(minutes=i) for i in range(5)]


@pytest.mark.parametrize(
    ("request_", "items", "total", "next_offset"),
    [
        (PageRequest(limit=2), ITEMS[:2], 5, 2),
        (PageRequest(offset=2, limit=2), ITEMS[2:4], 5, 4),
        (PageRequest(offset=4, limit=2), ITEMS[4:], 5, None),
        (PageRequest(offset=9, limit=2), [], 5, None),
        (PageRequest(limit=10, date_from=ITEMS[1]), ITEMS[1:], 4, None),
        (PageRequest(limit=10, date_to=ITEMS[1]), ITEMS[:1], 1, None),
        (PageRequest(limit=1, date_from=ITEMS[1], date_to=ITEMS[3]), ITEMS[1:2], 2, 1),
    ],
)
def test_pagination_edges(request_, items, total, next_offset):
    """date_from inclusive, date_to exclusive; total ignores paging; no next on the last page."""
    page = paginate(ITEMS, request_, last_updated=lambda t: t)

    assert list(page.items) == items
    assert (page.total, page.next_offset) == (total, next_offset)
