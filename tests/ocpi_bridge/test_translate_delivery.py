"""Sealing, credit CDRs, what a partner is sent, and the Location catalogue (pure)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from gateway.config import load_settings
from gateway.domain.delivery import ConfigSnapshot
from gateway.domain.ids import EvseUid
from gateway.domain.meter import Measurand, MeterSample, Reading
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import TransactionStatus
from ocpi_bridge.models.cdrs import AuthMethod
from ocpi_bridge.models.common import Price
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.translate.delivery import (
    FREE_TARIFF_ID,
    canonical,
    cdr_of,
    choose_tariff,
    credit_cdr,
    digest,
    evse_index,
    evse_patch,
    is_older,
    object_url,
    published_locations,
    pushable_session,
    retry_delay,
    seal_site,
    sealed_site,
    session_of,
    session_plan,
    token_doc,
    token_identity,
    wire,
)
from ocpi_bridge.translate.sessions import TokenIdentity
from tests.builders import SHIPPED_CONFIG, T0
from tests.ocpi_bridge.test_translate_sessions import a_transaction, at, ended, register

SETTINGS = load_settings(SHIPPED_CONFIG)
CONFIGURED = {"tariff:AC-STANDARD": T0 - timedelta(days=1)}
AMS = ZoneInfo("Europe/Amsterdam")
TOKEN = TokenIdentity(
    country_code="DE",
    party_id="EMS",
    uid="04A1B2C3",
    type=TokenType.RFID,
    contract_id="DE-EMS-C1",
    auth_method=AuthMethod.AUTH_REQUEST,
    authorization_reference="REF-1",
)


def sealed(tx=None, settings=SETTINGS):
    doc, problem = seal_site(tx or a_transaction(), settings, configured_at=CONFIGURED)
    assert problem is None
    assert doc is not None
    return sealed_site(doc)


# --- the seal ----------------------------------------------------------------------------


def test_the_seal_keeps_location_evse_connector_and_tariff_as_at_the_start():
    """The seal names the EVSE the transaction ran on and prices it with its tariff."""
    site = sealed()

    assert (site.location.id, site.evse.uid, site.connector_id) == ("LOC-001", "AC-0001-1", "1")
    assert site.location.evses == ()
    assert site.tariff is not None
    assert site.tariff.id == "AC-STANDARD"
    assert site.tariff.last_updated == CONFIGURED["tariff:AC-STANDARD"]
    assert site.operator == SETTINGS.operator


def test_a_seal_survives_the_configuration_changing_later():
    """The CDR is built from the seal: a renamed street after the start changes nothing."""
    doc, _ = seal_site(a_transaction(), SETTINGS, configured_at=CONFIGURED)
    assert doc is not None
    renamed = SETTINGS.model_copy(
        update={"locations": (SETTINGS.locations[0].model_copy(update={"address": "Elsewhere 2"}),)}
    )
    assert seal_site(a_transaction(), renamed, configured_at=CONFIGURED)[0] != doc
    cdr = cdr_of(
        replace(ended()),
        site=sealed_site(doc),
        time_zone=AMS,
        token=TOKEN,
        issued_at=at(121),
    )
    assert cdr.cdr_location.address == "Stationsplein 1"


def test_a_start_sealed_through_the_evse_index_gets_the_same_document():
    """Every configured EVSE seals the same with the index made once as without it."""
    index = evse_index(SETTINGS)
    uids = [evse.uid for loc in SETTINGS.locations for evse in loc.evses]
    assert sorted(index) == sorted(uids)
    assert all(evse in loc.evses and evse.uid == uid for uid, (loc, evse) in index.items())
    for uid in [*uids, "GONE-1"]:
        tx = a_transaction(evse_uid=EvseUid(uid))
        with_index = seal_site(tx, SETTINGS, configured_at=CONFIGURED, index=index)
        assert with_index == seal_site(tx, SETTINGS, configured_at=CONFIGURED)
        assert (with_index[0] is None) == (uid == "GONE-1")


def test_a_repeated_evse_uid_is_found_where_it_first_appears():
    """The index keeps the first Location of a uid listed twice, as the search did."""
    loc = SETTINGS.locations[0]
    twin = loc.model_copy(update={"id": "LOC-TWIN"})
    settings = SETTINGS.model_copy(update={"locations": (loc, twin)})
    assert evse_index(settings)[loc.evses[0].uid][0].id == loc.id


@pytest.mark.parametrize(
    ("evse_uid", "connector", "says"),
    [
        (None, ConnectorRef(evse=None, connector=7), "no EVSE of the configuration (connector 7)"),
        (
            "GONE-1",
            ConnectorRef(evse=3, connector=1),
            "EVSE GONE-1 of the configuration (connector 3/1)",
        ),
        (None, None, "(connector unknown)"),
    ],
)
def test_a_transaction_on_an_unknown_evse_is_not_sealed_and_says_why(evse_uid, connector, says):
    """No configured EVSE: no site, and a note for the operator naming what was used."""
    tx = a_transaction(
        evse_uid=None if evse_uid is None else EvseUid(evse_uid), connector=connector
    )
    doc, problem = seal_site(tx, SETTINGS, configured_at=CONFIGURED)

    assert doc is None
    assert problem is not None
    assert says in problem
    assert "no Session or CDR" in problem


def test_the_regular_tariff_of_the_connector_is_the_one_a_token_pays():
    """REGULAR (or untyped) tariffs win over ad hoc ones; otherwise the first listed."""
    ad_hoc = SETTINGS.tariffs[0].model_copy(update={"id": "ADHOC", "type": "AD_HOC_PAYMENT"})
    regular = SETTINGS.tariffs[1]
    tariffs = (ad_hoc, regular)

    assert choose_tariff(["ADHOC", regular.id], tariffs) == regular
    assert choose_tariff(["ADHOC"], tariffs) == ad_hoc
    assert choose_tariff(["UNKNOWN"], tariffs) is None
    assert choose_tariff([], tariffs) is None


def test_a_connector_without_tariff_is_sealed_without_one_and_billed_nothing():
    """A free site: the CDR says 0.00 and names no tariff (there is none to name)."""
    raw = json.loads(SETTINGS.model_dump_json())
    for evse in raw["locations"][0]["evses"]:
        for conn in evse["connectors"]:
            conn["tariff_ids"] = []
    free = type(SETTINGS).model_validate(raw)
    site = sealed(settings=free)
    assert site.tariff is None

    cdr = cdr_of(ended(), site=site, time_zone=AMS, token=TOKEN, issued_at=at(121))
    assert cdr.total_cost == Price(excl_vat=Decimal(0), incl_vat=Decimal(0))
    assert cdr.tariffs is None
    assert all(p.tariff_id is None for p in cdr.charging_periods)
    assert cdr.currency == "EUR"
    assert FREE_TARIFF_ID not in canonical(wire(cdr))


def test_a_token_identity_round_trips_through_its_document():
    """What the seal stores of a token is all a Session and CDR need."""
    assert token_identity(token_doc(TOKEN)) == TOKEN


# --- Sessions and CDRs -------------------------------------------------------------------


def test_a_running_session_is_priced_up_to_its_latest_reading():
    """After the last reading nothing is known: no parking is guessed up to the clock."""
    tx = a_transaction(samples=(register(4000, 30), register(5000, 40)))
    session = session_of(tx, site=sealed(), time_zone=AMS, token=TOKEN, updated_at=at(60))

    assert session.kwh == Decimal(4)
    assert session.last_updated == at(60)
    assert session.charging_periods is not None
    assert len(session.charging_periods) == 1  # charging up to 40 min, nothing after
    assert session.total_cost is not None
    assert session.total_cost.excl_vat == Decimal("1.2")
    assert session.authorization_reference == "REF-1"
    assert session.auth_method is AuthMethod.AUTH_REQUEST


def test_a_cdr_is_priced_by_the_sealed_tariff_and_issued_when_the_stop_was_stored():
    """5 kWh x 0.30 + parked an hour past the first (2.00/h) = 3.50 excl. VAT; its
    ``last_updated`` is when it was created."""
    cdr = cdr_of(ended(), site=sealed(), time_zone=AMS, token=TOKEN, issued_at=at(121))

    assert cdr.total_cost == Price(excl_vat=Decimal("3.5"), incl_vat=Decimal("4.235"))
    assert cdr.last_updated == at(121)
    assert cdr.id == "AC-0001-17"


def test_a_register_jump_the_stop_rejected_is_not_billed_in_the_cdr():
    """The CDR's energy series is bounded by the EVSE's power, as the stop's energy was."""
    jump = MeterSample(
        at=at(45),
        readings=(
            Reading(
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                value=Decimal(900_000),
                unit="Wh",
                at=at(45),
            ),
        ),
    )
    tx = replace(ended(), samples=(register(4000, 30), jump, register(6000, 60)))
    cdr = cdr_of(tx, site=sealed(), time_zone=AMS, token=TOKEN, issued_at=at(121))

    assert cdr.total_energy == Decimal(5)


def test_a_credit_cdr_has_its_own_id_negative_costs_and_the_same_data():
    """mod_cdrs §Credit CDRs: id + "-C", credit=true, credit_reference_id, costs negated."""
    cdr = cdr_of(ended(), site=sealed(), time_zone=AMS, token=TOKEN, issued_at=at(121))
    credit = credit_cdr(cdr, issued_at=at(500), remark="meter replaced")

    assert credit.id == "AC-0001-17-C"
    assert credit.credit is True
    assert credit.credit_reference_id == cdr.id
    assert credit.remark == "meter replaced"
    assert credit.last_updated == at(500)
    assert credit.total_cost == Price(excl_vat=Decimal("-3.5"), incl_vat=Decimal("-4.235"))
    assert credit.total_energy_cost is not None
    assert credit.total_energy_cost.excl_vat == Decimal("-1.5")
    assert credit.total_energy == cdr.total_energy
    assert credit.charging_periods == cdr.charging_periods
    assert credit_cdr(cdr, issued_at=at(500)).remark is None


def test_a_credit_without_vat_amounts_stays_without_them():
    """A cost given without incl_vat is negated without inventing one; absent stays absent."""
    cdr = cdr_of(ended(), site=sealed(), time_zone=AMS, token=TOKEN, issued_at=at(121))
    plain = cdr.model_copy(
        update={"total_cost": Price(excl_vat=Decimal(2)), "total_reservation_cost": None}
    )
    credit = credit_cdr(plain, issued_at=at(1))

    assert credit.total_cost == Price(excl_vat=Decimal(-2))
    assert credit.total_reservation_cost is None


def test_a_credit_cdr_is_not_credited_again():
    """Crediting a credit would be a new CDR, not a correction: refused."""
    cdr = cdr_of(ended(), site=sealed(), time_zone=AMS, token=TOKEN, issued_at=at(121))
    with pytest.raises(ValueError, match="not credited again"):
        credit_cdr(credit_cdr(cdr, issued_at=at(1)), issued_at=at(2))


# --- what to send ------------------------------------------------------------------------


def a_session(status: str = "ACTIVE", periods: int = 2, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "S1",
        "kwh": 1,
        "status": status,
        "last_updated": "2026-11-22T10:00:00Z",
        **fields,
    }
    if periods:
        doc["charging_periods"] = [
            {"start_date_time": f"2026-11-22T10:{i:02d}:00Z", "dimensions": []}
            for i in range(periods)
        ]
    return doc


def test_the_period_still_growing_is_held_back_until_the_session_completes():
    """ACTIVE: all periods but the last; COMPLETED: all; none: no field."""
    assert len(pushable_session(a_session())["charging_periods"]) == 1
    assert len(pushable_session(a_session("COMPLETED"))["charging_periods"]) == 2
    assert "charging_periods" not in pushable_session(a_session(periods=1))
    assert "charging_periods" not in pushable_session(a_session(periods=0))


def test_a_new_session_is_put_whole():
    """A partner that holds nothing gets a PUT of the pushable Session."""
    plan = session_plan(a_session(), None)

    assert plan.method == "PUT"
    assert plan.body == plan.holds == pushable_session(a_session())


def test_an_unchanged_session_is_not_sent_again():
    """The partner holds exactly this: no call."""
    held = pushable_session(a_session())
    plan = session_plan(a_session(), held)

    assert plan.method is None
    assert plan.body is None


def test_a_changed_session_is_patched_with_changes_new_periods_and_last_updated():
    """PATCH: changed fields, the periods the partner lacks (appended there), last_updated."""
    held = pushable_session(a_session(periods=2))
    later = a_session(periods=4, kwh=3, last_updated="2026-11-22T10:05:00Z")
    plan = session_plan(later, held)

    assert plan.method == "PATCH"
    assert plan.body == {
        "kwh": 3,
        "last_updated": "2026-11-22T10:05:00Z",
        "charging_periods": later["charging_periods"][1:3],
    }
    assert plan.holds == pushable_session(later)


def test_a_patch_without_new_periods_leaves_the_periods_alone():
    """Only the energy changed: no charging_periods key (a receiver would append them)."""
    held = pushable_session(a_session(periods=2))
    plan = session_plan(a_session(periods=2, kwh=2), held)

    assert plan.method == "PATCH"
    assert plan.body == {"kwh": 2, "last_updated": "2026-11-22T10:00:00Z"}


def test_periods_already_sent_that_changed_make_a_put():
    """A PATCH can only append: different earlier periods are replaced by a whole PUT."""
    held = pushable_session(a_session(periods=3))
    changed = a_session(periods=3)
    changed["charging_periods"][0]["dimensions"] = [{"type": "ENERGY", "volume": 1}]

    assert session_plan(changed, held).method == "PUT"


def test_a_field_that_disappeared_makes_a_put():
    """A PATCH cannot remove a field either."""
    held = pushable_session(a_session(total_cost={"excl_vat": 1}))

    assert session_plan(a_session(), held).method == "PUT"


def test_older_states_are_recognised_whatever_their_form():
    """``last_updated`` as sent (string) or stored (datetime) compares by time."""
    assert is_older("2026-11-22T09:59:59Z", T0)
    assert is_older(T0 - timedelta(seconds=1), T0)
    assert not is_older("2026-11-22T10:00:00Z", T0)
    assert not is_older(T0, None)


def test_an_evse_status_patch_carries_status_and_last_updated_only():
    """mod_locations: a simple status update."""
    evse = {"uid": "E", "status": "CHARGING", "last_updated": "t", "connectors": []}
    assert evse_patch(evse) == {"status": "CHARGING", "last_updated": "t"}


def test_receiver_urls_escape_each_segment():
    """Ids are CiStrings: spaces, slashes and the like cannot change the path."""
    url = object_url("https://emsp.example/ocpi/2.2.1/locations/", "NL", "CEG", "a b/c")
    assert url == "https://emsp.example/ocpi/2.2.1/locations/NL/CEG/a%20b%2Fc"


def test_equal_documents_have_equal_digests():
    """Key order does not matter; content does."""
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})


@given(
    failures=st.integers(min_value=0, max_value=500),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_doubles_up_to_its_cap_and_keeps_at_least_half(failures, jitter):
    """Between half and all of initial x 2^(n-1), never above the cap."""
    delay = retry_delay(failures, initial_s=1.0, max_s=300.0, jitter=jitter)
    base = min(300.0, 2.0 ** (max(failures, 1) - 1))

    assert base / 2 <= delay <= base
    assert delay <= 300.0


# --- the Location catalogue --------------------------------------------------------------


def snapshot(key: str, doc: Any, parent: str | None = None, removed: bool = True):
    return ConfigSnapshot(
        key=key,
        parent=parent,
        doc=doc.model_dump_json(),
        changed_at=T0,
        removed_at=T0 if removed else None,
    )


def test_evses_and_locations_that_left_the_configuration_stay_as_removed():
    """Never deleted: a removed EVSE stays in its Location, a removed Location stays too."""
    loc = SETTINGS.locations[0]
    gone_evse, kept = loc.evses[1], loc.evses[:1]
    gone_loc = loc.model_copy(update={"id": "LOC-OLD", "evses": ()})
    old_evse = loc.evses[2].model_copy(update={"uid": "OLD-1"})
    configured = (loc.model_copy(update={"evses": kept}),)
    snapshots = [
        snapshot(f"evse:{gone_evse.uid}", gone_evse, parent=loc.id),
        snapshot("location:LOC-OLD", gone_loc),
        snapshot("evse:OLD-1", old_evse, parent="LOC-OLD"),
        snapshot(f"location:{loc.id}", loc.model_copy(update={"evses": ()})),  # still here
        snapshot(f"evse:{kept[0].uid}", kept[0], parent=loc.id, removed=False),
        snapshot("tariff:OLD", SETTINGS.tariffs[0]),
        snapshot("evse:ORPHAN", old_evse),  # no parent known: cannot be placed
    ]

    current, old = published_locations(configured, snapshots)

    assert [(e.uid, e.lifecycle) for e in current.evses] == [
        (kept[0].uid, "active"),
        (gone_evse.uid, "removed"),
    ]
    assert old.id == "LOC-OLD"
    assert [(e.uid, e.lifecycle) for e in old.evses] == [("OLD-1", "removed")]


def test_a_catalogue_without_removals_is_the_configuration():
    """Nothing left the file: the configured Locations, unchanged and in order."""
    assert published_locations(SETTINGS.locations, []) == SETTINGS.locations


def test_an_active_session_ended_is_sealed_the_same():
    """The seal depends only on where the transaction started, not on how it ended."""
    first = seal_site(a_transaction(), SETTINGS, configured_at=CONFIGURED)
    last = seal_site(
        replace(a_transaction(), status=TransactionStatus.COMPLETED),
        SETTINGS,
        configured_at=CONFIGURED,
    )
    assert first == last
