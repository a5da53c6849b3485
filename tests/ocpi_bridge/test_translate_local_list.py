"""What a charger's local authorisation list holds, and the updates that keep it so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

from gateway.config import SiteToken
from gateway.domain.commands import LocalListEntry, SendLocalList
from gateway.domain.transactions import AuthToken, TokenKind
from ocpi_bridge.translate.local_list import (
    V16,
    V201,
    desired_list,
    flavour,
    plan_update,
)
from tests.ocpi_bridge.test_translate_authorization import T0, a_token

SITE = (SiteToken(uid="STAFF-1"), SiteToken(uid="FLEET-APP", kind="app"))


def entry(
    value: str,
    status: str | None = "accepted",
    kind: TokenKind = TokenKind.RFID,
    group: str | None = None,
):
    return LocalListEntry(token=AuthToken(value=value, kind=kind), status=status, group_id=group)


def test_the_list_holds_site_tokens_and_whitelistable_partner_tokens():
    """Site tokens, then valid ALWAYS/ALLOWED/ALLOWED_OFFLINE tokens newest first, then blocked
    ones; never NEVER tokens."""
    tokens = [
        a_token("OLD", whitelist="ALWAYS", last_updated=T0 - timedelta(days=2), group_id="G"),
        a_token("NEW", whitelist="ALLOWED"),
        a_token("OFF", whitelist="ALLOWED_OFFLINE", last_updated=T0 - timedelta(days=1)),
        a_token("BAD", whitelist="ALWAYS", valid=False),
        a_token("RT", whitelist="NEVER"),
        a_token("APP", type="APP_USER", whitelist="ALWAYS", last_updated=T0 - timedelta(days=3)),
    ]

    desired = desired_list(tokens, SITE, flavour=V16, limit=100)

    assert list(desired.values()) == [
        entry("STAFF-1"),
        entry("FLEET-APP", kind=TokenKind.CENTRAL),
        entry("NEW"),
        entry("OFF"),
        entry("OLD", group="G"),
        entry("APP", kind=TokenKind.CENTRAL),
        entry("BAD", status="blocked"),
    ]


def test_the_limit_keeps_the_first_entries():
    """A charger's list is finite: site tokens first, blocked tokens last."""
    tokens = [
        a_token("BAD", valid=False),
        a_token("A"),
        a_token("B", last_updated=T0 - timedelta(1)),
    ]

    assert list(desired_list(tokens, SITE, flavour=V16, limit=3)) == ["STAFF-1", "FLEET-APP", "A"]
    assert desired_list(tokens, SITE, flavour=V16, limit=0) == {}


def test_1_6_keys_are_20_characters_and_2_0_1_keys_carry_the_type():
    """1.6 tells idTags apart by their (cut) 20 characters; 2.0.1 by type and whole value."""
    long = "0123456789ABCDEFGHIJ-k"
    tokens = [
        a_token(long),
        a_token(long[:20].lower(), last_updated=T0 - timedelta(1)),
        a_token("X", type="APP_USER"),
        a_token("X"),
    ]

    v16 = desired_list(tokens, (), flavour=V16, limit=10)
    v201 = desired_list(tokens, (), flavour=V201, limit=10)

    assert list(v16) == ["0123456789ABCDEFGHIJ", "X"]
    assert v16["0123456789ABCDEFGHIJ"].token.value == long  # the first (newest) one wins
    assert sorted(v201) == [
        "central:X",
        "rfid:0123456789ABCDEFGHIJ",
        "rfid:0123456789ABCDEFGHIJ-K",
        "rfid:X",
    ]


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [("ocpp1.6", V16), ("ocpp2.0.1", V201), ("ocpp2.1", V201), (None, V201)],
)
def test_the_flavour_follows_the_negotiated_protocol(protocol, expected):
    """Only 1.6 cuts idTags."""
    assert flavour(protocol) == expected


def test_an_unknown_list_gets_a_full_update_with_the_next_version():
    """Nothing known about the charger's list: replace it whole."""
    desired = {"A": entry("A")}

    assert plan_update(desired, None, version=4) == SendLocalList(
        version=5, full=True, entries=(entry("A"),)
    )
    assert plan_update({}, None, version=-1) == SendLocalList(version=1, full=True, entries=())


def test_a_known_list_gets_a_differential_update_or_none():
    """Changed and new entries are sent, removed ones with no status; no change, no update."""
    held = {"A": entry("A"), "B": entry("B"), "C": entry("C")}
    desired = {"A": entry("A"), "B": entry("B", status="blocked"), "D": entry("D")}

    update = plan_update(desired, held, version=7)

    assert update == SendLocalList(
        version=8,
        full=False,
        entries=(entry("B", status="blocked"), entry("D"), entry("C", status=None)),
    )
    assert plan_update(held, held, version=7) is None


keys = st.sampled_from(["A", "B", "C", "D"])
entries = st.dictionaries(keys, st.sampled_from(["accepted", "blocked"]))


@given(held=entries, desired=entries)
def test_a_differential_update_applied_to_the_held_list_gives_the_desired_one(held, desired):
    """Whatever the lists, applying the update the way a charger does reaches the target."""
    held_entries = {k: entry(k, status=s) for k, s in held.items()}
    desired_entries = {k: entry(k, status=s) for k, s in desired.items()}

    update = plan_update(desired_entries, held_entries, version=1)

    result = dict(held_entries)
    for e in () if update is None else update.entries:
        if e.status is None:
            del result[e.token.value]
        else:
            result[e.token.value] = e
    assert result == desired_entries
