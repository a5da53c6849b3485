"""Composition root: one asyncio loop running the OCPP listener, uvicorn and the scheduler.

This is the only module that knows both protocol sides; it wires them to the runtime
and the store and owns start-up and shutdown order:

    start: store (integrity, migrations, configuration changes) -> OCPI keys, partners,
           catalogue and sealer -> remote control (results a previous run left) -> runtime
           (load, reconcile) -> OCPP -> HTTP -> pusher -> jobs
    stop:  jobs -> remote control (in-flight commands left for the next start) -> OCPP
           (chargers closed) -> HTTP -> pusher -> runtime (pending commits) -> store

Authorisation at the chargers: ``CommandAuthorizer`` first (a token a partner sent in a
START_SESSION or RESERVE_NOW is accepted at that place for 15 minutes with the partner
as its source, mod_commands), then the site's rules, then the roaming authoriser.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from gateway import __version__
from gateway.authorization import SiteAuthorizer
from gateway.config import Settings
from gateway.core.effects import Effect, TransactionChanged
from gateway.domain.authorization import AuthDecision
from gateway.domain.billing import CdrPage, UnbilledPage
from gateway.domain.delivery import Owner
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.partners import PartyRole
from gateway.domain.transactions import AuthToken
from gateway.metrics import CONTENT_TYPE, Metrics
from gateway.monitoring import Monitor, NoDelivery
from gateway.ports import Authorizer, Clock, DeliveryView
from gateway.runtime import Runtime
from gateway.scheduler import build_scheduler
from gateway.storage.commands import SqlCommands
from gateway.storage.delivery import SqlDelivery, config_objects
from gateway.storage.keys import TokenKeys
from gateway.storage.partners import SqlPartners
from gateway.storage.sql import SqlStore
from gateway.storage.tokens import SqlTokens
from gateway.ui import app as ui
from gateway.ui.auth import LoginThrottle, Sessions, load_or_create_key
from ocpi_bridge.api.app import create_app
from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.authorization import Owners, RoamingAuthorizer, RoamingTokenBook
from ocpi_bridge.catalog import SiteCatalog
from ocpi_bridge.commands import CommandAuthorizer, CommandTokenBook, RemoteControl
from ocpi_bridge.local_lists import LocalLists
from ocpi_bridge.parties import Directory, StaticParties
from ocpi_bridge.ports import TokenBook
from ocpi_bridge.push.client import OcpiClient
from ocpi_bridge.push.pusher import Pusher
from ocpi_bridge.registrar import Registrar
from ocpi_bridge.sealing import OcpiSealer
from ocpi_bridge.token_pull import TokenPuller
from ocpi_bridge.tokens import TokenCache
from ocpi_bridge.translate.cdr_summary import from_stored_cdr
from ocpi_bridge.translate.delivery import published_locations
from ocpp_central.link import OcppLink
from ocpp_central.server import OcppServer

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 5.0

#: How often partners are checked for a token pull that is due (a new registration is).
TOKEN_PULL_CHECK_S = 30.0
#: How often connected chargers are checked for a local list to send (token changes
#: wake the check at once; this catches reconnections).
LOCAL_LIST_POLL_S = 0.5
#: How often reservations past their expiry are released (seconds).
RESERVATION_SWEEP_S = 30.0
#: Allocations between two collections of the youngest generation while a gateway runs
#: (Python's default is 700): see `Gateway.start`. In a `make bench` run the collector's
#: time fell from about 2 s to 0.5 s with 20,000, its longest pause staying under 0.1 s.
GC_YOUNG_OBJECTS = 20_000


#: The gateway's clock. A partial rather than a function: it is read twice per charger
#: message, and a Python frame costs more than the read.
utc_now: Clock = partial(datetime.now, UTC)


class _EmbeddedUvicorn(uvicorn.Server):
    """Uvicorn without its own signal handling: the gateway owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DeferredAuthorizer:
    """The site's rules until the OCPI platform is up, then the roaming authoriser.

    Chargers connect only after the platform started, so they always meet the latter.
    """

    def __init__(self, site: SiteAuthorizer) -> None:
        self.site = site
        self.target: Authorizer = site

    async def authorize(
        self, charger_id: ChargerId, token: AuthToken, evse_uid: EvseUid | None
    ) -> AuthDecision:
        return await self.target.authorize(charger_id, token, evse_uid)


class CdrBook:
    """``gateway.ports.CdrView``: the stored CDRs read through the OCPI CDR mapping.

    Partner names come from the registered partners (by ledger id and by the parties
    they registered) and from the configured static partners (by party).
    """

    def __init__(self, store: SqlDelivery, partners: SqlPartners, settings: Settings) -> None:
        self._store = store
        self._partners = partners
        self._static = settings.ocpi.static_partners

    def cdrs(self, *, limit: int, offset: int = 0, below: int | None = None) -> CdrPage:
        total, rows = self._store.cdr_page(limit=limit, offset=offset, below=below)
        records = self._partners.partners()
        by_id = {p.id: p.name for p in records}
        by_party: dict[Owner, str] = {
            (s.country_code.upper(), s.party_id.upper()): s.name for s in self._static
        }
        by_party |= {(r.country_code, r.party_id): p.name for p in records for r in p.roles}
        items = []
        for row in rows:
            try:
                items.append(from_stored_cdr(row, partner_names=by_id, party_names=by_party))
            except ValueError:
                log.exception("CDR %s cannot be read for the operator", row.record.cdr_id)
        return CdrPage(total=total, items=tuple(items), last_row=rows[-1].row if rows else None)

    def unbilled(self, *, limit: int, offset: int = 0, below: int | None = None) -> UnbilledPage:
        total, rows = self._store.unbilled(limit=limit, offset=offset, below=below)
        return UnbilledPage(total=total, items=tuple(rows))


class OcpiPlatform:
    """The OCPI partner machinery: store, outbound client, registrar, directory and tokens."""

    def __init__(
        self,
        settings: Settings,
        store: SqlStore,
        *,
        clock: Clock,
        site: SiteAuthorizer | None = None,
    ) -> None:
        keys = TokenKeys.load_or_create(settings.secret_key_path())
        us = PartyRole(
            role="CPO",
            country_code=settings.operator.country_code,
            party_id=settings.operator.party_id,
            name=settings.operator.name,
        )
        static = StaticParties(settings.ocpi.static_partners, us=us)
        self.us = us
        self.partners = SqlPartners(store.engine, keys)
        self.client = OcpiClient(settings.ocpi, us=us)
        self.registrar = Registrar(
            store=self.partners, client=self.client, settings=settings, clock=clock, static=static
        )
        self.directory = Directory(self.partners, static=static, us=us, clock=clock)
        self.tokens = TokenCache(SqlTokens(store.engine), clock=clock)
        owners = Owners(self.partners, settings)
        self.authorizer = RoamingAuthorizer(
            site=site or SiteAuthorizer(settings.authorization),
            tokens=self.tokens,
            owners=owners,
            client=self.client,
            settings=settings,
        )
        self.token_book: TokenBook = RoamingTokenBook(self.tokens.store, owners)
        self.puller = TokenPuller(
            tokens=self.tokens,
            partners=self.partners,
            client=self.client,
            settings=settings,
            clock=clock,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class Gateway:
    """The whole process: build it from settings, ``start()``, later ``stop()``."""

    def __init__(self, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        #: What operators and monitoring learn about partner delivery; the pusher replaces it.
        self.delivery: DeliveryView = NoDelivery()
        self.store = SqlStore(
            settings.database_url(), busy_timeout_ms=settings.storage.busy_timeout_ms
        )
        self.runtime = Runtime(
            store=self.store,
            topology=settings.topology(),
            clock=clock,
            offline_grace=timedelta(seconds=settings.ocpp.offline_grace_s),
            known_chargers=[ChargerId(c.id) for c in settings.chargers],
            metrics=self.metrics,
        )
        # One listener for both: it is called for every effect of every message.
        self.runtime.on_effect(self._on_effect)
        self.authorizer = DeferredAuthorizer(SiteAuthorizer(settings.authorization))
        self.remote_store = SqlCommands(self.store.engine)
        # A partner's START_SESSION / RESERVE_NOW token is vouched for before anyone else
        # is asked (mod_commands: no real-time authorisation for 15 minutes).
        self.charger_authorizer = CommandAuthorizer(
            self.authorizer, store=self.remote_store, clock=clock, hints=self.remote_store.hints
        )
        self.ocpp = OcppServer(
            settings,
            sink=self.runtime,
            authorizer=self.charger_authorizer,
            clock=clock,
            metrics=self.metrics,
        )
        self.link = OcppLink(self.ocpp, default_timeout_s=settings.ocpp.call_timeout_s)
        self.scheduler = build_scheduler(
            self.runtime, offline_grace=timedelta(seconds=settings.ocpp.offline_grace_s)
        )
        self.scheduler.add_job(
            self._pull_tokens,
            "interval",
            seconds=TOKEN_PULL_CHECK_S,
            id="token-pull",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self.local_lists: LocalLists | None = None
        self.http: _EmbeddedUvicorn | None = None
        self.app: FastAPI | None = None
        self.ocpi: OcpiPlatform | None = None
        self.commands: RemoteControl | None = None
        self.catalog: SiteCatalog | None = None
        self.pusher: Pusher | None = None
        self._sealer: OcpiSealer | None = None
        self._gc_threshold: tuple[int, ...] | None = None  # the collector's, before start
        self._http_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        await asyncio.to_thread(self.store.open)
        configured_at = await asyncio.to_thread(
            self.store.reconcile_config,
            self.settings.fingerprints(),
            self.clock(),
            objects=config_objects(self.settings),
        )
        snapshots = await asyncio.to_thread(self.store.delivery.snapshots)
        self.ocpi = await asyncio.to_thread(
            OcpiPlatform, self.settings, self.store, clock=self.clock, site=self.authorizer.site
        )
        self.authorizer.target = self.ocpi.authorizer
        self.ocpi.token_book = CommandTokenBook(self.remote_store, fallback=self.ocpi.token_book)
        self.catalog = SiteCatalog(
            self.settings,
            site=self.store,
            configured_at=configured_at,
            locations=published_locations(self.settings.locations, snapshots),
            records=self.store.delivery,
        )
        # Seals are made inside the commit that stores a transaction's start: from then on
        # its Session and CDR belong to the partner that issued its token.
        self._sealer = OcpiSealer(
            self.settings, configured_at=configured_at, tokens=self.ocpi.token_book
        )
        self.store.delivery.sealer = self._sealer
        self.pusher = Pusher(
            store=self.store.delivery,
            catalog=self.catalog,
            client=self.ocpi.client,
            partners=self.ocpi.partners,
            settings=self.settings.ocpi,
            us=self.ocpi.us,
            clock=self.clock,
            metrics=self.metrics,
        )
        if isinstance(self.delivery, NoDelivery):  # unless a view was given (tests)
            self.delivery = self.pusher
        pusher = self.pusher
        self.ocpi.partners.on_change = pusher.partners_changed
        self.local_lists = LocalLists(
            store=self.ocpi.tokens.store,
            link=self.link,
            chargers=[ChargerId(c.id) for c in self.settings.chargers],
            state_of=self.runtime.state,
            connection_of=self.ocpp.connections.get,
            settings=self.settings,
            clock=self.clock,
            poll_s=LOCAL_LIST_POLL_S,
        )
        self.ocpi.tokens.on_change(self.local_lists.changed)
        self.commands = RemoteControl(
            store=self.remote_store,
            transactions=self.store,
            site=self.store,
            link=self.link,
            client=self.ocpi.client,
            partners=self.ocpi.partners,
            settings=self.settings,
            clock=self.clock,
            call_timeout_s=self.settings.ocpp.call_timeout_s,
            hints=self.remote_store.hints,
        )
        # Sessions opened or ended by commands (PENDING, RESERVATION, INVALID) are
        # committed outside the runtime: the pusher hears of them from here.
        self.commands.on_session_change = pusher.wake
        self.runtime.on_effect(self.commands.on_effect)
        await self.commands.start()
        await self.runtime.start()
        await self.ocpp.start()
        self.local_lists.start()
        self.app = create_app(
            OcpiContext(
                settings=self.settings,
                site=self.store,
                parties=self.ocpi.directory,
                registrar=self.ocpi.registrar,
                clock=self.clock,
                configured_at=configured_at,
                tokens=self.ocpi.tokens,
                commands=self.commands,
                catalog=self.catalog,
            )
        )
        self.monitor = Monitor(
            settings=self.settings,
            store=self.store,
            chargers=self.runtime,
            connections=self.ocpp,
            delivery=self.delivery,
            partner_names=self._partner_names,
            listening=lambda: self.ocpp.listening,
            metrics=self.metrics,
            clock=self.clock,
        )
        self.app.add_api_route("/healthz", self._healthz, methods=["GET"], include_in_schema=False)
        self.app.add_api_route("/metrics", self._metrics, methods=["GET"], include_in_schema=False)
        await self._install_ui(self.app, self.ocpi)
        config = uvicorn.Config(
            self.app,
            host=self.settings.http.host,
            port=self.settings.http.port,
            log_config=None,
            lifespan="off",
            access_log=False,
            server_header=False,
        )
        self.http = _EmbeddedUvicorn(config)
        self._http_task = asyncio.create_task(self.http.serve(), name="http")
        while not self.http.started:
            if self._http_task.done():
                self._http_task.result()  # re-raises why uvicorn could not start
                raise RuntimeError("the HTTP listener stopped during start-up")
            await asyncio.sleep(0.01)
        self.scheduler.add_job(
            self.commands.expire_reservations,
            "interval",
            seconds=RESERVATION_SWEEP_S,
            id="reservation-expiry",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        pusher.start()
        self.scheduler.add_job(
            pusher.sweep,
            "interval",
            seconds=self.settings.ocpi.push_sweep_s,
            id="ocpi-push-sweep",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self.scheduler.start()
        # What start-up built (configuration, schemas, models, the site's state) lives as
        # long as the process: out of the collector's way, a full collection no longer walks
        # it, which cost a tenth of the CPU under load and pauses of 0.2 s. And with a
        # thousand chargers' messages in flight, a young collection every 700 allocations
        # found most of them alive and promoted them to the older generations, whose
        # collections then cost more than all the young ones: the young generation is made
        # large enough to let them die young. Both are undone by stop.
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_OBJECTS, *self._gc_threshold[1:])
        gc.freeze()
        log.info(
            "gateway %s started ocpp=%s:%d http=%s:%d",
            __version__,
            self.settings.ocpp.host,
            self.ocpp.port,
            self.settings.http.host,
            self.http_port,
        )

    @property
    def http_port(self) -> int:
        assert self.http is not None  # noqa: S101 - only asked after start()
        server = self.http.servers[0]
        port = server.sockets[0].getsockname()[1]
        assert isinstance(port, int)  # noqa: S101 - inet sockets name an int port
        return port

    async def stop(self) -> None:
        """Close listeners, commit what is pending, release the store."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.commands is not None:
            # Before the chargers go: a lost connection is not the charger's silence.
            await self.commands.stop()
        if self.local_lists is not None:
            await self.local_lists.stop()
        await self.ocpp.close()
        if self.http is not None and self._http_task is not None:
            self.http.should_exit = True
            with contextlib.suppress(Exception):
                await self._http_task
        if self.pusher is not None:
            await self.pusher.stop()
        if self.ocpi is not None:
            await self.ocpi.aclose()
        await self.runtime.stop()
        self.store.close()
        gc.unfreeze()  # a stopped gateway's objects can be collected again
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        self._stopped.set()
        log.info("gateway stopped")

    async def _pull_tokens(self) -> None:
        if self.ocpi is not None:
            await self.ocpi.puller.pull_due()

    async def _install_ui(self, app: FastAPI, ocpi: OcpiPlatform) -> None:
        cfg = self.settings.operator_ui
        sessions = None
        if cfg.password_hash is not None:
            key = await asyncio.to_thread(load_or_create_key, self.settings.ui_key_path())
            sessions = Sessions(key, cfg)
        else:
            log.warning("operator pages closed: no [operator_ui] password_hash in the config")
        ui.install(
            app,
            ui.UiContext(
                settings=self.settings,
                store=self.store,
                chargers=self.runtime,
                connections=self.ocpp,
                link=self.link,
                partners=ocpi.partners,
                delivery=self.delivery,
                cdrs=CdrBook(self.store.delivery, ocpi.partners, self.settings),
                clock=self.clock,
                sessions=sessions,
                throttle=LoginThrottle(base_delay_s=cfg.login_delay_s),
            ),
        )

    def _on_effect(self, effect: Effect) -> None:
        """Count finished transactions; tell the pusher something was committed."""
        pusher = self.pusher
        # Most effects are a meter value's samples: an unchanged record has not ended.
        if (
            isinstance(effect, TransactionChanged)
            and effect.record_changed
            and effect.transaction.ended
        ):
            self.metrics.transactions_completed.inc()
            sealer = self._sealer
            if pusher is not None and sealer is not None and sealer.billed(effect.transaction):
                # Its CDR was made: whether it is queued for a partner shows at once.
                pusher.wake()
                return
        if pusher is not None:
            pusher.nudge()

    def _partner_names(self) -> list[str]:
        registered = [] if self.ocpi is None else [p.name for p in self.ocpi.partners.partners()]
        return [*registered, *(s.name for s in self.settings.ocpi.static_partners)]

    async def _healthz(self) -> JSONResponse:
        health = await self.monitor.health()
        return JSONResponse(health.document(), status_code=200 if health.healthy else 503)

    async def _metrics(self, request: Request) -> Response:
        if not self.monitor.may_scrape(request.client.host if request.client else None):
            return PlainTextResponse("forbidden\n", status_code=403)
        return Response(await self.monitor.scrape(), media_type=CONTENT_TYPE)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then shut down within ``SHUTDOWN_BUDGET_S``."""
    gateway = Gateway(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await gateway.start()
    try:
        await stop.wait()
        log.info("shutting down")
    finally:
        try:
            async with asyncio.timeout(SHUTDOWN_BUDGET_S):
                await gateway.stop()
        except TimeoutError:
            log.warning("shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_BUDGET_S)
