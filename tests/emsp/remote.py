"""The test eMSP's remote-control side: it sends Commands and ChargingProfiles requests.

Control routes (no auth), added to the app by ``install``:

- ``POST /_control/command`` ``{"command": "START_SESSION", "body": {...}}``: POST the
  command to the CPO's ``commands`` endpoint with the CPO's token. Without a
  ``response_url`` in the body, a fresh one under our ``commands`` receiver (of the
  version registered with: 2.2.1 or 2.1.1) is used.
- ``POST /_control/chargingprofile`` ``{"method": "PUT"|"GET"|"DELETE", "session_id",
  "body"?, "params"?}``: call the CPO's ``chargingprofiles`` endpoint; a fresh
  ``response_url`` under our ``chargingprofiles`` receiver unless one is given.
- ``GET /_results``: every result POSTed to us (commands and chargingprofiles
  receivers) and every ActiveChargingProfile PUT, with the URL it was sent to.

Each answers ``{"status", "body", "response_url"}``: the CPO's HTTP status and envelope.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI, Request

from tests.emsp.app import Emsp


def _endpoint(emsp: Emsp, module: str) -> str:
    cpo = emsp.cpo or {}
    for endpoint in cpo.get("endpoints") or ():
        if endpoint["identifier"] == module:
            return str(endpoint["url"]).rstrip("/")
    raise LookupError(f"the CPO offers no {module} endpoint")


async def _call(emsp: Emsp, method: str, url: str, **kwargs: Any) -> httpx.Response:
    token = (emsp.cpo or {})["token"]
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.request(
            method,
            url,
            headers={
                "Authorization": emsp.auth_header(token),
                "OCPI-from-country-code": emsp.country_code,
                "OCPI-from-party-id": emsp.party_id,
            },
            **kwargs,
        )


def _answer(reply: httpx.Response, response_url: str) -> dict[str, Any]:
    try:
        body: Any = reply.json()
    except ValueError:
        body = reply.text
    return {"status": reply.status_code, "body": body, "response_url": response_url}


def install(app: FastAPI) -> None:
    emsp: Emsp = app.state.emsp

    def fresh(module: str) -> str:
        version = (emsp.cpo or {}).get("version", "2.2.1")  # the version registered with
        return f"{emsp.base_url}/ocpi/emsp/{version}/{module}/results/{uuid.uuid4().hex}"

    @app.post("/_control/command")
    async def send_command(request: Request) -> dict[str, Any]:
        ask = await request.json()
        body = dict(ask.get("body") or {})
        body.setdefault("response_url", fresh("commands"))
        url = f"{_endpoint(emsp, 'commands')}/{ask['command']}"
        reply = await _call(emsp, "POST", url, json=body)
        return _answer(reply, body["response_url"])

    @app.post("/_control/chargingprofile")
    async def send_profile_request(request: Request) -> dict[str, Any]:
        ask = await request.json()
        method = ask["method"]
        url = f"{_endpoint(emsp, 'chargingprofiles')}/{ask['session_id']}"
        params = dict(ask.get("params") or {})
        if method == "PUT":
            body = dict(ask.get("body") or {})
            body.setdefault("response_url", fresh("chargingprofiles"))
            reply = await _call(emsp, method, url, json=body)
            return _answer(reply, body["response_url"])
        params.setdefault("response_url", fresh("chargingprofiles"))
        reply = await _call(emsp, method, url, params=params)
        return _answer(reply, params["response_url"])

    @app.get("/_results")
    async def results() -> list[dict[str, Any]]:
        return [
            {
                "method": item["method"],
                "url": f"{emsp.base_url}/ocpi/emsp/{item['version']}/{item['module']}/"
                f"{item['path']}",
                "body": item["body"],
                "headers": item["headers"],
            }
            for item in emsp.received
            if item["module"] in ("commands", "chargingprofiles")
        ]
