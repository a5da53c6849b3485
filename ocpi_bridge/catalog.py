"""The site's OCPI objects as they stand now: what the pull endpoints serve and the pusher sends.

Serving and pushing read the same objects through the same translation, so a partner
that receives every push holds what a GET returns (R-OCPI-PUSH-1). Locations come from
the configuration plus what left it (as REMOVED) and the stored EVSE statuses; Tariffs
from the configuration; Sessions and CDRs from the store, built from each transaction's
seal (never from today's configuration).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config import LocationSettings, Settings
from gateway.domain.delivery import CdrRecord, Owner, PendingSession, SessionRecord
from gateway.domain.ids import EvseUid
from gateway.domain.state import PublishedEvse
from gateway.ports import SiteView
from ocpi_bridge.models.common import ci_equal
from ocpi_bridge.models.locations import Evse, Location
from ocpi_bridge.models.tariffs import Tariff
from ocpi_bridge.translate.delivery import (
    pending_session_of,
    sealed_site,
    session_of,
    token_identity,
    wire,
)
from ocpi_bridge.translate.locations import to_ocpi_evse, to_ocpi_location
from ocpi_bridge.translate.pagination import Page, PageRequest
from ocpi_bridge.translate.tariffs import to_ocpi_tariff

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """A Location's time zone; UTC (and a warning) when the name is unknown here."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: priced in UTC", name)
        return ZoneInfo("UTC")


class DeliveryRecords(Protocol):
    """Stored EVSE statuses, Sessions (transactions with their seals) and CDRs."""

    def evse_statuses(self, uids: Iterable[str]) -> Mapping[str, PublishedEvse]: ...

    def session(self, row_id: int) -> SessionRecord | None: ...

    def session_object(self, object_id: str) -> SessionRecord | PendingSession | None: ...

    def sessions(
        self,
        *,
        owners: Collection[Owner],
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[SessionRecord]]: ...

    def all_sessions(
        self,
        *,
        owners: Collection[Owner],
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[int, Sequence[SessionRecord | PendingSession]]: ...

    def cdr(self, cdr_id: str) -> CdrRecord | None: ...

    def cdrs(
        self,
        *,
        owners: Collection[Owner],
        date_from: datetime | None,
        date_to: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[CdrRecord]]: ...


class NoRecords:
    """No sessions or CDRs at all (an OCPI app without a store behind it)."""

    def __init__(self, site: SiteView) -> None:
        self._site = site

    def evse_statuses(self, uids: Iterable[str]) -> Mapping[str, PublishedEvse]:
        wanted = set(uids)
        return {k: v for k, v in self._site.evse_statuses().items() if k in wanted}

    def session(self, row_id: int) -> SessionRecord | None:
        return None

    def session_object(self, object_id: str) -> SessionRecord | PendingSession | None:
        return None

    def sessions(self, **_: Any) -> tuple[int, list[SessionRecord]]:
        return 0, []

    def all_sessions(self, **_: Any) -> tuple[int, list[SessionRecord | PendingSession]]:
        return 0, []

    def cdr(self, cdr_id: str) -> CdrRecord | None:
        return None

    def cdrs(self, **_: Any) -> tuple[int, list[CdrRecord]]:
        return 0, []


class SiteCatalog:
    """Builds the OCPI objects partners see, from the configuration and the store."""

    def __init__(
        self,
        settings: Settings,
        *,
        site: SiteView,
        configured_at: Mapping[str, datetime],
        locations: Sequence[LocationSettings] | None = None,
        records: DeliveryRecords | None = None,
    ) -> None:
        self.settings = settings
        self._site = site
        self.configured_at = configured_at
        self._locations = tuple(settings.locations if locations is None else locations)
        self._published = tuple(loc for loc in self._locations if loc.publish)
        self.records: DeliveryRecords = records or NoRecords(site)
        self._evse_settings = {
            evse.uid.upper(): (loc, evse) for loc in self._published for evse in loc.evses
        }

    # --- Locations ---------------------------------------------------------------------

    def locations(self) -> list[Location]:
        """Every published Location, in a stable order."""
        return self._build(self._published)

    def location(self, location_id: str) -> Location | None:
        found = [loc for loc in self._published if ci_equal(loc.id, location_id)]
        return next(iter(self._build(found)), None)

    def location_ids(self) -> list[str]:
        return [loc.id for loc in self._published]

    def evses_at_locations_of(self, uids: Iterable[str]) -> set[str]:
        """Every published EVSE uid of the Locations these EVSEs belong to."""
        locations = {
            self._evse_settings[u.upper()][0].id for u in uids if u.upper() in self._evse_settings
        }
        return {e.uid for loc in self._published if loc.id in locations for e in loc.evses}

    def evse_count(self, location_id: str) -> int:
        return next((len(loc.evses) for loc in self._published if loc.id == location_id), 0)

    def locations_by_id(self, ids: Iterable[str]) -> dict[str, Location]:
        wanted = set(ids)
        built = self._build([loc for loc in self._published if loc.id in wanted])
        return {loc.id: loc for loc in built}

    def evses_by_uid(self, uids: Iterable[str]) -> dict[str, tuple[str, Evse]]:
        """Published EVSEs with their current status, and their Location ids, by uid."""
        found = {
            u: self._evse_settings[u.upper()] for u in uids if u.upper() in self._evse_settings
        }
        statuses = self.records.evse_statuses(evse.uid for _, evse in found.values())
        out: dict[str, tuple[str, Evse]] = {}
        for uid, (loc, evse) in found.items():
            loc_time = self.configured_at[f"location:{loc.id}"]
            out[uid] = (
                loc.id,
                to_ocpi_evse(
                    evse,
                    statuses.get(evse.uid),
                    configured_at=self.configured_at.get(f"evse:{evse.uid}", loc_time),
                ),
            )
        return out

    def _build(self, locations: Sequence[LocationSettings]) -> list[Location]:
        if not locations:
            return []
        statuses = self.records.evse_statuses(e.uid for loc in locations for e in loc.evses)
        return [
            to_ocpi_location(
                loc,
                operator=self.settings.operator,
                statuses={EvseUid(k): v for k, v in statuses.items()},
                configured_at=self.configured_at,
            )
            for loc in locations
        ]

    # --- Tariffs -----------------------------------------------------------------------

    def tariffs(self) -> list[Tariff]:
        return [
            to_ocpi_tariff(
                t,
                operator=self.settings.operator,
                last_updated=self.configured_at[f"tariff:{t.id}"],
            )
            for t in self.settings.tariffs
        ]

    def tariff(self, tariff_id: str) -> Tariff | None:
        return next((t for t in self.tariffs() if t.id == tariff_id), None)

    def tariff_ids(self) -> list[str]:
        return [t.id for t in self.settings.tariffs]

    # --- Sessions and CDRs -------------------------------------------------------------

    def session(self, record: SessionRecord | PendingSession) -> dict[str, Any] | None:
        """A stored Session as its owner sees it; ``None`` when it has no owner or site.

        A pending session (opened by a START_SESSION or RESERVE_NOW) is served as such
        until a transaction takes it; then it is that transaction's Session.
        """
        if isinstance(record, PendingSession):
            if record.tx_row is not None:
                return None
            return wire(pending_session_of(record))
        seal = record.seal
        if seal.site is None or seal.token is None:
            return None
        site = sealed_site(seal.site)
        session = session_of(
            record.transaction,
            site=site,
            time_zone=zone(site.location.time_zone),
            token=token_identity(seal.token),
            updated_at=record.updated_at,
            sealed_id=seal.session_id,
        )
        return wire(session)

    def session_by_row(self, row_id: int) -> dict[str, Any] | None:
        record = self.records.session(row_id)
        return None if record is None else self.session(record)

    def session_by_key(self, object_id: str) -> dict[str, Any] | None:
        """The Session a push object id names (a transaction row id, or a pending session)."""
        record = self.records.session_object(object_id)
        return None if record is None else self.session(record)

    def sessions_page(self, owners: Collection[Owner], page: PageRequest) -> Page[dict[str, Any]]:
        total, records = self.records.all_sessions(
            owners=owners,
            date_from=page.date_from,
            date_to=page.date_to,
            offset=page.offset,
            limit=page.limit,
        )
        items = [s for r in records if (s := self.session(r)) is not None]
        return _page(items, total, page)

    def cdr(self, cdr_id: str) -> dict[str, Any] | None:
        record = self.records.cdr(cdr_id)
        return None if record is None else _cdr_doc(record)

    def cdrs_page(self, owners: Collection[Owner], page: PageRequest) -> Page[dict[str, Any]]:
        total, records = self.records.cdrs(
            owners=owners,
            date_from=page.date_from,
            date_to=page.date_to,
            offset=page.offset,
            limit=page.limit,
        )
        return _page([_cdr_doc(r) for r in records], total, page)


def _cdr_doc(record: CdrRecord) -> dict[str, Any]:
    doc = json.loads(record.doc)
    assert isinstance(doc, dict)  # noqa: S101 - stored by the sealer as an object
    return doc


def _page(items: list[dict[str, Any]], total: int, page: PageRequest) -> Page[dict[str, Any]]:
    end = page.offset + page.limit
    return Page(items=tuple(items), total=total, next_offset=end if end < total else None)
