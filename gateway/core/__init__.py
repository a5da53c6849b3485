"""Pure: the sans-I/O core; ``step(state, event, now)`` returns the new state and effects.

Nothing here reads a clock, a socket or a database: the runtime passes ``now`` and the
charger's EVSE bindings in, and commits what comes out (state and effects together)
before anything leaves the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import assert_never, cast

from gateway.core import evse, transactions
from gateway.core.effects import Effect, NoteRecorded, SamplesRecorded, TransactionChanged
from gateway.core.evolve import constructor, evolve
from gateway.domain.events import (
    ChargerBooted,
    ChargerConnected,
    ChargerDisconnected,
    ChargerEvent,
    ChargerReported,
    ConnectorStatusReported,
    OfflineGraceElapsed,
)
from gateway.domain.state import BootInfo, ChargerState, ConnectorReport
from gateway.domain.topology import EvseBinding
from gateway.domain.transactions import (
    MeterValuesReported,
    TransactionStarted,
    TransactionStopped,
    TransactionUpdated,
)

Inbound = (
    ChargerEvent
    | TransactionStarted
    | TransactionUpdated
    | TransactionStopped
    | MeterValuesReported
)

__all__ = ["Step", "refresh", "step"]


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one event: the charger's new state and what must follow it.

    ``state_changed`` is ``state != <the state stepped from>`` where the core knows it
    without comparing the two (a meter value's copy is equal to the state it was made
    from), ``None`` where it does not.
    """

    state: ChargerState
    effects: tuple[Effect, ...]
    state_changed: bool | None = None

    @property
    def changed(self) -> bool:
        return bool(self.effects)


_new_step = constructor(Step)  # faster than Step(...): one per event
_new_recorded = constructor(SamplesRecorded)  # for every meter value outside a transaction


def step(
    state: ChargerState,
    event: Inbound,
    *,
    bindings: tuple[EvseBinding, ...],
    now: datetime,
) -> Step:
    """Apply one charger event; ``bindings`` are the EVSEs this charger publishes."""
    match event:
        case TransactionStarted() | TransactionUpdated() | TransactionStopped():
            new, tx_effects = transactions.fold(state, event, bindings=bindings)
            if _published(new, bindings):
                # A transaction event changes nothing an EVSE is projected from (offline,
                # station, connectors): every EVSE still shows what the last step published.
                return _new_step(new, tx_effects, _changed(state, new, tx_effects))
        case ChargerReported():
            note = NoteRecorded(
                charger_id=event.charger_id,
                at=event.at,
                kind=event.kind,
                text=event.text,
                detail=event.detail,
                signal=event.signal,
            )
            return Step(state, (note,))
        case MeterValuesReported():
            # Outside a transaction nothing is billed; the samples are for the operator.
            recorded = _new_recorded(
                charger_id=event.charger_id,
                connector=event.connector,
                samples=event.samples,
                problems=event.problems,
            )
            return _new_step(state, (recorded,))
        case _:
            new, tx_effects = _apply(state, event), ()
    new, evse_effects = evse.republish(new, bindings, now=now)
    return _new_step(new, tx_effects + evse_effects if evse_effects else tx_effects)


def _published(state: ChargerState, bindings: tuple[EvseBinding, ...]) -> bool:
    """Whether every EVSE has been published: only then can a republish find no news."""
    evses = state.evses
    for binding in bindings:  # noqa: SIM110 - a loop: no generator frame per event
        if binding.uid not in evses:
            return False
    return True


def _changed(before: ChargerState, after: ChargerState, effects: tuple[Effect, ...]) -> bool:
    """``after != before`` for a transaction fold, from what it reported.

    A fold returns the very state it was given or one with a single transaction stored,
    which differs from the one it replaced exactly when its record changed (samples are
    not compared).
    """
    return after is not before and cast(TransactionChanged, effects[0]).record_changed


def refresh(state: ChargerState, *, bindings: tuple[EvseBinding, ...], now: datetime) -> Step:
    """Recompute the charger's EVSEs without an event: the configuration may have changed."""
    new, effects = evse.republish(state, bindings, now=now)
    return Step(new, effects)


def _apply(
    state: ChargerState,
    event: ChargerConnected
    | ChargerDisconnected
    | OfflineGraceElapsed
    | ChargerBooted
    | ConnectorStatusReported,
) -> ChargerState:
    match event:
        case ChargerConnected(at=at, protocol=protocol):
            return evolve(state, connected=True, offline=False, since=at, protocol=protocol)
        case ChargerDisconnected(at=at):
            if not state.connected:
                return state
            return evolve(state, connected=False, since=at)
        case OfflineGraceElapsed():
            # A reconnect may have raced the scheduler: only a still-absent charger goes offline.
            return state if state.connected else evolve(state, offline=True)
        case ChargerBooted():
            boot = BootInfo(
                vendor=event.vendor,
                model=event.model,
                serial_number=event.serial_number,
                firmware_version=event.firmware_version,
                at=event.at,
                accepted=event.accepted,
            )
            return evolve(state, boot=boot)
        case ConnectorStatusReported(connector=ref):
            if ref is None:
                return evolve(state, station=_report(event))
            connectors = dict(state.connectors)
            connectors[ref] = _report(event)
            return evolve(state, connectors=MappingProxyType(connectors))
    assert_never(event)


_new_report = constructor(ConnectorReport)  # faster than ConnectorReport(...)


def _report(event: ConnectorStatusReported) -> ConnectorReport:
    return _new_report(
        status=event.status, error_code=event.error_code, info=event.info, at=event.at
    )
