"""Properties of the tariff engine over random tariffs (every restriction kind) and sessions.

Monotonicity is stated where it holds. OCPI's `step_size` rule (round the total once, at the
price of the last component) and restrictions that read the session's own energy or power make
a larger session cheaper in some corners: the last two tests show one case of each, straight
from the spec's rules. So the growth properties use exact billing (`step_size` 0) and, when
energy grows, restrictions that do not read energy.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from ocpi_bridge.translate.tariff_engine import (
    CostedSession,
    Reservation,
    SessionUsage,
    TariffPlan,
    UsageSample,
    cost_session,
    tariff_from_ocpi,
)
from tests.ocpi_bridge.tariff_helpers import AMSTERDAM, Leg, local, timeline, totals

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies ------------------------------------------------------------------------------

_TIMES = ["00:00", "02:30", "03:00", "06:00", "07:30", "12:00", "17:00", "20:00", "22:00"]
_DATES = ["2024-03-30", "2024-03-31", "2024-04-01", "2024-10-27", "2024-10-28", "2025-01-01"]
_DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
# Days around both DST changes, a new year and an ordinary week.
_BASE_DAYS = [
    datetime(2024, 3, 30, tzinfo=UTC),
    datetime(2024, 10, 26, tzinfo=UTC),
    datetime(2024, 12, 31, tzinfo=UTC),
    datetime(2024, 6, 10, tzinfo=UTC),
]


def _number(top: int, places: int = 2) -> st.SearchStrategy[float]:
    return st.decimals(min_value=0, max_value=top, places=places).map(float)


def restrictions(*, with_energy: bool) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "start_time": st.sampled_from(_TIMES),
        "end_time": st.sampled_from(_TIMES),
        "start_date": st.sampled_from(_DATES),
        "end_date": st.sampled_from(_DATES),
        "min_current": _number(64, 0),
        "max_current": _number(64, 0),
        "min_power": _number(50, 1),
        "max_power": _number(50, 1),
        "min_duration": st.integers(0, 240).map(lambda m: m * 60),
        "max_duration": st.integers(0, 240).map(lambda m: m * 60),
        "day_of_week": st.lists(st.sampled_from(_DAYS), unique=True, max_size=3),
    }
    if with_energy:
        optional |= {"min_kwh": _number(40, 1), "max_kwh": _number(40, 1)}
    return st.fixed_dictionaries({}, optional=optional)


_STEPS = {
    "FLAT": st.just(1),
    "ENERGY": st.sampled_from([0, 1, 100, 500, 1000]),
    "TIME": st.sampled_from([0, 1, 60, 300, 900]),
    "PARKING_TIME": st.sampled_from([0, 1, 60, 300, 900]),
}


@st.composite
def components(draw: st.DrawFn, *, exact: frozenset[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["FLAT", "ENERGY", "TIME", "PARKING_TIME"]))
    out = {
        "type": kind,
        "price": draw(_number(5)),
        "step_size": 0 if kind in exact else draw(_STEPS[kind]),
    }
    vat = draw(st.none() | _number(25, 1))
    if vat is not None:
        out["vat"] = vat
    return out


@st.composite
def tariffs(
    draw: st.DrawFn,
    *,
    exact: frozenset[str] = frozenset(),
    with_energy_restrictions: bool = True,
) -> TariffPlan:
    """Tariffs with non-negative prices; `exact` dimensions bill without rounding."""
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        element: dict[str, Any] = {
            "price_components": draw(st.lists(components(exact=exact), min_size=1, max_size=3))
        }
        if draw(st.booleans()):
            element["restrictions"] = draw(restrictions(with_energy=with_energy_restrictions))
        elements.append(element)
    raw: dict[str, Any] = {"id": "P", "currency": "EUR", "elements": elements}
    if draw(st.booleans()):
        raw["min_price"] = {"excl_vat": draw(_number(3))}
    if draw(st.booleans()):
        raw["max_price"] = {"excl_vat": draw(_number(60)), "incl_vat": draw(_number(70))}
    return tariff_from_ocpi(raw)


@dataclass(frozen=True, slots=True)
class Point:
    """A sample as an offset in whole seconds from the session start."""

    offset_s: int
    wh: int
    charging: bool
    power_w: int | None
    current_a: int | None


@dataclass(frozen=True, slots=True)
class Story:
    start: datetime
    points: tuple[Point, ...]
    end_s: int

    def usage(self) -> SessionUsage:
        return SessionUsage(
            start=self.start,
            end=self.start + timedelta(seconds=self.end_s),
            time_zone=AMSTERDAM,
            samples=tuple(
                UsageSample(
                    at=self.start + timedelta(seconds=p.offset_s),
                    energy_wh=Decimal(p.wh),
                    charging=p.charging,
                    power_w=None if p.power_w is None else Decimal(p.power_w),
                    current_a=None if p.current_a is None else Decimal(p.current_a),
                )
                for p in self.points
            ),
        )


@st.composite
def states(draw: st.DrawFn, *, explicit_power: bool = False) -> tuple[bool, int | None, int | None]:
    power = st.integers(0, 50_000)
    return (
        draw(st.booleans()),
        draw(power if explicit_power else st.none() | power),
        draw(st.none() | st.integers(0, 64)),
    )


@st.composite
def stories(draw: st.DrawFn, *, explicit_power: bool = False) -> Story:
    """Sessions of up to a day, often across DST changes, midnights and tariff boundaries."""
    start = draw(st.sampled_from(_BASE_DAYS)) + timedelta(seconds=draw(st.integers(0, 2 * 86400)))
    offset, wh = 0, draw(st.integers(0, 10**6))
    points = []
    for _ in range(draw(st.integers(1, 5))):
        points.append(Point(offset, wh, *draw(states(explicit_power=explicit_power))))
        offset += draw(st.integers(1, 4 * 3600))
        wh += draw(st.integers(0, 25_000))
    points.append(Point(offset, wh, *draw(states(explicit_power=explicit_power))))
    return Story(start, tuple(points), offset + draw(st.integers(0, 3600)))


def _cost(tariff: TariffPlan, story: Story) -> CostedSession:
    return cost_session(tariff, story.usage())


# --- growth ----------------------------------------------------------------------------------


@st.composite
def extensions(draw: st.DrawFn) -> tuple[Story, Story]:
    """A session and the same session continued after its end."""
    base = draw(stories())
    points = list(base.points)
    last = points[-1]
    state = draw(states())
    if last.offset_s == base.end_s:  # the last sample's state was never used: it may change
        points[-1] = Point(last.offset_s, last.wh, *state)
    else:  # pin the old end so the old session is an exact prefix
        points.append(Point(base.end_s, last.wh, *state))
    offset, wh = base.end_s, last.wh
    for _ in range(draw(st.integers(1, 3))):
        offset += draw(st.integers(1, 4 * 3600))
        wh += draw(st.integers(0, 25_000))
        points.append(Point(offset, wh, *draw(states())))
    return base, Story(base.start, tuple(points), offset)


@SETTINGS
@given(
    tariff=tariffs(exact=frozenset({"ENERGY", "TIME", "PARKING_TIME"})),
    pair=extensions(),
)
def test_continuing_a_session_never_lowers_its_cost(tariff, pair):
    """With non-negative prices billed exactly, more time and energy never cost less."""
    shorter, longer = pair
    short_cost, long_cost = _cost(tariff, shorter), _cost(tariff, longer)
    assert long_cost.total_cost.excl_vat >= short_cost.total_cost.excl_vat
    assert long_cost.total_cost.incl_vat is not None
    assert short_cost.total_cost.incl_vat is not None
    assert long_cost.total_cost.incl_vat >= short_cost.total_cost.incl_vat


@st.composite
def energy_growths(draw: st.DrawFn) -> tuple[Story, Story]:
    """A session and the same session with more energy in one sample interval."""
    base = draw(stories(explicit_power=True))
    index = draw(st.integers(0, len(base.points) - 2))
    extra = draw(st.integers(1, 20_000))
    grown = tuple(
        replace(p, wh=p.wh + extra) if i > index else p for i, p in enumerate(base.points)
    )
    return base, Story(base.start, grown, base.end_s)


@SETTINGS
@given(
    tariff=tariffs(exact=frozenset({"ENERGY"}), with_energy_restrictions=False),
    pair=energy_growths(),
)
def test_more_energy_never_costs_less(tariff, pair):
    """More energy in the same time never costs less, whatever the time rounding."""
    smaller, larger = pair
    small_cost, large_cost = _cost(tariff, smaller), _cost(tariff, larger)
    assert large_cost.total_cost.excl_vat >= small_cost.total_cost.excl_vat
    assert large_cost.total_energy_kwh > small_cost.total_energy_kwh


# --- splitting -------------------------------------------------------------------------------


@st.composite
def splits(draw: st.DrawFn) -> tuple[Story, SessionUsage]:
    """A session, and the same session with one more sample on its interpolation line."""
    story = draw(stories())
    bounds = [p.offset_s for p in story.points] + [story.end_s]
    candidates = [i for i in range(len(story.points)) if bounds[i + 1] > bounds[i]]
    index = draw(st.sampled_from(candidates))
    here = story.points[index]
    following = story.points[index + 1] if index + 1 < len(story.points) else None
    next_wh = following.wh if following is not None else here.wh
    # A 64th of a whole number of seconds is a whole number of microseconds, and a 64th of
    # a whole number of Wh is a finite decimal: the new sample lies exactly on the line.
    k = draw(st.integers(1, 63))
    span_us = (bounds[index + 1] - bounds[index]) * 1_000_000
    at = story.start + timedelta(seconds=here.offset_s, microseconds=span_us * k // 64)
    usage = story.usage()
    if span_us * k % 64:  # never: kept as a guard on the reasoning above
        raise AssertionError
    extra = replace(
        usage.samples[index],
        at=at,
        energy_wh=Decimal(here.wh) + Decimal(next_wh - here.wh) * k / 64,
    )
    samples = (*usage.samples[: index + 1], extra, *usage.samples[index + 1 :])
    return story, replace(usage, samples=samples)


@SETTINGS
@given(tariff=tariffs(), pair=splits())
def test_a_redundant_sample_on_the_interpolation_line_changes_nothing(tariff, pair):
    """Adding a sample that repeats the state and lies on the energy line leaves all as is."""
    story, split = pair
    assert cost_session(tariff, split) == _cost(tariff, story)


@st.composite
def parking_splits(draw: st.DrawFn) -> tuple[SessionUsage, SessionUsage]:
    """A session ending in parking, split at an arbitrary microsecond of its parking time."""
    story = draw(stories())
    usage = story.usage()
    last = usage.samples[-1]
    parked = replace(last, charging=False)
    tail = draw(st.integers(1, 3 * 3600 * 10**6))
    end = last.at + timedelta(microseconds=tail)
    cut = last.at + timedelta(microseconds=draw(st.integers(1, tail - 1)) if tail > 1 else 0)
    whole = replace(usage, end=end, samples=(*usage.samples[:-1], parked))
    if cut == last.at:
        return whole, whole
    pieces = replace(usage, end=end, samples=(*usage.samples[:-1], parked, replace(parked, at=cut)))
    return whole, pieces


@SETTINGS
@given(tariff=tariffs(), pair=parking_splits())
def test_splitting_parking_at_any_instant_changes_nothing(tariff, pair):
    """Cutting a stretch where nothing changes, at any microsecond, leaves the costs as they are."""
    whole, pieces = pair
    assert cost_session(tariff, pieces) == cost_session(tariff, whole)


# --- consistency -----------------------------------------------------------------------------


@SETTINGS
@given(tariff=tariffs(), story=stories(), reserved_s=st.none() | st.integers(0, 7200))
def test_parts_and_adjustment_add_up_to_the_total(tariff, story, reserved_s):
    """The cost categories plus the min/max adjustment equal the total, excl. and incl. VAT."""
    usage = story.usage()
    if reserved_s is not None:
        opened = usage.start - timedelta(seconds=reserved_s)
        usage = replace(usage, reservation=Reservation(start=opened, end=usage.start))
    costed = cost_session(tariff, usage)
    parts = [
        costed.total_fixed_cost,
        costed.total_energy_cost,
        costed.total_time_cost,
        costed.total_parking_cost,
        costed.total_reservation_cost,
        costed.min_max_adjustment,
    ]
    assert costed.total_cost.excl_vat == sum(p.excl_vat for p in parts)
    assert costed.total_cost.incl_vat == sum(p.incl_vat or 0 for p in parts)
    period_starts = [p.start for p in costed.charging_periods]
    assert period_starts == sorted(period_starts)  # a reservation of no time shares its start
    assert period_starts[0] == (usage.reservation or usage).start


# --- where the spec's rules make a larger session cheaper ------------------------------------


def test_step_size_makes_a_longer_session_cheaper_when_parking_follows():
    """1 min charging billed per hour costs 10.00; one more minute parked drops the rounding."""
    tariff = tariff_from_ocpi(
        {
            "id": "S",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [
                        {"type": "TIME", "price": 10, "step_size": 3600},
                        {"type": "PARKING_TIME", "price": 0, "step_size": 60},
                    ]
                }
            ],
        }
    )
    start = local(2024, 3, 25, 10)
    charged = cost_session(tariff, timeline(start, Leg(minutes=1, kwh="0.1")))
    parked = cost_session(
        tariff, timeline(start, Leg(minutes=1, kwh="0.1"), Leg(minutes=1, charging=False))
    )
    # Ends charging: 1 min -> 60 min x 10.00/h = 10.00
    # Ends parking: charging is not rounded, 1 min x 10.00/h = 0.1667; parking is free
    assert totals(charged) == (Decimal("10.00"), Decimal("10.00"))
    assert totals(parked) == (Decimal("0.1667"), Decimal("0.1667"))


def test_energy_restrictions_make_early_energy_lower_a_later_price():
    """Charging more before 17:00 can move the energy after 17:00 past max_kwh and lower it."""
    tariff = tariff_from_ocpi(
        {
            "id": "K",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                    "restrictions": {"start_time": "17:00", "max_kwh": 10},
                }
            ],
        }
    )
    start = local(2024, 3, 25, 16)
    little = cost_session(tariff, timeline(start, Leg(minutes=60), Leg(minutes=60, kwh="10")))
    much = cost_session(
        tariff, timeline(start, Leg(minutes=60, kwh="10"), Leg(minutes=60, kwh="10"))
    )
    # 0 kWh before 17:00, then 10 kWh below 10 kWh total at 1.00 = 10.00
    # 10 kWh before 17:00 (free), then every kWh is past max_kwh: 0.00
    assert totals(little) == (Decimal("10.00"), Decimal("10.00"))
    assert totals(much) == (Decimal(0), Decimal(0))
