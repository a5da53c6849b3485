"""The transaction state machine (RELIABILITY.md §2.4, R-OCPP-TX-1/3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from gateway.core import step
from gateway.core.effects import (
    NoteRecorded,
    SamplesRecorded,
    TransactionChanged,
    TransactionEventParked,
)
from gateway.core.transactions import find_by_start_key
from gateway.domain.events import ChargerReported
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.meter import Measurand, MeterSample, Reading
from gateway.domain.state import RECENT_ENDED, ChargerState
from gateway.domain.topology import ConnectorRef, EvseBinding
from gateway.domain.transactions import (
    AuthToken,
    MeterValuesReported,
    TransactionStarted,
    TransactionStatus,
    TransactionStopped,
    TransactionUpdated,
    TxFlag,
)
from tests.builders import T0

CP = ChargerId("AC-0001")
C1 = ConnectorRef(evse=None, connector=1)
E1 = EvseBinding(
    uid=EvseUid("E1"),
    location_id=LocationId("L"),
    charger_id=CP,
    connectors=(C1,),
    max_power_w=Decimal(22000),
)
DC = EvseBinding(
    uid=EvseUid("DC1"),
    location_id=LocationId("L"),
    charger_id=CP,
    connectors=(ConnectorRef(evse=1, connector=1), ConnectorRef(evse=1, connector=2)),
    max_power_w=Decimal(50000),
)
BINDINGS = (E1, DC)
TOKEN = AuthToken(value="04A1B2C3")


def register(wh: int | str, minutes: float = 0) -> MeterSample:
    at = T0 + timedelta(minutes=minutes)
    return MeterSample(
        at=at,
        readings=(
            Reading(
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                value=Decimal(wh),
                unit="Wh",
                at=at,
            ),
        ),
    )


def started(tx_id="1", *, meter=1000, connector=C1, seq=None, key="k1", samples=()):
    return TransactionStarted(
        charger_id=CP,
        at=T0,
        tx_id=tx_id,
        connector=connector,
        token=TOKEN,
        started_at=T0,
        meter_start_wh=None if meter is None else Decimal(meter),
        start_key=key,
        seq_no=seq,
        samples=tuple(samples),
    )


def updated(tx_id="1", *, seq=None, samples=(), connector=None, token=None):
    return TransactionUpdated(
        charger_id=CP,
        at=T0,
        tx_id=tx_id,
        seq_no=seq,
        samples=tuple(samples),
        connector=connector,
        token=token,
    )


def stopped(
    tx_id="1", *, meter=5000, minutes=60, seq=None, samples=(), connector=None, suspect=False
):
    return TransactionStopped(
        charger_id=CP,
        at=T0 + timedelta(minutes=minutes),
        tx_id=tx_id,
        stopped_at=T0 + timedelta(minutes=minutes),
        meter_stop_wh=None if meter is None else Decimal(meter),
        reason="EVDisconnected",
        seq_no=seq,
        samples=tuple(samples),
        connector=connector,
        clock_suspect=suspect,
    )


def run(*events, state=None):
    state = state or ChargerState(charger_id=CP, connected=True, offline=False)
    effects: list[object] = []
    for event in events:
        result = step(state, event, bindings=BINDINGS, now=T0)
        state = result.state
        effects.extend(result.effects)
    return state, effects


def changes(effects):
    return [e.transaction for e in effects if isinstance(e, TransactionChanged)]


def parked(effects):
    return [(e.tx_id, e.reason) for e in effects if isinstance(e, TransactionEventParked)]


def test_a_start_opens_a_transaction_on_the_evse_of_its_connector():
    """The transaction knows its EVSE, token, meter start and start key."""
    state, effects = run(started())

    tx = state.transactions["1"]
    assert (tx.evse_uid, tx.token, tx.meter_start_wh, tx.status) == (
        "E1",
        TOKEN,
        Decimal(1000),
        TransactionStatus.ACTIVE,
    )
    assert changes(effects) == [tx]
    assert find_by_start_key(state, "k1") == tx
    assert find_by_start_key(state, "other") is None


def test_a_full_1_6_transaction_bills_stop_minus_start():
    """Start at 1,000 Wh, samples, stop at 5,000 Wh after an hour: 4,000 Wh, completed."""
    state, effects = run(
        started(),
        updated(samples=[register(2000, 20)]),
        updated(samples=[register(3500, 40)]),
        stopped(meter=5000),
    )

    assert state.transactions == {}
    assert state.recently_ended == ("1",)
    final = changes(effects)[-1]
    assert final.status is TransactionStatus.COMPLETED
    assert final.energy_wh == Decimal(4000)
    assert final.meter_stop_wh == Decimal(5000)
    assert final.stop_reason == "EVDisconnected"


def test_the_first_stop_wins_and_later_ones_are_parked_as_late():
    """An ended transaction never changes: a second StopTransaction is kept, not applied."""
    state, _ = run(started(), stopped(meter=5000))
    state, effects = run(stopped(meter=9000), state=state)

    assert changes(effects) == []
    assert parked(effects) == [("1", "late_event")]


def test_a_stop_for_an_unknown_1_6_transaction_is_parked_not_refused():
    """R-OCPP-TX-1: a stop with an unknown id or -1 is acknowledged and kept for review."""
    _, effects = run(stopped("777"), stopped("-1"))

    assert parked(effects) == [("777", "unknown_transaction"), ("-1", "no_transaction_id")]


def test_meter_values_for_an_unknown_1_6_transaction_are_parked():
    """Samples for a transaction the gateway never issued are kept, not billed."""
    _, effects = run(updated("42", samples=[register(10)]))

    assert parked(effects) == [("42", "unknown_transaction")]


def test_2_0_1_events_with_a_seen_seq_no_change_nothing():
    """(charger, transactionId, seqNo) is the idempotency key of TransactionEvent."""
    state, _ = run(started("tx-a", seq=0, key=None), updated("tx-a", seq=1, samples=[register(5)]))
    again = step(state, updated("tx-a", seq=1, samples=[register(5)]), bindings=BINDINGS, now=T0)

    assert again.state == state
    assert again.effects == ()


def test_2_0_1_update_before_start_opens_it_implicitly_then_the_start_fills_in():
    """Events may arrive out of order; the late Started event completes the picture."""
    dc = ConnectorRef(evse=1, connector=2)
    state, _ = run(updated("tx-b", seq=1, connector=dc, samples=[register(100, 5)]))
    tx = state.transactions["tx-b"]
    assert TxFlag.STARTED_IMPLICITLY in tx.flags
    assert tx.evse_uid == "DC1"
    assert tx.token is None

    state, _ = run(started("tx-b", seq=0, meter=None, connector=dc, key=None), state=state)
    tx = state.transactions["tx-b"]
    assert tx.token == TOKEN
    assert tx.seen_seq == frozenset({0, 1})
    assert tx.started_at == T0


def test_2_0_1_end_for_a_never_seen_transaction_records_it_once():
    """An Ended event alone (the rest still queued) creates and completes the transaction."""
    evse_only = ConnectorRef(evse=1, connector=0)
    state, effects = run(
        stopped(
            "tx-c",
            meter=None,
            seq=2,
            connector=evse_only,
            samples=[register(0, 0), register(900, 30)],
        )
    )

    (tx,) = changes(effects)
    assert tx.status is TransactionStatus.COMPLETED
    assert tx.evse_uid == "DC1"
    assert TxFlag.STARTED_IMPLICITLY in tx.flags
    assert TxFlag.SEQUENCE_GAP in tx.flags
    assert tx.energy_wh == Decimal(900)
    assert "tx-c" in state.recently_ended


def test_a_late_2_0_1_start_after_the_end_is_parked():
    """Started arriving after Ended never reopens the transaction."""
    state, _ = run(started("tx-d", seq=0, key=None), stopped("tx-d", seq=1, meter=None))
    _, effects = run(started("tx-d", seq=0, key=None), state=state)

    assert parked(effects) == [("tx-d", "late_event")]


def test_a_transaction_on_an_unmapped_connector_is_recorded_and_flagged():
    """Nothing is refused; a connector no EVSE covers is flagged for the operator."""
    state, _ = run(started(connector=ConnectorRef(evse=None, connector=9)))

    tx = state.transactions["1"]
    assert tx.evse_uid is None
    assert TxFlag.UNKNOWN_EVSE in tx.flags


def test_a_transaction_without_a_connector_is_flagged_unknown_evse():
    """2.0.1 Updated without an evse field still records the transaction."""
    state, _ = run(updated("tx-e", seq=0))

    assert TxFlag.UNKNOWN_EVSE in state.transactions["tx-e"].flags


def test_suspect_clocks_are_flagged_on_start_and_stop():
    """A 1970 or future timestamp (replaced by the receive time) marks the transaction."""
    state, _ = run(replace(started(), clock_suspect=True))
    assert TxFlag.CLOCK_SUSPECT in state.transactions["1"].flags

    state, effects = run(started("2", key="k2"), stopped("2", suspect=True))
    assert TxFlag.CLOCK_SUSPECT in changes(effects)[-1].flags


def test_a_stop_timestamp_before_the_start_is_clamped():
    """A stop the charger dates before its start still yields a non-negative duration."""
    _state, effects = run(started(), stopped(minutes=-30))

    final = changes(effects)[-1]
    assert final.stopped_at == final.started_at


def test_energy_flags_from_the_register_filter_are_kept():
    """Quirk #1: a placeholder 0 start with lifetime readings is flagged, not billed."""
    _, effects = run(
        started(meter=0),
        updated(samples=[register(910_000_000, 1), register(910_000_083, 2)]),
        stopped(meter=910_000_083, minutes=3),
    )

    final = changes(effects)[-1]
    assert final.energy_wh < Decimal(1000)
    assert final.energy_flags


def test_the_remembered_ended_ids_are_bounded():
    """A charger remembers its last RECENT_ENDED ended transactions, not all of them."""
    state = None
    for i in range(RECENT_ENDED + 5):
        state, _ = run(started(str(i), key=f"k{i}"), stopped(str(i)), state=state)

    assert state is not None
    assert len(state.recently_ended) == RECENT_ENDED
    assert state.recently_ended[-1] == str(RECENT_ENDED + 4)


def test_samples_outside_a_transaction_are_recorded_not_billed():
    """1.6 MeterValues without transactionId keep their samples for the operator."""
    event = MeterValuesReported(charger_id=CP, at=T0, connector=C1, samples=(register(5),))
    state, effects = run(event)

    assert effects == [SamplesRecorded(charger_id=CP, connector=C1, samples=(register(5),))]
    assert state.transactions == {}


def test_charger_reports_become_notes():
    """Firmware status, security events and the like are stored for the operator."""
    event = ChargerReported(
        charger_id=CP, at=T0, kind="firmware_status", text="Installed", detail={}
    )
    _, effects = run(event)

    assert effects == [
        NoteRecorded(charger_id=CP, at=T0, kind="firmware_status", text="Installed", detail={})
    ]


def test_updates_fill_in_a_missing_token_and_connector():
    """An implicitly started transaction learns its token from a later event."""
    state, _ = run(updated("tx-f", seq=0))
    state, _ = run(updated("tx-f", seq=1, token=TOKEN, connector=C1), state=state)

    tx = state.transactions["tx-f"]
    assert (tx.token, tx.connector) == (TOKEN, C1)


@given(st.lists(st.integers(min_value=0, max_value=50_000), min_size=1, max_size=20))
def test_billed_energy_is_never_negative(registers):
    """Whatever registers a charger reports, a session's energy is >= 0."""
    samples = [register(r, i + 1) for i, r in enumerate(registers)]
    _, effects = run(
        started(meter=registers[0]),
        updated(samples=samples),
        stopped(meter=registers[-1], minutes=len(registers) + 1),
    )

    assert changes(effects)[-1].energy_wh >= 0


@given(st.permutations(["start", "update", "stop"]))
def test_2_0_1_events_in_any_order_end_in_one_completed_transaction(order):
    """However TransactionEvents are reordered in the charger's queue, one transaction ends."""
    events = {
        "start": started("tx-g", seq=0, key=None, meter=None, samples=[register(100, 0)]),
        "update": updated("tx-g", seq=1, samples=[register(600, 10)]),
        "stop": stopped("tx-g", seq=2, meter=None, minutes=20, samples=[register(1100, 20)]),
    }
    state, effects = run(*(events[name] for name in order))

    completed = [t for t in changes(effects) if t.status is TransactionStatus.COMPLETED]
    assert len(completed) == 1
    assert "tx-g" not in state.transactions


@pytest.mark.parametrize("rejected", [True, False])
def test_a_start_answered_not_accepted_is_flagged_auth_rejected(rejected):
    """The decision sent to the charger for the start's token is kept as a flag."""
    state, _ = run(replace(started(), auth_rejected=rejected))

    assert (TxFlag.AUTH_REJECTED in state.transactions["1"].flags) is rejected


@pytest.mark.parametrize("rejected", [True, False])
def test_a_late_2_0_1_start_answered_not_accepted_flags_the_open_transaction(rejected):
    """A Started event arriving after updates still marks a refused start."""
    state, _ = run(updated("tx-c", seq=1))
    start = replace(started("tx-c", seq=0, key=None), auth_rejected=rejected)
    state, _ = run(start, state=state)

    tx = state.transactions["tx-c"]
    assert (TxFlag.AUTH_REJECTED in tx.flags) is rejected
    assert TxFlag.STARTED_IMPLICITLY in tx.flags
