"""Pure: the Session a START_SESSION or RESERVE_NOW opens, and which one a transaction takes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

from gateway.config import load_settings
from gateway.domain.delivery import Claim, PendingKind, PendingStatus
from gateway.domain.remote import ReservationState
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.sessions import SessionStatus
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.sealing import OcpiSealer
from ocpi_bridge.translate.delivery import (
    choose_claim,
    pending_session_id,
    pending_session_of,
    pending_site,
    sealed_site,
    session_plan,
    to_pending_session,
    wire,
)
from ocpi_bridge.translate.sessions import TokenIdentity
from tests.builders import SHIPPED_CONFIG, T0
from tests.remote_site import a_command, a_reservation, a_transaction

SETTINGS = load_settings(SHIPPED_CONFIG)
LOC = SETTINGS.locations[0]
AC_EVSE, DC_EVSE = LOC.evses[0], LOC.evses[2]
TOKEN = TokenIdentity(
    country_code="de",
    party_id="ems",
    uid="04A1B2C3D4",
    type=TokenType.APP_USER,
    contract_id="DE-EMS-C12345678-X",
    auth_method=AuthMethod.COMMAND,
    authorization_reference="AUTH-1",
)


def a_pending(kind: PendingKind = PendingKind.START, *, evse=AC_EVSE, connector=None):
    site = pending_site(SETTINGS, LOC, evse, connector, configured_at={}, at=T0)
    return to_pending_session(
        kind=kind, source_id=4, charger_id="AC-0001", site=site, token=TOKEN, received_at=T0
    )


def test_a_pending_session_shows_the_command_s_token_place_and_no_charge():
    """PENDING, kwh 0, started when received, the command's token (COMMAND, reference),
    the EVSE's first connector when none was named, the tariff's currency, no cost."""
    pending = a_pending()
    session = pending_session_of(pending)

    assert pending.owner == ("DE", "EMS")
    assert session.id == "AC-0001-S4"
    assert session.status is SessionStatus.PENDING
    assert session.kwh == 0
    assert session.start_date_time == session.last_updated == T0
    assert (session.auth_method, session.authorization_reference) == (
        AuthMethod.COMMAND,
        "AUTH-1",
    )
    assert session.cdr_token.uid == "04A1B2C3D4"
    assert (session.location_id, session.evse_uid, session.connector_id) == (
        LOC.id,
        AC_EVSE.uid,
        AC_EVSE.connectors[0].id,
    )
    assert session.currency == "EUR"
    assert session.total_cost is None
    assert session.charging_periods is None
    assert session.end_date_time is None


def test_the_named_connector_and_its_tariff_are_sealed():
    """The connector the charger knows as the one named; the tariff that would apply."""
    named = DC_EVSE.connectors[-1]
    pending = a_pending(
        evse=DC_EVSE, connector=ConnectorRef(evse=1, connector=named.ocpp_connector_id)
    )
    site = sealed_site(pending.site)

    assert site.connector_id == named.id
    assert site.tariff is not None
    assert site.tariff.id in named.tariff_ids


def test_a_site_without_a_tariff_shows_euros():
    """No tariff applies: the Session still names a currency (EUR, as for free CDRs)."""
    bare = AC_EVSE.model_copy(
        update={
            "connectors": tuple(c.model_copy(update={"tariff_ids": ()}) for c in AC_EVSE.connectors)
        }
    )
    pending = a_pending(evse=bare)

    assert sealed_site(pending.site).tariff is None
    assert pending_session_of(pending).currency == "EUR"


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (PendingStatus.PENDING, SessionStatus.PENDING),
        (PendingStatus.RESERVATION, SessionStatus.RESERVATION),
        (PendingStatus.INVALID, SessionStatus.INVALID),
    ],
)
def test_each_pending_status_is_the_session_status_and_only_invalid_is_closed(status, shown):
    """The stored status is the OCPI one; only INVALID can no longer be taken."""
    assert pending_session_of(replace(a_pending(), status=status)).status is shown
    assert status.open is (status is not PendingStatus.INVALID)


@given(st.text(min_size=1, max_size=20), st.sampled_from(list(PendingKind)), st.integers(1, 10**9))
def test_pending_ids_name_the_charger_the_kind_and_the_source(charger, kind, source):
    """START_SESSION ids end in S<command id>, reservation ids in R<reservation id>."""
    made = pending_session_id(charger, kind, source)

    letter = "S" if kind is PendingKind.START else "R"
    assert made == f"{charger}-{letter}{source}"


def test_a_status_change_is_a_patch_of_status_and_last_updated():
    """PENDING held, INVALID now: PATCH {status, last_updated}."""
    held = wire(pending_session_of(a_pending()))
    later = replace(a_pending(), status=PendingStatus.INVALID, updated_at=T0 + timedelta(minutes=1))
    plan = session_plan(wire(pending_session_of(later)), held)

    assert plan.method == "PATCH"
    assert plan.body == {"status": "INVALID", "last_updated": "2026-11-22T10:01:00Z"}


def tx_at(minutes: float, **changes):
    return a_transaction(at=T0 + timedelta(minutes=minutes), **changes)


def test_a_transaction_takes_its_start_session_before_a_reservation():
    """Both match: the START_SESSION (as the session link prefers it)."""
    claim = choose_claim(
        tx_at(1), [a_command(id=3)], [a_reservation(id=5, state=ReservationState.ACTIVE)]
    )
    assert claim == Claim(kind=PendingKind.START, source_id=3)


def test_a_transaction_takes_the_reservation_it_consumes():
    """No START_SESSION: the held reservation of the token at that EVSE."""
    claim = choose_claim(tx_at(1), [], [a_reservation(id=5, state=ReservationState.ACTIVE)])
    assert claim == Claim(kind=PendingKind.RESERVATION, source_id=5)


@pytest.mark.parametrize(
    "tx",
    [
        tx_at(16),  # after the 15 minutes
        tx_at(1, token=AuthToken(value="SOMEONE-ELSE")),
        tx_at(1, evse_uid="AC-0001-2"),
    ],
    ids=["too late", "other token", "other EVSE"],
)
def test_a_transaction_takes_nothing_it_does_not_answer(tx):
    """Another token, EVSE, or too late for the START_SESSION: no claim."""
    assert choose_claim(tx, [a_command(id=3)], []) is None


def test_the_sealer_claims_as_the_pure_rule_does():
    """``OcpiSealer.claim`` is ``choose_claim``."""
    sealer = OcpiSealer(SETTINGS, configured_at={}, tokens=None)  # type: ignore[arg-type]
    assert sealer.claim(tx_at(1), [a_command(id=3)], []) == Claim(
        kind=PendingKind.START, source_id=3
    )
