"""Adapter: the credentials module in both roles, as flows run with ``OcpiClient``.

The pure handshake flows (``translate/registration.py``) are driven here and each
outcome is recorded in the ``PartnerStore``.

Receiver (a partner registers with us, ``api/credentials.py``): claim the invitation
(the persisted pending state), GET the partner's versions and details with its token,
then commit the partner, its token and our new token in one transaction, and only then
answer with our token (R-OCPI-CRED-1). Any failure releases the invitation.

Sender (``gateway partners connect`` / ``rotate`` / ``remove``): a pending partner with
our new token is stored before the first call, because the partner calls our versions
endpoint with that token while our POST is open; it becomes registered when the
partner's answer is committed, and is deleted if the handshake fails.

Token rotation, both directions (the rule ``partners rotate`` and PUT share): the new
token works from the moment it is committed; the old one keeps working until the
partner is known to hold the new one, which is when (a) our answer carrying it was
handed to a client still connected (PUT to us), (b) the partner answered our PUT
successfully (rotation from our side), or (c) the partner presents the new token. A
rotation whose answer never arrives therefore leaves both tokens valid, never none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from gateway.config import Settings
from gateway.domain.partners import (
    PartnerConflictError,
    PartnerRecord,
    PartnerState,
    PartyRole,
)
from gateway.ports import Clock
from ocpi_bridge.parties import PENDING_TTL, Invitee, Party, StaticParties, generate_token
from ocpi_bridge.ports import PartnerStore
from ocpi_bridge.push.client import OcpiClient
from ocpi_bridge.status import MethodNotAllowedError, OcpiError
from ocpi_bridge.translate.registration import (
    Flow,
    Identity,
    Offer,
    discover,
    register,
    to_link,
    unregister,
    update,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class RegistrationError(Exception):
    """An administrative registration step failed; the message says why and what to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Invitation:
    """What ``gateway partners invite`` hands to the partner, out of band."""

    versions_url: str
    token: str = field(repr=False)
    expires_at: datetime


async def run(flow: Flow[T], client: OcpiClient) -> T:
    """Drive a handshake flow: make each call it yields, send it the reply."""
    try:
        call = next(flow)
        while True:
            call = flow.send(await client.call(call))
    except StopIteration as done:
        result: T = done.value
        return result


class Registrar:
    """Registration, update and unregistration, as Receiver and as Sender."""

    def __init__(
        self,
        *,
        store: PartnerStore,
        client: OcpiClient,
        settings: Settings,
        clock: Clock,
        static: StaticParties | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._settings = settings
        self._clock = clock
        self._static = static or StaticParties((), us=self.us)

    @property
    def us(self) -> PartyRole:
        op = self._settings.operator
        return PartyRole(
            role="CPO", country_code=op.country_code, party_id=op.party_id, name=op.name
        )

    @property
    def versions_url(self) -> str:
        return self._settings.http.public_url.rstrip("/") + "/ocpi/versions"

    @property
    def identity(self) -> Identity:
        return Identity(
            versions_url=self.versions_url,
            roles=(self.us,),
            website=self._settings.operator.website,
        )

    @property
    def _required(self) -> Collection[str]:
        return self._settings.ocpi.required_partner_modules

    # --- Receiver: the partner calls our credentials endpoint ------------------------------

    async def accept_registration(self, invitee: Invitee, offer: Offer, *, version: str) -> str:
        """POST: register the Token A holder; return its new token (Token C) once committed.

        Raises:
            MethodNotAllowedError: another registration holds the invitation, or the
                partner's roles are already registered (HTTP 405).
            OcpiError: 3001, 3002 or 3003 from the handshake.
        """
        self._check_roles(offer.roles)
        invitation = invitee.invitation
        now = self._clock()
        claimed = await asyncio.to_thread(
            self._store.claim_invitation, invitation.id, now=now, stale_before=now - PENDING_TTL
        )
        if not claimed:
            raise MethodNotAllowedError("a registration with this token is already running")
        try:
            discovery = await run(
                discover(
                    offer.url,
                    offer.token,
                    version=version,
                    encodings=(invitee.encoding,),
                    required=self._required,
                ),
                self._client,
            )
            token = generate_token()
            record = await asyncio.to_thread(
                self._store.register,
                invitation.id,
                to_link(discovery, offer),
                our_roles=(self.us,),
                token=token,
                now=self._clock(),
            )
        except PartnerConflictError as exc:
            self._store.release_invitation(invitation.id)
            raise MethodNotAllowedError(str(exc)) from None
        except BaseException:
            self._store.release_invitation(invitation.id)
            raise
        log.info(
            "partner %s registered: OCPI %s, roles %s",
            record.name,
            discovery.version,
            ", ".join(r.label for r in record.roles),
        )
        return token

    async def accept_update(self, party: Party, offer: Offer, *, version: str) -> tuple[str, int]:
        """PUT: fetch the partner's endpoints again, store its new token, issue ours.

        Returns our new token and its id, to confirm once the answer has been delivered.
        """
        record = _registered(party)
        assert record.link is not None  # noqa: S101 - registered partners have a link
        self._check_roles(offer.roles)
        discovery = await run(
            discover(
                offer.url,
                offer.token,
                version=version,
                encodings=(record.link.encoding,),
                required=self._required,
            ),
            self._client,
        )
        token = generate_token()
        try:
            token_id = await asyncio.to_thread(
                self._store.update_link,
                record.id,
                to_link(discovery, offer),
                now=self._clock(),
                issue=token,
            )
        except PartnerConflictError as exc:
            raise MethodNotAllowedError(str(exc)) from None
        assert token_id is not None  # noqa: S101 - issue= always returns the new id
        log.info("partner %s updated its credentials (OCPI %s)", record.name, discovery.version)
        return token, token_id

    async def delivered(self, token_id: int) -> None:
        """Our answer carrying a new token reached the partner: its old token stops working."""
        await asyncio.to_thread(self._store.confirm_token, token_id)

    async def accept_unregister(self, party: Party) -> None:
        """DELETE: forget the partner; every token it held stops working."""
        record = _registered(party)
        await asyncio.to_thread(self._store.remove, record.name)
        log.info("partner %s unregistered itself", record.name)

    # --- administration and the Sender's side (``gateway partners``) -----------------------

    def invite(self, name: str) -> Invitation:
        """Issue a Token A for ``name``, valid for ``ocpi.token_a_ttl_h`` hours, single use."""
        now = self._clock()
        token = generate_token()
        expires_at = now + timedelta(hours=self._settings.ocpi.token_a_ttl_h)
        try:
            self._store.invite(name, token, now=now, expires_at=expires_at)
        except PartnerConflictError as exc:
            raise RegistrationError(str(exc)) from None
        log.info("invitation issued for %s, valid until %s", name, expires_at.isoformat())
        return Invitation(versions_url=self.versions_url, token=token, expires_at=expires_at)

    async def connect(self, versions_url: str, token_a: str, *, name: str) -> PartnerRecord:
        """Register with a partner that gave us its versions URL and a Token A."""
        token = generate_token()
        now = self._clock()
        try:
            pending = await asyncio.to_thread(
                self._store.begin_connection,
                name,
                token,
                now=now,
                stale_before=now - PENDING_TTL,
            )
        except PartnerConflictError as exc:
            raise RegistrationError(str(exc)) from None
        try:
            result = await run(
                register(
                    versions_url,
                    token_a,
                    ours=self.identity,
                    new_token=token,
                    required=self._required,
                ),
                self._client,
            )
        except OcpiError as exc:
            self._store.remove(name)
            raise RegistrationError(
                f"registration with {versions_url} failed: {_say(exc)}"
            ) from None
        except BaseException:
            self._store.remove(name)
            raise
        try:
            self._check_roles(result.offer.roles)
            record = await asyncio.to_thread(
                self._store.complete_connection,
                pending.id,
                result.link(),
                our_roles=(self.us,),
                now=self._clock(),
            )
        except (OcpiError, PartnerConflictError) as exc:
            # The partner registered us, but we cannot keep it: undo its side as well.
            await asyncio.to_thread(self._store.remove, name)
            with contextlib.suppress(OcpiError):
                await run(unregister(result.link()), self._client)
            raise RegistrationError(
                f"registration with {versions_url} refused: {_say(exc)}"
            ) from None
        log.info("registered with partner %s (OCPI %s)", name, record.link and record.link.version)
        return record

    async def rotate(self, name: str) -> PartnerRecord:
        """Give the partner a new token for us (PUT), and take its new token for it."""
        record = await asyncio.to_thread(self._registered_by_name, name)
        assert record.link is not None  # noqa: S101 - registered partners have a link
        token = generate_token()
        token_id = await asyncio.to_thread(
            self._store.add_token, record.id, token, now=self._clock()
        )
        try:
            result = await run(
                update(record.link, ours=self.identity, new_token=token, required=self._required),
                self._client,
            )
            self._check_roles(result.offer.roles)
            await asyncio.to_thread(
                self._store.update_link,
                record.id,
                result.link(),
                now=self._clock(),
                confirm=token_id,
            )
        except (OcpiError, PartnerConflictError) as exc:
            raise RegistrationError(
                f"rotation with {name} failed: {_say(exc)}; its current token still works"
            ) from None
        log.info("rotated tokens with partner %s", name)
        updated = await asyncio.to_thread(self._store.partner, name)
        assert updated is not None  # noqa: S101 - just updated
        return updated

    async def remove(self, name: str, *, notify: bool = True) -> str | None:
        """Forget the partner; first tell it (DELETE) when it is registered and ``notify``.

        Returns why the partner could not be told, if it could not; it is removed anyway.
        """
        record = await asyncio.to_thread(self._store.partner, name)
        problem = None
        if notify and record is not None and record.link is not None:
            try:
                await run(unregister(record.link), self._client)
            except OcpiError as exc:
                problem = _say(exc)
        if not await asyncio.to_thread(self._store.remove, name):
            raise RegistrationError(f"no partner or invitation called {name!r}")
        log.info("partner %s removed", name)
        return problem

    # --- helpers -------------------------------------------------------------------------------

    def _registered_by_name(self, name: str) -> PartnerRecord:
        record = self._store.partner(name)
        if record is None or record.state is not PartnerState.REGISTERED:
            raise RegistrationError(f"no registered partner called {name!r}")
        return record

    def _check_roles(self, roles: tuple[PartyRole, ...]) -> None:
        """Nobody may register as us, or as a partner configured in config.toml."""
        for role in roles:
            if role.is_party(self.us.country_code, self.us.party_id) or self._static.claims(role):
                raise MethodNotAllowedError(f"{role.label} is already registered")


def _registered(party: Party) -> PartnerRecord:
    if party.record is None or not party.registered:
        raise MethodNotAllowedError("not registered (partners in config.toml cannot change)")
    return party.record


def _say(exc: Exception) -> str:
    if isinstance(exc, OcpiError):
        return f"{exc.message} (OCPI {int(exc.ocpi_status)})"
    return str(exc)
