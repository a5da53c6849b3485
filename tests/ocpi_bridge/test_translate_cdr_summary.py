"""A stored CDR document and its push ledger read as the operator's CdrSummary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.domain.billing import CdrPush, Cost, DeliveryState, StoredCdr
from gateway.domain.delivery import CdrRecord
from ocpi_bridge.models.cdrs import Cdr
from ocpi_bridge.models.common import Price
from ocpi_bridge.translate.cdr_summary import from_stored_cdr
from ocpi_bridge.translate.delivery import canonical, credit_cdr, wire
from tests.builders import T0
from tests.ocpi_bridge.tariff_helpers import EXAMPLES, example

CREATED = datetime(2015, 6, 29, 23, 40, tzinfo=UTC)


def spec_text() -> str:
    example("cdr_example.json")  # skips when the spec folder is absent
    return (EXAMPLES / "cdr_example.json").read_text(encoding="utf-8")


def stored(doc: str, **overrides: Any) -> StoredCdr:
    record = CdrRecord(
        cdr_id=overrides.pop("cdr_id", "12345"),
        owner=("DE", "TNM"),
        created_at=CREATED,
        doc=doc,
        tx_row=overrides.pop("tx_row", 1),
        credit_of=overrides.pop("credit_of", None),
    )
    values: dict[str, Any] = {"row": 3, "record": record, "charger_id": "AC-1", "tx_id": "42"}
    return StoredCdr(**{**values, **overrides})


def summary(item: StoredCdr, **names: Any):
    return from_stored_cdr(
        item,
        partner_names=names.get("partner_names", {1: "Hub"}),
        party_names=names.get("party_names", {("DE", "TNM"): "TNM roaming"}),
    )


def test_the_spec_example_reads_with_exact_amounts_and_its_place():
    """The spec's CDR example: costs digit for digit, the EVSE, token, tariff and times."""
    s = summary(stored(spec_text(), queued_since=CREATED))
    assert s.cdr_id == "12345"
    assert s.row == 3
    assert (s.charger_id, s.tx_id) == ("AC-1", "42")
    assert s.total_cost == Cost(excl_vat=Decimal("4.00"), incl_vat=Decimal("4.40"))
    assert str(s.total_cost.excl_vat) == "4.00"
    assert s.time_cost == Cost(excl_vat=Decimal("4.00"), incl_vat=Decimal("4.40"))
    assert (s.energy_cost, s.parking_cost, s.fixed_cost, s.reservation_cost) == (None,) * 4
    assert s.energy_kwh == Decimal("15.342")
    assert s.time_h == Decimal("1.973")
    assert s.parking_time_h is None
    assert s.currency == "EUR"
    assert s.tariff_ids == ("12",)
    assert (s.location_id, s.location_name) == ("LOC1", "Gent Zuid")
    assert (s.evse_uid, s.evse_id, s.connector_id) == ("3256", "BE*BEC*E041503003", "1")
    assert (s.token_type, s.token_uid) == ("RFID", "012345678")
    assert s.start == datetime(2015, 6, 29, 21, 39, 9, tzinfo=UTC)
    assert s.end == datetime(2015, 6, 29, 23, 37, 32, tzinfo=UTC)
    assert s.created_at == CREATED
    assert s.session_id is None
    assert s.credit_of is None
    assert s.owner == ("DE", "TNM")
    assert s.partner == "TNM roaming"  # nobody received a push: the party's holder
    assert s.deliveries == ()
    assert s.queued_since == CREATED


def test_a_credit_cdr_carries_negative_costs_and_names_the_cdr_it_credits():
    """A credit CDR: the same breakdown negated, and ``credit_of`` the original's id."""
    original = Cdr.model_validate(json.loads(spec_text(), parse_float=Decimal))
    credit = credit_cdr(original, issued_at=CREATED)
    item = stored(canonical(wire(credit)), cdr_id=credit.id, tx_row=None, credit_of="12345")
    s = summary(item)
    assert s.cdr_id == "12345-C"
    assert s.credit_of == "12345"
    assert s.total_cost == Cost(excl_vat=Decimal("-4"), incl_vat=Decimal("-4.4"))
    assert s.time_cost == Cost(excl_vat=Decimal("-4"), incl_vat=Decimal("-4.4"))
    assert s.energy_kwh == Decimal("15.342")


def a_doc(**changes: Any) -> str:
    doc = json.loads(spec_text())
    doc.update(changes)
    return json.dumps(doc)


def test_every_cost_dimension_and_the_tariffs_of_the_periods_are_read():
    """Energy, time, parking, fixed and reservation costs; tariffs named once, in order."""
    doc = a_doc(
        session_id="S-1",
        total_energy_cost={"excl_vat": 1.5, "incl_vat": 1.815},
        total_parking_time=0.25,
        total_parking_cost={"excl_vat": 0.5},
        total_fixed_cost={"excl_vat": 1, "incl_vat": 1.21},
        total_reservation_cost={"excl_vat": 0.1234, "incl_vat": 0.1493},
        charging_periods=[
            {
                "start_date_time": "2015-06-29T21:39:09Z",
                "dimensions": [{"type": "TIME", "volume": 1}],
                "tariff_id": "13",
            },
            {
                "start_date_time": "2015-06-29T22:39:09Z",
                "dimensions": [{"type": "TIME", "volume": 0.973}],
                "tariff_id": "12",
            },
            {
                "start_date_time": "2015-06-29T23:00:00Z",
                "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}],
            },
        ],
    )
    s = summary(stored(doc))
    assert s.session_id == "S-1"
    assert s.energy_cost == Cost(excl_vat=Decimal("1.5"), incl_vat=Decimal("1.815"))
    assert s.parking_cost == Cost(excl_vat=Decimal("0.5"))
    assert s.parking_time_h == Decimal("0.25")
    assert s.fixed_cost == Cost(excl_vat=Decimal(1), incl_vat=Decimal("1.21"))
    assert s.reservation_cost == Cost(excl_vat=Decimal("0.1234"), incl_vat=Decimal("0.1493"))
    assert s.tariff_ids == ("12", "13")


SINCE = T0 - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("push", "state", "acknowledged_at", "waiting_since", "attempts", "error"),
    [
        (
            CdrPush(partner_id=1, acked=True, sent_at=T0),
            DeliveryState.ACKNOWLEDGED,
            T0,
            None,
            0,
            None,
        ),
        (
            CdrPush(partner_id=1, acked=False, due_since=SINCE, attempts=3, last_error="HTTP 503"),
            DeliveryState.WAITING,
            None,
            SINCE,
            3,
            "HTTP 503",
        ),
        (CdrPush(partner_id=1, acked=False), DeliveryState.NOT_SENT, None, None, 0, None),
    ],
    ids=["acknowledged", "waiting", "not-sent"],
)
def test_the_ledger_says_how_delivery_to_each_partner_stands(
    push, state, acknowledged_at, waiting_since, attempts, error
):
    """Acknowledged (and when), waiting (since when, how many failures, why) or not sent."""
    s = summary(stored(spec_text(), pushes=(push,)))
    (delivery,) = s.deliveries
    assert delivery.partner == "Hub"
    assert delivery.state is state
    assert delivery.acknowledged_at == acknowledged_at
    assert delivery.waiting_since == waiting_since
    assert delivery.attempts == attempts
    assert delivery.last_error == error
    assert s.partner == "Hub"  # the partner the ledger names wins over the party's holder


def test_a_partner_missing_from_the_names_is_shown_by_its_number():
    """A ledger row of a partner removed since is named ``#<id>``; no holder: no partner."""
    s = summary(
        stored(spec_text(), pushes=(CdrPush(partner_id=7, acked=True, sent_at=T0),)),
        partner_names={},
        party_names={},
    )
    assert s.partner == "#7"
    assert summary(stored(spec_text()), party_names={}).partner is None


@pytest.mark.parametrize("doc", ["not json", "{}", '{"id": "1"}'])
def test_a_document_that_is_not_a_cdr_is_refused(doc):
    """Garbage in the store raises ValueError rather than showing made-up figures."""
    with pytest.raises(ValueError):  # noqa: PT011 - json and pydantic both raise subclasses
        summary(stored(doc))


amounts = st.decimals(
    min_value=Decimal("-99999"), max_value=Decimal("99999"), places=4, allow_nan=False
)


@given(excl=amounts, incl=amounts)
def test_amounts_stored_as_json_numbers_come_back_exactly(excl: Decimal, incl: Decimal):
    """Any 4-decimal amount, stored as the partner was sent it, reads back unchanged."""
    cdr = Cdr.model_validate(json.loads(spec_text(), parse_float=Decimal))
    priced = cdr.model_copy(update={"total_cost": Price(excl_vat=excl, incl_vat=incl)})
    doc = canonical(wire(priced))
    s = summary(stored(doc))
    assert s.total_cost == Cost(excl_vat=excl, incl_vat=incl)
