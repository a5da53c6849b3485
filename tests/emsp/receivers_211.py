"""The test eMSP's 2.1.1 Receiver endpoints: Locations, Sessions, CDRs and Tariffs, kept.

As ``tests.emsp.receivers`` does for 2.2.1, but by the 2.1.1 rules: a PUT replaces the
object, a PATCH changes the fields it names (2.1.1 says nothing of appending Session
``charging_periods``: a PATCH replaces them too) and needs no ``last_updated``, an EVSE
change moves its Location's ``last_updated`` (never backwards), a PATCH of an unknown
object is answered 404, and a CDR is stored once per id (each POST is counted). There
are no routing headers in 2.1.1; the CPO's party is in the URL.

Control (no auth): ``GET /_inspect/held211`` (what is held, every CDR POST in order,
call counts); emptied by ``POST /_control/reset``.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emsp.app import Emsp, answer
from tests.emsp.receivers import Held

PREFIX = "/ocpi/emsp/2.1.1"


def _unknown(what: str) -> JSONResponse:
    return answer(http=404, status_code=2003, message=f"unknown {what}")


def _touch(parent: dict[str, Any], last_updated: str | None) -> None:
    if last_updated and last_updated > parent.get("last_updated", ""):
        parent["last_updated"] = last_updated  # same format both sides: text order is time order


def install(app: FastAPI, emsp: Emsp) -> None:
    """Add the 2.1.1 receivers (before the catch-all receiver of ``tests.emsp.app``)."""
    held = Held()
    app.state.held211 = held

    @app.middleware("http")
    async def reset_too(request: Request, call_next: Any) -> Any:
        if request.method == "POST" and request.url.path == "/_control/reset":
            held.reset()
        return await call_next(request)

    async def gate(request: Request, module: str) -> tuple[Response | None, Any]:
        if emsp.token_of(request) is None:
            return answer(http=401, status_code=2000, message="unknown token"), None
        held.calls[f"{request.method} {module}"] += 1
        body = await request.json() if request.method in ("PUT", "PATCH", "POST") else None
        emsp.received.append(
            {
                "method": request.method,
                "module": module,
                "path": request.url.path.removeprefix(f"{PREFIX}/{module}"),
                "version": "2.1.1",
                "body": copy.deepcopy(body),
                "headers": {k.lower(): v for k, v in request.headers.items()},
            }
        )
        return None, body

    @app.api_route(f"{PREFIX}/locations/{{cc}}/{{party}}/{{loc_id}}", methods=["PUT", "PATCH"])
    async def location(cc: str, party: str, loc_id: str, request: Request) -> Response:
        stop, body = await gate(request, "locations")
        if stop is not None:
            return stop
        key = f"{cc}/{party}/{loc_id}"
        if request.method == "PUT":
            held.locations[key] = body
        elif key not in held.locations:
            return _unknown("location")
        else:
            held.locations[key].update(body)
        return answer()

    @app.api_route(
        f"{PREFIX}/locations/{{cc}}/{{party}}/{{loc_id}}/{{uid}}", methods=["PUT", "PATCH"]
    )
    async def evse(cc: str, party: str, loc_id: str, uid: str, request: Request) -> Response:
        stop, body = await gate(request, "locations")
        if stop is not None:
            return stop
        loc = held.locations.get(f"{cc}/{party}/{loc_id}")
        if loc is None:
            return _unknown("location")
        evses = loc.setdefault("evses", [])
        found = next((e for e in evses if e["uid"] == uid), None)
        if request.method == "PUT":
            if found is not None:
                evses.remove(found)
            evses.append(body)
        elif found is None:
            return _unknown("EVSE")
        else:
            found.update(body)
        _touch(loc, body.get("last_updated"))
        return answer()

    @app.api_route(f"{PREFIX}/sessions/{{cc}}/{{party}}/{{sid}}", methods=["PUT", "PATCH"])
    async def session(cc: str, party: str, sid: str, request: Request) -> Response:
        stop, body = await gate(request, "sessions")
        if stop is not None:
            return stop
        key = f"{cc}/{party}/{sid}"
        if request.method == "PUT":
            held.sessions[key] = body
        elif key not in held.sessions:
            return _unknown("session")
        else:
            held.sessions[key].update(body)
        return answer()

    @app.post(f"{PREFIX}/cdrs")
    async def post_cdr(request: Request) -> Response:
        stop, body = await gate(request, "cdrs")
        if stop is not None:
            return stop
        held.cdr_posts.append(body["id"])
        held.cdrs.setdefault(body["id"], body)
        return answer(http=201)

    @app.api_route(f"{PREFIX}/tariffs/{{cc}}/{{party}}/{{tid}}", methods=["PUT", "PATCH", "DELETE"])
    async def tariff(cc: str, party: str, tid: str, request: Request) -> Response:
        stop, body = await gate(request, "tariffs")
        if stop is not None:
            return stop
        key = f"{cc}/{party}/{tid}"
        if request.method == "PUT":
            held.tariffs[key] = body
        elif request.method == "DELETE":
            held.tariffs.pop(key, None)
        elif key not in held.tariffs:
            return _unknown("tariff")
        else:
            held.tariffs[key].update(body)
        return answer()

    @app.get("/_inspect/held211")
    async def inspect_held() -> dict[str, Any]:
        return held.view()
