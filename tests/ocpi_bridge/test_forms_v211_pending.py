"""Adapter: 2.1.1 partners see the Sessions commands open before any transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import pytest

from gateway.config import load_settings
from gateway.domain.delivery import PendingKind, PendingSession, PendingStatus, SessionRecord
from gateway.ports import SiteView
from ocpi_bridge.api.forms import Form211, Form221
from ocpi_bridge.catalog import DeliveryRecords, SiteCatalog
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.models.v211 import V211Session
from ocpi_bridge.translate.delivery import pending_site, to_pending_session
from ocpi_bridge.translate.pagination import PageRequest
from ocpi_bridge.translate.sessions import TokenIdentity
from tests.builders import SHIPPED_CONFIG, T0

SETTINGS = load_settings(SHIPPED_CONFIG)
LOC = SETTINGS.locations[0]
EVSE = LOC.evses[0]
TOKEN = TokenIdentity(
    country_code="DE",
    party_id="EMS",
    uid="04A1B2C3D4",
    type=TokenType.RFID,
    contract_id="DE-EMS-C12345678-X",
    auth_method=AuthMethod.COMMAND,
    authorization_reference="AUTH-1",
)


def a_pending(status: PendingStatus = PendingStatus.PENDING, **changes: Any) -> PendingSession:
    site = pending_site(SETTINGS, LOC, EVSE, None, configured_at={}, at=T0)
    pending = to_pending_session(
        kind=PendingKind.START,
        source_id=4,
        charger_id="AC-0001",
        site=site,
        token=TOKEN,
        received_at=T0,
    )
    return replace(pending, id=7, status=status, **changes)


class Records:
    """One pending session under push key ``pending:7``, and nothing else."""

    def __init__(self, pending: PendingSession) -> None:
        self.pending = pending

    def session_object(self, object_id: str) -> SessionRecord | PendingSession | None:
        return self.pending if object_id == "pending:7" else None

    def all_sessions(self, **_: Any) -> tuple[int, list[SessionRecord | PendingSession]]:
        return 1, [self.pending]


def form(pending: PendingSession) -> Form211:
    catalog = SiteCatalog(
        SETTINGS,
        site=cast(SiteView, None),
        configured_at={},
        records=cast(DeliveryRecords, Records(pending)),
    )
    return Form211(catalog)


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (PendingStatus.PENDING, "PENDING"),
        (PendingStatus.RESERVATION, "PENDING"),
        (PendingStatus.INVALID, "INVALID"),
    ],
)
def test_a_pending_session_is_a_2_1_1_session_with_its_status(status: PendingStatus, shown: str):
    """PENDING and INVALID as they are, RESERVATION as PENDING; the command's token as
    auth_id, and the EVSE the command named as the whole Location."""
    doc = form(a_pending(status)).session_by_key("pending:7")

    assert doc is not None
    session = V211Session.model_validate(doc)
    assert session.status.value == shown
    assert session.id == "AC-0001-S4"
    assert session.auth_id == TOKEN.contract_id
    assert session.kwh == 0
    assert session.location.id == LOC.id
    assert [e.uid for e in session.location.evses or ()] == [EVSE.uid]
    assert "country_code" not in doc


def test_a_pending_session_a_transaction_took_is_no_longer_served_as_pending():
    """Once a transaction took it, its push key names nothing: the transaction's Session
    (same id) is the one pushed."""
    assert form(a_pending(tx_row=3)).session_by_key("pending:7") is None
    assert form(a_pending()).session_by_key("pending:8") is None


def test_a_2_1_1_sessions_page_lists_pending_sessions():
    """GET Sessions in 2.1.1 lists a pending session as 2.2.1 does, in its 2.1.1 shape."""
    page = PageRequest(offset=0, limit=10, date_from=T0 - timedelta(hours=1), date_to=None)

    v211 = form(a_pending()).sessions_page([("DE", "EMS")], page)
    v221 = Form221(form(a_pending()).catalog).sessions_page([("DE", "EMS")], page)

    assert [s["id"] for s in v211.items] == [s["id"] for s in v221.items] == ["AC-0001-S4"]
    assert v211.items[0]["status"] == "PENDING"
    assert v211.total == 1
    assert v211.next_offset is None
