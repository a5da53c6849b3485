"""The store's read side for the operator's CDR page: CDRs with ledger, unbilled sessions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.domain.billing import CdrPush
from gateway.domain.delivery import CdrRecord, PushKind, PushOutcome, Sent
from gateway.domain.ids import EvseUid
from gateway.storage.sql import SqlStore
from tests.builders import T0
from tests.gateway.test_delivery_store import Sealer, a_transaction, commit, stopped

LATER = T0 + timedelta(hours=2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = SqlStore(f"sqlite:///{tmp_path / 'gateway.db'}")
    s.open()
    s.delivery.sealer = Sealer()
    yield s
    s.close()


def charge(store: SqlStore, tx_id: str, **changes) -> None:
    tx = a_transaction(tx_id=tx_id, **changes)
    commit(store, tx)
    commit(store, stopped(tx), T0 + timedelta(hours=1))


def test_cdrs_come_newest_first_with_their_charge_and_the_outbox_time(store: SqlStore):
    """A CDR names its transaction; a credit CDR the credited one's; queued ones say since."""
    charge(store, "7")
    charge(store, "8")
    store.delivery.add_cdr(
        CdrRecord(
            cdr_id="AC-0001-7-C",
            owner=("DE", "EMS"),
            created_at=LATER,
            doc="{}",
            credit_of="AC-0001-7",
        )
    )

    total, rows = store.delivery.cdr_page(limit=10)
    assert total == 3
    assert [r.record.cdr_id for r in rows] == ["AC-0001-7-C", "AC-0001-8", "AC-0001-7"]
    assert [r.tx_id for r in rows] == ["7", "8", "7"]
    assert {r.charger_id for r in rows} == {"AC-0001"}
    assert rows[0].record.credit_of == "AC-0001-7"
    assert rows[0].queued_since == LATER
    assert rows[2].queued_since == T0 + timedelta(hours=1)
    assert all(r.pushes == () for r in rows)

    _, second = store.delivery.cdr_page(limit=1, offset=1)
    assert [r.record.cdr_id for r in second] == ["AC-0001-8"]
    _, older = store.delivery.cdr_page(limit=10, below=rows[1].row)
    assert [r.record.cdr_id for r in older] == ["AC-0001-7"]
    assert store.delivery.cdr_page(limit=10, below=rows[2].row) == (3, [])


def test_each_partner_copy_of_a_cdr_comes_with_its_ledger_entry(store: SqlStore):
    """Partner by partner: acknowledged (with when) or due (since when, attempts, error)."""
    charge(store, "7")
    items = store.delivery.take_outbox(10)
    cdr = next(i for i in items if i.kind is PushKind.CDR)
    store.delivery.fan_out([(cdr, [1, 2])], now=LATER, initial={1: [], 2: []})
    store.delivery.record(
        [
            PushOutcome(
                partner_id=1,
                kind=PushKind.CDR,
                object_id=cdr.object_id,
                seq=1,
                done=True,
                sent=Sent(acked=True),
            ),
            PushOutcome(
                partner_id=2,
                kind=PushKind.CDR,
                object_id=cdr.object_id,
                seq=1,
                done=False,
                error="HTTP 503",
                retry_at=LATER,
            ),
        ],
        now=LATER,
    )

    (row,) = store.delivery.cdr_page(limit=10)[1]
    assert row.queued_since is None
    assert row.pushes == (
        CdrPush(partner_id=1, acked=True, sent_at=LATER),
        CdrPush(
            partner_id=2,
            acked=False,
            due_since=T0 + timedelta(hours=1),
            attempts=1,
            last_error="HTTP 503",
        ),
    )


def test_finished_transactions_without_a_cdr_are_listed_with_their_seal(store: SqlStore):
    """Site tokens, free vend and unknown EVSEs are unbilled; billed and running ones are not."""
    charge(store, "7")  # billed
    charge(store, "8", token=None)  # free vend: sealed, no owner
    charge(store, "9", evse_uid=None)  # unknown EVSE: sealed without a site
    commit(store, a_transaction(tx_id="10"))  # still running

    total, rows = store.delivery.unbilled(limit=10)
    assert total == 2
    assert [u.transaction.tx_id for u in rows] == ["9", "8"]
    seals = [u.seal for u in rows]
    assert [(s.site, s.owner) for s in seals if s is not None] == [
        (None, ("DE", "EMS")),
        ('"at-start"', None),
    ]
    _, older = store.delivery.unbilled(limit=10, below=rows[0].row)
    assert [u.transaction.tx_id for u in older] == ["8"]
    assert store.delivery.unbilled(limit=1, offset=1)[1][0].transaction.tx_id == "8"


def test_a_transaction_stored_before_sealing_existed_has_no_seal(store: SqlStore):
    """No sealer at its start: listed as unbilled with no seal at all."""
    store.delivery.sealer = None
    charge(store, "7", evse_uid=EvseUid("AC-0001-1"))
    (only,) = store.delivery.unbilled(limit=10)[1]
    assert only.seal is None
    assert only.transaction.tx_id == "7"
