"""Ports: the small interfaces the runtime and the protocol adapters meet through.

Each has a fake in ``gateway.testing`` (or an in-memory implementation in
``gateway.storage.memory``) so that tests exercise real code on either side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.core.effects import Effect
from gateway.domain.authorization import AuthDecision
from gateway.domain.billing import CdrPage, UnbilledPage
from gateway.domain.commands import ChargerCommand, CommandOutcome
from gateway.domain.events import ChargerEvent
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import (
    AuthToken,
    MeterValuesReported,
    Transaction,
    TransactionEvent,
    TransactionStarted,
)


class CommitFailedError(Exception):
    """The store did not make a change durable; whoever sent the event must retry it."""


class Clock(Protocol):
    """Where ``now`` comes from; tests pass a controllable one."""

    def __call__(self) -> datetime: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One committed step: a charger's new state and the effects it produced."""

    charger_id: ChargerId
    state: ChargerState
    effects: tuple[Effect, ...]
    at: datetime
    state_changed: bool = True  # False: only effects to record (e.g. samples appended)
    issued_tx_id: int | None = None  # an OCPP 1.6 transactionId handed out by this change


class StateStore(Protocol):
    """Durable state. ``commit`` writes a whole batch in one transaction, or nothing."""

    def load_chargers(self) -> dict[ChargerId, ChargerState]: ...

    def commit(self, batch: Sequence[Change]) -> None: ...

    def last_transaction_id(self) -> int:
        """The highest OCPP 1.6 transactionId ever issued (0 for a new database)."""
        ...

    def find_transaction(
        self, charger_id: str, *, tx_id: str | None = None, start_key: str | None = None
    ) -> Transaction | None: ...


class SiteView(Protocol):
    """Read side: what the OCPI pull endpoints and the operator UI serve."""

    def evse_statuses(self) -> Mapping[EvseUid, PublishedEvse]: ...


class Authorizer(Protocol):
    """Decides whether a token may charge; answers within the charger's patience."""

    async def authorize(
        self, charger_id: ChargerId, token: AuthToken, evse_uid: EvseUid | None
    ) -> AuthDecision: ...


class ChargerLink(Protocol):
    """Sends commands to chargers (RELIABILITY.md R-OCPP-ORD-1/2: never from a handler)."""

    def connected(self, charger_id: ChargerId) -> bool: ...

    async def send(
        self, charger_id: ChargerId, command: ChargerCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        """The charger's answer; OFFLINE, TIMEOUT or ERROR outcomes instead of exceptions."""
        ...


class EventSink(Protocol):
    """Where the OCPP side delivers charger events; returns once they are durable.

    Raises ``CommitFailedError`` when the event could not be stored.
    """

    async def submit(
        self, event: ChargerEvent | TransactionEvent | MeterValuesReported
    ) -> None: ...

    async def start_transaction(self, event: TransactionStarted) -> Transaction:
        """Record a start; an empty ``tx_id`` is issued here.

        A repeated start (same key) returns the transaction it already started.
        """
        ...

    def evse_for(self, charger_id: ChargerId, connector: ConnectorRef | None) -> EvseUid | None:
        """The published EVSE a charger connector belongs to, if any."""
        ...


# --- read side for operators and monitoring -----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    """One OCPP message as the operator sees it: never its payload (tokens live there).

    ``direction`` is ``"in"`` for the charger's CALLs and ``"out"`` for ours; ``outcome``
    is ``"ok"``, ``"timeout"``, ``"repeat"`` (a retransmission answered again) or the
    CALLERROR code.
    """

    at: datetime
    direction: str
    message_id: str
    action: str
    outcome: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveConnection:
    """A charger's websocket as it is now."""

    charger_id: ChargerId
    protocol: str
    connected_at: datetime
    last_message_at: datetime | None
    known: bool = True  # False for a charger accepted only because commissioning is on


class ConnectionsView(Protocol):
    """Which chargers are connected now, and what each said lately (in memory only)."""

    def live(self) -> Mapping[ChargerId, LiveConnection]: ...

    def recent_messages(self, charger_id: ChargerId) -> Sequence[MessageRecord]:
        """The last few messages of one charger, oldest first; kept across reconnects."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerDelivery:
    """How delivery to one partner is going, as the pusher knows it.

    ``backlog`` counts changes waiting for the partner; ``oldest_pending_at`` is when the
    oldest of them happened (``None`` with an empty backlog).
    """

    partner: str
    last_success_at: datetime | None = None
    backlog: int = 0
    oldest_pending_at: datetime | None = None
    last_error: str | None = None


class DeliveryView(Protocol):
    """The pusher's account of each partner, and a way to make it try again now."""

    def delivery(self) -> Mapping[str, PartnerDelivery]:
        """By partner name; a partner missing here has had nothing to deliver."""
        ...

    async def retry_now(self, partner: str) -> str:
        """Start delivering ``partner``'s backlog at once; a sentence for the operator."""
        ...


class CdrView(Protocol):
    """The stored CDRs, and the finished transactions no CDR bills, for the operator.

    Both read the store (blocking: call from a worker thread) and list newest first.
    """

    def cdrs(self, *, limit: int, offset: int = 0, below: int | None = None) -> CdrPage:
        """A page of CDR summaries; ``below``: only CDRs older than that ``row``."""
        ...

    def unbilled(self, *, limit: int, offset: int = 0, below: int | None = None) -> UnbilledPage:
        """A page of finished transactions without a CDR; ``below`` as for ``cdrs``."""
        ...
