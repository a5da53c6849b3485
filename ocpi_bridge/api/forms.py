"""Adapter: the wire form of each OCPI version: what a GET serves and a push sends.

The catalog (``ocpi_bridge.catalog``) builds every object once, in 2.2.1. A *form* turns
those objects into what one OCPI version puts on the wire: :class:`Form221` sends them as
built, :class:`Form211` converts them (``ocpi_bridge.translate.v211``). The 2.1.1 Sender
endpoints and the pusher's 2.1.1 lanes use the same :class:`Form211`, so a 2.1.1 partner
that received every push holds what a 2.1.1 GET returns.

2.1.1 Sessions and CDRs carry their whole Location; it is built from the transaction's
seal (``translate.v211.sealed_location``), so it never changes after the start. A pending
session (opened by a command before any transaction) is built the same way from what the
command named, and goes out in both versions. An object 2.1.1 cannot express
(``NotExpressibleError``) is left out, with a log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from gateway.domain.delivery import Owner, PendingSession, SessionRecord
from ocpi_bridge.catalog import SiteCatalog
from ocpi_bridge.models.cdrs import Cdr
from ocpi_bridge.models.common import parse_datetime
from ocpi_bridge.models.locations import Connector, Evse, Location
from ocpi_bridge.models.sessions import Session
from ocpi_bridge.models.tariffs import Tariff, TariffType
from ocpi_bridge.translate import v211
from ocpi_bridge.translate.delivery import Plan, sealed_site, session_plan, wire
from ocpi_bridge.translate.pagination import Page, PageRequest

log = logging.getLogger(__name__)

Doc = dict[str, Any]


class Form(Protocol):
    """One OCPI version's wire form of the catalog's objects (``None``: not published)."""

    version: str

    def location(self, location: Location) -> Doc: ...

    def evse(self, evse: Evse) -> Doc | None: ...

    def connector(self, connector: Connector) -> Doc | None: ...

    def tariff(self, tariff: Tariff) -> Doc | None: ...

    def session_by_row(self, row_id: int) -> Doc | None: ...

    def session_by_key(self, object_id: str) -> Doc | None: ...

    def sessions_page(self, owners: Collection[Owner], page: PageRequest) -> Page[Doc]: ...

    def cdr(self, cdr_id: str) -> Doc | None: ...

    def cdrs_page(self, owners: Collection[Owner], page: PageRequest) -> Page[Doc]: ...

    def session_plan(self, session: Mapping[str, Any], sent: Mapping[str, Any] | None) -> Plan: ...


class Form221:
    """OCPI 2.2.1: the catalog's objects as built."""

    version = "2.2.1"

    def __init__(self, catalog: SiteCatalog) -> None:
        self.catalog = catalog

    def location(self, location: Location) -> Doc:
        return wire(location)

    def evse(self, evse: Evse) -> Doc | None:
        return wire(evse)

    def connector(self, connector: Connector) -> Doc | None:
        return wire(connector)

    def tariff(self, tariff: Tariff) -> Doc | None:
        return wire(tariff)

    def session_by_row(self, row_id: int) -> Doc | None:
        return self.catalog.session_by_row(row_id)

    def session_by_key(self, object_id: str) -> Doc | None:
        return self.catalog.session_by_key(object_id)

    def sessions_page(self, owners: Collection[Owner], page: PageRequest) -> Page[Doc]:
        return self.catalog.sessions_page(owners, page)

    def cdr(self, cdr_id: str) -> Doc | None:
        return self.catalog.cdr(cdr_id)

    def cdrs_page(self, owners: Collection[Owner], page: PageRequest) -> Page[Doc]:
        return self.catalog.cdrs_page(owners, page)

    def session_plan(self, session: Mapping[str, Any], sent: Mapping[str, Any] | None) -> Plan:
        return session_plan(session, sent)


class Form211:
    """OCPI 2.1.1: the catalog's objects converted (see ``ocpi_bridge.translate.v211``)."""

    version = "2.1.1"

    def __init__(self, catalog: SiteCatalog) -> None:
        self.catalog = catalog

    def _types(self) -> dict[str, TariffType | None]:
        return {
            t.id: None if t.type is None else TariffType(t.type)
            for t in self.catalog.settings.tariffs
        }

    def location(self, location: Location) -> Doc:
        return wire(v211.to_v211_location(location, tariff_types=self._types()))

    def evse(self, evse: Evse) -> Doc | None:
        try:
            return wire(v211.to_v211_evse(evse, tariff_types=self._types()))
        except v211.NotExpressibleError as exc:
            log.debug("not for 2.1.1 partners: %s", exc)
            return None

    def connector(self, connector: Connector) -> Doc | None:
        try:
            return wire(v211.to_v211_connector(connector, tariff_types=self._types()))
        except v211.NotExpressibleError as exc:
            log.debug("not for 2.1.1 partners: %s", exc)
            return None

    def tariff(self, tariff: Tariff) -> Doc | None:
        try:
            return wire(v211.to_v211_tariff(tariff))
        except v211.NotExpressibleError as exc:
            log.info("tariff not published to 2.1.1 partners: %s", exc)
            return None

    # --- Sessions ----------------------------------------------------------------------

    def _session(self, record: SessionRecord | PendingSession) -> Doc | None:
        """The 2.1.1 Session of a transaction, or of a pending session no transaction took.

        A pending session's Location is built from what its command named, as a
        transaction's is from its seal; RESERVATION goes out as PENDING (2.1.1 has none).
        """
        doc = self.catalog.session(record)
        site = record.site if isinstance(record, PendingSession) else record.seal.site
        if doc is None or site is None:
            return None
        session = Session.model_validate(doc)
        location = v211.sealed_location(sealed_site(site), at=session.start_date_time)
        return wire(v211.to_v211_session(session, location=location))

    def session_by_row(self, row_id: int) -> Doc | None:
        record = self.catalog.records.session(row_id)
        return None if record is None else self._session(record)

    def session_by_key(self, object_id: str) -> Doc | None:
        record = self.catalog.records.session_object(object_id)
        return None if record is None else self._session(record)

    def sessions_page(self, owners: Collection[Owner], page: PageRequest) -> Page[Doc]:
        total, records = self.catalog.records.all_sessions(
            owners=owners,
            date_from=page.date_from,
            date_to=page.date_to,
            offset=page.offset,
            limit=page.limit,
        )
        items = [s for r in records if (s := self._session(r)) is not None]
        return _page(items, total, page)

    def session_plan(self, session: Mapping[str, Any], sent: Mapping[str, Any] | None) -> Plan:
        """As in 2.2.1, but new charging periods go in a PUT of the whole Session.

        2.2.1 says a PATCH's ``charging_periods`` are added to the receiver's list; 2.1.1
        only says a PATCH names what changes, so a 2.1.1 receiver may replace the list.
        """
        plan = session_plan(session, sent)
        if plan.method == "PATCH" and plan.body is not None and "charging_periods" in plan.body:
            return Plan(method="PUT", body=plan.holds, holds=plan.holds)
        return plan

    # --- CDRs --------------------------------------------------------------------------

    def _cdr(self, doc: Doc, tx_row: int | None, credit_of: str | None) -> Doc | None:
        if tx_row is None and credit_of is not None:
            credited = self.catalog.records.cdr(credit_of)
            tx_row = None if credited is None else credited.tx_row
        record = None if tx_row is None else self.catalog.records.session(tx_row)
        if record is None or record.seal.site is None:
            log.warning("CDR %s: no sealed Location; not sent to 2.1.1 partners", doc.get("id"))
            return None
        cdr = Cdr.model_validate(doc)
        location = v211.sealed_location(
            sealed_site(record.seal.site), at=parse_datetime(doc["start_date_time"])
        )
        try:
            return wire(v211.to_v211_cdr(cdr, location=location))
        except v211.NotExpressibleError as exc:
            log.warning("CDR not sent to 2.1.1 partners: %s", exc)
            return None

    def cdr(self, cdr_id: str) -> Doc | None:
        record = self.catalog.records.cdr(cdr_id)
        if record is None:
            return None
        return self._cdr(json.loads(record.doc), record.tx_row, record.credit_of)

    def cdrs_page(self, owners: Collection[Owner], page: PageRequest) -> Page[Doc]:
        total, records = self.catalog.records.cdrs(
            owners=owners,
            date_from=page.date_from,
            date_to=page.date_to,
            offset=page.offset,
            limit=page.limit,
        )
        items = [
            c
            for r in records
            if (c := self._cdr(json.loads(r.doc), r.tx_row, r.credit_of)) is not None
        ]
        return _page(items, total, page)


def form_of(version: str, catalog: SiteCatalog) -> Form:
    """The wire form for a partner's OCPI version (2.2.1 unless it is 2.1.1)."""
    return Form211(catalog) if version == Form211.version else Form221(catalog)


def _page(items: list[Doc], total: int, page: PageRequest) -> Page[Doc]:
    end = page.offset + page.limit
    return Page(items=tuple(items), total=total, next_offset=end if end < total else None)
