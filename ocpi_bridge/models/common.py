"""Data: OCPI 2.2.1 base types (types.asciidoc), the model base class and the response envelope.

Every wire model derives from :class:`OcpiModel` (frozen, unknown fields rejected).
Field types follow the spec's type table:

- ``CiString(n)``: printable ASCII (U+0020..U+007E), at most *n* characters. Case is
  kept as received; compare with :func:`ci_equal`.
- ``String(n)``: at most *n* characters, no control characters (the spec allows any
  printable UTF-8).
- :data:`DateTime`: RFC 3339 in UTC on the wire; always a tz-aware UTC ``datetime``
  in Python.
- :data:`Number`: a JSON number on the wire, a ``Decimal`` in Python.
- :data:`Int` / :data:`Bool`: JSON integers / booleans only (no ``"12"`` or ``1`` for
  ``true``).

Serialise with ``model_dump(mode="json", exclude_none=True)`` so absent optional fields
stay absent.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Generic, TypeVar

from annotated_types import GroupedMetadata
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

__all__ = [
    "Bool",
    "CiString",
    "CountryCode",
    "Currency",
    "DateTime",
    "DisplayText",
    "Envelope",
    "Int",
    "LanguageCode",
    "Number",
    "OcpiModel",
    "PartyId",
    "Price",
    "Role",
    "String",
    "Url",
    "ci_equal",
    "format_datetime",
    "parse_datetime",
]

# --- strings -------------------------------------------------------------------------

_PRINTABLE_ASCII = r"^[\x20-\x7E]*$"
# string: "Only printable UTF-8 allowed (non-printable characters like carriage returns,
# tabs, line breaks, etc. are not allowed)": reject C0 and C1 control characters.
_NO_CONTROL_CHARACTERS = r"^[^\x00-\x1F\x7F-\x9F]*$"


@dataclass(frozen=True, slots=True)
class CiString(GroupedMetadata):
    """``CiString(n)``: case-insensitive, printable ASCII, at most ``max_length`` characters.

    Use as ``Annotated[str, CiString(36)]``. The value keeps the case it was given;
    comparisons that the spec makes case-insensitive go through :func:`ci_equal`.
    """

    max_length: int

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(max_length=self.max_length, pattern=_PRINTABLE_ASCII)


@dataclass(frozen=True, slots=True)
class String(GroupedMetadata):
    """``string(n)``: case-sensitive, no control characters, at most ``max_length`` characters.

    ``max_length=None`` is the spec's unbounded ``string``.
    """

    max_length: int | None = None

    def __iter__(self) -> Iterator[object]:
        yield StringConstraints(max_length=self.max_length, pattern=_NO_CONTROL_CHARACTERS)


def ci_equal(a: str, b: str) -> bool:
    """Compare two CiStrings the way OCPI does: ASCII case-insensitively."""
    return a.casefold() == b.casefold()


CountryCode = Annotated[str, CiString(2)]
"""ISO-3166 alpha-2 country code of a party, ``CiString(2)``."""

PartyId = Annotated[str, CiString(3)]
"""Party ID (ISO-15118), ``CiString(3)``."""

Currency = Annotated[str, String(3)]
"""ISO 4217 currency code, ``string(3)``."""

LanguageCode = Annotated[str, String(2)]
"""ISO 639-1 language code, ``string(2)``."""

Url = Annotated[str, String(255)]
"""``URL``: a ``string(255)``. Kept verbatim (no normalisation), so it round-trips."""

# --- DateTime ------------------------------------------------------------------------

_DATETIME_MAX_LENGTH = 25
_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(?:\.(?P<fraction>\d{1,6}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,  # \d must not match other scripts' digits
)


def parse_datetime(value: str) -> datetime:
    """Parse an OCPI ``DateTime`` into a tz-aware UTC ``datetime``.

    Accepts RFC 3339 date-times of at most 25 characters (``string(25)``): with ``Z``,
    without a zone designator (which OCPI defines as UTC), with fractional seconds,
    and, leniently, with a numeric offset, which is converted to UTC.

    Raises:
        ValueError: ``value`` is not such a date-time.
    """
    if len(value) > _DATETIME_MAX_LENGTH:
        raise ValueError(f"DateTime is longer than {_DATETIME_MAX_LENGTH} characters")
    match = _DATETIME_RE.fullmatch(value)
    if match is None:
        raise ValueError("DateTime must look like 2015-06-29T20:39:09Z (RFC 3339)")
    zone = match["zone"]
    if zone is None or zone in "Zz":
        tzinfo: timezone = UTC
    else:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("DateTime has an invalid UTC offset")
        offset = timedelta(hours=hours, minutes=minutes)
        tzinfo = timezone(-offset if zone[0] == "-" else offset)
    fraction = match["fraction"] or "0"
    try:
        parsed = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction.ljust(6, "0")),
            tzinfo=tzinfo,
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"DateTime is not a valid date and time: {exc}") from None


def format_datetime(value: datetime) -> str:
    """Format a tz-aware ``datetime`` as an OCPI ``DateTime``: UTC with a ``Z``.

    Whole seconds give ``2015-06-29T20:39:09Z``; otherwise the time is truncated to
    milliseconds, ``2015-06-29T20:39:09.123Z``. Never ``+00:00`` (the spec: "+00:00 is
    not the same as UTC"), never more than 24 characters.

    Raises:
        ValueError: ``value`` is naive.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: OCPI timestamps must be tz-aware UTC")
    utc = value.astimezone(UTC)
    whole = utc.replace(microsecond=0, tzinfo=None).isoformat()
    millis = utc.microsecond // 1000
    return f"{whole}.{millis:03d}Z" if millis else f"{whole}Z"


def _to_utc_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass a tz-aware UTC datetime")
        return value.astimezone(UTC)
    if isinstance(value, str):
        return parse_datetime(value)
    raise ValueError("DateTime must be an RFC 3339 string")


DateTime = Annotated[
    datetime,
    BeforeValidator(_to_utc_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]
"""OCPI ``DateTime``: parsed by :func:`parse_datetime`, emitted by :func:`format_datetime`."""

# --- numbers -------------------------------------------------------------------------


def _json_number_only(value: object) -> object:
    # "Numbers in OCPI are formatted as JSON numbers": a quoted "2.00" or a boolean is
    # a sender bug worth surfacing rather than guessing at.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("number must be a JSON number")  # noqa: TRY004 - pydantic wants ValueError
    return value


def _number_to_json(value: Decimal) -> int | float:
    # pydantic renders Decimal as a JSON string; OCPI wants a number. Integral values
    # stay exact as int; the rest go through float, whose shortest repr is exact for
    # the spec's "4 decimals and a sufficiently large amount of digits".
    if value == value.to_integral_value():
        return int(value)
    return float(value)


Number = Annotated[
    Decimal,
    BeforeValidator(_json_number_only),
    Field(allow_inf_nan=False),
    PlainSerializer(_number_to_json, return_type=int | float, when_used="json"),
    WithJsonSchema({"type": "number"}),
]
"""OCPI ``number``: a ``Decimal`` in Python, a JSON number on the wire."""

Int = StrictInt
"""OCPI ``int``: a JSON integer (strings and floats are rejected)."""

Bool = StrictBool
"""OCPI ``boolean``: a JSON ``true``/``false``."""

# --- base model and shared classes ---------------------------------------------------


class OcpiModel(BaseModel):
    """Base of every OCPI wire object: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Role(StrEnum):
    """Role of a party (types.asciidoc, Role enum)."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class DisplayText(OcpiModel):
    """A text in one language (types.asciidoc, DisplayText class)."""

    language: LanguageCode
    text: Annotated[str, String(512)]


class Price(OcpiModel):
    """An amount of money, excluding and optionally including VAT (types.asciidoc, Price)."""

    excl_vat: Number
    incl_vat: Number | None = None


T = TypeVar("T")


class Envelope(OcpiModel, Generic[T]):
    """The response format wrapped around every OCPI response (transport_and_format).

    ``data`` is absent on errors and where the spec defines no response data; parametrise
    it to validate the payload, e.g. ``Envelope[list[Token]]``. ``status_message`` is a
    free debugging aid, so it is accepted as any string.
    """

    data: T | None = None
    status_code: Int
    status_message: str | None = None
    timestamp: DateTime
