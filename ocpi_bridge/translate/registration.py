"""Pure: the credentials handshake (credentials.asciidoc) as generator flows.

A flow yields the :class:`HttpCall` it needs made and receives the :class:`HttpReply`;
a runner (``ocpi_bridge.registrar``) does the I/O, so every decision here is tested by
feeding canned replies. Flows raise the OCPI error the spec prescribes:

- 3001 (:class:`ClientApiUnusableError`): a call failed or answered something unusable;
- 3002 (:class:`UnsupportedVersionError`): no version in common;
- 3003 (:class:`NoMatchingEndpointsError`): a required module is missing.

``discover`` is what a Receiver does inside a POST or PUT to its credentials endpoint;
``register`` and ``update`` are the Sender's side (``gateway partners connect`` /
``rotate``): discover, then POST or PUT our credentials; ``unregister`` is the DELETE.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.domain.partners import PartnerEndpoint, PartnerLink, PartyRole, TokenEncoding
from ocpi_bridge.models.common import Envelope, Role
from ocpi_bridge.models.credentials import Credentials, CredentialsRole
from ocpi_bridge.models.locations import BusinessDetails
from ocpi_bridge.models.v211 import V211Credentials, V211VersionDetails
from ocpi_bridge.models.versions import Version, VersionDetails
from ocpi_bridge.status import (
    ClientApiUnusableError,
    NoMatchingEndpointsError,
    UnsupportedVersionError,
)

T = TypeVar("T")

V221 = "2.2.1"
V211 = "2.1.1"
#: The versions we speak, best first: a Sender picks the first one the partner lists.
SUPPORTED_VERSIONS: tuple[str, ...] = (V221, V211)
#: Both sides of a credentials handshake need the other's credentials endpoint.
ALWAYS_REQUIRED: tuple[str, ...] = ("credentials",)

Method = Literal["GET", "POST", "PUT", "DELETE"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCall:
    """One request to the partner, authenticated with ``token`` sent as ``encoding`` says."""

    method: Method
    url: str
    token: str = field(repr=False)
    encoding: TokenEncoding
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpReply:
    """The partner's answer, or ``failure`` when there was none worth reading."""

    status: int = 0
    body: bytes = b""
    failure: str | None = None  # refused address, DNS, connection, timeout, redirect


Flow = Generator[HttpCall, HttpReply, T]


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who we are in a Credentials object: our versions URL, roles and website."""

    versions_url: str
    roles: tuple[PartyRole, ...]
    website: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """A partner's Credentials object, whatever its version."""

    token: str = field(repr=False)
    url: str
    roles: tuple[PartyRole, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovery:
    """The version chosen, how the partner takes its token, and its endpoints there."""

    version: str
    versions_url: str
    encoding: TokenEncoding
    endpoints: tuple[PartnerEndpoint, ...]
    credentials_url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered:
    """What a Sender learns: the partner's endpoints and its new credentials for us."""

    discovery: Discovery
    offer: Offer

    def link(self) -> PartnerLink:
        return to_link(self.discovery, self.offer)


# --- Credentials objects ------------------------------------------------------------


def from_credentials(credentials: Credentials) -> Offer:
    return Offer(
        token=credentials.token,
        url=credentials.url,
        roles=tuple(
            PartyRole(
                role=r.role.value,
                country_code=r.country_code,
                party_id=r.party_id,
                name=r.business_details.name,
            )
            for r in credentials.roles
        ),
    )


def from_v211_credentials(credentials: V211Credentials) -> Offer:
    """2.1.1 Credentials name one party and no role; the counterpart of a CPO is an eMSP."""
    return Offer(
        token=credentials.token,
        url=credentials.url,
        roles=(
            PartyRole(
                role=Role.EMSP.value,
                country_code=credentials.country_code,
                party_id=credentials.party_id,
                name=credentials.business_details.name,
            ),
        ),
    )


def to_credentials(ours: Identity, token: str, version: str) -> dict[str, Any]:
    """Our Credentials object carrying ``token``, in the shape of ``version``."""
    if version == V211:
        role = ours.roles[0]
        model: BaseModel = V211Credentials(
            token=token,
            url=ours.versions_url,
            business_details=BusinessDetails(name=role.name, website=ours.website),
            party_id=role.party_id,
            country_code=role.country_code,
        )
    else:
        model = Credentials(
            token=token,
            url=ours.versions_url,
            roles=[
                CredentialsRole(
                    role=Role(r.role),
                    business_details=BusinessDetails(name=r.name, website=ours.website),
                    party_id=r.party_id,
                    country_code=r.country_code,
                )
                for r in ours.roles
            ],
        )
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped


def to_link(discovery: Discovery, offer: Offer) -> PartnerLink:
    return PartnerLink(
        version=discovery.version,
        versions_url=offer.url,
        token=offer.token,
        encoding=discovery.encoding,
        roles=offer.roles,
        endpoints=discovery.endpoints,
    )


# --- flows ------------------------------------------------------------------------------


def discover(
    versions_url: str,
    token: str,
    *,
    version: str | None,
    encodings: Sequence[TokenEncoding],
    required: Collection[str] = (),
) -> Flow[Discovery]:
    """GET the partner's versions and the details of one version; check its endpoints.

    Args:
        versions_url: the partner's versions endpoint.
        token: the token the partner gave us (Token A, B or C).
        version: the version to use (a Receiver uses the version of the credentials
            endpoint that was called), or ``None`` for the best one in common.
        encodings: the token encodings to try, in order; the next is tried only when
            the partner answers HTTP 401 (the spec's "trial and error"). When the
            first one was accepted, the version's own encoding is preferred from the
            details on: raw for 2.1.1, Base64 for 2.2.1.
        required: modules the partner must offer besides ``credentials``.
    """
    versions_reply, encoding = yield from _get_trying(versions_url, token, encodings)
    versions = _data(versions_reply, Envelope[list[Version]], f"GET {versions_url}")
    chosen = _choose(versions, version)
    native = TokenEncoding.RAW if chosen.version == V211 else TokenEncoding.BASE64
    if encoding is encodings[0] and native is not encoding and native in encodings:
        order: Sequence[TokenEncoding] = (native, encoding)
    else:
        order = (encoding,)
    details_reply, encoding = yield from _get_trying(chosen.url, token, order)
    endpoints = _endpoints(details_reply, chosen)
    offered = {ep.module: ep.url for ep in reversed(endpoints)}
    missing = [m for m in (*ALWAYS_REQUIRED, *required) if m not in offered]
    if missing:
        raise NoMatchingEndpointsError(
            f"version {chosen.version} of the partner lacks {', '.join(missing)}"
        )
    return Discovery(
        version=str(chosen.version),
        versions_url=versions_url,
        encoding=encoding,
        endpoints=endpoints,
        credentials_url=offered["credentials"],
    )


def _get_trying(
    url: str, token: str, encodings: Sequence[TokenEncoding]
) -> Flow[tuple[HttpReply, TokenEncoding]]:
    """GET ``url`` with each encoding in turn until one is not answered with HTTP 401."""
    reply = HttpReply()
    encoding = encodings[0]
    for encoding in encodings:
        reply = yield HttpCall(method="GET", url=url, token=token, encoding=encoding)
        if reply.status != 401:
            break
    return reply, encoding


def register(
    versions_url: str,
    token_a: str,
    *,
    ours: Identity,
    new_token: str,
    required: Collection[str] = (),
) -> Flow[Registered]:
    """The Sender's registration: discover with Token A, POST our credentials, read theirs."""
    discovery = yield from discover(
        versions_url,
        token_a,
        version=None,
        encodings=(TokenEncoding.BASE64, TokenEncoding.RAW),
        required=required,
    )
    offer = yield from _exchange("POST", discovery, token_a, ours=ours, new_token=new_token)
    return Registered(discovery=discovery, offer=offer)


def update(
    link: PartnerLink,
    *,
    ours: Identity,
    new_token: str,
    required: Collection[str] = (),
) -> Flow[Registered]:
    """The Sender's update: discover again with the partner's token, PUT our new credentials."""
    discovery = yield from discover(
        link.versions_url, link.token, version=None, encodings=(link.encoding,), required=required
    )
    offer = yield from _exchange("PUT", discovery, link.token, ours=ours, new_token=new_token)
    return Registered(discovery=discovery, offer=offer)


def unregister(link: PartnerLink) -> Flow[None]:
    """DELETE our credentials at the partner: both sides stop calling each other."""
    endpoint = link.endpoint("credentials")
    if endpoint is None:
        raise NoMatchingEndpointsError("the partner has no credentials endpoint")
    reply = yield HttpCall(
        method="DELETE", url=endpoint.url, token=link.token, encoding=link.encoding
    )
    _envelope(reply, Envelope[Any], f"DELETE {endpoint.url}")


def _exchange(
    method: Method, discovery: Discovery, token: str, *, ours: Identity, new_token: str
) -> Flow[Offer]:
    url = discovery.credentials_url
    reply = yield HttpCall(
        method=method,
        url=url,
        token=token,
        encoding=discovery.encoding,
        body=to_credentials(ours, new_token, discovery.version),
    )
    what = f"{method} {url}"
    if discovery.version == V211:
        return from_v211_credentials(_data(reply, Envelope[V211Credentials], what))
    return from_credentials(_data(reply, Envelope[Credentials], what))


# --- reading replies ----------------------------------------------------------------------


def _data(reply: HttpReply, model: type[Envelope[T]], what: str) -> T:
    """The ``data`` of a successful envelope, or 3001 saying what went wrong."""
    data = _envelope(reply, model, what).data
    if data is None:
        raise ClientApiUnusableError(f"{what}: the answer has no data")
    return data


def _envelope(reply: HttpReply, model: type[Envelope[T]], what: str) -> Envelope[T]:
    if reply.failure is not None:
        raise ClientApiUnusableError(f"{what}: {reply.failure}")
    if reply.status == 401:
        raise ClientApiUnusableError(f"{what}: HTTP 401, the partner refused the token")
    try:
        envelope = model.model_validate_json(reply.body)
    except ValidationError as exc:
        if reply.status != 200:
            raise ClientApiUnusableError(f"{what}: HTTP {reply.status}") from None
        raise ClientApiUnusableError(f"{what}: not a valid answer: {_first(exc)}") from None
    if not 1000 <= envelope.status_code < 2000:
        message = f": {envelope.status_message}" if envelope.status_message else ""
        raise ClientApiUnusableError(
            f"{what}: HTTP {reply.status}, status_code {envelope.status_code}{message}"
        )
    return envelope


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def _choose(versions: list[Version], wanted: str | None) -> Version:
    listed = {str(v.version): v for v in versions}
    for candidate in (wanted,) if wanted else SUPPORTED_VERSIONS:
        if candidate in listed:
            return listed[candidate]
    offered = ", ".join(sorted(listed)) or "none"
    ask = wanted or " or ".join(SUPPORTED_VERSIONS)
    raise UnsupportedVersionError(f"the partner offers versions {offered}, we need {ask}")


def _endpoints(reply: HttpReply, chosen: Version) -> tuple[PartnerEndpoint, ...]:
    what = f"GET {chosen.url}"
    if chosen.version == V211:
        old = _data(reply, Envelope[V211VersionDetails], what)
        if old.version != chosen.version:
            raise ClientApiUnusableError(f"{what}: details of version {old.version}")
        return tuple(
            PartnerEndpoint(module=str(ep.identifier), role=None, url=ep.url)
            for ep in old.endpoints
        )
    new = _data(reply, Envelope[VersionDetails], what)
    if new.version != chosen.version:
        raise ClientApiUnusableError(f"{what}: details of version {new.version}")
    return tuple(
        PartnerEndpoint(module=str(ep.identifier), role=ep.role.value, url=ep.url)
        for ep in new.endpoints
    )
