"""Adapter: the FastAPI application partners talk to (OCPI under ``/ocpi/``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocpi_bridge.api import envelope, locations, versions
from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.status import OcpiError

_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,100}$")


def create_app(ctx: OcpiContext) -> FastAPI:
    """Build the OCPI application; nothing happens at import time."""
    app = FastAPI(title="charger-edge gateway OCPI 2.2.1", version="2.2.1")
    app.state.ocpi = ctx
    app.add_exception_handler(OcpiError, envelope.on_ocpi_error)
    app.add_exception_handler(RequestValidationError, envelope.on_validation_error)
    app.add_exception_handler(StarletteHTTPException, envelope.on_http_error)
    app.add_exception_handler(Exception, envelope.on_unhandled)
    app.middleware("http")(_message_ids)
    for module in (versions, locations):
        app.include_router(module.router)
    return app


async def _message_ids(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Echo X-Request-ID and X-Correlation-ID (transport_and_format §Unique message IDs).

    Ids are untrusted input: anything that is not short printable ASCII is replaced by a
    fresh UUID, so no CR/LF or megabyte header ever reaches a log line or a response.
    """
    ids = {}
    for name in ("X-Request-ID", "X-Correlation-ID"):
        value = request.headers.get(name, "")
        ids[name] = value if _SAFE_ID.fullmatch(value) else str(uuid.uuid4())
    request.state.message_ids = ids
    response = await call_next(request)
    for name, value in ids.items():
        response.headers[name] = value
    return response
