"""Shipped fakes for the ports, used by the test suite and by anyone embedding the gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.domain.events import ChargerEvent


class FakeClock:
    """A ``Clock`` that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class RecordingSink:
    """An ``EventSink`` that keeps every event it is given, in order."""

    def __init__(self) -> None:
        self.events: list[ChargerEvent] = []

    async def submit(self, event: ChargerEvent) -> None:
        self.events.append(event)
