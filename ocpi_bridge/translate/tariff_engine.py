"""Pure: a tariff and what happened in a session -> OCPI charging periods and costs (2.2.1).

The CDR builder (and the Session PATCH for a running cost) calls `cost_session`; a reservation
that expired without a session is priced by `cost_expired_reservation`. Nothing here reads the
clock, the filesystem or the network; the Location's time zone is passed in as a `tzinfo`
(build it at the edge with `zoneinfo.ZoneInfo(location.time_zone)`).

What happened (`SessionUsage`):
    `start` and `end` bound the session. `samples` is the meter timeline: the first sample is
    at `start`, instants strictly increase and none lies after `end`. A sample's `energy_wh`
    is a cumulative register reading (any offset; the session's energy is measured from the
    first sample) and must not decrease. Between two samples energy accrues linearly in time,
    which is how a period is split where `min_kwh`/`max_kwh` is crossed or where a clock
    boundary (22:00, midnight, `max_duration`) falls inside a sample interval. After the last
    sample no energy accrues. A sample's `charging`, `power_w` and `current_a` hold from its
    instant until the next sample (or `end`): they are what the charger reported at that
    instant. `charging=False` is parking time (the EV no longer requests power). When
    `power_w` is absent the interval's average power (energy / time) stands in for it in
    `min_power`/`max_power`; when `current_a` is absent a `min_current`/`max_current`
    restriction does not hold. A last sample exactly at `end` only contributes its reading.
    `reservation`, when given, is the reservation that this session followed: it ran from
    `reservation.start` to `reservation.end` (at or before `start`).

How it is priced (OCPI 2.2.1 Tariffs module and CDR `step_size` rules):
    * Elements with a `reservation` restriction price only the reservation; all others price
      only the session. Per dimension the first element (in tariff order) that has a
      component of that dimension and whose restrictions all hold at that instant applies.
      All restrictions are evaluated per instant, on the Location's wall clock for times,
      days and dates (DST aware; `end_time` 00:00 is the end of the day, `end_time` before
      `start_time` wraps past midnight, equal times mean the whole day), on the session's
      energy so far for kWh, on the time since the session start for durations.
    * A new charging period starts wherever the applicable component of FLAT, ENERGY or the
      time dimension in use (TIME while charging, PARKING_TIME while parking) changes, and
      wherever charging turns into parking or back.
    * FLAT is charged once: the component that applies at the first instant at which any
      FLAT component applies. The reservation has its own FLAT. Reservation elements price
      only FLAT and TIME (reservation time); their other components are ignored.
    * `step_size` is applied once to the total ENERGY billed under ENERGY components, and
      once to TIME and PARKING_TIME together: only to the total of the dimension of the last
      period billed under a time component. The rounding uses the step of the component of
      the last period that consumed that dimension, and the extra volume is billed at its
      price. Reservation time is rounded on its own. `step_size` 0 means no rounding.
    * VAT is per component: incl_vat = excl_vat x (1 + vat/100); a component without `vat`
      has no VAT applicable, so it adds the same amount to incl_vat as to excl_vat.
    * Money is kept exact (rational arithmetic) and each cost category is rounded half away
      from zero to 4 decimals at the end; `total_cost` is the sum of the rounded categories,
      then clamped to `min_price`/`max_price` (excl. and incl. VAT each against its own
      bound; a bound without incl_vat moves incl_vat by the same amount as excl_vat). The
      categories stay as priced, and `min_max_adjustment` holds what the clamp added (or,
      negative, removed), so the categories plus the adjustment equal `total_cost`.
    * Volumes in periods and totals are rounded to 4 decimals: kWh, hours, kW and A.

`total_fixed_cost` holds the session's FLAT; `total_reservation_cost` the reservation's FLAT
and time. `total_time_h` is the session's duration (not the reservation's).
"""

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from itertools import groupby, pairwise

from ocpi_bridge.translate.tariff_clock import wall_clock_breaks
from ocpi_bridge.translate.tariff_model import (
    DayOfWeek,
    Money,
    PriceComponent,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffElement,
    TariffFormatError,
    TariffPlan,
    TariffRestrictions,
    tariff_from_ocpi,
)

__all__ = [
    "CdrDimension",
    "CdrDimensionType",
    "ChargingPeriodOut",
    "CostedSession",
    "DayOfWeek",
    "Money",
    "PriceComponent",
    "Reservation",
    "ReservationRestrictionType",
    "SessionUsage",
    "TariffDimensionType",
    "TariffElement",
    "TariffFormatError",
    "TariffPlan",
    "TariffRestrictions",
    "UsageSample",
    "cost_expired_reservation",
    "cost_session",
    "tariff_from_ocpi",
]

MONEY_PLACES = 4
VOLUME_PLACES = 4


class CdrDimensionType(StrEnum):
    """The CDR dimension types this engine reports."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    RESERVATION_TIME = "RESERVATION_TIME"
    TIME = "TIME"


def _require_aware(value: datetime, what: str) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def _utc(value: datetime) -> datetime:
    # Datetimes sharing a tzinfo compare by wall clock, which is wrong across a DST fold.
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageSample:
    """The meter register and the charger's state at one instant (see the module docstring)."""

    at: datetime
    energy_wh: Decimal
    charging: bool = True
    power_w: Decimal | None = None
    current_a: Decimal | None = None

    def __post_init__(self) -> None:
        _require_aware(self.at, "UsageSample.at")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """The time an EVSE was held for the driver: from being reserved until use or expiry."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, "Reservation.start")
        _require_aware(self.end, "Reservation.end")
        if _utc(self.end) < _utc(self.start):
            raise ValueError("Reservation.end is before Reservation.start")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionUsage:
    """What happened in one charging session (see the module docstring for the rules)."""

    start: datetime
    end: datetime
    time_zone: tzinfo
    samples: tuple[UsageSample, ...]
    reservation: Reservation | None = None

    def __post_init__(self) -> None:
        _require_aware(self.start, "SessionUsage.start")
        _require_aware(self.end, "SessionUsage.end")
        if _utc(self.end) < _utc(self.start):
            raise ValueError("SessionUsage.end is before SessionUsage.start")
        if not self.samples or _utc(self.samples[0].at) != _utc(self.start):
            raise ValueError("the first UsageSample must be at SessionUsage.start")
        for before, after in pairwise(self.samples):
            if _utc(after.at) <= _utc(before.at):
                raise ValueError("UsageSample instants must strictly increase")
            if after.energy_wh < before.energy_wh:
                raise ValueError("UsageSample.energy_wh must not decrease")
        if _utc(self.samples[-1].at) > _utc(self.end):
            raise ValueError("a UsageSample lies after SessionUsage.end")
        if self.reservation is not None and _utc(self.reservation.end) > _utc(self.start):
            raise ValueError("the reservation must end at or before the session start")


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrDimension:
    """One measured volume of a charging period, in the unit OCPI gives its type."""

    type: CdrDimensionType
    volume: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingPeriodOut:
    """One OCPI ChargingPeriod: it lasts until the next one starts, the last until the end."""

    start: datetime
    dimensions: tuple[CdrDimension, ...]
    tariff_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CostedSession:
    """Charging periods and CDR totals; every Money here carries incl_vat."""

    currency: str
    charging_periods: tuple[ChargingPeriodOut, ...]
    total_cost: Money
    total_fixed_cost: Money
    total_energy_cost: Money
    total_time_cost: Money
    total_parking_cost: Money
    total_reservation_cost: Money
    min_max_adjustment: Money
    total_energy_kwh: Decimal
    total_time_h: Decimal
    total_parking_time_h: Decimal
    total_reservation_time_h: Decimal


def cost_session(tariff: TariffPlan, usage: SessionUsage) -> CostedSession:
    """Charging periods and costs of a session (and of the reservation it followed, if any)."""
    reservation_periods: list[_Period] = []
    if usage.reservation is not None:
        reservation_periods = _reservation_periods(
            usage.reservation,
            usage.time_zone,
            _eligible(tariff, ReservationRestrictionType.RESERVATION),
        )
    session_periods = _session_periods(tariff, usage)
    energy_wh = Fraction(usage.samples[-1].energy_wh - usage.samples[0].energy_wh)
    return _assemble(
        tariff,
        reservation_periods,
        session_periods,
        energy_wh=energy_wh,
        session_seconds=_seconds(usage.end) - _seconds(usage.start),
    )


def cost_expired_reservation(
    tariff: TariffPlan, reservation: Reservation, *, time_zone: tzinfo
) -> CostedSession:
    """Costs of a reservation that expired without a charging session.

    Elements restricted to RESERVATION_EXPIRES apply first, per dimension; elements restricted
    to RESERVATION are the fallback (OCPI: the expiry element's TIME wins over the
    reservation element's TIME).
    """
    elements = _eligible(tariff, ReservationRestrictionType.RESERVATION_EXPIRES) + _eligible(
        tariff, ReservationRestrictionType.RESERVATION
    )
    periods = _reservation_periods(reservation, time_zone, elements)
    return _assemble(tariff, periods, [], energy_wh=Fraction(0), session_seconds=Fraction(0))


# --- internals -----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY_MICROSECONDS = 86_400_000_000
_WEEKDAYS = tuple(DayOfWeek)

_Ref = tuple[int, int]  # (element index, component index) identifies a price component
_Active = Mapping[TariffDimensionType, tuple[_Ref, PriceComponent]]

_SESSION_CHARGING = (TariffDimensionType.FLAT, TariffDimensionType.ENERGY, TariffDimensionType.TIME)
_SESSION_PARKING = (
    TariffDimensionType.FLAT,
    TariffDimensionType.ENERGY,
    TariffDimensionType.PARKING_TIME,
)
_RESERVATION = (TariffDimensionType.FLAT, TariffDimensionType.TIME)


def _seconds(instant: datetime) -> Fraction:
    return Fraction((instant - _EPOCH) // _MICROSECOND, 1_000_000)


def _instant(seconds: Fraction) -> datetime:
    # Flooring keeps an instant on the same side of every whole-microsecond boundary.
    return _EPOCH + timedelta(microseconds=math.floor(seconds * 1_000_000))


def _fraction(value: Decimal | None) -> Fraction | None:
    return None if value is None else Fraction(value)


@dataclass(frozen=True, slots=True)
class _Atom:
    """A stretch over which nothing that affects price changes."""

    t0: Fraction
    t1: Fraction
    e0: Fraction  # Wh since the session start
    e1: Fraction
    charging: bool
    power_w: Fraction | None  # as sampled
    current_a: Fraction | None  # as sampled
    rule_power_w: Fraction | None  # as sampled, else the interval's average


@dataclass(frozen=True, slots=True)
class _Moment:
    wall: datetime
    elapsed_s: Fraction
    energy_wh: Fraction
    power_w: Fraction | None
    current_a: Fraction | None


@dataclass(frozen=True, slots=True)
class _Period:
    start: Fraction
    seconds: Fraction
    energy_wh: Fraction
    charging: bool
    active: _Active
    powers: tuple[Fraction, ...] = ()
    currents: tuple[Fraction, ...] = ()


@dataclass(frozen=True, slots=True)
class _Amount:
    excl: Fraction = field(default_factory=Fraction)
    incl: Fraction = field(default_factory=Fraction)

    def __add__(self, other: "_Amount") -> "_Amount":
        return _Amount(self.excl + other.excl, self.incl + other.incl)


def _eligible(
    tariff: TariffPlan, reservation: ReservationRestrictionType | None
) -> list[tuple[int, TariffElement]]:
    return [
        (index, element)
        for index, element in enumerate(tariff.elements)
        if (element.restrictions.reservation if element.restrictions else None) == reservation
    ]


def _breaks(
    elements: Sequence[tuple[int, TariffElement]], tz: tzinfo, lo: datetime, hi: datetime
) -> list[Fraction]:
    restrictions = [el.restrictions for _, el in elements if el.restrictions is not None]
    times = frozenset(
        moment for r in restrictions for moment in (r.start_time, r.end_time) if moment is not None
    )
    lo_s, hi_s = _seconds(lo), _seconds(hi)
    found = {_seconds(instant) for instant in wall_clock_breaks(tz, lo, hi, times)}
    for r in restrictions:
        for duration in (r.min_duration, r.max_duration):
            if duration is not None and lo_s < lo_s + duration < hi_s:
                found.add(lo_s + duration)
    return sorted(found)


def _session_atoms(
    usage: SessionUsage, breaks: Sequence[Fraction], thresholds_wh: Iterable[Fraction]
) -> list[_Atom]:
    samples = usage.samples
    base = samples[0].energy_wh
    atoms: list[_Atom] = []
    for index, sample in enumerate(samples):
        following = samples[index + 1] if index + 1 < len(samples) else None
        a = _seconds(sample.at)
        b = _seconds(following.at if following is not None else usage.end)
        if b == a:
            continue
        ea = Fraction(sample.energy_wh - base)
        eb = Fraction(following.energy_wh - base) if following is not None else ea
        power = _fraction(sample.power_w)
        cuts = set(breaks[bisect_right(breaks, a) : bisect_left(breaks, b)])
        cuts.update(a + (k - ea) * (b - a) / (eb - ea) for k in thresholds_wh if ea < k < eb)
        for t0, t1 in pairwise([a, *sorted(cuts), b]):
            atoms.append(
                _Atom(
                    t0=t0,
                    t1=t1,
                    e0=ea + (eb - ea) * (t0 - a) / (b - a),
                    e1=ea + (eb - ea) * (t1 - a) / (b - a),
                    charging=sample.charging,
                    power_w=power,
                    current_a=_fraction(sample.current_a),
                    rule_power_w=power if power is not None else (eb - ea) * 3600 / (b - a),
                )
            )
    if not atoms:  # a session of no duration still gets its one period (and its FLAT fee)
        first = samples[0]
        start = _seconds(usage.start)
        power = _fraction(first.power_w)
        atoms.append(
            _Atom(start, start, Fraction(0), Fraction(0), first.charging, power,
                  _fraction(first.current_a), power)
        )  # fmt: skip
    return atoms


def _session_periods(tariff: TariffPlan, usage: SessionUsage) -> list[_Period]:
    elements = _eligible(tariff, None)
    thresholds = {
        Fraction(kwh) * 1000
        for _, el in elements
        if el.restrictions is not None
        for kwh in (el.restrictions.min_kwh, el.restrictions.max_kwh)
        if kwh is not None
    }
    breaks = _breaks(elements, usage.time_zone, usage.start, usage.end)
    atoms = _session_atoms(usage, breaks, thresholds)
    origin = _seconds(usage.start)
    priced = []
    for atom in atoms:
        moment = _Moment(
            wall=_instant(atom.t0).astimezone(usage.time_zone),
            elapsed_s=atom.t0 - origin,
            energy_wh=atom.e0,
            power_w=atom.rule_power_w,
            current_a=atom.current_a,
        )
        dims = _SESSION_CHARGING if atom.charging else _SESSION_PARKING
        priced.append((atom, _select(elements, dims, moment)))
    return _group(priced)


def _reservation_periods(
    reservation: Reservation,
    tz: tzinfo,
    elements: Sequence[tuple[int, TariffElement]],
) -> list[_Period]:
    lo, hi = _seconds(reservation.start), _seconds(reservation.end)
    points = [lo, *_breaks(elements, tz, reservation.start, reservation.end), hi]
    spans = list(pairwise(points)) if hi > lo else [(lo, lo)]
    priced = []
    for t0, t1 in spans:
        atom = _Atom(t0, t1, Fraction(0), Fraction(0), False, None, None, None)
        moment = _Moment(
            wall=_instant(t0).astimezone(tz),
            elapsed_s=t0 - lo,
            energy_wh=Fraction(0),
            power_w=None,
            current_a=None,
        )
        priced.append((atom, _select(elements, _RESERVATION, moment)))
    return _group(priced)


def _select(
    elements: Sequence[tuple[int, TariffElement]],
    dims: Sequence[TariffDimensionType],
    moment: _Moment,
) -> dict[TariffDimensionType, tuple[_Ref, PriceComponent]]:
    chosen: dict[TariffDimensionType, tuple[_Ref, PriceComponent]] = {}
    for index, element in elements:
        if not _holds(element.restrictions, moment):
            continue
        for position, component in enumerate(element.price_components):
            if component.type in dims and component.type not in chosen:
                chosen[component.type] = ((index, position), component)
    return chosen


def _group(priced: Sequence[tuple[_Atom, _Active]]) -> list[_Period]:
    def key(item: tuple[_Atom, _Active]) -> object:
        atom, active = item
        return atom.charging, sorted((dim, ref) for dim, (ref, _) in active.items())

    periods = []
    for _, run in groupby(priced, key=key):
        items = list(run)
        atoms = [atom for atom, _ in items]
        periods.append(
            _Period(
                start=atoms[0].t0,
                seconds=sum((a.t1 - a.t0 for a in atoms), Fraction(0)),
                energy_wh=sum((a.e1 - a.e0 for a in atoms), Fraction(0)),
                charging=atoms[0].charging,
                active=items[0][1],
                powers=tuple(a.power_w for a in atoms if a.power_w is not None),
                currents=tuple(a.current_a for a in atoms if a.current_a is not None),
            )
        )
    return periods


def _holds(r: TariffRestrictions | None, m: _Moment) -> bool:
    if r is None:
        return True
    day = m.wall.date()
    return (
        _in_window(r.start_time, r.end_time, m.wall.time())
        and (r.start_date is None or day >= r.start_date)
        and (r.end_date is None or day < r.end_date)
        and (not r.day_of_week or _WEEKDAYS[day.weekday()] in r.day_of_week)
        and _at_least(m.energy_wh, r.min_kwh, 1000)
        and _below(m.energy_wh, r.max_kwh, 1000)
        and _at_least(m.elapsed_s, r.min_duration, 1)
        and _below(m.elapsed_s, r.max_duration, 1)
        and _at_least(m.power_w, r.min_power, 1000)
        and _below(m.power_w, r.max_power, 1000)
        and _at_least(m.current_a, r.min_current, 1)
        and _below(m.current_a, r.max_current, 1)
    )


def _at_least(value: Fraction | None, bound: Decimal | int | None, scale: int) -> bool:
    if bound is None:
        return True
    return value is not None and value >= Fraction(bound) * scale


def _below(value: Fraction | None, bound: Decimal | int | None, scale: int) -> bool:
    if bound is None:
        return True
    return value is not None and value < Fraction(bound) * scale


def _microseconds_of_day(moment: time) -> int:
    return ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + (
        moment.microsecond
    )


def _in_window(start: time | None, end: time | None, now: time) -> bool:
    lo = 0 if start is None else _microseconds_of_day(start)
    hi = _DAY_MICROSECONDS if end is None or end == time(0) else _microseconds_of_day(end)
    here = _microseconds_of_day(now)
    if lo < hi:
        return lo <= here < hi
    if lo > hi:  # wraps past midnight, e.g. 22:00-06:00
        return here >= lo or here < hi
    return True


# --- pricing -------------------------------------------------------------------------------


def _charge(component: PriceComponent, units: Fraction) -> _Amount:
    excl = Fraction(component.price) * units
    vat = Fraction(0) if component.vat is None else Fraction(component.vat)
    return _Amount(excl, excl * (1 + vat / 100))


def _bill(
    items: Sequence[tuple[Fraction, PriceComponent]], per_unit: int, *, round_up: bool
) -> _Amount:
    """Price volumes (in step units) at their components; round the total up if asked.

    The step and the price of the extra volume are those of the last item that consumed any.
    """
    amount = sum((_charge(c, volume / per_unit) for volume, c in items), _Amount())
    consumed = [component for volume, component in items if volume > 0]
    if not round_up or not consumed or consumed[-1].step_size == 0:
        return amount
    step = consumed[-1].step_size
    total = sum((volume for volume, _ in items), Fraction(0))
    extra = math.ceil(total / step) * step - total
    return amount + _charge(consumed[-1], extra / per_unit)


def _flat(periods: Sequence[_Period]) -> tuple[int | None, _Amount]:
    for index, period in enumerate(periods):
        if TariffDimensionType.FLAT in period.active:
            _, component = period.active[TariffDimensionType.FLAT]
            return index, _charge(component, Fraction(1))
    return None, _Amount()


def _items(
    periods: Sequence[_Period], dim: TariffDimensionType
) -> list[tuple[Fraction, PriceComponent]]:
    """(volume, component) of each period priced in `dim`: Wh for ENERGY, else seconds."""
    energy = dim is TariffDimensionType.ENERGY
    return [
        (p.energy_wh if energy else p.seconds, p.active[dim][1]) for p in periods if dim in p.active
    ]


def _time_round_up(periods: Sequence[_Period]) -> TariffDimensionType | None:
    """The time dimension whose total `step_size` applies to: that of the last billed period."""
    for period in reversed(periods):
        dim = TariffDimensionType.TIME if period.charging else TariffDimensionType.PARKING_TIME
        if dim in period.active and period.seconds > 0:
            return dim
    return None


def _round(value: Fraction, places: int) -> Decimal:
    scaled = abs(value) * 10**places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    return Decimal(-whole if value < 0 else whole).scaleb(-places)


def _rounded(amount: _Amount) -> tuple[Decimal, Decimal]:
    return _round(amount.excl, MONEY_PLACES), _round(amount.incl, MONEY_PLACES)


def _money(amount: tuple[Decimal, Decimal]) -> Money:
    return Money(excl_vat=amount[0], incl_vat=amount[1])


def _volume(value: Fraction) -> Decimal:
    return _round(value, VOLUME_PLACES)


def _clamp(
    excl: Decimal, incl: Decimal, lower: Money | None, upper: Money | None
) -> tuple[Decimal, Decimal]:
    if lower is not None:
        if excl < lower.excl_vat:
            if lower.incl_vat is None:
                incl += lower.excl_vat - excl
            excl = lower.excl_vat
        if lower.incl_vat is not None and incl < lower.incl_vat:
            incl = lower.incl_vat
    if upper is not None:
        if excl > upper.excl_vat:
            if upper.incl_vat is None:
                incl -= excl - upper.excl_vat
            excl = upper.excl_vat
        if upper.incl_vat is not None and incl > upper.incl_vat:
            incl = upper.incl_vat
    return _quantize(excl), _quantize(incl)


def _quantize(value: Decimal) -> Decimal:
    return _round(Fraction(value), MONEY_PLACES)


def _dimensions(period: _Period, *, reservation: bool, flat: bool) -> tuple[CdrDimension, ...]:
    dims: list[tuple[CdrDimensionType, Decimal]] = []
    if flat:
        dims.append((CdrDimensionType.FLAT, Decimal(1)))
    hours = _volume(period.seconds / 3600)
    if reservation:
        dims.append((CdrDimensionType.RESERVATION_TIME, hours))
    else:
        if period.charging or period.energy_wh:
            dims.append((CdrDimensionType.ENERGY, _volume(period.energy_wh / 1000)))
        time_type = CdrDimensionType.TIME if period.charging else CdrDimensionType.PARKING_TIME
        dims.append((time_type, hours))
    if period.currents:
        dims.append((CdrDimensionType.MIN_CURRENT, _volume(min(period.currents))))
        dims.append((CdrDimensionType.MAX_CURRENT, _volume(max(period.currents))))
    if period.powers:
        dims.append((CdrDimensionType.MIN_POWER, _volume(min(period.powers) / 1000)))
        dims.append((CdrDimensionType.MAX_POWER, _volume(max(period.powers) / 1000)))
    return tuple(CdrDimension(type=t, volume=v) for t, v in dims)


def _assemble(
    tariff: TariffPlan,
    reservation_periods: Sequence[_Period],
    session_periods: Sequence[_Period],
    *,
    energy_wh: Fraction,
    session_seconds: Fraction,
) -> CostedSession:
    res_flat_at, res_flat = _flat(reservation_periods)
    reservation = res_flat + _bill(
        _items(reservation_periods, TariffDimensionType.TIME), 3600, round_up=True
    )
    flat_at, fixed = _flat(session_periods)
    energy = _bill(_items(session_periods, TariffDimensionType.ENERGY), 1000, round_up=True)
    rounded_time_dim = _time_round_up(session_periods)
    charging_time = _bill(
        _items(session_periods, TariffDimensionType.TIME),
        3600,
        round_up=rounded_time_dim is TariffDimensionType.TIME,
    )
    parking = _bill(
        _items(session_periods, TariffDimensionType.PARKING_TIME),
        3600,
        round_up=rounded_time_dim is TariffDimensionType.PARKING_TIME,
    )
    parts = [_rounded(a) for a in (fixed, energy, charging_time, parking, reservation)]
    sub_excl = sum((excl for excl, _ in parts), Decimal(0))
    sub_incl = sum((incl for _, incl in parts), Decimal(0))
    excl, incl = _clamp(sub_excl, sub_incl, tariff.min_price, tariff.max_price)
    periods = [
        ChargingPeriodOut(
            start=_instant(p.start),
            dimensions=_dimensions(p, reservation=True, flat=i == res_flat_at),
            tariff_id=tariff.id,
        )
        for i, p in enumerate(reservation_periods)
    ] + [
        ChargingPeriodOut(
            start=_instant(p.start),
            dimensions=_dimensions(p, reservation=False, flat=i == flat_at),
            tariff_id=tariff.id,
        )
        for i, p in enumerate(session_periods)
    ]
    return CostedSession(
        currency=tariff.currency,
        charging_periods=tuple(periods),
        total_cost=Money(excl_vat=excl, incl_vat=incl),
        total_fixed_cost=_money(parts[0]),
        total_energy_cost=_money(parts[1]),
        total_time_cost=_money(parts[2]),
        total_parking_cost=_money(parts[3]),
        total_reservation_cost=_money(parts[4]),
        min_max_adjustment=Money(excl_vat=excl - sub_excl, incl_vat=incl - sub_incl),
        total_energy_kwh=_volume(energy_wh / 1000),
        total_time_h=_volume(session_seconds / 3600),
        total_parking_time_h=_volume(
            sum((p.seconds for p in session_periods if not p.charging), Fraction(0)) / 3600
        ),
        total_reservation_time_h=_volume(
            sum((p.seconds for p in reservation_periods), Fraction(0)) / 3600
        ),
    )
