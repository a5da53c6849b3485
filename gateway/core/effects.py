"""Pure: what the shell must do after a state change is committed (effects say what changed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.domain.events import Signal
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.meter import MeterProblem, MeterSample
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import Transaction, TransactionEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseChanged:
    """An EVSE's published status changed; partners must hear of it."""

    uid: EvseUid
    location_id: LocationId
    status: EvseStatus
    last_updated: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionChanged:
    """A transaction was created, updated or ended; store it and its new samples."""

    transaction: Transaction
    new_samples: tuple[MeterSample, ...] = ()
    problems: tuple[MeterProblem, ...] = ()
    record_changed: bool = True  # False: only samples were added (nothing else to rewrite)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionEventParked:
    """A transaction event that matched no open transaction; kept for reconciliation."""

    charger_id: ChargerId
    tx_id: str
    kind: str
    reason: str  # "unknown_transaction" | "no_transaction_id" | "late_event"
    at: datetime
    event: TransactionEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplesRecorded:
    """Meter samples outside any transaction: kept for the operator, never billed."""

    charger_id: ChargerId
    connector: ConnectorRef | None
    samples: tuple[MeterSample, ...]
    problems: tuple[MeterProblem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteRecorded:
    """Keep what the charger reported, for the operator."""

    charger_id: ChargerId
    at: datetime
    kind: str
    text: str
    detail: Mapping[str, Any]
    signal: Signal | None = None  # what other parts of the gateway react to


Effect = EvseChanged | TransactionChanged | TransactionEventParked | SamplesRecorded | NoteRecorded
