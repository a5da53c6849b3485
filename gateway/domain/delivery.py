"""Pure: what delivering objects to partners keeps: seals, CDR records, outbox and push rows.

Both sides meet through these records: ``gateway.storage`` keeps them durable,
``ocpi_bridge`` fills them (seals, CDRs) and drains them (pushes). Documents are
stored as JSON text; only ``ocpi_bridge`` knows their shape.

A transaction is *sealed* when it is first stored: the Location, EVSE, connector and
tariff that applied at its start, and who issued its token. A CDR built later from the
seal is therefore what the spec calls sealed, whatever the configuration says by then.

A Session may exist before its transaction (DESIGN.md §4): a partner's START_SESSION or
RESERVE_NOW opens a *pending session* (PENDING, then RESERVATION while the charger holds
the reservation), sealed like a transaction when it is opened. The transaction that
answers it *takes* it when that transaction is sealed: the seal gets the pending
session's id, so the partner follows one Session from PENDING to COMPLETED. One that is
never taken ends INVALID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.domain.transactions import Transaction

#: How long after a START_SESSION a transaction may still take its pending session
#: (mod_commands: the token is not re-authorised at that EVSE for 15 minutes).
PENDING_WINDOW = timedelta(minutes=15)

Owner = tuple[str, str]
"""A partner party: (country_code, party_id), upper-case."""


class PushKind(StrEnum):
    """What an outbox or push row is about, and how its object is sent."""

    EVSE = "evse"  # status change: PATCH the EVSE
    LOCATION = "location"  # configuration change: PUT the Location
    TARIFF = "tariff"  # PUT (or DELETE once removed from the configuration)
    #: PUT when new, PATCH after; object id: the transaction row id, or ``pending:<row id>``
    #: for a pending session that no transaction has taken.
    SESSION = "session"
    CDR = "cdr"  # POST until acknowledged; object id: the CDR id
    CDR_BUILD = "cdr-build"  # a CDR that could not be built with its stop; built later


class PendingKind(StrEnum):
    """What opened a pending session."""

    START = "start"  # a START_SESSION; ``source_id`` is the command id
    RESERVATION = "reservation"  # a RESERVE_NOW; ``source_id`` is the reservation id


class PendingStatus(StrEnum):
    """A pending session's state; the values are the OCPI SessionStatus it shows."""

    PENDING = "PENDING"
    RESERVATION = "RESERVATION"
    INVALID = "INVALID"

    @property
    def open(self) -> bool:
        """Whether a transaction may still take it."""
        return self is not PendingStatus.INVALID


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """The pending session a new transaction answers (chosen by the sealer)."""

    kind: PendingKind
    source_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingSession:
    """A Session opened by a partner's command before any transaction exists.

    ``site`` and ``token`` are documents like a seal's (the EVSE the partner named, the
    tariff that would apply, the command's token). ``tx_row`` is the transaction that
    took it; from then on that transaction's Session (same ``session_id``) is the one
    served and pushed. ``id`` is 0 until stored.
    """

    id: int = 0
    session_id: str
    kind: PendingKind
    source_id: int
    charger_id: str
    owner: Owner
    site: str
    token: str
    status: PendingStatus = PendingStatus.PENDING
    started_at: datetime
    updated_at: datetime
    tx_row: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Seal:
    """What applied to a transaction at its start.

    ``site`` is ``None`` when the transaction's EVSE is not configured (nothing is billed);
    ``token``/``owner`` are ``None`` when no partner issued the token (a site token, free
    vend): such sessions are kept but never pushed or shown to a partner. ``problem`` is
    a note for the operator when something could not be sealed.
    """

    session_id: str
    site: str | None
    token: str | None
    owner: Owner | None
    problem: str | None = None
    claim: Claim | None = None  # the pending session whose id this transaction takes


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrRecord:
    """A CDR as stored: created once, never changed; corrections are credit CDRs."""

    cdr_id: str
    owner: Owner
    created_at: datetime
    doc: str
    tx_row: int | None = None  # the transaction it bills (None: a credit CDR)
    credit_of: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """A transaction with its samples, its last change, and its seal."""

    row_id: int
    transaction: Transaction
    updated_at: datetime
    seal: Seal


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    """An object that changed and is not yet handed to the partners' push queues."""

    id: int
    kind: PushKind
    object_id: str
    changed_at: datetime
    owner: Owner | None = None  # sessions and CDRs go to their owner only


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """What a partner was last sent of an object (the push ledger)."""

    last_updated: datetime | None = None
    digest: str | None = None
    doc: str | None = None  # sessions: the Session as the partner now holds it
    acked: bool = False  # CDRs: the partner acknowledged the POST


@dataclass(frozen=True, slots=True, kw_only=True)
class PushItem:
    """One object due for one partner, with what that partner already has."""

    partner_id: int
    kind: PushKind
    object_id: str
    seq: int  # changes each time the object is queued again; guards ``PushOutcome``
    attempts: int
    due_since: datetime
    sent: Sent


@dataclass(frozen=True, slots=True, kw_only=True)
class PushOutcome:
    """The result of one push attempt, recorded in the ledger.

    ``done``: the partner has the current state (sent now, or nothing to send); the row
    stops being due unless the object was queued again meanwhile (``seq`` moved).
    Otherwise ``retry_at`` says when to try again and ``error`` why.
    """

    partner_id: int
    kind: PushKind
    object_id: str
    seq: int
    done: bool
    sent: Sent | None = None  # the new ledger entry (None: unchanged)
    error: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """A ledger update for an object sent inside another (an EVSE inside its Location)."""

    partner_id: int
    kind: PushKind
    object_id: str
    sent: Sent


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlog:
    """A partner's undelivered objects: how many, and since when the oldest waits."""

    count: int
    oldest: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigSnapshot:
    """The last configuration of a published object, kept after it leaves the file.

    ``key`` is ``location:<id>``, ``evse:<uid>`` or ``tariff:<id>``; ``parent`` the
    Location id of an EVSE; ``removed_at`` when the configuration stopped listing it.
    """

    key: str
    parent: str | None
    doc: str
    changed_at: datetime
    removed_at: datetime | None = None
