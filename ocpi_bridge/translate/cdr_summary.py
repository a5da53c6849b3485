"""Pure: a stored OCPI 2.2.1 CDR and its push ledger -> the operator's ``CdrSummary``.

Amounts are read from the stored JSON text as exact decimals (``parse_float=Decimal``):
what the operator sees and downloads is what the partner was sent, digit for digit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from gateway.domain.billing import CdrDelivery, CdrPush, CdrSummary, Cost, DeliveryState, StoredCdr
from gateway.domain.delivery import Owner
from ocpi_bridge.models.cdrs import Cdr
from ocpi_bridge.models.common import Price


def from_stored_cdr(
    stored: StoredCdr,
    *,
    partner_names: Mapping[int, str],
    party_names: Mapping[Owner, str],
) -> CdrSummary:
    """The summary of one stored CDR.

    ``partner_names`` names registered partners by id (the ledger's ``partner_id``);
    ``party_names`` names the partner holding each party (registered or configured).
    The partner is the one the ledger says received the CDR, else the one holding the
    token's party. Raises ``ValueError`` when the document is not a valid CDR.
    """
    record = stored.record
    cdr = Cdr.model_validate(json.loads(record.doc, parse_float=Decimal))
    deliveries = tuple(_delivery(p, partner_names) for p in stored.pushes)
    partner = deliveries[0].partner if deliveries else party_names.get(record.owner)
    where = cdr.cdr_location
    return CdrSummary(
        row=stored.row,
        cdr_id=cdr.id,
        session_id=cdr.session_id,
        owner=record.owner,
        partner=partner,
        deliveries=deliveries,
        queued_since=stored.queued_since,
        created_at=record.created_at,
        start=cdr.start_date_time,
        end=cdr.end_date_time,
        charger_id=stored.charger_id,
        tx_id=stored.tx_id,
        location_id=where.id,
        location_name=where.name,
        evse_uid=where.evse_uid,
        evse_id=where.evse_id,
        connector_id=where.connector_id,
        token_type=cdr.cdr_token.type.value,
        token_uid=cdr.cdr_token.uid,
        energy_kwh=cdr.total_energy,
        time_h=cdr.total_time,
        parking_time_h=cdr.total_parking_time,
        currency=cdr.currency,
        total_cost=_cost(cdr.total_cost),
        energy_cost=_optional(cdr.total_energy_cost),
        time_cost=_optional(cdr.total_time_cost),
        parking_cost=_optional(cdr.total_parking_cost),
        fixed_cost=_optional(cdr.total_fixed_cost),
        reservation_cost=_optional(cdr.total_reservation_cost),
        tariff_ids=_tariff_ids(cdr),
        credit_of=cdr.credit_reference_id if cdr.credit else None,
    )


def _cost(price: Price) -> Cost:
    return Cost(excl_vat=price.excl_vat, incl_vat=price.incl_vat)


def _optional(price: Price | None) -> Cost | None:
    return None if price is None else _cost(price)


def _tariff_ids(cdr: Cdr) -> tuple[str, ...]:
    """The tariffs the CDR names, in order of first mention, each once."""
    named = [t.id for t in cdr.tariffs or ()]
    named += [p.tariff_id for p in cdr.charging_periods if p.tariff_id is not None]
    return tuple(dict.fromkeys(named))


def _delivery(push: CdrPush, partner_names: Mapping[int, str]) -> CdrDelivery:
    # A partner removed since keeps its ledger rows until the next fan-out drops them.
    name = partner_names.get(push.partner_id, f"#{push.partner_id}")
    if push.acked:
        return CdrDelivery(
            partner=name, state=DeliveryState.ACKNOWLEDGED, acknowledged_at=push.sent_at
        )
    if push.due_since is not None:
        return CdrDelivery(
            partner=name,
            state=DeliveryState.WAITING,
            waiting_since=push.due_since,
            attempts=push.attempts,
            last_error=push.last_error,
        )
    return CdrDelivery(partner=name, state=DeliveryState.NOT_SENT, last_error=push.last_error)
