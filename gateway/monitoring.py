"""Adapter (read side): ``/healthz`` and ``/metrics`` from the store, the runtime and the pusher.

Nothing here changes state. Health is what a supervisor or a load balancer acts on:
the store must answer, the OCPP listener must be up, and no partner may be owed a
change older than ``monitoring.backlog_max_age_s``. Metrics are what monitoring alerts
on; values that describe the present (connections, EVSE statuses, backlogs) are read
at each scrape, the rest was recorded as it happened (``gateway.metrics``).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway import __version__
from gateway.config import Settings
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.state import ChargerState, PublishedEvse
from gateway.domain.status import EvseStatus
from gateway.metrics import Gauge, Metrics
from gateway.ports import Clock, ConnectionsView, DeliveryView, PartnerDelivery


class StoreProbe(Protocol):
    """What health and metrics read from the store."""

    def ping(self) -> None: ...

    def evse_statuses(self) -> Mapping[EvseUid, PublishedEvse]: ...


class ChargerStates(Protocol):
    """The runtime's committed charger states."""

    def states(self) -> Mapping[ChargerId, ChargerState]: ...


class NoDelivery:
    """``DeliveryView`` of a gateway that pushes nothing yet: every backlog is empty."""

    def delivery(self) -> Mapping[str, PartnerDelivery]:
        return {}

    async def retry_now(self, partner: str) -> str:
        return "Nothing to retry: this gateway does not push to partners yet."


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """The answer of ``/healthz``."""

    healthy: bool
    checks: Mapping[str, Any]

    def document(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "degraded",
            "version": __version__,
            "checks": dict(self.checks),
        }


class Monitor:
    """Computes health and the metrics exposition on demand."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: StoreProbe,
        chargers: ChargerStates,
        connections: ConnectionsView,
        delivery: DeliveryView,
        partner_names: Callable[[], Sequence[str]],
        listening: Callable[[], bool],
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._store = store
        self._chargers = chargers
        self._connections = connections
        self._delivery = delivery
        self._partner_names = partner_names
        self._listening = listening
        self._metrics = metrics
        self._clock = clock
        self._allowed = tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.monitoring.metrics_allow
        )

    def may_scrape(self, client_host: str | None) -> bool:
        """Whether an address may read ``/metrics`` (``monitoring.metrics_allow``)."""
        if client_host is None:
            return False
        try:
            address = ipaddress.ip_address(client_host)
        except ValueError:
            return False
        return any(address in net for net in self._allowed)

    async def health(self) -> Health:
        checks: dict[str, Any] = {}
        try:
            await asyncio.to_thread(self._store.ping)
            checks["store"] = "ok"
        except Exception as exc:  # any failure at all means the store is unhealthy
            checks["store"] = f"failing: {type(exc).__name__}"
        checks["ocpp_listener"] = "ok" if self._listening() else "down"
        checks["http_listener"] = "ok"
        checks["chargers_connected"] = len(self._connections.live())
        stale = self.stale_backlogs()
        checks["backlog"] = "ok" if not stale else "; ".join(stale)
        healthy = checks["store"] == "ok" and checks["ocpp_listener"] == "ok" and not stale
        return Health(healthy=healthy, checks=checks)

    def stale_backlogs(self) -> list[str]:
        """Partners owed a change older than the configured age, as sentences."""
        now = self._clock()
        limit = self._settings.monitoring.backlog_max_age_s
        out = []
        for name, d in sorted(self._delivery.delivery().items()):
            if d.backlog and d.oldest_pending_at is not None:
                age = (now - d.oldest_pending_at).total_seconds()
                if age > limit:
                    out.append(f"{name}: {d.backlog} waiting, oldest {age:.0f} s old")
        return out

    async def scrape(self) -> str:
        statuses, partners = await asyncio.to_thread(self._read)
        return self._metrics.render(self._present(statuses, partners))

    def _read(self) -> tuple[Mapping[EvseUid, PublishedEvse], Sequence[str]]:
        return self._store.evse_statuses(), self._partner_names()

    def _present(
        self, statuses: Mapping[EvseUid, PublishedEvse], partners: Sequence[str]
    ) -> list[Gauge]:
        now = self._clock()
        live = self._connections.live()
        states = self._chargers.states()

        connected = Gauge("gateway_chargers_connected", "Chargers with an open websocket.")
        connected.set(len(live))
        per_charger = Gauge(
            "gateway_charger_connected", "1 while the charger is connected, else 0.", ("charger",)
        )
        for charger_id in sorted({*states, *live}):
            per_charger.set(1 if charger_id in live else 0, charger_id)

        evses = Gauge("gateway_evses", "Published EVSEs by OCPI status.", ("status",))
        for status in EvseStatus:
            evses.set(0, _ocpi(status))
        for published in statuses.values():
            key = _ocpi(published.status)
            evses.set((evses.value(key) or 0) + 1, key)

        active = Gauge("gateway_sessions_active", "Charging transactions in progress.")
        active.set(sum(1 for s in states.values() for t in s.transactions.values() if not t.ended))

        backlog = Gauge(
            "gateway_partner_backlog", "Changes waiting to be pushed to a partner.", ("partner",)
        )
        oldest = Gauge(
            "gateway_partner_backlog_oldest_seconds",
            "Age of the oldest change waiting for a partner (0 when none).",
            ("partner",),
        )
        last_ok = Gauge(
            "gateway_partner_last_success_timestamp_seconds",
            "Unix time of the last successful push to a partner.",
            ("partner",),
        )
        delivery = self._delivery.delivery()
        for name in sorted({*partners, *delivery}):
            self._metrics.partner_known(name)
            d = delivery.get(name) or PartnerDelivery(partner=name)
            backlog.set(d.backlog, name)
            oldest.set(_age(now, d.oldest_pending_at) if d.backlog else 0, name)
            if d.last_success_at is not None:
                last_ok.set(d.last_success_at.timestamp(), name)
        return [connected, per_charger, evses, active, backlog, oldest, last_ok]


def _ocpi(status: EvseStatus) -> str:
    """The OCPI spelling of an EVSE status (``out_of_order`` is ``OUTOFORDER``)."""
    return status.value.upper().replace("_", "")


def _age(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())
