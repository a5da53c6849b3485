"""Adapter helper: a session's power and energy over time, drawn as an SVG on the server.

The browser needs no script and no chart library: the page carries the drawing. Power
is the sample's total active import power (the sum of its phases when the charger only
sent phases); energy is the import register minus the transaction's start register, so
the curve shows what the driver received so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from gateway.domain.meter import Measurand, MeterSample
from gateway.ui.html import esc

WIDTH, HEIGHT = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 62, 28, 34


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One sample on the plot."""

    at: datetime
    power_w: Decimal | None
    energy_wh: Decimal | None


def _total(sample: MeterSample, measurand: Measurand) -> Decimal | None:
    total = [r.value for r in sample.readings if r.measurand is measurand and r.phase is None]
    if total:
        return total[0]
    phases = [
        r.value
        for r in sample.readings
        if r.measurand is measurand and r.phase is not None and "-" not in r.phase
    ]
    return sum(phases, Decimal(0)) if phases else None


def power_w(sample: MeterSample) -> Decimal | None:
    return _total(sample, Measurand.POWER_ACTIVE_IMPORT)


def register_wh(sample: MeterSample) -> Decimal | None:
    return _total(sample, Measurand.ENERGY_ACTIVE_IMPORT_REGISTER)


def points(
    samples: Sequence[MeterSample],
    *,
    meter_start_wh: Decimal | None,
    started_at: datetime | None = None,
) -> list[Point]:
    """Plot points in time order; energy counts from the start register (or first reading).

    With a start register and ``started_at`` the plot begins at the start, at 0 kWh.
    """
    ordered = sorted(samples, key=lambda s: s.at)
    registers = [r for s in ordered if (r := register_wh(s)) is not None]
    base = meter_start_wh if meter_start_wh is not None else (registers[0] if registers else None)
    out = []
    begins_before = bool(ordered) and started_at is not None and started_at < ordered[0].at
    if meter_start_wh is not None and started_at is not None and begins_before:
        out.append(Point(at=started_at, power_w=None, energy_wh=Decimal(0)))
    for sample in ordered:
        register = register_wh(sample)
        energy = None if register is None or base is None else max(Decimal(0), register - base)
        power = power_w(sample)
        if energy is not None or power is not None:
            out.append(Point(at=sample.at, power_w=power, energy_wh=energy))
    return out


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (> 0)."""
    if value <= 0:
        return Decimal(1)
    scale = Decimal(10) ** (value.adjusted())
    for step in (1, 2, 5):
        if value <= step * scale:
            return step * scale
    return 10 * scale


def svg(plot: Sequence[Point]) -> str:
    """The drawing, or a sentence when there is nothing to draw."""
    if not plot:
        return '<p class="empty">No meter values with power or energy were received.</p>'
    start, end = plot[0].at, plot[-1].at
    span = max((end - start).total_seconds(), 1.0)
    inner_w, inner_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    top_kw = _nice_ceiling(max((p.power_w for p in plot if p.power_w), default=Decimal(0)) / 1000)
    top_kwh = _nice_ceiling(
        max((p.energy_wh for p in plot if p.energy_wh), default=Decimal(0)) / 1000
    )

    def x(at: datetime) -> str:
        return f"{_LEFT + inner_w * (at - start).total_seconds() / span:.1f}"

    def y(value: Decimal, top: Decimal) -> str:
        return f"{_TOP + inner_h * (1 - float(value / top)):.1f}"

    power = " ".join(
        f"{x(p.at)},{y(p.power_w / 1000, top_kw)}" for p in plot if p.power_w is not None
    )
    energy = " ".join(
        f"{x(p.at)},{y(p.energy_wh / 1000, top_kwh)}" for p in plot if p.energy_wh is not None
    )
    bottom, right = HEIGHT - _BOTTOM, WIDTH - _RIGHT
    parts = [
        f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-label="Power and energy over time" xmlns="http://www.w3.org/2000/svg">',
        "<title>Power (kW, left) and energy (kWh, right) over time</title>",
        f'<rect class="frame" x="{_LEFT}" y="{_TOP}" width="{inner_w}" height="{inner_h}"/>',
    ]
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        level = f"{_TOP + inner_h * (1 - float(fraction)):.1f}"
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{level}" x2="{right}" y2="{level}"/>')
        parts.append(
            f'<text class="axis power" x="{_LEFT - 6}" y="{level}" text-anchor="end" '
            f'dominant-baseline="middle">{esc(_fmt(top_kw * fraction))}</text>'
        )
        parts.append(
            f'<text class="axis energy" x="{right + 6}" y="{level}" '
            f'dominant-baseline="middle">{esc(_fmt(top_kwh * fraction))}</text>'
        )
    parts += [
        f'<text class="axis power" x="{_LEFT - 6}" y="{_TOP - 10}" text-anchor="end">kW</text>',
        f'<text class="axis energy" x="{right + 6}" y="{_TOP - 10}">kWh</text>',
        f'<text class="axis" x="{_LEFT}" y="{bottom + 22}">{esc(start.strftime("%H:%M"))}</text>',
        f'<text class="axis" x="{right}" y="{bottom + 22}" text-anchor="end">'
        f"{esc(end.strftime('%H:%M'))} UTC</text>",
    ]
    if power:
        parts.append(f'<polyline class="line power" points="{power}"/>')
    if energy:
        parts.append(f'<polyline class="line energy" points="{energy}"/>')
    parts.append("</svg>")
    legend = (
        '<p class="legend"><span class="key power">power (kW)</span> '
        '<span class="key energy">energy delivered (kWh)</span></p>'
    )
    return legend + "".join(parts)


def _fmt(value: Decimal) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"
