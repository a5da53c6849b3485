"""The meter translator's quick path reads every value exactly as its general path does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.domain.meter import (
    Measurand,
    MeterLocation,
    MeterProblemCode,
    Reading,
    ReadingContext,
)
from ocpp_central.translate import meter
from ocpp_central.translate.meter import (
    MeterParse,
    from_v16_meter_values,
    from_v201_meter_values,
    parse_timestamp,
)

RECEIVED = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)
STAMP = "2025-03-01T12:00:00Z"

Translate = Callable[..., MeterParse]


@contextmanager
def general_path_only() -> Iterator[None]:
    """Every value read in full: the quick readers decline, and nothing is remembered."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(meter, "_quick_v16", lambda value, at: None)
        patch.setattr(meter, "_quick_v201", lambda value, at: None)
        patch.setattr(meter, "_quick_list_v16", lambda values, at: None)
        patch.setattr(meter, "_quick_list_v201", lambda values, at: None)
        yield


def forget() -> None:
    for table in (
        meter._CLEAN_V16,
        meter._CLEAN_V201,
        meter._CLEAN_ATTRIBUTES,
        meter._CONVERSIONS,
        meter._READ_TIMESTAMPS,
        meter._NUMBERS,
        meter._FLOATS,
    ):
        table.clear()


def assert_same_as_general(translate: Translate, message: list[dict[str, Any]]) -> None:
    """Cold, then warm (the quick path taken wherever it applies): as the general path."""
    with general_path_only():
        expected = translate(message, received_at=RECEIVED)
    forget()
    for _ in range(2):
        got = translate(message, received_at=RECEIVED)
        assert got == expected
        # Decimal equality ignores the exponent ("1.50" == "1.5"); the records must not.
        assert repr(got) == repr(expected)


names = {
    "measurand": st.sampled_from(
        [
            *("Energy.Active.Import.Register", "Power.Active.Import", "Current.Import"),
            *("Voltage", "Temperature", "SoC", "Energy.Bogus", 1, ["Voltage"]),
        ]
    ),
    "context": st.sampled_from(["Sample.Periodic", "Transaction.End", "Odd", 2]),
    "location": st.sampled_from(["Outlet", "EV", "Moon"]),
    "phase": st.sampled_from(["L1", "L2", "L3", "L1-N", "N", "L9"]),
}
unit_names = st.sampled_from(
    [
        *("Wh", "kWh", "KWH", "W", "kW", "A", "V", "Celsius", "K", "Fahrenheit", "Percent"),
        *("bogus", 5, {"u": 1}),
    ]
)
v16_values = st.one_of(
    st.from_regex(r"-?[0-9]{1,34}(\.[0-9]{1,6})?", fullmatch=True),
    st.sampled_from([" 7", "7 ", "1e3", "+1", "NaN", "", "١٢", "0.", "-0", "12.50"]),
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.booleans(),
)
v16_sampled = st.fixed_dictionaries(
    {},
    optional={
        **names,
        "unit": unit_names,
        "format": st.sampled_from(["Raw", "SignedData", "Odd"]),
        "value": v16_values,
    },
)
multipliers = st.sampled_from([0, 1, 3, -3, -1, 9, 10, True, False, 0.0, "3", None])
v201_values = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.decimals(places=3, allow_nan=False, allow_infinity=False).map(float),
    st.booleans(),
    st.sampled_from(["12.5", None]),
)
units_of_measure = st.one_of(
    st.fixed_dictionaries({}, optional={"unit": unit_names, "multiplier": multipliers}),
    st.sampled_from([None, "Wh", ["Wh"]]),
)
v201_sampled = st.fixed_dictionaries(
    {},
    optional={
        **names,
        "unitOfMeasure": units_of_measure,
        "value": v201_values,
        "signedMeterValue": st.sampled_from(
            [{"signedMeterData": "AB12", "signingMethod": "ECDSA"}, {"signedMeterData": ""}]
        ),
    },
)


@given(st.lists(v16_sampled, min_size=1, max_size=5))
def test_a_v16_value_reads_the_same_on_the_quick_path(values: list[dict[str, Any]]) -> None:
    """Numbers, units, names, registers and phase totals: the quick path changes none."""
    assert_same_as_general(from_v16_meter_values, [{"timestamp": STAMP, "sampledValue": values}])


@given(st.lists(v201_sampled, min_size=1, max_size=5))
def test_a_v201_value_reads_the_same_on_the_quick_path(values: list[dict[str, Any]]) -> None:
    """Multipliers, JSON numbers and signed values: the quick path changes none."""
    assert_same_as_general(from_v201_meter_values, [{"timestamp": STAMP, "sampledValue": values}])


ENERGY_16 = {"measurand": "Energy.Active.Import.Register", "unit": "Wh"}
ENERGY_201 = {"measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}


@pytest.mark.parametrize(
    ("translate", "clean", "variant", "code"),
    [
        (from_v16_meter_values, {**ENERGY_16, "value": "5"}, {"value": "-5"}, "negative"),
        (from_v16_meter_values, {**ENERGY_16, "value": "5"}, {"value": " 5"}, "padded"),
        (from_v16_meter_values, {**ENERGY_16, "value": "5"}, {"value": "9" * 30}, None),
        (from_v16_meter_values, {**ENERGY_16, "value": "5"}, {"value": 5}, None),
        (from_v201_meter_values, {**ENERGY_201, "value": 5}, {"value": 10**29}, None),
        (from_v201_meter_values, {**ENERGY_201, "value": 5}, {"value": -5.5}, "negative"),
        (from_v201_meter_values, {**ENERGY_201, "value": 5}, {"value": float("nan")}, "number"),
        (from_v201_meter_values, {**ENERGY_201, "value": 5}, {"value": True}, "number"),
        (
            from_v201_meter_values,
            {**ENERGY_201, "unitOfMeasure": {"unit": "Wh", "multiplier": 1}, "value": 5},
            {"unitOfMeasure": {"unit": "Wh", "multiplier": True}},
            "multiplier",
        ),
        (
            from_v201_meter_values,
            {**ENERGY_201, "value": 5},
            {"unitOfMeasure": {"unit": "Wh", "multiplier": 0.0}},
            "multiplier",
        ),
    ],
)
def test_a_value_unlike_the_clean_ones_is_still_judged_in_full(
    translate: Translate, clean: dict[str, Any], variant: dict[str, Any], code: str | None
) -> None:
    """Known names do not wave through a negative register, a padded or an over-long number,
    a NaN, a boolean, or a multiplier that only hashes like a clean one (True, 0.0)."""
    forget()
    translate([{"timestamp": STAMP, "sampledValue": [clean]}], received_at=RECEIVED)
    message = [{"timestamp": STAMP, "sampledValue": [{**clean, **variant}]}]
    got = translate(message, received_at=RECEIVED)
    expected = {
        None: [],
        "negative": [MeterProblemCode.NEGATIVE_REGISTER],
        "padded": [MeterProblemCode.PADDED_NUMBER],
        "number": [MeterProblemCode.BAD_NUMBER],
        "multiplier": [MeterProblemCode.BAD_MULTIPLIER],
    }[code]
    assert [p.code for p in got.problems] == expected
    assert_same_as_general(translate, message)


def test_a_known_v16_value_takes_the_quick_path() -> None:
    """After one clean read, the same names and a plain number need no general read."""
    forget()
    sv = {**ENERGY_16, "context": "Sample.Periodic", "value": "1234.5"}
    from_v16_meter_values([{"timestamp": STAMP, "sampledValue": [sv]}], received_at=RECEIVED)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(meter, "_v16_sampled", None)  # the general reader would fail now
        parse = from_v16_meter_values(
            [{"timestamp": STAMP, "sampledValue": [{**sv, "value": "99.25"}]}],
            received_at=RECEIVED,
        )
    assert parse.samples[0].readings == (
        Reading(
            measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
            value=Decimal("99.25"),
            unit="Wh",
            at=datetime(2025, 3, 1, 12, tzinfo=UTC),
        ),
    )


@pytest.mark.parametrize(
    ("unit", "sent", "canonical"),
    [("kWh", "1.5", Decimal("1.5E+3")), ("K", "300", Decimal("26.85")), ("Wh", "7", Decimal(7))],
)
def test_a_known_unit_is_converted_on_the_quick_path(
    unit: str, sent: str, canonical: Decimal
) -> None:
    """Scaled and shifted units convert the second time exactly as the first time."""
    forget()
    measurand = "Temperature" if unit == "K" else "Energy.Active.Import.Register"
    message = [
        {
            "timestamp": STAMP,
            "sampledValue": [{"measurand": measurand, "unit": unit, "value": sent}],
        }
    ]
    for _ in range(2):
        reading = from_v16_meter_values(message, received_at=RECEIVED).samples[0].readings[0]
        assert (reading.value, str(reading.value)) == (canonical, str(canonical))


def test_a_remembered_timestamp_is_still_judged_against_each_receive_time() -> None:
    """The same text read again is distrusted when it is ahead of a later message's receipt."""
    forget()
    late = "2025-03-01T13:00:00Z"
    at, problem = parse_timestamp(late, received_at=RECEIVED + timedelta(hours=2))
    assert problem is None
    at, problem = parse_timestamp(late, received_at=RECEIVED)
    assert at == RECEIVED
    assert problem is not None
    assert problem.code is MeterProblemCode.TIMESTAMP_IN_FUTURE
    assert problem.raw == f'"{late}"'


def test_remembered_timestamps_stay_bounded() -> None:
    """Many distinct texts do not grow the memory past its limit; long texts are not kept."""
    forget()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(meter._READ_TIMESTAMPS_LIMIT + 5):
        text = (start + timedelta(seconds=i)).isoformat()
        assert parse_timestamp(text, received_at=RECEIVED)[0] == start + timedelta(seconds=i)
    assert len(meter._READ_TIMESTAMPS) <= meter._READ_TIMESTAMPS_LIMIT
    long_text = STAMP + " " * 100
    assert parse_timestamp(long_text, received_at=RECEIVED)[1] is not None
    assert long_text not in meter._READ_TIMESTAMPS


def test_a_naive_receive_time_is_refused_even_for_a_remembered_timestamp() -> None:
    """A caller bug stays loud whatever the translator remembers."""
    parse_timestamp(STAMP, received_at=RECEIVED)
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_timestamp(STAMP, received_at=RECEIVED.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("uom", "sent", "canonical"),
    [
        ({"unit": "kWh"}, 1.5, Decimal("1.5E+3")),
        ({"unit": "kWh", "multiplier": -3}, 1500, Decimal("1500")),
        ({"unit": "Wh", "multiplier": 3}, 2, Decimal("2E+3")),
        ({"unit": "K"}, 300, Decimal("26.85")),
    ],
)
def test_a_known_v201_unit_and_multiplier_convert_on_the_quick_path(
    uom: dict[str, Any], sent: float, canonical: Decimal
) -> None:
    """Multipliers and unit conversions apply the second time exactly as the first time."""
    forget()
    measurand = "Temperature" if uom["unit"] == "K" else "Energy.Active.Import.Register"
    sv = {"measurand": measurand, "unitOfMeasure": uom, "value": sent}
    message = [{"timestamp": STAMP, "sampledValue": [sv]}]
    for _ in range(2):
        reading = from_v201_meter_values(message, received_at=RECEIVED).samples[0].readings[0]
        assert (reading.value, str(reading.value)) == (canonical, str(canonical))


def test_remembered_combinations_stay_bounded() -> None:
    """A charger sending ever new unit spellings does not grow the memory past its limit."""
    forget()
    spellings = [
        "".join(c.upper() if bit == "1" else c for c, bit in zip("kvarh", f"{i:05b}", strict=True))
        for i in range(32)
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(meter, "_CLEAN_LIMIT", 8)
        for _ in range(2):
            for unit in spellings:
                sv = {"measurand": "Energy.Reactive.Import.Register", "unit": unit, "value": "2"}
                message = [{"timestamp": STAMP, "sampledValue": [sv]}]
                parse = from_v16_meter_values(message, received_at=RECEIVED)
                assert parse.samples[0].readings[0].value == 2000
                assert len(meter._CLEAN_V16) <= 8


PHASED_16 = [
    {"measurand": "Current.Import", "phase": phase, "unit": "A", "value": value}
    for phase, value in (("L1", "16.0"), ("L2", "15.5"), ("L3", "16.2"))
]
PHASED_201 = [
    {
        "measurand": "Energy.Active.Import.Register",
        "phase": phase,
        "unitOfMeasure": {"unit": "Wh", "multiplier": 3},
        "value": value,
    }
    for phase, value in (("L1", 1.5), ("L2", 2), ("L3", 2.25))
]


@pytest.mark.parametrize(
    ("translate", "values"),
    [(from_v16_meter_values, PHASED_16), (from_v201_meter_values, PHASED_201)],
)
def test_a_list_with_phases_is_read_value_by_value_with_its_total(
    translate: Translate, values: list[dict[str, Any]]
) -> None:
    """Known phased values skip the whole-list reader, which makes no phase totals."""
    message = [{"timestamp": STAMP, "sampledValue": values}]
    assert_same_as_general(translate, message)
    readings = translate(message, received_at=RECEIVED).samples[0].readings
    assert [r.from_phases for r in readings] == [False, False, False, True]


@pytest.mark.parametrize(
    ("translate", "known", "odd"),
    [
        (
            from_v16_meter_values,
            {**ENERGY_16, "value": "12"},
            {"measurand": "Voltage", "unit": "V", "value": "-1"},
        ),
        (
            from_v201_meter_values,
            {"measurand": "Voltage", "unitOfMeasure": {"unit": "V"}, "value": 230},
            {"measurand": "Energy.Active.Import.Register", "value": -5},
        ),
    ],
)
def test_one_value_off_the_quick_path_sends_the_whole_list_the_general_way(
    translate: Translate, known: dict[str, Any], odd: dict[str, Any]
) -> None:
    """A negative register or a never-seen value after known ones: read as the general path."""
    forget()
    translate([{"timestamp": STAMP, "sampledValue": [known]}], received_at=RECEIVED)
    assert_same_as_general(translate, [{"timestamp": STAMP, "sampledValue": [known, odd, known]}])


def test_a_remembered_number_text_keeps_its_own_exponent() -> None:
    """ "12.50" and "12.5" are equal numbers but distinct texts: each reads back as sent."""
    forget()
    for text in ("12.50", "12.5", "12.50", "12.5"):
        sv = {"measurand": "Voltage", "unit": "V", "value": text}
        parse = from_v16_meter_values(
            [{"timestamp": STAMP, "sampledValue": [sv]}], received_at=RECEIVED
        )
        assert str(parse.samples[0].readings[0].value) == text


def test_a_remembered_negative_number_is_still_refused_for_a_register() -> None:
    """A "-1" read cleanly as a voltage is no excuse for a negative energy register."""
    forget()
    voltage = {"measurand": "Voltage", "unit": "V", "value": "-1"}
    energy = {**ENERGY_16, "value": "-1"}
    for _ in range(2):
        from_v16_meter_values(
            [{"timestamp": STAMP, "sampledValue": [voltage]}], received_at=RECEIVED
        )
        got = from_v16_meter_values(
            [{"timestamp": STAMP, "sampledValue": [energy]}], received_at=RECEIVED
        )
        assert [p.code for p in got.problems] == [MeterProblemCode.NEGATIVE_REGISTER]
        assert got.samples == ()


def test_remembered_numbers_stay_bounded() -> None:
    """Ever-growing registers do not grow the memory of number texts past its limit."""
    forget()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(meter, "_NUMBERS_LIMIT", 8)
        for wh in range(100, 130):
            sv = {**ENERGY_16, "value": str(wh)}
            parse = from_v16_meter_values(
                [{"timestamp": STAMP, "sampledValue": [sv]}], received_at=RECEIVED
            )
            assert parse.samples[0].readings[0].value == wh
            assert len(meter._NUMBERS) <= 8


@given(
    st.sampled_from(Measurand),
    st.decimals(allow_nan=False),
    st.sampled_from(["Wh", "V", ""]),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(ReadingContext),
    st.sampled_from(MeterLocation),
    st.sampled_from([None, "L1", "L2-N"]),
)
def test_the_quick_reading_builder_builds_what_the_class_builds(
    measurand: Measurand,
    value: Decimal,
    unit: str,
    at: datetime,
    context: ReadingContext,
    location: MeterLocation,
    phase: str | None,
) -> None:
    """Every field, the defaults included, as ``Reading(...)`` sets them."""
    built = meter._quick_reading(measurand, value, unit, at, context, location, phase)
    expected = Reading(
        measurand=measurand,
        value=value,
        unit=unit,
        at=at,
        context=context,
        location=location,
        phase=phase,
    )
    assert type(built) is Reading
    assert built == expected
    assert repr(built) == repr(expected)


stamps = st.sampled_from(
    [
        STAMP,
        "2025-03-01T14:00:00+02:00",
        "2025-03-01T12:00:00",
        "2025-03-01T12:10:30Z",
        "2025-03-01T12:10:30.000001Z",
        "2025-03-01T13:00:00Z",
        "1970-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "garbage",
        1234,
        None,
    ]
)
clean_v16 = st.sampled_from(
    [
        {**ENERGY_16, "context": "Sample.Periodic", "value": "1234.5"},
        {"measurand": "Voltage", "unit": "V", "value": "230.1"},
        {"measurand": "Current.Import", "unit": "A", "value": "16"},
    ]
)
items_v16 = st.one_of(
    st.builds(
        lambda stamp, values: {
            **({} if stamp is None else {"timestamp": stamp}),
            **({} if values is None else {"sampledValue": values}),
        },
        stamps,
        st.one_of(st.none(), st.lists(clean_v16, max_size=3)),
    ),
    st.sampled_from(["not an object", 7, ["a list"]]),
)


@given(st.lists(items_v16, max_size=3))
def test_a_whole_message_reads_the_same_on_the_quick_path(items: list[Any]) -> None:
    """Timestamps trusted or not, items malformed or empty: the message reads as in full."""
    assert_same_as_general(from_v16_meter_values, items)


@pytest.mark.parametrize(
    ("stamp", "in_future"),
    [("2025-03-01T12:10:30Z", False), ("2025-03-01T12:10:30.000001Z", True)],
)
def test_the_future_tolerance_ends_exactly_ten_minutes_after_receipt(
    stamp: str, in_future: bool
) -> None:
    """Up to the microsecond, cold or remembered, on the quick path or in full."""
    forget()
    sv = {**ENERGY_16, "value": "5"}
    for _ in range(2):
        parse = from_v16_meter_values(
            [{"timestamp": stamp, "sampledValue": [sv]}], received_at=RECEIVED
        )
        codes = [p.code for p in parse.problems]
        assert codes == ([MeterProblemCode.TIMESTAMP_IN_FUTURE] if in_future else [])
        assert parse.samples[0].clock_suspect is in_future


def test_a_remembered_message_timestamp_is_judged_against_each_receive_time() -> None:
    """A meterValue trusted when it arrived late is distrusted when it arrives early."""
    forget()
    message = [{"timestamp": "2025-03-01T13:00:00Z", "sampledValue": [{**ENERGY_16, "value": "5"}]}]
    late = from_v16_meter_values(message, received_at=RECEIVED + timedelta(hours=2))
    assert late.problems == ()
    early = from_v16_meter_values(message, received_at=RECEIVED)
    assert [p.code for p in early.problems] == [MeterProblemCode.TIMESTAMP_IN_FUTURE]
    assert early.samples[0].at == RECEIVED


def test_a_receive_time_in_another_zone_is_the_same_instant() -> None:
    """Faults replace the time by the receive time in UTC, whatever zone it came in."""
    forget()
    local = RECEIVED.astimezone(timezone(timedelta(hours=2)))
    for text in ("garbage", "2025-03-01T12:00:00Z"):
        message = [{"timestamp": text, "sampledValue": [{**ENERGY_16, "value": "5"}]}]
        for _ in range(2):
            got = from_v16_meter_values(message, received_at=local)
            assert got == from_v16_meter_values(message, received_at=RECEIVED)
            assert got.samples[0].at.tzinfo is UTC


@pytest.mark.parametrize(
    "values",
    [
        [230.0, 230, 230.0, 230],
        [0.0, -0.0, 0.0, -0.0],
        [0.1, 0.1, 1e-7, 1e-7],
        [1.5e300, 1.5e300],
    ],
)
def test_a_remembered_float_is_read_back_as_its_own_text(values: list[Any]) -> None:
    """Equal numbers of another type or sign ("230" and "230.0", "0.0" and "-0.0") stay apart."""
    forget()
    for value in values:
        sv = {"measurand": "Voltage", "unitOfMeasure": {"unit": "V"}, "value": value}
        message = [{"timestamp": STAMP, "sampledValue": [sv]}]
        reading = from_v201_meter_values(message, received_at=RECEIVED).samples[0].readings[0]
        assert str(reading.value) == str(meter.parse_number(value))


def test_remembered_floats_stay_bounded() -> None:
    """Ever new float values do not grow the memory of floats past its limit."""
    forget()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(meter, "_NUMBERS_LIMIT", 8)
        for tenths in range(2301, 2331):
            sv = {"measurand": "Voltage", "unitOfMeasure": {"unit": "V"}, "value": tenths / 10}
            message = [{"timestamp": STAMP, "sampledValue": [sv]}]
            parse = from_v201_meter_values(message, received_at=RECEIVED)
            assert parse.samples[0].readings[0].value == Decimal(tenths) / 10
            assert len(meter._FLOATS) <= 8
