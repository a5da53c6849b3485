"""Pure charging profile translation: checks, exact conversion both ways, composite schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.domain.commands import (
    CommandOutcome,
    OutcomeStatus,
    ProfilePurpose,
    RateUnit,
    SchedulePeriod,
    SetChargingProfile,
)
from gateway.domain.topology import ConnectorRef
from ocpi_bridge.models.charging_profiles import (
    ChargingProfile,
    ChargingProfileResultType,
    ChargingRateUnit,
)
from ocpi_bridge.translate import charging_profiles as p
from ocpp_central.translate.commands import to_call
from ocpp_central.translate.rpc import OcppVersion
from tests.builders import T0

RECEIVED = T0 + timedelta(seconds=3)


def profile(**overrides: Any) -> ChargingProfile:
    fields: dict[str, Any] = {
        "charging_rate_unit": "A",
        "charging_profile_period": [
            {"start_period": 0, "limit": 16},
            {"start_period": 900, "limit": 8.5},
        ],
        **overrides,
    }
    return ChargingProfile.model_validate(fields)


# --- checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"charging_profile_period": None}, "at least one period"),
        ({"charging_profile_period": []}, "at least one period"),
        ({"charging_profile_period": [{"start_period": 60, "limit": 16}]}, "must start at 0"),
        (
            {
                "charging_profile_period": [
                    {"start_period": 0, "limit": 16},
                    {"start_period": 0, "limit": 8},
                ]
            },
            "must increase",
        ),
        ({"charging_profile_period": [{"start_period": 0, "limit": -1}]}, "not be negative"),
        ({"min_charging_rate": -0.1}, "min_charging_rate"),
        ({"duration": 0}, "duration must be positive"),
    ],
)
def test_a_profile_a_charger_cannot_take_is_refused_with_the_reason(overrides, problem):
    """No periods, a late first period, periods out of order, negative limits or duration."""
    found = p.check_profile(profile(**overrides))
    assert found is not None
    assert problem in found


def test_a_sound_profile_passes():
    """Limits of zero pause charging: allowed."""
    assert p.check_profile(profile(min_charging_rate=6, duration=3600)) is None
    zero = profile(charging_profile_period=[{"start_period": 0, "limit": 0}])
    assert p.check_profile(zero) is None


# --- OCPI <-> gateway -------------------------------------------------------------------------


def test_an_ocpi_profile_becomes_a_tx_profile_on_the_session_s_transaction():
    """Unit, periods, start, duration and minimum rate carry over unchanged."""
    ocpi = profile(start_date_time="2026-11-22T10:00:00Z", duration=7200, min_charging_rate=6.1)
    converted = p.to_charging_profile(ocpi, profile_id=42, tx_id="7")
    assert converted.id == 42
    assert converted.purpose is ProfilePurpose.TX
    assert converted.tx_id == "7"
    assert converted.rate_unit is RateUnit.A
    assert converted.periods == (
        SchedulePeriod(start_s=0, limit=Decimal(16)),
        SchedulePeriod(start_s=900, limit=Decimal("8.5")),
    )
    assert (converted.start, converted.duration_s, converted.min_rate) == (
        T0,
        7200,
        Decimal("6.1"),
    )


one_decimal = st.decimals(min_value=0, max_value=100_000, places=1, allow_nan=False)


@st.composite
def ocpi_profiles(draw: st.DrawFn) -> ChargingProfile:
    gaps = draw(st.lists(st.integers(min_value=1, max_value=86_400), max_size=8))
    starts = [0]
    for gap in gaps:
        starts.append(starts[-1] + gap)
    return ChargingProfile(
        start_date_time=draw(
            st.none()
            | st.datetimes(
                min_value=datetime(2020, 1, 1),
                max_value=datetime(2040, 1, 1),
                timezones=st.just(UTC),
            ).map(lambda d: d.replace(microsecond=0))
        ),
        duration=draw(st.none() | st.integers(min_value=1, max_value=10**7)),
        charging_rate_unit=draw(st.sampled_from(ChargingRateUnit)),
        min_charging_rate=draw(st.none() | one_decimal),
        charging_profile_period=[
            {"start_period": s, "limit": draw(one_decimal)}  # type: ignore[misc]
            for s in starts
        ],
    )


@given(ocpi_profiles())
def test_profiles_convert_exactly_both_ways(ocpi):
    """OCPI -> gateway -> OCPI gives back the same profile (units, periods, rates, times)."""
    assert p.check_profile(ocpi) is None
    back = p.to_ocpi_profile(p.to_charging_profile(ocpi, profile_id=1, tx_id="1"))
    assert back == ocpi


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        (
            OcppVersion.V16,
            "SetChargingProfile",
            {
                "connectorId": 1,
                "csChargingProfiles": {
                    "chargingProfileId": 42,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxProfile",
                    "chargingProfileKind": "Absolute",
                    "transactionId": 7,
                    "chargingSchedule": {
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [
                            {"startPeriod": 0, "limit": 11000},
                            {"startPeriod": 900, "limit": 7360.5},
                        ],
                        "startSchedule": "2026-11-22T10:00:00.000Z",
                        "duration": 3600,
                        "minChargingRate": 1400,
                    },
                },
            },
        ),
        (
            OcppVersion.V201,
            "SetChargingProfile",
            {
                "evseId": 1,
                "chargingProfile": {
                    "id": 42,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxProfile",
                    "chargingProfileKind": "Absolute",
                    "transactionId": "7",
                    "chargingSchedule": [
                        {
                            "id": 42,
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [
                                {"startPeriod": 0, "limit": 11000},
                                {"startPeriod": 900, "limit": 7360.5},
                            ],
                            "startSchedule": "2026-11-22T10:00:00.000Z",
                            "duration": 3600,
                            "minChargingRate": 1400,
                        }
                    ],
                },
            },
        ),
    ],
)
def test_an_ocpi_profile_reaches_1_6_and_2_0_1_chargers_in_their_shape(version, action, payload):
    """W stays W, periods and limits exact; 1.6 nests one schedule, 2.0.1 a list of them."""
    ocpi = profile(
        charging_rate_unit="W",
        start_date_time="2026-11-22T10:00:00Z",
        duration=3600,
        min_charging_rate=1400,
        charging_profile_period=[
            {"start_period": 0, "limit": 11000},
            {"start_period": 900, "limit": 7360.5},
        ],
    )
    ref = ConnectorRef(evse=None if version is OcppVersion.V16 else 1, connector=1)
    command = SetChargingProfile(
        connector=ref, profile=p.to_charging_profile(ocpi, profile_id=42, tx_id="7")
    )
    assert to_call(command, version) == (action, payload)


# --- composite schedules ----------------------------------------------------------------------

V16_ANSWER = {
    "status": "Accepted",
    "connectorId": 1,
    "scheduleStart": "2026-11-22T10:00:00Z",
    "chargingSchedule": {
        "duration": 3600,
        "startSchedule": "2026-11-22T09:59:00Z",
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 16.0, "numberPhases": 3},
            {"startPeriod": 900, "limit": 10.66},
        ],
        "minChargingRate": 6,
    },
}
V201_ANSWER = {
    "status": "Accepted",
    "schedule": {
        "evseId": 1,
        "duration": 600,
        "scheduleStart": "2026-11-22T10:00:00.000+01:00",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000}],
    },
}


def test_a_1_6_composite_schedule_becomes_the_active_profile():
    """scheduleStart is the profile's start; limits keep one decimal, cut (never rounded up)."""
    active = p.from_composite_schedule(V16_ANSWER, received_at=RECEIVED)
    assert active is not None
    assert active.start_date_time == T0
    body = active.charging_profile.model_dump(mode="json", exclude_none=True)
    assert body == {
        "duration": 3600,
        "charging_rate_unit": "A",
        "min_charging_rate": 6,
        "charging_profile_period": [
            {"start_period": 0, "limit": 16},
            {"start_period": 900, "limit": 10.6},
        ],
    }


def test_a_2_0_1_composite_schedule_becomes_the_active_profile():
    """2.0.1 nests its start in the schedule; an offset is converted to UTC."""
    active = p.from_composite_schedule(V201_ANSWER, received_at=RECEIVED)
    assert active is not None
    assert active.start_date_time == T0 - timedelta(hours=1)
    assert active.charging_profile.charging_rate_unit is ChargingRateUnit.W
    assert active.charging_profile.duration == 600


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ({"startSchedule": "2026-11-22T09:59:00"}, T0 - timedelta(minutes=1)),  # naive: UTC
        ({"scheduleStart": "yesterday"}, RECEIVED),
        ({"scheduleStart": 12}, RECEIVED),
        ({}, RECEIVED),
    ],
)
def test_without_a_usable_start_the_answer_s_arrival_is_the_start(start, expected):
    """A naive time is UTC; no usable time at all means "as of when the answer came"."""
    schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [], **start}
    active = p.from_composite_schedule({"chargingSchedule": schedule}, received_at=RECEIVED)
    assert active is not None
    assert active.start_date_time == expected


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "Rejected"},
        {"schedule": "nope"},
        {"schedule": {"chargingRateUnit": "kW", "chargingSchedulePeriod": []}},
        {"schedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0}]}},
        {
            "schedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": True}],
            }
        },
        {
            "schedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": -3}],
            }
        },
        {
            "schedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": "many"}],
            }
        },
        {
            "schedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": "NaN"}],
            }
        },
        {
            "schedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0.5, "limit": 6}],
            }
        },
        {
            "schedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": [6]}],
            }
        },
    ],
)
def test_an_answer_without_a_usable_schedule_has_no_active_profile(answer):
    """Missing, malformed or implausible schedules give nothing rather than a wrong profile."""
    assert p.from_composite_schedule(answer, received_at=RECEIVED) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (OutcomeStatus.ACCEPTED, ChargingProfileResultType.ACCEPTED),
        (OutcomeStatus.UNKNOWN, ChargingProfileResultType.UNKNOWN),
        (OutcomeStatus.REJECTED, ChargingProfileResultType.REJECTED),
        (OutcomeStatus.TIMEOUT, ChargingProfileResultType.REJECTED),
        (OutcomeStatus.OFFLINE, ChargingProfileResultType.REJECTED),
        (OutcomeStatus.ERROR, ChargingProfileResultType.REJECTED),
    ],
)
def test_profile_results_are_accepted_unknown_or_rejected(status, expected):
    """ChargingProfileResultType has no TIMEOUT: a silent charger did not accept."""
    assert p.to_profile_result(CommandOutcome(status=status)) is expected


def test_the_active_profile_result_carries_the_profile_only_when_accepted():
    """ACCEPTED with the profile; REJECTED without one, also when the schedule is unusable."""
    accepted = p.to_active_result(
        CommandOutcome(status=OutcomeStatus.ACCEPTED, detail=V201_ANSWER), received_at=RECEIVED
    )
    assert accepted.result is ChargingProfileResultType.ACCEPTED
    assert accepted.profile is not None
    empty = p.to_active_result(CommandOutcome(status=OutcomeStatus.ACCEPTED), received_at=RECEIVED)
    assert (empty.result, empty.profile) == (ChargingProfileResultType.REJECTED, None)
    rejected = p.to_active_result(
        CommandOutcome(status=OutcomeStatus.REJECTED, detail=V201_ANSWER), received_at=RECEIVED
    )
    assert (rejected.result, rejected.profile) == (ChargingProfileResultType.REJECTED, None)
