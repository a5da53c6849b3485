"""Adapter: remote control: partners' commands and charging profiles become charger calls.

One command's life (mod_commands §Flow, R-OCPI-CMD-1/2)::

    POST/PUT/GET/DELETE -> (pure) resolve and check -> record -> answer ACCEPTED + timeout
        background: ChargerLink.send -> settle the result (the first one wins)
                    -> POST it to response_url (bounded retries) -> delivered | undeliverable
    restart -> each command recorded but never delivered gets its result posted: the one
               decided before the restart, else TIMEOUT (the charger's answer was lost
               with its connection), or ACCEPTED for a START_SESSION whose session began

The HTTP answer never waits for a charger. Nothing is recorded or sent for a command
that is refused at once (unknown place, foreign token, charger offline, a
``response_url`` off the partner's registered hosts).

How a START_SESSION (or a reservation) finds the session it leads to, without the
charger's help:

1. :class:`CommandAuthorizer` wraps the site's ``Authorizer``: a token a partner sent in
   a START_SESSION or RESERVE_NOW is accepted at that charger/EVSE for 15 minutes without
   asking anyone (mod_commands: no real-time authorisation then), and the decision names
   the partner (``source``) and its ``authorization_reference`` (``reference``). The OCPP
   handlers put both on the transaction (``Transaction.auth_source``/``auth_reference``),
   so a session is the partner's from its first event, whatever happens next.
2. When a transaction first appears (``Runtime.on_effect``), it is matched to the
   command (2.0.1: the ``transactionId`` the charger answered, or ``remoteStartId``;
   1.6: same EVSE and token within 15 minutes after the command, whatever the result)
   or to the reservation it consumes, and a :class:`~gateway.domain.remote.SessionLink`
   is stored: session id, partner, the command's full token, reference.
3. The Sessions and CDRs modules read the link (``SessionLinks.link_for``) or ask
   :class:`CommandTokenBook` (a ``TokenBook`` in front of the tokens module's): the
   session then carries the command's token with auth method COMMAND.

The Session a partner sees before the transaction exists (DESIGN.md §4, mod_sessions
SessionStatus):

- A START_SESSION that names an EVSE opens a PENDING Session when it is recorded (same
  database transaction), with the command's token (auth COMMAND), its
  ``authorization_reference``, the place it named, kwh 0, ``start_date_time`` = when it
  was received. The transaction that answers it takes its id when the transaction is
  sealed (inside the commit that stores the start, before any listener runs), so the
  partner sees one Session go PENDING -> ACTIVE -> COMPLETED. The matching is the link's
  (above), including a start after a TIMEOUT within the 15 minutes.
- It becomes INVALID when the command ends without a transaction: the charger answered
  anything but ACCEPTED or TIMEOUT (REJECTED, FAILED, EVSE_OCCUPIED, ...), or no
  transaction took it within 15 minutes of its receipt (after ACCEPTED or TIMEOUT;
  checked by the reservation sweep, so up to a sweep interval later). INVALID is final:
  a transaction never takes an INVALID Session (it gets its own id), nothing is billed.
- A RESERVE_NOW that names an EVSE opens a PENDING Session too; it shows RESERVATION
  once the charger holds the reservation, is taken (same id) by the reserved token's
  start, and becomes INVALID when the reservation is rejected, cancelled (by the
  partner or the CPO), expires, or is used by a transaction that did not take it. A
  reservation is not billed: the tariff's RESERVATION dimension is not applied, and a
  Session that stays a reservation has no CDR.
- A START_SESSION with the token of a reservation the same partner holds on that EVSE
  opens no second Session: the reservation's continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from gateway.config import EvseSettings, Settings
from gateway.core.effects import Effect, EvseChanged, NoteRecorded, TransactionChanged
from gateway.domain.authorization import AuthDecision
from gateway.domain.commands import (
    CancelReservation as CancelReservationCall,
    ChargerCommand,
    ClearChargingProfile,
    CommandOutcome,
    GetCompositeSchedule,
    OutcomeStatus,
    ProfilePurpose,
    ReserveNow as ReserveNowCall,
    SetChargingProfile,
    StartCharging,
    StopCharging,
    TriggerMessage,
    UnlockConnector as UnlockConnectorCall,
)
from gateway.domain.delivery import PENDING_WINDOW, PendingKind, PendingSession
from gateway.domain.events import LimitChanged, ReservationReleased
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.remote import (
    PartnerToken,
    RemoteCommand,
    RemoteKind,
    RemoteState,
    Reservation,
    ReservationState,
)
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, Transaction
from gateway.ports import Authorizer, ChargerLink, Clock, SiteView
from ocpi_bridge.models.charging_profiles import (
    ActiveChargingProfileResult,
    ChargingProfileResult,
    ChargingProfileResultType,
    ClearProfileResult,
    SetChargingProfile as SetChargingProfileBody,
)
from ocpi_bridge.models.commands import (
    CancelReservation,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi_bridge.models.common import ci_equal
from ocpi_bridge.parties import Party
from ocpi_bridge.ports import CommandLog, PartnerStore, RemoteStore, RunningTransactions, TokenBook
from ocpi_bridge.push.client import OcpiClient, Target
from ocpi_bridge.status import (
    OcpiStatus,
    PartnerAddressRefusedError,
    PartnerError,
    PartnerResponseError,
    PartnerUnreachableError,
)
from ocpi_bridge.translate import charging_profiles as profiles, commands as t
from ocpi_bridge.translate.commands import Place, Refusal
from ocpi_bridge.translate.delivery import pending_site, to_pending_session
from ocpi_bridge.translate.sessions import TokenIdentity, session_id as session_id_of
from ocpi_bridge.translate.v211_commands import to_v211_result

log = logging.getLogger(__name__)

#: Delays before the second and later attempts to POST a result (then it is given up).
DELIVERY_DELAYS_S: tuple[float, ...] = (1.0, 5.0)
#: How far ahead the ActiveChargingProfile sent on a change reaches (spec: 5 to 60 min).
ACTIVE_PROFILE_PUSH_S = 3600
#: Transactions remembered as already considered for linking (a bound, not a window).
_CONSIDERED_MAX = 10_000

_PROFILE_KINDS = (RemoteKind.SET_PROFILE, RemoteKind.GET_PROFILE, RemoteKind.CLEAR_PROFILE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """The command was recorded and goes to the charger; its result follows within ``timeout``."""

    timeout: int


Reply = Accepted | Refusal


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Who a command is from, and so whom its result is addressed to."""

    partner: str
    country_code: str
    party_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Sender:
    """The partner a request came from, and the role it spoke as (its FROM routing headers)."""

    party: Party
    country_code: str
    party_id: str

    @property
    def name(self) -> str:
        return self.party.name

    @property
    def origin(self) -> Origin:
        return Origin(
            partner=self.party.name, country_code=self.country_code, party_id=self.party_id
        )


Opener = Callable[[Any], PendingSession | None]


class SessionOpeningStore(RemoteStore, Protocol):
    """``RemoteStore`` that also keeps the Sessions commands open (``SqlCommands``)."""

    def record(self, command: RemoteCommand, *, opens: Opener | None = None) -> RemoteCommand:
        """Store a command, and the pending session ``opens`` builds from it, together."""
        ...

    def reserve(self, reservation: Reservation, *, opens: Opener | None = None) -> Reservation:
        """Store (or replace) a reservation, and the pending session ``opens`` builds."""
        ...

    def end_pending(self, kind: PendingKind, source_id: int, *, now: datetime) -> bool:
        """The command will lead to no transaction: its pending session is INVALID."""
        ...

    def expire_pending(self, started_before: datetime, *, now: datetime) -> int:
        """START_SESSION sessions no transaction took in time become INVALID."""
        ...

    def sealed_session_ids(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The sealed Session id of each (charger, transaction id) that has one."""
        ...


#: Results after which a START_SESSION cannot lead to a transaction any more (TIMEOUT can:
#: the charger may still start within the window).
_ACCEPTED_OR_TIMEOUT = (CommandResultType.ACCEPTED.value, CommandResultType.TIMEOUT.value)


def _body(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _refused(message: str, response: CommandResponseType) -> Refusal:
    return Refusal(message=message, response=response)


class RemoteControl:
    """Runs partners' commands and charging profile requests against the chargers."""

    def __init__(
        self,
        *,
        store: SessionOpeningStore,
        transactions: RunningTransactions,
        site: SiteView,
        link: ChargerLink,
        client: OcpiClient,
        partners: PartnerStore,
        settings: Settings,
        clock: Clock,
        call_timeout_s: float,
        delivery_delays_s: Sequence[float] = DELIVERY_DELAYS_S,
        hints: LinkHints | None = None,
    ) -> None:
        self._store = store
        self._hints = hints
        self._transactions = transactions
        self._site = site
        self._link = link
        self._client = client
        self._partners = partners
        self._settings = settings
        self._topology = settings.topology()
        self._clock = clock
        self._call_timeout_s = call_timeout_s
        self._delays = tuple(delivery_delays_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self._considered: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._running = False
        #: Called (on the event loop) after a Session a command opened changed in the store:
        #: the pusher's ``wake``, so the partner hears of it without waiting for a sweep.
        self.on_session_change: Callable[[], None] | None = None

    def _session_changed(self) -> None:
        if self.on_session_change is not None:
            self.on_session_change()

    @property
    def timeout_s(self) -> int:
        """What a partner is told to wait: the charger's answer, then one POST of the result."""
        return math.ceil(self._call_timeout_s + self._settings.ocpi.partner_timeout_s)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Deliver what a previous run recorded but never delivered."""
        self._running = True
        for command in await asyncio.to_thread(self._store.unfinished):
            self._spawn(self._recover(command), f"recover-{command.id}")

    async def stop(self) -> None:
        """Abandon what is in flight; the next start delivers it (nothing is lost)."""
        self._running = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def idle(self) -> None:
        """Wait until nothing is in flight (for tests and orderly hand-overs)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, object], name: str) -> None:
        if not self._running:
            work.close()
            return
        task = asyncio.create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Awaitable[object], name: str) -> None:
        try:
            await work
        except Exception:  # a task must never die silently; the next start recovers its work
            log.exception("remote control task %s failed", name)

    # --- Commands module -------------------------------------------------------------------

    async def start_session(self, sender: Sender, body: StartSession) -> Reply:
        refusal = self._check_url(sender, body.response_url)
        if refusal is not None:
            return refusal
        place = t.find_place(
            self._settings.locations,
            self._topology,
            kind=RemoteKind.START_SESSION,
            location_id=body.location_id,
            evse_uid=body.evse_uid,
            connector_id=body.connector_id,
        )
        if isinstance(place, Refusal):
            return place
        if not sender.party.owns(body.token.country_code, body.token.party_id):
            return _refused("the token belongs to another party", CommandResponseType.REJECTED)
        if (offline := self._offline(place.charger_id)) is not None:
            return offline
        token = t.partner_token(body.token)
        reserved = await self._reserved_for(sender, place, token)
        command = await self._record(
            sender.origin,
            RemoteKind.START_SESSION,
            body.response_url,
            place.charger_id,
            opens=None
            if reserved
            else self._opener(PendingKind.START, place, token, body.authorization_reference),
            evse_uid=place.evse_uid,
            connector=place.connector,
            token=token,
            authorization_reference=body.authorization_reference,
        )
        order = StartCharging(
            token=t.auth_token(token),
            connector=place.connector,
            remote_start_id=t.charger_int_id(command.id),
        )
        self._spawn(self._run(command, order), f"command-{command.id}")
        return Accepted(timeout=self.timeout_s)

    async def stop_session(self, sender: Sender, body: StopSession) -> Reply:
        refusal = self._check_url(sender, body.response_url)
        if refusal is not None:
            return refusal
        found = await self._session(sender, body.session_id, RemoteKind.STOP_SESSION)
        if isinstance(found, Refusal):
            return found
        tx, sid = found
        command = await self._record(
            sender.origin,
            RemoteKind.STOP_SESSION,
            body.response_url,
            tx.charger_id,
            evse_uid=tx.evse_uid,
            connector=tx.connector,
            session_id=sid,
            tx_id=tx.tx_id,
        )
        self._spawn(self._run(command, StopCharging(tx_id=tx.tx_id)), f"command-{command.id}")
        return Accepted(timeout=self.timeout_s)

    async def reserve_now(self, sender: Sender, body: ReserveNow) -> Reply:
        refusal = self._check_url(sender, body.response_url)
        if refusal is not None:
            return refusal
        now = self._clock()
        if body.expiry_date <= now:
            return Refusal(
                message="expiry_date is not in the future", status=OcpiStatus.INVALID_PARAMETERS
            )
        place = t.find_place(
            self._settings.locations,
            self._topology,
            kind=RemoteKind.RESERVE_NOW,
            location_id=body.location_id,
            evse_uid=body.evse_uid,
        )
        if isinstance(place, Refusal):
            return place
        if not sender.party.owns(body.token.country_code, body.token.party_id):
            return _refused("the token belongs to another party", CommandResponseType.REJECTED)
        if (offline := self._offline(place.charger_id)) is not None:
            return offline
        token = t.partner_token(body.token)
        opens = self._opener(PendingKind.RESERVATION, place, token, body.authorization_reference)
        reservation = await asyncio.to_thread(
            self._store.reserve,
            Reservation(
                partner=sender.name,
                country_code=sender.country_code,
                party_id=sender.party_id,
                reservation_id=body.reservation_id,
                location_id=place.location.id,
                charger_id=place.charger_id,
                evse_uid=place.evse_uid,
                connector=place.connector,
                token=token,
                authorization_reference=body.authorization_reference,
                expires_at=body.expiry_date,
                received_at=now,
                response_url=body.response_url,
            ),
            opens=opens,
        )
        self._session_changed()
        charger_reservation = t.charger_int_id(reservation.id)
        command = await self._record(
            sender.origin,
            RemoteKind.RESERVE_NOW,
            body.response_url,
            place.charger_id,
            evse_uid=place.evse_uid,
            connector=place.connector,
            token=token,
            authorization_reference=body.authorization_reference,
            reservation_id=reservation.id,
        )
        order = ReserveNowCall(
            reservation_id=charger_reservation,
            connector=place.connector,
            token=t.auth_token(token),
            expires_at=body.expiry_date,
            group_id=token.group_id,
        )
        self._spawn(self._run(command, order), f"command-{command.id}")
        return Accepted(timeout=self.timeout_s)

    async def cancel_reservation(self, sender: Sender, body: CancelReservation) -> Reply:
        refusal = self._check_url(sender, body.response_url)
        if refusal is not None:
            return refusal
        reservation = await asyncio.to_thread(
            self._store.find_reservation,
            sender.country_code,
            sender.party_id,
            body.reservation_id,
        )
        if reservation is None:
            # No OCPP call: the answer is known. It can only be told through the result.
            result = t.unknown_reservation_result(body.reservation_id)
            command = await self._record(
                sender.origin,
                RemoteKind.CANCEL_RESERVATION,
                body.response_url,
                ChargerId(""),
                state=RemoteState.ANSWERED,
                result=result,
            )
            self._spawn(self._deliver(command, _body(result)), f"deliver-{command.id}")
            return Accepted(timeout=self.timeout_s)
        if (offline := self._offline(reservation.charger_id)) is not None:
            return offline
        command = await self._record(
            sender.origin,
            RemoteKind.CANCEL_RESERVATION,
            body.response_url,
            reservation.charger_id,
            evse_uid=reservation.evse_uid,
            connector=reservation.connector,
            reservation_id=reservation.id,
        )
        order = CancelReservationCall(reservation_id=t.charger_int_id(reservation.id))
        self._spawn(self._run(command, order), f"command-{command.id}")
        return Accepted(timeout=self.timeout_s)

    async def unlock_connector(self, sender: Sender, body: UnlockConnector) -> Reply:
        refusal = self._check_url(sender, body.response_url)
        if refusal is not None:
            return refusal
        place = t.find_place(
            self._settings.locations,
            self._topology,
            kind=RemoteKind.UNLOCK_CONNECTOR,
            location_id=body.location_id,
            evse_uid=body.evse_uid,
            connector_id=body.connector_id,
        )
        if isinstance(place, Refusal):
            return place
        if (offline := self._offline(place.charger_id)) is not None:
            return offline
        assert place.connector is not None  # noqa: S101 - an EVSE was named, so a connector
        command = await self._record(
            sender.origin,
            RemoteKind.UNLOCK_CONNECTOR,
            body.response_url,
            place.charger_id,
            evse_uid=place.evse_uid,
            connector=place.connector,
        )
        order = UnlockConnectorCall(connector=place.connector)
        self._spawn(self._run(command, order), f"command-{command.id}")
        return Accepted(timeout=self.timeout_s)

    # --- ChargingProfiles module -------------------------------------------------------------

    async def set_profile(
        self, sender: Sender, session_id: str, body: SetChargingProfileBody
    ) -> Reply:
        problem = profiles.check_profile(body.charging_profile)
        if problem is not None:
            return Refusal(message=problem, status=OcpiStatus.INVALID_PARAMETERS)
        refusal = self._check_url(sender, body.response_url)
        if refusal is not None:
            return refusal
        found = await self._session(sender, session_id, RemoteKind.SET_PROFILE)
        if isinstance(found, Refusal):
            return found
        tx, sid = found
        command = await self._record(
            sender.origin,
            RemoteKind.SET_PROFILE,
            body.response_url,
            tx.charger_id,
            evse_uid=tx.evse_uid,
            connector=self._connector(tx),
            session_id=sid,
            tx_id=tx.tx_id,
        )
        # One profile id per session, so a new PUT replaces the profile on the charger.
        earlier = await asyncio.to_thread(self._store.for_session, sid)
        first = min(c.id for c in earlier if c.kind is RemoteKind.SET_PROFILE)
        profile = profiles.to_charging_profile(
            body.charging_profile, profile_id=t.charger_int_id(first), tx_id=tx.tx_id
        )
        order = SetChargingProfile(connector=command.connector, profile=profile)
        self._spawn(self._run(command, order), f"command-{command.id}")
        return Accepted(timeout=self.timeout_s)

    async def get_profile(
        self, sender: Sender, session_id: str, *, duration_s: int, response_url: str
    ) -> Reply:
        if duration_s < 1:
            return Refusal(
                message="duration must be positive", status=OcpiStatus.INVALID_PARAMETERS
            )
        return await self._profile_call(
            sender,
            session_id,
            response_url,
            RemoteKind.GET_PROFILE,
            lambda connector, _: GetCompositeSchedule(connector=connector, duration_s=duration_s),
        )

    async def clear_profile(self, sender: Sender, session_id: str, *, response_url: str) -> Reply:
        def clear(
            connector: ConnectorRef | None, earlier: Sequence[RemoteCommand]
        ) -> ChargerCommand:
            set_ids = [c.id for c in earlier if c.kind is RemoteKind.SET_PROFILE]
            if set_ids:
                return ClearChargingProfile(profile_id=t.charger_int_id(min(set_ids)))
            return ClearChargingProfile(connector=connector, purpose=ProfilePurpose.TX)

        return await self._profile_call(
            sender, session_id, response_url, RemoteKind.CLEAR_PROFILE, clear
        )

    async def _profile_call(
        self,
        sender: Sender,
        session_id: str,
        response_url: str,
        kind: RemoteKind,
        order: Callable[[ConnectorRef | None, Sequence[RemoteCommand]], ChargerCommand],
    ) -> Reply:
        refusal = self._check_url(sender, response_url)
        if refusal is not None:
            return refusal
        found = await self._session(sender, session_id, kind)
        if isinstance(found, Refusal):
            return found
        tx, sid = found
        earlier = await asyncio.to_thread(self._store.for_session, sid)
        command = await self._record(
            sender.origin,
            kind,
            response_url,
            tx.charger_id,
            evse_uid=tx.evse_uid,
            connector=self._connector(tx),
            session_id=sid,
            tx_id=tx.tx_id,
        )
        call = order(command.connector, earlier)
        self._spawn(self._run(command, call), f"command-{command.id}")
        return Accepted(timeout=self.timeout_s)

    # --- checks shared by every request ----------------------------------------------------

    def _check_url(self, sender: Sender, url: str) -> Refusal | None:
        record = sender.party.record
        hosts = record.link.hosts() if record is not None and record.link is not None else None
        reason = t.refuse_response_url(
            url,
            hosts=hosts or frozenset(),
            allow_private=self._settings.ocpi.allow_private_partner_addresses,
        )
        if reason is None:
            return None
        log.warning("response_url refused partner=%s: %s", sender.name, reason)
        return Refusal(message=reason, status=OcpiStatus.INVALID_PARAMETERS)

    def _offline(self, charger_id: ChargerId) -> Refusal | None:
        if self._link.connected(charger_id):
            return None
        return _refused("the charger is offline", CommandResponseType.REJECTED)

    async def _session_ids(self, txs: Sequence[Transaction]) -> list[str]:
        """Each transaction's Session id: the sealed one (it may be a command's)."""
        keys = {(x.charger_id, x.tx_id) for x in txs}
        sealed = await asyncio.to_thread(self._store.sealed_session_ids, keys)
        return [sealed.get((x.charger_id, x.tx_id)) or session_id_of(x) for x in txs]

    async def _session(
        self, sender: Sender, session_id: str, kind: RemoteKind
    ) -> tuple[Transaction, str] | Refusal:
        """The running transaction behind ``session_id`` and its id, if the sender may act."""
        running = await asyncio.to_thread(self._transactions.running_transactions)
        ids = await self._session_ids(running)
        tx, sid = next(
            ((x, i) for x, i in zip(running, ids, strict=True) if ci_equal(i, session_id)),
            (None, session_id),
        )
        evse = None if tx is None else self._evse(tx.evse_uid)
        if tx is None or evse is None:
            return _refused(
                f"no running session {session_id!r}", CommandResponseType.UNKNOWN_SESSION
            )
        if not await self._owns(sender, tx):
            return _refused("the session is not one of yours", CommandResponseType.REJECTED)
        capability = t.CAPABILITY[kind]
        if capability not in evse.capabilities:
            return _refused(
                f"EVSE {evse.uid!r} is not {capability}", CommandResponseType.NOT_SUPPORTED
            )
        if (offline := self._offline(tx.charger_id)) is not None:
            return offline
        return tx, sid

    async def _reserved_for(self, sender: Sender, place: Place, token: PartnerToken) -> bool:
        """Whether the sender holds a reservation for this token on this EVSE."""
        if place.evse_uid is None:
            return False
        held = await asyncio.to_thread(self._store.held_reservations)
        return any(
            r.country_code == sender.country_code.upper()
            and r.party_id == sender.party_id.upper()
            and r.evse_uid == place.evse_uid
            and t.token_matches(token.uid, r.token.uid)
            for r in held
        )

    def _opener(
        self,
        kind: PendingKind,
        place: Place,
        token: PartnerToken,
        reference: str | None,
    ) -> Opener | None:
        """How the Session a START_SESSION/RESERVE_NOW opens is built once it has an id."""
        if place.evse is None:
            return None  # a Session needs an EVSE: it appears with the transaction
        evse = place.evse

        def opens(source: RemoteCommand | Reservation) -> PendingSession:
            site = pending_site(
                self._settings,
                place.location,
                evse,
                place.connector,
                configured_at={},
                at=source.received_at,
            )
            return to_pending_session(
                kind=kind,
                source_id=source.id,
                charger_id=place.charger_id,
                site=site,
                token=t.to_token_identity(token, reference),
                received_at=source.received_at,
            )

        return opens

    async def _owns(self, sender: Sender, tx: Transaction) -> bool:
        """A session is the partner's whose token it runs on (its authoriser, or its command)."""
        if tx.auth_source == sender.name:
            return True
        link = await asyncio.to_thread(self._store.link_for, tx.charger_id, tx.tx_id)
        return link is not None and link.partner == sender.name

    def _evse(self, uid: EvseUid | None) -> EvseSettings | None:
        if uid is None:
            return None
        return next(
            (e for loc in self._settings.locations for e in loc.evses if e.uid == uid), None
        )

    def _connector(self, tx: Transaction) -> ConnectorRef | None:
        if tx.connector is not None and tx.connector.connector:
            return tx.connector
        binding = None if tx.evse_uid is None else self._topology.evse(tx.evse_uid)
        if binding is None:
            return tx.connector
        return binding.connectors[0]

    async def _record(
        self,
        origin: Origin,
        kind: RemoteKind,
        response_url: str,
        charger_id: ChargerId,
        *,
        state: RemoteState = RemoteState.PENDING,
        result: BaseModel | None = None,
        opens: Opener | None = None,
        **fields: Any,
    ) -> RemoteCommand:
        now = self._clock()
        draft = RemoteCommand(
            kind=kind,
            partner=origin.partner,
            country_code=origin.country_code,
            party_id=origin.party_id,
            response_url=response_url,
            charger_id=charger_id,
            received_at=now,
            deadline=now + timedelta(seconds=self.timeout_s),
            state=state,
            result=None if result is None else _body(result),
            outcome=None if result is None else str(getattr(result, "result", "")),
            finished_at=None if result is None else now,
            **fields,
        )
        command = await asyncio.to_thread(self._store.record, draft, opens=opens)
        if opens is not None:
            self._session_changed()
        log.info(
            "command %s id=%d partner=%s charger=%s",
            kind.value,
            command.id,
            origin.partner,
            charger_id or "-",
        )
        return command

    # --- the background half ---------------------------------------------------------------

    async def _run(self, command: RemoteCommand, order: ChargerCommand) -> None:
        outcome = await self._link.send(command.charger_id, order, timeout_s=self._call_timeout_s)
        now = self._clock()
        result, tx_id = await self._conclude(command, outcome, now)
        settled = await asyncio.to_thread(
            self._store.settle,
            command.id,
            _body(result),
            outcome=str(getattr(result, "result", "")),
            now=now,
            tx_id=tx_id,
        )
        if not settled:
            return  # decided elsewhere (a recovery): that result is the one delivered
        answer = str(getattr(result, "result", ""))
        if command.kind is RemoteKind.START_SESSION and answer not in _ACCEPTED_OR_TIMEOUT:
            await asyncio.to_thread(self._store.end_pending, PendingKind.START, command.id, now=now)
            self._session_changed()
        delivered = await self._deliver(command, _body(result))
        if (
            delivered
            and command.kind in (RemoteKind.SET_PROFILE, RemoteKind.CLEAR_PROFILE)
            and outcome.accepted
        ):
            assert command.session_id is not None  # noqa: S101 - profile commands name one
            await self._push_active_profile(
                command.charger_id, command.connector, command.session_id
            )

    async def _conclude(
        self, command: RemoteCommand, outcome: CommandOutcome, now: datetime
    ) -> tuple[BaseModel, str | None]:
        """The result to deliver, and what the charger's answer changes here."""
        match command.kind:
            case RemoteKind.START_SESSION:
                statuses = await asyncio.to_thread(self._site.evse_statuses)
                status = None if command.evse_uid is None else statuses.get(command.evse_uid)
                tx_id = outcome.detail.get("transactionId") if outcome.accepted else None
                if isinstance(tx_id, str) and tx_id:
                    await self._link_started(command, tx_id)
                else:
                    tx_id = None
                return t.to_command_result(
                    command.kind, outcome, evse_status=None if status is None else status.status
                ), tx_id
            case RemoteKind.RESERVE_NOW:
                assert command.reservation_id is not None  # noqa: S101 - set when recorded
                state = ReservationState.ACTIVE if outcome.accepted else ReservationState.REJECTED
                await asyncio.to_thread(
                    self._store.set_reservation_state, command.reservation_id, state, now=now
                )
                self._session_changed()
            case RemoteKind.CANCEL_RESERVATION:
                assert command.reservation_id is not None  # noqa: S101 - set when recorded
                if outcome.status in (
                    OutcomeStatus.ACCEPTED,
                    OutcomeStatus.REJECTED,
                    OutcomeStatus.UNKNOWN,
                ):
                    # Cancelled now, or the charger no longer held it: either way it is over.
                    await asyncio.to_thread(
                        self._store.set_reservation_state,
                        command.reservation_id,
                        ReservationState.CANCELLED,
                        now=now,
                    )
                    self._session_changed()
            case RemoteKind.SET_PROFILE:
                return ChargingProfileResult(result=profiles.to_profile_result(outcome)), None
            case RemoteKind.CLEAR_PROFILE:
                return ClearProfileResult(result=profiles.to_profile_result(outcome)), None
            case RemoteKind.GET_PROFILE:
                return profiles.to_active_result(outcome, received_at=now), None
        return t.to_command_result(command.kind, outcome), None

    async def _recover(self, command: RemoteCommand) -> None:
        """Deliver the result of a command a previous run did not finish."""
        if command.state is RemoteState.ANSWERED and command.result is not None:
            await self._deliver(command, command.result)
            return
        result = await self._lost_result(command)
        body = _body(result)
        settled = await asyncio.to_thread(
            self._store.settle,
            command.id,
            body,
            outcome=str(getattr(result, "result", "")),
            now=self._clock(),
        )
        if settled:
            log.info("command id=%d lost its answer in a restart: %s", command.id, body["result"])
            await self._deliver(command, body)

    async def _lost_result(self, command: RemoteCommand) -> BaseModel:
        if command.kind is RemoteKind.START_SESSION:
            link = await asyncio.to_thread(self._store.link_of_command, command.id)
            if link is not None:
                return CommandResult(result=t.RESULT[OutcomeStatus.ACCEPTED])
        match command.kind:
            case RemoteKind.SET_PROFILE:
                return ChargingProfileResult(result=ChargingProfileResultType.REJECTED)
            case RemoteKind.CLEAR_PROFILE:
                return ClearProfileResult(result=ChargingProfileResultType.REJECTED)
            case RemoteKind.GET_PROFILE:
                return ActiveChargingProfileResult(result=ChargingProfileResultType.REJECTED)
        return t.timeout_result()

    async def _deliver(self, command: RemoteCommand, body: Mapping[str, Any]) -> bool:
        """POST a result to its response_url: a few attempts, then it is given up."""
        partner = await asyncio.to_thread(self._partners.partner, command.partner)
        if partner is None or partner.link is None:
            log.warning("result of command id=%d undeliverable: partner gone", command.id)
            await self._finish(command, RemoteState.UNDELIVERABLE, 0)
            return False
        to = next(
            (r for r in partner.link.roles if r.is_party(command.country_code, command.party_id)),
            None,
        )
        target = Target.of(partner.link, to=to)
        module = "chargingprofiles" if command.kind in _PROFILE_KINDS else "commands"
        if partner.link.version == "2.1.1" and module == "commands":
            body = to_v211_result(body)  # a 2.1.1 partner's result is a 2.1.1 CommandResponse
        attempts = 0
        for delay in (0.0, *self._delays):
            if delay:
                await asyncio.sleep(delay)
            attempts += 1
            try:
                await self._client.request(
                    target, "POST", command.response_url, module=module, body=dict(body)
                )
            except PartnerAddressRefusedError as exc:
                log.warning("result of command id=%d refused: %s", command.id, exc)
                break
            except (PartnerUnreachableError, PartnerResponseError) as exc:
                retry = not isinstance(exc, PartnerResponseError) or exc.http_status >= 500
                log.info(
                    "result of command id=%d not delivered (attempt %d): %s",
                    command.id,
                    attempts,
                    exc,
                )
                if not retry:
                    break
            else:
                await self._finish(command, RemoteState.DELIVERED, attempts)
                return True
        log.warning("result of command id=%d given up after %d attempts", command.id, attempts)
        await self._finish(command, RemoteState.UNDELIVERABLE, attempts)
        return False

    async def _finish(self, command: RemoteCommand, state: RemoteState, attempts: int) -> None:
        await asyncio.to_thread(
            self._store.finish, command.id, state=state, attempts=attempts, now=self._clock()
        )

    # --- charging profile changes ------------------------------------------------------------

    async def _limit_changed(self, charger_id: ChargerId, evse_id: int | None) -> None:
        """A limit set or cleared at the charger: its sessions' profiles may have changed."""
        running = await asyncio.to_thread(self._transactions.running_transactions)
        here = [
            tx
            for tx in running
            if tx.charger_id == charger_id
            and (evse_id is None or tx.connector is None or tx.connector.evse == evse_id)
        ]
        for tx, session in zip(here, await self._session_ids(here), strict=True):
            await self._push_active_profile(tx.charger_id, tx.connector, session)

    async def _push_active_profile(
        self, charger_id: ChargerId, connector: ConnectorRef | None, session: str
    ) -> None:
        """Tell every partner that set a profile on the session its new ActiveChargingProfile.

        mod_charging_profiles, Sender PUT: only partners whose SetChargingProfile was
        accepted for this session, and best effort (a failed PUT is not queued: the
        partner can GET the profile).
        """
        commands = await asyncio.to_thread(self._store.for_session, session)
        setters = {
            c.partner: (c.country_code, c.party_id)
            for c in commands
            if c.kind is RemoteKind.SET_PROFILE and c.outcome == "ACCEPTED"
        }
        if not setters:
            return
        outcome = await self._link.send(
            charger_id,
            GetCompositeSchedule(connector=connector, duration_s=ACTIVE_PROFILE_PUSH_S),
            timeout_s=self._call_timeout_s,
        )
        active = (
            profiles.from_composite_schedule(outcome.detail, received_at=self._clock())
            if outcome.accepted
            else None
        )
        if active is None:
            log.info("no active profile to send for session %s: %s", session, outcome.status)
            return
        for name, (country_code, party_id) in setters.items():
            partner = await asyncio.to_thread(self._partners.partner, name)
            endpoint = (
                None
                if partner is None or partner.link is None
                else partner.link.endpoint("chargingprofiles", "SENDER")
            )
            if partner is None or partner.link is None or endpoint is None:
                log.info("partner %s has no chargingprofiles endpoint; not updated", name)
                continue
            to = next((r for r in partner.link.roles if r.is_party(country_code, party_id)), None)
            try:
                await self._client.request(
                    Target.of(partner.link, to=to),
                    "PUT",
                    f"{endpoint.url.rstrip('/')}/{session}",
                    module="chargingprofiles",
                    body=_body(active),
                )
            except PartnerError as exc:
                log.warning("active profile of session %s not sent to %s: %s", session, name, exc)

    # --- what happens at the chargers ------------------------------------------------------------

    def on_effect(self, effect: Effect) -> None:
        """Runtime listener (after commit): links, EVSE trouble, limits set at the charger."""
        if isinstance(effect, TransactionChanged):
            tx = effect.transaction
            key = (tx.charger_id, tx.tx_id)
            if key in self._considered:
                return
            self._considered[key] = None
            if len(self._considered) > _CONSIDERED_MAX:
                self._considered.popitem(last=False)
            # Most starts answer no command and no reservation: the store's in-memory hints
            # say so here, sparing a task and two worker-thread hops per transaction.
            if self._hints is not None and self._hints.nothing_to_link(
                tx.received_at - t.NO_REAUTH_WINDOW
            ):
                return
            self._spawn(self._link_transaction(tx), f"link-{tx.charger_id}-{tx.tx_id}")
        elif isinstance(effect, EvseChanged) and effect.status is EvseStatus.OUT_OF_ORDER:
            self._spawn(self._cancel_reservations(effect.uid), f"cancel-at-{effect.uid}")
        elif isinstance(effect, NoteRecorded):
            match effect.signal:
                case ReservationReleased() as released:
                    self._spawn(
                        self._reservation_released(effect.charger_id, released),
                        f"reservation-at-{effect.charger_id}",
                    )
                case LimitChanged(evse=evse):
                    self._spawn(
                        self._limit_changed(effect.charger_id, evse),
                        f"limit-at-{effect.charger_id}",
                    )

    async def _link_transaction(self, tx: Transaction) -> None:
        """Link a new transaction to the START_SESSION or reservation it answers."""
        since = tx.received_at - t.NO_REAUTH_WINDOW
        commands = await asyncio.to_thread(self._store.received_since, since)
        reservations = await asyncio.to_thread(self._store.held_reservations)
        command = t.match_start(tx, commands)
        reservation = t.match_reservation(tx, reservations)
        if command is None and reservation is None:
            return  # nothing to link: its Session id is not needed
        now = self._clock()
        (sid,) = await self._session_ids([tx])
        link = t.to_session_link(
            tx, session_id=sid, at=now, command=command, reservation=reservation
        )
        if link is not None and await asyncio.to_thread(self._store.link, link):
            log.info(
                "session %s linked to command=%s reservation=%s",
                link.session_id,
                link.command_id,
                link.reservation_id,
            )
        if reservation is not None:
            await asyncio.to_thread(
                self._store.set_reservation_state, reservation.id, ReservationState.USED, now=now
            )
            self._session_changed()

    async def _link_started(self, command: RemoteCommand, tx_id: str) -> None:
        """A charger accepting a START_SESSION named the transaction it started (2.0.1)."""
        tx = await asyncio.to_thread(
            self._transactions.find_transaction, command.charger_id, tx_id=tx_id
        )
        if tx is None:
            return  # its start event links it when it comes (it carries the tx id)
        (sid,) = await self._session_ids([tx])
        link = t.to_session_link(
            tx,
            session_id=sid,
            at=self._clock(),
            command=replace(command, tx_id=tx_id),
        )
        if link is not None:
            await asyncio.to_thread(self._store.link, link)

    async def _cancel_reservations(self, evse_uid: EvseUid) -> None:
        """An EVSE out of order cannot honour its reservations: the CPO cancels them.

        The charger is told (if it listens) and the partner hears CANCELED_RESERVATION on
        the RESERVE_NOW's response_url (mod_commands, "Reservation canceled by the CPO").
        """
        held = await asyncio.to_thread(self._store.held_reservations)
        for r in held:
            if r.evse_uid != evse_uid:
                continue
            now = self._clock()
            await asyncio.to_thread(
                self._store.set_reservation_state, r.id, ReservationState.CANCELLED, now=now
            )
            self._session_changed()
            if self._link.connected(r.charger_id):
                await self._link.send(
                    r.charger_id,
                    CancelReservationCall(reservation_id=t.charger_int_id(r.id)),
                    timeout_s=self._call_timeout_s,
                )
            result = t.canceled_reservation_result(f"EVSE {evse_uid} is out of order")
            partner = await asyncio.to_thread(self._partners.partner, r.partner)
            if partner is None:
                continue
            sender = Sender(
                party=Party(name=r.partner, roles=partner.roles, our_roles=(), token=""),
                country_code=r.country_code,
                party_id=r.party_id,
            )
            command = await self._record(
                sender.origin,
                RemoteKind.RESERVATION_CANCELED,
                r.response_url,
                r.charger_id,
                evse_uid=r.evse_uid,
                connector=r.connector,
                reservation_id=r.id,
                state=RemoteState.ANSWERED,
                result=result,
            )
            await self._deliver(command, _body(result))

    async def expire_reservations(self) -> int:
        """Scheduler job: reservations past their expiry stop holding their EVSE.

        It also makes INVALID the Sessions of START_SESSIONs that no transaction took
        within 15 minutes (``PENDING_WINDOW``).

        The charger frees the EVSE itself and reports it; if the EVSE still shows
        RESERVED, the charger is asked to report its status again.
        """
        now = self._clock()
        # The same sweep ends START_SESSION Sessions no transaction took in time.
        if await asyncio.to_thread(self._store.expire_pending, now - PENDING_WINDOW, now=now):
            self._session_changed()
        held = await asyncio.to_thread(self._store.held_reservations)
        expired = [r for r in held if r.expires_at <= now]
        statuses = await asyncio.to_thread(self._site.evse_statuses) if expired else {}
        for r in expired:
            await asyncio.to_thread(
                self._store.set_reservation_state, r.id, ReservationState.EXPIRED, now=now
            )
            shown = None if r.evse_uid is None else statuses.get(r.evse_uid)
            if shown is not None and shown.status is EvseStatus.RESERVED:
                self._spawn(self._refresh_status(r), f"refresh-{r.id}")
        if expired:
            self._session_changed()
        return len(expired)

    async def _reservation_released(
        self, charger_id: ChargerId, released: ReservationReleased
    ) -> None:
        """The charger let a reservation go before we did (2.0.1 ReservationStatusUpdate).

        An expiry ends it as expired, a removal at the charger as cancelled; either way
        the EVSE is free and the reservation's Session is INVALID.
        """
        state = ReservationState.EXPIRED if released.expired else ReservationState.CANCELLED
        held = await asyncio.to_thread(self._store.held_reservations)
        found = next(
            (
                r
                for r in held
                if r.charger_id == charger_id and t.charger_int_id(r.id) == released.reservation_id
            ),
            None,
        )
        if found is None:
            return
        await asyncio.to_thread(
            self._store.set_reservation_state, found.id, state, now=self._clock()
        )
        log.info("reservation %s at %s ended by the charger: %s", found.id, charger_id, state)
        self._session_changed()

    async def _refresh_status(self, r: Reservation) -> None:
        if self._link.connected(r.charger_id):
            await self._link.send(
                r.charger_id,
                TriggerMessage(message="StatusNotification", connector=r.connector),
                timeout_s=self._call_timeout_s,
            )


class LinkHints(Protocol):
    """What a store remembers in memory of commands and reservations (``Hints``)."""

    def nothing_to_link(self, since: datetime) -> bool:
        """True only when no command was received at or after ``since`` and none holds.

        Must not block: it is asked on the event loop.
        """
        ...


class CommandHints(Protocol):
    """What a store remembers in memory of its commands (``gateway.storage.commands.Hints``)."""

    def no_commands_since(self, since: datetime) -> bool:
        """True only when no command was received at or after ``since``."""
        ...


class CommandAuthorizer:
    """``Authorizer``: a partner's START_SESSION/RESERVE_NOW token is accepted at that place.

    For 15 minutes after the command (mod_commands: no real-time authorisation of that
    token at that EVSE), with the partner as ``source`` and its
    ``authorization_reference`` as ``reference``, so the transaction carries both.
    Every other question goes to ``inner``.
    """

    def __init__(
        self,
        inner: Authorizer,
        *,
        store: CommandLog,
        clock: Clock,
        hints: CommandHints | None = None,
    ) -> None:
        self._inner = inner
        self._store = store
        self._clock = clock
        # With the store's in-memory hints, "no command lately" needs no worker thread.
        self._hints = hints
        self._hints_read = False  # the first question goes to the store, which reads them

    async def authorize(
        self, charger_id: ChargerId, token: AuthToken, evse_uid: EvseUid | None
    ) -> AuthDecision:
        now = self._clock()
        since = now - t.NO_REAUTH_WINDOW
        try:
            if (
                self._hints_read
                and self._hints is not None
                and self._hints.no_commands_since(since)
            ):
                recent: list[RemoteCommand] = []  # most starts: no command in 15 minutes
            else:
                recent = await asyncio.to_thread(self._store.received_since, since)
                self._hints_read = True
        except Exception as exc:  # the store failing must not stop authorisation
            log.warning("commands unavailable for authorisation: %s", type(exc).__name__)
            recent = []
        decision = t.vouch(
            token, charger_id=charger_id, evse_uid=evse_uid, now=now, commands=recent
        )
        if decision is not None:
            return decision
        return await self._inner.authorize(charger_id, token, evse_uid)


class CommandTokenBook:
    """``TokenBook``: a token a partner sent in a command is that partner's (auth COMMAND).

    Sessions and CDRs of transactions started by a START_SESSION or a reservation carry
    the command's token and ``authorization_reference``. The answer is exact when the
    transaction carries a reference (the command's); without one, ``fallback`` (the
    tokens module) is asked first and the partner's latest command with that token
    answers only for tokens it does not know (app and ad-hoc tokens). The exact link of
    a transaction to its command is ``SessionLinks.link_for``.
    """

    def __init__(self, store: CommandLog, *, fallback: TokenBook | None = None) -> None:
        self._store = store
        self._fallback = fallback

    def identity(
        self, token: AuthToken, *, auth_source: str | None, auth_reference: str | None
    ) -> TokenIdentity | None:
        if auth_source and auth_reference is not None:
            found = self._commanded(token, auth_source, auth_reference)
            if found is not None:
                return found
        known = (
            None
            if self._fallback is None
            else self._fallback.identity(
                token, auth_source=auth_source, auth_reference=auth_reference
            )
        )
        if known is not None or not auth_source or auth_reference is not None:
            return known
        return self._commanded(token, auth_source, None)

    def _commanded(
        self, token: AuthToken, partner: str, reference: str | None
    ) -> TokenIdentity | None:
        for c in self._store.with_token(partner, token.value):
            if (
                c.kind in (RemoteKind.START_SESSION, RemoteKind.RESERVE_NOW)
                and c.token is not None
                and t.token_matches(token.value, c.token.uid)
                and c.authorization_reference == reference
            ):
                return t.to_token_identity(c.token, reference)
        return None


__all__ = [
    "Accepted",
    "CommandAuthorizer",
    "CommandTokenBook",
    "Origin",
    "RemoteControl",
    "Reply",
    "Sender",
]
