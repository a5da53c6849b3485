"""Pure: sealing, credit CDRs, what to send a partner, and the published Location catalogue.

- A transaction's *seal* (DESIGN.md §4): the Location, EVSE, connector and tariff that
  applied at its start, as a JSON document kept with the transaction; the CDR is built
  from it, never from the configuration of the day.
- A Session is PUT once, then PATCHed: a PATCH carries the fields that changed, always
  ``last_updated``, and only *new* charging periods (a receiver appends them,
  mod_sessions §PATCH). A period still growing (the last one of an ACTIVE session) is
  held back until it is closed; when periods already sent changed, the Session is PUT
  whole again.
- A *pending session* (DESIGN.md §4) is the Session a partner's START_SESSION or
  RESERVE_NOW opens before any transaction exists: sealed like a transaction (the EVSE
  and connector the partner named, or the EVSE's first connector; the tariff that would
  apply), with the command's token (auth method COMMAND, its
  ``authorization_reference``), ``kwh`` 0, ``start_date_time`` when the command was
  received, and no cost. Its id is ``<charger>-S<command id>`` (START_SESSION) or
  ``<charger>-R<reservation id>`` (RESERVE_NOW); the transaction that answers it takes
  that id (``choose_claim``: the START_SESSION first, as for the session link, then the
  reservation). A START_SESSION or RESERVE_NOW that names no EVSE opens none: a
  Session needs an EVSE and a connector.
- A CDR is never changed: a correction is a credit CDR (mod_cdrs §Credit CDRs).
- EVSEs that left the configuration stay published as REMOVED (mod_locations: objects
  are never deleted).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from gateway.config import (
    ConnectorSettings,
    EvseSettings,
    LocationSettings,
    OperatorSettings,
    Settings,
    TariffSettings,
)
from gateway.domain.delivery import (
    Claim,
    ConfigSnapshot,
    PendingKind,
    PendingSession,
    PendingStatus,
)
from gateway.domain.remote import RemoteCommand, Reservation
from gateway.domain.topology import ConnectorRef
from gateway.domain.transactions import Transaction
from ocpi_bridge.models.cdrs import AuthMethod, Cdr
from ocpi_bridge.models.common import Price, parse_datetime
from ocpi_bridge.models.sessions import Session, SessionStatus
from ocpi_bridge.models.tariffs import (
    PriceComponent,
    Tariff,
    TariffDimensionType,
    TariffElement,
)
from ocpi_bridge.models.tokens import TokenType
from ocpi_bridge.translate.commands import match_reservation, match_start
from ocpi_bridge.translate.sessions import (
    Site,
    TokenIdentity,
    connector_of,
    to_ocpi_cdr,
    to_ocpi_session,
)
from ocpi_bridge.translate.tariffs import to_ocpi_tariff

CREDIT_SUFFIX = "-C"
#: A site without a tariff charges nothing; its CDRs are priced by this stand-in.
FREE_TARIFF_ID = "FREE"
FREE_CURRENCY = "EUR"


# --- the seal ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedSite:
    """Where a transaction happened and at what price, as at its start."""

    operator: OperatorSettings
    location: LocationSettings
    evse: EvseSettings
    connector_id: str
    tariff: Tariff | None

    def site(self, time_zone: tzinfo) -> Site:
        return Site(
            operator=self.operator, location=self.location, evse=self.evse, time_zone=time_zone
        )


EvseIndex = Mapping[str, tuple[LocationSettings, EvseSettings]]


def evse_index(settings: Settings) -> dict[str, tuple[LocationSettings, EvseSettings]]:
    """Each configured EVSE by its uid, with its Location (the first, were a uid repeated)."""
    index: dict[str, tuple[LocationSettings, EvseSettings]] = {}
    for loc in settings.locations:
        for evse in loc.evses:
            index.setdefault(evse.uid, (loc, evse))
    return index


def seal_site(
    tx: Transaction,
    settings: Settings,
    *,
    configured_at: Mapping[str, datetime],
    index: EvseIndex | None = None,
) -> tuple[str | None, str | None]:
    """The site document of a starting transaction, or ``None`` and the reason.

    ``index`` is `evse_index(settings)`, made once by a caller sealing many starts: a site
    of a thousand EVSEs would otherwise be searched EVSE by EVSE at each start.
    """
    if tx.evse_uid is not None:
        found = (evse_index(settings) if index is None else index).get(tx.evse_uid)
        if found is not None:
            loc, evse = found
            return _site_doc(tx, settings, loc, evse, configured_at), None
    where = "no EVSE" if tx.evse_uid is None else f"EVSE {tx.evse_uid}"
    return None, (
        f"transaction {tx.tx_id} on {where} of the configuration "
        f"(connector {_connector_label(tx)}): no Session or CDR"
    )


def _connector_label(tx: Transaction) -> str:
    if tx.connector is None:
        return "unknown"
    if tx.connector.evse is None:
        return str(tx.connector.connector)
    return f"{tx.connector.evse}/{tx.connector.connector}"


def _site_doc(
    tx: Transaction,
    settings: Settings,
    loc: LocationSettings,
    evse: EvseSettings,
    configured_at: Mapping[str, datetime],
) -> str:
    return _doc_of(settings, loc, evse, connector_of(tx, evse), configured_at, tx.started_at)


def _doc_of(
    settings: Settings,
    loc: LocationSettings,
    evse: EvseSettings,
    connector: ConnectorSettings,
    configured_at: Mapping[str, datetime],
    at: datetime,
) -> str:
    tariff = choose_tariff(connector.tariff_ids, settings.tariffs)
    ocpi_tariff = None
    if tariff is not None:
        ocpi_tariff = to_ocpi_tariff(
            tariff,
            operator=settings.operator,
            last_updated=configured_at.get(f"tariff:{tariff.id}", at),
        ).model_dump(mode="json", exclude_none=True)
    doc = {
        "operator": settings.operator.model_dump(mode="json"),
        "location": loc.model_dump(mode="json", exclude={"evses"}),
        "evse": evse.model_dump(mode="json"),
        "connector_id": connector.id,
        "tariff": ocpi_tariff,
    }
    return canonical(doc)


def choose_tariff(
    tariff_ids: Sequence[str], tariffs: Sequence[TariffSettings]
) -> TariffSettings | None:
    """The tariff a driver with a token pays: the connector's regular one, else its first."""
    listed = [t for tid in tariff_ids for t in tariffs if t.id == tid]
    regular = [t for t in listed if t.type in (None, "REGULAR")]
    return next(iter(regular or listed), None)


def sealed_site(doc: str) -> SealedSite:
    data = json.loads(doc)
    return SealedSite(
        operator=OperatorSettings.model_validate(data["operator"]),
        location=LocationSettings.model_validate(data["location"]),
        evse=EvseSettings.model_validate(data["evse"]),
        connector_id=data["connector_id"],
        tariff=None if data["tariff"] is None else Tariff.model_validate(data["tariff"]),
    )


def token_doc(identity: TokenIdentity) -> str:
    return canonical(
        {
            "country_code": identity.country_code,
            "party_id": identity.party_id,
            "uid": identity.uid,
            "type": identity.type.value,
            "contract_id": identity.contract_id,
            "auth_method": identity.auth_method.value,
            "authorization_reference": identity.authorization_reference,
        }
    )


def token_identity(doc: str) -> TokenIdentity:
    data = json.loads(doc)
    return TokenIdentity(
        country_code=data["country_code"],
        party_id=data["party_id"],
        uid=data["uid"],
        type=TokenType(data["type"]),
        contract_id=data["contract_id"],
        auth_method=AuthMethod(data["auth_method"]),
        authorization_reference=data["authorization_reference"],
    )


# --- pending sessions --------------------------------------------------------------------


def pending_site(
    settings: Settings,
    location: LocationSettings,
    evse: EvseSettings,
    connector: ConnectorRef | None,
    *,
    configured_at: Mapping[str, datetime],
    at: datetime,
) -> str:
    """The site document of a pending session: the EVSE and connector the partner named."""
    chosen = next(
        (
            c
            for c in evse.connectors
            if connector is not None and c.ocpp_connector_id == connector.connector
        ),
        evse.connectors[0],
    )
    return _doc_of(settings, location, evse, chosen, configured_at, at)


def pending_session_id(charger_id: str, kind: PendingKind, source_id: int) -> str:
    """The id a pending session is opened with (the store makes it unique if it is not)."""
    letter = "S" if kind is PendingKind.START else "R"
    return f"{charger_id}-{letter}{source_id}"


def to_pending_session(
    *,
    kind: PendingKind,
    source_id: int,
    charger_id: str,
    site: str,
    token: TokenIdentity,
    received_at: datetime,
) -> PendingSession:
    """The pending session a START_SESSION (or RESERVE_NOW) just recorded opens."""
    return PendingSession(
        session_id=pending_session_id(charger_id, kind, source_id),
        kind=kind,
        source_id=source_id,
        charger_id=charger_id,
        owner=(token.country_code.upper(), token.party_id.upper()),
        site=site,
        token=token_doc(token),
        status=PendingStatus.PENDING,
        started_at=received_at,
        updated_at=received_at,
    )


def pending_session_of(pending: PendingSession) -> Session:
    """A pending session as served and pushed: nothing charged yet, no cost."""
    site = sealed_site(pending.site)
    token = token_identity(pending.token)
    return Session(
        country_code=site.operator.country_code,
        party_id=site.operator.party_id,
        id=pending.session_id,
        start_date_time=pending.started_at,
        kwh=Decimal(0),
        cdr_token=token.to_cdr_token(),
        auth_method=token.auth_method,
        authorization_reference=token.authorization_reference,
        location_id=site.location.id,
        evse_uid=site.evse.uid,
        connector_id=site.connector_id,
        currency=site.tariff.currency if site.tariff is not None else FREE_CURRENCY,
        status=SessionStatus(pending.status.value),
        last_updated=pending.updated_at,
    )


def choose_claim(
    tx: Transaction, starts: Sequence[RemoteCommand], reservations: Sequence[Reservation]
) -> Claim | None:
    """The open pending session a new transaction answers, if any.

    Its START_SESSION first, else the reservation it consumes: the same matching and
    order as the session link (``ocpi_bridge.commands``).
    """
    command = match_start(tx, starts)
    if command is not None:
        return Claim(kind=PendingKind.START, source_id=command.id)
    reservation = match_reservation(tx, reservations)
    if reservation is not None:
        return Claim(kind=PendingKind.RESERVATION, source_id=reservation.id)
    return None


# --- Sessions and CDRs -------------------------------------------------------------------


def session_of(
    tx: Transaction,
    *,
    site: SealedSite,
    time_zone: tzinfo,
    token: TokenIdentity,
    updated_at: datetime,
    sealed_id: str | None = None,
) -> Session:
    """The Session as stored, so pull and push agree (``sealed_id``: the seal's Session id).

    A running session is priced up to its latest meter reading, not to the clock: after
    that reading nothing is known yet, and a period guessed there (parking, because the
    energy did not grow) would be taken back by the next reading.
    """
    readings = [s.at for s in tx.samples if s.at <= updated_at]
    return to_ocpi_session(
        tx,
        site=site.site(time_zone),
        tariff=site.tariff,
        token=token,
        now=max([tx.started_at, *readings]),
        last_updated=updated_at,
        sealed_id=sealed_id,
    )


def cdr_of(
    tx: Transaction,
    *,
    site: SealedSite,
    time_zone: tzinfo,
    token: TokenIdentity,
    issued_at: datetime,
    sealed_id: str | None = None,
) -> Cdr:
    """The CDR of an ended transaction, priced by its sealed tariff (free without one)."""
    if site.tariff is not None:
        return to_ocpi_cdr(
            tx,
            site=site.site(time_zone),
            tariff=site.tariff,
            token=token,
            issued_at=issued_at,
            sealed_id=sealed_id,
        )
    free = Tariff(
        country_code=site.operator.country_code,
        party_id=site.operator.party_id,
        id=FREE_TARIFF_ID,
        currency=FREE_CURRENCY,
        elements=[
            TariffElement(
                price_components=[
                    PriceComponent(type=TariffDimensionType.ENERGY, price=Decimal(0), step_size=1)
                ]
            )
        ],
        last_updated=issued_at,
    )
    cdr = to_ocpi_cdr(
        tx,
        site=site.site(time_zone),
        tariff=free,
        token=token,
        issued_at=issued_at,
        sealed_id=sealed_id,
    )
    periods = [p.model_copy(update={"tariff_id": None}) for p in cdr.charging_periods]
    return cdr.model_copy(update={"tariffs": None, "charging_periods": periods})


_COSTS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def credit_cdr(cdr: Cdr, *, issued_at: datetime, remark: str | None = None) -> Cdr:
    """The credit CDR cancelling ``cdr``: same data, negative costs, its own id."""
    if cdr.credit:
        raise ValueError("a credit CDR is not credited again")
    update: dict[str, Any] = {
        "id": cdr.id + CREDIT_SUFFIX,
        "credit": True,
        "credit_reference_id": cdr.id,
        "last_updated": issued_at,
        "remark": remark[:255] if remark else cdr.remark,
    }
    for name in _COSTS:
        price: Price | None = getattr(cdr, name)
        if price is not None:
            update[name] = Price(
                excl_vat=-price.excl_vat,
                incl_vat=None if price.incl_vat is None else -price.incl_vat,
            )
    return Cdr.model_validate({**cdr.model_dump(), **update})


# --- what to send ------------------------------------------------------------------------


def canonical(doc: Any) -> str:
    """JSON with sorted keys and no spaces: equal documents give equal text."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(doc: Any) -> str:
    return hashlib.sha256(canonical(doc).encode()).hexdigest()


def wire(model: BaseModel) -> dict[str, Any]:
    """An OCPI object as sent and served: JSON types, absent optional fields left out."""
    data = model.model_dump(mode="json", exclude_none=True)
    assert isinstance(data, dict)  # noqa: S101 - a model dumps to a dict
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """One call to make (``method`` ``None``: the partner is up to date) and its result.

    ``holds`` is what the partner has once the call succeeded.
    """

    method: str | None
    body: dict[str, Any] | None
    holds: dict[str, Any]


def pushable_session(session: Mapping[str, Any]) -> dict[str, Any]:
    """The Session as pushed: without the period still growing while it is ACTIVE."""
    pushed = dict(session)
    periods = list(pushed.pop("charging_periods", None) or [])
    if pushed.get("status") == SessionStatus.ACTIVE.value:
        periods = periods[:-1]
    if periods:
        pushed["charging_periods"] = periods
    return pushed


def session_plan(session: Mapping[str, Any], sent: Mapping[str, Any] | None) -> Plan:
    """PUT a Session the partner does not have; else PATCH what changed, new periods added."""
    target = pushable_session(session)
    if sent is None:
        return Plan(method="PUT", body=target, holds=target)
    if target == sent:
        return Plan(method=None, body=None, holds=target)
    had = list(sent.get("charging_periods", []))
    has = list(target.get("charging_periods", []))
    dropped = set(sent) - set(target)
    if has[: len(had)] != had or dropped:
        # A PATCH can neither replace periods nor remove a field: send the whole Session.
        return Plan(method="PUT", body=target, holds=target)
    body = {k: v for k, v in target.items() if k != "charging_periods" and sent.get(k) != v}
    if len(has) > len(had):
        body["charging_periods"] = has[len(had) :]
    body["last_updated"] = target["last_updated"]
    return Plan(method="PATCH", body=body, holds=target)


def is_older(candidate: str | datetime, than: datetime | None) -> bool:
    """True when ``candidate`` (a ``last_updated``) is before what the partner holds."""
    if than is None:
        return False
    when = parse_datetime(candidate) if isinstance(candidate, str) else candidate
    return when < than


def evse_patch(evse: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body of an EVSE status change (mod_locations: a simple status update)."""
    return {"status": evse["status"], "last_updated": evse["last_updated"]}


def object_url(endpoint: str, *segments: str) -> str:
    """A receiver URL: the partner's module endpoint plus escaped path segments."""
    return endpoint.rstrip("/") + "".join("/" + quote(s, safe="") for s in segments)


def retry_delay(failures: int, *, initial_s: float, max_s: float, jitter: float) -> float:
    """Exponential backoff with jitter: between half and all of ``initial x 2^(n-1)``, capped.

    ``jitter`` is a random number in [0, 1): partners that failed together do not all come
    back at the same instant.
    """
    exponent = min(max(failures, 1) - 1, 62)
    base = min(max_s, initial_s * float(2**exponent))
    return base * (0.5 + jitter / 2)


# --- the Location catalogue --------------------------------------------------------------


def published_locations(
    locations: Sequence[LocationSettings], snapshots: Sequence[ConfigSnapshot]
) -> tuple[LocationSettings, ...]:
    """The configured Locations plus what left the configuration, as REMOVED.

    An EVSE that left the file is appended to its Location with lifecycle ``removed``; a
    Location that left is kept with all its EVSEs removed. Configuration order first,
    then the removed Locations by id, so pages stay stable.
    """
    removed_evses: dict[str, list[EvseSettings]] = {}
    removed_locations: list[LocationSettings] = []
    configured = {loc.id for loc in locations}
    for snap in snapshots:
        if snap.removed_at is None:
            continue
        kind, _, _ = snap.key.partition(":")
        if kind == "evse" and snap.parent is not None:
            evse = EvseSettings.model_validate_json(snap.doc)
            removed_evses.setdefault(snap.parent, []).append(
                evse.model_copy(update={"lifecycle": "removed"})
            )
        elif kind == "location":
            loc = LocationSettings.model_validate_json(snap.doc)
            if loc.id not in configured:
                removed_locations.append(loc)
    out = [
        loc.model_copy(update={"evses": (*loc.evses, *removed_evses.get(loc.id, ()))})
        for loc in locations
    ]
    out += [
        loc.model_copy(update={"evses": tuple(removed_evses.get(loc.id, ()))})
        for loc in removed_locations
    ]
    return tuple(out)
