"""The commit path's document cache writes exactly the documents the codec writes."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings, strategies as st

from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import EnergyFlag, EnergyFlagCode, MeterSample
from gateway.domain.state import BootInfo, ChargerState, ConnectorReport, PublishedEvse
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import (
    AuthToken,
    TokenKind,
    Transaction,
    TransactionStatus,
    TxFlag,
)
from gateway.storage import codec
from tests.builders import T0

CP = ChargerId("AC-0001")

times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))]),
)
text = st.text(max_size=8)
reports = st.builds(
    ConnectorReport,
    status=st.sampled_from(ConnectorStatus),
    error_code=st.one_of(st.none(), text),
    info=st.one_of(st.none(), text),
    at=times,
)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=2)
transactions = st.builds(
    Transaction,
    charger_id=st.just(CP),
    tx_id=st.sampled_from(["1", "2", "tx-é"]),
    evse_uid=st.one_of(st.none(), st.just(EvseUid("AC-0001-1"))),
    connector=st.one_of(
        st.none(),
        st.builds(ConnectorRef, evse=st.one_of(st.none(), st.integers(1, 3)), connector=st.just(1)),
    ),
    token=st.one_of(st.none(), st.builds(AuthToken, value=text, kind=st.sampled_from(TokenKind))),
    status=st.sampled_from(TransactionStatus),
    started_at=times,
    received_at=times,
    meter_start_wh=st.one_of(st.none(), decimals),
    meter_stop_wh=st.one_of(st.none(), decimals),
    stopped_at=st.one_of(st.none(), times),
    stop_reason=st.one_of(st.none(), text),
    energy_wh=decimals,
    start_key=st.one_of(st.none(), text),
    remote_start_id=st.one_of(st.none(), st.integers(-(2**31), 2**31)),
    reservation_id=st.one_of(st.none(), st.integers(0, 99)),
    auth_source=st.one_of(st.none(), text),
    auth_reference=st.one_of(st.none(), text),
    seen_seq=st.frozensets(st.integers(0, 9), max_size=3),
    flags=st.frozensets(st.sampled_from(TxFlag), max_size=2),
    energy_flags=st.lists(
        st.builds(
            EnergyFlag,
            code=st.sampled_from(EnergyFlagCode),
            text=text,
            at=st.one_of(st.none(), times),
            register_wh=st.one_of(st.none(), decimals),
        ),
        max_size=2,
    ).map(tuple),
)
RECORD_FIELDS = [f.name for f in fields(Transaction) if f.name != "samples"]


@given(transactions, st.lists(st.tuples(transactions, st.sets(st.sampled_from(RECORD_FIELDS)))))
def test_every_transaction_written_is_the_codec_document(
    first: Transaction, changes: list[tuple[Transaction, set[str]]]
) -> None:
    """Successive records of a transaction, each changing any fields: the codec's text."""
    cache = codec.DocumentCache()
    tx = first
    assert cache.transaction(tx) == codec.dumps(codec.transaction_out(tx))
    for other, changed in changes:
        tx = replace(tx, **{name: getattr(other, name) for name in changed})
        assert cache.transaction(tx) == codec.dumps(codec.transaction_out(tx))


@st.composite
def states(draw: st.DrawFn) -> ChargerState:
    txs = draw(st.lists(transactions, max_size=2, unique_by=lambda t: t.tx_id))
    return ChargerState(
        charger_id=CP,
        connected=draw(st.booleans()),
        offline=draw(st.booleans()),
        since=draw(st.one_of(st.none(), times)),
        protocol=draw(st.one_of(st.none(), st.sampled_from(["ocpp1.6", "ocpp2.0.1"]))),
        boot=draw(
            st.one_of(
                st.none(),
                st.builds(
                    BootInfo,
                    vendor=text,
                    model=text,
                    serial_number=st.one_of(st.none(), text),
                    at=times,
                    accepted=st.booleans(),
                ),
            )
        ),
        station=draw(st.one_of(st.none(), reports)),
        connectors=MappingProxyType(
            draw(
                st.dictionaries(
                    st.builds(
                        ConnectorRef,
                        evse=st.one_of(st.none(), st.integers(1, 2)),
                        connector=st.integers(1, 2),
                    ),
                    reports,
                    max_size=3,
                )
            )
        ),
        evses=MappingProxyType(
            draw(
                st.dictionaries(
                    st.one_of(st.sampled_from(["AC-0001-1", "AC-0001-2"]), text).map(EvseUid),
                    st.builds(
                        PublishedEvse, status=st.sampled_from(EvseStatus), last_updated=times
                    ),
                )
            )
        ),
        transactions=MappingProxyType({t.tx_id: t for t in txs}),
        recently_ended=tuple(draw(st.lists(text, max_size=3))),
    )


@settings(max_examples=50)
@given(st.lists(states(), min_size=1, max_size=4), st.data())
def test_every_state_written_is_the_codec_document(
    sequence: list[ChargerState], data: st.DataObject
) -> None:
    """Whatever parts successive states share or replace, each text is ``dump_state``'s."""
    cache = codec.DocumentCache()
    before: ChargerState | None = None
    for state in sequence:
        if before is not None:
            # Keep some parts of the previous state, as the core does for untouched parts.
            kept = data.draw(
                st.sets(st.sampled_from(["boot", "station", "connectors", "evses", "transactions"]))
            )
            state = replace(state, **{name: getattr(before, name) for name in kept})
        assert cache.state(state) == codec.dump_state(state)
        for tx in state.transactions.values():
            assert cache.transaction(tx) == codec.dumps(codec.transaction_out(tx))
        before = state


def a_transaction(**changes: Any) -> Transaction:
    tx = Transaction(
        charger_id=CP,
        tx_id="7",
        evse_uid=EvseUid("AC-0001-1"),
        connector=ConnectorRef(evse=None, connector=1),
        token=AuthToken(value="04A1B2C3"),
        started_at=T0,
        received_at=T0,
    )
    return replace(tx, **changes)


def test_a_changed_part_is_written_anew() -> None:
    """A new connector report or a new transaction object is never served from the cache."""
    cache = codec.DocumentCache()
    ref = ConnectorRef(evse=None, connector=1)
    tx = a_transaction()
    state = ChargerState(
        charger_id=CP,
        connectors=MappingProxyType(
            {ref: ConnectorReport(status=ConnectorStatus.AVAILABLE, at=T0)}
        ),
        transactions=MappingProxyType({"7": tx}),
    )
    cache.state(state)
    cache.transaction(tx)

    charging = replace(
        state,
        connectors=MappingProxyType({ref: ConnectorReport(status=ConnectorStatus.OCCUPIED, at=T0)}),
        transactions=MappingProxyType({"7": replace(tx, energy_wh=Decimal(5))}),
    )
    doc = json.loads(cache.state(charging))

    assert doc["connectors"][0]["status"] == "occupied"
    assert doc["transactions"][0]["energy_wh"] == "5"
    ended = replace(tx, status=TransactionStatus.COMPLETED, energy_wh=Decimal(9))
    assert json.loads(cache.transaction(ended))["status"] == "completed"
    assert cache.state(replace(charging, transactions=MappingProxyType({}))) == codec.dump_state(
        replace(charging, transactions=MappingProxyType({}))
    )


def test_a_transaction_equal_but_written_differently_is_written_anew() -> None:
    """Equal values can have other texts (1.0 and 1.00 kWh): only the same objects are reused."""
    cache = codec.DocumentCache()
    tx = a_transaction(energy_wh=Decimal("1.0"))
    cache.transaction(tx)
    with_samples = replace(tx, samples=(MeterSample(at=T0),))
    same_value = replace(tx, energy_wh=Decimal("1.00"))
    assert same_value == tx

    assert cache.transaction(with_samples) == codec.dumps(codec.transaction_out(tx))
    assert json.loads(cache.transaction(same_value))["energy_wh"] == "1.00"
    state = ChargerState(charger_id=CP, transactions=MappingProxyType({"7": tx}))
    cache.state(state)
    again = replace(state, transactions=MappingProxyType({"7": same_value}))
    assert cache.state(again) == codec.dump_state(again)
