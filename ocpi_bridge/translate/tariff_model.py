"""Pure: OCPI 2.2.1 Tariff JSON -> the tariff engine's own frozen tariff types.

These types are the engine's input vocabulary and do not depend on the OCPI wire models, so
the engine can price a session from a stored tariff, a pydantic model dump or a hand-written
test fixture alike. `tariff_from_ocpi` accepts the decoded JSON object of one Tariff (the body
of a PUT, one item of a GET list) and raises `TariffFormatError` (a `ValueError`) for anything
that breaks the 2.2.1 Tariff object definition where pricing depends on it. Fields that do not
affect cost (`tariff_alt_text`, `tariff_alt_url`, `energy_mix`, `type`, `start_date_time`, ...)
are ignored: choosing which tariff applies to a session is the caller's job.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

_E = TypeVar("_E", bound=StrEnum)


class TariffFormatError(ValueError):
    """A Tariff JSON object that does not follow OCPI 2.2.1 where pricing depends on it."""


class TariffDimensionType(StrEnum):
    """What a price component prices (OCPI TariffDimensionType)."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    """OCPI DayOfWeek; the declaration order follows `date.weekday()`."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    """Marks a tariff element as pricing reservation time instead of the session."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


@dataclass(frozen=True, slots=True, kw_only=True)
class Money:
    """An amount in the tariff's currency; `incl_vat` is None only where the source gave none."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceComponent:
    """Price per unit of one dimension: per kWh, per hour, or per session for FLAT.

    `vat` is a percentage; None means no VAT is applicable (OCPI: "not providing a VAT is
    different from 0%"), which the engine prices as incl_vat == excl_vat. `step_size` is in
    Wh for ENERGY and seconds for TIME and PARKING_TIME; 0 disables rounding.
    """

    type: TariffDimensionType
    price: Decimal
    vat: Decimal | None = None
    step_size: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffRestrictions:
    """When a tariff element applies; every field that is set must hold (logical AND).

    `end_time` 00:00 means the end of the day. Durations are in seconds, energy in kWh, power
    in kW and current in A, as on the wire.
    """

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[DayOfWeek] = frozenset()
    reservation: ReservationRestrictionType | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffElement:
    """Price components that share one set of restrictions (None: always applicable)."""

    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffPlan:
    """The cost-relevant part of one OCPI Tariff; element order matters (first match wins)."""

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    min_price: Money | None = None
    max_price: Money | None = None


_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")


def tariff_from_ocpi(obj: Mapping[str, Any]) -> TariffPlan:
    """Build a `TariffPlan` from one decoded OCPI 2.2.1 Tariff object.

    Raises:
        TariffFormatError: a cost-relevant field is missing or malformed.
    """
    elements = _list(obj, "elements")
    if not elements:
        raise TariffFormatError("Tariff.elements must hold at least one TariffElement")
    return TariffPlan(
        id=_str(obj, "id"),
        currency=_str(obj, "currency"),
        elements=tuple(_element(_mapping(item, "TariffElement")) for item in elements),
        min_price=_money(obj.get("min_price"), "min_price"),
        max_price=_money(obj.get("max_price"), "max_price"),
    )


def _element(obj: Mapping[str, Any]) -> TariffElement:
    components = _list(obj, "price_components")
    if not components:
        raise TariffFormatError(
            "TariffElement.price_components must hold at least one PriceComponent"
        )
    raw = obj.get("restrictions")
    return TariffElement(
        price_components=tuple(_component(_mapping(c, "PriceComponent")) for c in components),
        restrictions=None if raw is None else _restrictions(_mapping(raw, "TariffRestrictions")),
    )


def _component(obj: Mapping[str, Any]) -> PriceComponent:
    step = obj.get("step_size")
    if type(step) is not int or step < 0:
        raise TariffFormatError(
            f"PriceComponent.step_size must be a non-negative int, not {step!r}"
        )
    return PriceComponent(
        type=_enum(TariffDimensionType, obj.get("type"), "PriceComponent.type"),
        price=_number(obj.get("price"), "PriceComponent.price"),
        vat=_optional_number(obj, "vat"),
        step_size=step,
    )


def _restrictions(obj: Mapping[str, Any]) -> TariffRestrictions:
    days = obj.get("day_of_week") or []
    if not isinstance(days, Sequence) or isinstance(days, str):
        raise TariffFormatError("TariffRestrictions.day_of_week must be a list")
    reservation = obj.get("reservation")
    return TariffRestrictions(
        start_time=_time(obj.get("start_time"), "start_time"),
        end_time=_time(obj.get("end_time"), "end_time"),
        start_date=_date(obj.get("start_date"), "start_date"),
        end_date=_date(obj.get("end_date"), "end_date"),
        min_kwh=_optional_number(obj, "min_kwh"),
        max_kwh=_optional_number(obj, "max_kwh"),
        min_current=_optional_number(obj, "min_current"),
        max_current=_optional_number(obj, "max_current"),
        min_power=_optional_number(obj, "min_power"),
        max_power=_optional_number(obj, "max_power"),
        min_duration=_optional_int(obj, "min_duration"),
        max_duration=_optional_int(obj, "max_duration"),
        day_of_week=frozenset(_enum(DayOfWeek, d, "day_of_week") for d in days),
        reservation=None
        if reservation is None
        else _enum(ReservationRestrictionType, reservation, "reservation"),
    )


def _money(raw: object, field: str) -> Money | None:
    if raw is None:
        return None
    obj = _mapping(raw, field)
    return Money(
        excl_vat=_number(obj.get("excl_vat"), f"{field}.excl_vat"),
        incl_vat=_optional_number(obj, "incl_vat"),
    )


def _mapping(raw: object, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise TariffFormatError(f"{what} must be a JSON object")
    return raw


def _list(obj: Mapping[str, Any], key: str) -> Sequence[Any]:
    raw = obj.get(key)
    if not isinstance(raw, list):
        raise TariffFormatError(f"{key} must be a list")
    return raw


def _str(obj: Mapping[str, Any], key: str) -> str:
    raw = obj.get(key)
    if not isinstance(raw, str) or not raw:
        raise TariffFormatError(f"{key} must be a non-empty string")
    return raw


def _number(raw: object, field: str) -> Decimal:
    # JSON numbers arrive as int or float; going through str keeps 0.1 as 0.1, not its binary
    # neighbour, and bool (an int subclass) is not a number on the wire.
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        raise TariffFormatError(f"{field} must be a number, not {raw!r}")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise TariffFormatError(f"{field} must be a number, not {raw!r}") from None
    if not value.is_finite():
        raise TariffFormatError(f"{field} must be finite, not {raw!r}")
    return value


def _optional_number(obj: Mapping[str, Any], key: str) -> Decimal | None:
    raw = obj.get(key)
    return None if raw is None else _number(raw, key)


def _optional_int(obj: Mapping[str, Any], key: str) -> int | None:
    raw = obj.get(key)
    if raw is None:
        return None
    if type(raw) is not int:
        raise TariffFormatError(f"{key} must be an int, not {raw!r}")
    return raw


def _time(raw: object, field: str) -> time | None:
    if raw is None:
        return None
    match = _TIME.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise TariffFormatError(f"{field} must look like HH:MM, not {raw!r}")
    return time(int(match[1]), int(match[2]))


def _date(raw: object, field: str) -> date | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or _DATE.fullmatch(raw) is None:
        raise TariffFormatError(f"{field} must look like YYYY-MM-DD, not {raw!r}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise TariffFormatError(f"{field} is not a calendar date: {raw!r}") from None


def _enum(cls: type[_E], raw: object, field: str) -> _E:
    try:
        return cls(str(raw))
    except ValueError:
        raise TariffFormatError(
            f"{field}: {raw!r} is not one of {[m.value for m in cls]}"
        ) from None
