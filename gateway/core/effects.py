"""Pure: what the shell must do after a state change is committed (effects say what changed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.domain.ids import EvseUid, LocationId
from gateway.domain.status import EvseStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseChanged:
    """An EVSE's published status changed; partners must hear of it."""

    uid: EvseUid
    location_id: LocationId
    status: EvseStatus
    last_updated: datetime


Effect = EvseChanged
