"""The whitelist rules, token choice, real-time answers and Token records, as pure data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, strategies as st
from pydantic import ValidationError

from gateway.domain.authorization import AuthStatus
from gateway.domain.ids import ChargerId
from gateway.domain.transactions import AuthToken, TokenKind
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.tokens import AllowedType, Token, TokenPatch, TokenType, WhitelistType
from ocpi_bridge.translate.authorization import (
    Answered,
    NoAnswer,
    UnknownToken,
    auth_method,
    choose_token,
    decide,
    location_references,
    needs_realtime,
    read_answer,
)
from ocpi_bridge.translate.tokens import from_stored, patched, to_stored
from tests.builders import a_settings

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def a_token(uid: str = "04A1B2C3", **overrides: Any) -> Token:
    fields: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": "DE-EMS-C00001-1",
        "issuer": "Test eMSP",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": T0,
        **overrides,
    }
    return Token.model_validate(fields)


W = WhitelistType
UP = Answered(allowed=AllowedType.ALLOWED, authorization_reference="REF-1")
DOWN = NoAnswer(reason="connection refused")

#: whitelist, valid, what the eMSP did (None: not asked) -> status, decided by the eMSP
RULES = [
    (W.ALWAYS, True, None, AuthStatus.ACCEPTED, False),
    (W.ALWAYS, False, None, AuthStatus.BLOCKED, False),
    (W.ALLOWED, True, UP, AuthStatus.ACCEPTED, True),
    (W.ALLOWED, True, DOWN, AuthStatus.ACCEPTED, False),
    (W.ALLOWED, False, DOWN, AuthStatus.BLOCKED, False),
    (W.ALLOWED, False, UP, AuthStatus.ACCEPTED, True),  # valid=false still asks: it said yes
    (W.ALLOWED_OFFLINE, True, UP, AuthStatus.ACCEPTED, True),
    (W.ALLOWED_OFFLINE, True, DOWN, AuthStatus.ACCEPTED, False),
    (W.ALLOWED_OFFLINE, False, DOWN, AuthStatus.BLOCKED, False),
    (W.NEVER, True, UP, AuthStatus.ACCEPTED, True),
    (W.NEVER, True, DOWN, AuthStatus.INVALID, False),
    (W.NEVER, False, UP, AuthStatus.ACCEPTED, True),
    (W.NEVER, True, UnknownToken(), AuthStatus.INVALID, True),
    (W.ALLOWED, True, UnknownToken(), AuthStatus.INVALID, True),
]


@pytest.mark.parametrize(("whitelist", "valid", "outcome", "status", "realtime"), RULES)
def test_the_whitelist_decides_with_and_without_the_emsp(
    whitelist, valid, outcome, status, realtime
):
    """ALWAYS is local; the others ask. Without an answer ALLOWED(_OFFLINE) decide from the
    stored token, NEVER refuses."""
    verdict = decide(a_token(whitelist=whitelist, valid=valid), outcome, evse_uid=None)

    assert (verdict.status, verdict.realtime) == (status, realtime)
    assert verdict.reference == ("REF-1" if outcome is UP else None)


@pytest.mark.parametrize(
    ("whitelist", "asks"),
    [(W.ALWAYS, False), (W.ALLOWED, True), (W.ALLOWED_OFFLINE, True), (W.NEVER, True)],
)
def test_every_whitelist_but_always_asks_the_emsp_whatever_valid_says(whitelist, asks):
    """Real-time is done for valid=false tokens too (RELIABILITY.md §1.10)."""
    assert needs_realtime(a_token(whitelist=whitelist, valid=False)) is asks


@pytest.mark.parametrize(
    ("allowed", "status"),
    [
        (AllowedType.ALLOWED, AuthStatus.ACCEPTED),
        (AllowedType.BLOCKED, AuthStatus.BLOCKED),
        (AllowedType.EXPIRED, AuthStatus.EXPIRED),
        (AllowedType.NO_CREDIT, AuthStatus.INVALID),
        (AllowedType.NOT_ALLOWED, AuthStatus.INVALID),
    ],
)
def test_the_emsps_answer_maps_to_an_ocpp_status(allowed, status):
    """AuthorizationInfo.allowed -> Accepted / Blocked / Expired / Invalid."""
    verdict = decide(a_token(whitelist=W.NEVER), Answered(allowed=allowed), evse_uid="EVSE-1")

    assert verdict.status is status


@pytest.mark.parametrize(
    ("evses", "status"),
    [
        (None, AuthStatus.ACCEPTED),
        (("evse-1", "EVSE-2"), AuthStatus.ACCEPTED),
        (("EVSE-2",), AuthStatus.INVALID),
    ],
)
def test_an_allowed_answer_naming_other_evses_refuses_this_one(evses, status):
    """When the eMSP lists the EVSEs it allows, only those may charge (compared as CiStrings)."""
    answer = Answered(allowed=AllowedType.ALLOWED, evse_uids=evses)

    assert decide(a_token(whitelist=W.NEVER), answer, evse_uid="EVSE-1").status is status
    assert decide(a_token(whitelist=W.NEVER), answer, evse_uid=None).status is AuthStatus.ACCEPTED


def test_a_usable_answer_is_read_with_its_token_and_reference():
    """An AuthorizationInfo gives the verdict's inputs and the token the eMSP holds now."""
    token = a_token(valid=False)
    data = {
        "allowed": "BLOCKED",
        "token": token.model_dump(mode="json", exclude_none=True),
        "location": {"location_id": "LOC-001", "evse_uids": ["AC-0001-1"]},
        "authorization_reference": "REF-9",
    }

    assert read_answer(data) == (
        Answered(
            allowed=AllowedType.BLOCKED, authorization_reference="REF-9", evse_uids=("AC-0001-1",)
        ),
        token,
    )
    assert read_answer({**data, "location": {"location_id": "LOC-001"}})[0].evse_uids is None  # type: ignore[index]


@pytest.mark.parametrize(
    "data", [None, "<html>", [], {"allowed": "MAYBE"}, {"allowed": "ALLOWED"}, 42]
)
def test_garbage_is_no_answer(data):
    """Anything that is not an AuthorizationInfo cannot be used."""
    assert read_answer(data) is None


# --- which stored token a presented one is ---------------------------------------------

LONG = "0123456789ABCDEFGHIJ-and-more"  # 29 characters; a 1.6 idTag carries 20


def test_a_whole_uid_matches_case_insensitively():
    """Uids are CiStrings."""
    token = a_token("04a1b2c3")

    assert choose_token([token], AuthToken(value="04A1B2C3")) == token
    assert choose_token([token], AuthToken(value="04A1B2")) is None


def test_a_20_character_idtag_matches_the_longer_uid_it_begins():
    """OCPP 1.6 cuts idTags at 20 characters: the cut value finds the whole token."""
    token = a_token(LONG)

    assert choose_token([token], AuthToken(value=LONG[:20].lower())) == token
    assert choose_token([token], AuthToken(value=LONG[:19])) is None


def test_two_longer_uids_with_the_same_first_20_characters_are_ambiguous():
    """A cut idTag that could be either of two cards is neither."""
    tokens = [a_token(LONG), a_token(LONG + "X")]

    assert choose_token(tokens, AuthToken(value=LONG[:20])) is None
    assert choose_token([*tokens, a_token(LONG[:20])], AuthToken(value=LONG[:20])).uid == LONG[:20]  # type: ignore[union-attr]


def test_the_presented_kind_picks_the_token_type_then_validity_then_recency():
    """An RFID read prefers the RFID token; an app start the APP_USER one; then valid, newest."""
    rfid = a_token("X", type="RFID")
    app = a_token("X", type="APP_USER")
    other_old = a_token("X", type="OTHER", country_code="NL", last_updated=T0 - timedelta(days=1))
    other_new = a_token("X", type="OTHER", country_code="BE", valid=False)

    assert choose_token([app, rfid], AuthToken(value="x", kind=TokenKind.RFID)) == rfid
    assert choose_token([rfid, app], AuthToken(value="x", kind=TokenKind.CENTRAL)) == app
    assert (
        choose_token([other_new, other_old], AuthToken(value="x", kind=TokenKind.KEY_CODE))
        == other_old
    )


@given(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=36)
)
def test_any_uid_is_found_by_itself_in_any_case(uid):
    """Whatever the uid, presenting it (in any case) finds the token."""
    token = a_token(uid)

    assert choose_token([token], AuthToken(value=uid.swapcase())) == token


# --- where the driver is -----------------------------------------------------------------


def test_location_references_name_the_evse_or_every_evse_of_the_charger():
    """An EVSE is asked for alone; a charger's Authorize (no connector) names all its EVSEs."""
    locations = a_settings().locations

    by_evse = location_references(locations, ChargerId("AC-0001"), "ac-0001-2")
    by_charger = location_references(locations, ChargerId("AC-0001"), None)
    nowhere = location_references(locations, ChargerId("XX-0001"), None)

    assert (by_evse.location_id, by_evse.evse_uids) == ("LOC-001", ["AC-0001-2"])  # type: ignore[union-attr]
    assert by_charger.evse_uids == ["AC-0001-1", "AC-0001-2"]  # type: ignore[union-attr]
    assert nowhere is None


@pytest.mark.parametrize(
    ("reference", "method"), [(None, AuthMethod.WHITELIST), ("REF-1", AuthMethod.AUTH_REQUEST)]
)
def test_a_reference_means_the_emsp_authorised_it(reference, method):
    """Only real-time answers carry an authorization_reference."""
    assert auth_method(reference) is method


# --- Token records and PATCH -------------------------------------------------------------


def test_a_token_round_trips_through_its_stored_record():
    """The store keeps the JSON whole, with its key and look-up columns beside it."""
    token = a_token("abc", country_code="de", group_id="G1", whitelist="NEVER", valid=False)

    stored = to_stored(token)

    assert (stored.country_code, stored.party_id, stored.uid, stored.type) == (
        "DE",
        "EMS",
        "abc",
        "RFID",
    )
    assert (stored.whitelist, stored.valid, stored.last_updated) == ("NEVER", False, T0)
    assert from_stored(stored) == token


def test_a_patch_replaces_named_fields_and_clears_nulled_ones():
    """Fields the PATCH names change, null clears an optional one, the rest stay."""
    token = a_token(group_id="G1", visual_number="V-1")
    patch = TokenPatch.model_validate(
        {"valid": False, "group_id": None, "last_updated": "2026-11-22T10:00:00Z"}
    )

    result = patched(token, patch)

    assert (result.valid, result.group_id, result.visual_number) == (False, None, "V-1")
    assert result.last_updated == T0 + timedelta(hours=1)
    assert result.type is TokenType.RFID


def test_a_patch_clearing_a_required_field_is_invalid():
    """The result must still be a Token."""
    patch = TokenPatch.model_validate({"issuer": None, "last_updated": "2026-11-22T10:00:00Z"})

    with pytest.raises(ValidationError):
        patched(a_token(), patch)
