"""evolve copies a frozen record with some fields changed, exactly as dataclasses.replace."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.core.evolve import constructor, evolve, replacer
from gateway.domain.ids import ChargerId
from gateway.domain.state import ChargerState, ConnectorReport
from gateway.domain.topology import ConnectorRef
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


@given(tx_changes)
def test_a_constructed_transaction_equals_what_the_class_makes(changes: dict[str, Any]) -> None:
    """The fast constructor takes the class's keywords and defaults, and makes the same record."""
    required = {
        "charger_id": ChargerId("AC-0001"),
        "tx_id": "7",
        "evse_uid": None,
        "connector": None,
        "token": None,
        "started_at": T0,
        "received_at": T0,
    }
    made = constructor(Transaction)(**{**required, **changes})
    expected = Transaction(**{**required, **changes})
    assert made == expected
    assert type(made) is Transaction
    assert made.samples == expected.samples


def test_a_default_factory_runs_for_every_constructed_record() -> None:
    """A field left out gets a fresh value from its factory, as the class's __init__ gives."""
    build = constructor(ChargerState)
    first, second = build(charger_id=ChargerId("A")), build(charger_id=ChargerId("A"))
    assert first == ChargerState(charger_id=ChargerId("A"))
    assert dict(first.connectors) == {}
    assert first.connectors is not second.connectors
    given_connectors: MappingProxyType[ConnectorRef, ConnectorReport] = MappingProxyType({})
    assert build(charger_id=ChargerId("A"), connectors=given_connectors).connectors is (
        given_connectors
    )


def test_a_constructor_needs_every_field_without_a_default() -> None:
    """A missing or misspelt keyword is refused, as by the class itself."""
    with pytest.raises(TypeError):
        constructor(ChargerState)()
    with pytest.raises(TypeError):
        constructor(ChargerState)(charger_id="A", conected=True)


@dataclass(frozen=True)
class _Unslotted:
    value: int
    label: str = "x"


def test_records_without_slots_are_copied_and_constructed_too() -> None:
    """A frozen record without slots gets the same copies, through the generic store."""
    record = _Unslotted(value=1)
    assert evolve(record, label="y") == _Unslotted(value=1, label="y")
    assert constructor(_Unslotted)(value=2) == _Unslotted(value=2)


def test_a_constructor_takes_positions_where_the_class_does() -> None:
    """Fields that are not keyword-only may be passed by position, as to the class."""
    assert constructor(_Unslotted)(2, "y") == _Unslotted(2, "y")
    with pytest.raises(TypeError):
        constructor(ChargerState)(ChargerId("A"))  # keyword-only, as for ChargerState(...)


def test_a_constructor_refuses_what_evolve_refuses() -> None:
    """A record with a __post_init__ cannot skip it through the fast constructor."""
    with pytest.raises(TypeError, match="plain dataclass records"):
        constructor(_Checked)


@given(tx_changes)
def test_a_replacer_copies_as_evolve_does(changes: dict[str, Any]) -> None:
    """A copier of a fixed set of fields gives exactly what ``replace`` gives for them."""
    names = sorted(changes)
    copy = replacer(Transaction, *names)(TX, *(changes[name] for name in names))
    assert copy == replace(TX, **changes)
    assert copy.samples == changes.get("samples", TX.samples)


def test_a_replacer_refuses_a_name_that_is_no_field() -> None:
    """A typo fails when the copier is made, not when a copy is."""
    with pytest.raises(TypeError, match="no field"):
        replacer(Transaction, "samples", "sample")


@dataclass(frozen=True, slots=True)
class _Base:
    value: int


@dataclass(frozen=True, slots=True)
class _Extended(_Base):
    label: str = "x"


@dataclass(frozen=True, slots=True)
class _Relaid:
    value: int


# Slots declared after the class was made: its layout has one, the declaration two, so no
# class built from the declaration can take the record's place.
_Relaid.__slots__ = ("value", "label")  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("record", "name", "value"),
    [(_Extended(1, "y"), "value", 3), (_Relaid(1), "value", 3), (TX, "tx_id", "8")],
)
def test_copies_are_frozen_records_of_the_original_class(
    record: Any, name: str, value: object
) -> None:
    """Slots of its own, slots from a base, or a layout no other class shares: same records."""
    copy = evolve(record, **{name: value})
    assert type(copy) is type(record)
    assert getattr(copy, name) == value
    assert evolve(record) == record
    with pytest.raises(FrozenInstanceError):
        setattr(copy, name, value)  # the class that filled the copy in lends it no setattr


@pytest.mark.parametrize("cls", [_Extended, _Relaid])
def test_records_of_any_slot_layout_are_constructed(cls: type[Any]) -> None:
    """A constructor makes what the class makes, whatever way it has to fill the slots."""
    made = constructor(cls)(value=2)
    assert type(made) is cls
    assert made == cls(value=2)
