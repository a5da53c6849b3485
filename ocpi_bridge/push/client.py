"""Adapter: ``OcpiClient``, the one way any part of the platform calls a partner.

Every call gets the transport rules of transport_and_format: the ``Authorization``
header in the partner's encoding (Base64 for 2.2.1, the raw token for 2.1.1 and for
partners that registered that way), fresh ``X-Request-ID`` and ``X-Correlation-ID``
(R-OCPI-ID-1), and the routing headers on functional modules (FROM us, TO the partner,
R-OCPI-RT-1). Answers are read as OCPI envelopes; failures surface as the
``PartnerError`` hierarchy of ``ocpi_bridge.status``.

A token only ever goes to a host the partner registered (R-OCPI-CMD-2): the URL's host
must be among the partner's hosts, redirects are never followed, and unless
``ocpi.allow_private_partner_addresses`` is set, a host that resolves to a private,
loopback, link-local or otherwise non-global address is refused before connecting.
(The check resolves the name once and httpx resolves it again to connect; a DNS answer
that changes in between is the residual risk, bounded by the partner's own hosts.)
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import re
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

from gateway.config import OcpiSettings
from gateway.domain.partners import PartnerLink, PartyRole, TokenEncoding
from ocpi_bridge.models.common import Envelope
from ocpi_bridge.status import (
    PartnerAddressRefusedError,
    PartnerError,
    PartnerRejectedError,
    PartnerResponseError,
    PartnerUnauthorizedError,
    PartnerUnreachableError,
)
from ocpi_bridge.translate.registration import HttpCall, HttpReply

log = logging.getLogger(__name__)

#: Configuration modules carry no routing headers (transport_and_format §Message Routing).
CONFIGURATION_MODULES = frozenset({"versions", "credentials", "hubclientinfo"})
MAX_RESPONSE_BYTES = 16 * 2**20
MAX_PAGES = 100_000
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, as the OS resolver answers."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One partner as a destination: its token, encoding, hosts, version and role."""

    token: str = field(repr=False)
    encoding: TokenEncoding
    hosts: frozenset[str] | None  # None only inside a handshake: any public host
    version: str = "2.2.1"
    to: PartyRole | None = None  # the party functional requests address

    @classmethod
    def of(cls, link: PartnerLink, *, to: PartyRole | None = None) -> Target:
        return cls(
            token=link.token,
            encoding=link.encoding,
            hosts=link.hosts(),
            version=link.version,
            to=to or (link.roles[0] if link.roles else None),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """A successful OCPI answer: the envelope and the headers that matter for paging."""

    envelope: Envelope[Any]
    http_status: int
    headers: httpx.Headers


def authorization(token: str, encoding: TokenEncoding) -> str:
    """The ``Authorization`` header value for ``token`` in ``encoding``."""
    if encoding is TokenEncoding.RAW:
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode("ascii")


def next_link(headers: httpx.Headers) -> str | None:
    """The URL of a ``Link: <...>; rel="next"`` header, if any."""
    for value in headers.get_list("link"):
        match = _NEXT_LINK.search(value)
        if match:
            return match.group(1)
    return None


def is_public_address(address: str) -> bool:
    """Whether a partner may live at ``address``: a global unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class OcpiClient:
    """Calls partners. One instance per process; ``transport`` is for tests (STYLE ex. 8)."""

    def __init__(
        self,
        settings: OcpiSettings,
        *,
        us: PartyRole,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self._settings = settings
        self._us = us
        self._resolve = resolver
        self._timeout_s = settings.partner_timeout_s
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.partner_timeout_s),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would bypass the host checks
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- for handshake flows -----------------------------------------------------------

    async def call(self, call: HttpCall, *, hosts: frozenset[str] | None = None) -> HttpReply:
        """Make one call of a handshake flow; trouble comes back as ``HttpReply.failure``."""
        target = Target(token=call.token, encoding=call.encoding, hosts=hosts)
        try:
            status, _, body = await self._send(
                target, call.method, call.url, module="credentials", body=call.body
            )
        except PartnerError as exc:
            return HttpReply(failure=str(exc))
        return HttpReply(status=status, body=body)

    # --- for modules ---------------------------------------------------------------------

    async def request(
        self,
        target: Target,
        method: str,
        url: str,
        *,
        module: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> Answer:
        """Make one call and read the envelope; raise ``PartnerError`` unless it succeeded."""
        status, headers, raw = await self._send(
            target,
            method,
            url,
            module=module,
            body=body,
            params=params,
            correlation_id=correlation_id,
        )
        what = _What(method, url)
        if status == 401:
            raise PartnerUnauthorizedError(f"{what}: HTTP 401", http_status=status)
        try:
            envelope = Envelope[Any].model_validate_json(raw)
        except ValidationError:
            raise PartnerResponseError(
                f"{what}: HTTP {status} without an OCPI envelope", http_status=status
            ) from None
        if not 1000 <= envelope.status_code < 2000:
            detail = f": {envelope.status_message}" if envelope.status_message else ""
            raise PartnerRejectedError(
                f"{what}: HTTP {status}, status_code {envelope.status_code}{detail}",
                http_status=status,
                status_code=envelope.status_code,
            )
        if status >= 300:
            raise PartnerResponseError(f"{what}: HTTP {status}", http_status=status)
        return Answer(envelope=envelope, http_status=status, headers=headers)

    async def pages(
        self,
        target: Target,
        url: str,
        *,
        module: str,
        params: Mapping[str, str] | None = None,
    ) -> AsyncIterator[list[Any]]:
        """GET a list and follow its ``Link: rel="next"`` pages; yield each page's objects."""
        correlation_id = str(uuid.uuid4())
        seen: set[str] = set()
        next_url: str | None = url
        query = params
        while next_url is not None:
            if next_url in seen or len(seen) >= MAX_PAGES:
                raise PartnerResponseError(
                    f"GET {_safe(url)}: the pages do not end", http_status=200
                )
            seen.add(next_url)
            answer = await self.request(
                target, "GET", next_url, module=module, params=query, correlation_id=correlation_id
            )
            data = answer.envelope.data
            if not isinstance(data, list):
                raise PartnerResponseError(
                    f"GET {_safe(next_url)}: data is not a list", http_status=answer.http_status
                )
            yield data
            next_url, query = next_link(answer.headers), None  # the link carries the filters

    # --- the wire ------------------------------------------------------------------------------

    async def _send(
        self,
        target: Target,
        method: str,
        url: str,
        *,
        module: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> tuple[int, httpx.Headers, bytes]:
        what = _What(method, url)
        await self._check_destination(url, target.hosts, what)
        headers = {
            "Authorization": authorization(target.token, target.encoding),
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": correlation_id or str(uuid.uuid4()),
        }
        if module not in CONFIGURATION_MODULES and target.version != "2.1.1":
            headers["OCPI-from-country-code"] = self._us.country_code
            headers["OCPI-from-party-id"] = self._us.party_id
            if target.to is not None:
                headers["OCPI-to-country-code"] = target.to.country_code
                headers["OCPI-to-party-id"] = target.to.party_id
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body, separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(self._timeout_s):
                status, response_headers, raw = await self._exchange(
                    method, url, headers=headers, content=content, params=params
                )
        except (TimeoutError, httpx.TimeoutException):
            raise PartnerUnreachableError(
                f"{what}: timed out after {self._timeout_s:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise PartnerUnreachableError(f"{what}: {type(exc).__name__}: {exc}") from None
        log.debug(
            "ocpi call %s -> %d request_id=%s correlation_id=%s",
            what,
            status,
            headers["X-Request-ID"],
            headers["X-Correlation-ID"],
        )
        if 300 <= status < 400:
            location = response_headers.get("location", "")
            raise PartnerUnreachableError(
                f"{what}: HTTP {status} redirect to {_safe(location)!r} (never followed)"
            )
        return status, response_headers, raw

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: bytes | None,
        params: Mapping[str, str] | None,
    ) -> tuple[int, httpx.Headers, bytes]:
        request = self._http.build_request(
            method, url, headers=headers, content=content, params=params
        )
        response = await self._http.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise PartnerResponseError(
                        f"{method} {_safe(url)}: answer larger than {MAX_RESPONSE_BYTES} bytes",
                        http_status=response.status_code,
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        return response.status_code, response.headers, b"".join(chunks)

    async def _check_destination(self, url: str, hosts: frozenset[str] | None, what: _What) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise PartnerAddressRefusedError(f"{what}: not a URL") from None
        host = parsed.host.lower()
        if parsed.scheme not in ("http", "https") or not host:
            raise PartnerAddressRefusedError(f"{what}: only http(s) URLs with a host are called")
        if parsed.userinfo:
            raise PartnerAddressRefusedError(f"{what}: URLs with user info are not called")
        if hosts is not None and host not in hosts:
            raise PartnerAddressRefusedError(f"{what}: {host} is not a host the partner registered")
        if self._settings.allow_private_partner_addresses:
            return
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            try:
                addresses = await self._resolve(host, port)
            except OSError as exc:
                raise PartnerUnreachableError(f"{what}: cannot resolve {host}: {exc}") from None
        refused = [a for a in addresses if not is_public_address(a)]
        if refused or not addresses:
            raise PartnerAddressRefusedError(
                f"{what}: {host} resolves to a non-public address ({', '.join(refused) or 'none'});"
                " set ocpi.allow_private_partner_addresses to allow it"
            )


class _What:
    """``METHOD url`` for messages, made only when a message needs it (it parses the URL)."""

    __slots__ = ("method", "url")

    def __init__(self, method: str, url: str) -> None:
        self.method = method
        self.url = url

    def __str__(self) -> str:
        return f"{self.method} {_safe(self.url)}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _safe(url: str) -> str:
    """A URL for messages: without user info or query (which may hold anything)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(invalid URL)"
    return str(parsed.copy_with(query=None, fragment=None, userinfo=b""))[:255]
