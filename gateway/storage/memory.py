"""Adapter: an in-memory store with the SqlStore's behaviour, for tests and dry runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from gateway.core.effects import (
    EvseChanged,
    NoteRecorded,
    TransactionChanged,
    TransactionEventParked,
)
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import MeterSample
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.transactions import Transaction
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
        self.transactions: dict[tuple[str, str], Transaction] = {}
        self.samples: dict[tuple[str, str], list[MeterSample]] = {}
        self.parked: list[TransactionEventParked] = []
        self.notes: list[NoteRecorded] = []
        self._sequence = 0

    def load_chargers(self) -> dict[ChargerId, ChargerState]:
        return dict(self.chargers)

    def commit(self, batch: Sequence[Change]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("simulated storage failure")
        for change in batch:
            self.chargers[change.charger_id] = change.state
            if change.issued_tx_id is not None:
                self._sequence = max(self._sequence, change.issued_tx_id)
            for effect in change.effects:
                if isinstance(effect, EvseChanged):
                    self.evses[effect.uid] = PublishedEvse(
                        status=effect.status, last_updated=effect.last_updated
                    )
                    self.outbox[("evse", effect.uid)] = change
                elif isinstance(effect, TransactionChanged):
                    tx = effect.transaction
                    key = (tx.charger_id, tx.tx_id)
                    before = self.transactions.get(key)
                    if before is None or not before.ended:
                        self.transactions[key] = replace(tx, samples=())
                    self.samples.setdefault(key, []).extend(effect.new_samples)
                elif isinstance(effect, TransactionEventParked):
                    self.parked.append(effect)
                elif isinstance(effect, NoteRecorded):
                    self.notes.append(effect)
        self.commits += 1

    def last_transaction_id(self) -> int:
        return self._sequence

    def find_transaction(
        self, charger_id: str, *, tx_id: str | None = None, start_key: str | None = None
    ) -> Transaction | None:
        for (cid, tid), tx in self.transactions.items():
            if cid != charger_id or (tx_id is not None and tid != tx_id):
                continue
            if start_key is not None and tx.start_key != start_key:
                continue
            return replace(tx, samples=tuple(self.samples.get((cid, tid), ())))
        return None

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
