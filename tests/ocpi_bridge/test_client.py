"""OcpiClient against an httpx.MockTransport partner: headers, envelopes, paging, the guard."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from gateway.config import OcpiSettings
from gateway.domain.partners import PartnerEndpoint, PartnerLink, PartyRole, TokenEncoding
from ocpi_bridge.push.client import OcpiClient, Target, authorization, is_public_address, next_link
from ocpi_bridge.status import (
    PartnerAddressRefusedError,
    PartnerRejectedError,
    PartnerResponseError,
    PartnerUnauthorizedError,
    PartnerUnreachableError,
)
from ocpi_bridge.translate.registration import HttpCall

US = PartyRole(role="CPO", country_code="NL", party_id="CEG")
THEM = PartyRole(role="EMSP", country_code="DE", party_id="EMS")
LINK = PartnerLink(
    version="2.2.1",
    versions_url="https://emsp.example/ocpi/versions",
    token="their-token",
    encoding=TokenEncoding.BASE64,
    roles=(THEM,),
    endpoints=(
        PartnerEndpoint(module="locations", role="RECEIVER", url="https://push.emsp.example/l"),
    ),
)
PUBLIC = {"emsp.example": ["93.184.216.34"], "push.emsp.example": ["2606:2800:220:1::1"]}


def envelope(
    data: Any = None, status_code: int = 1000, message: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": "2026-11-22T10:00:00Z"}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


class Partner:
    """A scripted partner: records requests, answers with ``reply(request)``."""

    def __init__(self, reply=None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply or (lambda request: httpx.Response(200, json=envelope({"ok": True})))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)


async def fake_resolver(host: str, port: int) -> list[str]:
    if host not in PUBLIC and not host.endswith(".internal"):
        raise OSError("Name or service not known")
    return PUBLIC.get(host, ["10.0.0.7"])


def a_client(partner: Partner, **settings: Any) -> OcpiClient:
    return OcpiClient(
        OcpiSettings(**settings),
        us=US,
        transport=httpx.MockTransport(partner.handle),
        resolver=fake_resolver,
    )


async def test_a_functional_call_carries_every_transport_header():
    """Authorization (Base64), fresh request and correlation ids, FROM us / TO them."""
    partner = Partner()
    client = a_client(partner)
    answer = await client.request(
        Target.of(LINK), "PUT", "https://push.emsp.example/l/1", module="locations", body={"a": 1}
    )
    await client.aclose()

    (request,) = partner.requests
    headers = request.headers
    assert headers["authorization"] == "Token " + base64.b64encode(b"their-token").decode()
    assert len(headers["x-request-id"]) == 36
    assert len(headers["x-correlation-id"]) == 36
    assert headers["x-request-id"] != headers["x-correlation-id"]
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == ("NL", "CEG")
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == ("DE", "EMS")
    assert headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"a": 1}
    assert answer.envelope.data == {"ok": True}


async def test_configuration_modules_and_2_1_1_partners_get_no_routing_headers():
    """Credentials and versions are not routed; 2.1.1 has no routing headers at all."""
    partner = Partner()
    client = a_client(partner)
    old = Target(
        token="t", encoding=TokenEncoding.RAW, hosts=frozenset({"emsp.example"}), version="2.1.1"
    )
    await client.request(Target.of(LINK), "GET", "https://emsp.example/v", module="versions")
    await client.request(old, "GET", "https://emsp.example/l", module="locations")
    await client.aclose()

    for request in partner.requests:
        assert not [h for h in request.headers if h.lower().startswith("ocpi-")]
    assert partner.requests[1].headers["authorization"] == "Token t"


async def test_ids_are_new_per_request_and_the_correlation_id_can_be_kept():
    """Each request gets its own X-Request-ID; a given X-Correlation-ID is passed on."""
    partner = Partner()
    client = a_client(partner)
    for _ in range(2):
        await client.request(
            Target.of(LINK), "GET", "https://emsp.example/x", module="tokens", correlation_id="c-1"
        )
    await client.aclose()

    assert {r.headers["x-correlation-id"] for r in partner.requests} == {"c-1"}
    assert len({r.headers["x-request-id"] for r in partner.requests}) == 2


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(401, json=envelope(status_code=2000)), PartnerUnauthorizedError, "401"),
        (
            httpx.Response(200, json=envelope(status_code=2001, message="bad")),
            PartnerRejectedError,
            "2001: bad",
        ),
        (httpx.Response(200, text="<html/>"), PartnerResponseError, "without an OCPI envelope"),
        (httpx.Response(500, text="oops"), PartnerResponseError, "HTTP 500"),
        (httpx.Response(404, json=envelope()), PartnerResponseError, "HTTP 404"),
        (
            httpx.Response(302, headers={"Location": "http://10.0.0.1/x?t=1"}),
            PartnerUnreachableError,
            "never followed",
        ),
    ],
)
async def test_failures_become_typed_errors(response, error, text):
    """401, refusals, garbage, HTTP errors and redirects each raise their PartnerError."""
    client = a_client(Partner(lambda request: response))
    with pytest.raises(error, match=text) as info:
        await client.request(Target.of(LINK), "GET", "https://emsp.example/x", module="tokens")
    await client.aclose()
    if isinstance(info.value, PartnerRejectedError):
        assert info.value.status_code == 2001


async def test_a_redirect_is_never_followed():
    """A 3xx answer is an error and the Location is not requested."""
    partner = Partner(lambda r: httpx.Response(307, headers={"Location": "https://emsp.example/y"}))
    client = a_client(partner)
    with pytest.raises(PartnerUnreachableError):
        await client.request(Target.of(LINK), "GET", "https://emsp.example/x", module="tokens")
    await client.aclose()
    assert len(partner.requests) == 1


async def test_connection_errors_and_timeouts_are_unreachable():
    """Transport errors and slow partners raise PartnerUnreachableError."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = a_client(Partner(refuse))
    with pytest.raises(PartnerUnreachableError, match="ConnectError"):
        await client.request(Target.of(LINK), "GET", "https://emsp.example/x", module="tokens")
    await client.aclose()

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)  # pragma: no cover - never reached

    slow_client = OcpiClient(
        OcpiSettings(partner_timeout_s=0.05),
        us=US,
        transport=httpx.MockTransport(slow),
        resolver=fake_resolver,
    )
    with pytest.raises(PartnerUnreachableError, match=r"timed out after 0\.05 s"):
        await slow_client.request(Target.of(LINK), "GET", "https://emsp.example/x", module="x")
    await slow_client.aclose()


async def test_an_enormous_answer_is_refused():
    """Answers are read up to a cap, so a partner cannot exhaust our memory."""
    from ocpi_bridge.push import client as module

    big = b"x" * (module.MAX_RESPONSE_BYTES + 1)
    client = a_client(Partner(lambda r: httpx.Response(200, content=big)))
    with pytest.raises(PartnerResponseError, match="larger than"):
        await client.request(Target.of(LINK), "GET", "https://emsp.example/x", module="x")
    await client.aclose()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://evil.example/x", "not a host the partner registered"),
        ("ftp://emsp.example/x", r"only http\(s\)"),
        ("https://user:pw@emsp.example/x", "user info"),
        ("https://[::1/x", "not a URL"),
        ("/relative", r"only http\(s\)"),
    ],
)
async def test_only_registered_hosts_are_called(url, reason):
    """The token never leaves for a host the partner did not register."""
    partner = Partner()
    client = a_client(partner, allow_private_partner_addresses=True)
    with pytest.raises(PartnerAddressRefusedError, match=reason):
        await client.request(Target.of(LINK), "GET", url, module="tokens")
    await client.aclose()
    assert partner.requests == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "[::1]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "db.internal",
        "0.0.0.0",  # noqa: S104 - an address we must refuse to call
    ],
)
async def test_private_addresses_are_refused_unless_allowed(host):
    """Loopback, private, link-local and mapped addresses (by IP or name) are refused."""
    partner = Partner()
    target = Target(token="t", encoding=TokenEncoding.BASE64, hosts=None)
    client = a_client(partner)
    with pytest.raises(PartnerAddressRefusedError, match="non-public address"):
        await client.request(target, "GET", f"http://{host}/x", module="versions")
    await client.aclose()
    assert partner.requests == []

    allowing = a_client(partner, allow_private_partner_addresses=True)
    await allowing.request(target, "GET", f"http://{host}/x", module="versions")
    await allowing.aclose()
    assert len(partner.requests) == 1


async def test_an_unresolvable_host_is_unreachable():
    """DNS failure is reported as such, before any connection."""
    client = a_client(Partner())
    target = Target(token="t", encoding=TokenEncoding.BASE64, hosts=None)
    with pytest.raises(PartnerUnreachableError, match=r"cannot resolve nowhere\.example"):
        await client.request(target, "GET", "https://nowhere.example/x", module="versions")
    await client.aclose()


async def test_pages_follow_the_next_link_until_the_last_page():
    """The generator yields each page and stops when no Link header comes back."""

    def paged(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        headers = {}
        if offset < 4:
            nxt = (
                f"https://emsp.example/l?offset={offset + 2}&limit=2&date_from=2026-01-01T00:00:00Z"
            )
            headers["Link"] = f'<{nxt}>; rel="next"'
        return httpx.Response(200, json=envelope([offset, offset + 1]), headers=headers)

    partner = Partner(paged)
    client = a_client(partner)
    pages = [
        page
        async for page in client.pages(
            Target.of(LINK), "https://emsp.example/l", module="tokens", params={"limit": "2"}
        )
    ]
    await client.aclose()

    assert pages == [[0, 1], [2, 3], [4, 5]]
    assert [str(r.url) for r in partner.requests][:2] == [
        "https://emsp.example/l?limit=2",
        "https://emsp.example/l?offset=2&limit=2&date_from=2026-01-01T00:00:00Z",
    ]
    assert len({r.headers["x-correlation-id"] for r in partner.requests}) == 1


async def test_pages_refuse_a_loop_and_a_non_list():
    """A next link pointing back, or data that is not a list, ends the walk with an error."""
    looping = Partner(
        lambda r: httpx.Response(
            200, json=envelope([1]), headers={"Link": '<https://emsp.example/l>; rel="next"'}
        )
    )
    client = a_client(looping)
    with pytest.raises(PartnerResponseError, match="do not end"):
        async for _ in client.pages(Target.of(LINK), "https://emsp.example/l", module="tokens"):
            pass
    await client.aclose()

    client = a_client(Partner(lambda r: httpx.Response(200, json=envelope({"not": "list"}))))
    with pytest.raises(PartnerResponseError, match="not a list"):
        async for _ in client.pages(Target.of(LINK), "https://emsp.example/l", module="tokens"):
            pass
    await client.aclose()


async def test_handshake_calls_report_trouble_in_the_reply():
    """For flows, a refused address or a dead partner is a failure text, not an exception."""
    partner = Partner(lambda r: httpx.Response(200, json=envelope([])))
    client = a_client(partner)
    call = HttpCall(
        method="GET", url="https://emsp.example/v", token="a", encoding=TokenEncoding.RAW
    )
    reply = await client.call(call)
    refused = await client.call(
        HttpCall(method="GET", url="http://127.0.0.1/v", token="a", encoding=TokenEncoding.RAW)
    )
    await client.aclose()

    assert reply.status == 200
    assert json.loads(reply.body)["status_code"] == 1000
    assert reply.failure is None
    assert partner.requests[0].headers["authorization"] == "Token a"
    assert refused.failure is not None
    assert "non-public address" in refused.failure


def test_header_and_link_helpers():
    """Encodings, the next-link parser and the address test on their own."""
    assert authorization("example-token", TokenEncoding.BASE64) == "Token ZXhhbXBsZS10b2tlbg=="
    assert authorization("example-token", TokenEncoding.RAW) == "Token example-token"
    assert next_link(httpx.Headers({"Link": '<https://a/b?x=1>; rel="next"'})) == "https://a/b?x=1"
    assert next_link(httpx.Headers({"Link": '<https://a/b>; rel="prev"'})) is None
    assert next_link(httpx.Headers()) is None
    assert is_public_address("8.8.8.8")
    assert not is_public_address("fe80::1%eth0")
    assert not is_public_address("224.0.0.1")


async def test_the_default_resolver_sees_that_localhost_is_loopback():
    """With the system resolver, a name for a loopback address is refused too."""
    partner = Partner()
    client = OcpiClient(OcpiSettings(), us=US, transport=httpx.MockTransport(partner.handle))
    target = Target(token="t", encoding=TokenEncoding.BASE64, hosts=None)
    with pytest.raises(PartnerAddressRefusedError, match="non-public"):
        await client.request(target, "GET", "http://localhost:9/x", module="versions")
    await client.aclose()
    assert partner.requests == []


async def test_a_name_without_addresses_is_refused():
    """An empty resolver answer is not a licence to connect."""

    async def nothing(host: str, port: int) -> list[str]:
        return []

    client = OcpiClient(
        OcpiSettings(), us=US, transport=httpx.MockTransport(Partner().handle), resolver=nothing
    )
    target = Target(token="t", encoding=TokenEncoding.BASE64, hosts=None)
    with pytest.raises(PartnerAddressRefusedError, match="none"):
        await client.request(target, "GET", "https://empty.example/x", module="versions")
    await client.aclose()
