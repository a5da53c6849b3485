"""Pure: OCPP 1.6 / 2.0.1 meterValue arrays -> domain meter samples (gateway.domain.meter).

Leniency is per sampled value: a bad value, unit or attribute drops that one item (or keeps
it with a default) and records a `MeterProblem`; the rest of the message survives, because
a charger whose MeterValues are refused whole loses all of them (RELIABILITY.md §2.7 #8).

Spec defaults (OCPP 1.6 SampledValue, OCPP 2.0.1 SampledValueType; RELIABILITY.md §2.6):
no measurand is Energy.Active.Import.Register, no context is Sample.Periodic, no location is
Outlet, and no unit is the measurand's base unit (Wh for energy, W for power, A for current).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from math import isfinite
from typing import Any, TypeGuard

from gateway.core.evolve import builder, constructor
from gateway.domain.meter import (
    Measurand,
    MeterLocation,
    MeterProblem,
    MeterProblemCode,
    MeterSample,
    Quantity,
    Reading,
    ReadingContext,
    SignedReading,
)

__all__ = [
    "EARLIEST_PLAUSIBLE",
    "FUTURE_TOLERANCE",
    "BadNumberError",
    "MeterParse",
    "SamplesAndProblems",
    "from_v16_meter_values",
    "from_v201_meter_values",
    "parse_decimal",
    "parse_number",
    "parse_timestamp",
    "v16_samples",
    "v201_samples",
]

EARLIEST_PLAUSIBLE = datetime(2010, 1, 1, tzinfo=UTC)
"""Timestamps before this come from a charger whose clock was never set (1970, PreBoot)."""

FUTURE_TOLERANCE = timedelta(minutes=10)
"""How far ahead of the receive time a charger's clock may run before it is distrusted."""

_MAX_MULTIPLIER = 9  # giga; nothing a charger measures needs more, and it bounds the Decimal
_RAW_LIMIT = 2000  # characters of an offending item kept in a MeterProblem

# [0-9] rather than \d: str patterns match any Unicode digit with \d ("١٢٣").
# fullmatch rather than $: "$" also matches before a trailing newline.
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_PLAIN_DECIMAL = _DECIMAL.fullmatch
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)


class BadNumberError(ValueError):
    """A meter value that is not a plain, finite decimal number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterParse:
    """What one meterValue array yielded: the usable samples and every problem found."""

    samples: tuple[MeterSample, ...]
    problems: tuple[MeterProblem, ...]


def parse_decimal(text: str) -> Decimal:
    r"""Read a 1.6 meter value string as a `Decimal`, strictly.

    Only ``-?[0-9]+(\.[0-9]+)?`` is accepted (R-METER-1): no exponent, sign ``+``,
    surrounding whitespace, digit separators (``1_000``), non-ASCII digits, ``NaN`` or
    ``Infinity``, all of which `float` would take.

    Raises:
        BadNumberError: for anything else.
    """
    if _DECIMAL.fullmatch(text) is None:
        raise BadNumberError(f"not a plain decimal number: {text!r}")
    return Decimal(text)


def parse_number(value: object) -> Decimal:
    """Read a meter value sent as a JSON number (2.0.1) or a string (1.6) as a `Decimal`.

    Integers are exact; a float goes through its shortest ``repr`` so ``0.1`` stays
    ``Decimal("0.1")``. Booleans (a JSON ``true`` is a Python int), NaN and infinities are
    refused; strings go through `parse_decimal`.

    Raises:
        BadNumberError: when the value is none of these.
    """
    if isinstance(value, bool):
        raise BadNumberError(f"a boolean is not a meter value: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
        if not number.is_finite():
            raise BadNumberError(f"not a finite number: {value!r}")
        return number
    if isinstance(value, str):
        return parse_decimal(value)
    raise BadNumberError(f"not a number: {value!r}")


def parse_timestamp(
    text: object, *, received_at: datetime, path: str = "timestamp"
) -> tuple[datetime, MeterProblem | None]:
    """Read an RFC 3339 timestamp as a UTC datetime, distrusting impossible ones.

    ``text`` is whatever JSON value the charger sent; anything but a string is unparsable.

    Offsets (``+10:00``) are honoured and converted to UTC; fractions of a second beyond
    microseconds are truncated. A timestamp without an offset is read as UTC and flagged.
    An unparsable one, one before `EARLIEST_PLAUSIBLE`, or one more than
    `FUTURE_TOLERANCE` after ``received_at`` is replaced by ``received_at`` and flagged
    (RELIABILITY.md §2.7 #12); the problem keeps the original text.

    Raises:
        ValueError: when ``received_at`` is naive (a caller bug, not charger data).
    """
    at, fault = _timestamp(text, received_at)
    if fault is None:
        return at, None
    code, message = fault
    return at, _problem(code, message, text, path, dropped=False)


_Fault = tuple[MeterProblemCode, str]

_NOT_RFC3339: _Fault = (
    MeterProblemCode.BAD_TIMESTAMP,
    "timestamp is not RFC 3339; the receive time is used instead",
)
_TOO_OLD: _Fault = (
    MeterProblemCode.TIMESTAMP_TOO_OLD,
    f"timestamp before {EARLIEST_PLAUSIBLE:%Y-%m-%d} (charger clock not set); "
    "the receive time is used instead",
)
_IN_FUTURE: _Fault = (
    MeterProblemCode.TIMESTAMP_IN_FUTURE,
    "timestamp is ahead of the receive time; the receive time is used instead",
)
_WITHOUT_OFFSET: _Fault = (
    MeterProblemCode.TIMESTAMP_WITHOUT_OFFSET,
    "timestamp has no UTC offset; read as UTC",
)


_Stamp = tuple[datetime, datetime, _Fault | None]


def _timestamp(text: object, received_at: datetime) -> tuple[datetime, _Fault | None]:
    """`parse_timestamp` without the problem record, which only a fault needs (and a path)."""
    received_utc = _utc(received_at)
    stamp = _read_timestamp(text) if isinstance(text, str) else None
    if stamp is None:
        return received_utc, _NOT_RFC3339
    at, not_before, fault = stamp
    if fault is _TOO_OLD:
        return received_utc, _TOO_OLD
    if not_before > received_utc:
        return received_utc, _IN_FUTURE
    return at, fault


def _utc(received_at: datetime) -> datetime:
    tz = received_at.tzinfo
    if tz is UTC:  # the gateway's clock: no conversion to make
        return received_at
    if tz is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(UTC)


def from_v16_meter_values(
    items: Sequence[Mapping[str, Any]], *, received_at: datetime, field: str = "meterValue"
) -> MeterParse:
    """Translate an OCPP 1.6 ``meterValue`` (or StopTransaction ``transactionData``) list.

    ``value`` is a string in 1.6 (a JSON number is accepted too); ``format: SignedData``
    values become `SignedReading`s, kept verbatim and not read as numbers. ``field`` names
    the list in problem paths.
    """
    samples, problems = v16_samples(items, received_at=received_at, field=field)
    return _new_parse(samples=samples, problems=problems)


def from_v201_meter_values(
    items: Sequence[Mapping[str, Any]], *, received_at: datetime, field: str = "meterValue"
) -> MeterParse:
    """Translate an OCPP 2.0.1 ``meterValue`` list (MeterValuesRequest, TransactionEvent).

    ``value`` is a JSON number; ``unitOfMeasure.multiplier`` (a power of ten) is applied;
    a ``signedMeterValue`` becomes a `SignedReading` next to the numeric `Reading`.
    """
    samples, problems = v201_samples(items, received_at=received_at, field=field)
    return _new_parse(samples=samples, problems=problems)


SamplesAndProblems = tuple[tuple[MeterSample, ...], tuple[MeterProblem, ...]]


def v16_samples(
    items: Sequence[Mapping[str, Any]], *, received_at: datetime, field: str = "meterValue"
) -> SamplesAndProblems:
    """`from_v16_meter_values` as a (samples, problems) pair, for the event translators.

    They unpack the parse at once, and a record for it costs a tenth of a MeterValues.
    """
    samples = _quick_samples(items, received_at, _quick_list_v16)
    if samples is not None:
        return samples, ()
    return _translate(items, received_at=received_at, field=field, sampled=_v16_sampled)


def v201_samples(
    items: Sequence[Mapping[str, Any]], *, received_at: datetime, field: str = "meterValue"
) -> SamplesAndProblems:
    """`from_v201_meter_values` as a (samples, problems) pair, as `v16_samples` gives it."""
    samples = _quick_samples(items, received_at, _quick_list_v201)
    if samples is not None:
        return samples, ()
    return _translate(items, received_at=received_at, field=field, sampled=_v201_sampled)


# --- the walk over a meterValue array -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Attributes:
    measurand: Measurand
    other_measurand: str | None
    context: ReadingContext
    location: MeterLocation
    phase: str | None


_Found = tuple[Reading | None, SignedReading | None]
_SampledParser = Callable[[Mapping[str, Any], datetime, str, list[MeterProblem]], _Found]


def _translate(
    items: Sequence[Mapping[str, Any]],
    *,
    received_at: datetime,
    field: str,
    sampled: _SampledParser,
) -> SamplesAndProblems:
    problems: list[MeterProblem] = []
    samples: list[MeterSample] = []
    entries: Sequence[object] = items
    v16 = sampled is _v16_sampled
    quick = _quick_v16 if v16 else _quick_v201
    quick_list = _quick_list_v16 if v16 else _quick_list_v201
    for i, item in enumerate(entries):
        if not _is_object(item):
            problems.append(_malformed("a meter value must be an object", item, f"{field}[{i}]"))
            continue
        sample = _sample(item, field, i, received_at, sampled, quick, quick_list, problems)
        if sample is not None:
            samples.append(sample)
    return tuple(samples), tuple(problems)


def _sample(
    item: Mapping[str, Any],
    field: str,
    index: int,
    received_at: datetime,
    sampled: _SampledParser,
    quick: _QuickReader,
    quick_list: _QuickListReader,
    problems: list[MeterProblem],
) -> MeterSample | None:
    # Problem paths are written only when there is a problem: most messages have none.
    at, fault = _timestamp(item.get("timestamp"), received_at)
    clock_suspect = False
    if fault is not None:
        code, message = fault
        path = f"{field}[{index}].timestamp"
        problems.append(_problem(code, message, item.get("timestamp"), path, dropped=False))
        clock_suspect = code in _CLOCK_REPLACED
    values = item.get("sampledValue")
    if not isinstance(values, list) or not values:
        path = f"{field}[{index}]"
        problems.append(_malformed("sampledValue must be a non-empty list", item, path))
        return None
    # Nearly every list is read whole on the quick path, without a call per value.
    quick_readings = quick_list(values, at)
    if quick_readings is not None:
        return _new_sample(
            at=at, readings=tuple(quick_readings), signed=(), clock_suspect=clock_suspect
        )
    readings: list[Reading] = []
    signed: list[SignedReading] = []
    phased = False
    for j, value in enumerate(values):
        if type(value) is dict and (reading := quick(value, at)) is not None:
            readings.append(reading)
            phased = phased or reading.phase is not None
            continue
        where = f"{field}[{index}].sampledValue[{j}]"
        if not _is_object(value):
            problems.append(_malformed("a sampled value must be an object", value, where))
            continue
        reading, signature = sampled(value, at, where, problems)
        if reading is not None:
            readings.append(reading)
            phased = phased or reading.phase is not None
        if signature is not None:
            signed.append(signature)
    if not readings and not signed:
        return None
    if phased:
        readings.extend(_phase_totals(readings, f"{field}[{index}]", problems))
    return _new_sample(
        at=at, readings=tuple(readings), signed=tuple(signed), clock_suspect=clock_suspect
    )


def _quick_samples(
    items: Sequence[object], received_at: datetime, quick_list: _QuickListReader
) -> tuple[MeterSample, ...] | None:
    """The samples of a list without a single problem, read quickly; ``None``: read it in full.

    Nearly every message is such a list: objects with a trusted timestamp and values like
    clean ones before. One loop and no problem list to keep, where `_translate` takes two
    calls per item. A list this gives up on is read again by `_translate` from its start,
    so what a message yields never depends on where the quick read stopped.
    """
    received_utc = _utc(received_at)
    samples: list[MeterSample] = []
    for item in items:
        if type(item) is not dict:
            return None
        text = item.get("timestamp")
        if type(text) is not str:
            return None
        stamp = _read_timestamp(text)
        if stamp is None:
            return None
        at, not_before, fault = stamp
        values = item.get("sampledValue")
        if fault is not None or not_before > received_utc or type(values) is not list or not values:
            return None
        readings = quick_list(values, at)
        if readings is None:
            return None
        samples.append(_quick_sample(at, tuple(readings)))
    return tuple(samples)


def _is_object(value: object) -> TypeGuard[Mapping[str, Any]]:
    # Decoded JSON objects are dicts: skip the slower abstract-class check for them.
    return type(value) is dict or isinstance(value, Mapping)


_CLOCK_REPLACED = frozenset(
    {
        MeterProblemCode.BAD_TIMESTAMP,
        MeterProblemCode.TIMESTAMP_TOO_OLD,
        MeterProblemCode.TIMESTAMP_IN_FUTURE,
    }
)

#: Faster constructors of the records built for every sampled value (the dataclass
#: ``__init__`` costs twice as much), and a MeterValues carries several values.
_new_reading = constructor(Reading)
_new_sample = constructor(MeterSample)
_new_parse = constructor(MeterParse)


# --- the quick path: a sampled value like one read cleanly before ------------------------

#: How to read a sampled value whose wire texts were read once without a problem, into a
#: known measurand in a unit that fits it: (measurand, context, location, phase, the
#: conversion or None when the number is already canonical, canonical unit, whether the
#: measurand is a register). The same few combinations arrive in almost every message,
#: so the tables stay small (and are bounded); `_remember` fills them.
_Reader = tuple[
    Measurand,
    ReadingContext,
    MeterLocation,
    str | None,
    Callable[[Decimal], Decimal] | None,
    str,
    bool,
]
_QuickReader = Callable[[dict[str, Any], datetime], Reading | None]
_QuickListReader = Callable[[list[Any], datetime], list[Reading] | None]

#: By a 1.6 value's (measurand, context, location, phase, unit, format) texts.
_CLEAN_V16: dict[tuple[object, ...], _Reader] = {}
#: By a 2.0.1 value's (measurand, context, location, phase, unit, multiplier).
_CLEAN_V201: dict[tuple[object, ...], _Reader] = {}

# Up to this many characters (so digits), a plain decimal string is exact as a Decimal in
# the default context (28 digits): the general path's rounding `scaleb(0)` changes nothing.
_EXACT_LENGTH = 28
_CLEAN_LIMIT = 4096  # combinations remembered per version; real chargers use a handful
_EXACT_INTEGER = 10**28
_NO_UNIT: Mapping[str, Any] = {}

#: 1.6 value texts already read as plain decimals of at most `_EXACT_LENGTH` characters,
#: and their `Decimal`: a voltage, a current or an idle charger's zero power repeats from
#: message to message, and a hit also skips the text's check. `Decimal` is immutable and
#: ``Decimal(text)`` depends on the text alone, so a shared one is the same value.
#: Bounded: cleared when full (ever-growing energy registers never repeat).
_NUMBERS: dict[str, Decimal] = {}
_NUMBERS_LIMIT = 4096


def _remember_number(raw: str) -> Decimal:
    if len(_NUMBERS) >= _NUMBERS_LIMIT:
        _NUMBERS.clear()
    number = _NUMBERS[raw] = Decimal(raw)
    return number


#: 2.0.1 finite non-zero floats already read, and their `Decimal`, for the reasons of
#: `_NUMBERS` (a float's repr is a third of its value's cost). Only floats enter, so an
#: integer never finds a float's Decimal (``230 == 230.0``, but they read as "230" and
#: "230.0"); zeros stay out, as ``0.0 == -0.0`` but they read as "0.0" and "-0.0".
_FLOATS: dict[float, Decimal] = {}


def _remember_float(raw: float) -> Decimal:
    number = Decimal(repr(raw))  # as parse_number: the shortest repr, 0.1 stays 0.1
    if raw:
        if len(_FLOATS) >= _NUMBERS_LIMIT:
            _FLOATS.clear()
        _FLOATS[raw] = number
    return number


#: The quick path's readings (measurand known, not from phases), built positionally by a
#: `builder`: a reading per value is most of a MeterValues' translation.
_quick_reading = builder(
    Reading, "measurand", "value", "unit", "at", "context", "location", "phase"
)
_quick_sample = builder(MeterSample, "at", "readings")


def _quick_v16(value: dict[str, Any], at: datetime) -> Reading | None:
    """The usual 1.6 value, read as the general path reads it; ``None``: read it in full."""
    found = _quick_list_v16([value], at, phased=True)
    return None if found is None else found[0]


def _quick_v201(value: dict[str, Any], at: datetime) -> Reading | None:
    """The usual 2.0.1 value, read as the general path reads it; ``None``: read it in full."""
    found = _quick_list_v201([value], at, phased=True)
    return None if found is None else found[0]


def _quick_list_v16(
    values: list[Any], at: datetime, *, phased: bool = False
) -> list[Reading] | None:
    """Every value of a 1.6 list read as the general path reads it; ``None``: read it in full.

    One loop for the whole list: a MeterValues carries several values, and two calls per
    value cost as much as the rest of the work. Unless ``phased``, a list with a phase
    returns ``None`` and goes value by value (`_quick_v16`), where its phase totals are made.
    """
    readings: list[Reading] = []
    clean = _CLEAN_V16
    plain = _PLAIN_DECIMAL
    numbers = _NUMBERS
    build = _quick_reading
    for value in values:
        if type(value) is not dict:
            return None
        get = value.get
        try:
            reader = clean.get(
                (
                    get("measurand"),
                    get("context"),
                    get("location"),
                    get("phase"),
                    get("unit"),
                    get("format"),
                )
            )
        except TypeError:  # a list or an object where a name belongs
            return None
        raw: Any = get("value")
        if reader is None or type(raw) is not str:
            return None
        number = numbers.get(raw)
        if number is None:
            if len(raw) > _EXACT_LENGTH or not (
                (raw.isdigit() and raw.isascii()) or plain(raw) is not None
            ):
                return None
            number = _remember_number(raw)
        measurand, context, location, phase, convert, unit, register = reader
        if phase is not None and not phased:
            return None
        if convert is not None:
            number = convert(number)
        if register and number < 0:
            return None
        readings.append(build(measurand, number, unit, at, context, location, phase))
    return readings


def _quick_list_v201(
    values: list[Any], at: datetime, *, phased: bool = False
) -> list[Reading] | None:
    """Every value of a 2.0.1 list read as the general path reads it; ``None``: read it in full.

    One loop for the reason `_quick_list_v16` gives, and ``phased`` as there.
    """
    readings: list[Reading] = []
    clean = _CLEAN_V201
    floats = _FLOATS
    build = _quick_reading
    for value in values:
        if type(value) is not dict or "signedMeterValue" in value:
            return None
        get = value.get
        uom = get("unitOfMeasure", _NO_UNIT)
        if type(uom) is not dict:
            return None
        multiplier = uom.get("multiplier", 0)
        if type(multiplier) is not int:  # a bool or a float would hash like an int
            return None
        try:
            reader = clean.get(
                (
                    get("measurand"),
                    get("context"),
                    get("location"),
                    get("phase"),
                    uom.get("unit"),
                    multiplier,
                )
            )
        except TypeError:  # a list or an object where a name belongs
            return None
        if reader is None:
            return None
        measurand, context, location, phase, convert, unit, register = reader
        if phase is not None and not phased:
            return None
        raw: Any = get("value")
        kind = type(raw)
        if kind is int and -_EXACT_INTEGER < raw < _EXACT_INTEGER:
            number = Decimal(raw)
        elif kind is float and isfinite(raw):
            known = floats.get(raw)
            number = _remember_float(raw) if known is None else known
        else:
            return None
        if multiplier:
            number = number.scaleb(multiplier)
        if convert is not None:
            number = convert(number)
        if register and number < 0:
            return None
        readings.append(build(measurand, number, unit, at, context, location, phase))
    return readings


def _remember(
    table: dict[tuple[object, ...], _Reader],
    key: tuple[object, ...],
    reading: Reading,
    unit: object,
) -> None:
    # Only a value read without a problem comes here: its names were known (so the
    # measurand is not OTHER) and its unit fitted, so `_CONVERSIONS` holds the unit.
    convert, canonical_unit = _CONVERSIONS[(reading.measurand, unit)]  # type: ignore[index]
    if len(table) >= _CLEAN_LIMIT:
        table.clear()  # a charger cycling through unit spellings must not grow it forever
    table[key] = (
        reading.measurand,
        reading.context,
        reading.location,
        reading.phase,
        None if convert is _UNCHANGED else convert,
        canonical_unit,
        reading.measurand.is_register,
    )


# --- one sampled value, per version ---------------------------------------------------------


def _v16_sampled(
    sv: Mapping[str, Any], at: datetime, path: str, problems: list[MeterProblem]
) -> _Found:
    found = len(problems)
    reading, signature = _v16_sampled_checked(sv, at, path, problems)
    if reading is not None and len(problems) == found:
        key = (
            sv.get("measurand"),
            sv.get("context"),
            sv.get("location"),
            sv.get("phase"),
            sv.get("unit"),
            sv.get("format"),
        )
        _remember(_CLEAN_V16, key, reading, key[4])
    return reading, signature


def _v16_sampled_checked(
    sv: Mapping[str, Any], at: datetime, path: str, problems: list[MeterProblem]
) -> _Found:
    attributes = _attributes(sv, path, problems)
    if attributes is None:
        return None, None
    fmt = sv.get("format")
    if fmt == "SignedData":
        data = sv.get("value")
        if not isinstance(data, str) or not data:
            problems.append(
                _problem(
                    MeterProblemCode.BAD_SIGNED_VALUE,
                    "SignedData value must be a non-empty string",
                    sv,
                    path,
                    dropped=True,
                )
            )
            return None, None
        return None, _signed(attributes, at, data=data)
    if fmt is not None and fmt != "Raw":
        problems.append(
            _problem(
                MeterProblemCode.UNKNOWN_FORMAT,
                f"unknown value format {fmt!r}; read as a plain number",
                sv,
                path,
                dropped=False,
            )
        )
    unit = sv.get("unit")
    reading = _reading(sv, attributes, at, path, problems, unit=unit, multiplier=0)
    return reading, None


def _v201_sampled(
    sv: Mapping[str, Any], at: datetime, path: str, problems: list[MeterProblem]
) -> _Found:
    found = len(problems)
    reading, signature = _v201_sampled_checked(sv, at, path, problems)
    if reading is not None and len(problems) == found and "signedMeterValue" not in sv:
        uom = sv.get("unitOfMeasure", _NO_UNIT)
        unit = uom.get("unit")
        key = (
            sv.get("measurand"),
            sv.get("context"),
            sv.get("location"),
            sv.get("phase"),
            unit,
            uom.get("multiplier", 0),
        )
        _remember(_CLEAN_V201, key, reading, unit)
    return reading, signature


def _v201_sampled_checked(
    sv: Mapping[str, Any], at: datetime, path: str, problems: list[MeterProblem]
) -> _Found:
    attributes = _attributes(sv, path, problems)
    if attributes is None:
        return None, None
    signature = None
    if "signedMeterValue" in sv:
        signature = _v201_signature(sv, attributes, at, path, problems)
    uom = sv.get("unitOfMeasure", {})
    if not _is_object(uom):
        problems.append(_malformed("unitOfMeasure must be an object", sv, path))
        return None, signature
    multiplier = uom.get("multiplier", 0)
    if (
        not isinstance(multiplier, int)
        or isinstance(multiplier, bool)
        or abs(multiplier) > _MAX_MULTIPLIER
    ):
        problems.append(
            _problem(
                MeterProblemCode.BAD_MULTIPLIER,
                f"multiplier must be an integer power of ten within ±{_MAX_MULTIPLIER}",
                sv,
                path,
                dropped=True,
            )
        )
        return None, signature
    reading = _reading(
        sv, attributes, at, path, problems, unit=uom.get("unit"), multiplier=multiplier
    )
    return reading, signature


def _v201_signature(
    sv: Mapping[str, Any],
    attributes: _Attributes,
    at: datetime,
    path: str,
    problems: list[MeterProblem],
) -> SignedReading | None:
    signed = sv["signedMeterValue"]
    if (
        not isinstance(signed, Mapping)
        or not isinstance(data := signed.get("signedMeterData"), str)
        or not data
    ):
        problems.append(
            _problem(
                MeterProblemCode.BAD_SIGNED_VALUE,
                "signedMeterValue needs a non-empty signedMeterData string",
                sv,
                path,
                dropped=True,
            )
        )
        return None
    return _signed(
        attributes,
        at,
        data=data,
        signing_method=_optional_text(signed.get("signingMethod")),
        encoding_method=_optional_text(signed.get("encodingMethod")),
        public_key=_optional_text(signed.get("publicKey")),
    )


def _optional_text(value: object) -> str | None:
    # publicKey is "" when PublicKeyWithSignedMeterValue is off: same as absent.
    return value if isinstance(value, str) and value else None


def _signed(
    attributes: _Attributes,
    at: datetime,
    *,
    data: str,
    signing_method: str | None = None,
    encoding_method: str | None = None,
    public_key: str | None = None,
) -> SignedReading:
    return SignedReading(
        data=data,
        at=at,
        measurand=attributes.measurand,
        context=attributes.context,
        location=attributes.location,
        phase=attributes.phase,
        signing_method=signing_method,
        encoding_method=encoding_method,
        public_key=public_key,
    )


# --- attributes, numbers and units ----------------------------------------------------------

_MEASURANDS: dict[str, Measurand] = {
    "Energy.Active.Import.Register": Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
    "Energy.Active.Export.Register": Measurand.ENERGY_ACTIVE_EXPORT_REGISTER,
    "Energy.Reactive.Import.Register": Measurand.ENERGY_REACTIVE_IMPORT_REGISTER,
    "Energy.Reactive.Export.Register": Measurand.ENERGY_REACTIVE_EXPORT_REGISTER,
    "Energy.Active.Import.Interval": Measurand.ENERGY_ACTIVE_IMPORT_INTERVAL,
    "Energy.Active.Export.Interval": Measurand.ENERGY_ACTIVE_EXPORT_INTERVAL,
    "Energy.Reactive.Import.Interval": Measurand.ENERGY_REACTIVE_IMPORT_INTERVAL,
    "Energy.Reactive.Export.Interval": Measurand.ENERGY_REACTIVE_EXPORT_INTERVAL,
    "Energy.Active.Net": Measurand.ENERGY_ACTIVE_NET,
    "Energy.Reactive.Net": Measurand.ENERGY_REACTIVE_NET,
    "Energy.Apparent.Net": Measurand.ENERGY_APPARENT_NET,
    "Energy.Apparent.Import": Measurand.ENERGY_APPARENT_IMPORT,
    "Energy.Apparent.Export": Measurand.ENERGY_APPARENT_EXPORT,
    "Power.Active.Import": Measurand.POWER_ACTIVE_IMPORT,
    "Power.Active.Export": Measurand.POWER_ACTIVE_EXPORT,
    "Power.Reactive.Import": Measurand.POWER_REACTIVE_IMPORT,
    "Power.Reactive.Export": Measurand.POWER_REACTIVE_EXPORT,
    "Power.Offered": Measurand.POWER_OFFERED,
    "Power.Factor": Measurand.POWER_FACTOR,
    "Current.Import": Measurand.CURRENT_IMPORT,
    "Current.Export": Measurand.CURRENT_EXPORT,
    "Current.Offered": Measurand.CURRENT_OFFERED,
    "Voltage": Measurand.VOLTAGE,
    "Frequency": Measurand.FREQUENCY,
    "Temperature": Measurand.TEMPERATURE,
    "SoC": Measurand.SOC,
    "RPM": Measurand.RPM,
}

_CONTEXTS: dict[str, ReadingContext] = {
    "Transaction.Begin": ReadingContext.TRANSACTION_BEGIN,
    "Transaction.End": ReadingContext.TRANSACTION_END,
    "Sample.Periodic": ReadingContext.SAMPLE_PERIODIC,
    "Sample.Clock": ReadingContext.SAMPLE_CLOCK,
    "Trigger": ReadingContext.TRIGGER,
    "Interruption.Begin": ReadingContext.INTERRUPTION_BEGIN,
    "Interruption.End": ReadingContext.INTERRUPTION_END,
    "Other": ReadingContext.OTHER,
}

_LOCATIONS: dict[str, MeterLocation] = {
    "Outlet": MeterLocation.OUTLET,
    "Inlet": MeterLocation.INLET,
    "Cable": MeterLocation.CABLE,
    "EV": MeterLocation.EV,
    "Body": MeterLocation.BODY,
}

# Which conductor a phase label measures; line-to-line labels and N are not in here, so
# they never enter a phase total.
_LINE_OF: dict[str, str] = {
    "L1": "L1",
    "L2": "L2",
    "L3": "L3",
    "L1-N": "L1",
    "L2-N": "L2",
    "L3-N": "L3",
}
_PHASES = frozenset({*_LINE_OF, "N", "L1-L2", "L2-L3", "L3-L1"})


def _kelvin(value: Decimal) -> Decimal:
    return value - Decimal("273.15")


def _fahrenheit(value: Decimal) -> Decimal:
    return (value - 32) * 5 / 9


def _scale(exponent: int) -> Callable[[Decimal], Decimal]:
    return lambda value: value.scaleb(exponent)


_UNCHANGED = _scale(0)


# Keys are case-folded: "kwh" and "KWH" are unambiguous, and chargers send both.
# 1.6 spells Celsius "Celcius" in its schema (fixed in the errata); both are accepted.
_UNITS: dict[str, tuple[Quantity, Callable[[Decimal], Decimal]]] = {
    "wh": (Quantity.ACTIVE_ENERGY, _UNCHANGED),
    "kwh": (Quantity.ACTIVE_ENERGY, _scale(3)),
    "varh": (Quantity.REACTIVE_ENERGY, _UNCHANGED),
    "kvarh": (Quantity.REACTIVE_ENERGY, _scale(3)),
    "vah": (Quantity.APPARENT_ENERGY, _UNCHANGED),
    "kvah": (Quantity.APPARENT_ENERGY, _scale(3)),
    "w": (Quantity.ACTIVE_POWER, _UNCHANGED),
    "kw": (Quantity.ACTIVE_POWER, _scale(3)),
    "var": (Quantity.REACTIVE_POWER, _UNCHANGED),
    "kvar": (Quantity.REACTIVE_POWER, _scale(3)),
    "a": (Quantity.CURRENT, _UNCHANGED),
    "v": (Quantity.VOLTAGE, _UNCHANGED),
    "hz": (Quantity.FREQUENCY, _UNCHANGED),
    "hertz": (Quantity.FREQUENCY, _UNCHANGED),
    "celsius": (Quantity.TEMPERATURE, _UNCHANGED),
    "celcius": (Quantity.TEMPERATURE, _UNCHANGED),
    "k": (Quantity.TEMPERATURE, _kelvin),
    "fahrenheit": (Quantity.TEMPERATURE, _fahrenheit),
    "percent": (Quantity.PERCENTAGE, _UNCHANGED),
    "%": (Quantity.PERCENTAGE, _UNCHANGED),
    "rpm": (Quantity.ROTATION, _UNCHANGED),
}


#: Attributes of sampled values that raised no problem, by their four wire texts. Such
#: texts are all known names (or absent), so the table stays small; the same few
#: combinations arrive in almost every message.
_CLEAN_ATTRIBUTES: dict[tuple[object, object, object, object], _Attributes] = {}


#: How a known measurand's value sent in a unit that fits it becomes canonical, by
#: (measurand, unit as sent): the conversion and the canonical unit's name. Only units
#: that were accepted enter, so the table stays as small as the spellings chargers use.
_CONVERSIONS: dict[tuple[Measurand, str | None], tuple[Callable[[Decimal], Decimal], str]] = {}


def _attributes(
    sv: Mapping[str, Any], path: str, problems: list[MeterProblem]
) -> _Attributes | None:
    key = (sv.get("measurand"), sv.get("context"), sv.get("location"), sv.get("phase"))
    try:
        clean = _CLEAN_ATTRIBUTES.get(key)
    except TypeError:  # a list or an object where a name belongs: the walk below says so
        clean = None
    if clean is not None:
        return clean
    found = len(problems)
    attributes = _read_attributes(sv, path, problems)
    if attributes is not None and len(problems) == found:
        _CLEAN_ATTRIBUTES[key] = attributes
    return attributes


def _read_attributes(
    sv: Mapping[str, Any], path: str, problems: list[MeterProblem]
) -> _Attributes | None:
    texts: dict[str, str | None] = {}
    for key in ("measurand", "context", "location", "phase"):
        value = sv.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(_malformed(f"{key} must be a string", sv, path))
            return None
        texts[key] = value

    def flag(code: MeterProblemCode, text: str) -> None:
        problems.append(_problem(code, text, sv, path, dropped=False))

    measurand_name = texts["measurand"]
    measurand = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
    other_measurand = None
    if measurand_name is not None:
        measurand = _MEASURANDS.get(measurand_name, Measurand.OTHER)
        if measurand is Measurand.OTHER:
            other_measurand = measurand_name
            flag(MeterProblemCode.UNKNOWN_MEASURAND, f"unknown measurand {measurand_name!r}")
    context = ReadingContext.SAMPLE_PERIODIC
    context_name = texts["context"]
    if context_name is not None:
        context = _CONTEXTS.get(context_name, ReadingContext.OTHER)
        if context_name not in _CONTEXTS:
            flag(MeterProblemCode.UNKNOWN_CONTEXT, f"unknown context {context_name!r}")
    location = MeterLocation.OUTLET
    location_name = texts["location"]
    if location_name is not None:
        location = _LOCATIONS.get(location_name, MeterLocation.OTHER)
        if location is MeterLocation.OTHER:
            flag(MeterProblemCode.UNKNOWN_LOCATION, f"unknown location {location_name!r}")
    phase = texts["phase"]
    if phase is not None and phase not in _PHASES:
        flag(MeterProblemCode.UNKNOWN_PHASE, f"unknown phase {phase!r}")
    return _Attributes(
        measurand=measurand,
        other_measurand=other_measurand,
        context=context,
        location=location,
        phase=phase,
    )


def _reading(
    sv: Mapping[str, Any],
    attributes: _Attributes,
    at: datetime,
    path: str,
    problems: list[MeterProblem],
    *,
    unit: object,
    multiplier: int,
) -> Reading | None:
    if "value" not in sv:
        _drop(problems, sv, path, MeterProblemCode.MALFORMED, "sampled value has no value")
        return None
    number = _number(sv, path, problems)
    if number is None:
        return None
    measurand = attributes.measurand
    if unit is not None and not isinstance(unit, str):
        _drop(
            problems,
            sv,
            path,
            MeterProblemCode.UNKNOWN_UNIT,
            f"unit must be a string, not {unit!r}",
        )
        return None
    number = number.scaleb(multiplier)
    if measurand is Measurand.OTHER:
        # Nothing to check an unknown measurand's unit against: keep it as sent.
        return _make_reading(attributes, at, number, unit or "")
    conversion = _CONVERSIONS.get((measurand, unit))
    if conversion is None:
        quantity = measurand.quantity
        if unit is None:
            convert = _UNCHANGED
        else:
            known = _UNITS.get(unit.casefold())
            if known is None:
                _drop(problems, sv, path, MeterProblemCode.UNKNOWN_UNIT, f"unknown unit {unit!r}")
                return None
            unit_quantity, convert = known
            if unit_quantity is not quantity:
                _drop(
                    problems,
                    sv,
                    path,
                    MeterProblemCode.WRONG_UNIT,
                    f"unit {unit!r} measures {unit_quantity}, not the {quantity} of {measurand}",
                )
                return None
        conversion = _CONVERSIONS[(measurand, unit)] = (convert, quantity.unit)
    convert, canonical_unit = conversion
    value = convert(number)
    if value < 0 and measurand.is_register:
        _drop(
            problems,
            sv,
            path,
            MeterProblemCode.NEGATIVE_REGISTER,
            f"{measurand} cannot be negative",
        )
        return None
    return _make_reading(attributes, at, value, canonical_unit)


def _drop(
    problems: list[MeterProblem],
    sv: Mapping[str, Any],
    path: str,
    code: MeterProblemCode,
    text: str,
) -> None:
    problems.append(_problem(code, text, sv, path, dropped=True))


def _number(sv: Mapping[str, Any], path: str, problems: list[MeterProblem]) -> Decimal | None:
    raw = sv["value"]
    try:
        return parse_number(raw)
    except BadNumberError as error:
        # Some firmware right-aligns numbers (" 0.0"); the digits are still unambiguous.
        if isinstance(raw, str) and raw.strip(" ") != raw:
            try:
                number = parse_decimal(raw.strip(" "))
            except BadNumberError:
                pass
            else:
                problems.append(
                    _problem(
                        MeterProblemCode.PADDED_NUMBER,
                        "value padded with spaces; read without them",
                        sv,
                        path,
                        dropped=False,
                    )
                )
                return number
        problems.append(_problem(MeterProblemCode.BAD_NUMBER, str(error), sv, path, dropped=True))
        return None


def _make_reading(attributes: _Attributes, at: datetime, value: Decimal, unit: str) -> Reading:
    return _new_reading(
        measurand=attributes.measurand,
        other_measurand=attributes.other_measurand,
        value=value,
        unit=unit,
        at=at,
        context=attributes.context,
        location=attributes.location,
        phase=attributes.phase,
    )


# --- phase totals ---------------------------------------------------------------------------

_SUMMED = frozenset(
    {
        Quantity.ACTIVE_ENERGY,
        Quantity.REACTIVE_ENERGY,
        Quantity.APPARENT_ENERGY,
        Quantity.ACTIVE_POWER,
        Quantity.REACTIVE_POWER,
    }
)


def _phase_totals(
    readings: list[Reading], path: str, problems: list[MeterProblem]
) -> list[Reading]:
    """Totals for measurands a sample reports only per phase.

    Energy and power add up over the phases. Current does not: a three-phase car drawing
    16 A draws 16 A on each conductor, and current limits (charging profiles, OCPI
    ``max_current``) are per phase, so the total kept is the highest phase current.
    A sample that already has a phase-less reading of the measurand keeps that one.
    """
    groups: dict[tuple[Measurand, ReadingContext, MeterLocation], list[Reading]] = {}
    for reading in readings:
        key = (reading.measurand, reading.context, reading.location)
        groups.setdefault(key, []).append(reading)
    totals: list[Reading] = []
    for (measurand, _, _), group in groups.items():
        quantity = measurand.quantity
        if quantity not in _SUMMED and quantity is not Quantity.CURRENT:
            continue
        if any(r.phase is None for r in group):
            continue
        lines: dict[str, Reading] = {}
        conflict = False
        for reading in group:
            line = _LINE_OF.get(reading.phase or "")
            if line is None:
                continue
            conflict = conflict or line in lines
            lines[line] = reading
        if not lines:
            continue
        if conflict:
            problems.append(
                _problem(
                    MeterProblemCode.CONFLICTING_PHASES,
                    f"{measurand} reported twice for one phase; no total computed",
                    [r.phase for r in group],
                    path,
                    dropped=False,
                )
            )
            continue
        values = [r.value for r in lines.values()]
        total = max(values) if quantity is Quantity.CURRENT else sum(values, Decimal(0))
        first = group[0]
        totals.append(
            _new_reading(
                measurand=first.measurand,
                value=total,
                unit=first.unit,
                at=first.at,
                context=first.context,
                location=first.location,
                phase=None,
                from_phases=True,
                other_measurand=first.other_measurand,
            )
        )
    return totals


# --- problems -------------------------------------------------------------------------------


def _problem(
    code: MeterProblemCode, text: str, raw: object, path: str, *, dropped: bool
) -> MeterProblem:
    return MeterProblem(code=code, text=text, raw=_as_json(raw), path=path, dropped=dropped)


def _malformed(text: str, raw: object, path: str) -> MeterProblem:
    return _problem(MeterProblemCode.MALFORMED, text, raw, path, dropped=True)


def _as_json(raw: object) -> str:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr)
    return text if len(text) <= _RAW_LIMIT else text[: _RAW_LIMIT - 1] + "…"


#: Timestamps already read, by their text. A charger stamps every value of a meterValue
#: with one timestamp and many chargers send the same second, so most texts repeat; the
#: parse is a pure function of the text. Bounded: cleared when full, and long texts
#: (nothing RFC 3339 is longer than ~40 characters) are never kept.
_READ_TIMESTAMPS: dict[str, _Stamp | None] = {}
_READ_TIMESTAMPS_LIMIT = 1024
_CACHED_TIMESTAMP_LENGTH = 64


def _read_timestamp(text: str) -> _Stamp | None:
    """What a timestamp text says regardless of when it arrived; ``None``: not RFC 3339.

    (UTC time, that time less `FUTURE_TOLERANCE`, the fault of the text itself): a receive
    time before the second is a timestamp in the future, a comparison per message rather
    than an addition and a comparison. A text before `EARLIEST_PLAUSIBLE` has the fault
    `_TOO_OLD`, and its own time in place of the second (which could underflow).
    """
    try:
        return _READ_TIMESTAMPS[text]
    except KeyError:
        pass
    parsed = _read_rfc3339(text)
    stamp: _Stamp | None = None
    if parsed is not None:
        at, has_offset = parsed
        if at < EARLIEST_PLAUSIBLE:
            stamp = (at, at, _TOO_OLD)
        else:
            stamp = (at, at - FUTURE_TOLERANCE, None if has_offset else _WITHOUT_OFFSET)
    if len(text) <= _CACHED_TIMESTAMP_LENGTH:
        if len(_READ_TIMESTAMPS) >= _READ_TIMESTAMPS_LIMIT:
            _READ_TIMESTAMPS.clear()
        _READ_TIMESTAMPS[text] = stamp
    return stamp


def _read_rfc3339(text: str) -> tuple[datetime, bool] | None:
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        tz: timezone = UTC
        if offset is not None and offset not in ("Z", "z"):
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        at = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micro,
            tzinfo=tz,
        )
    except ValueError:  # month 13, second 60, offset of 24 h or more
        return None
    return at.astimezone(UTC), offset is not None
