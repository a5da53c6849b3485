"""Adapter: domain objects <-> the JSON documents stored in the database.

Decimals are stored as strings (exact), datetimes as ISO 8601 with offset. Meter
samples of open transactions live in their own table and are not part of the charger
document; ``load_state`` takes them as an argument.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from itertools import compress
from json.encoder import encode_basestring_ascii
from types import MappingProxyType
from typing import Any, overload

from gateway.domain.ids import ChargerId, EvseUid
from gateway.domain.meter import (
    EnergyFlag,
    EnergyFlagCode,
    Measurand,
    MeterLocation,
    MeterProblem,
    MeterSample,
    Reading,
    ReadingContext,
    SignedReading,
)
from gateway.domain.state import BootInfo, ChargerState, ConnectorReport, PublishedEvse
from gateway.domain.status import ConnectorStatus, EvseStatus
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import (
    AuthToken,
    TokenKind,
    Transaction,
    TransactionStatus,
    TxFlag,
)

FORMAT = 1


#: Built once: ``json.dumps`` with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def _one_shot() -> Callable[[Any], str]:
    """``_ENCODER.encode``, minus building a C encoder on every call (half its cost).

    Documents never refer to themselves, so there is nothing for a circularity check
    to find; without the C encoder (another Python), ``encode`` itself.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return _ENCODER.encode
    iterencode = make(
        None, _ENCODER.default, encode_basestring_ascii, None, ":", ",", True, False, True
    )

    def encode(doc: Any) -> str:
        return "".join(iterencode(doc, 0))

    return encode


dumps: Callable[[Any], str] = _one_shot()


#: How ``dumps`` writes a string (quoted, escaped, ASCII): for documents written by hand.
_quote = encode_basestring_ascii


def _quote_opt(text: str | None) -> str:
    return "null" if text is None else _quote(text)


def _quote_ts(dt: datetime) -> str:
    return f'"{iso_text(dt)}"'


def iso_text(dt: datetime) -> str:
    """``dt.isoformat()``; UTC times are looked up (see ``utc_text``)."""
    if dt.tzinfo is not UTC:
        return dt.isoformat()
    text = _ISO_TEXTS.get(dt)
    if text is None:
        if len(_ISO_TEXTS) >= _TEXTS_MAX:
            _ISO_TEXTS.clear()
        text = _ISO_TEXTS[dt] = dt.isoformat()
    return text


def _ts(dt: datetime | None) -> str | None:
    return None if dt is None else iso_text(dt)


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _must_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _num(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _ref_out(ref: ConnectorRef | None) -> dict[str, Any] | None:
    return None if ref is None else {"evse": ref.evse, "connector": ref.connector}


def _ref_in(doc: Mapping[str, Any] | None) -> ConnectorRef | None:
    return (
        None if doc is None else ConnectorRef(evse=doc.get("evse"), connector=int(doc["connector"]))
    )


# --- meter data -------------------------------------------------------------------


def sample_out(s: MeterSample) -> dict[str, Any]:
    at = s.at
    at_text = _ts(at)
    # Enum members are strings: JSON writes their values. Readings share the sample's
    # time almost always, so it is formatted once.
    return {
        "at": at_text,
        "clock_suspect": s.clock_suspect,
        "readings": [
            {
                "measurand": r.measurand,
                "value": str(r.value),
                "unit": r.unit,
                "at": at_text if r.at is at else _ts(r.at),
                "context": r.context,
                "location": r.location,
                "phase": r.phase,
                "from_phases": r.from_phases,
                "other_measurand": r.other_measurand,
            }
            for r in s.readings
        ],
        "signed": [
            {
                "data": g.data,
                "at": _ts(g.at),
                "measurand": g.measurand.value,
                "context": g.context.value,
                "location": g.location.value,
                "phase": g.phase,
                "signing_method": g.signing_method,
                "encoding_method": g.encoding_method,
                "public_key": g.public_key,
            }
            for g in s.signed
        ],
    }


#: The middle of a reading's document (``"context"`` to ``"unit"``) by what it holds: a
#: charger sends the same few kinds of reading over and over. Bounded: cleared when full.
_SHAPES: dict[tuple[object, ...], str] = {}
_SHAPES_MAX = 512


def _reading_shape(r: Reading) -> str:
    key = (r.measurand, r.context, r.location, r.phase, r.unit, r.other_measurand, r.from_phases)
    text = _SHAPES.get(key)
    if text is None:
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        text = _SHAPES[key] = (
            f'"context":{_quote(r.context)},'
            f'"from_phases":{"true" if r.from_phases else "false"},'
            f'"location":{_quote(r.location)},'
            f'"measurand":{_quote(r.measurand)},'
            f'"other_measurand":{_quote_opt(r.other_measurand)},'
            f'"phase":{_quote_opt(r.phase)},'
            f'"unit":{_quote(r.unit)},'
        )
    return text


def sample_text(s: MeterSample, at_iso: str | None = None) -> str:
    """``dumps(sample_out(s))``, written out directly (``at_iso``: ``s.at.isoformat()``).

    Meter samples are most of the rows the commit path writes; building their dicts and
    sorting the keys on every sample costs several times this. Keys are written in the
    sorted order ``dumps`` uses, and a test holds both to the same text.
    """
    at = s.at
    at_text = f'"{at.isoformat() if at_iso is None else at_iso}"'
    shape = _SHAPES.get  # looked up inline: a call per reading costs more than the lookup
    readings = ",".join(
        [
            f'{{"at":{at_text if r.at is at else _quote_ts(r.at)},{middle}"value":"{r.value!s}"}}'
            for r in s.readings
            for middle in [
                shape(
                    (
                        r.measurand,
                        r.context,
                        r.location,
                        r.phase,
                        r.unit,
                        r.other_measurand,
                        r.from_phases,
                    )
                )
                or _reading_shape(r)
            ]
        ]
    )
    signed = ",".join(
        [
            f'{{"at":{_quote_ts(g.at)},'
            f'"context":{_quote(g.context)},'
            f'"data":{_quote(g.data)},'
            f'"encoding_method":{_quote_opt(g.encoding_method)},'
            f'"location":{_quote(g.location)},'
            f'"measurand":{_quote(g.measurand)},'
            f'"phase":{_quote_opt(g.phase)},'
            f'"public_key":{_quote_opt(g.public_key)},'
            f'"signing_method":{_quote_opt(g.signing_method)}}}'
            for g in s.signed
        ]
    )
    clock = "true" if s.clock_suspect else "false"
    return f'{{"at":{at_text},"clock_suspect":{clock},"readings":[{readings}],"signed":[{signed}]}}'


def sample_in(doc: Mapping[str, Any]) -> MeterSample:
    return MeterSample(
        at=_must_dt(doc["at"]),
        clock_suspect=bool(doc.get("clock_suspect", False)),
        readings=tuple(
            Reading(
                measurand=Measurand(r["measurand"]),
                value=Decimal(r["value"]),
                unit=r["unit"],
                at=_must_dt(r["at"]),
                context=ReadingContext(r["context"]),
                location=MeterLocation(r["location"]),
                phase=r.get("phase"),
                from_phases=bool(r.get("from_phases", False)),
                other_measurand=r.get("other_measurand"),
            )
            for r in doc.get("readings", ())
        ),
        signed=tuple(
            SignedReading(
                data=g["data"],
                at=_must_dt(g["at"]),
                measurand=Measurand(g["measurand"]),
                context=ReadingContext(g["context"]),
                location=MeterLocation(g["location"]),
                phase=g.get("phase"),
                signing_method=g.get("signing_method"),
                encoding_method=g.get("encoding_method"),
                public_key=g.get("public_key"),
            )
            for g in doc.get("signed", ())
        ),
    )


def problem_out(p: MeterProblem) -> dict[str, Any]:
    return {
        "code": p.code.value,
        "text": p.text,
        "raw": p.raw,
        "path": p.path,
        "dropped": p.dropped,
    }


# --- transactions -----------------------------------------------------------------


def transaction_out(tx: Transaction) -> dict[str, Any]:
    """Everything but the samples, which are rows of their own."""
    return {
        "charger_id": tx.charger_id,
        "tx_id": tx.tx_id,
        "evse_uid": tx.evse_uid,
        "connector": _ref_out(tx.connector),
        "token": None
        if tx.token is None
        else {"value": tx.token.value, "kind": tx.token.kind.value},
        "status": tx.status.value,
        "started_at": _ts(tx.started_at),
        "received_at": _ts(tx.received_at),
        "meter_start_wh": _dec(tx.meter_start_wh),
        "meter_stop_wh": _dec(tx.meter_stop_wh),
        "stopped_at": _ts(tx.stopped_at),
        "stop_reason": tx.stop_reason,
        "energy_wh": str(tx.energy_wh),
        "start_key": tx.start_key,
        "remote_start_id": tx.remote_start_id,
        "reservation_id": tx.reservation_id,
        "auth_source": tx.auth_source,
        "auth_reference": tx.auth_reference,
        "seen_seq": sorted(tx.seen_seq),
        "flags": sorted(f.value for f in tx.flags),
        "energy_flags": [
            {
                "code": f.code.value,
                "text": f.text,
                "at": _ts(f.at),
                "register_wh": _dec(f.register_wh),
            }
            for f in tx.energy_flags
        ],
    }


def transaction_in(doc: Mapping[str, Any], samples: tuple[MeterSample, ...] = ()) -> Transaction:
    token = doc.get("token")
    return Transaction(
        charger_id=ChargerId(doc["charger_id"]),
        tx_id=doc["tx_id"],
        evse_uid=None if doc.get("evse_uid") is None else EvseUid(doc["evse_uid"]),
        connector=_ref_in(doc.get("connector")),
        token=None
        if token is None
        else AuthToken(value=token["value"], kind=TokenKind(token["kind"])),
        status=TransactionStatus(doc["status"]),
        started_at=_must_dt(doc["started_at"]),
        received_at=_must_dt(doc["received_at"]),
        meter_start_wh=_num(doc.get("meter_start_wh")),
        meter_stop_wh=_num(doc.get("meter_stop_wh")),
        stopped_at=_dt(doc.get("stopped_at")),
        stop_reason=doc.get("stop_reason"),
        energy_wh=Decimal(doc.get("energy_wh", "0")),
        start_key=doc.get("start_key"),
        remote_start_id=doc.get("remote_start_id"),
        reservation_id=doc.get("reservation_id"),
        auth_source=doc.get("auth_source"),
        auth_reference=doc.get("auth_reference"),
        seen_seq=frozenset(int(n) for n in doc.get("seen_seq", ())),
        flags=frozenset(TxFlag(f) for f in doc.get("flags", ())),
        energy_flags=tuple(
            EnergyFlag(
                code=EnergyFlagCode(f["code"]),
                text=f["text"],
                at=_dt(f.get("at")),
                register_wh=_num(f.get("register_wh")),
            )
            for f in doc.get("energy_flags", ())
        ),
        samples=samples,
    )


# --- charger state ----------------------------------------------------------------


def _report_out(r: ConnectorReport) -> dict[str, Any]:
    return {"status": r.status.value, "error_code": r.error_code, "info": r.info, "at": _ts(r.at)}


def _report_in(d: Mapping[str, Any]) -> ConnectorReport:
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
        "transactions": [transaction_out(tx) for tx in state.transactions.values()],
        "recently_ended": list(state.recently_ended),
    }
    return dumps(doc)


def _boot_text(boot: BootInfo | None) -> str:
    if boot is None:
        return "null"
    return dumps(
        {
            "vendor": boot.vendor,
            "model": boot.model,
            "serial_number": boot.serial_number,
            "firmware_version": boot.firmware_version,
            "at": _ts(boot.at),
            "accepted": boot.accepted,
        }
    )


def _int_text(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _connectors_text(connectors: Mapping[ConnectorRef, ConnectorReport]) -> str:
    # Sorted keys: at, connector, error_code, evse, info, status.
    return (
        "["
        + ",".join(
            [
                f'{{"at":{_quote_ts(r.at)},"connector":{_int_text(ref.connector)},'
                f'"error_code":{_quote_opt(r.error_code)},"evse":{_int_text(ref.evse)},'
                f'"info":{_quote_opt(r.info)},"status":{_quote(r.status)}}}'
                for ref, r in connectors.items()
            ]
        )
        + "]"
    )


def _evses_text(evses: Mapping[EvseUid, PublishedEvse]) -> str:
    # ``dumps`` sorts the keys of every object, the EVSE uids too.
    return (
        "{"
        + ",".join(
            [
                f'{_quote(uid)}:{{"last_updated":{_quote_ts(p.last_updated)},'
                f'"status":{_quote(p.status)}}}'
                for uid, p in sorted(evses.items(), key=_first)
            ]
        )
        + "}"
    )


def _first(item: tuple[str, object]) -> str:
    return item[0]


def _decimal_text(value: Decimal | None) -> str:
    return "null" if value is None else f'"{value!s}"'


def _time_text(value: datetime | None) -> str:
    return "null" if value is None else _quote_ts(value)


def _int_list_text(numbers: frozenset[int]) -> str:
    return "[" + ",".join([str(int(n)) for n in sorted(numbers)]) + "]"


def _flags_text(flags: frozenset[TxFlag]) -> str:
    return "[" + ",".join([_quote(f.value) for f in sorted(flags)]) + "]"


def _energy_flags_text(flags: tuple[EnergyFlag, ...]) -> str:
    if not flags:
        return "[]"
    return dumps(
        [
            {
                "code": f.code.value,
                "text": f.text,
                "at": _ts(f.at),
                "register_wh": _dec(f.register_wh),
            }
            for f in flags
        ]
    )


def _ref_text(ref: ConnectorRef | None) -> str:
    if ref is None:
        return "null"
    return f'{{"connector":{_int_text(ref.connector)},"evse":{_int_text(ref.evse)}}}'


def _token_text(token: AuthToken | None) -> str:
    if token is None:
        return "null"
    return f'{{"kind":{_quote(token.kind.value)},"value":{_quote(token.value)}}}'


#: How each field of ``transaction_out`` is written (the keys are the field names).
_TX_FIELD_TEXT: dict[str, Callable[[Any], str]] = {
    "auth_reference": _quote_opt,
    "auth_source": _quote_opt,
    "charger_id": _quote,
    "connector": _ref_text,
    "energy_flags": _energy_flags_text,
    "energy_wh": _decimal_text,
    "evse_uid": _quote_opt,
    "flags": _flags_text,
    "meter_start_wh": _decimal_text,
    "meter_stop_wh": _decimal_text,
    "received_at": _time_text,
    "remote_start_id": _int_text,
    "reservation_id": _int_text,
    "seen_seq": _int_list_text,
    "start_key": _quote_opt,
    "started_at": _time_text,
    "status": lambda status: _quote(status.value),
    "stop_reason": _quote_opt,
    "stopped_at": _time_text,
    "token": _token_text,
    "tx_id": _quote,
}
_TX_KEYS = tuple(sorted(_TX_FIELD_TEXT))
_TX_WRITERS = tuple((f'"{key}":', _TX_FIELD_TEXT[key]) for key in _TX_KEYS)
_TX_VALUES = operator.attrgetter(*_TX_KEYS)
_TX_POSITIONS = range(len(_TX_KEYS))


class _TxText:
    """A transaction's document as last written, field by field."""

    __slots__ = ("parts", "text", "tx", "values")

    def __init__(self, tx: Transaction, values: tuple[object, ...], parts: list[str]) -> None:
        self.tx = tx
        self.values = values
        self.parts = parts
        self.text = "{" + ",".join(parts) + "}"


def _tx_text(known: _TxText | None, tx: Transaction) -> _TxText:
    """``tx``'s document, re-encoding only the fields that are not the objects last written.

    A meter value only adds samples (the text stays), a 2.0.1 event usually changes one
    or two fields (``seen_seq``, ``energy_wh``).
    """
    if known is not None and known.tx is tx:
        return known
    values: tuple[object, ...] = _TX_VALUES(tx)
    if known is None:
        parts = [
            name + write(value) for (name, write), value in zip(_TX_WRITERS, values, strict=True)
        ]
        return _TxText(tx, values, parts)
    before = known.values
    if all(map(operator.is_, values, before)):
        known.tx = tx
        return known
    parts = list(known.parts)
    # The changed fields' positions, found in C: a Python loop over every field costs
    # more than re-encoding the one or two that changed.
    for i in compress(_TX_POSITIONS, map(operator.is_not, values, before)):
        name, write = _TX_WRITERS[i]
        parts[i] = name + write(values[i])
    return _TxText(tx, values, parts)


class _Written:
    """What was last written for one charger, and the objects it was written from."""

    __slots__ = (
        "connectors",
        "connectors_text",
        "evses",
        "evses_text",
        "head",
        "rest",
        "tail",
        "transactions",
        "transactions_text",
    )

    def __init__(self) -> None:
        self.rest: tuple[object, ...] = ()
        self.head = self.tail = ""
        self.connectors: object = None
        self.evses: object = None
        self.transactions: object = None
        self.connectors_text = self.evses_text = self.transactions_text = ""


class DocumentCache:
    """Charger and transaction documents for the commit path, re-encoding only what changed.

    Nearly every message rewrites its charger's document (and a transaction event its
    transaction's), while most of either is what was written last time. States,
    transactions and their parts are immutable, so a part that is the very object last
    written has the very text last written; anything else is encoded afresh. The texts
    are ``dump_state``'s and ``dumps(transaction_out(tx))``'s, byte for byte (tested):
    the charger document is assembled in the sorted key order ``dumps`` writes.
    Only the latest parts of each charger are kept.
    """

    def __init__(self) -> None:
        self._written: dict[str, _Written] = {}
        self._transactions: dict[str, dict[str, _TxText]] = {}

    def transaction(self, tx: Transaction) -> str:
        """``dumps(transaction_out(tx))``."""
        known = self._transactions.setdefault(tx.charger_id, {})
        entry = _tx_text(known.get(tx.tx_id), tx)
        if tx.ended:
            known.pop(tx.tx_id, None)
        else:
            known[tx.tx_id] = entry
        return entry.text

    def state(self, state: ChargerState) -> str:
        """``dump_state(state)``."""
        written = self._written.get(state.charger_id)
        if written is None:
            written = self._written[state.charger_id] = _Written()
        rest = (
            state.boot,
            state.connected,
            state.offline,
            state.protocol,
            state.recently_ended,
            state.since,
            state.station,
        )
        if len(rest) != len(written.rest) or not all(map(operator.is_, rest, written.rest)):
            written.rest = rest
            written.head = (
                f'{{"boot":{_boot_text(state.boot)},'
                f'"connected":{"true" if state.connected else "false"},"connectors":'
            )
            since = "null" if state.since is None else _quote_ts(state.since)
            station = "null" if state.station is None else dumps(_report_out(state.station))
            written.tail = (
                f',"format":{FORMAT},'
                f'"offline":{"true" if state.offline else "false"},'
                f'"protocol":{_quote_opt(state.protocol)},'
                f'"recently_ended":{dumps(list(state.recently_ended))},'
                f'"since":{since},"station":{station},"transactions":['
            )
        if written.connectors is not state.connectors:
            written.connectors = state.connectors
            written.connectors_text = _connectors_text(state.connectors)
        if written.evses is not state.evses:
            written.evses = state.evses
            written.evses_text = _evses_text(state.evses)
        if written.transactions is not state.transactions:
            # The same mapping holds the same immutable transactions: the same texts.
            known = self._transactions.get(state.charger_id, {})
            current = {
                tx_id: _tx_text(known.get(tx_id), tx) for tx_id, tx in state.transactions.items()
            }
            self._transactions[state.charger_id] = current
            written.transactions = state.transactions
            written.transactions_text = ",".join([entry.text for entry in current.values()])
        return (
            f"{written.head}{written.connectors_text},"
            f'"evses":{written.evses_text}{written.tail}{written.transactions_text}]}}'
        )


def load_state(
    charger_id: str,
    text: str,
    samples: Mapping[str, tuple[MeterSample, ...]] | None = None,
) -> ChargerState:
    """``samples`` maps an open transaction's id to its stored samples, oldest first."""
    doc = json.loads(text)
    if doc.get("format") != FORMAT:
        raise ValueError(f"charger {charger_id!r}: unknown state format {doc.get('format')!r}")
    boot = doc.get("boot")
    samples = samples or {}
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
        transactions=MappingProxyType(
            {
                t["tx_id"]: transaction_in(t, samples.get(t["tx_id"], ()))
                for t in doc.get("transactions", [])
            }
        ),
        recently_ended=tuple(doc.get("recently_ended", ())),
    )


def event_out(event: object) -> dict[str, Any]:
    """A parked transaction event, as far as reconciliation and review need it."""
    doc: dict[str, Any] = {"type": type(event).__name__}
    for name in (
        "tx_id",
        "at",
        "started_at",
        "stopped_at",
        "meter_start_wh",
        "meter_stop_wh",
        "reason",
        "seq_no",
        "connector",
        "start_key",
    ):
        if hasattr(event, name):
            value = getattr(event, name)
            if isinstance(value, datetime):
                value = _ts(value)
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, ConnectorRef):
                value = _ref_out(value)
            doc[name] = value
    token = getattr(event, "token", None)
    if isinstance(token, AuthToken):
        doc["token"] = {"value": token.value, "kind": token.kind.value}
    samples = getattr(event, "samples", ())
    doc["samples"] = [sample_out(s) for s in samples]
    return doc


# --- times as the SQL columns store them ---------------------------------------------


@overload
def utc_text(value: datetime) -> str: ...


@overload
def utc_text(value: None) -> None: ...


def utc_text(value: datetime | None) -> str | None:
    """A timestamp as the SQLite column stores it: UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``.

    The same text SQLAlchemy's ``UtcDateTime`` writes, so either path reads both.
    """
    if value is None:
        return None
    if value.tzinfo is UTC:
        # Nearly every time is UTC already, and one change stores its time in several
        # rows (its charger's, its transaction's, the outbox's): formatting a time costs
        # more than looking it up.
        text = _UTC_TEXTS.get(value)
        if text is None:
            if len(_UTC_TEXTS) >= _TEXTS_MAX:
                _UTC_TEXTS.clear()
            text = _UTC_TEXTS[value] = value.isoformat(" ", "microseconds")[:26]
        return text
    if value.tzinfo is None:
        raise ValueError("naive datetime reached the store")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


#: Recent UTC times and their texts (only UTC ones: an equal instant in another offset
#: is written differently). Bounded: cleared when full.
_UTC_TEXTS: dict[datetime, str] = {}
_ISO_TEXTS: dict[datetime, str] = {}
_TEXTS_MAX = 4096


def utc_text_of(value: datetime, iso: str) -> str:
    """``utc_text(value)``, cut from ``iso`` (``value.isoformat()``) when ``value`` is UTC."""
    if value.tzinfo is not UTC:
        return utc_text(value)
    if value.microsecond:
        return f"{iso[:10]} {iso[11:26]}"
    return f"{iso[:10]} {iso[11:19]}.000000"
