"""A meter value for a running transaction folds as the general path folds it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, strategies as st

from gateway.core import Inbound, step
from gateway.core.effects import Effect, TransactionChanged
from gateway.core.transactions import _fold, fold
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.meter import Measurand, MeterProblem, MeterProblemCode, MeterSample, Reading
from gateway.domain.state import ChargerState
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
TOKENS = (None, AuthToken(value="04A1B2C3"), AuthToken(value="FFEE"))
PROBLEM = MeterProblem(
    code=MeterProblemCode.BAD_NUMBER, text="bad", raw='"x"', path="meterValue[0]", dropped=True
)


def _sample(minute: int) -> MeterSample:
    at = T0 + timedelta(minutes=minute)
    reading = Reading(
        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        value=Decimal(1000 + 100 * minute),
        unit="Wh",
        at=at,
    )
    return MeterSample(at=at, readings=(reading,))


@st.composite
def _events(draw: st.DrawFn) -> Inbound:
    kind = draw(st.sampled_from(["start", "update", "update", "update", "stop"]))
    tx = draw(st.sampled_from(["1", "2", "3"]))
    seq = draw(st.none() | st.integers(0, 4))
    minute = draw(st.integers(0, 600))
    at = T0 + timedelta(minutes=minute)
    token = draw(st.sampled_from(TOKENS))
    connector = draw(st.sampled_from([None, C1, C2]))
    samples = tuple(_sample(minute + i) for i in range(draw(st.integers(0, 2))))
    if kind == "start":
        return TransactionStarted(
            charger_id=CP,
            at=at,
            tx_id=tx,
            connector=connector,
            token=token,
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
            token=token,
            connector=connector,
            samples=samples,
            problems=(PROBLEM,) if draw(st.booleans()) else (),
        )
    return TransactionStopped(
        charger_id=CP, at=at, tx_id=tx, stopped_at=at, seq_no=seq, samples=samples
    )


def _samples(state: ChargerState) -> dict[str, tuple[MeterSample, ...]]:
    # Records compare without their samples: these are compared on their own.
    return {tx_id: tx.samples for tx_id, tx in state.transactions.items()}


def _effect_samples(effects: tuple[Effect, ...]) -> list[object]:
    return [e.transaction.samples for e in effects if isinstance(e, TransactionChanged)]


@given(st.lists(_events(), max_size=30))
def test_every_meter_value_folds_as_the_general_path_folds_it(sequence: list[Inbound]) -> None:
    """Same state, same samples, same effects, whichever path a meter value takes."""
    state = ChargerState(charger_id=CP)
    for event in sequence:
        if isinstance(event, TransactionUpdated):
            got = fold(state, event, bindings=BINDINGS)
            expected = _fold(state, state.transactions.get(event.tx_id), event, BINDINGS)
            assert got == expected
            assert _samples(got[0]) == _samples(expected[0])
            assert _effect_samples(got[1]) == _effect_samples(expected[1])
        state = step(state, event, bindings=BINDINGS, now=T0).state


def _running(*tx_ids: str) -> ChargerState:
    state = ChargerState(charger_id=CP)
    for tx_id in tx_ids:
        start = TransactionStarted(
            charger_id=CP, at=T0, tx_id=tx_id, connector=C1, token=TOKENS[1], started_at=T0
        )
        state = step(state, start, bindings=BINDINGS, now=T0).state
    return state


def test_a_meter_value_adds_its_samples_and_keeps_every_other_transaction() -> None:
    """The transaction gains the samples; the charger's other open transaction is untouched."""
    state = _running("1", "2")
    meter = TransactionUpdated(charger_id=CP, at=T0, tx_id="2", samples=(_sample(1),))
    new, effects = fold(state, meter, bindings=BINDINGS)

    assert new.transactions["1"] is state.transactions["1"]
    assert new.transactions["2"].samples == (_sample(1),)
    assert effects == (
        TransactionChanged(
            transaction=new.transactions["2"], new_samples=(_sample(1),), record_changed=False
        ),
    )


def test_a_repeated_sequence_number_on_the_quick_path_changes_nothing() -> None:
    """A 2.0.1 retransmission of a meter value is recognised without the general path."""
    state = _running("1")
    meter = TransactionUpdated(charger_id=CP, at=T0, tx_id="1", seq_no=3, samples=(_sample(1),))
    once = fold(state, meter, bindings=BINDINGS)[0]

    assert once.transactions["1"].seen_seq == {3}
    assert fold(once, meter, bindings=BINDINGS) == (once, ())


@given(st.lists(_events(), max_size=30))
def test_an_ended_transaction_is_always_reported_as_a_changed_record(
    sequence: list[Inbound],
) -> None:
    """Listeners that look for ended transactions may skip effects that only add samples."""
    state = ChargerState(charger_id=CP)
    for event in sequence:
        result = step(state, event, bindings=BINDINGS, now=T0)
        for effect in result.effects:
            if isinstance(effect, TransactionChanged) and effect.transaction.ended:
                assert effect.record_changed
        state = result.state
