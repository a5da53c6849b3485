"""Adapter: an in-memory store with the SqlStore's behaviour, for tests and dry runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from gateway.core.effects import EvseChanged
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.ports import Change


class MemoryStore:
    """``StateStore`` and ``SiteView`` in dictionaries; ``fail_next`` simulates a broken disk."""

    def __init__(self) -> None:
        self.chargers: dict[ChargerId, ChargerState] = {}
        self.evses: dict[EvseUid, PublishedEvse] = {}
        self.outbox: dict[tuple[str, str], Change] = {}
        self.commits = 0
        self.fail_next = 0
        self.config: dict[str, tuple[str, datetime]] = {}

    def load_chargers(self) -> dict[ChargerId, ChargerState]:
        return dict(self.chargers)

    def commit(self, batch: Sequence[Change]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("simulated storage failure")
        for change in batch:
            self.chargers[change.charger_id] = change.state
            for effect in change.effects:
                if isinstance(effect, EvseChanged):
                    self.evses[effect.uid] = PublishedEvse(
                        status=effect.status, last_updated=effect.last_updated
                    )
                    self.outbox[("evse", effect.uid)] = change
        self.commits += 1

    def evse_statuses(self) -> dict[EvseUid, PublishedEvse]:
        return dict(self.evses)

    def ping(self) -> None:
        return None

    def reconcile_config(
        self, fingerprints: Mapping[str, str], now: datetime
    ) -> dict[str, datetime]:
        result = {}
        for key, fingerprint in fingerprints.items():
            before = self.config.get(key)
            if before is None or before[0] != fingerprint:
                before = self.config[key] = (fingerprint, now)
            result[key] = before[1]
        return result
