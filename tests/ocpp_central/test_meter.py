"""OCPP 1.6 / 2.0.1 meterValue arrays -> domain meter samples."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.domain.meter import (
    Measurand,
    MeterLocation,
    MeterProblemCode,
    Quantity,
    Reading,
    ReadingContext,
    Unit,
)
from ocpp_central.translate.meter import (
    BadNumberError,
    MeterParse,
    from_v16_meter_values,
    from_v201_meter_values,
    parse_decimal,
    parse_number,
    parse_timestamp,
)

RECEIVED = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)
STAMP = "2025-03-01T12:00:00Z"
AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SPEC_REGEX = re.compile(r"^-?\d+(\.\d+)?$")


def v16(*sampled: Any, timestamp: Any = STAMP) -> MeterParse:
    return from_v16_meter_values(
        [{"timestamp": timestamp, "sampledValue": list(sampled)}], received_at=RECEIVED
    )


def v201(*sampled: Any, timestamp: Any = STAMP) -> MeterParse:
    return from_v201_meter_values(
        [{"timestamp": timestamp, "sampledValue": list(sampled)}], received_at=RECEIVED
    )


def readings(parse: MeterParse) -> list[Reading]:
    return [r for sample in parse.samples for r in sample.readings]


def only(parse: MeterParse) -> Reading:
    (reading,) = readings(parse)
    return reading


def codes(parse: MeterParse) -> list[MeterProblemCode]:
    return [p.code for p in parse.problems]


# --- parse_decimal / parse_number -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Decimal(0)),
        ("1234", Decimal(1234)),
        ("-5", Decimal(-5)),
        ("12.50", Decimal("12.50")),
        ("007", Decimal(7)),
        ("0.000001", Decimal("0.000001")),
    ],
)
def test_parse_decimal_reads_plain_decimals_exactly(text, expected):
    """A plain ASCII decimal becomes the exact Decimal it spells."""
    assert parse_decimal(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1",
        "1 ",
        "1\n",
        "+1",
        "1e3",
        "1E3",
        "1.",
        ".5",
        "1_000",
        "1,5",
        "\u0661\u0662\u0663",  # Arabic-Indic digits
        "\uff11\uff12",  # full-width digits
        "NaN",
        "nan",
        "inf",
        "Infinity",
        "-",
        "--1",
        "1.2.3",
        "0x10",
    ],
)
def test_parse_decimal_refuses_what_float_would_take(text):
    """Whitespace, exponents, separators, non-ASCII digits and non-finite words are refused."""
    with pytest.raises(BadNumberError):
        parse_decimal(text)


@given(st.text())
def test_parse_decimal_never_accepts_what_the_spec_regex_rejects(text):
    """Whatever parse_decimal accepts matches ^-?\\d+(\\.\\d+)?$ and is finite."""
    try:
        number = parse_decimal(text)
    except BadNumberError:
        return
    assert SPEC_REGEX.match(text)
    assert number.is_finite()


@given(st.from_regex(r"\A-?[0-9]{1,30}(\.[0-9]{1,30})?\Z"))
def test_parse_decimal_accepts_every_plain_ascii_decimal(text):
    """Every ASCII string of the spec's shape is read exactly."""
    assert parse_decimal(text) == Decimal(text)


def test_bad_number_is_a_value_error():
    """Callers that catch ValueError also catch a bad meter number."""
    assert issubclass(BadNumberError, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, Decimal(0)),
        (12345, Decimal(12345)),
        (-3, Decimal(-3)),
        (0.1, Decimal("0.1")),
        (230.4, Decimal("230.4")),
        (1e20, Decimal("1e20")),
        ("17.5", Decimal("17.5")),
    ],
)
def test_parse_number_reads_json_numbers_without_float_noise(value, expected):
    """Integers are exact and floats keep their shortest decimal form (0.1 stays 0.1)."""
    assert parse_number(value) == expected


@pytest.mark.parametrize(
    "value", [True, False, float("nan"), float("inf"), float("-inf"), None, [1], "1e3"]
)
def test_parse_number_refuses_booleans_non_finite_and_non_numbers(value):
    """true/false, NaN, infinities and non-numbers are not meter values."""
    with pytest.raises(BadNumberError):
        parse_number(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_round_trips_every_finite_float(value):
    """A finite float is read as the decimal that prints as that float."""
    number = parse_number(value)
    assert number == Decimal(repr(value))
    assert float(number) == value


# --- parse_timestamp ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T12:00:00Z", AT),
        ("2025-03-01T12:00:00.000Z", AT),
        ("2025-03-01t12:00:00z", AT),
        ("2025-03-01 12:00:00Z", AT),
        ("2025-03-01T22:00:00+10:00", AT),
        ("2025-03-01T07:30:00-04:30", AT),
        ("2025-03-01T13:00:00+0100", AT),
        ("2025-03-01T12:00:00.123456789Z", AT.replace(microsecond=123456)),
        ("2025-03-01T12:00:00.5Z", AT.replace(microsecond=500000)),
    ],
)
def test_timestamps_with_offsets_are_converted_to_utc(text, expected):
    """RFC 3339 timestamps, with Z or an offset, become UTC (§2.7 #6)."""
    at, problem = parse_timestamp(text, received_at=RECEIVED)
    assert at == expected
    assert at.tzinfo is UTC
    assert problem is None


def test_timestamp_without_offset_is_read_as_utc_and_flagged():
    """A timestamp with no offset is kept as UTC, with a problem noting the guess."""
    at, problem = parse_timestamp("2025-03-01T12:00:00", received_at=RECEIVED)
    assert at == AT
    assert problem is not None
    assert problem.code is MeterProblemCode.TIMESTAMP_WITHOUT_OFFSET
    assert not problem.dropped


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1970-01-01T00:00:12Z", MeterProblemCode.TIMESTAMP_TOO_OLD),
        ("2009-12-31T23:59:59Z", MeterProblemCode.TIMESTAMP_TOO_OLD),
        ("1970-01-01T00:00:12", MeterProblemCode.TIMESTAMP_TOO_OLD),
        ("2025-03-01T12:10:31Z", MeterProblemCode.TIMESTAMP_IN_FUTURE),
        ("2025-03-01T14:00:00+00:00", MeterProblemCode.TIMESTAMP_IN_FUTURE),
        ("yesterday", MeterProblemCode.BAD_TIMESTAMP),
        ("2025-13-01T12:00:00Z", MeterProblemCode.BAD_TIMESTAMP),
        ("2025-03-01T12:00:60Z", MeterProblemCode.BAD_TIMESTAMP),
        ("2025-03-01T12:00:00+24:00", MeterProblemCode.BAD_TIMESTAMP),
        ("2025-03-01", MeterProblemCode.BAD_TIMESTAMP),
        ("2025-03-01T12:00:00Z\n", MeterProblemCode.BAD_TIMESTAMP),
        (1740830400, MeterProblemCode.BAD_TIMESTAMP),
        (None, MeterProblemCode.BAD_TIMESTAMP),
    ],
)
def test_impossible_timestamps_are_replaced_by_the_receive_time(text, code):
    """Unparsable, pre-2010 or future timestamps become the receive time, flagged (§2.7 #12)."""
    at, problem = parse_timestamp(text, received_at=RECEIVED, path="meterValue[3].timestamp")
    assert at == RECEIVED
    assert problem is not None
    assert problem.code is code
    assert problem.path == "meterValue[3].timestamp"
    assert json.loads(problem.raw) == text


def test_a_charger_clock_slightly_ahead_is_trusted():
    """Up to ten minutes ahead of the receive time is clock drift, not a broken clock."""
    at, problem = parse_timestamp("2025-03-01T12:10:29Z", received_at=RECEIVED)
    assert at == datetime(2025, 3, 1, 12, 10, 29, tzinfo=UTC)
    assert problem is None


def test_receive_time_in_another_zone_is_used_as_utc():
    """The substituted receive time is returned in UTC whatever zone it came in."""
    local = RECEIVED.astimezone(timezone(timedelta(hours=2)))
    at, _ = parse_timestamp("garbage", received_at=local)
    assert at == RECEIVED
    assert at.tzinfo is UTC


def test_naive_receive_time_is_a_caller_error():
    """A naive receive time is refused: every datetime in the gateway is tz-aware."""
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_timestamp(STAMP, received_at=datetime(2025, 3, 1))


# --- spec defaults and units ----------------------------------------------------------------


def test_quirk_07_sampled_value_without_measurand_or_unit_is_an_energy_register_in_wh():
    """A bare {"value": ...} is Energy.Active.Import.Register in Wh, Sample.Periodic, Outlet."""
    parse = from_v16_meter_values(
        [{"timestamp": "2021-06-01T10:00:00Z", "sampledValue": [{"value": "13370"}]}],
        received_at=datetime(2021, 6, 1, 10, 0, 5, tzinfo=UTC),
    )
    assert parse.problems == ()
    assert only(parse) == Reading(
        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        value=Decimal(13370),
        unit=Unit.WH,
        at=datetime(2021, 6, 1, 10, 0, tzinfo=UTC),
        context=ReadingContext.SAMPLE_PERIODIC,
        location=MeterLocation.OUTLET,
        phase=None,
    )


def test_v201_sampled_value_without_unit_of_measure_uses_the_defaults():
    """2.0.1: no measurand and no unitOfMeasure is an energy register in Wh."""
    reading = only(v201({"value": 2500}))
    assert (reading.measurand, reading.value, reading.unit) == (
        Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        Decimal(2500),
        Unit.WH,
    )


@pytest.mark.parametrize(
    ("measurand", "value", "unit", "expected", "canonical"),
    [
        ("Energy.Active.Import.Register", "12.345", "kWh", Decimal("12345"), Unit.WH),
        ("Energy.Active.Import.Register", "12345", "Wh", Decimal("12345"), Unit.WH),
        ("Energy.Active.Import.Register", "1.5", "KWH", Decimal("1500"), Unit.WH),
        ("Energy.Active.Export.Register", "2", "kWh", Decimal("2000"), Unit.WH),
        ("Energy.Reactive.Import.Register", "3", "kvarh", Decimal("3000"), Unit.VARH),
        ("Energy.Active.Import.Interval", "250", None, Decimal("250"), Unit.WH),
        ("Power.Active.Import", "7.4", "kW", Decimal("7400"), Unit.W),
        ("Power.Active.Import", "7400", None, Decimal("7400"), Unit.W),
        ("Power.Offered", "11", "kW", Decimal("11000"), Unit.W),
        ("Power.Reactive.Import", "1", "kvar", Decimal("1000"), Unit.VAR),
        ("Current.Import", "16.2", "A", Decimal("16.2"), Unit.A),
        ("Current.Offered", "32", None, Decimal("32"), Unit.A),
        ("Voltage", "230.1", "V", Decimal("230.1"), Unit.V),
        ("Frequency", "50.01", "Hertz", Decimal("50.01"), Unit.HZ),
        ("Frequency", "49.9", "Hz", Decimal("49.9"), Unit.HZ),
        ("Temperature", "31.5", "Celcius", Decimal("31.5"), Unit.CELSIUS),
        ("Temperature", "31.5", "Celsius", Decimal("31.5"), Unit.CELSIUS),
        ("Temperature", "300.15", "K", Decimal("27.00"), Unit.CELSIUS),
        ("Temperature", "212", "Fahrenheit", Decimal("100"), Unit.CELSIUS),
        ("SoC", "81", "Percent", Decimal("81"), Unit.PERCENT),
        ("Power.Factor", "0.98", None, Decimal("0.98"), Unit.NONE),
        ("RPM", "1200", None, Decimal("1200"), Unit.RPM),
    ],
)
def test_values_are_converted_to_canonical_units(measurand, value, unit, expected, canonical):
    """kWh becomes Wh, kW becomes W, Celcius/Hertz/K/Fahrenheit become Celsius/Hz."""
    sampled = {"value": value, "measurand": measurand}
    if unit is not None:
        sampled["unit"] = unit
    parse = v16(sampled)
    reading = only(parse)
    assert parse.problems == ()
    assert reading.value == expected
    assert reading.unit == canonical


def test_every_quantity_has_a_canonical_unit():
    """Each measurand maps to a quantity and each quantity to the unit values are kept in."""
    assert {m.quantity.unit for m in Measurand} <= set(Unit)
    assert Quantity.UNKNOWN.unit is Unit.NONE


@pytest.mark.parametrize(
    ("unit", "multiplier", "expected"),
    [
        ("Wh", 3, Decimal("12500")),
        ("kWh", 0, Decimal("12500")),
        ("Wh", 0, Decimal("12.5")),
        ("kWh", -3, Decimal("12.5")),
    ],
)
def test_v201_multiplier_is_a_power_of_ten(unit, multiplier, expected):
    """unitOfMeasure.multiplier scales the value by 10**multiplier before unit conversion."""
    reading = only(v201({"value": 12.5, "unitOfMeasure": {"unit": unit, "multiplier": multiplier}}))
    assert reading.value == expected


@pytest.mark.parametrize("multiplier", [True, "3", 1.5, 10, -10])
def test_v201_unusable_multiplier_drops_the_value(multiplier):
    """A multiplier that is not a small integer makes the value meaningless: dropped."""
    parse = v201(
        {"value": 1, "unitOfMeasure": {"unit": "Wh", "multiplier": multiplier}},
        {"value": 2},
    )
    assert codes(parse) == [MeterProblemCode.BAD_MULTIPLIER]
    assert only(parse).value == Decimal(2)


def test_v201_unit_of_measure_must_be_an_object():
    """A unitOfMeasure that is not an object is malformed and that value is dropped."""
    parse = v201({"value": 1, "unitOfMeasure": "Wh"})
    assert parse.samples == ()
    assert codes(parse) == [MeterProblemCode.MALFORMED]


@pytest.mark.parametrize(
    ("sampled", "code"),
    [
        ({"value": "5", "measurand": "Power.Active.Import", "unit": "Wh"}, "wrong_unit"),
        ({"value": "5", "measurand": "Current.Import", "unit": "W"}, "wrong_unit"),
        ({"value": "5", "measurand": "Energy.Active.Import.Register", "unit": "kW"}, "wrong_unit"),
        ({"value": "5", "measurand": "Power.Factor", "unit": "Percent"}, "wrong_unit"),
        ({"value": "5", "measurand": "Voltage", "unit": "mV"}, "unknown_unit"),
        ({"value": "5", "unit": "MWh"}, "unknown_unit"),
        ({"value": "5", "unit": 5}, "unknown_unit"),
        ({"value": "-5", "measurand": "Energy.Active.Import.Register"}, "negative_register"),
        ({"value": "-1", "measurand": "Energy.Reactive.Export.Register"}, "negative_register"),
        ({"value": "1_000"}, "bad_number"),
        ({"value": "NaN"}, "bad_number"),
        ({"value": True}, "bad_number"),
        ({"value": "  x "}, "bad_number"),
        ({"measurand": "Voltage"}, "malformed"),
        ({"value": "5", "measurand": 7}, "malformed"),
        ({"value": "5", "phase": ["L1"]}, "malformed"),
    ],
)
def test_a_bad_sampled_value_is_dropped_with_a_problem(sampled, code):
    """Bad numbers, units that do not fit, negative registers and bad shapes are dropped."""
    parse = v16(sampled)
    assert parse.samples == ()
    (problem,) = parse.problems
    assert problem.code == code
    assert problem.dropped
    assert problem.path == "meterValue[0].sampledValue[0]"


def test_negative_power_is_kept():
    """Only registers must be non-negative; a power reading may dip below zero."""
    reading = only(v16({"value": "-12", "measurand": "Power.Active.Import", "unit": "W"}))
    assert reading.value == Decimal(-12)


def test_padded_number_is_read_without_its_spaces():
    """A right-aligned value (" 0.0", seen from MicroOcpp firmware) is kept and flagged."""
    parse = v16({"value": " 0.0", "measurand": "Energy.Active.Import.Register", "unit": "Wh"})
    assert only(parse).value == Decimal(0)
    assert codes(parse) == [MeterProblemCode.PADDED_NUMBER]
    assert not parse.problems[0].dropped


def test_v16_value_sent_as_json_number_is_accepted():
    """A 1.6 value sent as a number instead of a string is unambiguous and kept."""
    assert only(v16({"value": 1234})).value == Decimal(1234)


def test_v201_value_sent_as_text_is_read_strictly():
    """A 2.0.1 value sent as a string goes through the strict decimal parser."""
    assert only(v201({"value": "12.5"})).value == Decimal("12.5")
    assert codes(v201({"value": "1e3"})) == [MeterProblemCode.BAD_NUMBER]


# --- attributes -----------------------------------------------------------------------------


def test_all_attributes_are_carried_over():
    """Measurand, context, location and phase are translated to the domain vocabulary."""
    reading, _total = readings(
        v16(
            {
                "value": "16.1",
                "context": "Sample.Clock",
                "measurand": "Current.Import",
                "location": "Inlet",
                "phase": "L2",
                "unit": "A",
            }
        )
    )
    assert reading.context is ReadingContext.SAMPLE_CLOCK
    assert reading.location is MeterLocation.INLET
    assert reading.phase == "L2"
    assert not reading.from_phases


@pytest.mark.parametrize(
    ("wire", "context"),
    [
        ("Transaction.Begin", ReadingContext.TRANSACTION_BEGIN),
        ("Transaction.End", ReadingContext.TRANSACTION_END),
        ("Sample.Periodic", ReadingContext.SAMPLE_PERIODIC),
        ("Sample.Clock", ReadingContext.SAMPLE_CLOCK),
        ("Trigger", ReadingContext.TRIGGER),
        ("Interruption.Begin", ReadingContext.INTERRUPTION_BEGIN),
        ("Interruption.End", ReadingContext.INTERRUPTION_END),
        ("Other", ReadingContext.OTHER),
    ],
)
def test_every_reading_context_is_honoured(wire, context):
    """Each OCPP ReadingContext maps to its own domain context."""
    assert only(v16({"value": "1", "context": wire})).context is context


def test_unknown_measurand_is_kept_with_its_name_and_unit():
    """An unknown measurand stays as OTHER with the wire name and unit, flagged."""
    parse = v201(
        {"value": 7, "measurand": "Vendor.Pressure", "unitOfMeasure": {"unit": "bar"}},
        {"value": 3, "measurand": "Vendor.Count"},
    )
    pressure, count = readings(parse)
    assert (pressure.measurand, pressure.other_measurand, pressure.unit) == (
        Measurand.OTHER,
        "Vendor.Pressure",
        "bar",
    )
    assert (count.value, count.unit) == (Decimal(3), "")
    assert codes(parse) == [MeterProblemCode.UNKNOWN_MEASURAND] * 2


@pytest.mark.parametrize(
    ("sampled", "code", "check"),
    [
        (
            {"value": "1", "context": "Sample.Weird"},
            MeterProblemCode.UNKNOWN_CONTEXT,
            lambda r: r.context is ReadingContext.OTHER,
        ),
        (
            {"value": "1", "location": "Roof"},
            MeterProblemCode.UNKNOWN_LOCATION,
            lambda r: r.location is MeterLocation.OTHER,
        ),
        (
            {"value": "1", "phase": "L4"},
            MeterProblemCode.UNKNOWN_PHASE,
            lambda r: r.phase == "L4",
        ),
        (
            {"value": "1", "format": "Hex"},
            MeterProblemCode.UNKNOWN_FORMAT,
            lambda r: r.value == 1,
        ),
    ],
)
def test_unknown_attributes_keep_the_value_and_flag_it(sampled, code, check):
    """An unknown context, location, phase or format keeps the reading, with a problem."""
    parse = v16(sampled)
    assert check(only(parse))
    assert codes(parse) == [code]
    assert not parse.problems[0].dropped


def test_raw_format_is_a_plain_number():
    """format "Raw" is the default and raises no problem."""
    parse = v16({"value": "10", "format": "Raw"})
    assert only(parse).value == 10
    assert parse.problems == ()


# --- signed values --------------------------------------------------------------------------

OCMF = (
    'OCMF|{"FV":"1.0","GI":"ABL SBC-301","GS":"808829900001","GV":"1.4p3","PG":"T12",'
    '"RD":[{"TM":"2025-03-01T12:00:00,000+0000 S","TX":"B","RV":2935.6,"RI":"1-b:1.8.0",'
    '"RU":"kWh","ST":"G"}]}|{"SD":"304402201B2E9B5A"}'
)


def test_v16_signed_data_is_kept_verbatim_and_not_read_as_a_number():
    """format SignedData becomes a SignedReading holding exactly the sent string."""
    parse = v16(
        {
            "value": OCMF,
            "context": "Transaction.Begin",
            "format": "SignedData",
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
        },
        {"value": "2935600", "context": "Transaction.Begin", "unit": "Wh"},
    )
    (sample,) = parse.samples
    (signed,) = sample.signed
    assert signed.data == OCMF
    assert signed.context is ReadingContext.TRANSACTION_BEGIN
    assert signed.measurand is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
    assert signed.signing_method is None
    assert [r.value for r in sample.readings] == [Decimal(2935600)]
    assert parse.problems == ()


@pytest.mark.parametrize("value", ["", 12, None])
def test_v16_signed_data_without_a_string_is_dropped(value):
    """A SignedData value that is not a non-empty string cannot be a signature."""
    parse = v16({"value": value, "format": "SignedData"})
    assert parse.samples == ()
    assert codes(parse) == [MeterProblemCode.BAD_SIGNED_VALUE]


def test_v201_signed_meter_value_is_kept_next_to_the_number():
    """2.0.1 signedMeterValue is kept verbatim with its methods; the value is read too."""
    parse = v201(
        {
            "value": 2935.6,
            "context": "Transaction.End",
            "unitOfMeasure": {"unit": "kWh"},
            "signedMeterValue": {
                "signedMeterData": "T0NNRnx7IkZWIjoiMS4wIn0=",
                "signingMethod": "ECDSA-secp256r1-SHA256",
                "encodingMethod": "OCMF",
                "publicKey": "",
            },
        }
    )
    (sample,) = parse.samples
    (signed,) = sample.signed
    assert signed.data == "T0NNRnx7IkZWIjoiMS4wIn0="
    assert signed.signing_method == "ECDSA-secp256r1-SHA256"
    assert signed.encoding_method == "OCMF"
    assert signed.public_key is None
    assert signed.context is ReadingContext.TRANSACTION_END
    assert only(parse).value == Decimal("2935600")


def test_v201_signed_meter_value_keeps_its_public_key():
    """A public key sent with the signed value is kept for the CDR."""
    parse = v201(
        {
            "value": 1,
            "signedMeterValue": {
                "signedMeterData": "AAAA",
                "signingMethod": "",
                "encodingMethod": "EDL",
                "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
            },
        }
    )
    (signed,) = parse.samples[0].signed
    assert signed.public_key == "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"
    assert signed.signing_method is None


@pytest.mark.parametrize("signed", ["AAAA", {"signingMethod": "x"}, {"signedMeterData": ""}])
def test_v201_unusable_signed_meter_value_keeps_the_number(signed):
    """A broken signedMeterValue is dropped with a problem; the numeric value survives."""
    parse = v201({"value": 5, "signedMeterValue": signed})
    assert only(parse).value == 5
    assert parse.samples[0].signed == ()
    assert codes(parse) == [MeterProblemCode.BAD_SIGNED_VALUE]


def test_v201_signed_meter_value_survives_a_bad_number():
    """A signature is kept even when the number next to it is unusable."""
    parse = v201({"value": "oops", "signedMeterValue": {"signedMeterData": "AAAA"}})
    (sample,) = parse.samples
    assert sample.readings == ()
    assert sample.signed[0].data == "AAAA"
    assert codes(parse) == [MeterProblemCode.BAD_NUMBER]


def test_v201_signed_meter_value_survives_a_bad_multiplier():
    """A signature is kept even when the multiplier makes the number unusable."""
    parse = v201(
        {
            "value": 1,
            "unitOfMeasure": {"multiplier": 99},
            "signedMeterValue": {"signedMeterData": "AAAA"},
        }
    )
    assert parse.samples[0].signed[0].data == "AAAA"
    assert codes(parse) == [MeterProblemCode.BAD_MULTIPLIER]


# --- phases ---------------------------------------------------------------------------------


def three_phase(measurand: str, unit: str, values: tuple[str, str, str], labels=("L1", "L2", "L3")):
    return [
        {"value": v, "measurand": measurand, "unit": unit, "phase": p}
        for v, p in zip(values, labels, strict=True)
    ]


def totals(parse: MeterParse) -> dict[Measurand, Decimal]:
    return {r.measurand: r.value for r in readings(parse) if r.from_phases}


def test_per_phase_power_and_energy_are_summed_into_a_total():
    """Power and energy reported only per phase get a phase-less total: their sum."""
    parse = v16(
        *three_phase("Power.Active.Import", "W", ("3144", "3100", "3050")),
        *three_phase(
            "Energy.Active.Import.Register", "kWh", ("1.5", "1.25", "1"), ("L1-N", "L2-N", "L3-N")
        ),
    )
    assert totals(parse) == {
        Measurand.POWER_ACTIVE_IMPORT: Decimal(9294),
        Measurand.ENERGY_ACTIVE_IMPORT_REGISTER: Decimal(3750),
    }
    total = next(r for r in readings(parse) if r.from_phases)
    assert total.phase is None
    assert len(readings(parse)) == 8  # the six per-phase readings are kept


def test_per_phase_current_total_is_the_highest_phase():
    """Phase currents are not additive: the total kept is the highest phase current."""
    parse = v16(
        *three_phase("Current.Import", "A", ("14.3", "15.9", "0.0")),
        {"value": "0.4", "measurand": "Current.Import", "unit": "A", "phase": "N"},
    )
    assert totals(parse) == {Measurand.CURRENT_IMPORT: Decimal("15.9")}


def test_a_reported_total_is_not_replaced_by_a_phase_sum():
    """When the charger sends a phase-less reading of the measurand, no total is added."""
    parse = v16(
        *three_phase("Power.Active.Import", "W", ("1", "2", "3")),
        {"value": "7", "measurand": "Power.Active.Import", "unit": "W"},
    )
    assert totals(parse) == {}


def test_voltage_and_line_to_line_readings_get_no_total():
    """Voltages are never summed, and L1-L2 style labels are not a conductor's share."""
    parse = v16(
        *three_phase("Voltage", "V", ("230", "231", "229"), ("L1-N", "L2-N", "L3-N")),
        *three_phase("Power.Active.Import", "W", ("1", "2", "3"), ("L1-L2", "L2-L3", "L3-L1")),
    )
    assert totals(parse) == {}


def test_totals_are_per_context_and_location():
    """Per-phase readings with different contexts are totalled separately."""
    parse = v16(
        *three_phase("Energy.Active.Import.Register", "Wh", ("100", "100", "100")),
        *[
            {**sv, "context": "Transaction.Begin"}
            for sv in three_phase("Energy.Active.Import.Register", "Wh", ("10", "10", "10"))
        ],
    )
    derived = sorted((r.context, r.value) for r in readings(parse) if r.from_phases)
    assert derived == [
        (ReadingContext.SAMPLE_PERIODIC, Decimal(300)),
        (ReadingContext.TRANSACTION_BEGIN, Decimal(30)),
    ]


def test_a_phase_reported_twice_gets_no_total():
    """L1 and L1-N for the same measurand are ambiguous: no total, a problem instead."""
    parse = v16(
        {"value": "10", "measurand": "Power.Active.Import", "unit": "W", "phase": "L1"},
        {"value": "11", "measurand": "Power.Active.Import", "unit": "W", "phase": "L1-N"},
    )
    assert totals(parse) == {}
    assert codes(parse) == [MeterProblemCode.CONFLICTING_PHASES]


# --- message structure and leniency ---------------------------------------------------------


def test_quirk_08_one_bad_sampled_value_does_not_drop_the_rest_of_the_message():
    """ "Wh" on a power measurand and a bad number drop only themselves (lbbrhzn/ocpp#1627)."""
    parse = from_v16_meter_values(
        [
            {
                "timestamp": "2024-05-20T08:15:00.000Z",
                "sampledValue": [
                    {"value": "7360", "measurand": "Power.Active.Import", "unit": "Wh"},
                    {"value": "32.0", "measurand": "Current.Offered", "unit": "A"},
                    {"value": "N/A", "measurand": "SoC", "location": "EV", "unit": "Percent"},
                    {"value": "15234", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                ],
            },
            {
                "timestamp": "2024-05-20T08:16:00.000Z",
                "sampledValue": [{"value": "15357", "unit": "Wh"}],
            },
        ],
        received_at=datetime(2024, 5, 20, 8, 16, 2, tzinfo=UTC),
    )
    assert [[(r.measurand, r.value) for r in s.readings] for s in parse.samples] == [
        [
            (Measurand.CURRENT_OFFERED, Decimal(32)),
            (Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, Decimal(15234)),
        ],
        [(Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, Decimal(15357))],
    ]
    assert [(p.code, p.path) for p in parse.problems] == [
        (MeterProblemCode.WRONG_UNIT, "meterValue[0].sampledValue[0]"),
        (MeterProblemCode.BAD_NUMBER, "meterValue[0].sampledValue[2]"),
    ]
    assert '"unit":"Wh"' in parse.problems[0].raw


def test_quirk_06_mixed_contexts_and_local_offsets_are_kept_apart_and_in_utc():
    """Growatt frames mix Sample.Periodic and Transaction.Begin EAIR with a +10:00 stamp."""
    parse = from_v16_meter_values(
        [
            {
                "timestamp": "2026-01-05T14:58:38+10:00",
                "sampledValue": [
                    {
                        "value": "163630",
                        "context": "Sample.Periodic",
                        "format": "Raw",
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    },
                    {
                        "value": "157440",
                        "context": "Transaction.Begin",
                        "format": "Raw",
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    },
                    {
                        "value": "5.84",
                        "context": "Sample.Periodic",
                        "format": "Raw",
                        "measurand": "Current.Import",
                        "phase": "L1",
                        "unit": "A",
                    },
                ],
            }
        ],
        received_at=datetime(2026, 1, 5, 4, 58, 40, tzinfo=UTC),
    )
    (sample,) = parse.samples
    assert sample.at == datetime(2026, 1, 5, 4, 58, 38, tzinfo=UTC)
    energy = {
        r.context: r.value
        for r in sample.readings
        if r.measurand is Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
    }
    assert energy == {
        ReadingContext.SAMPLE_PERIODIC: Decimal(163630),
        ReadingContext.TRANSACTION_BEGIN: Decimal(157440),
    }
    assert parse.problems == ()


def test_quirk_12_samples_stamped_1970_get_the_receive_time_and_a_suspect_clock():
    """A charger with an unset clock (MicroOcpp PreBoot) sends 1970: receive time, flagged."""
    parse = from_v16_meter_values(
        [
            {
                "timestamp": "1970-01-01T00:00:41.000Z",
                "sampledValue": [{"value": "1200", "unit": "Wh"}],
            },
            {
                "timestamp": "2031-07-01T00:00:00Z",
                "sampledValue": [{"value": "1300", "unit": "Wh"}],
            },
        ],
        received_at=RECEIVED,
    )
    old, future = parse.samples
    assert old.at == future.at == RECEIVED
    assert old.clock_suspect
    assert future.clock_suspect
    assert old.readings[0].at == RECEIVED
    assert codes(parse) == [
        MeterProblemCode.TIMESTAMP_TOO_OLD,
        MeterProblemCode.TIMESTAMP_IN_FUTURE,
    ]
    assert parse.problems[0].raw == '"1970-01-01T00:00:41.000Z"'


def test_timestamp_without_offset_keeps_the_clock_trusted():
    """A missing offset is a guess worth flagging, not a broken clock."""
    parse = v16({"value": "1"}, timestamp="2025-03-01T12:00:00")
    assert parse.samples[0].at == AT
    assert not parse.samples[0].clock_suspect
    assert codes(parse) == [MeterProblemCode.TIMESTAMP_WITHOUT_OFFSET]


def test_missing_timestamp_uses_the_receive_time():
    """A meter value without a timestamp is stamped with the receive time, flagged."""
    parse = from_v16_meter_values([{"sampledValue": [{"value": "1"}]}], received_at=RECEIVED)
    assert parse.samples[0].at == RECEIVED
    assert parse.samples[0].clock_suspect
    assert codes(parse) == [MeterProblemCode.BAD_TIMESTAMP]


@pytest.mark.parametrize(
    "items",
    [
        ["not an object"],
        [{"timestamp": STAMP}],
        [{"timestamp": STAMP, "sampledValue": []}],
        [{"timestamp": STAMP, "sampledValue": {"value": "1"}}],
        [{"timestamp": STAMP, "sampledValue": ["1"]}],
    ],
)
def test_malformed_meter_values_yield_problems_not_exceptions(items):
    """Shapes the schema forbids are reported as problems; nothing raises."""
    parse = from_v16_meter_values(items, received_at=RECEIVED)
    assert parse.samples == ()
    assert codes(parse) == [MeterProblemCode.MALFORMED]


def test_problem_paths_name_the_list_they_came_from():
    """StopTransaction.transactionData problems point into transactionData."""
    parse = from_v16_meter_values(
        [{"timestamp": STAMP, "sampledValue": [{"value": "x"}]}],
        received_at=RECEIVED,
        field="transactionData",
    )
    assert parse.problems[0].path == "transactionData[0].sampledValue[0]"


def test_long_offending_items_are_truncated_in_problems():
    """A huge bad value is kept in the problem only up to a bounded length."""
    parse = v16({"value": "x" * 5000})
    raw = parse.problems[0].raw
    assert len(raw) == 2000
    assert raw.endswith("…")


def test_empty_meter_value_list_yields_nothing():
    """An empty list is nothing to report, not a problem."""
    assert from_v201_meter_values([], received_at=RECEIVED) == MeterParse(samples=(), problems=())


@given(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "value": st.one_of(st.text(max_size=8), st.integers(), st.floats(), st.booleans()),
                "measurand": st.sampled_from(
                    ["Energy.Active.Import.Register", "Power.Active.Import", "X"]
                ),
                "unit": st.sampled_from(["Wh", "kWh", "W", "kW", "A", "bogus"]),
                "phase": st.sampled_from(["L1", "L2", "L3", "N", "L1-N"]),
            },
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_sampled_values_yield_samples_and_problems_without_raising(sampled):
    """Whatever a charger sends, translation returns; every reading is finite."""
    for translate in (from_v16_meter_values, from_v201_meter_values):
        parse = translate([{"timestamp": STAMP, "sampledValue": sampled}], received_at=RECEIVED)
        assert all(r.value.is_finite() for r in readings(parse))
        kept = sum(1 for r in readings(parse) if not r.from_phases)
        dropped = sum(1 for p in parse.problems if p.dropped)
        assert kept + dropped == len(sampled)


def test_v201_attribute_of_the_wrong_type_drops_the_value():
    """2.0.1: a non-string measurand is malformed; that sampled value is dropped."""
    parse = v201({"value": 1, "measurand": 7, "signedMeterValue": {"signedMeterData": "AAAA"}})
    assert parse.samples == ()
    assert codes(parse) == [MeterProblemCode.MALFORMED]
