"""Tariff engine rules one by one: parsing, restrictions, periods, step_size, VAT, min/max."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ocpi_bridge.translate.tariff_clock import wall_clock_breaks
from ocpi_bridge.translate.tariff_engine import (
    DayOfWeek,
    Money,
    PriceComponent,
    Reservation,
    ReservationRestrictionType,
    SessionUsage,
    TariffDimensionType,
    TariffElement,
    TariffFormatError,
    TariffPlan,
    TariffRestrictions,
    UsageSample,
    cost_expired_reservation,
    cost_session,
    tariff_from_ocpi,
)
from tests.ocpi_bridge.tariff_helpers import (
    AMSTERDAM,
    Leg,
    local,
    starts,
    timeline,
    totals,
    volumes,
)

MONDAY = (2024, 3, 25)


def plan(*elements: dict[str, Any], **extra: Any) -> TariffPlan:
    return tariff_from_ocpi({"id": "T1", "currency": "EUR", "elements": list(elements), **extra})


def part(kind: str, price: str, step: int = 1, vat: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def D(text: str | int) -> Decimal:  # noqa: N802 -- reads like a literal
    return Decimal(text)


# --- tariff_from_ocpi ----------------------------------------------------------------------


def test_every_restriction_field_is_parsed():
    """All TariffRestrictions fields become typed values; JSON floats keep their decimal text."""
    raw = {
        "id": "X",
        "currency": "EUR",
        "min_price": {"excl_vat": 0.5, "incl_vat": 0.55},
        "max_price": {"excl_vat": 10},
        "elements": [
            {
                "price_components": [{"type": "TIME", "price": 0.1, "vat": 21.0, "step_size": 60}],
                "restrictions": {
                    "start_time": "22:00",
                    "end_time": "06:30",
                    "start_date": "2024-01-01",
                    "end_date": "2025-01-01",
                    "min_kwh": 1.5,
                    "max_kwh": 50,
                    "min_current": 6,
                    "max_current": 32.5,
                    "min_power": 3.7,
                    "max_power": 22,
                    "min_duration": 600,
                    "max_duration": 3600,
                    "day_of_week": ["SATURDAY", "SUNDAY"],
                    "reservation": "RESERVATION",
                },
            }
        ],
    }
    assert tariff_from_ocpi(raw) == TariffPlan(
        id="X",
        currency="EUR",
        min_price=Money(excl_vat=D("0.5"), incl_vat=D("0.55")),
        max_price=Money(excl_vat=D(10)),
        elements=(
            TariffElement(
                price_components=(
                    PriceComponent(
                        type=TariffDimensionType.TIME, price=D("0.1"), vat=D("21.0"), step_size=60
                    ),
                ),
                restrictions=TariffRestrictions(
                    start_time=time(22, 0),
                    end_time=time(6, 30),
                    start_date=datetime(2024, 1, 1).date(),
                    end_date=datetime(2025, 1, 1).date(),
                    min_kwh=D("1.5"),
                    max_kwh=D(50),
                    min_current=D(6),
                    max_current=D("32.5"),
                    min_power=D("3.7"),
                    max_power=D(22),
                    min_duration=600,
                    max_duration=3600,
                    day_of_week=frozenset({DayOfWeek.SATURDAY, DayOfWeek.SUNDAY}),
                    reservation=ReservationRestrictionType.RESERVATION,
                ),
            ),
        ),
    )


def test_null_fields_mean_absent():
    """JSON nulls for restrictions, vat and day_of_week are read as not given."""
    raw = {
        "id": "X",
        "currency": "EUR",
        "min_price": None,
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": "0.50", "vat": None, "step_size": 0}
                ],
                "restrictions": None,
            },
            {
                "price_components": [{"type": "ENERGY", "price": 0, "step_size": 1}],
                "restrictions": {"day_of_week": None, "start_time": None},
            },
        ],
    }
    parsed = tariff_from_ocpi(raw)
    assert parsed.min_price is None
    assert parsed.elements[0].restrictions is None
    assert parsed.elements[0].price_components[0] == PriceComponent(
        type=TariffDimensionType.FLAT, price=D("0.50"), vat=None, step_size=0
    )
    assert parsed.elements[1].restrictions == TariffRestrictions()


def _with_component(**fields: Any) -> dict[str, Any]:
    component = {"type": "ENERGY", "price": 0.25, "step_size": 1, **fields}
    return {"id": "X", "currency": "EUR", "elements": [{"price_components": [component]}]}


def _with_restrictions(**fields: Any) -> dict[str, Any]:
    raw = _with_component()
    raw["elements"][0]["restrictions"] = fields
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"id": "X", "currency": "EUR"}, "elements must be a list"),
        ({"id": "X", "currency": "EUR", "elements": []}, "at least one TariffElement"),
        ({"id": "X", "currency": "EUR", "elements": ["x"]}, "TariffElement must be"),
        (
            {"id": "X", "currency": "EUR", "elements": [{"price_components": []}]},
            "at least one PriceComponent",
        ),
        ({**_with_component(), "id": None}, "id must be"),
        ({**_with_component(), "currency": ""}, "currency must be"),
        ({**_with_component(), "min_price": "1"}, "min_price must be"),
        ({**_with_component(), "max_price": {}}, "max_price.excl_vat"),
        (_with_component(step_size=None), "step_size"),
        (_with_component(step_size=-1), "step_size"),
        (_with_component(step_size=1.5), "step_size"),
        (_with_component(step_size=True), "step_size"),
        (_with_component(type="KWH"), "PriceComponent.type"),
        (_with_component(price=True), "must be a number"),
        (_with_component(price=None), "must be a number"),
        (_with_component(price="abc"), "must be a number"),
        (_with_component(price="NaN"), "must be finite"),
        (_with_component(vat=[]), "vat must be a number"),
        (
            {"id": "X", "currency": "EUR", "elements": [{"price_components": [1]}]},
            "PriceComponent must be",
        ),
        (
            {
                "id": "X",
                "currency": "EUR",
                "elements": [{"price_components": [part("FLAT", "1")], "restrictions": "x"}],
            },
            "TariffRestrictions must be",
        ),
        (_with_restrictions(day_of_week="MONDAY"), "day_of_week must be a list"),
        (_with_restrictions(day_of_week=["MON"]), "day_of_week"),
        (_with_restrictions(reservation="YES"), "reservation"),
        (_with_restrictions(start_time="24:00"), "HH:MM"),
        (_with_restrictions(end_time=1300), "HH:MM"),
        (_with_restrictions(start_date="2024-1-1"), "YYYY-MM-DD"),
        (_with_restrictions(end_date=20240101), "YYYY-MM-DD"),
        (_with_restrictions(start_date="2023-02-30"), "not a calendar date"),
        (_with_restrictions(min_duration=1.5), "min_duration must be an int"),
    ],
)
def test_malformed_tariffs_are_refused(raw, message):
    """A tariff that breaks the 2.2.1 shape where pricing depends on it raises TariffFormatError."""
    with pytest.raises(TariffFormatError, match=message):
        tariff_from_ocpi(raw)


# --- session input validation -------------------------------------------------------------

T0 = datetime(2024, 3, 25, 9, 0, tzinfo=UTC)


def _sample(minutes: int, wh: int = 0, **kw: Any) -> UsageSample:
    return UsageSample(at=T0 + timedelta(minutes=minutes), energy_wh=D(wh), **kw)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: UsageSample(at=datetime(2024, 1, 1), energy_wh=D(0)), "UsageSample.at"),
        (lambda: Reservation(start=datetime(2024, 1, 1), end=T0), "Reservation.start"),
        (lambda: Reservation(start=T0, end=datetime(2024, 1, 1)), "Reservation.end"),
        (lambda: Reservation(start=T0, end=T0 - timedelta(seconds=1)), "before"),
        (
            lambda: SessionUsage(
                start=datetime(2024, 1, 1), end=T0, time_zone=UTC, samples=(_sample(0),)
            ),
            "SessionUsage.start",
        ),
        (
            lambda: SessionUsage(
                start=T0, end=datetime(2024, 1, 1), time_zone=UTC, samples=(_sample(0),)
            ),
            "SessionUsage.end",
        ),
        (
            lambda: SessionUsage(
                start=T0, end=T0 - timedelta(1), time_zone=UTC, samples=(_sample(0),)
            ),
            "end is before",
        ),
        (lambda: SessionUsage(start=T0, end=T0, time_zone=UTC, samples=()), "first UsageSample"),
        (
            lambda: SessionUsage(
                start=T0, end=T0 + timedelta(hours=1), time_zone=UTC, samples=(_sample(5),)
            ),
            "first UsageSample",
        ),
        (
            lambda: SessionUsage(
                start=T0,
                end=T0 + timedelta(hours=1),
                time_zone=UTC,
                samples=(_sample(0), _sample(10), _sample(10)),
            ),
            "strictly increase",
        ),
        (
            lambda: SessionUsage(
                start=T0,
                end=T0 + timedelta(hours=1),
                time_zone=UTC,
                samples=(_sample(0, 100), _sample(10, 99)),
            ),
            "must not decrease",
        ),
        (
            lambda: SessionUsage(
                start=T0,
                end=T0 + timedelta(hours=1),
                time_zone=UTC,
                samples=(_sample(0), _sample(61)),
            ),
            "after SessionUsage.end",
        ),
        (
            lambda: SessionUsage(
                start=T0,
                end=T0 + timedelta(hours=1),
                time_zone=UTC,
                samples=(_sample(0),),
                reservation=Reservation(start=T0, end=T0 + timedelta(minutes=1)),
            ),
            "reservation must end",
        ),
    ],
)
def test_inconsistent_session_input_is_refused(build, message):
    """Naive instants, samples out of order or outside the session, and falling energy raise."""
    with pytest.raises(ValueError, match=message):
        build()


# --- which element applies ----------------------------------------------------------------


def test_first_matching_element_per_dimension():
    """Each dimension takes the first element that has it and whose restrictions hold."""
    tariff = plan(
        element(part("ENERGY", "0.50"), max_kwh=0),  # never holds
        element(part("FLAT", "1.00")),  # no ENERGY: does not block the next element's ENERGY
        element(part("ENERGY", "0.30"), part("TIME", "2.00")),
        element(part("ENERGY", "0.10"), part("TIME", "9.00"), part("FLAT", "9.00")),
    )
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="10")))
    # FLAT 1.00 (2nd element); ENERGY 10 x 0.30 = 3.00 and TIME 1 h x 2.00 (3rd element)
    assert costed.total_fixed_cost.excl_vat == D("1.00")
    assert costed.total_energy_cost.excl_vat == D("3.00")
    assert costed.total_time_cost.excl_vat == D("2.00")
    assert totals(costed) == (D("6.00"), D("6.00"))


def test_a_dimension_without_matching_element_is_free():
    """When no element prices a dimension at some moment, that stretch costs nothing."""
    tariff = plan(element(part("ENERGY", "0.25")))
    usage = timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="4"), Leg(minutes=60, charging=False))
    costed = cost_session(tariff, usage)
    # 4 x 0.25 = 1.00; no TIME or PARKING_TIME component
    assert totals(costed) == (D("1.00"), D("1.00"))
    assert volumes(costed) == [{"ENERGY": D(4), "TIME": D(1)}, {"PARKING_TIME": D(1)}]
    assert costed.total_time_h == D(2)
    assert costed.total_parking_time_h == D(1)


@pytest.mark.parametrize(
    ("window", "hours"),
    [
        ({"start_time": "08:00", "end_time": "18:00"}, 10),
        ({"start_time": "22:00", "end_time": "06:00"}, 8),  # wraps past midnight
        ({"start_time": "20:00", "end_time": "00:00"}, 4),  # 00:00 is the end of the day
        ({"start_time": "20:00"}, 4),
        ({"end_time": "06:00"}, 6),
        ({"end_time": "00:00"}, 24),
        ({"start_time": "10:00", "end_time": "10:00"}, 24),  # equal times: the whole day
    ],
)
def test_time_of_day_windows(window, hours):
    """start_time is inclusive, end_time exclusive, and a window may wrap past midnight."""
    tariff = plan(element(part("TIME", "1.00"), **window))
    costed = cost_session(tariff, timeline(local(*MONDAY), Leg(minutes=24 * 60, kwh="24")))
    # 1.00 per charged hour inside the window
    assert costed.total_time_cost.excl_vat == D(hours)


def test_night_rate_across_midnight_in_local_time():
    """A 22:00-06:00 night rate splits an overnight session at 22:00 and 06:00 local time."""
    tariff = plan(
        element(part("ENERGY", "0.10"), start_time="22:00", end_time="06:00"),
        element(part("ENERGY", "0.30")),
    )
    costed = cost_session(tariff, timeline(local(*MONDAY, 21), Leg(minutes=600, kwh="10")))
    # 1 kWh/h: 21-22 1 kWh x 0.30; 22-06 8 kWh x 0.10; 06-07 1 kWh x 0.30 = 0.30 + 0.80 + 0.30
    assert totals(costed) == (D("1.40"), D("1.40"))
    assert starts(costed) == ["21:00", "22:00", "06:00"]


@pytest.mark.parametrize(
    ("start", "boundary"),
    [
        (local(2024, 7, 15, 21), datetime(2024, 7, 15, 20, tzinfo=UTC)),  # CEST is UTC+2
        (local(2024, 1, 15, 21), datetime(2024, 1, 15, 21, tzinfo=UTC)),  # CET is UTC+1
    ],
)
def test_clock_boundaries_follow_the_locations_offset(start, boundary):
    """A 22:00 boundary is 20:00 UTC in summer and 21:00 UTC in winter in Amsterdam."""
    tariff = plan(
        element(part("ENERGY", "0.10"), start_time="22:00"), element(part("ENERGY", "0.30"))
    )
    costed = cost_session(tariff, timeline(start, Leg(minutes=120, kwh="20")))
    # 10 kWh x 0.30 + 10 kWh x 0.10 = 4.00
    assert totals(costed) == (D("4.00"), D("4.00"))
    assert costed.charging_periods[1].start == boundary


def test_spring_forward_boundary_at_a_wall_time_that_does_not_exist():
    """On the spring DST day a 02:30 start takes effect at the jump from 02:00 to 03:00."""
    tariff = plan(element(part("TIME", "1.00"), start_time="02:30"))
    start = local(2024, 3, 31, 0, 0)  # 23:00 UTC the day before
    usage = SessionUsage(
        start=start,
        end=local(2024, 3, 31, 5, 0),  # 03:00 UTC: four real hours
        time_zone=AMSTERDAM,
        samples=(UsageSample(at=start, energy_wh=D(0)),),
    )
    costed = cost_session(tariff, usage)
    # 03:00 CEST (01:00 UTC) to 05:00 CEST: 2 h x 1.00
    assert totals(costed) == (D("2.00"), D("2.00"))
    assert costed.total_time_h == D(4)
    assert [p.start for p in costed.charging_periods] == [
        datetime(2024, 3, 30, 23, tzinfo=UTC),
        datetime(2024, 3, 31, 1, tzinfo=UTC),
    ]


def test_fall_back_window_is_met_twice():
    """On the autumn DST day the hour 02:00-03:00 happens twice, and so does 02:30-03:00."""
    tariff = plan(element(part("TIME", "1.00"), start_time="02:30", end_time="03:00"))
    start = local(2024, 10, 27, 0, 0)  # 22:00 UTC the day before
    usage = SessionUsage(
        start=start,
        end=local(2024, 10, 27, 5, 0),  # 04:00 UTC: six real hours
        time_zone=AMSTERDAM,
        samples=(UsageSample(at=start, energy_wh=D(0)),),
    )
    costed = cost_session(tariff, usage)
    # 00:30-01:00 UTC (02:30 CEST) and 01:30-02:00 UTC (02:30 CET): 1 h x 1.00
    assert totals(costed) == (D("1.00"), D("1.00"))
    assert costed.total_time_h == D(6)
    assert [p.start.hour * 60 + p.start.minute for p in costed.charging_periods] == [
        22 * 60,
        30,
        60,
        90,
        120,
    ]


def test_day_of_week_changes_at_local_midnight():
    """A weekend price starts at Saturday 00:00 local time."""
    tariff = plan(
        element(part("ENERGY", "0.40"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(part("ENERGY", "0.20")),
    )
    costed = cost_session(tariff, timeline(local(2024, 3, 29, 23), Leg(minutes=120, kwh="4")))
    # Friday 23-24: 2 kWh x 0.20 = 0.40; Saturday 00-01: 2 kWh x 0.40 = 0.80
    assert totals(costed) == (D("1.20"), D("1.20"))
    assert starts(costed) == ["23:00", "00:00"]


def test_start_date_is_inclusive_and_end_date_exclusive():
    """An element ending on 2025-01-01 hands over to one starting that day at local midnight."""
    tariff = plan(
        element(part("ENERGY", "0.20"), end_date="2025-01-01"),
        element(part("ENERGY", "0.30"), start_date="2025-01-01"),
    )
    costed = cost_session(tariff, timeline(local(2024, 12, 31, 23), Leg(minutes=120, kwh="4")))
    # 2 kWh x 0.20 + 2 kWh x 0.30 = 1.00
    assert totals(costed) == (D("1.00"), D("1.00"))
    assert starts(costed) == ["23:00", "00:00"]


def test_max_kwh_splits_a_sample_interval_where_energy_crosses_it():
    """Energy accrues linearly between samples, so 4 kWh of 10 kWh in an hour falls at 24 min."""
    tariff = plan(element(part("ENERGY", "0.50"), max_kwh=4), element(part("ENERGY", "0.20")))
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="10")))
    # 4 x 0.50 + 6 x 0.20 = 2.00 + 1.20 = 3.20
    assert totals(costed) == (D("3.20"), D("3.20"))
    assert starts(costed) == ["10:00", "10:24"]
    assert volumes(costed) == [
        {"ENERGY": D(4), "TIME": D("0.4")},
        {"ENERGY": D(6), "TIME": D("0.6")},
    ]


def test_min_kwh_counts_the_session_energy_so_far():
    """A TIME price from 4 kWh on starts where the session total reaches 4 kWh."""
    tariff = plan(element(part("TIME", "6.00"), min_kwh=4))
    usage = timeline(
        local(*MONDAY, 10), Leg(minutes=30, kwh="2"), Leg(minutes=30, kwh="8"), register_wh="777"
    )
    costed = cost_session(tariff, usage)
    # 2 kWh at 10:30, then 8 kWh in 30 min: 4 kWh at 10:30 + 30 x 2/8 min = 10:37:30
    # 22.5 min x 6.00/h = 2.25
    assert totals(costed) == (D("2.25"), D("2.25"))
    assert costed.charging_periods[1].start == local(*MONDAY, 10, 37, 30)
    assert costed.total_energy_kwh == D(10)


def test_min_power_against_sampled_power():
    """A high-power price applies while the sampled power is at least min_power."""
    tariff = plan(element(part("ENERGY", "0.50"), min_power=22), element(part("ENERGY", "0.25")))
    usage = timeline(
        local(*MONDAY, 10),
        Leg(minutes=30, kwh="5.5", power_kw="11"),
        Leg(minutes=30, kwh="11", power_kw="22"),
    )
    costed = cost_session(tariff, usage)
    # 5.5 x 0.25 + 11 x 0.50 = 1.375 + 5.50 = 6.875
    assert totals(costed) == (D("6.875"), D("6.875"))


def test_current_restrictions_do_not_hold_when_current_is_unknown():
    """Without sampled current neither min_current nor max_current elements apply."""
    tariff = tariff_from_ocpi(
        {
            "id": "14",
            "currency": "EUR",
            "elements": [
                {"price_components": [part("FLAT", "2.50", vat="15")]},
                element(part("TIME", "1.00", 900, "20"), max_current=32),
                element(part("TIME", "2.00", 600, "20"), min_current=32),
                element(part("PARKING_TIME", "5.00", 300, "10")),
            ],
        }
    )
    usage = timeline(
        local(*MONDAY, 9, 30), Leg(minutes=165, kwh="10"), Leg(minutes=42, charging=False)
    )
    costed = cost_session(tariff, usage)
    # Flat 2.50 (2.875); no TIME; parking 45 min x 5.00/h = 3.75 (4.125)
    assert totals(costed) == (D("6.25"), D("7.00"))


def test_min_duration_measures_from_the_session_start():
    """A TIME price from 1 h on charges only the part of the session after the first hour."""
    tariff = plan(element(part("TIME", "2.00"), min_duration=3600))
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=90, kwh="5")))
    # 30 min x 2.00/h = 1.00
    assert totals(costed) == (D("1.00"), D("1.00"))
    assert starts(costed) == ["10:00", "11:00"]


# --- periods -------------------------------------------------------------------------------


def test_charging_and_parking_alternate_periods_even_at_one_price():
    """Charging -> parking -> charging gives three periods though no price changes."""
    tariff = plan(element(part("TIME", "1.00")))
    usage = timeline(
        local(*MONDAY, 10),
        Leg(minutes=30, kwh="3"),
        Leg(minutes=30, charging=False),
        Leg(minutes=30, kwh="3"),
    )
    costed = cost_session(tariff, usage)
    # Only charging time is priced: 1 h x 1.00
    assert totals(costed) == (D("1.00"), D("1.00"))
    assert starts(costed) == ["10:00", "10:30", "11:00"]


def test_samples_that_change_nothing_priced_merge_into_one_period():
    """Samples that change no price share one period, which reports min/max power and current."""
    tariff = plan(element(part("ENERGY", "0.25")))
    usage = timeline(
        local(*MONDAY, 10),
        Leg(minutes=30, kwh="5.5", power_kw="11", current_a="16"),
        Leg(minutes=30, kwh="3.7", power_kw="7.4", current_a="32"),
    )
    costed = cost_session(tariff, usage)
    assert volumes(costed) == [
        {
            "ENERGY": D("9.2"),
            "TIME": D(1),
            "MIN_CURRENT": D(16),
            "MAX_CURRENT": D(32),
            "MIN_POWER": D("7.4"),
            "MAX_POWER": D(11),
        }
    ]


def test_energy_while_parking_is_reported_and_priced():
    """Energy recorded in a parking stretch shows in that period and is billed as energy."""
    tariff = plan(element(part("ENERGY", "1.00")))
    usage = timeline(
        local(*MONDAY, 10), Leg(minutes=30, kwh="1"), Leg(minutes=30, kwh="0.5", charging=False)
    )
    costed = cost_session(tariff, usage)
    assert volumes(costed)[1] == {"ENERGY": D("0.5"), "PARKING_TIME": D("0.5")}
    assert totals(costed) == (D("1.50"), D("1.50"))


def test_state_of_the_last_sample_holds_until_the_end_without_energy():
    """After the last sample no energy accrues and its charging state lasts until the end."""
    tariff = plan(element(part("ENERGY", "0.20"), part("PARKING_TIME", "3.00")))
    start = local(*MONDAY, 10)
    usage = SessionUsage(
        start=start,
        end=start + timedelta(hours=1),
        time_zone=AMSTERDAM,
        samples=(
            UsageSample(at=start, energy_wh=D(0)),
            UsageSample(at=start + timedelta(minutes=30), energy_wh=D(5000), charging=False),
        ),
    )
    costed = cost_session(tariff, usage)
    # 5 kWh x 0.20 = 1.00; 0.5 h parking x 3.00 = 1.50
    assert totals(costed) == (D("2.50"), D("2.50"))
    assert volumes(costed) == [{"ENERGY": D(5), "TIME": D("0.5")}, {"PARKING_TIME": D("0.5")}]


def test_a_session_of_no_duration_still_has_one_period_and_its_flat_fee():
    """Start equal to end gives one empty period that carries the FLAT fee."""
    tariff = plan(element(part("FLAT", "0.50", vat="20"), part("ENERGY", "0.25")))
    start = local(*MONDAY, 10)
    usage = SessionUsage(
        start=start,
        end=start,
        time_zone=AMSTERDAM,
        samples=(UsageSample(at=start, energy_wh=D(0), power_w=D(0)),),
    )
    costed = cost_session(tariff, usage)
    assert totals(costed) == (D("0.50"), D("0.60"))
    assert volumes(costed) == [
        {"FLAT": D(1), "ENERGY": D(0), "TIME": D(0), "MIN_POWER": D(0), "MAX_POWER": D(0)}
    ]


# --- FLAT ------------------------------------------------------------------------------------


def test_flat_is_charged_once_when_it_first_applies():
    """A FLAT that applies only after 1 h is charged once, in the period where it starts."""
    tariff = plan(element(part("FLAT", "5.00"), min_duration=3600), element(part("ENERGY", "0")))
    long = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=90, kwh="5")))
    short = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=30, kwh="5")))
    assert totals(long) == (D("5.00"), D("5.00"))
    assert [("FLAT" in v) for v in volumes(long)] == [False, True]
    assert totals(short) == (D(0), D(0))
    assert all("FLAT" not in v for v in volumes(short))


def test_only_the_first_flat_fee_counts_when_another_applies_later():
    """Two time-windowed FLAT fees: the session pays the one that applied first, once."""
    tariff = plan(
        element(part("FLAT", "1.00"), end_time="12:00"),
        element(part("FLAT", "2.00")),
    )
    costed = cost_session(tariff, timeline(local(*MONDAY, 11), Leg(minutes=120, kwh="5")))
    assert totals(costed) == (D("1.00"), D("1.00"))
    assert starts(costed) == ["11:00", "12:00"]
    assert [("FLAT" in v) for v in volumes(costed)] == [True, False]


# --- step_size -------------------------------------------------------------------------------


@pytest.mark.parametrize(("step", "expected"), [(0, D("1.0167")), (60, D("2.00"))])
def test_step_size_zero_means_no_rounding(step, expected):
    """step_size 0 bills the exact time; 60 bills whole minutes."""
    tariff = plan(element(part("TIME", "60", step)))
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(seconds=61, kwh="0.1")))
    # 61 s x 60.00/h = 1.016666..; rounded up to 120 s = 2.00
    assert costed.total_time_cost.excl_vat == expected


def test_energy_step_comes_from_the_last_component_that_billed_energy():
    """A later ENERGY component under which no energy flowed does not decide the step."""
    tariff = plan(
        element(part("ENERGY", "0.10", 1000), end_time="11:00"),
        element(part("ENERGY", "1.00", 1)),
    )
    usage = timeline(
        local(*MONDAY, 10), Leg(minutes=60, kwh="1.5"), Leg(minutes=30, charging=False)
    )
    costed = cost_session(tariff, usage)
    # 1500 Wh -> 2000 Wh with the 10:00-11:00 component's step: 2 kWh x 0.10 = 0.20
    assert costed.total_energy_cost.excl_vat == D("0.20")


def test_charging_time_is_rounded_when_the_session_ends_charging():
    """When the last billed period is charging, step_size rounds the charging time."""
    tariff = plan(element(part("TIME", "6.00", 600), part("PARKING_TIME", "6.00", 600)))
    usage = timeline(
        local(*MONDAY, 10),
        Leg(minutes=5, kwh="1"),
        Leg(minutes=5, charging=False),
        Leg(minutes=1, kwh="1"),
    )
    costed = cost_session(tariff, usage)
    # Parking 5 min not rounded: 0.50; charging 6 min -> 10 min x 6.00/h = 1.00
    assert costed.total_parking_cost.excl_vat == D("0.50")
    assert costed.total_time_cost.excl_vat == D("1.00")


# --- VAT, min and max ------------------------------------------------------------------------


def test_components_without_vat_add_the_same_amount_incl_vat():
    """A component without `vat` has no VAT applicable; others add their percentage."""
    tariff = plan(element(part("FLAT", "1.00", vat="20"), part("ENERGY", "0.25")))
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="10")))
    # Flat 1.00 -> 1.20; energy 2.50 -> 2.50
    assert totals(costed) == (D("3.50"), D("3.70"))


@pytest.mark.parametrize(
    ("bounds", "kwh", "expected", "adjustment"),
    [
        # 4 x 0.25 = 1.00 (1.10) < 5.00: incl. follows excl. by +4.00
        ({"min_price": {"excl_vat": 5}}, "4", ("5.00", "5.10"), ("4.00", "4.00")),
        # 20 x 0.25 = 5.00 (5.50) > 2.00: incl. follows excl. by -3.00
        ({"max_price": {"excl_vat": 2}}, "20", ("2.00", "2.50"), ("-3.00", "-3.00")),
        # 39 x 0.25 = 9.75 (10.725): only the incl. bound binds
        (
            {"max_price": {"excl_vat": 10, "incl_vat": 10.5}},
            "39",
            ("9.75", "10.50"),
            ("0", "-0.225"),
        ),
        # 4 x 0.25 = 1.00 (1.10): only the incl. bound binds
        (
            {"min_price": {"excl_vat": 1, "incl_vat": 1.15}},
            "4",
            ("1.00", "1.15"),
            ("0", "0.05"),
        ),
        # 4 x 0.25 = 1.00 (1.10) < 5.00 (5.50): each clamped to its own bound
        (
            {"min_price": {"excl_vat": 5, "incl_vat": 5.5}},
            "4",
            ("5.00", "5.50"),
            ("4.00", "4.40"),
        ),
        # 20 x 0.25 = 5.00 (5.50) > 2.00 (2.10): each clamped to its own bound
        (
            {"max_price": {"excl_vat": 2, "incl_vat": 2.1}},
            "20",
            ("2.00", "2.10"),
            ("-3.00", "-3.40"),
        ),
        # Both bounds, neither binds
        (
            {"min_price": {"excl_vat": 1}, "max_price": {"excl_vat": 9}},
            "8",
            ("2.00", "2.20"),
            ("0", "0"),
        ),
    ],
)
def test_min_and_max_price_clamp_excl_and_incl_vat(bounds, kwh, expected, adjustment):
    """Each bound clamps excl. and incl. VAT; the adjustment is what the clamp changed."""
    tariff = plan(element(part("ENERGY", "0.25", vat="10")), **bounds)
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh=kwh)))
    assert totals(costed) == tuple(D(x) for x in expected)
    adjust = costed.min_max_adjustment
    assert (adjust.excl_vat, adjust.incl_vat) == tuple(D(x) for x in adjustment)
    assert costed.total_energy_cost.excl_vat == D(kwh) / 4


def test_negative_amounts_round_half_away_from_zero():
    """A negative price yields a negative cost, rounded like a positive one."""
    tariff = plan(element(part("ENERGY", "-0.00005")))
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="1")))
    assert totals(costed) == (D("-0.0001"), D("-0.0001"))


# --- reservations ----------------------------------------------------------------------------


def test_reservation_elements_do_not_price_the_session():
    """Without a reservation, elements restricted to reservations are ignored."""
    tariff = plan(
        element(part("TIME", "5.00"), reservation="RESERVATION"), element(part("TIME", "1.00"))
    )
    costed = cost_session(tariff, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="5")))
    assert totals(costed) == (D("1.00"), D("1.00"))
    assert costed.total_reservation_cost.excl_vat == D(0)


def test_reservation_time_follows_restriction_boundaries():
    """Reservation time is split where a reservation element's clock restriction changes."""
    tariff = plan(
        element(part("TIME", "4.00"), reservation="RESERVATION", start_time="10:00"),
        element(part("TIME", "2.00"), reservation="RESERVATION"),
        element(part("ENERGY", "0.25")),
    )
    usage = timeline(local(*MONDAY, 10, 30), Leg(minutes=60, kwh="4"), reservation_minutes=60)
    costed = cost_session(tariff, usage)
    # 09:30-10:00 0.5 h x 2.00 = 1.00; 10:00-10:30 0.5 h x 4.00 = 2.00; energy 4 x 0.25 = 1.00
    assert costed.total_reservation_cost.excl_vat == D("3.00")
    assert totals(costed) == (D("4.00"), D("4.00"))
    assert starts(costed) == ["09:30", "10:00", "10:30"]


def test_expiry_element_wins_even_when_listed_after_the_reservation_element():
    """An expired reservation takes TIME from RESERVATION_EXPIRES before RESERVATION."""
    tariff = plan(
        element(part("TIME", "2.00"), reservation="RESERVATION"),
        element(part("TIME", "6.00"), reservation="RESERVATION_EXPIRES"),
    )
    reservation = Reservation(start=local(*MONDAY, 10), end=local(*MONDAY, 11))
    costed = cost_expired_reservation(tariff, reservation, time_zone=AMSTERDAM)
    assert totals(costed) == (D("6.00"), D("6.00"))


def test_expired_reservation_falls_back_to_reservation_elements():
    """Without RESERVATION_EXPIRES elements an expired reservation is billed as reserved time."""
    tariff = plan(
        element(part("TIME", "2.00"), reservation="RESERVATION"), element(part("FLAT", "9.00"))
    )
    reservation = Reservation(start=local(*MONDAY, 10), end=local(*MONDAY, 11))
    costed = cost_expired_reservation(tariff, reservation, time_zone=AMSTERDAM)
    # 1 h x 2.00; the session's FLAT is not due
    assert totals(costed) == (D("2.00"), D("2.00"))
    assert costed.charging_periods[0].tariff_id == "T1"


def test_a_reservation_of_no_duration_still_pays_its_fee():
    """A reservation used at once still carries its FLAT fee in one empty period."""
    tariff = plan(
        element(part("FLAT", "1.00"), reservation="RESERVATION"), element(part("ENERGY", "0"))
    )
    usage = timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="4"), reservation_minutes=0)
    costed = cost_session(tariff, usage)
    assert costed.total_reservation_cost.excl_vat == D("1.00")
    assert volumes(costed)[0] == {"FLAT": D(1), "RESERVATION_TIME": D(0)}


# --- wall clock ------------------------------------------------------------------------------


def test_wall_clock_breaks_in_utc_are_the_given_times_and_midnight():
    """In a zone without DST the breaks are the listed times of day and midnight."""
    lo = datetime(2024, 3, 25, 6, tzinfo=UTC)
    breaks = wall_clock_breaks(UTC, lo, lo + timedelta(days=1), frozenset({time(12, 0)}))
    assert breaks == [datetime(2024, 3, 25, 12, tzinfo=UTC), datetime(2024, 3, 26, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    "transition",
    [datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC)],
)
def test_wall_clock_breaks_include_dst_transitions(transition):
    """The instant the wall clock jumps is a break, found to the microsecond."""
    lo = transition - timedelta(minutes=53)
    breaks = wall_clock_breaks(
        ZoneInfo("Europe/Amsterdam"), lo, lo + timedelta(hours=2), frozenset()
    )
    assert transition in breaks
