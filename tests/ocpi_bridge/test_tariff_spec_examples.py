"""Every tariff example of OCPI 2.2.1 (mod_tariffs, mod_cdrs, examples/) priced by the engine.

Each scenario is the one the spec describes where it gives one; the expected costs are worked
out by hand in the comments. The engine rounds money to 4 decimals, so where the spec prints
cents the comment says so.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from ocpi_bridge.translate.tariff_engine import (
    CdrDimensionType,
    Reservation,
    SessionUsage,
    UsageSample,
    cost_expired_reservation,
    cost_session,
    tariff_from_ocpi,
)
from tests.ocpi_bridge.tariff_helpers import (
    AMSTERDAM,
    EXAMPLES,
    Leg,
    example,
    example_plan,
    local,
    starts,
    timeline,
    totals,
    volumes,
)

MONDAY = (2024, 3, 25)
SATURDAY = (2024, 3, 23)

# The example files each scenario below prices; the last test checks none is left out.
COVERED = {
    "tariff_1_simple_2hour.json",
    "tariff_2_alt_text.json",
    "tariff_3_alt_url.json",
    "tariff_4_complex.json",
    "tariff_5_free_of_charge.json",
    "tariff_6_025kwh_start_max_price.json",
    "tariff_8_simple_025kwh.json",
    "tariff_9_025kwh_start.json",
    "tariff_10_025kwh_parking_start.json",
    "tariff_11_not_possible_alt_text.json",
    "tariff_12_025kwh_min_price.json",
    "tariff_13_simple_3hour_5parking.json",
    "tariff_14_step_size.json",
    "tariff_15_reservation_5_euro_per_hour.json",
    "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
    "tariff_17_reservation_with_expire_fee.json",
    "tariff_18_reservation_with_expire_time.json",
    "tariff_put_example.json",
    "tariffrestriction_example_max_duration.json",
    "tariffrestriction_example_max_power.json",
}


def test_every_tariff_example_file_has_a_worked_scenario():
    """No tariff example of the spec folder goes unpriced."""
    if not EXAMPLES.is_dir():
        pytest.skip(f"OCPI 2.2.1 spec examples not found at {EXAMPLES}")
    on_disk = {p.name for p in EXAMPLES.glob("tariff*.json")}
    assert on_disk == COVERED


@pytest.mark.parametrize("name", sorted(COVERED))
def test_every_tariff_example_parses(name):
    """Each example file becomes a plan with its id, currency and elements."""
    raw = example(name)
    plan = tariff_from_ocpi(raw)
    assert (plan.id, plan.currency, len(plan.elements)) == (
        raw["id"],
        raw["currency"],
        len(raw["elements"]),
    )


def test_tariff_1_two_euro_per_hour_for_two_and_a_half_hours():
    """Simple tariff EUR 2/h: 2.5 h of charging costs 5.00 excl. and 5.50 incl. VAT."""
    plan = example_plan("tariff_1_simple_2hour.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=150, kwh="15")))
    # 2.5 h x 2.00 = 5.00; +10% VAT = 5.50. 9000 s is a whole number of 60 s steps.
    assert totals(costed) == (Decimal("5.00"), Decimal("5.50"))
    assert costed.total_time_cost.excl_vat == Decimal("5.00")
    assert volumes(costed) == [{"ENERGY": Decimal("15"), "TIME": Decimal("2.5")}]


def test_tariff_2_ad_hoc_time_tariff():
    """EUR 1.90/h with 5.2% VAT: 2.5 h costs 4.75 excl.; the spec prints 5.00 incl. (4.997)."""
    plan = example_plan("tariff_2_alt_text.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=150, kwh="15")))
    # 2.5 h x 1.90 = 4.75; x 1.052 = 4.997 (the spec rounds to 5.00).
    assert totals(costed) == (Decimal("4.75"), Decimal("4.997"))


def test_tariff_3_energy_billed_per_100_wh():
    """20.45 kWh billed per 0.1 kWh is billed as 20.5 kWh, plus the EUR 0.50 start fee."""
    plan = example_plan("tariff_3_alt_url.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="20.45")))
    # Energy: 20450 Wh -> 205 steps of 100 Wh = 20.5 kWh x 0.25 = 5.125; x 1.10 = 5.6375
    # Flat: 0.50; x 1.20 = 0.60
    # Total: 5.625 excl., 6.2375 incl. (the spec's table rounds each line to cents: 5.63, 6.24)
    assert costed.total_energy_cost.excl_vat == Decimal("5.125")
    assert costed.total_energy_cost.incl_vat == Decimal("5.6375")
    assert costed.total_fixed_cost.excl_vat == Decimal("0.50")
    assert costed.total_fixed_cost.incl_vat == Decimal("0.60")
    assert totals(costed) == (Decimal("5.625"), Decimal("6.2375"))
    assert costed.total_energy_kwh == Decimal("20.45")


def test_tariff_4_complex_monday_morning():
    """Monday 09:30, 165 min at 16 A then 42 min parking: 9.00 excl., 10.30 incl. VAT."""
    plan = example_plan("tariff_4_complex.json")
    usage = timeline(
        local(*MONDAY, 9, 30),
        Leg(minutes=165, kwh="10", current_a="16"),
        Leg(minutes=42, charging=False),
    )
    costed = cost_session(plan, usage)
    # Flat: 2.50; x 1.15 = 2.875
    # Charging (< 32 A): 165 min x 1.00/h = 2.75; x 1.20 = 3.30 (not rounded: parking follows)
    # Parking (weekday 09-18): 42 min -> 45 min (step 300 s) x 5.00/h = 3.75; x 1.10 = 4.125
    # Total: 9.00 excl., 10.30 incl.
    assert costed.total_fixed_cost.excl_vat == Decimal("2.50")
    assert costed.total_time_cost.excl_vat == Decimal("2.75")
    assert costed.total_parking_cost.excl_vat == Decimal("3.75")
    assert totals(costed) == (Decimal("9.00"), Decimal("10.30"))
    assert starts(costed) == ["09:30", "12:15"]


def test_tariff_4_complex_saturday_afternoon():
    """Saturday 13:30, 114 min at 43 A then 71 min parking: 12.375 excl., 13.975 incl.

    The spec prints 12.28 / 13.861 because its table prices the charging time at 1.20/h; the
    tariff (JSON and text) says 1.25/h for more than 32 A on weekends.
    """
    plan = example_plan("tariff_4_complex.json")
    usage = timeline(
        local(*SATURDAY, 13, 30),
        Leg(minutes=114, kwh="40", current_a="43"),
        Leg(minutes=71, charging=False),
    )
    costed = cost_session(plan, usage)
    # Flat: 2.50; x 1.15 = 2.875
    # Charging (>= 32 A, weekend): 114 min = 1.9 h x 1.25 = 2.375; x 1.20 = 2.85
    # Parking (Saturday 10-17): 71 min -> 75 min x 6.00/h = 7.50; x 1.10 = 8.25
    # Total: 2.50 + 2.375 + 7.50 = 12.375 excl.; 2.875 + 2.85 + 8.25 = 13.975 incl.
    assert costed.total_time_cost.excl_vat == Decimal("2.375")
    assert costed.total_parking_cost.excl_vat == Decimal("7.50")
    assert totals(costed) == (Decimal("12.375"), Decimal("13.975"))


def test_tariff_5_free_of_charge():
    """The free-of-charge tariff costs nothing and reports its FLAT once."""
    plan = example_plan("tariff_5_free_of_charge.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="10")))
    # One FLAT of 0.00; no other dimension is priced.
    assert totals(costed) == (Decimal(0), Decimal(0))
    assert volumes(costed) == [{"FLAT": Decimal(1), "ENERGY": Decimal(10), "TIME": Decimal(1)}]


@pytest.mark.parametrize(
    ("kwh", "expected", "adjustment"),
    [
        # 0.50 + 50 x 0.25 = 13.00 > 10.00; incl. 0.60 + 13.75 = 14.35 > 11.00
        ("50", (Decimal("10.00"), Decimal("11.00")), (Decimal("-3.00"), Decimal("-3.35"))),
        # 0.50 + 30 x 0.25 = 8.00; incl. 0.60 + 7.50 x 1.10 = 8.85: below the cap
        ("30", (Decimal("8.00"), Decimal("8.85")), (Decimal(0), Decimal(0))),
    ],
)
def test_tariff_6_max_price_caps_the_total(kwh, expected, adjustment):
    """With max_price 10.00 / 11.00, 50 kWh costs the cap and 30 kWh its own price."""
    plan = example_plan("tariff_6_025kwh_start_max_price.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=120, kwh=kwh)))
    assert totals(costed) == expected
    adjust = costed.min_max_adjustment
    assert (adjust.excl_vat, adjust.incl_vat) == adjustment


def test_tariff_8_simple_energy():
    """EUR 0.25/kWh with 10% VAT: 20 kWh costs 5.00 excl., 5.50 incl."""
    plan = example_plan("tariff_8_simple_025kwh.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=90, kwh="20")))
    # 20 x 0.25 = 5.00; x 1.10 = 5.50
    assert totals(costed) == (Decimal("5.00"), Decimal("5.50"))


def test_tariff_9_energy_and_start_fee():
    """Start fee 0.50 (20% VAT) plus 20 kWh at 0.25 (10% VAT): 5.50 excl., 6.10 incl."""
    plan = example_plan("tariff_9_025kwh_start.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=90, kwh="20")))
    # 0.50 + 5.00 = 5.50; 0.60 + 5.50 = 6.10
    assert totals(costed) == (Decimal("5.50"), Decimal("6.10"))


def test_tariff_10_parking_billed_per_quarter_hour():
    """20 kWh then 40 min parking, parking billed per 15 min: 7.00 excl., 7.90 incl."""
    plan = example_plan("tariff_10_025kwh_parking_start.json")
    usage = timeline(
        local(*MONDAY, 10), Leg(minutes=120, kwh="20"), Leg(minutes=40, charging=False)
    )
    costed = cost_session(plan, usage)
    # Flat 0.50 (0.60); energy 20 x 0.25 = 5.00 (5.50);
    # parking 40 min -> 45 min x 2.00/h = 1.50 (x 1.20 = 1.80)
    # Total 7.00 excl., 7.90 incl.
    assert totals(costed) == (Decimal("7.00"), Decimal("7.90"))
    assert costed.total_parking_time_h == Decimal("0.6667")


def test_tariff_11_start_fee_and_time_per_five_minutes():
    """The alt-text tariff prices 62 min of charging as 65 min at 1.90/h plus the 0.40 fee."""
    plan = example_plan("tariff_11_not_possible_alt_text.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=62, kwh="7")))
    # Flat: 0.40; x 1.25 = 0.50
    # Time: 62 min -> 65 min (step 300 s) x 1.90/h = 2.058333... -> 2.0583;
    #       x 1.052 = 2.165366... -> 2.1654
    # Total: 2.4583 excl., 2.6654 incl.
    assert costed.total_time_cost.excl_vat == Decimal("2.0583")
    assert costed.total_time_cost.incl_vat == Decimal("2.1654")
    assert totals(costed) == (Decimal("2.4583"), Decimal("2.6654"))


@pytest.mark.parametrize(
    ("kwh", "expected"),
    [
        ("1", (Decimal("0.50"), Decimal("0.55"))),  # 1 x 0.25 = 0.25 (0.275) < min 0.50 (0.55)
        ("1.99", (Decimal("0.50"), Decimal("0.55"))),  # 0.4975 (0.54725) < min
        ("20", (Decimal("5.00"), Decimal("5.50"))),  # 20 x 0.25 = 5.00 (5.50) > min
    ],
)
def test_tariff_12_min_price(kwh, expected):
    """Below 2 kWh the session costs the minimum 0.50 / 0.55; 20 kWh costs 5.00 / 5.50."""
    plan = example_plan("tariff_12_025kwh_min_price.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=30, kwh=kwh)))
    assert totals(costed) == expected


def test_tariff_13_time_and_parking():
    """150 min charging at 3.00/h then 42 min parking at 5.00/h: 11.25 excl., 12.75 incl."""
    plan = example_plan("tariff_13_simple_3hour_5parking.json")
    usage = timeline(
        local(*MONDAY, 10), Leg(minutes=150, kwh="20"), Leg(minutes=42, charging=False)
    )
    costed = cost_session(plan, usage)
    # Charging: 2.5 h x 3.00 = 7.50 (x 1.10 = 8.25)
    # Parking: 42 -> 45 min x 5.00/h = 3.75 (x 1.20 = 4.50)
    # Total: 11.25 excl., 12.75 incl.
    assert totals(costed) == (Decimal("11.25"), Decimal("12.75"))


def test_tariff_14_switching_tariff_element_1():
    """16:55 charge 10 min, park 2 min: 0.10 + 0.20 + 0.25 = 0.55 (no VAT given)."""
    plan = example_plan("tariff_14_step_size.json")
    usage = timeline(
        local(*MONDAY, 16, 55), Leg(minutes=10, kwh="2"), Leg(minutes=2, charging=False)
    )
    costed = cost_session(plan, usage)
    # 16:55-17:00 charging 5 min x 1.20/h = 0.10
    # 17:00-17:05 charging 5 min x 2.40/h = 0.20
    # 17:05-17:07 parking 2 min -> 15 min (step 900 s) x 1.00/h = 0.25
    # No VAT in the tariff: incl. equals excl.
    assert starts(costed) == ["16:55", "17:00", "17:05"]
    assert costed.total_time_cost.excl_vat == Decimal("0.30")
    assert costed.total_parking_cost.excl_vat == Decimal("0.25")
    assert totals(costed) == (Decimal("0.55"), Decimal("0.55"))


def test_tariff_14_switching_tariff_element_2():
    """16:35 charge 35 min: 35 -> 45 min with the last step; 0.50 + 0.80 = 1.30."""
    plan = example_plan("tariff_14_step_size.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 16, 35), Leg(minutes=35, kwh="5")))
    # Total charging 35 min rounded by the last component's step (900 s) to 45 min.
    # 25 min before 17:00 x 1.20/h = 0.50; 10 + 10 extra = 20 min x 2.40/h = 0.80
    assert starts(costed) == ["16:35", "17:00"]
    assert totals(costed) == (Decimal("1.30"), Decimal("1.30"))


def test_tariff_14_switching_to_free_parking():
    """19:40 charge 12 min, park 20 min (free after 20:00): 0.48 + 0.25 = 0.73."""
    plan = example_plan("tariff_14_step_size.json")
    usage = timeline(
        local(*MONDAY, 19, 40), Leg(minutes=12, kwh="2"), Leg(minutes=20, charging=False)
    )
    costed = cost_session(plan, usage)
    # Charging 12 min x 2.40/h = 0.48 (not rounded: parking follows)
    # Billable parking 19:52-20:00 = 8 min -> 15 min x 1.00/h = 0.25; after 20:00 free
    assert starts(costed) == ["19:40", "19:52", "20:00"]
    assert costed.total_parking_cost.excl_vat == Decimal("0.25")
    assert totals(costed) == (Decimal("0.73"), Decimal("0.73"))


def test_tariff_15_reservation_per_hour():
    """Reservation 15 min at 5.00/h, then 20 kWh with a start fee: 6.75 excl., 7.60 incl."""
    plan = example_plan("tariff_15_reservation_5_euro_per_hour.json")
    usage = timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="20"), reservation_minutes=15)
    costed = cost_session(plan, usage)
    # Reservation 0.25 h x 5.00 = 1.25 (1.50); flat 0.50 (0.60); energy 5.00 (5.50)
    assert costed.total_reservation_cost.excl_vat == Decimal("1.25")
    assert costed.total_reservation_cost.incl_vat == Decimal("1.50")
    assert totals(costed) == (Decimal("6.75"), Decimal("7.60"))
    assert volumes(costed)[0] == {"RESERVATION_TIME": Decimal("0.25")}
    assert costed.total_reservation_time_h == Decimal("0.25")


def test_tariff_16_reservation_fee_and_time():
    """Reservation 13 min (billed 15) with a 2.00 fee, then 20 kWh: 8.75 excl., 10.00 incl."""
    plan = example_plan("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json")
    usage = timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="20"), reservation_minutes=13)
    costed = cost_session(plan, usage)
    # Reservation: fee 2.00 (2.40) + 13 -> 15 min x 5.00/h = 1.25 (1.50) = 3.25 (3.90)
    # Session: flat 0.50 (0.60) + energy 5.00 (5.50)
    # Total 8.75 excl., 10.00 incl.
    assert costed.total_reservation_cost.excl_vat == Decimal("3.25")
    assert costed.total_fixed_cost.excl_vat == Decimal("0.50")
    assert totals(costed) == (Decimal("8.75"), Decimal("10.00"))
    assert starts(costed) == ["09:47", "10:00"]


def test_tariff_17_reservation_followed_by_a_session():
    """Reservation 22 min billed per 10 min at 2.00/h, then 20 kWh: 6.50 excl., 7.30 incl."""
    plan = example_plan("tariff_17_reservation_with_expire_fee.json")
    usage = timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="20"), reservation_minutes=22)
    costed = cost_session(plan, usage)
    # 22 -> 30 min x 2.00/h = 1.00 (1.20); flat 0.50 (0.60); energy 5.00 (5.50)
    # The expiry fee does not apply: the reservation was used.
    assert totals(costed) == (Decimal("6.50"), Decimal("7.30"))


def test_tariff_17_expired_reservation():
    """An unused 1 h reservation costs the 4.00 expiry fee plus 1 h at 2.00: 6.00 / 7.20."""
    plan = example_plan("tariff_17_reservation_with_expire_fee.json")
    reservation = Reservation(start=local(*MONDAY, 10), end=local(*MONDAY, 11))
    costed = cost_expired_reservation(plan, reservation, time_zone=AMSTERDAM)
    # Flat 4.00 (4.80) + 60 min x 2.00/h = 2.00 (2.40)
    assert totals(costed) == (Decimal("6.00"), Decimal("7.20"))
    assert costed.total_reservation_cost.excl_vat == Decimal("6.00")
    assert volumes(costed) == [{"FLAT": Decimal(1), "RESERVATION_TIME": Decimal(1)}]
    assert (costed.total_time_h, costed.total_energy_kwh) == (Decimal(0), Decimal(0))


def test_tariff_18_reservation_followed_by_a_session():
    """Reservation 22 min billed per 10 min at 3.00/h, then 20 kWh: 7.00 excl., 7.90 incl."""
    plan = example_plan("tariff_18_reservation_with_expire_time.json")
    usage = timeline(local(*MONDAY, 10), Leg(minutes=60, kwh="20"), reservation_minutes=22)
    costed = cost_session(plan, usage)
    # 22 -> 30 min x 3.00/h = 1.50 (1.80); flat 0.50 (0.60); energy 5.00 (5.50)
    assert totals(costed) == (Decimal("7.00"), Decimal("7.90"))


def test_tariff_18_expired_reservation():
    """An unused 1.5 h reservation is billed at the expiry rate 6.00/h: 9.00 / 10.80."""
    plan = example_plan("tariff_18_reservation_with_expire_time.json")
    reservation = Reservation(start=local(*MONDAY, 10), end=local(*MONDAY, 11, 30))
    costed = cost_expired_reservation(plan, reservation, time_zone=AMSTERDAM)
    # 90 min x 6.00/h = 9.00; x 1.20 = 10.80 (the RESERVATION element's 3.00/h does not apply)
    assert totals(costed) == (Decimal("9.00"), Decimal("10.80"))


def test_tariff_put_example_two_euro_per_hour_per_five_minutes():
    """EUR 2.00/h billed per 5 min: 62 min of charging is billed as 65 min."""
    plan = example_plan("tariff_put_example.json")
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=62, kwh="7")))
    # 65 min x 2.00/h = 2.1666... -> 2.1667; x 1.10 = 2.38333... -> 2.3833
    assert totals(costed) == (Decimal("2.1667"), Decimal("2.3833"))


def test_max_duration_example_supermarket():
    """5 kWh in the free first 30 min, then 1.2 kWh at 0.25: 0.30 excl. (0.36 incl.)."""
    plan = example_plan("tariffrestriction_example_max_duration.json")
    usage = timeline(local(*MONDAY, 10), Leg(minutes=30, kwh="5"), Leg(minutes=10, kwh="1.2"))
    costed = cost_session(plan, usage)
    # 5 x 0.00 + 1.2 x 0.25 = 0.30; x 1.20 = 0.36
    assert totals(costed) == (Decimal("0.30"), Decimal("0.36"))
    assert starts(costed) == ["10:00", "10:30"]


@pytest.mark.parametrize("sampled_power", [True, False])
def test_max_power_example(sampled_power):
    """1 kWh at 6 kW, 40 kWh at 48 kW, 0.5 kWh at 4 kW: 0.20 + 20.00 + 0.10 = 20.30.

    Without sampled power the average power of each interval decides, with the same result.
    """
    plan = example_plan("tariffrestriction_example_max_power.json")
    legs = [("10", 0, "1", "6"), ("50", 0, "40", "48"), ("7", 30, "0.5", "4")]
    usage = timeline(
        local(*MONDAY, 10),
        *(
            Leg(minutes=int(m), seconds=s, kwh=kwh, power_kw=kw if sampled_power else None)
            for m, s, kwh, kw in legs
        ),
    )
    costed = cost_session(plan, usage)
    # 1 x 0.20 (< 16 kW) + 40 x 0.50 (>= 32 kW: fallback) + 0.5 x 0.20 = 20.30; x 1.20 = 24.36
    assert totals(costed) == (Decimal("20.30"), Decimal("24.36"))
    assert starts(costed) == ["10:00", "10:10", "11:00"]


def test_cdr_example_total_cost_is_reproduced():
    """The spec's example CDR: 1:58:23 at 2.00/h billed per 5 min costs 4.00 / 4.40."""
    cdr: Any = example("cdr_example.json")
    plan = tariff_from_ocpi(cdr["tariffs"][0])
    start = local(2015, 6, 29, 23, 39, 9)  # 21:39:09Z
    usage = SessionUsage(
        start=start,
        end=start + timedelta(hours=1, minutes=58, seconds=23),
        time_zone=AMSTERDAM,
        samples=(
            UsageSample(at=start, energy_wh=Decimal(0)),
            UsageSample(at=start + timedelta(seconds=7103), energy_wh=Decimal(15342)),
        ),
    )
    costed = cost_session(plan, usage)
    # 7103 s -> 24 steps of 300 s = 2 h x 2.00 = 4.00; x 1.10 = 4.40
    assert totals(costed) == (Decimal(str(cdr["total_cost"]["excl_vat"])), Decimal("4.40"))
    assert costed.total_energy_kwh == Decimal(str(cdr["total_energy"]))
    # The CDR example states 1.973 h (3 decimals); the engine reports 4.
    assert costed.charging_periods[0].dimensions[1].volume == Decimal("1.9731")
    assert costed.charging_periods[0].start == start


# --- worked examples in the text, with tariffs written out here -----------------------------


def _plan(*elements: dict[str, Any], **extra: Any) -> Any:
    return tariff_from_ocpi({"id": "T", "currency": "EUR", "elements": list(elements), **extra})


def _component(kind: str, price: str, step: int, vat: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": float(price), "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (1, Decimal("0.029")),  # 115.2 Wh -> 116 Wh x 0.25/kWh = 0.029
        (25, Decimal("0.0313")),  # -> 125 Wh x 0.25/kWh = 0.03125 -> 0.0313 (spec: 0.031)
        (500, Decimal("0.125")),  # -> 500 Wh x 0.25/kWh = 0.125
    ],
)
def test_step_size_note_energy_115_2_wh(step, expected):
    """PriceComponent note: 115.2 Wh is billed in whole steps of `step_size` Wh."""
    plan = _plan({"price_components": [_component("ENERGY", "0.25", step)]})
    costed = cost_session(plan, timeline(local(*MONDAY, 10), Leg(minutes=5, kwh="0.1152")))
    assert costed.total_energy_cost.excl_vat == expected


def test_cdr_step_size_energy_total_is_rounded_once():
    """0.20/kWh before 17:00 and 0.27 after, step 500 Wh: 4.3 + 1.1 kWh is billed as 5.5 kWh."""
    plan = _plan(
        {
            "price_components": [_component("ENERGY", "0.20", 500)],
            "restrictions": {"end_time": "17:00"},
        },
        {"price_components": [_component("ENERGY", "0.27", 500)]},
    )
    usage = timeline(local(*MONDAY, 16), Leg(minutes=60, kwh="4.3"), Leg(minutes=30, kwh="1.1"))
    costed = cost_session(plan, usage)
    # 5.4 kWh -> 5.5 kWh; the extra 0.1 kWh at the last price:
    # 4.3 x 0.20 = 0.86; (1.1 + 0.1) x 0.27 = 0.324; total 1.184
    assert costed.total_energy_cost.excl_vat == Decimal("1.184")


def test_cdr_step_size_time_total_is_rounded_once():
    """5/h before 17:00 and 7/h after, step 10 min: 6 + 22 min is billed as 6 + 24 min."""
    plan = _plan(
        {
            "price_components": [_component("TIME", "5", 600)],
            "restrictions": {"end_time": "17:00"},
        },
        {"price_components": [_component("TIME", "7", 600)]},
    )
    costed = cost_session(plan, timeline(local(*MONDAY, 16, 54), Leg(minutes=28, kwh="3")))
    # 28 -> 30 min: 6 min x 5/h = 0.50; 24 min x 7/h = 2.80; total 3.30
    assert totals(costed) == (Decimal("3.30"), Decimal("3.30"))


@pytest.mark.parametrize(
    ("step", "charging_min", "parking_min", "expected"),
    [
        # step 10 min: 21 min x 1.00/h = 0.35; 16 -> 20 min x 2.00/h = 0.666..; 1.0167
        (600, 21, 16, (Decimal("0.35"), Decimal("0.6667"))),
        # step 5 min: 21 min charging stays 21 (0.35); 7 -> 10 min parking = 0.3333
        (300, 21, 7, (Decimal("0.35"), Decimal("0.3333"))),
    ],
)
def test_cdr_step_size_only_rounds_the_parking_after_charging(
    step, charging_min, parking_min, expected
):
    """With TIME and PARKING_TIME both priced, step_size rounds only the final parking time."""
    plan = _plan(
        {
            "price_components": [
                _component("TIME", "1.00", step),
                _component("PARKING_TIME", "2.00", step),
            ]
        }
    )
    usage = timeline(
        local(*MONDAY, 10),
        Leg(minutes=charging_min, kwh="5"),
        Leg(minutes=parking_min, charging=False),
    )
    costed = cost_session(plan, usage)
    assert (costed.total_time_cost.excl_vat, costed.total_parking_cost.excl_vat) == expected
    assert costed.total_cost.excl_vat == sum(expected)
    assert costed.charging_periods[1].dimensions == (costed.charging_periods[1].dimensions[0],)
    assert costed.charging_periods[1].dimensions[0].type is CdrDimensionType.PARKING_TIME
