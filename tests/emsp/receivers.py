"""The test eMSP's 2.2.1 Receiver endpoints: Locations, Sessions, CDRs and Tariffs, kept.

They apply what the CPO pushes the way the spec tells a receiver to: a PUT replaces the
object, a PATCH changes the fields it names (Session ``charging_periods`` are appended),
an EVSE or Connector change moves its parents' ``last_updated`` (never backwards), a
PATCH or child PUT of an unknown object is answered 404, a CDR is stored once per id
(a repeated POST is acknowledged and counted). Tests compare what is held here with
what the gateway serves.

Control (no auth): ``GET /_inspect/held`` (what is held, every CDR POST in order, every
Session PUT/PATCH in order with the status held after it, call counts),
``POST /_control/held`` with ``mode`` = ``ok`` | ``down`` (503) | ``garbage``
(HTML with 200) | ``slow`` (answers after ``slow_s``) | ``reject`` (OCPI 2001),
``slow_s``, and ``lose_cdr_responses`` = n (the next n CDRs are stored but answered
only after ``slow_s``: the caller times out, as if the answer was lost).
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emsp.app import Emsp, answer

PREFIX = "/ocpi/emsp/2.2.1"


@dataclass
class Held:
    """Everything the receivers hold; emptied by ``POST /_control/reset``."""

    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cdrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    cdr_posts: list[str] = field(default_factory=list)
    session_log: list[dict[str, Any]] = field(default_factory=list)
    tariffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    mode: str = "ok"
    slow_s: float = 2.0
    lose_cdr_responses: int = 0

    def reset(self) -> None:
        for name, value in Held().__dict__.items():
            setattr(self, name, value)

    def view(self) -> dict[str, Any]:
        return {
            "locations": self.locations,
            "sessions": self.sessions,
            "cdrs": self.cdrs,
            "cdr_posts": self.cdr_posts,
            "session_log": self.session_log,
            "tariffs": self.tariffs,
            "calls": dict(self.calls),
            "mode": self.mode,
        }


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _newest(*values: str | None) -> str:
    return max((v for v in values if v), key=_time)


def _touch(parent: dict[str, Any], last_updated: str) -> None:
    parent["last_updated"] = _newest(parent.get("last_updated"), last_updated)


def _unknown(what: str) -> JSONResponse:
    return answer(http=404, status_code=2003, message=f"unknown {what}")


def install(app: FastAPI, emsp: Emsp) -> None:
    """Add the receivers (before the catch-all receiver of ``tests.emsp.app``)."""
    held = Held()
    app.state.held = held

    @app.middleware("http")
    async def reset_too(request: Request, call_next: Any) -> Any:
        if request.method == "POST" and request.url.path == "/_control/reset":
            held.reset()
        return await call_next(request)

    async def gate(request: Request, module: str) -> tuple[Response | None, Any]:
        """Authentication, behaviour switches and the body; a Response ends the call."""
        if emsp.token_of(request) is None:
            return answer(http=401, status_code=2000, message="unknown token"), None
        held.calls[f"{request.method} {module}"] += 1
        body = await request.json() if request.method in ("PUT", "PATCH", "POST") else None
        if held.mode == "down":
            return Response("maintenance", status_code=503), None
        if held.mode == "garbage":
            return Response("<html>oops</html>", media_type="text/html"), None
        if held.mode == "slow":
            await asyncio.sleep(held.slow_s)
            return answer(), None  # too late: the caller has given up
        if held.mode == "reject":
            return answer(status_code=2001, message="rejected by switch"), None
        emsp.received.append(
            {
                "method": request.method,
                "module": module,
                "path": request.url.path.removeprefix(f"{PREFIX}/{module}"),
                "version": "2.2.1",
                "body": copy.deepcopy(body),
                "headers": {k.lower(): v for k, v in request.headers.items()},
            }
        )
        return None, body

    # --- Locations ----------------------------------------------------------------------

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
        _touch(loc, body["last_updated"])
        return answer()

    # --- Sessions -----------------------------------------------------------------------

    @app.api_route(f"{PREFIX}/sessions/{{cc}}/{{party}}/{{sid}}", methods=["PUT", "PATCH"])
    async def session(cc: str, party: str, sid: str, request: Request) -> Response:
        stop, body = await gate(request, "sessions")
        if stop is not None:
            return stop
        key = f"{cc}/{party}/{sid}"
        if request.method == "PUT":
            held.sessions[key] = body
            held.session_log.append({"method": "PUT", "id": sid, "status": body.get("status")})
            return answer()
        current = held.sessions.get(key)
        if current is None:
            return _unknown("session")
        if "last_updated" not in body:
            return answer(status_code=2001, message="a PATCH needs last_updated")
        periods = body.pop("charging_periods", None) or []
        current.update(body)
        if periods:
            current["charging_periods"] = [*current.get("charging_periods", []), *periods]
        held.session_log.append({"method": "PATCH", "id": sid, "status": current.get("status")})
        return answer()

    # --- CDRs ---------------------------------------------------------------------------

    @app.post(f"{PREFIX}/cdrs")
    async def post_cdr(request: Request) -> Response:
        stop, body = await gate(request, "cdrs")
        if stop is not None:
            return stop
        cdr_id = body["id"]
        held.cdr_posts.append(cdr_id)
        held.cdrs.setdefault(cdr_id, body)
        if held.lose_cdr_responses > 0:
            held.lose_cdr_responses -= 1
            await asyncio.sleep(held.slow_s)
        return JSONResponse(
            {"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"},
            status_code=201,
            headers={"Location": f"{emsp.base_url}{PREFIX}/cdrs/{cdr_id}"},
        )

    @app.get(f"{PREFIX}/cdrs/{{cdr_id}}")
    async def get_cdr(cdr_id: str, request: Request) -> Response:
        if emsp.token_of(request) is None:
            return answer(http=401, status_code=2000, message="unknown token")
        cdr = held.cdrs.get(cdr_id)
        return answer(cdr) if cdr is not None else answer(http=404, status_code=2000)

    # --- Tariffs ------------------------------------------------------------------------

    @app.api_route(f"{PREFIX}/tariffs/{{cc}}/{{party}}/{{tid}}", methods=["PUT", "DELETE"])
    async def tariff(cc: str, party: str, tid: str, request: Request) -> Response:
        stop, body = await gate(request, "tariffs")
        if stop is not None:
            return stop
        key = f"{cc}/{party}/{tid}"
        if request.method == "PUT":
            held.tariffs[key] = body
        else:
            held.tariffs.pop(key, None)
        return answer()

    # --- control ------------------------------------------------------------------------

    @app.get("/_inspect/held")
    async def inspect_held() -> dict[str, Any]:
        return held.view()

    @app.post("/_control/held")
    async def control_held(request: Request) -> dict[str, Any]:
        changes = await request.json()
        for key in ("mode", "slow_s", "lose_cdr_responses"):
            if key in changes:
                setattr(held, key, changes[key])
        return held.view()
