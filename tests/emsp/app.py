"""A small eMSP speaking real OCPI over HTTP, for end-to-end tests of the CPO gateway.

Run it as its own process (``python -m tests.emsp --port N``). It plays both handshake
roles and receives pushes:

- OCPI, under ``/ocpi/emsp``: versions, version details (2.2.1 and/or 2.1.1),
  credentials (GET/POST/PUT/DELETE) and Receiver endpoints for ``locations``,
  ``sessions``, ``cdrs``, ``tariffs``, ``tokens`` and ``commands`` that store whatever
  they are sent (``receivers`` and ``receivers_211`` keep them by each version's rules).
- Control, for tests (no auth): ``GET /_inspect`` (state, received pushes, request log),
  ``POST /_control`` (behaviour switches), ``POST /_control/reset``,
  ``POST /_control/invite`` (a Token A for a CPO that will register with us),
  ``POST /_control/register`` (register with a CPO: ``{"versions_url", "token"}``),
  ``POST /_control/update`` (PUT new credentials to the CPO), ``POST /_control/unregister``.

Behaviour switches (``POST /_control`` with any of): ``versions`` = ``ok`` | ``down``
(503) | ``slow`` (answers after ``slow_s``) | ``garbage`` (HTML) | ``redirect`` (302 to
``redirect_to``) | ``unauthorized`` (401); ``versions_offered`` = list of versions to
list; ``raw_tokens`` = send tokens unencoded (2.1.1 style).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

MODULES_221 = (
    ("credentials", "SENDER"),
    ("locations", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
    ("chargingprofiles", "SENDER"),
)
RECEIVING = ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands", "chargingprofiles")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    data: Any = None, status_code: int = 1000, message: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": now()}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


def answer(
    data: Any = None, *, http: int = 200, status_code: int = 1000, message: str | None = None
) -> JSONResponse:
    return JSONResponse(envelope(data, status_code, message), status_code=http)


@dataclass
class Emsp:
    """Everything the eMSP knows; reset between tests."""

    base_url: str
    country_code: str = "DE"
    party_id: str = "EMS"
    name: str = "Test eMSP"
    raw_tokens: bool = False
    versions_offered: list[str] = field(default_factory=lambda: ["2.2.1", "2.1.1"])
    versions: str = "ok"
    slow_s: float = 3.0
    redirect_to: str = "http://127.0.0.1:1/"
    accepted: dict[str, str] = field(default_factory=dict)  # token -> what it is
    cpo: dict[str, Any] | None = None  # versions_url, token, version, endpoints, roles
    received: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    defaults: dict[str, Any] = field(default_factory=dict)  # what reset() returns to

    def reset(self) -> None:
        fresh = Emsp(self.base_url, defaults=self.defaults, **self.defaults)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def auth_header(self, token: str) -> str:
        if self.raw_tokens:
            return f"Token {token}"
        return "Token " + base64.b64encode(token.encode()).decode()

    def token_of(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Token "):
            return None
        presented = header[6:]
        if presented in self.accepted:
            return presented
        try:
            decoded = base64.b64decode(presented, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return decoded if decoded in self.accepted else None

    def credentials(self, token: str, version: str) -> dict[str, Any]:
        details = {"name": self.name}
        if version == "2.1.1":
            return {
                "token": token,
                "url": f"{self.base_url}/ocpi/emsp/versions",
                "business_details": details,
                "party_id": self.party_id,
                "country_code": self.country_code,
            }
        return {
            "token": token,
            "url": f"{self.base_url}/ocpi/emsp/versions",
            "roles": [
                {
                    "role": "EMSP",
                    "business_details": details,
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                }
            ],
        }

    def issue(self, purpose: str) -> str:
        token = "emsp-" + secrets.token_hex(12)
        self.accepted[token] = purpose
        return token

    def revoke(self, purpose: str) -> None:
        self.accepted = {t: p for t, p in self.accepted.items() if p != purpose}


def create_app(
    base_url: str, *, raw_tokens: bool = False, versions: list[str] | None = None
) -> FastAPI:
    client = httpx.AsyncClient(timeout=10)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan)
    defaults: dict[str, Any] = {"raw_tokens": raw_tokens}
    if versions:
        defaults["versions_offered"] = list(versions)
    emsp = Emsp(base_url, defaults=defaults, **defaults)
    app.state.emsp = emsp

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        if request.url.path.startswith("/ocpi/"):
            emsp.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": str(request.url.query),
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                }
            )
        return await call_next(request)

    def unauthorized() -> JSONResponse:
        return answer(http=401, status_code=2000, message="unknown token")

    # --- OCPI: versions -------------------------------------------------------------------

    @app.get("/ocpi/emsp/versions")
    async def versions_list(request: Request) -> Response:
        mode = emsp.versions
        if mode == "down":
            return Response("down for maintenance", status_code=503)
        if mode == "slow":
            await asyncio.sleep(emsp.slow_s)
        if mode == "garbage":
            return Response("<html><body>hello</body></html>", media_type="text/html")
        if mode == "redirect":
            return Response(status_code=302, headers={"Location": emsp.redirect_to})
        if mode == "unauthorized" or emsp.token_of(request) is None:
            return unauthorized()
        return answer(
            [{"version": v, "url": f"{base_url}/ocpi/emsp/{v}"} for v in emsp.versions_offered]
        )

    @app.get("/ocpi/emsp/{version}")
    async def version_details(version: str, request: Request) -> Response:
        if emsp.token_of(request) is None:
            return unauthorized()
        if version not in emsp.versions_offered:
            return answer(http=404, status_code=2000, message="no such version")
        if version == "2.1.1":
            endpoints = [
                {"identifier": m, "url": f"{base_url}/ocpi/emsp/2.1.1/{m}"} for m, _ in MODULES_221
            ]
        else:
            endpoints = [
                {"identifier": m, "role": r, "url": f"{base_url}/ocpi/emsp/2.2.1/{m}"}
                for m, r in MODULES_221
            ]
        return answer({"version": version, "endpoints": endpoints})

    # --- OCPI: credentials (the CPO registers with us) ---------------------------------

    async def fetch_cpo(cpo_versions_url: str, token: str, version: str) -> dict[str, Any]:
        headers = {"Authorization": emsp.auth_header(token)}
        versions_reply = (await client.get(cpo_versions_url, headers=headers)).json()
        url = next(v["url"] for v in versions_reply["data"] if v["version"] == version)
        details = (await client.get(url, headers=headers)).json()["data"]
        return {"version": version, "endpoints": details["endpoints"]}

    @app.get("/ocpi/emsp/{version}/credentials")
    async def get_credentials(version: str, request: Request) -> Response:
        token = emsp.token_of(request)
        if token is None:
            return unauthorized()
        return answer(emsp.credentials(token, version))

    @app.post("/ocpi/emsp/{version}/credentials")
    @app.put("/ocpi/emsp/{version}/credentials")
    async def register_cpo(version: str, request: Request) -> Response:
        token = emsp.token_of(request)
        if token is None:
            return unauthorized()
        is_post = request.method == "POST"
        if is_post and emsp.accepted[token] != "token_a":
            return answer(http=405, status_code=2000, message="already registered")
        if not is_post and emsp.accepted[token] != "cpo":
            return answer(http=405, status_code=2000, message="not registered")
        body = await request.json()
        try:
            found = await fetch_cpo(body["url"], body["token"], version)
        except (httpx.HTTPError, KeyError, ValueError, StopIteration) as exc:
            return answer(status_code=3001, message=f"cannot use your API: {exc!r}")
        emsp.cpo = {"versions_url": body["url"], "token": body["token"], **found, "body": body}
        emsp.revoke("token_a")
        emsp.revoke("cpo")
        new = emsp.issue("cpo")
        return answer(emsp.credentials(new, version))

    @app.delete("/ocpi/emsp/{version}/credentials")
    async def unregister_cpo(version: str, request: Request) -> Response:
        token = emsp.token_of(request)
        if token is None:
            return unauthorized()
        if emsp.accepted[token] != "cpo":
            return answer(http=405, status_code=2000, message="not registered")
        emsp.cpo = None
        emsp.revoke("cpo")
        return answer()

    # --- OCPI: receivers ----------------------------------------------------------------

    from tests.emsp import tokens  # imported here: it imports this module

    tokens.install(app, emsp)  # the Tokens sender; before the catch-all receivers

    from tests.emsp.receivers import install  # here: that module imports this one

    install(app, emsp)  # 2.2.1 receivers that keep objects; the catch-all below logs the rest

    from tests.emsp import receivers_211  # here: that module imports this one

    receivers_211.install(app, emsp)  # the same for 2.1.1

    @app.api_route("/ocpi/emsp/{version}/{module}/{rest:path}", methods=["PUT", "PATCH", "POST"])
    @app.api_route("/ocpi/emsp/{version}/{module}", methods=["POST"])
    async def receive(version: str, module: str, request: Request, rest: str = "") -> Response:
        if emsp.token_of(request) is None:
            return unauthorized()
        if module not in RECEIVING:
            return answer(http=404, status_code=2000, message="no such module")
        try:
            body = await request.json()
        except ValueError:
            return answer(http=400, status_code=2001, message="invalid JSON")
        emsp.received.append(
            {
                "method": request.method,
                "module": module,
                "path": rest,
                "version": version,
                "body": body,
                "headers": {k.lower(): v for k, v in request.headers.items()},
            }
        )
        return answer(http=201 if request.method == "POST" else 200)

    # --- control, for tests ------------------------------------------------------------

    @app.get("/_inspect")
    async def inspect() -> dict[str, Any]:
        return {
            "party": {"country_code": emsp.country_code, "party_id": emsp.party_id},
            "accepted": emsp.accepted,
            "cpo": emsp.cpo,
            "received": emsp.received,
            "requests": emsp.requests,
            "settings": {
                "raw_tokens": emsp.raw_tokens,
                "versions": emsp.versions,
                "versions_offered": emsp.versions_offered,
            },
        }

    @app.post("/_control")
    async def control(request: Request) -> dict[str, Any]:
        changes = await request.json()
        for key in (
            "versions",
            "slow_s",
            "redirect_to",
            "raw_tokens",
            "versions_offered",
            "country_code",
            "party_id",
            "name",
        ):
            if key in changes:
                setattr(emsp, key, changes[key])
        return await inspect()

    @app.post("/_control/reset")
    async def reset() -> dict[str, Any]:
        emsp.reset()
        return await inspect()

    @app.post("/_control/invite")
    async def invite() -> dict[str, str]:
        emsp.revoke("token_a")
        return {"versions_url": f"{base_url}/ocpi/emsp/versions", "token": emsp.issue("token_a")}

    async def call_cpo(method: str, url: str, token: str, body: Any = None) -> httpx.Response:
        return await client.request(
            method, url, json=body, headers={"Authorization": emsp.auth_header(token)}
        )

    async def exchange(method: str, url: str, token: str, version: str) -> dict[str, Any]:
        new_b = emsp.issue("cpo_pending")
        reply = await call_cpo(method, url, token, emsp.credentials(new_b, version))
        body = _json(reply)
        result = {"status": reply.status_code, "body": body, "headers": dict(reply.headers)}
        ok = isinstance(body, dict) and body.get("status_code") == 1000
        data = body.get("data") if ok else None
        if reply.status_code == 200 and data:
            emsp.revoke("cpo")
            emsp.accepted[new_b] = "cpo"
            emsp.cpo = {
                **(emsp.cpo or {}),
                "token": data["token"],
                "credentials_url": url,
                "version": version,
                "credentials": data,
            }
        else:
            emsp.revoke("cpo_pending")
        return result

    @app.post("/_control/register")
    async def register(request: Request) -> dict[str, Any]:
        """Register with a CPO as the Sender: {"versions_url", "token", "version"?}."""
        ask = await request.json()
        token_a = ask["token"]
        version = ask.get("version") or emsp.versions_offered[0]
        versions_reply = await call_cpo("GET", ask["versions_url"], token_a)
        if versions_reply.status_code != 200:
            return {
                "status": versions_reply.status_code,
                "body": _json(versions_reply),
                "step": "versions",
            }
        listed = {v["version"]: v["url"] for v in versions_reply.json()["data"]}
        details = (await call_cpo("GET", listed[version], token_a)).json()["data"]
        credentials_url = next(
            e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
        )
        emsp.cpo = {"versions_url": ask["versions_url"], "endpoints": details["endpoints"]}
        return await exchange("POST", credentials_url, token_a, version)

    @app.post("/_control/update")
    async def update_credentials(request: Request) -> dict[str, Any]:
        """PUT fresh credentials to the CPO (token rotation from our side)."""
        ask = await request.json() if await request.body() else {}
        cpo = emsp.cpo or {}
        token = ask.get("token") or cpo["token"]
        return await exchange(
            "PUT", cpo["credentials_url"], token, ask.get("version") or cpo["version"]
        )

    @app.post("/_control/unregister")
    async def unregister() -> dict[str, Any]:
        cpo = emsp.cpo or {}
        reply = await call_cpo("DELETE", cpo["credentials_url"], cpo["token"])
        return {"status": reply.status_code, "body": _json(reply)}

    from tests.emsp import remote  # here: remote imports this module

    remote.install(app)
    return app


def _json(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return reply.text
