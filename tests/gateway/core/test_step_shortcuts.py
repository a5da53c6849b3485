"""The core's shortcuts answer exactly what the general computation answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from hypothesis import given, strategies as st

from gateway.core import energy, step
from gateway.core.effects import TransactionChanged
from gateway.core.evse import project
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.meter import Measurand, MeterLocation, MeterSample, Reading
from gateway.domain.state import ChargerState, ConnectorReport
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.domain.topology import ConnectorRef, EvseBinding
from gateway.domain.transactions import AuthToken, TransactionStarted, TransactionUpdated
from tests.builders import T0

CP = ChargerId("AC-0001")
REFS = [ConnectorRef(evse=None, connector=n) for n in (1, 2, 3)]
BINDING = EvseBinding(
    uid=EvseUid("E1"), location_id=LocationId("L"), charger_id=CP, connectors=(REFS[0],)
)
PRECEDENCE = [
    EvseStatus.CHARGING,
    EvseStatus.RESERVED,
    EvseStatus.AVAILABLE,
    EvseStatus.INOPERATIVE,
    EvseStatus.OUT_OF_ORDER,
]
FROM_CONNECTOR = {
    ConnectorStatus.AVAILABLE: EvseStatus.AVAILABLE,
    ConnectorStatus.OCCUPIED: EvseStatus.CHARGING,
    ConnectorStatus.RESERVED: EvseStatus.RESERVED,
    ConnectorStatus.UNAVAILABLE: EvseStatus.INOPERATIVE,
    ConnectorStatus.FAULTED: EvseStatus.OUT_OF_ORDER,
}


def by_precedence(state: ChargerState, binding: EvseBinding) -> EvseStatus:
    """DESIGN.md §3 for an active, online charger without a station-wide fault."""
    reports = state.connectors
    found = {FROM_CONNECTOR[reports[r].status] for r in binding.connectors if r in reports}
    return next((s for s in PRECEDENCE if s in found), EvseStatus.UNKNOWN)


@given(
    st.dictionaries(st.sampled_from(REFS), st.sampled_from(ConnectorStatus), max_size=3),
    st.lists(st.sampled_from(REFS), min_size=1, max_size=3, unique=True),
)
def test_an_evse_shows_the_first_status_by_precedence_however_many_connectors_it_has(
    reports: dict[ConnectorRef, ConnectorStatus], refs: list[ConnectorRef]
) -> None:
    """One connector or several: the projection is the precedence rule's answer."""
    state = ChargerState(
        charger_id=CP,
        connected=True,
        offline=False,
        connectors=MappingProxyType(
            {ref: ConnectorReport(status=status, at=T0) for ref, status in reports.items()}
        ),
    )
    binding = EvseBinding(
        uid=EvseUid("E1"), location_id=LocationId("L"), charger_id=CP, connectors=tuple(refs)
    )
    assert project(state, binding) is by_precedence(state, binding)


TOKEN = AuthToken(value="04A1B2C3")
OPEN = step(
    ChargerState(charger_id=CP, connected=True, offline=False),
    TransactionStarted(
        charger_id=CP,
        at=T0,
        tx_id="1",
        connector=None,
        token=None,
        started_at=T0,
        seq_no=0,
    ),
    bindings=(BINDING,),
    now=T0,
).state


@given(
    st.sampled_from([None, 0, 1, 2]),
    st.sampled_from([None, TOKEN, AuthToken(value="04A1B2C3")]),
    st.sampled_from([None, REFS[0], ConnectorRef(evse=None, connector=1)]),
)
def test_an_update_rewrites_the_record_exactly_when_something_but_samples_changed(
    seq_no: int | None, token: AuthToken | None, connector: ConnectorRef | None
) -> None:
    """A meter value only adds samples (no rewrite); a new seqNo, token or connector does."""
    for state in (OPEN, step(OPEN, _update(2, TOKEN, REFS[0]), bindings=(BINDING,), now=T0).state):
        before = state.transactions["1"]
        result = step(state, _update(seq_no, token, connector), bindings=(BINDING,), now=T0)
        changed = [e for e in result.effects if isinstance(e, TransactionChanged)]
        if seq_no in before.seen_seq:
            assert changed == []  # a retransmission
            continue
        (change,) = changed
        assert change.record_changed is (before != change.transaction)
        assert change.transaction.samples == before.samples


def _update(
    seq_no: int | None, token: AuthToken | None, connector: ConnectorRef | None
) -> TransactionUpdated:
    return TransactionUpdated(
        charger_id=CP,
        at=T0 + timedelta(minutes=1),
        tx_id="1",
        seq_no=seq_no,
        token=token,
        connector=connector,
    )


registers = st.decimals(min_value=0, max_value=10**7, places=3)
instants = st.one_of(
    st.none(), st.integers(0, 7200).map(lambda s: T0 + timedelta(seconds=s, microseconds=s * 7))
)


@given(
    registers,
    registers,
    instants,
    instants,
    st.booleans(),
    st.one_of(st.none(), st.decimals(min_value=1, max_value=400_000, places=1)),
)
def test_a_step_within_the_slack_fits_exactly_when_the_allowance_admits_it(
    before_wh: Decimal,
    after_wh: Decimal,
    before_at: datetime | None,
    after_at: datetime | None,
    trusted: bool,
    max_power_w: Decimal | None,
) -> None:
    """The monotonic filter's shortcut for small steps agrees with the full allowance."""
    before = energy._Point(before_at, before_wh, energy.PointSource.SAMPLE, trusted)
    after = energy._Point(after_at, after_wh, energy.PointSource.SAMPLE, True)
    step_wh = after_wh - before_wh
    allowance = energy._allowance(before, after, max_power_w)
    assert energy._fits(before, after, max_power_w) is (Decimal(0) <= step_wh <= allowance)


def _reading(measurand: Measurand, location: MeterLocation, phase: str | None) -> Reading:
    return Reading(
        measurand=measurand, value=Decimal(1), unit="Wh", at=T0, location=location, phase=phase
    )


@given(
    st.lists(
        st.builds(
            _reading,
            st.sampled_from([Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, Measurand.VOLTAGE]),
            st.sampled_from([MeterLocation.OUTLET, MeterLocation.INLET]),
            st.sampled_from([None, "L1"]),
        ),
        max_size=5,
    )
)
def test_a_sample_total_prefers_the_outlet_reading(readings: list[Reading]) -> None:
    """One phase-less reading or several: the outlet's are taken when there are some."""
    sample = MeterSample(at=T0, readings=tuple(readings))
    measurand = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
    totals = [r for r in readings if r.measurand is measurand and r.phase is None]
    outlet = [r for r in totals if r.location is MeterLocation.OUTLET]
    assert energy._totals(sample, measurand) == (outlet or totals)


@given(st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)))
def test_elapsed_seconds_are_the_same_decimal_as_whole_seconds_plus_microseconds(
    delta: timedelta,
) -> None:
    """Billing arithmetic sees the same digits and exponent as the sum it replaces."""
    whole = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)
    assert energy._seconds(delta).as_tuple() == whole.as_tuple()
