"""Adapter: the FastAPI application partners talk to (OCPI under ``/ocpi/``)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import fields
from ocpi_bridge.api import (
    cdrs,
    charging_profiles,
    commands,
    credentials,
    envelope,
    locations,
    sessions,
    tariffs,
    tokens,
    versions,
)
from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.status import OcpiError, OcpiStatus

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,100}$")
_ID_HEADERS = ("X-Request-ID", "X-Correlation-ID")


def create_app(ctx: OcpiContext) -> FastAPI:
    """Build the OCPI application; nothing happens at import time."""
    app = FastAPI(title="charger-edge gateway OCPI 2.2.1", version="2.2.1")
    app.state.ocpi = ctx
    app.add_exception_handler(OcpiError, envelope.on_ocpi_error)
    app.add_exception_handler(RequestValidationError, envelope.on_validation_error)
    app.add_exception_handler(StarletteHTTPException, envelope.on_http_error)
    app.add_exception_handler(Exception, envelope.on_unhandled)
    app.add_middleware(OcpiHeaders)
    for module in (
        versions,
        credentials,
        locations,
        sessions,
        cdrs,
        tariffs,
        tokens,
        commands,
        charging_profiles,
    ):
        app.include_router(module.router)
    for versioned in (locations, sessions, cdrs, tariffs, tokens, commands):
        app.include_router(versioned.router_211)
    return app


class OcpiHeaders:
    """Headers every answer carries, errors and crashes included, and one log line each.

    ``X-Request-ID`` and ``X-Correlation-ID`` are echoed (transport_and_format §Unique
    message IDs), or generated when absent. They are untrusted input: anything that is
    not short printable ASCII is replaced by a fresh UUID, so no CR/LF or megabyte
    header ever reaches a log line or a response. Routing headers are added when a
    functional module's dependency (``api.deps.PartyDep``) decided them.

    This is plain ASGI rather than ``@app.middleware("http")`` because Starlette renders
    the ``Exception`` handler's 500 outside all user middleware, without these headers;
    here an unhandled exception becomes the 500 envelope inside, headers and all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        ids = {}
        for name in _ID_HEADERS:
            value = request_headers.get(name.lower(), b"").decode("latin-1")
            ids[name] = value if _SAFE_ID.fullmatch(value) else str(uuid.uuid4())
        state: dict[str, Any] = scope.setdefault("state", {})
        state["message_ids"] = ids
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in ids.items():
                    headers[name] = value
                routing = state.get("routing")
                if routing is not None:
                    for name, value in routing.headers().items():
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception(
                "unhandled error on %s %s request_id=%s correlation_id=%s",
                scope["method"],
                scope["path"],
                ids["X-Request-ID"],
                ids["X-Correlation-ID"],
            )
            if status:
                raise  # the answer has started: nothing sensible can follow it
            response = envelope.respond(
                http_status=500,
                status_code=OcpiStatus.SERVER_ERROR,
                message="internal server error",
            )
            await response(scope, receive, send_with_headers)
        finally:
            ocpi = scope["path"].startswith("/ocpi/")
            log.debug(
                "ocpi call" if ocpi else "http request",
                extra=fields(
                    method=scope["method"],
                    path=scope["path"][:200],
                    status=status,
                    partner=state.get("caller_name", "-"),
                    request_id=ids["X-Request-ID"],
                    correlation_id=ids["X-Correlation-ID"],
                ),
            )
