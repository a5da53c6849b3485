"""`builder`: the positional record builder makes exactly the record the class makes."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from gateway.core.evolve import builder
from gateway.domain.ids import ChargerId
from gateway.domain.meter import Measurand, MeterSample, Reading
from gateway.domain.transactions import TransactionUpdated

AT = datetime(2025, 3, 1, 12, tzinfo=UTC)


@given(
    st.sampled_from(Measurand),
    st.decimals(allow_nan=False),
    st.one_of(st.none(), st.sampled_from(["L1", "L2-N"])),
)
def test_a_built_record_is_the_class_s_own_record(
    measurand: Measurand, value: Decimal, phase: str | None
) -> None:
    """Same type, same fields, defaults included: equal, same repr, same hash."""
    build = builder(Reading, "measurand", "value", "unit", "at", "phase")
    built = build(measurand, value, "Wh", AT, phase)
    expected = Reading(measurand=measurand, value=value, unit="Wh", at=AT, phase=phase)
    assert type(built) is Reading
    assert built == expected
    assert repr(built) == repr(expected)
    assert hash(built) == hash(expected)


def test_a_built_record_stays_frozen_and_pickles() -> None:
    """Nothing of the plain twin it was filled in remains."""
    built = builder(MeterSample, "at")(AT)
    assert built == MeterSample(at=AT)
    with pytest.raises(FrozenInstanceError):
        built.at = AT  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(built)) == built  # noqa: S301 - our own bytes


def test_fields_left_out_take_their_defaults() -> None:
    """A transaction update without token or sequence number, as the class's defaults say."""
    build = builder(TransactionUpdated, "charger_id", "at", "tx_id")
    cp = ChargerId("CP1")
    assert build(cp, AT, "7") == TransactionUpdated(charger_id=cp, at=AT, tx_id="7")


@dataclass(frozen=True, kw_only=True)
class _WithoutSlots:
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Base:
    a: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Derived(_Base):
    b: int


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: builder(_WithoutSlots, "name")("x"), _WithoutSlots(name="x")),
        (lambda: builder(_Derived, "b", "a")(2, 1), _Derived(a=1, b=2)),
    ],
)
def test_a_record_without_a_twin_is_built_field_by_field(build, expected) -> None:
    """No slots, or slots from a base class: the same record, through its descriptors."""
    built = build()
    assert type(built) is type(expected)
    assert built == expected


@dataclass(frozen=True, slots=True, kw_only=True)
class _WithFactory:
    items: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class _WithPostInit:
    name: str

    def __post_init__(self) -> None:
        pass


@pytest.mark.parametrize(
    ("cls", "names", "message"),
    [
        (Reading, ("measurand", "volume"), "no field"),
        (Reading, ("measurand",), "no plain default"),
        (_WithFactory, (), "no plain default"),
        (_WithPostInit, ("name",), "plain dataclass records"),
        (int, (), "plain dataclass records"),
    ],
)
def test_a_record_the_builder_cannot_make_is_refused_at_once(
    cls: type, names: tuple[str, ...], message: str
) -> None:
    """Unknown fields, missing values, factories and other kinds of class: refused."""
    with pytest.raises(TypeError, match=message):
        builder(cls, *names)
