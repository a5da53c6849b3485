"""Adapter: ChargerState <-> the JSON text stored in the ``charger`` table."""

from __future__ import annotations

import json
from datetime import datetime
from types import MappingProxyType
from typing import Any

from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.state import BootInfo, ChargerState, ConnectorReport, PublishedEvse
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.domain.topology import ConnectorRef

FORMAT = 1


def _ts(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _must_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _report_out(r: ConnectorReport) -> dict[str, Any]:
    return {"status": r.status.value, "error_code": r.error_code, "info": r.info, "at": _ts(r.at)}


def _report_in(d: dict[str, Any]) -> ConnectorReport:
    return ConnectorReport(
        status=ConnectorStatus(d["status"]),
        error_code=d.get("error_code"),
        info=d.get("info"),
        at=_must_dt(d["at"]),
    )


def dump_state(state: ChargerState) -> str:
    boot = state.boot
    doc: dict[str, Any] = {
        "format": FORMAT,
        "connected": state.connected,
        "offline": state.offline,
        "since": _ts(state.since),
        "protocol": state.protocol,
        "boot": None
        if boot is None
        else {
            "vendor": boot.vendor,
            "model": boot.model,
            "serial_number": boot.serial_number,
            "firmware_version": boot.firmware_version,
            "at": _ts(boot.at),
            "accepted": boot.accepted,
        },
        "station": None if state.station is None else _report_out(state.station),
        "connectors": [
            {"evse": ref.evse, "connector": ref.connector, **_report_out(r)}
            for ref, r in state.connectors.items()
        ],
        "evses": {
            uid: {"status": p.status.value, "last_updated": _ts(p.last_updated)}
            for uid, p in state.evses.items()
        },
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def load_state(charger_id: str, text: str) -> ChargerState:
    doc = json.loads(text)
    if doc.get("format") != FORMAT:
        raise ValueError(f"charger {charger_id!r}: unknown state format {doc.get('format')!r}")
    boot = doc.get("boot")
    return ChargerState(
        charger_id=ChargerId(charger_id),
        connected=bool(doc["connected"]),
        offline=bool(doc["offline"]),
        since=_dt(doc.get("since")),
        protocol=doc.get("protocol"),
        boot=None
        if boot is None
        else BootInfo(
            vendor=boot["vendor"],
            model=boot["model"],
            serial_number=boot.get("serial_number"),
            firmware_version=boot.get("firmware_version"),
            at=_must_dt(boot["at"]),
            accepted=bool(boot.get("accepted", True)),
        ),
        station=None if doc.get("station") is None else _report_in(doc["station"]),
        connectors=MappingProxyType(
            {
                ConnectorRef(evse=c.get("evse"), connector=int(c["connector"])): _report_in(c)
                for c in doc.get("connectors", [])
            }
        ),
        evses=MappingProxyType(
            {
                EvseUid(uid): PublishedEvse(
                    status=EvseStatus(p["status"]), last_updated=_must_dt(p["last_updated"])
                )
                for uid, p in doc.get("evses", {}).items()
            }
        ),
    )
