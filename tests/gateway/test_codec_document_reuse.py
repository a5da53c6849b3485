"""The charger document reuses its transactions' text only while it holds the same ones."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

import pytest

from gateway.domain.state import ChargerState
from gateway.domain.transactions import TransactionStatus
from gateway.storage import codec
from tests.builders import T0
from tests.gateway.test_codec_document_cache import CP, a_transaction


@pytest.mark.parametrize(
    "written_alone",
    [
        {"energy_wh": Decimal(5)},
        {"seen_seq": frozenset({0, 1, 2})},
        {"status": TransactionStatus.COMPLETED, "stopped_at": T0},
    ],
    ids=["updated", "seq_seen", "ended"],
)
def test_a_kept_transactions_mapping_writes_the_transactions_it_holds(
    written_alone: dict[str, object],
) -> None:
    """A newer copy of a transaction written alone does not leak into a state holding the older."""
    cache = codec.DocumentCache()
    tx = a_transaction()
    state = ChargerState(charger_id=CP, transactions=MappingProxyType({tx.tx_id: tx}))
    assert cache.state(state) == codec.dump_state(state)
    newer = replace(tx, **written_alone)  # type: ignore[arg-type]
    assert cache.transaction(newer) == codec.dumps(codec.transaction_out(newer))

    later = replace(state, connected=True)
    assert cache.state(later) == codec.dump_state(later)
    moved_on = replace(later, transactions=MappingProxyType({tx.tx_id: newer}))
    assert cache.state(moved_on) == codec.dump_state(moved_on)


def test_a_transaction_changing_several_fields_at_once_is_written_whole() -> None:
    """Every changed field is re-encoded, the first key of the document and a late one too."""
    cache = codec.DocumentCache()
    tx = a_transaction()
    cache.transaction(tx)
    changed = replace(tx, auth_reference="ref", energy_wh=Decimal("1.5"), token=None)

    assert cache.transaction(changed) == codec.dumps(codec.transaction_out(changed))
