"""The sealer says once per CDR that it billed a transaction, and never for one it did not."""

from __future__ import annotations

from gateway.domain.delivery import Seal
from ocpi_bridge.sealing import OcpiSealer
from tests.builders import T0
from tests.ocpi_bridge.test_sealing import ALL_DATED, SETTINGS, NoTokens
from tests.ocpi_bridge.test_translate_sessions import a_transaction


def test_a_transaction_without_a_cdr_was_not_billed() -> None:
    """No seal to bill from (no site, no owner): no CDR, and ``billed`` says no."""
    sealer = OcpiSealer(SETTINGS, configured_at=ALL_DATED, tokens=NoTokens())
    tx = a_transaction()
    unbillable = Seal(session_id="S-1", site=None, token=None, owner=None, problem=None)

    assert sealer.cdr(tx, unbillable, at=T0) is None
    assert not sealer.billed(tx)
