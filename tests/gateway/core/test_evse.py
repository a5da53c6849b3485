"""The EVSE status projection and the charger step (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

from gateway.core import refresh, step
from gateway.core.effects import EvseChanged
from gateway.core.evse import project
from gateway.domain.events import (
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    OfflineGraceElapsed,
)
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.state import ChargerState
from gateway.domain.status import ConnectorStatus as C, EvseStatus as E
from gateway.domain.topology import ConnectorRef, EvseBinding, Topology
from tests.builders import T0, a_status

CP = ChargerId("AC-0001")
ONE = EvseBinding(
    uid=EvseUid("E1"),
    location_id=LocationId("L1"),
    charger_id=CP,
    connectors=(ConnectorRef(evse=None, connector=1),),
)
TWO = EvseBinding(
    uid=EvseUid("E2"),
    location_id=LocationId("L1"),
    charger_id=CP,
    connectors=(ConnectorRef(evse=None, connector=2),),
)
GROUPED = EvseBinding(
    uid=EvseUid("G"),
    location_id=LocationId("L1"),
    charger_id=CP,
    connectors=(ConnectorRef(evse=None, connector=1), ConnectorRef(evse=None, connector=2)),
)
BINDINGS = (ONE, TWO)


def online() -> ChargerState:
    return step(
        ChargerState(charger_id=CP),
        ChargerConnected(charger_id=CP, at=T0, protocol="ocpp1.6"),
        bindings=(),
        now=T0,
    ).state


def run(*events, bindings=BINDINGS, state=None, now=T0):
    state = state or online()
    effects: list[object] = []
    for event in events:
        result = step(state, event, bindings=bindings, now=now)
        state = result.state
        effects.extend(result.effects)
    return state, effects


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        (C.AVAILABLE, E.AVAILABLE),
        (C.OCCUPIED, E.CHARGING),
        (C.RESERVED, E.RESERVED),
        (C.UNAVAILABLE, E.INOPERATIVE),
        (C.FAULTED, E.OUT_OF_ORDER),
    ],
)
def test_a_connector_report_maps_to_its_evse_status(reported, expected):
    """Each reported connector status has exactly one EVSE status (DESIGN.md §3)."""
    state, effects = run(a_status(reported))

    assert project(state, ONE) is expected
    assert (
        EvseChanged(uid=ONE.uid, location_id=ONE.location_id, status=expected, last_updated=T0)
        in effects
    )


def test_a_charger_never_seen_shows_unknown():
    """Before a charger has ever connected its EVSEs are UNKNOWN."""
    assert project(ChargerState(charger_id=CP), ONE) is E.UNKNOWN


def test_a_connected_charger_without_reports_shows_unknown():
    """Connected but silent about a connector: still UNKNOWN, never a guessed AVAILABLE."""
    assert project(online(), ONE) is E.UNKNOWN


def test_connector_zero_fault_applies_to_every_evse_of_the_charger():
    """A station-wide Faulted overrides each connector's own status."""
    state, _ = run(a_status(C.AVAILABLE, connector=1), a_status(C.OCCUPIED, connector=2))
    state, effects = run(a_status(C.FAULTED, connector=None), state=state)

    assert project(state, ONE) is E.OUT_OF_ORDER
    assert project(state, TWO) is E.OUT_OF_ORDER
    assert {e.uid for e in effects} == {ONE.uid, TWO.uid}


def test_connector_zero_available_lifts_a_station_fault():
    """When the station reports Available again, each connector's own status shows."""
    state, _ = run(a_status(C.OCCUPIED, connector=1), a_status(C.UNAVAILABLE, connector=None))
    assert project(state, ONE) is E.INOPERATIVE

    state, _ = run(a_status(C.AVAILABLE, connector=None), state=state)

    assert project(state, ONE) is E.CHARGING


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (C.OCCUPIED, C.AVAILABLE, E.CHARGING),
        (C.RESERVED, C.AVAILABLE, E.RESERVED),
        (C.AVAILABLE, C.FAULTED, E.AVAILABLE),
        (C.UNAVAILABLE, C.FAULTED, E.INOPERATIVE),
        (C.FAULTED, C.FAULTED, E.OUT_OF_ORDER),
    ],
)
def test_a_grouped_evse_takes_the_first_match_in_precedence(first, second, expected):
    """CHARGING, RESERVED, AVAILABLE, INOPERATIVE, OUTOFORDER, UNKNOWN: first match wins."""
    state, _ = run(a_status(first, connector=1), a_status(second, connector=2), bindings=(GROUPED,))

    assert project(state, GROUPED) is expected


@pytest.mark.parametrize(
    ("lifecycle", "expected"), [("removed", E.REMOVED), ("planned", E.PLANNED)]
)
def test_configured_lifecycle_wins_over_reports(lifecycle, expected):
    """A removed or planned EVSE shows so whatever its charger says."""
    binding = replace(ONE, lifecycle=lifecycle)
    state, _ = run(a_status(C.OCCUPIED), bindings=(binding,))

    assert project(state, binding) is expected


def test_disconnect_keeps_the_last_status_until_the_grace_period_elapses():
    """A short network blip does not flap every EVSE to UNKNOWN and back."""
    state, _ = run(a_status(C.AVAILABLE))
    later = T0 + timedelta(seconds=30)
    state, effects = run(ChargerDisconnected(charger_id=CP, at=later), state=state, now=later)

    assert project(state, ONE) is E.AVAILABLE
    assert effects == []


def test_offline_after_grace_shows_unknown_and_moves_last_updated():
    """When the grace period elapses the EVSE becomes UNKNOWN, stamped with that moment."""
    state, _ = run(a_status(C.AVAILABLE))
    state, _ = run(ChargerDisconnected(charger_id=CP, at=T0), state=state)
    later = T0 + timedelta(seconds=90)
    state, effects = run(OfflineGraceElapsed(charger_id=CP, at=later), state=state, now=later)

    assert project(state, ONE) is E.UNKNOWN
    # E2 never reported, so it was UNKNOWN already: only E1 changes.
    assert [(e.uid, e.status, e.last_updated) for e in effects] == [(ONE.uid, E.UNKNOWN, later)]
    assert state.evses[ONE.uid].last_updated == later


def test_a_reconnect_that_raced_the_watchdog_is_not_marked_offline():
    """The grace event for a charger that is already back changes nothing."""
    state, _ = run(a_status(C.AVAILABLE))
    state, _ = run(ChargerDisconnected(charger_id=CP, at=T0), state=state)
    state, _ = run(ChargerConnected(charger_id=CP, at=T0, protocol="ocpp1.6"), state=state)
    state, effects = run(OfflineGraceElapsed(charger_id=CP, at=T0), state=state)

    assert not state.offline
    assert effects == []


def test_reconnecting_restores_the_last_known_statuses():
    """1.6 chargers need not resend statuses on reconnect (§5.4); the last known ones show."""
    state, _ = run(a_status(C.AVAILABLE))
    state, _ = run(ChargerDisconnected(charger_id=CP, at=T0), state=state)
    state, _ = run(OfflineGraceElapsed(charger_id=CP, at=T0), state=state)
    state, effects = run(ChargerConnected(charger_id=CP, at=T0, protocol="ocpp1.6"), state=state)

    assert project(state, ONE) is E.AVAILABLE
    assert ONE.uid in {e.uid for e in effects}


def test_a_second_disconnect_changes_nothing():
    """Disconnect events for an already disconnected charger are harmless."""
    state, _ = run(ChargerDisconnected(charger_id=CP, at=T0))
    again = step(state, ChargerDisconnected(charger_id=CP, at=T0), bindings=BINDINGS, now=T0)

    assert again.state == state
    assert not again.changed


def test_a_repeated_status_produces_no_effect():
    """Only changes are pushed: the same status twice is one EVSE change."""
    _, effects = run(a_status(C.AVAILABLE), a_status(C.AVAILABLE))

    assert [e.uid for e in effects].count(ONE.uid) == 1


def test_boot_is_recorded_without_touching_evses():
    """BootNotification details are kept for the operator; EVSE statuses do not move."""
    boot = ChargerBooted(charger_id=CP, at=T0, vendor="V", model="M", serial_number="S1")
    published = refresh(online(), bindings=BINDINGS, now=T0).state
    state, effects = run(boot, state=published)

    assert effects == []
    assert state.boot is not None
    assert (state.boot.vendor, state.boot.model, state.boot.serial_number) == ("V", "M", "S1")


def test_refresh_publishes_evses_the_configuration_added():
    """An EVSE added to the configuration is published (UNKNOWN) without any event."""
    state = ChargerState(charger_id=CP)
    result = refresh(state, bindings=BINDINGS, now=T0)

    changed = [e for e in result.effects if isinstance(e, EvseChanged)]
    assert {e.uid: e.status for e in changed} == {ONE.uid: E.UNKNOWN, TWO.uid: E.UNKNOWN}
    assert refresh(result.state, bindings=BINDINGS, now=T0).effects == ()


def test_topology_finds_bindings_by_charger_and_uid():
    """The topology index answers the two lookups the runtime needs."""
    other = replace(TWO, charger_id=ChargerId("X"))
    topo = Topology((ONE, other))

    assert topo.of_charger(CP) == (ONE,)
    assert topo.evse(EvseUid("E2")) == other
    assert topo.evse(EvseUid("nope")) is None


@given(st.lists(st.sampled_from(list(C)), min_size=1, max_size=20))
def test_the_published_status_always_equals_the_projection(reports):
    """Whatever sequence of reports arrives, what is published equals the projection."""
    state = online()
    for i, status in enumerate(reports):
        state = step(state, a_status(status, connector=1 + i % 2), bindings=BINDINGS, now=T0).state

    for binding in BINDINGS:
        assert state.evses[binding.uid].status is project(state, binding)


def test_an_evse_level_reference_is_served_by_the_evse_of_that_id():
    """2.0.1 events may name an EVSE without a connector (connector 0)."""
    dc = EvseBinding(
        uid=EvseUid("DC"),
        location_id=LocationId("L1"),
        charger_id=CP,
        connectors=(ConnectorRef(evse=1, connector=1),),
    )
    topo = Topology((ONE, dc))

    assert topo.serving(CP, ConnectorRef(evse=1, connector=0)) == dc
    assert topo.serving(CP, ConnectorRef(evse=2, connector=0)) is None
    assert topo.serving(CP, ConnectorRef(evse=None, connector=1)) == ONE
