"""Adapter: the websocket listener chargers connect to.

The handshake decides everything before a connection is accepted (OCPP-J 1.6 §3,
OCPP 2.0.1 Part 4 §3, the security whitepaper): the identity in the URL must be well
formed and known (else HTTP 404, nothing stored); the channel must be the charger's
security profile's, and a profile 3 charger's client certificate must name it (else
403, see ``ocpp_central.tls``); HTTP Basic credentials of profiles 1 and 2 are checked
before the upgrade (else 401); and the subprotocol is the charger's configured OCPP
version; with no common subprotocol the handshake completes without one and the
connection is closed at once, as OCPP-J requires. Every refusal of a known charger is
logged as a security event without the credentials presented.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import http
import logging
import ssl
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from gateway.config import CHARGER_ID_RE, ChargerSettings, OcppVersion as ConfigVersion, Settings
from gateway.domain.events import ChargerConnected, ChargerDisconnected
from gateway.domain.ids import ChargerId
from gateway.metrics import Metrics
from gateway.passwords import verify_password
from gateway.ports import (
    Authorizer,
    Clock,
    CommitFailedError,
    EventSink,
    LiveConnection,
    MessageRecord,
)
from ocpp_central.connection import ChargerConnection, Journal, new_journal
from ocpp_central.handlers import BOOT_STATUS, HANDLERS, ChargerSession
from ocpp_central.tls import channel_refusal, security_log, server_context
from ocpp_central.translate.rpc import OcppVersion
from ocpp_central.validation import Validators
from ocpp_central.websocket import ChargerSocket

log = logging.getLogger(__name__)

SUBPROTOCOL: dict[ConfigVersion, OcppVersion] = {
    ConfigVersion.V16: OcppVersion.V16,
    ConfigVersion.V201: OcppVersion.V201,
    ConfigVersion.V21: OcppVersion.V21,
}

#: Actions the gateway sends; their answers are validated too.
OUTBOUND_ACTIONS = (
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "UnlockConnector",
    "ReserveNow",
    "CancelReservation",
    "SetChargingProfile",
    "ClearChargingProfile",
    "GetCompositeSchedule",
    "ChangeAvailability",
    "Reset",
    "TriggerMessage",
    "GetConfiguration",
    "ChangeConfiguration",
    "GetVariables",
    "SetVariables",
    "SendLocalList",
    "GetLocalListVersion",
)

CLOSE_REPLACED = 4000  # application close code: a newer connection took over this identity


@functools.cache
def validators_for(version: OcppVersion) -> Validators:
    """One set of compiled validators per version and process: schemas never change."""
    return Validators(version)


class OcppServer:
    """Accepts chargers, keeps one live connection per identity, feeds events to the sink."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: EventSink,
        authorizer: Authorizer,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics or Metrics()
        # Recent messages per charger, kept across reconnects for the operator pages.
        self._journals: dict[ChargerId, Journal] = {}
        self._sink = sink
        self._authorizer = authorizer
        self._clock = clock
        self._server: Server | None = None
        self._tls: ssl.SSLContext | None = None
        self._warming: asyncio.Task[None] | None = None
        self._stop_warming = threading.Event()
        self._validators = {v: validators_for(v) for v in OcppVersion}
        self.connections: dict[ChargerId, ChargerConnection] = {}
        self.unknown_seen: dict[ChargerId, str] = {}
        # Successful password checks, remembered by a digest of the presented secret, so that
        # a reconnect storm does not cost one scrypt per charger each time.
        self._verified: dict[ChargerId, bytes] = {}

    async def start(self) -> None:
        """Listen; raises ``TlsSetupError`` at once when a TLS file cannot be used."""
        cfg = self._settings.ocpp
        self._tls = await asyncio.to_thread(server_context, cfg)
        # Compiling a schema takes milliseconds: do it off the loop, in the background, so
        # start-up stays fast and the first messages rarely compile on the loop.
        self._warming = asyncio.create_task(asyncio.to_thread(self._warm), name="warm-schemas")
        self._server = await serve(
            self._handle,
            cfg.host,
            cfg.port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            subprotocols=[Subprotocol(v.value) for v in OcppVersion],
            ping_interval=cfg.ping_interval_s,
            ping_timeout=cfg.ping_timeout_s,
            max_size=cfg.max_frame_bytes,
            max_queue=16,
            compression=None,
            server_header="charger-edge-gateway",
            ssl=self._tls,
            create_connection=ChargerSocket,
        )

    def validators(self, version: OcppVersion) -> Validators:
        return self._validators[version]

    # --- ConnectionsView -------------------------------------------------------------

    def live(self) -> Mapping[ChargerId, LiveConnection]:
        return {
            charger_id: LiveConnection(
                charger_id=charger_id,
                protocol=conn.version.value,
                connected_at=conn.connected_at,
                last_message_at=conn.session.last_message_at,
                known=conn.session.settings is not None,
            )
            for charger_id, conn in list(self.connections.items())
        }

    def recent_messages(self, charger_id: ChargerId) -> Sequence[MessageRecord]:
        return tuple(self._journals.get(charger_id, ()))

    def _warm(self) -> None:
        for version, validators in self._validators.items():
            for action in (*HANDLERS[version], *OUTBOUND_ACTIONS):
                if self._stop_warming.is_set():
                    return  # shutting down: the rest is not needed
                validators.warm([action])

    @property
    def port(self) -> int:
        assert self._server is not None  # noqa: S101 - only asked after start()
        sock = next(iter(self._server.sockets))
        port = sock.getsockname()[1]
        assert isinstance(port, int)  # noqa: S101 - AF_INET/AF_INET6 names carry an int port
        return port

    @property
    def scheme(self) -> str:
        """``wss`` when the listener serves TLS (profiles 2 and 3), else ``ws``."""
        return "ws" if self._tls is None else "wss"

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def close(self) -> None:
        if self._warming is not None:
            self._stop_warming.set()
            await self._warming
        if self._server is None:
            return
        self._server.close(close_connections=True)
        await self._server.wait_closed()

    # --- handshake ---------------------------------------------------------------

    def _charger_id(self, path: str) -> ChargerId | None:
        prefix = self._settings.ocpp.path.rstrip("/") + "/"
        raw_path = urlsplit(path).path
        if not raw_path.startswith(prefix):
            return None
        candidate = unquote(raw_path[len(prefix) :], errors="strict")
        if not CHARGER_ID_RE.fullmatch(candidate):
            return None
        return ChargerId(candidate)

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        try:
            charger_id = self._charger_id(request.path)
        except UnicodeDecodeError:
            charger_id = None
        if charger_id is None:
            return conn.respond(http.HTTPStatus.NOT_FOUND, "Unknown charge point identity\n")
        settings = self._settings.charger(charger_id)
        if settings is None:
            if not self._settings.ocpp.accept_unknown_chargers:
                log.warning("refused unknown charger id=%s", charger_id)
                return conn.respond(http.HTTPStatus.NOT_FOUND, "Unknown charge point identity\n")
            self.unknown_seen[charger_id] = "seen"
            log.warning("accepting unknown charger for commissioning id=%s", charger_id)
        else:
            refused = await self._refusal(conn, charger_id, settings, request.headers)
            if refused is not None:
                return refused
        conn.charger_id = charger_id  # type: ignore[attr-defined]
        conn.charger_settings = settings  # type: ignore[attr-defined]
        return None

    async def _refusal(
        self,
        conn: ServerConnection,
        charger_id: ChargerId,
        settings: ChargerSettings,
        headers: Headers,
    ) -> Response | None:
        """The answer that refuses a known charger, or ``None`` to let it in."""
        transport = conn.transport
        profile = settings.security_profile
        reason = channel_refusal(
            charger_id,
            profile,
            tls=transport.get_extra_info("ssl_object") is not None,
            peer_cert=transport.get_extra_info("peercert"),
        )
        if reason is not None:
            _security_event(conn, charger_id, profile, reason)
            return conn.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")
        if profile in (1, 2):
            reason = await self._basic_auth_refusal(charger_id, settings, headers)
            if reason is not None:
                _security_event(conn, charger_id, profile, reason)
                response = conn.respond(http.HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
                response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
                return response
        return None

    async def _basic_auth_refusal(
        self, charger_id: ChargerId, settings: ChargerSettings, headers: Headers
    ) -> str | None:
        """Why the Basic credentials fail (never quoting them), or ``None`` when they pass."""
        header = headers.get("Authorization", "")
        if not header:
            return "no Authorization header"
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return "Authorization is not Basic"
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "malformed Basic credentials"
        username, sep, password = decoded.partition(":")
        if not sep:
            return "malformed Basic credentials"
        if username != charger_id:
            return "Basic username is not the charger id"  # A00.FR.204
        if settings.password_hash is None:
            return "no password configured"
        digest = hashlib.sha256(
            f"{settings.password_hash}\0{password}".encode(), usedforsecurity=True
        ).digest()
        if self._verified.get(charger_id) == digest:
            return None
        if not await asyncio.to_thread(verify_password, password, settings.password_hash):
            return "wrong password"
        self._verified[charger_id] = digest
        return None

    def _select_subprotocol(
        self, conn: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        settings: ChargerSettings | None = getattr(conn, "charger_settings", None)
        allowed = (
            [SUBPROTOCOL[settings.ocpp_version].value]
            if settings is not None
            else [v.value for v in OcppVersion]
        )
        return next((Subprotocol(p) for p in offered if p in allowed), None)

    # --- connection ----------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        charger_id: ChargerId = ws.charger_id  # type: ignore[attr-defined]
        settings: ChargerSettings | None = ws.charger_settings  # type: ignore[attr-defined]
        if ws.subprotocol is None:
            log.warning("charger %s offered no supported OCPP version; closing", charger_id)
            await ws.close(1002, "no supported OCPP subprotocol")
            return
        version = OcppVersion(ws.subprotocol)
        # The handshake is over and nothing reads its headers again: a site holds thousands
        # of connections, and each would keep a few KiB of them.
        for message in (ws.request, ws.response):
            if message is not None:
                message.headers.clear()
        session = ChargerSession(
            charger_id=charger_id,
            version=version,
            settings=settings,
            sink=self._sink,
            authorizer=self._authorizer,
            clock=self._clock,
            heartbeat_interval_s=self._settings.ocpp.heartbeat_interval_s,
            boot_status=None
            if settings is None or settings.boot == "accept"
            else BOOT_STATUS[settings.boot],
        )
        journal = self._journals.get(charger_id)
        if journal is None:
            journal = self._journals[charger_id] = new_journal()
        connection = ChargerConnection(
            ws, session, self._validators[version], journal=journal, metrics=self._metrics
        )
        previous = self.connections.get(charger_id)
        self.connections[charger_id] = connection
        if previous is not None:
            log.info("charger %s reconnected; closing its previous connection", charger_id)
            await previous.close(CLOSE_REPLACED, "replaced by a newer connection")
        try:
            try:
                await self._sink.submit(
                    ChargerConnected(charger_id=charger_id, at=self._clock(), protocol=version)
                )
            except CommitFailedError:
                await ws.close(1011, "storage unavailable")
                return
            log.info(
                "charger connected id=%s protocol=%s channel=%s",
                charger_id,
                version.value,
                _channel(ws),
            )
            await connection.run()
        finally:
            if self.connections.get(charger_id) is connection:
                del self.connections[charger_id]
                log.info("charger disconnected id=%s", charger_id)
                await _quietly(
                    self._sink.submit(ChargerDisconnected(charger_id=charger_id, at=self._clock()))
                )


def _channel(conn: ServerConnection) -> str:
    ssl_object: ssl.SSLObject | None = conn.transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return "ws"
    client = "client-certificate" if ssl_object.getpeercert() else "no-client-certificate"
    return f"{ssl_object.version()}/{client}"


def _security_event(
    conn: ServerConnection, charger_id: ChargerId, profile: int, reason: str
) -> None:
    security_log.warning(
        "security event: refused charger id=%s profile=%d peer=%s reason=%s",
        charger_id,
        profile,
        _peer(conn),
        reason,
    )


def _peer(conn: ServerConnection) -> str:
    try:
        host, port, *_ = conn.remote_address
    except (TypeError, ValueError):
        return "?"
    return f"{host}:{port}"


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except CommitFailedError:
        log.exception("could not record a disconnect")
