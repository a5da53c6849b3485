"""The roaming token store on a real SQLite file: keys, look-ups, pulls and local lists."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.domain.commands import LocalListEntry
from gateway.domain.tokens import LocalListState, StoredToken
from gateway.domain.transactions import AuthToken, TokenKind
from gateway.storage.sql import SqlStore
from gateway.storage.tables import SCHEMA_VERSION
from gateway.storage.tokens import SqlTokens
from tests.builders import T0


@pytest.fixture
def sql(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}")
    store.open()
    yield store
    store.close()


@pytest.fixture
def tokens(sql):
    return SqlTokens(sql.engine)


def stored(uid: str = "04a1b2c3", **overrides) -> StoredToken:
    fields = {
        "country_code": "de",
        "party_id": "ems",
        "uid": uid,
        "type": "RFID",
        "whitelist": "ALWAYS",
        "valid": True,
        "last_updated": T0,
        "doc": f'{{"uid": "{uid}"}}',
        **overrides,
    }
    return StoredToken(**fields)


def test_a_token_is_keyed_by_owner_uid_and_type_case_insensitively(tokens):
    """(country, party, uid, type) is the key; CiStrings compare in any case."""
    assert tokens.put_token(stored(), now=T0) is True
    assert tokens.put_token(stored("04A1B2C3", valid=False), now=T0) is False
    assert tokens.put_token(stored(type="APP_USER"), now=T0) is True

    found = tokens.token("DE", "EMS", "04A1B2C3", "RFID")

    assert found == stored("04A1B2C3", valid=False, country_code="DE", party_id="EMS")
    assert tokens.token("DE", "EMS", "04A1B2C3", "OTHER") is None


def test_if_newer_keeps_a_stored_token_with_a_later_last_updated(tokens):
    """Pulled pages never overwrite what a later push stored."""
    tokens.put_token(stored(valid=False, last_updated=T0 + timedelta(hours=1)), now=T0)

    assert tokens.put_token(stored(), now=T0, if_newer=True) is None
    assert tokens.put_tokens([stored(), stored("NEW")], now=T0, if_newer=True) == 1
    assert tokens.token("DE", "EMS", "04a1b2c3", "RFID").valid is False
    assert (
        tokens.put_token(stored(last_updated=T0 + timedelta(hours=2)), now=T0, if_newer=True)
        is False
    )


def test_a_presented_value_finds_whole_uids_and_for_1_6_longer_ones(tokens):
    """The idTag finds its uid in any case; a 20-character idTag also finds longer uids."""
    long = "0123456789abcdefghij-tail"
    for t in (stored("SHORT"), stored(long), stored(long[:20]), stored("0123456789")):
        tokens.put_token(t, now=T0)

    assert [t.uid for t in tokens.tokens_for("short")] == ["SHORT"]
    assert sorted(t.uid for t in tokens.tokens_for(long[:20].upper())) == sorted([long, long[:20]])
    assert [t.uid for t in tokens.tokens_for(long.upper())] == [long]
    assert tokens.tokens_for("0123456789abcdefghi") == []


def test_listable_tokens_are_all_but_never_newest_first(tokens):
    """Local lists read every token that may be whitelisted."""
    tokens.put_token(stored("A", last_updated=T0), now=T0)
    tokens.put_token(stored("B", last_updated=T0 + timedelta(1), valid=False), now=T0)
    tokens.put_token(stored("C", whitelist="NEVER"), now=T0)

    assert [t.uid for t in tokens.listable_tokens()] == ["B", "A"]


def test_the_last_pull_is_remembered_per_partner(tokens):
    """The next pull asks for tokens changed since the last complete one began."""
    assert tokens.last_pull("emsp") is None

    tokens.record_pull("emsp", T0)
    tokens.record_pull("emsp", T0 + timedelta(hours=6))

    assert tokens.last_pull("emsp") == T0 + timedelta(hours=6)
    assert tokens.last_pull("other") is None


def test_a_local_list_state_round_trips(tokens):
    """Version, entries (with their kinds and statuses) and whether they are certain."""
    entries = {
        "A": LocalListEntry(token=AuthToken(value="a", kind=TokenKind.CENTRAL), group_id="G"),
        "B": LocalListEntry(token=AuthToken(value="B"), status="blocked", expires_at=T0),
    }
    state = LocalListState(charger_id="AC-0001", version=3, entries=entries)

    assert tokens.local_list("AC-0001") is None
    tokens.save_local_list(state, now=T0)
    assert tokens.local_list("AC-0001") == state
    tokens.save_local_list(replace(state, version=4, entries={}, in_sync=False), now=T0)
    assert tokens.local_list("AC-0001") == LocalListState(
        charger_id="AC-0001", version=4, in_sync=False
    )


def test_a_version_4_database_gains_the_token_tables(tmp_path):
    """The migration to 5 creates the token tables; the schema version is current."""
    path = tmp_path / "gateway.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE schema_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL);
        INSERT INTO schema_meta VALUES ('schema_version', '4');
        """
    )
    conn.close()
    sql = SqlStore(f"sqlite:///{path}")
    sql.open()
    SqlTokens(sql.engine).put_token(stored(), now=T0)
    with sql.engine.connect() as c:
        assert c.exec_driver_sql("SELECT value FROM schema_meta").scalar() == str(SCHEMA_VERSION)
        assert c.exec_driver_sql("SELECT count(*) FROM roaming_token").scalar() == 1
    sql.close()
