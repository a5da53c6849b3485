"""The partner store, SQL and in memory alike: tokens, invitations, atomic registration."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from gateway.domain.partners import (
    PartnerConflictError,
    PartnerEndpoint,
    PartnerLink,
    PartnerRecord,
    PartnerState,
    PartyRole,
    TokenEncoding,
)
from gateway.storage.keys import KeyFileError, SealError, TokenKeys
from gateway.storage.partners import TABLES, MemoryPartners, SqlPartners
from gateway.storage.sql import SqlStore
from gateway.storage.tables import SCHEMA_VERSION
from tests.builders import T0

LATER = T0 + timedelta(hours=1)
STALE = T0 - timedelta(minutes=5)
US = (PartyRole(role="CPO", country_code="NL", party_id="CEG", name="Us"),)


def a_link(*, token: str = "their-token-b", party: str = "EMS") -> PartnerLink:  # noqa: S107
    return PartnerLink(
        version="2.2.1",
        versions_url="https://emsp.example/ocpi/versions",
        token=token,
        encoding=TokenEncoding.BASE64,
        roles=(PartyRole(role="EMSP", country_code="de", party_id=party, name="eMSP"),),
        endpoints=(
            PartnerEndpoint(
                module="credentials", role="SENDER", url="https://emsp.example/ocpi/2.2.1/cred"
            ),
        ),
    )


@pytest.fixture
def keys() -> TokenKeys:
    return TokenKeys(b"k" * 32)


@pytest.fixture(params=["sql", "memory"])
def store(request, keys):
    if request.param == "memory":
        yield MemoryPartners(keys)
        return
    # The statements are the file store's; an in-memory database just skips the fsyncs.
    engine = create_engine("sqlite://", poolclass=StaticPool)
    SQLModel.metadata.create_all(engine, tables=list(TABLES))
    yield SqlPartners(engine, keys)
    engine.dispose()


Store = SqlPartners | MemoryPartners


def match(store: Store, token: str, now: datetime = T0) -> Any:
    return store.match_token(token, now=now, stale_before=STALE)


def registered(
    store: Store,
    *,
    name: str = "emsp",
    token: str = "token-c-1234567",  # noqa: S107
    link: PartnerLink | None = None,
) -> PartnerRecord:
    inv = store.invite(name, "token-a-1234567", now=T0, expires_at=LATER)
    assert store.claim_invitation(inv.id, now=T0, stale_before=STALE)
    return store.register(inv.id, link or a_link(), our_roles=US, token=token, now=T0)


def test_an_invitation_opens_until_it_expires(store):
    """Token A matches its invitation until ``expires_at`` (exclusive), then nothing."""
    inv = store.invite("emsp", "token-a-1234567", now=T0, expires_at=LATER)

    found = match(store, "token-a-1234567", now=LATER - timedelta(seconds=1))
    assert found.invitation == inv
    assert found.partner is None
    assert match(store, "token-a-1234567", now=LATER) is None
    assert match(store, "token-a-7654321") is None
    assert store.invitations(now=T0) == [inv]
    assert store.invitations(now=LATER) == []


def test_a_second_invitation_for_a_name_revokes_the_first(store):
    """Inviting the same name again makes the earlier Token A useless."""
    store.invite("emsp", "token-a-first-11", now=T0, expires_at=LATER)
    store.invite("emsp", "token-a-second-2", now=T0, expires_at=LATER)

    assert match(store, "token-a-first-11") is None
    assert match(store, "token-a-second-2").invitation.name == "emsp"


def test_a_claimed_invitation_cannot_be_claimed_again_until_stale(store):
    """The pending state blocks a second registration; a crashed one goes stale."""
    inv = store.invite("emsp", "token-a-1234567", now=T0, expires_at=LATER)

    assert store.claim_invitation(inv.id, now=T0, stale_before=STALE)
    assert not store.claim_invitation(inv.id, now=T0, stale_before=STALE)
    later = T0 + timedelta(minutes=6)
    assert store.claim_invitation(inv.id, now=later, stale_before=later - timedelta(minutes=5))
    store.release_invitation(inv.id)
    assert store.claim_invitation(inv.id, now=later, stale_before=STALE)
    assert not store.claim_invitation(inv.id, now=LATER, stale_before=STALE)  # expired
    assert not store.claim_invitation(999, now=T0, stale_before=STALE)


def test_registration_uses_up_the_invitation_and_stores_the_partner(store):
    """After register: Token A opens nothing, Token C opens the partner, B is readable."""
    partner = registered(store)

    assert match(store, "token-a-1234567") is None
    found = match(store, "token-c-1234567")
    assert found.partner == partner
    assert partner.state is PartnerState.REGISTERED
    assert partner.link is not None
    assert partner.link.token == "their-token-b"
    assert partner.roles[0].country_code == "DE"
    assert partner.owns("de", "ems")
    assert partner.our_roles == US
    assert store.partner("emsp") == partner
    assert store.partners() == [partner]
    assert store.invitations(now=T0) == []


def test_registration_of_a_used_invitation_is_a_conflict(store):
    """An invitation registers once; a second register writes nothing."""
    inv = store.invite("emsp", "token-a-1234567", now=T0, expires_at=LATER)
    store.register(inv.id, a_link(), our_roles=US, token="token-c-1234567", now=T0)

    with pytest.raises(PartnerConflictError):
        store.register(inv.id, a_link(), our_roles=US, token="token-c-other12", now=T0)
    assert match(store, "token-c-other12") is None


def test_a_taken_role_fails_the_whole_registration(store):
    """Another partner's role: PartnerConflictError, no partner, invitation still open."""
    registered(store, name="first", token="token-c-first12")
    inv = store.invite("second", "token-a-second1", now=T0, expires_at=LATER)

    with pytest.raises(PartnerConflictError, match="EMSP DE/EMS"):
        store.register(inv.id, a_link(), our_roles=US, token="token-c-second1", now=T0)

    assert store.partner("second") is None
    assert match(store, "token-c-second1") is None
    assert match(store, "token-a-second1").invitation.id == inv.id


def test_names_are_unique_across_partners_and_invitations(store):
    """An invitation or a connection cannot reuse a registered partner's name."""
    registered(store)

    with pytest.raises(PartnerConflictError):
        store.invite("emsp", "token-a-again12", now=T0, expires_at=LATER)
    with pytest.raises(PartnerConflictError):
        store.begin_connection("emsp", "token-x-1234567", now=T0, stale_before=STALE)


def test_a_rotated_token_keeps_the_old_one_until_confirmed(store):
    """update_link(issue=...) adds an unconfirmed token; both open until one is confirmed."""
    partner = registered(store)
    new_id = store.update_link(
        partner.id, a_link(token="their-token-b2"), now=LATER, issue="token-c-2234567"
    )

    assert match(store, "token-c-1234567").partner.id == partner.id
    assert store.partner("emsp").link.token == "their-token-b2"
    store.confirm_token(new_id)
    assert match(store, "token-c-1234567") is None
    assert match(store, "token-c-2234567").token_id == new_id
    store.confirm_token(12345)  # gone: nothing happens


def test_presenting_an_unconfirmed_token_confirms_it(store):
    """The partner evidently has the new token: the old one stops working."""
    partner = registered(store)
    store.update_link(partner.id, a_link(), now=LATER, issue="token-c-2234567")

    assert match(store, "token-c-2234567").partner.id == partner.id
    assert match(store, "token-c-1234567") is None


def test_issuing_again_drops_the_earlier_unconfirmed_token(store):
    """A second rotation replaces a new token that was never used."""
    partner = registered(store)
    store.add_token(partner.id, "token-c-2234567", now=LATER)
    store.update_link(partner.id, a_link(), now=LATER, issue="token-c-3234567")

    assert match(store, "token-c-2234567") is None
    assert match(store, "token-c-1234567") is not None
    assert match(store, "token-c-3234567") is not None


def test_update_link_can_confirm_a_token(store):
    """Our own rotation: the partner accepted the new token, so only it opens."""
    partner = registered(store)
    new_id = store.add_token(partner.id, "token-c-2234567", now=LATER)

    assert store.update_link(partner.id, a_link(), now=LATER, confirm=new_id) is None
    assert match(store, "token-c-1234567") is None
    assert match(store, "token-c-2234567").token_id == new_id


def test_update_link_refuses_a_role_of_another_partner(store):
    """Nothing changes when an update claims someone else's role."""
    registered(store, name="first", token="token-c-first12")
    second = registered(
        store, name="second", token="token-c-second1", link=a_link(party="XYZ", token="b2")
    )

    with pytest.raises(PartnerConflictError):
        store.update_link(second.id, a_link(party="EMS"), now=LATER, issue="token-c-new1234")
    assert match(store, "token-c-new1234") is None
    assert store.partner("second").link.token == "b2"


def test_updating_or_completing_a_removed_partner_is_a_conflict(store):
    """A partner removed during a handshake is not resurrected."""
    partner = registered(store)
    pending = store.begin_connection("p2", "token-p-1234567", now=T0, stale_before=STALE)
    store.remove("emsp")
    store.remove("p2")

    with pytest.raises(PartnerConflictError):
        store.update_link(partner.id, a_link(), now=LATER)
    with pytest.raises(PartnerConflictError):
        store.complete_connection(pending.id, a_link(), our_roles=US, now=T0)


def test_a_connection_is_pending_until_completed(store):
    """Our own registration: the pending partner's token opens, then it is registered."""
    pending = store.begin_connection("cpo2", "token-p-1234567", now=T0, stale_before=STALE)
    assert pending.state is PartnerState.PENDING
    assert pending.link is None
    assert pending.roles == ()
    assert match(store, "token-p-1234567").partner.state is PartnerState.PENDING

    done = store.complete_connection(pending.id, a_link(), our_roles=US, now=LATER)

    assert done.state is PartnerState.REGISTERED
    assert done.link.token == "their-token-b"
    assert match(store, "token-p-1234567").partner == done


def test_an_abandoned_connection_opens_nothing_and_can_be_replaced(store):
    """A pending partner older than the stale limit is dead: its token fails, its name frees."""
    store.begin_connection("cpo2", "token-p-1234567", now=T0, stale_before=STALE)
    later = T0 + timedelta(minutes=10)
    limit = later - timedelta(minutes=5)

    assert store.match_token("token-p-1234567", now=later, stale_before=limit) is None
    again = store.begin_connection("cpo2", "token-p-7654321", now=later, stale_before=limit)
    assert again.created_at == later
    assert store.match_token("token-p-1234567", now=later, stale_before=limit) is None


def test_remove_forgets_partner_tokens_and_invitations(store):
    """remove(name) drops the partner (and its tokens) and open invitations of that name."""
    registered(store)
    store.invite("other", "token-a-other12", now=T0, expires_at=LATER)

    assert store.remove("emsp")
    assert store.remove("other")
    assert not store.remove("nobody")
    assert match(store, "token-c-1234567") is None
    assert match(store, "token-a-other12") is None
    assert store.partners() == []


def test_the_sql_store_keeps_no_token_in_clear(tmp_path, keys):
    """The database file holds neither our tokens nor the partner's token in clear."""
    sql = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}")
    sql.open()
    store = SqlPartners(sql.engine, keys)
    registered(store, token="ourTokenC-secret-value", link=a_link(token="theirTokenB-secret"))
    store.invite("x", "ourTokenA-secret-value", now=T0, expires_at=LATER)
    sql.close()

    conn = sqlite3.connect(tmp_path / "gateway.db")
    dump = "\n".join(conn.iterdump())
    conn.close()
    for secret in ("ourTokenC-secret-value", "theirTokenB-secret", "ourTokenA-secret-value"):
        assert secret not in dump
    assert "ourToken" in dump  # the lookup prefix, and only that


def test_a_version_2_database_gains_the_partner_tables(tmp_path, keys):
    """Migrations up to 4 create the partner tables and keep the schema version current."""
    path = tmp_path / "gateway.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE schema_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL);
        INSERT INTO schema_meta VALUES ('schema_version', '2');
        """
    )
    conn.close()
    sql = SqlStore(f"sqlite:///{path}")
    sql.open()
    registered(SqlPartners(sql.engine, keys))
    with sql.engine.connect() as c:
        assert c.exec_driver_sql("SELECT value FROM schema_meta").scalar() == str(SCHEMA_VERSION)
        assert c.exec_driver_sql("SELECT count(*) FROM ocpi_partner").scalar() == 1
    sql.close()


# --- keys ---------------------------------------------------------------------------------


def test_the_key_file_is_created_private_and_reused(tmp_path):
    """First use creates a 0600 key file; later uses read the same key."""
    path = tmp_path / "state" / "ocpi.key"
    first = TokenKeys.load_or_create(path)
    second = TokenKeys.load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert second.digest("x") == first.digest("x")
    assert second.open(first.seal("token")) == "token"
    assert [p.name for p in path.parent.iterdir()] == ["ocpi.key"]


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    """Like ssh with private keys: a group/world-readable key file stops start-up."""
    path = tmp_path / "ocpi.key"
    TokenKeys.load_or_create(path)
    os.chmod(path, 0o644)

    with pytest.raises(KeyFileError, match="chmod 600"):
        TokenKeys.load_or_create(path)


@pytest.mark.parametrize("content", ["not hex\n", "abcd\n"])
def test_a_damaged_key_file_is_refused(tmp_path, content):
    """A key file that is not 32 hex-encoded bytes names itself in the error."""
    path = tmp_path / "ocpi.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content.encode())
    os.close(fd)

    with pytest.raises(KeyFileError, match=str(path)):
        TokenKeys.load_or_create(path)


def test_a_key_must_be_32_bytes():
    """Shorter keys are a programming error."""
    with pytest.raises(ValueError, match="32 bytes"):
        TokenKeys(b"short")


@pytest.mark.parametrize("token", ["", "x", "ÿ€ unicode token", "a" * 200])
def test_sealing_round_trips_and_is_randomised(keys, token):
    """open(seal(t)) == t, and sealing twice gives different texts."""
    assert keys.open(keys.seal(token)) == token
    assert keys.seal(token) != keys.seal(token)


def test_a_tampered_or_foreign_seal_is_refused(keys):
    """A flipped bit, a truncation, another key or another format: SealError."""
    sealed = keys.seal("their-token")
    body = sealed[3:]
    flipped = sealed[:3] + ("A" if body[0] != "A" else "B") + body[1:]
    for bad in (flipped, sealed[:20], "v2:" + body, "v1:!!!", "nothing"):
        with pytest.raises(SealError):
            keys.open(bad)
    with pytest.raises(SealError):
        TokenKeys(b"o" * 32).open(sealed)


def test_digests_are_keyed(keys):
    """The same token under another key has another digest; matches() checks it."""
    assert keys.digest("t") != TokenKeys(b"o" * 32).digest("t")
    assert keys.matches("t", keys.digest("t"))
    assert not keys.matches("u", keys.digest("t"))
    assert keys.prefix("abcdefghijkl") == "abcdefgh"


def test_a_connection_cannot_take_the_name_of_an_open_invitation(store):
    """Invitations and partners share one name space, both ways round."""
    store.invite("emsp", "token-a-1234567", now=T0, expires_at=LATER)

    with pytest.raises(PartnerConflictError, match="invitation"):
        store.begin_connection("emsp", "token-p-1234567", now=T0, stale_before=STALE)
    assert match(store, "token-a-1234567") is not None
