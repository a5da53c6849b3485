"""The test eMSP's Tokens sender: a paginated token list and real-time authorisation.

- ``GET /ocpi/emsp/{2.2.1|2.1.1}/tokens`` (``date_from``, ``date_to``, ``offset``,
  ``limit``): the tokens set through control (2.2.1 objects; 2.1.1 gets them with
  ``auth_id``), oldest first, ``page_size`` per page, with ``Link``, ``X-Total-Count``
  and ``X-Limit``.
- ``POST /ocpi/emsp/{2.2.1|2.1.1}/tokens/{uid}/authorize[?type=]``: an AuthorizationInfo
  for a known token (``allowed`` from ``verdicts[uid]``, default ALLOWED; in 2.2.1 also
  the token and reference ``REF-{uid}``), HTTP 404 / 2004 for an unknown one.
  ``mode``: ``ok`` | ``slow`` (answers after ``slow_s``) | ``garbage`` (HTML) |
  ``error`` (HTTP 500).
- Control (no auth): ``POST /_control/tokens`` with any of ``tokens`` (list of Token
  objects, replacing the list), ``verdicts``, ``mode``, ``slow_s``, ``page_size``;
  ``GET /_control/tokens`` returns the state and the authorize requests received;
  ``POST /_control/tokens/reset``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emsp.app import Emsp, answer


@dataclass
class TokenSender:
    """What the eMSP's Tokens sender serves; reset between tests."""

    tokens: list[dict[str, Any]] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    mode: str = "ok"
    slow_s: float = 2.0
    page_size: int = 2
    authorize_requests: list[dict[str, Any]] = field(default_factory=list)
    list_requests: list[dict[str, Any]] = field(default_factory=list)


VERSIONS = ("2.2.1", "2.1.1")
_NOT_IN_211 = ("country_code", "party_id", "contract_id", "group_id", "energy_contract")


def _shaped(token: dict[str, Any], version: str) -> dict[str, Any]:
    """A token as ``version`` sends it: 2.1.1 has ``auth_id`` and no owner fields."""
    if version == "2.2.1":
        return token
    kept = {k: v for k, v in token.items() if k not in _NOT_IN_211}
    return {**kept, "auth_id": token["contract_id"]}


def _when(text: str | None) -> Any:
    if text is None:
        return None
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def install(app: FastAPI, emsp: Emsp) -> None:
    """Add the routes; call before the generic receivers so these paths win."""
    sender = TokenSender()
    app.state.token_sender = sender

    @app.get("/ocpi/emsp/{version}/tokens")
    async def list_tokens(version: str, request: Request) -> Response:
        if version not in VERSIONS:
            return answer(http=404, status_code=2000, message="no such version")
        if emsp.token_of(request) is None:
            return answer(http=401, status_code=2000, message="unknown token")
        query = dict(request.query_params)
        sender.list_requests.append(query)
        date_from, date_to = _when(query.get("date_from")), _when(query.get("date_to"))
        matching = [
            t
            for t in sorted(sender.tokens, key=lambda t: _when(t["last_updated"]))
            if (date_from is None or _when(t["last_updated"]) >= date_from)
            and (date_to is None or _when(t["last_updated"]) < date_to)
        ]
        offset = int(query.get("offset", 0))
        limit = min(int(query.get("limit", sender.page_size)), sender.page_size)
        page = [_shaped(t, version) for t in matching[offset : offset + limit]]
        headers = {"X-Total-Count": str(len(matching)), "X-Limit": str(sender.page_size)}
        if offset + limit < len(matching):
            rest = {k: v for k, v in query.items() if k not in ("offset", "limit")}
            rest.update(offset=str(offset + limit), limit=str(limit))
            headers["Link"] = (
                f'<{emsp.base_url}/ocpi/emsp/{version}/tokens?{urlencode(rest)}>; rel="next"'
            )
        return JSONResponse(
            {"data": page, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"},
            headers=headers,
        )

    @app.post("/ocpi/emsp/{version}/tokens/{uid}/authorize")
    async def authorize(version: str, uid: str, request: Request) -> Response:
        if version not in VERSIONS:
            return answer(http=404, status_code=2000, message="no such version")
        if emsp.token_of(request) is None:
            return answer(http=401, status_code=2000, message="unknown token")
        body = await request.body()
        sender.authorize_requests.append(
            {
                "version": version,
                "uid": uid,
                "query": dict(request.query_params),
                "body": body.decode() or None,
                "headers": {k.lower(): v for k, v in request.headers.items()},
            }
        )
        if sender.mode == "slow":
            await asyncio.sleep(sender.slow_s)
        if sender.mode == "garbage":
            return Response("<html>oops</html>", media_type="text/html")
        if sender.mode == "error":
            return answer(http=500, status_code=3000, message="broken")
        wanted = request.query_params.get("type", "RFID")
        token = next(
            (t for t in sender.tokens if t["uid"].upper() == uid.upper() and t["type"] == wanted),
            None,
        )
        if token is None:
            return answer(http=404, status_code=2004, message="unknown token")
        allowed = sender.verdicts.get(uid, "ALLOWED")
        if version == "2.1.1":  # no token, no reference in a 2.1.1 AuthorizationInfo
            return answer({"allowed": allowed})
        return answer(
            {"allowed": allowed, "token": token, "authorization_reference": f"REF-{uid}"[:36]}
        )

    @app.get("/_control/tokens")
    async def inspect_tokens() -> dict[str, Any]:
        return {
            "tokens": sender.tokens,
            "mode": sender.mode,
            "authorize_requests": sender.authorize_requests,
            "list_requests": sender.list_requests,
        }

    @app.post("/_control/tokens")
    async def control_tokens(request: Request) -> dict[str, Any]:
        changes = await request.json()
        for key in ("tokens", "verdicts", "mode", "slow_s", "page_size"):
            if key in changes:
                setattr(sender, key, changes[key])
        return await inspect_tokens()

    @app.post("/_control/tokens/reset")
    async def reset_tokens() -> dict[str, Any]:
        fresh = TokenSender()
        for name in TokenSender.__dataclass_fields__:
            setattr(sender, name, getattr(fresh, name))
        return await inspect_tokens()
