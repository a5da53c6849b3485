"""Adapter: FastAPI dependencies: the context, who is calling, routing, pages, bodies.

- ``CallerDep``: any valid token, Token A included (versions and credentials only).
- ``PartyDep``: a registered partner, for 2.2.1 functional modules; also checks the
  routing headers against the caller's roles and ours, and records the answer's routing
  headers (FROM us, TO the caller) for ``api.app`` to add to the response.
- ``Party211Dep``: a registered partner, for 2.1.1 functional modules (no routing headers).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ValidationError

from gateway.domain.partners import PartyRole
from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.api.envelope import describe_errors
from ocpi_bridge.models.common import ci_equal, parse_datetime
from ocpi_bridge.parties import Caller, Party
from ocpi_bridge.status import (
    InvalidJsonError,
    InvalidParametersError,
    NotFoundError,
    UnauthorizedError,
)
from ocpi_bridge.translate.pagination import PageRequest

M = TypeVar("M", bound=BaseModel)

_COUNTRY = re.compile(r"^[\x21-\x7e]{2}$")
_PARTY = re.compile(r"^[\x21-\x7e]{3}$")


def get_context(request: Request) -> OcpiContext:
    ctx = request.app.state.ocpi
    assert isinstance(ctx, OcpiContext)  # noqa: S101 - set by create_app
    return ctx


ContextDep = Annotated[OcpiContext, Depends(get_context)]


def get_caller(request: Request, ctx: ContextDep) -> Caller:
    """Whoever the token belongs to; HTTP 401 for a missing, malformed or unknown token."""
    caller = ctx.parties.authenticate(request.headers.get("Authorization"))
    if caller is None:
        raise UnauthorizedError("missing, malformed or unknown credentials token")
    request.state.caller_name = getattr(caller, "name", None) or "(token A)"
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """The routing headers of an answer: FROM the party answering, TO the party that asked."""

    from_country_code: str
    from_party_id: str
    to_country_code: str
    to_party_id: str

    def headers(self) -> dict[str, str]:
        return {
            "OCPI-from-country-code": self.from_country_code,
            "OCPI-from-party-id": self.from_party_id,
            "OCPI-to-country-code": self.to_country_code,
            "OCPI-to-party-id": self.to_party_id,
        }


def routing_for(request: Request, party: Party) -> Routing:
    """Check a functional request's routing headers (R-OCPI-RT-1) and address the answer.

    Absent headers are allowed (a direct connection needs none). Present ones must come
    in pairs, be CiString(2)/(3), name one of the caller's roles (FROM) and one of ours
    (TO); a party the caller does not own is answered 404, as for foreign objects.
    """
    requester = _pair(request, "from")
    addressee = _pair(request, "to")
    if requester is not None and not party.owns(*requester):
        raise NotFoundError(f"{'/'.join(requester)} is not one of your registered roles")
    if addressee is not None and not any(r.is_party(*addressee) for r in party.our_roles):
        raise NotFoundError(f"no party {'/'.join(addressee)} on this platform")
    answering = _find(party.our_roles, addressee)
    asking = _find(party.roles, requester)
    return Routing(
        from_country_code=answering.country_code,
        from_party_id=answering.party_id,
        to_country_code=asking.country_code,
        to_party_id=asking.party_id,
    )


def _registered(caller: Caller) -> Party:
    """A registered partner (HTTP 401 for Token A or a registration still running)."""
    if not isinstance(caller, Party) or not caller.registered:
        raise UnauthorizedError("this token opens only the versions and credentials modules")
    return caller


def get_party(request: Request, caller: CallerDep) -> Party:
    """A registered partner on a 2.2.1 functional module, its routing headers checked."""
    party = _registered(caller)
    request.state.routing = routing_for(request, party)
    return party


PartyDep = Annotated[Party, Depends(get_party)]


def get_party_211(caller: CallerDep) -> Party:
    """A registered partner on a 2.1.1 functional module: 2.1.1 has no routing headers."""
    return _registered(caller)


Party211Dep = Annotated[Party, Depends(get_party_211)]


def owners_of(party: Party) -> list[tuple[str, str]]:
    """The parties whose Sessions and CDRs the caller may see: its own roles (R-PRIV-4)."""
    return [(r.country_code, r.party_id) for r in party.roles]


def _pair(request: Request, direction: str) -> tuple[str, str] | None:
    country = request.headers.get(f"OCPI-{direction}-country-code")
    party = request.headers.get(f"OCPI-{direction}-party-id")
    if country is None and party is None:
        return None
    if country is None or party is None:
        raise InvalidParametersError(
            f"OCPI-{direction}-country-code and OCPI-{direction}-party-id go together"
        )
    if not _COUNTRY.fullmatch(country) or not _PARTY.fullmatch(party):
        raise InvalidParametersError(
            f"OCPI-{direction}-country-code must be CiString(2), OCPI-{direction}-party-id"
            " CiString(3)"
        )
    return country, party


def _find(roles: tuple[PartyRole, ...], wanted: tuple[str, str] | None) -> PartyRole:
    if wanted is not None:
        for role in roles:
            if role.is_party(*wanted):
                return role
    return roles[0]


def require_owner(party: Party, country_code: str, party_id: str) -> None:
    """A Client Owned Object URL must name one of the caller's roles; else HTTP 404."""
    if not party.owns(country_code, party_id):
        raise NotFoundError(f"{country_code}/{party_id} is not one of your registered roles")


def require_same_id(name: str, in_url: str, in_body: str) -> None:
    """A pushed object's id must be the id in its URL (transport_and_format: 2001)."""
    if not ci_equal(in_url, in_body):
        raise InvalidParametersError(f"{name}: {in_body!r} in the body, {in_url!r} in the URL")


async def read_body(request: Request, model: type[M]) -> M:
    """The request body as ``model``: HTTP 400 if it is not JSON, OCPI 2001 if it does not fit.

    Read after authentication (unlike a FastAPI body parameter), so a request without a
    token gets its 401 whatever its body.
    """
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidJsonError("request body is not valid JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidParametersError(describe_errors(exc.errors())) from None


def _when(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise InvalidParametersError(f"{name}: not an OCPI DateTime: {value!r}") from None


def get_page(
    ctx: ContextDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=1)] = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> PageRequest:
    cap = ctx.settings.ocpi.max_page_limit
    return PageRequest(
        offset=offset,
        limit=min(limit or cap, cap),
        date_from=_when("date_from", date_from),
        date_to=_when("date_to", date_to),
    )


PageDep = Annotated[PageRequest, Depends(get_page)]
