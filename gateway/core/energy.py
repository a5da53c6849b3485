"""Pure: billable session energy from start/stop registers and meter samples.

The energy register (Energy.Active.Import.Register, in Wh) is put in order — start
register, the samples by time, stop register — and walked by a monotonic filter: a step
is billed only when the register does not go backwards and does not grow faster than the
EVSE can deliver (`max_power_w` x elapsed time, plus a margin). A reading that breaks the
rule is then judged by what follows it (RELIABILITY.md §2.7 #1-#5, #13):

- the register comes back to the earlier level: the reading was an outlier, excluded;
- nothing was billed yet and the register stays higher: the baseline was a placeholder
  (an offline ``0``), replaced by the first real reading;
- the register stays lower: it was reset; the energy before and after is stitched;
- the register stays higher: the jump itself is not billed;
- the stop register is below the readings before it but not below the start of the
  current run: the readings above it are excluded; below that, it is ignored.

Nothing is rescaled silently: a per-charger ``scale`` (e.g. 1000 for a charger sending
kWh labelled Wh) is applied only when the caller passes it. Every decision leaves an
`EnergyFlag`; raw readings stay in the stored samples, only billing ignores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

from gateway.core.evolve import constructor
from gateway.domain.meter import (
    EnergyFlag,
    EnergyFlagCode,
    Measurand,
    MeterLocation,
    MeterSample,
    Reading,
    ReadingContext,
)

__all__ = [
    "DISAGREE_MIN_WH",
    "DISAGREE_RATIO",
    "LOOKAHEAD",
    "POWER_CHECK_MIN_WH",
    "POWER_CHECK_MIN_WINDOW",
    "POWER_CHECK_RATIO",
    "RATE_MARGIN",
    "STEP_SLACK_WH",
    "UNBOUNDED_STEP_WH",
    "EnergyPoint",
    "EnergyResult",
    "PointSource",
    "session_energy",
]

RATE_MARGIN = Decimal("1.1")
"""A step may exceed max power x elapsed time by 10 % (meter and clock tolerance)."""

STEP_SLACK_WH = Decimal(1000)
"""Added to every step allowance: meters that count in whole kWh step by 1000 Wh."""

UNBOUNDED_STEP_WH = Decimal(1_000_000)
"""The most a step may grow when max power or trustworthy timestamps are unknown."""

LOOKAHEAD = 256
"""How many later readings are searched for the register coming back (bounds the work)."""

DISAGREE_MIN_WH = Decimal(100)
DISAGREE_RATIO = Decimal("0.01")
"""Billed energy may differ from stop - start by max(100 Wh, 1 %) before it is flagged."""

POWER_CHECK_RATIO = Decimal(3)
POWER_CHECK_MIN_WH = Decimal(1000)
POWER_CHECK_MIN_WINDOW = timedelta(minutes=5)
"""Register growth and integrated measured power must agree within a factor of 3, judged
only over at least 5 minutes and 1 kWh (a kWh/Wh mix-up is a factor of 1000, x10 is 10)."""

_EAIR = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
_POWER = Measurand.POWER_ACTIVE_IMPORT
_ZERO = Decimal(0)
_NEVER = datetime.min.replace(tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class PointSource(StrEnum):
    """Where a register value on the billed series came from."""

    START = "start"  # start register (or the session's first Transaction.Begin reading)
    SAMPLE = "sample"
    STOP = "stop"  # stop register (or the session's last Transaction.End reading)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyPoint:
    """One register value the bill rests on, with the session energy reached there."""

    at: datetime | None
    register_wh: Decimal
    energy_wh: Decimal
    source: PointSource


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyResult:
    """The billable energy of one session and how it was reached.

    ``energy_wh`` is never negative. ``register_start_wh`` is the baseline actually used
    (after a placeholder was replaced) and ``register_end_wh`` the last register billed
    up to; after a stitched reset their difference is not the energy. ``series`` is the
    cleaned register series in billing order (cumulative energy never decreases);
    ``flags`` say what was excluded, replaced or found implausible.
    """

    energy_wh: Decimal
    register_start_wh: Decimal | None
    register_end_wh: Decimal | None
    series: tuple[EnergyPoint, ...]
    flags: tuple[EnergyFlag, ...]

    def flagged(self, code: EnergyFlagCode) -> bool:
        return any(flag.code is code for flag in self.flags)


def session_energy(
    meter_start_wh: Decimal | None,
    meter_stop_wh: Decimal | None,
    samples: Sequence[MeterSample],
    *,
    started_at: datetime | None = None,
    stopped_at: datetime | None = None,
    max_power_w: Decimal | None = None,
    scale: Decimal | None = None,
) -> EnergyResult:
    """Compute the billable energy of one session (never across sessions, §2.7 #5).

    Args:
        meter_start_wh: start register (1.6 ``meterStart``); ``None`` when the protocol
            has none (2.0.1): the earliest Transaction.Begin reading, else the first
            sample, is the baseline.
        meter_stop_wh: stop register (1.6 ``meterStop``); ``None`` while the session
            runs or when absent: the latest Transaction.End reading is used if any.
        samples: the session's meter samples, in any order (they are sorted by time).
        started_at: when the start register was read; ``None`` disables the rate check
            on the first step.
        stopped_at: when the stop register was read.
        max_power_w: the most the EVSE can deliver; without it a step may grow by
            `UNBOUNDED_STEP_WH`.
        scale: per-charger factor applied to every energy register (start, stop and
            samples) before anything else, for chargers known to mislabel units.

    Raises:
        ValueError: when ``max_power_w`` or ``scale`` is not positive.
    """
    if max_power_w is not None and max_power_w <= 0:
        raise ValueError("max_power_w must be positive")
    if scale is not None and scale <= 0:
        raise ValueError("scale must be positive")
    flags: list[EnergyFlag] = []
    factor = Decimal(1)
    if scale is not None:
        factor = scale
        flags.append(
            _flag(EnergyFlagCode.SCALE_APPLIED, f"energy registers multiplied by {_num(scale)}")
        )
    start = None if meter_start_wh is None else meter_start_wh * factor
    stop = None if meter_stop_wh is None else meter_stop_wh * factor

    series, begins, ends = _register_points(samples, factor)
    if start is not None and _session_relative(start, stop, [*series, *begins, *ends]):
        flags.append(
            _flag(
                EnergyFlagCode.SESSION_RELATIVE_SAMPLES,
                f"every sample register is below the start register {_wh(start)}: "
                "samples count from the session start and are shifted by it",
            )
        )
        series, begins, ends = (_shift(points, start) for points in (series, begins, ends))
    if not series:
        flags.append(
            _flag(
                EnergyFlagCode.NO_METER_DATA,
                "no energy register samples: energy rests on the start and stop registers",
            )
        )

    first = _baseline(start, started_at, begins)
    last = _final(stop, stopped_at, ends)
    if first is not None and last is not None and last.value < first.value:
        flags.append(
            _flag(
                EnergyFlagCode.STOP_BELOW_START,
                f"stop register {_wh(last.value)} is below start register {_wh(first.value)}",
                at=last.at,
                register_wh=last.value,
            )
        )
    points = sorted(set(series), key=_order)
    if first is not None:
        points.insert(0, first)
    elif points or last is not None:
        flags.append(
            _flag(
                EnergyFlagCode.NO_START_REGISTER,
                "no start register: the first reading is the baseline",
            )
        )
    if last is not None:
        points.append(last)

    accepted = _filter(points, max_power_w, flags)
    if not accepted:
        return EnergyResult(
            energy_wh=Decimal(0),
            register_start_wh=None,
            register_end_wh=None,
            series=(),
            flags=tuple(flags),
        )
    energy = accepted[-1].energy
    _check_plausible(accepted, energy, max_power_w, flags)
    _check_power(samples, accepted, flags)
    if first is not None and last is not None:
        _check_registers(first, last, energy, flags)
    return EnergyResult(
        energy_wh=energy,
        register_start_wh=accepted[0].point.value,
        register_end_wh=accepted[-1].point.value,
        series=tuple(
            _energy_point(
                at=a.point.at,
                register_wh=a.point.value,
                energy_wh=a.energy,
                source=a.point.source,
            )
            for a in accepted
        ),
        flags=tuple(flags),
    )


# --- register points ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Point:
    at: datetime | None
    value: Decimal
    source: PointSource
    trusted: bool  # ``at`` is a plausible charger clock reading


_point = constructor(_Point)  # faster than _Point(...): several per sample and session


def _order(point: _Point) -> tuple[datetime, Decimal, bool]:
    """A total order on readings, so the arrival order of samples never matters."""
    return (point.at or _NEVER, point.value, point.trusted)


def _register_points(
    samples: Iterable[MeterSample], factor: Decimal
) -> tuple[list[_Point], list[_Point], list[_Point]]:
    """Energy register readings: (series, Transaction.Begin ones, Transaction.End ones).

    Begin and End readings are not points in time of the series: some chargers repeat the
    Begin register in every sample next to the current one (§2.7 #6), so they only stand
    in for a missing start or stop register.
    """
    series: list[_Point] = []
    begins: list[_Point] = []
    ends: list[_Point] = []
    periodic = PointSource.SAMPLE
    for sample in samples:
        for reading in _totals(sample, _EAIR):
            point = _point(reading.at, reading.value * factor, periodic, not sample.clock_suspect)
            if reading.context is ReadingContext.TRANSACTION_BEGIN:
                begins.append(point)
            elif reading.context is ReadingContext.TRANSACTION_END:
                ends.append(point)
            else:
                series.append(point)
    return series, begins, ends


def _totals(sample: MeterSample, measurand: Measurand) -> list[Reading]:
    """Phase-less readings of a measurand, the outlet's when the sample has some there."""
    totals = [r for r in sample.readings if r.measurand is measurand and r.phase is None]
    if len(totals) < 2:
        return totals  # the usual case: one reading or none, nothing to prefer
    outlet = [r for r in totals if r.location is MeterLocation.OUTLET]
    return outlet or totals


def _session_relative(start: Decimal, stop: Decimal | None, points: list[_Point]) -> bool:
    """Samples count from 0 while start/stop are lifetime registers (§2.7 #2, Grizzl-E).

    A lifetime register cannot read below the start register during the session, so when
    every sample does, and the samples grew no more than stop - start, they are relative.
    """
    if start <= 0 or not points:
        return False
    top = max(p.value for p in points)
    if top >= start:
        return False
    return stop is None or top <= stop - start + STEP_SLACK_WH


def _shift(points: list[_Point], offset: Decimal) -> list[_Point]:
    return [_point(p.at, p.value + offset, p.source, p.trusted) for p in points]


def _baseline(
    start: Decimal | None, started_at: datetime | None, begins: list[_Point]
) -> _Point | None:
    if start is not None:
        return _point(started_at, start, PointSource.START, True)
    if not begins:
        return None
    earliest = min(begins, key=_order)
    if started_at is not None:
        return _point(started_at, earliest.value, PointSource.START, True)
    return _point(earliest.at, earliest.value, PointSource.START, earliest.trusted)


def _final(stop: Decimal | None, stopped_at: datetime | None, ends: list[_Point]) -> _Point | None:
    if stop is not None:
        return _point(stopped_at, stop, PointSource.STOP, True)
    if not ends:
        return None
    latest = max(ends, key=_order)
    if stopped_at is not None:
        return _point(stopped_at, latest.value, PointSource.STOP, True)
    return _point(latest.at, latest.value, PointSource.STOP, latest.trusted)


# --- the monotonic filter -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Accepted:
    point: _Point
    energy: Decimal  # session energy billed up to and including this point


_accepted = constructor(_Accepted)
_energy_point = constructor(EnergyPoint)


def _filter(
    points: list[_Point], max_power_w: Decimal | None, flags: list[EnergyFlag]
) -> list[_Accepted]:
    if not points:
        return []
    accepted = [_accepted(points[0], Decimal(0))]
    segment = 0  # index in `accepted` where the current run of consistent readings starts
    baseline_replaced = False
    for i, point in enumerate(points[1:], start=1):
        last = accepted[-1]
        if _fits(last.point, point, max_power_w):
            accepted.append(_accepted(point, last.energy + point.value - last.point.value))
            continue
        ahead = points[i + 1 : i + 1 + LOOKAHEAD]
        if any(_fits(last.point, later, max_power_w) for later in ahead):
            flags.append(_outlier(point, last.point))
            continue
        if point.source is PointSource.STOP and point.value < last.point.value:
            if point.value < accepted[segment].point.value:
                flags.append(
                    _flag(
                        EnergyFlagCode.STOP_REGISTER_IGNORED,
                        f"stop register {_wh(point.value)} is below the readings before it; "
                        "energy rests on those readings",
                        at=point.at,
                        register_wh=point.value,
                    )
                )
                continue
            # The stop register is authoritative within the run: readings above it were wrong.
            while accepted[-1].point.value > point.value:
                flags.append(_outlier(accepted.pop().point, point))
            last = accepted[-1]
            accepted.append(_accepted(point, last.energy + point.value - last.point.value))
            continue
        if (
            segment == 0
            and not baseline_replaced
            and last.energy == 0
            and point.value > last.point.value
        ):
            flags.append(
                _flag(
                    EnergyFlagCode.PLACEHOLDER_BASELINE,
                    f"baseline {_wh(last.point.value)} is followed by {_wh(point.value)}, more "
                    "than the EVSE can deliver in the time; that reading is the baseline instead",
                    at=last.point.at,
                    register_wh=last.point.value,
                )
            )
            accepted = [_accepted(point, Decimal(0))]
            baseline_replaced = True
            continue
        code, what = (
            (EnergyFlagCode.REGISTER_RESET, "fell to")
            if point.value < last.point.value
            else (EnergyFlagCode.REGISTER_JUMP, "jumped to")
        )
        flags.append(
            _flag(
                code,
                f"register {what} {_wh(point.value)} from {_wh(last.point.value)} and stayed "
                "there; the step is not billed, energy continues from the new level",
                at=point.at,
                register_wh=point.value,
            )
        )
        accepted.append(_accepted(point, last.energy))
        segment = len(accepted) - 1
    return accepted


def _fits(before: _Point, after: _Point, max_power_w: Decimal | None) -> bool:
    step = after.value - before.value
    if step < _ZERO:
        return False
    # Every allowance is at least the slack, and a periodic sample's step is usually less:
    # then the allowance (several Decimal operations) need not be worked out.
    return step <= STEP_SLACK_WH or step <= _allowance(before, after, max_power_w)


def _allowance(before: _Point, after: _Point, max_power_w: Decimal | None) -> Decimal:
    """The most the register can plausibly grow between two readings."""
    if (
        max_power_w is None
        or before.at is None
        or after.at is None
        or not (before.trusted and after.trusted)
    ):
        return UNBOUNDED_STEP_WH
    hours = max(_seconds(after.at - before.at), Decimal(0)) / 3600
    return max_power_w * hours * RATE_MARGIN + STEP_SLACK_WH


def _outlier(point: _Point, reference: _Point) -> EnergyFlag:
    return _flag(
        EnergyFlagCode.OUTLIER_EXCLUDED,
        f"register reading {_wh(point.value)} does not fit the readings around it "
        f"({_wh(reference.value)}); not billed",
        at=point.at,
        register_wh=point.value,
    )


# --- cross-checks ---------------------------------------------------------------------------


def _check_plausible(
    accepted: list[_Accepted], energy: Decimal, max_power_w: Decimal | None, flags: list[EnergyFlag]
) -> None:
    limit = _allowance(accepted[0].point, accepted[-1].point, max_power_w)
    if energy > limit:
        flags.append(
            _flag(
                EnergyFlagCode.IMPLAUSIBLE_ENERGY,
                f"{_wh(energy)} is more than the EVSE can deliver in the session "
                f"(at most {_wh(limit)})",
            )
        )


def _check_registers(first: _Point, last: _Point, energy: Decimal, flags: list[EnergyFlag]) -> None:
    plain = last.value - first.value
    tolerance = max(DISAGREE_MIN_WH, abs(plain) * DISAGREE_RATIO)
    if abs(energy - plain) > tolerance:
        flags.append(
            _flag(
                EnergyFlagCode.REGISTERS_DISAGREE,
                f"billed {_wh(energy)} while stop - start registers is {_wh(plain)}",
            )
        )


def _check_power(
    samples: Iterable[MeterSample], accepted: list[_Accepted], flags: list[EnergyFlag]
) -> None:
    """Compare register growth with measured power over the same window (§2.7 #3).

    A charger sending kWh labelled Wh (OpenEVSE) shows a register that barely moves while
    the power says kilowatts; a x10 register (Daheimladen) grows ten times too fast.
    """
    power = sorted(
        {
            (r.at, r.value)
            for sample in samples
            if not sample.clock_suspect
            for r in _totals(sample, _POWER)
        }
    )
    timed = [(a.point.at, a.energy) for a in accepted if a.point.at is not None and a.point.trusted]
    if len(power) < 2 or not timed:
        return
    begin = max(power[0][0], min(at for at, _ in timed))
    end = min(power[-1][0], max(at for at, _ in timed))
    if end - begin < POWER_CHECK_MIN_WINDOW:
        return
    by_register = _energy_at(timed, end) - _energy_at(timed, begin)
    by_power = Decimal(0)
    for (t0, watts), (t1, _) in pairwise(power):
        low, high = max(t0, begin), min(t1, end)
        if high > low:
            by_power += watts * _seconds(high - low) / 3600
    if max(by_register, by_power) < POWER_CHECK_MIN_WH:
        return
    if by_register > by_power * POWER_CHECK_RATIO or by_register * POWER_CHECK_RATIO < by_power:
        flags.append(
            _flag(
                EnergyFlagCode.ENERGY_POWER_MISMATCH,
                f"register grew {_wh(by_register)} while measured power adds up to "
                f"{_wh(by_power)} over the same {end - begin}; wrong energy unit or scale?",
            )
        )


def _energy_at(timed: list[tuple[datetime, Decimal]], at: datetime) -> Decimal:
    return max(energy for when, energy in timed if when <= at)


# --- helpers --------------------------------------------------------------------------------


def _seconds(delta: timedelta) -> Decimal:
    # One Decimal of microseconds, shifted: the value and exponent (-6) that adding the whole
    # seconds to the shifted microseconds gives, for a third of the work.
    return Decimal(delta // _MICROSECOND).scaleb(-6)


def _num(value: Decimal) -> str:
    # normalize() so that 1000 and 1000.0 read the same in a flag's text
    return f"{value.normalize():f}"


def _wh(value: Decimal) -> str:
    return f"{_num(value)} Wh"


def _flag(
    code: EnergyFlagCode,
    text: str,
    *,
    at: datetime | None = None,
    register_wh: Decimal | None = None,
) -> EnergyFlag:
    return EnergyFlag(code=code, text=text, at=at, register_wh=register_wh)
