"""Builders for the tariff engine tests: spec example tariffs and session timelines."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ocpi_bridge.translate.tariff_engine import (
    CdrDimensionType,
    CostedSession,
    Reservation,
    SessionUsage,
    TariffPlan,
    UsageSample,
    tariff_from_ocpi,
)

EXAMPLES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "ocpi-2.2.1" / "examples"
)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def example(name: str) -> Any:
    """The decoded JSON of one spec example; skips the test when the spec folder is absent."""
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"OCPI 2.2.1 spec example {name} not found at {EXAMPLES}")
    return json.loads(path.read_text(encoding="utf-8"))


def example_plan(name: str) -> TariffPlan:
    return tariff_from_ocpi(example(name))


def local(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    tz: ZoneInfo = AMSTERDAM,
    fold: int = 0,
) -> datetime:
    """A wall-clock instant at the Location (Amsterdam unless told otherwise)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=tz, fold=fold)


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    """A stretch of a session: how long, how much energy, and the charger's state meanwhile."""

    minutes: int = 0
    seconds: int = 0
    kwh: str = "0"
    charging: bool = True
    power_kw: str | None = None
    current_a: str | None = None


def timeline(
    start: datetime,
    *legs: Leg,
    tz: ZoneInfo = AMSTERDAM,
    reservation_minutes: int | None = None,
    register_wh: str = "0",
) -> SessionUsage:
    """A session made of consecutive legs; one sample opens each leg and one closes the last."""
    samples = []
    at, wh = start.astimezone(UTC), Decimal(register_wh)  # add real, not wall-clock, time
    for leg in legs:
        samples.append(
            UsageSample(
                at=at,
                energy_wh=wh,
                charging=leg.charging,
                power_w=None if leg.power_kw is None else Decimal(leg.power_kw) * 1000,
                current_a=None if leg.current_a is None else Decimal(leg.current_a),
            )
        )
        at += timedelta(minutes=leg.minutes, seconds=leg.seconds)
        wh += Decimal(leg.kwh) * 1000
    if at > start or not samples:
        samples.append(UsageSample(at=at, energy_wh=wh))
    reservation = None
    if reservation_minutes is not None:
        opened = start.astimezone(UTC) - timedelta(minutes=reservation_minutes)
        reservation = Reservation(start=opened, end=start)
    return SessionUsage(
        start=start, end=at, time_zone=tz, samples=tuple(samples), reservation=reservation
    )


def volumes(costed: CostedSession) -> list[dict[str, Decimal]]:
    """Each charging period's dimensions as {type: volume}, for compact assertions."""
    return [{d.type.value: d.volume for d in p.dimensions} for p in costed.charging_periods]


def starts(costed: CostedSession, tz: ZoneInfo = AMSTERDAM) -> list[str]:
    """Each charging period's start as local HH:MM."""
    return [p.start.astimezone(tz).strftime("%H:%M") for p in costed.charging_periods]


def totals(costed: CostedSession) -> tuple[Decimal, Decimal | None]:
    return costed.total_cost.excl_vat, costed.total_cost.incl_vat


def hours_of(costed: CostedSession, kind: CdrDimensionType) -> Decimal:
    return sum(
        (d.volume for p in costed.charging_periods for d in p.dimensions if d.type is kind),
        Decimal(0),
    )
