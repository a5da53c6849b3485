"""Pure command translation: places, the response_url guard, ids, results, links, vouching."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

from gateway.domain.authorization import AuthStatus
from gateway.domain.commands import CommandOutcome, OutcomeStatus
from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.remote import RemoteKind, ReservationState
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, TokenKind
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.commands import CommandResponseType, CommandResultType
from ocpi_bridge.models.tokens import Token, TokenType
from ocpi_bridge.status import OcpiStatus
from ocpi_bridge.translate import commands as t
from ocpi_bridge.translate.commands import Place, Refusal
from tests.builders import T0, a_settings
from tests.remote_site import (
    LONG_UID,
    UID,
    a_command,
    a_reservation,
    a_transaction,
    ocpi_token,
    partner_token,
    remote_locations,
)

SETTINGS = a_settings(locations=remote_locations())
TOPOLOGY = SETTINGS.topology()
AC, DC = ChargerId("AC-0001"), ChargerId("DC-0001")


def place(kind=RemoteKind.START_SESSION, location="LOC-001", evse=None, connector=None):
    return t.find_place(
        SETTINGS.locations,
        TOPOLOGY,
        kind=kind,
        location_id=location,
        evse_uid=evse,
        connector_id=connector,
    )


# --- ids --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [(1, 1), (2, 2), (t.MAX_CHARGER_ID, t.MAX_CHARGER_ID), (t.MAX_CHARGER_ID + 1, 1)],
)
def test_charger_ids_are_positive_32_bit_integers(sequence, expected):
    """The store's sequence becomes the charger's id; it wraps only past 2**31 - 1."""
    assert t.charger_int_id(sequence) == expected


def test_a_sequence_number_below_one_is_a_bug():
    """Store sequences start at 1: anything else is refused loudly."""
    with pytest.raises(ValueError, match="start at 1"):
        t.charger_int_id(0)


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=1, max_value=1000))
def test_distinct_sequence_numbers_close_together_give_distinct_charger_ids(first, gap):
    """Two commands less than 2**31 apart never share a charger id."""
    a, b = t.charger_int_id(first), t.charger_int_id(first + gap)
    assert 1 <= a <= t.MAX_CHARGER_ID
    assert a != b


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ocpi_type", "kind"),
    [
        ("RFID", TokenKind.RFID),
        ("APP_USER", TokenKind.CENTRAL),
        ("AD_HOC_USER", TokenKind.CENTRAL),
        ("OTHER", TokenKind.OTHER),
    ],
)
def test_an_ocpi_token_reaches_the_charger_as_its_kind(ocpi_type, kind):
    """RFID uids stay cards; app and ad-hoc tokens are central identifiers."""
    token = t.partner_token(Token.model_validate(ocpi_token(type=ocpi_type, group_id="G-1")))
    assert token.group_id == "G-1"
    assert t.auth_token(token) == AuthToken(value=UID, kind=kind)


@pytest.mark.parametrize(
    ("presented", "uid", "matches"),
    [
        (UID, UID, True),
        (UID.lower(), UID, True),
        (LONG_UID[:20], LONG_UID, True),
        (LONG_UID[:20].lower(), LONG_UID, True),
        (LONG_UID[:19], LONG_UID, False),
        (UID, "OTHER", False),
        (LONG_UID[:20], LONG_UID[:20] + "X", True),
        ("X" * 20, "X" * 20, True),
    ],
)
def test_a_presented_token_matches_its_uid_case_insensitively_and_cut_at_20(
    presented, uid, matches
):
    """CiStrings compare case-insensitively; a 1.6 charger reports 20 characters of a uid."""
    assert t.token_matches(presented, uid) is matches


@given(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=36)
)
def test_whatever_a_1_6_charger_reports_of_a_uid_matches_it(uid):
    """The idTag a 1.6 charger got (the uid cut at 20) always leads back to the uid."""
    assert t.token_matches(uid[:20], uid)


def test_a_command_token_becomes_the_session_token_with_auth_method_command():
    """Sessions started by a command carry the partner's token and its reference."""
    identity = t.to_token_identity(partner_token(type="APP_USER"), "AUTH-9")
    assert (identity.country_code, identity.party_id, identity.uid) == ("DE", "EMS", UID)
    assert identity.type is TokenType.APP_USER
    assert identity.auth_method is AuthMethod.COMMAND
    assert identity.authorization_reference == "AUTH-9"


# --- places -----------------------------------------------------------------------------------


@pytest.mark.parametrize("location", ["LOC-404", "loc-priv"])
def test_an_unknown_or_unpublished_location_is_2003(location):
    """status_codes 2003: "Command: START_SESSION with unknown location"."""
    refusal = place(location=location, evse="AC-0001-1")
    assert refusal == Refusal(
        message=f"unknown location {location!r}", status=OcpiStatus.UNKNOWN_LOCATION
    )


@pytest.mark.parametrize(
    ("evse", "connector", "response"),
    [
        ("NOPE", None, CommandResponseType.REJECTED),
        ("AC-0001-4", None, CommandResponseType.REJECTED),  # removed
        ("AC-0001-5", None, CommandResponseType.NOT_SUPPORTED),  # not remote-start capable
        ("AC-0001-3", "9", CommandResponseType.REJECTED),  # unknown connector
    ],
)
def test_an_evse_that_cannot_take_the_command_is_refused(evse, connector, response):
    """Unknown or removed EVSEs and connectors are REJECTED; a missing capability NOT_SUPPORTED."""
    refusal = place(location="LOC-002", evse=evse, connector=connector)
    assert isinstance(refusal, Refusal)
    assert refusal.response is response
    assert refusal.status is OcpiStatus.SUCCESS


def test_ids_are_found_case_insensitively_and_a_connector_picks_its_charger_connector():
    """CiStrings: loc-001 / dc-0001-1 name the configured objects; connector 2 is EVSE 1/2."""
    found = place(location="loc-001", evse="dc-0001-1", connector="2")
    assert isinstance(found, Place)
    assert (found.charger_id, found.evse_uid) == (DC, EvseUid("DC-0001-1"))
    assert found.connector == ConnectorRef(evse=1, connector=2)
    assert found.location.id == "LOC-001"


def test_without_a_connector_the_evse_s_first_connector_is_used():
    """A 1.6 EVSE is one connector: START_SESSION without connector_id goes to it."""
    found = place(evse="AC-0001-2")
    assert isinstance(found, Place)
    assert found.connector == ConnectorRef(evse=None, connector=2)


def test_a_location_served_by_one_charger_takes_a_command_without_an_evse():
    """Without an EVSE the single charger chooses; the place names no connector."""
    found = place(location="LOC-002")
    assert isinstance(found, Place)
    assert found == Place(location=found.location, charger_id=AC)
    assert found.evse_uid is None


def test_a_location_with_several_chargers_needs_an_evse():
    """The gateway cannot choose between chargers: NOT_SUPPORTED, say which EVSE."""
    refusal = place(location="LOC-001")
    assert isinstance(refusal, Refusal)
    assert refusal.response is CommandResponseType.NOT_SUPPORTED
    assert "several chargers" in refusal.message


def test_a_location_without_a_capable_evse_does_not_support_the_command():
    """No EVSE of the Location can be unlocked remotely: NOT_SUPPORTED."""
    locations = remote_locations()
    for evse in locations[1]["evses"]:
        evse["capabilities"] = ["RFID_READER"]
    settings = a_settings(locations=locations)
    refusal = t.find_place(
        settings.locations,
        settings.topology(),
        kind=RemoteKind.UNLOCK_CONNECTOR,
        location_id="LOC-002",
        evse_uid=None,
    )
    assert isinstance(refusal, Refusal)
    assert refusal.response is CommandResponseType.NOT_SUPPORTED


def test_a_command_needing_no_capability_goes_anywhere_active():
    """CANCEL_RESERVATION asks nothing of the EVSE's capabilities."""
    found = place(kind=RemoteKind.CANCEL_RESERVATION, location="LOC-002", evse="AC-0001-5")
    assert isinstance(found, Place)
    anywhere = place(kind=RemoteKind.CANCEL_RESERVATION, location="LOC-002")
    assert isinstance(anywhere, Place)


def test_an_evse_requiring_a_connector_refuses_a_start_without_one():
    """START_SESSION_CONNECTOR_REQUIRED: connector_id is then a required parameter (2001)."""
    locations = remote_locations()
    locations[0]["evses"][2]["capabilities"].append("START_SESSION_CONNECTOR_REQUIRED")
    settings = a_settings(locations=locations)
    refusal = t.find_place(
        settings.locations,
        settings.topology(),
        kind=RemoteKind.START_SESSION,
        location_id="LOC-001",
        evse_uid="DC-0001-1",
    )
    assert isinstance(refusal, Refusal)
    assert refusal.status is OcpiStatus.INVALID_PARAMETERS
    assert refusal.response is None


# --- the response_url guard -------------------------------------------------------------------

HOSTS = frozenset({"emsp.example", "203.0.113.7", "10.1.2.3"})


@pytest.mark.parametrize(
    ("url", "allow_private", "reason"),
    [
        ("https://emsp.example/results/1", False, None),
        ("http://EMSP.example:8080/results/1", False, None),
        ("https://203.0.113.7/r", False, "not a public address"),  # TEST-NET-3: not global
        ("https://10.1.2.3/r", True, None),
        ("https://10.1.2.3/r", False, "not a public address"),
        ("https://attacker.example/r", False, "not one of the hosts you registered"),
        ("https://169.254.169.254/latest/meta-data", True, "not one of the hosts"),
        ("ftp://emsp.example/r", False, "http(s) URL with a host"),
        ("https:///r", False, "http(s) URL with a host"),
        ("https://user:pw@emsp.example/r", False, "user info"),
        ("https://emsp.example:port/r", False, "not a URL"),
        ("not a url", False, "http(s) URL with a host"),
    ],
)
def test_results_go_only_to_hosts_the_partner_registered(url, allow_private, reason):
    """R-OCPI-CMD-2: a response_url elsewhere (or on a private address) is refused."""
    refused = t.refuse_response_url(url, hosts=HOSTS, allow_private=allow_private)
    if reason is None:
        assert refused is None
    else:
        assert refused is not None
        assert reason in refused


def test_a_public_address_literal_the_partner_registered_is_fine():
    """An IP literal is checked for being public; 8.8.8.8 is."""
    assert (
        t.refuse_response_url(
            "https://8.8.8.8/r", hosts=frozenset({"8.8.8.8"}), allow_private=False
        )
        is None
    )


# --- results ----------------------------------------------------------------------------------


def outcome(status: OutcomeStatus, answer: str | None = None) -> CommandOutcome:
    return CommandOutcome(status=status, detail={} if answer is None else {"status": answer})


@pytest.mark.parametrize(
    ("kind", "answer", "expected"),
    [
        (RemoteKind.START_SESSION, outcome(OutcomeStatus.ACCEPTED, "Accepted"), "ACCEPTED"),
        (RemoteKind.START_SESSION, outcome(OutcomeStatus.REJECTED, "Rejected"), "REJECTED"),
        (
            RemoteKind.RESERVE_NOW,
            outcome(OutcomeStatus.OCCUPIED, "Occupied"),
            "EVSE_OCCUPIED",
        ),
        (
            RemoteKind.RESERVE_NOW,
            outcome(OutcomeStatus.FAULTED, "Faulted"),
            "EVSE_INOPERATIVE",
        ),
        (
            RemoteKind.RESERVE_NOW,
            outcome(OutcomeStatus.UNAVAILABLE, "Unavailable"),
            "EVSE_INOPERATIVE",
        ),
        (RemoteKind.RESERVE_NOW, outcome(OutcomeStatus.REJECTED, "Rejected"), "REJECTED"),
        (
            RemoteKind.CANCEL_RESERVATION,
            outcome(OutcomeStatus.REJECTED, "Rejected"),
            "UNKNOWN_RESERVATION",
        ),
        (
            RemoteKind.CANCEL_RESERVATION,
            outcome(OutcomeStatus.UNKNOWN, "Unknown"),
            "UNKNOWN_RESERVATION",
        ),
        (RemoteKind.CANCEL_RESERVATION, outcome(OutcomeStatus.ACCEPTED), "ACCEPTED"),
        (
            RemoteKind.UNLOCK_CONNECTOR,
            outcome(OutcomeStatus.ACCEPTED, "Unlocked"),
            "ACCEPTED",
        ),
        (
            RemoteKind.UNLOCK_CONNECTOR,
            outcome(OutcomeStatus.FAILED, "UnlockFailed"),
            "FAILED",
        ),
        (
            RemoteKind.UNLOCK_CONNECTOR,
            outcome(OutcomeStatus.REJECTED, "OngoingAuthorizedTransaction"),
            "EVSE_OCCUPIED",
        ),
        (
            RemoteKind.UNLOCK_CONNECTOR,
            outcome(OutcomeStatus.NOT_SUPPORTED, "NotSupported"),
            "NOT_SUPPORTED",
        ),
        (RemoteKind.STOP_SESSION, outcome(OutcomeStatus.TIMEOUT), "TIMEOUT"),
        (RemoteKind.STOP_SESSION, outcome(OutcomeStatus.OFFLINE), "FAILED"),
        (RemoteKind.STOP_SESSION, outcome(OutcomeStatus.SCHEDULED), "ACCEPTED"),
        (RemoteKind.STOP_SESSION, outcome(OutcomeStatus.REBOOT_REQUIRED), "REJECTED"),
        (RemoteKind.STOP_SESSION, outcome(OutcomeStatus.VERSION_MISMATCH), "REJECTED"),
    ],
)
def test_the_charger_s_answer_becomes_a_command_result(kind, answer, expected):
    """Each OCPP answer maps to the CommandResultType that says the same."""
    assert t.to_command_result(kind, answer).result is CommandResultType(expected)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("NotImplemented", "NOT_SUPPORTED"),
        ("NotSupported", "NOT_SUPPORTED"),
        ("InternalError", "FAILED"),
    ],
)
def test_a_callerror_is_not_supported_or_failed(code, expected):
    """A CALLERROR for an action the charger lacks is NOT_SUPPORTED; any other, FAILED."""
    result = t.to_command_result(
        RemoteKind.UNLOCK_CONNECTOR,
        CommandOutcome(status=OutcomeStatus.ERROR, error_code=code, message="x"),
    )
    assert result.result is CommandResultType(expected)
    assert result.message is not None
    assert code in result.message[0].text


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (EvseStatus.CHARGING, "EVSE_OCCUPIED"),
        (EvseStatus.OUT_OF_ORDER, "EVSE_INOPERATIVE"),
        (EvseStatus.INOPERATIVE, "EVSE_INOPERATIVE"),
        (EvseStatus.AVAILABLE, "REJECTED"),
        (None, "REJECTED"),
    ],
)
def test_a_rejected_start_says_why_when_the_evse_status_tells(status, expected):
    """A remote start refused on a charging or broken EVSE is EVSE_OCCUPIED / EVSE_INOPERATIVE."""
    result = t.to_command_result(
        RemoteKind.START_SESSION,
        outcome(OutcomeStatus.REJECTED, "Rejected"),
        evse_status=status,
    )
    assert result.result is CommandResultType(expected)


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (outcome(OutcomeStatus.ACCEPTED, "Accepted"), None),
        (outcome(OutcomeStatus.TIMEOUT), "did not answer in time"),
        (outcome(OutcomeStatus.OFFLINE), "went offline"),
        (outcome(OutcomeStatus.REJECTED, "Rejected"), "the charger answered Rejected"),
        (outcome(OutcomeStatus.REJECTED), None),
    ],
)
def test_results_explain_themselves_in_english(answer, text):
    """A result that is not ACCEPTED carries a DisplayText saying what happened."""
    message = t.to_command_result(RemoteKind.STOP_SESSION, answer).message
    if text is None:
        assert message is None
    else:
        assert message is not None
        assert message[0].language == "en"
        assert text in message[0].text


def test_fixed_results():
    """TIMEOUT after a lost answer, UNKNOWN_RESERVATION, and the CPO's own cancellation."""
    assert t.timeout_result().result is CommandResultType.TIMEOUT
    unknown = t.unknown_reservation_result("R-9")
    assert unknown.result is CommandResultType.UNKNOWN_RESERVATION
    assert unknown.message is not None
    assert "R-9" in unknown.message[0].text
    canceled = t.canceled_reservation_result("EVSE out of order")
    assert canceled.result is CommandResultType.CANCELED_RESERVATION


# --- linking starts ---------------------------------------------------------------------------


def test_a_2_0_1_transaction_named_in_the_answer_belongs_to_the_command():
    """RequestStartTransaction answered with a transactionId: that transaction is the command's."""
    command = a_command(id=5, tx_id="dc-tx-1", charger_id=DC, received_at=T0 + timedelta(hours=1))
    tx = a_transaction(charger_id=DC, tx_id="dc-tx-1", token=None)
    assert t.match_start(tx, [command]) == command


def test_a_2_0_1_transaction_carrying_the_remote_start_id_belongs_to_the_command():
    """remoteStartId is the command's charger id: no token or EVSE comparison needed."""
    ours, other = a_command(id=5, charger_id=DC), a_command(id=6, charger_id=DC)
    tx = a_transaction(charger_id=DC, tx_id="x", remote_start_id=5, token=None)
    assert t.match_start(tx, [other, ours]) == ours


def test_a_foreign_remote_start_id_is_not_ours():
    """A transaction started by someone else's remote start is never linked by token."""
    tx = a_transaction(remote_start_id=999)
    assert t.match_start(tx, [a_command(id=5)]) is None


def test_a_1_6_transaction_is_linked_by_evse_token_and_time():
    """1.6 carries no remote start id: same EVSE, same token, within 15 minutes after."""
    command = a_command(id=3)
    assert t.match_start(a_transaction(at=T0 + timedelta(minutes=14)), [command]) == command
    cut = a_transaction(token=AuthToken(value=LONG_UID[:20]))
    long = a_command(id=4, token=partner_token(LONG_UID))
    assert t.match_start(cut, [long]) == long


@pytest.mark.parametrize(
    "tx",
    [
        a_transaction(at=T0 + timedelta(minutes=16)),  # too late
        a_transaction(at=T0 - timedelta(seconds=1)),  # before the command
        a_transaction(evse_uid=EvseUid("AC-0001-2")),  # another EVSE
        a_transaction(token=AuthToken(value="SOMEONE-ELSE")),
        a_transaction(token=None),
        a_transaction(charger_id=DC),
    ],
    ids=["late", "early", "other-evse", "other-token", "no-token", "other-charger"],
)
def test_a_1_6_transaction_elsewhere_or_by_someone_else_is_not_linked(tx):
    """Nothing links a transaction that differs in time, place or token."""
    assert t.match_start(tx, [a_command(id=3)]) is None


def test_only_start_commands_with_a_token_link_and_the_newest_wins():
    """A STOP or a tokenless command never links; of two starts the newer one does."""
    old = a_command(id=1)
    new = a_command(id=2, received_at=T0 + timedelta(minutes=1))
    stop = a_command(RemoteKind.STOP_SESSION, id=3)
    tokenless = a_command(id=4, token=None)
    anywhere = a_command(id=5, evse_uid=None, received_at=T0 - timedelta(minutes=1))
    tx = a_transaction(at=T0 + timedelta(minutes=2))
    assert t.match_start(tx, [old, new, stop, tokenless]) == new
    assert t.match_start(tx, [anywhere, stop]) == anywhere


def test_a_reservation_is_consumed_by_the_start_that_names_it_or_by_its_token():
    """The charger names the reservation (reservationId), or the reserved token starts there."""
    named = a_reservation(id=4)
    assert t.match_reservation(a_transaction(reservation_id=4, token=None), [named]) == named
    assert t.match_reservation(a_transaction(reservation_id=5), [named]) is None
    by_token = a_reservation(id=6, evse_uid=None)
    assert t.match_reservation(a_transaction(), [by_token]) == by_token


@pytest.mark.parametrize(
    ("reservation", "tx"),
    [
        (a_reservation(state=ReservationState.CANCELLED), a_transaction()),
        (a_reservation(), a_transaction(at=T0 + timedelta(hours=1))),  # after its expiry
        (a_reservation(), a_transaction(token=None)),
        (a_reservation(), a_transaction(evse_uid=EvseUid("AC-0001-2"))),
        (a_reservation(charger_id=DC), a_transaction()),
    ],
    ids=["cancelled", "expired", "no-token", "other-evse", "other-charger"],
)
def test_a_reservation_that_no_longer_holds_or_is_elsewhere_is_not_consumed(reservation, tx):
    """Only a reservation still held, at that place, by that token is consumed."""
    assert t.match_reservation(tx, [reservation]) is None


def test_a_link_carries_the_command_s_token_and_reference_else_the_reservation_s():
    """The command wins (its reference is the session's); a reservation alone also links."""
    tx = a_transaction()
    command, reservation = a_command(id=3), a_reservation(id=4)
    link = t.to_session_link(
        tx, session_id="AC-0001-7", at=T0, command=command, reservation=reservation
    )
    assert link is not None
    assert (link.command_id, link.reservation_id, link.authorization_reference) == (3, 4, "AUTH-1")
    only = t.to_session_link(tx, session_id="AC-0001-7", at=T0, reservation=reservation)
    assert only is not None
    assert (only.command_id, only.reservation_id, only.authorization_reference) == (
        None,
        4,
        "RES-1",
    )
    assert (
        t.to_session_link(tx, session_id="AC-0001-7", at=T0, command=a_command(token=None)) is None
    )
    assert t.to_session_link(tx, session_id="AC-0001-7", at=T0) is None
    alone = t.to_session_link(tx, session_id="AC-0001-7", at=T0, command=command)
    assert alone is not None
    assert alone.reservation_id is None


# --- vouching for a commanded token -----------------------------------------------------------


def test_a_start_session_token_is_accepted_there_for_15_minutes_in_the_partner_s_name():
    """mod_commands: no real-time authorisation of that token at that EVSE for 15 minutes."""
    commands = [a_command(id=1, token=partner_token(group_id="GROUP-1"))]
    token = AuthToken(value=UID.lower())
    for now, evse in ((T0, EvseUid("AC-0001-1")), (T0 + timedelta(minutes=14), None)):
        decision = t.vouch(token, charger_id=AC, evse_uid=evse, now=now, commands=commands)
        assert decision is not None
        assert decision.status is AuthStatus.ACCEPTED
        assert (decision.source, decision.reference, decision.group_id) == (
            "emsp",
            "AUTH-1",
            "GROUP-1",
        )


@pytest.mark.parametrize(
    ("token", "charger", "evse", "minutes"),
    [
        (AuthToken(value=UID), AC, EvseUid("AC-0001-1"), 15),  # the window has closed
        (AuthToken(value=UID), AC, EvseUid("AC-0001-2"), 1),  # another EVSE
        (AuthToken(value=UID), DC, None, 1),  # another charger
        (AuthToken(value="NOT-THIS-ONE"), AC, None, 1),
        (AuthToken(value=UID), AC, None, -1),  # before the command
    ],
)
def test_elsewhere_later_or_another_token_is_asked_as_usual(token, charger, evse, minutes):
    """Outside the command's place, window or token the usual authoriser decides."""
    now = T0 + timedelta(minutes=minutes)
    assert (
        t.vouch(token, charger_id=charger, evse_uid=evse, now=now, commands=[a_command()]) is None
    )


def test_a_reservation_vouches_too_and_the_newest_command_names_the_reference():
    """RESERVE_NOW tokens are vouched for like START_SESSION ones; stops never."""
    reserve = a_command(RemoteKind.RESERVE_NOW, id=1, authorization_reference="RES-1")
    start = a_command(id=2, authorization_reference="AUTH-2", received_at=T0 + timedelta(minutes=1))
    stop = a_command(RemoteKind.STOP_SESSION, id=3)
    now = T0 + timedelta(minutes=2)
    decision = t.vouch(
        AuthToken(value=UID), charger_id=AC, evse_uid=None, now=now, commands=[reserve, start, stop]
    )
    assert decision is not None
    assert decision.reference == "AUTH-2"
    only_stop = t.vouch(
        AuthToken(value=UID), charger_id=AC, evse_uid=None, now=now, commands=[stop]
    )
    assert only_stop is None
    anywhere = a_command(id=4, evse_uid=None)
    assert t.vouch(
        AuthToken(value=UID),
        charger_id=AC,
        evse_uid=EvseUid("AC-0001-2"),
        now=T0,
        commands=[anywhere],
    )
    tokenless = a_command(id=5, token=None)
    assert (
        t.vouch(AuthToken(value=UID), charger_id=AC, evse_uid=None, now=T0, commands=[tokenless])
        is None
    )
