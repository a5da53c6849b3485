"""Pure: which charger connectors make up which EVSE (static, from the configuration)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

from gateway.domain.ids import ChargerId, EvseUid, LocationId


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorRef:
    """A physical connector as the charger numbers it.

    ``evse`` is the charger's own EVSE id (OCPP 2.0.1/2.1) or ``None`` for chargers that
    number connectors flatly (OCPP 1.6).
    """

    evse: int | None
    connector: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseBinding:
    """One published EVSE and the connectors of one charger it stands for."""

    uid: EvseUid
    location_id: LocationId
    charger_id: ChargerId
    connectors: tuple[ConnectorRef, ...]
    lifecycle: str = "active"  # "active" | "planned" | "removed"
    max_power_w: Decimal | None = None  # the most it can deliver: bounds plausible energy

    def serves(self, ref: ConnectorRef) -> bool:
        """True for one of its connectors, or its EVSE as a whole (connector 0)."""
        return ref in self.connectors or (
            ref.connector == 0
            and ref.evse is not None
            and any(c.evse == ref.evse for c in self.connectors)
        )


@dataclass(frozen=True)  # no slots: the per-charger index is cached on the instance
class Topology:
    """All EVSE bindings of the site, indexed for the lookups the core needs."""

    evses: tuple[EvseBinding, ...]

    def of_charger(self, charger_id: ChargerId) -> tuple[EvseBinding, ...]:
        return self._by_charger.get(charger_id, ())

    @functools.cached_property
    def _by_charger(self) -> dict[ChargerId, tuple[EvseBinding, ...]]:
        index: dict[ChargerId, list[EvseBinding]] = {}
        for e in self.evses:
            index.setdefault(e.charger_id, []).append(e)
        return {cid: tuple(bindings) for cid, bindings in index.items()}

    def serving(self, charger_id: ChargerId, ref: ConnectorRef) -> EvseBinding | None:
        return next((e for e in self.of_charger(charger_id) if e.serves(ref)), None)

    def evse(self, uid: EvseUid) -> EvseBinding | None:
        return next((e for e in self.evses if e.uid == uid), None)
