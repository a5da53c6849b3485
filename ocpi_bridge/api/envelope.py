"""Adapter: the OCPI response envelope, and the one place errors are rendered.

Every answer, success or failure, framework-raised or ours, is an envelope
(transport_and_format §Response format): a partner never sees a bare error body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocpi_bridge.models.common import Envelope, format_datetime
from ocpi_bridge.status import OcpiError, OcpiStatus

log = logging.getLogger(__name__)


def envelope(
    data: Any = None,
    *,
    status_code: int = OcpiStatus.SUCCESS,
    message: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status_code"] = int(status_code)
    if message:
        body["status_message"] = message
    body["timestamp"] = format_datetime(now or datetime.now(UTC))
    return body


def respond(
    data: Any = None,
    *,
    http_status: int = 200,
    status_code: int = OcpiStatus.SUCCESS,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        envelope(data, status_code=status_code, message=message),
        status_code=http_status,
        headers=dict(headers or {}),
    )


async def on_ocpi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OcpiError)  # noqa: S101 - registered for OcpiError only
    return respond(http_status=exc.http_status, status_code=exc.ocpi_status, message=exc.message)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Invalid JSON is HTTP 400; valid JSON with wrong content is HTTP 200 + 2001."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return respond(
            http_status=400,
            status_code=OcpiStatus.INVALID_PARAMETERS,
            message="request body is not valid JSON",
        )
    return respond(status_code=OcpiStatus.INVALID_PARAMETERS, message=describe_errors(errors))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type
    code = OcpiStatus.SERVER_ERROR if exc.status_code >= 500 else OcpiStatus.CLIENT_ERROR
    return respond(
        http_status=exc.status_code,
        status_code=code,
        message=str(exc.detail),
        headers=exc.headers,
    )


async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return respond(
        http_status=500, status_code=OcpiStatus.SERVER_ERROR, message="internal server error"
    )


def describe_errors(errors: Any) -> str:
    """Name the first few invalid fields and why, for ``status_message`` (never the input)."""
    parts = []
    for err in list(errors)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def documented(data: Any = None, *, body: Any = None) -> dict[str, Any]:
    """Route options that document the OCPI envelope and request body in OpenAPI.

    Handlers still render through ``respond``; this only describes what they send.
    """
    options: dict[str, Any] = {
        "responses": {200: {"model": Envelope[data] if data is not None else Envelope[None]}}
    }
    if body is not None:
        options["openapi_extra"] = {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body.model_json_schema()}},
            }
        }
    return options
