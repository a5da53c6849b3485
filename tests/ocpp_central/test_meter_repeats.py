"""The meter translator answers a repeated sampled value exactly as it did the first time."""

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, strategies as st

from gateway.domain.meter import MeterProblemCode
from ocpp_central.translate.meter import from_v16_meter_values, from_v201_meter_values

RECEIVED = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)
STAMP = "2025-03-01T12:00:00Z"

# Known names, names no spec defines, absence, and values of the wrong type.
names = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "Energy.Active.Import.Register",
            "Power.Active.Import",
            "Current.Import",
            "Voltage",
            "Sample.Periodic",
            "Transaction.End",
            "Outlet",
            "EV",
            "L1",
            "L2-N",
            "Bogus",
        ]
    ),
    st.integers(),
    st.lists(st.text(max_size=3), max_size=2),
)


def sampled(attributes: tuple[Any, Any, Any, Any], value: Any) -> dict[str, Any]:
    keys = ("measurand", "context", "location", "phase")
    return {
        "value": value,
        **{k: v for k, v in zip(keys, attributes, strict=True) if v is not None},
    }


@given(st.tuples(names, names, names, names))
def test_a_repeated_value_gives_the_same_readings_and_problems(
    attributes: tuple[Any, Any, Any, Any],
) -> None:
    """Whatever the attributes, a second identical message yields what the first did."""
    for translate, value in ((from_v16_meter_values, "12.5"), (from_v201_meter_values, 12.5)):
        message = [{"timestamp": STAMP, "sampledValue": [sampled(attributes, value)]}]
        first = translate(message, received_at=RECEIVED)
        second = translate(message, received_at=RECEIVED)
        assert first == second


def test_an_unknown_name_is_flagged_every_time_it_arrives() -> None:
    """A problem is reported for each message that has it, not only for the first one."""
    message = [{"timestamp": STAMP, "sampledValue": [{"value": "1", "measurand": "Energy.Bogus"}]}]
    for _ in range(3):
        parse = from_v16_meter_values(message, received_at=RECEIVED)
        assert [p.code for p in parse.problems] == [MeterProblemCode.UNKNOWN_MEASURAND]


@given(
    st.sampled_from([None, "Energy.Active.Import.Register", "Power.Active.Import", "Vendor.X"]),
    st.sampled_from([None, "Wh", "kWh", "KWH", "W", "kW", "A", "K", "Fahrenheit", "bogus", 7]),
    st.sampled_from(["12.5", "-3", "0"]),
)
def test_a_repeated_unit_is_converted_or_refused_as_the_first_time(
    measurand: str | None, unit: object, value: str
) -> None:
    """Units that fit are converted the same way each time; the others are refused each time."""
    sv: dict[str, Any] = {"value": value}
    if measurand is not None:
        sv["measurand"] = measurand
    if unit is not None:
        sv["unit"] = unit
    message = [{"timestamp": STAMP, "sampledValue": [sv]}]
    first = from_v16_meter_values(message, received_at=RECEIVED)
    second = from_v16_meter_values(message, received_at=RECEIVED)
    assert first == second


units = st.one_of(st.none(), st.sampled_from(["Wh", "kWh", "W", "kW", "A", "V", "K", "bogus"]))
formats = st.one_of(st.none(), st.sampled_from(["Raw", "SignedData", "Odd"]))
values = st.one_of(
    st.sampled_from(["12.5", "-3", "0", " 7", "1e3", "", "abc"]),
    st.integers(-5, 5),
    st.none(),
)


@given(st.tuples(names, names, names, names), units, formats, st.lists(values, min_size=2))
def test_a_known_combination_reads_every_value_as_the_first_read_did(
    attributes: tuple[Any, Any, Any, Any], unit: Any, fmt: Any, sent: list[Any]
) -> None:
    """Once a 1.6 combination of names read cleanly, each later value of it (bad numbers,
    negative registers included) gives the readings and problems it gives when alone."""
    extra = {k: v for k, v in (("unit", unit), ("format", fmt)) if v is not None}
    for value in sent:
        message = [{"timestamp": STAMP, "sampledValue": [{**sampled(attributes, value), **extra}]}]
        alone = from_v16_meter_values(message, received_at=RECEIVED)
        clean = [{"timestamp": STAMP, "sampledValue": [{**sampled(attributes, "5"), **extra}]}]
        from_v16_meter_values(clean, received_at=RECEIVED)  # the combination is known now
        assert from_v16_meter_values(message, received_at=RECEIVED) == alone


def test_a_negative_register_is_dropped_after_its_combination_read_cleanly() -> None:
    """The quick path for known names still refuses a register that went below zero."""
    sv = {"measurand": "Energy.Active.Import.Register", "unit": "kWh", "context": "Trigger"}
    ok = from_v16_meter_values(
        [{"timestamp": STAMP, "sampledValue": [{**sv, "value": "1.5"}]}], received_at=RECEIVED
    )
    assert ok.samples[0].readings[0].value == 1500
    assert ok.samples[0].readings[0].unit == "Wh"
    bad = from_v16_meter_values(
        [{"timestamp": STAMP, "sampledValue": [{**sv, "value": "-1"}]}], received_at=RECEIVED
    )
    assert bad.samples == ()
    assert [p.code for p in bad.problems] == [MeterProblemCode.NEGATIVE_REGISTER]
