"""Session energy: monotonic register filter, plausibility checks and charger quirks."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.core.energy import EnergyResult, PointSource, session_energy
from gateway.domain.meter import (
    EnergyFlagCode,
    Measurand,
    MeterLocation,
    MeterSample,
    Reading,
    ReadingContext,
    Unit,
)
from ocpp_central.translate.meter import from_v16_meter_values, from_v201_meter_values

T0 = datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
D = Decimal
F = EnergyFlagCode


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")


def eair(
    minutes: float,
    wh: int | str,
    *,
    context: ReadingContext = ReadingContext.SAMPLE_PERIODIC,
    location: MeterLocation = MeterLocation.OUTLET,
    phase: str | None = None,
) -> Reading:
    return Reading(
        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        value=D(wh),
        unit=Unit.WH,
        at=at(minutes),
        context=context,
        location=location,
        phase=phase,
    )


def power(minutes: float, watts: int) -> Reading:
    return Reading(
        measurand=Measurand.POWER_ACTIVE_IMPORT, value=D(watts), unit=Unit.W, at=at(minutes)
    )


def sample(minutes: float, *readings: Reading, suspect: bool = False) -> MeterSample:
    return MeterSample(at=at(minutes), readings=readings, clock_suspect=suspect)


def periodic(points: dict[float, int]) -> list[MeterSample]:
    return [sample(m, eair(m, wh)) for m, wh in points.items()]


def codes(result: EnergyResult) -> list[EnergyFlagCode]:
    return [flag.code for flag in result.flags]


def v16_frames(frames: list[tuple[float, list[dict[str, Any]]]]) -> list[MeterSample]:
    """Translate 1.6 MeterValues frames, each received two seconds after its timestamp."""
    samples: list[MeterSample] = []
    for minutes, sampled in frames:
        parse = from_v16_meter_values(
            [{"timestamp": stamp(minutes), "sampledValue": sampled}],
            received_at=at(minutes) + timedelta(seconds=2),
        )
        assert parse.problems == ()
        samples.extend(parse.samples)
    return samples


def v16_eair(value: str, unit: str = "Wh", context: str = "Sample.Periodic") -> dict[str, str]:
    return {
        "value": value,
        "context": context,
        "format": "Raw",
        "measurand": "Energy.Active.Import.Register",
        "location": "Outlet",
        "unit": unit,
    }


def v16_power(watts: str) -> dict[str, str]:
    return {
        "value": watts,
        "context": "Sample.Periodic",
        "measurand": "Power.Active.Import",
        "unit": "W",
    }


# --- an ordinary session --------------------------------------------------------------------


def test_consistent_session_bills_stop_minus_start_with_no_flags():
    """When registers and samples agree, energy is meterStop - meterStart and nothing is flagged."""
    samples = [sample(m, eair(m, 5000 + 183 * m), power(m, 11000)) for m in range(1, 60)]
    result = session_energy(
        D(5000), D(5000 + 183 * 60), samples, started_at=T0, stopped_at=at(60), max_power_w=D(11000)
    )
    assert result.energy_wh == D(10980)
    assert result.flags == ()
    assert (result.register_start_wh, result.register_end_wh) == (D(5000), D(15980))
    assert [p.source for p in (result.series[0], result.series[-1])] == [
        PointSource.START,
        PointSource.STOP,
    ]
    assert [p.energy_wh for p in result.series[:3]] == [D(0), D(183), D(366)]
    assert len(result.series) == 61


# --- the quirks of RELIABILITY.md §2.7 ------------------------------------------------------


def test_quirk_01_placeholder_zero_baseline_is_not_billed_as_lifetime_register():
    """Iocharger (2.0.1) sends an offline Transaction.Begin of 0 then its lifetime register:
    the 0 is replaced by the first real reading, so 83 Wh are billed, not 910 kWh."""
    started = from_v201_meter_values(
        [
            {
                "timestamp": stamp(0),
                "sampledValue": [
                    {
                        "value": 0,
                        "context": "Transaction.Begin",
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh"},
                    }
                ],
            }
        ],
        received_at=at(4),  # offline start, delivered on reconnect
    )
    updated = from_v201_meter_values(
        [
            {
                "timestamp": stamp(m),
                "sampledValue": [
                    {
                        "value": wh,
                        "context": "Sample.Periodic",
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh"},
                    },
                    {
                        "value": 0.37,
                        "context": "Sample.Periodic",
                        "measurand": "Power.Active.Import",
                        "unitOfMeasure": {"unit": "W", "multiplier": 3},
                    },
                ],
            }
            for m, wh in ((5, 909948), (7, 909960), (9, 909990))
        ],
        received_at=at(10),
    )
    ended = from_v201_meter_values(
        [
            {
                "timestamp": stamp(12),
                "sampledValue": [
                    {
                        "value": 910.031,
                        "context": "Transaction.End",
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "kWh"},
                    }
                ],
            }
        ],
        received_at=at(12),
    )
    samples = [*started.samples, *updated.samples, *ended.samples]

    result = session_energy(
        None, None, samples, started_at=at(0), stopped_at=at(12), max_power_w=D(22000)
    )

    assert result.energy_wh == D(83)
    assert result.register_start_wh == D(909948)
    assert F.PLACEHOLDER_BASELINE in codes(result)
    placeholder = next(f for f in result.flags if f.code is F.PLACEHOLDER_BASELINE)
    assert placeholder.register_wh == D(0)
    assert F.REGISTERS_DISAGREE in codes(result)  # 910031 - 0 was never billed


def test_quirk_01_placeholder_zero_meter_start_in_1_6_is_replaced_by_first_real_reading():
    """A 1.6 StartTransaction with meterStart 0 while samples read the lifetime register."""
    samples = v16_frames([(m, [v16_eair(str(909948 + 20 * m))]) for m in (2, 4, 6)])
    result = session_energy(
        D(0), D(910080), samples, started_at=T0, stopped_at=at(8), max_power_w=D(7400)
    )
    assert result.energy_wh == D(910080 - 909988)
    assert codes(result) == [F.PLACEHOLDER_BASELINE, F.REGISTERS_DISAGREE]


def test_quirk_01_placeholder_baseline_without_known_max_power_is_caught_above_1000_kwh():
    """Without the EVSE's max power, a baseline jump of more than 1,000 kWh is a placeholder."""
    samples = periodic({5: 16_012_345, 10: 16_012_900})
    result = session_energy(D(0), D(16_013_400), samples, started_at=T0, stopped_at=at(15))
    assert result.energy_wh == D(16_013_400 - 16_012_345)
    assert F.PLACEHOLDER_BASELINE in codes(result)


def test_quirk_01_placeholder_start_with_only_a_stop_register_bills_nothing():
    """meterStart 0 and a lifetime meterStop with no samples: the gap is not billable."""
    result = session_energy(
        D(0), D(910031), [], started_at=T0, stopped_at=at(10), max_power_w=D(22000)
    )
    assert result.energy_wh == D(0)
    assert result.register_start_wh == D(910031)
    assert codes(result) == [F.NO_METER_DATA, F.PLACEHOLDER_BASELINE, F.REGISTERS_DISAGREE]


def test_quirk_02_session_relative_samples_with_lifetime_start_stop_are_shifted():
    """Grizzl-E: lifetime meterStart/meterStop but session-relative MeterValues (kWh)."""
    samples = v16_frames(
        [
            (1, [v16_eair("0.021", "kWh")]),
            (2, [v16_eair("0.064", "kWh")]),
            (3, [v16_eair("0.104", "kWh")]),
        ]
    )
    result = session_energy(
        D(4076221), D(4076334), samples, started_at=T0, stopped_at=at(4), max_power_w=D(3800)
    )
    assert result.energy_wh == D(113)
    assert codes(result) == [F.SESSION_RELATIVE_SAMPLES]
    assert [p.register_wh for p in result.series] == [
        D(4076221),
        D(4076242),
        D(4076285),
        D(4076325),
        D(4076334),
    ]


def test_quirk_02_relative_samples_are_detected_while_the_session_runs():
    """Before the stop arrives, samples below the lifetime start still count from zero."""
    result = session_energy(D(4076221), None, periodic({1: 21, 2: 64}), started_at=T0)
    assert result.energy_wh == D(64)
    assert F.SESSION_RELATIVE_SAMPLES in codes(result)


def test_quirk_02_samples_below_start_that_outgrow_stop_minus_start_are_not_relative():
    """Low samples that grew more than the registers did are not session-relative."""
    samples = periodic({1: 100, 2: 200, 3: 9000})
    result = session_energy(D(10000), D(10300), samples, started_at=T0, stopped_at=at(4))
    assert F.SESSION_RELATIVE_SAMPLES not in codes(result)
    assert result.energy_wh == D(300)


def openevse_frames() -> list[MeterSample]:
    """OpenEVSE 4.2.2 sends its register in kWh labelled Wh, charging at ~9.4 kW."""
    registers = ["361", "361", "361", "361", "361", "361", "362", "362"]
    return v16_frames(
        [(m, [v16_power("9451"), v16_eair(wh)]) for m, wh in enumerate(registers, start=1)]
    )


def test_quirk_03_kwh_labelled_wh_is_flagged_against_measured_power():
    """A register that moves 1 "Wh" while 9.4 kW flows for 8 minutes is flagged."""
    result = session_energy(
        D(361), D(362), openevse_frames(), started_at=T0, stopped_at=at(9), max_power_w=D(11000)
    )
    assert result.energy_wh == D(1)
    assert codes(result) == [F.ENERGY_POWER_MISMATCH]


def test_quirk_03_scale_override_bills_kwh_labelled_wh_correctly():
    """With the per-charger scale 1000, the same session bills 1 kWh and nothing mismatches."""
    result = session_energy(
        D(361),
        D(362),
        openevse_frames(),
        started_at=T0,
        stopped_at=at(9),
        max_power_w=D(11000),
        scale=D(1000),
    )
    assert result.energy_wh == D(1000)
    assert codes(result) == [F.SCALE_APPLIED]


def daheimladen_frames() -> list[MeterSample]:
    """Daheimladen reports its register ten times too high (54050 kWh for 5405 kWh)."""
    return v16_frames(
        [(m, [v16_power("11000"), v16_eair(f"{(5_405_000 + 183 * m) * 10}")]) for m in range(1, 30)]
    )


def test_quirk_03_tenfold_register_is_flagged_and_not_billed():
    """Growth ten times faster than the EVSE's max power is never billed."""
    result = session_energy(
        D(54_050_000),
        D(54_050_000 + 1830 * 30),
        daheimladen_frames(),
        started_at=T0,
        stopped_at=at(30),
        max_power_w=D(11000),
    )
    assert result.energy_wh == D(0)
    assert F.REGISTER_JUMP in codes(result)
    assert F.REGISTERS_DISAGREE in codes(result)
    assert F.ENERGY_POWER_MISMATCH in codes(result)


def test_quirk_03_tenfold_register_without_max_power_is_flagged_by_measured_power():
    """Without a max power the x10 register bills as sent, but is flagged for review."""
    result = session_energy(
        D(54_050_000),
        D(54_050_000 + 1830 * 30),
        daheimladen_frames(),
        started_at=T0,
        stopped_at=at(30),
    )
    assert result.energy_wh == D(54_900)
    assert codes(result) == [F.ENERGY_POWER_MISMATCH]


def test_quirk_04_register_dropping_to_zero_and_back_is_excluded_not_billed():
    """Wallbox Pulsar Plus: the register reads 0 (and nonsense) for a moment, then recovers."""
    registers = ["16012345", "16012530", "0", "16012900", "4294967295", "16013270"]
    samples = v16_frames([(2 * m, [v16_eair(wh, "Wh")]) for m, wh in enumerate(registers, start=1)])
    result = session_energy(
        D(16012160), D(16013455), samples, started_at=T0, stopped_at=at(14), max_power_w=D(11000)
    )
    assert result.energy_wh == D(16013455 - 16012160)
    assert codes(result) == [F.OUTLIER_EXCLUDED, F.OUTLIER_EXCLUDED]
    assert [f.register_wh for f in result.flags] == [D(0), D(4294967295)]
    assert D(0) not in [p.register_wh for p in result.series]


def test_quirk_05_meter_start_below_previous_meter_stop_is_computed_per_session():
    """The next meterStart below the last meterStop does not leak across sessions."""
    first = session_energy(D(10000), D(12500), [], started_at=T0, stopped_at=at(20))
    second = session_energy(D(12480), D(15000), [], started_at=at(30), stopped_at=at(50))
    assert (first.energy_wh, second.energy_wh) == (D(2500), D(2520))
    assert F.STOP_BELOW_START not in codes(second)


def test_quirk_05_stop_register_below_start_bills_the_samples():
    """A stop register below the start is ignored; the consistent samples are billed."""
    samples = periodic({5: 12600, 10: 12700})
    result = session_energy(
        D(12480), D(12470), samples, started_at=T0, stopped_at=at(12), max_power_w=D(7400)
    )
    assert result.energy_wh == D(220)
    assert codes(result) == [F.STOP_BELOW_START, F.STOP_REGISTER_IGNORED, F.REGISTERS_DISAGREE]


def test_quirk_05_stop_register_below_start_without_samples_bills_zero():
    """With nothing but a stop register below the start, energy is clamped at zero."""
    result = session_energy(D(12480), D(12470), [], started_at=T0, stopped_at=at(12))
    assert result.energy_wh == D(0)
    assert F.STOP_BELOW_START in codes(result)
    assert F.STOP_REGISTER_IGNORED in codes(result)


def test_quirk_06_begin_register_repeated_in_every_frame_is_not_a_reading_in_time():
    """Growatt repeats the Transaction.Begin register next to each periodic one (+10:00)."""
    frames = []
    for m in range(1, 6):
        frames.append(
            {
                "timestamp": (at(m) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%S+10:00"),
                "sampledValue": [
                    v16_eair(str(157440 + 300 * m)),
                    v16_eair("157440", context="Transaction.Begin"),
                ],
            }
        )
    parse = from_v16_meter_values(frames, received_at=at(6))
    assert parse.problems == ()

    with_start = session_energy(
        D(157440), D(159240), parse.samples, started_at=T0, stopped_at=at(6), max_power_w=D(22000)
    )
    without_start = session_energy(None, None, parse.samples, max_power_w=D(22000))

    assert with_start.energy_wh == D(1800)
    assert with_start.flags == ()
    assert without_start.energy_wh == D(300 * 5)
    assert without_start.register_start_wh == D(157440)
    assert F.OUTLIER_EXCLUDED not in codes(without_start)


def test_quirk_07_sampled_values_without_measurand_or_unit_bill_as_wh_register():
    """Bare {"value": ...} sampled values are the Wh energy register and are billed."""
    samples = v16_frames([(m, [{"value": str(2000 + 100 * m)}]) for m in (1, 2, 3)])
    result = session_energy(D(2000), D(2400), samples, started_at=T0, stopped_at=at(4))
    assert result.energy_wh == D(400)
    assert result.flags == ()


def test_quirk_08_one_bad_sampled_value_does_not_lose_the_energy_of_the_message():
    """A power value labelled Wh is dropped; the energy register next to it is still billed."""
    parse = from_v16_meter_values(
        [
            {
                "timestamp": stamp(m),
                "sampledValue": [
                    {"value": "7360", "measurand": "Power.Active.Import", "unit": "Wh"},
                    v16_eair(str(3000 + 120 * m)),
                ],
            }
            for m in (1, 2)
        ],
        received_at=at(3),
    )
    result = session_energy(D(3000), None, parse.samples, started_at=T0, max_power_w=D(7400))
    assert len(parse.problems) == 2
    assert result.energy_wh == D(240)
    assert result.flags == ()


def test_quirk_12_samples_stamped_1970_do_not_trip_the_rate_check():
    """Queued samples from an unset clock all get one receive time; they are still billed."""
    parse = from_v16_meter_values(
        [
            {"timestamp": f"1970-01-01T00:0{i}:00Z", "sampledValue": [v16_eair(str(wh))]}
            for i, wh in enumerate((5000, 6500, 8000))
        ],
        received_at=at(30),
    )
    result = session_energy(
        D(3500), D(9000), parse.samples, started_at=T0, stopped_at=at(40), max_power_w=D(11000)
    )
    assert all(s.clock_suspect for s in parse.samples)
    assert result.energy_wh == D(5500)
    assert result.flags == ()


def test_quirk_13_no_meter_values_bills_stop_minus_start_and_flags_no_meter_data():
    """A charger that never sends MeterValues is billed from its Start/Stop registers."""
    result = session_energy(
        D(5000), D(12000), [], started_at=T0, stopped_at=at(60), max_power_w=D(11000)
    )
    assert result.energy_wh == D(7000)
    assert codes(result) == [F.NO_METER_DATA]
    assert result.flagged(F.NO_METER_DATA)
    assert not result.flagged(F.REGISTERS_DISAGREE)


# --- the filter's other decisions -----------------------------------------------------------


def test_register_reset_mid_session_is_stitched():
    """A register that falls near 0 and keeps counting bills the energy before and after."""
    samples = periodic({1: 5100, 2: 5200, 3: 20, 4: 120})
    result = session_energy(D(5000), D(220), samples, started_at=T0, stopped_at=at(5))
    assert result.energy_wh == D(400)
    assert codes(result) == [F.STOP_BELOW_START, F.REGISTER_RESET, F.REGISTERS_DISAGREE]
    assert result.register_end_wh == D(220)


def test_register_jump_mid_session_is_not_billed():
    """A register that leaps and stays there bills only the growth on either side."""
    samples = periodic({1: 5100, 2: 905100, 3: 905200})
    result = session_energy(
        D(5000), D(905300), samples, started_at=T0, stopped_at=at(4), max_power_w=D(22000)
    )
    assert result.energy_wh == D(300)
    assert codes(result) == [F.REGISTER_JUMP, F.REGISTERS_DISAGREE]


def test_samples_above_the_stop_register_are_excluded():
    """Readings above a stop register that is above the start are outliers, not energy."""
    samples = periodic({1: 5100, 2: 5900})
    result = session_energy(D(5000), D(5200), samples, started_at=T0, stopped_at=at(3))
    assert result.energy_wh == D(200)
    assert codes(result) == [F.OUTLIER_EXCLUDED]
    assert result.flags[0].register_wh == D(5900)


def test_stop_register_jumping_away_is_not_billed():
    """A stop register far above what the EVSE could deliver adds nothing."""
    samples = periodic({1: 5100})
    result = session_energy(
        D(5000), D(99_999_999), samples, started_at=T0, stopped_at=at(2), max_power_w=D(22000)
    )
    assert result.energy_wh == D(100)
    assert codes(result) == [F.REGISTER_JUMP, F.REGISTERS_DISAGREE]


def test_repeated_placeholder_zeros_are_replaced_once():
    """Several zeros before the lifetime register count as one placeholder baseline."""
    samples = periodic({1: 0, 2: 0, 3: 909948, 4: 910000})
    result = session_energy(D(0), None, samples, started_at=T0, max_power_w=D(11000))
    assert result.energy_wh == D(52)
    assert codes(result) == [F.PLACEHOLDER_BASELINE]


def test_a_reset_followed_by_a_jump_keeps_both_segments():
    """After a reset, a later unexplained rise is a jump, not a new placeholder baseline."""
    samples = periodic({1: 20, 2: 500_000})
    result = session_energy(D(5000), None, samples, started_at=T0, max_power_w=D(11000))
    assert codes(result) == [F.REGISTER_RESET, F.REGISTER_JUMP]
    assert result.energy_wh == D(0)


def test_v201_session_without_begin_reading_starts_at_the_first_sample():
    """Without a start register or Transaction.Begin reading the first sample is the baseline."""
    result = session_energy(None, None, periodic({1: 1000, 2: 1100}), max_power_w=D(11000))
    assert result.energy_wh == D(100)
    assert codes(result) == [F.NO_START_REGISTER]


def test_transaction_end_reading_stands_in_for_a_missing_stop_register():
    """The latest Transaction.End reading is the stop register when none was sent."""
    samples = [
        sample(1, eair(1, 1100)),
        sample(5, eair(5, 1500, context=ReadingContext.TRANSACTION_END)),
        sample(6, eair(6, 1490, context=ReadingContext.TRANSACTION_END)),
    ]
    timed = session_energy(D(1000), None, samples, started_at=T0, stopped_at=at(7))
    untimed = session_energy(D(1000), None, samples, started_at=T0)
    assert timed.energy_wh == untimed.energy_wh == D(490)
    assert timed.series[-1].at == at(7)
    assert untimed.series[-1].at == at(6)
    assert untimed.series[-1].source is PointSource.STOP


def test_transaction_begin_reading_is_timed_by_the_start_when_known():
    """The earliest Transaction.Begin reading is the baseline, at the session's start time."""
    samples = [
        sample(2, eair(2, 1000, context=ReadingContext.TRANSACTION_BEGIN)),
        sample(3, eair(3, 1100)),
    ]
    result = session_energy(None, None, samples, started_at=T0)
    assert result.series[0].at == T0
    assert result.energy_wh == D(100)


def test_no_data_at_all_bills_nothing():
    """No registers and no samples: zero energy, an empty series, and a flag."""
    result = session_energy(None, None, [])
    assert result == EnergyResult(
        energy_wh=D(0),
        register_start_wh=None,
        register_end_wh=None,
        series=(),
        flags=result.flags,
    )
    assert codes(result) == [F.NO_METER_DATA]


def test_a_stop_register_alone_bills_nothing():
    """A stop register without any start is a single reading: nothing to bill."""
    result = session_energy(None, D(5000), [])
    assert result.energy_wh == D(0)
    assert codes(result) == [F.NO_METER_DATA, F.NO_START_REGISTER]


@pytest.mark.parametrize("kwargs", [{"max_power_w": D(0)}, {"scale": D(-1)}])
def test_non_positive_limits_are_caller_errors(kwargs):
    """A max power or scale of zero or less is refused."""
    with pytest.raises(ValueError, match="positive"):
        session_energy(D(0), D(1), [], **kwargs)


def test_energy_beyond_what_the_evse_can_deliver_is_flagged():
    """Steps that each pass, but sum to more than max power x duration, are flagged."""
    samples = [sample(0, eair(0, wh)) for wh in (900, 1800, 2700)]
    result = session_energy(D(0), None, samples, started_at=T0, max_power_w=D(3700))
    assert result.energy_wh == D(2700)
    assert codes(result) == [F.IMPLAUSIBLE_ENERGY]


def test_more_than_1000_kwh_is_implausible_without_a_known_max_power():
    """Without a max power, a session over 1,000 kWh is flagged."""
    samples = periodic({60: 900_000, 120: 1_800_000})
    result = session_energy(D(0), None, samples, started_at=T0)
    assert result.energy_wh == D(1_800_000)
    assert codes(result) == [F.IMPLAUSIBLE_ENERGY]


def test_outlet_register_is_preferred_over_other_locations():
    """A sample with outlet and inlet registers bills the outlet; inlet-only samples count."""
    samples = [
        sample(1, eair(1, 999_999, location=MeterLocation.INLET), eair(1, 1100)),
        sample(2, eair(2, 1200, location=MeterLocation.INLET)),
    ]
    result = session_energy(D(1000), None, samples, started_at=T0, max_power_w=D(11000))
    assert [p.register_wh for p in result.series] == [D(1000), D(1100), D(1200)]
    assert result.flags == ()


def test_per_phase_energy_registers_are_billed_through_their_total():
    """A charger reporting the register per phase only is billed from the summed total."""
    samples = v16_frames(
        [
            (
                m,
                [{**v16_eair(str(400 + 10 * m)), "phase": phase} for phase in ("L1", "L2", "L3")],
            )
            for m in (1, 2)
        ]
    )
    result = session_energy(D(1200), D(1290), samples, started_at=T0, stopped_at=at(3))
    assert [p.register_wh for p in result.series] == [D(1200), D(1230), D(1260), D(1290)]
    assert result.flags == ()


def test_power_check_needs_a_long_enough_window_and_enough_energy():
    """Short windows and small energies are too noisy to judge the unit by."""
    short = [sample(m, eair(m, 1000), power(m, 11000)) for m in (1, 2, 3)]
    small = [sample(m, eair(m, 1000), power(m, 100)) for m in range(1, 12)]
    assert session_energy(D(1000), None, short).flags == ()
    assert session_energy(D(1000), None, small).flags == ()


def test_power_check_ignores_samples_with_a_suspect_clock():
    """Power readings without a trustworthy time cannot be integrated."""
    samples = [sample(m, eair(m, 1000), power(m, 11000), suspect=True) for m in range(1, 12)]
    result = session_energy(D(1000), None, samples)
    assert F.ENERGY_POWER_MISMATCH not in codes(result)


def test_register_growing_far_faster_than_measured_power_is_flagged():
    """A register growing 10x what the measured power delivers points at a scale error."""
    samples = [sample(m, eair(m, 1000 + 1000 * m), power(m, 6000)) for m in range(11)]
    result = session_energy(None, None, samples)
    assert codes(result) == [F.NO_START_REGISTER, F.ENERGY_POWER_MISMATCH]


def test_small_disagreement_between_samples_and_registers_is_tolerated():
    """A stop register a few Wh below the last sample is within the cross-check tolerance."""
    samples = periodic({1: 1100, 2: 1205})
    result = session_energy(D(1000), D(1200), samples, started_at=T0, stopped_at=at(3))
    assert result.energy_wh == D(200)
    assert not result.flagged(F.REGISTERS_DISAGREE)


# --- properties -----------------------------------------------------------------------------

CONTEXTS = st.sampled_from(
    [
        ReadingContext.SAMPLE_PERIODIC,
        ReadingContext.SAMPLE_CLOCK,
        ReadingContext.TRANSACTION_BEGIN,
        ReadingContext.TRANSACTION_END,
    ]
)


@st.composite
def meter_samples(draw: st.DrawFn) -> MeterSample:
    minute = draw(st.integers(0, 600))
    readings = [eair(minute, draw(st.integers(0, 2_000_000)), context=draw(CONTEXTS))]
    watts = draw(st.none() | st.integers(0, 22000))
    if watts is not None:
        readings.append(power(minute, watts))
    return sample(minute, *readings, suspect=draw(st.booleans()))


REGISTERS = st.none() | st.integers(0, 2_000_000).map(D)
MAX_POWER = st.none() | st.sampled_from([D(3700), D(11000), D(22000), D(150000)])
SESSIONS = st.fixed_dictionaries(
    {
        "meter_start_wh": REGISTERS,
        "meter_stop_wh": REGISTERS,
        "samples": st.lists(meter_samples(), max_size=25),
        "started_at": st.none() | st.just(T0),
        "stopped_at": st.none() | st.just(at(600)),
        "max_power_w": MAX_POWER,
        "scale": st.none() | st.sampled_from([D(10), D(1000), D("0.1")]),
    }
)


def run(session: dict[str, Any], samples: list[MeterSample] | None = None) -> EnergyResult:
    args = {**session, "samples": session["samples"] if samples is None else samples}
    return session_energy(
        args.pop("meter_start_wh"), args.pop("meter_stop_wh"), args.pop("samples"), **args
    )


@given(SESSIONS)
def test_energy_is_never_negative_and_the_series_never_decreases(session):
    """Whatever the charger sends, billed energy is >= 0 and cumulative energy only grows."""
    result = run(session)
    assert result.energy_wh >= 0
    energies = [p.energy_wh for p in result.series]
    assert energies == sorted(energies)
    assert energies[-1:] in ([], [result.energy_wh])


@given(SESSIONS, st.data())
def test_a_duplicate_sample_never_changes_energy(session, data):
    """A charger resending a sample (retry, offline replay) does not change the bill."""
    if not session["samples"]:
        return
    duplicate = data.draw(st.sampled_from(session["samples"]))
    assert run(session, [*session["samples"], duplicate]).energy_wh == run(session).energy_wh


@given(SESSIONS, st.data())
def test_arrival_order_of_samples_does_not_matter(session, data):
    """Samples are ordered by time before filtering: any arrival order gives the same result."""
    shuffled = data.draw(st.permutations(session["samples"]))
    assert run(session, list(shuffled)) == run(session)
