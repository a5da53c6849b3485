"""Builders for the remote-control tests: a site whose EVSEs accept commands, and OCPI bodies."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.remote import PartnerToken, RemoteCommand, RemoteKind, Reservation
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import AuthToken, TokenKind, Transaction
from tests.builders import T0, shipped_config

#: Every EVSE of the test site can do everything the Commands and ChargingProfiles need.
CAPABLE = [
    "RFID_READER",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "UNLOCK_CAPABLE",
    "CHARGING_PROFILE_CAPABLE",
]
UID = "04A1B2C3D4"  # an RFID uid the partner DE/EMS owns
LONG_UID = "DEEMS0123456789ABCDEFGHIJ"  # 25 characters: 1.6 chargers see the first 20


def remote_locations() -> list[dict[str, Any]]:
    """The shipped site (LOC-001: AC-0001 1.6 with two EVSEs, DC-0001 2.0.1) made capable,
    plus LOC-002 (one more AC-0001 connector and a removed EVSE) and an unpublished one."""
    raw = shipped_config()
    loc = copy.deepcopy(raw["locations"][0])
    for evse in loc["evses"]:
        evse["capabilities"] = list(CAPABLE)
    connector = copy.deepcopy(loc["evses"][0]["connectors"][0])
    second = {
        **{k: v for k, v in loc.items() if k not in ("evses", "id", "name")},
        "id": "LOC-002",
        "evses": [
            {
                "uid": "AC-0001-3",
                "charger": "AC-0001",
                "capabilities": list(CAPABLE),
                "connectors": [{**connector, "ocpp_connector_id": 3}],
            },
            {
                "uid": "AC-0001-4",
                "charger": "AC-0001",
                "lifecycle": "removed",
                "capabilities": list(CAPABLE),
                "connectors": [{**connector, "ocpp_connector_id": 4}],
            },
            {
                "uid": "AC-0001-5",
                "charger": "AC-0001",
                "capabilities": ["RFID_READER"],
                "connectors": [{**connector, "ocpp_connector_id": 5}],
            },
        ],
    }
    private = {
        **{k: v for k, v in loc.items() if k not in ("evses", "id", "name")},
        "id": "LOC-PRIV",
        "publish": False,
        "evses": [
            {
                "uid": "AC-0001-6",
                "charger": "AC-0001",
                "capabilities": list(CAPABLE),
                "connectors": [{**connector, "ocpp_connector_id": 6}],
            }
        ],
    }
    return [loc, second, private]


def ocpi_token(uid: str = UID, **overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": "DE-EMS-C12345678-X",
        "issuer": "Test eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-11-22T09:00:00Z",
        **overrides,
    }


def partner_token(uid: str = UID, **overrides: Any) -> PartnerToken:
    fields: dict[str, Any] = {
        "uid": uid,
        "type": "RFID",
        "contract_id": "DE-EMS-C12345678-X",
        "country_code": "DE",
        "party_id": "EMS",
        **overrides,
    }
    return PartnerToken(**fields)


def a_command(
    kind: RemoteKind = RemoteKind.START_SESSION, *, id: int = 1, **overrides: Any
) -> RemoteCommand:
    fields: dict[str, Any] = {
        "id": id,
        "kind": kind,
        "partner": "emsp",
        "country_code": "DE",
        "party_id": "EMS",
        "response_url": "https://emsp.example/ocpi/emsp/2.2.1/commands/START_SESSION/1",
        "charger_id": ChargerId("AC-0001"),
        "evse_uid": EvseUid("AC-0001-1"),
        "connector": ConnectorRef(evse=None, connector=1),
        "token": partner_token(),
        "authorization_reference": "AUTH-1",
        "received_at": T0,
        "deadline": T0 + timedelta(seconds=40),
        **overrides,
    }
    return RemoteCommand(**fields)


def a_reservation(*, id: int = 1, **overrides: Any) -> Reservation:
    fields: dict[str, Any] = {
        "id": id,
        "partner": "emsp",
        "country_code": "DE",
        "party_id": "EMS",
        "reservation_id": "R-1",
        "location_id": "LOC-001",
        "charger_id": ChargerId("AC-0001"),
        "evse_uid": EvseUid("AC-0001-1"),
        "connector": ConnectorRef(evse=None, connector=1),
        "token": partner_token(),
        "authorization_reference": "RES-1",
        "expires_at": T0 + timedelta(minutes=30),
        "received_at": T0,
        "response_url": "https://emsp.example/ocpi/emsp/2.2.1/commands/RESERVE_NOW/1",
        **overrides,
    }
    return Reservation(**fields)


def a_transaction(*, at: datetime = T0, **overrides: Any) -> Transaction:
    fields: dict[str, Any] = {
        "charger_id": ChargerId("AC-0001"),
        "tx_id": "7",
        "evse_uid": EvseUid("AC-0001-1"),
        "connector": ConnectorRef(evse=None, connector=1),
        "token": AuthToken(value=UID, kind=TokenKind.RFID),
        "started_at": at,
        "received_at": at,
        "meter_start_wh": Decimal(0),
        **overrides,
    }
    return Transaction(**fields)
