"""Pure: the UTC instants at which a Location's wall clock crosses tariff restriction times.

Time-of-day, day-of-week and date restrictions are read off the Location's wall clock. Between
two consecutive instants returned by `wall_clock_breaks` the wall clock neither jumps (DST) nor
passes any of the given times of day or midnight, so each of those restrictions is constant
there. A wall time that occurs twice (autumn) yields both instants; one that never occurs
(spring) changes the restriction at the jump itself, which is returned as well.
"""

from datetime import UTC, datetime, time, timedelta, tzinfo

_HOUR = timedelta(hours=1)
_MICROSECOND = timedelta(microseconds=1)


def wall_clock_breaks(
    tz: tzinfo, lo: datetime, hi: datetime, times_of_day: frozenset[time]
) -> list[datetime]:
    """UTC instants strictly between `lo` and `hi` where a restriction on the wall clock may flip.

    Args:
        tz: the Location's time zone (a PEP 495 aware tzinfo such as `zoneinfo.ZoneInfo`).
        lo: start of the range, tz-aware.
        hi: end of the range, tz-aware.
        times_of_day: the `start_time`/`end_time` values in use; midnight is always included
            because day-of-week and date restrictions change there.
    """
    # Arithmetic between datetimes that share a tzinfo is wall-clock arithmetic: work in UTC.
    lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
    found = set(_offset_changes(tz, lo, hi))
    first = lo.astimezone(tz).date() - timedelta(days=1)
    last = hi.astimezone(tz).date() + timedelta(days=1)
    wanted = times_of_day | {time(0, 0)}
    day = first
    while day <= last:
        for moment in wanted:
            for fold in (0, 1):
                local = datetime.combine(day, moment, tzinfo=tz).replace(fold=fold)
                found.add(local.astimezone(UTC))
        day += timedelta(days=1)
    return sorted(instant for instant in found if lo < instant < hi)


def _offset_changes(tz: tzinfo, lo: datetime, hi: datetime) -> list[datetime]:
    # Zone transitions are rare and at least hours apart, so an hourly scan finds every one and
    # a bisection pins it to the microsecond.
    changes = []
    here = lo
    while here < hi:
        there = min(here + _HOUR, hi)
        before = here.astimezone(tz).utcoffset()
        if there.astimezone(tz).utcoffset() != before:
            low, high = here, there
            while high - low > _MICROSECOND:
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            changes.append(high)
        here = there
    return changes
