"""evolve copies a frozen record with some fields changed, exactly as dataclasses.replace."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.core.evolve import evolve
from gateway.domain.ids import ChargerId
from gateway.domain.state import ChargerState
from gateway.domain.transactions import Transaction, TransactionStatus
from tests.builders import T0

TX = Transaction(
    charger_id=ChargerId("AC-0001"),
    tx_id="7",
    evse_uid=None,
    connector=None,
    token=None,
    started_at=T0,
    received_at=T0,
    meter_start_wh=Decimal(10),
)

tx_changes = st.fixed_dictionaries(
    {},
    optional={
        "tx_id": st.text(max_size=5),
        "status": st.sampled_from(TransactionStatus),
        "stopped_at": st.none() | st.just(T0 + timedelta(hours=1)),
        "energy_wh": st.decimals(allow_nan=False, allow_infinity=False),
        "seen_seq": st.frozensets(st.integers(0, 9)),
        "samples": st.just(()),
    },
)
state_changes = st.fixed_dictionaries(
    {},
    optional={
        "connected": st.booleans(),
        "offline": st.booleans(),
        "since": st.none() | st.just(T0),
        "recently_ended": st.lists(st.text(max_size=3), max_size=3).map(tuple),
    },
)


@given(tx_changes)
def test_a_transaction_copy_equals_what_replace_makes(changes: dict[str, Any]) -> None:
    """Every field, compared or not (samples), is the changed one or the original's."""
    copy = evolve(TX, **changes)
    expected = replace(TX, **changes)
    assert copy == expected
    assert type(copy) is Transaction
    assert copy.samples == expected.samples


@given(state_changes)
def test_a_charger_state_copy_equals_what_replace_makes(changes: dict[str, Any]) -> None:
    """The charger's record copies the same way, and the original is left alone."""
    state = ChargerState(charger_id=ChargerId("AC-0001"))
    assert evolve(state, **changes) == replace(state, **changes)
    assert state == ChargerState(charger_id=ChargerId("AC-0001"))


def test_an_unknown_field_is_refused() -> None:
    """A misspelt field name is a programming error, as with replace."""
    with pytest.raises(TypeError, match="no field"):
        evolve(TX, tx_idd="8")


@dataclass(frozen=True)
class _Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclass(frozen=True)
class _Derived:
    value: int
    double: int = field(init=False, default=0)


@pytest.mark.parametrize("record", [_Checked(value=1), _Derived(value=1), object()])
def test_records_that_replace_would_recompute_are_refused(record: object) -> None:
    """A __post_init__, a field outside __init__, or no dataclass at all: not copied."""
    with pytest.raises(TypeError, match="plain dataclass records"):
        evolve(record, value=2)
