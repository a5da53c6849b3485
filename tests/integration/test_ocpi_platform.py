"""End to end: a separate eMSP process and the running gateway register with each other.

The eMSP (``tests/emsp``) is a real process on a loopback port speaking HTTP; the gateway
runs in the test's event loop on its own port with a real SQLite file.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway, OcpiPlatform
from gateway.domain.partners import PartnerState, TokenEncoding
from tests.builders import ROOT, FakeClock, a_settings, shipped_config
from tests.integration.conftest import PARTNER_TOKEN, Running

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert isinstance(port, int)
        return port


def b64(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def raw(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


# --- the eMSP process -----------------------------------------------------------------------


class Emsp:
    """Drives the eMSP process through its control API."""

    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process
        self.versions_url = f"{url}/ocpi/emsp/versions"

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(timeout=15) as client:
            reply = await client.post(f"{self.url}{path}", json=body or {})
        reply.raise_for_status()
        return reply.json()

    async def control(self, **changes: Any) -> Any:
        return await self.post("/_control", changes)

    async def inspect(self) -> Any:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"{self.url}/_inspect")).json()

    async def register(self, versions_url: str, token: str, version: str | None = None) -> Any:
        return await self.post(
            "/_control/register", {"versions_url": versions_url, "token": token, "version": version}
        )

    async def token_for_cpo(self) -> str:
        """The token the eMSP gave the gateway (Token B, or its C when we registered)."""
        accepted = (await self.inspect())["accepted"]
        (token,) = [t for t, purpose in accepted.items() if purpose == "cpo"]
        return str(token)


@pytest.fixture(scope="module")
def emsp_process() -> Iterator[Emsp]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and test module
        [sys.executable, "-m", "tests.emsp", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/_inspect", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the test eMSP did not start") from None
            time.sleep(0.05)
    try:
        yield Emsp(url, process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
async def emsp(emsp_process: Emsp) -> Emsp:
    await emsp_process.post("/_control/reset")
    return emsp_process


# --- the gateway -----------------------------------------------------------------------------


def platform_settings(tmp_path: Path, port: int, **ocpi: Any):
    raw_config = shipped_config()
    return a_settings(
        http={"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        storage={**raw_config["storage"], "data_dir": str(tmp_path / "data")},
        ocpi={
            **raw_config["ocpi"],
            "allow_private_partner_addresses": True,
            "partner_timeout_s": 1.0,
            "static_partners": [
                {"name": "static", "country_code": "FR", "party_id": "STA", "token": PARTNER_TOKEN}
            ],
            **ocpi,
        },
    )


class Cpo(Running):
    """The running gateway, plus shortcuts into its OCPI platform."""

    @property
    def versions_url(self) -> str:
        return f"{self.http_url}/ocpi/versions"

    @property
    def platform(self) -> OcpiPlatform:
        assert self.gateway.ocpi is not None
        return self.gateway.ocpi

    def invite(self, name: str = "emsp") -> str:
        return self.platform.registrar.invite(name).token

    def partner(self, name: str = "emsp"):
        return self.platform.partners.partner(name)

    async def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.http_url, timeout=10) as client:
            return await client.get(path, headers=headers)

    async def send(
        self, method: str, path: str, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.http_url, timeout=10) as client:
            return await client.request(method, path, headers=headers, **kwargs)


Start = Callable[..., Awaitable[Cpo]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    started: list[Gateway] = []

    async def _start(clock: FakeClock | None = None, **ocpi: Any) -> Cpo:
        clock = clock or FakeClock()
        gateway = Gateway(platform_settings(tmp_path, free_port(), **ocpi), clock=clock)
        await gateway.start()
        started.append(gateway)
        return Cpo(gateway, clock)

    yield _start
    for gateway in started:
        await gateway.stop()


@pytest.fixture
async def cpo(start: Start) -> Cpo:
    return await start()


async def registered(cpo: Cpo, emsp: Emsp) -> str:
    """Let the eMSP register with the gateway; return its Token C."""
    result = await emsp.register(cpo.versions_url, cpo.invite())
    assert result["status"] == 200, result
    assert result["body"]["status_code"] == 1000, result
    token_c = result["body"]["data"]["token"]
    assert isinstance(token_c, str)
    return token_c


# --- the eMSP registers with us -------------------------------------------------------------


async def test_an_emsp_registers_and_then_uses_token_c(cpo: Cpo, emsp: Emsp):
    """POST with Token A: we fetch its versions with Token B, answer C; C opens Locations."""
    token_a = cpo.invite()
    result = await emsp.register(cpo.versions_url, token_a)

    assert result["status"] == 200
    body = result["body"]
    assert body["status_code"] == 1000
    assert body["timestamp"].endswith("Z")
    assert body["data"]["url"] == cpo.versions_url
    assert body["data"]["roles"] == [
        {
            "role": "CPO",
            "business_details": {
                "name": "Example Charging B.V.",
                "website": "https://charging.example",
            },
            "party_id": "CEG",
            "country_code": "NL",
        }
    ]
    token_c = body["data"]["token"]
    assert len(token_c) == 43
    assert result["headers"]["x-request-id"]

    token_b = await emsp.token_for_cpo()
    calls = [r for r in (await emsp.inspect())["requests"] if r["method"] == "GET"]
    assert [c["path"] for c in calls] == ["/ocpi/emsp/versions", "/ocpi/emsp/2.2.1"]
    for call in calls:
        assert call["headers"]["authorization"] == b64(token_b)["Authorization"]
        assert call["headers"]["x-request-id"]
        assert call["headers"]["x-correlation-id"]
        assert not [h for h in call["headers"] if h.startswith("ocpi-")]

    partner = cpo.partner()
    assert partner.state is PartnerState.REGISTERED
    assert partner.link.token == token_b
    assert partner.link.encoding is TokenEncoding.BASE64
    assert [r.label for r in partner.roles] == ["EMSP DE/EMS"]
    assert partner.link.endpoint("locations", "RECEIVER") is not None

    locations = await cpo.get("/ocpi/2.2.1/locations", b64(token_c))
    assert locations.status_code == 200
    assert locations.json()["status_code"] == 1000
    assert locations.headers["OCPI-from-country-code"] == "NL"
    assert locations.headers["OCPI-from-party-id"] == "CEG"
    assert locations.headers["OCPI-to-country-code"] == "DE"
    assert locations.headers["OCPI-to-party-id"] == "EMS"

    mine = await cpo.get("/ocpi/2.2.1/credentials", b64(token_c))
    assert mine.json()["data"]["token"] == token_c
    assert "ocpi-from-party-id" not in mine.headers

    # Token A is single use.
    assert (await cpo.get("/ocpi/versions", b64(token_a))).status_code == 401


async def test_registering_twice_is_405(cpo: Cpo, emsp: Emsp):
    """A registered partner that POSTs again gets HTTP 405 and keeps its token."""
    token_c = await registered(cpo, emsp)
    again = await cpo.send(
        "POST", "/ocpi/2.2.1/credentials", b64(token_c), json={"token": "x", "url": "y"}
    )

    assert again.status_code == 405
    assert again.json()["status_code"] == 2000
    assert (await cpo.get("/ocpi/2.2.1/locations", b64(token_c))).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_update_or_unregister_before_registering_is_405(cpo: Cpo, method: str):
    """Token A may not PUT or DELETE: the partner is not registered yet."""
    token_a = cpo.invite()
    reply = await cpo.send(method, "/ocpi/2.2.1/credentials", b64(token_a), json={})

    assert reply.status_code == 405
    assert reply.json()["status_code"] == 2000
    assert (await cpo.get("/ocpi/versions", b64(token_a))).status_code == 200


async def test_token_a_opens_only_versions_and_credentials(cpo: Cpo):
    """Token A reads versions and our credentials; a functional module answers 401."""
    token_a = cpo.invite()

    versions = await cpo.get("/ocpi/versions", b64(token_a))
    assert [v["version"] for v in versions.json()["data"]] == ["2.2.1", "2.1.1"]
    details = (await cpo.get("/ocpi/2.2.1", b64(token_a))).json()["data"]
    assert details["endpoints"] == [
        {"identifier": module, "role": role, "url": f"{cpo.http_url}/ocpi/2.2.1/{module}"}
        for module, role in (
            ("credentials", "SENDER"),
            ("locations", "SENDER"),
            ("sessions", "SENDER"),
            ("cdrs", "SENDER"),
            ("tariffs", "SENDER"),
            ("tokens", "RECEIVER"),
            ("commands", "RECEIVER"),
            ("chargingprofiles", "RECEIVER"),
        )
    ]
    old = (await cpo.get("/ocpi/2.1.1", b64(token_a))).json()["data"]
    assert old == {
        "version": "2.1.1",
        "endpoints": [
            {"identifier": module, "url": f"{cpo.http_url}/ocpi/2.1.1/{module}"}
            for module in (
                "credentials",
                "locations",
                "sessions",
                "cdrs",
                "tariffs",
                "tokens",
                "commands",
            )
        ],
    }
    assert (await cpo.get("/ocpi/2.2.1/credentials", b64(token_a))).json()["data"][
        "token"
    ] == token_a

    functional = await cpo.get("/ocpi/2.2.1/locations", b64(token_a))
    assert functional.status_code == 401
    assert functional.json()["status_code"] == 2000


async def test_token_a_expires(start: Start, emsp: Emsp):
    """After ocpi.token_a_ttl_h the invitation opens nothing and registers nobody."""
    clock = FakeClock()
    cpo = await start(clock, token_a_ttl_h=1)
    token_a = cpo.invite()
    clock.advance(3600)

    result = await emsp.register(cpo.versions_url, token_a)

    assert result["status"] == 401
    assert result["step"] == "versions"
    assert cpo.platform.partners.partners() == []


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ({"versions": "down"}, "HTTP 503"),
        ({"versions": "slow", "slow_s": 3}, "timed out after 1 s"),
        ({"versions": "garbage"}, "not a valid answer"),
        (
            {"versions": "redirect", "redirect_to": "http://169.254.169.254/latest/meta-data"},
            "redirect to 'http://169.254.169.254/latest/meta-data' (never followed)",
        ),
    ],
    ids=["down", "slow", "garbage", "redirect"],
)
async def test_an_unusable_partner_api_is_3001_and_changes_nothing(
    cpo: Cpo, emsp: Emsp, mode: dict[str, Any], reason: str
):
    """Versions down, slow, garbage or redirecting: OCPI 3001; Token A stays usable."""
    token_a = cpo.invite()
    await emsp.control(**mode)

    result = await emsp.register(cpo.versions_url, token_a)

    assert result["status"] == 200
    assert result["body"]["status_code"] == 3001
    assert reason in result["body"]["status_message"]
    assert "data" not in result["body"]
    assert cpo.platform.partners.partners() == []
    await emsp.control(versions="ok")
    assert (await emsp.register(cpo.versions_url, token_a))["body"]["status_code"] == 1000


async def test_a_private_partner_address_is_refused_unless_allowed(start: Start, emsp: Emsp):
    """Without allow_private_partner_addresses, a loopback versions URL is 3001."""
    cpo = await start(allow_private_partner_addresses=False)

    result = await emsp.register(cpo.versions_url, cpo.invite())

    assert result["body"]["status_code"] == 3001
    assert "non-public address" in result["body"]["status_message"]
    assert [r for r in (await emsp.inspect())["requests"] if r["method"] == "GET"] == []


async def test_no_common_version_is_3002(cpo: Cpo, emsp: Emsp):
    """A partner POSTing to our 2.2.1 credentials but offering only 2.1.1: OCPI 3002."""
    await emsp.control(versions_offered=["2.1.1"])

    result = await emsp.register(cpo.versions_url, cpo.invite(), version="2.2.1")

    assert result["body"]["status_code"] == 3002
    assert cpo.platform.partners.partners() == []


async def test_missing_required_endpoints_are_3003(start: Start, emsp: Emsp):
    """A partner without a module listed in ocpi.required_partner_modules: OCPI 3003."""
    cpo = await start(required_partner_modules=["hubclientinfo"])

    result = await emsp.register(cpo.versions_url, cpo.invite())

    assert result["body"]["status_code"] == 3003
    assert "hubclientinfo" in result["body"]["status_message"]
    assert cpo.platform.partners.partners() == []


async def test_roles_already_registered_are_405(cpo: Cpo, emsp: Emsp):
    """A second party claiming a registered role, ours, or a configured one: 405."""
    await registered(cpo, emsp)
    for country, party in (("DE", "EMS"), ("NL", "CEG"), ("fr", "sta")):
        await emsp.control(country_code=country, party_id=party)
        token_a = cpo.invite(f"other-{party}")
        result = await emsp.post(
            "/_control/register", {"versions_url": cpo.versions_url, "token": token_a}
        )
        assert result["status"] == 405, (country, party, result)
        assert cpo.partner(f"other-{party}") is None
        assert (await cpo.get("/ocpi/versions", b64(token_a))).status_code == 200


async def test_an_interrupted_registration_blocks_its_token_a_until_stale(cpo: Cpo, emsp: Emsp):
    """A crash mid-registration leaves a claimed invitation and no partner; 5 min later it works."""
    token_a = cpo.invite()
    (invitation,) = cpo.platform.partners.invitations(now=cpo.clock())
    now = cpo.clock()
    assert cpo.platform.partners.claim_invitation(
        invitation.id, now=now, stale_before=now - timedelta(minutes=5)
    )  # what a crash after the pending state leaves behind

    blocked = await emsp.register(cpo.versions_url, token_a)
    assert blocked["status"] == 405
    assert cpo.platform.partners.partners() == []

    cpo.clock.advance(301)
    assert (await emsp.register(cpo.versions_url, token_a))["body"]["status_code"] == 1000


# --- bad input ------------------------------------------------------------------------------


async def test_bad_authorization_headers_are_401_in_an_envelope(cpo: Cpo, emsp: Emsp):
    """Missing, malformed, unencoded, newline, unknown, revoked: 401, status_code 2000."""
    token_c = await registered(cpo, emsp)
    await emsp.post("/_control/update")  # rotates: token_c is revoked
    newline = base64.b64encode((token_c + "\n").encode()).decode()
    cases = {
        "missing": {},
        "bearer": {"Authorization": f"Bearer {token_c}"},
        "two spaces": {"Authorization": "Token  " + b64(token_c)["Authorization"][6:]},
        "lower-case scheme": {"Authorization": "token " + b64(token_c)["Authorization"][6:]},
        "not base64": raw(token_c),
        "trailing newline": {"Authorization": f"Token {newline}"},
        "unknown": b64("no-such-token-anywhere"),
        "revoked": b64(token_c),
    }
    for case, headers in cases.items():
        reply = await cpo.get("/ocpi/2.2.1/locations", headers)
        assert reply.status_code == 401, case
        assert reply.json()["status_code"] == 2000, case
        assert reply.json()["timestamp"].endswith("Z"), case
        assert reply.headers["x-request-id"], case


async def test_a_body_that_is_not_json_is_400_and_a_wrong_object_is_2001(cpo: Cpo):
    """Invalid JSON: HTTP 400. Valid JSON, invalid Credentials: HTTP 200, 2001 naming the field."""
    token_a = cpo.invite()
    headers = {**b64(token_a), "Content-Type": "application/json"}

    broken = await cpo.send("POST", "/ocpi/2.2.1/credentials", headers, content=b"{not json")
    assert broken.status_code == 400
    assert broken.json()["status_code"] == 2001

    for body, field in (
        ([], "body"),
        ({"token": "t", "url": "u"}, "roles"),
        ({"token": "has space", "url": "u", "roles": []}, "token"),
    ):
        reply = await cpo.send("POST", "/ocpi/2.2.1/credentials", headers, json=body)
        assert reply.status_code == 200
        assert reply.json()["status_code"] == 2001
        assert field in reply.json()["status_message"]
    assert cpo.platform.partners.partners() == []
    assert (await cpo.get("/ocpi/versions", b64(token_a))).status_code == 200


async def test_routing_headers_must_name_the_callers_roles_and_ours(cpo: Cpo, emsp: Emsp):
    """FROM a party the caller does not own, or TO a party that is not us: 404."""
    headers = b64(await registered(cpo, emsp))

    def routed(fc: str, fp: str, tc: str, tp: str) -> dict[str, str]:
        return {
            **headers,
            "OCPI-from-country-code": fc,
            "OCPI-from-party-id": fp,
            "OCPI-to-country-code": tc,
            "OCPI-to-party-id": tp,
        }

    fine = await cpo.get("/ocpi/2.2.1/locations", routed("de", "ems", "NL", "ceg"))
    assert fine.status_code == 200
    assert fine.headers["OCPI-to-party-id"] == "EMS"
    for bad in (routed("DE", "XXX", "NL", "CEG"), routed("DE", "EMS", "BE", "CEG")):
        reply = await cpo.get("/ocpi/2.2.1/locations", bad)
        assert reply.status_code == 404
        assert reply.json()["status_code"] == 2000
    half = await cpo.get("/ocpi/2.2.1/locations", {**headers, "OCPI-from-party-id": "EMS"})
    assert half.json()["status_code"] == 2001


# --- rotation and unregistration --------------------------------------------------------------


async def test_a_put_rotates_the_token_and_the_old_one_stops_after_the_answer(cpo: Cpo, emsp: Emsp):
    """PUT: the new C works at once, the old C gets 401 once the answer was delivered."""
    token_c = await registered(cpo, emsp)
    old_b = await emsp.token_for_cpo()

    result = await emsp.post("/_control/update")

    assert result["status"] == 200
    new_c = result["body"]["data"]["token"]
    assert new_c != token_c
    new_b = await emsp.token_for_cpo()
    assert new_b != old_b
    assert cpo.partner().link.token == new_b
    assert (await cpo.get("/ocpi/2.2.1/locations", b64(new_c))).status_code == 200
    assert (await cpo.get("/ocpi/2.2.1/locations", b64(token_c))).status_code == 401


async def test_a_delete_unregisters_and_every_token_stops(cpo: Cpo, emsp: Emsp):
    """DELETE: the partner is forgotten; a second DELETE is 405."""
    token_c = await registered(cpo, emsp)

    result = await emsp.post("/_control/unregister")

    assert result["status"] == 200
    assert result["body"]["status_code"] == 1000
    assert cpo.partner() is None
    assert (await cpo.get("/ocpi/2.2.1/locations", b64(token_c))).status_code == 401


# --- 2.1.1 partners -------------------------------------------------------------------------


async def test_a_2_1_1_emsp_registers_with_raw_tokens(cpo: Cpo, emsp: Emsp):
    """2.1.1: raw tokens both ways, a 2.1.1 Credentials object, and the encoding remembered."""
    await emsp.control(raw_tokens=True, versions_offered=["2.1.1"])
    token_a = cpo.invite()

    result = await emsp.register(cpo.versions_url, token_a, version="2.1.1")

    assert result["body"]["status_code"] == 1000, result
    data = result["body"]["data"]
    assert set(data) == {"token", "url", "business_details", "party_id", "country_code"}
    assert (data["country_code"], data["party_id"]) == ("NL", "CEG")
    token_b = await emsp.token_for_cpo()
    callbacks = [r for r in (await emsp.inspect())["requests"] if r["method"] == "GET"]
    assert [c["path"] for c in callbacks] == ["/ocpi/emsp/versions", "/ocpi/emsp/2.1.1"]
    assert {c["headers"]["authorization"] for c in callbacks} == {f"Token {token_b}"}
    partner = cpo.partner()
    assert partner.link.version == "2.1.1"
    assert partner.link.encoding is TokenEncoding.RAW
    assert [r.label for r in partner.roles] == ["EMSP DE/EMS"]

    token_c = data["token"]
    assert (await cpo.get("/ocpi/2.2.1/locations", raw(token_c))).status_code == 200
    assert (await cpo.get("/ocpi/2.2.1/locations", b64(token_c))).status_code == 401


# --- we register with the eMSP --------------------------------------------------------------


async def test_we_connect_to_an_emsp_with_the_cli_while_the_gateway_runs(
    cpo: Cpo, emsp: Emsp, tmp_path: Path
):
    """`gateway partners connect`: the eMSP calls back the running gateway with our token."""
    invitation = await emsp.post("/_control/invite")
    config = write_config(tmp_path, cpo)

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway",
        "partners",
        "connect",
        "--versions-url",
        invitation["versions_url"],
        "--token",
        invitation["token"],
        "--name",
        "the-emsp",
        "--config",
        str(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0, err.decode()
    assert "registered with the-emsp: EMSP DE/EMS" in out.decode()
    state = await emsp.inspect()
    our_token = state["cpo"]["token"]
    assert state["cpo"]["version"] == "2.2.1"
    # While our POST was open, the eMSP read our versions with the token we gave it.
    partner = cpo.partner("the-emsp")
    assert partner.state is PartnerState.REGISTERED
    assert partner.link.token == await emsp.token_for_cpo()
    assert (await cpo.get("/ocpi/2.2.1/locations", b64(our_token))).status_code == 200
    assert (await cpo.get("/ocpi/versions", b64(invitation["token"]))).status_code == 401


async def test_we_connect_to_a_2_1_1_emsp_then_rotate_and_remove(cpo: Cpo, emsp: Emsp):
    """Connect (2.1.1, raw), rotate (old token 401, new works), remove (eMSP told)."""
    await emsp.control(raw_tokens=True, versions_offered=["2.1.1"])
    invitation = await emsp.post("/_control/invite")
    registrar = cpo.platform.registrar

    record = await registrar.connect(invitation["versions_url"], invitation["token"], name="old")

    assert record.link is not None
    assert record.link.version == "2.1.1"
    assert record.link.encoding is TokenEncoding.RAW
    state = await emsp.inspect()
    token_ours = state["cpo"]["token"]
    post = next(r for r in state["requests"] if r["method"] == "POST")
    assert post["headers"]["authorization"] == f"Token {invitation['token']}"
    assert (await cpo.get("/ocpi/2.2.1/locations", raw(token_ours))).status_code == 200

    await registrar.rotate("old")

    rotated = (await emsp.inspect())["cpo"]["token"]
    assert rotated != token_ours
    assert (await cpo.get("/ocpi/2.2.1/locations", raw(rotated))).status_code == 200
    assert (await cpo.get("/ocpi/2.2.1/locations", raw(token_ours))).status_code == 401
    assert cpo.partner("old").link.token == await emsp.token_for_cpo()

    assert await registrar.remove("old") is None
    assert (await emsp.inspect())["cpo"] is None
    assert cpo.partner("old") is None
    assert (await cpo.get("/ocpi/2.2.1/locations", raw(rotated))).status_code == 401


async def test_a_failed_connect_leaves_no_partner(cpo: Cpo, emsp: Emsp):
    """Their versions endpoint is down: the command fails and nothing is stored."""
    from ocpi_bridge.registrar import RegistrationError

    invitation = await emsp.post("/_control/invite")
    await emsp.control(versions="down")

    with pytest.raises(RegistrationError, match="HTTP 503"):
        await cpo.platform.registrar.connect(
            invitation["versions_url"], invitation["token"], name="x"
        )
    assert cpo.platform.partners.partners() == []


async def test_no_token_is_ever_logged(cpo: Cpo, emsp: Emsp, caplog: pytest.LogCaptureFixture):
    """Registration, rotation and calls at DEBUG: no token appears in any log line."""
    caplog.set_level(logging.DEBUG)
    token_a = cpo.invite()
    result = await emsp.register(cpo.versions_url, token_a)
    token_c = result["body"]["data"]["token"]
    await cpo.get("/ocpi/2.2.1/locations", b64(token_c))
    await emsp.post("/_control/update")
    secrets = [token_a, token_c, *(await emsp.inspect())["accepted"]]

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "request_id=" in text
    for secret in secrets:
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text


def write_config(tmp_path: Path, cpo: Cpo) -> Path:
    """A config file for the CLI naming the running gateway's data directory and URL."""
    settings = cpo.gateway.settings
    path = tmp_path / "cli.toml"
    path.write_text(
        f"""
[operator]
country_code = "NL"
party_id = "CEG"
name = "Example Charging B.V."
website = "https://charging.example"

[http]
public_url = "{settings.http.public_url}"

[storage]
data_dir = "{settings.storage.data_dir}"

[ocpi]
allow_private_partner_addresses = true
partner_timeout_s = 5
"""
    )
    return path


async def test_a_failed_rotation_keeps_the_current_tokens(cpo: Cpo, emsp: Emsp):
    """Rotation from our side fails at the partner: both sides keep their working tokens."""
    from ocpi_bridge.registrar import RegistrationError

    invitation = await emsp.post("/_control/invite")
    registrar = cpo.platform.registrar
    await registrar.connect(invitation["versions_url"], invitation["token"], name="e")
    ours = (await emsp.inspect())["cpo"]["token"]
    theirs = cpo.partner("e").link.token
    await emsp.control(versions="down")

    with pytest.raises(RegistrationError, match="its current token still works"):
        await registrar.rotate("e")

    assert (await cpo.get("/ocpi/2.2.1/locations", b64(ours))).status_code == 200
    assert cpo.partner("e").link.token == theirs


async def test_remove_reports_a_partner_that_could_not_be_told(cpo: Cpo, emsp: Emsp):
    """The partner refuses our DELETE: we say so, and forget it anyway."""
    invitation = await emsp.post("/_control/invite")
    registrar = cpo.platform.registrar
    await registrar.connect(invitation["versions_url"], invitation["token"], name="e")
    await emsp.post("/_control/reset")  # the eMSP forgot us: our DELETE gets 401

    problem = await registrar.remove("e")

    assert problem is not None
    assert "HTTP 401" in problem
    assert cpo.partner("e") is None


async def test_a_partner_claiming_a_configured_party_is_unregistered_again(cpo: Cpo, emsp: Emsp):
    """We registered with it, but its role belongs to a configured partner: we undo both sides."""
    from ocpi_bridge.registrar import RegistrationError

    await emsp.control(country_code="FR", party_id="STA")
    invitation = await emsp.post("/_control/invite")

    with pytest.raises(RegistrationError, match="EMSP FR/STA is already registered"):
        await cpo.platform.registrar.connect(
            invitation["versions_url"], invitation["token"], name="e"
        )

    assert cpo.partner("e") is None
    state = await emsp.inspect()
    assert state["cpo"] is None
    assert [r["method"] for r in state["requests"]][-1] == "DELETE"
