"""A transaction event's step skips the EVSE republish and the state comparison exactly right."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, strategies as st

from gateway.core import Inbound, Step, step
from gateway.core.effects import EvseChanged, TransactionChanged
from gateway.core.evse import republish
from gateway.domain.events import ChargerConnected, ChargerDisconnected, ConnectorStatusReported
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.meter import Measurand, MeterSample, Reading
from gateway.domain.state import ChargerState
from gateway.domain.status import ConnectorStatus
from gateway.domain.topology import ConnectorRef, EvseBinding
from gateway.domain.transactions import (
    AuthToken,
    TransactionStarted,
    TransactionStopped,
    TransactionUpdated,
)
from tests.builders import T0

CP = ChargerId("AC-0001")
C1 = ConnectorRef(evse=None, connector=1)
C2 = ConnectorRef(evse=None, connector=2)
BINDINGS = (
    EvseBinding(uid=EvseUid("E1"), location_id=LocationId("L"), charger_id=CP, connectors=(C1,)),
    EvseBinding(uid=EvseUid("E2"), location_id=LocationId("L"), charger_id=CP, connectors=(C2,)),
)
TOKEN = AuthToken(value="04A1B2C3")


def _sample(minute: int) -> MeterSample:
    at = T0 + timedelta(minutes=minute)
    reading = Reading(
        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        value=Decimal(1000 + 100 * minute),
        unit="Wh",
        at=at,
    )
    return MeterSample(at=at, readings=(reading,))


def _event(kind: str, tx: str, seq: int | None, minute: int, ref: ConnectorRef) -> Inbound:
    at = T0 + timedelta(minutes=minute)
    if kind == "status":
        return ConnectorStatusReported(
            charger_id=CP, at=at, connector=ref, status=ConnectorStatus.OCCUPIED
        )
    if kind == "connect":
        return ChargerConnected(charger_id=CP, at=at, protocol="ocpp1.6")
    if kind == "disconnect":
        return ChargerDisconnected(charger_id=CP, at=at)
    if kind == "start":
        return TransactionStarted(
            charger_id=CP,
            at=at,
            tx_id=tx,
            connector=ref,
            token=TOKEN,
            started_at=at,
            meter_start_wh=Decimal(1000),
            seq_no=seq,
        )
    if kind == "update":
        return TransactionUpdated(
            charger_id=CP,
            at=at,
            tx_id=tx,
            seq_no=seq,
            token=TOKEN if minute % 3 == 0 else None,
            connector=ref if minute % 2 == 0 else None,
            samples=(_sample(minute),),
        )
    return TransactionStopped(
        charger_id=CP,
        at=at,
        tx_id=tx,
        stopped_at=at,
        meter_stop_wh=Decimal(1000 + 100 * minute),
        seq_no=seq,
        samples=(_sample(minute),),
    )


events = st.lists(
    st.builds(
        _event,
        st.sampled_from(["status", "connect", "disconnect", "start", "update", "update", "stop"]),
        st.sampled_from(["1", "2"]),
        st.none() | st.integers(0, 4),
        st.integers(0, 600),
        st.sampled_from([C1, C2]),
    ),
    max_size=25,
)


@given(events, st.booleans())
def test_a_step_that_says_whether_the_state_changed_says_it_right(
    sequence: list[Inbound], connected_first: bool
) -> None:
    """``state_changed``, where the core gives it, is exactly ``new != old``."""
    state = ChargerState(charger_id=CP)
    if connected_first:
        state = step(state, _event("connect", "1", None, 0, C1), bindings=BINDINGS, now=T0).state
    for event in sequence:
        result = step(state, event, bindings=BINDINGS, now=T0)
        if result.state_changed is not None:
            assert result.state_changed is (result.state != state)
        state = result.state


@given(events)
def test_after_any_steps_a_transaction_event_leaves_nothing_for_a_republish(
    sequence: list[Inbound],
) -> None:
    """Once the EVSEs are published, no transaction event changes what they should show."""
    state = ChargerState(charger_id=CP)
    for event in sequence:
        result = step(state, event, bindings=BINDINGS, now=T0)
        if isinstance(event, TransactionStarted | TransactionUpdated | TransactionStopped):
            assert republish(result.state, BINDINGS, now=T0 + timedelta(days=1))[1] == ()
        state = result.state


def test_a_transaction_event_on_a_charger_never_published_publishes_its_evses() -> None:
    """The first step of a charger publishes every EVSE, whatever the event."""
    result = step(
        ChargerState(charger_id=CP),
        _event("start", "1", None, 0, C1),
        bindings=BINDINGS,
        now=T0,
    )

    assert [type(e) for e in result.effects] == [TransactionChanged, EvseChanged, EvseChanged]
    assert set(result.state.evses) == {b.uid for b in BINDINGS}
    assert result.state_changed is None


def test_a_meter_value_in_a_transaction_is_no_state_change_and_no_republish() -> None:
    """Only samples were added: the store need not rewrite the charger, partners hear nothing."""
    opened = step(
        ChargerState(charger_id=CP), _event("start", "1", None, 0, C1), bindings=BINDINGS, now=T0
    ).state
    result = step(opened, _event("update", "1", None, 1, C1), bindings=BINDINGS, now=T0)

    assert result == Step(result.state, result.effects, False)
    (change,) = result.effects
    assert isinstance(change, TransactionChanged)
    assert change.record_changed is False
    assert change.transaction.samples == (_sample(1),)
    assert result.state.evses is opened.evses


def test_a_stop_keeps_what_an_update_would_add_and_always_rewrites_the_record() -> None:
    """The stop's samples, seqNo, token and connector are in the ended record, flagged gaps too."""
    bare = TransactionStarted(
        charger_id=CP, at=T0, tx_id="1", connector=None, token=None, started_at=T0, seq_no=0
    )
    opened = step(ChargerState(charger_id=CP), bare, bindings=BINDINGS, now=T0).state
    stop = TransactionStopped(
        charger_id=CP,
        at=T0 + timedelta(minutes=5),
        tx_id="1",
        stopped_at=T0 + timedelta(minutes=5),
        seq_no=3,
        token=TOKEN,
        connector=C1,
        samples=(_sample(5),),
    )

    result = step(opened, stop, bindings=BINDINGS, now=T0)

    (change,) = result.effects
    assert isinstance(change, TransactionChanged)
    ended = change.transaction
    assert (ended.token, ended.connector, ended.seen_seq) == (TOKEN, C1, frozenset({0, 3}))
    assert ended.samples == (_sample(5),)
    assert "sequence_gap" in ended.flags
    assert change.record_changed is True
    assert result.state_changed is True
