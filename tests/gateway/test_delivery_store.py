"""The delivery side of the SQL store: seals, CDRs, outbox rows and configuration snapshots.

Transactions reach the store as the runtime commits them (``TransactionChanged``
effects); a scripted sealer stands in for the OCPI side, so what is tested here is
*when* and *how often* the store seals, builds and queues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.core.effects import EvseChanged, TransactionChanged
from gateway.domain.delivery import (
    CdrRecord,
    Claim,
    PendingKind,
    PushKind,
    Seal,
)
from gateway.domain.ids import ChargerId, EvseUid, LocationId
from gateway.domain.remote import RemoteCommand, Reservation
from gateway.domain.state import ChargerState
from gateway.domain.status import EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, Transaction, TransactionStatus
from gateway.ports import Change
from gateway.storage.delivery import SEAL, ConfigObject
from gateway.storage.sql import OUTBOX, SqlStore
from tests.builders import T0

CP = ChargerId("AC-0001")


class Sealer:
    """Seals with a label; owns every token; builds a CDR naming the label it was sealed with."""

    def __init__(self, label: str = "at-start") -> None:
        self.label = label
        self.sealed = 0
        self.built = 0
        self.fail_cdr = False

    def seal(self, tx: Transaction) -> Seal:
        self.sealed += 1
        return Seal(
            session_id=f"{tx.charger_id}-{tx.tx_id}",
            site=None if tx.evse_uid is None else f'"{self.label}"',
            token=None if tx.token is None else f'"{tx.token.value}"',
            owner=None if tx.token is None else ("DE", "EMS"),
            problem=None if tx.evse_uid is not None else "no EVSE",
        )

    def claim(
        self, tx: Transaction, starts: Sequence[RemoteCommand], reservations: Sequence[Reservation]
    ) -> Claim | None:
        """The first open START_SESSION, else the first held reservation, at the charger."""
        if starts:
            return Claim(kind=PendingKind.START, source_id=starts[0].id)
        if reservations:
            return Claim(kind=PendingKind.RESERVATION, source_id=reservations[0].id)
        return None

    def cdr(self, tx: Transaction, seal: Seal, *, at: datetime) -> CdrRecord | None:
        if self.fail_cdr:
            raise RuntimeError("builder bug")
        self.built += 1
        assert seal.owner is not None
        return CdrRecord(
            cdr_id=seal.session_id, owner=seal.owner, created_at=at, doc=f'{{"site":{seal.site}}}'
        )


@pytest.fixture
def store(tmp_path: Path):
    s = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}")
    s.open()
    yield s
    s.close()


def a_transaction(**changes) -> Transaction:
    tx = Transaction(
        charger_id=CP,
        tx_id="7",
        evse_uid=EvseUid("AC-0001-1"),
        connector=ConnectorRef(evse=None, connector=1),
        token=AuthToken(value="04A1B2C3"),
        started_at=T0,
        received_at=T0,
        meter_start_wh=Decimal(0),
    )
    return replace(tx, **changes)


def stopped(tx: Transaction) -> Transaction:
    return replace(
        tx,
        status=TransactionStatus.COMPLETED,
        meter_stop_wh=Decimal(5000),
        stopped_at=T0 + timedelta(hours=1),
        energy_wh=Decimal(5000),
    )


def commit(store: SqlStore, tx: Transaction, at: datetime = T0) -> None:
    change = Change(
        charger_id=CP,
        state=ChargerState(charger_id=CP),
        effects=(TransactionChanged(transaction=tx),),
        at=at,
    )
    store.commit([change])


def outbox(store: SqlStore) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.kind, OUTBOX.c.object_id).order_by(OUTBOX.c.id))
        return [(r.kind, r.object_id) for r in rows]


def test_a_transaction_is_sealed_with_its_start_and_never_again(store: SqlStore):
    """The seal is written in the start's commit; later commits (and configurations) keep it."""
    store.delivery.sealer = Sealer("at-start")
    commit(store, a_transaction())
    store.delivery.sealer = Sealer("changed-config")
    commit(store, a_transaction(energy_wh=Decimal(10)), T0 + timedelta(minutes=5))
    commit(store, stopped(a_transaction()), T0 + timedelta(hours=1))

    record = store.delivery.session(1)
    assert record is not None
    assert record.seal.site == '"at-start"'
    assert record.updated_at == T0 + timedelta(hours=1)
    cdr = store.delivery.cdr("AC-0001-7")
    assert cdr is not None
    assert cdr.doc == '{"site":"at-start"}'
    assert cdr.created_at == T0 + timedelta(hours=1)


def test_every_change_queues_the_session_and_the_stop_queues_its_cdr(store: SqlStore):
    """One session outbox row (coalesced) while it runs; the CDR row arrives with the stop."""
    store.delivery.sealer = Sealer()
    commit(store, a_transaction())
    commit(store, a_transaction(energy_wh=Decimal(10)), T0 + timedelta(minutes=5))
    assert outbox(store) == [("session", "1")]

    commit(store, stopped(a_transaction()), T0 + timedelta(hours=1))
    assert outbox(store) == [("session", "1"), ("cdr", "AC-0001-7")]


def test_a_replayed_stop_mints_no_second_cdr(store: SqlStore):
    """The first stop wins: a replay changes nothing, builds nothing, queues nothing."""
    sealer = Sealer()
    store.delivery.sealer = sealer
    commit(store, a_transaction())
    commit(store, stopped(a_transaction()), T0 + timedelta(hours=1))
    store.delivery.fan_out(
        [(item, []) for item in store.delivery.take_outbox(10)], now=datetime.now(UTC)
    )

    commit(store, stopped(a_transaction(energy_wh=Decimal(1))), T0 + timedelta(hours=2))

    assert sealer.built == 1
    assert outbox(store) == []
    total, records = store.delivery.cdrs(
        owners=[("DE", "EMS")], date_from=None, date_to=None, offset=0, limit=10
    )
    assert total == 1
    assert records[0].created_at == T0 + timedelta(hours=1)


def test_a_cdr_that_cannot_be_built_at_the_stop_is_built_later(
    store: SqlStore, caplog: pytest.LogCaptureFixture
):
    """A builder failure never fails the stop's commit (the charger would retry forever):
    the stop is stored, the operator is told, and the CDR is built afterwards."""
    sealer = Sealer()
    store.delivery.sealer = sealer
    commit(store, a_transaction())
    sealer.fail_cdr = True
    commit(store, stopped(a_transaction()), T0 + timedelta(hours=1))
    assert ("cdr-build", "1") in outbox(store)
    assert ("delivery:cdr_failed", "transaction 7") in store.notes(CP)
    assert "cannot build the CDR" in caplog.text
    caplog.clear()

    sealer.fail_cdr = False
    assert store.delivery.build_cdr(1, at=datetime.now(UTC))
    assert store.delivery.build_cdr(1, at=datetime.now(UTC))  # already there: still one
    assert ("cdr", "AC-0001-7") in outbox(store)
    assert ("cdr-build", "1") not in outbox(store)
    assert sealer.built == 1


def test_a_token_learnt_after_the_start_gives_the_session_its_owner_then(store: SqlStore):
    """2.0.1 events out of order: sealed without a token, the owner comes with the token."""
    sealer = Sealer()
    store.delivery.sealer = sealer
    commit(store, a_transaction(token=None))
    assert outbox(store) == []  # nobody to tell yet

    commit(store, a_transaction(), T0 + timedelta(minutes=1))
    record = store.delivery.session(1)
    assert record is not None
    assert record.seal.owner == ("DE", "EMS")
    assert outbox(store) == [("session", "1")]
    commit(store, a_transaction(energy_wh=Decimal(5)), T0 + timedelta(minutes=2))
    assert sealer.sealed == 2  # sealed at the start and when the token came; not again


def test_a_transaction_on_an_unknown_evse_is_noted_and_never_queued(store: SqlStore):
    """No configured EVSE: the seal says so, the operator gets a note, nothing is pushed."""
    store.delivery.sealer = Sealer()
    commit(store, a_transaction(evse_uid=None))
    commit(store, stopped(a_transaction(evse_uid=None)), T0 + timedelta(hours=1))

    assert outbox(store) == []
    assert ("delivery:unsealed", "no EVSE") in store.notes(CP)
    assert store.delivery.cdr("AC-0001-7") is None


def test_partners_see_only_their_own_sessions_in_the_window(store: SqlStore):
    """Owner and last_updated filters, counted before paging; no owner, no rows."""
    store.delivery.sealer = Sealer()
    for n in range(3):
        commit(store, a_transaction(tx_id=str(n)), T0 + timedelta(hours=n))

    def page(owners, **kw):
        args = {"date_from": None, "date_to": None, "offset": 0, "limit": 10, **kw}
        total, records = store.delivery.sessions(owners=owners, **args)
        return total, [r.transaction.tx_id for r in records]

    assert page([("de", "ems")]) == (3, ["0", "1", "2"])
    assert page([("DE", "EMS")], date_from=T0 + timedelta(hours=1)) == (2, ["1", "2"])
    assert page([("DE", "EMS")], date_to=T0 + timedelta(hours=1)) == (1, ["0"])
    assert page([("DE", "EMS")], offset=1, limit=1) == (3, ["1"])
    assert page([("FR", "STA")]) == (0, [])
    assert page([]) == (0, [])


def objects(*evses: str, tariff: str = "T1") -> dict[str, ConfigObject]:
    found = {"location:L": ConfigObject(fingerprint="l", doc='{"id": "L"}')}
    for uid in evses:
        found[f"evse:{uid}"] = ConfigObject(fingerprint=uid, doc=f'{{"uid": "{uid}"}}', parent="L")
    found[f"tariff:{tariff}"] = ConfigObject(fingerprint=tariff, doc="{}")
    return found


def test_an_evse_that_leaves_the_configuration_is_kept_as_removed(store: SqlStore):
    """Its last configuration stays, its status becomes REMOVED, its Location is queued."""
    first = store.reconcile_config({}, T0, objects=objects("E1", "E2"))
    store.delivery.fan_out([(i, []) for i in store.delivery.take_outbox(10)], now=T0)
    later = T0 + timedelta(days=1)

    second = store.reconcile_config({}, later, objects=objects("E1", tariff="T2"))

    assert first["evse:E2"] == T0
    assert second["evse:E2"] == later
    assert second["evse:E1"] == T0
    assert sorted(outbox(store)) == [("location", "L"), ("tariff", "T1"), ("tariff", "T2")]
    (gone,) = [s for s in store.delivery.snapshots() if s.key == "evse:E2"]
    assert (gone.removed_at, gone.parent, gone.doc) == (later, "L", '{"uid": "E2"}')
    assert store.delivery.evse_statuses(["E2"])["E2"].status is EvseStatus.REMOVED
    third = store.reconcile_config({}, later + timedelta(days=1), objects=objects("E1", "E2"))
    assert third["evse:E2"] == later + timedelta(days=1)  # back: a change like any other
    (back,) = [s for s in store.delivery.snapshots() if s.key == "evse:E2"]
    assert back.removed_at is None


def test_a_database_from_before_snapshots_starts_keeping_them(store: SqlStore):
    """Objects recorded by an older release get a snapshot without looking changed."""
    store.reconcile_config({"evse:E1": "E1"}, T0)

    times = store.reconcile_config({}, T0 + timedelta(days=1), objects=objects("E1"))

    assert times["evse:E1"] == T0
    assert [s.key for s in store.delivery.snapshots() if s.key == "evse:E1"] == ["evse:E1"]


def test_credit_cdrs_are_stored_once_and_queued(store: SqlStore):
    """A credit CDR is a new CDR with its own id: stored and queued once."""
    record = CdrRecord(cdr_id="X-C", owner=("DE", "EMS"), created_at=T0, doc="{}", credit_of="X")
    assert store.delivery.add_cdr(record)
    assert not store.delivery.add_cdr(record)
    assert outbox(store) == [("cdr", "X-C")]
    items = store.delivery.take_outbox(10)
    assert [(i.kind, i.owner) for i in items] == [(PushKind.CDR, ("DE", "EMS"))]


def seal_rows(store: SqlStore) -> list[tuple[int, str, str | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(SEAL.c.tx_row, SEAL.c.session_id, SEAL.c.token))
        return [(r.tx_row, r.session_id, r.token) for r in rows]


def test_a_seal_whose_commit_was_rolled_back_is_written_again(store: SqlStore):
    """A seal remembered from a failed batch would leave the retried start without its seal."""
    store.delivery.sealer = Sealer()
    start = Change(
        charger_id=CP,
        state=ChargerState(charger_id=CP),
        effects=(TransactionChanged(transaction=a_transaction()),),
        at=T0,
    )
    naive = EvseChanged(
        uid=EvseUid("E"),
        location_id=LocationId("L"),
        status=EvseStatus.AVAILABLE,
        last_updated=T0.replace(tzinfo=None),
    )
    # Fails after the start was written and sealed inside the same database transaction.
    bad = replace(start, effects=(naive,), state_changed=False)
    with pytest.raises(ValueError, match="naive"):
        store.commit([start, bad])
    assert seal_rows(store) == []

    store.commit([start])
    commit(store, a_transaction(energy_wh=Decimal(10)), T0 + timedelta(minutes=5))

    assert seal_rows(store) == [(1, "AC-0001-7", '"04A1B2C3"')]
    assert outbox(store) == [("session", "1")]


def test_a_start_and_its_updates_in_one_batch_are_sealed_once(store: SqlStore):
    """Inside one commit, and in the commits after it, the start's seal serves every change."""
    sealer = Sealer()
    store.delivery.sealer = sealer
    changes = [
        Change(
            charger_id=CP,
            state=ChargerState(charger_id=CP),
            effects=(TransactionChanged(transaction=a_transaction(energy_wh=Decimal(wh))),),
            at=T0 + timedelta(minutes=wh),
        )
        for wh in (0, 1, 2)
    ]
    store.commit(changes)
    commit(store, a_transaction(energy_wh=Decimal(3)), T0 + timedelta(minutes=3))
    commit(store, stopped(a_transaction()), T0 + timedelta(hours=1))

    assert sealer.sealed == 1
    assert sealer.built == 1
    assert seal_rows(store) == [(1, "AC-0001-7", '"04A1B2C3"')]
    assert outbox(store) == [("session", "1"), ("cdr", "AC-0001-7")]
