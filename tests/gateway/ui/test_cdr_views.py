"""The CDR page and its CSV built from summaries: breakdown, partner, delivery, escaping."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain.billing import (
    CdrDelivery,
    CdrPage,
    CdrSummary,
    Cost,
    DeliveryState,
    Unbilled,
    UnbilledPage,
)
from gateway.domain.delivery import Seal
from gateway.domain.transactions import TransactionStatus, TxFlag
from gateway.ui import views
from tests.builders import T0
from tests.gateway.ui.test_views import EVIL, a_tx

NOW = T0 + timedelta(hours=2)


def a_summary(**overrides: Any) -> CdrSummary:
    values: dict[str, Any] = {
        "row": 1,
        "cdr_id": "AC-0001-7",
        "session_id": "AC-0001-7",
        "owner": ("DE", "EMS"),
        "partner": "eMSP",
        "deliveries": (),
        "queued_since": None,
        "created_at": T0 + timedelta(hours=1),
        "start": T0,
        "end": T0 + timedelta(hours=1),
        "charger_id": "AC-0001",
        "tx_id": "7",
        "location_id": "LOC-1",
        "location_name": "Depot",
        "evse_uid": "AC-0001-1",
        "evse_id": "NL*CEG*E0001",
        "connector_id": "1",
        "token_type": "RFID",
        "token_uid": "04A1B2C3D4",
        "energy_kwh": Decimal("5"),
        "time_h": Decimal("1"),
        "parking_time_h": None,
        "currency": "EUR",
        "total_cost": Cost(excl_vat=Decimal("1.50"), incl_vat=Decimal("1.815")),
        "energy_cost": Cost(excl_vat=Decimal("1.50"), incl_vat=Decimal("1.815")),
        "tariff_ids": ("AC-STANDARD",),
    }
    return CdrSummary(**{**values, **overrides})


def listing(*items: CdrSummary, unbilled: tuple[Unbilled, ...] = (), **kw: Any) -> str:
    return views.cdrs(
        views.CdrListing(
            cdrs=CdrPage(total=kw.pop("total", len(items)), items=items),
            unbilled=UnbilledPage(total=kw.pop("unbilled_total", len(unbilled)), items=unbilled),
            now=NOW,
            **kw,
        )
    )


def test_a_cdr_row_shows_total_breakdown_partner_and_where():
    """Total and per-dimension costs excl./incl. VAT, the partner and party, the EVSE."""
    page = listing(
        a_summary(
            parking_time_h=Decimal("0.25"),
            parking_cost=Cost(excl_vat=Decimal("0.5")),
            fixed_cost=Cost(excl_vat=Decimal(1), incl_vat=Decimal("1.21")),
            time_cost=Cost(excl_vat=Decimal(0), incl_vat=Decimal(0)),
        )
    )
    assert "time 0" not in page  # a zero dimension is noise on the page
    assert "1 CDR, newest first." in page
    assert "<b>EUR 1.50 / 1.815</b>" in page
    assert "energy 1.50 / 1.815" in page
    assert "parking 0.5<" in page
    assert "fixed 1 / 1.21" in page
    assert "parking 0.25 h" in page
    assert "eMSP<br>DE/EMS" in page
    assert "Depot<br>NL*CEG*E0001 · connector 1" in page
    assert 'href="/sessions/AC-0001/7"' in page
    assert "rfid ••••C3D4" in page
    assert "04A1B2C3D4" not in page
    assert "AC-STANDARD" in page
    assert "for the partner to fetch" in page


def test_a_credit_cdr_is_marked_and_a_partnerless_party_is_said():
    """A credit CDR names what it credits; a party nobody holds is said so, not hidden."""
    page = listing(
        a_summary(
            cdr_id="AC-0001-7-C",
            credit_of="AC-0001-7",
            partner=None,
            charger_id=None,
            total_cost=Cost(excl_vat=Decimal("-1.50")),
            energy_cost=Cost(excl_vat=Decimal(0)),
        )
    )
    assert "credit of AC-0001-7" in page
    assert "no partner holds this party" in page
    assert "EUR -1.50<" in page
    assert "energy 0" not in page


@pytest.mark.parametrize(
    ("summary", "shown", "state"),
    [
        (
            a_summary(
                deliveries=(
                    CdrDelivery(
                        partner="Hub",
                        state=DeliveryState.ACKNOWLEDGED,
                        acknowledged_at=NOW - timedelta(minutes=3),
                    ),
                )
            ),
            "acknowledged</span> by Hub",
            "acknowledged",
        ),
        (
            a_summary(
                deliveries=(
                    CdrDelivery(
                        partner="Hub",
                        state=DeliveryState.ACKNOWLEDGED,
                        acknowledged_at=NOW,
                    ),
                    CdrDelivery(
                        partner="Other",
                        state=DeliveryState.WAITING,
                        waiting_since=NOW - timedelta(minutes=10),
                        attempts=4,
                        last_error="HTTP 503",
                    ),
                )
            ),
            "waiting</span> for Other since",
            "waiting",
        ),
        (
            a_summary(
                deliveries=(
                    CdrDelivery(partner="Hub", state=DeliveryState.WAITING, waiting_since=NOW),
                )
            ),
            "waiting</span> for Hub",
            "waiting",
        ),
        (
            a_summary(deliveries=(CdrDelivery(partner="Hub", state=DeliveryState.NOT_SENT),)),
            "not sent to Hub",
            "not sent",
        ),
        (a_summary(queued_since=NOW), "queued", "queued"),
        (a_summary(), "for the partner to fetch", "pull"),
    ],
    ids=["acknowledged", "one-waiting", "waiting-first-try", "not-sent", "queued", "pull"],
)
def test_the_delivery_state_is_shown_and_summarised_for_the_csv(summary, shown, state):
    """Acknowledged, waiting (with why), not sent, queued, or left for the partner's pull."""
    assert shown in views.delivery_cell(summary, NOW)
    assert views.delivery_state(summary) == state


def test_the_csv_has_one_row_per_cdr_with_exact_decimals_and_the_partner():
    """Amounts as written in the CDR (no float rounding), the token masked, times ISO."""
    waiting = CdrDelivery(
        partner="Hub", state=DeliveryState.WAITING, waiting_since=T0, last_error="HTTP 503"
    )
    acked = CdrDelivery(partner="eMSP", state=DeliveryState.ACKNOWLEDGED, acknowledged_at=NOW)
    items = [
        a_summary(
            deliveries=(acked, waiting),
            reservation_cost=Cost(excl_vat=Decimal("0.1234"), incl_vat=Decimal("0.1493")),
            energy_kwh=Decimal("1E+1"),
        ),
        a_summary(cdr_id="=2", credit_of="AC-0001-7", total_cost=Cost(excl_vat=Decimal("-4.00"))),
    ]
    text = views.cdrs_csv_header() + views.cdrs_csv_rows(items)
    header, first, second = csv.reader(io.StringIO(text))
    assert header == list(views.CSV_COLUMNS)
    row = dict(zip(header, first, strict=True))
    assert row["total_cost_excl_vat"] == "1.50"
    assert row["total_cost_incl_vat"] == "1.815"
    assert row["reservation_cost_excl_vat"] == "0.1234"
    assert row["time_cost_excl_vat"] == ""
    assert row["energy_kwh"] == "10"
    assert row["partner"] == "eMSP"
    assert row["delivery"] == "waiting"
    assert row["acknowledged_at"] == NOW.isoformat()
    assert row["waiting_since"] == T0.isoformat()
    assert row["last_error"] == "HTTP 503"
    assert row["token"] == "rfid ••••C3D4"
    assert row["tariff_ids"] == "AC-STANDARD"
    credit = dict(zip(header, second, strict=True))
    assert credit["cdr_id"] == "'=2"  # stays text in a spreadsheet
    assert credit["total_cost_excl_vat"] == "-4.00"  # a number, not prefixed
    assert credit["total_cost_incl_vat"] == ""
    assert credit["credit_of"] == "AC-0001-7"
    assert "04A1B2C3D4" not in text


SEALED = Seal(session_id="s", site="{}", token="{}", owner=("DE", "EMS"))
DONE = a_tx(status=TransactionStatus.COMPLETED, stopped_at=T0 + timedelta(hours=1))


@pytest.mark.parametrize(
    ("unbilled", "reason"),
    [
        (
            Unbilled(
                row=1, transaction=replace(DONE, flags=frozenset({TxFlag.UNKNOWN_EVSE})), seal=None
            ),
            "EVSE not configured",
        ),
        (Unbilled(row=1, transaction=DONE, seal=replace(SEALED, site=None)), "EVSE not configured"),
        (Unbilled(row=1, transaction=replace(DONE, token=None), seal=SEALED), "free vend"),
        (Unbilled(row=1, transaction=DONE, seal=None), "never sealed"),
        (Unbilled(row=1, transaction=DONE, seal=replace(SEALED, owner=None)), "site token"),
        (Unbilled(row=1, transaction=DONE, seal=SEALED), "CDR not built yet"),
    ],
    ids=["unknown-evse", "unsealed-site", "no-token", "unsealed", "site-token", "pending"],
)
def test_each_unbilled_session_says_why_it_has_no_cdr(unbilled, reason):
    """Unconfigured EVSE, free vend, never sealed, site token, or a CDR still to be built."""
    assert reason in views.unbilled_reason(unbilled)
    assert reason in listing(unbilled=(unbilled,))


def test_charger_and_partner_supplied_strings_are_escaped():
    """Partner names, EVSE ids, errors and tariff ids never reach the page as markup."""
    evil = a_summary(
        cdr_id=EVIL,
        partner=EVIL,
        location_name=EVIL,
        evse_id=EVIL,
        charger_id=EVIL,
        tx_id=EVIL,
        tariff_ids=(EVIL,),
        currency=EVIL,
        deliveries=(
            CdrDelivery(
                partner=EVIL, state=DeliveryState.WAITING, waiting_since=T0, last_error=EVIL
            ),
        ),
    )
    page = listing(replace(evil, credit_of=EVIL))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_long_lists_are_paged_newest_first_with_links_both_ways():
    """Fifty a page: the middle page links to newer and older, keeping the other list's page."""
    page = listing(a_summary(), total=160, unbilled_total=3, page=1, unbilled_page=0)
    assert 'href="/cdrs">Newer' in page  # page 0 is the default: no parameter
    assert "page 2 of 4" in page
    assert 'href="/cdrs?page=2">Older' in page
    assert views.pager("/cdrs", "page", 0, 50, 50, {}) == ""
    last = views.pager("/cdrs", "unbilled", 3, 50, 160, {"page": 2})
    assert 'href="/cdrs?page=2&amp;unbilled=2">Newer' in last
    assert "Older" not in last


def test_a_page_past_the_end_says_so_rather_than_that_there_are_none():
    """An old link to a page that no longer exists is not read as "no CDRs yet"."""
    page = listing(total=3, unbilled_total=2, page=5, unbilled_page=5)
    assert "No CDRs on this page." in page
    assert "No sessions on this page." in page
    assert "No CDRs yet" in listing()
