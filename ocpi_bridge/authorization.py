"""Adapter: charger authorisation of roaming drivers, and who owns their sessions.

``RoamingAuthorizer`` is the ``Authorizer``; ``RoamingTokenBook`` the ``TokenBook``.

The OCPP side asks ``RoamingAuthorizer.authorize`` for every Authorize, StartTransaction
and TransactionEvent token. The answer comes from, in order:

1. the site's own tokens (``SiteAuthorizer``, injected): accepted, billed to nobody;
2. the partners' tokens (``TokenCache``), by the whitelist rules of
   ``translate/authorization.py``; real-time requests go to the owning eMSP's
   ``POST {tokens}/{uid}/authorize`` (2.2.1 or 2.1.1) and wait at most
   ``ocpi.realtime_authorization_timeout_s``;
3. the site again for everything else (free vend, or Invalid).

With free vend on, a token its eMSP refuses still charges, billed to nobody. A partner
decision carries the partner's name as ``source`` and its ``authorization_reference``
as ``reference``; both are sealed into the transaction, and ``RoamingTokenBook`` turns
them back into the Session's and CDR's token identity.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from gateway.config import Settings
from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.partners import PartnerLink, PartnerState, PartyRole
from gateway.domain.transactions import AuthToken
from ocpi_bridge.models.common import ci_equal
from ocpi_bridge.models.tokens import LocationReferences, Token, TokenType
from ocpi_bridge.ports import PartnerStore, TokenStore
from ocpi_bridge.push.client import OcpiClient, Target
from ocpi_bridge.status import PartnerError, PartnerRejectedError, PartnerResponseError
from ocpi_bridge.tokens import TokenCache, readable
from ocpi_bridge.translate.authorization import (
    NoAnswer,
    RealtimeOutcome,
    UnknownToken,
    auth_method,
    choose_token,
    decide,
    location_references,
    needs_realtime,
    read_answer,
)
from ocpi_bridge.translate.sessions import TokenIdentity
from ocpi_bridge.translate.v211_tokens import read_v211_answer

log = logging.getLogger(__name__)

#: Sources that name no partner: nothing is billed to anyone.
NOT_A_PARTNER = frozenset({"site", "free_vend", "timeout"})


class SiteRules(Protocol):
    """The site's own authorisation (``gateway.authorization.SiteAuthorizer``)."""

    def knows(self, token: AuthToken) -> bool: ...

    async def authorize(
        self, charger_id: ChargerId, token: AuthToken, evse_uid: EvseUid | None
    ) -> AuthDecision: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    """The partner that owns a token's country_code/party_id, and how to reach it."""

    name: str
    role: PartyRole
    link: PartnerLink | None  # None for partners listed in config.toml

    def tokens_url(self) -> str | None:
        """The partner's Tokens sender (2.2.1; 2.1.1's has no role): real-time requests go there."""
        if self.link is None or self.link.version not in ("2.2.1", "2.1.1"):
            return None
        endpoint = self.link.endpoint("tokens", "SENDER")
        return None if endpoint is None else endpoint.url


class Owners:
    """Who owns a country_code/party_id: a registered partner or one from config.toml."""

    def __init__(self, partners: PartnerStore, settings: Settings) -> None:
        self._partners = partners
        self._static = settings.ocpi.static_partners

    def owner(self, country_code: str, party_id: str) -> Owner | None:
        for record in self._partners.partners():
            if record.state is not PartnerState.REGISTERED:
                continue
            for role in record.roles:
                if role.is_party(country_code, party_id):
                    return Owner(name=record.name, role=role, link=record.link)
        for p in self._static:
            role = PartyRole(role="EMSP", country_code=p.country_code, party_id=p.party_id)
            if role.is_party(country_code, party_id):
                return Owner(name=p.name, role=role, link=None)
        return None

    def roles_of(self, name: str) -> tuple[PartyRole, ...]:
        record = self._partners.partner(name)
        if record is not None and record.state is PartnerState.REGISTERED:
            return record.roles
        return tuple(
            PartyRole(role="EMSP", country_code=p.country_code, party_id=p.party_id)
            for p in self._static
            if p.name == name
        )


class RoamingAuthorizer:
    """``Authorizer``: site tokens, then partners' tokens by their whitelist, then the site."""

    def __init__(
        self,
        *,
        site: SiteRules,
        tokens: TokenCache,
        owners: Owners,
        client: OcpiClient,
        settings: Settings,
    ) -> None:
        self._site = site
        self._tokens = tokens
        self._owners = owners
        self._client = client
        self._locations = settings.locations
        self._free_vend = settings.authorization.free_vend
        self._timeout_s = settings.ocpi.realtime_authorization_timeout_s

    async def authorize(
        self, charger_id: ChargerId, token: AuthToken, evse_uid: EvseUid | None
    ) -> AuthDecision:
        if self._site.knows(token):
            return await self._site.authorize(charger_id, token, evse_uid)
        try:
            decision = await self._roaming(charger_id, token, evse_uid)
        except Exception:
            # The charger must get an answer; a failure here is ours, not the driver's.
            log.exception("roaming authorisation failed charger=%s", charger_id)
            decision = None
        if decision is None:
            return await self._site.authorize(charger_id, token, evse_uid)
        if not decision.accepted and self._free_vend:
            return AuthDecision(status=AuthStatus.ACCEPTED, source="free_vend")
        return decision

    async def _roaming(
        self, charger_id: ChargerId, presented: AuthToken, evse_uid: EvseUid | None
    ) -> AuthDecision | None:
        token = await self._tokens.find(presented)
        if token is None:
            return None
        owner = await asyncio.to_thread(self._owners.owner, token.country_code, token.party_id)
        if owner is None:
            log.info(
                "token of %s/%s belongs to no partner now; not used",
                token.country_code,
                token.party_id,
            )
            return None
        outcome: RealtimeOutcome | None = None
        if needs_realtime(token):
            refs = location_references(self._locations, charger_id, evse_uid)
            outcome = await self._ask(owner, token, refs)
        verdict = decide(token, outcome, evse_uid=evse_uid)
        log.info(
            "authorisation charger=%s partner=%s whitelist=%s status=%s (%s)",
            charger_id,
            owner.name,
            token.whitelist.value,
            verdict.status.value,
            verdict.reason,
        )
        return AuthDecision(
            status=verdict.status,
            group_id=token.group_id,
            reference=verdict.reference,
            source=owner.name,
        )

    async def _ask(
        self, owner: Owner, token: Token, refs: LocationReferences | None
    ) -> RealtimeOutcome:
        """The eMSP's real-time answer; whatever goes wrong becomes ``NoAnswer``."""
        url = owner.tokens_url()
        if url is None or owner.link is None:
            return NoAnswer(reason="the partner offers no real-time authorisation")
        target = Target.of(owner.link, to=owner.role)
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self._client.request(
                    target,
                    "POST",
                    f"{url.rstrip('/')}/{quote(token.uid, safe='')}/authorize",
                    module="tokens",
                    body=None if refs is None else refs.model_dump(mode="json", exclude_none=True),
                    params={"type": token.type.value},
                )
        except TimeoutError:
            return NoAnswer(reason=f"no answer within {self._timeout_s:g} s")
        except PartnerRejectedError as exc:
            if exc.status_code == 2004 or exc.http_status == 404:
                return UnknownToken()
            return NoAnswer(reason=str(exc))
        except PartnerResponseError as exc:
            if exc.http_status == 404:
                return UnknownToken()
            return NoAnswer(reason=str(exc))
        except PartnerError as exc:
            return NoAnswer(reason=str(exc))
        if owner.link.version == "2.1.1":
            # 2.1.1 answers carry no reference: one is minted so the decision is the eMSP's.
            answered_211 = read_v211_answer(answer.envelope.data, reference=str(uuid.uuid4()))
            if answered_211 is None:
                return NoAnswer(reason="the answer is not a 2.1.1 AuthorizationInfo")
            return answered_211
        read = read_answer(answer.envelope.data)
        if read is None:
            return NoAnswer(reason="the answer is not an AuthorizationInfo")
        answered, latest = read
        await self._remember(owner, token, latest)
        return answered

    async def _remember(self, owner: Owner, asked: Token, latest: Token) -> None:
        """Keep the token the eMSP returned, if it is the one asked about and its own."""
        same = (
            owner.role.is_party(latest.country_code, latest.party_id)
            and ci_equal(latest.uid, asked.uid)
            and latest.type is asked.type
        )
        if same and latest.last_updated > asked.last_updated:
            await self._tokens.put(latest, if_newer=True)


class RoamingTokenBook:
    """``TokenBook``: the partner token behind a transaction's token and authorisation."""

    def __init__(self, store: TokenStore, owners: Owners) -> None:
        self._store = store
        self._owners = owners

    def identity(
        self, token: AuthToken, *, auth_source: str | None, auth_reference: str | None
    ) -> TokenIdentity | None:
        if auth_source is None or auth_source in NOT_A_PARTNER:
            return None
        roles = self._owners.roles_of(auth_source)
        if not roles:
            return None
        candidates = [
            t
            for t in readable(self._store.tokens_for(token.value))
            if any(r.is_party(t.country_code, t.party_id) for r in roles)
        ]
        found = choose_token(candidates, token)
        if found is None:
            return None
        return identity_of(found, auth_reference=auth_reference)


def identity_of(token: Token, *, auth_reference: str | None) -> TokenIdentity:
    return TokenIdentity(
        country_code=token.country_code,
        party_id=token.party_id,
        uid=token.uid,
        type=TokenType(token.type),
        contract_id=token.contract_id,
        auth_method=auth_method(auth_reference),
        authorization_reference=auth_reference,
    )
