"""Remote control in process: a fake charger link, a mock partner, the real store rules.

Each test sends a command or a charging profile request the way the API does, lets the
background half run (``control.idle()``), and looks at what the charger was sent and
what the partner received.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from gateway.core.effects import EvseChanged, TransactionChanged
from gateway.domain import commands as c
from gateway.domain.authorization import AuthDecision, AuthStatus
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.partners import PartnerEndpoint, PartnerLink, PartyRole, TokenEncoding
from gateway.domain.remote import RemoteState, ReservationState
from gateway.domain.state import PublishedEvse
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, Transaction, TransactionStatus
from gateway.storage.commands import MemoryCommands
from gateway.storage.partners import MemoryPartners
from gateway.testing import FakeClock
from ocpi_bridge.commands import (
    Accepted,
    CommandAuthorizer,
    CommandTokenBook,
    RemoteControl,
    Sender,
)
from ocpi_bridge.models.charging_profiles import SetChargingProfile
from ocpi_bridge.models.commands import (
    CancelReservation,
    CommandResponseType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.parties import Party
from ocpi_bridge.push.client import OcpiClient
from ocpi_bridge.status import OcpiStatus
from ocpi_bridge.translate.commands import Refusal
from ocpi_bridge.translate.sessions import TokenIdentity
from tests.builders import T0, a_settings
from tests.remote_site import UID, a_transaction, ocpi_token, remote_locations

US = PartyRole(role="CPO", country_code="NL", party_id="CEG", name="Us")
EMSP = PartyRole(role="EMSP", country_code="DE", party_id="EMS", name="eMSP")
AC, DC = ChargerId("AC-0001"), ChargerId("DC-0001")
RESULTS = "https://emsp.example/ocpi/emsp/2.2.1/commands"
PROFILES_URL = "https://emsp.example/ocpi/emsp/2.2.1/chargingprofiles"
SETTINGS = a_settings(locations=remote_locations(), ocpp={"call_timeout_s": 5})
ACCEPTED = c.CommandOutcome(status=c.OutcomeStatus.ACCEPTED, detail={"status": "Accepted"})

Answer = c.CommandOutcome | Callable[[c.ChargerCommand], c.CommandOutcome] | str


class FakeLink:
    """``ChargerLink`` with scripted answers per command type; ``"hang"`` never answers."""

    def __init__(self) -> None:
        self.online = {AC, DC}
        self.sent: list[tuple[ChargerId, c.ChargerCommand]] = []
        self.answers: dict[type, Answer] = {}

    def connected(self, charger_id: ChargerId) -> bool:
        return charger_id in self.online

    async def send(
        self, charger_id: ChargerId, command: c.ChargerCommand, *, timeout_s: float | None = None
    ) -> c.CommandOutcome:
        self.sent.append((charger_id, command))
        answer = self.answers.get(type(command), ACCEPTED)
        if answer == "hang":
            await asyncio.Event().wait()
        assert not isinstance(answer, str)
        return answer(command) if callable(answer) else answer


class Partner:
    """A mock eMSP: records every call, answers from a script (default 200/1000)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.script: list[httpx.Response | Exception] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(
            {
                "method": request.method,
                "url": str(request.url),
                "headers": dict(request.headers),
                "body": json.loads(request.content) if request.content else None,
            }
        )
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return httpx.Response(200, json={"status_code": 1000, "timestamp": "2026-11-22T10:00:00Z"})

    def bodies(self, prefix: str = RESULTS) -> list[Any]:
        return [call["body"] for call in self.calls if call["url"].startswith(prefix)]


@dataclass
class Transactions:
    """``RunningTransactions`` over a list."""

    txs: list[Transaction] = field(default_factory=list)

    def running_transactions(self) -> list[Transaction]:
        return [tx for tx in self.txs if not tx.ended]

    def find_transaction(
        self, charger_id: str, *, tx_id: str | None = None, start_key: str | None = None
    ) -> Transaction | None:
        return next(
            (tx for tx in self.txs if tx.charger_id == charger_id and tx.tx_id == tx_id), None
        )


@dataclass
class Site:
    statuses: dict[EvseUid, PublishedEvse] = field(default_factory=dict)

    def evse_statuses(self) -> Mapping[EvseUid, PublishedEvse]:
        return self.statuses


class World:
    """Everything around one ``RemoteControl``."""

    def __init__(self, partner: Partner) -> None:
        self.clock = FakeClock(T0)
        self.link = FakeLink()
        self.partner = partner
        self.store = MemoryCommands()
        self.partners = MemoryPartners()
        self.transactions = Transactions()
        self.site = Site()
        self.client = OcpiClient(
            SETTINGS.ocpi.model_copy(update={"allow_private_partner_addresses": True}),
            us=US,
            transport=httpx.MockTransport(partner.handle),
        )
        invitation = self.partners.invite(
            "emsp", "token-a-123456", now=T0, expires_at=T0 + timedelta(1)
        )
        link = PartnerLink(
            version="2.2.1",
            versions_url="https://emsp.example/ocpi/emsp/versions",
            token="their-token-c",
            encoding=TokenEncoding.BASE64,
            roles=(EMSP, PartyRole(role="EMSP", country_code="BE", party_id="EMB")),
            endpoints=(
                PartnerEndpoint(module="commands", role="SENDER", url=RESULTS),
                PartnerEndpoint(module="chargingprofiles", role="SENDER", url=PROFILES_URL),
            ),
        )
        record = self.partners.register(
            invitation.id, link, our_roles=(US,), token="token-c-123456", now=T0
        )
        self.party = Party(name="emsp", roles=link.roles, our_roles=(US,), token="x", record=record)
        self.sender = Sender(party=self.party, country_code="DE", party_id="EMS")
        self.control = self.make()

    def make(self) -> RemoteControl:
        return RemoteControl(
            store=self.store,
            transactions=self.transactions,
            site=self.site,
            link=self.link,
            client=self.client,
            partners=self.partners,
            settings=SETTINGS,
            clock=self.clock,
            call_timeout_s=5,
            delivery_delays_s=(0.0, 0.0),
        )


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World(Partner())
    await w.control.start()
    yield w
    await w.control.stop()
    await w.client.aclose()


def start_body(**overrides: Any) -> StartSession:
    return StartSession.model_validate(
        {
            "response_url": f"{RESULTS}/START_SESSION/1",
            "token": ocpi_token(),
            "location_id": "LOC-001",
            "evse_uid": "AC-0001-1",
            "authorization_reference": "AUTH-1",
            **overrides,
        }
    )


def reserve_body(**overrides: Any) -> ReserveNow:
    return ReserveNow.model_validate(
        {
            "response_url": f"{RESULTS}/RESERVE_NOW/1",
            "token": ocpi_token(),
            "expiry_date": "2026-11-22T10:30:00Z",
            "reservation_id": "R-1",
            "location_id": "LOC-001",
            "evse_uid": "AC-0001-1",
            "authorization_reference": "RES-1",
            **overrides,
        }
    )


def running_tx(**overrides: Any) -> Transaction:
    fields: dict[str, Any] = {"auth_source": "emsp", "auth_reference": "AUTH-1", **overrides}
    return a_transaction(**fields)


# --- START_SESSION ----------------------------------------------------------------------------


async def test_a_start_session_is_answered_at_once_sent_and_its_result_posted_once(world: World):
    """ACCEPTED + timeout now; RemoteStartTransaction with the command's id; one ACCEPTED result."""
    reply = await world.control.start_session(world.sender, start_body())
    assert reply == Accepted(timeout=15)  # call timeout 5 s + one partner call of 10 s
    await world.control.idle()

    ((charger, sent),) = world.link.sent
    assert charger == AC
    assert sent == c.StartCharging(
        token=AuthToken(value=UID),
        connector=ConnectorRef(evse=None, connector=1),
        remote_start_id=1,
    )
    ((call),) = world.partner.calls
    assert call["url"] == f"{RESULTS}/START_SESSION/1"
    assert call["body"] == {"result": "ACCEPTED"}
    assert call["headers"]["ocpi-to-party-id"] == "EMS"
    assert call["headers"]["ocpi-from-party-id"] == "CEG"
    (stored,) = world.store.commands.values()
    assert (stored.state, stored.attempts) == (RemoteState.DELIVERED, 1)


async def test_the_result_is_addressed_to_the_role_that_sent_the_command(world: World):
    """A partner with two roles gets the result under the one it spoke as."""
    sender = replace(world.sender, country_code="BE", party_id="EMB")
    await world.control.start_session(sender, start_body())
    await world.control.idle()
    assert world.partner.calls[0]["headers"]["ocpi-to-country-code"] == "BE"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (start_body(token=ocpi_token(country_code="FR", party_id="OTH")), "another party"),
        (start_body(evse_uid="DC-0001-1"), "offline"),
        (start_body(response_url="https://attacker.example/x"), "not one of the hosts"),
        (start_body(location_id="LOC-404"), "unknown location"),
        (start_body(evse_uid="AC-0001-9"), "unknown EVSE"),
    ],
)
async def test_a_refused_start_records_and_sends_nothing(world: World, body, message, caplog):
    """A foreign token, an offline charger, a foreign response_url, an unknown place."""
    world.link.online = {AC}
    reply = await world.control.start_session(world.sender, body)
    assert isinstance(reply, Refusal)
    assert message in reply.message
    await world.control.idle()
    assert world.link.sent == []
    assert world.partner.calls == []
    assert world.store.commands == {}


async def test_a_partner_configured_without_a_handshake_cannot_receive_results(world: World):
    """No registered hosts: every response_url is refused (2001)."""
    static = Sender(
        party=Party(name="static", roles=(EMSP,), our_roles=(US,), token="x"),
        country_code="DE",
        party_id="EMS",
    )
    reply = await world.control.start_session(static, start_body())
    assert isinstance(reply, Refusal)
    assert reply.status is OcpiStatus.INVALID_PARAMETERS


@pytest.mark.parametrize(
    ("answer", "status", "expected"),
    [
        (
            c.CommandOutcome(status=c.OutcomeStatus.REJECTED, detail={"status": "Rejected"}),
            None,
            "REJECTED",
        ),
        (
            c.CommandOutcome(status=c.OutcomeStatus.REJECTED, detail={"status": "Rejected"}),
            EvseStatus.CHARGING,
            "EVSE_OCCUPIED",
        ),
        (c.CommandOutcome(status=c.OutcomeStatus.TIMEOUT), None, "TIMEOUT"),
        (c.CommandOutcome(status=c.OutcomeStatus.OFFLINE), None, "FAILED"),
    ],
)
async def test_the_charger_s_verdict_is_the_result(world: World, answer, status, expected):
    """Rejected, rejected while charging, silent, gone: each has its CommandResult."""
    world.link.answers[c.StartCharging] = answer
    if status is not None:
        world.site.statuses[EvseUid("AC-0001-1")] = PublishedEvse(status=status, last_updated=T0)
    await world.control.start_session(world.sender, start_body())
    await world.control.idle()
    (body,) = world.partner.bodies()
    assert body["result"] == expected


async def test_a_2_0_1_start_that_names_its_transaction_is_linked_at_once(world: World):
    """RequestStartTransaction answered with a transactionId: the session is the command's."""
    world.transactions.txs.append(
        a_transaction(charger_id=DC, tx_id="dc-tx-1", evse_uid=EvseUid("DC-0001-1"), token=None)
    )
    world.link.answers[c.StartCharging] = c.CommandOutcome(
        status=c.OutcomeStatus.ACCEPTED, detail={"status": "Accepted", "transactionId": "dc-tx-1"}
    )
    await world.control.start_session(world.sender, start_body(evse_uid="DC-0001-1"))
    await world.control.idle()
    link = world.store.link_for("DC-0001", "dc-tx-1")
    assert link is not None
    assert (link.command_id, link.authorization_reference) == (1, "AUTH-1")
    (stored,) = world.store.commands.values()
    assert stored.tx_id == "dc-tx-1"


async def test_a_named_transaction_not_yet_seen_is_linked_when_it_starts(world: World):
    """The answer may overtake the start event: the command keeps the id and links later."""
    world.link.answers[c.StartCharging] = c.CommandOutcome(
        status=c.OutcomeStatus.ACCEPTED, detail={"status": "Accepted", "transactionId": "dc-tx-2"}
    )
    await world.control.start_session(world.sender, start_body(evse_uid="DC-0001-1"))
    await world.control.idle()
    assert world.store.links == {}
    tx = a_transaction(charger_id=DC, tx_id="dc-tx-2", token=None, at=T0 + timedelta(seconds=30))
    world.control.on_effect(TransactionChanged(transaction=tx))
    await world.control.idle()
    assert world.store.link_for("DC-0001", "dc-tx-2") is not None


async def test_the_transaction_a_start_session_led_to_is_linked_once(world: World):
    """Same EVSE and token after the command: linked; its later updates change nothing."""
    await world.control.start_session(world.sender, start_body())
    await world.control.idle()
    tx = a_transaction(at=T0 + timedelta(seconds=20))
    world.control.on_effect(TransactionChanged(transaction=tx))
    world.control.on_effect(TransactionChanged(transaction=tx))
    await world.control.idle()
    link = world.store.link_for("AC-0001", "7")
    assert link is not None
    assert (link.session_id, link.partner, link.token.uid) == ("AC-0001-7", "emsp", UID)


async def test_an_unrelated_transaction_is_not_linked(world: World):
    """No command, no reservation: nothing to link."""
    world.control.on_effect(TransactionChanged(transaction=a_transaction()))
    await world.control.idle()
    assert world.store.links == {}


# --- STOP_SESSION and UNLOCK_CONNECTOR --------------------------------------------------------


async def test_a_stop_session_stops_the_partner_s_running_transaction(world: World):
    """The session id names the transaction (any case); RemoteStop for its tx id."""
    world.transactions.txs.append(running_tx())
    body = StopSession(response_url=f"{RESULTS}/STOP_SESSION/1", session_id="ac-0001-7")
    assert isinstance(await world.control.stop_session(world.sender, body), Accepted)
    await world.control.idle()
    assert world.link.sent == [(AC, c.StopCharging(tx_id="7"))]
    assert world.partner.bodies() == [{"result": "ACCEPTED"}]


@pytest.mark.parametrize(
    ("tx", "response"),
    [
        (None, CommandResponseType.UNKNOWN_SESSION),
        (running_tx(status=TransactionStatus.COMPLETED), CommandResponseType.UNKNOWN_SESSION),
        (running_tx(evse_uid=None), CommandResponseType.UNKNOWN_SESSION),
        (running_tx(auth_source="someone-else"), CommandResponseType.REJECTED),
        (
            running_tx(
                evse_uid=EvseUid("AC-0001-5"), connector=ConnectorRef(evse=None, connector=5)
            ),
            CommandResponseType.NOT_SUPPORTED,
        ),
        (running_tx(charger_id=DC), CommandResponseType.REJECTED),  # offline
    ],
    ids=["unknown", "completed", "no-evse", "foreign", "incapable", "offline"],
)
async def test_a_stop_session_that_cannot_be_done_is_answered_at_once(world: World, tx, response):
    """Not running: UNKNOWN_SESSION; another partner's: REJECTED; and nothing is sent."""
    world.link.online = {AC}
    if tx is not None:
        world.transactions.txs.append(tx)
    session = "DC-0001-7" if tx is not None and tx.charger_id == DC else "AC-0001-7"
    body = StopSession(response_url=f"{RESULTS}/STOP_SESSION/1", session_id=session)
    reply = await world.control.stop_session(world.sender, body)
    assert isinstance(reply, Refusal)
    assert reply.response is response
    assert world.link.sent == []


async def test_a_session_started_by_the_partner_s_command_is_its_own(world: World):
    """Ownership also follows the command link when the authoriser was someone else."""
    world.transactions.txs.append(running_tx(auth_source="site"))
    await world.control.start_session(world.sender, start_body())
    await world.control.idle()
    world.control.on_effect(TransactionChanged(transaction=running_tx(auth_source="site")))
    await world.control.idle()
    body = StopSession(response_url=f"{RESULTS}/STOP_SESSION/2", session_id="AC-0001-7")
    assert isinstance(await world.control.stop_session(world.sender, body), Accepted)


async def test_unlock_goes_to_the_named_connector(world: World):
    """UnlockConnector for the configured connector; UnlockFailed is FAILED."""
    world.link.answers[c.UnlockConnector] = c.CommandOutcome(
        status=c.OutcomeStatus.FAILED, detail={"status": "UnlockFailed"}
    )
    body = UnlockConnector(
        response_url=f"{RESULTS}/UNLOCK_CONNECTOR/1",
        location_id="LOC-001",
        evse_uid="DC-0001-1",
        connector_id="2",
    )
    assert isinstance(await world.control.unlock_connector(world.sender, body), Accepted)
    await world.control.idle()
    assert world.link.sent == [(DC, c.UnlockConnector(connector=ConnectorRef(evse=1, connector=2)))]
    assert world.partner.bodies()[0]["result"] == "FAILED"
    bad = UnlockConnector(
        response_url=f"{RESULTS}/UNLOCK_CONNECTOR/2",
        location_id="LOC-001",
        evse_uid="DC-0001-1",
        connector_id="7",
    )
    refused = await world.control.unlock_connector(world.sender, bad)
    assert isinstance(refused, Refusal)
    world.link.online = set()
    offline = await world.control.unlock_connector(world.sender, body)
    assert isinstance(offline, Refusal)
    assert offline.message == "the charger is offline"
    foreign = await world.control.unlock_connector(
        world.sender, body.model_copy(update={"response_url": "https://x.example/"})
    )
    assert isinstance(foreign, Refusal)


# --- RESERVE_NOW and CANCEL_RESERVATION -------------------------------------------------------


async def test_a_reservation_reaches_the_charger_under_our_own_id(world: World):
    """The partner's R-1 becomes charger id 1; accepted, the reservation holds."""
    assert isinstance(await world.control.reserve_now(world.sender, reserve_body()), Accepted)
    await world.control.idle()
    ((_, sent),) = world.link.sent
    assert sent == c.ReserveNow(
        reservation_id=1,
        connector=ConnectorRef(evse=None, connector=1),
        token=AuthToken(value=UID),
        expires_at=T0 + timedelta(minutes=30),
    )
    (reservation,) = world.store.reservations.values()
    assert (reservation.reservation_id, reservation.state) == ("R-1", ReservationState.ACTIVE)
    assert world.partner.bodies() == [{"result": "ACCEPTED"}]


async def test_a_second_partner_s_equal_reservation_id_gets_another_charger_id(world: World):
    """Ids are unique across partners: nobody can replace someone else's reservation."""
    other = replace(world.sender, country_code="BE", party_id="EMB")
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.reserve_now(
        other, reserve_body(token=ocpi_token(country_code="BE", party_id="EMB"))
    )
    await world.control.reserve_now(world.sender, reserve_body(expiry_date="2026-11-22T10:45:00Z"))
    await world.control.idle()
    ids = [cmd.reservation_id for _, cmd in world.link.sent if isinstance(cmd, c.ReserveNow)]
    assert ids == [1, 2, 1]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            c.CommandOutcome(status=c.OutcomeStatus.OCCUPIED, detail={"status": "Occupied"}),
            "EVSE_OCCUPIED",
        ),
        (
            c.CommandOutcome(status=c.OutcomeStatus.FAULTED, detail={"status": "Faulted"}),
            "EVSE_INOPERATIVE",
        ),
        (
            c.CommandOutcome(status=c.OutcomeStatus.REJECTED, detail={"status": "Rejected"}),
            "REJECTED",
        ),
    ],
)
async def test_a_refused_reservation_holds_nothing(world: World, answer, expected):
    """Occupied, faulted, rejected: the result says so and the reservation is REJECTED."""
    world.link.answers[c.ReserveNow] = answer
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.idle()
    assert world.partner.bodies()[0]["result"] == expected
    assert world.store.held_reservations() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (reserve_body(expiry_date="2026-11-22T09:59:59Z"), "not in the future"),
        (reserve_body(token=ocpi_token(party_id="OTH")), "another party"),
        (reserve_body(location_id="LOC-404"), "unknown location"),
        (reserve_body(evse_uid="DC-0001-1"), "offline"),
        (reserve_body(response_url="http://127.0.0.1/r"), "not one of the hosts"),
    ],
)
async def test_a_reservation_that_cannot_be_made_is_refused_at_once(world: World, body, message):
    """Nothing is reserved, recorded or sent."""
    world.link.online = {AC}
    reply = await world.control.reserve_now(world.sender, body)
    assert isinstance(reply, Refusal)
    assert message in reply.message
    assert world.store.reservations == {}
    assert world.link.sent == []


async def test_cancelling_a_held_reservation_cancels_it_on_the_charger(world: World):
    """CancelReservation with our id; the reservation is over."""
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.idle()
    body = CancelReservation(response_url=f"{RESULTS}/CANCEL_RESERVATION/1", reservation_id="r-1")
    assert isinstance(await world.control.cancel_reservation(world.sender, body), Accepted)
    await world.control.idle()
    assert world.link.sent[-1] == (AC, c.CancelReservation(reservation_id=1))
    assert world.partner.bodies()[-1] == {"result": "ACCEPTED"}
    assert world.store.held_reservations() == []


async def test_a_reservation_the_charger_no_longer_knows_is_unknown_and_over(world: World):
    """CancelReservation Rejected: UNKNOWN_RESERVATION, and it no longer holds."""
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.idle()
    world.link.answers[c.CancelReservation] = c.CommandOutcome(
        status=c.OutcomeStatus.REJECTED, detail={"status": "Rejected"}
    )
    body = CancelReservation(response_url=f"{RESULTS}/CANCEL_RESERVATION/1", reservation_id="R-1")
    await world.control.cancel_reservation(world.sender, body)
    await world.control.idle()
    assert world.partner.bodies()[-1]["result"] == "UNKNOWN_RESERVATION"
    assert world.store.held_reservations() == []


async def test_an_unknown_reservation_is_answered_without_asking_any_charger(world: World):
    """ACCEPTED, then UNKNOWN_RESERVATION posted; no OCPP call goes out."""
    body = CancelReservation(response_url=f"{RESULTS}/CANCEL_RESERVATION/9", reservation_id="R-404")
    assert isinstance(await world.control.cancel_reservation(world.sender, body), Accepted)
    await world.control.idle()
    assert world.link.sent == []
    (result,) = world.partner.bodies()
    assert result["result"] == "UNKNOWN_RESERVATION"


async def test_cancelling_on_an_offline_charger_is_rejected(world: World):
    """The reservation stays as it is; the partner may try again."""
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.idle()
    world.link.online = set()
    body = CancelReservation(response_url=f"{RESULTS}/CANCEL_RESERVATION/1", reservation_id="R-1")
    reply = await world.control.cancel_reservation(world.sender, body)
    assert isinstance(reply, Refusal)
    assert reply.response is CommandResponseType.REJECTED
    refused = await world.control.cancel_reservation(
        world.sender, body.model_copy(update={"response_url": "ftp://emsp.example/"})
    )
    assert isinstance(refused, Refusal)


async def test_the_reserved_token_starting_there_consumes_the_reservation(world: World):
    """The start is linked to the reservation (its reference) and the reservation is USED."""
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.idle()
    tx = a_transaction(at=T0 + timedelta(minutes=20), reservation_id=1)
    world.control.on_effect(TransactionChanged(transaction=tx))
    await world.control.idle()
    link = world.store.link_for("AC-0001", "7")
    assert link is not None
    assert (link.reservation_id, link.authorization_reference) == (1, "RES-1")
    assert world.store.held_reservations() == []


async def test_an_out_of_order_evse_cancels_its_reservations_and_tells_the_partner(world: World):
    """The CPO cancels: CancelReservation to the charger, CANCELED_RESERVATION to the partner."""
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.reserve_now(
        world.sender, reserve_body(reservation_id="R-2", evse_uid="AC-0001-2")
    )
    await world.control.idle()
    world.control.on_effect(
        EvseChanged(
            uid=EvseUid("AC-0001-1"),
            location_id=LocationId("LOC-001"),
            status=EvseStatus.OUT_OF_ORDER,
            last_updated=T0,
        )
    )
    world.control.on_effect(
        EvseChanged(
            uid=EvseUid("AC-0001-2"),
            location_id=LocationId("LOC-001"),
            status=EvseStatus.CHARGING,
            last_updated=T0,
        )
    )
    await world.control.idle()
    assert world.link.sent[-1] == (AC, c.CancelReservation(reservation_id=1))
    last = world.partner.calls[-1]
    assert last["url"] == f"{RESULTS}/RESERVE_NOW/1"
    assert last["body"]["result"] == "CANCELED_RESERVATION"
    assert [r.reservation_id for r in world.store.held_reservations()] == ["R-2"]


async def test_expired_reservations_stop_holding_and_the_charger_is_asked_to_report(world: World):
    """Past its expiry a reservation is EXPIRED; an EVSE still RESERVED is asked for its status."""
    await world.control.reserve_now(world.sender, reserve_body())
    await world.control.reserve_now(
        world.sender, reserve_body(reservation_id="R-2", evse_uid="AC-0001-2")
    )
    await world.control.idle()
    world.site.statuses[EvseUid("AC-0001-1")] = PublishedEvse(
        status=EvseStatus.RESERVED, last_updated=T0
    )
    assert await world.control.expire_reservations() == 0
    world.clock.advance(1800)
    assert await world.control.expire_reservations() == 2
    await world.control.idle()
    assert world.store.held_reservations() == []
    triggers = [cmd for _, cmd in world.link.sent if isinstance(cmd, c.TriggerMessage)]
    assert triggers == [
        c.TriggerMessage(
            message="StatusNotification", connector=ConnectorRef(evse=None, connector=1)
        )
    ]


# --- delivery ---------------------------------------------------------------------------------


def envelope(status: int = 200, code: int = 1000) -> httpx.Response:
    return httpx.Response(status, json={"status_code": code, "timestamp": "2026-11-22T10:00:00Z"})


@pytest.mark.parametrize(
    ("script", "state", "attempts"),
    [
        ([envelope(503), httpx.ConnectError("down")], RemoteState.DELIVERED, 3),
        ([envelope(503), envelope(502), envelope(500)], RemoteState.UNDELIVERABLE, 3),
        ([envelope(404, 2000)], RemoteState.UNDELIVERABLE, 1),
        ([envelope(200, 2001)], RemoteState.UNDELIVERABLE, 1),
    ],
    ids=["recovers", "gives-up", "client-error", "ocpi-refusal"],
)
async def test_a_result_post_is_retried_a_bounded_number_of_times(
    world: World, script, state, attempts
):
    """Server errors and lost connections are retried (3 attempts in all); refusals are not."""
    world.partner.script = list(script)
    await world.control.start_session(world.sender, start_body())
    await world.control.idle()
    (stored,) = world.store.commands.values()
    assert (stored.state, stored.attempts) == (state, attempts)
    assert len(world.partner.calls) == attempts


async def test_a_result_for_a_partner_that_is_gone_is_dropped(world: World):
    """The partner unregistered meanwhile: nothing to call, nothing retried."""
    await world.control.start_session(world.sender, start_body())
    world.partners.remove("emsp")
    await world.control.idle()
    (stored,) = world.store.commands.values()
    assert stored.state is RemoteState.UNDELIVERABLE
    assert world.partner.calls == []


async def test_a_response_url_off_the_partner_s_hosts_is_refused_at_delivery_too(world: World):
    """The partner re-registered elsewhere: the client refuses the old host, once, logged."""
    await world.control.start_session(world.sender, start_body())
    record = world.partners.partner("emsp")
    assert record is not None
    assert record.link is not None
    moved = replace(record.link, versions_url="https://new.example/v", endpoints=())
    world.partners.update_link(record.id, moved, now=T0)
    await world.control.idle()
    (stored,) = world.store.commands.values()
    assert (stored.state, stored.attempts) == (RemoteState.UNDELIVERABLE, 1)
    assert world.partner.calls == []


# --- restarts ---------------------------------------------------------------------------------


async def test_a_restart_delivers_what_was_never_delivered_and_no_more(world: World):
    """In flight at the stop: TIMEOUT after the restart; a known result: that one; a started
    session: ACCEPTED; profile requests: REJECTED; delivered ones: nothing."""
    world.link.answers[c.StartCharging] = "hang"
    world.link.answers[c.StopCharging] = "hang"
    world.link.answers[c.SetChargingProfile] = "hang"
    world.transactions.txs.append(running_tx())
    await world.control.start_session(world.sender, start_body())  # 1: will be linked
    await world.control.start_session(
        world.sender, start_body(evse_uid="AC-0001-2", response_url=f"{RESULTS}/START_SESSION/2")
    )
    await world.control.stop_session(
        world.sender, StopSession(response_url=f"{RESULTS}/STOP_SESSION/3", session_id="AC-0001-7")
    )
    profile = SetChargingProfile.model_validate(
        {
            "response_url": f"{PROFILES_URL}/results/4",
            "charging_profile": {
                "charging_rate_unit": "A",
                "charging_profile_period": [{"start_period": 0, "limit": 10}],
            },
        }
    )
    await world.control.set_profile(world.sender, "AC-0001-7", profile)
    world.control.on_effect(TransactionChanged(transaction=a_transaction(tx_id="8", at=T0)))
    await asyncio.sleep(0.05)
    await world.control.stop()
    world.store.settle(2, {"result": "REJECTED"}, outcome="REJECTED", now=T0)
    assert world.partner.calls == []

    again = world.make()
    await again.start()
    await again.idle()
    results = {call["url"].rsplit("/", 1)[1]: call["body"] for call in world.partner.calls}
    assert results == {
        "1": {"result": "ACCEPTED"},
        "2": {"result": "REJECTED"},
        "3": {
            "result": "TIMEOUT",
            "message": [
                {"language": "en", "text": "no answer from the charger was received in time"}
            ],
        },
        "4": {"result": "REJECTED"},
    }
    third = world.make()
    await third.start()
    await third.idle()
    assert len(world.partner.calls) == 4
    await again.stop()
    await third.stop()


# --- charging profiles ------------------------------------------------------------------------


def profile_body(n: int = 1, **profile: Any) -> SetChargingProfile:
    return SetChargingProfile.model_validate(
        {
            "response_url": f"{PROFILES_URL}/results/{n}",
            "charging_profile": {
                "charging_rate_unit": "W",
                "charging_profile_period": [
                    {"start_period": 0, "limit": 11000},
                    {"start_period": 600, "limit": 7400},
                ],
                **profile,
            },
        }
    )


COMPOSITE = c.CommandOutcome(
    status=c.OutcomeStatus.ACCEPTED,
    detail={
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-11-22T10:00:00Z",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
        },
    },
)


async def test_a_profile_is_set_as_a_tx_profile_and_the_setter_hears_the_new_active_profile(
    world: World,
):
    """SetChargingProfile on the transaction, ChargingProfileResult, then a PUT of the
    ActiveChargingProfile to the partner's chargingprofiles endpoint."""
    world.transactions.txs.append(running_tx())
    world.link.answers[c.GetCompositeSchedule] = COMPOSITE
    assert isinstance(
        await world.control.set_profile(world.sender, "AC-0001-7", profile_body()), Accepted
    )
    await world.control.idle()
    (_, sent), (_, asked) = world.link.sent
    assert isinstance(sent, c.SetChargingProfile)
    assert sent.connector == ConnectorRef(evse=None, connector=1)
    assert (sent.profile.id, sent.profile.tx_id, sent.profile.purpose) == (
        1,
        "7",
        c.ProfilePurpose.TX,
    )
    assert sent.profile.periods[1] == c.SchedulePeriod(start_s=600, limit=Decimal(7400))
    assert asked == c.GetCompositeSchedule(
        connector=ConnectorRef(evse=None, connector=1), duration_s=3600
    )
    result, update = world.partner.calls
    assert (result["url"], result["body"]) == (f"{PROFILES_URL}/results/1", {"result": "ACCEPTED"})
    assert update["method"] == "PUT"
    assert update["url"] == f"{PROFILES_URL}/AC-0001-7"
    assert update["body"] == {
        "start_date_time": "2026-11-22T10:00:00Z",
        "charging_profile": {
            "charging_rate_unit": "W",
            "charging_profile_period": [{"start_period": 0, "limit": 7400}],
        },
    }


async def test_a_second_profile_replaces_the_first_under_the_same_id(world: World):
    """One profile id per session: the charger replaces rather than stacks."""
    world.transactions.txs.append(running_tx())
    world.link.answers[c.GetCompositeSchedule] = c.CommandOutcome(status=c.OutcomeStatus.REJECTED)
    await world.control.set_profile(world.sender, "AC-0001-7", profile_body(1))
    await world.control.set_profile(world.sender, "AC-0001-7", profile_body(2))
    await world.control.idle()
    ids = [cmd.profile.id for _, cmd in world.link.sent if isinstance(cmd, c.SetChargingProfile)]
    assert ids == [1, 1]


@pytest.mark.parametrize(
    ("body", "tx", "expected"),
    [
        (profile_body(charging_profile_period=[]), running_tx(), OcpiStatus.INVALID_PARAMETERS),
        (
            profile_body(charging_profile_period=[{"start_period": 0, "limit": -5}]),
            running_tx(),
            OcpiStatus.INVALID_PARAMETERS,
        ),
        (profile_body(), None, CommandResponseType.UNKNOWN_SESSION),
        (profile_body(), running_tx(auth_source="other"), CommandResponseType.REJECTED),
        (
            profile_body().model_copy(update={"response_url": "https://10.0.0.1/x"}),
            running_tx(),
            OcpiStatus.INVALID_PARAMETERS,
        ),
    ],
    ids=["no-periods", "negative", "unknown-session", "foreign-session", "foreign-url"],
)
async def test_a_profile_that_cannot_be_set_is_refused_at_once(world: World, body, tx, expected):
    """Malformed profiles are 2001; unknown or foreign sessions answered; nothing is sent."""
    if tx is not None:
        world.transactions.txs.append(tx)
    reply = await world.control.set_profile(world.sender, "AC-0001-7", body)
    assert isinstance(reply, Refusal)
    assert expected in (reply.status, reply.response)
    assert world.link.sent == []


async def test_the_active_profile_is_read_on_request(world: World):
    """GET: GetCompositeSchedule for the duration; ActiveChargingProfileResult posted."""
    world.transactions.txs.append(running_tx())
    world.link.answers[c.GetCompositeSchedule] = COMPOSITE
    url = f"{PROFILES_URL}/results/get-1"
    reply = await world.control.get_profile(
        world.sender, "AC-0001-7", duration_s=900, response_url=url
    )
    assert isinstance(reply, Accepted)
    await world.control.idle()
    assert world.link.sent == [
        (AC, c.GetCompositeSchedule(connector=ConnectorRef(evse=None, connector=1), duration_s=900))
    ]
    (body,) = world.partner.bodies(url)
    assert body["result"] == "ACCEPTED"
    assert body["profile"]["charging_profile"]["charging_profile_period"] == [
        {"start_period": 0, "limit": 7400}
    ]
    zero = await world.control.get_profile(
        world.sender, "AC-0001-7", duration_s=0, response_url=url
    )
    assert isinstance(zero, Refusal)
    foreign = await world.control.get_profile(
        world.sender, "AC-0001-7", duration_s=60, response_url="https://x.example/"
    )
    assert isinstance(foreign, Refusal)
    unknown = await world.control.get_profile(
        world.sender, "AC-0001-8", duration_s=60, response_url=url
    )
    assert isinstance(unknown, Refusal)


async def test_clearing_removes_the_partner_s_profile_and_setters_hear_of_it(world: World):
    """DELETE: ClearChargingProfile by the session's profile id; without one, by purpose."""
    world.transactions.txs.append(running_tx())
    url = f"{PROFILES_URL}/results/clear-1"
    await world.control.clear_profile(world.sender, "AC-0001-7", response_url=url)
    await world.control.idle()
    assert world.link.sent[-1][1] == c.ClearChargingProfile(
        connector=ConnectorRef(evse=None, connector=1), purpose=c.ProfilePurpose.TX
    )
    assert world.partner.bodies(url) == [{"result": "ACCEPTED"}]  # nobody set one: no update

    world.link.answers[c.GetCompositeSchedule] = COMPOSITE
    await world.control.set_profile(world.sender, "AC-0001-7", profile_body())
    await world.control.idle()
    world.link.answers[c.ClearChargingProfile] = c.CommandOutcome(
        status=c.OutcomeStatus.UNKNOWN, detail={"status": "Unknown"}
    )
    await world.control.clear_profile(world.sender, "AC-0001-7", response_url=f"{url}-2")
    await world.control.idle()
    assert c.ClearChargingProfile(profile_id=2) in [cmd for _, cmd in world.link.sent]
    assert world.partner.bodies(f"{url}-2") == [{"result": "UNKNOWN"}]
    foreign = await world.control.clear_profile(
        world.sender, "AC-0001-7", response_url="https://x.example/"
    )
    assert isinstance(foreign, Refusal)


async def test_active_profile_updates_skip_partners_without_an_endpoint_and_survive_failures(
    world: World, caplog
):
    """No chargingprofiles endpoint: no update; a failing PUT is logged, not retried."""
    world.transactions.txs.append(running_tx())
    world.link.answers[c.GetCompositeSchedule] = COMPOSITE
    world.partner.script = [envelope(), envelope(500)]
    await world.control.set_profile(world.sender, "AC-0001-7", profile_body())
    await world.control.idle()
    assert len(world.partner.calls) == 2
    assert "not sent to emsp" in caplog.text

    record = world.partners.partner("emsp")
    assert record is not None
    assert record.link is not None
    world.partners.update_link(
        record.id, replace(record.link, endpoints=record.link.endpoints[:1]), now=T0
    )
    await world.control.set_profile(world.sender, "AC-0001-7", profile_body(2))
    await world.control.idle()
    assert len(world.partner.calls) == 3  # the result only


async def test_a_2_0_1_session_s_profile_goes_to_its_evse(world: World):
    """2.0.1 transactions report the EVSE as a whole; the profile goes to that EVSE."""
    tx = running_tx(
        charger_id=DC,
        tx_id="dc-1",
        evse_uid=EvseUid("DC-0001-1"),
        connector=ConnectorRef(evse=1, connector=0),
    )
    world.transactions.txs.append(tx)
    world.link.answers[c.GetCompositeSchedule] = c.CommandOutcome(status=c.OutcomeStatus.REJECTED)
    await world.control.set_profile(world.sender, "DC-0001-dc-1", profile_body())
    await world.control.idle()
    ((_, sent), _) = world.link.sent
    assert isinstance(sent, c.SetChargingProfile)
    assert sent.connector == ConnectorRef(evse=1, connector=1)


# --- authorisation and token identity ---------------------------------------------------------


class Inner:
    def __init__(self) -> None:
        self.asked: list[AuthToken] = []

    async def authorize(self, charger_id, token, evse_uid) -> AuthDecision:
        self.asked.append(token)
        return AuthDecision(status=AuthStatus.INVALID)


async def test_a_commanded_token_is_not_authorised_again_for_15_minutes(world: World):
    """A START_SESSION's token is accepted at its EVSE in the partner's name; others are asked."""
    inner = Inner()
    authorizer = CommandAuthorizer(inner, store=world.store, clock=world.clock)
    await world.control.start_session(world.sender, start_body())
    await world.control.idle()

    here = await authorizer.authorize(AC, AuthToken(value=UID), EvseUid("AC-0001-1"))
    assert (here.status, here.source, here.reference) == (AuthStatus.ACCEPTED, "emsp", "AUTH-1")
    elsewhere = await authorizer.authorize(AC, AuthToken(value=UID), EvseUid("AC-0001-2"))
    assert elsewhere.status is AuthStatus.INVALID
    world.clock.advance(15 * 60)
    later = await authorizer.authorize(AC, AuthToken(value=UID), EvseUid("AC-0001-1"))
    assert later.status is AuthStatus.INVALID
    assert inner.asked == [AuthToken(value=UID), AuthToken(value=UID)]


async def test_authorisation_goes_on_when_the_command_store_fails(world: World, caplog):
    """A broken store costs the 15-minute shortcut, never the authorisation."""

    class Broken(MemoryCommands):
        def received_since(self, since):
            raise OSError("disk")

    authorizer = CommandAuthorizer(Inner(), store=Broken(), clock=world.clock)
    decision = await authorizer.authorize(AC, AuthToken(value=UID), None)
    assert decision.status is AuthStatus.INVALID
    assert "commands unavailable" in caplog.text


async def test_a_commanded_token_belongs_to_the_partner_with_auth_method_command(world: World):
    """TokenBook: with a reference, the command that carried it; without one, the tokens
    module first, the partner's latest command only for tokens it does not know."""

    class Fallback:
        def identity(self, token, *, auth_source, auth_reference):
            if token.value != "CARD":
                return None
            return TokenIdentity(
                country_code="NL", party_id="XXX", uid="CARD", type=TokenType.RFID, contract_id="C"
            )

    await world.control.start_session(world.sender, start_body(token=ocpi_token(type="APP_USER")))
    await world.control.start_session(
        world.sender,
        start_body(token=ocpi_token(uid="CARD"), authorization_reference=None),
    )
    await world.control.start_session(
        world.sender, start_body(token=ocpi_token(uid="APP-2"), authorization_reference=None)
    )
    await world.control.idle()
    book = CommandTokenBook(world.store, fallback=Fallback())
    identity = book.identity(AuthToken(value=UID), auth_source="emsp", auth_reference="AUTH-1")
    assert identity is not None
    assert (identity.party_id, identity.type, identity.auth_method.value) == (
        "EMS",
        TokenType.APP_USER,
        "COMMAND",
    )
    assert identity.authorization_reference == "AUTH-1"
    assert book.identity(AuthToken(value=UID), auth_source="emsp", auth_reference="OTHER") is None
    assert book.identity(AuthToken(value=UID), auth_source=None, auth_reference=None) is None
    known = book.identity(AuthToken(value="CARD"), auth_source="emsp", auth_reference=None)
    assert known is not None
    assert known.party_id == "XXX"  # the tokens module knows it: its answer stands
    app = book.identity(AuthToken(value="APP-2"), auth_source="emsp", auth_reference=None)
    assert app is not None
    assert (app.uid, app.auth_method.value, app.authorization_reference) == (
        "APP-2",
        "COMMAND",
        None,
    )
    bare = CommandTokenBook(world.store)
    assert bare.identity(AuthToken(value="NOPE"), auth_source="emsp", auth_reference=None) is None
