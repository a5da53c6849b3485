"""Pure: OCPI ChargingProfiles <-> the gateway's charging profiles, and charger answers -> results.

OCPI's ChargingProfile is OCPP's charging schedule under other names (mod_charging_profiles:
"based on OCPP 1.6 and 2.0 to make conversion ... easy"): ``charging_rate_unit`` W (total
power) or A (per phase), ``start_period`` seconds from the start, at most one decimal in
limits. A profile set through OCPI is a TxProfile on the session's transaction, so it ends
with the transaction. The composite schedule a charger reports (1.6 ``chargingSchedule``
or 2.0.1 ``schedule``) becomes the ActiveChargingProfile partners read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from gateway.domain.commands import (
    ChargingProfile as Profile,
    CommandOutcome,
    OutcomeStatus,
    ProfilePurpose,
    RateUnit,
    SchedulePeriod,
)
from ocpi_bridge.models.charging_profiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfile,
    ChargingProfilePeriod,
    ChargingProfileResultType,
    ChargingRateUnit,
)

#: OCPI limits "accept at most one digit fraction"; a charger's finer figure is cut, never
#: rounded up, so a reported limit is never overstated.
_ONE_DECIMAL = Decimal("0.1")


def check_profile(profile: ChargingProfile) -> str | None:
    """Why ``profile`` cannot be sent to a charger, or ``None`` when it can.

    OCPP requires at least one period, the first starting at 0 and each later one after
    the previous; limits and the minimum rate are not negative; a duration is positive.
    """
    periods = profile.charging_profile_period or []
    if not periods:
        return "charging_profile_period: at least one period is required"
    if periods[0].start_period != 0:
        return "charging_profile_period: the first period must start at 0"
    starts = [p.start_period for p in periods]
    if any(b <= a for a, b in pairwise(starts)):
        return "charging_profile_period: start_period must increase from period to period"
    if any(p.limit < 0 for p in periods):
        return "charging_profile_period: limit must not be negative"
    if profile.min_charging_rate is not None and profile.min_charging_rate < 0:
        return "min_charging_rate must not be negative"
    if profile.duration is not None and profile.duration <= 0:
        return "duration must be positive"
    return None


def to_charging_profile(profile: ChargingProfile, *, profile_id: int, tx_id: str) -> Profile:
    """The TxProfile that carries ``profile`` on transaction ``tx_id`` (checked beforehand)."""
    return Profile(
        id=profile_id,
        purpose=ProfilePurpose.TX,
        rate_unit=RateUnit(profile.charging_rate_unit.value),
        periods=tuple(
            SchedulePeriod(start_s=p.start_period, limit=p.limit)
            for p in profile.charging_profile_period or ()
        ),
        start=profile.start_date_time,
        duration_s=profile.duration,
        min_rate=profile.min_charging_rate,
        tx_id=tx_id,
    )


def to_ocpi_profile(profile: Profile) -> ChargingProfile:
    """The OCPI form of a gateway profile (the inverse of :func:`to_charging_profile`)."""
    return ChargingProfile(
        start_date_time=profile.start,
        duration=profile.duration_s,
        charging_rate_unit=ChargingRateUnit(profile.rate_unit.value),
        min_charging_rate=profile.min_rate,
        charging_profile_period=[
            ChargingProfilePeriod(start_period=p.start_s, limit=p.limit) for p in profile.periods
        ],
    )


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("not a number")  # noqa: TRY004 - a parse failure, caught below
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite() or number < 0:
        raise ValueError("not a usable limit")
    return number.quantize(_ONE_DECIMAL, rounding=ROUND_DOWN)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")  # noqa: TRY004 - a parse failure, caught below
    return value


def from_composite_schedule(
    detail: Mapping[str, Any], *, received_at: datetime
) -> ActiveChargingProfile | None:
    """The ActiveChargingProfile in a GetCompositeSchedule answer; ``None`` if it has none.

    1.6 answers ``scheduleStart`` + ``chargingSchedule``; 2.0.1/2.1 a ``schedule`` holding
    its own ``scheduleStart``. The profile is relative to its start (the instant the
    charger computed it); without one, the instant the answer arrived.
    """
    schedule = detail.get("schedule") or detail.get("chargingSchedule")
    if not isinstance(schedule, Mapping):
        return None
    start = (
        _instant(schedule.get("scheduleStart"))
        or _instant(detail.get("scheduleStart"))
        or _instant(schedule.get("startSchedule"))
        or received_at
    )
    try:
        unit = ChargingRateUnit(str(schedule.get("chargingRateUnit")))
        periods = [
            ChargingProfilePeriod(start_period=_whole(p["startPeriod"]), limit=_decimal(p["limit"]))
            for p in schedule.get("chargingSchedulePeriod") or ()
        ]
        duration = schedule.get("duration")
        minimum = schedule.get("minChargingRate")
        profile = ChargingProfile(
            duration=None if duration is None else _whole(duration),
            charging_rate_unit=unit,
            min_charging_rate=None if minimum is None else _decimal(minimum),
            charging_profile_period=periods,
        )
    except (ValueError, KeyError, TypeError):
        return None
    return ActiveChargingProfile(start_date_time=start, charging_profile=profile)


def to_profile_result(outcome: CommandOutcome) -> ChargingProfileResultType:
    """ACCEPTED, UNKNOWN (no matching profile), or REJECTED for anything else.

    ChargingProfileResultType has no TIMEOUT: a silent or absent charger did not accept.
    """
    match outcome.status:
        case OutcomeStatus.ACCEPTED:
            return ChargingProfileResultType.ACCEPTED
        case OutcomeStatus.UNKNOWN:
            return ChargingProfileResultType.UNKNOWN
    return ChargingProfileResultType.REJECTED


def to_active_result(
    outcome: CommandOutcome, *, received_at: datetime
) -> ActiveChargingProfileResult:
    """The ActiveChargingProfileResult of a GetCompositeSchedule answer."""
    result = to_profile_result(outcome)
    if result is not ChargingProfileResultType.ACCEPTED:
        return ActiveChargingProfileResult(result=result)
    active = from_composite_schedule(outcome.detail, received_at=received_at)
    if active is None:
        return ActiveChargingProfileResult(result=ChargingProfileResultType.REJECTED)
    return ActiveChargingProfileResult(result=result, profile=active)
