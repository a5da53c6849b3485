"""Pure: the operator's read model of billing: each CDR's costs, partner and delivery.

``gateway.storage`` reads ``StoredCdr`` rows (the CDR record, the transaction it bills
and the push ledger's entries for it); ``ocpi_bridge`` turns each into a ``CdrSummary``
(only it knows the CDR document's shape); the operator UI shows summaries and, for the
finished transactions that have no CDR, ``Unbilled`` rows with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from gateway.domain.delivery import CdrRecord, Owner, Seal
from gateway.domain.transactions import Transaction


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrPush:
    """The push ledger's entry for one CDR and one partner (an ``ocpi_push`` row).

    ``sent_at`` is when the ledger last recorded a send: the acknowledgement once
    ``acked``. ``due_since`` is set while the POST still has to succeed.
    """

    partner_id: int
    acked: bool
    sent_at: datetime | None = None
    due_since: datetime | None = None
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredCdr:
    """A CDR as read for the operator: the record, where it came from, who it went to.

    ``row`` orders CDRs by creation (newest is highest). ``charger_id``/``tx_id`` are
    those of the billed transaction (for a credit CDR: of the transaction it credits).
    ``queued_since`` is set while the CDR waits in the outbox for the push queues.
    """

    row: int
    record: CdrRecord
    charger_id: str | None = None
    tx_id: str | None = None
    pushes: tuple[CdrPush, ...] = ()
    queued_since: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """An amount in the CDR's currency, excluding and (when known) including VAT."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


class DeliveryState(StrEnum):
    """How a CDR's delivery to one partner stands."""

    ACKNOWLEDGED = "acknowledged"  # the partner answered the POST with success
    WAITING = "waiting"  # the POST has yet to succeed (``attempts`` failed so far)
    NOT_SENT = "not sent"  # neither due nor acknowledged: the pusher found nothing to send


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrDelivery:
    """One partner's copy of a CDR."""

    partner: str
    state: DeliveryState
    acknowledged_at: datetime | None = None
    waiting_since: datetime | None = None
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrSummary:
    """A CDR as the operator reads it: who was billed what, for which charge.

    Durations are hours and energy kWh, as in the CDR. Per-dimension costs are ``None``
    when the CDR does not state them. ``partner`` is the name of the partner owning
    the token's party (``None``: no partner holds that party any more). With no
    ``deliveries`` the CDR is either ``queued_since`` for the push queues or waits for
    the partner to pull it (GET /cdrs): no partner receives pushes for that party.
    """

    row: int
    cdr_id: str
    session_id: str | None
    owner: Owner
    partner: str | None
    deliveries: tuple[CdrDelivery, ...]
    queued_since: datetime | None
    created_at: datetime
    start: datetime
    end: datetime
    charger_id: str | None
    tx_id: str | None
    location_id: str
    location_name: str | None
    evse_uid: str
    evse_id: str
    connector_id: str
    token_type: str
    token_uid: str
    energy_kwh: Decimal
    time_h: Decimal
    parking_time_h: Decimal | None
    currency: str
    total_cost: Cost
    energy_cost: Cost | None = None
    time_cost: Cost | None = None
    parking_cost: Cost | None = None
    fixed_cost: Cost | None = None
    reservation_cost: Cost | None = None
    tariff_ids: tuple[str, ...] = ()
    credit_of: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrPage:
    """One page of summaries, newest first, and how many CDRs there are in all.

    ``last_row`` is the row of the oldest CDR the page read (``None``: it read none), the
    cursor for the next page even when a stored document could not be summarised.
    """

    total: int
    items: tuple[CdrSummary, ...]
    last_row: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unbilled:
    """A finished transaction with no CDR, and its seal (``None``: never sealed).

    ``row`` orders transactions by when they were first stored (newest is highest).
    """

    row: int
    transaction: Transaction
    seal: Seal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnbilledPage:
    """One page of finished transactions without a CDR, newest first, and the total."""

    total: int
    items: tuple[Unbilled, ...]
