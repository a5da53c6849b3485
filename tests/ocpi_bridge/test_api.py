"""The OCPI application in process: envelopes everywhere, ids, tokens, routing, pagination."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Mapping, MutableMapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from hypothesis import given, strategies as st

from gateway.config import Settings
from gateway.domain.ids import EvseUid
from gateway.domain.partners import (
    PartnerEndpoint,
    PartnerLink,
    PartnerRecord,
    PartyRole,
    TokenEncoding,
)
from gateway.domain.state import PublishedEvse
from gateway.storage.partners import MemoryPartners
from gateway.testing import FakeClock
from ocpi_bridge.api.app import create_app
from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.deps import PartyDep, require_owner, require_same_id
from ocpi_bridge.parties import (
    Directory,
    Invitee,
    Party,
    StaticParties,
    generate_token,
    token_candidates,
)
from ocpi_bridge.push.client import OcpiClient
from ocpi_bridge.registrar import Registrar
from ocpi_bridge.status import InvalidParametersError, NotFoundError
from tests.builders import T0, a_settings, shipped_config

US = PartyRole(role="CPO", country_code="NL", party_id="CEG", name="Example Charging B.V.")
STATIC_TOKEN = "static-partner-token"
BASE = "https://cpo.example"


def b64(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


class NoSite:
    def evse_statuses(self) -> Mapping[EvseUid, PublishedEvse]:
        return {}


def many_locations_settings(count: int, *, max_page_limit: int = 100) -> Settings:
    raw = shipped_config()
    base = {k: v for k, v in raw["locations"][0].items() if k != "evses"}
    return a_settings(
        http={"public_url": BASE},
        ocpi={
            "max_page_limit": max_page_limit,
            "static_partners": [
                {"name": "static", "country_code": "DE", "party_id": "STA", "token": STATIC_TOKEN}
            ],
        },
        locations=[{**base, "id": f"LOC-{i:03d}"} for i in range(count)],
    )


class Harness:
    """The app with an in-memory partner store; the partner behind ``partner`` is a mock."""

    def __init__(self, settings: Settings, partner: Any = None) -> None:
        self.clock = FakeClock(T0)
        self.store = MemoryPartners()
        static = StaticParties(settings.ocpi.static_partners, us=US)
        transport = httpx.MockTransport(partner or (lambda r: httpx.Response(503)))
        self.client = OcpiClient(
            settings.ocpi.model_copy(update={"allow_private_partner_addresses": True}),
            us=US,
            transport=transport,
        )
        self.registrar = Registrar(
            store=self.store, client=self.client, settings=settings, clock=self.clock, static=static
        )
        configured = {
            f"location:{loc.id}": T0 + timedelta(hours=i)
            for i, loc in enumerate(settings.locations)
        }
        self.app = create_app(
            OcpiContext(
                settings=settings,
                site=NoSite(),
                parties=Directory(self.store, static=static, us=US, clock=self.clock),
                registrar=self.registrar,
                clock=self.clock,
                configured_at=configured,
            )
        )

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=BASE, **kwargs
        )

    def register(
        self,
        *,
        token: str = "token-c-1234567890",  # noqa: S107 - a test token
        encoding: TokenEncoding = TokenEncoding.BASE64,
    ) -> PartnerRecord:
        inv = self.store.invite("emsp", "token-a-1234567890", now=T0, expires_at=T0 + timedelta(1))
        link = PartnerLink(
            version="2.2.1",
            versions_url="https://emsp.example/ocpi/versions",
            token="their-token",
            encoding=encoding,
            roles=(
                PartyRole(role="EMSP", country_code="DE", party_id="EMS"),
                PartyRole(role="EMSP", country_code="BE", party_id="EMB"),
            ),
            endpoints=(
                PartnerEndpoint(
                    module="credentials",
                    role="SENDER",
                    url="https://emsp.example/ocpi/2.2.1/credentials",
                ),
            ),
        )
        return self.store.register(inv.id, link, our_roles=(US,), token=token, now=T0)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness(many_locations_settings(5, max_page_limit=2))
    yield h
    await h.client.aclose()


async def get(h: Harness, path: str, headers: Mapping[str, str] | None = None, **kw: Any):
    async with h.http() as client:
        return await client.get(
            path, headers=dict(headers if headers is not None else b64(STATIC_TOKEN)), **kw
        )


# --- envelopes and ids ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "http_status"),
    [("GET", "/ocpi/nothing/here", 404), ("PATCH", "/ocpi/versions", 405), ("GET", "/", 404)],
)
async def test_framework_errors_are_envelopes_with_ids(harness: Harness, method, path, http_status):
    """404 and 405 from routing come as OCPI envelopes and echo X-Request-ID."""
    async with harness.http() as client:
        reply = await client.request(
            method, path, headers={"X-Request-ID": "req-1", "X-Correlation-ID": "cor-1"}
        )
    assert reply.status_code == http_status
    body = reply.json()
    assert body["status_code"] == 2000
    assert set(body) <= {"status_code", "status_message", "timestamp"}
    assert (reply.headers["x-request-id"], reply.headers["x-correlation-id"]) == ("req-1", "cor-1")


async def test_an_unhandled_exception_is_a_500_envelope_with_ids(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    """A crash in a handler: HTTP 500, OCPI 3000, ids echoed, logged once with the ids."""
    router = APIRouter()

    @router.get("/ocpi/2.2.1/boom")
    def boom(party: PartyDep) -> JSONResponse:
        raise RuntimeError("kaboom")

    harness.app.include_router(router)
    reply = await get(harness, "/ocpi/2.2.1/boom", {**b64(STATIC_TOKEN), "X-Request-ID": "r-500"})

    assert reply.status_code == 500
    assert reply.json()["status_code"] == 3000
    assert reply.json()["status_message"] == "internal server error"
    assert reply.headers["x-request-id"] == "r-500"
    assert len(reply.headers["x-correlation-id"]) == 36
    assert reply.headers["ocpi-to-party-id"] == "STA"
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "request_id=r-500" in record.getMessage()
    caplog.clear()


@pytest.mark.parametrize("value", [b"", b"a" * 101, b"has space", b"tab\there", "ü".encode()])
async def test_unsafe_message_ids_are_replaced(harness: Harness, value: bytes):
    """Ids that are not short printable ASCII are replaced by a UUID, never echoed."""
    async with harness.http() as client:
        reply = await client.get(
            "/ocpi/versions",
            headers=[
                (b"Authorization", b64(STATIC_TOKEN)["Authorization"].encode()),
                (b"X-Request-ID", value),
            ],
        )
    assert reply.status_code == 200
    assert len(reply.headers["x-request-id"]) == 36


async def test_timestamps_out_are_utc_with_z(harness: Harness):
    """Envelope timestamps and object last_updated are at most 25 characters, ending in Z."""
    body = (await get(harness, "/ocpi/2.2.1/locations")).json()
    stamps = [body["timestamp"], *(loc["last_updated"] for loc in body["data"])]
    for stamp in stamps:
        assert stamp.endswith("Z")
        assert len(stamp) <= 25
        assert "+" not in stamp


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("Bearer abc", []),
        ("token abc", []),
        ("Token  abc", []),
        ("Token ", []),
        ("Token a b", []),
        ("Token " + "x" * 89, []),
        ("Token " + "x" * 65, []),  # too long to be a raw token, not Base64 either
        ("Token " + base64.b64encode(b"x" * 64).decode(), [("x" * 64, "base64")]),
        (
            "Token ZXhhbXBsZS10b2tlbg==",
            [("example-token", "base64"), ("ZXhhbXBsZS10b2tlbg==", "raw")],
        ),
        ("Token ZXhhbXBsZS10b2tlbgo=", [("ZXhhbXBsZS10b2tlbgo=", "raw")]),  # token + "\n"
        ("Token raw-token", [("raw-token", "raw")]),
        ("Token 8J+Ygg==", [("8J+Ygg==", "raw")]),  # Base64 of an emoji: not ASCII
    ],
)
def test_authorization_headers_are_parsed_strictly(header, expected):
    """One space after Token; Base64 decoded first; a decoded newline never matches."""
    assert [(t, e.value) for t, e in token_candidates(header)] == expected


@given(st.from_regex(r"[\x21-\x7e]{1,64}", fullmatch=True))
def test_any_token_round_trips_through_base64(token):
    """Every valid token, Base64-encoded, is recognised as itself first."""
    header = "Token " + base64.b64encode(token.encode()).decode()
    assert token_candidates(header)[0] == (token, TokenEncoding.BASE64)


def test_our_tokens_are_never_valid_base64():
    """Generated tokens cannot be mistaken for encoded ones (43 characters)."""
    for _ in range(50):
        token = generate_token()
        assert len(token) == 43
        assert [e for _, e in token_candidates(f"Token {token}")] == [TokenEncoding.RAW]


async def test_a_partner_is_held_to_the_encoding_it_registered_with(harness: Harness):
    """Base64 partner: raw token 401. Raw partner: Base64 token 401. Config partners: either."""
    harness.register(token="token-c-base64-partner")
    assert (
        await get(harness, "/ocpi/2.2.1/locations", b64("token-c-base64-partner"))
    ).status_code == 200
    raw_reply = await get(
        harness, "/ocpi/2.2.1/locations", {"Authorization": "Token token-c-base64-partner"}
    )
    assert raw_reply.status_code == 401

    other = Harness(many_locations_settings(1))
    other.register(token="token-c-raw-partner", encoding=TokenEncoding.RAW)
    assert (
        await get(other, "/ocpi/2.2.1/locations", {"Authorization": "Token token-c-raw-partner"})
    ).status_code == 200
    assert (
        await get(other, "/ocpi/2.2.1/locations", b64("token-c-raw-partner"))
    ).status_code == 401
    await other.client.aclose()

    assert (
        await get(harness, "/ocpi/2.2.1/locations", {"Authorization": f"Token {STATIC_TOKEN}"})
    ).status_code == 200


def test_the_directory_tells_invitees_pending_and_registered_partners_apart(harness: Harness):
    """Token A: an Invitee; our connection in progress: an unregistered Party."""
    harness.store.invite("x", "token-a-for-x-123", now=T0, expires_at=T0 + timedelta(1))
    harness.store.begin_connection("y", "token-p-for-y-123", now=T0, stale_before=T0)
    directory = Directory(
        harness.store, static=StaticParties((), us=US), us=US, clock=harness.clock
    )

    invitee = directory.authenticate(b64("token-a-for-x-123")["Authorization"])
    assert isinstance(invitee, Invitee)
    assert invitee.encoding is TokenEncoding.BASE64
    pending = directory.authenticate("Token token-p-for-y-123")
    assert isinstance(pending, Party)
    assert not pending.registered
    assert pending.our_roles == (US,)
    assert directory.authenticate("Token unknown-token") is None


async def test_a_pending_connection_token_opens_only_configuration_modules(harness: Harness):
    """While we register with a partner, its callbacks may read versions, nothing more."""
    harness.store.begin_connection("y", "token-p-for-y-123", now=T0, stale_before=T0)
    headers = b64("token-p-for-y-123")
    assert (await get(harness, "/ocpi/versions", headers)).status_code == 200
    assert (await get(harness, "/ocpi/2.2.1/locations", headers)).status_code == 401
    async with harness.http() as client:
        put = await client.put("/ocpi/2.2.1/credentials", headers=headers, json={})
    assert put.status_code == 405


async def test_configured_partners_cannot_change_their_credentials(harness: Harness):
    """Partners from config.toml: POST, PUT and DELETE are 405."""
    async with harness.http() as client:
        for method in ("POST", "PUT", "DELETE"):
            reply = await client.request(
                method, "/ocpi/2.2.1/credentials", headers=b64(STATIC_TOKEN), json={}
            )
            assert reply.status_code == 405, method
    mine = (await get(harness, "/ocpi/2.1.1/credentials")).json()["data"]
    assert mine == {
        "token": STATIC_TOKEN,
        "url": f"{BASE}/ocpi/versions",
        "business_details": {
            "name": "Example Charging B.V.",
            "website": "https://charging.example",
        },
        "party_id": "CEG",
        "country_code": "NL",
    }


# --- routing headers ------------------------------------------------------------------------


def routed(token: str, fc: str, fp: str, tc: str | None = None, tp: str | None = None):
    headers = {**b64(token), "OCPI-from-country-code": fc, "OCPI-from-party-id": fp}
    if tc is not None and tp is not None:
        headers |= {"OCPI-to-country-code": tc, "OCPI-to-party-id": tp}
    return headers


async def test_routing_answers_to_the_role_the_caller_named(harness: Harness):
    """A partner with two roles: the answer's TO is the role its FROM named."""
    harness.register()
    reply = await get(harness, "/ocpi/2.2.1/locations", routed("token-c-1234567890", "be", "emb"))
    assert reply.status_code == 200
    assert (reply.headers["ocpi-to-country-code"], reply.headers["ocpi-to-party-id"]) == (
        "BE",
        "EMB",
    )
    assert (reply.headers["ocpi-from-country-code"], reply.headers["ocpi-from-party-id"]) == (
        "NL",
        "CEG",
    )

    plain = await get(harness, "/ocpi/2.2.1/locations", b64("token-c-1234567890"))
    assert plain.headers["ocpi-to-party-id"] == "EMS"


@pytest.mark.parametrize(
    ("headers", "http_status", "status_code"),
    [
        (routed("token-c-1234567890", "DE", "XXX"), 404, 2000),
        (routed("token-c-1234567890", "DE", "EMS", "NL", "ZZZ"), 404, 2000),
        (routed("token-c-1234567890", "DEU", "EMS"), 200, 2001),
        (routed("token-c-1234567890", "DE", "EM"), 200, 2001),
        ({**b64("token-c-1234567890"), "OCPI-to-party-id": "CEG"}, 200, 2001),
    ],
)
async def test_bad_routing_headers_get_their_answer(
    harness: Harness, headers, http_status, status_code
):
    """A party the caller does not own, or not us: 404; malformed or half: 2001."""
    harness.register()
    reply = await get(harness, "/ocpi/2.2.1/locations", headers)
    assert (reply.status_code, reply.json()["status_code"]) == (http_status, status_code)


async def test_configuration_modules_answer_without_routing_headers(harness: Harness):
    """Versions and credentials never carry routing headers, even when asked with them."""
    harness.register()
    for path in ("/ocpi/versions", "/ocpi/2.2.1", "/ocpi/2.2.1/credentials"):
        reply = await get(harness, path, routed("token-c-1234567890", "DE", "EMS", "NL", "CEG"))
        assert reply.status_code == 200
        assert not [h for h in reply.headers if h.lower().startswith("ocpi-")], path


def test_object_ownership_and_body_id_checks():
    """COO URLs must name the caller; a body id differing from the URL id is 2001."""
    party = Party(
        name="p",
        roles=(PartyRole(role="EMSP", country_code="DE", party_id="EMS"),),
        our_roles=(US,),
        token="t",
    )
    require_owner(party, "de", "ems")
    with pytest.raises(NotFoundError):
        require_owner(party, "NL", "EMS")
    require_same_id("uid", "Tok-1", "tok-1")
    with pytest.raises(
        InvalidParametersError, match="uid: 'tok-2' in the body, 'tok-1' in the URL"
    ):
        require_same_id("uid", "tok-1", "tok-2")


# --- pagination -------------------------------------------------------------------------------


def page_ids(reply: httpx.Response) -> list[str]:
    return [loc["id"] for loc in reply.json()["data"]]


async def test_pages_are_capped_and_linked_until_the_last(harness: Harness):
    """limit above the cap: X-Limit is the cap; Link goes on; the last page has no Link."""
    first = await get(harness, "/ocpi/2.2.1/locations", params={"limit": 50})
    assert page_ids(first) == ["LOC-000", "LOC-001"]
    assert first.headers["x-limit"] == "2"
    assert first.headers["x-total-count"] == "5"
    assert first.headers["link"] == f'<{BASE}/ocpi/2.2.1/locations?offset=2&limit=2>; rel="next"'

    seen = page_ids(first)
    url = first.headers["link"][1:].split(">")[0]
    while True:
        reply = await get(harness, url)
        seen += page_ids(reply)
        if "link" not in reply.headers:
            break
        url = reply.headers["link"][1:].split(">")[0]
    assert seen == [f"LOC-{i:03d}" for i in range(5)]
    assert reply.headers["x-limit"] == "2"


async def test_the_order_is_stable_across_calls(harness: Harness):
    """The same URL gives the same objects in the same order."""
    pages = [
        page_ids(await get(harness, "/ocpi/2.2.1/locations", params={"offset": 1}))
        for _ in range(3)
    ]
    assert pages == [["LOC-001", "LOC-002"]] * 3


async def test_date_filters_are_inclusive_from_and_exclusive_to_and_kept_in_the_link(
    harness: Harness,
):
    """date_from includes its instant, date_to excludes its; both survive into Link."""
    params = {"date_from": "2026-11-22T11:00:00Z", "date_to": "2026-11-22T14:00:00", "limit": 2}
    reply = await get(harness, "/ocpi/2.2.1/locations", params=params)

    assert page_ids(reply) == ["LOC-001", "LOC-002"]
    assert reply.headers["x-total-count"] == "3"
    link = reply.headers["link"]
    assert "date_from=2026-11-22T11%3A00%3A00Z" in link
    assert "date_to=2026-11-22T14%3A00%3A00" in link
    assert "offset=2" in link
    last = await get(harness, link[1:].split(">")[0])
    assert page_ids(last) == ["LOC-003"]
    assert "link" not in last.headers


@pytest.mark.parametrize(
    ("params", "ids", "total"),
    [
        ({"offset": 5}, [], "5"),
        ({"offset": 99}, [], "5"),
        ({"offset": 4}, ["LOC-004"], "5"),
        ({"date_from": "2030-01-01T00:00:00Z"}, [], "0"),
        ({"date_to": "2026-11-22T10:00:00Z"}, [], "0"),
        ({"date_from": "2026-11-22T14:00:00Z"}, ["LOC-004"], "1"),
    ],
)
async def test_pages_past_the_end_or_filtered_empty(harness: Harness, params, ids, total):
    """Beyond the end or outside the dates: an empty list, a total, no Link."""
    reply = await get(harness, "/ocpi/2.2.1/locations", params=params)
    assert reply.status_code == 200
    assert page_ids(reply) == ids
    assert reply.headers["x-total-count"] == total
    assert "link" not in reply.headers


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": -1},
        {"offset": -1},
        {"limit": "ten"},
        {"date_from": "yesterday"},
        {"date_to": "2026-13-01T00:00:00Z"},
    ],
)
async def test_bad_page_parameters_are_2001(harness: Harness, params):
    """Out-of-range or unparsable paging parameters: HTTP 200, OCPI 2001."""
    reply = await get(harness, "/ocpi/2.2.1/locations", params=params)
    assert reply.status_code == 200
    assert reply.json()["status_code"] == 2001
    assert "data" not in reply.json()


# --- ids in URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location_id", "http_status", "status_code"),
    [
        ("loc-001", 200, 1000),
        ("LOC-001", 200, 1000),
        ("LOC'001", 404, 2003),
        ("LOC%25001", 404, 2003),
        ("LOC_001", 404, 2003),
        ("LOC-0%", 404, 2003),
        ("LOC%00001", 200, 2001),
        ("L" * 37, 200, 2001),
    ],
)
async def test_location_ids_in_urls(harness: Harness, location_id, http_status, status_code):
    """CiString ids match in any case; quotes, % and _ are plain; NUL or too long: 2001."""
    reply = await get(harness, f"/ocpi/2.2.1/locations/{location_id}")
    assert (reply.status_code, reply.json()["status_code"]) == (http_status, status_code)


# --- delivery of a rotated token ---------------------------------------------------------------


def emsp_partner(request: httpx.Request) -> httpx.Response:
    """The partner as seen during our callbacks: versions and 2.2.1 details."""
    envelope: dict[str, Any] = {"status_code": 1000, "timestamp": "2026-11-22T10:00:00Z"}
    if request.url.path.endswith("/versions"):
        envelope["data"] = [{"version": "2.2.1", "url": "https://emsp.example/ocpi/2.2.1"}]
    else:
        envelope["data"] = {
            "version": "2.2.1",
            "endpoints": [
                {
                    "identifier": "credentials",
                    "role": "SENDER",
                    "url": "https://emsp.example/ocpi/2.2.1/credentials",
                }
            ],
        }
    return httpx.Response(200, json=envelope)


def new_credentials(token: str = "their-new-token") -> dict[str, Any]:  # noqa: S107
    return {
        "token": token,
        "url": "https://emsp.example/ocpi/versions",
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "e"},
                "party_id": "EMS",
                "country_code": "DE",
            }
        ],
    }


async def asgi_put(
    app: FastAPI, token: str, body: dict[str, Any], *, client_gone: bool
) -> list[dict[str, Any]]:
    """Drive one PUT at the ASGI level; ``client_gone`` disconnects before the answer."""
    payload = json.dumps(body).encode()
    messages = [{"type": "http.request", "body": payload, "more_body": False}]
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "https",
        "path": "/ocpi/2.2.1/credentials",
        "raw_path": b"/ocpi/2.2.1/credentials",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"cpo.example"),
            (b"content-type", b"application/json"),
            (b"authorization", b64(token)["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("cpo.example", 443),
    }
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        if not client_gone:
            await done.wait()  # a client that stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    return sent


def stored_token(h: Harness) -> str:
    partner = h.store.partner("emsp")
    assert partner is not None
    assert partner.link is not None
    return partner.link.token


@pytest.mark.parametrize("client_gone", [False, True])
async def test_the_old_token_is_retired_only_when_the_answer_was_delivered(client_gone: bool):
    """Delivered: old token 401 at once. Client gone: both work until the new one is used."""
    h = Harness(many_locations_settings(1), partner=emsp_partner)
    h.register(token="token-c-old-0000000")

    sent = await asgi_put(h.app, "token-c-old-0000000", new_credentials(), client_gone=client_gone)

    body = json.loads(
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    )
    assert body["status_code"] == 1000
    new_token = body["data"]["token"]
    assert stored_token(h) == "their-new-token"
    old = await get(h, "/ocpi/2.2.1/locations", b64("token-c-old-0000000"))
    assert old.status_code == (200 if client_gone else 401)
    assert (await get(h, "/ocpi/2.2.1/locations", b64(new_token))).status_code == 200
    # Using the new token retired the old one in every case.
    assert (await get(h, "/ocpi/2.2.1/locations", b64("token-c-old-0000000"))).status_code == 401
    await h.client.aclose()


async def test_a_failed_update_keeps_everything():
    """PUT whose callbacks fail: 3001, the old token and the stored partner token unchanged."""
    h = Harness(many_locations_settings(1))  # the partner answers 503
    h.register(token="token-c-old-0000000")
    async with h.http() as client:
        reply = await client.put(
            "/ocpi/2.2.1/credentials", headers=b64("token-c-old-0000000"), json=new_credentials()
        )
    assert reply.json()["status_code"] == 3001
    assert stored_token(h) == "their-token"
    assert (await get(h, "/ocpi/2.2.1/locations", b64("token-c-old-0000000"))).status_code == 200
    await h.client.aclose()


async def test_a_2_1_1_post_with_bad_content_is_2001(harness: Harness):
    """2.1.1 Credentials are validated as 2.1.1 objects, naming the field."""
    harness.store.invite("x", "token-a-for-x-123", now=T0, expires_at=T0 + timedelta(1))
    async with harness.http() as client:
        reply = await client.post(
            "/ocpi/2.1.1/credentials",
            headers={"Authorization": "Token token-a-for-x-123"},
            json={
                "token": "t",
                "url": "u",
                "party_id": "TOOLONG",
                "country_code": "DE",
                "business_details": {"name": "n"},
            },
        )
    assert reply.json()["status_code"] == 2001
    assert "party_id" in reply.json()["status_message"]


def test_registrar_identity_uses_the_operator(harness: Harness):
    """Our Credentials name the configured operator and public URL."""
    assert harness.registrar.versions_url == f"{BASE}/ocpi/versions"
    assert harness.registrar.us == US
