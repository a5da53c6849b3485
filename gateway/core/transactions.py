"""Pure: the transaction state machine: idempotent start, updates in any order, first stop wins.

RELIABILITY.md §2.4 (R-OCPP-TX-1/3): nothing a charger sends about a transaction is
refused; what does not fit is kept and flagged. A repeated 2.0.1 seqNo changes nothing;
an event for a transaction that has ended never changes it (it is parked as late); a
1.6 stop for an unknown transaction is parked for reconciliation; a 2.0.1 update or end
for a transaction never seen starts it implicitly (the Started event may still be queued).
"""

from __future__ import annotations

from types import MappingProxyType

from gateway.core.effects import Effect, TransactionChanged, TransactionEventParked
from gateway.core.energy import session_energy
from gateway.core.evolve import constructor, evolve, replacer
from gateway.domain.ids import ChargerId
from gateway.domain.state import RECENT_ENDED, ChargerState
from gateway.domain.topology import ConnectorRef, EvseBinding
from gateway.domain.transactions import (
    Transaction,
    TransactionEvent,
    TransactionStarted,
    TransactionStatus,
    TransactionStopped,
    TransactionUpdated,
    TxFlag,
)

Folded = tuple[ChargerState, tuple[Effect, ...]]

#: Faster than the classes' own __init__ (see `constructor`), for every transaction event.
_new_changed = constructor(TransactionChanged)
_new_transaction = constructor(Transaction)
#: The copies every meter value makes (see `replacer`): the transaction, then its charger.
_updated_copy = replacer(Transaction, "token", "connector", "seen_seq", "samples")
_sampled_copy = replacer(Transaction, "seen_seq", "samples")
_with_transactions = replacer(ChargerState, "transactions", "recently_ended")
_with_open = replacer(ChargerState, "transactions")


def fold(
    state: ChargerState, event: TransactionEvent, *, bindings: tuple[EvseBinding, ...]
) -> Folded:
    """Apply one transaction event to the charger's open transactions."""
    open_tx = state.transactions.get(event.tx_id)
    # Most events are meter values for a running transaction: `_sampled` makes what `_fold`
    # would, in one copy per record and without its comparisons.
    if (
        open_tx is not None
        and type(event) is TransactionUpdated
        and open_tx.token is not None
        and open_tx.connector is not None
    ):
        return _sampled(state, open_tx, event)
    return _fold(state, open_tx, event, bindings)


def _fold(
    state: ChargerState,
    open_tx: Transaction | None,
    event: TransactionEvent,
    bindings: tuple[EvseBinding, ...],
) -> Folded:
    """`fold` for any event: ``open_tx`` is the open transaction it names, if any."""
    if open_tx is None and event.tx_id in state.recently_ended:
        return state, (_parked(event, "late_event"),)
    if open_tx is not None and event.seq_no is not None and event.seq_no in open_tx.seen_seq:
        return state, ()  # a retransmission: already applied
    before = open_tx
    if open_tx is None:
        if isinstance(event, TransactionStarted):
            return _store(state, _begin(event, bindings), event, record_changed=True)
        if event.seq_no is None:
            # OCPP 1.6: the gateway issued every id, so an unknown one is a charger-side
            # oddity (offline start, -1); keep it for reconciliation, do not invent a tx.
            reason = "no_transaction_id" if event.tx_id in ("-1", "") else "unknown_transaction"
            return state, (_parked(event, reason),)
        open_tx = _implicit(event, bindings)
    if isinstance(event, TransactionUpdated):
        tx = _update(open_tx, event)
        # Equality ignores samples: most meter values only add samples to a record.
        return _store(state, tx, event, record_changed=before is None or _updated(before, tx))
    if isinstance(event, TransactionStarted):
        tx = _merge_start(open_tx, event)
        return _store(state, tx, event, record_changed=before is None or before != tx)
    # An open transaction is active and its stop completes it: the record always changes.
    return _store(state, _stop(open_tx, event, bindings), event, record_changed=True)


def _begin(event: TransactionStarted, bindings: tuple[EvseBinding, ...]) -> Transaction:
    binding = _binding(event.connector, bindings)
    flags = {TxFlag.UNKNOWN_EVSE} if binding is None else set()
    if event.clock_suspect:
        flags.add(TxFlag.CLOCK_SUSPECT)
    if event.auth_rejected:
        flags.add(TxFlag.AUTH_REJECTED)
    return _new_transaction(
        charger_id=event.charger_id,
        tx_id=event.tx_id,
        evse_uid=None if binding is None else binding.uid,
        connector=event.connector,
        token=event.token,
        started_at=event.started_at,
        received_at=event.at,
        meter_start_wh=event.meter_start_wh,
        start_key=event.start_key,
        remote_start_id=event.remote_start_id,
        reservation_id=event.reservation_id,
        auth_source=event.auth_source,
        auth_reference=event.auth_reference,
        seen_seq=_seq(frozenset(), event.seq_no),
        flags=frozenset(flags),
        samples=tuple(event.samples),
    )


def _implicit(
    event: TransactionUpdated | TransactionStopped, bindings: tuple[EvseBinding, ...]
) -> Transaction:
    binding = _binding(event.connector, bindings)
    first = min((s.at for s in event.samples), default=event.at)
    flags = {TxFlag.STARTED_IMPLICITLY}
    if binding is None:
        flags.add(TxFlag.UNKNOWN_EVSE)
    return _new_transaction(
        charger_id=event.charger_id,
        tx_id=event.tx_id,
        evse_uid=None if binding is None else binding.uid,
        connector=event.connector,
        token=event.token,
        started_at=first,
        received_at=event.at,
        flags=frozenset(flags),
    )


def _merge_start(tx: Transaction, event: TransactionStarted) -> Transaction:
    """A Started event that arrives after updates fills in what only it knows."""
    return evolve(
        tx,
        token=tx.token or event.token,
        started_at=min(tx.started_at, event.started_at),
        meter_start_wh=tx.meter_start_wh if tx.meter_start_wh is not None else event.meter_start_wh,
        remote_start_id=tx.remote_start_id or event.remote_start_id,
        reservation_id=tx.reservation_id or event.reservation_id,
        auth_source=tx.auth_source or event.auth_source,
        auth_reference=tx.auth_reference or event.auth_reference,
        flags=tx.flags | {TxFlag.AUTH_REJECTED} if event.auth_rejected else tx.flags,
        seen_seq=_seq(tx.seen_seq, event.seq_no),
        samples=tx.samples + tuple(event.samples),
    )


def _update(tx: Transaction, event: TransactionUpdated | TransactionStopped) -> Transaction:
    """The transaction with the event's samples; `_updated` compares what else it changes."""
    return _updated_copy(
        tx,
        tx.token or event.token,
        tx.connector or event.connector,
        _seq(tx.seen_seq, event.seq_no),
        tx.samples + tuple(event.samples),
    )


def _sampled(state: ChargerState, tx: Transaction, event: TransactionUpdated) -> Folded:
    """What the general path makes of a meter value for a transaction it changes only by it.

    Most events are these: with the token and connector known, only the samples and the
    sequence numbers can change, so none of the general path's comparisons is needed.
    """
    seq_no = event.seq_no
    seen = tx.seen_seq
    if seq_no is not None:
        if seq_no in seen:
            return state, ()  # a retransmission: already applied
        seen = seen | {seq_no}
    tx = _sampled_copy(tx, seen, tx.samples + tuple(event.samples))
    if len(state.transactions) == 1:  # the usual: it is the charger's only open transaction
        open_txs = {tx.tx_id: tx}
    else:
        open_txs = dict(state.transactions)
        open_txs[tx.tx_id] = tx
    return _with_open(state, MappingProxyType(open_txs)), (
        _new_changed(
            transaction=tx,
            new_samples=event.samples,
            problems=event.problems,
            record_changed=seq_no is not None,
        ),
    )


def _updated(before: Transaction, after: Transaction) -> bool:
    """``before != after`` for a copy `_update` made: only the fields it sets can differ.

    A meter value changes none of them (they are the same objects, hence ``is`` first), and
    comparing three fields is much cheaper than the record's own equality over twenty.
    """
    return (
        (after.seen_seq is not before.seen_seq and after.seen_seq != before.seen_seq)
        or (after.token is not before.token and after.token != before.token)
        or (after.connector is not before.connector and after.connector != before.connector)
    )


def _stop(
    tx: Transaction, event: TransactionStopped, bindings: tuple[EvseBinding, ...]
) -> Transaction:
    """The ended transaction: what `_update` changes and what the stop does, in one copy."""
    samples = tx.samples + tuple(event.samples)
    seen_seq = _seq(tx.seen_seq, event.seq_no)
    binding = next((b for b in bindings if b.uid == tx.evse_uid), None)
    result = session_energy(
        tx.meter_start_wh,
        event.meter_stop_wh,
        samples,
        started_at=tx.started_at,
        stopped_at=event.stopped_at,
        max_power_w=None if binding is None else binding.max_power_w,
    )
    flags = set(tx.flags)
    if event.clock_suspect:
        flags.add(TxFlag.CLOCK_SUSPECT)
    if seen_seq and len(seen_seq) != max(seen_seq) + 1:
        flags.add(TxFlag.SEQUENCE_GAP)
    return evolve(
        tx,
        token=tx.token or event.token,
        connector=tx.connector or event.connector,
        seen_seq=seen_seq,
        samples=samples,
        status=TransactionStatus.COMPLETED,
        meter_stop_wh=event.meter_stop_wh,
        stopped_at=max(event.stopped_at, tx.started_at),
        stop_reason=event.reason,
        energy_wh=result.energy_wh,
        energy_flags=result.flags,
        flags=frozenset(flags),
    )


def _store(
    state: ChargerState, tx: Transaction, event: TransactionEvent, *, record_changed: bool
) -> Folded:
    open_txs = dict(state.transactions)
    recently_ended = state.recently_ended
    if tx.ended:
        open_txs.pop(tx.tx_id, None)
        recently_ended = (*recently_ended, tx.tx_id)[-RECENT_ENDED:]
    else:
        open_txs[tx.tx_id] = tx
    new_state = _with_transactions(state, MappingProxyType(open_txs), recently_ended)
    return new_state, (
        _new_changed(
            transaction=tx,
            new_samples=event.samples,
            problems=event.problems,
            record_changed=record_changed,
        ),
    )


def _binding(ref: ConnectorRef | None, bindings: tuple[EvseBinding, ...]) -> EvseBinding | None:
    if ref is None:
        return None
    return next((b for b in bindings if b.serves(ref)), None)


def _seq(seen: frozenset[int], seq_no: int | None) -> frozenset[int]:
    return seen if seq_no is None else seen | {seq_no}


def _parked(event: TransactionEvent, reason: str) -> TransactionEventParked:
    return TransactionEventParked(
        charger_id=ChargerId(event.charger_id),
        tx_id=event.tx_id,
        kind=type(event).__name__,
        reason=reason,
        at=event.at,
        event=event,
    )


def find_by_start_key(state: ChargerState, key: str) -> Transaction | None:
    """An open transaction started with exactly this key (1.6 idempotent start)."""
    return next((t for t in state.transactions.values() if t.start_key == key), None)
