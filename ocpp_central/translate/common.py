"""Pure: helpers shared by the per-version translators (OCPP date-times)."""

from __future__ import annotations

from datetime import UTC, datetime


def ocpp_datetime(dt: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: the form every charger firmware parses."""
    # Every heartbeat answer comes here, nearly always with a UTC time already.
    utc = dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def optional_datetime(text: object) -> datetime | None:
    """Parse an OCPP date-time leniently: ``None`` when absent or unreadable."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
