"""Security profiles 1-3 end to end: real TLS and websocket clients against the gateway.

A throwaway PKI is made with the ``openssl`` command at test time: a charger CA, an
RSA-2048 server certificate for localhost/127.0.0.1, and ECDSA P-256 client
certificates (the right charger, another charger, one from an unknown CA, an expired
one). Everything listens and connects on loopback only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shutil
import ssl
import subprocess
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from gateway.app import Gateway
from gateway.config import load_settings
from gateway.domain.ids import ChargerId
from gateway.passwords import hash_password
from ocpp_central.tls import TlsSetupError, channel_refusal, server_context
from tests.builders import FakeClock, shipped_config
from tests.gateway.test_config import problems, write
from tests.integration.conftest import site_settings

pytestmark = pytest.mark.integration

AC_PASSWORD = "0123456789abcdef0123"  # AC-0001's AuthorizationKey
DC_PASSWORD = "fedcba9876543210fedc"  # DC-0001's AuthorizationKey
WRONG_PASSWORD = "0000000000000000wrong"
SUBPROTOCOL = {"AC-0001": Subprotocol("ocpp1.6"), "DC-0001": Subprotocol("ocpp2.0.1")}
BOOT = {
    "AC-0001": {"chargePointVendor": "Example", "chargePointModel": "AC22"},
    "DC-0001": {"reason": "PowerUp", "chargingStation": {"model": "DC50", "vendorName": "Ex"}},
}

# --- a throwaway PKI -----------------------------------------------------------------

_REQ_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ca]
default_ca = this
[this]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
organizationName = optional
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pki:
    """Paths of the test PKI's files."""

    ca: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path]]  # name -> (certificate, key)


class _Authority:
    """One CA directory driven through ``openssl ca``, so validity dates can lie in the past."""

    def __init__(self, openssl: str, home: Path, name: str) -> None:
        self.openssl = openssl
        self.home = home
        home.mkdir()
        (home / "openssl.cnf").write_text(_REQ_CONFIG)
        (home / "index.txt").write_text("")
        (home / "serial").write_text("01\n")
        self.run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key")
        self.run(
            "req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", f"/O=Test CPO/CN={name}", "-config", "openssl.cnf", "-extensions", "ca_ext",
        )  # fmt: skip
        self.cert = home / "ca.pem"

    def run(self, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 - the system's openssl, fixed arguments
            [self.openssl, *args], cwd=self.home, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr

    def issue(
        self, name: str, subject: str, *, ext: str, rsa: bool = False, valid: bool = True
    ) -> tuple[Path, Path]:
        key_args = (
            ("-newkey", "rsa:2048")
            if rsa
            else ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
        )
        self.run(
            "req", "-new", *key_args, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", subject, "-config", "openssl.cnf",
        )  # fmt: skip
        now = datetime.now(UTC)
        start, end = (
            (now - timedelta(hours=1), now + timedelta(days=1))
            if valid
            else (now - timedelta(days=30), now - timedelta(days=29))
        )
        self.run(
            "ca", "-batch", "-config", "openssl.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
            "-in", f"{name}.csr", "-out", f"{name}.pem", "-notext", "-extensions", ext,
            "-startdate", start.strftime("%y%m%d%H%M%SZ"),
            "-enddate", end.strftime("%y%m%d%H%M%SZ"),
        )  # fmt: skip
        return self.home / f"{name}.pem", self.home / f"{name}.key"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    openssl = shutil.which("openssl")
    assert openssl is not None, "these tests need the openssl command (Debian package openssl)"
    base = tmp_path_factory.mktemp("pki")
    ca = _Authority(openssl, base / "ca", "Test Charger CA")
    rogue = _Authority(openssl, base / "rogue", "Unknown CA")
    server_cert, server_key = ca.issue(
        "server", "/O=Test CPO/CN=localhost", ext="server_ext", rsa=True
    )
    return Pki(
        ca=ca.cert,
        server_cert=server_cert,
        server_key=server_key,
        clients={
            "DC-0001": ca.issue("dc", "/O=Test CPO/CN=DC-0001", ext="client_ext"),
            "other charger": ca.issue("ac", "/O=Test CPO/CN=AC-0001", ext="client_ext"),
            "unknown CA": rogue.issue("rogue", "/O=Test CPO/CN=DC-0001", ext="client_ext"),
            "expired": ca.issue("old", "/O=Test CPO/CN=DC-0001", ext="client_ext", valid=False),
        },
    )


# --- gateways --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hashes() -> dict[str, str]:
    return {"AC-0001": hash_password(AC_PASSWORD), "DC-0001": hash_password(DC_PASSWORD)}


def chargers(hashes: dict[str, str], **profiles: int) -> list[dict[str, Any]]:
    """The shipped chargers with the given profiles (keyed by id with ``_`` for ``-``)."""
    out = []
    for charger in shipped_config()["chargers"]:
        profile = profiles[charger["id"].replace("-", "_")]
        extra = {"password_hash": hashes[charger["id"]]} if profile in (1, 2) else {}
        out.append({**charger, "security_profile": profile, **extra})
    return out


def tls_files(pki: Pki, **more: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": 0,
        "tls_cert_file": str(pki.server_cert),
        "tls_key_file": str(pki.server_key),
        "tls_ca_file": str(pki.ca),
        **more,
    }


async def _started(settings: Any) -> AsyncIterator[Gateway]:
    gateway = Gateway(settings, clock=FakeClock())
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


@pytest.fixture
async def plain(tmp_path: Path, hashes: dict[str, str]) -> AsyncIterator[Gateway]:
    """A plain ws listener; both chargers on profile 1 with their own passwords."""
    settings = site_settings(
        tmp_path,
        ocpp={"host": "127.0.0.1", "port": 0},
        chargers=chargers(hashes, AC_0001=1, DC_0001=1),
    )
    async for gateway in _started(settings):
        yield gateway


@pytest.fixture
async def secure(tmp_path: Path, hashes: dict[str, str], pki: Pki) -> AsyncIterator[Gateway]:
    """One TLS listener: AC-0001 on profile 2 (Basic), DC-0001 on profile 3 (certificate)."""
    settings = site_settings(
        tmp_path, ocpp=tls_files(pki), chargers=chargers(hashes, AC_0001=2, DC_0001=3)
    )
    async for gateway in _started(settings):
        yield gateway


# --- clients ---------------------------------------------------------------------------


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def client_tls(pki: Pki, cert: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert is not None:
        ctx.load_cert_chain(*pki.clients[cert])
    return ctx


def url(gateway: Gateway, charger_id: str, scheme: str | None = None) -> str:
    return f"{scheme or gateway.ocpp.scheme}://127.0.0.1:{gateway.ocpp.port}/ocpp/{charger_id}"


async def boot(ws: ClientConnection, charger_id: str) -> str:
    await ws.send(json.dumps([2, "b1", "BootNotification", BOOT[charger_id]]))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert reply[:2] == [3, "b1"], reply
    status: str = reply[2]["status"]
    return status


async def connects(gateway: Gateway, charger_id: str, **kwargs: Any) -> None:
    """The charger completes the handshake, boots, and is the live connection for its id."""
    async with connect(
        url(gateway, charger_id), subprotocols=[SUBPROTOCOL[charger_id]], open_timeout=5, **kwargs
    ) as ws:
        assert ws.subprotocol == SUBPROTOCOL[charger_id]
        assert await boot(ws, charger_id) == "Accepted"
        assert charger_id in gateway.ocpp.connections


async def refused_with(gateway: Gateway, charger_id: str, **kwargs: Any) -> int:
    """The HTTP status refusing the upgrade; nothing about the charger was recorded."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            url(gateway, charger_id, kwargs.pop("scheme", None)),
            subprotocols=[SUBPROTOCOL[charger_id]],
            open_timeout=5,
            **kwargs,
        ):
            pass
    never_connected(gateway, charger_id)
    status: int = info.value.response.status_code
    return status


async def refused_before_http(gateway: Gateway, charger_id: str, **kwargs: Any) -> None:
    """The connection dies before any HTTP answer: the TLS handshake itself was refused."""
    with pytest.raises((InvalidHandshake, OSError)) as info:
        async with connect(
            url(gateway, charger_id, kwargs.pop("scheme", None)),
            subprotocols=[SUBPROTOCOL[charger_id]],
            open_timeout=5,
            **kwargs,
        ):
            pass
    assert not isinstance(info.value, InvalidStatus), "an HTTP answer means TLS was accepted"
    never_connected(gateway, charger_id)


def never_connected(gateway: Gateway, charger_id: str) -> None:
    state = gateway.store.load_chargers().get(ChargerId(charger_id))
    assert state is None or (not state.connected and state.since is None)
    assert charger_id not in gateway.ocpp.connections


async def security_event(caplog: pytest.LogCaptureFixture, *words: str) -> str:
    """The security event line naming all ``words`` (the server may log a moment later)."""
    for _ in range(100):
        for record in caplog.records:
            line = record.getMessage()
            if record.name == "ocpp_central.security" and all(w in line for w in words):
                assert record.levelno == logging.WARNING
                return line
        await asyncio.sleep(0.01)
    raise AssertionError(f"no security event with {words}: {caplog.text}")


def no_secrets_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Neither a password nor a Basic token carrying one appears in any log line."""
    for password in (AC_PASSWORD, DC_PASSWORD, WRONG_PASSWORD):
        assert password not in caplog.text
        for username in ("AC-0001", "DC-0001"):
            token = basic(username, password)["Authorization"].removeprefix("Basic ")
            assert token not in caplog.text


# --- profile 1: HTTP Basic over plain ws ---------------------------------------------------


async def test_profile_1_with_the_right_password_connects(plain: Gateway):
    """Basic credentials whose username is the charger id and whose password matches get in.

    A reconnect with the same credentials gets in again (from the remembered check).
    """
    await connects(plain, "AC-0001", additional_headers=basic("AC-0001", AC_PASSWORD))
    await connects(plain, "DC-0001", additional_headers=basic("DC-0001", DC_PASSWORD))
    await connects(plain, "AC-0001", additional_headers=basic("AC-0001", AC_PASSWORD))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param(basic("AC-0001", WRONG_PASSWORD), "wrong password", id="wrong"),
        pytest.param({}, "no Authorization header", id="missing"),
        pytest.param(
            basic("DC-0001", DC_PASSWORD), "username is not the charger id", id="other-username"
        ),
        pytest.param(basic("AC-0001", DC_PASSWORD), "wrong password", id="other-chargers-password"),
        pytest.param({"Authorization": "Bearer abc"}, "not Basic", id="not-basic"),
        pytest.param({"Authorization": "Basic %%%"}, "malformed", id="not-base64"),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(b"AC-0001").decode()},
            "malformed",
            id="no-colon",
        ),
    ],
)
async def test_profile_1_bad_credentials_are_refused_with_401_before_the_upgrade(
    plain: Gateway, caplog: pytest.LogCaptureFixture, headers: dict[str, str], reason: str
):
    """Wrong, missing or borrowed credentials get 401 + WWW-Authenticate; nothing is stored.

    A password valid for another charger, or a username that differs from the URL id, is
    refused like a wrong one (A00.FR.204); the log names the reason, never the secret.
    """
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            url(plain, "AC-0001"), subprotocols=[SUBPROTOCOL["AC-0001"]], additional_headers=headers
        ):
            pass
    assert info.value.response.status_code == 401
    assert info.value.response.headers["WWW-Authenticate"].startswith("Basic ")
    never_connected(plain, "AC-0001")
    line = await security_event(caplog, "id=AC-0001", "profile=1", reason)
    assert "peer=127.0.0.1:" in line
    no_secrets_logged(caplog)


async def test_a_tls_client_cannot_talk_to_a_plain_listener(plain: Gateway, pki: Pki):
    """A wss client against the plain ws listener fails in the TLS handshake."""
    await refused_before_http(
        plain,
        "AC-0001",
        scheme="wss",
        ssl=client_tls(pki),
        additional_headers=basic("AC-0001", AC_PASSWORD),
    )


# --- profile 2: TLS + HTTP Basic ---------------------------------------------------------


async def test_profile_2_over_tls_with_the_right_password_connects(secure: Gateway, pki: Pki):
    """TLS >= 1.2 with the configured server certificate, then Basic, then the upgrade."""
    assert secure.ocpp.scheme == "wss"
    await connects(
        secure, "AC-0001", ssl=client_tls(pki), additional_headers=basic("AC-0001", AC_PASSWORD)
    )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param(basic("AC-0001", WRONG_PASSWORD), "wrong password", id="wrong"),
        pytest.param(basic("AC-0001", DC_PASSWORD), "wrong password", id="other-chargers"),
        pytest.param({}, "no Authorization header", id="missing"),
    ],
)
async def test_profile_2_bad_credentials_are_refused_with_401(
    secure: Gateway,
    pki: Pki,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
    reason: str,
):
    """TLS alone is not enough on profile 2: the Basic check still refuses before the upgrade."""
    status = await refused_with(secure, "AC-0001", ssl=client_tls(pki), additional_headers=headers)
    assert status == 401
    await security_event(caplog, "id=AC-0001", "profile=2", reason)
    no_secrets_logged(caplog)


async def test_a_client_certificate_does_not_replace_basic_on_profile_2(
    secure: Gateway, pki: Pki, caplog: pytest.LogCaptureFixture
):
    """A profile 2 charger presenting a valid certificate but no password is refused (401)."""
    status = await refused_with(secure, "AC-0001", ssl=client_tls(pki, "other charger"))
    assert status == 401
    await security_event(caplog, "id=AC-0001", "no Authorization header")


async def test_plain_ws_to_the_tls_listener_fails(
    secure: Gateway, caplog: pytest.LogCaptureFixture
):
    """With TLS configured there is no plain ws path at all, even with the right password."""
    await refused_before_http(
        secure, "AC-0001", scheme="ws", additional_headers=basic("AC-0001", AC_PASSWORD)
    )
    await security_event(caplog, "TLS handshake refused", "http request")
    no_secrets_logged(caplog)


def tls_1_1_only(pki: Pki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: the point
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


async def test_a_tls_1_1_client_is_refused(
    secure: Gateway, pki: Pki, caplog: pytest.LogCaptureFixture
):
    """A client that can only speak TLS 1.1 never reaches HTTP (A00.FR.312, TC_A_06_CSMS).

    The same client context does negotiate TLS 1.1 with a server that allows it, so the
    refusal is the gateway's minimum version and not a client that cannot say hello.
    """
    client = tls_1_1_only(pki)
    old_server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    old_server.load_cert_chain(pki.server_cert, pki.server_key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old_server.minimum_version = ssl.TLSVersion.TLSv1_1
    old_server.set_ciphers("DEFAULT:@SECLEVEL=0")

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    control = await asyncio.start_server(hang_up, "127.0.0.1", 0, ssl=old_server)
    async with control:
        port = control.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client, server_hostname="localhost"
        )
        assert writer.get_extra_info("ssl_object").version() == "TLSv1.1"
        writer.close()

    await refused_before_http(
        secure, "AC-0001", ssl=client, additional_headers=basic("AC-0001", AC_PASSWORD)
    )
    await security_event(caplog, "TLS handshake refused", "unsupported protocol")


async def test_a_tls_1_3_minimum_refuses_tls_1_2(
    tmp_path: Path, hashes: dict[str, str], pki: Pki, caplog: pytest.LogCaptureFixture
):
    """``ocpp.tls_min_version = "1.3"`` refuses TLS 1.2 clients; TLS 1.3 ones connect."""
    settings = site_settings(
        tmp_path,
        ocpp=tls_files(pki, tls_min_version="1.3"),
        chargers=chargers(hashes, AC_0001=2, DC_0001=3),
    )
    tls12 = client_tls(pki)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    async for gateway in _started(settings):
        await refused_before_http(
            gateway, "AC-0001", ssl=tls12, additional_headers=basic("AC-0001", AC_PASSWORD)
        )
        await security_event(caplog, "TLS handshake refused", "unsupported protocol")
        await connects(
            gateway,
            "AC-0001",
            ssl=client_tls(pki),
            additional_headers=basic("AC-0001", AC_PASSWORD),
        )


async def test_tls_1_2_offers_the_ocpp_suites_and_no_cbc(
    secure: Gateway, pki: Pki, caplog: pytest.LogCaptureFixture
):
    """A TLS 1.2 charger with only RSA-AES128-GCM (A00.FR.317) connects; CBC-only is refused."""
    cbc = client_tls(pki)
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("AES128-SHA")
    await refused_before_http(
        secure, "AC-0001", ssl=cbc, additional_headers=basic("AC-0001", AC_PASSWORD)
    )
    await security_event(caplog, "TLS handshake refused", "no shared cipher")

    gcm = client_tls(pki)
    gcm.maximum_version = ssl.TLSVersion.TLSv1_2
    gcm.set_ciphers("AES128-GCM-SHA256")
    await connects(secure, "AC-0001", ssl=gcm, additional_headers=basic("AC-0001", AC_PASSWORD))


# --- profile 3: mutual TLS ----------------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
async def test_profile_3_with_its_own_certificate_connects(
    secure: Gateway, pki: Pki, version: ssl.TLSVersion
):
    """A certificate from the charger CA whose CN is the charger id is the whole credential."""
    client = client_tls(pki, "DC-0001")
    client.maximum_version = version
    await connects(secure, "DC-0001", ssl=client)


@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        pytest.param(None, "no client certificate", id="no-certificate"),
        pytest.param("other charger", "CN 'AC-0001' is not the charger id", id="other-cn"),
    ],
)
async def test_profile_3_without_its_own_certificate_is_refused_with_403(
    secure: Gateway,
    pki: Pki,
    caplog: pytest.LogCaptureFixture,
    cert: str | None,
    reason: str,
):
    """No certificate, or a valid one naming another charger, is refused before the upgrade.

    The right Basic password does not help: profile 3 is certificate-only.
    """
    status = await refused_with(
        secure,
        "DC-0001",
        ssl=client_tls(pki, cert),
        additional_headers=basic("DC-0001", DC_PASSWORD),
    )
    assert status == 403
    await security_event(caplog, "id=DC-0001", "profile=3", reason)
    no_secrets_logged(caplog)


@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        pytest.param("unknown CA", "unable to get local issuer certificate", id="unknown-ca"),
        pytest.param("expired", "certificate has expired", id="expired"),
    ],
)
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
async def test_unverifiable_client_certificates_end_the_tls_handshake(
    secure: Gateway,
    pki: Pki,
    caplog: pytest.LogCaptureFixture,
    cert: str,
    reason: str,
    version: ssl.TLSVersion,
):
    """A certificate from an unknown CA or an expired one never reaches HTTP (TC_A_08_CSMS)."""
    client = client_tls(pki, cert)
    client.maximum_version = version
    await refused_before_http(secure, "DC-0001", ssl=client)
    await security_event(caplog, "TLS handshake refused", reason)


# --- the channel rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "tls", "cert", "refusal"),
    [
        (0, False, None, None),
        (1, False, None, None),
        (2, True, None, None),
        (2, True, {"subject": ((("commonName", "OTHER"),),)}, None),
        (3, True, {"subject": ((("organizationName", "CPO"),), (("commonName", "CP-1"),))}, None),
        (0, True, None, "security profile 0 is plain ws but the connection is TLS"),
        (1, True, None, "security profile 1 is plain ws but the connection is TLS"),
        (2, False, None, "security profile 2 needs TLS"),
        (3, False, None, "security profile 3 needs TLS"),
        (3, True, None, "no client certificate"),
        (3, True, {"subject": ()}, "client certificate CN '(none)' is not the charger id"),
        (
            3,
            True,
            {"subject": ((("commonName", "CP-1"),), (("commonName", "CP-2"),))},
            "client certificate CN 'CP-1, CP-2' is not the charger id",
        ),
        (3, True, {"subject": ((("commonName", "cp-1"),),)}, "CN 'cp-1' is not the charger id"),
    ],
)
def test_each_profile_has_exactly_one_channel(
    profile: int, tls: bool, cert: dict[str, Any] | None, refusal: str | None
):
    """Profiles 0-1 are plain ws only, 2-3 TLS only, and 3 needs exactly its own CN."""
    got = channel_refusal("CP-1", profile, tls=tls, peer_cert=cert)
    if refusal is None:
        assert got is None
    else:
        assert got is not None
        assert refusal in got


# --- configuration ----------------------------------------------------------------------


def secure_raw(pki: Pki, hashes: dict[str, str], **ocpp: Any) -> dict[str, Any]:
    raw = shipped_config()
    raw["ocpp"] = {**raw["ocpp"], **tls_files(pki), **ocpp}
    raw["chargers"] = chargers(hashes, AC_0001=2, DC_0001=3)
    return raw


def test_a_plain_profile_charger_on_a_tls_listener_stops_start_up(
    tmp_path: Path, pki: Pki, hashes: dict[str, str]
):
    """One listener, one channel: a profile 0/1 charger next to TLS files is a config error."""
    raw = secure_raw(pki, hashes)
    raw["chargers"][1] = {**raw["chargers"][1], "security_profile": 1, "password_hash": "scrypt$x"}
    found = problems(tmp_path, raw)
    assert any(
        key == "chargers[1].security_profile" and "'DC-0001' uses security profile 1" in reason
        for key, reason in found
    ), found


@pytest.mark.parametrize(
    ("ocpp", "key", "words"),
    [
        ({"tls_cert_file": "/nonexistent/server.pem"}, "ocpp.tls_cert_file", "file not found"),
        ({"tls_key_file": "missing.key"}, "ocpp.tls_key_file", "file not found"),
        ({"tls_ca_file": "/"}, "ocpp.tls_ca_file", "not a file"),
        ({"tls_key_file": None}, "ocpp.tls_key_file", "must be set together"),
        ({"tls_min_version": "1.1"}, "ocpp.tls_min_version", "'1.2' or '1.3'"),
    ],
)
def test_unusable_tls_settings_stop_start_up_naming_the_key(
    tmp_path: Path,
    pki: Pki,
    hashes: dict[str, str],
    ocpp: dict[str, Any],
    key: str,
    words: str,
):
    """A missing or unreadable TLS file is a config error with file, key and reason."""
    raw = secure_raw(pki, hashes, **ocpp)
    raw["ocpp"] = {k: v for k, v in raw["ocpp"].items() if v is not None}
    found = problems(tmp_path, raw)
    assert any(k == key and words in reason for k, reason in found), found


def test_relative_tls_paths_are_read_next_to_the_config_file(
    tmp_path: Path, pki: Pki, hashes: dict[str, str]
):
    """``tls_*_file = "server.pem"`` means the file beside config.toml, from any directory."""
    for source in (pki.server_cert, pki.server_key):
        shutil.copy(source, tmp_path / source.name)
    raw = secure_raw(pki, hashes, tls_cert_file="server.pem", tls_key_file="server.key")
    settings = load_settings(write(tmp_path, raw))
    assert settings.ocpp.tls_cert_file == tmp_path / "server.pem"
    assert server_context(settings.ocpp) is not None


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda p, t: {"tls_cert_file": _text(t, "x.pem", "hello")}, "no PEM certificate"),
        (lambda p, t: {"tls_key_file": _text(t, "x.key", "hello")}, "no PEM private key"),
        (lambda p, t: {"tls_key_file": p.clients["DC-0001"][1]}, "cannot use this certificate"),
        (lambda p, t: {"tls_ca_file": _text(t, "ca.pem", "nothing")}, "no usable CA"),
        (lambda p, t: {"tls_key_file": _encrypted_key(p, t)}, "encrypted"),
        (lambda p, t: {"tls_cert_file": t / "absent.pem"}, "file not found"),
        (lambda p, t: {"tls_ca_file": t}, "cannot read"),
    ],
)
async def test_unusable_tls_files_stop_the_gateway_starting(
    tmp_path: Path, pki: Pki, hashes: dict[str, str], damage: Any, words: str
):
    """Bad PEM, a key of another certificate, an encrypted key or a bad CA: start fails."""
    settings = site_settings(
        tmp_path,
        ocpp=tls_files(pki, **{k: str(v) for k, v in damage(pki, tmp_path).items()}),
        chargers=chargers(hashes, AC_0001=2, DC_0001=3),
    )
    gateway = Gateway(settings, clock=FakeClock())
    try:
        with pytest.raises(TlsSetupError, match=words) as info:
            await gateway.start()
        assert "ocpp.tls_" in str(info.value)
        assert isinstance(info.value, OSError)  # `gateway serve` prints "cannot start: ..."
        assert not gateway.ocpp.listening
    finally:
        await gateway.stop()


def _text(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _encrypted_key(pki: Pki, tmp_path: Path) -> Path:
    openssl = shutil.which("openssl")
    assert openssl is not None
    out = tmp_path / "encrypted.key"
    subprocess.run(  # noqa: S603 - the system's openssl, fixed arguments
        [openssl, "pkey", "-in", pki.server_key, "-aes256", "-passout", "pass:x", "-out", out],
        check=True,
        capture_output=True,
    )
    return out
